/* shaper.h — per-task upload shaping on an uplink over netlink: HTB root qdisc, one leaf class
 * per task with fq_codel under it, and a cls_bpf classifier keyed by cgroup id (docs/SHAPER.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rates are bytes per second everywhere in this module (as in libnl and the kernel). */
#define SHAPER_RATE_MIN		  1000ull	 /* 8 kbit/s */
#define SHAPER_RATE_MAX		  12500000000ull /* 100 Gbit/s */
#define SHAPER_LINK_RATE_FALLBACK 1250000000ull	 /* 10 Gbit/s when the driver reports no speed */

/* Our root qdisc is always handle e5: — the marker by which a restarted daemon or the CLI
 * recognises edgeslice's own shaping (including a crashed daemon's leftovers). */
#define SHAPER_MAJOR	      0xe5u
#define SHAPER_MINOR_PARENT   1u    /* e5:1  the link (or configured) rate, parent of all */
#define SHAPER_MINOR_DEFAULT  2u    /* e5:2  unclassified traffic */
#define SHAPER_MINOR_FIRST    0x10u /* e5:10 .. e5:fff0 one per shaped task */
#define SHAPER_MINOR_LAST     0xfff0u
#define SHAPER_CLASSID(minor) ((SHAPER_MAJOR << 16) | (uint32_t)(minor))

/* "3g", "4g", "wifi" (1.1, 5.85, 18.88 Mbit/s) -> bytes/s; -ENOENT for other names. */
int shaper_preset(const char *name, uint64_t *ret_rate);
/* A preset name or a tc-style rate ("5.85mbit", "700kbit"), range-checked against
 * [SHAPER_RATE_MIN, SHAPER_RATE_MAX]: -EINVAL (syntax), -ERANGE (zero, too small or too large). */
int shaper_parse_rate(const char *s, uint64_t *ret_rate);
/* Formats bytes/s as tc does ("5.85Mbit", "700Kbit"). */
void shaper_format_rate(uint64_t rate, char *buf, size_t size);

/* HTB/fq_codel parameters for one class (formulas and reasons in docs/SHAPER.md). */
struct shaper_sizing {
	uint32_t burst;	      /* bytes: rate * 2 ms + three L2 frames */
	uint32_t cburst;      /* bytes: same as burst (ceil == rate for task classes) */
	uint32_t quantum;     /* bytes: rate / 10 clamped to [L2 frame, 200000] */
	uint32_t target_us;   /* fq_codel target: max(5 ms, 1.5 L2 frames' transmit time) */
	uint32_t interval_us; /* fq_codel interval: max(100 ms, 20 * target) */
	uint32_t fifo_limit;  /* packets, when the kernel lacks fq_codel: 100 ms, 32..10000 */
};
int shaper_size_class(uint64_t rate, uint32_t mtu, struct shaper_sizing *ret);

/* Lowest free task minor in [SHAPER_MINOR_FIRST, SHAPER_MINOR_LAST] not in used[];
 * -ENOSPC when all are taken. */
int shaper_alloc_minor(const uint32_t *used, size_t n_used, uint32_t *ret_minor);

/* gso_max_size for the uplink while tasks are shaped: ~1 ms of the slowest task class,
 * at least two frames, never above the device's own value orig (0 = leave alone). */
uint32_t shaper_gso_cap(uint64_t slowest_rate, uint32_t mtu, uint32_t orig);

/* Default class rate: what the task classes leave of the parent, at least 1 % of it
 * (and SHAPER_RATE_MIN) so unclassified traffic is never starved of its guarantee. */
uint64_t shaper_default_rate(uint64_t parent_rate, uint64_t sum_task_rates);

/* How a task's packets are recognised on the uplink (see "Classification" in SHAPER.md). */
enum shaper_match_kind {
	SHAPER_MATCH_CGROUP,  /* socket's cgroup v2 id: tasks in the host's network namespace */
	SHAPER_MATCH_IFINDEX, /* ingress interface: a task netns routed in through a veth */
	SHAPER_MATCH_SOURCE,  /* source address: the same, when several tasks share a veth */
};
struct shaper_match {
	enum shaper_match_kind kind;
	uint64_t cgroup_id;
	/* Level of cgroup_id in the hierarchy (root 0), so the classifier also matches the
	 * sockets of its descendants (a container in task-N/ctr); 0 = unknown: exact only. */
	int cgroup_level;
	uint32_t ifindex;
	int family; /* AF_INET / AF_INET6 */
	uint8_t addr[16];
};
/* "/sys/fs/cgroup/unified/x" -> cgroup id; -ENOENT missing, -ENOTDIR/-EMEDIUMTYPE not a cgroup2
 * dir. */
int shaper_cgroup_id(const char *path, uint64_t *ret_id);
/* Level of dirfd/path below the root of the cgroup2 mount it is on (the mount's root: 0) —
 * the hierarchy's level when the mount is the root of the hierarchy, as the daemon's is. */
int shaper_cgroup_level_at(int dirfd, const char *path, int *ret_level);
/* Inverse, for display: the cgroup's path through any mount of cgroup2 (mount_path). */
int shaper_cgroup_path(const char *mount_path, uint64_t id, char **ret_path);
/* "10.0.0.2" / "fd00::2" -> a SHAPER_MATCH_SOURCE match. */
int shaper_match_source(const char *addr, struct shaper_match *ret);

struct shaper_class {
	uint32_t classid;
	uint32_t parent;
	uint64_t rate, ceil; /* bytes/s */
	uint32_t burst, quantum;
	uint64_t bytes, packets, drops; /* class drops + its fq_codel's drops */
	uint64_t overlimits;
	uint32_t qlen, backlog;
	uint64_t sampled_ns; /* CLOCK_MONOTONIC when the kernel was asked: rate = Δbytes/Δsampled */
	bool is_task;
	struct shaper_match match; /* valid when is_task and has_match */
	bool has_match;
};

struct shaper;
/* Opens the device in the caller's network namespace; changes nothing. -ENODEV if unknown.
 * link_rate 0 = the driver's reported speed (SHAPER_LINK_RATE_FALLBACK if none). */
int shaper_open(const char *ifname, uint64_t link_rate, struct shaper **ret);
void shaper_free(struct shaper *s);
/* True when the root qdisc is edgeslice's (e5:), whoever installed it. */
bool shaper_is_active(const struct shaper *s);
/* Kind of the current root qdisc ("noqueue", "htb", ...). */
const char *shaper_root_kind(const struct shaper *s);
uint64_t shaper_parent_rate(const struct shaper *s);
int shaper_ifindex(const struct shaper *s);

/* Installs the HTB tree if not present (saving the root qdisc it replaces); with rate != 0
 * also sets the parent class to it. Refuses (-EBUSY) to replace a root it could not restore
 * exactly: a configured classful root with classes or child qdiscs. */
int shaper_setup(struct shaper *s, uint64_t parent_rate);
/* Gives the matched task a leaf class shaped to rate (rate == ceil: no borrowing), creating
 * it (and the tree) if needed, else changing its rate. On failure nothing is left changed. */
int shaper_set_rate(struct shaper *s, const struct shaper_match *m, uint64_t rate,
		    uint32_t *ret_classid);
/* Removes the task's class; -ENOENT if it has none. */
int shaper_unset(struct shaper *s, const struct shaper_match *m);
/* Removes all shaping and restores the saved root qdisc exactly (kernel default if it was).
 * A no-op when the device is not shaped by edgeslice. Also the crash-recovery path. */
int shaper_restore(struct shaper *s);
/* Parent, default and task classes with counters; caller frees *ret. */
int shaper_list(struct shaper *s, struct shaper_class **ret, size_t *ret_n);
