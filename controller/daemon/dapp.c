/* dapp.c — parsing and validation of DAG applications (`submit-app`), their MRS priority order,
 * and the dependency rules edgesliced applies when one of their tasks ends. No I/O. */
#include "dapp.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrs.h"
#include "proto.h"
#include "jsonget.h"
#include "util.h"

static int fail(struct dapp_error *err, enum dapp_err code, const char *fmt, ...) _printf_(3, 4);
static int fail(struct dapp_error *err, enum dapp_err code, const char *fmt, ...)
{
	va_list ap;

	int r;

	err->code = code;
	va_start(ap, fmt);
	r = verrf(err->message, sizeof(err->message), code == DAPP_E_NOMEM ? -ENOMEM : -EINVAL, fmt,
		  ap);
	va_end(ap);
	return r;
}

void dapp_done(struct dapp *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		if (a->task[i].argv)
			for (size_t k = 0; k < a->task[i].argc; k++)
				free(a->task[i].argv[k]);
		free(a->task[i].argv);
	}
	memset(a, 0, sizeof(*a));
}

int dapp_find(const struct dapp *a, const char *name)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->task[i].name, name))
			return (int)i;
	return -1;
}

static bool is_number(json_object *v)
{
	return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

static int parse_demand(json_object *d, struct dapp_task *t, size_t i, struct dapp_error *err)
{
	bool have_cpu = false, have_mem = false;

	if (!json_object_is_type(d, json_type_object))
		return fail(err, DAPP_E_BAD_TYPE, "tasks[%zu].demand: must be an object", i);
	json_object_object_foreach(d, k, v)
	{
		if (!strcmp(k, "cpu")) {
			double c = 0;
			if (is_number(v))
				c = json_object_get_double(v);
			else if (json_object_is_type(v, json_type_string)) {
				if (parse_cores(json_object_get_string(v), &c) < 0)
					return fail(err, DAPP_E_BAD_VALUE,
						    "tasks[%zu].demand.cpu: not a core count", i);
			} else
				return fail(err, DAPP_E_BAD_TYPE,
					    "tasks[%zu].demand.cpu: must be a number of cores", i);
			if (!isfinite(c) || c <= 0 || c > 4096)
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].demand.cpu: must be > 0 and <= 4096 cores",
					    i);
			t->cpu = c;
			have_cpu = true;
		} else if (!strcmp(k, "memory")) {
			uint64_t m = 0;
			if (json_object_is_type(v, json_type_int)) {
				int64_t x = json_object_get_int64(v);
				if (x <= 0)
					return fail(err, DAPP_E_BAD_VALUE,
						    "tasks[%zu].demand.memory: must be > 0 bytes",
						    i);
				m = (uint64_t)x;
			} else if (json_object_is_type(v, json_type_string)) {
				if (parse_bytes(json_object_get_string(v), &m) < 0 || m == 0)
					return fail(
					    err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].demand.memory: not a size (e.g. \"1257M\")",
					    i);
			} else
				return fail(
				    err, DAPP_E_BAD_TYPE,
				    "tasks[%zu].demand.memory: must be bytes or a size string", i);
			t->mem = m;
			have_mem = true;
		} else
			return fail(err, DAPP_E_UNKNOWN_FIELD,
				    "tasks[%zu].demand.%.32s: unknown field", i, k);
	}
	if (!have_cpu)
		return fail(err, DAPP_E_MISSING_FIELD, "tasks[%zu].demand.cpu: missing", i);
	if (!have_mem)
		return fail(err, DAPP_E_MISSING_FIELD, "tasks[%zu].demand.memory: missing", i);
	t->has_demand = true;
	return 0;
}

static int parse_argv(json_object *a, struct dapp_task *t, size_t i, struct dapp_error *err)
{
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return fail(err, DAPP_E_BAD_TYPE, "tasks[%zu].argv: must be an array of strings",
			    i);
	n = json_object_array_length(a);
	if (n == 0 || n > PROTO_MAX_ARGS)
		return fail(err, DAPP_E_BAD_VALUE, "tasks[%zu].argv: must have 1-%u strings", i,
			    PROTO_MAX_ARGS);
	t->argv = calloc(n + 1, sizeof(char *));
	if (!t->argv)
		return fail(err, DAPP_E_NOMEM, "out of memory");
	for (size_t k = 0; k < n; k++) {
		json_object *s = json_object_array_get_idx(a, k);
		const char *v;
		if (!json_object_is_type(s, json_type_string))
			return fail(err, DAPP_E_BAD_TYPE, "tasks[%zu].argv[%zu]: must be a string",
				    i, k);
		v = json_object_get_string(s);
		if ((size_t)json_object_get_string_len(s) != strlen(v))
			return fail(err, DAPP_E_BAD_VALUE, "tasks[%zu].argv[%zu]: contains NUL", i,
				    k);
		if (strlen(v) > PROTO_MAX_ARG)
			return fail(err, DAPP_E_BAD_VALUE,
				    "tasks[%zu].argv[%zu]: longer than %u bytes", i, k,
				    PROTO_MAX_ARG);
		if (k == 0 && !*v)
			return fail(err, DAPP_E_BAD_VALUE, "tasks[%zu].argv[0]: must not be empty",
				    i);
		t->argv[k] = strdup(v);
		if (!t->argv[k])
			return fail(err, DAPP_E_NOMEM, "out of memory");
		t->argc = k + 1;
	}
	return 0;
}

static bool task_name_valid(const char *s)
{
	return proto_name_valid(s) && strlen(s) < DAPP_NAME_MAX;
}

/* Fields of task i; `after` is resolved later, once every name is known. */
static int parse_task(json_object *o, struct dapp_task *t, size_t i, struct dapp_error *err)
{
	bool have_name = false, have_queue = false;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, DAPP_E_BAD_TYPE, "tasks[%zu]: must be an object", i);
	t->compute_s = 1;
	json_object_object_foreach(o, k, v)
	{
		if (!strcmp(k, "name")) {
			if (!json_object_is_type(v, json_type_string))
				return fail(err, DAPP_E_BAD_TYPE,
					    "tasks[%zu].name: must be a string", i);
			if (!task_name_valid(json_object_get_string(v)))
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].name: 1-%d characters of A-Z a-z 0-9 _ . -",
					    i, DAPP_NAME_MAX - 1);
			snprintf(t->name, sizeof(t->name), "%s", json_object_get_string(v));
			have_name = true;
		} else if (!strcmp(k, "queue") || !strcmp(k, "model")) {
			if (!json_object_is_type(v, json_type_string))
				return fail(err, DAPP_E_BAD_TYPE, "tasks[%zu].%s: must be a string",
					    i, k);
			if (have_queue)
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].%s: give either queue or model", i, k);
			if (!proto_name_valid(json_object_get_string(v)))
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].%s: 1-64 characters of A-Z a-z 0-9 _ . -",
					    i, k);
			snprintf(t->queue, sizeof(t->queue), "%s", json_object_get_string(v));
			have_queue = true;
		} else if (!strcmp(k, "demand")) {
			r = parse_demand(v, t, i, err);
			if (r < 0)
				return r;
		} else if (!strcmp(k, "argv")) {
			r = parse_argv(v, t, i, err);
			if (r < 0)
				return r;
		} else if (!strcmp(k, "compute_s")) {
			double c;
			if (!is_number(v))
				return fail(err, DAPP_E_BAD_TYPE,
					    "tasks[%zu].compute_s: must be a number of seconds", i);
			c = json_object_get_double(v);
			if (!isfinite(c) || c <= 0 || c > 1e9)
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].compute_s: must be > 0 seconds", i);
			t->compute_s = c;
		} else if (!strcmp(k, "after")) {
			if (!json_object_is_type(v, json_type_array))
				return fail(err, DAPP_E_BAD_TYPE,
					    "tasks[%zu].after: must be an array of task names", i);
			for (size_t e = 0; e < json_object_array_length(v); e++)
				if (!json_object_is_type(json_object_array_get_idx(v, e),
							 json_type_string))
					return fail(err, DAPP_E_BAD_TYPE,
						    "tasks[%zu].after[%zu]: must be a task name", i,
						    e);
		} else
			return fail(err, DAPP_E_UNKNOWN_FIELD, "tasks[%zu].%.32s: unknown field", i,
				    k);
	}
	if (!have_name)
		return fail(err, DAPP_E_MISSING_FIELD, "tasks[%zu].name: missing", i);
	if (!have_queue)
		return fail(err, DAPP_E_MISSING_FIELD, "tasks[%zu].queue: missing (or model)", i);
	return 0;
}

/* Depth-first search for a cycle; on finding one writes "a -> b -> a" into buf. */
static bool find_cycle(const struct dapp *a, char *buf, size_t size)
{
	int color[DAPP_MAX_TASKS] = {0}, stack[DAPP_MAX_TASKS + 1], next[DAPP_MAX_TASKS + 1];

	for (size_t s = 0; s < a->n; s++) {
		int sp = 0;
		if (color[s])
			continue;
		stack[0] = (int)s;
		next[0] = 0;
		color[s] = 1;
		while (sp >= 0) {
			int u = stack[sp], v = next[sp]++;
			if (v >= (int)a->n) {
				color[u] = 2;
				sp--;
				continue;
			}
			if (!((a->task[v].pred >> u) & 1)) /* edge u -> v: v runs after u */
				continue;
			if (color[v] == 1) {
				size_t off = 0;
				int from = sp;
				while (stack[from] != v)
					from--;
				buf[0] = '\0';
				for (int k = from; k <= sp && off < size; k++)
					off += (size_t)snprintf(buf + off, size - off, "%s -> ",
								a->task[stack[k]].name);
				if (off < size)
					snprintf(buf + off, size - off, "%s", a->task[v].name);
				return true;
			}
			if (color[v] == 0) {
				color[v] = 1;
				stack[++sp] = v;
				next[sp] = 0;
			}
		}
	}
	return false;
}

static int parse_app(json_object *o, struct dapp *a, struct dapp_error *err)
{
	json_object *tasks = NULL;
	char cyc[120];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(err, DAPP_E_BAD_TYPE, "app: must be an object");
	json_object_object_foreach(o, k, val)
	{
		if (!strcmp(k, "name")) {
			if (!json_object_is_type(val, json_type_string))
				return fail(err, DAPP_E_BAD_TYPE, "name: must be a string");
			if (!proto_name_valid(json_object_get_string(val)))
				return fail(err, DAPP_E_BAD_VALUE,
					    "name: 1-64 characters of A-Z a-z 0-9 _ . -");
			snprintf(a->name, sizeof(a->name), "%s", json_object_get_string(val));
		} else if (!strcmp(k, "tasks")) {
			if (!json_object_is_type(val, json_type_array))
				return fail(err, DAPP_E_BAD_TYPE, "tasks: must be an array");
			tasks = val;
		} else
			return fail(err, DAPP_E_UNKNOWN_FIELD, "%.40s: unknown field", k);
	}
	if (!a->name[0])
		return fail(err, DAPP_E_MISSING_FIELD, "name: missing");
	if (!tasks)
		return fail(err, DAPP_E_MISSING_FIELD, "tasks: missing");
	if (json_object_array_length(tasks) == 0 ||
	    json_object_array_length(tasks) > DAPP_MAX_TASKS)
		return fail(err, DAPP_E_BAD_VALUE, "tasks: must have 1-%d tasks", DAPP_MAX_TASKS);
	for (size_t i = 0; i < json_object_array_length(tasks); i++) {
		a->n = i + 1; /* so that dapp_done frees what this task got */
		r = parse_task(json_object_array_get_idx(tasks, i), &a->task[i], i, err);
		if (r < 0)
			return r;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(a->task[j].name, a->task[i].name))
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].name: duplicate \"%s\" (tasks[%zu])", i,
					    a->task[i].name, j);
	}
	for (size_t i = 0; i < a->n; i++) {
		json_object *after;
		if (!json_object_object_get_ex(json_object_array_get_idx(tasks, i), "after",
					       &after))
			continue;
		for (size_t e = 0; e < json_object_array_length(after); e++) {
			const char *name =
			    json_object_get_string(json_object_array_get_idx(after, e));
			int p = dapp_find(a, name);
			if (p < 0)
				return fail(err, DAPP_E_BAD_VALUE,
					    "tasks[%zu].after[%zu]: unknown task \"%.40s\"", i, e,
					    name);
			if ((size_t)p == i)
				return fail(err, DAPP_E_BAD_VALUE, "tasks: cycle %s -> %s", name,
					    name);
			a->task[i].pred |= 1ull << p;
		}
	}
	if (find_cycle(a, cyc, sizeof(cyc)))
		return fail(err, DAPP_E_BAD_VALUE, "tasks: cycle %s", cyc);
	return 0;
}

int dapp_parse_json(struct json_object *o, struct dapp *ret, struct dapp_error *err)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	memset(err, 0, sizeof(*err));
	r = parse_app(o, ret, err);
	if (r < 0)
		dapp_done(ret);
	return r;
}

int dapp_parse(const char *text, size_t len, struct dapp *ret, struct dapp_error *err)
{
	enum json_tokener_error je;
	json_object *o;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (len > PROTO_MAX_LINE || memchr(text, '\0', len))
		return fail(err, DAPP_E_BAD_VALUE,
			    "not a JSON application (too large or NUL byte)");
	r = json_parse_strict(text, len, 16, JSON_TOKENER_STRICT, " \t\r\n", &o, &je, NULL);
	if (r == -ENOMEM)
		return fail(err, DAPP_E_NOMEM, "out of memory");
	if (r == -EBADMSG)
		return fail(err, DAPP_E_BAD_VALUE, "malformed JSON: trailing data");
	if (r < 0)
		return fail(err, DAPP_E_BAD_VALUE, "malformed JSON: %s",
			    je == json_tokener_continue ? "unexpected end of input"
							: json_tokener_error_desc(je));
	r = dapp_parse_json(o, ret, err);
	json_object_put(o);
	return r;
}

int dapp_priority(const struct dapp *a, double ret_phi[], int ret_order[])
{
	struct mrs_cluster *cl = calloc(1, sizeof(*cl));
	struct mrs_dag *dag = calloc(1, sizeof(*dag));
	int r = -EINVAL;

	if (!cl || !dag) {
		r = -ENOMEM;
		goto out;
	}
	if (a->n == 0 || a->n > DAPP_MAX_TASKS)
		goto out;
	/* one server of speed 1: eq. 10's mean execution time is the estimate itself, and no
	 * transfers (tasks of an application share the node) */
	cl->n = 1;
	cl->s[0] = (struct mrs_server){.name = "node", .capacity = 1, .speed = 1};
	dag->n = a->n;
	for (size_t i = 0; i < a->n; i++) {
		dag->node[i] =
		    (struct mrs_node){.work = a->task[i].compute_s, .demand = 1, .task = (int)i};
		dag->pred[i] = a->task[i].pred;
		for (size_t j = 0; j < a->n; j++)
			if ((a->task[i].pred >> j) & 1)
				dag->succ[j] |= 1ull << i;
	}
	r = mrs_priority(cl, dag, ret_phi, ret_order);
out:
	free(cl);
	free(dag);
	return r;
}

static bool is_failure(enum dapp_tstate s)
{
	return s == DAPP_T_FAILED || s == DAPP_T_CANCELLED;
}

int dapp_step(size_t n, const uint64_t pred[], const enum dapp_tstate st[], const int root_in[],
	      uint64_t *ret_fail, int ret_root[], uint64_t *ret_ready)
{
	enum dapp_tstate s[DAPP_MAX_TASKS];
	int root[DAPP_MAX_TASKS];
	uint64_t failed = 0, ready = 0;
	bool changed = true;

	if (n > DAPP_MAX_TASKS)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		s[i] = st[i];
		root[i] =
		    root_in && root_in[i] >= 0 && (size_t)root_in[i] < n ? root_in[i] : (int)i;
		if (pred[i] >> n)
			return -EINVAL;
	}
	/* fixpoint: failures travel down any number of levels; at most n rounds */
	while (changed) {
		changed = false;
		for (size_t i = 0; i < n; i++) {
			if (s[i] != DAPP_T_WAITING)
				continue;
			for (size_t j = 0; j < n; j++)
				if (((pred[i] >> j) & 1) && is_failure(s[j])) {
					s[i] = DAPP_T_FAILED;
					root[i] = root[j];
					failed |= 1ull << i;
					changed = true;
					break;
				}
		}
	}
	for (size_t i = 0; i < n; i++) {
		bool ok = s[i] == DAPP_T_WAITING;
		for (size_t j = 0; ok && j < n; j++)
			if ((pred[i] >> j) & 1)
				ok = s[j] == DAPP_T_OK;
		if (ok)
			ready |= 1ull << i;
		if (ret_root)
			ret_root[i] = root[i];
	}
	*ret_fail = failed;
	*ret_ready = ready;
	return 0;
}

const char *dapp_state(size_t n, const enum dapp_tstate st[])
{
	bool running = false, live = false, failed = false, cancelled = false;

	for (size_t i = 0; i < n; i++) {
		running |= st[i] == DAPP_T_RUNNING;
		live |= st[i] == DAPP_T_WAITING || st[i] == DAPP_T_QUEUED;
		failed |= st[i] == DAPP_T_FAILED;
		cancelled |= st[i] == DAPP_T_CANCELLED;
	}
	return running	   ? "running"
	       : live	   ? "waiting"
	       : cancelled ? "cancelled"
	       : failed	   ? "failed"
			   : "done";
}
