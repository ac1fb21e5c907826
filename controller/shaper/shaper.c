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
#include "shaper-internal.h"

/* ---- netlink plumbing ------------------------------------------------------------------ */

/* libnl returns -NLE_*; everything above this file sees -errno. */
int shaper_nl_errno(int nle)
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
	return shaper_nl_errno(r);
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

int shaper_tc_msg(int type, int flags, int ifindex, uint32_t parent, uint32_t handle,
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

static int refresh(struct shaper *s)
{
	int r = read_root(s, &s->root);

	if (r < 0)
		return r;
	s->active = s->root.found && s->root.handle == TC_H_MAKE(SHAPER_MAJOR << 16, 0) &&
		    !strcmp(s->root.kind, "htb");
	if (s->active) {
		uint64_t rate;
		if (shaper_read_class(s, SHAPER_CLASSID(SHAPER_MINOR_PARENT), &rate) == 0)
			s->parent_rate = rate;
		if (s->fd_cgroup < 0)
			(void)shaper_adopt_maps(
			    s); /* missing filter: repaired by the next change */
	} else {
		shaper_close_maps(s);
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
	s->fd_cgroup = s->fd_ifindex = s->fd_source = s->fd_saved = s->fd_levels = -1;
	snprintf(s->ifname, sizeof(s->ifname), "%s", ifname);
	s->nl = nl_socket_alloc();
	if (!s->nl) {
		r = -ENOMEM;
		goto fail;
	}
	r = shaper_nl_errno(nl_connect(s->nl, NETLINK_ROUTE));
	if (r < 0)
		goto fail;
	r = rtnl_link_get_kernel(s->nl, 0, ifname, &link);
	if (r < 0) {
		r = shaper_nl_errno(r);
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
	shaper_close_maps(s);
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
	r = shaper_nl_errno(nl_send_sync(s->nl, m));
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
	int r = shaper_list_classes(s, false, &l);

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
		r = shaper_max_task_rate(s, &mx);
		if (r < 0)
			return r;
		if (mx > parent_rate)
			return -ERANGE; /* would leave a task above the whole link */
	}
	if (!s->active) {
		/* Only what can be put back exactly is replaced (see shaper_put_back). */
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
		r = shaper_nl_errno(r);
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
		r = shaper_put_class(s, SHAPER_CLASSID(SHAPER_MINOR_PARENT),
				     TC_H_MAKE(SHAPER_MAJOR << 16, 0), s->parent_rate,
				     s->parent_rate, false);
		if (r >= 0 && fresh)
			r = shaper_put_class(s, SHAPER_CLASSID(SHAPER_MINOR_DEFAULT),
					     SHAPER_CLASSID(SHAPER_MINOR_PARENT),
					     shaper_default_rate(s->parent_rate, 0), s->parent_rate,
					     true);
		else if (r >= 0)
			r = shaper_update_default(s);
		if (r < 0)
			goto fail;
	}
	if (!fresh && s->fd_cgroup < 0) {
		/* Either another process is between creating the root and attaching its filter
		 * (give it a moment), or one crashed there. */
		for (int i = 0; i < 100 && s->fd_cgroup < 0; i++) {
			usleep(10000);
			(void)shaper_adopt_maps(s);
		}
	}
	if (fresh || s->fd_cgroup < 0) {
		/* A tree still without its filter is a crashed setup: its saved root is lost, so
		 * the repaired filter records the kernel default (sv.handle 0). */
		if (!fresh)
			sv.parent_rate = s->parent_rate;
		r = shaper_attach_filter(s, &sv);
		if (r < 0)
			goto fail;
	}
	return 0;
fail:
	if (fresh) {
		(void)shaper_put_back(s, &sv);
		s->active = false;
		shaper_close_maps(s);
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

	if (shaper_lookup_match(s, m, &classid) == 0) {
		r = shaper_put_class(s, classid, SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate,
				     true);
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
			r = shaper_list_classes(s, false, &l);
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
			r = shaper_put_class_flags(s, SHAPER_CLASSID(minor),
						   SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate,
						   false, true);
			if (r == -EEXIST && attempt < 8)
				continue;
			if (r < 0)
				goto fail;
			classid = SHAPER_CLASSID(minor);
			created = true;
			break;
		}
		r = shaper_put_class(s, classid, SHAPER_CLASSID(SHAPER_MINOR_PARENT), rate, rate,
				     true);
		if (r < 0)
			goto fail;
	}
	/* The level goes in before the match, so the first packet of a descendant finds both. */
	if (m->kind == SHAPER_MATCH_CGROUP && m->cgroup_level > 0 &&
	    m->cgroup_level < SHAPER_MAX_LEVEL && s->fd_levels >= 0) {
		uint32_t lkey = (uint32_t)m->cgroup_level, one = 1;
		if (bpf_map_update_elem(s->fd_levels, &lkey, &one, BPF_ANY) < 0) {
			r = negative_errno();
			goto fail;
		}
	}
	if (created) {
		r = shaper_match_map(s, m, &fd, key, &klen);
		if (r >= 0 && bpf_map_update_elem(fd, key, &classid, BPF_NOEXIST) < 0)
			r = negative_errno();
		if (r < 0)
			goto fail;
	}
	r = shaper_update_default(s);
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
		(void)shaper_del_class(s, classid);
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
	r = shaper_lookup_match(s, m, &classid);
	if (r < 0)
		return r;
	r = shaper_match_map(s, m, &fd, key, &klen);
	if (r < 0)
		return r;
	/* Stop steering first so no packet is sent to a class being deleted. */
	if (bpf_map_delete_elem(fd, key) < 0)
		return negative_errno();
	r = shaper_del_class(s, classid);
	if (r < 0 && r != -ENOENT)
		return r;
	r = shaper_update_default(s);
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
	r = shaper_put_back(s, &sv);
	if (r < 0)
		return r;
	if (sv.magic == SHAPER_SAVED_MAGIC)
		(void)set_gso_max_size(s, sv.gso_max_size);
	shaper_close_maps(s);
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
	r = shaper_list_classes(s, true, &l);
	if (r < 0)
		return r;
	qsort(l.v, l.n, sizeof(*l.v), cmp_class);
	fill_match(s, l.v, l.n);
	*ret = l.v;
	*ret_n = l.n;
	return 0;
}
