/* test_util.c — the shared parsers (cores, bytes, rates) and the atomic file writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdlib.h>

#include "util.h"

static void test_parse_cores(void **state)
{
	double v;
	assert_int_equal(parse_cores("1.5", &v), 0);
	assert_true(v == 1.5);
	assert_int_equal(parse_cores("500m", &v), 0);
	assert_true(v == 0.5);
	assert_int_equal(parse_cores("2c", &v), 0);
	assert_true(v == 2.0);
	assert_int_equal(parse_cores("-1", &v), -EINVAL);
	assert_int_equal(parse_cores("", &v), -EINVAL);
	assert_int_equal(parse_cores("1x", &v), -EINVAL);
	assert_int_equal(parse_cores("nan", &v), -EINVAL);
	assert_int_equal(parse_cores("0x10", &v), -EINVAL);
}

static void test_parse_bytes(void **state)
{
	uint64_t v;
	assert_int_equal(parse_bytes("1257M", &v), 0);
	assert_int_equal(v, 1257ull << 20);
	assert_int_equal(parse_bytes("2G", &v), 0);
	assert_int_equal(v, 2ull << 30);
	assert_int_equal(parse_bytes("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_bytes("1.5k", &v), 0);
	assert_int_equal(v, 1536);
	assert_int_equal(parse_bytes("12Q", &v), -EINVAL);
	assert_int_equal(parse_bytes("99999999T", &v), -ERANGE);
}

static void test_parse_rate(void **state)
{
	uint64_t v;
	assert_int_equal(parse_rate("5.85mbit", &v), 0);
	assert_int_equal(v, 731250); /* bytes per second, not bits */
	assert_int_equal(parse_rate("700kbit", &v), 0);
	assert_int_equal(v, 87500);
	assert_int_equal(parse_rate("1gbit", &v), 0);
	assert_int_equal(v, 125000000);
	assert_int_equal(parse_rate("2mbps", &v), 0);
	assert_int_equal(v, 2000000);
	assert_int_equal(parse_rate("0mbit", &v), -ERANGE);
	assert_int_equal(parse_rate("5", &v), -EINVAL);
	assert_int_equal(parse_rate("fast", &v), -EINVAL);
	/* the JPS paper's presets */
	assert_int_equal(parse_rate("3g", &v), 0);
	assert_int_equal(v, 137500);
	assert_int_equal(parse_rate("4G", &v), 0);
	assert_int_equal(v, 731250);
	assert_int_equal(parse_rate("wifi", &v), 0);
	assert_int_equal(v, 2360000);
}

static void test_parse_u64(void **state)
{
	uint64_t v;
	assert_int_equal(parse_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64("18446744073709551616", &v), -ERANGE);
	assert_int_equal(parse_u64("-1", &v), -EINVAL);
	assert_int_equal(parse_u64("12 ", &v), -EINVAL);
}

static void test_atomic_write(void **state)
{
	char dir[] = "/tmp/es-util-XXXXXX";
	char *data = NULL;
	size_t len;
	int dfd;

	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	assert_int_equal(write_file_atomic_at(dfd, "state.json", "{\"a\":1}", 7, 0600), 0);
	assert_int_equal(write_file_atomic_at(dfd, "state.json", "{}", 2, 0600), 0);
	assert_int_equal(read_file_at(dfd, "state.json", &data, &len), 0);
	assert_int_equal(len, 2);
	assert_string_equal(data, "{}");
	free(data);
	assert_int_equal(read_file_at(dfd, "missing", &data, &len), -ENOENT);
	assert_int_equal(unlinkat(dfd, "state.json", 0), 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0); /* no temp file left behind */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_cores),	 cmocka_unit_test(test_parse_bytes),
	    cmocka_unit_test(test_parse_rate),	 cmocka_unit_test(test_parse_u64),
	    cmocka_unit_test(test_atomic_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
