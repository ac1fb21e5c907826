/* fuzz_app.c — libFuzzer target for DAG application documents (dapp_parse): an accepted one is
 * acyclic with predecessors inside the set, its MRS rank order is topological, and a dependency
 * step over it stays consistent; a rejected one has a one-line, non-empty message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dapp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dapp *a = calloc(1, sizeof(*a));
	struct dapp_error e;
	double phi[DAPP_MAX_TASKS];
	int order[DAPP_MAX_TASKS], pos[DAPP_MAX_TASKS];
	uint64_t pred[DAPP_MAX_TASKS], failed, ready, done = 0;
	enum dapp_tstate st[DAPP_MAX_TASKS];

	if (!a)
		return 0;
	if (dapp_parse((const char *)data, size, a, &e) < 0) {
		if (!e.message[0] || strchr(e.message, '\n') || a->n)
			abort();
		free(a);
		return 0;
	}
	if (a->n == 0 || a->n > DAPP_MAX_TASKS || !a->name[0])
		abort();
	if (dapp_priority(a, phi, order) < 0)
		abort(); /* accepted means acyclic */
	for (size_t k = 0; k < a->n; k++)
		pos[order[k]] = (int)k;
	for (size_t i = 0; i < a->n; i++) {
		if (a->task[i].pred >> a->n || (a->task[i].pred >> i) & 1 || !a->task[i].queue[0])
			abort();
		if (a->task[i].argv && a->task[i].argv[a->task[i].argc])
			abort();
		for (size_t j = 0; j < a->n; j++)
			if ((a->task[i].pred >> j) & 1 && pos[j] >= pos[i])
				abort();
		pred[i] = a->task[i].pred;
		st[i] = pred[i] ? DAPP_T_WAITING : DAPP_T_OK;
	}
	/* running the whole DAG by repeated steps releases every task exactly once */
	for (size_t i = 0; i < a->n; i++)
		if (!pred[i])
			done |= 1ull << i;
	for (size_t round = 0; round <= a->n; round++) {
		if (dapp_step(a->n, pred, st, NULL, &failed, NULL, &ready) < 0 || failed ||
		    (ready & done))
			abort();
		for (size_t i = 0; i < a->n; i++)
			if ((ready >> i) & 1)
				st[i] = DAPP_T_OK;
		done |= ready;
	}
	if (done != (a->n == 64 ? ~0ull : (1ull << a->n) - 1))
		abort();
	dapp_done(a);
	free(a);
	return 0;
}
