/* fuzz_tvmlog.c — libFuzzer target: the auto-scheduler log parser and what consumes a record
 * (features, loop nest, synthetic cost, rewriter); measurer answers, features lines, CPU lists. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distiller.h"
#include "measurer.h"
#include "tvmlog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	char err[256];
	struct tvmlog_record r;
	if (tvmlog_parse_line(s, size, &r, err, sizeof(err)) == 0) {
		float rows[DISTILL_MAX_ROWS][DISTILL_N_FEATURES];
		distill_features(r.steps, r.n_steps, r.shape, r.n_shape, rows);
		struct distill_nest n;
		(void)distill_nest(r.steps, r.n_steps, &n);
		struct distill_device d;
		distill_device_edge(&d);
		double c;
		(void)distill_model_cost(&d, r.steps, r.n_steps, r.shape, r.n_shape, &c);
		char *key = NULL;
		if (tvmlog_task_key(&r, &key) == 0)
			free(key);
		const double costs[] = {1e-3};
		char *out = NULL;
		if (tvmlog_format_with_costs(s, size, costs, 1, &out) == 0) {
			struct tvmlog_record again;
			/* What we write must read back. */
			if (tvmlog_parse_line(out, strlen(out), &again, NULL, 0) != 0)
				abort();
			tvmlog_record_done(&again);
			free(out);
		}
		tvmlog_record_done(&r);
	}
	uint64_t id;
	double costs[MEASURER_MAX_COSTS];
	size_t nc;
	int eno;
	(void)measurer_parse_answer(s, size, &id, costs, &nc, &eno);
	unsigned long long ln;
	float row[DISTILLER_MAX_FEATURES];
	(void)distiller_parse_feature_line(s, size, &ln, row, &nc);
	cpu_set_t cpus;
	(void)measurer_parse_cpus(s, &cpus);
	free(s);
	return 0;
}
