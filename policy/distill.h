/* distill.h — pure logic of the tuning-record distiller (ALGORITHMS.md section 3): first step,
 * alpha sampling, eq. 2/3 scores, labels and weights, features, voting, survey stop rule. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISTILL_MAX_LEN	  8  /* split lengths kept per SP step (TVM tiles use <= 5) */
#define DISTILL_MAX_ORDER 64 /* iterators kept per RE step */
#define DISTILL_MAX_SHAPE 32 /* integers kept from a workload key */

/* Transform steps of an auto-scheduler state, as far as the distiller needs them. Steps of other
 * kinds (and unknown future kinds) are kept as DISTILL_STEP_OTHER so counts stay right. */
enum distill_step_kind {
	DISTILL_STEP_OTHER,
	DISTILL_STEP_SP,   /* split: stage, iter, extent, lengths */
	DISTILL_STEP_RE,   /* reorder: stage, order */
	DISTILL_STEP_FU,   /* fuse: stage, fused iterators (count in n_len) */
	DISTILL_STEP_AN,   /* annotation: stage, iter, annotation */
	DISTILL_STEP_PR,   /* pragma: stage, iter, "auto_unroll_max_step$N" */
	DISTILL_STEP_CA,   /* compute_at */
	DISTILL_STEP_CI,   /* compute_inline */
	DISTILL_STEP_CR,   /* compute_root */
	DISTILL_STEP_FSP,  /* follow split */
	DISTILL_STEP_FFSP, /* follow fused split */
	DISTILL_STEP_CHR,  /* cache read */
	DISTILL_STEP_CHW,  /* cache write */
	DISTILL_STEP_RF,   /* rfactor */
	DISTILL_STEP_SA,   /* storage align */
	_DISTILL_STEP_MAX,
};

/* TVM's IteratorAnnotation values used in AN steps. */
enum {
	DISTILL_AN_UNROLL = 1,
	DISTILL_AN_VECTORIZE = 2,
	DISTILL_AN_PARALLEL = 3,
};

struct distill_step {
	enum distill_step_kind kind;
	int32_t stage;
	int32_t iter;
	int64_t extent; /* SP: loop extent, 0 if the log has null */
	int32_t n_len;	/* SP: lengths; FU: number of fused iterators */
	int64_t len[DISTILL_MAX_LEN];
	int32_t n_order; /* RE */
	int16_t order[DISTILL_MAX_ORDER];
	int32_t annotation; /* AN */
	int64_t unroll;	    /* PR auto_unroll_max_step value, -1 for other pragmas */
};

/* "SP" -> DISTILL_STEP_SP; anything unknown -> DISTILL_STEP_OTHER. */
enum distill_step_kind distill_step_kind_from_name(const char *name);
const char *distill_step_kind_name(enum distill_step_kind k);

/* --- the pipeline's view of one record --------------------------------------------------- */

enum {
	DISTILL_F_SURVIVOR = 1 << 0,  /* kept by the first step */
	DISTILL_F_SAMPLED = 1 << 1,   /* in the alpha sample (measured, trains the classifier) */
	DISTILL_F_PREDICTED = 1 << 2, /* classifier voted edge-friendly */
	DISTILL_F_MEASURED = 1 << 3,  /* has an edge cost */
	DISTILL_F_LABEL = 1 << 4,     /* calibrated score > beta (sampled records only) */
};

struct distill_rec {
	uint32_t task;
	uint32_t flags;
	uint64_t line;	 /* 1-based line number in the log */
	uint64_t offset; /* byte offset of the line, to re-read it */
	uint32_t length; /* bytes, without the newline */
	double cloud;	 /* mean cloud cost (s) */
	double edge;	 /* mean edge cost (s); meaningful only with DISTILL_F_MEASURED */
};

/* Per-task minimum cloud cost; ret_min[n_tasks], INFINITY for a task without records. */
int distill_task_min_cloud(const struct distill_rec *r, size_t n, size_t n_tasks, double *ret_min);

struct distill_first_step {
	double threshold;    /* keep minTime(task)/cost >= threshold (0 < t <= 1) */
	double top_fraction; /* if > 0: instead keep the best ceil(f * count) per task */
};

/* Sets DISTILL_F_SURVIVOR on the kept records (clears it on the others). At least the best
 * record of each task always survives. */
int distill_first_step(struct distill_rec *r, size_t n, size_t n_tasks,
		       const struct distill_first_step *cfg, size_t *ret_kept);

/* Deterministic generator (splitmix64); the caller owns the state, so no globals. */
struct distill_rng {
	uint64_t s;
};
uint64_t distill_rng_next(struct distill_rng *g);
/* Uniform in [0, n). */
uint64_t distill_rng_below(struct distill_rng *g, uint64_t n);
double distill_rng_unit(struct distill_rng *g);

/* Alpha sampling, stratified across tasks: per task round(alpha * survivors), at least
 * min_per_task (capped by the survivors). Sets DISTILL_F_SAMPLED. */
int distill_sample(struct distill_rec *r, size_t n, size_t n_tasks, double alpha,
		   size_t min_per_task, struct distill_rng *g, size_t *ret_sampled);

/* The paper's "excellent" record: normalized score (eq. 2) >= 0.9. */
#define DISTILL_EXCELLENT 0.9

/* Eq. 2: normalized score minTime(task) / time, in (0, 1] for time >= min. */
double distill_norm(double min_time, double time);
/* Eq. 3: calibrated score = edge_norm / cloud_norm. -EINVAL on non-positive inputs. */
int distill_score(double cloud, double cloud_min, double edge, double edge_min, double *ret);

/* Labels and weights over n scores: label = score > beta, weight = |score - beta|. */
void distill_label(const double *score, size_t n, double beta, float *ret_label, float *ret_weight);

/* Majority vote over one record's feature rows: edge-friendly when more than half of the
 * rows have p > 0.5; a tie goes to the mean probability. ret_mean may be NULL. */
bool distill_vote(const float *prob, size_t n_rows, float *ret_mean);

/* --- features ------------------------------------------------------------------------------ */

/* Feature columns of one row. A record yields one row per stage that has split steps (at most
 * DISTILL_MAX_ROWS), record-level columns repeated; see docs/DISTILL.md. */
enum {
	DISTILL_FEAT_N_STEPS,
	DISTILL_FEAT_N_SP,
	DISTILL_FEAT_N_RE,
	DISTILL_FEAT_N_FU,
	DISTILL_FEAT_N_AN,
	DISTILL_FEAT_N_LOCATION, /* CA + CI + CR */
	DISTILL_FEAT_N_CACHE,	 /* CHR + CHW + RF */
	DISTILL_FEAT_UNROLL,	 /* log2(1 + max auto_unroll_max_step) */
	DISTILL_FEAT_PARALLEL,	 /* log2(1 + parallel extent) */
	DISTILL_FEAT_VECTORIZE,	 /* log2(1 + vectorize extent) */
	DISTILL_FEAT_WORK,	 /* log2(1 + product of the workload shape) */
	DISTILL_FEAT_N_SHAPE,
	DISTILL_FEAT_INNER_PROD, /* stage: log2 product of innermost tiles */
	DISTILL_FEAT_INNER_MAX,	 /* stage: log2 largest innermost tile */
	DISTILL_FEAT_TILE,	 /* stage: log2 tile volume below the outermost loops */
	DISTILL_FEAT_OUTER,	 /* stage: log2 product of outermost extents */
	DISTILL_FEAT_LEVELS,	 /* stage: deepest tiling (lengths + 1) */
	DISTILL_FEAT_ORDER_SIG,	 /* stage: order of the split axes' outer loops, in [0, 1] */
	DISTILL_FEAT_INVERSIONS, /* stage: fraction of inverted pairs in the reorder */
	DISTILL_FEAT_STAGE_SP,	 /* stage: split steps on it */
	DISTILL_FEAT_FOOTPRINT,	 /* stage: log2 sum of pairwise products of the axis tiles (the
				  * elements a tile of a 2-operand contraction touches) */
	DISTILL_N_FEATURES,
};
#define DISTILL_MAX_ROWS 4

/* Fills rows[DISTILL_MAX_ROWS][DISTILL_N_FEATURES]; returns the row count (>= 1). */
size_t distill_features(const struct distill_step *steps, size_t n_steps, const int64_t *shape,
			size_t n_shape, float rows[][DISTILL_N_FEATURES]);
const char *distill_feature_name(size_t col);

/* Axis split information of the stage with the most split steps: extents, inner tile (product of
 * lengths), innermost length, and the order in which the axes' outermost loops appear in the
 * stage's reorder (identity if none). Used by the reference measurer and the synthetic model. */
#define DISTILL_NEST_AXES 3
struct distill_nest {
	size_t n_axes;
	int64_t extent[DISTILL_NEST_AXES];
	int64_t tile[DISTILL_NEST_AXES];
	int64_t inner[DISTILL_NEST_AXES];
	int order[DISTILL_NEST_AXES]; /* outer loop nesting, outermost first */
	int64_t unroll;
	int64_t parallel;  /* parallel extent (outer tiles of the annotated stage) */
	int64_t vectorize; /* innermost length under a vectorize annotation, 1 if none */
};
int distill_nest(const struct distill_step *steps, size_t n_steps, struct distill_nest *ret);

/* --- Trimmer survey tuning (trimmer-autotuning.txt eq. 2/3) -------------------------------- */

/* x_t = w2 * delta_latency / delta_time; w2 = -1 when both deltas are negative, else 1.
 * -EINVAL when delta_time is 0 or not finite. */
int distill_survey_x(double delta_latency, double delta_time, double *ret_x);
/* stop = w1 * (x_t + x_prev) / x_prev <= phi; w1 = -1 when both x are positive (slower) or
 * x_t is faster (< 0) after a slower x_prev, else 1. x_prev == 0 has no ratio: stop unless
 * x_t < 0 (an epoch without improvement followed by another without improvement stops). */
bool distill_survey_stop(double x_prev, double x_t, double phi);
#define DISTILL_PHI_DEFAULT (-0.25)

/* --- synthetic cloud/edge cost model (for --synthesize and benchmarks) --------------------- */

struct distill_device {
	double cache_bytes; /* the cache level the tile should fit */
	double cores;
	double vector; /* lanes */
	double gflops; /* per core peak */
	uint64_t noise_seed;
	double noise; /* relative noise amplitude (deterministic per record) */
	/* Model families (distill_family); 0 keeps the v1 model's behaviour. */
	double l2_bytes;    /* a second cache level past cache_bytes, 0 = none */
	double regs;	    /* floats of the register file for the micro-kernel, 0 = not modelled */
	double mem_penalty; /* bandwidth loss per doubling past a cache (v1: 3) */
	int unroll_kind;    /* 0: v1 unroll effect; 1: small i-cache, deep unrolling hurts */
};
/* A pair of synthetic devices that differ in kind: cache levels and sizes, cores, SIMD width,
 * register pressure, unroll response, noise. Family 0 is the v1 model (distill_device_cloud and
 * _edge). -ENOENT past the last family. docs/DISTILL.md lists them and which ones are held out. */
struct distill_family {
	const char *name;
	struct distill_device cloud, edge;
};
#define DISTILL_N_FAMILIES 6
int distill_family(unsigned id, struct distill_family *ret);
/* The cloud and edge devices of the synthetic model (docs/DISTILL.md). */
void distill_device_cloud(struct distill_device *ret);
void distill_device_edge(struct distill_device *ret);
/* Cost in seconds of a record on a device: a deterministic function of the steps and shape. */
int distill_model_cost(const struct distill_device *d, const struct distill_step *steps,
		       size_t n_steps, const int64_t *shape, size_t n_shape, double *ret);
