/* fuzz_cgstat.c — libFuzzer target over every probe parser (cgroup stat files, PSI,
 * /proc/stat, /proc/meminfo) and the histogram quantile: no crash, no UB, sane outputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct probe_cpu_stat cs;
	struct probe_mem_events me;
	struct probe_mem_stat ms;
	struct probe_psi psi;
	struct probe_proc_stat ps;
	uint64_t v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)probe_parse_keyed(s, "usage_usec", &v);
	(void)probe_parse_single(s, &v);
	if (probe_parse_cpu_stat(s, &cs) == 0 && !cs.has_throttle &&
	    (cs.nr_periods || cs.throttled_usec))
		abort();
	(void)probe_parse_mem_events(s, &me);
	(void)probe_parse_mem_stat(s, &ms);
	if (probe_parse_psi(s, &psi) == 0 && (psi.some.avg10 < 0 || psi.some.avg300 < 0))
		abort();
	if (probe_parse_proc_stat(s, &ps) == 0 && ps.ncpus == 0)
		abort();
	(void)probe_parse_meminfo(s, "MemAvailable", &v);
	/* The same bytes as a histogram. */
	if (size >= sizeof(uint64_t) * PROBE_HIST_NSLOTS + 1) {
		uint64_t h[PROBE_HIST_NSLOTS];
		double q;
		memcpy(h, data + 1, sizeof(h));
		if (probe_hist_quantile(h, PROBE_HIST_NSLOTS, (double)data[0] / 255.0, &q) == 0 &&
		    (q < 0 || q > 2.0 * 1000.0 * 4294967296.0 * 2))
			abort();
	}
	free(s);
	return 0;
}
