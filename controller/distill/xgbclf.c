/* xgbclf.c — libxgboost C API wrapper: DMatrix with weights, binary:logistic booster, predict.
 * XGBoost reports -1 plus a message; the message is mapped to an errno once, here. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "xgbclf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <xgboost/c_api.h>

#include "util.h"

static __thread char last_err[256];

const char *xgbclf_last_error(void)
{
	return last_err;
}

/* XGBoost has no error codes, only text: bad parameters and shape checks say "Check failed" or
 * "Invalid", allocation failures mention memory. */
static int xerr(void)
{
	const char *m = XGBGetLastError();
	snprintf(last_err, sizeof(last_err), "%s", m ? m : "unknown XGBoost error");
	char *nl = strchr(last_err, '\n');
	if (nl)
		*nl = '\0';
	if (m && (strstr(m, "bad_alloc") || strstr(m, "memory")))
		return -ENOMEM;
	if (m && (strstr(m, "Check failed") || strstr(m, "Invalid") || strstr(m, "invalid")))
		return -EINVAL;
	return -EIO;
}

struct xgbclf {
	BoosterHandle booster;
	size_t n_cols;
};

void xgbclf_params_default(struct xgbclf_params *p)
{
	*p = (struct xgbclf_params){
	    .rounds = 40, .max_depth = 4, .eta = 0.3, .seed = 0, .nthread = 1};
}

static void dmfree(DMatrixHandle *h)
{
	if (*h)
		XGDMatrixFree(*h);
}

void xgbclf_free(struct xgbclf *c)
{
	if (!c)
		return;
	if (c->booster)
		XGBoosterFree(c->booster);
	free(c);
}

static void xgbclf_freep(struct xgbclf **c)
{
	xgbclf_free(*c);
}

static int set(BoosterHandle b, const char *k, const char *v)
{
	return XGBoosterSetParam(b, k, v) ? xerr() : 0;
}

static int train(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		 const float *weights, const unsigned *group, size_t n_groups,
		 const struct xgbclf_params *p, struct xgbclf **ret);

int xgbclf_train(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		 const float *weights, const struct xgbclf_params *p, struct xgbclf **ret)
{
	if (!labels)
		return -EINVAL;
	for (size_t i = 0; i < n_rows; i++)
		if (labels[i] != 0.0f && labels[i] != 1.0f)
			return -EINVAL;
	return train(x, n_rows, n_cols, labels, weights, NULL, 0, p, ret);
}

int xgbclf_train_rank(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		      const unsigned *group, size_t n_groups, const struct xgbclf_params *p,
		      struct xgbclf **ret)
{
	if (!labels || !group || n_groups == 0)
		return -EINVAL;
	size_t sum = 0;
	for (size_t g = 0; g < n_groups; g++)
		sum += group[g];
	if (sum != n_rows)
		return -EINVAL;
	for (size_t i = 0; i < n_rows; i++)
		if (!(labels[i] >= 0) || !isfinite(labels[i]))
			return -EINVAL;
	return train(x, n_rows, n_cols, labels, NULL, group, n_groups, p, ret);
}

static int train(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		 const float *weights, const unsigned *group, size_t n_groups,
		 const struct xgbclf_params *p, struct xgbclf **ret)
{
	struct xgbclf_params def;
	if (!p) {
		xgbclf_params_default(&def);
		p = &def;
	}
	if (!x || !labels || !ret || n_rows == 0 || n_cols == 0 || p->rounds == 0)
		return -EINVAL;
	bool any_weight = !weights;
	for (size_t i = 0; i < n_rows; i++) {
		if (weights && (!(weights[i] >= 0) || !isfinite(weights[i])))
			return -EINVAL;
		if (weights && weights[i] > 0)
			any_weight = true;
	}
	if (!any_weight)
		return -EDOM;

	_cleanup_(dmfree) DMatrixHandle dm = NULL;
	if (XGDMatrixCreateFromMat(x, n_rows, n_cols, NAN, &dm))
		return xerr();
	if (XGDMatrixSetFloatInfo(dm, "label", labels, n_rows))
		return xerr();
	if (weights && XGDMatrixSetFloatInfo(dm, "weight", weights, n_rows))
		return xerr();
	if (group && XGDMatrixSetUIntInfo(dm, "group", group, n_groups))
		return xerr();

	_cleanup_(xgbclf_freep) struct xgbclf *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->n_cols = n_cols;
	if (XGBoosterCreate(&dm, 1, &c->booster))
		return xerr();
	char buf[32];
	int r;
	if ((r = set(c->booster, "objective", group ? "rank:pairwise" : "binary:logistic")) < 0 ||
	    (r = set(c->booster, "verbosity", "0")) < 0 ||
	    (r = set(c->booster, "tree_method", "exact")) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%u", p->max_depth ? p->max_depth : 4);
	if ((r = set(c->booster, "max_depth", buf)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%g", p->eta > 0 ? p->eta : 0.3);
	if ((r = set(c->booster, "eta", buf)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(p->seed % 2147483647u));
	if ((r = set(c->booster, "seed", buf)) < 0)
		return r;
	snprintf(buf, sizeof(buf), "%u", p->nthread ? p->nthread : 1);
	if ((r = set(c->booster, "nthread", buf)) < 0)
		return r;
	for (unsigned it = 0; it < p->rounds; it++)
		if (XGBoosterUpdateOneIter(c->booster, (int)it, dm))
			return xerr();
	*ret = TAKE_PTR(c);
	return 0;
}

int xgbclf_predict(struct xgbclf *c, const float *x, size_t n_rows, size_t n_cols, float *ret_prob)
{
	if (!c || !x || !ret_prob || n_rows == 0 || n_cols != c->n_cols)
		return -EINVAL;
	_cleanup_(dmfree) DMatrixHandle dm = NULL;
	if (XGDMatrixCreateFromMat(x, n_rows, n_cols, NAN, &dm))
		return xerr();
	bst_ulong len = 0;
	const float *out = NULL;
	if (XGBoosterPredict(c->booster, dm, 0, 0, 0, &len, &out))
		return xerr();
	if (len != n_rows || !out)
		return -EIO;
	memcpy(ret_prob, out, n_rows * sizeof(*out));
	return 0;
}

int xgbclf_predict_leaf(struct xgbclf *c, const float *x, size_t n_rows, size_t n_cols,
			int32_t *ret_leaf, size_t max_trees, size_t *ret_trees)
{
	if (!c || !x || !ret_leaf || !ret_trees || n_rows == 0 || n_cols != c->n_cols)
		return -EINVAL;
	_cleanup_(dmfree) DMatrixHandle dm = NULL;
	if (XGDMatrixCreateFromMat(x, n_rows, n_cols, NAN, &dm))
		return xerr();
	bst_ulong len = 0;
	const float *out = NULL;
	/* option_mask 2: leaf index per tree instead of the prediction. */
	if (XGBoosterPredict(c->booster, dm, 2, 0, 0, &len, &out))
		return xerr();
	if (!out || len == 0 || len % n_rows)
		return -EIO;
	size_t trees = (size_t)len / n_rows;
	if (trees > max_trees)
		return -E2BIG;
	for (size_t i = 0; i < (size_t)len; i++)
		ret_leaf[i] = (int32_t)out[i];
	*ret_trees = trees;
	return 0;
}
