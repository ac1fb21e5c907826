/* daemon.h — edgesliced, the node service: sd-event loop, control socket, live placement
 * (policy -> cgroup enforcement -> spawn), persistence and restart adoption. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dconf.h"

struct daemon_opts {
	const char *config;	 /* default /etc/edgeslice/edgeslice.conf (missing = defaults) */
	const char *state_dir;	 /* default /var/lib/edgeslice */
	const char *runtime_dir; /* default /run/edgeslice (control.sock) */
	const char *cgroupfs;	 /* cgroup2 mount, default /sys/fs/cgroup (or .../unified) */
	const char *cgroup_root; /* delegated subtree; default: our own cgroup (Delegate=yes) */
	const char *proc;	 /* procfs root, default /proc (a fake tree in tests) */
	const char *sys;	 /* sysfs root, default /sys (cgroupfs is looked for below it) */
	const char *btf;	 /* kernel BTF, default <sys>/kernel/btf/vmlinux */
	bool recover;		 /* --recover: rebuild a damaged state.db, then exit */
};

/* Exit status when the kernel cannot provide what the configuration requires
 * (enforcement = strict, require_memory = yes): sysexits' EX_CONFIG. */
#define DAEMON_EXIT_UNSUPPORTED 78
/* Another daemon holds the state folder (EX_TEMPFAIL). */
#define DAEMON_EXIT_BUSY 75
/* state.db (or a state.json to import) does not validate: left as it is, not started
 * (EX_PROTOCOL); edgesliced --recover rebuilds it. */
#define DAEMON_EXIT_CORRUPT 76

/* Runs until SIGTERM/SIGINT; returns an exit status. */
int daemon_run(const struct daemon_opts *o);

/* Device set: the capacity placements are made on. The local backend is this node, whole
 * or split by cpuset partitions; a remote backend (fleet mode) implements the same ops. */
struct devset_device {
	char name[65];
	char cpus[256]; /* cpuset for tasks placed here ("" = no pinning) */
	double cpu;	/* capacity, cores */
	uint64_t mem;	/* capacity, bytes */
	bool local;	/* tasks run on this host (cgroup enforcement applies) */
};
struct devset_ops {
	const char *kind;
	size_t (*count)(void *ctx);
	int (*get)(void *ctx, size_t i, struct devset_device *ret);
	void (*free)(void *ctx);
};
struct devset {
	const struct devset_ops *ops;
	void *ctx;
};
/* Builds the local device set from the config (node_cores/node_memory, device = lines). */
int devset_local_new(const struct dconf *c, double node_cpu, uint64_t node_mem, struct devset *ret);
