/* nop.bpf.c — an empty tp_btf sched_switch program: the benchmark's floor (trampoline plus
 * BPF_ENABLE_STATS bookkeeping) against which bpf/sched.bpf.c's cost per event is read. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(es_nop_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}
