/* sched.bpf.c — per-cgroup on-CPU time, context switches and run-queue latency for the
 * cgroups edgeslice owns, from tp_btf sched_switch / sched_wakeup / sched_wakeup_new. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sched.h"

#define TASK_RUNNING 0

/* Set between __open and __load. account_all ignores the filter (benchmarks, debugging). */
const volatile bool account_all = false;

char LICENSE[] SEC("license") = "GPL";

/* cgroup ids (v2 kernfs ids) user space wants accounted: its subtree's task cgroups. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, u8);
} cg_filter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, u64);
	__type(value, struct probe_cg_counters);
} cg_stats SEC(".maps");

/* When this CPU last switched: the outgoing task has been on it since then. A per-CPU
 * slot instead of a per-task start time avoids a task-storage lookup for prev. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} last_switch SEC(".maps");

/* Enqueue timestamp of a runnable task waiting for a CPU (0 = not waiting). */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, u64);
} enq_ts SEC(".maps");

/* Hybrid hierarchies: the unified (v2) cgroup of a task is always dfl_cgrp. */
static __always_inline u64 task_cgid(struct task_struct *t)
{
	return BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
}

static __always_inline bool wanted(u64 cgid)
{
	return account_all || bpf_map_lookup_elem(&cg_filter, &cgid);
}

static __always_inline struct probe_cg_counters *counters(u64 cgid)
{
	static const struct probe_cg_counters zero;
	struct probe_cg_counters *c = bpf_map_lookup_elem(&cg_stats, &cgid);

	if (c)
		return c;
	bpf_map_update_elem(&cg_stats, &cgid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&cg_stats, &cgid);
}

/* __state replaced state in 5.14; CO-RE picks whichever the running kernel has. */
struct task_struct___old {
	long state;
} __attribute__((preserve_access_index));

static __always_inline long task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return BPF_CORE_READ(t, __state);
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline u32 log2_u64(u64 v)
{
	u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xFFFF) << 4; v >>= shift; r |= shift;
	shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
	shift = (v > 0xF) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void mark_enqueued(struct task_struct *p, u64 now)
{
	u64 *ts;

	if (!wanted(task_cgid(p)))
		return;
	ts = bpf_task_storage_get(&enq_ts, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (ts)
		*ts = now;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(es_sched_wakeup, struct task_struct *p)
{
	mark_enqueued(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(es_sched_wakeup_new, struct task_struct *p)
{
	mark_enqueued(p, bpf_ktime_get_ns());
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(es_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	u64 now = bpf_ktime_get_ns(), since = 0, cgid;
	struct probe_cg_counters *c;
	u32 zero = 0;
	u64 *last, *ts;

	last = bpf_map_lookup_elem(&last_switch, &zero);
	if (last) {
		since = *last;
		*last = now;
	}

	/* Outgoing task: its own cgroup is charged for the time since the last switch. */
	cgid = task_cgid(prev);
	if (wanted(cgid)) {
		bool runnable = task_state(prev) == TASK_RUNNING;
		c = counters(cgid);
		if (c) {
			if (since && now > since)
				c->oncpu_ns += now - since;
			c->nr_switches++;
			if (runnable)
				c->nr_preempt++;
		}
		/* Preempted but still runnable: it waits on the run queue from now. */
		if (runnable) {
			ts = bpf_task_storage_get(&enq_ts, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
			if (ts)
				*ts = now;
		}
	}

	/* Incoming task: the wait since its enqueue is run-queue latency. */
	ts = bpf_task_storage_get(&enq_ts, next, 0, 0);
	if (!ts || !*ts)
		return 0;
	if (now <= *ts) {
		*ts = 0;
		return 0;
	}
	u64 wait = now - *ts;
	*ts = 0;
	cgid = task_cgid(next);
	if (!wanted(cgid))
		return 0;
	c = counters(cgid);
	if (!c)
		return 0;
	u64 slot = log2_u64(wait / 1000);
	if (slot >= PROBE_HIST_SLOTS)
		slot = PROBE_HIST_SLOTS - 1;
	/* clang may fold the clamp into a form the verifier cannot bound; keep it visible. */
	barrier_var(slot);
	c->rq_hist[slot & (PROBE_HIST_SLOTS - 1)]++;
	c->rq_count++;
	c->rq_sum_ns += wait;
	return 0;
}
