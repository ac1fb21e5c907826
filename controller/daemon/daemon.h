/* daemon.h — edgesliced, the node service: sd-event loop, control socket, live placement
 * (policy -> cgroup enforcement -> spawn), persistence and restart adoption. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dconf.h"
#include "devset.h"

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

/* The device set (devset.h) of this node: the local backend, the node whole or split by
 * cpuset partitions; fleet mode's placer uses the fleet backend (fleet.h) through the same ops.
 * Built from the config (node_cores/node_memory, device = lines). */
int devset_local_new(const struct dconf *c, double node_cpu, uint64_t node_mem, struct devset *ret);
