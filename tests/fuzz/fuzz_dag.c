/* fuzz_dag.c — libFuzzer target for DAG workload files (dagsim_parse) and arrival CSVs; a parsed
 * workload is also scheduled briefly so validation and scheduling agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dagsim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dagsim_workload *w = malloc(sizeof(*w));
	char err[256], *s = malloc(size + 1);
	double *arr = NULL;
	size_t n;

	if (!w || !s)
		goto out;
	memcpy(s, data, size);
	s[size] = '\0';
	err[0] = '\0';
	if (dagsim_parse(s, size, w, err, sizeof(err)) == 0) {
		struct mrs_result res;
		double t[4] = {0, 0.5, 1, 1.5};
		for (int p = 0; p < _MRS_POLICY_MAX; p++)
			if (mrs_simulate(&w->wl, (enum mrs_policy)p, t, 4, false, &res) < 0)
				abort(); /* a validated workload must schedule */
	} else if (!err[0] || strchr(err, '\n')) {
		abort(); /* errors are one line and never empty */
	}
	if (dagsim_parse_csv(s, &arr, &n, err, sizeof(err)) == 0) {
		for (size_t k = 1; k < n; k++)
			if (arr[k] < arr[k - 1])
				abort();
		free(arr);
	}
out:
	free(s);
	free(w);
	return 0;
}
