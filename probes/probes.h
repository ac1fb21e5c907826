/* probes.h — measurement: the eBPF scheduler probe loader, cgroup v2 and /proc readers,
 * and the pure parsers behind them (see docs/PROBES.md). Prefix probe_.
 * Functions return 0 or -errno; ret_* outputs are written only on success. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- pure parsers (strings in, numbers out; no I/O) ------------------------------ */

/* Flat keyed files ("key value\n" lines: cpu.stat, memory.stat, memory.events).
 * The key matches a whole first field exactly. -ENXIO: no such key; -EINVAL: the value
 * is not a decimal u64; -ERANGE: overflow. */
int probe_parse_keyed(const char *text, const char *key, uint64_t *ret);
/* A file holding one u64 (memory.current, memory.peak), trailing newline allowed. */
int probe_parse_single(const char *text, uint64_t *ret);

struct probe_cpu_stat {
	uint64_t usage_usec, user_usec, system_usec;
	/* Present only where the cpu controller is enabled for the cgroup. */
	bool has_throttle;
	uint64_t nr_periods, nr_throttled, throttled_usec;
};
/* usage_usec, user_usec and system_usec are required (-ENXIO without them). */
int probe_parse_cpu_stat(const char *text, struct probe_cpu_stat *ret);

struct probe_mem_events {
	uint64_t low, high, max, oom, oom_kill;
};
/* All five keys required (-ENXIO). */
int probe_parse_mem_events(const char *text, struct probe_mem_events *ret);

struct probe_mem_stat {
	uint64_t anon, file, kernel, shmem, slab, sock, pgfault, pgmajfault;
	uint64_t inactive_file; /* what a working set leaves out (cAdvisor's definition) */
};
/* anon and file are required; the others (kernel appeared in 5.18) read 0 if absent. */
int probe_parse_mem_stat(const char *text, struct probe_mem_stat *ret);

struct probe_psi_line {
	double avg10, avg60, avg300; /* percent of wall time */
	uint64_t total_usec;
};
struct probe_psi {
	struct probe_psi_line some, full;
	bool has_full; /* cpu "full" exists only since 5.13 (and is 0 at the node level) */
};
/* cpu/memory/io.pressure and /proc/pressure/{cpu,memory,io}. "some" required. */
int probe_parse_psi(const char *text, struct probe_psi *ret);

struct probe_proc_stat {
	uint64_t busy_ticks;  /* user+nice+system+irq+softirq+steal (guest is inside user) */
	uint64_t total_ticks; /* busy + idle + iowait */
	unsigned ncpus;	      /* "cpuN" lines: online CPUs */
};
int probe_parse_proc_stat(const char *text, struct probe_proc_stat *ret);

/* /proc/meminfo "Key:   N kB" -> bytes. -ENXIO for a missing key. */
int probe_parse_meminfo(const char *text, const char *key, uint64_t *ret_bytes);

/* ---- one-shot readers: a path form and an at(dirfd) form ------------------------- */
/* cg is the cgroup directory (relative to dirfd in the _at forms; "." = dirfd itself). */
int probe_read_cpu_stat_at(int dirfd, const char *cg, struct probe_cpu_stat *ret);
int probe_read_cpu_stat(const char *cg, struct probe_cpu_stat *ret);
int probe_read_mem_current_at(int dirfd, const char *cg, uint64_t *ret);
int probe_read_mem_current(const char *cg, uint64_t *ret);
int probe_read_mem_peak_at(int dirfd, const char *cg, uint64_t *ret);
int probe_read_mem_peak(const char *cg, uint64_t *ret);
int probe_read_mem_events_at(int dirfd, const char *cg, struct probe_mem_events *ret);
int probe_read_mem_events(const char *cg, struct probe_mem_events *ret);
int probe_read_mem_stat_at(int dirfd, const char *cg, struct probe_mem_stat *ret);
int probe_read_mem_stat(const char *cg, struct probe_mem_stat *ret);
/* resource: "cpu", "memory" or "io". -EOPNOTSUPP where PSI is off (psi=0 / no psi=1). */
int probe_read_pressure_at(int dirfd, const char *cg, const char *resource, struct probe_psi *ret);
int probe_read_pressure(const char *cg, const char *resource, struct probe_psi *ret);
/* Node readers; proc is the procfs root ("/proc", or a fake tree in tests). */
int probe_read_proc_stat_at(int dirfd, const char *proc, struct probe_proc_stat *ret);
int probe_read_proc_stat(const char *proc, struct probe_proc_stat *ret);
int probe_read_meminfo_at(int dirfd, const char *proc, uint64_t *ret_total,
			  uint64_t *ret_available);
int probe_read_meminfo(const char *proc, uint64_t *ret_total, uint64_t *ret_available);
int probe_read_node_pressure_at(int dirfd, const char *proc, const char *resource,
				struct probe_psi *ret);
int probe_read_node_pressure(const char *proc, const char *resource, struct probe_psi *ret);

/* The cgroup id (kernfs id, what the BPF probe keys on) of a cgroup directory. */
int probe_cgroup_id_at(int dirfd, const char *cg, uint64_t *ret);

/* ---- hot files: kept open, read with pread every tick ---------------------------- */

/* Which parts of a probe_cg_sample were read this time (a file may be missing because
 * a controller is not enabled, or PSI is off). */
enum {
	PROBE_HAVE_CPU = 1u << 0,
	PROBE_HAVE_THROTTLE = 1u << 1,
	PROBE_HAVE_MEM = 1u << 2,
	PROBE_HAVE_MEM_PEAK = 1u << 3,
	PROBE_HAVE_MEM_EVENTS = 1u << 4,
	PROBE_HAVE_MEM_STAT = 1u << 5,
	PROBE_HAVE_PSI_CPU = 1u << 6,
	PROBE_HAVE_PSI_MEM = 1u << 7,
	PROBE_HAVE_PSI_IO = 1u << 8,
};

struct probe_cg_sample {
	unsigned have; /* PROBE_HAVE_* */
	struct probe_cpu_stat cpu;
	uint64_t mem_current, mem_peak;
	struct probe_mem_events mem_events;
	struct probe_mem_stat mem_stat;
	struct probe_psi psi_cpu, psi_mem, psi_io;
};

struct probe_cg;
/* Opens the cgroup directory and its stat files once. Files that do not exist are
 * skipped (their PROBE_HAVE_* bit stays clear); cpu.stat is required. */
int probe_cg_open_at(int dirfd, const char *cg, struct probe_cg **ret);
int probe_cg_open(const char *cg, struct probe_cg **ret);
/* One pread per open file. -ENODEV once the cgroup is gone (cpu.stat unreadable). A
 * file that starts failing (EOPNOTSUPP from a pressure file) is closed and skipped. */
int probe_cg_read(struct probe_cg *c, struct probe_cg_sample *ret);
/* The same for a subset: want is PROBE_HAVE_* bits (cpu.stat is always read). The kernel
 * recomputes PSI averages only every 2 s, so a sampler need not read them at 10 Hz. */
#define PROBE_HAVE_ALL 0x1ffu
#define PROBE_HAVE_SLOW                                                                            \
	(PROBE_HAVE_MEM_EVENTS | PROBE_HAVE_MEM_STAT | PROBE_HAVE_PSI_CPU | PROBE_HAVE_PSI_MEM |   \
	 PROBE_HAVE_PSI_IO)
int probe_cg_read_some(struct probe_cg *c, unsigned want, struct probe_cg_sample *ret);
int probe_cg_dirfd(const struct probe_cg *c);
void probe_cg_free(struct probe_cg *c);

struct probe_node_sample {
	unsigned have; /* PROBE_HAVE_PSI_* only; stat and meminfo are required */
	struct probe_proc_stat stat;
	uint64_t mem_total, mem_available;
	struct probe_psi psi_cpu, psi_mem, psi_io;
};
struct probe_node;
int probe_node_open_at(int dirfd, const char *proc, struct probe_node **ret);
int probe_node_open(const char *proc, struct probe_node **ret);
int probe_node_read(struct probe_node *n, struct probe_node_sample *ret);
void probe_node_free(struct probe_node *n);

/* ---- eBPF scheduler probe -------------------------------------------------------- */

#define PROBE_HIST_NSLOTS 32 /* log2 microseconds; slot 0 = [0,2) us, k = [2^k, 2^(k+1)) */

struct probe_bpf_cg {
	uint64_t oncpu_ns;
	uint64_t nr_switches, nr_preempt;
	uint64_t rq_count, rq_sum_ns;
	uint64_t rq_hist[PROBE_HIST_NSLOTS];
};

struct probe_bpf_opts {
	uint32_t max_cgroups; /* filter/stat map size; 0 = 1024 */
	const char *btf_path; /* the kernel's BTF; NULL = /sys/kernel/btf/vmlinux */
	bool account_all;     /* account every cgroup, ignoring the filter (benchmarks) */
};

struct probe_bpf;
/* Opens, loads and attaches the probe. tp_btf programs and task storage need the kernel's
 * own BTF (a shipped min_core_btf only serves CO-RE relocations), so -EOPNOTSUPP when the
 * kernel has no /sys/kernel/btf/vmlinux, no bpf(), no task storage or no tp_btf target (the
 * caller says so once and runs on cgroup files alone); -EPERM without CAP_BPF/CAP_PERFMON;
 * any other error (a verifier rejection) is returned as it is: a bug, not a kernel's lack. Nothing
 * is logged (libbpf's printer is silenced unless EDGESLICE_BPF_DEBUG is set). */
int probe_bpf_open(const struct probe_bpf_opts *o, struct probe_bpf **ret);
/* Why probe_bpf_open() failed, in words: a missing kernel feature (-EOPNOTSUPP), a refusal
 * (-EPERM), or a program bug (anything else). */
const char *probe_bpf_error_reason(int r);
void probe_bpf_free(struct probe_bpf *p);
int probe_bpf_add_cgroup(struct probe_bpf *p, uint64_t cgid);
/* Stops accounting and drops the counters. -ENOENT if it was not added. */
int probe_bpf_remove_cgroup(struct probe_bpf *p, uint64_t cgid);
/* Sums the per-CPU counters. A cgroup that has not run yet reads as zeros. */
int probe_bpf_read_cgroup(struct probe_bpf *p, uint64_t cgid, struct probe_bpf_cg *ret);

/* BPF_ENABLE_STATS: while the returned fd is open the kernel counts run time per program. */
int probe_bpf_enable_stats(int *ret_fd);
struct probe_bpf_prog_stats {
	uint64_t run_time_ns, run_cnt;
};
/* Sum over the three programs. */
int probe_bpf_prog_stats(struct probe_bpf *p, struct probe_bpf_prog_stats *ret);

/* ---- what the node can measure (Raspberry Pi kernels lack some of it) -------------- */

struct probe_caps {
	bool btf;	 /* /sys/kernel/btf/vmlinux: CO-RE eBPF possible */
	bool memory_ctl; /* "memory" in the cgroup2 root's cgroup.controllers */
	bool psi;	 /* /proc/pressure/cpu readable (psi=1 where PSI defaults off) */
	bool memory_disabled_cmdline; /* cgroup_disable=memory on the kernel command line */
};
/* sys: sysfs root ("/sys"); proc: procfs root; cgroupfs: the cgroup2 mount. Never fails
 * for a missing file: that is what it detects. */
int probe_caps_detect(const char *sys, const char *proc, const char *cgroupfs,
		      struct probe_caps *ret);
/* One line per missing capability saying what it costs and how to fix it, for the daemon
 * to log once at start. Returns the number of lines (0 = nothing missing). */
int probe_caps_advice(const struct probe_caps *c, char *buf, size_t size);

/* Quantile q (0..1) of a log2-microsecond histogram, in nanoseconds, interpolating
 * linearly inside the slot. -ENODATA for an empty histogram. Pure. */
int probe_hist_quantile(const uint64_t *hist, size_t nslots, double q, double *ret_ns);

/* ---- the load edgeslice did not start (foreign.c) --------------------------------- */
#define PROBE_MAX_CPUS	   4096
#define PROBE_FOREIGN_PATH 256
#define PROBE_FOREIGN_MAX  256 /* cgroups followed at a time */

/* "0-1,3" -> a bitmap of PROBE_MAX_CPUS bits; -EINVAL on syntax or a CPU past the last. */
int probe_cpulist_parse(const char *s, uint64_t *bits);
/* /proc/stat summed over the CPUs of a cpuset list ("0-1,3"): busy and total ticks, ncpus =
 * CPUs of the list found online. -EINVAL on a bad list, -ENXIO when none is online. */
int probe_parse_proc_stat_cpus(const char *text, const char *cpus, struct probe_proc_stat *ret);
/* The runtime a cgroup path (relative to the cgroup2 mount) belongs to: "kubernetes",
 * "docker", "podman", "machine", "service", or NULL for one edgeslice does not report. */
const char *probe_foreign_kind(const char *path);

/* A read-only walk of the known runtimes' subtrees (kubepods.slice, system.slice,
 * machine.slice, ...) below a cgroup2 mount: CPU rate and memory of each container or
 * service, nothing ever written. exclude: our own subtree (relative path). */
struct probe_foreign;
struct probe_foreign_cg {
	char path[PROBE_FOREIGN_PATH];
	const char *kind;
	double cores; /* between the last two scans */
	uint64_t mem_bytes;
};
int probe_foreign_new(int cgfs_fd, const char *exclude, struct probe_foreign **ret);
void probe_foreign_free(struct probe_foreign *f);
int probe_foreign_scan(struct probe_foreign *f, uint64_t now_usec);
/* The biggest by CPU, at most max; returns how many. */
size_t probe_foreign_top(struct probe_foreign *f, struct probe_foreign_cg *ret, size_t max);
