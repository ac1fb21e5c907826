/* test_distill_fixsynth.c — logs grown from the real resnet-50 fixture records: every line parses,
 * the split lengths still multiply into their extents, the truth is the best edge cost. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill.h"
#include "tvmlog.h"
#include "tvmsynth.h"
#include "util.h"

#define FIX "tests/fixtures/tvm/resnet-50-NHWC-B1-llvm.json"

static void test_from_fixture(void **state)
{
	char dir[] = "/tmp/test-fixsynth-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char lp[64], tp[64];
	snprintf(lp, sizeof(lp), "%s/cloud.json", dir);
	snprintf(tp, sizeof(tp), "%s/truth.json", dir);
	struct tvmsynth_opts o = {.tasks = 5, .records = 20, .seed = 3, .family = 2};
	size_t nt = 0;
	assert_int_equal(tvmsynth_write_from(FIX, lp, tp, &o, &nt), 0);
	assert_int_equal(nt, 5);
	struct distill_family f;
	assert_int_equal(distill_family(2, &f), 0);
	struct tvmlog_reader *rd;
	assert_int_equal(tvmlog_reader_open(lp, &rd), 0);
	const char *line;
	size_t len, n = 0;
	uint64_t no, off;
	while (tvmlog_reader_next(rd, &line, &len, &no, &off) > 0) {
		struct tvmlog_record rec;
		int r = tvmlog_parse_line(line, len, &rec, NULL, 0);
		if (r == -ENODATA)
			continue;
		assert_int_equal(r, 0);
		assert_int_equal(rec.version_minor, 5);
		for (size_t k = 0; k < rec.n_steps; k++) {
			const struct distill_step *s = &rec.steps[k];
			if (s->kind != DISTILL_STEP_SP || s->extent <= 0)
				continue;
			int64_t p = 1;
			for (int j = 0; j < s->n_len; j++)
				p *= s->len[j];
			assert_int_equal(s->extent % p, 0);
		}
		/* The logged cloud cost is the family's cloud model. */
		double c;
		assert_int_equal(distill_model_cost(&f.cloud, rec.steps, rec.n_steps, rec.shape,
						    rec.n_shape, &c),
				 0);
		assert_true(fabs(c - rec.cost) <= 1e-6 * c);
		tvmlog_record_done(&rec);
		n++;
	}
	tvmlog_reader_free(rd);
	assert_int_equal(n, 5 * 20);
	o.tasks = 0;
	assert_int_equal(tvmsynth_write_from(FIX, lp, tp, &o, &nt), -ENODATA);
	assert_int_equal(tvmsynth_write_from("/nonexistent", lp, tp, &o, &nt), -ENOENT);
	unlink(lp);
	unlink(tp);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_from_fixture),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
