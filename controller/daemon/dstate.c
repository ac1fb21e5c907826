/* dstate.c — (de)serialization of edgesliced's task records: one record (a state.db row) or
 * the whole table (state.json, imported once). Parsing is strict: nothing is half-loaded. */
#include "dstate.h"

#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

static const char *const state_names[_DTASK_STATE_MAX] = {
    [DTASK_QUEUED] = "queued",	 [DTASK_STARTING] = "starting",	  [DTASK_RUNNING] = "running",
    [DTASK_DONE] = "done",	 [DTASK_CANCELLED] = "cancelled", [DTASK_FAILED] = "failed",
    [DTASK_WAITING] = "waiting",
};

const char *dtask_state_name(enum dtask_state s)
{
	return s < _DTASK_STATE_MAX ? state_names[s] : "?";
}

int dtask_state_from_name(const char *s, enum dtask_state *ret)
{
	for (int i = 0; i < _DTASK_STATE_MAX; i++)
		if (!strcmp(s, state_names[i])) {
			*ret = (enum dtask_state)i;
			return 0;
		}
	return -EINVAL;
}

bool dtask_state_live(enum dtask_state s)
{
	return s == DTASK_QUEUED || s == DTASK_STARTING || s == DTASK_RUNNING || s == DTASK_WAITING;
}

int dtask_cgroup_name(const struct dtask *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "task-%s-%llu", t->queue, (unsigned long long)t->id);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

void dtask_free_fields(struct dtask *t)
{
	strv_free(t->argv, t->argc);
	t->argv = NULL;
	t->argc = 0;
	free(t->after);
	t->after = NULL;
	t->n_after = 0;
	free(t->oci);
	t->oci = NULL;
}

void dstate_free(struct dtask *tasks, size_t n)
{
	for (size_t i = 0; tasks && i < n; i++)
		dtask_free_fields(&tasks[i]);
	free(tasks);
}

static json_object *task_json(const struct dtask *t)
{
	json_object *e = json_object_new_object(), *a = json_object_new_array();

	if (!e || !a) {
		json_object_put(e);
		json_object_put(a);
		return NULL;
	}
	json_object_object_add(e, "id", json_object_new_int64((int64_t)t->id));
	json_object_object_add(e, "queue", json_object_new_string(t->queue));
	for (size_t k = 0; k < t->argc; k++)
		json_object_array_add(a, json_object_new_string(t->argv[k]));
	json_object_object_add(e, "argv", a);
	json_object_object_add(e, "cpu", json_object_new_double(t->cpu));
	json_object_object_add(e, "memory", json_object_new_int64((int64_t)t->mem));
	json_object_object_add(e, "state", json_object_new_string(dtask_state_name(t->state)));
	json_object_object_add(e, "device", json_object_new_int(t->dev));
	json_object_object_add(e, "submit_us", json_object_new_int64((int64_t)t->submit_us));
	json_object_object_add(e, "start_us", json_object_new_int64((int64_t)t->start_us));
	json_object_object_add(e, "end_us", json_object_new_int64((int64_t)t->end_us));
	json_object_object_add(e, "pid", json_object_new_int64(t->pid));
	json_object_object_add(e, "exit_code", json_object_new_int(t->exit_code));
	json_object_object_add(e, "reason", json_object_new_string(t->reason));
	json_object_object_add(e, "cpu_usec", json_object_new_int64((int64_t)t->cpu_usec));
	if (t->fleet_id)
		json_object_object_add(e, "fleet_id", json_object_new_int64((int64_t)t->fleet_id));
	if (t->upload_rate)
		json_object_object_add(e, "upload_rate",
				       json_object_new_int64((int64_t)t->upload_rate));
	if (t->oci)
		json_object_object_add(e, "oci", json_object_new_string(t->oci));
	if (t->app) { /* optional: plain tasks and older files have none of these */
		json_object *af = json_object_new_array();
		json_object_object_add(e, "app", json_object_new_int64((int64_t)t->app));
		json_object_object_add(e, "app_name", json_object_new_string(t->app_name));
		json_object_object_add(e, "name", json_object_new_string(t->name));
		for (size_t k = 0; k < t->n_after; k++)
			json_object_array_add(af, json_object_new_int64((int64_t)t->after[k]));
		json_object_object_add(e, "after", af);
		json_object_object_add(e, "prio", json_object_new_double(t->prio));
	}
	return e;
}

int dtask_format(const struct dtask *t, char **ret)
{
	json_object *e = task_json(t);
	char *s;

	if (!e)
		return -ENOMEM;
	s = strdup(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	json_object_put(e);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
}

int dstate_format(const struct dtask *tasks, size_t n, uint64_t next_id, char **ret)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();
	char *s;

	if (!o || !arr)
		goto oom;
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "next_id", json_object_new_int64((int64_t)next_id));
	json_object_object_add(o, "tasks", arr);
	for (size_t i = 0; i < n; i++) {
		json_object *e = task_json(&tasks[i]);
		if (!e) {
			json_object_put(o);
			return -ENOMEM;
		}
		json_object_array_add(arr, e);
	}
	s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	if (!s)
		return -ENOMEM;
	*ret = s;
	return 0;
oom:
	json_object_put(o);
	json_object_put(arr);
	return -ENOMEM;
}

static int bad(char *err, size_t errsz, const char *fmt, ...) _printf_(3, 4);
static int bad(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = verrf(err, errsz, -EINVAL, fmt, ap);
	va_end(ap);
	return r;
}

static int get_int(json_object *e, const char *k, int64_t min, int64_t max, int64_t *ret)
{
	json_object *v;
	int64_t x;
	if (!json_object_object_get_ex(e, k, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	x = json_object_get_int64(v);
	if (x < min || x > max)
		return -ERANGE;
	*ret = x;
	return 0;
}

/* Optional application fields: all or none; predecessors are earlier tasks of the same app. */
static int parse_app_fields(json_object *e, struct dtask *t, char *err, size_t errsz, size_t i)
{
	json_object *v;
	int64_t x;
	size_t n;

	if (!json_object_object_get_ex(e, "app", &v)) {
		if (t->state == DTASK_WAITING)
			return bad(err, errsz, "tasks[%zu]: waiting without an application", i);
		return 0;
	}
	if (get_int(e, "app", 1, (int64_t)t->id, &x) < 0)
		return bad(err, errsz, "tasks[%zu].app: not an application id <= the task id", i);
	t->app = (uint64_t)x;
	if (!json_object_object_get_ex(e, "app_name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !proto_name_valid(json_object_get_string(v)))
		return bad(err, errsz, "tasks[%zu].app_name: missing or invalid", i);
	snprintf(t->app_name, sizeof(t->app_name), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(e, "name", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !proto_name_valid(json_object_get_string(v)) ||
	    strlen(json_object_get_string(v)) >= sizeof(t->name))
		return bad(err, errsz, "tasks[%zu].name: missing or invalid", i);
	snprintf(t->name, sizeof(t->name), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(e, "after", &v) ||
	    !json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) > 64)
		return bad(err, errsz, "tasks[%zu].after: missing or invalid", i);
	t->after = calloc(n ? n : 1, sizeof(*t->after));
	if (!t->after)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		json_object *a = json_object_array_get_idx(v, k);
		if (!json_object_is_type(a, json_type_int) ||
		    json_object_get_int64(a) < (int64_t)t->app ||
		    json_object_get_int64(a) >= (int64_t)t->id)
			return bad(err, errsz,
				   "tasks[%zu].after[%zu]: not an earlier task of application %llu",
				   i, k, (unsigned long long)t->app);
		t->after[k] = (uint64_t)json_object_get_int64(a);
		t->n_after = k + 1;
	}
	if (t->state == DTASK_WAITING && !n)
		return bad(err, errsz, "tasks[%zu]: waiting without predecessors", i);
	if (json_object_object_get_ex(e, "prio", &v)) {
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			return bad(err, errsz, "tasks[%zu].prio: not a number", i);
		t->prio = json_object_get_double(v);
		if (!isfinite(t->prio))
			return bad(err, errsz, "tasks[%zu].prio: not finite", i);
	}
	return 0;
}

static int parse_task(json_object *e, struct dtask *t, char *err, size_t errsz, size_t i)
{
	json_object *v;
	int64_t x;
	size_t n;

	if (!json_object_is_type(e, json_type_object))
		return bad(err, errsz, "tasks[%zu]: not an object", i);
	t->dev = -1;
	t->exit_code = -1;
	if (get_int(e, "id", 1, INT64_MAX - 1, &x) < 0)
		return bad(err, errsz, "tasks[%zu].id: missing or not a positive integer", i);
	t->id = (uint64_t)x;
	if (!json_object_object_get_ex(e, "queue", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    !proto_name_valid(json_object_get_string(v)))
		return bad(err, errsz, "tasks[%zu].queue: missing or invalid", i);
	snprintf(t->queue, sizeof(t->queue), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(e, "argv", &v) || !json_object_is_type(v, json_type_array) ||
	    (n = json_object_array_length(v)) == 0 || n > PROTO_MAX_ARGS)
		return bad(err, errsz, "tasks[%zu].argv: missing or invalid", i);
	t->argv = calloc(n + 1, sizeof(char *));
	if (!t->argv)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		json_object *s = json_object_array_get_idx(v, k);
		if (!json_object_is_type(s, json_type_string))
			return bad(err, errsz, "tasks[%zu].argv[%zu]: not a string", i, k);
		t->argv[k] = strdup(json_object_get_string(s));
		if (!t->argv[k])
			return -ENOMEM;
		t->argc = k + 1;
	}
	if (!json_object_object_get_ex(e, "cpu", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
		return bad(err, errsz, "tasks[%zu].cpu: missing or not a number", i);
	t->cpu = json_object_get_double(v);
	if (!isfinite(t->cpu) || t->cpu <= 0)
		return bad(err, errsz, "tasks[%zu].cpu: must be > 0", i);
	if (get_int(e, "memory", 1, INT64_MAX, &x) < 0)
		return bad(err, errsz, "tasks[%zu].memory: missing or invalid", i);
	t->mem = (uint64_t)x;
	if (!json_object_object_get_ex(e, "state", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    dtask_state_from_name(json_object_get_string(v), &t->state) < 0)
		return bad(err, errsz, "tasks[%zu].state: missing or unknown", i);
	if (get_int(e, "device", -1, 4095, &x) < 0)
		return bad(err, errsz, "tasks[%zu].device: missing or invalid", i);
	t->dev = (int)x;
	if ((t->state == DTASK_STARTING || t->state == DTASK_RUNNING) && t->dev < 0)
		return bad(err, errsz, "tasks[%zu]: %s without a device", i,
			   dtask_state_name(t->state));
	if (get_int(e, "submit_us", 0, INT64_MAX, &x) < 0)
		return bad(err, errsz, "tasks[%zu].submit_us: missing or invalid", i);
	t->submit_us = (uint64_t)x;
	if (get_int(e, "start_us", 0, INT64_MAX, &x) < 0)
		return bad(err, errsz, "tasks[%zu].start_us: missing or invalid", i);
	t->start_us = (uint64_t)x;
	if (get_int(e, "end_us", 0, INT64_MAX, &x) < 0)
		return bad(err, errsz, "tasks[%zu].end_us: missing or invalid", i);
	t->end_us = (uint64_t)x;
	if (get_int(e, "pid", 0, INT32_MAX, &x) < 0)
		return bad(err, errsz, "tasks[%zu].pid: missing or invalid", i);
	t->pid = x;
	if (get_int(e, "exit_code", -1, 255 + 128, &x) < 0)
		return bad(err, errsz, "tasks[%zu].exit_code: missing or invalid", i);
	t->exit_code = (int)x;
	if (json_object_object_get_ex(e, "reason", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return bad(err, errsz, "tasks[%zu].reason: not a string", i);
		snprintf(t->reason, sizeof(t->reason), "%s", json_object_get_string(v));
	}
	if (json_object_object_get_ex(e, "cpu_usec", &v)) { /* optional: older files lack it */
		if (get_int(e, "cpu_usec", 0, INT64_MAX, &x) < 0)
			return bad(err, errsz, "tasks[%zu].cpu_usec: not a non-negative integer",
				   i);
		t->cpu_usec = (uint64_t)x;
	}
	if (json_object_object_get_ex(e, "fleet_id", &v)) { /* optional: fleet mode only */
		if (get_int(e, "fleet_id", 1, INT64_MAX, &x) < 0)
			return bad(err, errsz, "tasks[%zu].fleet_id: not a positive integer", i);
		t->fleet_id = (uint64_t)x;
	}
	if (json_object_object_get_ex(e, "upload_rate", &v)) { /* optional: only shaped tasks */
		if (get_int(e, "upload_rate", 1, INT64_MAX, &x) < 0)
			return bad(err, errsz, "tasks[%zu].upload_rate: not a positive integer", i);
		t->upload_rate = (uint64_t)x;
	}
	if (json_object_object_get_ex(e, "oci", &v)) { /* optional: container tasks only */
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string(v)[0] != '/' ||
		    json_object_get_string_len(v) >= PATH_MAX)
			return bad(err, errsz, "tasks[%zu].oci: not an absolute bundle path", i);
		t->oci = strdup(json_object_get_string(v));
		if (!t->oci)
			return -ENOMEM;
	}
	return parse_app_fields(e, t, err, errsz, i);
}

int dtask_parse(const char *text, struct dtask *ret, char *err, size_t errsz)
{
	json_object *o = json_tokener_parse(text ? text : "");
	struct dtask t = {0};
	int r;

	if (!o) {
		t.dev = -1;
		return bad(err, errsz, "not JSON");
	}
	r = parse_task(o, &t, err, errsz, 0);
	json_object_put(o);
	if (r < 0) {
		dtask_free_fields(&t);
		return r;
	}
	*ret = t;
	return 0;
}

int dstate_parse(const char *text, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		 char *err, size_t errsz)
{
	json_object *o = json_tokener_parse(text ? text : ""), *arr;
	struct dtask *tasks = NULL;
	size_t n = 0;
	int64_t next, ver;
	int r = -EINVAL;

	if (!o || !json_object_is_type(o, json_type_object)) {
		r = bad(err, errsz, "not a JSON object");
		goto out;
	}
	if (get_int(o, "version", 1, 1, &ver) < 0) {
		r = bad(err, errsz, "version: missing or unsupported");
		goto out;
	}
	if (get_int(o, "next_id", 1, INT64_MAX, &next) < 0) {
		r = bad(err, errsz, "next_id: missing or invalid");
		goto out;
	}
	if (!json_object_object_get_ex(o, "tasks", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		r = bad(err, errsz, "tasks: missing or not an array");
		goto out;
	}
	n = json_object_array_length(arr);
	tasks = calloc(n ? n : 1, sizeof(*tasks));
	if (!tasks) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		r = parse_task(json_object_array_get_idx(arr, i), &tasks[i], err, errsz, i);
		if (r < 0)
			goto out;
		if (tasks[i].id >= (uint64_t)next) {
			r = bad(err, errsz, "tasks[%zu].id: %llu not below next_id", i,
				(unsigned long long)tasks[i].id);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (tasks[j].id == tasks[i].id) {
				r = bad(err, errsz, "tasks[%zu].id: duplicate %llu", i,
					(unsigned long long)tasks[i].id);
				goto out;
			}
	}
	*ret = tasks;
	*ret_n = n;
	*ret_next_id = (uint64_t)next;
	tasks = NULL;
	r = 0;
out:
	dstate_free(tasks, n);
	json_object_put(o);
	return r;
}
