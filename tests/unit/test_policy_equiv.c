/* test_policy_equiv.c — RD-DRF's and drf's choices against independent readings of the
 * rules: the heap + prefilter selection against brute force on random states, and the
 * device index against the linear device scan it replaced (split from test_policy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "policy-test.h"

/* The heap + prefilter selection equals a brute-force reading of the rules, on random
 * states: lowest key among queues whose head fits a live device, then that queue's device
 * rule. Head arrivals are tracked here from the enqueue order. */
static void check_against_brute_force(enum policy_kind kind)
{
	enum { NQ = 12, ND = 6, MAXI = 4096 };
	struct policy *p = mk(kind, 0);
	uint64_t rng = 99 + kind;
#define R01()                                                                                      \
	(rng = rng * 6364136223846793005ull + 1442695040888963407ull,                              \
	 (double)(rng >> 11) / 9007199254740992.0)
	double arrival[MAXI];
	uint32_t qof[MAXI];
	bool waiting[MAXI] = {false}, running[MAXI] = {false};
	uint64_t next = 0;
	char names[NQ][8];
	for (unsigned i = 0; i < ND; i++)
		assert_int_equal(
		    policy_add_device(p, i, (struct policy_res){2 + (i % 3) * 2, (2 + i) * GB}), 0);
	for (unsigned j = 0; j < NQ; j++) {
		snprintf(names[j], sizeof(names[j]), "q%02u", (j * 7) % NQ);
		uint32_t id;
		assert_int_equal(policy_add_queue(p, names[j],
						  (struct policy_res){0.5 * (1 + (j % 4)),
								      (200 + 300 * (j % 5)) * MB},
						  1 + (j % 3), &id),
				 0);
	}
	double t = 0;
	unsigned placed = 0, n_eagain = 0;
	for (int step = 0; step < 600 && next < MAXI - 8; step++) {
		t += 0.1;
		/* a few events */
		for (int e = 0; e < 3; e++) {
			uint64_t k = (uint64_t)(R01() * (double)(next ? next : 1));
			double x = R01();
			if (x < 0.5) {
				uint32_t j = (uint32_t)(R01() * NQ);
				/* equal arrivals on purpose, to exercise the tie-break */
				arrival[next] = floor(t);
				qof[next] = j;
				assert_int_equal(policy_enqueue(p, j, next, arrival[next]), 0);
				waiting[next++] = true;
			} else if (x < 0.7) {
				/* release some running instance (the first one from a random start)
				 */
				for (uint64_t m = 0; m < next; m++) {
					uint64_t c = (k + m) % next;
					if (running[c]) {
						assert_int_equal(policy_release(p, c, t), 0);
						running[c] = false;
						break;
					}
				}
			} else if (x < 0.85 && running[k]) {
				assert_int_equal(
				    policy_sample(p, k, (struct policy_res){R01() * 2, R01() * GB}),
				    0);
			} else if (x < 0.95) {
				uint32_t i = (uint32_t)(R01() * ND);
				struct policy_device_info di;
				assert_int_equal(policy_device_info(p, i, &di), 0);
				assert_int_equal(policy_set_device_free(
						     p, i,
						     (struct policy_res){R01() * di.total.cpu,
									 R01() * di.total.mem}),
						 0);
			} else if (waiting[k]) {
				assert_int_equal(policy_cancel(p, k), 0);
				waiting[k] = false;
			}
		}
		/* brute force: the expected placement */
		struct policy_device_info dinfo[ND];
		for (unsigned i = 0; i < ND; i++)
			assert_int_equal(policy_device_info(p, i, &dinfo[i]), 0);
		int best_q = -1;
		struct policy_queue_key best_key = {0};
		for (uint32_t j = 0; j < NQ; j++) {
			struct policy_queue_info qi;
			assert_int_equal(policy_queue_info(p, j, &qi), 0);
			if (!qi.waiting)
				continue;
			bool fits = false;
			for (unsigned i = 0; i < ND; i++)
				fits |= qi.demand.cpu <= dinfo[i].free.cpu + 1e-9 &&
					qi.demand.mem <= dinfo[i].free.mem + 1;
			if (!fits)
				continue;
			double head = INFINITY;
			for (uint64_t k = 0; k < next; k++)
				if (waiting[k] && qof[k] == j) {
					head = arrival[k];
					break;
				}
			struct policy_queue_key key = {qi.dominant_share, qi.running, head,
						       qi.name};
			if (best_q < 0 || policy_queue_cmp(&key, &best_key) < 0) {
				best_q = (int)j;
				best_key = key;
			}
		}
		struct policy_placement pl;
		int r = policy_next(p, t, &pl);
		if (best_q < 0) {
			assert_int_equal(r, -EAGAIN);
			n_eagain++;
			continue;
		}
		placed++;
		assert_int_equal(r, 0);
		assert_int_equal(pl.queue_id, (uint32_t)best_q);
		struct policy_queue_info qi;
		assert_int_equal(policy_queue_info(p, pl.queue_id, &qi), 0);
		int want_dev = -1;
		double best_idle = -INFINITY;
		for (unsigned i = 0; i < ND; i++) {
			struct policy_res f = dinfo[i].free;
			if (!(qi.demand.cpu <= f.cpu + 1e-9 && qi.demand.mem <= f.mem + 1))
				continue;
			if (kind == POLICY_DRF) {
				want_dev = (int)i;
				break;
			}
			double idle = fmin((f.cpu - qi.demand.cpu) / dinfo[i].total.cpu,
					   (f.mem - qi.demand.mem) / dinfo[i].total.mem);
			if (idle > best_idle) {
				best_idle = idle;
				want_dev = (int)i;
			}
		}
		assert_int_equal(pl.dev_id, (uint32_t)want_dev);
		assert_true(waiting[pl.inst_id]);
		assert_int_equal(qof[pl.inst_id], pl.queue_id);
		waiting[pl.inst_id] = false;
		running[pl.inst_id] = true;
	}
#undef R01
	/* the random walk must exercise both outcomes */
	assert_true(placed > 100);
	assert_true(n_eagain > 50);
	policy_free(p);
}

static void test_brute_force_rddrf(void **state)
{
	check_against_brute_force(POLICY_RDDRF);
}

static void test_brute_force_drf(void **state)
{
	check_against_brute_force(POLICY_DRF);
}

/* RD-DRF's device index gives exactly the linear scan's decisions (ties to the lowest device
 * id included) through adds, deaths, measurements, samples, releases and cancels, on mixed and
 * on identical devices. */
static void test_device_index_matches_scan(void **state)
{
	for (int mixed = 0; mixed < 2; mixed++) {
		struct policy_params a = {.kind = POLICY_RDDRF}, b = a;
		struct policy *pi, *ps;
		uint64_t run[4096], next = 1;
		size_t n_run = 0, decisions = 0;
		unsigned seed = 11 + mixed;
		b.no_device_index = true;
		assert_int_equal(policy_new(&a, &pi), 0);
		assert_int_equal(policy_new(&b, &ps), 0);
		for (uint32_t i = 0; i < 37; i++) {
			struct policy_res t = {mixed ? 1 + i % 4 : 4,
					       mixed ? (1 + i % 3) * GB : 8 * GB};
			assert_int_equal(policy_add_device(pi, i, t), 0);
			assert_int_equal(policy_add_device(ps, i, t), 0);
		}
		for (uint32_t j = 0; j < 9; j++) {
			char name[8];
			uint32_t qa, qb;
			struct policy_res d = {0.25 * (1 + j % 4), (64 + 128 * j) * MB};
			snprintf(name, sizeof(name), "q%u", j);
			assert_int_equal(policy_add_queue(pi, name, d, 1, &qa), 0);
			assert_int_equal(policy_add_queue(ps, name, d, 1, &qb), 0);
		}
		for (int step = 0; step < 3000; step++) {
			int op = rand_r(&seed) % 10;
			double t = step * 0.01;
			if (op < 4) {
				uint32_t q = (uint32_t)(rand_r(&seed) % 9);
				assert_int_equal(policy_enqueue(pi, q, next, t),
						 policy_enqueue(ps, q, next, t));
				next++;
			} else if (op < 6 && n_run) {
				size_t k = (size_t)rand_r(&seed) % n_run;
				assert_int_equal(policy_release(pi, run[k], t), 0);
				assert_int_equal(policy_release(ps, run[k], t), 0);
				run[k] = run[--n_run];
			} else if (op == 6 && n_run) {
				size_t k = (size_t)rand_r(&seed) % n_run;
				struct policy_res u = {0.1 * (rand_r(&seed) % 10),
						       1e6 * (rand_r(&seed) % 500)};
				assert_int_equal(policy_sample(pi, run[k], u), 0);
				assert_int_equal(policy_sample(ps, run[k], u), 0);
			} else if (op == 7) {
				uint32_t i = (uint32_t)(rand_r(&seed) % 37);
				struct policy_res f = {0.5 * (rand_r(&seed) % 9),
						       0.25 * GB * (rand_r(&seed) % 33)};
				policy_set_device_free(pi, i, f);
				policy_set_device_free(ps, i, f);
			} else if (op == 8) {
				uint32_t i = (uint32_t)(rand_r(&seed) % 37);
				bool live = rand_r(&seed) % 4 != 0;
				policy_set_device_live(pi, i, live);
				policy_set_device_live(ps, i, live);
			} else {
				struct policy_placement x, y;
				int rx, ry;
				do {
					rx = policy_next(pi, t, &x);
					ry = policy_next(ps, t, &y);
					assert_int_equal(rx, ry);
					if (rx == 0) {
						assert_true(x.inst_id == y.inst_id);
						assert_int_equal(x.dev_id, y.dev_id);
						assert_true(n_run < ELEMS(run));
						run[n_run++] = x.inst_id;
						decisions++;
					}
				} while (rx == 0);
			}
		}
		assert_true(decisions > 200);
		policy_free(pi);
		policy_free(ps);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_brute_force_rddrf),
	    cmocka_unit_test(test_brute_force_drf),
	    cmocka_unit_test(test_device_index_matches_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
