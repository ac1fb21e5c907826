/* tvmsynth.c — writes synthetic matmul tuning logs shaped like TVM's multi-level tiling (SSRSRS:
 * three SP per task, a reorder, fuse + parallel, unroll pragma, vectorize), with cloud costs from
 * the synthetic model, plus the edge ground truth. See docs/DISTILL.md "Synthetic model". */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "tvmsynth.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>

#include "distill.h"
#include "util.h"

struct cand {
	struct distill_step st[8];
	size_t n;
	double cloud, edge;
};

static const int16_t orders[3][10] = {
    {0, 4, 1, 5, 8, 2, 6, 9, 3, 7}, /* i j outer, k middle: the usual SSRSRS */
    {4, 0, 5, 1, 8, 2, 6, 9, 3, 7}, /* j before i */
    {8, 0, 4, 1, 5, 2, 6, 9, 3, 7}, /* reduction outermost */
};

static void split(struct distill_rng *g, int total_exp, int parts, int64_t *len)
{
	int e[4] = {0};
	for (int k = 0; k < total_exp; k++)
		e[distill_rng_below(g, (uint64_t)parts)]++;
	for (int p = 0; p < parts; p++)
		len[p] = INT64_C(1) << e[p];
}

static void make_cand(struct distill_rng *g, const int64_t *shape, struct cand *c)
{
	memset(c, 0, sizeof(*c));
	struct distill_step *s = c->st;
	for (int a = 0; a < 2; a++) {
		int lim = (int)log2((double)shape[a]);
		if (lim > 9)
			lim = 9;
		s->kind = DISTILL_STEP_SP;
		s->stage = 2;
		s->iter = a * 4;
		s->extent = shape[a];
		s->n_len = 3;
		split(g, (int)distill_rng_below(g, (uint64_t)lim + 1), 3, s->len);
		s++;
	}
	int klim = (int)log2((double)shape[2]);
	if (klim > 7)
		klim = 7;
	*s++ =
	    (struct distill_step){.kind = DISTILL_STEP_SP,
				  .stage = 2,
				  .iter = 8,
				  .extent = shape[2],
				  .n_len = 1,
				  .len = {INT64_C(1) << distill_rng_below(g, (uint64_t)klim + 1)}};
	int o = (int)distill_rng_below(g, 10);
	o = o < 6 ? 0 : o < 9 ? 1 : 2;
	s->kind = DISTILL_STEP_RE;
	s->stage = 2;
	s->n_order = 10;
	memcpy(s->order, orders[o], sizeof(orders[o]));
	s++;
	if (distill_rng_below(g, 10) < 8)
		*s++ = (struct distill_step){.kind = DISTILL_STEP_FU, .stage = 2, .n_len = 2};
	*s++ = (struct distill_step){
	    .kind = DISTILL_STEP_AN, .stage = 2, .iter = 0, .annotation = DISTILL_AN_PARALLEL};
	static const int64_t unrolls[] = {0, 16, 64, 512};
	*s++ = (struct distill_step){
	    .kind = DISTILL_STEP_PR, .stage = 2, .unroll = unrolls[distill_rng_below(g, 4)]};
	if (distill_rng_below(g, 10) < 8)
		*s++ = (struct distill_step){.kind = DISTILL_STEP_AN,
					     .stage = 2,
					     .iter = 9,
					     .annotation = DISTILL_AN_VECTORIZE};
	c->n = (size_t)(s - c->st);
}

static void print_steps(FILE *f, const struct cand *c)
{
	fputs("[[], [", f);
	for (size_t i = 0; i < c->n; i++) {
		const struct distill_step *s = &c->st[i];
		if (i)
			fputs(", ", f);
		switch (s->kind) {
		case DISTILL_STEP_SP:
			fprintf(f, "[\"SP\", %d, %d, %lld, [", s->stage, s->iter,
				(long long)s->extent);
			for (int k = 0; k < s->n_len; k++)
				fprintf(f, "%s%lld", k ? ", " : "", (long long)s->len[k]);
			fputs("], 1]", f);
			break;
		case DISTILL_STEP_RE:
			fprintf(f, "[\"RE\", %d, [", s->stage);
			for (int k = 0; k < s->n_order; k++)
				fprintf(f, "%s%d", k ? ", " : "", s->order[k]);
			fputs("]]", f);
			break;
		case DISTILL_STEP_FU:
			fprintf(f, "[\"FU\", %d, [0, 1]]", s->stage);
			break;
		case DISTILL_STEP_AN:
			fprintf(f, "[\"AN\", %d, %d, %d]", s->stage, s->iter, s->annotation);
			break;
		case DISTILL_STEP_PR:
			fprintf(f, "[\"PR\", %d, 0, \"auto_unroll_max_step$%lld\"]", s->stage,
				(long long)s->unroll);
			break;
		default:
			break;
		}
	}
	fputs("]]", f);
}

static int cmp_cloud(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	return x->cloud < y->cloud ? -1 : x->cloud > y->cloud;
}

int tvmsynth_write(const char *log_path, const char *truth_path, const struct tvmsynth_opts *o)
{
	if (!o || o->tasks == 0 || o->records == 0 ||
	    !(o->failed_fraction >= 0 && o->failed_fraction < 1))
		return -EINVAL;
	static const int64_t dims[] = {64, 128, 256, 512, 1024};
	struct distill_family fam;
	if (distill_family(o->family, &fam) < 0)
		return -EINVAL;
	struct distill_device cloud = fam.cloud, edge = fam.edge;
	struct distill_rng g = {.s = o->seed};
	size_t pool_n = o->records * 3;
	_cleanup_free_ struct cand *pool = malloc(pool_n * sizeof(*pool));
	_cleanup_free_ char *log = NULL, *truth = NULL;
	size_t log_len = 0, truth_len = 0;
	if (!pool)
		return -ENOMEM;
	FILE *lf = open_memstream(&log, &log_len);
	FILE *tf = open_memstream(&truth, &truth_len);
	if (!lf || !tf) {
		if (lf)
			fclose(lf);
		if (tf)
			fclose(tf);
		return -ENOMEM;
	}
	fprintf(lf, "# edgeslice distill --synthesize: %zu tasks x %zu records, seed %llu\n",
		o->tasks, o->records, (unsigned long long)o->seed);
	fprintf(
	    tf,
	    "{\"model\": \"edgeslice-synthetic-%s\", \"family\": %u, \"edge_cache_bytes\": %.0f, "
	    "\"cloud_cache_bytes\": %.0f, \"tasks\": [",
	    fam.name, o->family, edge.cache_bytes, cloud.cache_bytes);
	uint64_t line = 1, ts = 1700000000;
	int r = 0;
	for (size_t t = 0; t < o->tasks && r == 0; t++) {
		int64_t shape[3];
		for (int a = 0; a < 3; a++)
			shape[a] = dims[distill_rng_below(&g, ELEMENTSOF(dims))];
		char wkey[128];
		snprintf(wkey, sizeof(wkey),
			 "[\\\"synth_matmul_%zu\\\", %lld, %lld, %lld, \\\"float32\\\"]", t,
			 (long long)shape[0], (long long)shape[1], (long long)shape[2]);
		/* The workload key's integers are the shape the model sees, as in the parser. */
		int64_t kshape[4] = {(int64_t)t, shape[0], shape[1], shape[2]};
		for (size_t k = 0; k < pool_n; k++) {
			make_cand(&g, shape, &pool[k]);
			if (distill_model_cost(&cloud, pool[k].st, pool[k].n, kshape + 1, 3,
					       &pool[k].cloud) < 0 ||
			    distill_model_cost(&edge, pool[k].st, pool[k].n, kshape + 1, 3,
					       &pool[k].edge) < 0) {
				r = -EIO;
				break;
			}
		}
		if (r < 0)
			break;
		/* An evolutionary search spends most of its log near its best: keep the best half
		 * of the records from a pool of candidates, the other half at random. */
		qsort(pool, pool_n, sizeof(*pool), cmp_cloud);
		size_t good = o->records / 2;
		for (size_t k = good; k < o->records; k++) {
			size_t j = k + (size_t)distill_rng_below(&g, pool_n - k);
			struct cand tmp = pool[k];
			pool[k] = pool[j];
			pool[j] = tmp;
		}
		double true_best = INFINITY, cloud_best = INFINITY, cloud_best_edge = INFINITY;
		uint64_t true_line = 0;
		/* Shuffle the log order so the good records are not all first. */
		for (size_t k = o->records; k > 1; k--) {
			size_t j = (size_t)distill_rng_below(&g, k);
			struct cand tmp = pool[k - 1];
			pool[k - 1] = pool[j];
			pool[j] = tmp;
		}
		for (size_t k = 0; k < o->records; k++) {
			struct cand *c = &pool[k];
			bool failed = distill_rng_unit(&g) < o->failed_fraction;
			static const int fail_codes[] = {1, 2, 4, 6, 7};
			int eno =
			    failed ? fail_codes[distill_rng_below(&g, ELEMENTSOF(fail_codes))] : 0;
			line++;
			fprintf(lf,
				"{\"i\": [[\"%s\", \"llvm -keys=cpu -mcpu=core-avx2\", "
				"[16, 64, 64, 0, 0, 0, 0, 0], \"\", 0], ",
				wkey);
			print_steps(lf, c);
			if (failed)
				fprintf(lf,
					"], \"r\": [[10000000000.0], %d, %.3f, %llu], \"v\": "
					"\"v0.6\"}\n",
					eno, 0.5 + distill_rng_unit(&g), (unsigned long long)ts++);
			else
				fprintf(lf,
					"], \"r\": [[%.9g, %.9g, %.9g], 0, %.3f, %llu], \"v\": "
					"\"v0.6\"}\n",
					c->cloud, c->cloud, c->cloud, 0.5 + distill_rng_unit(&g),
					(unsigned long long)ts++);
			if (failed)
				continue;
			if (c->edge < true_best) {
				true_best = c->edge;
				true_line = line;
			}
			if (c->cloud < cloud_best) {
				cloud_best = c->cloud;
				cloud_best_edge = c->edge;
			}
		}
		fprintf(
		    tf,
		    "%s\n  {\"task\": %zu, \"workload_key\": \"%s\", \"true_best\": %.9g, "
		    "\"true_best_line\": %llu, \"cloud_best\": %.9g, \"cloud_best_edge\": %.9g}",
		    t ? "," : "", t, wkey, true_best, (unsigned long long)true_line, cloud_best,
		    cloud_best_edge);
	}
	fputs("\n]}\n", tf);
	fclose(lf);
	fclose(tf);
	if (r < 0)
		return r;
	r = write_file_atomic_at(AT_FDCWD, log_path, log, log_len, 0644);
	if (r < 0)
		return r;
	return write_file_atomic_at(AT_FDCWD, truth_path, truth, truth_len, 0644);
}
