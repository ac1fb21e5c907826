/* dagsim.c — DAG workload files for `edgeslice sim --dag`: parsed with json-c, arrivals read
 * from a csv or generated; the command itself is controller/cli/cmd_sim_dag.c. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dagsim.h"
#include "jsonget.h"
#include "util.h"

/* Field paths in messages are bounded; a truncated path in an error message is acceptable. */
#pragma GCC diagnostic ignored "-Wformat-truncation"

static int fail(char *err, size_t len, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t len, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, len, "%s: ", path);
	if (n >= 0 && (size_t)n < len) {
		va_start(ap, fmt);
		(void)verrf(err + n, len - (size_t)n, 0, fmt, ap);
		va_end(ap);
	}
	/* values from the file are quoted back: keep the message on one line */
	str_one_line(err);
	return -EINVAL;
}

struct ctx {
	char *err;
	size_t len;
};

/* A number, or for rates/sizes a string with units. kind: 0 plain, 1 rate, 2 bytes. */
static int get_num(struct ctx *c, json_object *o, const char *key, const char *path, bool required,
		   double def, double min, double max, int kind, double *ret)
{
	json_object *v;
	char p[256];
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return fail(c->err, c->len, p, "missing");
		*ret = def;
		return 0;
	}
	double d;
	if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) {
		d = json_object_get_double(v);
	} else if (json_object_is_type(v, json_type_string) && kind) {
		uint64_t u;
		int r = kind == 1 ? parse_rate(json_object_get_string(v), &u)
				  : parse_bytes(json_object_get_string(v), &u);
		if (r < 0)
			return fail(c->err, c->len, p, "not a valid %s \"%s\"",
				    kind == 1 ? "rate" : "size", json_object_get_string(v));
		d = (double)u;
	} else {
		return fail(c->err, c->len, p, "must be a number");
	}
	if (!isfinite(d) || d < min || d > max)
		return fail(c->err, c->len, p, "must be between %g and %g", min, max);
	*ret = d;
	return 0;
}

static int get_name(struct ctx *c, json_object *o, const char *path, char out[MRS_NAME_MAX])
{
	json_object *v;
	char p[256];
	const char *s;
	snprintf(p, sizeof(p), "%s.name", path);
	if (!json_object_object_get_ex(o, "name", &v) || !json_object_is_type(v, json_type_string))
		return fail(c->err, c->len, p, "missing or not a string");
	s = json_object_get_string(v);
	if (!*s || strlen(s) >= MRS_NAME_MAX)
		return fail(c->err, c->len, p, "must be 1-%d characters", MRS_NAME_MAX - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int get_array(struct ctx *c, json_object *o, const char *key, const char *path,
		     bool required, size_t max, json_object **ret, size_t *ret_n)
{
	json_object *v;
	char p[256];
	snprintf(p, sizeof(p), "%s%s%s", path, *path ? "." : "", key);
	if (!json_object_object_get_ex(o, key, &v)) {
		if (required)
			return fail(c->err, c->len, p, "missing");
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return fail(c->err, c->len, p, "must be an array");
	if (json_object_array_length(v) > max)
		return fail(c->err, c->len, p, "at most %zu entries", max);
	if (required && json_object_array_length(v) == 0)
		return fail(c->err, c->len, p, "must not be empty");
	*ret = v;
	*ret_n = json_object_array_length(v);
	return 0;
}

static int server_index(const struct mrs_cluster *cl, const char *name)
{
	for (size_t j = 0; j < cl->n; j++)
		if (strcmp(cl->s[j].name, name) == 0)
			return (int)j;
	return -1;
}

/* Piecewise-linear accuracy curve over retraining samples, clamped at both ends. */
static double curve_at(const double (*pt)[2], size_t n, double x)
{
	if (x <= pt[0][0])
		return pt[0][1];
	for (size_t k = 1; k < n; k++)
		if (x <= pt[k][0])
			return pt[k - 1][1] + (pt[k][1] - pt[k - 1][1]) * (x - pt[k - 1][0]) /
						  (pt[k][0] - pt[k - 1][0]);
	return pt[n - 1][1];
}

static int parse_task(struct ctx *c, json_object *o, const char *path, struct mrs_task *t)
{
	json_object *arr;
	size_t n;
	double curve[16][2];
	size_t n_curve = 0;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(c->err, c->len, path, "must be an object");
	if ((r = get_name(c, o, path, t->name)) < 0 ||
	    (r = get_num(c, o, "work", path, true, 0, 0, 1e12, 0, &t->work)) < 0 ||
	    (r = get_num(c, o, "demand", path, true, 0, 1e-6, 1e6, 0, &t->demand)) < 0 ||
	    (r = get_num(c, o, "data_out", path, false, 0, 0, 1e15, 2, &t->data_out)) < 0 ||
	    (r = get_num(c, o, "accuracy", path, false, 1, 0, 1, 0, &t->acc0)) < 0 ||
	    (r = get_num(c, o, "drift", path, false, 0, 0, 1, 0, &t->drift)) < 0 ||
	    (r = get_num(c, o, "accuracy_floor", path, false, 0, 0, 1, 0, &t->acc_floor)) < 0 ||
	    (r = get_num(c, o, "model_size", path, false, 0, 0, 1e15, 2, &t->model_size)) < 0)
		return r;
	r = get_array(c, o, "accuracy_curve", path, false, 16, &arr, &n);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n; k++) {
		json_object *pt = json_object_array_get_idx(arr, k);
		char p[256];
		snprintf(p, sizeof(p), "%s.accuracy_curve[%zu]", path, k);
		if (!json_object_is_type(pt, json_type_array) || json_object_array_length(pt) != 2)
			return fail(c->err, c->len, p, "must be [samples, accuracy]");
		for (int m = 0; m < 2; m++) {
			json_object *x = json_object_array_get_idx(pt, (size_t)m);
			if (!json_object_is_type(x, json_type_double) &&
			    !json_object_is_type(x, json_type_int))
				return fail(c->err, c->len, p, "must be [samples, accuracy]");
			curve[k][m] = json_object_get_double(x);
		}
		if (!isfinite(curve[k][0]) || curve[k][0] < 0 ||
		    !(curve[k][1] >= 0 && curve[k][1] <= 1) ||
		    (k && curve[k][0] <= curve[k - 1][0]))
			return fail(c->err, c->len, p, "samples must increase, accuracy in [0,1]");
	}
	n_curve = n;
	r = get_array(c, o, "retraining", path, false, MRS_MAX_CONFIGS, &arr, &n);
	if (r < 0)
		return r;
	t->n_cfg = n;
	for (size_t h = 0; h < n; h++) {
		json_object *u = json_object_array_get_idx(arr, h);
		struct mrs_retrain_cfg *cfg = &t->cfg[h];
		char p[256];
		snprintf(p, sizeof(p), "%s.retraining[%zu]", path, h);
		if (!json_object_is_type(u, json_type_object))
			return fail(c->err, c->len, p, "must be an object");
		if ((r = get_num(c, u, "samples", p, true, 0, 0, 1e15, 2, &cfg->samples)) < 0 ||
		    (r = get_num(c, u, "work", p, true, 0, 0, 1e12, 0, &cfg->work)) < 0 ||
		    (r = get_num(c, u, "resources", p, true, 0, 1e-6, 1e6, 0, &cfg->resources)) <
			0 ||
		    (r = get_num(c, u, "accuracy", p, n_curve == 0, -1, 0, 1, 0, &cfg->accuracy)) <
			0)
			return r;
		if (cfg->accuracy < 0)
			cfg->accuracy = curve_at((const double(*)[2])curve, n_curve, cfg->samples);
	}
	return 0;
}

static int parse_app(struct ctx *c, json_object *o, const char *path, struct mrs_app *a,
		     const struct mrs_cluster *cl)
{
	json_object *arr;
	size_t n;
	const char *bad = NULL;
	char p[256];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return fail(c->err, c->len, path, "must be an object");
	if ((r = get_name(c, o, path, a->name)) < 0)
		return r;
	if ((r = get_array(c, o, "tasks", path, true, MRS_MAX_TASKS, &arr, &n)) < 0)
		return r;
	a->n_tasks = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "%s.tasks[%zu]", path, i);
		if ((r = parse_task(c, json_object_array_get_idx(arr, i), p, &a->task[i])) < 0)
			return r;
		for (size_t k = 0; k < i; k++)
			if (strcmp(a->task[k].name, a->task[i].name) == 0)
				return fail(c->err, c->len, p, "duplicate task name \"%s\"",
					    a->task[i].name);
	}
	if ((r = get_array(c, o, "edges", path, false, MRS_MAX_EDGES, &arr, &n)) < 0)
		return r;
	a->n_edges = n;
	for (size_t e = 0; e < n; e++) {
		json_object *ed = json_object_array_get_idx(arr, e), *x, *y;
		snprintf(p, sizeof(p), "%s.edges[%zu]", path, e);
		if (!json_object_is_type(ed, json_type_array) ||
		    json_object_array_length(ed) != 2 ||
		    !json_object_is_type((x = json_object_array_get_idx(ed, 0)),
					 json_type_string) ||
		    !json_object_is_type((y = json_object_array_get_idx(ed, 1)),
					 json_type_string) ||
		    strlen(json_object_get_string(x)) >= MRS_NAME_MAX ||
		    strlen(json_object_get_string(y)) >= MRS_NAME_MAX)
			return fail(c->err, c->len, p, "must be [\"from\", \"to\"] task names");
		memcpy(a->edge[e].from, json_object_get_string(x),
		       strlen(json_object_get_string(x)) + 1);
		memcpy(a->edge[e].to, json_object_get_string(y),
		       strlen(json_object_get_string(y)) + 1);
	}
	struct mrs_dag d;
	r = mrs_dag_build(a, cl, &d, &bad);
	snprintf(p, sizeof(p), "%s.edges", path);
	switch (r) {
	case 0:
		return 0;
	case -ENOENT:
		return fail(c->err, c->len, p, "edge names unknown task \"%s\"", bad ? bad : "?");
	case -ELOOP:
		return fail(c->err, c->len, p, "cycle through task \"%s\"", bad ? bad : "?");
	case -E2BIG:
		snprintf(p, sizeof(p), "%s.tasks", path);
		return fail(c->err, c->len, p,
			    "task \"%s\" demands more than any server's capacity", bad ? bad : "?");
	default:
		snprintf(p, sizeof(p), "%s.tasks", path);
		return fail(c->err, c->len, p, "task \"%s\" has invalid values", bad ? bad : "?");
	}
}

static int parse_root(struct ctx *c, json_object *root, struct dagsim_workload *w)
{
	struct mrs_workload *wl = &w->wl;
	struct mrs_cluster *cl = &wl->cluster;
	json_object *arr, *v;
	size_t n;
	double def_rate, x;
	char p[256];
	int r;

	if (!json_object_is_type(root, json_type_object))
		return fail(c->err, c->len, "workload", "must be a JSON object");
	if ((r = get_num(c, root, "theta", "", false, 3, 0, 1e6, 0, &wl->theta)) < 0 ||
	    (r = get_num(c, root, "a_min", "", false, 0, 0, 1, 0, &wl->a_min)) < 0 ||
	    (r = get_num(c, root, "pass_period", "", false, 60, 1e-3, 1e9, 0, &wl->pass_period)) <
		0 ||
	    (r = get_num(c, root, "default_link_rate", "", false, 12.5e6, 1, 1e13, 1, &def_rate)) <
		0 ||
	    (r = get_num(c, root, "source_rate", "", false, 12.5e6, 1, 1e13, 1, &cl->source_rate)) <
		0)
		return r;
	if ((r = get_array(c, root, "servers", "", true, MRS_MAX_SERVERS, &arr, &n)) < 0)
		return r;
	cl->n = n;
	for (size_t j = 0; j < n; j++) {
		json_object *s = json_object_array_get_idx(arr, j);
		snprintf(p, sizeof(p), "servers[%zu]", j);
		if (!json_object_is_type(s, json_type_object))
			return fail(c->err, c->len, p, "must be an object");
		if ((r = get_name(c, s, p, cl->s[j].name)) < 0 ||
		    (r = get_num(c, s, "capacity", p, true, 0, 1e-6, 1e6, 0, &cl->s[j].capacity)) <
			0 ||
		    (r = get_num(c, s, "speed", p, false, 1, 1e-9, 1e9, 0, &cl->s[j].speed)) < 0)
			return r;
		for (size_t k = 0; k < j; k++)
			if (!strcmp(cl->s[k].name, cl->s[j].name))
				return fail(c->err, c->len, p, "duplicate server name \"%s\"",
					    cl->s[j].name);
		for (size_t k = 0; k < n; k++)
			cl->link[j][k] = cl->link[k][j] = def_rate;
	}
	if ((r = get_array(c, root, "links", "", false, MRS_MAX_SERVERS * MRS_MAX_SERVERS, &arr,
			   &n)) < 0)
		return r;
	for (size_t e = 0; e < n; e++) {
		json_object *l = json_object_array_get_idx(arr, e), *f, *t;
		int a, b;
		snprintf(p, sizeof(p), "links[%zu]", e);
		if (!json_object_is_type(l, json_type_object) ||
		    !json_object_object_get_ex(l, "from", &f) ||
		    !json_object_object_get_ex(l, "to", &t) ||
		    !json_object_is_type(f, json_type_string) ||
		    !json_object_is_type(t, json_type_string))
			return fail(c->err, c->len, p, "must be {\"from\", \"to\", \"rate\"}");
		a = server_index(cl, json_object_get_string(f));
		b = server_index(cl, json_object_get_string(t));
		if (a < 0 || b < 0)
			return fail(c->err, c->len, p, "unknown server \"%s\"",
				    json_object_get_string(a < 0 ? f : t));
		if ((r = get_num(c, l, "rate", p, true, 0, 1, 1e13, 1, &x)) < 0)
			return r;
		cl->link[a][b] = cl->link[b][a] = x;
	}
	if ((r = get_array(c, root, "applications", "", true, MRS_MAX_APPS, &arr, &n)) < 0)
		return r;
	wl->n_apps = n;
	for (size_t a = 0; a < n; a++) {
		snprintf(p, sizeof(p), "applications[%zu]", a);
		if ((r = parse_app(c, json_object_array_get_idx(arr, a), p, &wl->app[a], cl)) < 0)
			return r;
	}
	if (!json_object_object_get_ex(root, "arrivals", &v) ||
	    !json_object_is_type(v, json_type_object))
		return fail(c->err, c->len, "arrivals", "missing or not an object");
	if ((r = get_num(c, v, "rate", "arrivals", false, 0, 0, 1e6, 0, &w->arrivals.rate)) < 0 ||
	    (r = get_num(c, v, "count", "arrivals", false, 200, 1, 1e6, 0, &x)) < 0)
		return r;
	w->arrivals.count = (size_t)x;
	if ((r = get_num(c, v, "seed", "arrivals", false, 1, 0, 4294967295.0, 0, &x)) < 0)
		return r;
	w->arrivals.seed = (uint64_t)x;
	json_object *csv;
	if (json_object_object_get_ex(v, "csv", &csv)) {
		const char *s = json_object_get_string(csv);
		if (!json_object_is_type(csv, json_type_string) || !*s ||
		    strlen(s) >= sizeof(w->arrivals.csv))
			return fail(c->err, c->len, "arrivals.csv", "must be a file name");
		memcpy(w->arrivals.csv, s, strlen(s) + 1);
	} else if (w->arrivals.rate <= 0) {
		return fail(c->err, c->len, "arrivals", "needs \"rate\" > 0 or \"csv\"");
	}
	return 0;
}

int dagsim_parse(const char *json, size_t len, struct dagsim_workload *ret, char *err,
		 size_t err_len)
{
	enum json_tokener_error je;
	json_object *root;
	struct dagsim_workload *w;
	struct ctx c = {err, err_len};
	int r;

	if (len > INT32_MAX)
		return fail(err, err_len, "workload", "too large");
	r = json_parse_strict(json, len, JSON_TOKENER_DEFAULT_DEPTH, 0, NULL, &root, &je, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return fail(err, err_len, "workload", "invalid JSON: %s",
			    json_tokener_error_desc(je));
	w = calloc(1, sizeof(*w));
	if (!w) {
		json_object_put(root);
		return -ENOMEM;
	}
	r = parse_root(&c, root, w);
	json_object_put(root);
	if (r == 0)
		*ret = *w;
	free(w);
	return r;
}

int dagsim_parse_csv(const char *text, double **ret, size_t *ret_n, char *err, size_t err_len)
{
	_cleanup_free_ double *v = NULL;
	size_t n = 0, cap = 0, line = 0;
	const char *s = text;

	while (*s) {
		const char *e = strchr(s, '\n');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		char buf[64], *cut;
		double d;
		line++;
		if (l >= sizeof(buf))
			return fail(err, err_len, "arrivals.csv", "line %zu: too long", line);
		memcpy(buf, s, l);
		buf[l] = '\0';
		s += l + (e ? 1 : 0);
		cut = strpbrk(buf, ",\r#");
		if (cut)
			*cut = '\0';
		if (!buf[0])
			continue;
		if (parse_double(buf, &d) < 0 || d < 0) {
			if (line == 1 && n == 0)
				continue; /* header */
			return fail(err, err_len, "arrivals.csv", "line %zu: not a timestamp",
				    line);
		}
		if (n && d < v[n - 1])
			return fail(err, err_len, "arrivals.csv",
				    "line %zu: timestamps must not decrease", line);
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			double *nv = realloc(v, nc * sizeof(double));
			if (!nv)
				return -ENOMEM;
			v = nv;
			cap = nc;
		}
		v[n++] = d;
	}
	if (n == 0)
		return fail(err, err_len, "arrivals.csv", "no timestamps");
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

int dagsim_poisson(double rate, size_t count, uint64_t seed, double **ret)
{
	double *v, t = 0;
	if (!(rate > 0) || count == 0)
		return -EINVAL;
	v = malloc(count * sizeof(double));
	if (!v)
		return -ENOMEM;
	for (size_t k = 0; k < count; k++) {
		double u =
		    ((double)(splitmix64(&seed) >> 11) + 1.0) / 9007199254740993.0; /* (0,1] */
		t += -log(u) / rate;
		v[k] = t;
	}
	*ret = v;
	return 0;
}
