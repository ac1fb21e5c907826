/* xgbclf.h — a weighted binary XGBoost classifier over dense float rows, through libxgboost's C
 * API; every XGBoost failure comes back as -errno (the library's message via xgbclf_last_error). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct xgbclf_params {
	unsigned rounds;    /* boosting rounds (default 40) */
	unsigned max_depth; /* default 4 */
	double eta;	    /* default 0.3 */
	uint64_t seed;
	unsigned nthread; /* default 1: deterministic and polite on a shared edge box */
};
void xgbclf_params_default(struct xgbclf_params *p);

struct xgbclf;

/* Trains on n_rows x n_cols row-major features with 0/1 labels and non-negative weights
 * (weights may be NULL). -EINVAL for empty or inconsistent input, -EDOM if every weight is 0. */
int xgbclf_train(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		 const float *weights, const struct xgbclf_params *p, struct xgbclf **ret);
/* A ranking model (rank:pairwise): rows come in n_groups consecutive groups of group[g] rows;
 * pairs are formed inside a group from the labels (any non-negative relevance). Predictions are
 * scores: only their order within a group means anything. */
int xgbclf_train_rank(const float *x, size_t n_rows, size_t n_cols, const float *labels,
		      const unsigned *group, size_t n_groups, const struct xgbclf_params *p,
		      struct xgbclf **ret);
/* Probability of label 1 per row into ret_prob[n_rows] (a ranking model: its score). */
int xgbclf_predict(struct xgbclf *c, const float *x, size_t n_rows, size_t n_cols, float *ret_prob);
/* Leaf index of every row in every tree (XGBoost's pred_leaf): ret_leaf[n_rows * trees], row
 * major; *ret_trees = boosting rounds. The rows' embedding for similarity queries. */
int xgbclf_predict_leaf(struct xgbclf *c, const float *x, size_t n_rows, size_t n_cols,
			int32_t *ret_leaf, size_t max_trees, size_t *ret_trees);
void xgbclf_free(struct xgbclf *c);
/* The last XGBoost message seen by this thread ("" if none). */
const char *xgbclf_last_error(void);
