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

#include <string.h>

#include "sim.h"
#include "workload.h"

#define SEEDS 12

static void run_n(const struct sim_workload *w, enum policy_kind k, struct sim_result *r,
		  uint32_t n)
{
	struct policy_params pp = {.kind = k};
	assert_int_equal(sim_run(w, &pp, 1, r), 0);
	assert_int_equal(r->completed, n);
}

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

/* Background load: it slows the tasks beside it (processor sharing), RD-DRF sees it and
 * keeps off the busy device, drf does not. */
static void test_background(void **state)
{
	static const char *json =
	    "{\"name\":\"bg\",\"devices\":["
	    "{\"name\":\"busy\",\"cpu\":2,\"mem\":\"1G\",\"background\":{\"kind\":"
	    "\"constant\",\"cpu\":1.5,\"mem\":\"100M\"}},"
	    "{\"name\":\"idle\",\"cpu\":2,\"mem\":\"1G\"}],"
	    "\"queues\":[{\"name\":\"q\",\"demand\":{\"cpu\":1,\"mem\":\"100M\"},"
	    "\"duration\":{\"dist\":\"fixed\",\"mean_s\":4},\"profile\":{\"cpu_lo\":1,"
	    "\"cpu_hi\":1,\"cpu_period_s\":1},\"arrivals\":{\"kind\":\"poisson\",\"rate\":"
	    "0.3,\"count\":40}}],\"sim\":{\"dt_s\":0.01,\"tick_s\":0.1}}";
	struct sim_workload *w = NULL;
	struct sim_result rd, drf;
	char err[256];
	assert_int_equal(workload_parse(json, strlen(json), &w, err, sizeof(err)), 0);
	assert_int_equal(w->background[0].kind, SIM_BG_CONSTANT);
	assert_true(sim_background_cpu(&w->background[0], 5) == 1.5);
	run_n(w, POLICY_RDDRF, &rd, 40);
	run_n(w, POLICY_DRF, &drf, 40);
	/* 1 core beside 1.5 on 2: slowed to 2/2.5 (1.25x); RD-DRF almost never goes there */
	assert_true(drf.max_slowdown > 1.2);
	assert_true(drf.oversub_s > 10);
	assert_true(rd.oversub_s < drf.oversub_s / 4);
	print_message("background: oversubscribed rddrf %.1f s, drf %.1f s\n", rd.oversub_s,
		      drf.oversub_s);
	sim_result_done(&rd);
	sim_result_done(&drf);
	sim_workload_free(w);
	/* a bad background names its field */
	const char *bad = "{\"devices\":[{\"cpu\":2,\"mem\":\"1G\",\"background\":{\"kind\":"
			  "\"periodic\",\"cpu\":1}}],\"queues\":[]}";
	assert_int_equal(workload_parse(bad, strlen(bad), &w, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "background.period_s"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generator),
	    cmocka_unit_test(test_generated),
	    cmocka_unit_test(test_background),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
