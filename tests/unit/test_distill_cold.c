/* test_distill_cold.c — Trimmer's cold-candidate filter, pure part, on hand-computed inputs: the
 * leaf cosine, the k-nearest query, the LOESS cold rule and the epsilon schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "distill_cold.h"

static void test_cosine(void **state)
{
	const int32_t a[] = {1, 2, 3, 4}, b[] = {1, 2, 5, 4}, c[] = {0, 0, 0, 0};
	assert_float_equal(distill_leaf_cosine(a, a, 4), 1.0, 1e-12);
	assert_float_equal(distill_leaf_cosine(a, b, 4), 0.75, 1e-12); /* 3 of 4 trees agree */
	assert_float_equal(distill_leaf_cosine(a, c, 4), 0.0, 1e-12);
	assert_float_equal(distill_leaf_cosine(a, b, 0), 0.0, 1e-12);
}

static void test_query(void **state)
{
	/* Database of 5 records, 4 trees each. Similarity to cand {1,1,1,1}:
	 * r0 1.0 (cold), r1 0.75 (cold), r2 0.5 (hot), r3 0.25 (cold), r4 0.75 (hot). */
	const int32_t db[] = {1, 1, 1, 1, 1, 1, 1, 2, 1, 1, 2, 2, 1, 2, 2, 2, 2, 1, 1, 1};
	const bool cold[] = {true, true, false, true, false};
	const int32_t cand[] = {1, 1, 1, 1};
	size_t n = 99;
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 1, &n), 0);
	assert_int_equal(n, 1); /* r0 */
	/* k = 2: r0 and r1 (0.75, tie with r4 goes to the earlier record) — all cold. */
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 2, &n), 0);
	assert_int_equal(n, 2);
	/* k = 3: r0 r1 r4 — two of three cold: not filtered by Alg. 1 (o != k). */
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 3, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 5, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 6, &n), -ENODATA);
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, 0, &n), -EINVAL);
	assert_int_equal(distill_cold_query(cand, db, cold, 5, 4, DISTILL_COLD_MAX_K + 1, &n),
			 -EINVAL);
}

static void test_cold_marks(void **state)
{
	bool cold[7];
	double trend[7];
	/* A flat trend with one slow record: only that one is above the trend. Trend values
	 * computed by hand (window of 4 nearest, tricube weights, local line on log cost). */
	const double flat[] = {1, 1, 1, 2, 1, 1, 1};
	assert_int_equal(distill_cold_marks(flat, 7, 0.5, cold, trend), 0);
	for (int i = 0; i < 7; i++)
		assert_int_equal(cold[i], i == 3);
	assert_float_equal(trend[0], 1.0, 1e-6);
	assert_float_equal(trend[2], 1.21953, 1e-4);
	assert_float_equal(trend[3], 1.34476, 1e-4);
	/* Alternating fast/slow over the whole span: the slow ones are cold. */
	const double alt[] = {1, 2, 1, 2, 1, 2};
	assert_int_equal(distill_cold_marks(alt, 6, 1.0, cold, trend), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(cold[i], i % 2 == 1);
	assert_float_equal(trend[1], 1.31607, 1e-4);
	/* A clean exponential trend (a line in log cost): nothing is above it. */
	const double line[] = {1, 2, 4, 8, 16};
	assert_int_equal(distill_cold_marks(line, 5, 0.75, cold, NULL), 0);
	for (int i = 0; i < 5; i++)
		assert_false(cold[i]);
	/* Failed measurements are cold and do not enter the fit; too few points: no trend. */
	const double failed[] = {1, INFINITY, 2};
	assert_int_equal(distill_cold_marks(failed, 3, 0.75, cold, trend), 0);
	assert_false(cold[0]);
	assert_true(cold[1]);
	assert_false(cold[2]);
	assert_true(isnan(trend[0]));
	assert_int_equal(distill_cold_marks(flat, 7, 0, cold, NULL), -EINVAL);
	assert_int_equal(distill_cold_marks(flat, 7, 1.5, cold, NULL), -EINVAL);
	assert_int_equal(distill_cold_marks(NULL, 0, 0.75, NULL, NULL), 0);
}

static void test_epsilon(void **state)
{
	assert_float_equal(distill_cold_epsilon(0.9, 0), 0.9, 1e-12);
	assert_float_equal(distill_cold_epsilon(0.9, 1), 0.72, 1e-12);
	assert_float_equal(distill_cold_epsilon(0.9, 2), 0.576, 1e-12);
	assert_float_equal(distill_cold_epsilon(1.0, 10), 0.1073741824, 1e-12);
	assert_float_equal(distill_cold_epsilon(0, 3), 0, 1e-12);
}

static void test_epsilon_at(void **state)
{
	/* Alpha sample: the decayed schedule; survey: eps0 whatever the updates so far. */
	assert_float_equal(distill_cold_epsilon_at(1.0, 2, false), 0.64, 1e-12);
	assert_float_equal(distill_cold_epsilon_at(0.9, 1, false), 0.72, 1e-12);
	assert_float_equal(distill_cold_epsilon_at(1.0, 13, true), 1.0, 1e-12);
	assert_float_equal(distill_cold_epsilon_at(0.5, 0, true), 0.5, 1e-12);
	assert_float_equal(distill_cold_epsilon_at(0, 4, true), 0, 1e-12);
}

static void test_prior_drop(void **state)
{
	/* Strictly above the threshold drops; 1 never drops; NAN never drops. */
	assert_true(distill_cold_prior_drop(0.81, 0.8));
	assert_false(distill_cold_prior_drop(0.8, 0.8));
	assert_false(distill_cold_prior_drop(0.79, 0.8));
	assert_true(distill_cold_prior_drop(0.01, 0));
	assert_false(distill_cold_prior_drop(0, 0));
	assert_false(distill_cold_prior_drop(1.0, 1.0));
	assert_false(distill_cold_prior_drop(NAN, 0.5));
}

static void test_pick(void **state)
{
	/* Least likely cold first; 0.2 twice: the better cloud cost (index 3, 1 ms < 2 ms); the
	 * same probability and cloud cost: the lower index. */
	const float p[] = {0.9f, 0.2f, 0.5f, 0.2f, 0.7f};
	const double cloud[] = {1e-3, 2e-3, 1e-4, 1e-3, 1e-3};
	assert_int_equal(distill_cold_pick(p, cloud, 5), 3);
	assert_int_equal(distill_cold_pick(p, cloud, 3), 1);
	const float q[] = {0.4f, 0.4f};
	const double c2[] = {1e-3, 1e-3};
	assert_int_equal(distill_cold_pick(q, c2, 2), 0);
	assert_int_equal(distill_cold_pick(p, cloud, 0), SIZE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cosine),     cmocka_unit_test(test_query),
	    cmocka_unit_test(test_cold_marks), cmocka_unit_test(test_epsilon),
	    cmocka_unit_test(test_pick),       cmocka_unit_test(test_epsilon_at),
	    cmocka_unit_test(test_prior_drop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
