/* fuzz_request.c — libFuzzer target for the control socket's request parser and the
 * error reply it produces for whatever it rejects (submit-app documents included). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dapp.h"
#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_request r = {0};
	struct proto_error e;
	double phi[DAPP_MAX_TASKS];
	int order[DAPP_MAX_TASKS];
	char *line;

	if (proto_parse_request((const char *)data, size, &r, &e) == 0) {
		/* An accepted submit always has a queue name and, when it has an argv (else the
		 * catalog's command runs), a NULL-terminated one; submit-app a validated DAG;
		 * cancel one of task and app. */
		if (r.op == PROTO_SUBMIT && (!r.queue || (r.argv && (r.argv[r.argc] || !r.argc))))
			abort();
		if (r.op == PROTO_SUBMIT_APP && (!r.dapp || dapp_priority(r.dapp, phi, order) < 0))
			abort();
		if (r.op == PROTO_CANCEL && !r.task == !r.app)
			abort();
		/* The daemon's group commit (batch.c) takes a parsed request by moving it: the
		 * emptied original and the copy are each released once. */
		struct proto_request moved = r;
		r = (struct proto_request){0};
		proto_request_done(&r);
		proto_request_done(&moved);
		return 0;
	}
	line = proto_format_error(&r, &e);
	if (!line || line[strlen(line) - 1] != '\n')
		abort();
	free(line);
	return 0;
}
