/* cg-internal.h — what the files of the cgroup library share: struct cg_root and struct
 * cg_task, the controller bits, and the file helpers every part writes cgroup files with. */
#pragma once

#include "cg.h"
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <time.h>
#include "util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
enum {
	CTL_CPU = 1u << 0,
	CTL_CPUSET = 1u << 1,
	CTL_MEMORY = 1u << 2,
	CTL_IO = 1u << 3,
	CTL_PIDS = 1u << 4
};

struct cg_root {
	int fd;
	char *path;	    /* absolute, as opened */
	bool is_cgroupfs;   /* false on a fake tree (unit tests) */
	bool is_top;	    /* the hierarchy root: exempt from the no-internal-process rule */
	unsigned available; /* bitmask of cg_wanted[] listed in cgroup.controllers */
	unsigned enabled;   /* bitmask of cg_wanted[] enabled for children */
	char *missing;	    /* space-separated controllers asked for but not enabled */
};

struct cg_task {
	struct cg_root *root; /* borrowed: must outlive the task */
	int fd;
	char *name;
	uint64_t id;
	int events_fd;	  /* cgroup.events, kept open for pread */
	int memevents_fd; /* memory.events, or -1 */
	int cpustat_fd;	  /* cpu.stat, or -1 */
	bool killed;	  /* cgroup.kill was written: see cg_task_spawn_mode */
};

/* --- shared between the files of this folder ---------------------------------- */

extern const char *const cg_wanted[5]; /* the controllers edgeslice asks for, in order */

int cg_remove_tree(int parentfd, const char *name, bool is_cgroupfs);
void cg_root_freep(struct cg_root **p);
void cg_task_freep(struct cg_task **p);
int cg_write_at(int dirfd, const char *file, const char *s);
int cg_write_ctl(const struct cg_root *r, int dirfd, const char *file, const char *s);
int cg_ctl_index(const char *name, size_t len);
unsigned cg_parse_controllers(const char *s);
