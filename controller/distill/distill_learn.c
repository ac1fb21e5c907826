/* distill_learn.c — the distiller's learning side: feature rows (computed from the log or read
 * from a features file), XGBoost training, voting predictions, leaf embeddings, cross-validation.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <errno.h>
#include <math.h>
#include <string.h>

#include "distill_priv.h"
#include "util.h"

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
int distill_feats_from_log(struct drun *d, const size_t *recs, size_t n_recs)
{
	struct distiller_result *res = d->res;
	struct feats *f = &d->f;
	f->width = DISTILL_N_FEATURES;
	for (size_t k = 0; k < n_recs; k++) {
		struct distill_rec *x = &res->recs[recs[k]];
		_cleanup_free_ char *line = NULL;
		int r = tvmlog_reader_pread(d->rd, x->offset, x->length, &line);
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

void distill_feats_forget(struct feats *f, const size_t *recs, size_t n_recs)
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
int distill_feats_from_file(struct drun *d, const char *path)
{
	struct distiller_result *res = d->res;
	struct feats *f = &d->f;
	const struct distiller_opts *o = d->o;
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
int distill_predict_recs(struct xgbclf *c, const struct feats *f, const size_t *recs, size_t n_recs,
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
int distill_train_recs(const struct feats *f, const size_t *idx, size_t n, const float *lab,
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

struct by_task {
	const struct distill_rec *recs;
	const size_t *idx;
};

static int cmp_task(const void *a, const void *b, void *ud)
{
	const struct by_task *c = ud;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	uint32_t tx = c->recs[c->idx[x]].task, ty = c->recs[c->idx[y]].task;
	if (tx != ty)
		return tx < ty ? -1 : 1;
	return x < y ? -1 : x > y;
}

int distill_train_rank_recs(const struct distill_rec *recs, const struct feats *f,
			    const size_t *idx, size_t n, const double *rel,
			    const struct xgbclf_params *p, struct xgbclf **ret)
{
	/* XGBoost wants each query group's rows together: order the records by task. */
	_cleanup_free_ size_t *pos = malloc((n ? n : 1) * sizeof(size_t));
	_cleanup_free_ size_t *sorted = malloc((n ? n : 1) * sizeof(size_t));
	_cleanup_free_ float *lab = malloc((n ? n : 1) * sizeof(float));
	_cleanup_free_ unsigned *group = calloc(n ? n : 1, sizeof(unsigned));
	if (!pos || !sorted || !lab || !group)
		return -ENOMEM;
	for (size_t k = 0; k < n; k++)
		pos[k] = k;
	struct by_task ctx = {.recs = recs, .idx = idx};
	qsort_r(pos, n, sizeof(size_t), cmp_task, &ctx);
	for (size_t k = 0; k < n; k++) {
		sorted[k] = idx[pos[k]];
		lab[k] = (float)rel[pos[k]];
	}
	size_t ng = 0;
	for (size_t k = 0; k < n; k++) {
		if (k == 0 || recs[sorted[k]].task != recs[sorted[k - 1]].task)
			ng++;
		group[ng - 1] += f->count[sorted[k]];
	}
	struct trainset s;
	int r = build_rows(f, sorted, n, lab, NULL, &s);
	if (r < 0)
		return r;
	r = s.n ? xgbclf_train_rank(s.x, s.n, f->width, s.y, group, ng, p, ret) : -ENODATA;
	trainset_done(&s);
	return r;
}

int distill_leaf_recs(struct xgbclf *c, const struct feats *f, const size_t *recs, size_t n_recs,
		      int32_t *ret_leaf, size_t max_trees, size_t *ret_trees)
{
	if (n_recs == 0) {
		*ret_trees = 0;
		return 0;
	}
	_cleanup_free_ float *x = malloc(n_recs * f->width * sizeof(float));
	if (!x)
		return -ENOMEM;
	for (size_t k = 0; k < n_recs; k++) {
		if (f->count[recs[k]] == 0)
			return -ENOENT;
		memcpy(x + k * f->width, f->x + f->start[recs[k]] * f->width,
		       f->width * sizeof(float));
	}
	return xgbclf_predict_leaf(c, x, n_recs, f->width, ret_leaf, max_trees, ret_trees);
}

/* Held-out quality: a classifier trained on one half of the sample predicts the other half. */
int distill_crossval(struct drun *d, const size_t *idx, size_t nl, const float *lab,
		     const float *wt)
{
	struct distiller_result *res = d->res;
	const struct feats *f = &d->f;
	if (nl >= 4) {
		_cleanup_free_ bool *fr = malloc(nl * sizeof(bool));
		_cleanup_free_ float *mean = malloc(nl * sizeof(float));
		_cleanup_free_ size_t *fold_idx = malloc(nl * sizeof(size_t));
		_cleanup_free_ float *fl = malloc(nl * sizeof(float)),
				     *fw = malloc(nl * sizeof(float));
		if (!fr || !mean || !fold_idx || !fl || !fw)
			return -ENOMEM;
		for (int fold = 0; fold < 2; fold++) {
			size_t ntr = 0, nte = 0;
			for (size_t k = 0; k < nl; k++)
				if ((int)(k & 1) != fold) {
					fold_idx[ntr] = idx[k];
					fl[ntr] = lab[k];
					fw[ntr++] = wt[k];
				}
			struct xgbclf *c2 = NULL;
			int r = distill_train_recs(f, fold_idx, ntr, fl, fw, &d->o->xgb, &c2);
			if (r == -EDOM)
				continue;
			if (r < 0)
				return r;
			for (size_t k = 0; k < nl; k++)
				if ((int)(k & 1) == fold)
					fold_idx[nte++] = idx[k];
			r = distill_predict_recs(c2, f, fold_idx, nte, fr, mean);
			xgbclf_free(c2);
			if (r < 0)
				return r;
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
	return 0;
}
