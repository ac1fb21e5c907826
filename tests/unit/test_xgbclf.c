/* test_xgbclf.c — the XGBoost wrapper: weighted training and prediction through the C API, and
 * errors coming back as -errno. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>

#include "xgbclf.h"

static void test_separable(void **state)
{
	float x[40], y[40];
	for (int i = 0; i < 40; i++) {
		x[i] = (float)i / 40;
		y[i] = x[i] > 0.5f;
	}
	struct xgbclf *c = NULL;
	assert_int_equal(xgbclf_train(x, 40, 1, y, NULL, NULL, &c), 0);
	const float q[] = {0.1f, 0.9f};
	float p[2];
	assert_int_equal(xgbclf_predict(c, q, 2, 1, p), 0);
	assert_true(p[0] < 0.2f);
	assert_true(p[1] > 0.8f);
	assert_int_equal(xgbclf_predict(c, q, 1, 2, p), -EINVAL); /* wrong width */
	xgbclf_free(c);
}

static void test_leaf_embedding(void **state)
{
	/* Two well separated groups: rows of one group share their leaves, the groups do not. */
	float x[40], y[40];
	for (int i = 0; i < 40; i++) {
		x[i] = (float)i / 40;
		y[i] = x[i] > 0.5f;
	}
	struct xgbclf_params p;
	xgbclf_params_default(&p);
	p.rounds = 5;
	struct xgbclf *c = NULL;
	assert_int_equal(xgbclf_train(x, 40, 1, y, NULL, &p, &c), 0);
	const float q[] = {0.1f, 0.12f, 0.9f};
	int32_t leaf[3 * 8];
	size_t trees = 0;
	assert_int_equal(xgbclf_predict_leaf(c, q, 3, 1, leaf, 8, &trees), 0);
	assert_int_equal(trees, 5);
	for (size_t t = 0; t < trees; t++) {
		assert_int_equal(leaf[t], leaf[trees + t]);
		assert_int_not_equal(leaf[t], leaf[2 * trees + t]);
	}
	assert_int_equal(xgbclf_predict_leaf(c, q, 3, 1, leaf, 4, &trees), -E2BIG);
	assert_int_equal(xgbclf_predict_leaf(c, q, 1, 2, leaf, 8, &trees), -EINVAL);
	xgbclf_free(c);
}

static void test_rank_pairwise(void **state)
{
	/* Two groups of 10 rows; relevance grows with x in both. The scores must order the rows
	 * of each group by x. */
	float x[20], y[20];
	for (int i = 0; i < 20; i++) {
		x[i] = (float)(i % 10) / 10;
		y[i] = (float)(i % 10);
	}
	const unsigned group[] = {10, 10};
	struct xgbclf *c = NULL;
	assert_int_equal(xgbclf_train_rank(x, 20, 1, y, group, 2, NULL, &c), 0);
	const float q[] = {0.05f, 0.45f, 0.95f};
	float p[3];
	assert_int_equal(xgbclf_predict(c, q, 3, 1, p), 0);
	assert_true(p[0] < p[1] && p[1] < p[2]);
	xgbclf_free(c);
	const unsigned bad[] = {10, 9};
	assert_int_equal(xgbclf_train_rank(x, 20, 1, y, bad, 2, NULL, &c), -EINVAL);
	y[3] = -1;
	assert_int_equal(xgbclf_train_rank(x, 20, 1, y, group, 2, NULL, &c), -EINVAL);
}

static void test_weights_decide(void **state)
{
	/* The same point labelled both ways: the heavier weight wins. */
	float x[20], y[20], w[20];
	for (int i = 0; i < 20; i++) {
		x[i] = 1.0f;
		y[i] = i % 2;
		w[i] = i % 2 ? 5.0f : 0.5f;
	}
	struct xgbclf *c = NULL;
	struct xgbclf_params p;
	xgbclf_params_default(&p);
	p.rounds = 20;
	assert_int_equal(xgbclf_train(x, 20, 1, y, w, &p, &c), 0);
	float prob;
	assert_int_equal(xgbclf_predict(c, x, 1, 1, &prob), 0);
	assert_true(prob > 0.8f);
	xgbclf_free(c);
	for (int i = 0; i < 20; i++)
		w[i] = i % 2 ? 0.5f : 5.0f;
	assert_int_equal(xgbclf_train(x, 20, 1, y, w, &p, &c), 0);
	assert_int_equal(xgbclf_predict(c, x, 1, 1, &prob), 0);
	assert_true(prob < 0.2f);
	xgbclf_free(c);
}

static void test_errors(void **state)
{
	float x[2] = {0, 1}, y[2] = {0, 1}, w0[2] = {0, 0}, bad[2] = {0, 2}, neg[2] = {1, -1};
	struct xgbclf *c = (struct xgbclf *)0x1;
	assert_int_equal(xgbclf_train(x, 0, 1, y, NULL, NULL, &c), -EINVAL);
	assert_int_equal(xgbclf_train(x, 2, 1, bad, NULL, NULL, &c), -EINVAL);
	assert_int_equal(xgbclf_train(x, 2, 1, y, neg, NULL, &c), -EINVAL);
	assert_int_equal(xgbclf_train(x, 2, 1, y, w0, NULL, &c), -EDOM);
	assert_ptr_equal(c, (struct xgbclf *)0x1); /* untouched on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_separable),	   cmocka_unit_test(test_weights_decide),
	    cmocka_unit_test(test_leaf_embedding), cmocka_unit_test(test_rank_pairwise),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
