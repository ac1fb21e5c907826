/* dagsim.h — DAG workload files (servers, links, applications, retraining configurations,
 * arrivals) for `edgeslice sim --dag` (the command is controller/cli/cmd_sim_dag.c). */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "mrs.h"

struct dagsim_arrivals {
	double rate;  /* Poisson arrivals per second (0: use csv) */
	size_t count; /* number of requests generated */
	uint64_t seed;
	char csv[4096]; /* CSV of timestamps (seconds), relative to the workload file */
};

struct dagsim_workload {
	struct mrs_workload wl;
	struct dagsim_arrivals arrivals;
};

/* Parse a workload from JSON text. On error returns -errno and writes a one-line message naming
 * the field ("applications[0].tasks[1].work: must be a non-negative number") into err. */
int dagsim_parse(const char *json, size_t len, struct dagsim_workload *ret, char *err,
		 size_t err_len);

/* Timestamps, one per line (first column; '#' comments and a non-numeric header skipped). */
int dagsim_parse_csv(const char *text, double **ret, size_t *ret_n, char *err, size_t err_len);

/* Seeded Poisson arrival times (exponential gaps), starting after the first gap. */
int dagsim_poisson(double rate, size_t count, uint64_t seed, double **ret);
