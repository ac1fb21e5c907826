/* test_dagsim.c — DAG workload parsing: the shipped example, one-line errors naming the field,
 * cycles and dangling edges named, arrival CSVs and seeded Poisson arrivals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dagsim.h"
#include "util.h"

static const char *small =
    "{\"servers\":[{\"name\":\"s0\",\"capacity\":2,\"speed\":1},{\"name\":\"s1\",\"capacity\":1}],"
    "\"links\":[{\"from\":\"s0\",\"to\":\"s1\",\"rate\":\"8mbit\"}],"
    "\"applications\":[{\"name\":\"app\",\"tasks\":["
    "{\"name\":\"a\",\"work\":1,\"demand\":1,\"accuracy_curve\":[[0,0.5],[100,0.9]],"
    "\"retraining\":[{\"samples\":50,\"work\":1,\"resources\":1}]},"
    "{\"name\":\"b\",\"work\":2,\"demand\":1}],\"edges\":[[\"a\",\"b\"]]}],"
    "\"arrivals\":{\"rate\":2,\"count\":10,\"seed\":9}}";

static int parse(const char *s, struct dagsim_workload *w, char *err)
{
	return dagsim_parse(s, strlen(s), w, err, 256);
}

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *out;
	assert_non_null(p);
	out = malloc(strlen(s) + strlen(to) + 1);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), to);
	strcat(out, p + strlen(from));
	return out;
}

static void test_small(void **state)
{
	struct dagsim_workload *w = malloc(sizeof(*w));
	char err[256];
	assert_int_equal(parse(small, w, err), 0);
	assert_int_equal(w->wl.cluster.n, 2);
	assert_true(w->wl.cluster.link[0][1] == 1e6 && w->wl.cluster.link[1][0] == 1e6);
	assert_true(w->wl.cluster.s[1].speed == 1);
	assert_true(w->wl.theta == 3);
	assert_int_equal(w->wl.app[0].n_tasks, 2);
	/* accuracy from the curve: halfway between 0.5 and 0.9 */
	assert_true(w->wl.app[0].task[0].cfg[0].accuracy > 0.6999 &&
		    w->wl.app[0].task[0].cfg[0].accuracy < 0.7001);
	assert_int_equal(w->arrivals.count, 10);
	assert_int_equal(w->arrivals.seed, 9);
	free(w);
}

static void expect_err(const char *from, const char *to, const char *msg)
{
	struct dagsim_workload *w = malloc(sizeof(*w));
	char err[256];
	char *s = replace(small, from, to);
	assert_int_equal(parse(s, w, err), -EINVAL);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, msg))
		fail_msg("expected '%s' in '%s'", msg, err);
	free(s);
	free(w);
}

static void test_errors(void **state)
{
	expect_err("\"work\":2", "\"work\":-2", "applications[0].tasks[1].work: must be between");
	expect_err("\"work\":2", "\"work\":\"x\"",
		   "applications[0].tasks[1].work: must be a number");
	expect_err("[[\"a\",\"b\"]]", "[[\"a\",\"b\"],[\"b\",\"a\"]]",
		   "applications[0].edges: cycle through task \"");
	expect_err("[[\"a\",\"b\"]]", "[[\"a\",\"zz\"]]",
		   "applications[0].edges: edge names unknown task \"zz\"");
	expect_err("\"rate\":\"8mbit\"", "\"rate\":\"fast\"", "links[0].rate: not a valid rate");
	expect_err("\"to\":\"s1\"", "\"to\":\"s9\"", "links[0]: unknown server \"s9\"");
	expect_err("\"capacity\":2,", "", "servers[0].capacity: missing");
	expect_err("\"demand\":1}", "\"demand\":5}", "task \"b\" demands more than any server");
	expect_err("{\"name\":\"b\"", "{\"name\":\"a\"",
		   "applications[0].tasks[1]: duplicate task name");
	expect_err("\"rate\":2,", "", "arrivals: needs \"rate\" > 0 or \"csv\"");
	expect_err("{\"samples\":50,", "{", "retraining[0].samples: missing");
	expect_err("\"seed\":9}}", "\"seed\":9}", "workload: invalid JSON");
}

static void test_example_file(void **state)
{
	struct dagsim_workload *w = malloc(sizeof(*w));
	char *text, err[256];
	size_t len;
	double *arr;
	struct mrs_result res[_MRS_POLICY_MAX];

	assert_int_equal(read_file_at(AT_FDCWD, "docs/examples/lifelogging.json", &text, &len), 0);
	assert_int_equal(dagsim_parse(text, len, w, err, sizeof(err)), 0);
	free(text);
	assert_string_equal(w->wl.app[0].name, "lifelogging");
	assert_int_equal(w->wl.app[0].n_tasks, 5);
	assert_int_equal(w->wl.cluster.n, 3);
	assert_int_equal(dagsim_poisson(w->arrivals.rate, 200, 1, &arr), 0);
	for (int p = 0; p < _MRS_POLICY_MAX; p++)
		assert_int_equal(mrs_simulate(&w->wl, (enum mrs_policy)p, arr, 200, false, &res[p]),
				 0);
	/* Ekya retrains every drifted model in every request: it retrains most and is most accurate
	 */
	assert_true(res[MRS_POLICY_EKYA].retrainings > res[MRS_POLICY_MRS].retrainings);
	assert_true(res[MRS_POLICY_EKYA].mean_accuracy >= res[MRS_POLICY_MRS].mean_accuracy);
	/* MRS keeps retraining off the critical path unless it pays: fastest requests */
	assert_true(res[MRS_POLICY_MRS].mean_completion < res[MRS_POLICY_EKYA].mean_completion);
	free(arr);
	free(w);
}

static void test_arrivals(void **state)
{
	double *a, *b;
	size_t n;
	char err[256];
	assert_int_equal(dagsim_poisson(2, 2000, 5, &a), 0);
	assert_int_equal(dagsim_poisson(2, 2000, 5, &b), 0);
	assert_memory_equal(a, b, 2000 * sizeof(double));
	/* mean gap 1/rate within 10 % over 2000 draws */
	assert_true(a[1999] / 2000 > 0.45 && a[1999] / 2000 < 0.55);
	free(a);
	free(b);
	assert_int_equal(dagsim_poisson(0, 10, 1, &a), -EINVAL);

	assert_int_equal(dagsim_parse_csv("timestamp\n0.5\n1.25,x\n# c\n\n3\n", &a, &n, err, 256),
			 0);
	assert_int_equal(n, 3);
	assert_true(a[0] == 0.5 && a[1] == 1.25 && a[2] == 3);
	free(a);
	assert_int_equal(dagsim_parse_csv("1\n0.5\n", &a, &n, err, 256), -EINVAL);
	assert_non_null(strstr(err, "line 2: timestamps must not decrease"));
	assert_int_equal(dagsim_parse_csv("1\nabc\n", &a, &n, err, 256), -EINVAL);
	assert_int_equal(dagsim_parse_csv("", &a, &n, err, 256), -EINVAL);
}

static int run(int argc, char **argv)
{
	/* dag_sim_main prints its table/errors; keep test output readable */
	fflush(stdout);
	return dag_sim_main(argc, argv);
}

static void test_cli(void **state)
{
	char *ok[] = {"sim",	  "--dag",  "docs/examples/lifelogging.json",
		      "--policy", "mrs",    "--count",
		      "20",	  "--json", NULL};
	char *csv[] = {"sim",	   "--dag",	"docs/examples/lifelogging-csv.json",
		       "--policy", "pass,ekya", NULL};
	char *nodag[] = {"sim", "--policy", "mrs", NULL};
	char *badpol[] = {"sim",      "--dag", "docs/examples/lifelogging.json",
			  "--policy", "fifo",  NULL};
	char *badrate[] = {"sim", "--dag", "docs/examples/lifelogging.json", "--rate", "-1", NULL};
	char *nofile[] = {"sim", "--dag", "/nonexistent/w.json", NULL};
	assert_int_equal(run(8, ok), 0);
	assert_int_equal(run(5, csv), 0);
	assert_int_equal(run(3, nodag), 2);
	assert_int_equal(run(5, badpol), 2);
	assert_int_equal(run(5, badrate), 2);
	assert_int_equal(run(3, nofile), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_small),	 cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_example_file), cmocka_unit_test(test_arrivals),
	    cmocka_unit_test(test_cli),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
