/* policy.h — placement policies (RD-DRF and its baselines) over devices and queues.
 * Pure: no I/O, no globals, no clocks; the caller passes time and measurements in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A resource vector: CPU in cores (fractional), memory in bytes. */
struct policy_res {
	double cpu;
	double mem;
};

enum policy_kind {
	POLICY_RDDRF,	  /* live-measured DRF, per-device fit, most-idle device */
	POLICY_DRF,	  /* classic DRF on allocations, first fitting device */
	POLICY_DRF_PAPER, /* DRF with late release reconciliation and pooled fit */
	POLICY_RR,	  /* round robin over queues and devices */
	POLICY_RANDOM,	  /* random queue, random fitting device */
	_POLICY_KIND_MAX,
};

/* "rddrf", "drf", "drf-paper", "rr", "random". */
int policy_kind_from_name(const char *name, enum policy_kind *ret);
const char *policy_kind_name(enum policy_kind k);

struct policy_params {
	enum policy_kind kind;
	uint64_t seed;		       /* for POLICY_RANDOM */
	double reconcile_period_s;     /* POLICY_DRF_PAPER; default 10 */
	bool no_inflight_compensation; /* POLICY_RDDRF ablation for the simulator: unsampled
					* placements count as zero (never set this in production) */
	bool memory_on_measured;       /* POLICY_RDDRF as the paper has it: memory fits on
					* measured use alone, so a task whose memory is still
					* ramping lets others in and the kernel OOM-kills; default:
					* CPU on measured use, memory also within total - demands */
	bool no_device_index;	       /* POLICY_RDDRF baseline for benches: scan every device on
					* each decision instead of the device index (same result) */
};

struct policy;

int policy_new(const struct policy_params *params, struct policy **ret);
void policy_free(struct policy *p);

/* Devices. Ids are the caller's (index into its device set; stable). */
int policy_add_device(struct policy *p, uint32_t dev_id, struct policy_res total);
/* A dead device takes no placements and does not count in the pooled capacity. */
int policy_set_device_live(struct policy *p, uint32_t dev_id, bool live);
/* Live free capacity R_i as measured (total minus measured use). The policy subtracts
 * the demands of instances placed on the device that have no sample yet. */
int policy_set_device_free(struct policy *p, uint32_t dev_id, struct policy_res measured_free);

/* Queues (one per model/tenant). weight > 0 (default 1). */
int policy_add_queue(struct policy *p, const char *name, struct policy_res demand, double weight,
		     uint32_t *ret_queue_id);
int policy_find_queue(const struct policy *p, const char *name, uint32_t *ret_queue_id);

/* Instances. -E2BIG if the queue's demand exceeds every device's total capacity
 * (rejected at submit, never queued forever). Instance ids are the caller's, unique. */
int policy_enqueue(struct policy *p, uint32_t queue_id, uint64_t inst_id, double arrival_s);
/* Removes a waiting instance; -ENOENT if it is not waiting. */
int policy_cancel(struct policy *p, uint64_t inst_id);
/* A running instance's measured usage; the first sample ends its in-flight compensation. */
int policy_sample(struct policy *p, uint64_t inst_id, struct policy_res usage);
/* A running instance exited (or was released); its resources return to the device. */
int policy_release(struct policy *p, uint64_t inst_id, double now_s);

struct policy_placement {
	uint64_t inst_id;
	uint32_t queue_id;
	uint32_t dev_id;
};

/* One placement decision at time now_s. Returns 0 and fills ret, or -EAGAIN when no
 * waiting head fits anywhere. Call repeatedly until -EAGAIN (step 6 of the loop). */
int policy_next(struct policy *p, double now_s, struct policy_placement *ret);

/* Read-only views for status and tests. */
struct policy_queue_info {
	const char *name;
	struct policy_res demand;
	double weight;
	struct policy_res usage; /* U_j as the policy sees it (measured + in flight) */
	double dominant_share;	 /* s_j */
	uint32_t waiting, running;
	bool has_head;	  /* waiting > 0 */
	uint64_t head_id; /* the instance this queue places next (FIFO head) */
};
int policy_queue_info(const struct policy *p, uint32_t queue_id, struct policy_queue_info *ret);

/* The strict total order of step 3 (exposed so it can be tested and reused): lower
 * share first, then fewer running, then earlier head arrival, then name. <0, 0, >0. */
struct policy_queue_key {
	double share;
	uint32_t running;
	double head_arrival;
	const char *name;
};
int policy_queue_cmp(const struct policy_queue_key *a, const struct policy_queue_key *b);
size_t policy_n_queues(const struct policy *p);

struct policy_device_info {
	struct policy_res total, free; /* free = R_i as the policy sees it */
	uint32_t running;
	bool live;
};
int policy_device_info(const struct policy *p, uint32_t dev_id, struct policy_device_info *ret);

/* Demand from profiling (eq. 4): Efficiency(c) = T(1) / (T(c) * c), c = 1..n.
 * The literal rule picks the highest efficiency (ties: fewer cores); the knee rule picks
 * the largest c with Efficiency(c) >= eta. t_ms[c-1] is the time on c cores. */
enum policy_eff_rule { POLICY_EFF_LITERAL, POLICY_EFF_KNEE };
int policy_efficiency(const double *t_ms, size_t n, double *ret_eff);
int policy_pick_cores(const double *t_ms, size_t n, enum policy_eff_rule rule, double eta,
		      unsigned *ret_cores);
