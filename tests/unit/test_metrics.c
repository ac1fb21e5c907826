/* test_metrics.c — the exposition writer (text 0.0.4 and OpenMetrics 1.0), label escaping,
 * histograms, Accept negotiation and the listen-address parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "metrics.h"

static char *render(enum metrics_format fmt)
{
	struct metrics_out o;
	struct metrics_hist h;
	static const double le[] = {0.5, 1, 2.5};
	const char *l1[] = {"task", "7", "queue", "a\"b\\c\nd", NULL};
	char *body = NULL;
	size_t len = 0;

	metrics_out_init(&o, fmt);
	metrics_family(&o, "x_seconds", METRICS_COUNTER, "Help with \\ and\nnewline");
	metrics_sample(&o, l1, 1.5);
	metrics_family(&o, "x_bytes", METRICS_GAUGE, "Bytes");
	metrics_sample(&o, NULL, 1073741824);
	metrics_sample(&o, NULL, NAN);
	assert_int_equal(metrics_hist_init(&h, le, 3), 0);
	metrics_hist_observe(&h, 0.1);
	metrics_hist_observe(&h, 1);
	metrics_hist_observe(&h, 7);
	metrics_family(&o, "x_wait_seconds", METRICS_HISTOGRAM, "Waits");
	metrics_hist_write(&o, NULL, &h);
	assert_int_equal(metrics_out_finish(&o, &body, &len), 0);
	assert_int_equal(strlen(body), len);
	return body;
}

static void test_text_format(void **state)
{
	char *b = render(METRICS_TEXT);
	assert_non_null(strstr(b, "# HELP x_seconds_total Help with \\\\ and\\nnewline\n"));
	assert_non_null(strstr(b, "# TYPE x_seconds_total counter\n"));
	assert_non_null(strstr(b, "x_seconds_total{task=\"7\",queue=\"a\\\"b\\\\c\\nd\"} 1.5\n"));
	assert_non_null(strstr(b, "x_bytes 1073741824\nx_bytes NaN\n"));
	assert_non_null(strstr(b, "x_wait_seconds_bucket{le=\"0.5\"} 1\n"));
	assert_non_null(strstr(b, "x_wait_seconds_bucket{le=\"1.0\"} 2\n"));
	assert_non_null(strstr(b, "x_wait_seconds_bucket{le=\"2.5\"} 2\n"));
	assert_non_null(strstr(b, "x_wait_seconds_bucket{le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(b, "x_wait_seconds_count 3\nx_wait_seconds_sum 8.1\n"));
	assert_null(strstr(b, "# EOF"));
	free(b);
}

static void test_openmetrics_format(void **state)
{
	char *b = render(METRICS_OPENMETRICS);
	size_t n = strlen(b);
	/* The family is named without _total; HELP escapes the double quote too. */
	assert_non_null(strstr(b, "# TYPE x_seconds counter\n"));
	assert_non_null(strstr(b, "# HELP x_seconds Help with"));
	assert_non_null(strstr(b, "\nx_seconds_total{task=\"7\""));
	assert_true(n > 6 && !strcmp(b + n - 6, "# EOF\n"));
	free(b);
}

static void test_misuse_is_an_error(void **state)
{
	struct metrics_out o;
	char *b;
	size_t n;
	metrics_out_init(&o, METRICS_TEXT);
	metrics_sample(&o, NULL, 1); /* no family */
	assert_int_equal(metrics_out_finish(&o, &b, &n), -EINVAL);
	metrics_out_init(&o, METRICS_TEXT);
	metrics_family(&o, "h", METRICS_HISTOGRAM, "h");
	metrics_sample(&o, NULL, 1); /* a plain sample in a histogram */
	assert_int_equal(metrics_out_finish(&o, &b, &n), -EINVAL);
}

static void test_hist_init(void **state)
{
	struct metrics_hist h;
	double up[] = {1, 2}, down[] = {2, 1}, inf[] = {1, INFINITY};
	double many[METRICS_HIST_MAX + 1] = {0};
	assert_int_equal(metrics_hist_init(&h, up, 2), 0);
	assert_int_equal(metrics_hist_init(&h, down, 2), -EINVAL);
	assert_int_equal(metrics_hist_init(&h, inf, 2), -EINVAL);
	assert_int_equal(metrics_hist_init(&h, up, 0), -EINVAL);
	assert_int_equal(metrics_hist_init(&h, many, METRICS_HIST_MAX + 1), -EINVAL);
	assert_int_equal(metrics_hist_init(&h, up, 2), 0);
	metrics_hist_observe(&h, NAN); /* ignored */
	metrics_hist_observe(&h, 2);   /* le is inclusive */
	assert_int_equal(h.count, 1);
	assert_int_equal(h.counts[1], 1);
}

static void test_escape(void **state)
{
	char b[8];
	assert_int_equal(metrics_escape_label("a\"\\\n", b, sizeof(b)), 0);
	assert_string_equal(b, "a\\\"\\\\\\n");
	assert_int_equal(metrics_escape_label("abcdefgh", b, sizeof(b)), -ENOBUFS);
	assert_int_equal(metrics_escape_label("\"\"\"\"", b, sizeof(b)), -ENOBUFS);
}

static void test_negotiate(void **state)
{
	/* Prometheus 2.42's scrape header. */
	assert_int_equal(metrics_negotiate("application/openmetrics-text;version=1.0.0,"
					   "application/openmetrics-text;version=0.0.1;q=0.75,"
					   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate(NULL), METRICS_TEXT);
	assert_int_equal(metrics_negotiate(""), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("*/*"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("text/plain"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("Application/OpenMetrics-Text"), METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q=0"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q=0.2, text/plain"),
			 METRICS_TEXT);
	assert_int_equal(metrics_negotiate("text/plain;q=0.2 , application/openmetrics-text"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q=2"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q=abc"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q="), METRICS_TEXT);
	assert_int_equal(metrics_negotiate(",,;;,"), METRICS_TEXT);
	assert_string_equal(metrics_content_type(METRICS_TEXT),
			    "text/plain; version=0.0.4; charset=utf-8");
}

static void test_address(void **state)
{
	struct sockaddr_storage sa;
	unsigned len;
	assert_int_equal(metrics_parse_address("127.0.0.1:9464", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET);
	assert_int_equal(ntohs(((struct sockaddr_in *)&sa)->sin_port), 9464);
	assert_int_equal(metrics_parse_address("[::1]:0", &sa, &len), 0);
	assert_int_equal(sa.ss_family, AF_INET6);
	assert_int_equal(metrics_parse_address("0.0.0.0:65535", &sa, &len), 0);
	assert_int_equal(metrics_parse_address("localhost:9464", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("127.0.0.1:65536", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("127.0.0.1", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("::1:9464", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("[::1]9464", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("127.0.0.1:-1", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address("", &sa, &len), -EINVAL);
	assert_int_equal(metrics_parse_address(":80", &sa, &len), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_text_format),
	    cmocka_unit_test(test_openmetrics_format),
	    cmocka_unit_test(test_misuse_is_an_error),
	    cmocka_unit_test(test_hist_init),
	    cmocka_unit_test(test_escape),
	    cmocka_unit_test(test_negotiate),
	    cmocka_unit_test(test_address),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
