/* sim.h — discrete-time simulator that runs one placement policy on a workload under
 * documented physics (docs/SIMULATOR.md). Pure: no I/O, no clocks; results in memory. */
#pragma once

#include <stdint.h>

#include "policy.h"

enum sim_dist {
	SIM_DIST_FIXED,	  /* exactly mean_s */
	SIM_DIST_UNIFORM, /* mean_s * (1 +- spread) */
	SIM_DIST_EXP,	  /* exponential with mean mean_s */
	SIM_DIST_NORMAL,  /* mean_s * (1 + spread * N(0,1)), truncated at 0.05 * mean_s */
	_SIM_DIST_MAX,
};

struct sim_duration {
	enum sim_dist kind;
	double mean_s; /* duration on an unloaded device, > 0 */
	double spread; /* uniform: half-width fraction in [0,1); normal: coefficient of variation */
};

/* How measured usage differs from demand over an instance's life. CPU: the cgroup caps it
 * at demand.cpu; the task uses a fraction u of the cap, redrawn uniformly in
 * [cpu_lo, cpu_hi] every cpu_period_s of its run. Memory: starts at mem_start * demand.mem
 * and ramps linearly to mem_peak * demand.mem over mem_ramp * its duration. */
struct sim_profile {
	double cpu_lo, cpu_hi;	    /* 0 < lo <= hi <= 1 */
	double cpu_period_s;	    /* > 0 */
	double mem_start, mem_peak; /* 0 <= start <= peak <= 1 (memory.max = demand) */
	double mem_ramp;	    /* fraction of the duration, >= 0 */
};

enum sim_arrival_kind { SIM_ARRIVE_AT_ZERO, SIM_ARRIVE_POISSON, SIM_ARRIVE_LIST, _SIM_ARRIVE_MAX };

struct sim_queue {
	char *name;
	struct policy_res demand;
	double weight;
	struct sim_duration duration;
	struct sim_profile profile;
	enum sim_arrival_kind arrival;
	uint32_t count; /* instances (AT_ZERO, POISSON); for LIST it equals n_times */
	double rate;	/* POISSON: arrivals per second */
	double *times;	/* LIST: arrival times in seconds, >= 0 */
	uint32_t n_times;
};

/* Load on a device that the policies did not place (a k3s pod, a service): it competes for
 * the CPU (processor sharing) and holds memory (OOM). RD-DRF sees it in the measured free
 * capacity; the classic policies do not. */
enum sim_bg_kind { SIM_BG_NONE, SIM_BG_CONSTANT, SIM_BG_PERIODIC, SIM_BG_TRACE, _SIM_BG_MAX };
struct sim_background {
	enum sim_bg_kind kind;
	double cpu;	   /* cores while on (constant, periodic) */
	double mem;	   /* bytes, all the time */
	double period_s;   /* periodic: on for duty * period_s of every period_s */
	double duty;	   /* (0, 1] */
	double *trace_t;   /* trace: cpu trace_cpu[k] from trace_t[k] (ascending) ... */
	double *trace_cpu; /* ... to the next point; 0 before the first */
	uint32_t n_trace;
};
/* The background CPU of b at time t. */
double sim_background_cpu(const struct sim_background *b, double t);

struct sim_workload {
	char *name;
	struct policy_res *devices; /* totals */
	uint32_t n_devices;
	struct sim_background *background; /* per device; NULL: none anywhere */
	struct sim_queue *queues;
	uint32_t n_queues;
	double dt_s;	  /* physics step; default 0.002 */
	double tick_s;	  /* measurement period (samples, device free); default 0.1 */
	double horizon_s; /* give up (-ETIME) past this simulated time; default 1e5 */
};

void sim_workload_free(struct sim_workload *w);
/* The paper's workload (Table II/III): 4 Pi 4B, 400 instances of each of 4 models at t=0. */
int sim_workload_paper(struct sim_workload **ret);

/* A random workload (sim_random.c): n_queues queues with demands of 1/4 to all of a
 * device's cores and 8-75 % of its memory, exponential or uniform durations of 1-12 s, CPU
 * use redrawn within random bounds, memory ramping from 5-50 % to 60-100 % of the demand,
 * Poisson arrivals whose offered CPU is `load` of the node. NULL params: 3 devices of
 * 2 cores and 2 GiB, 6 queues of 60 instances, load 0.9. Same seed, same workload. */
struct sim_random_params {
	uint32_t n_devices;
	double device_cores, device_mem_mb;
	uint32_t n_queues, per_queue;
	double load;
};
int sim_workload_random(uint64_t seed, const struct sim_random_params *p,
			struct sim_workload **ret);

struct sim_queue_result {
	uint32_t submitted, completed, rejected;
	double avg_wait_s;
	double last_completion_s;
};

struct sim_result {
	enum policy_kind policy;
	double avg_wait_s, p95_wait_s, makespan_s;
	double avg_response_s; /* arrival to completion: what one inference takes, wait included */
	double cpu_util, mem_util; /* used / capacity over [0, makespan] */
	uint32_t failed;	   /* OOM kills (each re-queued) */
	uint32_t completed, rejected;
	uint32_t n_queues;
	struct sim_queue_result *per_queue;
	/* Running instances per queue sampled every tick_s: running[k * n_queues + j]. */
	uint32_t n_samples;
	double sample_period_s;
	uint16_t *running;
	/* Invariant checks the simulator made (tests assert them): the largest sum of
	 * policy-granted demands over a device's total, seen at any step, for drf/rr/random. */
	double max_alloc_over;
	double max_mem_used_frac; /* physical memory use / total, never above 1 after OOM */
	double max_slowdown;	  /* largest (completion - start) / duration: > 1 only under CPU
				     contention */
	double oversub_s; /* device-seconds with tasks + background wanting more CPU than exists */
};

void sim_result_done(struct sim_result *r);

/* Runs the policy in params on w. Every instance completes, or is rejected at submit
 * (-E2BIG from the policy); OOM-killed runs are counted in failed and re-queued.
 * Returns -ETIME if the horizon passes first, -EINVAL for an invalid workload. */
int sim_run(const struct sim_workload *w, const struct policy_params *params, uint64_t seed,
	    struct sim_result *ret);

/* Validates a workload (ranges above); on error, *ret_field names the offending field. */
int sim_workload_check(const struct sim_workload *w, const char **ret_field);
