/* fuzz_units.c — libFuzzer target for the shared unit parsers (cores, bytes, rates). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	double d;
	uint64_t u;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (parse_cores(s, &d) == 0 && !(d >= 0))
		abort();
	(void)parse_bytes(s, &u);
	if (parse_rate(s, &u) == 0 && u == 0)
		abort();
	(void)parse_u64(s, &u);
	(void)parse_double(s, &d);
	free(s);
	return 0;
}
