/* test_distill.c — the distiller's pure steps on hand-computed inputs: eq. 2/3 scores, labels and
 * weights, voting, Trimmer's stop rule, first step, sampling, features and the loop-nest view. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "distill.h"

#define assert_near(a, b) assert_true(fabs((double)(a) - (double)(b)) < 1e-9)

static void test_scores(void **state)
{
	double s;
	assert_near(distill_norm(2.0, 4.0), 0.5);
	/* edge 0.5 / cloud 0.5 */
	assert_int_equal(distill_score(2e-3, 1e-3, 4e-3, 2e-3, &s), 0);
	assert_near(s, 1.0);
	/* best on the cloud, a quarter of the best on the edge: edge-unfriendly */
	assert_int_equal(distill_score(1e-3, 1e-3, 4e-3, 1e-3, &s), 0);
	assert_near(s, 0.25);
	/* a quarter on the cloud, best on the edge: the record the paper looks for */
	assert_int_equal(distill_score(4e-3, 1e-3, 1e-3, 1e-3, &s), 0);
	assert_near(s, 4.0);
	s = 42;
	assert_int_equal(distill_score(0, 1e-3, 1e-3, 1e-3, &s), -EINVAL);
	assert_int_equal(distill_score(1e-3, 1e-3, INFINITY, 1e-3, &s), -EINVAL);
	assert_int_equal(distill_score(1e-3, 1e-3, 1e-3, -1, &s), -EINVAL);
	assert_near(s, 42); /* untouched on error */
}

static void test_labels(void **state)
{
	const double score[] = {0.25, 1.0, 4.0, 1.5};
	float lab[4], w[4];
	distill_label(score, 4, 1.0, lab, w);
	assert_true(lab[0] == 0 && lab[1] == 0 && lab[2] == 1 && lab[3] == 1);
	assert_near(w[0], 0.75);
	assert_near(w[1], 0.0); /* on the threshold line: ignored by the classifier */
	assert_near(w[2], 3.0);
	assert_near(w[3], 0.5);
}

static void test_vote(void **state)
{
	float mean = -1;
	const float a[] = {0.9f, 0.2f, 0.7f};
	assert_true(distill_vote(a, 3, &mean));
	assert_true(fabsf(mean - 0.6f) < 1e-6f);
	const float b[] = {0.2f, 0.4f, 0.9f};
	assert_false(distill_vote(b, 3, NULL));
	const float tie_lo[] = {0.9f, 0.1f}; /* 1 of 2, mean 0.5: not friendly */
	assert_false(distill_vote(tie_lo, 2, NULL));
	const float tie_hi[] = {0.9f, 0.3f}; /* 1 of 2, mean 0.6: friendly */
	assert_true(distill_vote(tie_hi, 2, NULL));
	assert_false(distill_vote(a, 0, &mean));
}

static void test_survey(void **state)
{
	double x;
	assert_int_equal(distill_survey_x(-0.2, 10, &x), 0);
	assert_near(x, -0.02);
	/* both deltas negative: w2 = -1 */
	assert_int_equal(distill_survey_x(-1, -2, &x), 0);
	assert_near(x, -0.5);
	assert_int_equal(distill_survey_x(1, 2, &x), 0);
	assert_near(x, 0.5);
	assert_int_equal(distill_survey_x(-1, 0, &x), -EINVAL);
	assert_int_equal(distill_survey_x(NAN, 1, &x), -EINVAL);

	const double phi = DISTILL_PHI_DEFAULT;
	/* improving twice, w1 = 1: (-1 + -2) / -2 = 1.5 > -0.25 */
	assert_false(distill_survey_stop(-2, -1, phi));
	/* faster then slower by more than it gained: (1 - 1) ... (2 + -1) / -1 = -1 <= -0.25 */
	assert_true(distill_survey_stop(-1, 2, phi));
	/* slightly slower after a gain: (0.1 - 1) / -1 = 0.9 */
	assert_false(distill_survey_stop(-1, 0.1, phi));
	/* slower twice, w1 = -1: -(1 + 1) / 1 = -2 */
	assert_true(distill_survey_stop(1, 1, phi));
	/* faster after slower, w1 = -1: -(-1 + 2) / 2 = -0.5 */
	assert_true(distill_survey_stop(2, -1, phi));
	/* faster by more than it lost: -(-2 + 1) / 1 = 1 */
	assert_false(distill_survey_stop(1, -2, phi));
	/* the boundary itself stops: -(x_t + 1) / 1 = -0.25 at x_t = -0.75 */
	assert_true(distill_survey_stop(1, -0.75, phi));
	/* plateau after a gain continues once, two plateaus stop */
	assert_false(distill_survey_stop(-1, 0, phi));
	assert_true(distill_survey_stop(0, 0, phi));
	assert_false(distill_survey_stop(0, -1, phi));
}

static void test_first_step(void **state)
{
	struct distill_rec r[] = {
	    {.task = 0, .line = 1, .cloud = 3}, {.task = 0, .line = 2, .cloud = 1},
	    {.task = 0, .line = 3, .cloud = 4}, {.task = 0, .line = 4, .cloud = 2},
	    {.task = 1, .line = 5, .cloud = 9},
	};
	size_t kept = 0;
	struct distill_first_step cfg = {.threshold = 0.5};
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), 0);
	/* norms 1/3, 1, 1/4, 1/2 -> lines 2 and 4; the lone record of task 1 stays */
	assert_int_equal(kept, 3);
	assert_true(r[1].flags & DISTILL_F_SURVIVOR);
	assert_true(r[3].flags & DISTILL_F_SURVIVOR);
	assert_false(r[0].flags & DISTILL_F_SURVIVOR);
	assert_false(r[2].flags & DISTILL_F_SURVIVOR);
	assert_true(r[4].flags & DISTILL_F_SURVIVOR);

	cfg = (struct distill_first_step){.top_fraction = 0.3}; /* ceil(0.3 * 4) = 2 */
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), 0);
	assert_int_equal(kept, 3);
	assert_true((r[1].flags & DISTILL_F_SURVIVOR) && (r[3].flags & DISTILL_F_SURVIVOR));
	cfg = (struct distill_first_step){.top_fraction = 1.0};
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), 0);
	assert_int_equal(kept, 5);

	cfg = (struct distill_first_step){.threshold = 0};
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), -EINVAL);
	cfg = (struct distill_first_step){.threshold = 1.5};
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), -EINVAL);
	r[0].task = 7;
	cfg = (struct distill_first_step){.threshold = 0.5};
	assert_int_equal(distill_first_step(r, 5, 2, &cfg, &kept), -EINVAL);
}

static void test_sample(void **state)
{
	struct distill_rec r[10];
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 10; i++) {
		r[i].task = i < 8 ? 0 : 1;
		r[i].flags = DISTILL_F_SURVIVOR;
	}
	r[7].flags = 0; /* not a survivor: never sampled */
	struct distill_rng g = {.s = 42};
	size_t n = 0;
	assert_int_equal(distill_sample(r, 10, 2, 0.5, 1, &g, &n), 0);
	/* task 0: round(0.5 * 7) = 4; task 1: round(0.5 * 2) = 1 */
	assert_int_equal(n, 5);
	size_t t0 = 0, t1 = 0;
	for (int i = 0; i < 10; i++) {
		if (r[i].flags & DISTILL_F_SAMPLED)
			*(r[i].task ? &t1 : &t0) += 1;
	}
	assert_int_equal(t0, 4);
	assert_int_equal(t1, 1);
	assert_false(r[7].flags & DISTILL_F_SAMPLED);

	/* Same seed, same sample. */
	uint32_t first[10];
	for (int i = 0; i < 10; i++)
		first[i] = r[i].flags;
	g.s = 42;
	assert_int_equal(distill_sample(r, 10, 2, 0.5, 1, &g, &n), 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(first[i], r[i].flags);
	/* The per-task minimum wins over alpha, capped by the survivors. */
	assert_int_equal(distill_sample(r, 10, 2, 0.0, 3, &g, &n), 0);
	assert_int_equal(n, 5); /* 3 + 2 */
	assert_int_equal(distill_sample(r, 10, 2, 1.5, 1, &g, &n), -EINVAL);
}

/* The steps of the matmul.json fixture (v0.3). */
static size_t matmul_steps(struct distill_step *s)
{
	memset(s, 0, 16 * sizeof(*s));
	size_t n = 0;
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_SP,
				       .stage = 2,
				       .iter = 0,
				       .extent = 1024,
				       .n_len = 3,
				       .len = {2, 1, 4},
				       .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_SP,
				       .stage = 2,
				       .iter = 4,
				       .extent = 1024,
				       .n_len = 3,
				       .len = {1, 1, 8},
				       .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_SP,
				       .stage = 2,
				       .iter = 8,
				       .extent = 1024,
				       .n_len = 1,
				       .len = {4},
				       .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_RE,
				       .stage = 2,
				       .n_order = 10,
				       .order = {0, 4, 1, 5, 8, 2, 6, 9, 3, 7},
				       .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_FSP, .stage = 4, .unroll = -1};
	s[n++] =
	    (struct distill_step){.kind = DISTILL_STEP_FSP, .stage = 4, .iter = 3, .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_RE,
				       .stage = 4,
				       .n_order = 6,
				       .order = {0, 3, 1, 4, 2, 5},
				       .unroll = -1};
	s[n++] =
	    (struct distill_step){.kind = DISTILL_STEP_CA, .stage = 2, .iter = 4, .unroll = -1};
	s[n++] =
	    (struct distill_step){.kind = DISTILL_STEP_FU, .stage = 4, .n_len = 2, .unroll = -1};
	s[n++] = (struct distill_step){
	    .kind = DISTILL_STEP_AN, .stage = 4, .annotation = 3, .unroll = -1};
	s[n++] = (struct distill_step){.kind = DISTILL_STEP_PR, .stage = 2, .unroll = 8};
	s[n++] = (struct distill_step){
	    .kind = DISTILL_STEP_AN, .stage = 2, .iter = 9, .annotation = 2, .unroll = -1};
	s[n++] = (struct distill_step){
	    .kind = DISTILL_STEP_AN, .stage = 4, .iter = 4, .annotation = 2, .unroll = -1};
	return n;
}

static void test_nest_and_features(void **state)
{
	struct distill_step s[16];
	size_t n = matmul_steps(s);
	struct distill_nest nest;
	assert_int_equal(distill_nest(s, n, &nest), 0);
	assert_int_equal(nest.n_axes, 3);
	assert_int_equal(nest.extent[0], 1024);
	assert_int_equal(nest.tile[0], 8);
	assert_int_equal(nest.tile[1], 8);
	assert_int_equal(nest.tile[2], 4);
	assert_int_equal(nest.inner[1], 8);
	assert_int_equal(nest.order[0], 0);
	assert_int_equal(nest.order[1], 1);
	assert_int_equal(nest.order[2], 2);
	assert_int_equal(nest.unroll, 8);
	assert_int_equal(nest.parallel, 128 * 128); /* fused i0.j0 */
	assert_int_equal(nest.vectorize, 8);

	const int64_t shape[] = {1024, 1024, 1024};
	float rows[DISTILL_MAX_ROWS][DISTILL_N_FEATURES];
	size_t nr = distill_features(s, n, shape, 3, rows);
	assert_int_equal(nr, 1); /* only stage 2 has SP steps */
	assert_near(rows[0][DISTILL_FEAT_N_STEPS], 13);
	assert_near(rows[0][DISTILL_FEAT_N_SP], 3);
	assert_near(rows[0][DISTILL_FEAT_N_RE], 2);
	assert_near(rows[0][DISTILL_FEAT_N_AN], 3);
	assert_near(rows[0][DISTILL_FEAT_N_LOCATION], 1);
	assert_true(fabs(rows[0][DISTILL_FEAT_UNROLL] - log2(9.0)) < 1e-6);
	assert_true(fabs(rows[0][DISTILL_FEAT_WORK] - log2(1.0 + 1073741824.0)) < 1e-4);
	assert_near(rows[0][DISTILL_FEAT_INNER_PROD], 7); /* 4 * 8 * 4 */
	assert_near(rows[0][DISTILL_FEAT_INNER_MAX], 3);
	assert_near(rows[0][DISTILL_FEAT_TILE], 8);   /* 8 * 8 * 4 */
	assert_near(rows[0][DISTILL_FEAT_OUTER], 22); /* 128 * 128 * 256 = 2^22 */
	assert_near(rows[0][DISTILL_FEAT_LEVELS], 4);
	assert_near(rows[0][DISTILL_FEAT_ORDER_SIG], 0);
	/* 64 + 32 + 32 = 128 elements */
	assert_true(fabs(rows[0][DISTILL_FEAT_FOOTPRINT] - log2(129.0)) < 1e-6);
	/* pairs out of order in 0 4 1 5 8 2 6 9 3 7: 4>1,4>2,4>3, 5>2,5>3, 8>2,8>6,8>3,8>7, 6>3,
	 * 9>3,9>7 = 12 of 45 */
	assert_true(fabs(rows[0][DISTILL_FEAT_INVERSIONS] - 12.0 / 45) < 1e-6);

	/* Reduction outermost changes the signature. */
	s[3].order[0] = 8, s[3].order[1] = 0, s[3].order[2] = 4, s[3].order[3] = 1,
	s[3].order[4] = 5;
	assert_int_equal(distill_nest(s, n, &nest), 0);
	assert_int_equal(nest.order[0], 2);
	nr = distill_features(s, n, shape, 3, rows);
	assert_true(rows[0][DISTILL_FEAT_ORDER_SIG] > 0.5f);

	/* No split at all: one row of record-level features, no nest. */
	assert_int_equal(distill_features(NULL, 0, NULL, 0, rows), 1);
	assert_int_equal(distill_nest(NULL, 0, &nest), -ENOENT);
}

static void test_model(void **state)
{
	struct distill_step s[16];
	size_t n = matmul_steps(s);
	const int64_t shape[] = {1024, 1024, 1024};
	struct distill_device cloud, edge;
	distill_device_cloud(&cloud);
	distill_device_edge(&edge);
	double c, e, e2;
	assert_int_equal(distill_model_cost(&cloud, s, n, shape, 3, &c), 0);
	assert_int_equal(distill_model_cost(&edge, s, n, shape, 3, &e), 0);
	assert_true(c > 0 && e > c); /* the edge is the slower device */
	assert_int_equal(distill_model_cost(&edge, s, n, shape, 3, &e2), 0);
	assert_near(e, e2); /* deterministic */

	/* Growing the tile far past 32 KiB hurts the edge more than the 1 MiB cloud. */
	double c_big, e_big;
	s[0].len[0] = 16, s[0].len[1] = 4; /* i tile 256 */
	s[1].len[0] = 8, s[1].len[1] = 4;  /* j tile 256 */
	s[2].len[0] = 64;
	assert_int_equal(distill_model_cost(&cloud, s, n, shape, 3, &c_big), 0);
	assert_int_equal(distill_model_cost(&edge, s, n, shape, 3, &e_big), 0);
	assert_true(e_big / e > c_big / c);
}

static void test_families(void **state)
{
	struct distill_step s[16];
	size_t n = matmul_steps(s);
	const int64_t shape[] = {1024, 1024, 1024};
	struct distill_family f0, f;
	struct distill_device cloud, edge;
	distill_device_cloud(&cloud);
	distill_device_edge(&edge);
	assert_int_equal(distill_family(0, &f0), 0);
	double a, b;
	/* Family 0 is the v1 model exactly. */
	assert_int_equal(distill_model_cost(&edge, s, n, shape, 3, &a), 0);
	assert_int_equal(distill_model_cost(&f0.edge, s, n, shape, 3, &b), 0);
	assert_near(a, b);
	assert_int_equal(distill_family(DISTILL_N_FAMILIES, &f), -ENOENT);
	for (unsigned k = 1; k < DISTILL_N_FAMILIES; k++) {
		assert_int_equal(distill_family(k, &f), 0);
		assert_non_null(f.name);
		assert_int_equal(distill_model_cost(&f.edge, s, n, shape, 3, &a), 0);
		assert_int_equal(distill_model_cost(&f.cloud, s, n, shape, 3, &b), 0);
		assert_true(a > b && b > 0); /* every edge is slower than its cloud */
	}
	/* Register pressure: a 16x16 accumulator tile spills on a 64-float register file. */
	assert_int_equal(distill_family(1, &f), 0);
	struct distill_device nr = f.edge;
	nr.regs = 0;
	s[0].len[2] = 16, s[1].len[2] = 16;
	assert_int_equal(distill_model_cost(&f.edge, s, n, shape, 3, &a), 0);
	assert_int_equal(distill_model_cost(&nr, s, n, shape, 3, &b), 0);
	assert_true(a > b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scores),
	    cmocka_unit_test(test_labels),
	    cmocka_unit_test(test_vote),
	    cmocka_unit_test(test_survey),
	    cmocka_unit_test(test_first_step),
	    cmocka_unit_test(test_sample),
	    cmocka_unit_test(test_nest_and_features),
	    cmocka_unit_test(test_model),
	    cmocka_unit_test(test_families),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
