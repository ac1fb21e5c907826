/* mrs.h — DAG applications with model retraining: upward-rank priority (eq. 10), capacity-aware
 * list scheduling (Alg. 1), SRS retraining choice (eq. 11, Alg. 2), MRS online scheduling (Alg. 3).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MRS_NAME_MAX	32
#define MRS_MAX_TASKS	32 /* inference tasks per application */
#define MRS_MAX_NODES	64 /* extended DAG: inference + one retraining node each */
#define MRS_MAX_EDGES	128
#define MRS_MAX_SERVERS 16
#define MRS_MAX_CONFIGS 8
#define MRS_MAX_APPS	8

/* Retraining configuration u_h = (b_h samples in bytes, n_h work, o_h resources) and the accuracy
 * f(u_h, m) it reaches, read off the model's accuracy curve. */
struct mrs_retrain_cfg {
	double samples;	  /* b_h, bytes uploaded from the sample pool */
	double work;	  /* n_h, work units */
	double resources; /* o_h, resource units held while retraining */
	double accuracy;  /* f(u_h, m) in [0,1] */
};

struct mrs_task {
	char name[MRS_NAME_MAX];
	double work;	 /* w, work units */
	double demand;	 /* c, resource units (same unit as server capacity) */
	double data_out; /* bytes sent to each successor */
	/* model state: accuracy right after (re)training and its drift per second */
	double acc0, drift, acc_floor, model_size;
	size_t n_cfg;
	struct mrs_retrain_cfg cfg[MRS_MAX_CONFIGS];
};

struct mrs_edge {
	char from[MRS_NAME_MAX], to[MRS_NAME_MAX];
};

struct mrs_app {
	char name[MRS_NAME_MAX];
	size_t n_tasks, n_edges;
	struct mrs_task task[MRS_MAX_TASKS];
	struct mrs_edge edge[MRS_MAX_EDGES];
};

struct mrs_server {
	char name[MRS_NAME_MAX];
	double capacity; /* C_j */
	double speed;	 /* S_j, work units per second per resource unit */
};

struct mrs_cluster {
	size_t n;
	struct mrs_server s[MRS_MAX_SERVERS];
	double link[MRS_MAX_SERVERS][MRS_MAX_SERVERS]; /* D, bytes/s; diagonal ignored (local) */
	double source_rate; /* bytes/s from the retraining sample pool to any server */
};

/* A resolved, validated DAG (inference nodes first, retraining nodes appended by SRS). */
struct mrs_node {
	double work, demand, data_out;
	double release; /* earliest start relative to the request's arrival (sample upload) */
	int task;	/* index of the inference task (the retrained one for a retraining node) */
	bool retrain;
};

struct mrs_dag {
	size_t n;
	struct mrs_node node[MRS_MAX_NODES];
	uint64_t pred[MRS_MAX_NODES], succ[MRS_MAX_NODES];
};

/* Resolve names and validate: -ENOENT for a dangling edge, -ELOOP for a cycle, -EINVAL for a bad
 * value, -E2BIG when a task fits no server (cluster may be NULL to skip that check). On error
 * *ret_bad (if not NULL) names the offending node. */
int mrs_dag_build(const struct mrs_app *app, const struct mrs_cluster *cl, struct mrs_dag *ret,
		  const char **ret_bad);

/* Eq. (10): phi per node, and the nodes in decreasing phi (ties by topological position). */
int mrs_priority(const struct mrs_cluster *cl, const struct mrs_dag *dag, double ret_phi[],
		 int ret_order[]);

/* Per-server resource usage over time. */
struct mrs_timeline;
int mrs_timeline_new(size_t n_servers, struct mrs_timeline **ret);
void mrs_timeline_free(struct mrs_timeline *tl);
int mrs_timeline_copy(const struct mrs_timeline *tl, struct mrs_timeline **ret);
/* Earliest start >= ready on server j for (duration, demand) keeping sum c <= C_j throughout. */
double mrs_timeline_earliest(const struct mrs_timeline *tl, const struct mrs_cluster *cl, size_t j,
			     double ready, double duration, double demand);
int mrs_timeline_add(struct mrs_timeline *tl, size_t j, double start, double end, double demand);

struct mrs_placement {
	int server;
	double start, finish;
};

/* Alg. 1: list-schedule one request arriving at `arrival` onto tl (reservations are added). */
int mrs_list_schedule(const struct mrs_cluster *cl, const struct mrs_dag *dag, double arrival,
		      struct mrs_timeline *tl, struct mrs_placement ret[]);

/* Eq. (11): DeltaP of retraining task `task` (inference on server j) with configuration cfg, whose
 * current accuracy is acc_now. */
double mrs_delta_p(const struct mrs_cluster *cl, const struct mrs_task *task, size_t j,
		   const struct mrs_retrain_cfg *cfg, double acc_now, double theta);

enum mrs_policy { MRS_POLICY_MRS, MRS_POLICY_PASS, MRS_POLICY_EKYA, _MRS_POLICY_MAX };
const char *mrs_policy_name(enum mrs_policy p);
int mrs_policy_from_name(const char *s, enum mrs_policy *ret);

struct mrs_workload {
	struct mrs_cluster cluster;
	size_t n_apps;
	struct mrs_app app[MRS_MAX_APPS];
	double theta;	    /* 3 by default */
	double a_min;	    /* SRS retrains only to an accuracy >= a_min */
	double pass_period; /* PASS-like: retrain everything every this many seconds */
};

/* One scheduled node, for reports and for replay checks in tests. */
struct mrs_trace_entry {
	size_t req;
	int node; /* index in the request's extended DAG */
	int server;
	bool retrain;
	double start, finish, demand;
	uint64_t pred; /* indices (same request) that must finish first */
};

struct mrs_result {
	size_t n_requests;
	double mean_completion, p95_completion, mean_accuracy, mean_objective;
	size_t retrainings;
	/* optional trace, malloc'ed, owned by the caller (free()) */
	struct mrs_trace_entry *trace;
	size_t n_trace;
};

/* Run `policy` over requests arriving at arrivals[k] (seconds, non-decreasing); request k runs
 * application k % n_apps. want_trace fills ret->trace. */
int mrs_simulate(const struct mrs_workload *wl, enum mrs_policy policy, const double *arrivals,
		 size_t n_req, bool want_trace, struct mrs_result *ret);
