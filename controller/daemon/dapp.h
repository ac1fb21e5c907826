/* dapp.h — multi-model DAG applications for edgesliced: the `submit-app` document parsed and
 * validated (names, types, edges, cycles), MRS priority, and dependency bookkeeping. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DAPP_MAX_TASKS 32 /* == MRS_MAX_TASKS; predecessor sets are 64-bit masks */
#define DAPP_NAME_MAX  32 /* task names: 1..31 characters */

struct json_object;

struct dapp_task {
	char name[DAPP_NAME_MAX];
	char queue[65]; /* "queue", or "model" (a catalog entry, whose queue has its name) */
	bool has_demand;
	double cpu;   /* cores */
	uint64_t mem; /* bytes */
	char **argv;  /* NULL-terminated, or NULL: the catalog's command for the queue */
	size_t argc;
	double compute_s; /* estimated run time, the w of eq. 10 (default 1) */
	uint64_t pred;	  /* bit j: task[j] must finish (exit 0) before this one starts */
};

struct dapp {
	char name[65];
	size_t n;
	struct dapp_task task[DAPP_MAX_TASKS];
};

enum dapp_err {
	DAPP_E_BAD_TYPE,
	DAPP_E_UNKNOWN_FIELD,
	DAPP_E_MISSING_FIELD,
	DAPP_E_BAD_VALUE,
	DAPP_E_NOMEM,
};

struct dapp_error {
	enum dapp_err code;
	char message[160]; /* one line naming the field: tasks[2].after[0]: unknown task "x" */
};

/* Validates an application object. On -EINVAL (-ENOMEM) *err says why; *ret is left empty. */
int dapp_parse_json(struct json_object *o, struct dapp *ret, struct dapp_error *err);
/* The same from text (a file given to `edgeslice submit --app`, the fuzzer). */
int dapp_parse(const char *text, size_t len, struct dapp *ret, struct dapp_error *err);
void dapp_done(struct dapp *a);
int dapp_find(const struct dapp *a, const char *name);

/* MRS upward rank (eq. 10, policy/mrs.h) on one unit-speed server: ret_phi[i] and the tasks in
 * decreasing phi, which is a topological order. */
int dapp_priority(const struct dapp *a, double ret_phi[], int ret_order[]);

/* A task's state as the dependency rules see it. */
enum dapp_tstate {
	DAPP_T_WAITING, /* predecessors not all done */
	DAPP_T_QUEUED,	/* queued, starting */
	DAPP_T_RUNNING,
	DAPP_T_OK,	  /* exited 0 (or unknown, when adopted) */
	DAPP_T_FAILED,	  /* non-zero exit, start failure, dependency failure */
	DAPP_T_CANCELLED, /* counts as a failure for its dependents */
};

/* One settling step over n tasks with predecessor masks pred[]: waiting tasks with a failed or
 * cancelled (transitive) predecessor go to *ret_fail, each with the index of the task that
 * failed first in ret_root[] (taken from root_in[] when that one was itself a dependency
 * failure, root_in may be NULL); waiting tasks whose predecessors are all OK go to *ret_ready. */
int dapp_step(size_t n, const uint64_t pred[], const enum dapp_tstate st[], const int root_in[],
	      uint64_t *ret_fail, int ret_root[], uint64_t *ret_ready);

/* "waiting", "running", "done", "failed" or "cancelled" for an application's task states. */
const char *dapp_state(size_t n, const enum dapp_tstate st[]);
