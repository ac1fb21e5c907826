/* distiller.c — drives the distillation pipeline over a log file: the streaming first pass, the
 * edge measurements and the phases of distiller_run around the pure steps of policy/distill.c
 * (learning in distill_learn.c, the measurement loop in distill_survey.c, baselines and output in
 * distill_report.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "distiller.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>

#include "distill_cold.h"
#include "distill_priv.h"
#include "tvmlog.h"
#include "util.h"

void distiller_opts_default(struct distiller_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->first.threshold = 0.2;
	o->alpha = 0.15;
	o->beta = 1.0;
	o->seed = 1;
	o->min_sample = 2;
	o->batch = 12;
	o->phi = DISTILL_PHI_DEFAULT;
	o->cold_filter = true;
	o->cold_k = 1;
	o->epsilon = 1.0;
	o->cold_prior = DISTILL_COLD_PRIOR;
	o->cold_round = 2;
	xgbclf_params_default(&o->xgb);
}

void distiller_result_free(struct distiller_result *r)
{
	if (!r)
		return;
	for (size_t t = 0; t < r->n_tasks; t++) {
		free(r->tasks[t].workload_key);
		free(r->tasks[t].target);
	}
	free(r->tasks);
	free(r->recs);
	free(r);
}

static void resultp(struct distiller_result **r)
{
	distiller_result_free(*r);
}

/* --- task table: open addressing over "workload\ntarget" ---------------------------------- */

struct tasks {
	struct distiller_task *v;
	size_t n, cap;
	uint32_t *slot; /* index + 1, 0 = empty */
	size_t n_slot;
};

static uint64_t fnv(const char *a, const char *b)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *a; a++)
		h = (h ^ (unsigned char)*a) * 0x100000001b3ull;
	h = (h ^ '\n') * 0x100000001b3ull;
	for (; *b; b++)
		h = (h ^ (unsigned char)*b) * 0x100000001b3ull;
	return h;
}

static int tasks_rehash(struct tasks *t, size_t n_slot)
{
	uint32_t *s = calloc(n_slot, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t h = fnv(t->v[i].workload_key, t->v[i].target) & (n_slot - 1);
		while (s[h])
			h = (h + 1) & (n_slot - 1);
		s[h] = (uint32_t)i + 1;
	}
	free(t->slot);
	t->slot = s;
	t->n_slot = n_slot;
	return 0;
}

static int tasks_get(struct tasks *t, const char *wk, const char *tg, uint32_t *ret)
{
	if ((t->n + 1) * 2 > t->n_slot) {
		int r = tasks_rehash(t, t->n_slot ? t->n_slot * 2 : 64);
		if (r < 0)
			return r;
	}
	size_t h = fnv(wk, tg) & (t->n_slot - 1);
	while (t->slot[h]) {
		struct distiller_task *x = &t->v[t->slot[h] - 1];
		if (!strcmp(x->workload_key, wk) && !strcmp(x->target, tg)) {
			*ret = t->slot[h] - 1;
			return 0;
		}
		h = (h + 1) & (t->n_slot - 1);
	}
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 16;
		struct distiller_task *nv = realloc(t->v, nc * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		t->v = nv;
		t->cap = nc;
	}
	struct distiller_task *x = &t->v[t->n];
	memset(x, 0, sizeof(*x));
	x->workload_key = strdup(wk);
	x->target = strdup(tg);
	if (!x->workload_key || !x->target) {
		free(x->workload_key);
		free(x->target);
		return -ENOMEM;
	}
	x->cloud_min = INFINITY;
	x->edge_best = x->cloud_best_edge = x->random_best = x->all_best = x->topk_best = INFINITY;
	x->best = SIZE_MAX;
	t->slot[h] = (uint32_t)t->n + 1;
	*ret = (uint32_t)t->n++;
	return 0;
}

/* --- pass 1 ---------------------------------------------------------------------------- */

static int pass1(const char *path, const struct distiller_opts *o, struct tasks *tt,
		 struct distiller_result *res)
{
	struct tvmlog_reader *rd;
	int r = tvmlog_reader_open(path, &rd);
	if (r < 0)
		return r;
	size_t cap = 0;
	const char *line;
	size_t len;
	uint64_t no, off;
	char err[256];
	while ((r = tvmlog_reader_next(rd, &line, &len, &no, &off)) > 0 || r == -EFBIG) {
		struct tvmlog_record rec;
		res->n_lines++;
		if (r == -EFBIG) {
			res->n_malformed++;
			if (o->diag)
				o->diag(o->ud, no, r, "line longer than 16 MiB skipped");
			continue;
		}
		int q = tvmlog_parse_line(line, len, &rec, err, sizeof(err));
		if (q == -ENODATA) {
			res->n_comments++;
			continue;
		}
		if (q == -ENOMEM) {
			r = q;
			break;
		}
		if (q < 0) {
			res->n_malformed++;
			if (o->diag)
				o->diag(o->ud, no, q, err);
			continue;
		}
		uint32_t t;
		q = tasks_get(tt, rec.workload_key, rec.target, &t);
		if (q < 0) {
			tvmlog_record_done(&rec);
			r = q;
			break;
		}
		tt->v[t].n_records++;
		if (res->n_records + res->n_failed == 0)
			res->version_minor = rec.version_minor;
		if (rec.error_no != 0) {
			res->n_failed++;
			tt->v[t].n_failed++;
			if (o->diag) {
				snprintf(err, sizeof(err),
					 "failed record skipped (error_no %d, %s)", rec.error_no,
					 tvmlog_error_name(rec.error_no));
				o->diag(o->ud, no, 0, err);
			}
			tvmlog_record_done(&rec);
			continue;
		}
		if (res->n_recs == cap) {
			size_t nc = cap ? cap * 2 : 1024;
			struct distill_rec *nv = realloc(res->recs, nc * sizeof(*nv));
			if (!nv) {
				tvmlog_record_done(&rec);
				r = -ENOMEM;
				break;
			}
			res->recs = nv;
			cap = nc;
		}
		res->recs[res->n_recs++] = (struct distill_rec){.task = t,
								.line = no,
								.offset = off,
								.length = (uint32_t)len,
								.cloud = rec.cost};
		res->n_records++;
		tvmlog_record_done(&rec);
		if (o->progress && (res->n_lines & 0xffff) == 0)
			o->progress(o->ud, "reading", res->n_lines, 0);
	}
	tvmlog_reader_free(rd);
	return r < 0 ? r : 0;
}

/* --- measurement ------------------------------------------------------------------------ */

int distill_measure_rec(struct drun *d, const struct distill_rec *x, double *ret_cost, double *secs)
{
	_cleanup_free_ char *line = NULL;
	int r = tvmlog_reader_pread(d->rd, x->offset, x->length, &line);
	if (r < 0)
		return r;
	struct tvmlog_record rec;
	r = tvmlog_parse_line(line, x->length, &rec, NULL, 0);
	if (r < 0)
		return -EIO;
	double costs[MEASURER_MAX_COSTS];
	size_t n = 0;
	int eno = 0;
	uint64_t t0 = now_nsec();
	r = measurer_measure(d->m, x->line, line, x->length, &rec, costs, &n, &eno);
	*secs += (double)(now_nsec() - t0) * 1e-9;
	tvmlog_record_done(&rec);
	if (r < 0)
		return r;
	double sum = 0;
	for (size_t k = 0; k < n; k++)
		sum += costs[k];
	*ret_cost = eno == 0 && n ? sum / (double)n : INFINITY;
	return 0;
}

int distill_measure_into(struct drun *d, size_t i)
{
	struct distiller_result *res = d->res;
	struct distill_rec *x = &res->recs[i];
	if (d->n_mseq == d->cap_mseq) {
		size_t nc = d->cap_mseq ? d->cap_mseq * 2 : 256;
		size_t *ns = realloc(d->mseq, nc * sizeof(size_t));
		if (!ns)
			return -ENOMEM;
		d->mseq = ns;
		double *nsec = realloc(d->msecs, nc * sizeof(double));
		if (!nsec)
			return -ENOMEM;
		d->msecs = nsec;
		d->cap_mseq = nc;
	}
	double c, secs = 0;
	int r = distill_measure_rec(d, x, &c, &secs);
	if (r < 0)
		return r;
	res->measure_seconds += secs;
	d->mseq[d->n_mseq] = i;
	d->msecs[d->n_mseq++] = secs;
	x->edge = c;
	x->flags |= DISTILL_F_MEASURED;
	res->n_measured++;
	if (!isfinite(c))
		res->n_measure_failed++;
	struct distiller_task *t = &res->tasks[x->task];
	t->n_measured++;
	if (c < t->edge_best) {
		t->edge_best = c;
		t->best = i;
	}
	return 0;
}

double distill_model_latency(const struct distiller_result *res)
{
	double f = 0;
	for (size_t t = 0; t < res->n_tasks; t++)
		if (isfinite(res->tasks[t].edge_best))
			f += res->tasks[t].edge_best;
	return f;
}

/* --- the pipeline's phases -------------------------------------------------------------- */

/* Steps 1-3: cloud minima, first step, alpha sample plus each task's cloud-best record. */
static int select_sample(struct distiller_result *res, const struct distiller_opts *o)
{
	size_t n = res->n_recs, nt = res->n_tasks;
	for (size_t i = 0; i < n; i++) {
		struct distiller_task *t = &res->tasks[res->recs[i].task];
		if (res->recs[i].cloud < t->cloud_min) {
			t->cloud_min = res->recs[i].cloud;
			t->cloud_best = i;
		}
	}
	int r = distill_first_step(res->recs, n, nt, &o->first, &res->n_survivors);
	if (r < 0)
		return r;
	struct distill_rng g = {.s = o->seed};
	r = distill_sample(res->recs, n, nt, o->alpha, o->min_sample, &g, &res->n_sampled);
	if (r < 0)
		return r;
	/* The cloud's own pick is what would be deployed without distilling: measuring it costs
	 * one record per task and means the result is never worse than the cloud's choice. */
	if (!o->no_cloud_best)
		for (size_t t = 0; t < nt; t++) {
			struct distill_rec *x = &res->recs[res->tasks[t].cloud_best];
			if (!(x->flags & DISTILL_F_SAMPLED)) {
				x->flags |= DISTILL_F_SAMPLED;
				res->n_sampled++;
			}
		}
	for (size_t i = 0; i < n; i++) {
		struct distiller_task *t = &res->tasks[res->recs[i].task];
		t->n_survivors += !!(res->recs[i].flags & DISTILL_F_SURVIVOR);
		t->n_sampled += !!(res->recs[i].flags & DISTILL_F_SAMPLED);
	}
	return 0;
}

/* Steps 3-5: measure the sample, score and label it (eq. 2/3), cross-validate, then train the
 * edge-friendly classifier and the "excellent" ranking model on the whole sample. */
static int learn_sample(struct drun *d)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t n = res->n_recs, nt = res->n_tasks;
	_cleanup_free_ size_t *idx = malloc(n * sizeof(size_t));
	_cleanup_free_ double *score = malloc(n * sizeof(double));
	_cleanup_free_ float *lab = malloc(n * sizeof(float)), *wt = malloc(n * sizeof(float));
	_cleanup_free_ double *emin = malloc(nt * sizeof(double)),
			      *cmin = malloc(nt * sizeof(double));
	if (!idx || !score || !lab || !wt || !emin || !cmin)
		return -ENOMEM;
	/* Measure the sample, task by task in turn so a long run shows every task early. */
	size_t ns = 0;
	int r;
	for (size_t i = 0; i < n; i++)
		if (res->recs[i].flags & DISTILL_F_SAMPLED)
			idx[ns++] = i;
	if (o->cold_filter) {
		if ((r = distill_sample_filtered(d, idx, &ns)) < 0)
			return r;
	} else {
		for (size_t k = 0; k < ns; k++) {
			if ((r = distill_measure_into(d, idx[k])) < 0)
				return r;
			if (o->progress)
				o->progress(o->ud, "sample", k + 1, ns);
		}
	}
	/* After measuring: the cold filter computes (and drops) rows of its own meanwhile. */
	if (!o->features && (r = distill_feats_from_log(d, idx, ns)) < 0)
		return r;
	/* Both minima are over the measured sample (the records being normalized), so the
	 * sample's cloud best scores its edge score, <= 1. */
	for (size_t t = 0; t < nt; t++)
		emin[t] = cmin[t] = INFINITY;
	for (size_t k = 0; k < ns; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		emin[x->task] = fmin(emin[x->task], x->edge);
		cmin[x->task] = fmin(cmin[x->task], x->cloud);
	}
	for (size_t k = 0; k < ns; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		double s;
		if (!isfinite(x->edge) || !isfinite(emin[x->task]))
			s = 0; /* failed on the edge: as unfriendly as it gets */
		else if (distill_score(x->cloud, cmin[x->task], x->edge, emin[x->task], &s) < 0)
			s = 0;
		score[k] = s;
	}
	distill_label(score, ns, o->beta, lab, wt);
	for (size_t k = 0; k < ns; k++)
		if (lab[k] > 0)
			res->recs[idx[k]].flags |= DISTILL_F_LABEL;
	if ((r = distill_crossval(d, idx, ns, lab, wt)) < 0)
		return r;
	r = distill_train_recs(&d->f, idx, ns, lab, wt, &o->xgb, &d->clf);
	if (r < 0 && r != -EDOM)
		return r;
	/* Measurement order within a task: a second classifier on the paper's "excellent" records
	 * (edge score, eq. 2, >= 0.9; its Fig. 10 metric) ranks what the first one lets through. */
	for (size_t k = 0; k < ns; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		lab[k] =
		    isfinite(x->edge) && distill_norm(emin[x->task], x->edge) >= DISTILL_EXCELLENT;
		wt[k] = 1;
	}
	if (o->rank_pairwise) {
		/* Relevance = edge score (eq. 2) inside the task; failed records 0. */
		for (size_t k = 0; k < ns; k++) {
			struct distill_rec *x = &res->recs[idx[k]];
			score[k] = isfinite(x->edge) ? distill_norm(emin[x->task], x->edge) : 0;
		}
		r = distill_train_rank_recs(res->recs, &d->f, idx, ns, score, &o->xgb, &d->rank);
	} else {
		r = distill_train_recs(&d->f, idx, ns, lab, wt, &o->xgb, &d->rank);
	}
	if (r < 0 && r != -EDOM)
		return r;
	if (!o->features)
		distill_feats_forget(&d->f, idx, ns);
	return 0;
}

#define PREDICT_CHUNK 4096

struct cand {
	size_t rec;
	double prio;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio > y->prio ? -1 : 1;
	return x->rec < y->rec ? -1 : x->rec > y->rec;
}

/* Step 6: predict the unsampled survivors and vote, a chunk of records at a time, into the
 * candidates in measurement priority order. */
static int classify(struct drun *d, struct cand *cands, size_t *ret_nc)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t n = res->n_recs, np = 0;
	_cleanup_free_ size_t *idx = malloc(n * sizeof(size_t));
	_cleanup_free_ float *mean = calloc(n, sizeof(float)), *mean2 = calloc(n, sizeof(float));
	_cleanup_free_ bool *fr = calloc(n, sizeof(bool)), *fr2 = calloc(n, sizeof(bool));
	if (!idx || !mean || !mean2 || !fr || !fr2)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if ((res->recs[i].flags & DISTILL_F_SURVIVOR) &&
		    !(res->recs[i].flags & DISTILL_F_SAMPLED))
			idx[np++] = i;
	for (size_t c0 = 0; c0 < np && (d->clf || d->rank); c0 += PREDICT_CHUNK) {
		size_t cn = np - c0 < PREDICT_CHUNK ? np - c0 : PREDICT_CHUNK;
		int r;
		if (!o->features && (r = distill_feats_from_log(d, idx + c0, cn)) < 0)
			return r;
		if (d->clf &&
		    (r = distill_predict_recs(d->clf, &d->f, idx + c0, cn, fr + c0, mean + c0)) < 0)
			return r;
		if (d->rank && (r = distill_predict_recs(d->rank, &d->f, idx + c0, cn, fr2 + c0,
							 mean2 + c0)) < 0)
			return r;
		if (!o->features)
			distill_feats_forget(&d->f, idx + c0, cn);
		if (o->progress)
			o->progress(o->ud, "classify", c0 + cn, np);
	}
	size_t nc = 0;
	for (size_t k = 0; k < np; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		if (!fr[k] && o->predicted_only)
			continue;
		/* Likely excellent records first (without a ranking model: cloud score x
		 * friendliness). The voted edge-friendly records all go before the rest, which the
		 * survey rule reaches only while a task keeps improving. */
		double prio = d->rank
				  ? mean2[k]
				  : distill_norm(res->tasks[x->task].cloud_min, x->cloud) * mean[k];
		if (fr[k]) {
			x->flags |= DISTILL_F_PREDICTED;
			res->tasks[x->task].n_predicted++;
			res->n_predicted++;
			prio += 2;
		}
		cands[nc++] = (struct cand){.rec = idx[k], .prio = prio};
	}
	qsort(cands, nc, sizeof(*cands), cmp_cand);
	*ret_nc = nc;
	return 0;
}

/* Buckets the candidates per task, keeping their order, and runs the survey over them. */
static int measure_candidates(struct drun *d, const struct cand *cands, size_t nc)
{
	struct distiller_result *res = d->res;
	size_t nt = res->n_tasks;
	_cleanup_free_ size_t *pos = calloc(nt, sizeof(size_t));
	_cleanup_free_ size_t *cnt = calloc(nt + 1, sizeof(size_t));
	_cleanup_free_ size_t *order = malloc((nc ? nc : 1) * sizeof(size_t));
	if (!pos || !cnt || !order)
		return -ENOMEM;
	for (size_t k = 0; k < nc; k++)
		cnt[res->recs[cands[k].rec].task + 1]++;
	for (size_t t = 0; t < nt; t++)
		cnt[t + 1] += cnt[t];
	for (size_t t = 0; t < nt; t++)
		pos[t] = cnt[t];
	for (size_t k = 0; k < nc; k++)
		order[cnt[res->recs[cands[k].rec].task]++] = cands[k].rec;
	/* cnt[t] now is the end of task t's bucket. */
	return distill_survey(d, order, pos, cnt, nc);
}

static int run_phases(struct drun *d, const char *log_path)
{
	struct distiller_result *res = d->res;
	const struct distiller_opts *o = d->o;
	size_t n = res->n_recs;
	int r = select_sample(res, o);
	if (r < 0)
		return r;
	if ((r = tvmlog_reader_open(log_path, &d->rd)) < 0)
		return r;
	d->f.start = malloc(n * sizeof(size_t));
	d->f.count = calloc(n, 1);
	_cleanup_free_ struct cand *cands = malloc(n * sizeof(struct cand));
	if (!d->f.start || !d->f.count || !cands)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		d->f.start[i] = SIZE_MAX;
	if (o->features) {
		if ((r = distill_feats_from_file(d, o->features)) < 0)
			return r;
		res->n_rows = d->f.n_rows;
	}
	if (o->cold_filter && (r = distill_cold_open(d)) < 0)
		return r;
	if ((r = learn_sample(d)) < 0)
		return r;
	size_t nc = 0;
	if ((r = classify(d, cands, &nc)) < 0)
		return r;
	if ((r = measure_candidates(d, cands, nc)) < 0)
		return r;
	if ((r = distill_cold_account(d)) < 0)
		return r;
	res->est_all_seconds = res->n_measured ? res->measure_seconds / (double)res->n_measured *
						     (double)res->n_survivors
					       : 0;
	if (o->compare && (r = distill_baselines(d)) < 0)
		return r;
	return 0;
}

int distiller_run(const char *log_path, const struct distiller_opts *o, struct measurer *m,
		  struct distiller_result **ret)
{
	if (!log_path || !o || !m || !ret)
		return -EINVAL;
	if (o->cold_filter && (o->cold_k == 0 || o->cold_k > 64 || !(o->epsilon >= 0) ||
			       o->cold_round == 0 || !(o->cold_prior >= 0 && o->cold_prior <= 1)))
		return -EINVAL;
	_cleanup_(resultp) struct distiller_result *res = calloc(1, sizeof(*res));
	if (!res)
		return -ENOMEM;
	struct tasks tt = {0};
	int r = pass1(log_path, o, &tt, res);
	free(tt.slot);
	res->tasks = tt.v;
	res->n_tasks = tt.n;
	if (r < 0)
		return r;
	if (res->n_recs == 0)
		return -ENODATA;
	struct drun d = {.o = o, .m = m, .res = res};
	r = run_phases(&d, log_path);
	xgbclf_free(d.clf);
	xgbclf_free(d.rank);
	free(d.f.x);
	free(d.f.start);
	free(d.f.count);
	free(d.mseq);
	free(d.msecs);
	distill_cold_close(&d);
	tvmlog_reader_free(d.rd);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(res);
	return 0;
}
