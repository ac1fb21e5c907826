/* distill.c — the distiller's pure steps: first-step filter, stratified alpha sampling, eq. 2/3
 * scores, labels/weights, voting, Trimmer's survey stop rule (features: distill_features.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "distill.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const step_names[_DISTILL_STEP_MAX] = {
    [DISTILL_STEP_OTHER] = "?", [DISTILL_STEP_SP] = "SP",     [DISTILL_STEP_RE] = "RE",
    [DISTILL_STEP_FU] = "FU",	[DISTILL_STEP_AN] = "AN",     [DISTILL_STEP_PR] = "PR",
    [DISTILL_STEP_CA] = "CA",	[DISTILL_STEP_CI] = "CI",     [DISTILL_STEP_CR] = "CR",
    [DISTILL_STEP_FSP] = "FSP", [DISTILL_STEP_FFSP] = "FFSP", [DISTILL_STEP_CHR] = "CHR",
    [DISTILL_STEP_CHW] = "CHW", [DISTILL_STEP_RF] = "RF",     [DISTILL_STEP_SA] = "SA",
};

enum distill_step_kind distill_step_kind_from_name(const char *name)
{
	for (int k = 1; k < _DISTILL_STEP_MAX; k++)
		if (name && !strcmp(name, step_names[k]))
			return (enum distill_step_kind)k;
	return DISTILL_STEP_OTHER;
}

const char *distill_step_kind_name(enum distill_step_kind k)
{
	return (unsigned)k < _DISTILL_STEP_MAX ? step_names[k] : "?";
}

int distill_task_min_cloud(const struct distill_rec *r, size_t n, size_t n_tasks, double *ret_min)
{
	if (!ret_min || (n && !r))
		return -EINVAL;
	for (size_t t = 0; t < n_tasks; t++)
		ret_min[t] = INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (r[i].task >= n_tasks)
			return -EINVAL;
		if (r[i].cloud < ret_min[r[i].task])
			ret_min[r[i].task] = r[i].cloud;
	}
	return 0;
}

/* Sort context for the per-task ranking: qsort_r keeps it free of globals. */
static int cmp_task_cloud(const void *a, const void *b, void *ctx)
{
	const struct distill_rec *r = ctx;
	const struct distill_rec *x = &r[*(const size_t *)a], *y = &r[*(const size_t *)b];
	if (x->task != y->task)
		return x->task < y->task ? -1 : 1;
	if (x->cloud != y->cloud)
		return x->cloud < y->cloud ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

int distill_first_step(struct distill_rec *r, size_t n, size_t n_tasks,
		       const struct distill_first_step *cfg, size_t *ret_kept)
{
	if (!cfg || (n && !r))
		return -EINVAL;
	if (cfg->top_fraction > 0 ? !(cfg->top_fraction <= 1.0)
				  : !(cfg->threshold > 0 && cfg->threshold <= 1.0))
		return -EINVAL;

	size_t *idx = malloc((n ? n : 1) * sizeof(*idx));
	size_t *count = calloc(n_tasks ? n_tasks : 1, sizeof(*count));
	double *min = malloc((n_tasks ? n_tasks : 1) * sizeof(*min));
	int ret = 0;
	if (!idx || !count || !min) {
		ret = -ENOMEM;
		goto out;
	}
	ret = distill_task_min_cloud(r, n, n_tasks, min);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		idx[i] = i;
		count[r[i].task]++;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_task_cloud, r);

	size_t kept = 0;
	for (size_t s = 0; s < n;) {
		uint32_t t = r[idx[s]].task;
		size_t e = s, keep_n = 0;
		while (e < n && r[idx[e]].task == t)
			e++;
		if (cfg->top_fraction > 0)
			keep_n = (size_t)ceil(cfg->top_fraction * (double)count[t] - 1e-9);
		for (size_t k = s; k < e; k++) {
			struct distill_rec *x = &r[idx[k]];
			bool keep;
			if (cfg->top_fraction > 0)
				keep = k - s < keep_n;
			else
				keep = distill_norm(min[t], x->cloud) >= cfg->threshold;
			if (k == s)
				keep = true; /* the cloud's best always goes on */
			x->flags = keep ? (x->flags | DISTILL_F_SURVIVOR)
					: (x->flags & ~DISTILL_F_SURVIVOR);
			kept += keep;
		}
		s = e;
	}
	if (ret_kept)
		*ret_kept = kept;
out:
	free(idx);
	free(count);
	free(min);
	return ret;
}

uint64_t distill_rng_next(struct distill_rng *g)
{
	uint64_t z = (g->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t distill_rng_below(struct distill_rng *g, uint64_t n)
{
	if (n == 0)
		return 0;
	/* Rejection keeps it unbiased; n is small next to 2^64 so this almost never loops. */
	uint64_t lim = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = distill_rng_next(g);
	while (v >= lim);
	return v % n;
}

double distill_rng_unit(struct distill_rng *g)
{
	return (double)(distill_rng_next(g) >> 11) * 0x1.0p-53;
}

int distill_sample(struct distill_rec *r, size_t n, size_t n_tasks, double alpha,
		   size_t min_per_task, struct distill_rng *g, size_t *ret_sampled)
{
	if (!g || (n && !r) || !(alpha >= 0 && alpha <= 1))
		return -EINVAL;
	size_t *count = calloc(n_tasks ? n_tasks : 1, sizeof(*count));
	size_t *start = calloc(n_tasks + 1, sizeof(*start));
	size_t *pool = malloc((n ? n : 1) * sizeof(*pool));
	int ret = 0;
	if (!count || !start || !pool) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].task >= n_tasks) {
			ret = -EINVAL;
			goto out;
		}
		r[i].flags &= ~DISTILL_F_SAMPLED;
		if (r[i].flags & DISTILL_F_SURVIVOR)
			count[r[i].task]++;
	}
	for (size_t t = 0; t < n_tasks; t++)
		start[t + 1] = start[t] + count[t];
	memset(count, 0, n_tasks * sizeof(*count));
	for (size_t i = 0; i < n; i++)
		if (r[i].flags & DISTILL_F_SURVIVOR) {
			uint32_t t = r[i].task;
			pool[start[t] + count[t]++] = i;
		}

	size_t sampled = 0;
	for (size_t t = 0; t < n_tasks; t++) {
		size_t c = count[t], want = (size_t)llround(alpha * (double)c);
		if (want < min_per_task)
			want = min_per_task;
		if (want > c)
			want = c;
		size_t *p = pool + start[t];
		/* Partial Fisher-Yates: the first `want` slots are a uniform sample. */
		for (size_t k = 0; k < want; k++) {
			size_t j = k + (size_t)distill_rng_below(g, c - k);
			size_t tmp = p[k];
			p[k] = p[j];
			p[j] = tmp;
			r[p[k]].flags |= DISTILL_F_SAMPLED;
		}
		sampled += want;
	}
	if (ret_sampled)
		*ret_sampled = sampled;
out:
	free(count);
	free(start);
	free(pool);
	return ret;
}

double distill_norm(double min_time, double time)
{
	return min_time / time;
}

int distill_score(double cloud, double cloud_min, double edge, double edge_min, double *ret)
{
	if (!(cloud > 0) || !(cloud_min > 0) || !(edge > 0) || !(edge_min > 0) ||
	    !isfinite(cloud) || !isfinite(edge))
		return -EINVAL;
	double s = distill_norm(edge_min, edge) / distill_norm(cloud_min, cloud);
	if (!isfinite(s))
		return -ERANGE;
	*ret = s;
	return 0;
}

void distill_label(const double *score, size_t n, double beta, float *ret_label, float *ret_weight)
{
	for (size_t i = 0; i < n; i++) {
		ret_label[i] = score[i] > beta ? 1.0f : 0.0f;
		ret_weight[i] = (float)fabs(score[i] - beta);
	}
}

bool distill_vote(const float *prob, size_t n_rows, float *ret_mean)
{
	size_t yes = 0;
	double sum = 0;
	for (size_t i = 0; i < n_rows; i++) {
		yes += prob[i] > 0.5f;
		sum += prob[i];
	}
	float mean = n_rows ? (float)(sum / (double)n_rows) : 0.0f;
	if (ret_mean)
		*ret_mean = mean;
	if (2 * yes != n_rows)
		return 2 * yes > n_rows;
	return n_rows && mean > 0.5f;
}

int distill_survey_x(double delta_latency, double delta_time, double *ret_x)
{
	if (!isfinite(delta_latency) || !isfinite(delta_time) || delta_time == 0)
		return -EINVAL;
	double w2 = (delta_latency < 0 && delta_time < 0) ? -1.0 : 1.0;
	*ret_x = w2 * delta_latency / delta_time;
	return 0;
}

bool distill_survey_stop(double x_prev, double x_t, double phi)
{
	if (x_prev == 0)
		return !(x_t < 0);
	/* Trimmer's two sign cases: both epochs got slower, or this one got faster after a slower
	 * one. In both the plain ratio has the wrong sign for "progress is fading". */
	double w1 = ((x_t > 0 && x_prev > 0) || (x_t < 0 && x_prev > 0)) ? -1.0 : 1.0;
	return w1 * (x_t + x_prev) / x_prev <= phi;
}
