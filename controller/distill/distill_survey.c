/* distill_survey.c — the measurement loop: Trimmer's survey tuning over each task's ordered
 * candidates, with its cold-candidate filter (Alg. 1) in front of every batch, and the cold
 * accounting of the run. The pure rules are in policy/distill.c and policy/distill_cold.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "distill_cold.h"
#include "distill_priv.h"
#include "util.h"

#define MAX_TREES 512

/* The filter's state: an embedding model retrained on every measurement so far at the start of
 * each epoch (a "model update"), the leaf embeddings and cold marks of the measured records. */
struct distill_cold_state {
	struct drun *d;
	struct distill_rng g;
	unsigned updates;
	double eps;
	struct xgbclf *emb;
	size_t trees;
	int32_t *leaf; /* per mseq position, trees each */
	bool *mark;    /* per mseq position: above its task's LOESS trend */
	size_t n_db;   /* mseq positions covered by leaf/mark */
	int32_t *db;   /* scratch: one task's embeddings */
	bool *dbm;
	bool survey; /* the survey has begun: the prior rule, epsilon held */
};

int distill_cold_open(struct drun *d)
{
	d->cold = calloc(1, sizeof(*d->cold));
	if (!d->cold)
		return -ENOMEM;
	d->cold->d = d;
	d->cold->g.s = d->o->seed ^ 0xc01dull;
	return 0;
}

static void cold_done(struct distill_cold_state *c)
{
	xgbclf_free(c->emb);
	free(c->leaf);
	free(c->mark);
	free(c->db);
	free(c->dbm);
}

void distill_cold_close(struct drun *d)
{
	if (!d->cold)
		return;
	cold_done(d->cold);
	free(d->cold);
	d->cold = NULL;
}

/* LOESS cold marks of every task's measurements, in measurement order, into mark[n_mseq]. */
static int mark_cold(struct drun *d, bool *mark)
{
	struct distiller_result *res = d->res;
	size_t n = d->n_mseq;
	_cleanup_free_ size_t *pos = malloc((n ? n : 1) * sizeof(size_t));
	_cleanup_free_ double *cost = malloc((n ? n : 1) * sizeof(double));
	_cleanup_free_ bool *cm = malloc((n ? n : 1) * sizeof(bool));
	if (!pos || !cost || !cm)
		return -ENOMEM;
	for (size_t t = 0; t < res->n_tasks; t++) {
		size_t k = 0;
		for (size_t q = 0; q < n; q++)
			if (res->recs[d->mseq[q]].task == t) {
				pos[k] = q;
				cost[k++] = res->recs[d->mseq[q]].edge;
			}
		int r = distill_cold_marks(cost, k, DISTILL_COLD_SPAN, cm, NULL);
		if (r < 0)
			return r;
		for (size_t j = 0; j < k; j++)
			mark[pos[j]] = cm[j];
	}
	return 0;
}

/* Features of records recs[n] exist while the embedding is computed (a features file keeps
 * every survivor's rows; computed ones are dropped again so memory stays per chunk). */
static int leaves_of(struct distill_cold_state *c, const size_t *recs, size_t n, int32_t *ret)
{
	struct drun *d = c->d;
	size_t rows = d->res->n_rows, trees = 0;
	int r = 0;
	if (!d->o->features)
		r = distill_feats_from_log(d, recs, n);
	if (r >= 0)
		r = distill_leaf_recs(c->emb, &d->f, recs, n, ret, MAX_TREES, &trees);
	if (!d->o->features)
		distill_feats_forget(&d->f, recs, n);
	d->res->n_rows = rows;
	if (r >= 0 && trees != c->trees)
		r = -EIO;
	return r;
}

/* A model update: retrain the embedding model to tell the cold measurements from the others,
 * embed every measured record, lower epsilon. */
static int cold_update(struct distill_cold_state *c)
{
	struct drun *d = c->d;
	size_t n = d->n_mseq;
	if (n < 2)
		return 0;
	free(c->mark);
	free(c->leaf);
	c->leaf = NULL;
	c->n_db = 0;
	c->mark = malloc(n * sizeof(bool));
	_cleanup_free_ float *lab = malloc(n * sizeof(float));
	if (!c->mark || !lab)
		return -ENOMEM;
	int r = mark_cold(d, c->mark);
	if (r < 0)
		return r;
	for (size_t q = 0; q < n; q++)
		lab[q] = c->mark[q];
	size_t rows = d->res->n_rows;
	if (!d->o->features && (r = distill_feats_from_log(d, d->mseq, n)) < 0)
		return r;
	xgbclf_free(c->emb);
	c->emb = NULL;
	r = distill_train_recs(&d->f, d->mseq, n, lab, NULL, &d->o->xgb, &c->emb);
	if (!d->o->features)
		distill_feats_forget(&d->f, d->mseq, n);
	d->res->n_rows = rows;
	if (r < 0)
		return r;
	c->trees = d->o->xgb.rounds ? d->o->xgb.rounds : 40;
	if (c->trees > MAX_TREES)
		return -E2BIG;
	c->leaf = malloc(n * c->trees * sizeof(int32_t));
	free(c->db);
	free(c->dbm);
	c->db = malloc(n * c->trees * sizeof(int32_t));
	c->dbm = malloc(n * sizeof(bool));
	if (!c->leaf || !c->db || !c->dbm)
		return -ENOMEM;
	r = leaves_of(c, d->mseq, n, c->leaf);
	if (r < 0)
		return r;
	c->n_db = n;
	c->eps = distill_cold_epsilon_at(d->o->epsilon, c->updates++, c->survey);
	d->res->cold.updates++;
	return 0;
}

/* The embedding model's probability that record rec is cold: the evidence of every leaf the
 * record falls in, i.e. of the measured records (all tasks) that share its leaves. */
static int cold_prob(struct distill_cold_state *c, size_t rec, double *ret_p)
{
	struct drun *d = c->d;
	size_t rows = d->res->n_rows;
	bool fr;
	float m = 0;
	int r = d->o->features ? 0 : distill_feats_from_log(d, &rec, 1);
	if (r >= 0)
		r = distill_predict_recs(c->emb, &d->f, &rec, 1, &fr, &m);
	if (!d->o->features)
		distill_feats_forget(&d->f, &rec, 1);
	d->res->n_rows = rows;
	if (r < 0)
		return r;
	*ret_p = m;
	return 0;
}

/* Alg. 1 for one candidate: with probability epsilon, drop it when its k most similar measured
 * records of its task are all cold (alpha sample), or, in the survey, when the embedding model
 * finds it cold with probability above --cold-prior. */
static int cold_drop(struct distill_cold_state *c, size_t rec, bool *ret_drop)
{
	struct drun *d = c->d;
	*ret_drop = false;
	if (!c->emb || c->n_db == 0 || distill_rng_unit(&c->g) >= c->eps)
		return 0;
	if (c->survey) {
		double p;
		int r = cold_prob(c, rec, &p);
		if (r < 0)
			return r;
		d->res->cold.checked++;
		*ret_drop = distill_cold_prior_drop(p, d->o->cold_prior);
		return 0;
	}
	uint32_t task = d->res->recs[rec].task;
	size_t k = 0;
	for (size_t q = 0; q < c->n_db; q++)
		if (d->res->recs[d->mseq[q]].task == task) {
			memcpy(c->db + k * c->trees, c->leaf + q * c->trees,
			       c->trees * sizeof(int32_t));
			c->dbm[k++] = c->mark[q];
		}
	int32_t cand[MAX_TREES];
	int r = leaves_of(c, &rec, 1, cand);
	if (r < 0)
		return r;
	d->res->cold.checked++;
	size_t o;
	r = distill_cold_query(cand, c->db, c->dbm, k, c->trees, d->o->cold_k, &o);
	if (r == -ENODATA)
		return 0;
	if (r < 0)
		return r;
	*ret_drop = o == d->o->cold_k;
	return 0;
}

struct task_state {
	double f, x; /* last best cost and rate */
	size_t epochs;
	bool off;
};

/* One task's batch: the next `batch` candidates the filter lets through (a dropped candidate is
 * replaced by the next one, so the batch stays full while candidates last). */
static int task_batch(struct drun *d, struct distill_cold_state *c, size_t t, const size_t *order,
		      size_t *pos, const size_t *end, size_t *done, size_t total, bool *ret_did)
{
	const struct distiller_opts *o = d->o;
	for (size_t b = 0; b < o->batch && pos[t] < end[t];) {
		size_t rec = order[pos[t]++];
		if (c) {
			bool drop;
			int r = cold_drop(c, rec, &drop);
			if (r < 0)
				return r;
			if (drop) {
				d->res->cold.filtered++;
				continue;
			}
		}
		int r = distill_measure_into(d, rec);
		if (r < 0)
			return r;
		d->res->n_predicted_measured++;
		*ret_did = true;
		b++;
		if (o->progress)
			o->progress(o->ud, "survey", ++*done, total);
	}
	return 0;
}

/* Survey tuning over the ordered candidates: epochs of `batch` records per task, round robin.
 * Model scope: one rule on the sum of the tasks' best costs stops everything. Task scope: the
 * same rule on each task's own best cost and measuring time suspends that task alone. */
int distill_survey(struct drun *d, const size_t *order, size_t *pos, const size_t *end,
		   size_t total)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t nt = res->n_tasks, done = 0;
	_cleanup_free_ struct task_state *ts = calloc(nt ? nt : 1, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	struct distill_cold_state *c = d->cold;
	for (size_t t = 0; t < nt; t++)
		ts[t].f = res->tasks[t].edge_best;
	if (c)
		c->survey = true;
	double f_prev = distill_model_latency(res), x_prev = 0;
	int r = 0;
	for (;;) {
		bool any = false;
		double t0 = res->measure_seconds;
		if (c && (r = cold_update(c)) < 0)
			break;
		for (size_t t = 0; t < nt; t++) {
			double t1 = res->measure_seconds;
			bool did = false;
			if (!ts[t].off &&
			    (r = task_batch(d, c, t, order, pos, end, &done, total, &did)) < 0)
				goto out;
			any |= did;
			if (!did || o->survey_model || o->no_stop)
				continue;
			double ft = res->tasks[t].edge_best, xt, dt = res->measure_seconds - t1;
			/* A task without any finite cost yet has no latency to compare. */
			if (!isfinite(ft) || !isfinite(ts[t].f) ||
			    distill_survey_x(ft - ts[t].f, dt > 0 ? dt : 1e-9, &xt) < 0)
				xt = 0;
			if (++ts[t].epochs >= 2 && distill_survey_stop(ts[t].x, xt, o->phi)) {
				ts[t].off = true;
				if (pos[t] < end[t])
					res->n_tasks_suspended++;
			}
			ts[t].x = xt;
			ts[t].f = ft;
		}
		if (!any)
			break;
		res->n_epochs++;
		if (!o->survey_model || o->no_stop)
			continue;
		double f_t = distill_model_latency(res), x_t, dt = res->measure_seconds - t0;
		if (distill_survey_x(f_t - f_prev, dt > 0 ? dt : 1e-9, &x_t) < 0)
			x_t = 0;
		if (res->n_epochs >= 2 && distill_survey_stop(x_prev, x_t, o->phi)) {
			for (size_t t = 0; t < nt; t++)
				res->stopped_early |= pos[t] < end[t];
			break;
		}
		x_prev = x_t;
		f_prev = f_t;
	}
	for (size_t t = 0; t < nt; t++)
		res->stopped_early |= ts[t].off && pos[t] < end[t];
out:
	return r;
}

/* The embedding model's probability that each spare is cold, into pc[rec] (a chunk of feature
 * rows at a time); 0 for all before the first model update. */
static int score_spares(struct distill_cold_state *c, const size_t *spares, size_t n, float *pc)
{
	struct drun *d = c->d;
	size_t rows = d->res->n_rows;
	_cleanup_free_ bool *fr = malloc((n ? n : 1) * sizeof(bool));
	_cleanup_free_ float *m = malloc((n ? n : 1) * sizeof(float));
	if (!fr || !m)
		return -ENOMEM;
	for (size_t c0 = 0; c0 < n && c->emb; c0 += 4096) {
		size_t cn = n - c0 < 4096 ? n - c0 : 4096;
		int r = d->o->features ? 0 : distill_feats_from_log(d, spares + c0, cn);
		if (r >= 0)
			r = distill_predict_recs(c->emb, &d->f, spares + c0, cn, fr + c0, m + c0);
		if (!d->o->features)
			distill_feats_forget(&d->f, spares + c0, cn);
		d->res->n_rows = rows;
		if (r < 0)
			return r;
		for (size_t k = 0; k < cn; k++)
			pc[spares[c0 + k]] = m[c0 + k];
	}
	return 0;
}

/* The next sample record of a task: its unsampled survivor the embedding model finds least
 * likely cold (distill_cold_pick), taken out of the spares; SIZE_MAX when none is left. */
static size_t draw_spare(struct drun *d, uint32_t task, size_t *spares, size_t *n_spares,
			 const float *pc, float *tp, double *tc, size_t *tk)
{
	size_t n = 0;
	for (size_t k = 0; k < *n_spares; k++)
		if (d->res->recs[spares[k]].task == task) {
			tp[n] = pc[spares[k]];
			tc[n] = d->res->recs[spares[k]].cloud;
			tk[n++] = k;
		}
	size_t j = distill_cold_pick(tp, tc, n);
	if (j == SIZE_MAX)
		return SIZE_MAX;
	size_t best = spares[tk[j]];
	spares[tk[j]] = spares[--*n_spares];
	return best;
}

struct sample_state {
	size_t *spares, n_spares;
	size_t *left; /* per task: sample slots still to measure */
	float *pc, *tp;
	double *tc;
	size_t *tk;
};

/* Round 0: the first `cold_round` records of each task's uniform sample and its cloud-best
 * record; the rest of the uniform sample goes back among the spares, its slots stay. */
static int sample_first(struct drun *d, const size_t *idx, size_t n, struct sample_state *st)
{
	struct distiller_result *res = d->res;
	_cleanup_free_ size_t *got = calloc(res->n_tasks, sizeof(size_t));
	if (!got)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		st->left[x->task]++;
		if (got[x->task] >= d->o->cold_round && idx[k] != res->tasks[x->task].cloud_best) {
			x->flags &= ~(uint32_t)DISTILL_F_SAMPLED;
			st->spares[st->n_spares++] = idx[k];
			continue;
		}
		int r = distill_measure_into(d, idx[k]);
		if (r < 0)
			return r;
		got[x->task]++;
		st->left[x->task]--;
		if (d->o->progress)
			d->o->progress(d->o->ud, "sample", d->n_mseq, n);
	}
	return 0;
}

int distill_sample_filtered(struct drun *d, size_t *idx, size_t *n)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t nr = res->n_recs, nt = res->n_tasks, total = *n;
	struct sample_state st = {0};
	_cleanup_free_ size_t *spares = st.spares = malloc(nr * sizeof(size_t));
	_cleanup_free_ size_t *left = st.left = calloc(nt, sizeof(size_t));
	_cleanup_free_ float *pc = st.pc = calloc(nr, sizeof(float));
	_cleanup_free_ float *tp = st.tp = malloc(nr * sizeof(float));
	_cleanup_free_ double *tc = st.tc = malloc(nr * sizeof(double));
	_cleanup_free_ size_t *tk = st.tk = malloc(nr * sizeof(size_t));
	if (!spares || !left || !pc || !tp || !tc || !tk)
		return -ENOMEM;
	for (size_t i = 0; i < nr; i++)
		if ((res->recs[i].flags & DISTILL_F_SURVIVOR) &&
		    !(res->recs[i].flags & DISTILL_F_SAMPLED))
			spares[st.n_spares++] = i;
	int r = sample_first(d, idx, *n, &st);
	/* Later rounds: model update, then each task's next `cold_round` slots drawn by the model,
	 * each draw passing Alg. 1 (a dropped draw is a filtered candidate; the slot stays). */
	for (bool any = true; r >= 0 && any;) {
		any = false;
		if ((r = cold_update(d->cold)) < 0 ||
		    (r = score_spares(d->cold, spares, st.n_spares, pc)) < 0)
			break;
		for (size_t t = 0; t < nt && r >= 0; t++)
			for (size_t b = 0; b < o->cold_round && left[t] > 0;) {
				size_t rec = draw_spare(d, (uint32_t)t, spares, &st.n_spares, pc,
							tp, tc, tk);
				if (rec == SIZE_MAX) {
					res->n_sampled -= left[t];
					res->tasks[t].n_sampled -= left[t];
					left[t] = 0;
					break;
				}
				bool drop = false;
				if ((r = cold_drop(d->cold, rec, &drop)) < 0)
					break;
				any = true;
				res->cold.sample_drawn++;
				if (drop) {
					res->cold.filtered++;
					res->cold.sample_filtered++;
					continue;
				}
				res->recs[rec].flags |= DISTILL_F_SAMPLED;
				if ((r = distill_measure_into(d, rec)) < 0)
					break;
				left[t]--;
				b++;
				if (o->progress)
					o->progress(o->ud, "sample", d->n_mseq, total);
			}
	}
	if (r < 0)
		return r;
	size_t k = 0;
	for (size_t i = 0; i < nr; i++)
		if (res->recs[i].flags & DISTILL_F_SAMPLED)
			idx[k++] = i;
	*n = k;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* What the run spent on cold records. Two definitions: the paper's (above the task's LOESS trend
 * of this run's measurements) and a fixed one that does not move with what was measured —
 * slower than the median of the task's alpha sample (a uniform draw of its survivors), or failed
 * — so runs with and without the filter are compared on the same yardstick. */
int distill_cold_account(struct drun *d)
{
	struct distiller_result *res = d->res;
	size_t n = d->n_mseq;
	_cleanup_free_ bool *mark = malloc((n ? n : 1) * sizeof(bool));
	_cleanup_free_ double *med = malloc((res->n_tasks ? res->n_tasks : 1) * sizeof(double));
	_cleanup_free_ double *v = malloc((n ? n : 1) * sizeof(double));
	if (!mark || !med || !v)
		return -ENOMEM;
	int r = mark_cold(d, mark);
	if (r < 0)
		return r;
	for (size_t t = 0; t < res->n_tasks; t++) {
		size_t k = 0;
		for (size_t q = 0; q < n; q++) {
			const struct distill_rec *x = &res->recs[d->mseq[q]];
			if (x->task == t && (x->flags & DISTILL_F_SAMPLED) && isfinite(x->edge))
				v[k++] = x->edge;
		}
		qsort(v, k, sizeof(double), cmp_double);
		med[t] = k == 0 ? INFINITY : k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
	}
	struct distiller_cold *c = &res->cold;
	for (size_t q = 0; q < n; q++) {
		const struct distill_rec *x = &res->recs[d->mseq[q]];
		c->loess_cold += mark[q];
		if (mark[q])
			c->loess_cold_seconds += d->msecs[q];
		if (isfinite(x->edge) && x->edge <= med[x->task])
			continue;
		bool survey = !(x->flags & DISTILL_F_SAMPLED);
		c->measured_cold++;
		c->cold_seconds += d->msecs[q];
		c->cold_cost_seconds += isfinite(x->edge) ? x->edge : 0;
		c->survey_cold += survey;
		if (survey)
			c->survey_cold_seconds += d->msecs[q];
	}
	return 0;
}
