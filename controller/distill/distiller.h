/* distiller.h — the tuning-record distillation pipeline (ALGORITHMS.md section 3) over a log file:
 * streaming pass, first step, alpha sample, edge measurement, XGBoost, vote, survey-tuned
 * measurement of the predicted edge-friendly records behind Trimmer's cold-candidate filter,
 * best record per task. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "distill.h"
#include "measurer.h"
#include "xgbclf.h"

struct distiller_opts {
	struct distill_first_step first; /* threshold 0.2 by default */
	double alpha;			 /* sample rate, default 0.15 */
	double beta;			 /* label threshold on the calibrated score, default 1.0 */
	uint64_t seed;
	size_t min_sample;    /* per task, default 2 */
	size_t batch;	      /* records per task per survey epoch, default 12 */
	double phi;	      /* survey stop threshold, default -0.25 */
	bool no_stop;	      /* measure every predicted record */
	bool no_cloud_best;   /* do not add each task's cloud-best record to the sample */
	bool predicted_only;  /* never measure past the voted edge-friendly records */
	bool survey_model;    /* survey rule on the whole model's latency, not per task */
	const char *features; /* optional features file (docs/DISTILL.md) */
	bool compare;	      /* also run the baselines (measures every survivor) */
	bool rank_pairwise;   /* order by an XGBoost rank:pairwise model, not the "excellent" one */
	bool cold_filter;     /* Trimmer's cold-candidate filter before each batch */
	size_t cold_k;	      /* drop when the k most similar measured records are all cold */
	double epsilon;	      /* filtering probability before the first model update */
	double cold_prior;    /* survey: drop when the embedding model's P(cold) is above this */
	size_t cold_round;    /* with the filter: sample records per task between model updates */
	struct xgbclf_params xgb;
	/* Optional callbacks, called from the pipeline's thread. */
	/* A skipped log line (err < 0), a failed record (err == 0), or with line == 0 a message
	 * that names its own file and line (features file). */
	void (*diag)(void *ud, uint64_t line, int err, const char *msg);
	void (*progress)(void *ud, const char *phase, size_t done, size_t total);
	void *ud;
};
void distiller_opts_default(struct distiller_opts *o);

struct distiller_task {
	char *workload_key;
	char *target;
	size_t n_records, n_failed, n_survivors, n_sampled, n_predicted, n_measured;
	double cloud_min;  /* best cloud cost in the log */
	size_t cloud_best; /* index into recs of the cloud's best record */
	size_t best;	   /* index into recs of the edge best; SIZE_MAX if none */
	double edge_best;  /* its edge cost (s), INFINITY if none */
	/* Baselines (with opts.compare), INFINITY when unknown. */
	double cloud_best_edge; /* edge cost of the cloud's best record: the first step alone */
	double random_best;	/* random sample of the survivors, same per-task budget */
	double topk_best;	/* the cloud's k best survivors, k = the same per-task budget */
	double all_best;	/* every survivor measured */
};

/* The cold-candidate filter and what the run spent on cold records (docs/DISTILL.md). */
struct distiller_cold {
	size_t checked;		/* candidates queried (the epsilon draw said "check") */
	size_t filtered;	/* candidates dropped */
	size_t sample_filtered; /* of which alpha-sample records (replaced by another draw) */
	size_t sample_drawn;	/* sample records drawn by the model after the first round */
	size_t updates;		/* embedding model updates */
	/* Fixed yardstick: slower than the median of the task's alpha sample, or failed. */
	size_t measured_cold, survey_cold;
	double cold_seconds, survey_cold_seconds; /* measuring wall time on them */
	double cold_cost_seconds;		  /* sum of their edge costs */
	/* The paper's: above the task's LOESS trend of this run's measurements. */
	size_t loess_cold;
	double loess_cold_seconds;
	/* With compare: slower than the median edge cost of the task's first-step survivors (all
	 * measured), the yardstick that no choice of the run can move. */
	size_t truth_cold, truth_survey_cold;
	double truth_cold_seconds, truth_cold_cost_seconds;
	double truth_survey_cold_cost_seconds; /* of which in the survey */
};

struct distiller_result {
	uint64_t n_lines, n_comments, n_malformed, n_failed, n_records;
	size_t n_tasks;
	struct distiller_task *tasks;
	struct distill_rec *recs; /* successful records, in log order */
	size_t n_recs;
	size_t n_survivors, n_sampled, n_predicted, n_predicted_measured, n_measured;
	size_t n_measure_failed; /* edge measurements that returned error_no != 0 */
	size_t n_epochs;
	size_t n_tasks_suspended; /* tasks the per-task survey rule stopped with records left */
	bool stopped_early;
	/* Classifier on the measured sample, 2-fold cross-validated (held-out predictions). */
	size_t tp, fp, tn, fn;
	double precision, recall; /* NAN when undefined */
	size_t n_rows;		  /* feature rows of the survivors */
	double measure_seconds;	  /* wall time of the distiller's edge measurements */
	double est_all_seconds;	  /* estimated time to measure every survivor */
	size_t baseline_measurements;
	double all_seconds; /* actual, with compare */
	int version_minor;  /* of the first record; the output keeps each record's own */
	struct distiller_cold cold;
};
void distiller_result_free(struct distiller_result *r);

/* Runs the pipeline. Lines that do not parse are reported through opts->diag and skipped.
 * -ENODATA if the log has no successful record. */
int distiller_run(const char *log_path, const struct distiller_opts *opts, struct measurer *m,
		  struct distiller_result **ret);

/* One line of a features file: "LOGLINE f1 f2 ..." (spaces, tabs or commas). 0 with the row;
 * -ENODATA for a comment or blank line; -EINVAL; -E2BIG past DISTILLER_MAX_FEATURES or 8 KiB. */
#define DISTILLER_MAX_FEATURES 256
int distiller_parse_feature_line(const char *s, size_t len, unsigned long long *ret_line,
				 float *ret_row, size_t *ret_n);

/* Writes the best record of every task as an auto-scheduler log: its original line, byte for
 * byte (the edge costs are in the report). */
int distiller_write_best(const struct distiller_result *r, const char *log_path,
			 const char *out_path);
