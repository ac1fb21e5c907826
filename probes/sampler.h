/* sampler.h — turns probe counters into what RD-DRF consumes: per-task usage U (cores,
 * bytes) and per-node free capacity R, smoothed, timestamped, marked stale. Prefix sampler_.
 * The daemon calls sampler_tick() once per tick and reads the results (docs/PROBES.md). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "policy.h"
#include "probes.h"

struct sampler_params {
	const char *proc_root; /* procfs root; default "/proc" */
	double alpha; /* EWMA weight of the newest interval, (0,1]; 1 = unsmoothed; default 0.5 */
	double stale_after_s; /* a reading older than this is stale; default 3.0 */
	double slow_period_s; /* memory.stat/events and PSI are read at most this often; default 2.0
			       * (the kernel's PSI averaging period); 0 = every tick */
	bool use_bpf; /* load the eBPF scheduler probe (default true); -EOPNOTSUPP tolerated */
	bool bpf_account_all; /* probe every cgroup, not only the added ones (benchmarks) */
	const char *btf_path; /* the kernel's BTF; NULL = /sys/kernel/btf/vmlinux */
};
void sampler_params_init(struct sampler_params *p);

struct sampler;
/* Opens the node files. With use_bpf, a probe that cannot load is not an error: see
 * sampler_bpf_error(). */
int sampler_new(const struct sampler_params *p, struct sampler **ret);
void sampler_free(struct sampler *s);
/* 0 if the eBPF probe runs; else why not (-EOPNOTSUPP: no BTF/BPF; -EPERM: no privilege),
 * so the daemon can say it once and carry on with cgroup files alone. */
int sampler_bpf_error(const struct sampler *s);

/* Starts sampling one task's cgroup (cg relative to dirfd, "." = dirfd itself). id is the
 * caller's (the daemon's instance id). -EEXIST for a known id. */
int sampler_add_task(struct sampler *s, uint64_t id, int dirfd, const char *cg);
int sampler_remove_task(struct sampler *s, uint64_t id);
size_t sampler_n_tasks(const struct sampler *s);

/* Reads the node and every task once; now_usec is the caller's monotonic clock
 * (now_usec() in util.h). A task whose read fails keeps its last values and becomes stale
 * once they are older than stale_after_s; a removed cgroup is marked gone. Returns an
 * error only if the node files cannot be read. */
int sampler_tick(struct sampler *s, uint64_t now_usec);
/* The same round in slices, so that a caller's event loop can serve other events between
 * them: reads the tasks from *cursor on, at most max of them (*cursor = 0 starts a round),
 * and returns 1 while tasks are left; the call that reads the last ones also reads the node
 * and returns as sampler_tick() does. Tasks added or removed between slices are read in this
 * round or the next. */
int sampler_tick_slice(struct sampler *s, size_t *cursor, size_t max, uint64_t now_usec);

struct sampler_task {
	uint64_t id;
	uint64_t cgroup_id;
	uint64_t at_usec; /* time of the last good read */
	bool valid;	  /* two good reads so far: rates exist */
	bool stale;
	bool gone;	     /* the cgroup disappeared */
	unsigned have;	     /* PROBE_HAVE_* of the last good read */
	double cores;	     /* EWMA of cpu.stat usage rate: cores used */
	double cores_last;   /* the last interval alone */
	uint64_t usage_usec; /* cpu.stat usage_usec as last read (a counter) */
	uint64_t mem_bytes,
	    mem_peak_bytes;    /* memory.current / memory.peak (have & PROBE_HAVE_MEM) */
	double throttled_frac; /* EWMA share of wall time throttled by cpu.max (have & THROTTLE) */
	uint64_t throttled_usec, nr_throttled; /* totals */
	struct probe_mem_events mem_events;
	struct probe_mem_stat mem_stat;
	struct probe_psi psi_cpu, psi_mem, psi_io; /* have & PROBE_HAVE_PSI_* */
	/* eBPF (have_bpf): */
	bool have_bpf;
	double bpf_cores;	     /* EWMA of on-CPU time rate */
	double ctx_switches_per_s;   /* EWMA */
	double rq_p50_ns, rq_p99_ns; /* of the decayed run-queue latency histogram; 0 when empty */
	double rq_mean_ns;
	struct probe_bpf_cg bpf; /* cumulative counters */
};
int sampler_task_get(const struct sampler *s, uint64_t id, struct sampler_task *ret);
/* The i-th task (0 <= i < sampler_n_tasks), for listing. */
int sampler_task_at(const struct sampler *s, size_t i, struct sampler_task *ret);

struct sampler_node {
	uint64_t at_usec;
	bool valid; /* two good reads: cores_busy exists */
	bool stale;
	unsigned ncpus;
	double cores_busy; /* EWMA of /proc/stat busy share * ncpus */
	uint64_t mem_total, mem_available;
	unsigned have; /* PROBE_HAVE_PSI_* */
	struct probe_psi psi_cpu, psi_mem, psi_io;
};
int sampler_node_get(const struct sampler *s, struct sampler_node *ret);

/* RD-DRF inputs. -ENODATA while there is no valid, fresh sample (the policy then keeps
 * charging the placement's demand); -ENOENT for an unknown id. The memory of a task
 * without a memory controller (host hybrid mode) is reported as 0 bytes. */
int sampler_task_usage(const struct sampler *s, uint64_t id, struct policy_res *ret);
int sampler_node_free(const struct sampler *s, struct policy_res *ret);

/* JSON for `edgeslice status` / `edgeslice probe --json` (schema in docs/PROBES.md).
 * Sections the node cannot measure are left out rather than reported as zeros. */
struct json_object;
int sampler_task_json(const struct sampler_task *t, struct json_object **ret);
int sampler_node_json(const struct sampler_node *n, struct json_object **ret);

/* Pure helpers, exposed for tests. */
double sampler_ewma(double prev, double x, double alpha, bool first);
