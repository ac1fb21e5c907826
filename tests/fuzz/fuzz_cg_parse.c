/* fuzz_cg_parse.c — the cgroup file parsers (cpu.max, cpuset lists, keyed stat files) on
 * arbitrary bytes: no crash, no read past the string, outputs consistent when accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	double cores;
	uint64_t period, v;
	unsigned n;
	char buf[64];

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (cg_parse_cpu_max(s, &cores, &period) == 0) {
		/* an accepted value formats again unless it is outside the kernel's bounds */
		if (cg_format_cpu_max(cores, period, buf, sizeof(buf)) == 0 &&
		    cg_parse_cpu_max(buf, &cores, &period) != 0)
			abort();
	}
	if (cg_parse_cpulist(s, 1024, &n) == 0 && n == 0)
		abort();
	(void)cg_parse_keyed(s, "usage_usec", &v);
	(void)cg_parse_keyed(s, "oom_kill", &v);
	free(s);
	return 0;
}
