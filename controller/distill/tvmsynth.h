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

/* The same from a real log (controller/distill_fixsynth.c): each of its first o->tasks tasks that
 * the model can cost becomes a template whose split lengths and unroll pragma are redrawn into
 * o->records v0.5 records. *ret_tasks = tasks written; -ENODATA if none. */
int tvmsynth_write_from(const char *template_log, const char *log_path, const char *truth_path,
			const struct tvmsynth_opts *o, size_t *ret_tasks);
