/* workload.c — strict json-c reader for simulator workloads: every field is checked and an
 * error names its path; unknown keys are errors so typos do not silently become defaults. */
#include "workload.h"

#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonget.h"
#include "util.h"

#define MAX_DEVICES   65536
#define MAX_QUEUES    65536
#define MAX_INSTANCES 10000000u

struct ctx {
	char *err;
	size_t errlen;
};

_printf_(3, 4) static int fail(struct ctx *c, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = verrf(c->err, c->errlen, r, fmt, ap);
	va_end(ap);
	return r;
}

/* Keys and names come from the file: keep the one-line error one line and short. */
static const char *printable(const char *in, char *buf, size_t size)
{
	size_t i = 0;
	for (; in[i] && i + 1 < size; i++)
		buf[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	buf[i] = 0;
	return buf;
}

static bool only_keys(struct ctx *c, json_object *o, const char *path, const char *const *keys,
		      int *r)
{
	json_object_object_foreach(o, k, v)
	{
		(void)v;
		bool ok = false;
		for (const char *const *p = keys; *p && !ok; p++)
			ok = !strcmp(*p, k);
		if (!ok) {
			char kb[64];
			*r = fail(c, -EINVAL, "%s%s%s: unknown key", path, *path ? "." : "",
				  printable(k, kb, sizeof(kb)));
			return false;
		}
	}
	return true;
}

/* A number, or for cpu a string like "1500m", for memory "1257M". */
enum numkind { NUM_PLAIN, NUM_CORES, NUM_BYTES };

static int get_number(struct ctx *c, json_object *o, const char *path, enum numkind kind,
		      bool positive, double *ret)
{
	double v;
	if (json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)) {
		v = json_object_get_double(o);
	} else if (kind != NUM_PLAIN && json_object_is_type(o, json_type_string)) {
		const char *s = json_object_get_string(o);
		if (kind == NUM_CORES) {
			if (parse_cores(s, &v) < 0)
				return fail(c, -EINVAL,
					    "%s: expected cores such as 2, 0.5 or \"500m\"", path);
		} else {
			uint64_t b;
			if (parse_bytes(s, &b) < 0)
				return fail(c, -EINVAL,
					    "%s: expected bytes such as 1073741824 or \"1257M\"",
					    path);
			v = (double)b;
		}
	} else {
		return fail(c, -EINVAL, "%s: expected a %s number", path,
			    positive ? "positive" : "non-negative");
	}
	if (!isfinite(v) || v < 0 || (positive && v <= 0) || v > 1e18)
		return fail(c, -EINVAL, "%s: expected a %s number", path,
			    positive ? "positive" : "non-negative");
	*ret = v;
	return 0;
}

static int opt_number(struct ctx *c, json_object *parent, const char *key, const char *path,
		      enum numkind kind, bool positive, double *ret)
{
	json_object *o;
	char p[256];
	if (!json_object_object_get_ex(parent, key, &o))
		return 0; /* keep the default */
	snprintf(p, sizeof(p), "%s.%s", path, key);
	return get_number(c, o, p, kind, positive, ret);
}

static int req_number(struct ctx *c, json_object *parent, const char *key, const char *path,
		      enum numkind kind, bool positive, double *ret)
{
	if (!json_object_object_get_ex(parent, key, NULL))
		return fail(c, -EINVAL, "%s.%s: missing", path, key);
	return opt_number(c, parent, key, path, kind, positive, ret);
}

static int get_count(struct ctx *c, json_object *parent, const char *key, const char *path,
		     uint32_t max, uint32_t *ret)
{
	json_object *o;
	if (!json_object_object_get_ex(parent, key, &o))
		return 0;
	if (!json_object_is_type(o, json_type_int) || json_object_get_int64(o) < 0 ||
	    json_object_get_int64(o) > max)
		return fail(c, -EINVAL, "%s.%s: expected an integer between 0 and %u", path, key,
			    max);
	*ret = (uint32_t)json_object_get_int64(o);
	return 0;
}

static int get_object(struct ctx *c, json_object *parent, const char *key, const char *path,
		      bool required, json_object **ret)
{
	json_object *o = NULL;
	if (!json_object_object_get_ex(parent, key, &o)) {
		if (required)
			return fail(c, -EINVAL, "%s%s%s: missing", path, *path ? "." : "", key);
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(o, json_type_object))
		return fail(c, -EINVAL, "%s%s%s: expected an object", path, *path ? "." : "", key);
	*ret = o;
	return 0;
}

/* devices[i].background: {"kind":"constant"|"periodic"|"trace", "cpu", "mem", "period_s",
 * "duty", "points":[[t, cpu], ...]} (docs/SIMULATOR.md). */
static int parse_background(struct ctx *c, json_object *o, const char *dpath,
			    struct policy_res total, struct sim_background *ret)
{
	static const char *const keys[] = {"kind", "cpu",    "mem", "period_s",
					   "duty", "points", NULL};
	static const char *const kinds[] = {"constant", "periodic", "trace"};
	struct sim_background b = {.duty = 0.5};
	json_object *k, *pts;
	char path[96];
	int r = 0;

	snprintf(path, sizeof(path), "%s.background", dpath);
	if (!only_keys(c, o, path, keys, &r))
		return r;
	if (!json_object_object_get_ex(o, "kind", &k) || !json_object_is_type(k, json_type_string))
		return fail(c, -EINVAL, "%s.kind: expected constant, periodic or trace", path);
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++)
		if (!strcmp(json_object_get_string(k), kinds[i]))
			b.kind = (enum sim_bg_kind)(SIM_BG_CONSTANT + i);
	if (b.kind == SIM_BG_NONE)
		return fail(c, -EINVAL, "%s.kind: expected constant, periodic or trace", path);
	if ((r = opt_number(c, o, "mem", path, NUM_BYTES, false, &b.mem)) < 0)
		return r;
	if (b.mem >= total.mem)
		return fail(c, -EINVAL, "%s.mem: must be below the device's memory", path);
	if (b.kind != SIM_BG_TRACE &&
	    (r = req_number(c, o, "cpu", path, NUM_CORES, false, &b.cpu)) < 0)
		return r;
	if (b.kind == SIM_BG_PERIODIC &&
	    ((r = req_number(c, o, "period_s", path, NUM_PLAIN, true, &b.period_s)) < 0 ||
	     (r = opt_number(c, o, "duty", path, NUM_PLAIN, true, &b.duty)) < 0))
		return r;
	if (b.kind == SIM_BG_PERIODIC && b.duty > 1)
		return fail(c, -EINVAL, "%s.duty: expected a fraction in (0, 1]", path);
	if (b.kind == SIM_BG_TRACE) {
		size_t n;
		if (!json_object_object_get_ex(o, "points", &pts) ||
		    !json_object_is_type(pts, json_type_array) ||
		    (n = json_object_array_length(pts)) == 0 || n > 100000)
			return fail(c, -EINVAL, "%s.points: expected 1 to 100000 [t, cpu] pairs",
				    path);
		b.trace_t = calloc(n, sizeof(double));
		b.trace_cpu = calloc(n, sizeof(double));
		if (!b.trace_t || !b.trace_cpu)
			r = -ENOMEM;
		for (size_t i = 0; r >= 0 && i < n; i++) {
			json_object *pt = json_object_array_get_idx(pts, i);
			char pp[128];
			snprintf(pp, sizeof(pp), "%s.points[%zu]", path, i);
			if (!json_object_is_type(pt, json_type_array) ||
			    json_object_array_length(pt) != 2)
				r = fail(c, -EINVAL, "%s: expected [t, cpu]", pp);
			else if ((r = get_number(c, json_object_array_get_idx(pt, 0), pp, NUM_PLAIN,
						 false, &b.trace_t[i])) >= 0 &&
				 (r = get_number(c, json_object_array_get_idx(pt, 1), pp, NUM_CORES,
						 false, &b.trace_cpu[i])) >= 0 &&
				 i && b.trace_t[i] <= b.trace_t[i - 1])
				r = fail(c, -EINVAL, "%s: times must ascend", pp);
			b.n_trace = (uint32_t)(i + 1);
		}
		if (r < 0) {
			free(b.trace_t);
			free(b.trace_cpu);
			return r;
		}
	}
	*ret = b;
	return 0;
}

/* A copy for the next device of a counted entry (each device owns its trace). */
static int background_dup(const struct sim_background *b, struct sim_background *ret)
{
	*ret = *b;
	if (b->kind != SIM_BG_TRACE)
		return 0;
	ret->trace_t = malloc(b->n_trace * sizeof(double));
	ret->trace_cpu = malloc(b->n_trace * sizeof(double));
	if (!ret->trace_t || !ret->trace_cpu) {
		free(ret->trace_t);
		free(ret->trace_cpu);
		ret->trace_t = ret->trace_cpu = NULL;
		ret->kind = SIM_BG_NONE;
		return -ENOMEM;
	}
	memcpy(ret->trace_t, b->trace_t, b->n_trace * sizeof(double));
	memcpy(ret->trace_cpu, b->trace_cpu, b->n_trace * sizeof(double));
	return 0;
}

static int parse_devices(struct ctx *c, json_object *arr, struct sim_workload *w)
{
	static const char *const keys[] = {"name", "cpu", "mem", "count", "background", NULL};
	size_t n = json_object_array_length(arr);
	uint64_t total = 0;
	int r = 0;
	char path[64];

	if (n == 0)
		return fail(c, -EINVAL, "devices: expected at least one device");
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);
		uint32_t count = 1;
		snprintf(path, sizeof(path), "devices[%zu]", i);
		if (!json_object_is_type(d, json_type_object))
			return fail(c, -EINVAL, "%s: expected an object", path);
		if (!only_keys(c, d, path, keys, &r))
			return r;
		if ((r = get_count(c, d, "count", path, MAX_DEVICES, &count)) < 0)
			return r;
		if (count == 0)
			return fail(c, -EINVAL, "%s.count: expected a positive integer", path);
		total += count;
	}
	if (total > MAX_DEVICES)
		return fail(c, -EINVAL, "devices: more than %d devices", MAX_DEVICES);
	w->devices = calloc(total, sizeof(*w->devices));
	w->background = calloc(total, sizeof(*w->background));
	if (!w->devices || !w->background)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(arr, i);
		struct policy_res t;
		uint32_t count = 1;
		snprintf(path, sizeof(path), "devices[%zu]", i);
		if ((r = req_number(c, d, "cpu", path, NUM_CORES, true, &t.cpu)) < 0 ||
		    (r = req_number(c, d, "mem", path, NUM_BYTES, true, &t.mem)) < 0)
			return r;
		(void)get_count(c, d, "count", path, MAX_DEVICES, &count);
		json_object *bo = NULL;
		struct sim_background b = {0};
		if ((r = get_object(c, d, "background", path, false, &bo)) < 0 ||
		    (bo && (r = parse_background(c, bo, path, t, &b)) < 0))
			return r;
		for (uint32_t k = 0; k < count; k++) {
			uint32_t at = w->n_devices++;
			w->devices[at] = t;
			r = k == 0 ? (w->background[at] = b, 0)
				   : background_dup(&b, &w->background[at]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int parse_duration(struct ctx *c, json_object *o, const char *qpath, struct sim_duration *d)
{
	static const char *const keys[] = {"dist", "mean_s", "spread", NULL};
	static const char *const names[] = {"fixed", "uniform", "exponential", "normal"};
	char path[96];
	json_object *v;
	int r = 0;

	snprintf(path, sizeof(path), "%s.duration", qpath);
	if (!only_keys(c, o, path, keys, &r))
		return r;
	*d = (struct sim_duration){SIM_DIST_FIXED, 0, 0};
	if (json_object_object_get_ex(o, "dist", &v)) {
		const char *s =
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		bool found = false;
		for (unsigned k = 0; s && k < ELEMENTSOF(names); k++)
			if (!strcmp(s, names[k])) {
				d->kind = (enum sim_dist)k;
				found = true;
			}
		if (!found)
			return fail(c, -EINVAL,
				    "%s.dist: expected fixed, uniform, exponential or normal",
				    path);
	}
	if ((r = req_number(c, o, "mean_s", path, NUM_PLAIN, true, &d->mean_s)) < 0 ||
	    (r = opt_number(c, o, "spread", path, NUM_PLAIN, false, &d->spread)) < 0)
		return r;
	if (d->kind == SIM_DIST_UNIFORM && d->spread >= 1)
		return fail(c, -EINVAL, "%s.spread: expected a fraction below 1 for uniform", path);
	if (d->kind == SIM_DIST_NORMAL && d->spread > 10)
		return fail(c, -EINVAL, "%s.spread: expected at most 10", path);
	return 0;
}

static int parse_profile(struct ctx *c, json_object *o, const char *qpath, struct sim_profile *p)
{
	static const char *const keys[] = {
	    "cpu_lo", "cpu_hi", "cpu_period_s", "mem_start", "mem_peak", "mem_ramp", NULL};
	char path[96];
	int r = 0;

	snprintf(path, sizeof(path), "%s.profile", qpath);
	if (!o)
		return 0;
	if (!only_keys(c, o, path, keys, &r))
		return r;
	if ((r = opt_number(c, o, "cpu_lo", path, NUM_PLAIN, true, &p->cpu_lo)) < 0 ||
	    (r = opt_number(c, o, "cpu_hi", path, NUM_PLAIN, true, &p->cpu_hi)) < 0 ||
	    (r = opt_number(c, o, "cpu_period_s", path, NUM_PLAIN, true, &p->cpu_period_s)) < 0 ||
	    (r = opt_number(c, o, "mem_start", path, NUM_PLAIN, false, &p->mem_start)) < 0 ||
	    (r = opt_number(c, o, "mem_peak", path, NUM_PLAIN, false, &p->mem_peak)) < 0 ||
	    (r = opt_number(c, o, "mem_ramp", path, NUM_PLAIN, false, &p->mem_ramp)) < 0)
		return r;
	if (p->cpu_hi > 1)
		return fail(c, -EINVAL, "%s.cpu_hi: expected a fraction of the cap, at most 1",
			    path);
	if (p->cpu_lo > p->cpu_hi)
		return fail(c, -EINVAL, "%s.cpu_lo: expected at most cpu_hi", path);
	if (p->mem_peak > 1)
		return fail(c, -EINVAL, "%s.mem_peak: expected a fraction of the limit, at most 1",
			    path);
	if (p->mem_start > p->mem_peak)
		return fail(c, -EINVAL, "%s.mem_start: expected at most mem_peak", path);
	if (p->mem_ramp > 1e6)
		return fail(c, -EINVAL, "%s.mem_ramp: expected at most 1e6", path);
	return 0;
}

static int parse_arrivals(struct ctx *c, json_object *o, const char *qpath, struct sim_queue *q)
{
	static const char *const keys[] = {"kind", "count", "rate", "times", NULL};
	char path[96];
	json_object *v;
	int r = 0;

	snprintf(path, sizeof(path), "%s.arrivals", qpath);
	if (!only_keys(c, o, path, keys, &r))
		return r;
	if (!json_object_object_get_ex(o, "kind", &v))
		return fail(c, -EINVAL, "%s.kind: missing", path);
	const char *k = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (!strcmp(k, "all_at_zero"))
		q->arrival = SIM_ARRIVE_AT_ZERO;
	else if (!strcmp(k, "poisson"))
		q->arrival = SIM_ARRIVE_POISSON;
	else if (!strcmp(k, "list"))
		q->arrival = SIM_ARRIVE_LIST;
	else
		return fail(c, -EINVAL, "%s.kind: expected all_at_zero, poisson or list", path);

	if (q->arrival == SIM_ARRIVE_LIST) {
		if (!json_object_object_get_ex(o, "times", &v) ||
		    !json_object_is_type(v, json_type_array))
			return fail(c, -EINVAL, "%s.times: expected an array of seconds", path);
		if (json_object_object_get_ex(o, "count", NULL) ||
		    json_object_object_get_ex(o, "rate", NULL))
			return fail(c, -EINVAL, "%s: list takes only times", path);
		size_t n = json_object_array_length(v);
		if (n > MAX_INSTANCES)
			return fail(c, -EINVAL, "%s.times: more than %u arrivals", path,
				    MAX_INSTANCES);
		q->times = calloc(n ? n : 1, sizeof(double));
		if (!q->times)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			char tp[128];
			snprintf(tp, sizeof(tp), "%s.times[%zu]", path, i);
			if ((r = get_number(c, json_object_array_get_idx(v, i), tp, NUM_PLAIN,
					    false, &q->times[i])) < 0)
				return r;
		}
		q->n_times = q->count = (uint32_t)n;
		return 0;
	}
	if (json_object_object_get_ex(o, "times", NULL))
		return fail(c, -EINVAL, "%s.times: only for kind list", path);
	if (!json_object_object_get_ex(o, "count", NULL))
		return fail(c, -EINVAL, "%s.count: missing", path);
	if ((r = get_count(c, o, "count", path, MAX_INSTANCES, &q->count)) < 0)
		return r;
	if (q->arrival == SIM_ARRIVE_POISSON) {
		if ((r = req_number(c, o, "rate", path, NUM_PLAIN, true, &q->rate)) < 0)
			return r;
	} else if (json_object_object_get_ex(o, "rate", NULL)) {
		return fail(c, -EINVAL, "%s.rate: only for kind poisson", path);
	}
	return 0;
}

static int parse_queues(struct ctx *c, json_object *arr, struct sim_workload *w)
{
	static const char *const keys[] = {"name",    "demand",	  "weight", "duration",
					   "profile", "arrivals", NULL};
	static const char *const dkeys[] = {"cpu", "mem", NULL};
	size_t n = json_object_array_length(arr);
	uint64_t total = 0;
	int r = 0;
	char path[64], dpath[80];

	if (n == 0)
		return fail(c, -EINVAL, "queues: expected at least one queue");
	if (n > MAX_QUEUES)
		return fail(c, -EINVAL, "queues: more than %d queues", MAX_QUEUES);
	w->queues = calloc(n, sizeof(*w->queues));
	if (!w->queues)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(arr, i), *v, *sub;
		struct sim_queue *q = &w->queues[w->n_queues];
		snprintf(path, sizeof(path), "queues[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return fail(c, -EINVAL, "%s: expected an object", path);
		if (!only_keys(c, o, path, keys, &r))
			return r;
		if (!json_object_object_get_ex(o, "name", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) == 0 || json_object_get_string_len(v) > 128)
			return fail(c, -EINVAL,
				    "%s.name: expected a non-empty string (at most 128 bytes)",
				    path);
		for (size_t k = 0; k < w->n_queues; k++)
			if (!strcmp(w->queues[k].name, json_object_get_string(v))) {
				char nb[64];
				return fail(c, -EINVAL, "%s.name: duplicate \"%s\"", path,
					    printable(w->queues[k].name, nb, sizeof(nb)));
			}
		q->name = strdup(json_object_get_string(v));
		if (!q->name)
			return -ENOMEM;
		w->n_queues++;
		q->weight = 1;
		q->profile = (struct sim_profile){.cpu_lo = 1,
						  .cpu_hi = 1,
						  .cpu_period_s = 1,
						  .mem_start = 1,
						  .mem_peak = 1,
						  .mem_ramp = 0};
		if ((r = get_object(c, o, "demand", path, true, &sub)) < 0)
			return r;
		snprintf(dpath, sizeof(dpath), "%s.demand", path);
		if (!only_keys(c, sub, dpath, dkeys, &r))
			return r;
		q->demand.cpu = q->demand.mem = 0;
		if ((r = opt_number(c, sub, "cpu", dpath, NUM_CORES, true, &q->demand.cpu)) < 0 ||
		    (r = opt_number(c, sub, "mem", dpath, NUM_BYTES, true, &q->demand.mem)) < 0)
			return r;
		if (q->demand.cpu == 0 && q->demand.mem == 0)
			return fail(c, -EINVAL, "%s: expected cpu and/or mem", dpath);
		if ((r = opt_number(c, o, "weight", path, NUM_PLAIN, true, &q->weight)) < 0)
			return r;
		if ((r = get_object(c, o, "duration", path, true, &sub)) < 0 ||
		    (r = parse_duration(c, sub, path, &q->duration)) < 0)
			return r;
		if ((r = get_object(c, o, "profile", path, false, &sub)) < 0 ||
		    (r = parse_profile(c, sub, path, &q->profile)) < 0)
			return r;
		if ((r = get_object(c, o, "arrivals", path, true, &sub)) < 0 ||
		    (r = parse_arrivals(c, sub, path, q)) < 0)
			return r;
		total += q->count;
		if (total > MAX_INSTANCES)
			return fail(c, -EINVAL, "%s.arrivals: more than %u instances in total",
				    path, MAX_INSTANCES);
	}
	return 0;
}

int workload_parse(const char *json, size_t len, struct sim_workload **ret, char *err,
		   size_t errlen)
{
	static const char *const keys[] = {"name", "devices", "queues", "sim", NULL};
	static const char *const skeys[] = {"dt_s", "tick_s", "horizon_s", NULL};
	struct ctx c = {err, errlen};
	size_t end;
	json_object *root, *v, *sim;
	struct sim_workload *w;
	enum json_tokener_error jerr;
	int r = 0;

	if (errlen)
		err[0] = 0;
	if (!json || !ret)
		return -EINVAL;
	if (len > INT32_MAX)
		return fail(&c, -E2BIG, "workload: too large");
	/* trailing bytes after the document: only whitespace is allowed */
	r = json_parse_strict(json, len, 64, 0, " \t\r\n", &root, &jerr, &end);
	if (r == -ENOMEM)
		return r;
	if (r == -EBADMSG)
		jerr = json_tokener_error_parse_unexpected;
	if (r < 0) {
		if (jerr == json_tokener_continue)
			return fail(&c, -EINVAL, "workload: truncated JSON");
		return fail(&c, -EINVAL, "workload: invalid JSON at byte %zu: %s", end,
			    json_tokener_error_desc(jerr));
	}

	w = calloc(1, sizeof(*w));
	if (!w) {
		json_object_put(root);
		return -ENOMEM;
	}
	w->dt_s = 0.002;
	w->tick_s = 0.1;
	w->horizon_s = 1e5;
	if (!json_object_is_type(root, json_type_object)) {
		r = fail(&c, -EINVAL, "workload: expected a JSON object");
		goto out;
	}
	if (!only_keys(&c, root, "", keys, &r))
		goto out;
	if (json_object_object_get_ex(root, "name", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    json_object_get_string_len(v) > 128) {
			r = fail(&c, -EINVAL, "name: expected a string (at most 128 bytes)");
			goto out;
		}
		w->name = strdup(json_object_get_string(v));
	} else {
		w->name = strdup("file");
	}
	if (!w->name) {
		r = -ENOMEM;
		goto out;
	}
	if (!json_object_object_get_ex(root, "devices", &v) ||
	    !json_object_is_type(v, json_type_array)) {
		r = fail(&c, -EINVAL, "devices: expected an array");
		goto out;
	}
	if ((r = parse_devices(&c, v, w)) < 0)
		goto out;
	if (!json_object_object_get_ex(root, "queues", &v) ||
	    !json_object_is_type(v, json_type_array)) {
		r = fail(&c, -EINVAL, "queues: expected an array");
		goto out;
	}
	if ((r = parse_queues(&c, v, w)) < 0)
		goto out;
	if ((r = get_object(&c, root, "sim", "", false, &sim)) < 0)
		goto out;
	if (sim) {
		if (!only_keys(&c, sim, "sim", skeys, &r))
			goto out;
		if ((r = opt_number(&c, sim, "dt_s", "sim", NUM_PLAIN, true, &w->dt_s)) < 0 ||
		    (r = opt_number(&c, sim, "tick_s", "sim", NUM_PLAIN, true, &w->tick_s)) < 0 ||
		    (r = opt_number(&c, sim, "horizon_s", "sim", NUM_PLAIN, true, &w->horizon_s)) <
			0)
			goto out;
		if (w->tick_s < w->dt_s) {
			r = fail(&c, -EINVAL, "sim.tick_s: expected at least dt_s");
			goto out;
		}
		if (w->horizon_s / w->dt_s > 5e7) {
			r = fail(&c, -EINVAL,
				 "sim.dt_s: horizon_s / dt_s must stay below 5e7 steps");
			goto out;
		}
	}
	/* Every device must be able to hold something: a queue too big for every device is
	 * still accepted here, the policy rejects its instances at submit like the daemon. */
	const char *field = NULL;
	if (sim_workload_check(w, &field) < 0) {
		r = fail(&c, -EINVAL, "%s: invalid", field ? field : "workload");
		goto out;
	}
	*ret = TAKE_PTR(w);
	r = 0;
out:
	sim_workload_free(w);
	json_object_put(root);
	return r;
}

int workload_load(const char *name_or_path, struct sim_workload **ret, char *err, size_t errlen)
{
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r;

	if (errlen)
		err[0] = 0;
	if (!name_or_path || !ret)
		return -EINVAL;
	if (!strcmp(name_or_path, "paper"))
		return sim_workload_paper(ret);
	if (!strncmp(name_or_path, "random:", 7)) {
		uint64_t seed;
		if (parse_u64(name_or_path + 7, &seed) < 0) {
			if (errlen)
				snprintf(err, errlen, "%s: random:SEED needs a number",
					 name_or_path);
			return -EINVAL;
		}
		return sim_workload_random(seed, NULL, ret);
	}
	r = read_file_at(AT_FDCWD, name_or_path, &data, &len);
	if (r < 0) {
		if (errlen)
			snprintf(err, errlen, "%s: %s", name_or_path, strerror(-r));
		return r;
	}
	return workload_parse(data, len, ret, err, errlen);
}
