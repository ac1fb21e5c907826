/* test_distiller.c — the whole pipeline on a small synthesized log with malformed lines mixed in:
 * the builtin measurer times real loop nests, XGBoost trains and predicts, the best records are
 * written back as a valid log; plus an external features file. */
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
#include <string.h>

#include "distiller.h"
#include "tvmsynth.h"
#include "util.h"

struct seen {
	uint64_t lines[16];
	int errs[16];
	size_t n, failed;
};

static void diag(void *ud, uint64_t line, int err, const char *msg)
{
	struct seen *s = ud;
	assert_non_null(msg);
	assert_true(msg[0] != '\0');
	if (err == 0) {
		s->failed++;
		return;
	}
	if (s->n < 16) {
		s->lines[s->n] = line;
		s->errs[s->n++] = err;
	}
}

static char dir[64];
static char logp[128], truthp[128], outp[128], featp[128];
static size_t n_lines;

static int setup(void **state)
{
	strcpy(dir, "/tmp/test-distiller-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(logp, sizeof(logp), "%s/cloud.json", dir);
	snprintf(truthp, sizeof(truthp), "%s/truth.json", dir);
	snprintf(outp, sizeof(outp), "%s/best.json", dir);
	snprintf(featp, sizeof(featp), "%s/features.txt", dir);
	struct tvmsynth_opts o = {.tasks = 3, .records = 30, .seed = 7, .failed_fraction = 0.05};
	if (tvmsynth_write(logp, truthp, &o) < 0)
		return -1;
	/* Three malformed lines in the middle and at the end; the rest must still be read. */
	_cleanup_free_ char *buf = NULL;
	size_t len;
	if (read_file_at(AT_FDCWD, logp, &buf, &len) < 0)
		return -1;
	FILE *f = fopen(logp, "we");
	if (!f)
		return -1;
	char *nl = buf;
	for (int i = 0; i < 10; i++)
		nl = strchr(nl, '\n') + 1;
	fwrite(buf, 1, (size_t)(nl - buf), f);
	fputs("{\"i\": [[\"broken\n", f); /* line 11 */
	fputs("{\"i\": [[\"k\", \"llvm\"], [[], []]], \"r\": [[1], 0, 1, 1], \"v\": \"v1.0\"}\n",
	      f); /* 12 */
	fputs(nl, f);
	fputs("{\"i\": [[\"k\", \"llvm\"], [[], []]], \"v\": \"v0.6\"}\n", f);
	fclose(f);
	n_lines = 1 + 90 + 3;
	return 0;
}

static int teardown(void **state)
{
	unlink(logp);
	unlink(truthp);
	unlink(outp);
	unlink(featp);
	rmdir(dir);
	return 0;
}

static void test_pipeline(void **state)
{
	struct distiller_opts o;
	distiller_opts_default(&o);
	/* The cold filter is on by default (stratified sample: 2 uniform records per task, then
	 * the embedding model draws); this test runs the plain pipeline. */
	assert_true(o.cold_filter);
	assert_int_equal(o.cold_round, 2);
	assert_float_equal(o.epsilon, 1.0, 0);
	assert_float_equal(o.cold_prior, 0.8, 0);
	o.cold_filter = false;
	o.alpha = 0.3;
	o.batch = 2;
	o.xgb.rounds = 10;
	struct seen s = {0};
	o.diag = diag;
	o.ud = &s;
	cpu_set_t cores;
	assert_int_equal(measurer_parse_cpus("0", &cores), 0);
	struct measurer *m;
	assert_int_equal(measurer_open_builtin(&cores, &m), 0);
	struct distiller_result *r = NULL;
	assert_int_equal(distiller_run(logp, &o, m, &r), 0);
	measurer_free(m);

	assert_int_equal(r->n_lines, n_lines);
	assert_int_equal(r->n_comments, 1);
	assert_int_equal(r->n_malformed, 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.lines[0], 11);
	assert_int_equal(s.errs[0], -EBADMSG);
	assert_int_equal(s.lines[1], 12);
	assert_int_equal(s.errs[1], -EPROTONOSUPPORT);
	assert_int_equal(s.lines[2], n_lines);
	assert_int_equal(s.errs[2], -EINVAL);
	assert_int_equal(r->n_records + r->n_failed, 90);
	assert_int_equal(s.failed, r->n_failed);
	assert_int_equal(r->n_tasks, 3);
	assert_int_equal(r->version_minor, 6);

	/* Every step narrows or keeps the set. */
	assert_true(r->n_survivors >= 3 && r->n_survivors <= r->n_records);
	assert_true(r->n_sampled >= 6 && r->n_sampled <= r->n_survivors);
	assert_true(r->n_predicted + r->n_sampled <= r->n_survivors);
	assert_int_equal(r->n_measured, r->n_sampled + r->n_predicted_measured);
	assert_true(r->n_rows >= r->n_survivors);
	/* The held-out classifier evaluation covers the whole sample. */
	assert_int_equal(r->tp + r->fp + r->tn + r->fn, r->n_sampled);
	assert_true(r->measure_seconds > 0);
	size_t measured = 0;
	for (size_t t = 0; t < r->n_tasks; t++) {
		const struct distiller_task *tk = &r->tasks[t];
		assert_true(isfinite(tk->edge_best) && tk->edge_best > 0);
		assert_true(tk->best < r->n_recs);
		assert_int_equal(r->recs[tk->best].task, t);
		assert_true(r->recs[tk->best].flags & DISTILL_F_MEASURED);
		assert_true(tk->n_measured >= 2);
		measured += tk->n_measured;
		/* The edge best is the minimum over what was measured for the task. */
		for (size_t i = 0; i < r->n_recs; i++)
			if (r->recs[i].task == t && (r->recs[i].flags & DISTILL_F_MEASURED))
				assert_true(r->recs[i].edge >= tk->edge_best);
	}
	assert_int_equal(measured, r->n_measured);

	/* The output is a valid v0.6 log with one record per task: the selected records' original
	 * lines, byte for byte. */
	assert_int_equal(distiller_write_best(r, logp, outp), 0);
	_cleanup_free_ char *in = NULL, *out = NULL;
	size_t in_len, out_len;
	assert_int_equal(read_file_at(AT_FDCWD, logp, &in, &in_len), 0);
	assert_int_equal(read_file_at(AT_FDCWD, outp, &out, &out_len), 0);
	const char *op = out;
	for (size_t t = 0; t < r->n_tasks; t++) {
		const char *lp = in;
		for (uint64_t l = 1; l < r->recs[r->tasks[t].best].line; l++)
			lp = strchr(lp, '\n') + 1;
		size_t ll = (size_t)(strchr(lp, '\n') - lp) + 1;
		assert_true(op + ll <= out + out_len);
		assert_memory_equal(op, lp, ll);
		op += ll;
	}
	assert_ptr_equal(op, out + out_len);
	struct tvmlog_reader *rd;
	assert_int_equal(tvmlog_reader_open(outp, &rd), 0);
	const char *line;
	size_t len;
	uint64_t no, off;
	size_t k = 0;
	while (tvmlog_reader_next(rd, &line, &len, &no, &off) > 0) {
		struct tvmlog_record rec;
		assert_int_equal(tvmlog_parse_line(line, len, &rec, NULL, 0), 0);
		assert_int_equal(rec.version_minor, 6);
		assert_int_equal(rec.error_no, 0);
		assert_string_equal(rec.workload_key, r->tasks[k].workload_key);
		tvmlog_record_done(&rec);
		k++;
	}
	tvmlog_reader_free(rd);
	assert_int_equal(k, 3);
	/* Nothing was filtered with the filter off, and the cold yardstick counts measurements. */
	assert_int_equal(r->cold.filtered, 0);
	assert_int_equal(r->cold.checked, 0);
	assert_true(r->cold.measured_cold <= r->n_measured);
	assert_true(r->cold.loess_cold <= r->n_measured);

	/* A features file replaces the computed features: one row per record, two columns. */
	FILE *f = fopen(featp, "we");
	assert_non_null(f);
	fputs("# line f1 f2\n", f);
	for (size_t i = 0; i < r->n_recs; i++)
		fprintf(f, "%llu %g %g\n", (unsigned long long)r->recs[i].line,
			r->recs[i].cloud * 1e3, (double)(i % 3));
	fclose(f);
	distiller_result_free(r);
	o.features = featp;
	assert_int_equal(measurer_open_builtin(&cores, &m), 0);
	assert_int_equal(distiller_run(logp, &o, m, &r), 0);
	assert_int_equal(r->n_rows, r->n_survivors);
	distiller_result_free(r);

	/* A record without a row is an error naming its line. */
	f = fopen(featp, "we");
	fputs("2 1.0 2.0\n", f);
	fclose(f);
	s.n = 0;
	assert_int_equal(distiller_run(logp, &o, m, &r), -ENOENT);
	assert_true(s.n >= 4 && s.errs[3] == -ENOENT);
	measurer_free(m);
}

static void test_no_records(void **state)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/empty.json", dir);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, p, "# nothing\n", 10, 0644), 0);
	struct distiller_opts o;
	distiller_opts_default(&o);
	struct measurer *m;
	assert_int_equal(measurer_open_builtin(NULL, &m), 0);
	struct distiller_result *r = NULL;
	assert_int_equal(distiller_run(p, &o, m, &r), -ENODATA);
	assert_null(r);
	snprintf(p, sizeof(p), "%s/missing.json", dir);
	assert_int_equal(distiller_run(p, &o, m, &r), -ENOENT);
	measurer_free(m);
	snprintf(p, sizeof(p), "%s/empty.json", dir);
	unlink(p);
}

/* Every record costs the same on the "edge": no batch ever improves a task, so Trimmer's rule
 * (x = 0 twice) stops each task after exactly two survey batches. */
static void test_survey_stops_plateau(void **state)
{
	static const char flat[] = "while read -r l; do id=${l#*\\\"id\\\": }; id=${id%%,*}; "
				   "echo \"{\\\"id\\\": $id, \\\"costs\\\": [0.001]}\"; done";
	for (int scope = 0; scope < 2; scope++) {
		struct distiller_opts o;
		distiller_opts_default(&o);
		o.batch = 2;
		o.xgb.rounds = 5;
		o.survey_model = scope == 1;
		struct seen s = {0};
		o.diag = diag;
		o.ud = &s;
		struct measurer *m;
		assert_int_equal(measurer_open_command(flat, 10000, &m), 0);
		struct distiller_result *r = NULL;
		assert_int_equal(distiller_run(logp, &o, m, &r), 0);
		measurer_free(m);
		assert_int_equal(r->n_epochs, 2);
		assert_int_equal(r->n_predicted_measured, 3 * 2 * 2);
		assert_true(r->stopped_early);
		assert_int_equal(r->n_tasks_suspended, scope == 0 ? 3 : 0);
		for (size_t t = 0; t < r->n_tasks; t++)
			assert_int_equal(r->tasks[t].n_measured, r->tasks[t].n_sampled + 4);
		distiller_result_free(r);
	}
}

/* The cold filter replaces what it drops: with --no-stop every candidate is either measured or
 * filtered; epsilon 0 checks nothing; --cold-prior 0 drops every survey candidate, 1 none. Odd log
 * lines are twice as slow, so there is cold to find. With --compare the cloud top-k baseline spends
 * the distiller's budget on the cloud's best. */
static void test_cold_filter_refills(void **state)
{
	static const char parity[] = "while read -r l; do id=${l#*\\\"id\\\": }; id=${id%%,*}; "
				     "c=0.001; [ $((id % 2)) = 1 ] && c=0.002; "
				     "echo \"{\\\"id\\\": $id, \\\"costs\\\": [$c]}\"; done";
	for (int v = 0; v < 3; v++) {
		int eps = v > 0;
		struct distiller_opts o;
		distiller_opts_default(&o);
		o.batch = 3;
		o.xgb.rounds = 5;
		o.no_stop = true;
		o.compare = true;
		o.cold_filter = true;
		o.cold_k = 1;
		o.epsilon = eps;
		o.cold_prior = v == 1 ? 0 : 1;
		struct seen s = {0};
		o.diag = diag;
		o.ud = &s;
		struct measurer *m;
		assert_int_equal(measurer_open_command(parity, 10000, &m), 0);
		struct distiller_result *r = NULL;
		assert_int_equal(distiller_run(logp, &o, m, &r), 0);
		measurer_free(m);
		/* A record dropped from the sample is replaced there and becomes a survey
		 * candidate again. */
		assert_int_equal(r->n_predicted_measured + r->cold.filtered -
				     r->cold.sample_filtered,
				 r->n_survivors - r->n_sampled);
		assert_true(r->cold.truth_cold <= r->n_measured);
		assert_true(r->cold.updates >= 1);
		/* After the first round every sample slot is drawn by the model; a draw the filter
		 * drops is one of the drawn ones. */
		assert_true(r->cold.sample_drawn > 0);
		assert_true(r->cold.sample_drawn >= r->cold.sample_filtered);
		if (eps == 0)
			assert_int_equal(r->cold.checked, 0);
		else
			assert_true(r->cold.checked >= r->cold.filtered);
		/* --cold-prior 0: every survey candidate has P(cold) > 0 and is dropped. */
		if (v == 1)
			assert_true(r->cold.filtered > 0 && r->n_predicted_measured == 0);
		if (v == 2)
			assert_int_equal(r->cold.filtered, r->cold.sample_filtered);
		for (size_t t = 0; t < r->n_tasks; t++) {
			const struct distiller_task *tk = &r->tasks[t];
			assert_true(isfinite(tk->topk_best) && tk->topk_best >= tk->all_best);
			assert_true(tk->random_best >= tk->all_best);
			assert_true(tk->edge_best >= tk->all_best);
		}
		distiller_result_free(r);
	}
}

/* The rank:pairwise ordering runs the same pipeline and finds a best per task. */
static void test_ranker_pairwise(void **state)
{
	static const char parity[] = "while read -r l; do id=${l#*\\\"id\\\": }; id=${id%%,*}; "
				     "c=0.001; [ $((id % 3)) = 1 ] && c=0.002; "
				     "echo \"{\\\"id\\\": $id, \\\"costs\\\": [$c]}\"; done";
	struct distiller_opts o;
	distiller_opts_default(&o);
	o.batch = 3;
	o.xgb.rounds = 5;
	o.rank_pairwise = true;
	struct seen s = {0};
	o.diag = diag;
	o.ud = &s;
	struct measurer *m;
	assert_int_equal(measurer_open_command(parity, 10000, &m), 0);
	struct distiller_result *r = NULL;
	assert_int_equal(distiller_run(logp, &o, m, &r), 0);
	measurer_free(m);
	for (size_t t = 0; t < r->n_tasks; t++)
		assert_true(r->tasks[t].edge_best == 0.001);
	distiller_result_free(r);
}

static void test_feature_line(void **state)
{
	unsigned long long ln = 0;
	float row[DISTILLER_MAX_FEATURES];
	size_t n = 0;
	const char *ok = "  12 1.5, -2\t3e2\n";
	assert_int_equal(distiller_parse_feature_line(ok, strlen(ok), &ln, row, &n), 0);
	assert_int_equal(ln, 12);
	assert_int_equal(n, 3);
	assert_true(row[0] == 1.5f && row[1] == -2.0f && row[2] == 300.0f);
	assert_int_equal(distiller_parse_feature_line("# c", 3, &ln, row, &n), -ENODATA);
	assert_int_equal(distiller_parse_feature_line("", 0, &ln, row, &n), -ENODATA);
	const char *bad[] = {"12", "x 1", "0 1", "12 1.5x", "12 nan", "12 inf", "-3 1", "12 1 2q"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(distiller_parse_feature_line(bad[i], strlen(bad[i]), &ln, row, &n),
				 -EINVAL);
	char big[4000] = "5";
	for (int i = 0; i < 300; i++)
		strcat(big, " 1");
	assert_int_equal(distiller_parse_feature_line(big, strlen(big), &ln, row, &n), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pipeline),
	    cmocka_unit_test(test_no_records),
	    cmocka_unit_test(test_survey_stops_plateau),
	    cmocka_unit_test(test_cold_filter_refills),
	    cmocka_unit_test(test_ranker_pairwise),
	    cmocka_unit_test(test_feature_line),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
