/* sched.h — types shared by bpf/sched.bpf.c and the user-space loader probes/probe_bpf.c.
 * Plain fixed-width types only: this header is compiled for both the BPF target and the host. */
#ifndef EDGESLICE_SCHED_H
#define EDGESLICE_SCHED_H

/* Run-queue latency log2 histogram in microseconds: slot 0 holds [0, 2) us, slot k
 * holds [2^k, 2^(k+1)) us; the last slot also takes everything above (~36 min). */
#define PROBE_HIST_SLOTS 32

/* Per cgroup, per CPU (the map is BPF_MAP_TYPE_PERCPU_HASH; user space sums CPUs). */
struct probe_cg_counters {
	unsigned long long oncpu_ns;	/* time tasks of this cgroup spent on a CPU */
	unsigned long long nr_switches; /* times a task of this cgroup was switched out */
	unsigned long long nr_preempt;	/* ... of which it was still runnable (involuntary) */
	unsigned long long rq_count;	/* run-queue waits measured */
	unsigned long long rq_sum_ns;	/* their total */
	unsigned long long rq_hist[PROBE_HIST_SLOTS];
};

#endif
