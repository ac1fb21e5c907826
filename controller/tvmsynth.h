/* tvmsynth.h — synthesizes a cloud auto-scheduler log and the ground truth of the synthetic edge
 * cost model (policy/distill.h distill_model_cost), for tests and benchmarks of the distiller. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct tvmsynth_opts {
	size_t tasks;	/* >= 1 */
	size_t records; /* per task, >= 1 */
	uint64_t seed;
	double failed_fraction; /* records with error_no != 0 */
	unsigned family;	/* cloud/edge model pair, distill_family() (0: v1) */
};

/* Writes the log (v0.6 lines, a comment header) and a truth JSON: per task the true best edge
 * cost over all successful records, its line, and the edge cost of the cloud's best record. */
int tvmsynth_write(const char *log_path, const char *truth_path, const struct tvmsynth_opts *o);
