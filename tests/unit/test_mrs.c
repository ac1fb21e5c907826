/* test_mrs.c — MRS/SRS DAG scheduling: DAG validation, topological priority, capacity and
 * precedence replay of schedules, the SRS retraining rule, hand-computed schedules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mrs.h"

static void add_task(struct mrs_app *a, const char *name, double w, double c)
{
	struct mrs_task *t = &a->task[a->n_tasks++];
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->work = w;
	t->demand = c;
	t->data_out = 1000;
	t->acc0 = 0.9;
	t->acc_floor = 0.5;
}

static void add_edge(struct mrs_app *a, const char *from, const char *to)
{
	char f[MRS_NAME_MAX], t[MRS_NAME_MAX];
	snprintf(f, sizeof(f), "%s", from);
	snprintf(t, sizeof(t), "%s", to);
	memcpy(a->edge[a->n_edges].from, f, sizeof(f));
	memcpy(a->edge[a->n_edges].to, t, sizeof(t));
	a->n_edges++;
}

static void cluster(struct mrs_cluster *cl, size_t n, double cap)
{
	memset(cl, 0, sizeof(*cl));
	cl->n = n;
	for (size_t j = 0; j < n; j++) {
		snprintf(cl->s[j].name, MRS_NAME_MAX, "s%zu", j);
		cl->s[j].capacity = cap;
		cl->s[j].speed = 1.0 + (double)j * 0.5;
		for (size_t k = 0; k < n; k++)
			cl->link[j][k] = 1e4;
	}
	cl->source_rate = 1e4;
}

static void test_validation(void **state)
{
	struct mrs_app a = {0};
	struct mrs_dag d;
	const char *bad = NULL;

	add_task(&a, "det", 1, 1);
	add_task(&a, "face", 1, 1);
	add_task(&a, "age", 1, 1);
	add_edge(&a, "det", "face");
	add_edge(&a, "face", "age");
	assert_int_equal(mrs_dag_build(&a, NULL, &d, &bad), 0);
	assert_int_equal(d.n, 3);
	assert_true(d.succ[0] == 2 && d.pred[2] == 2);

	add_edge(&a, "age", "det");
	assert_int_equal(mrs_dag_build(&a, NULL, &d, &bad), -ELOOP);
	assert_non_null(bad);
	assert_true(strcmp(bad, "det") == 0 || strcmp(bad, "face") == 0 || strcmp(bad, "age") == 0);

	snprintf(a.edge[2].to, MRS_NAME_MAX, "ghost");
	bad = NULL;
	assert_int_equal(mrs_dag_build(&a, NULL, &d, &bad), -ENOENT);
	assert_string_equal(bad, "ghost");

	a.n_edges = 2;
	add_edge(&a, "face", "face");
	assert_int_equal(mrs_dag_build(&a, NULL, &d, &bad), -ELOOP);
	assert_string_equal(bad, "face");

	a.n_edges = 2;
	a.task[1].demand = 5;
	struct mrs_cluster cl;
	cluster(&cl, 2, 4);
	assert_int_equal(mrs_dag_build(&a, &cl, &d, &bad), -E2BIG);
	assert_string_equal(bad, "face");
	a.task[1].demand = -1;
	assert_int_equal(mrs_dag_build(&a, &cl, &d, &bad), -EINVAL);
}

static void random_app(struct mrs_app *a, unsigned *seed, size_t n)
{
	char name[32];
	memset(a, 0, sizeof(*a));
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "t%zu", i);
		add_task(a, name, 0.5 + rand_r(seed) % 20, 0.5 + rand_r(seed) % 4);
		a->task[i].data_out = rand_r(seed) % 5000;
	}
	/* edges only forward in a random permutation: acyclic by construction */
	size_t perm[MRS_MAX_TASKS];
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t k = rand_r(seed) % i, t = perm[i - 1];
		perm[i - 1] = perm[k];
		perm[k] = t;
	}
	for (size_t i = 0; i < n && a->n_edges < MRS_MAX_EDGES; i++)
		for (size_t k = i + 1; k < n && a->n_edges < MRS_MAX_EDGES; k++)
			if (rand_r(seed) % 4 == 0)
				add_edge(a, a->task[perm[i]].name, a->task[perm[k]].name);
}

static void test_priority_topological(void **state)
{
	unsigned seed = 42;
	struct mrs_cluster cl;
	cluster(&cl, 3, 4);
	for (int it = 0; it < 300; it++) {
		struct mrs_app a;
		struct mrs_dag d;
		int order[MRS_MAX_NODES], pos[MRS_MAX_NODES];
		double phi[MRS_MAX_NODES];
		random_app(&a, &seed, 1 + rand_r(&seed) % MRS_MAX_TASKS);
		assert_int_equal(mrs_dag_build(&a, &cl, &d, NULL), 0);
		assert_int_equal(mrs_priority(&cl, &d, phi, order), 0);
		for (size_t k = 0; k < d.n; k++)
			pos[order[k]] = (int)k;
		for (size_t i = 0; i < d.n; i++)
			for (size_t s = 0; s < d.n; s++)
				if ((d.succ[i] >> s) & 1) {
					assert_true(pos[i] < pos[s]);
					assert_true(phi[i] > phi[s]);
				}
	}
}

/* Replay: at every reservation start the summed demand on the server stays within capacity,
 * and every node starts after its predecessors finish. */
static void check_replay(const struct mrs_cluster *cl, const struct mrs_trace_entry *t, size_t n)
{
	for (size_t a = 0; a < n; a++) {
		double use = 0;
		for (size_t b = 0; b < n; b++)
			if (t[b].server == t[a].server && t[b].start <= t[a].start + 1e-9 &&
			    t[a].start < t[b].finish - 1e-9)
				use += t[b].demand;
		assert_true(use <= cl->s[t[a].server].capacity + 1e-6);
		for (size_t b = 0; b < n; b++)
			if (t[b].req == t[a].req && ((t[a].pred >> t[b].node) & 1))
				assert_true(t[b].finish <= t[a].start + 1e-9);
	}
}

static void test_list_schedule_replay(void **state)
{
	unsigned seed = 7;
	struct mrs_cluster cl;
	cluster(&cl, 3, 4);
	for (int it = 0; it < 100; it++) {
		struct mrs_app a;
		struct mrs_dag d;
		struct mrs_placement pl[MRS_MAX_NODES];
		struct mrs_trace_entry tr[MRS_MAX_NODES * 2];
		struct mrs_timeline *tl;
		size_t n = 0;
		random_app(&a, &seed, 2 + rand_r(&seed) % 20);
		assert_int_equal(mrs_dag_build(&a, &cl, &d, NULL), 0);
		assert_int_equal(mrs_timeline_new(cl.n, &tl), 0);
		/* two requests on one timeline so reservations interact */
		for (int r = 0; r < 2; r++) {
			assert_int_equal(mrs_list_schedule(&cl, &d, r * 3.0, tl, pl), 0);
			for (size_t i = 0; i < d.n; i++) {
				tr[n++] = (struct mrs_trace_entry){.req = (size_t)r,
								   .node = (int)i,
								   .server = pl[i].server,
								   .start = pl[i].start,
								   .finish = pl[i].finish,
								   .demand = d.node[i].demand,
								   .pred = d.pred[i]};
				assert_true(pl[i].start >= r * 3.0);
				assert_true(
				    fabs(pl[i].finish - pl[i].start -
					 d.node[i].work /
					     (d.node[i].demand * cl.s[pl[i].server].speed)) < 1e-9);
			}
		}
		check_replay(&cl, tr, n);
		mrs_timeline_free(tl);
	}
}

static void test_hand_computed(void **state)
{
	struct mrs_app a = {0};
	struct mrs_dag d;
	struct mrs_cluster cl;
	struct mrs_placement pl[MRS_MAX_NODES];
	struct mrs_timeline *tl;
	double phi[MRS_MAX_NODES];
	int order[MRS_MAX_NODES];

	cluster(&cl, 1, 2);
	add_task(&a, "a", 2, 1);
	add_task(&a, "b", 4, 1);
	add_task(&a, "c", 1, 1);
	add_edge(&a, "a", "c");
	add_edge(&a, "b", "c");
	assert_int_equal(mrs_dag_build(&a, &cl, &d, NULL), 0);
	assert_int_equal(mrs_priority(&cl, &d, phi, order), 0);
	/* one server: no transfers; phi(c)=1, phi(a)=2+1, phi(b)=4+1 */
	assert_true(phi[2] == 1 && phi[0] == 3 && phi[1] == 5);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 0);
	assert_int_equal(order[2], 2);

	/* capacity 2: a and b in parallel, c after b */
	assert_int_equal(mrs_timeline_new(1, &tl), 0);
	assert_int_equal(mrs_list_schedule(&cl, &d, 0, tl, pl), 0);
	assert_true(pl[1].start == 0 && pl[1].finish == 4);
	assert_true(pl[0].start == 0 && pl[0].finish == 2);
	assert_true(pl[2].start == 4 && pl[2].finish == 5);
	mrs_timeline_free(tl);

	/* capacity 1.5: b first (higher phi), a waits for it, c after a */
	cl.s[0].capacity = 1.5;
	assert_int_equal(mrs_timeline_new(1, &tl), 0);
	assert_int_equal(mrs_list_schedule(&cl, &d, 0, tl, pl), 0);
	assert_true(pl[1].start == 0 && pl[1].finish == 4);
	assert_true(pl[0].start == 4 && pl[0].finish == 6);
	assert_true(pl[2].start == 6 && pl[2].finish == 7);
	/* a 0.5-demand task fits next to b at t=0 */
	assert_true(mrs_timeline_earliest(tl, &cl, 0, 0, 1, 0.5) == 0);
	assert_true(mrs_timeline_earliest(tl, &cl, 0, 0, 1, 1) == 7);
	mrs_timeline_free(tl);
}

static void test_delta_p_and_srs(void **state)
{
	struct mrs_cluster cl;
	struct mrs_task t = {.model_size = 0};
	struct mrs_retrain_cfg cheap = {.samples = 0, .work = 1, .resources = 1, .accuracy = 0.9};
	cluster(&cl, 1, 4);
	/* train 1 s on speed-1 server, gain 0.2 accuracy * theta 3 = 0.6: DeltaP = 1 - 0.6 > 0 */
	assert_true(fabs(mrs_delta_p(&cl, &t, 0, &cheap, 0.7, 3) - 0.4) < 1e-9);
	/* gain 0.5 -> DeltaP = 1 - 1.5 < 0 */
	assert_true(fabs(mrs_delta_p(&cl, &t, 0, &cheap, 0.4, 3) + 0.5) < 1e-9);

	/* through the simulator: one task, drift makes retraining worthwhile only later */
	struct mrs_workload wl = {.theta = 3, .a_min = 0.5, .pass_period = 100};
	struct mrs_result res;
	double arr[2] = {0, 100};
	wl.cluster = cl;
	wl.n_apps = 1;
	add_task(&wl.app[0], "m", 1, 1);
	wl.app[0].task[0].acc0 = 0.9;
	wl.app[0].task[0].drift = 0.005; /* 0.9 at t=0, 0.4 at t=100 */
	wl.app[0].task[0].acc_floor = 0.1;
	wl.app[0].task[0].n_cfg = 1;
	wl.app[0].task[0].cfg[0] = cheap;
	assert_int_equal(mrs_simulate(&wl, MRS_POLICY_MRS, arr, 2, true, &res), 0);
	assert_int_equal(res.retrainings, 1);
	assert_int_equal(res.n_trace, 3);
	for (size_t k = 0; k < res.n_trace; k++)
		assert_true(res.trace[k].retrain ==
			    (res.trace[k].req == 1 && res.trace[k].node == 1));
	/* request 0: 1 s, acc 0.9; request 1: retrain 1 s + infer 1 s, acc 0.9 */
	assert_true(fabs(res.mean_completion - 1.5) < 1e-9);
	assert_true(fabs(res.mean_accuracy - 0.9) < 1e-9);
	check_replay(&cl, res.trace, res.n_trace);
	free(res.trace);

	/* A_min above the reachable accuracy: never retrain */
	wl.a_min = 0.95;
	assert_int_equal(mrs_simulate(&wl, MRS_POLICY_MRS, arr, 2, false, &res), 0);
	assert_int_equal(res.retrainings, 0);
	assert_true(fabs(res.mean_accuracy - 0.65) < 1e-9);

	/* Ekya retrains whenever it helps; PASS once per period */
	assert_int_equal(mrs_simulate(&wl, MRS_POLICY_EKYA, arr, 2, false, &res), 0);
	assert_int_equal(res.retrainings, 1);
	wl.pass_period = 50;
	assert_int_equal(mrs_simulate(&wl, MRS_POLICY_PASS, arr, 2, false, &res), 0);
	assert_int_equal(res.retrainings, 2);
}

static void test_simulate_replay(void **state)
{
	unsigned seed = 3;
	struct mrs_workload wl = {.theta = 3, .a_min = 0.6, .pass_period = 5};
	double arr[60];
	cluster(&wl.cluster, 3, 4);
	wl.n_apps = 2;
	for (size_t a = 0; a < 2; a++) {
		random_app(&wl.app[a], &seed, 6);
		for (size_t i = 0; i < 6; i++) {
			struct mrs_task *t = &wl.app[a].task[i];
			t->drift = 0.01;
			t->n_cfg = 2;
			t->cfg[0] = (struct mrs_retrain_cfg){1000, 2, 1, 0.85};
			t->cfg[1] = (struct mrs_retrain_cfg){5000, 8, 2, 0.95};
			t->model_size = 2000;
		}
	}
	for (size_t k = 0; k < 60; k++)
		arr[k] = (double)k * 0.7;
	for (int p = 0; p < _MRS_POLICY_MAX; p++) {
		struct mrs_result res;
		assert_int_equal(mrs_simulate(&wl, (enum mrs_policy)p, arr, 60, true, &res), 0);
		assert_int_equal(res.n_requests, 60);
		assert_int_equal(res.n_trace, 60 * 6 + res.retrainings);
		assert_true(res.p95_completion >= res.mean_completion * 0.5);
		check_replay(&wl.cluster, res.trace, res.n_trace);
		free(res.trace);
	}
	enum mrs_policy pp;
	assert_int_equal(mrs_policy_from_name("ekya", &pp), 0);
	assert_int_equal(pp, MRS_POLICY_EKYA);
	assert_int_equal(mrs_policy_from_name("nope", &pp), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_validation),
	    cmocka_unit_test(test_priority_topological),
	    cmocka_unit_test(test_list_schedule_replay),
	    cmocka_unit_test(test_hand_computed),
	    cmocka_unit_test(test_delta_p_and_srs),
	    cmocka_unit_test(test_simulate_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
