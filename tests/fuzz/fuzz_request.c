/* fuzz_request.c — libFuzzer target for the control socket's request parser and the
 * error reply it produces for whatever it rejects. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request r = {0};
	struct proto_error e;
	char *line;

	if (proto_parse_request((const char *)data, size, &r, &e) == 0) {
		/* An accepted submit always has a queue name and a NULL-terminated argv. */
		if (r.op == PROTO_SUBMIT && (!r.queue || !r.argv || r.argv[r.argc] || !r.argc))
			abort();
		proto_request_done(&r);
		return 0;
	}
	line = proto_format_error(&r, &e);
	if (!line || line[strlen(line) - 1] != '\n')
		abort();
	free(line);
	return 0;
}
