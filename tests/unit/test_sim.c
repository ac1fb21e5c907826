/* test_sim.c — simulator invariants (every instance completes or is rejected, no device over
 * capacity in allocation, OOM counted and re-queued, processor sharing) and workload parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "workload.h"

static struct sim_workload *parse_ok(const char *json)
{
	struct sim_workload *w = NULL;
	char err[256];
	int r = workload_parse(json, strlen(json), &w, err, sizeof(err));
	if (r < 0)
		fail_msg("parse failed: %s", err);
	return w;
}

static void check_complete(const struct sim_workload *w, const struct sim_result *r)
{
	uint32_t sub = 0;
	for (uint32_t j = 0; j < w->n_queues; j++) {
		assert_int_equal(r->per_queue[j].completed + r->per_queue[j].rejected,
				 r->per_queue[j].submitted);
		sub += r->per_queue[j].submitted;
	}
	assert_int_equal(r->completed + r->rejected, sub);
	assert_true(r->max_mem_used_frac <= 1.0 + 1e-9);
	assert_true(r->cpu_util >= 0 && r->cpu_util <= 1);
}

static void test_paper_all_policies(void **state)
{
	struct sim_workload *w = NULL;
	assert_int_equal(sim_workload_paper(&w), 0);
	assert_int_equal(w->n_devices, 4);
	assert_int_equal(w->n_queues, 4);
	for (int k = 0; k < _POLICY_KIND_MAX; k++) {
		struct policy_params pp = {
		    .kind = (enum policy_kind)k, .seed = 3, .reconcile_period_s = 10};
		struct sim_result r;
		assert_int_equal(sim_run(w, &pp, 3, &r), 0);
		check_complete(w, &r);
		assert_int_equal(r.completed, 1600);
		assert_int_equal(r.failed, 0); /* 4 x 1.6 GB never fills 8 GB */
		/* the makespan cannot beat the VGG-19 work alone on 4 devices (one 3-core VGG
		 * per 4-core device): 400 / 4 * 0.9 * 1.02619 s */
		assert_true(r.makespan_s > 400 / 4 * 0.9 * 1.02619);
		if (k == POLICY_DRF || k == POLICY_RR || k == POLICY_RANDOM) {
			assert_true(r.max_alloc_over <= 1.0 + 1e-9);
			assert_true(r.max_slowdown <= 1.0 + 1e-6); /* no over-subscription */
		}
		assert_true(r.max_slowdown >= 1.0 - 1e-6);
		assert_true(r.p95_wait_s >= r.avg_wait_s * 0.5);
		assert_true(r.n_samples > 0 && r.running);
		sim_result_done(&r);
	}
	sim_workload_free(w);
}

static void test_paper_completion_order(void **state)
{
	/* Fig. 11: under RD-DRF the queues finish Mobilenet < Resnet < Inception < VGG. */
	struct sim_workload *w = NULL;
	struct policy_params pp = {.kind = POLICY_RDDRF};
	struct sim_result r;
	assert_int_equal(sim_workload_paper(&w), 0);
	assert_int_equal(sim_run(w, &pp, 1, &r), 0);
	assert_true(r.per_queue[1].last_completion_s < r.per_queue[2].last_completion_s);
	assert_true(r.per_queue[2].last_completion_s < r.per_queue[0].last_completion_s);
	assert_true(r.per_queue[0].last_completion_s < r.per_queue[3].last_completion_s);
	sim_result_done(&r);
	sim_workload_free(w);
}

/* Ablation: without in-flight compensation a burst of placements lands on one device
 * before any measurement shows it, and waits there. */
static void test_inflight_ablation(void **state)
{
	struct sim_workload *w = NULL;
	struct policy_params pp = {.kind = POLICY_RDDRF, .memory_on_measured = true};
	struct sim_result with, without;
	assert_int_equal(sim_workload_paper(&w), 0);
	assert_int_equal(sim_run(w, &pp, 1, &with), 0);
	pp.no_inflight_compensation = true;
	assert_int_equal(sim_run(w, &pp, 1, &without), 0);
	check_complete(w, &without);
	assert_true(without.avg_wait_s > 2 * with.avg_wait_s);
	sim_result_done(&with);
	sim_result_done(&without);
	sim_workload_free(w);
}

static void test_deterministic(void **state)
{
	struct sim_workload *w = NULL;
	struct sim_result a, b, c;
	struct policy_params pp = {.kind = POLICY_RANDOM, .seed = 9};
	assert_int_equal(sim_workload_paper(&w), 0);
	assert_int_equal(sim_run(w, &pp, 9, &a), 0);
	assert_int_equal(sim_run(w, &pp, 9, &b), 0);
	pp.seed = 10;
	assert_int_equal(sim_run(w, &pp, 10, &c), 0);
	assert_true(a.avg_wait_s == b.avg_wait_s && a.makespan_s == b.makespan_s);
	assert_true(a.avg_wait_s != c.avg_wait_s);
	sim_result_done(&a);
	sim_result_done(&b);
	sim_result_done(&c);
	sim_workload_free(w);
}

/* Memory ramps from 10 % to 100 % of the limit: RD-DRF sees little memory used early and
 * packs a second task, both ramp, the kernel OOM-kills one, it is re-queued and completes.
 * DRF reserves demands and never over-commits. */
static const char *oom_json =
    "{\"name\":\"oom\",\"devices\":[{\"cpu\":4,\"mem\":\"1G\"}],"
    "\"queues\":[{\"name\":\"m\",\"demand\":{\"cpu\":0.5,\"mem\":\"600M\"},"
    "\"duration\":{\"dist\":\"fixed\",\"mean_s\":2},"
    "\"profile\":{\"cpu_lo\":1,\"cpu_hi\":1,\"cpu_period_s\":1,\"mem_start\":0.1,\"mem_peak\":1,"
    "\"mem_ramp\":1},"
    "\"arrivals\":{\"kind\":\"all_at_zero\",\"count\":6}}],"
    "\"sim\":{\"dt_s\":0.01,\"tick_s\":0.1}}";

static void test_oom_requeued(void **state)
{
	struct sim_workload *w = parse_ok(oom_json);
	struct policy_params pp = {.kind = POLICY_RDDRF, .memory_on_measured = true};
	struct sim_result r;
	assert_int_equal(sim_run(w, &pp, 1, &r), 0); /* the paper's reading: OOM kills */
	check_complete(w, &r);
	assert_int_equal(r.completed, 6);
	assert_true(r.failed > 0);
	sim_result_done(&r);
	pp.memory_on_measured = false; /* memory within the demands: none */
	assert_int_equal(sim_run(w, &pp, 1, &r), 0);
	check_complete(w, &r);
	assert_int_equal(r.completed, 6);
	assert_int_equal(r.failed, 0);
	sim_result_done(&r);
	pp.kind = POLICY_DRF;
	assert_int_equal(sim_run(w, &pp, 1, &r), 0);
	check_complete(w, &r);
	assert_int_equal(r.failed, 0);
	assert_true(fabs(r.makespan_s - 12) < 0.05); /* strictly one at a time, 6 x 2 s */
	assert_true(r.max_alloc_over <= 1);
	sim_result_done(&r);
	sim_workload_free(w);
}

/* Bursty CPU: RD-DRF packs on measured usage, the bursts then over-subscribe the device
 * and processor sharing stretches runs beyond their unloaded duration. */
static void test_processor_sharing(void **state)
{
	struct sim_workload *w =
	    parse_ok("{\"devices\":[{\"cpu\":2,\"mem\":\"8G\"}],"
		     "\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1,\"mem\":\"10M\"},"
		     "\"duration\":{\"mean_s\":1},"
		     "\"profile\":{\"cpu_lo\":0.05,\"cpu_hi\":1,\"cpu_period_s\":0.5},"
		     "\"arrivals\":{\"kind\":\"all_at_zero\",\"count\":40}}]}");
	struct policy_params pp = {.kind = POLICY_RDDRF};
	struct sim_result r;
	assert_int_equal(sim_run(w, &pp, 1, &r), 0);
	check_complete(w, &r);
	assert_true(r.max_slowdown > 1.05);
	sim_result_done(&r);
	pp.kind = POLICY_DRF;
	assert_int_equal(sim_run(w, &pp, 1, &r), 0);
	assert_true(r.max_slowdown < 1.0 + 1e-6);
	/* two at a time, 20 rounds of 1 s (plus step rounding) */
	assert_true(r.makespan_s > 19.99 && r.makespan_s < 20.5);
	sim_result_done(&r);
	sim_workload_free(w);
}

static void test_rejected_and_arrivals(void **state)
{
	struct sim_workload *w =
	    parse_ok("{\"devices\":[{\"cpu\":\"2\",\"mem\":\"1G\",\"count\":2}],"
		     "\"queues\":["
		     "{\"name\":\"huge\",\"demand\":{\"cpu\":3},\"duration\":{\"mean_s\":1},"
		     "\"arrivals\":{\"kind\":\"all_at_zero\",\"count\":3}},"
		     "{\"name\":\"p\",\"demand\":{\"cpu\":\"500m\",\"mem\":\"100M\"},\"weight\":2,"
		     "\"duration\":{\"dist\":\"exponential\",\"mean_s\":0.5},"
		     "\"arrivals\":{\"kind\":\"poisson\",\"rate\":4,\"count\":50}},"
		     "{\"name\":\"l\",\"demand\":{\"cpu\":1},\"duration\":{\"dist\":\"normal\","
		     "\"mean_s\":1,\"spread\":0.2},"
		     "\"arrivals\":{\"kind\":\"list\",\"times\":[0,5,5,100]}}]}");
	assert_int_equal(w->n_devices, 2);
	assert_true(w->queues[1].demand.cpu == 0.5 && w->queues[1].weight == 2);
	for (int k = 0; k < _POLICY_KIND_MAX; k++) {
		struct policy_params pp = {
		    .kind = (enum policy_kind)k, .seed = 5, .reconcile_period_s = 10};
		struct sim_result r;
		assert_int_equal(sim_run(w, &pp, 5, &r), 0);
		check_complete(w, &r);
		assert_int_equal(r.per_queue[0].rejected, 3);
		assert_int_equal(r.per_queue[1].completed, 50);
		assert_int_equal(r.per_queue[2].completed, 4);
		assert_true(r.per_queue[2].last_completion_s >= 100); /* the t=100 arrival ran */
		sim_result_done(&r);
	}
	sim_workload_free(w);
}

/* Property test: random small workloads, every policy, the invariants hold. */
static void test_random_workloads(void **state)
{
	uint64_t rng = 12345;
#define RND()                                                                                      \
	(rng = rng * 6364136223846793005ull + 1442695040888963407ull,                              \
	 (double)(rng >> 11) / 9007199254740992.0)
	for (int round = 0; round < 12; round++) {
		struct sim_workload w = {
		    .name = "rand", .dt_s = 0.005, .tick_s = 0.05, .horizon_s = 1e5};
		struct policy_res devs[5];
		struct sim_queue qs[4];
		char names[4][16];
		w.n_devices = 1 + (uint32_t)(RND() * 4);
		for (uint32_t i = 0; i < w.n_devices; i++)
			devs[i] = (struct policy_res){1 + (int)(RND() * 8),
						      (0.5 + RND() * 4) * 1073741824.0};
		w.devices = devs;
		w.n_queues = 1 + (uint32_t)(RND() * 4);
		for (uint32_t j = 0; j < w.n_queues; j++) {
			double lo = 0.1 + RND() * 0.9, m0 = RND();
			snprintf(names[j], sizeof(names[j]), "q%u", j);
			qs[j] = (struct sim_queue){
			    .name = names[j],
			    .demand = {0.25 + RND() * 4, (0.05 + RND() * 2) * 1073741824.0},
			    .weight = 0.5 + RND(),
			    .duration = {(enum sim_dist)(RND() * 4), 0.05 + RND(), 0.3},
			    .profile = {lo, lo + (1 - lo) * RND(), 0.01 + RND() * 0.1, m0,
					m0 + (1 - m0) * RND(), RND()},
			    .arrival = RND() < 0.5 ? SIM_ARRIVE_AT_ZERO : SIM_ARRIVE_POISSON,
			    .count = 5 + (uint32_t)(RND() * 30),
			    .rate = 1 + RND() * 20,
			};
		}
		w.queues = qs;
		assert_int_equal(sim_workload_check(&w, NULL), 0);
		for (int k = 0; k < _POLICY_KIND_MAX; k++) {
			struct policy_params pp = {.kind = (enum policy_kind)k,
						   .seed = (uint64_t)round,
						   .reconcile_period_s = 1};
			struct sim_result r;
			assert_int_equal(sim_run(&w, &pp, (uint64_t)round, &r), 0);
			check_complete(&w, &r);
			if (k == POLICY_DRF || k == POLICY_RR || k == POLICY_RANDOM) {
				assert_true(r.max_alloc_over <= 1.0 + 1e-9);
				assert_int_equal(r.failed, 0);
				assert_true(r.max_slowdown <= 1.0 + 1e-6);
			}
			sim_result_done(&r);
		}
	}
#undef RND
}

static void expect_err(const char *json, const char *msg)
{
	struct sim_workload *w = (void *)0x1;
	char err[256];
	assert_int_equal(workload_parse(json, strlen(json), &w, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, msg);
	assert_ptr_equal(w, (void *)0x1); /* untouched on failure */
}

#define DEV "\"devices\":[{\"cpu\":4,\"mem\":\"8G\"}]"
#define Q(x)                                                                                       \
	"{\"name\":\"q\",\"demand\":{\"cpu\":1},\"duration\":{\"mean_s\":1},\"arrivals\":{"        \
	"\"kind\":\"all_at_zero\",\"count\":1}" x "}"

static void test_workload_errors(void **state)
{
	expect_err("", "workload: truncated JSON");
	expect_err("[1]", "workload: expected a JSON object");
	expect_err("{\"devices\":[]}", "devices: expected at least one device");
	expect_err("{\"devices\":[{\"cpu\":4}]}", "devices[0].mem: missing");
	expect_err("{\"devices\":[{\"cpu\":-4,\"mem\":1}]}",
		   "devices[0].cpu: expected a positive number");
	expect_err("{\"devices\":[{\"cpu\":4,\"mem\":\"12Q\"}]}",
		   "devices[0].mem: expected bytes such as 1073741824 or \"1257M\"");
	expect_err("{" DEV "}", "queues: expected an array");
	expect_err("{" DEV ",\"queues\":[" Q("") "," Q("") "]}", "queues[1].name: duplicate \"q\"");
	expect_err("{" DEV ",\"queues\":[" Q(
		       "") ",{\"name\":\"b\"},{\"name\":\"c\",\"demand\":{\"cpu\":0}}]}",
		   "queues[1].demand: missing");
	expect_err("{" DEV ",\"queues\":[{\"name\":\"a\",\"demand\":{\"cpu\":1}},{\"name\":\"b\","
		   "\"demand\":{\"cpu\":1}},"
		   "{\"name\":\"c\",\"demand\":{\"cpu\":0}}]}",
		   "queues[0].duration: missing");
	expect_err("{" DEV ",\"queues\":[" Q("") "," Q(",\"name2\":1") "]}",
		   "queues[1].name2: unknown key");
	expect_err("{" DEV ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":-1}}]}",
		   "queues[0].demand.cpu: expected a positive number");
	expect_err("{" DEV ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":true}}]}",
		   "queues[0].demand.cpu: expected a positive number");
	expect_err("{" DEV ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1},\"duration\":{"
		   "\"dist\":\"zipf\",\"mean_s\":1}}]}",
		   "queues[0].duration.dist: expected fixed, uniform, exponential or normal");
	expect_err(
	    "{" DEV
	    ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1},\"duration\":{\"mean_s\":1},"
	    "\"arrivals\":{\"kind\":\"list\",\"times\":[1,-2]}}]}",
	    "queues[0].arrivals.times[1]: expected a non-negative number");
	expect_err(
	    "{" DEV
	    ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1},\"duration\":{\"mean_s\":1},"
	    "\"arrivals\":{\"kind\":\"poisson\",\"count\":3}}]}",
	    "queues[0].arrivals.rate: missing");
	expect_err(
	    "{" DEV
	    ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1},\"duration\":{\"mean_s\":1},"
	    "\"profile\":{\"cpu_lo\":0.9,\"cpu_hi\":0.5},\"arrivals\":{\"kind\":\"all_at_zero\","
	    "\"count\":3}}]}",
	    "queues[0].profile.cpu_lo: expected at most cpu_hi");
	expect_err(
	    "{" DEV
	    ",\"queues\":[{\"name\":\"c\",\"demand\":{\"cpu\":1},\"duration\":{\"mean_s\":1},"
	    "\"profile\":{\"mem_peak\":1.5},\"arrivals\":{\"kind\":\"all_at_zero\",\"count\":3}}]}",
	    "queues[0].profile.mem_peak: expected a fraction of the limit, at most 1");
	expect_err("{" DEV ",\"queues\":[" Q("") "],\"sim\":{\"dt_s\":0.5,\"tick_s\":0.1}}",
		   "sim.tick_s: expected at least dt_s");
	expect_err("{" DEV ",\"queues\":[" Q("") "]} x",
		   "workload: invalid JSON at byte 146: unexpected character");
}

static void test_workload_load(void **state)
{
	struct sim_workload *w = NULL;
	char err[256];
	assert_int_equal(workload_load("paper", &w, err, sizeof(err)), 0);
	assert_string_equal(w->name, "paper");
	sim_workload_free(w);
	assert_int_equal(workload_load("/nonexistent/w.json", &w, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "/nonexistent/w.json: No such file or directory");
	w = parse_ok("{" DEV ",\"queues\":[" Q("") "]}");
	assert_string_equal(w->name, "file");
	assert_true(w->dt_s == 0.002 && w->tick_s == 0.1);
	assert_true(w->queues[0].profile.cpu_lo == 1 && w->queues[0].profile.mem_start == 1);
	sim_workload_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_paper_all_policies),
	    cmocka_unit_test(test_paper_completion_order),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_oom_requeued),
	    cmocka_unit_test(test_processor_sharing),
	    cmocka_unit_test(test_rejected_and_arrivals),
	    cmocka_unit_test(test_workload_errors),
	    cmocka_unit_test(test_workload_load),
	    cmocka_unit_test(test_random_workloads),
	    cmocka_unit_test(test_inflight_ablation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
