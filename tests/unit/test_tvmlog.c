/* test_tvmlog.c — the auto-scheduler log parser on every TVM fixture (v0.2, v0.3, v0.5, v0.6) and
 * on malformed lines, the streaming reader, and the rewriter used for the distilled output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>

#include "tvmlog.h"
#include "util.h"

#define FIX "tests/fixtures/tvm/"

struct tally {
	size_t records, comments, errors;
	int versions[8];
	size_t fields;
	struct tvmlog_record first;
};

static void scan(const char *path, struct tally *t)
{
	struct tvmlog_reader *rd;
	memset(t, 0, sizeof(*t));
	assert_int_equal(tvmlog_reader_open(path, &rd), 0);
	const char *line;
	size_t len;
	uint64_t no, off, expect_off = 0;
	int r;
	while ((r = tvmlog_reader_next(rd, &line, &len, &no, &off)) > 0) {
		assert_int_equal(off, expect_off);
		expect_off += len + 1;
		struct tvmlog_record rec;
		char err[256];
		int q = tvmlog_parse_line(line, len, &rec, err, sizeof(err));
		if (q == -ENODATA) {
			t->comments++;
			continue;
		}
		if (q < 0) {
			t->errors++;
			continue;
		}
		/* pread returns the same line. */
		_cleanup_free_ char *again = NULL;
		assert_int_equal(tvmlog_reader_pread(rd, off, len, &again), 0);
		assert_memory_equal(again, line, len);
		t->records++;
		t->versions[rec.version_minor]++;
		if (t->records == 1) {
			t->first = rec;
			t->fields = rec.n_task_fields;
		} else
			tvmlog_record_done(&rec);
	}
	assert_int_equal(r, 0);
	tvmlog_reader_free(rd);
}

static void test_fixture_v02_conv2d(void **state)
{
	struct tally t;
	scan(FIX "conv2d.json", &t);
	assert_int_equal(t.records, 1);
	assert_int_equal(t.comments, 1);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.versions[2], 1);
	assert_int_equal(t.fields, 2);
	assert_string_equal(t.first.target,
			    "cuda -keys=cuda,gpu -max_num_threads=1024 -thread_warp_size=32");
	assert_true(fabs(t.first.cost - 0.000429498) < 1e-12);
	assert_int_equal(t.first.n_steps, 37);
	assert_int_equal(t.first.steps[0].kind, DISTILL_STEP_CI);
	assert_int_equal(t.first.steps[1].kind, DISTILL_STEP_SP);
	assert_int_equal(t.first.steps[1].extent, 1);
	assert_int_equal(t.first.steps[2].extent, 512);
	assert_int_equal(t.first.steps[2].n_len, 4);
	assert_int_equal(t.first.steps[2].len[1], 64);
	assert_int_equal(t.first.steps[15].kind, DISTILL_STEP_CHR);
	assert_int_equal(t.first.steps[36].kind, DISTILL_STEP_PR);
	assert_int_equal(t.first.steps[36].unroll, 512);
	/* ["conv2d_layer", 1, 7, 7, 512, 512, 3, 3, [1, 1], [1, 1]] */
	assert_int_equal(t.first.n_shape, 11);
	assert_int_equal(t.first.shape[3], 512);
	assert_int_equal(t.first.error_no, 0);
	assert_int_equal(t.first.timestamp, 1603259147);
	tvmlog_record_done(&t.first);
}

static void test_fixture_v03_matmul(void **state)
{
	struct tally t;
	scan(FIX "matmul.json", &t);
	assert_int_equal(t.records, 1);
	assert_int_equal(t.versions[3], 1);
	assert_int_equal(t.fields, 3);
	assert_int_equal(t.first.n_steps, 13);
	assert_int_equal(t.first.steps[3].kind, DISTILL_STEP_RE);
	assert_int_equal(t.first.steps[3].n_order, 10);
	assert_int_equal(t.first.steps[3].order[4], 8);
	assert_int_equal(t.first.steps[8].kind, DISTILL_STEP_FU);
	assert_int_equal(t.first.steps[8].n_len, 2);
	assert_int_equal(t.first.steps[9].annotation, DISTILL_AN_PARALLEL);
	assert_int_equal(t.first.steps[10].unroll, 8);
	struct distill_nest n;
	assert_int_equal(distill_nest(t.first.steps, t.first.n_steps, &n), 0);
	assert_int_equal(n.tile[0], 8);
	assert_int_equal(n.tile[2], 4);
	tvmlog_record_done(&t.first);
}

static void test_fixture_v05_resnet(void **state)
{
	struct tally t;
	scan(FIX "resnet-50-NHWC-B1-llvm.json", &t);
	assert_int_equal(t.records, 26);
	assert_int_equal(t.comments, 2);
	assert_int_equal(t.errors, 0);
	assert_int_equal(t.versions[5], 26);
	assert_int_equal(t.fields, 5);
	assert_int_equal(t.first.n_costs, 10);
	/* mean of the ten costs of the first record */
	assert_true(fabs(t.first.cost - 9.9611e-06) < 1e-12);
	assert_int_equal(t.first.steps[1].kind, DISTILL_STEP_RF);
	assert_int_equal(t.first.steps[6].kind, DISTILL_STEP_CR);
	tvmlog_record_done(&t.first);
}

static void test_fixture_v06_sparse(void **state)
{
	struct tally t;
	scan(FIX "sparse_dense.json", &t);
	assert_int_equal(t.records, 1);
	assert_int_equal(t.versions[6], 1);
	assert_int_equal(t.fields, 6);
	assert_int_equal(t.first.n_steps, 14);
	assert_int_equal(t.first.steps[12].unroll, 0);
	tvmlog_record_done(&t.first);
}

static int parse(const char *s, char *err)
{
	struct tvmlog_record r;
	int q = tvmlog_parse_line(s, strlen(s), &r, err, 256);
	if (q == 0)
		tvmlog_record_done(&r);
	return q;
}

#define GOOD_I "\"i\": [[\"[\\\"mm\\\", 4, 4]\", \"llvm\"], [[], [[\"SP\", 0, 0, 4, [2], 1]]]]"

static void test_malformed(void **state)
{
	char err[256];
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}", err), 0);
	assert_int_equal(parse("# comment", err), -ENODATA);
	assert_int_equal(parse("   ", err), -ENODATA);

	assert_int_equal(parse("{\"i\": [", err), -EBADMSG);
	assert_non_null(strstr(err, "bad JSON"));
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"} x", err),
			 -EBADMSG);
	assert_int_equal(parse("[1, 2]", err), -EINVAL);

	assert_int_equal(parse("{" GOOD_I ", \"v\": \"v0.6\"}", err), -EINVAL);
	assert_non_null(strstr(err, "missing key \"r\""));
	assert_int_equal(parse("{\"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}", err), -EINVAL);
	assert_non_null(strstr(err, "missing key \"i\""));
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0, 5]}", err), -EINVAL);
	assert_non_null(strstr(err, "\"v\""));

	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.9\"}", err),
			 -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "unknown version \"v0.9\""));
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0, 5], \"v\": 6}", err), -EINVAL);

	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], \"0\", 1.0, 5], \"v\": \"v0.6\"}", err),
			 -EINVAL);
	assert_non_null(strstr(err, "error_no"));
	assert_int_equal(
	    parse("{" GOOD_I ", \"r\": [[\"fast\"], 0, 1.0, 5], \"v\": \"v0.6\"}", err), -EINVAL);
	assert_non_null(strstr(err, "\"r\"[0][0]"));
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[], 0, 1.0, 5], \"v\": \"v0.6\"}", err),
			 -EINVAL);
	assert_int_equal(parse("{" GOOD_I ", \"r\": [[0.5], 0, 1.0], \"v\": \"v0.6\"}", err),
			 -EINVAL);
	assert_int_equal(
	    parse("{\"i\": [[\"k\"], [[], []]], \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}", err),
	    -EINVAL);
	assert_non_null(strstr(err, "2..6 fields"));
	assert_int_equal(
	    parse("{\"i\": [[\"k\", 3], [[], []]], \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}",
		  err),
	    -EINVAL);
	assert_non_null(strstr(err, "target"));
	assert_int_equal(parse("{\"i\": [[\"k\", \"llvm\"], [[], [[\"SP\", 0, 0, 4, 2, 1]]]], "
			       "\"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}",
			       err),
			 -EINVAL);
	assert_non_null(strstr(err, "(SP): lengths"));
	assert_int_equal(parse("{\"i\": [[\"k\", \"llvm\"], [[], [[\"AN\", \"0\", 0, 3]]]], \"r\": "
			       "[[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}",
			       err),
			 -EINVAL);
	assert_non_null(strstr(err, "stage id"));
	assert_int_equal(
	    parse("{\"i\": [[\"k\", \"llvm\"], [[], [[\"PR\", 0, 0, "
		  "\"auto_unroll_max_step$x\"]]]], \"r\": [[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}",
		  err),
	    -EINVAL);
	/* A failed record parses; the caller drops it. */
	struct tvmlog_record r;
	const char *failed = "{" GOOD_I ", \"r\": [[1e10], 4, 1.0, 5], \"v\": \"v0.4\"}";
	assert_int_equal(tvmlog_parse_line(failed, strlen(failed), &r, err, sizeof(err)), 0);
	assert_int_equal(r.error_no, 4);
	assert_int_equal(r.version_minor, 4);
	assert_string_equal(tvmlog_error_name(r.error_no), "RUNTIME_DEVICE");
	tvmlog_record_done(&r);
	/* Unknown future step kinds are kept, not rejected. */
	assert_int_equal(parse("{\"i\": [[\"k\", \"llvm\"], [[], [[\"XYZ\", 0, 1]]]], \"r\": "
			       "[[0.5], 0, 1.0, 5], \"v\": \"v0.6\"}",
			       err),
			 0);
}

static void test_format_with_costs(void **state)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	assert_int_equal(read_file_at(AT_FDCWD, FIX "matmul.json", &buf, &len), 0);
	char *line = strchr(buf, '\n') + 1;
	size_t ll = strcspn(line, "\n");
	const double costs[] = {0.002, 0.004};
	_cleanup_free_ char *out = NULL;
	assert_int_equal(tvmlog_format_with_costs(line, ll, costs, 2, &out), 0);
	struct tvmlog_record r;
	assert_int_equal(tvmlog_parse_line(out, strlen(out), &r, NULL, 0), 0);
	assert_int_equal(r.version_minor, 3); /* same format version as the input */
	assert_int_equal(r.n_costs, 2);
	assert_true(fabs(r.cost - 0.003) < 1e-12);
	assert_int_equal(r.n_steps, 13);
	assert_int_equal(r.n_task_fields, 3);
	tvmlog_record_done(&r);
	assert_int_equal(tvmlog_format_with_costs("{oops", 5, costs, 2, &out), -EBADMSG);
}

static void test_reader_limits(void **state)
{
	char dir[] = "/tmp/test-tvmlog-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof(path), "%s/log.json", dir);
	FILE *f = fopen(path, "we");
	assert_non_null(f);
	fputs("# head\n", f);
	fwrite("ab\0cd\n", 1, 6, f); /* a NUL must not shift the offsets */
	for (size_t i = 0; i < (17u << 20) / 64; i++)
		fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
	fputs("\n", f);
	fputs("last", f); /* no final newline */
	fclose(f);

	struct tvmlog_reader *rd;
	assert_int_equal(tvmlog_reader_open(path, &rd), 0);
	const char *line;
	size_t len;
	uint64_t no, off;
	assert_int_equal(tvmlog_reader_next(rd, &line, &len, &no, &off), 1);
	assert_int_equal(no, 1);
	assert_int_equal(tvmlog_reader_next(rd, &line, &len, &no, &off), 1);
	assert_int_equal(len, 5);
	assert_int_equal(off, 7);
	assert_memory_equal(line, "ab\0cd", 5);
	assert_int_equal(tvmlog_reader_next(rd, &line, &len, &no, &off), -EFBIG);
	assert_int_equal(no, 3);
	assert_int_equal(off, 13);
	assert_int_equal(tvmlog_reader_next(rd, &line, &len, &no, &off), 1);
	assert_int_equal(no, 4);
	assert_int_equal(off, 13 + (17u << 20) + 1);
	assert_string_equal(line, "last");
	assert_int_equal(tvmlog_reader_next(rd, &line, &len, &no, &off), 0);
	tvmlog_reader_free(rd);
	assert_int_equal(tvmlog_reader_open(dir, &rd), -EISDIR);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixture_v02_conv2d), cmocka_unit_test(test_fixture_v03_matmul),
	    cmocka_unit_test(test_fixture_v05_resnet), cmocka_unit_test(test_fixture_v06_sparse),
	    cmocka_unit_test(test_malformed),	       cmocka_unit_test(test_format_with_costs),
	    cmocka_unit_test(test_reader_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
