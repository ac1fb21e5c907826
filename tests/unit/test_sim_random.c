/* test_sim_random.c — RD-DRF on generated workloads (random demands, durations, memory
 * ramps, Poisson arrivals at 90 % offered CPU): with memory admitted only within the
 * demands, no OOM kill wherever drf has none, and the wait advantage over drf holds; the
 * paper's memory-on-measured reading does OOM-kill on the same workloads (so the check can
 * fail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>

#include "sim.h"

#define SEEDS 12

static void run(const struct sim_workload *w, enum policy_kind k, bool paper, uint64_t seed,
		struct sim_result *r)
{
	struct policy_params pp = {.kind = k, .memory_on_measured = paper};
	assert_int_equal(sim_run(w, &pp, seed, r), 0);
	assert_int_equal(r->completed + r->rejected, 360);
}

static void test_generated(void **state)
{
	double ratio_sum = 0;
	unsigned paper_ooms = 0, better = 0;

	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		struct sim_workload *w = NULL;
		struct sim_result rd, drf, paper;
		assert_int_equal(sim_workload_random(seed, NULL, &w), 0);
		run(w, POLICY_RDDRF, false, seed, &rd);
		run(w, POLICY_DRF, false, seed, &drf);
		run(w, POLICY_RDDRF, true, seed, &paper);
		if (drf.failed == 0)
			assert_int_equal(rd.failed, 0);
		paper_ooms += paper.failed;
		ratio_sum += rd.avg_wait_s / drf.avg_wait_s;
		better += rd.avg_wait_s < drf.avg_wait_s;
		print_message(
		    "seed %2llu: wait rddrf %.1f s, drf %.1f s (%.2fx); OOM rddrf %u, drf "
		    "%u, paper-rddrf %u\n",
		    (unsigned long long)seed, rd.avg_wait_s, drf.avg_wait_s,
		    rd.avg_wait_s / drf.avg_wait_s, rd.failed, drf.failed, paper.failed);
		sim_result_done(&rd);
		sim_result_done(&drf);
		sim_result_done(&paper);
		sim_workload_free(w);
	}
	assert_true(paper_ooms > 0);	      /* the memory rule is what prevents them */
	assert_true(ratio_sum / SEEDS < 1.0); /* still ahead of drf on average ... */
	assert_true(better * 4 >= SEEDS * 3); /* ... and on at least 3 of 4 workloads */
}

static void test_generator(void **state)
{
	struct sim_workload *a = NULL, *b = NULL;
	const char *field = NULL;
	struct sim_random_params bad = {.n_devices = 0};
	assert_int_equal(sim_workload_random(7, NULL, &a), 0);
	assert_int_equal(sim_workload_random(7, NULL, &b), 0);
	assert_int_equal(sim_workload_check(a, &field), 0);
	for (uint32_t j = 0; j < a->n_queues; j++) { /* same seed, same workload */
		assert_true(a->queues[j].demand.cpu == b->queues[j].demand.cpu);
		assert_true(a->queues[j].profile.mem_ramp == b->queues[j].profile.mem_ramp);
		assert_true(a->queues[j].demand.cpu <= a->devices[0].cpu);
		assert_true(a->queues[j].demand.mem <= a->devices[0].mem);
	}
	assert_int_equal(sim_workload_random(7, &bad, &b), -EINVAL);
	sim_workload_free(a);
	sim_workload_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generator),
	    cmocka_unit_test(test_generated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
