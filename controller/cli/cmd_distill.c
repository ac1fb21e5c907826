/* cmd_distill.c — `edgeslice distill`: distills a cloud auto-scheduler log to the best record per
 * task for this edge device (`distill-truth`, the synthetic model as a measurer:
 * cmd_distill_truth.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "distiller.h"
#include "tvmsynth.h"
#include "util.h"

static const char *const distill_help =
    "Usage: edgeslice distill LOG --out BEST.json [OPTIONS]\n"
    "       edgeslice distill --synthesize DIR [--tasks N] [--records N] [--seed N]\n"
    "\n"
    "Distill a TVM auto-scheduler log tuned on a cloud server down to the best record per\n"
    "task for this edge device, measuring as few records on the edge as possible\n"
    "(docs/DISTILL.md). LOG is read as JSON lines (v0.2..v0.6) in one streaming pass;\n"
    "comments are skipped, failed records (error_no != 0) are dropped, malformed lines are\n"
    "reported with their line number and skipped.\n"
    "\n"
    "Steps: keep records whose cloud score minTime(task)/time >= --threshold (or the best\n"
    "--top-fraction per task); measure a stratified --alpha sample plus each task's cloud\n"
    "best on the edge; label the sample by the calibrated score (eq. 3) against --beta with\n"
    "weights |score - beta|; train an XGBoost classifier on step and shape features, and a\n"
    "second one on 'excellent' records (edge score >= 0.9) to rank them; measure the voted\n"
    "edge-friendly records, most promising first, in epochs of --batch records per task\n"
    "until Trimmer's survey-tuning rule stops paying off; write the fastest measured record\n"
    "of each task to --out (its original log line).\n"
    "\n"
    "Options:\n"
    "  --out FILE            best record per task, an auto-scheduler log (required)\n"
    "  --threshold X         first-step cloud score threshold in (0, 1] (default 0.2)\n"
    "  --top-fraction X      keep the best fraction X in (0, 1] per task instead\n"
    "  --alpha X             sample rate in [0, 1] (default 0.15)\n"
    "  --beta X              edge-friendly label threshold > 0 (default 1.0)\n"
    "  --min-sample N        sampled records per task at least (default 2)\n"
    "  --no-cloud-best       do not add each task's cloud-best record to the sample\n"
    "  --measurer CMD        `builtin` (default) or a command speaking the JSON-lines\n"
    "                        measurer protocol on stdin/stdout (run with /bin/sh -c)\n"
    "  --timeout MS          per-answer timeout of a measurer command (default 60000)\n"
    "  --cores LIST          CPUs for the builtin measurer, e.g. 0 or 0-3 (default 0)\n"
    "  --seed N              sampling and XGBoost seed (default 1)\n"
    "  --batch N             records per task per survey epoch (default 12)\n"
    "  --phi X               survey stop threshold (default -0.25)\n"
    "  --survey task|model   apply the survey stop rule to each task's best cost and\n"
    "                        suspend that task (default), or to the sum over tasks and\n"
    "                        stop everything\n"
    "  --no-stop             measure until the queues are empty\n"
    "  --predicted-only      measure only the records voted edge-friendly (the paper);\n"
    "                        by default a task the survey rule keeps open continues\n"
    "                        with the other survivors, most promising first\n"
    "  --ranker excellent|pairwise  measurement order within a task: P(edge score >= 0.9)\n"
    "                        (default) or an XGBoost rank:pairwise model per task\n"
    "  --cold-filter on|off  Trimmer's cold-candidate filter before each batch (default on)\n"
    "  --cold-k N            drop a candidate whose N most similar measured records are all\n"
    "                        cold (default 1, at most 64)\n"
    "  --epsilon X           filtering probability in [0, 1] before the first model update;\n"
    "                        x0.8 after each in the alpha sample, held in the survey\n"
    "                        (default 1)\n"
    "  --cold-prior X        survey: drop a candidate the embedding model finds cold with\n"
    "                        probability above X (default 0.8; 1 never drops)\n"
    "  --cold-round N        with the filter: alpha-sample records per task between model\n"
    "                        updates; the first round is uniform, later ones drawn by the\n"
    "                        model, least likely cold first (default 2)\n"
    "  --features FILE       features per record instead of computing them: lines\n"
    "                        `LOGLINE f1 f2 ...`; several lines per record vote\n"
    "  --compare             also run the baselines (cloud best alone, random sampling and\n"
    "                        the cloud's top-k with the same per-task budget, every\n"
    "                        survivor) — measures every survivor\n"
    "  --report FILE         write the JSON report to FILE too\n"
    "  --json                print the report as JSON instead of a table\n"
    "  -v, --verbose         report every failed record as well\n"
    "  -q, --quiet           no progress on stderr\n"
    "  --synthesize DIR      write DIR/cloud.json and DIR/truth.json (synthetic model)\n"
    "  --tasks N, --records N  size of the synthesized log (default 24 x 250)\n"
    "  --family N            synthetic cloud/edge model pair 0..5 (default 0, docs/DISTILL.md)\n"
    "  --from LOG            with --synthesize: grow the tasks from a real log's records\n"
    "                        (redrawn split lengths and unroll) instead of matmuls\n"
    "\n"
    "Exit status: 0 done, 1 failure (unreadable log, measurer error), 2 usage error.\n";

enum {
	OPT_OUT = 256,
	OPT_THRESHOLD,
	OPT_TOPFRAC,
	OPT_ALPHA,
	OPT_BETA,
	OPT_MINSAMPLE,
	OPT_MEASURER,
	OPT_TIMEOUT,
	OPT_CORES,
	OPT_SEED,
	OPT_BATCH,
	OPT_PHI,
	OPT_NOSTOP,
	OPT_FEATURES,
	OPT_COMPARE,
	OPT_REPORT,
	OPT_JSON,
	OPT_SYNTH,
	OPT_TASKS,
	OPT_RECORDS,
	OPT_SURVEY,
	OPT_PREDONLY,
	OPT_NOCLOUDBEST,
	OPT_COLD,
	OPT_COLDK,
	OPT_EPSILON,
	OPT_COLDPRIOR,
	OPT_COLDROUND,
	OPT_FAMILY,
	OPT_RANKER,
	OPT_FROM,
};

struct ui {
	const char *log;
	bool verbose, quiet, tty;
	uint64_t start, last;
	bool progress_shown;
	size_t shown_failed;
};

static void diag(void *ud, uint64_t line, int err, const char *msg)
{
	struct ui *u = ud;
	if (err == 0 && !u->verbose) {
		u->shown_failed++;
		return;
	}
	if (u->progress_shown && u->tty) {
		fputs("\r\033[K", stderr);
		u->progress_shown = false;
	}
	if (line)
		fprintf(stderr, "edgeslice distill: %s:%llu: %s\n", u->log,
			(unsigned long long)line, msg);
	else
		fprintf(stderr, "edgeslice distill: %s\n", msg);
}

static void progress(void *ud, const char *phase, size_t done, size_t total)
{
	struct ui *u = ud;
	if (u->quiet)
		return;
	uint64_t now = now_usec();
	/* Quiet for short runs; then a tty gets a live line, a pipe a line every 5 s. */
	if (now - u->start < 1000000 || now - u->last < (u->tty ? 200000u : 5000000u))
		return;
	u->last = now;
	if (total)
		fprintf(stderr, "%sdistill: %s %zu/%zu%s", u->tty ? "\r\033[K" : "", phase, done,
			total, u->tty ? "" : "\n");
	else
		fprintf(stderr, "%sdistill: %s %zu lines%s", u->tty ? "\r\033[K" : "", phase, done,
			u->tty ? "" : "\n");
	u->progress_shown = u->tty;
}

static int parse_unit(const char *cmd, const char *opt, const char *s, double lo, double hi,
		      bool lo_open, double *ret)
{
	double v;
	if (parse_double(s, &v) < 0 || !isfinite(v) || (lo_open ? v <= lo : v < lo) || v > hi)
		return cli_usage_error(cmd, "%s: must be a number in %s%g, %g]", opt,
				       lo_open ? "(" : "[", lo, hi);
	*ret = v;
	return 0;
}

static int parse_count(const char *cmd, const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v == 0 || v > max)
		return cli_usage_error(cmd, "%s: must be an integer in [1, %llu]", opt,
				       (unsigned long long)max);
	*ret = v;
	return 0;
}

static struct json_object *jnum(double v)
{
	return isfinite(v) ? json_object_new_double(v) : NULL;
}

static struct json_object *cold_json(const struct distiller_result *r)
{
	const struct distiller_cold *c = &r->cold;
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "checked", json_object_new_int64((int64_t)c->checked));
	json_object_object_add(o, "filtered", json_object_new_int64((int64_t)c->filtered));
	json_object_object_add(o, "model_updates", json_object_new_int64((int64_t)c->updates));
	json_object_object_add(o, "sample_drawn", json_object_new_int64((int64_t)c->sample_drawn));
	json_object_object_add(o, "measured_cold",
			       json_object_new_int64((int64_t)c->measured_cold));
	json_object_object_add(o, "cold_seconds", jnum(c->cold_seconds));
	json_object_object_add(o, "cold_cost_seconds", jnum(c->cold_cost_seconds));
	json_object_object_add(o, "survey_cold", json_object_new_int64((int64_t)c->survey_cold));
	json_object_object_add(o, "survey_cold_seconds", jnum(c->survey_cold_seconds));
	json_object_object_add(o, "loess_cold", json_object_new_int64((int64_t)c->loess_cold));
	json_object_object_add(o, "loess_cold_seconds", jnum(c->loess_cold_seconds));
	json_object_object_add(o, "sample_filtered",
			       json_object_new_int64((int64_t)c->sample_filtered));
	if (r->baseline_measurements || r->all_seconds > 0) {
		json_object_object_add(o, "truth_cold",
				       json_object_new_int64((int64_t)c->truth_cold));
		json_object_object_add(o, "truth_survey_cold",
				       json_object_new_int64((int64_t)c->truth_survey_cold));
		json_object_object_add(o, "truth_cold_seconds", jnum(c->truth_cold_seconds));
		json_object_object_add(o, "truth_survey_cold_cost_seconds",
				       jnum(c->truth_survey_cold_cost_seconds));
		json_object_object_add(o, "truth_cold_cost_seconds",
				       jnum(c->truth_cold_cost_seconds));
	}
	return o;
}

static struct json_object *report_json(const char *log, const struct distiller_result *r,
				       bool compare)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "log", json_object_new_string(log));
	char v[8];
	snprintf(v, sizeof(v), "v0.%d", r->version_minor);
	json_object_object_add(o, "version", json_object_new_string(v));
	json_object_object_add(o, "lines", json_object_new_int64((int64_t)r->n_lines));
	json_object_object_add(o, "comments", json_object_new_int64((int64_t)r->n_comments));
	json_object_object_add(o, "malformed", json_object_new_int64((int64_t)r->n_malformed));
	json_object_object_add(o, "failed", json_object_new_int64((int64_t)r->n_failed));
	json_object_object_add(o, "records", json_object_new_int64((int64_t)r->n_records));
	json_object_object_add(o, "tasks", json_object_new_int64((int64_t)r->n_tasks));
	struct json_object *k = json_object_new_object();
	json_object_object_add(k, "first_step", json_object_new_int64((int64_t)r->n_survivors));
	json_object_object_add(k, "sampled", json_object_new_int64((int64_t)r->n_sampled));
	json_object_object_add(k, "predicted", json_object_new_int64((int64_t)r->n_predicted));
	json_object_object_add(k, "predicted_measured",
			       json_object_new_int64((int64_t)r->n_predicted_measured));
	json_object_object_add(o, "kept", k);
	json_object_object_add(o, "measured", json_object_new_int64((int64_t)r->n_measured));
	json_object_object_add(o, "measure_failed",
			       json_object_new_int64((int64_t)r->n_measure_failed));
	json_object_object_add(o, "epochs", json_object_new_int64((int64_t)r->n_epochs));
	json_object_object_add(o, "stopped_early", json_object_new_boolean(r->stopped_early));
	json_object_object_add(o, "tasks_suspended",
			       json_object_new_int64((int64_t)r->n_tasks_suspended));
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "precision", jnum(r->precision));
	json_object_object_add(c, "recall", jnum(r->recall));
	json_object_object_add(c, "tp", json_object_new_int64((int64_t)r->tp));
	json_object_object_add(c, "fp", json_object_new_int64((int64_t)r->fp));
	json_object_object_add(c, "tn", json_object_new_int64((int64_t)r->tn));
	json_object_object_add(c, "fn", json_object_new_int64((int64_t)r->fn));
	json_object_object_add(c, "feature_rows", json_object_new_int64((int64_t)r->n_rows));
	json_object_object_add(
	    c, "evaluation",
	    json_object_new_string("2-fold cross-validation on the measured sample"));
	json_object_object_add(o, "classifier", c);
	struct json_object *s = json_object_new_object();
	size_t saved = r->n_survivors > r->n_measured ? r->n_survivors - r->n_measured : 0;
	json_object_object_add(s, "measurements", json_object_new_int64((int64_t)saved));
	json_object_object_add(
	    s, "fraction_measured",
	    jnum(r->n_survivors ? (double)r->n_measured / (double)r->n_survivors : NAN));
	json_object_object_add(s, "measure_seconds", jnum(r->measure_seconds));
	double all = compare ? r->all_seconds : r->est_all_seconds;
	json_object_object_add(s, "all_survivors_seconds", jnum(all));
	json_object_object_add(s, "all_survivors_seconds_estimated",
			       json_object_new_boolean(!compare));
	json_object_object_add(s, "seconds", jnum(all - r->measure_seconds));
	json_object_object_add(o, "saved", s);
	json_object_object_add(o, "cold", cold_json(r));
	struct json_object *arr = json_object_new_array();
	double g_sum = 0, g_cloud = 0, g_rand = 0, g_all = 0, g_topk = 0;
	for (size_t t = 0; t < r->n_tasks; t++) {
		const struct distiller_task *tk = &r->tasks[t];
		struct json_object *x = json_object_new_object();
		json_object_object_add(x, "workload_key", json_object_new_string(tk->workload_key));
		json_object_object_add(x, "target", json_object_new_string(tk->target));
		json_object_object_add(x, "records", json_object_new_int64((int64_t)tk->n_records));
		json_object_object_add(x, "failed", json_object_new_int64((int64_t)tk->n_failed));
		json_object_object_add(x, "first_step",
				       json_object_new_int64((int64_t)tk->n_survivors));
		json_object_object_add(x, "sampled", json_object_new_int64((int64_t)tk->n_sampled));
		json_object_object_add(x, "predicted",
				       json_object_new_int64((int64_t)tk->n_predicted));
		json_object_object_add(x, "measured",
				       json_object_new_int64((int64_t)tk->n_measured));
		json_object_object_add(x, "cloud_best", jnum(tk->cloud_min));
		json_object_object_add(x, "edge_best", jnum(tk->edge_best));
		json_object_object_add(x, "best_line",
				       tk->best != SIZE_MAX
					   ? json_object_new_int64((int64_t)r->recs[tk->best].line)
					   : NULL);
		if (compare) {
			json_object_object_add(x, "cloud_best_edge", jnum(tk->cloud_best_edge));
			json_object_object_add(x, "random_best", jnum(tk->random_best));
			json_object_object_add(x, "topk_best", jnum(tk->topk_best));
			json_object_object_add(x, "all_best", jnum(tk->all_best));
			g_topk += tk->topk_best;
			g_cloud += tk->cloud_best_edge;
			g_rand += tk->random_best;
			g_all += tk->all_best;
		}
		g_sum += tk->edge_best;
		json_object_array_add(arr, x);
	}
	json_object_object_add(o, "per_task", arr);
	json_object_object_add(o, "total_edge_best", jnum(g_sum));
	if (compare) {
		struct json_object *b = json_object_new_object();
		json_object_object_add(
		    b, "measurements",
		    json_object_new_int64((int64_t)(r->n_measured + r->baseline_measurements)));
		json_object_object_add(b, "total_cloud_best_edge", jnum(g_cloud));
		json_object_object_add(b, "total_random_best", jnum(g_rand));
		json_object_object_add(b, "total_topk_best", jnum(g_topk));
		json_object_object_add(b, "total_all_best", jnum(g_all));
		json_object_object_add(o, "baselines", b);
	}
	return o;
}

static void print_table(const char *log, const struct distiller_result *r, bool compare)
{
	printf("log %s (v0.%d): %llu lines, %llu records, %llu failed, %llu malformed, %llu "
	       "comments, %zu tasks\n",
	       log, r->version_minor, (unsigned long long)r->n_lines,
	       (unsigned long long)r->n_records, (unsigned long long)r->n_failed,
	       (unsigned long long)r->n_malformed, (unsigned long long)r->n_comments, r->n_tasks);
	printf("kept: first step %zu, sampled %zu, predicted edge-friendly %zu (measured %zu in "
	       "%zu epochs%s)\n",
	       r->n_survivors, r->n_sampled, r->n_predicted, r->n_predicted_measured, r->n_epochs,
	       r->stopped_early ? ", survey rule stopped early" : "");
	char pr[16] = "-", rc[16] = "-";
	if (isfinite(r->precision))
		snprintf(pr, sizeof(pr), "%.3f", r->precision);
	if (isfinite(r->recall))
		snprintf(rc, sizeof(rc), "%.3f", r->recall);
	printf("classifier (2-fold CV on the sample): precision %s recall %s (tp %zu fp %zu tn %zu "
	       "fn %zu)\n",
	       pr, rc, r->tp, r->fp, r->tn, r->fn);
	double all = compare ? r->all_seconds : r->est_all_seconds;
	printf("edge measurements: %zu of %zu survivors (%.1f %%), %.3f s; all survivors %s%.3f s, "
	       "saved %.3f s\n",
	       r->n_measured, r->n_survivors,
	       r->n_survivors ? 100.0 * (double)r->n_measured / (double)r->n_survivors : 0.0,
	       r->measure_seconds, compare ? "" : "~", all, all - r->measure_seconds);
	if (r->cold.updates || r->cold.filtered)
		printf("cold filter: %zu checked, %zu filtered, %zu model updates\n",
		       r->cold.checked, r->cold.filtered, r->cold.updates);
	printf("cold records measured: %zu (%.3f s measuring; slower than the task's sample "
	       "median)\n",
	       r->cold.measured_cold, r->cold.cold_seconds);
	printf("\n%-4s %-7s %-7s %-7s %-7s %-12s %-12s", "task", "records", "kept", "sampled",
	       "measured", "cloud_best", "edge_best");
	if (compare)
		printf(" %-12s %-12s %-12s %-12s", "cloud->edge", "random", "cloud-top-k", "all");
	printf("  workload\n");
	for (size_t t = 0; t < r->n_tasks; t++) {
		const struct distiller_task *tk = &r->tasks[t];
		printf("%-4zu %-7zu %-7zu %-7zu %-8zu %-12.6g %-12.6g", t, tk->n_records,
		       tk->n_survivors, tk->n_sampled, tk->n_measured, tk->cloud_min,
		       tk->edge_best);
		if (compare)
			printf(" %-12.6g %-12.6g %-12.6g %-12.6g", tk->cloud_best_edge,
			       tk->random_best, tk->topk_best, tk->all_best);
		printf("  %.60s\n", tk->workload_key);
	}
}

/* --synthesize DIR: a synthetic log and its ground truth. */
static int synthesize(const char *cmd, const char *synth, const char *from,
		      const struct tvmsynth_opts *so, bool quiet)
{
	if (mkdir(synth, 0755) < 0 && errno != EEXIST)
		return cli_error(cmd, "%s: %s", synth, strerror(errno));
	_cleanup_free_ char *lp = NULL, *tp = NULL;
	if (asprintf(&lp, "%s/cloud.json", synth) < 0 || asprintf(&tp, "%s/truth.json", synth) < 0)
		return cli_error(cmd, "out of memory");
	size_t nt = so->tasks;
	int r = from ? tvmsynth_write_from(from, lp, tp, so, &nt) : tvmsynth_write(lp, tp, so);
	if (r < 0)
		return cli_error(cmd, "--synthesize: %s: %s", from ? from : synth, strerror(-r));
	if (!quiet)
		fprintf(stderr, "distill: wrote %s and %s (%zu tasks x %zu records)\n", lp, tp, nt,
			so->records);
	return ES_EXIT_OK;
}

struct run_args {
	const char *log, *out, *report, *measurer_cmd, *cores_s;
	uint64_t timeout;
	bool json;
};

/* Opens the measurer, runs the pipeline, writes the output and the report. */
static int run_distill(const char *cmd, const struct run_args *a, struct distiller_opts *op,
		       struct ui *uip)
{
	struct distiller_opts o = *op;
	struct ui ui = *uip;
	const char *log = a->log, *out = a->out, *report = a->report;
	const char *measurer_cmd = a->measurer_cmd, *cores_s = a->cores_s;
	uint64_t timeout = a->timeout;
	bool json = a->json;
	int r;
	cpu_set_t cores;
	r = measurer_parse_cpus(cores_s, &cores);
	if (r < 0)
		return cli_usage_error(cmd, "--cores: expected a CPU list such as 0 or 0-3 or 0,2");
	struct measurer *m = NULL;
	if (!strcmp(measurer_cmd, "builtin"))
		r = measurer_open_builtin(&cores, &m);
	else
		r = measurer_open_command(measurer_cmd, (int)timeout, &m);
	if (r < 0)
		return cli_error(cmd, "--measurer: %s: %s", measurer_cmd, strerror(-r));

	o.diag = diag;
	o.progress = progress;
	o.ud = &ui;
	struct distiller_result *res = NULL;
	r = distiller_run(log, &o, m, &res);
	if (ui.progress_shown)
		fputs("\r\033[K", stderr);
	if (r < 0) {
		const char *why = measurer_last_error(m);
		int rc;
		if (r == -ENODATA)
			rc = cli_error(cmd, "%s: no successful record to distill", log);
		else if (r == -EPROTO || r == -ETIMEDOUT || r == -EPIPE)
			rc = cli_error(cmd, "--measurer: %s", *why ? why : strerror(-r));
		else
			rc = cli_error(cmd, "%s: %s%s%s", log, strerror(-r), *why ? ": " : "", why);
		measurer_free(m);
		return rc;
	}
	measurer_free(m);
	if (ui.shown_failed && !ui.verbose && !ui.quiet)
		fprintf(stderr, "distill: %zu failed records skipped (-v lists them)\n",
			ui.shown_failed);

	r = distiller_write_best(res, log, out);
	if (r < 0) {
		distiller_result_free(res);
		return cli_error(cmd, "--out: %s: %s", out, strerror(-r));
	}
	struct json_object *j = report_json(log, res, o.compare);
	const char *js = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = ES_EXIT_OK;
	if (report) {
		_cleanup_free_ char *txt = NULL;
		if (asprintf(&txt, "%s\n", js) < 0 ||
		    (r = write_file_atomic_at(AT_FDCWD, report, txt, strlen(txt), 0644)) < 0)
			rc =
			    cli_error(cmd, "--report: %s: %s", report, strerror(txt ? -r : ENOMEM));
	}
	if (json)
		printf("%s\n", js);
	else
		print_table(log, res, o.compare);
	json_object_put(j);
	distiller_result_free(res);
	return rc;
}

struct cli {
	struct distiller_opts o;
	const char *out, *measurer_cmd, *report, *synth, *cores_s, *from;
	bool json, threshold_set;
	uint64_t timeout, tasks, records, u, family;
	struct ui ui;
	double d;
};

/* The cold filter's options (Trimmer's Alg. 1) into cl: 0 or the usage error's exit status. */
static int parse_cold_opt(struct cli *cl, int c)
{
	const char *cmd = "distill";
	int r;
	switch (c) {
	case OPT_COLD:
		if (!strcmp(optarg, "on"))
			cl->o.cold_filter = true;
		else if (!strcmp(optarg, "off"))
			cl->o.cold_filter = false;
		else
			return cli_usage_error(cmd, "--cold-filter: must be 'on' or 'off'");
		break;
	case OPT_COLDK:
		if ((r = parse_count(cmd, "--cold-k", optarg, 64, &cl->u)))
			return r;
		cl->o.cold_k = cl->u;
		break;
	case OPT_EPSILON:
		if ((r = parse_unit(cmd, "--epsilon", optarg, 0, 1, false, &cl->o.epsilon)))
			return r;
		break;
	case OPT_COLDPRIOR:
		if ((r = parse_unit(cmd, "--cold-prior", optarg, 0, 1, false, &cl->o.cold_prior)))
			return r;
		break;
	case OPT_COLDROUND:
		if ((r = parse_count(cmd, "--cold-round", optarg, 1000000, &cl->u)))
			return r;
		cl->o.cold_round = cl->u;
		break;
	}
	return 0;
}

/* One option into cl: 0, -1 after --help, or the usage error's exit status. */
static int parse_opt(struct cli *cl, int c)
{
	const char *cmd = "distill";
	int r;
	switch (c) {
	case 'h':
		fputs(distill_help, stdout);
		return -1;
	case OPT_OUT:
		cl->out = optarg;
		break;
	case OPT_THRESHOLD:
		if ((r = parse_unit(cmd, "--threshold", optarg, 0, 1, true,
				    &cl->o.first.threshold)))
			return r;
		cl->threshold_set = true;
		break;
	case OPT_TOPFRAC:
		if ((r = parse_unit(cmd, "--top-fraction", optarg, 0, 1, true,
				    &cl->o.first.top_fraction)))
			return r;
		break;
	case OPT_ALPHA:
		if ((r = parse_unit(cmd, "--alpha", optarg, 0, 1, false, &cl->o.alpha)))
			return r;
		break;
	case OPT_BETA:
		if ((r = parse_unit(cmd, "--beta", optarg, 0, 1e6, true, &cl->o.beta)))
			return r;
		break;
	case OPT_MINSAMPLE:
		if ((r = parse_count(cmd, "--min-sample", optarg, 1000000, &cl->u)))
			return r;
		cl->o.min_sample = cl->u;
		break;
	case OPT_MEASURER:
		cl->measurer_cmd = optarg;
		break;
	case OPT_TIMEOUT:
		if ((r = parse_count(cmd, "--cl->timeout", optarg, 86400000, &cl->timeout)))
			return r;
		break;
	case OPT_CORES:
		cl->cores_s = optarg;
		break;
	case OPT_SEED:
		if (parse_u64(optarg, &cl->o.seed) < 0)
			return cli_usage_error(cmd, "--seed: must be a non-negative integer");
		cl->o.xgb.seed = cl->o.seed;
		break;
	case OPT_BATCH:
		if ((r = parse_count(cmd, "--batch", optarg, 1000000, &cl->u)))
			return r;
		cl->o.batch = cl->u;
		break;
	case OPT_PHI:
		if (parse_double(optarg, &cl->d) < 0 || !isfinite(cl->d))
			return cli_usage_error(cmd, "--phi: must be a number");
		cl->o.phi = cl->d;
		break;
	case OPT_NOSTOP:
		cl->o.no_stop = true;
		break;
	case OPT_PREDONLY:
		cl->o.predicted_only = true;
		break;
	case OPT_NOCLOUDBEST:
		cl->o.no_cloud_best = true;
		break;
	case OPT_SURVEY:
		if (!strcmp(optarg, "task"))
			cl->o.survey_model = false;
		else if (!strcmp(optarg, "model"))
			cl->o.survey_model = true;
		else
			return cli_usage_error(cmd, "--survey: must be 'task' or 'model'");
		break;
	case OPT_FEATURES:
		cl->o.features = optarg;
		break;
	case OPT_COLD:
	case OPT_COLDK:
	case OPT_EPSILON:
	case OPT_COLDPRIOR:
	case OPT_COLDROUND:
		return parse_cold_opt(cl, c);
	case OPT_COMPARE:
		cl->o.compare = true;
		break;
	case OPT_REPORT:
		cl->report = optarg;
		break;
	case OPT_JSON:
		cl->json = true;
		break;
	case 'v':
		cl->ui.verbose = true;
		break;
	case 'q':
		cl->ui.quiet = true;
		break;
	case OPT_SYNTH:
		cl->synth = optarg;
		break;
	case OPT_TASKS:
		if ((r = parse_count(cmd, "--cl->tasks", optarg, 100000, &cl->tasks)))
			return r;
		break;
	case OPT_RECORDS:
		if ((r = parse_count(cmd, "--cl->records", optarg, 10000000, &cl->records)))
			return r;
		break;
	case OPT_FROM:
		cl->from = optarg;
		break;
	case OPT_RANKER:
		if (!strcmp(optarg, "excellent"))
			cl->o.rank_pairwise = false;
		else if (!strcmp(optarg, "pairwise"))
			cl->o.rank_pairwise = true;
		else
			return cli_usage_error(cmd, "--ranker: must be 'excellent' or 'pairwise'");
		break;
	case OPT_FAMILY:
		if (parse_u64(optarg, &cl->family) < 0 || cl->family >= DISTILL_N_FAMILIES)
			return cli_usage_error(cmd,
					       "--cl->family: must be an integer in [0, %cl->d]",
					       DISTILL_N_FAMILIES - 1);
		break;
	default:
		return cli_usage_error(cmd, "unknown option");
	}
	return 0;
}

static int cmd_distill(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"out", required_argument, NULL, OPT_OUT},
	    {"threshold", required_argument, NULL, OPT_THRESHOLD},
	    {"top-fraction", required_argument, NULL, OPT_TOPFRAC},
	    {"alpha", required_argument, NULL, OPT_ALPHA},
	    {"beta", required_argument, NULL, OPT_BETA},
	    {"min-sample", required_argument, NULL, OPT_MINSAMPLE},
	    {"measurer", required_argument, NULL, OPT_MEASURER},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"cores", required_argument, NULL, OPT_CORES},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"batch", required_argument, NULL, OPT_BATCH},
	    {"phi", required_argument, NULL, OPT_PHI},
	    {"no-stop", no_argument, NULL, OPT_NOSTOP},
	    {"survey", required_argument, NULL, OPT_SURVEY},
	    {"predicted-only", no_argument, NULL, OPT_PREDONLY},
	    {"no-cloud-best", no_argument, NULL, OPT_NOCLOUDBEST},
	    {"features", required_argument, NULL, OPT_FEATURES},
	    {"cold-filter", required_argument, NULL, OPT_COLD},
	    {"cold-k", required_argument, NULL, OPT_COLDK},
	    {"epsilon", required_argument, NULL, OPT_EPSILON},
	    {"cold-prior", required_argument, NULL, OPT_COLDPRIOR},
	    {"cold-round", required_argument, NULL, OPT_COLDROUND},
	    {"compare", no_argument, NULL, OPT_COMPARE},
	    {"report", required_argument, NULL, OPT_REPORT},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"synthesize", required_argument, NULL, OPT_SYNTH},
	    {"tasks", required_argument, NULL, OPT_TASKS},
	    {"records", required_argument, NULL, OPT_RECORDS},
	    {"family", required_argument, NULL, OPT_FAMILY},
	    {"ranker", required_argument, NULL, OPT_RANKER},
	    {"from", required_argument, NULL, OPT_FROM},
	    {},
	};
	const char *cmd = "distill";
	struct cli cl = {.measurer_cmd = "builtin",
			 .cores_s = "0",
			 .timeout = 60000,
			 .tasks = 24,
			 .records = 250,
			 .ui = {.tty = isatty(STDERR_FILENO), .start = now_usec()}};
	distiller_opts_default(&cl.o);
	struct distiller_opts *o = &cl.o;
	struct ui *ui = &cl.ui;
	int c, r;

	optind = 0;
	while ((c = getopt_long(argc, argv, "hvq", opts, NULL)) >= 0) {
		r = parse_opt(&cl, c);
		if (r < 0)
			return ES_EXIT_OK;
		if (r)
			return r;
	}

	if (cl.synth) {
		if (optind != argc)
			return cli_usage_error(cmd, "--synthesize takes no LOG argument");
		struct tvmsynth_opts so = {.tasks = cl.tasks,
					   .records = cl.records,
					   .seed = o->seed,
					   .failed_fraction = 0.03,
					   .family = (unsigned)cl.family};
		return synthesize(cmd, cl.synth, cl.from, &so, ui->quiet);
	}

	if (optind >= argc)
		return cli_usage_error(cmd, "LOG: missing the auto-scheduler log to distill");
	if (optind + 1 < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (!cl.out)
		return cli_usage_error(cmd, "--out: required (where to write the best records)");
	if (cl.threshold_set && o->first.top_fraction > 0)
		return cli_usage_error(cmd, "--threshold and --top-fraction exclude each other");
	const char *log = argv[optind];
	ui->log = log;

	struct run_args ra = {.log = log,
			      .out = cl.out,
			      .report = cl.report,
			      .measurer_cmd = cl.measurer_cmd,
			      .cores_s = cl.cores_s,
			      .timeout = cl.timeout,
			      .json = cl.json};
	return run_distill(cmd, &ra, o, ui);
}
ES_COMMAND("distill", cmd_distill,
	   "Distill a cloud TVM tuning log to the best records for this edge");
