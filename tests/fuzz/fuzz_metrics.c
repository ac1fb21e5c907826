/* fuzz_metrics.c — the metrics endpoint's parsers and writer: Accept negotiation, the listen
 * address, and label values of any bytes written in both formats. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *body = NULL, esc[64];
	struct sockaddr_storage sa;
	unsigned len;
	size_t n;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	(void)metrics_negotiate(s);
	(void)metrics_parse_address(s, &sa, &len);
	(void)metrics_escape_label(s, esc, sizeof(esc));
	for (int f = 0; f < 2; f++) {
		struct metrics_out o;
		const char *l[] = {"task", s, NULL};
		metrics_out_init(&o, f ? METRICS_OPENMETRICS : METRICS_TEXT);
		metrics_family(&o, "x", METRICS_COUNTER, s);
		metrics_sample(&o, l, (double)size);
		if (metrics_out_finish(&o, &body, &n) == 0) {
			/* One line per sample: an escaped value never breaks the line. */
			size_t lines = 0;
			for (size_t i = 0; i < n; i++)
				lines += body[i] == '\n';
			if (lines != 3u + (unsigned)f)
				abort();
			free(body);
		}
	}
	free(s);
	return 0;
}
