/* shaper-bpf.c — the cls_bpf classifier (bpf/shaper.bpf.c): its maps adopted or created and
 * pinned, the filter attached, and the task matches (cgroup id, source) written to it. */
#include "shaper-internal.h"

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

int shaper_cgroup_level_at(int dirfd, const char *path, int *ret_level)
{
	_cleanup_close_ int fd = -1;
	struct stat st, up;
	struct statfs sfs;
	int level = 0;

	fd = openat(dirfd, path && *path ? path : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
		return negative_errno();
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	/* Up through ".." until it leaves the mount (another st_dev) or stays put. */
	for (;;) {
		int pfd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (pfd < 0)
			return negative_errno();
		if (fstat(pfd, &up) < 0) {
			int r = negative_errno();
			close(pfd);
			return r;
		}
		if (up.st_dev != st.st_dev || up.st_ino == st.st_ino) {
			close(pfd);
			break;
		}
		close(fd);
		fd = pfd;
		st = up;
		if (++level >= 4096)
			return -ELOOP;
	}
	*ret_level = level;
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

/* Puts back the root qdisc saved in sv: deleting ours brings back the kernel's default
 * (noqueue, pfifo_fast, mq + children, or net.core.default_qdisc); a configured root is
 * re-created from its own dumped options, which every classless qdisc accepts as input. */
int shaper_put_back(struct shaper *s, const struct shaper_saved *sv)
{
	struct nl_msg *m = NULL;
	int r;

	if (sv->magic != SHAPER_SAVED_MAGIC || sv->handle == 0) {
		r = shaper_tc_msg(RTM_DELQDISC, NLM_F_REQUEST, s->ifindex, TC_H_ROOT, 0, &m);
		if (r < 0)
			return r;
	} else {
		r = shaper_tc_msg(RTM_NEWQDISC, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE,
				  s->ifindex, TC_H_ROOT, sv->handle, &m);
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
	return shaper_nl_errno(r);
}

/* ---- BPF classifier ------------------------------------------------------------------ */

void shaper_close_maps(struct shaper *s)
{
	int *fds[] = {&s->fd_cgroup, &s->fd_ifindex, &s->fd_source, &s->fd_saved, &s->fd_levels};
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
	if (!strcmp(name, "cgroup_levels"))
		return &s->fd_levels;
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
int shaper_adopt_maps(struct shaper *s)
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
	/* cgroup_levels may be missing (a classifier attached by an older edgeslice, kept
	 * across an upgrade): exact cgroup matches still work, descendants are not matched. */
	if (s->fd_cgroup < 0 || s->fd_ifindex < 0 || s->fd_source < 0 || s->fd_saved < 0) {
		shaper_close_maps(s);
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
	r = shaper_tc_msg(RTM_NEWTFILTER, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL, s->ifindex,
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
	return shaper_nl_errno(nl_send_sync(s->nl, m));
}

/* Loads the classifier with sv in saved_root and attaches it under our root qdisc. */
int shaper_attach_filter(struct shaper *s, const struct shaper_saved *sv)
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
		r = shaper_adopt_maps(s);
		goto out;
	}
	if (r < 0)
		goto out;
	shaper_close_maps(s);
	s->fd_cgroup = fcntl(bpf_map__fd(skel->maps.cgroup_class), F_DUPFD_CLOEXEC, 3);
	s->fd_ifindex = fcntl(bpf_map__fd(skel->maps.ifindex_class), F_DUPFD_CLOEXEC, 3);
	s->fd_source = fcntl(bpf_map__fd(skel->maps.source_class), F_DUPFD_CLOEXEC, 3);
	s->fd_saved = fcntl(bpf_map__fd(skel->maps.saved_root), F_DUPFD_CLOEXEC, 3);
	s->fd_levels = fcntl(bpf_map__fd(skel->maps.cgroup_levels), F_DUPFD_CLOEXEC, 3);
	r = (s->fd_cgroup < 0 || s->fd_ifindex < 0 || s->fd_source < 0 || s->fd_saved < 0 ||
	     s->fd_levels < 0)
		? -EMFILE
		: 0;
out:
	shaper_bpf__destroy(skel); /* the attached filter keeps program and maps alive */
	return r;
}

int shaper_match_map(struct shaper *s, const struct shaper_match *m, int *ret_fd, void *key,
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

int shaper_lookup_match(struct shaper *s, const struct shaper_match *m, uint32_t *ret_classid)
{
	uint8_t key[sizeof(struct shaper_src_key)];
	size_t len;
	uint32_t v;
	int fd, r = shaper_match_map(s, m, &fd, key, &len);

	if (r < 0)
		return r;
	if (bpf_map_lookup_elem(fd, key, &v) < 0)
		return negative_errno();
	*ret_classid = v;
	return 0;
}
