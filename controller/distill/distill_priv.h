/* distill_priv.h — private to the distiller (distiller.c, distill_learn.c, distill_survey.c,
 * distill_report.c): the state of one run and the helpers the pipeline's phases share. */
#pragma once

#include "distill.h"
#include "distiller.h"
#include "tvmlog.h"
#include "xgbclf.h"

/* Feature rows of the records at hand (the sample, one chunk of survivors, ...). */
struct feats {
	float *x; /* rows x width */
	size_t n_rows, cap, width;
	size_t *start;	/* per rec: first row, SIZE_MAX if none */
	uint8_t *count; /* per rec: rows */
};

/* One run of the pipeline. */
struct drun {
	const struct distiller_opts *o;
	struct measurer *m;
	struct distiller_result *res;
	struct tvmlog_reader *rd;
	struct feats f;
	/* Every edge measurement of the distiller in order, with its wall time. */
	size_t *mseq;
	double *msecs;
	size_t n_mseq, cap_mseq;
	struct xgbclf *clf, *rank;
	struct distill_cold_state *cold; /* the cold filter across the sample and the survey */
};

/* distiller.c */
int distill_measure_rec(struct drun *d, const struct distill_rec *x, double *ret_cost,
			double *secs);
int distill_measure_into(struct drun *d, size_t i);
double distill_model_latency(const struct distiller_result *res);

/* distill_learn.c: features and the classifiers. */
int distill_feats_from_log(struct drun *d, const size_t *recs, size_t n_recs);
void distill_feats_forget(struct feats *f, const size_t *recs, size_t n_recs);
int distill_feats_from_file(struct drun *d, const char *path);
int distill_train_recs(const struct feats *f, const size_t *idx, size_t n, const float *lab,
		       const float *wt, const struct xgbclf_params *p, struct xgbclf **ret);
/* A rank:pairwise model over records idx[n] with relevance rel[n], one query group per task. */
int distill_train_rank_recs(const struct distill_rec *recs, const struct feats *f,
			    const size_t *idx, size_t n, const double *rel,
			    const struct xgbclf_params *p, struct xgbclf **ret);
int distill_predict_recs(struct xgbclf *c, const struct feats *f, const size_t *recs, size_t n_recs,
			 bool *ret_friendly, float *ret_mean);
/* Leaf embedding of each record (its first feature row): ret_leaf[n_recs * max_trees]. */
int distill_leaf_recs(struct xgbclf *c, const struct feats *f, const size_t *recs, size_t n_recs,
		      int32_t *ret_leaf, size_t max_trees, size_t *ret_trees);
/* 2-fold cross-validation of the classifier on the labelled sample idx[nl] into res->tp etc. */
int distill_crossval(struct drun *d, const size_t *idx, size_t nl, const float *lab,
		     const float *wt);

/* distill_survey.c: survey tuning over the ordered candidates, with the cold filter. */
int distill_cold_open(struct drun *d);
void distill_cold_close(struct drun *d);
/* Measures the alpha sample idx[*n] in rounds of `batch` per task; from the second round on the
 * cold filter drops candidates and draws a replacement among the task's unsampled survivors.
 * idx/n are updated to the sample as measured. */
int distill_sample_filtered(struct drun *d, size_t *idx, size_t *n);
int distill_survey(struct drun *d, const size_t *order, size_t *pos, const size_t *end,
		   size_t total);
/* Cold accounting of the run's measurements (res->cold). */
int distill_cold_account(struct drun *d);

/* distill_report.c: the baselines (with opts.compare). */
int distill_baselines(struct drun *d);
