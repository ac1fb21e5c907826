/* distill_fixsynth.c — synthetic logs grown from real auto-scheduler records: each task of a real
 * log (e.g. tests/fixtures/tvm/resnet-50-NHWC-B1-llvm.json) is a template whose split lengths
 * and unroll pragma are redrawn, costed by a model family's cloud and edge (tvmsynth.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "distill.h"
#include "tvmlog.h"
#include "tvmsynth.h"
#include "util.h"

struct variant {
	char *line; /* without "r" yet: the "i" part serialised */
	double cloud, edge;
};

static void variants_free(struct variant *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		free(v[k].line);
}

/* A uniformly chosen divisor of n. */
static int64_t divisor(struct distill_rng *g, int64_t n)
{
	int64_t d[64];
	size_t k = 0;
	for (int64_t i = 1; i <= n && k < ELEMENTSOF(d); i++)
		if (n % i == 0)
			d[k++] = i;
	return d[distill_rng_below(g, k)];
}

/* Redraws the template's SP lengths (each a divisor of what the earlier ones leave of the
 * extent) and its unroll pragma; returns the "i" value serialised. */
static char *mutate(struct json_object *inp, struct distill_rng *g)
{
	struct json_object *i = NULL;
	if (json_object_deep_copy(inp, &i, NULL) < 0)
		return NULL;
	struct json_object *state = json_object_array_get_idx(i, 1);
	struct json_object *steps = state ? json_object_array_get_idx(state, 1) : NULL;
	size_t n = steps ? json_object_array_length(steps) : 0;
	static const int unrolls[] = {0, 16, 64, 512};
	for (size_t k = 0; k < n; k++) {
		struct json_object *st = json_object_array_get_idx(steps, k);
		const char *kind = json_object_get_string(json_object_array_get_idx(st, 0));
		if (kind && !strcmp(kind, "SP")) {
			int64_t rem = json_object_get_int64(json_object_array_get_idx(st, 3));
			struct json_object *lens = json_object_array_get_idx(st, 4);
			if (rem <= 0 || !json_object_is_type(lens, json_type_array))
				continue;
			for (size_t j = json_object_array_length(lens); j-- > 0;) {
				int64_t d = divisor(g, rem);
				rem /= d;
				json_object_array_put_idx(lens, j, json_object_new_int64(d));
			}
		} else if (kind && !strcmp(kind, "PR")) {
			char buf[48];
			snprintf(buf, sizeof(buf), "auto_unroll_max_step$%d",
				 unrolls[distill_rng_below(g, 4)]);
			json_object_array_put_idx(st, 3, json_object_new_string(buf));
		}
	}
	char *s = strdup(json_object_to_json_string_ext(i, JSON_C_TO_STRING_SPACED));
	json_object_put(i);
	return s;
}

/* Costs a serialised "i" value on both devices: 0, -ENOENT when the model cannot cost it. */
static int cost(const char *ival, const struct distill_family *f, double *ret_cloud,
		double *ret_edge)
{
	_cleanup_free_ char *line = NULL;
	if (asprintf(&line, "{\"i\": %s, \"r\": [[1.0], 0, 1.0, 1], \"v\": \"v0.5\"}", ival) < 0)
		return -ENOMEM;
	struct tvmlog_record rec;
	if (tvmlog_parse_line(line, strlen(line), &rec, NULL, 0) < 0)
		return -ENOENT;
	int r = distill_model_cost(&f->cloud, rec.steps, rec.n_steps, rec.shape, rec.n_shape,
				   ret_cloud);
	if (r >= 0)
		r = distill_model_cost(&f->edge, rec.steps, rec.n_steps, rec.shape, rec.n_shape,
				       ret_edge);
	tvmlog_record_done(&rec);
	return r < 0 ? -ENOENT : 0;
}

static int cmp_cloud(const void *a, const void *b)
{
	const struct variant *x = a, *y = b;
	return x->cloud < y->cloud ? -1 : x->cloud > y->cloud;
}

/* One task: a pool of 3x records variants, the best half by cloud cost plus a random half,
 * shuffled, written with their cloud costs; its truth entry. */
static int task_lines(FILE *lf, FILE *tf, struct json_object *tmpl, const char *wkey, size_t t,
		      const struct tvmsynth_opts *o, const struct distill_family *f,
		      struct distill_rng *g, uint64_t *line)
{
	size_t pool_n = o->records * 3, got = 0;
	struct variant *pool = calloc(pool_n, sizeof(*pool));
	if (!pool)
		return -ENOMEM;
	int r = 0;
	for (size_t tries = 0; got < pool_n && tries < pool_n * 4; tries++) {
		char *s = mutate(tmpl, g);
		if (!s) {
			r = -ENOMEM;
			break;
		}
		if (cost(s, f, &pool[got].cloud, &pool[got].edge) < 0) {
			free(s);
			continue;
		}
		pool[got++].line = s;
	}
	if (r == 0 && got < o->records)
		r = -ENOENT;
	if (r < 0) {
		variants_free(pool, got);
		free(pool);
		return r;
	}
	qsort(pool, got, sizeof(*pool), cmp_cloud);
	for (size_t k = o->records / 2; k < o->records; k++) {
		size_t j = k + (size_t)distill_rng_below(g, got - k);
		struct variant tmp = pool[k];
		pool[k] = pool[j];
		pool[j] = tmp;
	}
	for (size_t k = o->records; k > 1; k--) {
		size_t j = (size_t)distill_rng_below(g, k);
		struct variant tmp = pool[k - 1];
		pool[k - 1] = pool[j];
		pool[j] = tmp;
	}
	double true_best = INFINITY, cloud_best = INFINITY, cloud_best_edge = INFINITY;
	uint64_t true_line = 0;
	for (size_t k = 0; k < o->records; k++) {
		struct variant *v = &pool[k];
		bool failed = distill_rng_unit(g) < o->failed_fraction;
		++*line;
		if (failed)
			fprintf(lf,
				"{\"i\": %s, \"r\": [[10000000000.0], 4, %.3f, %llu], \"v\": "
				"\"v0.5\"}\n",
				v->line, 0.5 + distill_rng_unit(g),
				(unsigned long long)(1700000000 + *line));
		else
			fprintf(lf,
				"{\"i\": %s, \"r\": [[%.9g, %.9g, %.9g], 0, %.3f, %llu], \"v\": "
				"\"v0.5\"}\n",
				v->line, v->cloud, v->cloud, v->cloud, 0.5 + distill_rng_unit(g),
				(unsigned long long)(1700000000 + *line));
		if (failed)
			continue;
		if (v->edge < true_best) {
			true_best = v->edge;
			true_line = *line;
		}
		if (v->cloud < cloud_best) {
			cloud_best = v->cloud;
			cloud_best_edge = v->edge;
		}
	}
	_cleanup_free_ char *esc = NULL;
	struct json_object *js = json_object_new_string(wkey);
	esc = strdup(json_object_to_json_string_ext(js, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(js);
	fprintf(tf,
		"%s\n  {\"task\": %zu, \"workload_key\": %s, \"true_best\": %.9g, "
		"\"true_best_line\": %llu, \"cloud_best\": %.9g, \"cloud_best_edge\": %.9g}",
		t ? "," : "", t, esc ? esc : "\"\"", true_best, (unsigned long long)true_line,
		cloud_best, cloud_best_edge);
	variants_free(pool, got);
	free(pool);
	return 0;
}

int tvmsynth_write_from(const char *template_log, const char *log_path, const char *truth_path,
			const struct tvmsynth_opts *o, size_t *ret_tasks)
{
	struct distill_family fam;
	if (!o || o->records == 0 || distill_family(o->family, &fam) < 0 ||
	    !(o->failed_fraction >= 0 && o->failed_fraction < 1))
		return -EINVAL;
	struct tvmlog_reader *rd;
	int r = tvmlog_reader_open(template_log, &rd);
	if (r < 0)
		return r;
	_cleanup_free_ char *log = NULL, *truth = NULL;
	size_t log_len = 0, truth_len = 0, nt = 0;
	FILE *lf = open_memstream(&log, &log_len), *tf = open_memstream(&truth, &truth_len);
	if (!lf || !tf) {
		if (lf)
			fclose(lf);
		if (tf)
			fclose(tf);
		tvmlog_reader_free(rd);
		return -ENOMEM;
	}
	fprintf(lf, "# edgeslice distill --synthesize --from %s: seed %llu\n", template_log,
		(unsigned long long)o->seed);
	struct json_object *from = json_object_new_string(template_log);
	fprintf(tf,
		"{\"model\": \"edgeslice-synthetic-%s\", \"family\": %u, \"from\": %s, "
		"\"tasks\": [",
		fam.name, o->family,
		from ? json_object_to_json_string_ext(from, JSON_C_TO_STRING_PLAIN) : "null");
	json_object_put(from);
	struct distill_rng g = {.s = o->seed};
	uint64_t line = 1, no, off;
	const char *text;
	size_t len;
	char **seen = NULL;
	while (r >= 0 && nt < o->tasks &&
	       (r = tvmlog_reader_next(rd, &text, &len, &no, &off)) > 0) {
		struct tvmlog_record rec;
		if (tvmlog_parse_line(text, len, &rec, NULL, 0) < 0)
			continue;
		/* One template per task (workload key + target), the first costable record. */
		_cleanup_free_ char *key = NULL;
		double c, e;
		bool dup = false;
		if (asprintf(&key, "%s\n%s", rec.workload_key, rec.target) < 0)
			r = -ENOMEM;
		for (size_t k = 0; r >= 0 && k < nt; k++)
			dup |= !strcmp(seen[k], key);
		struct json_object *j = NULL;
		if (r >= 0 && !dup && (j = json_tokener_parse(text)) != NULL) {
			struct json_object *ival = NULL;
			json_object_object_get_ex(j, "i", &ival);
			char *s = ival ? strdup(json_object_to_json_string_ext(
					     ival, JSON_C_TO_STRING_SPACED))
				       : NULL;
			if (s && cost(s, &fam, &c, &e) == 0) {
				char **ns = realloc(seen, (nt + 1) * sizeof(*ns));
				if (!ns)
					r = -ENOMEM;
				else {
					seen = ns;
					seen[nt] = TAKE_PTR(key);
					r = task_lines(lf, tf, ival, rec.workload_key, nt, o, &fam,
						       &g, &line);
					if (r == -ENOENT)
						r = 0, free(seen[nt]);
					else
						nt++;
				}
			}
			free(s);
			json_object_put(j);
		}
		tvmlog_record_done(&rec);
	}
	for (size_t k = 0; k < nt; k++)
		free(seen[k]);
	free(seen);
	tvmlog_reader_free(rd);
	fputs("\n]}\n", tf);
	fclose(lf);
	fclose(tf);
	if (r < 0)
		return r;
	if (nt == 0)
		return -ENODATA;
	r = write_file_atomic_at(AT_FDCWD, log_path, log, log_len, 0644);
	if (r < 0)
		return r;
	*ret_tasks = nt;
	return write_file_atomic_at(AT_FDCWD, truth_path, truth, truth_len, 0644);
}
