/* shaper-internal.h — what the files of the shaper share: struct shaper, the HTB constants,
 * and the netlink and BPF helpers the tree code and the classifier code both call. */
#pragma once

#include "shaper.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <math.h>
#include <net/if.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/netlink.h>
#include <netlink/route/class.h>
#include <netlink/route/link.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/fq_codel.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>
#include "../../bpf/shaper.h"
#include "shaper.skel.h"
#include "util.h"

#define L2_HEADER     14u     /* Ethernet header HTB and the counters include */
#define BURST_USEC    2000u   /* bucket depth in time: TSO autosizing + wake-up slack */
#define R2Q	      10u     /* quantum = rate / r2q, as HTB's default */
#define QUANTUM_MAX   200000u /* above this HTB warns "quantum is big" */
#define FILTER_PRIO   1u
#define FILTER_HANDLE 1u
struct root_info {
	int ifindex;
	bool found;
	uint32_t handle;
	char kind[16];
	uint32_t opts_type, opts_len;
	bool opts_too_big;
	unsigned children; /* qdiscs below the root (not ingress/clsact) */
	unsigned classes;  /* classes of the root qdisc */
	uint8_t opts[SHAPER_SAVED_OPTS_MAX];
};

struct shaper {
	struct nl_sock *nl;
	char ifname[IF_NAMESIZE];
	int ifindex;
	uint32_t mtu;
	uint64_t link_rate;
	uint32_t gso_max_size; /* current value read at open / after changes */
	struct root_info root;
	bool active;
	bool no_fq_codel; /* learnt: the kernel has no sch_fq_codel */
	uint64_t parent_rate;
	/* The filter's maps; -1 when not (yet) attached. */
	int fd_cgroup, fd_ifindex, fd_source, fd_saved;
	int fd_levels; /* -1 also under a classifier of a version without cgroup_levels */
};

struct class_list {
	struct shaper_class *v;
	size_t n, cap;
	int error;
};

/* --- shared between the files of this folder ---------------------------------- */

int shaper_put_back(struct shaper *s, const struct shaper_saved *sv);
void shaper_close_maps(struct shaper *s);
int shaper_adopt_maps(struct shaper *s);
int shaper_attach_filter(struct shaper *s, const struct shaper_saved *sv);
int shaper_match_map(struct shaper *s, const struct shaper_match *m, int *ret_fd, void *key,
		     size_t *ret_len);
int shaper_lookup_match(struct shaper *s, const struct shaper_match *m, uint32_t *ret_classid);
int shaper_put_class_flags(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
			   uint64_t ceil_rate, bool with_leaf, bool excl);
int shaper_put_class(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
		     uint64_t ceil_rate, bool with_leaf);
int shaper_del_class(struct shaper *s, uint32_t classid);
int shaper_list_classes(struct shaper *s, bool with_leaves, struct class_list *ret);
int shaper_read_class(struct shaper *s, uint32_t classid, uint64_t *ret_rate);
int shaper_update_default(struct shaper *s);
int shaper_max_task_rate(struct shaper *s, uint64_t *ret);
int shaper_nl_errno(int nle);
int shaper_tc_msg(int type, int flags, int ifindex, uint32_t parent, uint32_t handle,
		  struct nl_msg **ret);
