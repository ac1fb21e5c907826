/* shaper.c — per-task upload shaping over rtnetlink (libnl-route-3) and a cls_bpf classifier
 * (libbpf): builds, adopts, changes and removes edgeslice's HTB tree on one device.
 *
 *   e5:   htb root qdisc, default 2            (replaces and saves the previous root)
 *   └── e5:1  parent class: link or configured rate
 *       ├── e5:2   default class: what tasks leave, ceil = parent   └── fq_codel
 *       ├── e5:10  task class: rate = ceil = task's upload rate      └── fq_codel
 *       └── e5:11  ...
 *   filter: cls_bpf direct-action, parent e5:, prio 1, handle 1, classid e5: — bpf/shaper.bpf.c
 */
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

/* ---- pure helpers ---------------------------------------------------------------------- */

static const struct {
	const char *name;
	uint64_t rate; /* bytes/s */
} presets[] = {
    {"3g", 137500},    /* 1.1 Mbit/s */
    {"4g", 731250},    /* 5.85 Mbit/s */
    {"wifi", 2360000}, /* 18.88 Mbit/s */
};

int shaper_preset(const char *name, uint64_t *ret_rate)
{
	for (size_t i = 0; name && i < ELEMENTSOF(presets); i++)
		if (strcasecmp(name, presets[i].name) == 0) {
			*ret_rate = presets[i].rate;
			return 0;
		}
	return -ENOENT;
}

int shaper_parse_rate(const char *s, uint64_t *ret_rate)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	if (shaper_preset(s, &v) == 0) {
		*ret_rate = v;
		return 0;
	}
	r = parse_rate(s, &v);
	if (r < 0)
		return r;
	if (v < SHAPER_RATE_MIN || v > SHAPER_RATE_MAX)
		return -ERANGE;
	*ret_rate = v;
	return 0;
}

void shaper_format_rate(uint64_t rate, char *buf, size_t size)
{
	double bits = (double)rate * 8.0;

	if (bits >= 1e9)
		snprintf(buf, size, "%.4gGbit", bits / 1e9);
	else if (bits >= 1e6)
		snprintf(buf, size, "%.4gMbit", bits / 1e6);
	else if (bits >= 1e3)
		snprintf(buf, size, "%.4gKbit", bits / 1e3);
	else
		snprintf(buf, size, "%.4gbit", bits);
}

int shaper_size_class(uint64_t rate, uint32_t mtu, struct shaper_sizing *ret)
{
	uint64_t frame, burst, quantum;
	double frame_us, target;

	if (rate == 0 || mtu < 68 || mtu > 65535)
		return -EINVAL;
	frame = (uint64_t)mtu + L2_HEADER;
	/* The bucket must hold the largest packet plus the tokens that accrue while the qdisc
	 * waits to be woken (HTB's watchdog is an hrtimer, dequeue runs from softirq): tokens
	 * beyond the bucket are lost, and the class then falls short of its rate. TCP sizes
	 * GSO packets to ~1 ms of its rate, at least 2 segments: so 2 ms of rate (1 for the
	 * packet, 1 for wake-up slack) plus 3 frames (the 2-segment packet and one spare).
	 * 1 Mbit/s: 4792 B (38 ms); 5.85 Mbit/s: 6004 B; 1 Gbit/s: 254542 B (2 ms). */
	burst = rate * BURST_USEC / 1000000u + 3 * frame;
	if (burst > UINT32_MAX)
		return -ERANGE;
	/* DRR quantum among siblings: HTB warns outside [MTU, 200000]. */
	quantum = rate / R2Q;
	if (quantum < frame)
		quantum = frame;
	if (quantum > QUANTUM_MAX)
		quantum = QUANTUM_MAX;
	/* CoDel's 5 ms target is shorter than one frame's transmit time below ~2.4 Mbit/s; then
	 * it would drop on every standing packet. RFC 8289 §4.4: target >= 1-2 MTU times. */
	frame_us = (double)frame * 1e6 / (double)rate;
	target = fmax(5000.0, 1.5 * frame_us);
	if (target > 1e6)
		target = 1e6;
	ret->burst = (uint32_t)burst;
	ret->cburst = (uint32_t)burst;
	ret->quantum = (uint32_t)quantum;
	ret->target_us = (uint32_t)ceil(target);
	ret->interval_us = (uint32_t)fmax(100000.0, 20.0 * ceil(target));
	/* Fallback FIFO: 100 ms at the rate in frames, 32..10000 packets. */
	ret->fifo_limit = (uint32_t)(rate / 10 / frame);
	if (ret->fifo_limit < 32)
		ret->fifo_limit = 32;
	if (ret->fifo_limit > 10000)
		ret->fifo_limit = 10000;
	return 0;
}

int shaper_alloc_minor(const uint32_t *used, size_t n_used, uint32_t *ret_minor)
{
	for (uint32_t m = SHAPER_MINOR_FIRST; m <= SHAPER_MINOR_LAST; m++) {
		bool taken = false;
		for (size_t i = 0; i < n_used && !taken; i++)
			taken = used[i] == m;
		if (!taken) {
			*ret_minor = m;
			return 0;
		}
	}
	return -ENOSPC;
}

uint64_t shaper_default_rate(uint64_t parent_rate, uint64_t sum_task_rates)
{
	uint64_t floor = parent_rate / 100;

	if (floor < SHAPER_RATE_MIN)
		floor = SHAPER_RATE_MIN;
	if (sum_task_rates + floor >= parent_rate)
		return floor;
	return parent_rate - sum_task_rates;
}

/* ---- cgroups and addresses ------------------------------------------------------------- */

int shaper_cgroup_id(const char *path, uint64_t *ret_id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh.handle_bytes = sizeof(uint64_t)};
	struct statfs sfs;
	struct stat st;
	int mnt_id;

	if (!path || !*path)
		return -EINVAL;
	if (stat(path, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (statfs(path, &sfs) < 0)
		return negative_errno();
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	/* The kernfs file handle is the 64-bit cgroup id bpf_skb_cgroup_id() returns. */
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mnt_id, 0) < 0) {
		*ret_id = (uint64_t)st.st_ino;
		return 0;
	}
	memcpy(ret_id, h.fh.f_handle, sizeof(uint64_t));
	return 0;
}

int shaper_cgroup_path(const char *mount_path, uint64_t id, char **ret_path)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh.handle_bytes = sizeof(uint64_t), .fh.handle_type = 0xfe /* FILEID_KERNFS */};
	_cleanup_close_ int mfd = -1, fd = -1;
	char proc[64], buf[4096];
	ssize_t n;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	mfd = open(mount_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return negative_errno();
	fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, sizeof(buf) - 1);
	if (n < 0)
		return negative_errno();
	buf[n] = '\0';
	*ret_path = strdup(buf);
	return *ret_path ? 0 : -ENOMEM;
}

int shaper_match_source(const char *addr, struct shaper_match *ret)
{
	struct shaper_match m = {.kind = SHAPER_MATCH_SOURCE};

	if (!addr)
		return -EINVAL;
	if (inet_pton(AF_INET, addr, m.addr) == 1)
		m.family = AF_INET;
	else if (inet_pton(AF_INET6, addr, m.addr) == 1)
		m.family = AF_INET6;
	else
		return -EINVAL;
	*ret = m;
	return 0;
}

/* ---- netlink plumbing ------------------------------------------------------------------ */

/* libnl returns -NLE_*; everything above this file sees -errno. */
static int nl_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NODEV:
		return -ENODEV;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_MSG_TOOSHORT:
	case NLE_MSG_TRUNC:
	case NLE_PARSE_ERR:
		return -EBADMSG;
	default:
		return -EIO;
	}
}

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
};

static int dump_cb(struct nl_msg *msg, void *arg)
{
	struct root_info *ri = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct tcmsg *tcm = nlmsg_data(nlh);
	struct nlattr *tb[TCA_MAX + 1];

	if (nlmsg_parse(nlh, sizeof(*tcm), tb, TCA_MAX, NULL) < 0 ||
	    tcm->tcm_ifindex != ri->ifindex)
		return NL_OK;
	if (nlh->nlmsg_type == RTM_NEWTCLASS) {
		if (ri->found && TC_H_MAJ(tcm->tcm_handle) == TC_H_MAJ(ri->handle))
			ri->classes++;
		return NL_OK;
	}
	if (tcm->tcm_parent == TC_H_INGRESS) /* ingress and clsact: not ours to touch */
		return NL_OK;
	if (tcm->tcm_parent != TC_H_ROOT) {
		ri->children++;
		return NL_OK;
	}
	ri->found = true;
	ri->handle = tcm->tcm_handle;
	if (tb[TCA_KIND])
		snprintf(ri->kind, sizeof(ri->kind), "%s", (const char *)nla_data(tb[TCA_KIND]));
	if (tb[TCA_OPTIONS]) {
		struct nlattr *o = tb[TCA_OPTIONS];
		if ((size_t)nla_len(o) > sizeof(ri->opts)) {
			ri->opts_too_big = true;
		} else {
			ri->opts_type = o->nla_type;
			ri->opts_len = (uint32_t)nla_len(o);
			memcpy(ri->opts, nla_data(o), ri->opts_len);
		}
	}
	return NL_OK;
}

static int dump(struct nl_sock *nl, int type, int ifindex, struct root_info *ri)
{
	struct tcmsg tcm = {.tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex};
	struct nl_cb *cb = nl_cb_alloc(NL_CB_DEFAULT);
	int r;

	if (!cb)
		return -ENOMEM;
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_cb, ri);
	r = nl_send_simple(nl, type, NLM_F_DUMP, &tcm, sizeof(tcm));
	if (r >= 0)
		r = nl_recvmsgs(nl, cb);
	nl_cb_put(cb);
	return nl_errno(r);
}

/* The root qdisc as raw netlink (kind + TCA_OPTIONS bytes), and what hangs below it. */
static int read_root(struct shaper *s, struct root_info *ret)
{
	struct root_info ri = {.ifindex = s->ifindex};
	int r;

	r = dump(s->nl, RTM_GETQDISC, s->ifindex, &ri);
	if (r < 0)
		return r;
	if (ri.found && ri.handle != 0) {
		r = dump(s->nl, RTM_GETTCLASS, s->ifindex, &ri);
		if (r < 0)
			return r;
	}
	*ret = ri;
	return 0;
}

static int tc_msg(int type, int flags, int ifindex, uint32_t parent, uint32_t handle,
		  struct nl_msg **ret)
{
	struct tcmsg tcm = {.tcm_family = AF_UNSPEC,
			    .tcm_ifindex = ifindex,
			    .tcm_parent = parent,
			    .tcm_handle = handle};
	struct nl_msg *m = nlmsg_alloc_simple(type, flags);

	if (!m)
		return -ENOMEM;
	if (nlmsg_append(m, &tcm, sizeof(tcm), NLMSG_ALIGNTO) < 0) {
		nlmsg_free(m);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

/* Puts back the root qdisc saved in sv: deleting ours brings back the kernel's default
 * (noqueue, pfifo_fast, mq + children, or net.core.default_qdisc); a configured root is
 * re-created from its own dumped options, which every classless qdisc accepts as input. */
static int put_back(struct shaper *s, const struct shaper_saved *sv)
{
	struct nl_msg *m = NULL;
	int r;

	if (sv->magic != SHAPER_SAVED_MAGIC || sv->handle == 0) {
		r = tc_msg(RTM_DELQDISC, NLM_F_REQUEST, s->ifindex, TC_H_ROOT, 0, &m);
		if (r < 0)
			return r;
	} else {
		r = tc_msg(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE, s->ifindex,
			   TC_H_ROOT, sv->handle, &m);
		if (r < 0)
			return r;
		if (nla_put_string(m, TCA_KIND, sv->kind) < 0 ||
		    (sv->opts_len &&
		     nla_put(m, (int)sv->opts_type, (int)sv->opts_len, sv->opts) < 0)) {
			nlmsg_free(m);
			return -EMSGSIZE;
		}
	}
	r = nl_send_sync(s->nl, m); /* frees m */
	return nl_errno(r);
}

/* ---- BPF classifier ------------------------------------------------------------------ */

static void close_maps(struct shaper *s)
{
	int *fds[] = {&s->fd_cgroup, &s->fd_ifindex, &s->fd_source, &s->fd_saved};
	for (size_t i = 0; i < ELEMENTSOF(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

static int *map_slot(struct shaper *s, const char *name)
{
	if (!strcmp(name, "cgroup_class"))
		return &s->fd_cgroup;
	if (!strcmp(name, "ifindex_class"))
		return &s->fd_ifindex;
	if (!strcmp(name, "source_class"))
		return &s->fd_source;
	if (!strcmp(name, "saved_root"))
		return &s->fd_saved;
	return NULL;
}

static void filter_hook(const struct shaper *s, struct bpf_tc_hook *hook)
{
	memset(hook, 0, sizeof(*hook));
	hook->sz = sizeof(*hook);
	hook->ifindex = s->ifindex;
	hook->attach_point = BPF_TC_CUSTOM;
	hook->parent = TC_H_MAKE(SHAPER_MAJOR << 16, 0);
}

/* Finds the maps of the classifier attached under our root: the kernel is the only state,
 * so the CLI and a restarted daemon see the same thing. */
static int adopt_maps(struct shaper *s)
{
	struct bpf_tc_hook hook;
	struct bpf_tc_opts opts = {
	    .sz = sizeof(opts), .handle = FILTER_HANDLE, .priority = FILTER_PRIO};
	struct bpf_prog_info info = {};
	uint32_t ids[16], len = sizeof(info);
	_cleanup_close_ int pfd = -1;
	int r;

	filter_hook(s, &hook);
	r = bpf_tc_query(&hook, &opts);
	if (r < 0)
		return r;
	pfd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (pfd < 0)
		return negative_errno();
	info.nr_map_ids = ELEMENTSOF(ids);
	info.map_ids = (uint64_t)(uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len) < 0)
		return negative_errno();
	for (uint32_t i = 0; i < info.nr_map_ids && i < ELEMENTSOF(ids); i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(ids[i]), *slot;

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) < 0 || !(slot = map_slot(s, mi.name)) ||
		    *slot >= 0) {
			close(fd);
			continue;
		}
		*slot = fd;
	}
	if (s->fd_cgroup < 0 || s->fd_ifindex < 0 || s->fd_source < 0 || s->fd_saved < 0) {
		close_maps(s);
		return -ENOENT;
	}
	return 0;
}

/* Creates the cls_bpf filter by hand: libbpf's bpf_tc_attach() can attach under any parent
 * (BPF_TC_CUSTOM) but cannot set TCA_BPF_CLASSID, and the class a direct-action program
 * picks is TC_H_MAJ(filter classid) | skb->tc_classid, where tc_classid is stored in a
 * 16-bit field (qdisc_skb_cb): the major e5 must come from the filter. */
static int put_filter(struct shaper *s, int prog_fd)
{
	struct nl_msg *m = NULL;
	struct nlattr *opts;
	int r;

	/* EXCL: two processes repairing/installing at once must not replace each other's maps. */
	r = tc_msg(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, s->ifindex,
		   TC_H_MAKE(SHAPER_MAJOR << 16, 0), FILTER_HANDLE, &m);
	if (r < 0)
		return r;
	((struct tcmsg *)nlmsg_data(nlmsg_hdr(m)))->tcm_info =
	    TC_H_MAKE(FILTER_PRIO << 16, htons(ETH_P_ALL));
	if (nla_put_string(m, TCA_KIND, "bpf") < 0 || !(opts = nla_nest_start(m, TCA_OPTIONS)) ||
	    nla_put_u32(m, TCA_BPF_FD, (uint32_t)prog_fd) < 0 ||
	    nla_put_string(m, TCA_BPF_NAME, "edgeslice_shaper") < 0 ||
	    nla_put_u32(m, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT) < 0 ||
	    nla_put_u32(m, TCA_BPF_CLASSID, TC_H_MAKE(SHAPER_MAJOR << 16, 0)) < 0 ||
	    nla_nest_end(m, opts) < 0) {
		nlmsg_free(m);
		return -EMSGSIZE;
	}
	return nl_errno(nl_send_sync(s->nl, m));
}

/* Loads the classifier with sv in saved_root and attaches it under our root qdisc. */
static int attach_filter(struct shaper *s, const struct shaper_saved *sv)
{
	struct shaper_bpf *skel = NULL;
	uint32_t zero = 0;
	int r;

	skel = shaper_bpf__open_and_load();
	if (!skel)
		return negative_errno();
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.saved_root), &zero, sv, BPF_ANY) < 0) {
		r = negative_errno();
		goto out;
	}
	r = put_filter(s, bpf_program__fd(skel->progs.shaper_classify));
	if (r == -EEXIST) {
		/* Someone else's filter won: use its maps (and its saved root). */
		r = adopt_maps(s);
		goto out;
	}
	if (r < 0)
		goto out;
	close_maps(s);
	s->fd_cgroup = fcntl(bpf_map__fd(skel->maps.cgroup_class), F_DUPFD_CLOEXEC, 3);
	s->fd_ifindex = fcntl(bpf_map__fd(skel->maps.ifindex_class), F_DUPFD_CLOEXEC, 3);
	s->fd_source = fcntl(bpf_map__fd(skel->maps.source_class), F_DUPFD_CLOEXEC, 3);
	s->fd_saved = fcntl(bpf_map__fd(skel->maps.saved_root), F_DUPFD_CLOEXEC, 3);
	r = (s->fd_cgroup < 0 || s->fd_ifindex < 0 || s->fd_source < 0 || s->fd_saved < 0) ? -EMFILE
											   : 0;
out:
	shaper_bpf__destroy(skel); /* the attached filter keeps program and maps alive */
	return r;
}

static int match_map(struct shaper *s, const struct shaper_match *m, int *ret_fd, void *key,
		     size_t *ret_len)
{
	switch (m->kind) {
	case SHAPER_MATCH_CGROUP:
		memcpy(key, &m->cgroup_id, sizeof(uint64_t));
		*ret_len = sizeof(uint64_t);
		*ret_fd = s->fd_cgroup;
		break;
	case SHAPER_MATCH_IFINDEX:
		memcpy(key, &m->ifindex, sizeof(uint32_t));
		*ret_len = sizeof(uint32_t);
		*ret_fd = s->fd_ifindex;
		break;
	case SHAPER_MATCH_SOURCE: {
		struct shaper_src_key k = {.family = (uint32_t)m->family};
		if (m->family != AF_INET && m->family != AF_INET6)
			return -EAFNOSUPPORT;
		memcpy(k.addr, m->addr, m->family == AF_INET ? 4 : 16);
		memcpy(key, &k, sizeof(k));
		*ret_len = sizeof(k);
		*ret_fd = s->fd_source;
		break;
	}
	default:
		return -EINVAL;
	}
	return *ret_fd >= 0 ? 0 : -ENOENT;
}

static int lookup_match(struct shaper *s, const struct shaper_match *m, uint32_t *ret_classid)
{
	uint8_t key[sizeof(struct shaper_src_key)];
	size_t len;
	uint32_t v;
	int fd, r = match_map(s, m, &fd, key, &len);

	if (r < 0)
		return r;
	if (bpf_map_lookup_elem(fd, key, &v) < 0)
		return negative_errno();
	*ret_classid = v;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static uint64_t link_speed(const char *ifname)
{
	struct ethtool_cmd ecmd = {.cmd = ETHTOOL_GSET};
	struct ifreq ifr = {};
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	uint32_t mbit;

	if (fd < 0)
		return 0;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ecmd;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		return 0;
	mbit = ethtool_cmd_speed(&ecmd);
	if (mbit == 0 || mbit == (uint32_t)SPEED_UNKNOWN)
		return 0;
	return (uint64_t)mbit * 125000u;
}

static int read_class(struct shaper *s, uint32_t classid, uint64_t *ret_rate);

static int refresh(struct shaper *s)
{
	int r = read_root(s, &s->root);

	if (r < 0)
		return r;
	s->active = s->root.found && s->root.handle == TC_H_MAKE(SHAPER_MAJOR << 16, 0) &&
		    !strcmp(s->root.kind, "htb");
	if (s->active) {
		uint64_t rate;
		if (read_class(s, SHAPER_CLASSID(SHAPER_MINOR_PARENT), &rate) == 0)
			s->parent_rate = rate;
		if (s->fd_cgroup < 0)
			(void)adopt_maps(s); /* missing filter: repaired by the next change */
	} else {
		close_maps(s);
	}
	return 0;
}

int shaper_open(const char *ifname, uint64_t link_rate, struct shaper **ret)
{
	struct shaper *s;
	struct rtnl_link *link = NULL;
	int r;

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE || strchr(ifname, '/'))
		return -EINVAL;
	if (link_rate && (link_rate < SHAPER_RATE_MIN || link_rate > SHAPER_RATE_MAX))
		return -ERANGE;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd_cgroup = s->fd_ifindex = s->fd_source = s->fd_saved = -1;
	snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
	s->nl = nl_socket_alloc();
	if (!s->nl) {
		r = -ENOMEM;
		goto fail;
	}
	r = nl_errno(nl_connect(s->nl, NETLINK_ROUTE));
	if (r < 0)
		goto fail;
	r = rtnl_link_get_kernel(s->nl, 0, ifname, &link);
	if (r < 0) {
		r = nl_errno(r);
		if (r == -ENOENT || r == -EINVAL)
			r = -ENODEV;
		goto fail;
	}
	s->ifindex = rtnl_link_get_ifindex(link);
	s->mtu = rtnl_link_get_mtu(link);
	if (rtnl_link_get_gso_max_size(link, &s->gso_max_size) < 0)
		s->gso_max_size = 0;
	rtnl_link_put(link);
	if (s->mtu < 68)
		s->mtu = 1500;
	s->link_rate = link_rate ? link_rate : link_speed(ifname);
	if (!s->link_rate)
		s->link_rate = SHAPER_LINK_RATE_FALLBACK;
	if (s->link_rate > SHAPER_RATE_MAX)
		s->link_rate = SHAPER_RATE_MAX;
	s->parent_rate = s->link_rate;
	r = refresh(s);
	if (r < 0)
		goto fail;
	*ret = s;
	return 0;
fail:
	shaper_free(s);
	return r;
}

void shaper_free(struct shaper *s)
{
	if (!s)
		return;
	close_maps(s);
	if (s->nl)
		nl_socket_free(s->nl);
	free(s);
}

bool shaper_is_active(const struct shaper *s)
{
	return s->active;
}
const char *shaper_root_kind(const struct shaper *s)
{
	return s->root.found ? s->root.kind : "";
}
uint64_t shaper_parent_rate(const struct shaper *s)
{
	return s->parent_rate;
}
int shaper_ifindex(const struct shaper *s)
{
	return s->ifindex;
}

/* ---- classes ------------------------------------------------------------------------- */

static int put_leaf(struct shaper *s, uint32_t classid, const char *kind,
		    const struct shaper_sizing *z)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int r;

	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), s->ifindex);
	rtnl_tc_set_parent(TC_CAST(q), classid);
	rtnl_tc_set_handle(TC_CAST(q), 0); /* kernel picks a free handle */
	r = rtnl_tc_set_kind(TC_CAST(q), kind);
	if (r >= 0 && !strcmp(kind, "fq_codel")) {
		r = rtnl_qdisc_fq_codel_set_target(q, z->target_us);
		if (r >= 0)
			r = rtnl_qdisc_fq_codel_set_interval(q, z->interval_us);
	} else if (r >= 0) {
		r = rtnl_qdisc_fifo_set_limit(q, (int)z->fifo_limit);
	}
	/* CREATE|REPLACE: grafts over HTB's default leaf (another kind), changes ours in place. */
	if (r >= 0)
		r = rtnl_qdisc_add(s->nl, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return nl_errno(r);
}

/* excl: fail with -EEXIST instead of changing a class that exists (a concurrent allocation
 * of the same id by another edgeslice process). */
static int put_class_flags(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
			   uint64_t ceil_rate, bool with_leaf, bool excl)
{
	struct shaper_sizing zr, zc;
	struct rtnl_class *c = NULL;
	int r;

	r = shaper_size_class(rate, s->mtu, &zr);
	if (r < 0)
		return r;
	r = shaper_size_class(ceil_rate, s->mtu, &zc);
	if (r < 0)
		return r;
	c = rtnl_class_alloc();
	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), s->ifindex);
	rtnl_tc_set_parent(TC_CAST(c), parent);
	rtnl_tc_set_handle(TC_CAST(c), classid);
	rtnl_tc_set_mtu(TC_CAST(c), s->mtu + L2_HEADER);
	r = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (r >= 0)
		r = rtnl_htb_set_rate64(c, rate);
	if (r >= 0)
		r = rtnl_htb_set_ceil64(c, ceil_rate);
	if (r >= 0)
		r = rtnl_htb_set_rbuffer(c, zr.burst);
	if (r >= 0)
		r = rtnl_htb_set_cbuffer(c, zc.cburst);
	if (r >= 0)
		r = rtnl_htb_set_quantum(c, zr.quantum);
	if (r >= 0)
		r = rtnl_htb_set_prio(c, 0);
	if (r >= 0)
		r = rtnl_class_add(s->nl, c, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0));
	rtnl_class_put(c);
	if (r < 0 || !with_leaf)
		return nl_errno(r);

	/* fq_codel per class: flows of one task share its rate fairly and the standing queue
	 * stays short. Re-created on a rate change because target/interval depend on the rate.
	 * Kernels without fq_codel (the kernel says ENOENT: "kind unknown") get a pfifo sized
	 * to ~100 ms at the class rate instead of HTB's tx_queue_len-deep default. */
	if (!s->no_fq_codel) {
		r = put_leaf(s, classid, "fq_codel", &zr);
		if (r != -ENOENT)
			return r;
		s->no_fq_codel = true;
	}
	return put_leaf(s, classid, "pfifo", &zr);
}

static int put_class(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
		     uint64_t ceil_rate, bool with_leaf)
{
	return put_class_flags(s, classid, parent, rate, ceil_rate, with_leaf, false);
}

static int del_class(struct shaper *s, uint32_t classid)
{
	struct rtnl_class *c = rtnl_class_alloc();
	int r;

	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), s->ifindex);
	rtnl_tc_set_handle(TC_CAST(c), classid);
	rtnl_tc_set_parent(TC_CAST(c), SHAPER_CLASSID(SHAPER_MINOR_PARENT));
	r = rtnl_class_delete(s->nl, c);
	rtnl_class_put(c);
	return nl_errno(r);
}

struct class_list {
	struct shaper_class *v;
	size_t n, cap;
	int error;
};

static void collect_class(struct nl_object *obj, void *arg)
{
	struct class_list *l = arg;
	struct rtnl_class *c = (struct rtnl_class *)obj;
	struct shaper_class *e;
	uint32_t id = rtnl_tc_get_handle(TC_CAST(c));

	if (l->error || TC_H_MAJ(id) != (SHAPER_MAJOR << 16))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct shaper_class *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv) {
			l->error = -ENOMEM;
			return;
		}
		l->v = nv;
		l->cap = cap;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->classid = id;
	e->parent = rtnl_tc_get_parent(TC_CAST(c));
	(void)rtnl_htb_get_rate64(c, &e->rate);
	(void)rtnl_htb_get_ceil64(c, &e->ceil);
	e->burst = rtnl_htb_get_rbuffer(c);
	e->quantum = rtnl_htb_get_quantum(c);
	e->bytes = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_BYTES);
	e->packets = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_PACKETS);
	e->drops = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_DROPS);
	e->overlimits = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_OVERLIMITS);
	e->qlen = (uint32_t)rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_QLEN);
	e->backlog = (uint32_t)rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_BACKLOG);
	e->is_task = TC_H_MIN(id) >= SHAPER_MINOR_FIRST;
}

static void add_leaf_drops(struct nl_object *obj, void *arg)
{
	struct class_list *l = arg;
	struct rtnl_qdisc *q = (struct rtnl_qdisc *)obj;
	uint32_t parent = rtnl_tc_get_parent(TC_CAST(q));

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].classid == parent)
			l->v[i].drops += rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_DROPS);
}

static int list_classes(struct shaper *s, bool with_leaves, struct class_list *ret)
{
	struct nl_cache *cache = NULL;
	struct class_list l = {};
	int r;

	uint64_t t0 = now_nsec(), t1;

	r = rtnl_class_alloc_cache(s->nl, s->ifindex, &cache);
	if (r < 0)
		return nl_errno(r);
	t1 = now_nsec();
	nl_cache_foreach(cache, collect_class, &l);
	for (size_t i = 0; i < l.n; i++)
		l.v[i].sampled_ns = t0 + (t1 - t0) / 2;
	nl_cache_free(cache);
	if (!l.error && with_leaves) {
		r = rtnl_qdisc_alloc_cache(s->nl, &cache);
		if (r < 0) {
			free(l.v);
			return nl_errno(r);
		}
		/* The qdisc cache spans every device; parents are only unique per device. */
		struct rtnl_qdisc *filt = rtnl_qdisc_alloc();
		if (filt) {
			rtnl_tc_set_ifindex(TC_CAST(filt), s->ifindex);
			nl_cache_foreach_filter(cache, OBJ_CAST(filt), add_leaf_drops, &l);
			rtnl_qdisc_put(filt);
		}
		nl_cache_free(cache);
	}
	if (l.error) {
		free(l.v);
		return l.error;
	}
	*ret = l;
	return 0;
}

static int read_class(struct shaper *s, uint32_t classid, uint64_t *ret_rate)
{
	struct class_list l;
	int r = list_classes(s, false, &l);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].classid == classid) {
			*ret_rate = l.v[i].rate;
			r = 0;
		}
	free(l.v);
	return r;
}

/* Default class gets what the task classes leave (at least 1 %), borrowing up to the parent. */
static int update_default(struct shaper *s)
{
	struct class_list l;
	uint64_t sum = 0;
	int r = list_classes(s, false, &l);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_task)
			sum += l.v[i].rate;
	free(l.v);
	return put_class(s, SHAPER_CLASSID(SHAPER_MINOR_DEFAULT),
			 SHAPER_CLASSID(SHAPER_MINOR_PARENT),
			 shaper_default_rate(s->parent_rate, sum), s->parent_rate, false);
}

static int max_task_rate(struct shaper *s, uint64_t *ret)
{
	struct class_list l;
	uint64_t mx = 0;
	int r = list_classes(s, false, &l);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_task && l.v[i].rate > mx)
			mx = l.v[i].rate;
	free(l.v);
	*ret = mx;
	return 0;
}

/* GSO cap. HTB charges a GSO super-packet (up to 64 kB) as one packet: at 1 Mbit/s that
 * is half a second of line time in one dequeue, and measured here it let a 1.1 Mbit/s class
 * run 5-10 % fast. While tasks are shaped, the uplink's gso_max_size is lowered so that one
 * packet is at most ~1 ms of the slowest task class (never below two frames); sockets
 * connected afterwards build packets that small. The device's own value is saved with the
 * root qdisc and put back by shaper_restore(). */
uint32_t shaper_gso_cap(uint64_t slowest_rate, uint32_t mtu, uint32_t orig)
{
	uint64_t cap, two = 2 * ((uint64_t)mtu + L2_HEADER);

	if (!orig)
		return 0;
	if (!slowest_rate)
		return orig;
	cap = slowest_rate / 1000u;
	if (cap < two)
		cap = two;
	return cap < orig ? (uint32_t)cap : orig;
}

static int set_gso_max_size(struct shaper *s, uint32_t size)
{
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = s->ifindex};
	struct nl_msg *m;
	int r;

	if (!size || size == s->gso_max_size)
		return 0;
	m = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_REQUEST);
	if (!m)
		return -ENOMEM;
	if (nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(m, IFLA_GSO_MAX_SIZE, size) < 0) {
		nlmsg_free(m);
		return -EMSGSIZE;
	}
	r = nl_errno(nl_send_sync(s->nl, m));
	if (r == 0)
		s->gso_max_size = size;
	return r;
}

static uint32_t saved_gso(struct shaper *s)
{
	struct shaper_saved sv;
	uint32_t zero = 0;

	if (s->fd_saved < 0 || bpf_map_lookup_elem(s->fd_saved, &zero, &sv) < 0 ||
	    sv.magic != SHAPER_SAVED_MAGIC)
		return 0;
	return sv.gso_max_size;
}

/* Re-derives the GSO cap from the task classes now present. */
static int update_gso(struct shaper *s)
{
	struct class_list l;
	uint64_t slowest = 0;
	int r = list_classes(s, false, &l);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_task && (!slowest || l.v[i].rate < slowest))
			slowest = l.v[i].rate;
	free(l.v);
	return set_gso_max_size(s, shaper_gso_cap(slowest, s->mtu, saved_gso(s)));
}

/* A configured root can be put back from its own options unless it carries state kept
 * elsewhere: grafted child qdiscs, or classes of a qdisc whose classes users create (tbf,
 * prio, mq... have built-in classes that come back with the options). */
static bool root_restorable(const struct root_info *ri)
{
	static const char *const user_classes[] = {"htb", "hfsc", "drr", "qfq", "cbq", "atm"};

	if (ri->children || ri->opts_too_big)
		return false;
	for (size_t i = 0; i < ELEMENTSOF(user_classes); i++)
		if (!strcmp(ri->kind, user_classes[i]))
			return ri->classes == 0;
	return true;
}

int shaper_setup(struct shaper *s, uint64_t parent_rate)
{
	struct shaper_saved sv = {.magic = SHAPER_SAVED_MAGIC};
	struct rtnl_qdisc *q = NULL;
	bool fresh = false;
	int r;

	if (parent_rate && (parent_rate < SHAPER_RATE_MIN || parent_rate > SHAPER_RATE_MAX))
		return -ERANGE;
	r = refresh(s);
	if (r < 0)
		return r;
	if (s->active && parent_rate) {
		uint64_t mx;
		r = max_task_rate(s, &mx);
		if (r < 0)
			return r;
		if (mx > parent_rate)
			return -ERANGE; /* would leave a task above the whole link */
	}
	if (!s->active) {
		/* Only what can be put back exactly is replaced (see put_back). */
		if (s->root.found && s->root.handle != 0 && !root_restorable(&s->root))
			return -EBUSY;
		if (s->root.found && s->root.handle != 0) {
			sv.handle = s->root.handle;
			snprintf(sv.kind, sizeof(sv.kind), "%s", s->root.kind);
			sv.opts_type = s->root.opts_type;
			sv.opts_len = s->root.opts_len;
			memcpy(sv.opts, s->root.opts, s->root.opts_len);
		}
		s->parent_rate = parent_rate ? parent_rate : s->link_rate;
		sv.parent_rate = s->parent_rate;
		sv.gso_max_size = s->gso_max_size;

		q = rtnl_qdisc_alloc();
		if (!q)
			return -ENOMEM;
		rtnl_tc_set_ifindex(TC_CAST(q), s->ifindex);
		rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
		rtnl_tc_set_handle(TC_CAST(q), TC_H_MAKE(SHAPER_MAJOR << 16, 0));
		r = rtnl_tc_set_kind(TC_CAST(q), "htb");
		if (r >= 0)
			r = rtnl_htb_set_defcls(q, SHAPER_MINOR_DEFAULT);
		if (r >= 0)
			r = rtnl_htb_set_rate2quantum(q, R2Q);
		/* EXCL: if another edgeslice process installed e5: meanwhile, adopt it. */
		if (r >= 0)
			r = rtnl_qdisc_add(s->nl, q, NLM_F_CREATE | NLM_F_REPLACE | NLM_F_EXCL);
		rtnl_qdisc_put(q);
		r = nl_errno(r);
		if (r == -EEXIST) {
			r = refresh(s);
			if (r < 0)
				return r;
			if (!s->active)
				return -EBUSY;
		} else if (r < 0) {
			return r;
		} else {
			fresh = true;
			s->active = true;
		}
	}
	if (!fresh && parent_rate)
		s->parent_rate = parent_rate;

	if (fresh || parent_rate) {
		r = put_class(s, SHAPER_CLASSID(SHAPER_MINOR_PARENT),
			      TC_H_MAKE(SHAPER_MAJOR << 16, 0), s->parent_rate, s->parent_rate,
			      false);
		if (r >= 0 && fresh)
			r = put_class(s, SHAPER_CLASSID(SHAPER_MINOR_DEFAULT),
				      SHAPER_CLASSID(SHAPER_MINOR_PARENT),
				      shaper_default_rate(s->parent_rate, 0), s->parent_rate, true);
		else if (r >= 0)
			r = update_default(s);
		if (r < 0)
			goto fail;
	}
	if (!fresh && s->fd_cgroup < 0) {
		/* Either another process is between creating the root and attaching its filter
		 * (give it a moment), or one crashed there. */
		for (int i = 0; i < 100 && s->fd_cgroup < 0; i++) {
			usleep(10000);
			(void)adopt_maps(s);
		}
	}
	if (fresh || s->fd_cgroup < 0) {
		/* A tree still without its filter is a crashed setup: its saved root is lost, so
		 * the repaired filter records the kernel default (sv.handle 0). */
		if (!fresh)
			sv.parent_rate = s->parent_rate;
		r = attach_filter(s, &sv);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	if (fresh) {
		(void)put_back(s, &sv);
		s->active = false;
		close_maps(s);
	}
	return r;
}

int shaper_set_rate(struct shaper *s, const struct shaper_match *m, uint64_t rate,
		    uint32_t *ret_classid)
{
	uint8_t key[sizeof(struct shaper_src_key)];
	struct class_list l = {};
	uint32_t classid = 0, minor, *used = NULL;
	bool was_active, created = false;
	size_t klen;
	int fd, r;

	if (!m || rate < SHAPER_RATE_MIN || rate > SHAPER_RATE_MAX)
		return -ERANGE;
	if (m->kind == SHAPER_MATCH_SOURCE && m->family != AF_INET && m->family != AF_INET6)
		return -EAFNOSUPPORT;
	r = refresh(s);
	if (r < 0)
		return r;
	if (rate > (s->active ? s->parent_rate : s->link_rate))
		return -ERANGE;
	was_active = s->active;
	r = shaper_setup(s, 0);
	if (r < 0)
		return r;

	if (lookup_match(s, m, &classid) == 0) {
		r = put_class(s, classid, SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate, true);
		if (r < 0)
			goto fail;
	} else {
		/* No lock between edgeslice processes: the kernel arbitrates. EXCL makes a
		 * concurrent taker of the same minor fail here, and we pick the next one. */
		for (int attempt = 0;; attempt++) {
			free(l.v);
			free(used);
			l = (struct class_list){};
			used = NULL;
			r = list_classes(s, false, &l);
			if (r < 0)
				goto fail;
			used = calloc(l.n ? l.n : 1, sizeof(*used));
			if (!used) {
				r = -ENOMEM;
				goto fail;
			}
			for (size_t i = 0; i < l.n; i++)
				used[i] = TC_H_MIN(l.v[i].classid);
			r = shaper_alloc_minor(used, l.n, &minor);
			if (r < 0)
				goto fail;
			r = put_class_flags(s, SHAPER_CLASSID(minor),
					    SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate, false,
					    true);
			if (r == -EEXIST && attempt < 8)
				continue;
			if (r < 0)
				goto fail;
			classid = SHAPER_CLASSID(minor);
			created = true;
			break;
		}
		r = put_class(s, classid, SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate, true);
		if (r < 0)
			goto fail;
	}
	if (created) {
		r = match_map(s, m, &fd, key, &klen);
		if (r >= 0 && bpf_map_update_elem(fd, key, &classid, BPF_NOEXIST) < 0)
			r = negative_errno();
		if (r < 0)
			goto fail;
	}
	r = update_default(s);
	if (r >= 0)
		r = update_gso(s);
	if (r < 0)
		goto fail;
	free(l.v);
	free(used);
	if (ret_classid)
		*ret_classid = classid;
	return 0;
fail:
	if (created && classid)
		(void)del_class(s, classid);
	if (!was_active)
		(void)shaper_restore(s);
	free(l.v);
	free(used);
	return r;
}

int shaper_unset(struct shaper *s, const struct shaper_match *m)
{
	uint8_t key[sizeof(struct shaper_src_key)];
	uint32_t classid;
	size_t klen;
	int fd, r;

	r = refresh(s);
	if (r < 0)
		return r;
	if (!s->active)
		return -ENOENT;
	r = lookup_match(s, m, &classid);
	if (r < 0)
		return r;
	r = match_map(s, m, &fd, key, &klen);
	if (r < 0)
		return r;
	/* Stop steering first so no packet is sent to a class being deleted. */
	if (bpf_map_delete_elem(fd, key) < 0)
		return negative_errno();
	r = del_class(s, classid);
	if (r < 0 && r != -ENOENT)
		return r;
	r = update_default(s);
	return r < 0 ? r : update_gso(s);
}

int shaper_restore(struct shaper *s)
{
	struct shaper_saved sv = {};
	uint32_t zero = 0;
	int r;

	r = refresh(s);
	if (r < 0)
		return r;
	if (!s->active)
		return 0;
	if (s->fd_saved < 0 || bpf_map_lookup_elem(s->fd_saved, &zero, &sv) < 0)
		memset(&sv, 0, sizeof(sv)); /* filter never attached: kernel default */
	r = put_back(s, &sv);
	if (r < 0)
		return r;
	if (sv.magic == SHAPER_SAVED_MAGIC)
		(void)set_gso_max_size(s, sv.gso_max_size);
	close_maps(s);
	s->parent_rate = s->link_rate;
	return refresh(s);
}

static void fill_match(struct shaper *s, struct shaper_class *v, size_t n)
{
	struct shaper_src_key sk, snext;
	uint64_t ck, cnext;
	uint32_t ik, inext, classid;
	bool first;

	if (s->fd_cgroup >= 0)
		for (first = true;
		     bpf_map_get_next_key(s->fd_cgroup, first ? NULL : &ck, &cnext) == 0;
		     first = false, ck = cnext)
			if (bpf_map_lookup_elem(s->fd_cgroup, &cnext, &classid) == 0)
				for (size_t i = 0; i < n; i++)
					if (v[i].classid == classid) {
						v[i].has_match = true;
						v[i].match.kind = SHAPER_MATCH_CGROUP;
						v[i].match.cgroup_id = cnext;
					}
	if (s->fd_ifindex >= 0)
		for (first = true;
		     bpf_map_get_next_key(s->fd_ifindex, first ? NULL : &ik, &inext) == 0;
		     first = false, ik = inext)
			if (bpf_map_lookup_elem(s->fd_ifindex, &inext, &classid) == 0)
				for (size_t i = 0; i < n; i++)
					if (v[i].classid == classid) {
						v[i].has_match = true;
						v[i].match.kind = SHAPER_MATCH_IFINDEX;
						v[i].match.ifindex = inext;
					}
	if (s->fd_source >= 0)
		for (first = true;
		     bpf_map_get_next_key(s->fd_source, first ? NULL : &sk, &snext) == 0;
		     first = false, sk = snext)
			if (bpf_map_lookup_elem(s->fd_source, &snext, &classid) == 0)
				for (size_t i = 0; i < n; i++)
					if (v[i].classid == classid) {
						v[i].has_match = true;
						v[i].match.kind = SHAPER_MATCH_SOURCE;
						v[i].match.family = (int)snext.family;
						memcpy(v[i].match.addr, snext.addr, 16);
					}
}

static int cmp_class(const void *a, const void *b)
{
	uint32_t x = ((const struct shaper_class *)a)->classid,
		 y = ((const struct shaper_class *)b)->classid;
	return x < y ? -1 : x > y;
}

int shaper_list(struct shaper *s, struct shaper_class **ret, size_t *ret_n)
{
	struct class_list l;
	int r;

	r = refresh(s);
	if (r < 0)
		return r;
	if (!s->active) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	r = list_classes(s, true, &l);
	if (r < 0)
		return r;
	qsort(l.v, l.n, sizeof(*l.v), cmp_class);
	fill_match(s, l.v, l.n);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
