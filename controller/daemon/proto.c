/* proto.c — parsing of control-socket requests (newline-delimited JSON) and error replies.
 * Strict: unknown fields and wrong types are errors naming the field, so typos never pass. */
#include "proto.h"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaper.h"
#include "dapp.h"
#include "jsonget.h"
#include "util.h"

static const char *const op_names[_PROTO_OP_MAX] = {
    [PROTO_STATUS] = "status", [PROTO_SUBMIT] = "submit",   [PROTO_CANCEL] = "cancel",
    [PROTO_QUEUES] = "queues", [PROTO_DEVICES] = "devices", [PROTO_TASKS] = "tasks",
    [PROTO_EVENTS] = "events", [PROTO_RELOAD] = "reload",   [PROTO_SUBMIT_APP] = "submit-app",
    [PROTO_APPS] = "apps",     [PROTO_FLEET] = "fleet",
};

static const char *const err_names[_PROTO_E_MAX] = {
    [PROTO_OK] = "ok",
    [PROTO_E_TOO_LARGE] = "too-large",
    [PROTO_E_BAD_JSON] = "bad-json",
    [PROTO_E_NOT_OBJECT] = "not-object",
    [PROTO_E_UNKNOWN_OP] = "unknown-op",
    [PROTO_E_UNKNOWN_FIELD] = "unknown-field",
    [PROTO_E_BAD_TYPE] = "bad-type",
    [PROTO_E_MISSING_FIELD] = "missing-field",
    [PROTO_E_BAD_VALUE] = "bad-value",
    [PROTO_E_PERMISSION] = "permission-denied",
    [PROTO_E_NO_QUEUE] = "no-such-queue",
    [PROTO_E_NO_TASK] = "no-such-task",
    [PROTO_E_TOO_BIG] = "demand-too-big",
    [PROTO_E_STATE] = "wrong-state",
    [PROTO_E_LIMIT] = "limit",
    [PROTO_E_INTERNAL] = "internal",
    [PROTO_E_BAD_COMMAND] = "bad-command",
};

const char *proto_op_name(enum proto_op op)
{
	return op < _PROTO_OP_MAX ? op_names[op] : "?";
}

const char *proto_err_name(enum proto_err e)
{
	return e < _PROTO_E_MAX ? err_names[e] : "internal";
}

bool proto_op_mutates(enum proto_op op)
{
	return op == PROTO_SUBMIT || op == PROTO_CANCEL || op == PROTO_RELOAD ||
	       op == PROTO_SUBMIT_APP;
}

bool proto_name_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > PROTO_MAX_NAME || s[0] == '.' || s[0] == '-')
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

static int fail(struct proto_error *err, enum proto_err code, const char *field, const char *fmt,
		...) _printf_(4, 5);
static int fail(struct proto_error *err, enum proto_err code, const char *field, const char *fmt,
		...)
{
	va_list ap;

	int r;

	err->code = code;
	err->field = field;
	va_start(ap, fmt);
	r = verrf(err->message, sizeof(err->message), -EINVAL, fmt, ap);
	va_end(ap);
	return r;
}

void proto_request_done(struct proto_request *r)
{
	if (!r)
		return;
	free(r->queue);
	strv_free(r->argv, r->argc);
	free(r->oci);
	dapp_done(r->dapp);
	free(r->dapp);
	memset(r, 0, sizeof(*r));
}

/* Which fields each op accepts besides "op" and "id". */
static bool field_allowed(enum proto_op op, const char *k)
{
	if (op == PROTO_SUBMIT)
		return !strcmp(k, "queue") || !strcmp(k, "argv") || !strcmp(k, "demand") ||
		       !strcmp(k, "upload_rate") || !strcmp(k, "oci");
	if (op == PROTO_CANCEL)
		return !strcmp(k, "task") || !strcmp(k, "app") || !strcmp(k, "fleet");
	if (op == PROTO_SUBMIT_APP)
		return !strcmp(k, "app");
	return false;
}

static int parse_demand(json_object *d, struct proto_request *r, struct proto_error *err)
{
	bool have_cpu = false, have_mem = false;

	if (!json_object_is_type(d, json_type_object))
		return fail(err, PROTO_E_BAD_TYPE, "demand", "demand: must be an object");
	json_object_object_foreach(d, k, v)
	{
		if (!strcmp(k, "cpu")) {
			double c;
			if (json_object_is_type(v, json_type_int) ||
			    json_object_is_type(v, json_type_double))
				c = json_object_get_double(v);
			else if (json_object_is_type(v, json_type_string)) {
				if (parse_cores(json_object_get_string(v), &c) < 0)
					return fail(err, PROTO_E_BAD_VALUE, "demand.cpu",
						    "demand.cpu: not a core count");
			} else
				return fail(err, PROTO_E_BAD_TYPE, "demand.cpu",
					    "demand.cpu: must be a number of cores");
			if (!isfinite(c) || c <= 0 || c > 4096)
				return fail(err, PROTO_E_BAD_VALUE, "demand.cpu",
					    "demand.cpu: must be > 0 and <= 4096 cores");
			r->cpu = c;
			have_cpu = true;
		} else if (!strcmp(k, "memory")) {
			uint64_t m;
			if (json_object_is_type(v, json_type_int)) {
				int64_t x = json_object_get_int64(v);
				if (x <= 0)
					return fail(err, PROTO_E_BAD_VALUE, "demand.memory",
						    "demand.memory: must be > 0 bytes");
				m = (uint64_t)x;
			} else if (json_object_is_type(v, json_type_string)) {
				if (parse_bytes(json_object_get_string(v), &m) < 0 || m == 0)
					return fail(err, PROTO_E_BAD_VALUE, "demand.memory",
						    "demand.memory: not a size (e.g. \"1257M\")");
			} else
				return fail(err, PROTO_E_BAD_TYPE, "demand.memory",
					    "demand.memory: must be bytes or a size string");
			r->mem = m;
			have_mem = true;
		} else
			return fail(err, PROTO_E_UNKNOWN_FIELD, "demand",
				    "demand.%.40s: unknown field", k);
	}
	if (!have_cpu)
		return fail(err, PROTO_E_MISSING_FIELD, "demand.cpu", "demand.cpu: missing");
	if (!have_mem)
		return fail(err, PROTO_E_MISSING_FIELD, "demand.memory", "demand.memory: missing");
	r->has_demand = true;
	return 0;
}

static int parse_argv(json_object *a, struct proto_request *r, struct proto_error *err)
{
	size_t n;

	if (!json_object_is_type(a, json_type_array))
		return fail(err, PROTO_E_BAD_TYPE, "argv", "argv: must be an array of strings");
	n = json_object_array_length(a);
	if (n == 0)
		return fail(err, PROTO_E_BAD_VALUE, "argv", "argv: must not be empty");
	if (n > PROTO_MAX_ARGS)
		return fail(err, PROTO_E_BAD_VALUE, "argv", "argv: more than %u arguments",
			    PROTO_MAX_ARGS);
	r->argv = calloc(n + 1, sizeof(char *));
	if (!r->argv)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(a, i);
		const char *v;
		if (!json_object_is_type(s, json_type_string))
			return fail(err, PROTO_E_BAD_TYPE, "argv", "argv[%zu]: must be a string",
				    i);
		v = json_object_get_string(s);
		if ((size_t)json_object_get_string_len(s) != strlen(v))
			return fail(err, PROTO_E_BAD_VALUE, "argv", "argv[%zu]: contains NUL", i);
		if (strlen(v) > PROTO_MAX_ARG)
			return fail(err, PROTO_E_BAD_VALUE, "argv",
				    "argv[%zu]: longer than %u bytes", i, PROTO_MAX_ARG);
		if (i == 0 && v[0] == '\0')
			return fail(err, PROTO_E_BAD_VALUE, "argv", "argv[0]: must not be empty");
		r->argv[i] = strdup(v);
		if (!r->argv[i])
			return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
		r->argc = i + 1;
	}
	return 0;
}

static int parse_app(json_object *o, struct proto_request *r, struct proto_error *err)
{
	static const enum proto_err codes[] = {
	    [DAPP_E_BAD_TYPE] = PROTO_E_BAD_TYPE,
	    [DAPP_E_UNKNOWN_FIELD] = PROTO_E_UNKNOWN_FIELD,
	    [DAPP_E_MISSING_FIELD] = PROTO_E_MISSING_FIELD,
	    [DAPP_E_BAD_VALUE] = PROTO_E_BAD_VALUE,
	    [DAPP_E_NOMEM] = PROTO_E_INTERNAL,
	};
	struct dapp_error e;
	int k;

	r->dapp = calloc(1, sizeof(*r->dapp));
	if (!r->dapp)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	k = dapp_parse_json(o, r->dapp, &e);
	if (k < 0) {
		free(r->dapp);
		r->dapp = NULL;
		return fail(err, codes[e.code], "app", "%s", e.message);
	}
	return 0;
}

static int parse_object(json_object *o, struct proto_request *r, struct proto_error *err)
{
	json_object *v;
	const char *op;
	int k;

	/* Read the id first so that every later error can echo it. */
	if (json_object_object_get_ex(o, "id", &v)) {
		if (!json_object_is_type(v, json_type_int))
			return fail(err, PROTO_E_BAD_TYPE, "id", "id: must be an integer");
		r->id = json_object_get_int64(v);
		r->has_id = true;
	}
	if (!json_object_object_get_ex(o, "op", &v))
		return fail(err, PROTO_E_MISSING_FIELD, "op", "op: missing");
	if (!json_object_is_type(v, json_type_string))
		return fail(err, PROTO_E_BAD_TYPE, "op", "op: must be a string");
	op = json_object_get_string(v);
	r->op = _PROTO_OP_MAX;
	for (int i = 0; i < _PROTO_OP_MAX; i++)
		if (!strcmp(op, op_names[i]))
			r->op = (enum proto_op)i;
	if (r->op == _PROTO_OP_MAX)
		return fail(err, PROTO_E_UNKNOWN_OP, "op", "op: unknown request \"%.40s\"", op);

	json_object_object_foreach(o, key, val)
	{
		if (!strcmp(key, "op") || !strcmp(key, "id"))
			continue;
		if (!field_allowed(r->op, key))
			return fail(err, PROTO_E_UNKNOWN_FIELD, NULL, "%.40s: unknown field for %s",
				    key, op_names[r->op]);
		if (!strcmp(key, "queue")) {
			if (!json_object_is_type(val, json_type_string))
				return fail(err, PROTO_E_BAD_TYPE, "queue",
					    "queue: must be a string");
			if (!proto_name_valid(json_object_get_string(val)))
				return fail(err, PROTO_E_BAD_VALUE, "queue",
					    "queue: 1-64 characters of A-Z a-z 0-9 _ . -");
			r->queue = strdup(json_object_get_string(val));
			if (!r->queue)
				return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
		} else if (!strcmp(key, "argv")) {
			k = parse_argv(val, r, err);
			if (k < 0)
				return k;
		} else if (!strcmp(key, "oci")) {
			const char *b = json_object_get_string(val);
			if (!json_object_is_type(val, json_type_string))
				return fail(err, PROTO_E_BAD_TYPE, "oci",
					    "oci: must be a bundle folder (a string)");
			if (b[0] != '/' || json_object_get_string_len(val) >= 4096 ||
			    strlen(b) != (size_t)json_object_get_string_len(val))
				return fail(err, PROTO_E_BAD_VALUE, "oci",
					    "oci: must be an absolute path of a bundle folder");
			r->oci = strdup(b);
			if (!r->oci)
				return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
		} else if (!strcmp(key, "demand")) {
			k = parse_demand(val, r, err);
			if (k < 0)
				return k;
		} else if (!strcmp(key, "upload_rate")) {
			/* bytes/s, or a tc-style rate / preset ("5.85mbit", "4g") */
			if (json_object_is_type(val, json_type_int)) {
				int64_t x = json_object_get_int64(val);
				if (x < (int64_t)SHAPER_RATE_MIN || (uint64_t)x > SHAPER_RATE_MAX)
					return fail(
					    err, PROTO_E_BAD_VALUE, "upload_rate",
					    "upload_rate: must be 1000..12500000000 bytes/s");
				r->upload_rate = (uint64_t)x;
			} else if (json_object_is_type(val, json_type_string)) {
				if (shaper_parse_rate(json_object_get_string(val),
						      &r->upload_rate) < 0)
					return fail(err, PROTO_E_BAD_VALUE, "upload_rate",
						    "upload_rate: not a rate between 8kbit and "
						    "100gbit (e.g. \"5.85mbit\", \"4g\")");
			} else
				return fail(err, PROTO_E_BAD_TYPE, "upload_rate",
					    "upload_rate: must be bytes/s or a rate string");
		} else if (!strcmp(key, "app") && r->op == PROTO_SUBMIT_APP) {
			k = parse_app(val, r, err);
			if (k < 0)
				return k;
		} else if (!strcmp(key, "app")) {
			int64_t t;
			if (!json_object_is_type(val, json_type_int))
				return fail(err, PROTO_E_BAD_TYPE, "app",
					    "app: must be an integer");
			t = json_object_get_int64(val);
			/* json-c saturates past INT64_MAX: only INT64_MAX itself is an id. */
			if (t <= 0 || (t == INT64_MAX && json_object_get_uint64(val) != INT64_MAX))
				return fail(err, PROTO_E_BAD_VALUE, "app",
					    "app: must be an application id in 1..2^63-1");
			r->app = (uint64_t)t;
		} else if (!strcmp(key, "fleet")) {
			if (!json_object_is_type(val, json_type_boolean))
				return fail(err, PROTO_E_BAD_TYPE, "fleet",
					    "fleet: must be true or false");
			r->fleet = json_object_get_boolean(val);
		} else if (!strcmp(key, "task")) {
			int64_t t;
			if (!json_object_is_type(val, json_type_int))
				return fail(err, PROTO_E_BAD_TYPE, "task",
					    "task: must be an integer");
			t = json_object_get_int64(val);
			/* json-c saturates past INT64_MAX: only INT64_MAX itself is an id. */
			if (t <= 0 || (t == INT64_MAX && json_object_get_uint64(val) != INT64_MAX))
				return fail(err, PROTO_E_BAD_VALUE, "task",
					    "task: must be a task id in 1..2^63-1");
			r->task = (uint64_t)t;
		}
	}
	if (r->op == PROTO_SUBMIT) {
		if (!r->queue)
			return fail(err, PROTO_E_MISSING_FIELD, "queue", "queue: missing");
		/* argv may be left out: the daemon then runs the catalog command of the queue's
		 * model, or answers missing-field itself. */
		if (r->oci && r->argv)
			return fail(err, PROTO_E_BAD_VALUE, "oci",
				    "oci: give either argv or an OCI bundle, not both");
	}
	if (r->op == PROTO_CANCEL && !r->task && !r->app)
		return fail(err, PROTO_E_MISSING_FIELD, "task", "task: missing (or app)");
	if (r->op == PROTO_CANCEL && r->task && r->app)
		return fail(err, PROTO_E_BAD_VALUE, "app", "app: give either task or app");
	if (r->op == PROTO_CANCEL && r->fleet && !r->task)
		return fail(err, PROTO_E_MISSING_FIELD, "task",
			    "task: missing (fleet cancels a fleet task id)");
	if (r->op == PROTO_SUBMIT_APP && !r->dapp)
		return fail(err, PROTO_E_MISSING_FIELD, "app", "app: missing");
	return 0;
}

int proto_parse_request(const char *buf, size_t len, struct proto_request *ret,
			struct proto_error *err)
{
	struct proto_request r = {0};
	enum json_tokener_error je;
	json_object *o;
	int k;

	memset(err, 0, sizeof(*err));
	if (len > PROTO_MAX_LINE)
		return fail(err, PROTO_E_TOO_LARGE, NULL, "request longer than %u bytes",
			    PROTO_MAX_LINE);
	if (memchr(buf, '\0', len))
		return fail(err, PROTO_E_BAD_JSON, NULL, "request contains a NUL byte");
	/* submit-app nests 5 deep: depth 16 bounds the parser's stack */
	k = json_parse_strict(buf, len, 16, JSON_TOKENER_STRICT, " \t\r", &o, &je, NULL);
	if (k == -ENOMEM)
		return fail(err, PROTO_E_INTERNAL, NULL, "out of memory");
	if (k == -EBADMSG)
		return fail(err, PROTO_E_BAD_JSON, NULL, "malformed JSON: trailing data");
	if (k < 0)
		return fail(err, PROTO_E_BAD_JSON, NULL, "malformed JSON: %s",
			    je == json_tokener_continue ? "unexpected end of input"
							: json_tokener_error_desc(je));
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return fail(err, PROTO_E_NOT_OBJECT, NULL, "request must be a JSON object");
	}
	k = parse_object(o, &r, err);
	json_object_put(o);
	if (k < 0) {
		ret->has_id = r.has_id;
		ret->id = r.id;
		proto_request_done(&r);
		return k;
	}
	*ret = r;
	return 0;
}

char *proto_format_error(const struct proto_request *req, const struct proto_error *err)
{
	json_object *o = json_object_new_object(), *e = json_object_new_object();
	char *line = NULL;

	if (!o || !e) {
		json_object_put(o);
		json_object_put(e);
		return NULL;
	}
	if (req && req->has_id)
		json_object_object_add(o, "id", json_object_new_int64(req->id));
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(e, "code", json_object_new_string(proto_err_name(err->code)));
	if (err->field)
		json_object_object_add(e, "field", json_object_new_string(err->field));
	json_object_object_add(e, "message", json_object_new_string(err->message));
	json_object_object_add(o, "error", e);
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	return line;
}
