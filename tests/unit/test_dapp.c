/* test_dapp.c — DAG applications (controller/daemon/dapp.c): validation errors naming the field,
 * cycles and dangling edges, MRS rank order being topological, failure propagation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dapp.h"

static int parse(const char *s, struct dapp *a, struct dapp_error *e)
{
	return dapp_parse(s, strlen(s), a, e);
}

static void expect_error(const char *doc, enum dapp_err code, const char *msg)
{
	struct dapp *a = calloc(1, sizeof(*a));
	struct dapp_error e;

	assert_non_null(a);
	assert_int_equal(parse(doc, a, &e), -EINVAL);
	if (strcmp(e.message, msg))
		fail_msg("document %s\n  message \"%s\"\n  wanted  \"%s\"", doc, e.message, msg);
	assert_int_equal(e.code, code);
	assert_int_equal(a->n, 0); /* nothing left half-parsed */
	free(a);
}

static void test_parse_ok(void **state)
{
	struct dapp *a = calloc(1, sizeof(*a));
	struct dapp_error e;
	double phi[DAPP_MAX_TASKS];
	int order[DAPP_MAX_TASKS];

	assert_int_equal(
	    parse("{\"name\":\"traffic\",\"tasks\":["
		  "{\"name\":\"detect\",\"model\":\"yolo\",\"argv\":[\"/bin/"
		  "d\",\"-x\"],\"compute_s\":2},"
		  "{\"name\":\"face\",\"queue\":\"face\",\"demand\":{\"cpu\":\"500m\",\"memory\":"
		  "\"10M\"},"
		  "\"argv\":[\"f\"],\"after\":[\"detect\"],\"compute_s\":1},"
		  "{\"name\":\"vehicle\",\"queue\":\"veh\",\"after\":[\"detect\"],\"compute_s\":3},"
		  "{\"name\":\"report\",\"queue\":\"rep\",\"after\":[\"face\",\"vehicle\"]}]}",
		  a, &e),
	    0);
	assert_string_equal(a->name, "traffic");
	assert_int_equal(a->n, 4);
	assert_string_equal(a->task[0].queue, "yolo");
	assert_int_equal(a->task[0].argc, 2);
	assert_null(a->task[0].argv[2]);
	assert_false(a->task[0].has_demand);
	assert_true(a->task[1].has_demand);
	assert_true(a->task[1].cpu == 0.5);
	assert_int_equal(a->task[1].mem, 10ull << 20);
	assert_null(a->task[2].argv); /* the catalog's command */
	assert_true(a->task[3].compute_s == 1.0);
	assert_int_equal(a->task[0].pred, 0);
	assert_int_equal(a->task[1].pred, 1);
	assert_int_equal(a->task[3].pred, (1 << 1) | (1 << 2));
	assert_int_equal(dapp_find(a, "vehicle"), 2);
	assert_int_equal(dapp_find(a, "nope"), -1);
	/* eq. 10: phi = w + max over successors; detect 2+3+1, vehicle 3+1, face 1+1, report 1 */
	assert_int_equal(dapp_priority(a, phi, order), 0);
	assert_true(phi[0] == 6 && phi[2] == 4 && phi[1] == 2 && phi[3] == 1);
	assert_int_equal(order[0], 0);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 1);
	assert_int_equal(order[3], 3);
	dapp_done(a);
	free(a);
}

static void test_errors(void **state)
{
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\"},{\"name\":\"b\","
		     "\"queue\":\"q\"},"
		     "{\"name\":\"c\",\"queue\":\"q\",\"after\":[\"detect\"]}]}",
		     DAPP_E_BAD_VALUE, "tasks[2].after[0]: unknown task \"detect\"");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"detect\",\"queue\":\"q\",\"after\":[\"face\"]},"
	    "{\"name\":\"face\",\"queue\":\"q\",\"after\":[\"detect\"]}]}",
	    DAPP_E_BAD_VALUE, "tasks: cycle detect -> face -> detect");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\"},"
		     "{\"name\":\"b\",\"queue\":\"q\",\"after\":[\"a\",\"d\"]},"
		     "{\"name\":\"c\",\"queue\":\"q\",\"after\":[\"b\"]},{\"name\":\"d\",\"queue\":"
		     "\"q\",\"after\":[\"c\"]}]}",
		     DAPP_E_BAD_VALUE, "tasks: cycle b -> c -> d -> b");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"after\":[\"a\"]}]}",
	    DAPP_E_BAD_VALUE, "tasks: cycle a -> a");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\"},{\"name\":\"a\","
		     "\"queue\":\"r\"}]}",
		     DAPP_E_BAD_VALUE, "tasks[1].name: duplicate \"a\" (tasks[0])");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"gpu\":1}]}",
		     DAPP_E_UNKNOWN_FIELD, "tasks[0].gpu: unknown field");
	expect_error("{\"name\":\"x\",\"tasks\":[],\"colour\":1}", DAPP_E_UNKNOWN_FIELD,
		     "colour: unknown field");
	expect_error("{\"name\":\"x\",\"tasks\":[]}", DAPP_E_BAD_VALUE,
		     "tasks: must have 1-32 tasks");
	expect_error("{\"tasks\":[{\"name\":\"a\",\"queue\":\"q\"}]}", DAPP_E_MISSING_FIELD,
		     "name: missing");
	expect_error("{\"name\":\"x\"}", DAPP_E_MISSING_FIELD, "tasks: missing");
	expect_error("{\"name\":7,\"tasks\":[]}", DAPP_E_BAD_TYPE, "name: must be a string");
	expect_error("{\"name\":\"x\",\"tasks\":{}}", DAPP_E_BAD_TYPE, "tasks: must be an array");
	expect_error("{\"name\":\"x\",\"tasks\":[3]}", DAPP_E_BAD_TYPE,
		     "tasks[0]: must be an object");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\"}]}", DAPP_E_MISSING_FIELD,
		     "tasks[0].queue: missing (or model)");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"queue\":\"q\"}]}", DAPP_E_MISSING_FIELD,
		     "tasks[0].name: missing");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"model\":\"m\"}]}",
	    DAPP_E_BAD_VALUE, "tasks[0].model: give either queue or model");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"after\":\"b\"}]}",
	    DAPP_E_BAD_TYPE, "tasks[0].after: must be an array of task names");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"after\":[1]}]}",
		     DAPP_E_BAD_TYPE, "tasks[0].after[0]: must be a task name");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"argv\":[\"x\",2]}]}",
	    DAPP_E_BAD_TYPE, "tasks[0].argv[1]: must be a string");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"demand\":{"
		     "\"cpu\":0,\"memory\":1}}]}",
		     DAPP_E_BAD_VALUE, "tasks[0].demand.cpu: must be > 0 and <= 4096 cores");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"demand\":{\"cpu\":1}}]}",
	    DAPP_E_MISSING_FIELD, "tasks[0].demand.memory: missing");
	expect_error(
	    "{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\",\"compute_s\":-1}]}",
	    DAPP_E_BAD_VALUE, "tasks[0].compute_s: must be > 0 seconds");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"this-name-is-far-too-long-for-a-"
		     "task\",\"queue\":\"q\"}]}",
		     DAPP_E_BAD_VALUE, "tasks[0].name: 1-31 characters of A-Z a-z 0-9 _ . -");
	expect_error("{\"name\":\"x\",\"tasks\":[{\"name\":\"a\",\"queue\":\"q\"}]} x",
		     DAPP_E_BAD_VALUE, "malformed JSON: unexpected character");
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random DAGs (edges only from a random permutation's earlier to later positions, so the
 * document order is not already topological): the rank order must be topological and phi
 * must fall along every edge. */
static void test_priority_topological(void **state)
{
	struct dapp *a = calloc(1, sizeof(*a));
	uint64_t seed = 42;

	assert_non_null(a);
	for (int round = 0; round < 500; round++) {
		int perm[DAPP_MAX_TASKS], order[DAPP_MAX_TASKS], pos[DAPP_MAX_TASKS];
		double phi[DAPP_MAX_TASKS];
		size_t n = 1 + rng_next(&seed) % DAPP_MAX_TASKS;
		memset(a, 0, sizeof(*a));
		a->n = n;
		for (size_t i = 0; i < n; i++) {
			size_t j = rng_next(&seed) % (i + 1);
			perm[i] = perm[j];
			perm[j] = (int)i;
			a->task[i].compute_s = 0.1 + (double)(rng_next(&seed) % 1000) / 100;
		}
		for (size_t u = 0; u < n; u++)
			for (size_t v = u + 1; v < n; v++)
				if (rng_next(&seed) % 4 == 0)
					a->task[perm[v]].pred |= 1ull << perm[u];
		assert_int_equal(dapp_priority(a, phi, order), 0);
		for (size_t k = 0; k < n; k++)
			pos[order[k]] = (int)k;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < n; j++)
				if ((a->task[i].pred >> j) & 1) {
					assert_true(pos[j] < pos[i]);
					assert_true(phi[j] >= phi[i] + a->task[j].compute_s - 1e-9);
				}
		for (size_t k = 1; k < n; k++)
			assert_true(phi[order[k - 1]] >= phi[order[k]]);
	}
	free(a);
}

/* Diamond a -> {b, c} -> d, plus e after d. */
static void test_failure_diamond(void **state)
{
	const uint64_t pred[5] = {0, 1, 1, 2 | 4, 8};
	enum dapp_tstate st[5] = {DAPP_T_OK, DAPP_T_FAILED, DAPP_T_RUNNING, DAPP_T_WAITING,
				  DAPP_T_WAITING};
	uint64_t failed, ready;
	int root[5];

	/* b failed while c runs: d and e fail at once, blamed on b */
	assert_int_equal(dapp_step(5, pred, st, NULL, &failed, root, &ready), 0);
	assert_int_equal(failed, (1 << 3) | (1 << 4));
	assert_int_equal(ready, 0);
	assert_int_equal(root[3], 1);
	assert_int_equal(root[4], 1);
	/* all fine so far: d becomes ready when both b and c are done, not before */
	st[1] = DAPP_T_OK;
	assert_int_equal(dapp_step(5, pred, st, NULL, &failed, root, &ready), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(ready, 0);
	st[2] = DAPP_T_OK;
	assert_int_equal(dapp_step(5, pred, st, NULL, &failed, root, &ready), 0);
	assert_int_equal(failed, 0);
	assert_int_equal(ready, 1 << 3);
	/* a cancelled root fails everything below it; root_in carries an earlier blame */
	enum dapp_tstate st2[5] = {DAPP_T_CANCELLED, DAPP_T_WAITING, DAPP_T_WAITING, DAPP_T_WAITING,
				   DAPP_T_WAITING};
	int root_in[5] = {-1, -1, -1, -1, -1};
	assert_int_equal(dapp_step(5, pred, st2, root_in, &failed, root, &ready), 0);
	assert_int_equal(failed, 0x1e);
	for (int i = 1; i < 5; i++)
		assert_int_equal(root[i], 0);
	enum dapp_tstate st3[5] = {DAPP_T_OK, DAPP_T_OK, DAPP_T_OK, DAPP_T_FAILED, DAPP_T_WAITING};
	int root_in3[5] = {-1, -1, -1, 1, -1}; /* d itself was a dependency failure of b */
	assert_int_equal(dapp_step(5, pred, st3, root_in3, &failed, root, &ready), 0);
	assert_int_equal(failed, 1 << 4);
	assert_int_equal(root[4], 1);
	/* application states */
	assert_string_equal(dapp_state(5, st), "waiting");
	assert_string_equal(dapp_state(5, st2), "waiting");
	enum dapp_tstate fin[3] = {DAPP_T_OK, DAPP_T_FAILED, DAPP_T_OK};
	assert_string_equal(dapp_state(3, fin), "failed");
	fin[1] = DAPP_T_CANCELLED;
	assert_string_equal(dapp_state(3, fin), "cancelled");
	fin[1] = DAPP_T_RUNNING;
	assert_string_equal(dapp_state(3, fin), "running");
	fin[1] = DAPP_T_OK;
	assert_string_equal(dapp_state(3, fin), "done");
	/* a predecessor outside the set is refused */
	const uint64_t bad[1] = {2};
	assert_int_equal(dapp_step(1, bad, st, NULL, &failed, root, &ready), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_priority_topological),
	    cmocka_unit_test(test_failure_diamond),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
