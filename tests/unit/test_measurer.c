/* test_measurer.c — CPU lists, the measurer answer protocol, the external command measurer over a
 * real child process, and the built-in measurer timing a real loop nest. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "measurer.h"

static void test_cpus(void **state)
{
	cpu_set_t s;
	assert_int_equal(measurer_parse_cpus("0", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 1);
	assert_int_equal(measurer_parse_cpus("0-3,6", &s), 0);
	assert_int_equal(CPU_COUNT(&s), 5);
	assert_true(CPU_ISSET(6, &s) && !CPU_ISSET(5, &s));
	assert_int_equal(measurer_parse_cpus("", &s), -EINVAL);
	assert_int_equal(measurer_parse_cpus("3-1", &s), -EINVAL);
	assert_int_equal(measurer_parse_cpus("1,", &s), -EINVAL);
	assert_int_equal(measurer_parse_cpus("a", &s), -EINVAL);
	assert_int_equal(measurer_parse_cpus("99999", &s), -ERANGE);
}

static void test_answer(void **state)
{
	uint64_t id;
	double c[MEASURER_MAX_COSTS];
	size_t n;
	int e;
	const char *ok = "{\"id\": 3, \"costs\": [0.5, 1], \"error_no\": 0}";
	assert_int_equal(measurer_parse_answer(ok, strlen(ok), &id, c, &n, &e), 0);
	assert_int_equal(id, 3);
	assert_int_equal(n, 2);
	assert_true(c[0] == 0.5 && c[1] == 1.0);
	const char *failed = "{\"id\": 4, \"error_no\": 7}";
	assert_int_equal(measurer_parse_answer(failed, strlen(failed), &id, c, &n, &e), 0);
	assert_int_equal(e, 7);
	assert_int_equal(n, 0);
	const char *bad[] = {
	    "{\"id\": 4}",		     /* success without a cost */
	    "{\"costs\": [1]}",		     /* no id */
	    "{\"id\": 4, \"costs\": [-1]}",  /* negative cost */
	    "{\"id\": 4, \"costs\": \"1\"}", /* wrong type */
	    "{\"id\": 4, \"costs\": [1], \"error_no\": \"0\"}",
	    "[1]",
	    "{\"id\": 4,",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(measurer_parse_answer(bad[i], strlen(bad[i]), &id, c, &n, &e),
				 -EPROTO);
}

static const char rec_line[] =
    "{\"i\": [[\"[\\\"matmul_add\\\", 96, 96, 96, \\\"float32\\\"]\", \"llvm -keys=cpu\"], [[], "
    "[[\"SP\", 2, 0, 96, [2, 1, 4], 1], [\"SP\", 2, 4, 96, [1, 1, 8], 1], [\"SP\", 2, 8, 96, "
    "[4], 1], [\"RE\", 2, [0, 4, 1, 5, 8, 2, 6, 9, 3, 7]]]]], \"r\": [[0.001], 0, 0.3, 1], "
    "\"v\": \"v0.3\"}";

static void test_command(void **state)
{
	struct tvmlog_record rec;
	assert_int_equal(tvmlog_parse_line(rec_line, strlen(rec_line), &rec, NULL, 0), 0);
	/* A runner that echoes the request id back with a fixed cost, as a TVM RPC bridge would. */
	struct measurer *m;
	assert_int_equal(
	    measurer_open_command("while read -r l; do id=${l#*\\\"id\\\": }; id=${id%%,*}; "
				  "echo \"{\\\"id\\\": $id, \\\"costs\\\": [0.25, 0.75]}\"; done",
				  5000, &m),
	    0);
	double c[MEASURER_MAX_COSTS];
	size_t n;
	int e;
	for (uint64_t id = 10; id < 13; id++) {
		assert_int_equal(
		    measurer_measure(m, id, rec_line, strlen(rec_line), &rec, c, &n, &e), 0);
		assert_int_equal(n, 2);
		assert_true(c[0] == 0.25 && c[1] == 0.75);
		assert_int_equal(e, 0);
	}
	measurer_free(m);

	assert_int_equal(
	    measurer_open_command("read -r l; echo '{\"id\": 99, \"costs\": [1]}'", 5000, &m), 0);
	assert_int_equal(measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e),
			 -EPROTO);
	assert_non_null(strstr(measurer_last_error(m), "id 99"));
	measurer_free(m);

	assert_int_equal(measurer_open_command("read -r l; echo garbage", 5000, &m), 0);
	assert_int_equal(measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e),
			 -EPROTO);
	measurer_free(m);

	assert_int_equal(measurer_open_command("exit 0", 5000, &m), 0);
	int r = measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e);
	assert_true(r == -EPIPE);
	measurer_free(m);

	assert_int_equal(measurer_open_command("read -r l; sleep 2", 100, &m), 0);
	assert_int_equal(measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e),
			 -ETIMEDOUT);
	measurer_free(m);
	tvmlog_record_done(&rec);
}

static void test_builtin(void **state)
{
	struct tvmlog_record rec;
	assert_int_equal(tvmlog_parse_line(rec_line, strlen(rec_line), &rec, NULL, 0), 0);
	cpu_set_t cores;
	assert_int_equal(measurer_parse_cpus("0", &cores), 0);
	struct measurer *m;
	assert_int_equal(measurer_open_builtin(&cores, &m), 0);
	double c[MEASURER_MAX_COSTS];
	size_t n = 0;
	int e = -1;
	assert_int_equal(measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e), 0);
	assert_int_equal(e, 0);
	assert_int_equal(n, 3);
	/* 96^3 multiply-adds take between a microsecond and a second on any CPU that runs this. */
	for (size_t i = 0; i < n; i++)
		assert_true(c[i] > 1e-6 && c[i] < 1.0);
	measurer_free(m);
	/* A CPU that does not exist cannot be pinned to. */
	CPU_ZERO(&cores);
	CPU_SET(CPU_SETSIZE - 1, &cores);
	assert_int_equal(measurer_open_builtin(&cores, &m), 0);
	assert_int_equal(measurer_measure(m, 1, rec_line, strlen(rec_line), &rec, c, &n, &e),
			 -EINVAL);
	measurer_free(m);
	tvmlog_record_done(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpus),
	    cmocka_unit_test(test_answer),
	    cmocka_unit_test(test_command),
	    cmocka_unit_test(test_builtin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
