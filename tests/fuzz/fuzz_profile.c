/* fuzz_profile.c — libFuzzer target for the JPS layer-profile parser; every profile it
 * accepts must also plan (chain conversion + homogeneous plan) without crashing. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jps_profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jps_model *m = NULL;
	char err[256];
	struct jps_link l;
	struct jps_chain c;
	struct jps_plan p;

	if (jps_profile_parse((const char *)data, size, &m, err, sizeof(err)) < 0)
		return 0;
	jps_link_init(&l, 137500, 1);
	if (jps_chain_from_model(m, &l, &c) == 0) {
		if (jps_plan_homogeneous(&c, 7, &p) == 0)
			jps_plan_done(&p);
		jps_chain_done(&c);
	}
	jps_model_free(m);
	return 0;
}
