/* distill_cold.h — Trimmer's cold-candidate filter (trimmer-autotuning.txt Alg. 1), the pure part:
 * cosine similarity of leaf embeddings, the LOESS trend that defines "cold", the epsilon schedule.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cosine similarity of two one-hot leaf embeddings (one leaf index per tree, XGBoost pred_leaf):
 * each vector has one 1 per tree, so the cosine is the share of trees where both rows fall in
 * the same leaf, in [0, 1]. 0 for trees == 0. */
double distill_leaf_cosine(const int32_t *a, const int32_t *b, size_t trees);

/* LOESS trend of a task's measured costs in measurement order (local linear fit of log cost on
 * the measurement index, tricube weights over the ceil(span * n) nearest finite points) and the
 * cold marks: ret_cold[i] = cost[i] is above the trend at i. A failed measurement (cost not
 * finite or <= 0) is cold. With fewer than 3 finite costs there is no trend and only the failed
 * ones are cold. ret_trend (may be NULL) gets the trend in seconds, NAN where undefined.
 * -EINVAL for span outside (0, 1]. */
int distill_cold_marks(const double *cost, size_t n, double span, bool *ret_cold,
		       double *ret_trend);
#define DISTILL_COLD_SPAN 0.75 /* LOESS span, R's loess() default */

/* Alg. 1's SIMILARINDATABASE: among the n_db embeddings db[n_db * trees] (the task's measured
 * records), the k most similar to cand (cosine; ties to the earlier record); *ret_cold = how many
 * of those are cold. -ENODATA when n_db < k (too little evidence: the caller keeps the candidate);
 * -EINVAL for k == 0 or k > DISTILL_COLD_MAX_K. */
#define DISTILL_COLD_MAX_K 64
int distill_cold_query(const int32_t *cand, const int32_t *db, const bool *cold, size_t n_db,
		       size_t trees, size_t k, size_t *ret_cold);

/* Filtering probability after `updates` model updates: eps0 * DISTILL_EPS_DECAY^updates (the
 * paper's "inverse epsilon-greedy": filter much early, explore more once the model is stable). */
#define DISTILL_EPS_DECAY 0.8
double distill_cold_epsilon(double eps0, unsigned updates);
/* The schedule by phase: in the alpha sample distill_cold_epsilon(eps0, updates); in the survey
 * eps0, held (the decayed value is ~0.05 by then and would leave the survey unfiltered). */
double distill_cold_epsilon_at(double eps0, unsigned updates, bool survey);

/* The survey's rule: drop a candidate whose probability of being cold under the embedding model
 * (the leaf evidence of the measured records that share its leaves) is above thr. Never drops for
 * thr >= 1 or a probability that is not a number. */
#define DISTILL_COLD_PRIOR 0.8
bool distill_cold_prior_drop(double p_cold, double thr);

/* The stratified alpha sample's draw: among n spares with the embedding model's probability of
 * being cold p[n] and cloud cost cloud[n], the index of the least likely cold one (ties: the
 * better cloud cost, then the lower index); SIZE_MAX for n == 0. */
size_t distill_cold_pick(const float *p, const double *cloud, size_t n);
