/* fuzz_workload.c — libFuzzer target for the simulator's JSON workload parser: any input
 * must either parse into a workload that passes sim_workload_check or fail with a message. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "workload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sim_workload *w = NULL;
	char err[256];
	int r = workload_parse((const char *)data, size, &w, err, sizeof(err));
	if (r == 0) {
		if (!w || sim_workload_check(w, NULL) != 0)
			abort();
		sim_workload_free(w);
	} else if (r == -EINVAL && (err[0] == 0 || strchr(err, '\n'))) {
		abort(); /* every rejection names its field on one line */
	}
	return 0;
}
