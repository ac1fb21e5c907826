/* distiller.c — drives the distillation pipeline over a log file: the I/O (streaming reads, pread
 * of survivors, measurements, XGBoost) around the pure steps of policy/distill.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "distiller.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>

#include "tvmlog.h"
#include "util.h"

void distiller_opts_default(struct distiller_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->first.threshold = 0.4;
	o->alpha = 0.15;
	o->beta = 1.0;
	o->seed = 1;
	o->min_sample = 2;
	o->batch = 12;
	o->phi = DISTILL_PHI_DEFAULT;
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
	x->edge_best = x->cloud_best_edge = x->random_best = x->all_best = INFINITY;
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

/* --- features --------------------------------------------------------------------------- */

struct feats {
	float *x; /* rows x DISTILL_N_FEATURES (or the file's width) */
	size_t n_rows, cap, width;
	size_t *start;	/* per rec: first row, SIZE_MAX if none */
	uint8_t *count; /* per rec: rows */
};

static int feats_push(struct feats *f, size_t rec, const float *rows, size_t n)
{
	if (f->n_rows + n > f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 4096;
		while (nc < f->n_rows + n)
			nc *= 2;
		float *nx = realloc(f->x, nc * f->width * sizeof(float));
		if (!nx)
			return -ENOMEM;
		f->x = nx;
		f->cap = nc;
	}
	if (f->start[rec] == SIZE_MAX)
		f->start[rec] = f->n_rows;
	memcpy(f->x + f->n_rows * f->width, rows, n * f->width * sizeof(float));
	f->n_rows += n;
	f->count[rec] = (uint8_t)(f->count[rec] + n > 255 ? 255 : f->count[rec] + n);
	return 0;
}

/* Computes the feature rows of records recs[] from their log lines. Only the records at hand
 * (the sample, then one chunk of the survivors at a time) hold rows, so memory does not grow
 * with the log beyond the per-record index. */
static int features_from_log(struct tvmlog_reader *rd, struct distiller_result *res,
			     struct feats *f, const size_t *recs, size_t n_recs)
{
	f->width = DISTILL_N_FEATURES;
	for (size_t k = 0; k < n_recs; k++) {
		struct distill_rec *x = &res->recs[recs[k]];
		_cleanup_free_ char *line = NULL;
		int r = tvmlog_reader_pread(rd, x->offset, x->length, &line);
		if (r < 0)
			return r;
		struct tvmlog_record rec;
		r = tvmlog_parse_line(line, x->length, &rec, NULL, 0);
		if (r < 0)
			return -EIO; /* it parsed in pass 1: the file changed */
		float rows[DISTILL_MAX_ROWS][DISTILL_N_FEATURES];
		size_t n = distill_features(rec.steps, rec.n_steps, rec.shape, rec.n_shape, rows);
		tvmlog_record_done(&rec);
		r = feats_push(f, recs[k], &rows[0][0], n);
		if (r < 0)
			return r;
		res->n_rows += n;
	}
	return 0;
}

static void feats_forget(struct feats *f, const size_t *recs, size_t n_recs)
{
	for (size_t k = 0; k < n_recs; k++) {
		f->start[recs[k]] = SIZE_MAX;
		f->count[recs[k]] = 0;
	}
	f->n_rows = 0;
}

int distiller_parse_feature_line(const char *s, size_t len, unsigned long long *ret_line,
				 float *ret_row, size_t *ret_n)
{
	/* strtoull/strtof need a terminated string and a line may not be. */
	char buf[8192];
	if (len >= sizeof(buf))
		return -E2BIG;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *p = buf, *end;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '#' || *p == '\n' || *p == '\r' || !*p)
		return -ENODATA;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long ln = strtoull(p, &end, 10);
	if (errno || end == p || ln == 0)
		return -EINVAL;
	size_t k = 0;
	p = end;
	for (;;) {
		bool sep = false;
		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r') {
			p++;
			sep = true;
		}
		if (!*p || *p == '\n')
			break;
		if (!sep)
			return -EINVAL; /* "12x" or "1.5.3" */
		if (k == DISTILLER_MAX_FEATURES)
			return -E2BIG;
		float v = strtof(p, &end);
		if (end == p || !isfinite(v))
			return -EINVAL;
		ret_row[k++] = v;
		p = end;
	}
	if (k == 0)
		return -EINVAL;
	*ret_line = ln;
	*ret_n = k;
	return 0;
}

/* Features file: "LINE f1 f2 ... fk" per row, '#' comments; several rows per log line vote. */
static int features_from_file(const char *path, struct distiller_result *res, struct feats *f,
			      const struct distiller_opts *o)
{
	_cleanup_fclose_ FILE *fp = fopen(path, "re");
	if (!fp)
		return negative_errno();
	/* Log line -> rec index; recs are in line order, so binary search. */
	_cleanup_free_ char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t lineno = 0;
	f->width = 0;
	while ((n = getline(&buf, &cap, fp)) >= 0) {
		lineno++;
		float row[DISTILLER_MAX_FEATURES];
		size_t k = 0;
		unsigned long long ln;
		int q = distiller_parse_feature_line(buf, (size_t)n, &ln, row, &k);
		if (q == -ENODATA)
			continue;
		if (q < 0) {
			if (o->diag) {
				char msg[512];
				snprintf(msg, sizeof(msg), "%s:%llu: %s", path,
					 (unsigned long long)lineno,
					 q == -E2BIG ? "more than 256 features"
						     : "expected LOGLINE followed by numbers");
				o->diag(o->ud, 0, q, msg);
			}
			return q;
		}
		if (f->width && k != f->width) {
			if (o->diag) {
				char msg[512];
				snprintf(
				    msg, sizeof(msg),
				    "%s:%llu: every row needs the same number of features (%zu)",
				    path, (unsigned long long)lineno, f->width);
				o->diag(o->ud, 0, -EINVAL, msg);
			}
			return -EINVAL;
		}
		if (!f->width) {
			f->width = k;
		}
		size_t lo = 0, hi = res->n_recs;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (res->recs[mid].line < ln)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo == res->n_recs || res->recs[lo].line != ln ||
		    !(res->recs[lo].flags & DISTILL_F_SURVIVOR))
			continue; /* not a first-step survivor: never classified */
		int r = feats_push(f, lo, row, 1);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < res->n_recs; i++)
		if ((res->recs[i].flags & DISTILL_F_SURVIVOR) && f->count[i] == 0) {
			if (o->diag)
				o->diag(o->ud, res->recs[i].line, -ENOENT,
					"features file has no row for this record");
			return -ENOENT;
		}
	return 0;
}

/* --- measurement ------------------------------------------------------------------------ */

static int measure_rec(struct tvmlog_reader *rd, struct measurer *m, const struct distill_rec *x,
		       uint64_t id, double *ret_cost, double *secs)
{
	_cleanup_free_ char *line = NULL;
	int r = tvmlog_reader_pread(rd, x->offset, x->length, &line);
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
	r = measurer_measure(m, id, line, x->length, &rec, costs, &n, &eno);
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

static int measure_into(struct tvmlog_reader *rd, struct measurer *m, struct distiller_result *res,
			size_t i)
{
	struct distill_rec *x = &res->recs[i];
	double c;
	int r = measure_rec(rd, m, x, x->line, &c, &res->measure_seconds);
	if (r < 0)
		return r;
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

/* --- classifier ------------------------------------------------------------------------- */

#define PREDICT_CHUNK 4096

struct trainset {
	float *x, *y, *w;
	size_t n;
};

static void trainset_done(struct trainset *s)
{
	free(s->x);
	free(s->y);
	free(s->w);
}

/* Rows of the given records (labels/weights per record copied to each of its rows). */
static int build_rows(const struct feats *f, const size_t *recs, size_t n_recs, const float *lab,
		      const float *wt, struct trainset *ret)
{
	size_t n = 0;
	for (size_t k = 0; k < n_recs; k++)
		n += f->count[recs[k]];
	struct trainset s = {0};
	s.x = malloc((n ? n : 1) * f->width * sizeof(float));
	s.y = malloc((n ? n : 1) * sizeof(float));
	s.w = malloc((n ? n : 1) * sizeof(float));
	if (!s.x || !s.y || !s.w) {
		trainset_done(&s);
		return -ENOMEM;
	}
	for (size_t k = 0; k < n_recs; k++) {
		size_t i = recs[k];
		for (size_t q = 0; q < f->count[i]; q++) {
			memcpy(s.x + s.n * f->width, f->x + (f->start[i] + q) * f->width,
			       f->width * sizeof(float));
			s.y[s.n] = lab ? lab[k] : 0;
			s.w[s.n] = wt ? wt[k] : 1;
			s.n++;
		}
	}
	*ret = s;
	return 0;
}

/* Votes of the given records under classifier c into ret_friendly / ret_mean. */
static int predict_recs(struct xgbclf *c, const struct feats *f, const size_t *recs, size_t n_recs,
			bool *ret_friendly, float *ret_mean)
{
	struct trainset s;
	int r = build_rows(f, recs, n_recs, NULL, NULL, &s);
	if (r < 0)
		return r;
	_cleanup_free_ float *p = malloc((s.n ? s.n : 1) * sizeof(float));
	if (!p) {
		trainset_done(&s);
		return -ENOMEM;
	}
	if (s.n)
		r = xgbclf_predict(c, s.x, s.n, f->width, p);
	trainset_done(&s);
	if (r < 0)
		return r;
	size_t row = 0;
	for (size_t k = 0; k < n_recs; k++) {
		size_t cnt = f->count[recs[k]];
		ret_friendly[k] = distill_vote(p + row, cnt, &ret_mean[k]);
		row += cnt;
	}
	return 0;
}

/* Trains on records idx[] with lab/wt; a sample with one class only trains a constant model,
 * which XGBoost handles (base score), so no special case is needed. */
static int train_recs(const struct feats *f, const size_t *idx, size_t n, const float *lab,
		      const float *wt, const struct xgbclf_params *p, struct xgbclf **ret)
{
	struct trainset s;
	int r = build_rows(f, idx, n, lab, wt, &s);
	if (r < 0)
		return r;
	r = s.n ? xgbclf_train(s.x, s.n, f->width, s.y, s.w, p, ret) : -ENODATA;
	trainset_done(&s);
	return r;
}

/* --- the pipeline ----------------------------------------------------------------------- */

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

static double model_latency(const struct distiller_result *res)
{
	double f = 0;
	for (size_t t = 0; t < res->n_tasks; t++)
		if (isfinite(res->tasks[t].edge_best))
			f += res->tasks[t].edge_best;
	return f;
}

static int baselines(struct tvmlog_reader *rd, struct measurer *m, struct distiller_result *res,
		     const struct distiller_opts *o)
{
	size_t n = res->n_recs;
	_cleanup_free_ double *edge = malloc((n ? n : 1) * sizeof(double));
	if (!edge)
		return -ENOMEM;
	double secs = 0, dummy = 0;
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
		int r = measure_rec(rd, m, x, x->line, &edge[i], &secs);
		if (r < 0)
			return r;
		res->baseline_measurements++;
		if (o->progress && (++done & 0xff) == 0)
			o->progress(o->ud, "baselines", done, res->n_survivors);
	}
	res->all_seconds = res->measure_seconds + secs;
	(void)dummy;
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
	}
	return 0;
}

/* Survey tuning over the predicted records: epochs of `batch` records per task, round robin.
 * Model scope: one rule on the sum of the tasks' best costs stops everything. Task scope: the
 * same rule on each task's own best cost and measuring time suspends that task alone. */
static int survey(struct tvmlog_reader *rd, struct measurer *m, struct distiller_result *res,
		  const struct distiller_opts *o, const size_t *order, size_t *pos,
		  const size_t *end, size_t total)
{
	size_t nt = res->n_tasks, done = 0;
	_cleanup_free_ double *tf = calloc(nt, sizeof(double)), *tx = calloc(nt, sizeof(double));
	_cleanup_free_ double *tsec = calloc(nt, sizeof(double));
	_cleanup_free_ size_t *tep = calloc(nt, sizeof(size_t));
	_cleanup_free_ bool *off = calloc(nt, sizeof(bool));
	if (!tf || !tx || !tsec || !tep || !off)
		return -ENOMEM;
	for (size_t t = 0; t < nt; t++)
		tf[t] = res->tasks[t].edge_best;
	double f_prev = model_latency(res), x_prev = 0;
	for (;;) {
		bool any = false;
		double t0 = res->measure_seconds;
		for (size_t t = 0; t < nt; t++) {
			double ts = res->measure_seconds;
			bool did = false;
			for (size_t b = 0; b < o->batch && pos[t] < end[t] && !off[t]; b++) {
				int r = measure_into(rd, m, res, order[pos[t]++]);
				if (r < 0)
					return r;
				res->n_predicted_measured++;
				any = did = true;
				if (o->progress)
					o->progress(o->ud, "survey", ++done, total);
			}
			if (!did || o->survey_model || o->no_stop)
				continue;
			double ft = res->tasks[t].edge_best, xt, dt = res->measure_seconds - ts;
			/* A task without any finite cost yet has no latency to compare. */
			if (!isfinite(ft) || !isfinite(tf[t]) ||
			    distill_survey_x(ft - tf[t], dt > 0 ? dt : 1e-9, &xt) < 0)
				xt = 0;
			if (++tep[t] >= 2 && distill_survey_stop(tx[t], xt, o->phi)) {
				off[t] = true;
				if (pos[t] < end[t])
					res->n_tasks_suspended++;
			}
			tx[t] = xt;
			tf[t] = ft;
		}
		if (!any)
			break;
		res->n_epochs++;
		if (!o->survey_model || o->no_stop)
			continue;
		double f_t = model_latency(res), x_t, dt = res->measure_seconds - t0;
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
		res->stopped_early |= off[t] && pos[t] < end[t];
	return 0;
}

int distiller_run(const char *log_path, const struct distiller_opts *o, struct measurer *m,
		  struct distiller_result **ret)
{
	if (!log_path || !o || !m || !ret)
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

	size_t n = res->n_recs, nt = res->n_tasks;
	for (size_t i = 0; i < n; i++) {
		struct distiller_task *t = &res->tasks[res->recs[i].task];
		if (res->recs[i].cloud < t->cloud_min) {
			t->cloud_min = res->recs[i].cloud;
			t->cloud_best = i;
		}
	}

	/* Step 2: first-step filter. */
	r = distill_first_step(res->recs, n, nt, &o->first, &res->n_survivors);
	if (r < 0)
		return r;
	/* Step 3: alpha sample. */
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

	struct tvmlog_reader *rd;
	r = tvmlog_reader_open(log_path, &rd);
	if (r < 0)
		return r;
	struct feats f = {0};
	_cleanup_free_ size_t *idx = NULL;
	_cleanup_free_ struct cand *cands = NULL;
	_cleanup_free_ double *score = NULL;
	_cleanup_free_ float *lab = NULL, *wt = NULL, *mean = NULL;
	_cleanup_free_ bool *fr = NULL;
	_cleanup_free_ double *emin = NULL, *cmin = NULL;
	_cleanup_free_ size_t *pos = NULL, *head = NULL, *order = NULL;
	_cleanup_free_ size_t *cnt = NULL;
	struct xgbclf *clf = NULL, *rank = NULL;
	_cleanup_free_ float *mean2 = NULL;
	_cleanup_free_ bool *fr2 = NULL;
	f.start = malloc(n * sizeof(size_t));
	f.count = calloc(n, 1);
	idx = malloc(n * sizeof(size_t));
	score = malloc(n * sizeof(double));
	lab = malloc(n * sizeof(float));
	wt = malloc(n * sizeof(float));
	mean = malloc(n * sizeof(float));
	fr = malloc(n * sizeof(bool));
	fr2 = malloc(n * sizeof(bool));
	mean2 = malloc(n * sizeof(float));
	cands = malloc(n * sizeof(struct cand));
	emin = malloc(nt * sizeof(double));
	cmin = malloc(nt * sizeof(double));
	if (!f.start || !f.count || !idx || !score || !lab || !wt || !mean || !fr || !cands ||
	    !emin || !fr2 || !mean2 || !cmin) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		f.start[i] = SIZE_MAX;
	if (o->features) {
		r = features_from_file(o->features, res, &f, o);
		if (r < 0)
			goto out;
		res->n_rows = f.n_rows;
	}

	/* Measure the sample, task by task in turn so a long run shows every task early. */
	size_t ns = 0;
	for (size_t i = 0; i < n; i++)
		if (res->recs[i].flags & DISTILL_F_SAMPLED)
			idx[ns++] = i;
	if (!o->features) {
		r = features_from_log(rd, res, &f, idx, ns);
		if (r < 0)
			goto out;
	}
	for (size_t k = 0; k < ns; k++) {
		r = measure_into(rd, m, res, idx[k]);
		if (r < 0)
			goto out;
		if (o->progress)
			o->progress(o->ud, "sample", k + 1, ns);
	}

	/* Step 4: eq. 2/3 scores, labels, weights. Both minima are over the measured sample (the
	 * records being normalized), so the sample's cloud best scores its edge score, <= 1. */
	for (size_t t = 0; t < nt; t++)
		emin[t] = cmin[t] = INFINITY;
	for (size_t k = 0; k < ns; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		if (x->edge < emin[x->task])
			emin[x->task] = x->edge;
		if (x->cloud < cmin[x->task])
			cmin[x->task] = x->cloud;
	}
	size_t nl = 0;
	for (size_t k = 0; k < ns; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		double s;
		if (!isfinite(x->edge) || !isfinite(emin[x->task]))
			s = 0; /* failed on the edge: as unfriendly as it gets */
		else if (distill_score(x->cloud, cmin[x->task], x->edge, emin[x->task], &s) < 0)
			s = 0;
		idx[nl] = idx[k];
		score[nl++] = s;
	}
	distill_label(score, nl, o->beta, lab, wt);
	for (size_t k = 0; k < nl; k++)
		if (lab[k] > 0)
			res->recs[idx[k]].flags |= DISTILL_F_LABEL;

	/* Held-out quality: 2-fold cross-validation on the sample. */
	if (nl >= 4) {
		_cleanup_free_ size_t *fold_idx = malloc(nl * sizeof(size_t));
		_cleanup_free_ float *fl = malloc(nl * sizeof(float)),
				     *fw = malloc(nl * sizeof(float));
		if (!fold_idx || !fl || !fw) {
			r = -ENOMEM;
			goto out;
		}
		for (int fold = 0; fold < 2; fold++) {
			size_t ntr = 0, nte = 0;
			for (size_t k = 0; k < nl; k++)
				if ((int)(k & 1) != fold) {
					fold_idx[ntr] = idx[k];
					fl[ntr] = lab[k];
					fw[ntr++] = wt[k];
				}
			struct xgbclf *c2 = NULL;
			r = train_recs(&f, fold_idx, ntr, fl, fw, &o->xgb, &c2);
			if (r == -EDOM)
				continue;
			if (r < 0)
				goto out;
			for (size_t k = 0; k < nl; k++)
				if ((int)(k & 1) == fold)
					fold_idx[nte++] = idx[k];
			r = predict_recs(c2, &f, fold_idx, nte, fr, mean);
			xgbclf_free(c2);
			if (r < 0)
				goto out;
			for (size_t k = 0, q = 0; k < nl; k++) {
				if ((int)(k & 1) != fold)
					continue;
				bool truth = lab[k] > 0, pred = fr[q++];
				res->tp += truth && pred;
				res->fp += !truth && pred;
				res->fn += truth && !pred;
				res->tn += !truth && !pred;
			}
		}
	}
	res->precision = res->tp + res->fp ? (double)res->tp / (double)(res->tp + res->fp) : NAN;
	res->recall = res->tp + res->fn ? (double)res->tp / (double)(res->tp + res->fn) : NAN;

	/* Step 5: train on the whole sample. */
	r = train_recs(&f, idx, nl, lab, wt, &o->xgb, &clf);
	if (r < 0 && r != -EDOM)
		goto out;

	/* Measurement order within a task: a second classifier on the paper's "excellent" records
	 * (edge score, eq. 2, >= 0.9; its Fig. 10 metric) ranks what the first one lets through. */
	for (size_t k = 0; k < nl; k++) {
		struct distill_rec *x = &res->recs[idx[k]];
		lab[k] =
		    isfinite(x->edge) && distill_norm(emin[x->task], x->edge) >= DISTILL_EXCELLENT;
		wt[k] = 1;
	}
	r = train_recs(&f, idx, nl, lab, wt, &o->xgb, &rank);
	if (r < 0 && r != -EDOM)
		goto out;

	/* Step 6: predict the unsampled survivors and vote, a chunk of records at a time. */
	if (!o->features)
		feats_forget(&f, idx, nl);
	size_t np = 0;
	for (size_t i = 0; i < n; i++)
		if ((res->recs[i].flags & DISTILL_F_SURVIVOR) &&
		    !(res->recs[i].flags & DISTILL_F_SAMPLED))
			idx[np++] = i;
	for (size_t k = 0; k < np; k++) {
		fr[k] = false;
		mean[k] = mean2[k] = 0;
	}
	for (size_t c0 = 0; c0 < np && (clf || rank); c0 += PREDICT_CHUNK) {
		size_t cn = np - c0 < PREDICT_CHUNK ? np - c0 : PREDICT_CHUNK;
		if (!o->features) {
			r = features_from_log(rd, res, &f, idx + c0, cn);
			if (r < 0)
				goto out;
		}
		if (clf && (r = predict_recs(clf, &f, idx + c0, cn, fr + c0, mean + c0)) < 0)
			goto out;
		if (rank && (r = predict_recs(rank, &f, idx + c0, cn, fr2 + c0, mean2 + c0)) < 0)
			goto out;
		if (!o->features)
			feats_forget(&f, idx + c0, cn);
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
		double prio = rank
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

	/* Survey tuning: epochs of `batch` records per task, round robin; stop by Trimmer's rule.
	 */
	pos = calloc(nt, sizeof(size_t));
	head = malloc(nt * sizeof(size_t));
	order = malloc((nc ? nc : 1) * sizeof(size_t));
	if (!pos || !head || !order) {
		r = -ENOMEM;
		goto out;
	}
	/* Bucket candidates per task keeping priority order. */
	{
		cnt = calloc(nt + 1, sizeof(size_t));
		if (!cnt) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t k = 0; k < nc; k++)
			cnt[res->recs[cands[k].rec].task + 1]++;
		for (size_t t = 0; t < nt; t++)
			cnt[t + 1] += cnt[t];
		for (size_t t = 0; t < nt; t++)
			head[t] = cnt[t];
		for (size_t k = 0; k < nc; k++)
			order[cnt[res->recs[cands[k].rec].task]++] = cands[k].rec;
		for (size_t t = 0; t < nt; t++)
			pos[t] = head[t];
		/* cnt[t] now is the end of task t's bucket. */
		r = survey(rd, m, res, o, order, pos, cnt, nc);
		if (r < 0)
			goto out;
	}
	res->est_all_seconds = res->n_measured ? res->measure_seconds / (double)res->n_measured *
						     (double)res->n_survivors
					       : 0;

	if (o->compare) {
		r = baselines(rd, m, res, o);
		if (r < 0)
			goto out;
	}
	*ret = TAKE_PTR(res);
	r = 0;
out:
	xgbclf_free(clf);
	xgbclf_free(rank);
	free(f.x);
	free(f.start);
	free(f.count);
	tvmlog_reader_free(rd);
	return r;
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
		_cleanup_free_ char *line = NULL, *fixed = NULL;
		r = tvmlog_reader_pread(rd, x->offset, x->length, &line);
		if (r < 0)
			break;
		r = tvmlog_format_with_costs(line, x->length, &x->edge, 1, &fixed);
		if (r < 0)
			break;
		fprintf(mf, "%s\n", fixed);
	}
	tvmlog_reader_free(rd);
	if (fclose(mf) != 0 && r >= 0)
		r = -ENOMEM;
	if (r >= 0)
		r = write_file_atomic_at(AT_FDCWD, out_path, out ? out : "", out_len, 0644);
	free(out);
	return r < 0 ? r : 0;
}
