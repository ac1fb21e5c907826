/* probe_bpf.c — loads the CO-RE scheduler probe (bpf/sched.bpf.c), maintains its cgroup
 * filter and reads per-cgroup counters; -EOPNOTSUPP only where the kernel lacks a feature it
 * needs (BTF, bpf(), task storage, tp_btf): any other load or attach error is a program bug
 * and is returned as it is. */
#include "probes.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "../bpf/sched.h"
#include "sched.skel.h"

_Static_assert(PROBE_HIST_SLOTS == PROBE_HIST_NSLOTS, "histogram sizes differ");

struct probe_bpf {
	struct sched_bpf *skel;
	int ncpus;
	struct probe_cg_counters *percpu; /* lookup buffer, one entry per possible CPU */
};

_printf_(2, 0) static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* Library code does not log; EDGESLICE_BPF_DEBUG shows libbpf's own reasons. */
	if (getenv("EDGESLICE_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

void probe_bpf_free(struct probe_bpf *p)
{
	if (!p)
		return;
	sched_bpf__destroy(p->skel);
	free(p->percpu);
	free(p);
}
static void probe_bpf_freep(struct probe_bpf **p)
{
	probe_bpf_free(*p);
}

/* The features sched.bpf.c uses: the bpf() syscall with tracing programs and task storage
 * maps (5.11+). -EOPNOTSUPP when missing, -EPERM when bpf() is refused, 0 when present. */
static int kernel_can_run(void)
{
	int r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_TASK_STORAGE, NULL);
	if (r == 0 || r == -ENOSYS || r == -EOPNOTSUPP)
		return -EOPNOTSUPP;
	return r < 0 ? r : 0;
}

const char *probe_bpf_error_reason(int r)
{
	switch (r) {
	case 0:
		return "loaded";
	case -EOPNOTSUPP:
		return "this kernel has no BTF (/sys/kernel/btf/vmlinux) or lacks bpf() tracing "
		       "and task storage";
	case -EPERM:
		return "not permitted: needs CAP_BPF and CAP_PERFMON (or root)";
	case -ENOMEM:
		return "out of memory (locked-memory limit?)";
	default:
		return "the program failed to load or attach: an edgeslice bug "
		       "(EDGESLICE_BPF_DEBUG=1 "
		       "prints libbpf's reason)";
	}
}

int probe_bpf_open(const struct probe_bpf_opts *o, struct probe_bpf **ret)
{
	_cleanup_(probe_bpf_freep) struct probe_bpf *p = NULL;
	struct probe_bpf_opts def = {};
	uint32_t max;
	struct stat st;
	int r;

	if (!o)
		o = &def;
	max = o->max_cgroups ? o->max_cgroups : 1024;
	/* tp_btf attach targets and BTF-typed task pointers come from the kernel's own BTF;
	 * without it (Raspberry Pi kernels) do not even try. */
	if (stat(o->btf_path ? o->btf_path : "/sys/kernel/btf/vmlinux", &st) < 0)
		return -EOPNOTSUPP;
	libbpf_set_print(silent_print);

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0)
		return p->ncpus < 0 ? p->ncpus : -EIO;
	p->percpu = calloc((size_t)p->ncpus, sizeof(*p->percpu));
	if (!p->percpu)
		return -ENOMEM;

	p->skel = sched_bpf__open();
	if (!p->skel)
		return errno == ENOENT || errno == ESRCH ? -EOPNOTSUPP : negative_errno();
	p->skel->rodata->account_all = o->account_all;
	if (bpf_map__set_max_entries(p->skel->maps.cg_filter, max) < 0 ||
	    bpf_map__set_max_entries(p->skel->maps.cg_stats, max) < 0)
		return -EINVAL;
	/* Ask the kernel for what the program needs before loading it, so that a load error
	 * afterwards means the program (verifier rejection: -EACCES/-EINVAL), not the kernel. */
	r = kernel_can_run();
	if (r < 0)
		return r;
	r = sched_bpf__load(p->skel);
	if (r < 0)
		/* libbpf: -ESRCH/-ENOENT when a tp_btf target is not in the kernel's BTF. */
		return r == -ESRCH || r == -ENOENT || r == -ENOSYS ? -EOPNOTSUPP : r;
	r = sched_bpf__attach(p->skel);
	if (r < 0)
		return r == -ENOSYS ? -EOPNOTSUPP : r;
	*ret = TAKE_PTR(p);
	return 0;
}

int probe_bpf_add_cgroup(struct probe_bpf *p, uint64_t cgid)
{
	uint8_t one = 1;
	if (bpf_map__update_elem(p->skel->maps.cg_filter, &cgid, sizeof(cgid), &one, sizeof(one),
				 BPF_ANY) < 0)
		return negative_errno();
	return 0;
}

int probe_bpf_remove_cgroup(struct probe_bpf *p, uint64_t cgid)
{
	if (bpf_map__delete_elem(p->skel->maps.cg_filter, &cgid, sizeof(cgid), 0) < 0)
		return negative_errno();
	/* Counters may not exist if the cgroup never ran. */
	(void)bpf_map__delete_elem(p->skel->maps.cg_stats, &cgid, sizeof(cgid), 0);
	return 0;
}

int probe_bpf_read_cgroup(struct probe_bpf *p, uint64_t cgid, struct probe_bpf_cg *ret)
{
	struct probe_bpf_cg out = {};
	size_t sz = (size_t)p->ncpus * sizeof(*p->percpu);

	if (bpf_map__lookup_elem(p->skel->maps.cg_stats, &cgid, sizeof(cgid), p->percpu, sz, 0) <
	    0) {
		uint8_t v;
		if (errno != ENOENT)
			return negative_errno();
		/* Filtered but never scheduled yet: zeros. Unknown: -ENOENT. */
		if (bpf_map__lookup_elem(p->skel->maps.cg_filter, &cgid, sizeof(cgid), &v,
					 sizeof(v), 0) < 0)
			return -ENOENT;
		*ret = out;
		return 0;
	}
	for (int c = 0; c < p->ncpus; c++) {
		const struct probe_cg_counters *k = &p->percpu[c];
		out.oncpu_ns += k->oncpu_ns;
		out.nr_switches += k->nr_switches;
		out.nr_preempt += k->nr_preempt;
		out.rq_count += k->rq_count;
		out.rq_sum_ns += k->rq_sum_ns;
		for (size_t i = 0; i < PROBE_HIST_NSLOTS; i++)
			out.rq_hist[i] += k->rq_hist[i];
	}
	*ret = out;
	return 0;
}

int probe_bpf_enable_stats(int *ret_fd)
{
	int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (fd < 0)
		return fd == -1 ? negative_errno() : fd;
	*ret_fd = fd;
	return 0;
}

int probe_bpf_prog_stats(struct probe_bpf *p, struct probe_bpf_prog_stats *ret)
{
	const struct bpf_program *progs[] = {
	    p->skel->progs.es_sched_switch,
	    p->skel->progs.es_sched_wakeup,
	    p->skel->progs.es_sched_wakeup_new,
	};
	struct probe_bpf_prog_stats s = {};

	for (size_t i = 0; i < ELEMENTSOF(progs); i++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		/* bpf_obj_get_info_by_fd: bpf_prog_get_info_by_fd is libbpf >= 1.2. */
		if (bpf_obj_get_info_by_fd(bpf_program__fd(progs[i]), &info, &len) < 0)
			return negative_errno();
		s.run_time_ns += info.run_time_ns;
		s.run_cnt += info.run_cnt;
	}
	*ret = s;
	return 0;
}
