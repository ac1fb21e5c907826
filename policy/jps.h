/* jps.h — joint DNN partition and offloading-pipeline scheduling (JPS, ALGORITHMS.md §2).
 * Pure: layer profiles in, cut points, processing orders and exact makespans out. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Marks "the model input" in jps_layer.inputs. */
#define JPS_INPUT UINT32_MAX
/* Above this many layers a profile is rejected (bitsets, O(V^2) closure). */
#define JPS_MAX_LAYERS 4096u

/* ---- profiles ------------------------------------------------------------------- */

struct jps_layer {
	char *name;
	double compute_ms;  /* local compute time of this layer alone */
	uint64_t out_bytes; /* size of its output tensor (what is uploaded if cut here) */
	uint32_t n_inputs;
	uint32_t *inputs; /* layer indices or JPS_INPUT */
};

struct jps_model {
	char *name;
	char *source; /* "measured", "flop-estimate", ... (free text, shown by `plan`) */
	uint64_t input_bytes;
	size_t n_layers;
	struct jps_layer *layers;
};

/* Builder: jps_model_new() then jps_model_add_layer() in any order of edges; inputs are
 * indices of layers already added or not yet added (validated later). */
int jps_model_new(const char *name, const char *source, uint64_t input_bytes,
		  struct jps_model **ret);
int jps_model_add_layer(struct jps_model *m, const char *name, double compute_ms,
			uint64_t out_bytes, const uint32_t *inputs, uint32_t n_inputs,
			uint32_t *ret_index);
void jps_model_free(struct jps_model *m);
int jps_model_find_layer(const struct jps_model *m, const char *name, uint32_t *ret_index);

/* Checks times (finite, >= 0), input indices, duplicate names and cycles.
 * -EINVAL bad value/index, -EEXIST duplicate name, -ELOOP cycle; *ret_bad_layer names
 * the offending layer (written on error only). */
int jps_model_validate(const struct jps_model *m, uint32_t *ret_bad_layer);
double jps_model_total_ms(const struct jps_model *m);

/* ---- bandwidth model g = w0 + bytes / b ----------------------------------------- */

struct jps_link {
	double w0_ms;	     /* round trip charged per upload */
	double bytes_per_ms; /* shaped upload rate */
};
/* bytes_per_sec > 0; rtt_ms >= 0. */
int jps_link_init(struct jps_link *l, uint64_t bytes_per_sec, double rtt_ms);
double jps_upload_ms(const struct jps_link *l, uint64_t bytes);

/* ---- Alg. 1: two-stage flow shop ------------------------------------------------ */

struct jps_job {
	double f; /* compute stage, ms */
	double g; /* upload stage, ms (0 for local only) */
};

/* Johnson comparator (<0: a goes first): comm-heavy (f < g) before comp-heavy; among
 * comm-heavy smaller f first; among comp-heavy larger g first. Ties keep index order. */
int jps_johnson_cmp(const struct jps_job *a, const struct jps_job *b);
/* ret_order[0..n) = job indices in Johnson order (stable). */
int jps_johnson_order(const struct jps_job *jobs, size_t n, size_t *ret_order);
/* Exact makespan of running jobs in the given order (order NULL = index order): compute
 * stages back to back, upload j starts at max(compute end j, upload end j-1). */
double jps_makespan(const struct jps_job *jobs, const size_t *order, size_t n);

/* ---- cut chains (Alg. 2/3) ------------------------------------------------------ */

enum { JPS_CUT_CLOUD = -1, JPS_CUT_LOCAL = -2 };

struct jps_cut {
	double f;	  /* local compute of everything kept local */
	double g;	  /* upload time of the frontier tensors (0 if nothing is uploaded) */
	int32_t layer;	  /* local set = this layer and all its ancestors; or JPS_CUT_* */
	uint64_t bytes;	  /* bytes uploaded */
	uint32_t n_local; /* layers computed locally */
};

/* The candidate cuts of a model, ascending f (ties: descending g). Element 0 is cloud
 * only (upload the input), the last element is local only. */
struct jps_chain {
	size_t n;
	struct jps_cut *cuts;
};

/* Alg. 3's conversion: every source-to-sink path cut after layer v keeps v and its
 * ancestors local (duplicated nodes run once); the frontier is what is uploaded. For a
 * chain this is exactly the k + 1 cut points 0..k. Model must validate. */
int jps_chain_from_model(const struct jps_model *m, const struct jps_link *link,
			 struct jps_chain *ret);
void jps_chain_done(struct jps_chain *c);
/* Build a chain from raw f/g arrays (tests, benchmarks); layer = index. */
int jps_chain_from_arrays(const double *f, const double *g, size_t n, struct jps_chain *ret);

/* Alg. 2 exactly as the paper: binary search l in [1, n-1] for the left-most
 * f(l) >= g(l); candidates lo = l - 1, hi = l, ratio = floor((f(l) - g(l)) /
 * (g(l-1) - f(l-1))) jobs at lo per job at hi. Guards: a single point -> lo = hi = 0;
 * f < g everywhere -> lo = hi = last; f(l) == g(l) or a non-positive denominator ->
 * ratio 0 (all at hi); an infinite ratio is capped at JPS_RATIO_MAX. */
#define JPS_RATIO_MAX 1000000u
struct jps_bsearch {
	size_t lo, hi;
	uint32_t ratio;
};
int jps_alg2(const struct jps_chain *c, struct jps_bsearch *ret);
/* How the ratio splits n jobs: n_lo = floor(n * ratio / (ratio + 1)). */
size_t jps_ratio_split(uint32_t ratio, size_t n);

/* A homogeneous plan: n jobs, counts per cut, processing order, exact makespan. */
struct jps_plan {
	size_t n_jobs;
	size_t *order;	 /* cut index of the i-th job processed (Johnson order) */
	double makespan; /* ms */
	/* what produced it */
	struct jps_bsearch alg2;
	double paper_makespan; /* Alg. 2 ratio split, Johnson order */
	const char *method;    /* which search found it: "alg2-ratio", "alg2-mix", "uniform",
				* "pair-mix", "exact" (static string) */
};
void jps_plan_done(struct jps_plan *p);

/* Mix makespan in O(1): n_a jobs at cut a and n_b at cut b, Johnson order. */
double jps_mix_makespan(const struct jps_cut *a, size_t n_a, const struct jps_cut *b, size_t n_b);

/* JPS for n identical jobs: Alg. 2, then every mix of its two candidates and every
 * uniform cut evaluated exactly, (while cuts^2 x jobs <= JPS_PAIR_BUDGET) every mix of
 * any two cuts, and (while multisets x cuts <= JPS_EXACT_BUDGET) every multiset of cuts
 * in Johnson order — exact. The best wins: never worse than the paper's ratio. */
#define JPS_PAIR_BUDGET	 5e7
#define JPS_EXACT_BUDGET 2e6
int jps_plan_homogeneous(const struct jps_chain *c, size_t n_jobs, struct jps_plan *ret);
/* Same with explicit budgets (0, 0: the paper's two candidates + uniform cuts only). */
int jps_plan_homogeneous_ex(const struct jps_chain *c, size_t n_jobs, double pair_budget,
			    double exact_budget, struct jps_plan *ret);

/* Baselines (makespans in ms). PO cuts every job at the single-job optimum
 * argmin f + g (Neurosurgeon) and runs them in the same pipeline. */
double jps_local_only(const struct jps_chain *c, size_t n_jobs);
double jps_cloud_only(const struct jps_chain *c, size_t n_jobs);
double jps_partition_only(const struct jps_chain *c, size_t n_jobs, size_t *ret_cut);

/* The named plans of the experiment and the reference workload: "lo" local only, "co" cloud
 * only, "po" partition only (one best cut for every job), "jps" (jps_plan_homogeneous). */
bool jps_plan_name_valid(const char *plan);
/* Writes each of n_jobs jobs' cut layer, in run order, for the named plan over c, and its
 * predicted makespan. -EINVAL for an unknown plan, -errno from the planner. */
int jps_plan_cuts(const struct jps_chain *c, const char *plan, size_t n_jobs, int32_t *cuts,
		  double *ret_makespan);

/* Brute force: every multiset of cuts for n jobs x every order (n <= 8; refuses more
 * than max_evals evaluations with -E2BIG). */
int jps_brute_force(const struct jps_chain *c, size_t n_jobs, uint64_t max_evals,
		    double *ret_makespan);
/* Best order of arbitrary two-stage jobs over all n! permutations (n <= 10). */
int jps_brute_force_order(const struct jps_job *jobs, size_t n, double *ret_makespan);

/* ---- layer level: Alg. 4 (DAG) and Alg. 5 (tree) -------------------------------- */

/* A local graph: nodes with (f, g) and edges parent -> child (precedence). */
struct jps_graph {
	size_t n;
	struct jps_job *w;
	size_t n_edges;
	uint32_t (*edges)[2];
};

/* Alg. 4: repeatedly Johnson-sort the nodes without outgoing edges and prepend them.
 * ret_order[0..n) is a topological order. -ELOOP on a cycle. */
int jps_alg4(const struct jps_graph *gr, size_t *ret_order);
/* Alg. 5 for an out-forest (every node has <= 1 parent; -EINVAL otherwise): merge the
 * children's lists by the Johnson comparator, fold the parent into the first group.
 * ret_order[0..n) is the node order; ret_group (optional, n entries) the group index of
 * each position; *ret_n_groups their count. Optimal for trees (Theorem 4). */
int jps_alg5(const struct jps_graph *gr, size_t *ret_order, size_t *ret_group,
	     size_t *ret_n_groups);
/* Makespan of a topological node order (each node: compute f, then upload g if g > 0). */
double jps_graph_makespan(const struct jps_graph *gr, const size_t *order);
/* Minimum over all topological orders (n <= 10). */
int jps_graph_brute_force(const struct jps_graph *gr, double *ret_makespan);

/* ---- heterogeneous models (several profiles) ------------------------------------ */

struct jps_hetero_job {
	uint32_t model; /* index into the models passed */
	size_t cut;	/* index into that model's chain */
};
struct jps_hetero_plan {
	size_t n_jobs;
	struct jps_hetero_job *jobs;
	size_t n_nodes;
	size_t *order;		   /* graph node order */
	uint32_t *node_job;	   /* graph node -> job index */
	int32_t *node_layer;	   /* graph node -> layer index of its model */
	bool tree;		   /* Alg. 5 was used (else Alg. 4) */
	double makespan;	   /* layer-level, exact */
	double job_level_makespan; /* Johnson over whole jobs, same cuts */
};
/* n_jobs[i] jobs of model i: each model is cut by jps_plan_homogeneous on its own
 * chain; the union of the local graphs (dummy root) is scheduled layer by layer with
 * Alg. 5 if it is a forest, else Alg. 4. */
int jps_plan_hetero(const struct jps_model *const *models, const struct jps_chain *chains,
		    const size_t *n_jobs, size_t n_models, struct jps_hetero_plan *ret);
void jps_hetero_plan_done(struct jps_hetero_plan *p);

/* ---- built-in profiles (jps_models.c) ------------------------------------------- */

/* "alexnet", "mobilenet-v2", "googlenet", "resnet-18": exact float32 output sizes for a
 * 3x224x224 input, compute times from the FLOP estimate at gflops (0 = default). */
#define JPS_EST_GFLOPS 4.0
int jps_builtin_model(const char *name, double gflops, struct jps_model **ret);
/* NULL-terminated list of names. */
const char *const *jps_builtin_names(void);
