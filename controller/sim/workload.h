/* workload.h — JSON workload files for the policy simulator (format in docs/SIMULATOR.md).
 * Parsing is separate from I/O so the parser is unit-tested and fuzzed on strings. */
#pragma once

#include <stddef.h>

#include "sim.h"

/* Parses a workload document. On failure returns -EINVAL (or -ENOMEM) and writes a one-line
 * message naming the field, e.g. "queues[2].demand.cpu: expected a positive number", into
 * err (if errlen > 0). */
int workload_parse(const char *json, size_t len, struct sim_workload **ret, char *err,
		   size_t errlen);

/* "paper" is the built-in paper workload; anything else is a path to a JSON file.
 * Errors as workload_parse; a file that cannot be read reports "PATH: strerror". */
int workload_load(const char *name_or_path, struct sim_workload **ret, char *err, size_t errlen);
