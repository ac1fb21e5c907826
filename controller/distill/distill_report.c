/* distill_report.c — what the distiller's result is compared with and what it writes: the
 * baselines (every survivor, the cloud's best, random and cloud top-k at the same per-task
 * budget) and the output log of the selected records' original lines. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distill_priv.h"
#include "util.h"

static int cmp_cloud_rec(const void *a, const void *b, void *ud)
{
	const struct distill_rec *recs = ud;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	if (recs[x].cloud != recs[y].cloud)
		return recs[x].cloud < recs[y].cloud ? -1 : 1;
	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The cold yardstick no choice of the run can move: slower than the median edge cost of the
 * task's first-step survivors, all of which compare measured (edge[]), or failed. */
static int truth_cold(struct drun *d, const double *edge)
{
	struct distiller_result *res = d->res;
	size_t n = res->n_recs, nt = res->n_tasks;
	_cleanup_free_ double *v = malloc((n ? n : 1) * sizeof(double));
	_cleanup_free_ double *med = malloc((nt ? nt : 1) * sizeof(double));
	if (!v || !med)
		return -ENOMEM;
	for (size_t t = 0; t < nt; t++) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (res->recs[i].task == t && (res->recs[i].flags & DISTILL_F_SURVIVOR) &&
			    isfinite(edge[i]))
				v[k++] = edge[i];
		qsort(v, k, sizeof(double), cmp_double);
		med[t] = k == 0 ? INFINITY : k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	}
	struct distiller_cold *c = &res->cold;
	for (size_t q = 0; q < d->n_mseq; q++) {
		const struct distill_rec *x = &res->recs[d->mseq[q]];
		if (isfinite(x->edge) && x->edge <= med[x->task])
			continue;
		c->truth_cold++;
		c->truth_survey_cold += !(x->flags & DISTILL_F_SAMPLED);
		c->truth_cold_seconds += d->msecs[q];
		c->truth_cold_cost_seconds += isfinite(x->edge) ? x->edge : 0;
		if (!(x->flags & DISTILL_F_SAMPLED))
			c->truth_survey_cold_cost_seconds += isfinite(x->edge) ? x->edge : 0;
	}
	return 0;
}

int distill_baselines(struct drun *d)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t n = res->n_recs;
	_cleanup_free_ double *edge = malloc((n ? n : 1) * sizeof(double));
	if (!edge)
		return -ENOMEM;
	double secs = 0;
	/* Every survivor: the exhaustive edge search the distiller is saving. */
	for (size_t i = 0, done = 0; i < n; i++) {
		struct distill_rec *x = &res->recs[i];
		edge[i] = NAN;
		if (!(x->flags & DISTILL_F_SURVIVOR))
			continue;
		if (x->flags & DISTILL_F_MEASURED) {
			edge[i] = x->edge;
			continue;
		}
		int r = distill_measure_rec(d, x, &edge[i], &secs);
		if (r < 0)
			return r;
		res->baseline_measurements++;
		if (o->progress && (++done & 0xff) == 0)
			o->progress(o->ud, "baselines", done, res->n_survivors);
	}
	res->all_seconds = res->measure_seconds + secs;
	for (size_t i = 0; i < n; i++) {
		struct distill_rec *x = &res->recs[i];
		struct distiller_task *t = &res->tasks[x->task];
		if ((x->flags & DISTILL_F_SURVIVOR) && edge[i] < t->all_best)
			t->all_best = edge[i];
	}
	for (size_t t = 0; t < res->n_tasks; t++) {
		struct distiller_task *tk = &res->tasks[t];
		tk->cloud_best_edge = edge[tk->cloud_best];
	}
	int r = truth_cold(d, edge);
	if (r < 0)
		return r;
	/* Random sampling with the distiller's per-task budget, from the same survivors. */
	_cleanup_free_ size_t *pool = malloc((n ? n : 1) * sizeof(size_t));
	if (!pool)
		return -ENOMEM;
	struct distill_rng g = {.s = o->seed ^ 0x5eed5eedull};
	for (size_t t = 0; t < res->n_tasks; t++) {
		size_t c = 0;
		for (size_t i = 0; i < n; i++)
			if (res->recs[i].task == t && (res->recs[i].flags & DISTILL_F_SURVIVOR))
				pool[c++] = i;
		size_t want = res->tasks[t].n_measured < c ? res->tasks[t].n_measured : c;
		double best = INFINITY;
		for (size_t k = 0; k < want; k++) {
			size_t j = k + (size_t)distill_rng_below(&g, c - k);
			size_t tmp = pool[k];
			pool[k] = pool[j];
			pool[j] = tmp;
			if (edge[pool[k]] < best)
				best = edge[pool[k]];
		}
		res->tasks[t].random_best = best;
		/* Cloud top-k: the same budget spent on the cloud's k best survivors. */
		qsort_r(pool, c, sizeof(*pool), cmp_cloud_rec, res->recs);
		best = INFINITY;
		for (size_t k = 0; k < want; k++)
			if (edge[pool[k]] < best)
				best = edge[pool[k]];
		res->tasks[t].topk_best = best;
	}
	return 0;
}

int distiller_write_best(const struct distiller_result *res, const char *log_path,
			 const char *out_path)
{
	struct tvmlog_reader *rd;
	int r = tvmlog_reader_open(log_path, &rd);
	if (r < 0)
		return r;
	char *out = NULL;
	size_t out_len = 0;
	FILE *mf = open_memstream(&out, &out_len);
	if (!mf) {
		tvmlog_reader_free(rd);
		return -ENOMEM;
	}
	for (size_t t = 0; t < res->n_tasks && r >= 0; t++) {
		const struct distiller_task *tk = &res->tasks[t];
		if (tk->best == SIZE_MAX || !isfinite(tk->edge_best))
			continue;
		const struct distill_rec *x = &res->recs[tk->best];
		_cleanup_free_ char *line = NULL;
		r = tvmlog_reader_pread(rd, x->offset, x->length, &line);
		if (r < 0)
			break;
		/* The original line, byte for byte: what TVM tuned is exactly what is deployed,
		 * and the edge cost lives in the report. */
		fwrite(line, 1, x->length, mf);
		fputc('\n', mf);
	}
	tvmlog_reader_free(rd);
	if (fclose(mf) != 0 && r >= 0)
		r = -ENOMEM;
	if (r >= 0)
		r = write_file_atomic_at(AT_FDCWD, out_path, out ? out : "", out_len, 0644);
	free(out);
	return r < 0 ? r : 0;
}
