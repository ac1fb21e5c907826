/* fuzz_shaper.c — libFuzzer target for the shaper's input parsers: rates/presets and
 * source addresses (everything `edgeslice shape` parses before touching a device). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shaper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), buf[32];
	struct shaper_sizing z;
	struct shaper_match m;
	uint64_t v;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (shaper_parse_rate(s, &v) == 0) {
		if (v < SHAPER_RATE_MIN || v > SHAPER_RATE_MAX)
			abort();
		if (shaper_size_class(v, 1500, &z) < 0 || z.burst < z.quantum / 100 || !z.target_us)
			abort();
		shaper_format_rate(v, buf, sizeof(buf));
	}
	if (shaper_match_source(s, &m) == 0 && m.kind != SHAPER_MATCH_SOURCE)
		abort();
	free(s);
	return 0;
}
