/* cg.h — cgroup v2 enforcement: the delegated subtree, one cgroup per inference task,
 * its limits, starting a task inside it, and noticing exit, emptiness and OOM kills.
 * Every path is relative to an open directory fd, so tests run on fake trees. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define CG_UNLIMITED UINT64_MAX

struct cg_root; /* the delegated subtree edgeslice owns */
struct cg_task; /* one task's cgroup below it */

/* Opens the subtree at an absolute cgroupfs path (e.g. /sys/fs/cgroup/edgeslice or
 * the unit's own cgroup). cgroupfs_root is the mount point, normally /sys/fs/cgroup;
 * both are parameters so tests can point them at a temp dir. */
int cg_root_open(const char *cgroupfs_root, const char *path, struct cg_root **ret);
/* Finds the calling process's own cgroup v2 (from /proc/self/cgroup "0::/...") below
 * cgroupfs_root; this is the delegated subtree when run with Delegate=yes. */
int cg_root_discover(const char *cgroupfs_root, const char *proc_self_cgroup, char **ret_path);
/* Moves every process in the root into leaf "supervisor/" (no-internal-process rule)
 * and enables the wanted controllers (+cpu +cpuset +memory +io +pids) for children.
 * Controllers the kernel does not offer are recorded, not fatal (see cg_root_has). */
int cg_root_setup(struct cg_root *r);
bool cg_root_has(const struct cg_root *r, const char *controller);
/* Makes the subtree a cpuset partition root owning `cpus` (e.g. "1-3"), so tasks can get
 * exclusive cores (cg_limits.cpuset_exclusive). Its parent must be a partition root (the
 * hierarchy root is) and keep a CPU for itself; -EBUSY when the kernel marks the
 * partition invalid (reverted to member). NULL or "" reverts to member. */
int cg_root_set_partition(struct cg_root *r, const char *cpus);
/* Space-separated controllers asked for by cg_root_setup but not enabled ("" = none). */
const char *cg_root_missing(const struct cg_root *r);
int cg_root_fd(const struct cg_root *r);
const char *cg_root_path(const struct cg_root *r);
void cg_root_free(struct cg_root *r);

struct cg_limits {
	double cpu_cores;	  /* cpu.max quota = cores * period; 0 = "max" */
	uint64_t cpu_period_us;	  /* default 100000 */
	uint32_t cpu_weight;	  /* 1..10000; 0 = leave */
	char cpuset_cpus[256];	  /* "" = leave */
	char cpuset_mems[64];	  /* "" = leave */
	uint64_t memory_max;	  /* bytes; CG_UNLIMITED = "max" */
	uint64_t memory_high;	  /* bytes; CG_UNLIMITED = "max" */
	uint64_t memory_swap_max; /* bytes; CG_UNLIMITED = "max" */
	uint64_t pids_max;	  /* CG_UNLIMITED = "max" */
	uint32_t io_weight;	  /* 1..10000; 0 = leave */
	bool cpuset_exclusive;	  /* make cpuset_cpus exclusive (cpuset.cpus.partition=root) */
};
void cg_limits_init(struct cg_limits *l); /* everything unlimited / left alone */
/* Validates against the node (ncpus, memory bytes): -EINVAL / -ERANGE with *ret_field
 * naming the offending field. */
int cg_limits_check(const struct cg_limits *l, unsigned ncpus, uint64_t mem_total,
		    const char **ret_field);
/* "cpu.max" contents for cores/period, e.g. 0.5 core @100ms -> "50000 100000". */
int cg_format_cpu_max(double cores, uint64_t period_us, char *buf, size_t size);
int cg_parse_cpu_max(const char *s, double *ret_cores, uint64_t *ret_period_us);
/* A cpuset list ("0-2,4"): -EINVAL on syntax, -ERANGE for an id >= limit; counts ids. */
int cg_parse_cpulist(const char *s, unsigned limit, unsigned *ret_count);
/* A keyed cgroup file ("usage_usec 123\n..."): exact key; "max" -> CG_UNLIMITED;
 * -ENXIO when the key is missing. */
int cg_parse_keyed(const char *text, const char *key, uint64_t *ret);
/* Human text for the errors of cg_limits_check / cg_task_apply_limits. */
const char *cg_strerror_field(int err);

/* Creates <root>/<name> and applies limits. -EEXIST if it exists. */
int cg_task_create(struct cg_root *r, const char *name, const struct cg_limits *l,
		   struct cg_task **ret);
/* As cg_task_create, naming the limit field that failed (validation, a controller not
 * enabled, or the kernel refusing the write); the cgroup is removed again on failure. */
int cg_task_create_ex(struct cg_root *r, const char *name, const struct cg_limits *l,
		      struct cg_task **ret, const char **ret_field);
/* Takes an existing cgroup (a restart, or a container another runtime put under our
 * subtree) without starting anything. */
int cg_task_adopt(struct cg_root *r, const char *name, struct cg_task **ret);
int cg_task_set_limits(struct cg_task *t, const struct cg_limits *l);
/* As cg_task_set_limits, naming the failing field. A limit whose controller is not
 * enabled in the subtree is -EOPNOTSUPP (unlimited values are then skipped). */
int cg_task_apply_limits(struct cg_task *t, const struct cg_limits *l, const char **ret_field);
/* cpuset.cpus alone (a cgroup made before its device was known); -EOPNOTSUPP without the
 * cpuset controller. */
int cg_task_set_cpus(struct cg_task *t, const char *cpus);

struct cg_exec {
	char *const *argv;
	char *const *envp;		    /* NULL = inherit */
	const char *cwd;		    /* NULL = inherit */
	int stdin_fd, stdout_fd, stderr_fd; /* -1 = /dev/null */
	uid_t uid;			    /* (uid_t)-1 = keep */
	gid_t gid;
	/* Start in this child cgroup of the task's (made if absent) instead of the task's own:
	 * an OCI runtime runs in "rt" and puts the container in a sibling ("ctr"), since the
	 * task's cgroup then holds controllers for its children and no process itself. */
	const char *subdir;
	/* Keep the daemon's cgroup namespace (the runtime gives the container its own; one
	 * rooted at "rt" would forbid the runtime to move the container into "ctr"). */
	bool keep_cgroupns;
};
/* Starts argv inside the task's cgroup atomically: clone3(CLONE_INTO_CGROUP|CLONE_PIDFD),
 * falling back to fork + write to cgroup.procs before exec where clone3 is refused.
 * Returns the pid and a pidfd (-1 where the kernel has no pidfds). */
int cg_task_spawn(struct cg_task *t, const struct cg_exec *e, pid_t *ret_pid, int *ret_pidfd);
/* cg_exec with stdio on /dev/null and uid/gid kept. */
void cg_exec_init(struct cg_exec *e, char *const *argv);
/* cg_task_spawn with the path forced (tests, benchmarks): AUTO = clone3 then fallback. */
enum { CG_SPAWN_AUTO = 0, CG_SPAWN_CLONE3 = 1, CG_SPAWN_FORK = 2 };
int cg_task_spawn_mode(struct cg_task *t, const struct cg_exec *e, int mode, pid_t *ret_pid,
		       int *ret_pidfd);

/* The task's open cgroup.events: poll it for EPOLLPRI, which kernfs raises when the file
 * changed (populated, frozen) since it was last read; cg_task_read_events reads it and so
 * re-arms it. Owned by the task (closed by cg_task_destroy/free). */
int cg_task_watch_fd(struct cg_task *t);
struct cg_events {
	bool populated;
	bool frozen;
	uint64_t oom, oom_kill, max, high; /* memory.events counters */
};
int cg_task_read_events(struct cg_task *t, struct cg_events *ret);
/* cpu.stat usage_usec (kept open, pread). */
int cg_task_read_cpu_usec(struct cg_task *t, uint64_t *ret_usec);

int cg_task_kill(struct cg_task *t); /* cgroup.kill, SIGKILL fallback per pid */
/* rmdir, retried on EBUSY while the kernel reaps; frees t on success. */
int cg_task_destroy(struct cg_task *t, unsigned timeout_ms);
int cg_task_fd(const struct cg_task *t);
const char *cg_task_name(const struct cg_task *t);
uint64_t cg_task_id(const struct cg_task *t); /* cgroup id (inode), for BPF maps */
void cg_task_free(struct cg_task *t);	      /* closes fds, leaves the cgroup */
