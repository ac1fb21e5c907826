/* measurer.h — edge measurement of tuning records: an external command speaking JSON lines (how a
 * TVM RPC runner is wired in) or the built-in reference measurer that times a real loop nest. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sched.h>
#include <stddef.h>
#include <stdint.h>

#include "tvmlog.h"

#define MEASURER_MAX_COSTS 16

struct measurer;

/* Built-in: times a tiled C += A * B nest shaped by the record's splits and loop order, one
 * worker thread pinned (sched_setaffinity) to each CPU of `cores` (NULL: CPU 0). */
int measurer_open_builtin(const cpu_set_t *cores, struct measurer **ret);
/* External: `/bin/sh -c command`; one request line per record, one answer line back
 * (docs/DISTILL.md "Measurer protocol"). timeout_ms bounds each answer. */
int measurer_open_command(const char *command, int timeout_ms, struct measurer **ret);
void measurer_free(struct measurer *m);

/* Measures one record. `line` is the record's log line, `rec` its parse. On success writes up to
 * MEASURER_MAX_COSTS costs (seconds) and the measurement's error_no (0 = ok; a failed
 * measurement is not an error of the measurer). -EPROTO for a malformed answer, -ETIMEDOUT,
 * -EPIPE if the command died; the reason is in measurer_last_error(). */
int measurer_measure(struct measurer *m, uint64_t id, const char *line, size_t len,
		     const struct tvmlog_record *rec, double *ret_costs, size_t *ret_n,
		     int *ret_error_no);
const char *measurer_last_error(const struct measurer *m);

/* Parses "0", "0-3", "0,2,4-5" into a CPU set; -EINVAL on syntax, -ERANGE past CPU_SETSIZE. */
int measurer_parse_cpus(const char *s, cpu_set_t *ret);

/* One answer line of the protocol: {"id": N, "costs": [...], "error_no": E}. Exposed for tests
 * and the fuzzer. */
int measurer_parse_answer(const char *line, size_t len, uint64_t *ret_id, double *ret_costs,
			  size_t *ret_n, int *ret_error_no);
