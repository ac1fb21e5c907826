/* test_policy.c — every ALGORITHMS.md section-1 rule of the placement policies, the
 * comparator's total order, fit/reject paths, in-flight compensation, drf-paper lag, eq. 4. */
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

static void add_pis(struct policy *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(policy_add_device(p, i, (struct policy_res){4, 8 * GB}), 0);
}

static uint32_t addq(struct policy *p, const char *name, double cpu, double mem_mb)
{
	uint32_t id = 99;
	assert_int_equal(policy_add_queue(p, name, (struct policy_res){cpu, mem_mb * MB}, 1, &id),
			 0);
	return id;
}

static void test_names(void **state)
{
	enum policy_kind k;
	const char *names[] = {"rddrf", "drf", "drf-paper", "rr", "random"};
	for (unsigned i = 0; i < ELEMS(names); i++) {
		assert_int_equal(policy_kind_from_name(names[i], &k), 0);
		assert_int_equal(k, i);
		assert_string_equal(policy_kind_name(k), names[i]);
	}
	assert_int_equal(policy_kind_from_name("DRF", &k), -EINVAL);
	assert_null(policy_kind_name(_POLICY_KIND_MAX));
}

/* Rule 5: a demand larger than every device total is rejected at submit. */
static void test_reject_too_big(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 2);
	assert_int_equal(policy_add_device(p, 7, (struct policy_res){8, 2 * GB}), 0);
	uint32_t big = addq(p, "big", 5, 4096); /* 5 cores needs dev 7, 4 GB needs a Pi */
	uint32_t ok = addq(p, "ok", 6, 1024);	/* fits dev 7 only */
	assert_int_equal(policy_enqueue(p, big, 1, 0), -E2BIG);
	assert_int_equal(policy_enqueue(p, ok, 2, 0), 0);
	assert_int_equal(policy_enqueue(p, ok, 2, 0), -EEXIST);
	assert_int_equal(policy_enqueue(p, 42, 3, 0), -ENOENT);
	struct policy_placement pl;
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 7);
	assert_int_equal(pl.inst_id, 2);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	policy_free(p);
}

static void test_bad_args(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	uint32_t id;
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){0, 1}), -EINVAL);
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){NAN, 1}), -EINVAL);
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){1, 1}), 0);
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){1, 1}), -EEXIST);
	assert_int_equal(policy_add_queue(p, "", (struct policy_res){1, 1}, 1, &id), -EINVAL);
	assert_int_equal(policy_add_queue(p, "a", (struct policy_res){-1, 1}, 1, &id), -EINVAL);
	assert_int_equal(policy_add_queue(p, "a", (struct policy_res){1, 1}, -1, &id), -EINVAL);
	assert_int_equal(policy_add_queue(p, "a", (struct policy_res){1, 1}, 0, &id), 0);
	assert_int_equal(policy_add_queue(p, "a", (struct policy_res){1, 1}, 1, &id), -EEXIST);
	struct policy_queue_info qi;
	assert_int_equal(policy_queue_info(p, id, &qi), 0);
	assert_true(qi.weight == 1); /* 0 means the default */
	assert_int_equal(policy_find_queue(p, "a", &id), 0);
	assert_int_equal(policy_find_queue(p, "b", &id), -ENOENT);
	assert_int_equal(policy_cancel(p, 5), -ENOENT);
	assert_int_equal(policy_sample(p, 5, (struct policy_res){0, 0}), -ENOENT);
	assert_int_equal(policy_release(p, 5, 0), -ENOENT);
	assert_int_equal(policy_set_device_free(p, 3, (struct policy_res){0, 0}), -ENOENT);
	policy_free(p);
}

/* Steps 2-3: the lowest s_j goes first; s_j uses pooled live capacity and weights. */
static void test_lowest_share_first(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 4);
	uint32_t a = addq(p, "a", 2, 80), b = addq(p, "b", 1, 330);
	struct policy_placement pl;
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(policy_enqueue(p, a, 100 + i, 0), 0);
		assert_int_equal(policy_enqueue(p, b, 200 + i, 0), 0);
	}
	/* all shares 0: ties by running (0), arrival (0), then name: "a" first */
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.queue_id, a);
	/* now a has s = 2/16 > b's 0 */
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.queue_id, b);
	/* b: 1/16 < 2/16 */
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.queue_id, b);
	/* a 2/16, b 2/16, both 1 vs 2 running: a has fewer running */
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.queue_id, a);
	struct policy_queue_info qi;
	assert_int_equal(policy_queue_info(p, a, &qi), 0);
	assert_true(fabs(qi.dominant_share - 4.0 / 16) < 1e-12);
	assert_int_equal(qi.running, 2);
	assert_int_equal(qi.waiting, 2);
	/* the head is what the queue places next (the daemon prepares its cgroup) */
	assert_true(qi.has_head);
	assert_int_equal(qi.head_id, 102);
	while (policy_next(p, 0, &pl) == 0)
		if (pl.queue_id == a)
			break;
	assert_int_equal(pl.inst_id, 102);
	assert_int_equal(policy_queue_info(p, a, &qi), 0);
	assert_int_equal(qi.head_id, 103);
	while (policy_next(p, 0, &pl) == 0)
		;
	assert_int_equal(policy_queue_info(p, b, &qi), 0);
	assert_false(qi.has_head && qi.waiting == 0);
	assert_int_equal(qi.has_head, qi.waiting > 0);
	policy_free(p);
}

static void test_weight(void **state)
{
	struct policy *p = mk(POLICY_DRF, 0);
	add_pis(p, 1);
	uint32_t a, b;
	assert_int_equal(policy_add_queue(p, "a", (struct policy_res){1, 0}, 1, &a), 0);
	assert_int_equal(policy_add_queue(p, "b", (struct policy_res){1, 0}, 3, &b), 0);
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(policy_enqueue(p, a, 10 + i, 0), 0);
		assert_int_equal(policy_enqueue(p, b, 20 + i, 0), 0);
	}
	struct policy_placement pl;
	unsigned na = 0, nb = 0;
	while (policy_next(p, 0, &pl) == 0)
		*(pl.queue_id == a ? &na : &nb) += 1;
	/* 4 cores: weight 3 gets 3 of them */
	assert_int_equal(na, 1);
	assert_int_equal(nb, 3);
	policy_free(p);
}

/* Step 4: most idle device after placement, ties by lowest index. */
static void test_most_idle_device(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 3);
	uint32_t q = addq(p, "q", 1, 100);
	struct policy_placement pl;
	assert_int_equal(policy_enqueue(p, q, 1, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 0); /* tie -> lowest index */
	assert_int_equal(policy_enqueue(p, q, 2, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 1); /* dev 0 now has less idle */
	/* measurement says dev 2 is busy (someone else's load), dev 1 idle */
	assert_int_equal(policy_set_device_free(p, 2, (struct policy_res){1.5, 8 * GB}), 0);
	assert_int_equal(policy_enqueue(p, q, 3, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 0); /* dev0: 4-1 in flight = 3, dev1 3, dev2 1.5: tie -> 0 */
	policy_free(p);
}

/* Rule 5: a head that does not fit waits; it does not block other queues. */
static void test_head_waits_without_blocking(void **state)
{
	for (int k = 0; k < _POLICY_KIND_MAX; k++) {
		if (k == POLICY_DRF_PAPER)
			continue; /* pooled fit is tested separately */
		struct policy *p = mk((enum policy_kind)k, 1);
		add_pis(p, 1);
		uint32_t big = addq(p, "big", 3, 100), small = addq(p, "small", 1, 100);
		struct policy_placement pl;
		assert_int_equal(policy_enqueue(p, big, 1, 0), 0);
		assert_int_equal(policy_enqueue(p, big, 2, 0), 0);
		assert_int_equal(policy_next(p, 0, &pl), 0);
		assert_int_equal(pl.inst_id, 1);
		assert_int_equal(policy_enqueue(p, small, 3, 1), 0);
		/* big's head (3 cores) cannot fit in the 1 core left; small's can */
		assert_int_equal(policy_next(p, 1, &pl), 0);
		assert_int_equal(pl.inst_id, 3);
		assert_int_equal(policy_next(p, 1, &pl), -EAGAIN);
		policy_free(p);
	}
}

/* U_j and R_i: an unsampled placement counts at its demand, then measurement takes over. */
static void test_inflight_compensation(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 1);
	uint32_t q = addq(p, "q", 2, 1000);
	struct policy_placement pl;
	struct policy_device_info di;
	struct policy_queue_info qi;
	assert_int_equal(policy_enqueue(p, q, 1, 0), 0);
	assert_int_equal(policy_enqueue(p, q, 2, 0), 0);
	assert_int_equal(policy_enqueue(p, q, 3, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	/* a measurement taken before the task started still shows the device empty */
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){4, 8 * GB}), 0);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 2);
	assert_int_equal(policy_queue_info(p, q, &qi), 0);
	assert_true(qi.usage.cpu == 2 && qi.usage.mem == 1000 * MB);
	/* the first sample: U_j is measured now; R_i keeps the demand until the next device tick */
	assert_int_equal(policy_sample(p, 1, (struct policy_res){0.5, 200 * MB}), 0);
	assert_int_equal(policy_queue_info(p, q, &qi), 0);
	assert_true(qi.usage.cpu == 0.5 && qi.usage.mem == 200 * MB);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 2);
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){3.5, 8 * GB - 200 * MB}),
			 0);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 3.5);
	/* the measured slack admits two more 2-core instances in flight? 3.5 -> one (2), 1.5 left
	 */
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.inst_id, 2);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 1.5);
	assert_int_equal(policy_queue_info(p, q, &qi), 0);
	assert_true(qi.usage.cpu == 2.5);
	/* release of the measured instance credits its usage back until the next tick */
	assert_int_equal(policy_release(p, 1, 1), 0);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 2.0);
	assert_int_equal(policy_next(p, 1, &pl), 0);
	assert_int_equal(pl.inst_id, 3);
	/* release of an unsampled instance returns its demand */
	assert_int_equal(policy_release(p, 3, 2), 0);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 2.0);
	assert_int_equal(di.running, 1);
	policy_free(p);
}

/* drf: shares from allocations; first fitting device; releases immediate. */
static void test_drf_first_fit(void **state)
{
	struct policy *p = mk(POLICY_DRF, 0);
	add_pis(p, 2);
	uint32_t q = addq(p, "q", 3, 100);
	struct policy_placement pl;
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(policy_enqueue(p, q, i, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 1);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	/* measurement does not matter to drf */
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){4, 8 * GB}), 0);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	assert_int_equal(policy_release(p, 1, 0.5), 0);
	assert_int_equal(policy_next(p, 0.5, &pl), 0);
	assert_int_equal(pl.dev_id, 0);
	policy_free(p);
}

/* drf-paper: releases are invisible until reconciliation; fit is pooled. */
static void test_drf_paper_late_release(void **state)
{
	struct policy *p = mk(POLICY_DRF_PAPER, 0);
	add_pis(p, 2);
	uint32_t q = addq(p, "q", 3, 100), s = addq(p, "s", 1, 100);
	struct policy_placement pl;
	struct policy_queue_info qi;
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(policy_enqueue(p, q, i, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	assert_int_equal(policy_release(p, 1, 3), 0);
	assert_int_equal(policy_next(p, 3, &pl), -EAGAIN); /* still counted */
	assert_int_equal(policy_queue_info(p, q, &qi), 0);
	assert_true(qi.usage.cpu == 6);
	assert_int_equal(policy_next(p, 9.99, &pl), -EAGAIN);
	assert_int_equal(policy_next(p, 10, &pl), 0); /* reconciled at t = 10 */
	assert_int_equal(pl.inst_id, 3);
	/* pooled fit: 1 core free on each device, 2 in the pool; a 2-core demand "fits"
	 * and lands on a device that cannot hold it */
	uint32_t two = addq(p, "two", 2, 100);
	assert_int_equal(policy_enqueue(p, two, 50, 10), 0);
	assert_int_equal(policy_next(p, 10, &pl), 0);
	assert_int_equal(pl.inst_id, 50);
	struct policy_device_info di;
	assert_int_equal(policy_device_info(p, pl.dev_id, &di), 0);
	assert_true(di.free.cpu < 0); /* over-committed by its own accounting */
	(void)s;
	policy_free(p);

	/* heterogeneous: the pool fits a 4-core task but only the big device ever can */
	p = mk(POLICY_DRF_PAPER, 0);
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){2, 8 * GB}), 0);
	assert_int_equal(policy_add_device(p, 1, (struct policy_res){8, 8 * GB}), 0);
	uint32_t f = addq(p, "four", 4, 100), six = addq(p, "six", 6, 100);
	assert_int_equal(policy_enqueue(p, six, 1, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.dev_id, 1);
	/* dev 0 is the most idle (2 of 2 free) but can never hold 4 cores; dev 1 has 2 of 8
	 * free: the pooled fit (4 <= 2 + 2) sends the task to dev 1, where it waits */
	assert_int_equal(policy_enqueue(p, f, 9, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.inst_id, 9);
	assert_int_equal(pl.dev_id, 1);
	policy_free(p);
}

static void test_rr(void **state)
{
	struct policy *p = mk(POLICY_RR, 0);
	add_pis(p, 3);
	uint32_t a = addq(p, "a", 1, 10), b = addq(p, "b", 1, 10), c = addq(p, "c", 1, 10);
	struct policy_placement pl;
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(policy_enqueue(p, a, 10 + i, 0), 0);
		assert_int_equal(policy_enqueue(p, b, 20 + i, 0), 0);
		assert_int_equal(policy_enqueue(p, c, 30 + i, 0), 0);
	}
	uint32_t want_q[] = {a, b, c, a, b, c};
	uint32_t want_d[] = {0, 1, 2, 0, 1, 2};
	for (unsigned i = 0; i < 6; i++) {
		assert_int_equal(policy_next(p, 0, &pl), 0);
		assert_int_equal(pl.queue_id, want_q[i]);
		assert_int_equal(pl.dev_id, want_d[i]);
	}
	policy_free(p);
}

static void run_random(uint64_t seed, uint64_t *out, unsigned n)
{
	struct policy *p = mk(POLICY_RANDOM, seed);
	add_pis(p, 8);
	uint32_t q[4];
	char name[8];
	for (unsigned j = 0; j < 4; j++) {
		snprintf(name, sizeof(name), "q%u", j);
		q[j] = addq(p, name, 1, 10);
		for (unsigned i = 0; i < 10; i++)
			assert_int_equal(policy_enqueue(p, q[j], j * 100 + i, 0), 0);
	}
	struct policy_placement pl;
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(policy_next(p, 0, &pl), 0);
		out[i] = pl.inst_id * 1000 + pl.dev_id;
	}
	policy_free(p);
}

static void test_random_reproducible(void **state)
{
	uint64_t a[20], b[20], c[20];
	run_random(7, a, 20);
	run_random(7, b, 20);
	run_random(8, c, 20);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(memcmp(a, c, sizeof(a)) != 0);
}

static void test_cancel_and_dead_device(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 2);
	uint32_t q = addq(p, "q", 1, 10);
	struct policy_placement pl;
	assert_int_equal(policy_enqueue(p, q, 1, 0), 0);
	assert_int_equal(policy_enqueue(p, q, 2, 0), 0);
	assert_int_equal(policy_cancel(p, 1), 0);
	assert_int_equal(policy_cancel(p, 1), -ENOENT);
	assert_int_equal(policy_set_device_live(p, 0, false), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.inst_id, 2);
	assert_int_equal(pl.dev_id, 1);
	assert_int_equal(policy_cancel(p, 2), -ENOENT); /* running, not waiting */
	struct policy_queue_info qi;
	assert_int_equal(policy_queue_info(p, q, &qi), 0);
	/* pooled capacity counts only the live device: 1/4 */
	assert_true(fabs(qi.dominant_share - 0.25) < 1e-12);
	assert_int_equal(policy_set_device_live(p, 1, false), 0);
	assert_int_equal(policy_enqueue(p, q, 3, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	policy_free(p);
}

/* Comparator: antisymmetric and transitive on random keys with many ties. */
static void test_cmp_total_order(void **state)
{
	static const char *names[] = {"a", "b", "c", "d"};
	struct policy_queue_key k[64];
	srand(1234);
	for (unsigned i = 0; i < ELEMS(k); i++)
		k[i] = (struct policy_queue_key){.share = (rand() % 3) / 4.0,
						 .running = (uint32_t)(rand() % 3),
						 .head_arrival = rand() % 3,
						 .name = names[rand() % 4]};
	for (unsigned i = 0; i < ELEMS(k); i++)
		for (unsigned j = 0; j < ELEMS(k); j++) {
			int ij = policy_queue_cmp(&k[i], &k[j]),
			    ji = policy_queue_cmp(&k[j], &k[i]);
			assert_int_equal(ij, -ji);
			if (ij == 0)
				assert_true(k[i].share == k[j].share &&
					    k[i].running == k[j].running &&
					    k[i].head_arrival == k[j].head_arrival &&
					    !strcmp(k[i].name, k[j].name));
			for (unsigned l = 0; l < ELEMS(k); l++)
				if (ij < 0 && policy_queue_cmp(&k[j], &k[l]) < 0)
					assert_true(policy_queue_cmp(&k[i], &k[l]) < 0);
		}
	/* the documented order of keys */
	struct policy_queue_key x = {0.1, 5, 9, "z"}, y = {0.2, 0, 0, "a"};
	assert_true(policy_queue_cmp(&x, &y) < 0);
	y = (struct policy_queue_key){0.1, 4, 9, "z"};
	assert_true(policy_queue_cmp(&x, &y) > 0);
	y = (struct policy_queue_key){0.1, 5, 8, "z"};
	assert_true(policy_queue_cmp(&x, &y) > 0);
	y = (struct policy_queue_key){0.1, 5, 9, "y"};
	assert_true(policy_queue_cmp(&x, &y) > 0);
}

/* Earliest head arrival breaks a share/running tie before the name does. */
static void test_tie_arrival(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 1);
	uint32_t a = addq(p, "a", 1, 10), b = addq(p, "b", 1, 10);
	struct policy_placement pl;
	assert_int_equal(policy_enqueue(p, a, 1, 5), 0);
	assert_int_equal(policy_enqueue(p, b, 2, 4), 0);
	assert_int_equal(policy_next(p, 5, &pl), 0);
	assert_int_equal(pl.queue_id, b);
	policy_free(p);
}

/* Eq. (4): literal and knee rules. */
static void test_efficiency(void **state)
{
	/* speed-ups 1, 1.9, 2.4, 2.6 */
	double t[] = {100, 100 / 1.9, 100 / 2.4, 100 / 2.6};
	double eff[4];
	unsigned c;
	assert_int_equal(policy_efficiency(t, 4, eff), 0);
	assert_true(fabs(eff[0] - 1) < 1e-12);
	assert_true(fabs(eff[1] - 0.95) < 1e-12);
	assert_true(fabs(eff[2] - 0.8) < 1e-12);
	assert_true(fabs(eff[3] - 0.65) < 1e-12);
	assert_int_equal(policy_pick_cores(t, 4, POLICY_EFF_LITERAL, 0, &c), 0);
	assert_int_equal(c, 1);
	assert_int_equal(policy_pick_cores(t, 4, POLICY_EFF_KNEE, 0.75, &c), 0);
	assert_int_equal(c, 3);
	assert_int_equal(policy_pick_cores(t, 4, POLICY_EFF_KNEE, 0.95, &c), 0);
	assert_int_equal(c, 2);
	assert_int_equal(policy_pick_cores(t, 4, POLICY_EFF_KNEE, 0.5, &c), 0);
	assert_int_equal(c, 4);
	/* super-linear: literal picks the best; ties keep fewer cores */
	double s[] = {100, 40, 100.0 / 3};
	assert_int_equal(policy_pick_cores(s, 3, POLICY_EFF_LITERAL, 0, &c), 0);
	assert_int_equal(c, 2);
	double tie[] = {100, 50, 40};
	assert_int_equal(policy_pick_cores(tie, 3, POLICY_EFF_LITERAL, 0, &c), 0);
	assert_int_equal(c, 1);
	double bad[] = {100, 0};
	c = 77;
	assert_int_equal(policy_pick_cores(bad, 2, POLICY_EFF_LITERAL, 0, &c), -EINVAL);
	assert_int_equal(c, 77);
	assert_int_equal(policy_pick_cores(t, 4, POLICY_EFF_KNEE, 1.5, &c), -EINVAL);
	assert_int_equal(policy_pick_cores(t, 0, POLICY_EFF_KNEE, 0.75, &c), -EINVAL);
}

/* Many instances through the hash table, with cancel and release in between. */
static void test_many_instances(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 4);
	uint32_t q = addq(p, "q", 0.001, 1);
	struct policy_placement pl;
	for (uint64_t i = 0; i < 5000; i++)
		assert_int_equal(policy_enqueue(p, q, i * 7919, i), 0);
	for (uint64_t i = 0; i < 5000; i += 2)
		assert_int_equal(policy_cancel(p, i * 7919), 0);
	unsigned n = 0;
	while (policy_next(p, 0, &pl) == 0) {
		assert_int_equal(pl.inst_id % (2 * 7919), 7919); /* FIFO kept the odd ones */
		assert_int_equal(policy_release(p, pl.inst_id, 0), 0);
		n++;
	}
	assert_int_equal(n, 2500);
	policy_free(p);
}

/* Without compensation a burst would land on one device; with it, it spreads. */
static void test_burst_spreads(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 4);
	uint32_t q = addq(p, "q", 2, 100);
	struct policy_placement pl;
	unsigned per_dev[4] = {0};
	for (uint64_t i = 0; i < 8; i++)
		assert_int_equal(policy_enqueue(p, q, i, 0), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(policy_set_device_free(p, i, (struct policy_res){4, 8 * GB}), 0);
	for (unsigned k = 0; k < 8; k++) {
		assert_int_equal(policy_next(p, 0, &pl), 0);
		per_dev[pl.dev_id]++;
	}
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(per_dev[i], 2); /* 2 x 2 cores each, never 3 on one Pi */
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	policy_free(p);
}

/* "Most idle" is the minimum over both dimensions: memory decides here. */
static void test_most_idle_memory(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 2);
	uint32_t q = addq(p, "q", 1, 1024);
	struct policy_placement pl;
	struct policy_device_info di;
	/* dev 0: 3.5 cores free but only 2 GB; dev 1: 2 cores free, 8 GB */
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){3.5, 2 * GB}), 0);
	assert_int_equal(policy_set_device_free(p, 1, (struct policy_res){2, 8 * GB}), 0);
	assert_int_equal(policy_enqueue(p, q, 1, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	/* after: dev0 min(2.5/4, 1/8) = 0.125; dev1 min(1/4, 7/8) = 0.25 */
	assert_int_equal(pl.dev_id, 1);
	/* measurements are clamped to [0, total] */
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){9, -1}), 0);
	assert_int_equal(policy_device_info(p, 0, &di), 0);
	assert_true(di.free.cpu == 4 && di.free.mem == 0);
	assert_int_equal(policy_set_device_free(p, 0, (struct policy_res){NAN, 0}), -EINVAL);
	policy_free(p);
}

/* Measured usage below demand lowers the share: the measured queue goes first. */
static void test_share_from_measurement(void **state)
{
	struct policy *p = mk(POLICY_RDDRF, 0);
	add_pis(p, 4);
	uint32_t a = addq(p, "a", 2, 100), b = addq(p, "b", 2, 100);
	struct policy_placement pl;
	assert_int_equal(policy_enqueue(p, a, 1, 0), 0);
	assert_int_equal(policy_enqueue(p, b, 2, 0), 0);
	assert_int_equal(policy_enqueue(p, a, 3, 0), 0);
	assert_int_equal(policy_enqueue(p, b, 4, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.inst_id, 1);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(pl.inst_id, 2);
	/* a's instance measures 0.5 cores, b's 1.5: a has the lower share now */
	assert_int_equal(policy_sample(p, 1, (struct policy_res){0.5, 50 * MB}), 0);
	assert_int_equal(policy_sample(p, 2, (struct policy_res){1.5, 50 * MB}), 0);
	assert_int_equal(policy_next(p, 1, &pl), 0);
	assert_int_equal(pl.queue_id, a);
	/* and drf would not care: it uses allocations (tested: equal shares -> running) */
	struct policy_queue_info qi;
	assert_int_equal(policy_queue_info(p, a, &qi), 0);
	assert_true(fabs(qi.usage.cpu - 2.5) < 1e-12); /* 0.5 measured + 2 in flight */
	policy_free(p);
}

/* Fractional demands that sum exactly to the device must fit despite rounding. */
static void test_fractional_exact_fit(void **state)
{
	struct policy *p = mk(POLICY_DRF, 0);
	assert_int_equal(policy_add_device(p, 0, (struct policy_res){0.3, GB}), 0);
	uint32_t a = addq(p, "a", 0.1, 1), b = addq(p, "b", 0.2, 1);
	struct policy_placement pl;
	assert_int_equal(policy_enqueue(p, a, 1, 0), 0);
	assert_int_equal(policy_enqueue(p, b, 2, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0);
	assert_int_equal(policy_next(p, 0, &pl), 0); /* 0.1 + 0.2 > 0.3 in binary */
	assert_int_equal(policy_enqueue(p, a, 3, 0), 0);
	assert_int_equal(policy_next(p, 0, &pl), -EAGAIN);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_reject_too_big),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_lowest_share_first),
	    cmocka_unit_test(test_weight),
	    cmocka_unit_test(test_most_idle_device),
	    cmocka_unit_test(test_head_waits_without_blocking),
	    cmocka_unit_test(test_inflight_compensation),
	    cmocka_unit_test(test_drf_first_fit),
	    cmocka_unit_test(test_drf_paper_late_release),
	    cmocka_unit_test(test_rr),
	    cmocka_unit_test(test_random_reproducible),
	    cmocka_unit_test(test_cancel_and_dead_device),
	    cmocka_unit_test(test_cmp_total_order),
	    cmocka_unit_test(test_tie_arrival),
	    cmocka_unit_test(test_efficiency),
	    cmocka_unit_test(test_many_instances),
	    cmocka_unit_test(test_burst_spreads),
	    cmocka_unit_test(test_most_idle_memory),
	    cmocka_unit_test(test_share_from_measurement),
	    cmocka_unit_test(test_fractional_exact_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
