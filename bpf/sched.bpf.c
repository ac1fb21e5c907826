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

/* Per task: when it became runnable (0 = not waiting) and its se.sum_exec_runtime when it
 * was last switched in (0 = unknown). */
struct task_ctx {
	u64 enq_ts;
	u64 sum_in;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx SEC(".maps");

/* Hybrid hierarchies: the unified (v2) cgroup of a task is always dfl_cgrp. tp_btf
 * arguments are BTF pointers, so the chain is walked with plain (CO-RE relocated) loads
 * instead of four bpf_probe_read_kernel() calls. */
static __always_inline u64 task_cgid(struct task_struct *t)
{
	return t->cgroups->dfl_cgrp->kn->id;
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
		return t->__state;
	return BPF_CORE_READ((struct task_struct___old *)t, state);
}

static __always_inline u32 log2_u64(u64 v)
{
	u32 r = 0, shift;

	shift = (v > 0xFFFFFFFFULL) << 5;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFFFF) << 4;
	v >>= shift;
	r |= shift;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline void mark_enqueued(struct task_struct *p, u64 now)
{
	struct task_ctx *tc;

	if (!wanted(task_cgid(p)))
		return;
	tc = bpf_task_storage_get(&task_ctx, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tc)
		tc->enq_ts = now;
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
	struct task_ctx *tc;
	u32 zero = 0;
	u64 *last;

	last = bpf_map_lookup_elem(&last_switch, &zero);
	if (last) {
		since = *last;
		*last = now;
	}

	/* Outgoing task: its own cgroup is charged for the slice it just ran. */
	cgid = task_cgid(prev);
	if (wanted(cgid)) {
		bool runnable = task_state(prev) == TASK_RUNNING;
		u64 sum = prev->se.sum_exec_runtime, ran = 0;

		tc = bpf_task_storage_get(&task_ctx, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		/* The scheduler's own runtime delta is what cpu.stat is charged with (it leaves
		 * out steal and, with IRQ_TIME_ACCOUNTING, irq time); wall time since this CPU's
		 * last switch covers a slice that began before we knew the task. */
		if (tc && tc->sum_in && sum >= tc->sum_in)
			ran = sum - tc->sum_in;
		else if (since && now > since)
			ran = now - since;
		if (tc) {
			tc->sum_in = 0;
			/* Preempted but still runnable: it waits on the run queue from now. */
			if (runnable)
				tc->enq_ts = now;
		}
		c = counters(cgid);
		if (c) {
			c->oncpu_ns += ran;
			c->nr_switches++;
			if (runnable)
				c->nr_preempt++;
		}
	}

	/* Incoming task: only tasks we have seen in a wanted cgroup have a context. */
	tc = bpf_task_storage_get(&task_ctx, next, 0, 0);
	if (!tc)
		return 0;
	tc->sum_in = next->se.sum_exec_runtime;
	if (!tc->enq_ts)
		return 0;
	if (now <= tc->enq_ts) {
		tc->enq_ts = 0;
		return 0;
	}
	u64 wait = now - tc->enq_ts;
	tc->enq_ts = 0;
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
