/* tvmlog.h — TVM auto-scheduler tuning logs (JSON lines, v0.2..v0.6): parse one record, stream a
 * file line by line in constant memory, and rewrite a record with new costs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "distill.h"

#define TVMLOG_MAX_COSTS 64

struct tvmlog_record {
	int version_minor;    /* "v0.N" -> N, 2..6 */
	char *workload_key;   /* task field 0 (a JSON string inside the string) */
	char *target;	      /* task field 1 */
	size_t n_task_fields; /* 2..6 */
	double costs[TVMLOG_MAX_COSTS];
	size_t n_costs;
	double cost;  /* mean of costs */
	int error_no; /* 0 = success; see TVM MeasureErrorNo */
	double all_cost;
	double timestamp;
	struct distill_step *steps;
	size_t n_steps;
	int64_t shape[DISTILL_MAX_SHAPE]; /* integers of the workload key, flattened */
	size_t n_shape;
};

/* Frees the owned members and zeroes the record. */
void tvmlog_record_done(struct tvmlog_record *r);

/* Parses one line (no newline needed). Returns 0 and fills *ret (free with tvmlog_record_done);
 * -ENODATA for a comment ('#') or blank line; -EBADMSG for bad JSON; -EINVAL for a missing key or
 * wrong type; -EPROTONOSUPPORT for an unknown version. On error a one-line reason naming the
 * field is written to err (if errsz > 0). Failed records (error_no != 0) parse fine. */
int tvmlog_parse_line(const char *line, size_t len, struct tvmlog_record *ret, char *err,
		      size_t errsz);

/* The task identity: workload key + "\n" + target (malloc'd). */
int tvmlog_task_key(const struct tvmlog_record *r, char **ret);

/* TVM's MeasureErrorNo names ("RUN_TIMEOUT"), "UNKNOWN" past the table. */
const char *tvmlog_error_name(int error_no);

/* Streams a log: one getline buffer, so memory does not grow with the file. */
struct tvmlog_reader;
int tvmlog_reader_open(const char *path, struct tvmlog_reader **ret);
void tvmlog_reader_free(struct tvmlog_reader *r);
/* Next line without its newline: 1 with *ret_line (valid until the next call), its 1-based
 * number and byte offset; 0 at EOF; -EIO/-ENOMEM on failure; -EFBIG for a line over 16 MiB,
 * which is skipped (number and offset are set, reading can go on). */
int tvmlog_reader_next(struct tvmlog_reader *r, const char **ret_line, size_t *ret_len,
		       uint64_t *ret_lineno, uint64_t *ret_offset);
/* Re-reads a line at a known offset into a malloc'd NUL-terminated buffer. */
int tvmlog_reader_pread(struct tvmlog_reader *r, uint64_t offset, size_t len, char **ret);

/* Rewrites record `line` with r[0] = costs (edge measurements), keeping everything else,
 * including the version; the result is one JSON line without newline (malloc'd). */
int tvmlog_format_with_costs(const char *line, size_t len, const double *costs, size_t n_costs,
			     char **ret);
