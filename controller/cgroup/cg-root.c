/* cg-root.c — the delegated subtree (struct cg_root): opened or discovered from our own
 * cgroup, controllers enabled for children, cpuset partitions. */
#include "cg-internal.h"

/* --- the delegated root ---------------------------------------------------------------- */

static bool path_is_below(const char *base, const char *path)
{
	size_t n = strlen(base);

	while (n > 1 && base[n - 1] == '/')
		n--;
	if (strncmp(base, path, n) != 0)
		return false;
	return path[n] == '\0' || path[n] == '/' || (n == 1 && base[0] == '/');
}

int cg_root_open(const char *cgroupfs_root, const char *path, struct cg_root **ret)
{
	_cleanup_(cg_root_freep) struct cg_root *r = NULL;
	_cleanup_free_ char *controllers = NULL, *subtree = NULL;
	struct statfs sfs;
	struct stat st_top, st;
	int k;

	if (!cgroupfs_root || !path || !ret || path[0] != '/' || cgroupfs_root[0] != '/')
		return -EINVAL;
	if (!path_is_below(cgroupfs_root, path) || strstr(path, "/../") || strstr(path, "/./"))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->fd = -1;
	r->path = strdup(path);
	if (!r->path)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0) {
		if (errno != ENOENT)
			return negative_errno();
		/* A configured root that does not exist yet: make it (one level only, so a
		 * typo in the parent is reported rather than papered over). */
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		r->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (r->fd < 0)
			return negative_errno();
	}
	if (fstatfs(r->fd, &sfs) < 0)
		return negative_errno();
	/* Never touch a v1 hierarchy, even when pointed at one by mistake. */
	if (sfs.f_type == CGROUP_SUPER_MAGIC)
		return -EMEDIUMTYPE;
	r->is_cgroupfs = sfs.f_type == CGROUP2_SUPER_MAGIC;
	if (stat(cgroupfs_root, &st_top) < 0 || fstat(r->fd, &st) < 0)
		return negative_errno();
	r->is_top = st_top.st_ino == st.st_ino && st_top.st_dev == st.st_dev;

	k = read_file_at(r->fd, "cgroup.controllers", &controllers, NULL);
	if (k < 0 && k != -ENOENT)
		return k;
	if (k == -ENOENT && r->is_cgroupfs)
		return -ENOMEDIUM;
	r->available = controllers ? cg_parse_controllers(controllers) : 0;
	k = read_file_at(r->fd, "cgroup.subtree_control", &subtree, NULL);
	if (k < 0 && k != -ENOENT)
		return k;
	r->enabled = subtree ? cg_parse_controllers(subtree) : 0;
	*ret = TAKE_PTR(r);
	return 0;
}

int cg_root_discover(const char *cgroupfs_root, const char *proc_self_cgroup, char **ret_path)
{
	_cleanup_free_ char *text = NULL, *out = NULL;
	const char *line = NULL;
	size_t n, blen;
	int k;

	if (!cgroupfs_root || cgroupfs_root[0] != '/' || !ret_path)
		return -EINVAL;
	k = read_file_at(AT_FDCWD, proc_self_cgroup ? proc_self_cgroup : "/proc/self/cgroup", &text,
			 NULL);
	if (k < 0)
		return k;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, "0::", 3) == 0) {
			line = p + 3;
			break;
		}
	if (!line)
		return -ENOMEDIUM; /* no v2 hierarchy for this process */
	n = strcspn(line, "\n");
	if (n == 0 || line[0] != '/')
		return -EINVAL;
	/* A cgroup removed under us reads "/x (deleted)": there is nothing to own. */
	if (n > 10 && strncmp(line + n - 10, " (deleted)", 10) == 0)
		return -ENOENT;
	blen = strlen(cgroupfs_root);
	while (blen > 1 && cgroupfs_root[blen - 1] == '/')
		blen--;
	if (n == 1) /* "/": the hierarchy root itself */
		n = 0;
	out = malloc(blen + n + 2);
	if (!out)
		return -ENOMEM;
	memcpy(out, cgroupfs_root, blen);
	memcpy(out + blen, line, n);
	out[blen + n] = '\0';
	if (out[0] == '\0')
		strcpy(out, "/");
	*ret_path = TAKE_PTR(out);
	return 0;
}

/* Moves every process listed in the root's cgroup.procs into supervisor/. A process may
 * fork while we move, so repeat until the list reads empty (bounded). */
static int evacuate_root(struct cg_root *r)
{
	for (int round = 0; round < 16; round++) {
		_cleanup_free_ char *procs = NULL;
		bool any = false;
		int k = read_file_at(r->fd, "cgroup.procs", &procs, NULL);
		if (k < 0)
			return k;
		for (char *p = procs, *save = NULL, *tok; (tok = strtok_r(p, "\n", &save));
		     p = NULL) {
			uint64_t pid;
			if (parse_u64(tok, &pid) < 0)
				continue;
			any = true;
			k = cg_write_ctl(r, r->fd, "supervisor/cgroup.procs", tok);
			/* ESRCH: it exited meanwhile. */
			if (k < 0 && k != -ESRCH)
				return k;
		}
		if (!any || !r->is_cgroupfs)
			return 0;
	}
	return -EBUSY;
}

int cg_root_setup(struct cg_root *r)
{
	_cleanup_free_ char *controllers = NULL;
	char *missing;
	size_t mlen = 0;
	int k;

	if (!r)
		return -EINVAL;
	if (mkdirat(r->fd, "supervisor", 0755) < 0 && errno != EEXIST)
		return negative_errno();
	/* The hierarchy root may hold processes and still delegate; moving every process
	 * of the machine into our leaf would be wrong there. */
	if (!r->is_top) {
		k = evacuate_root(r);
		if (k < 0)
			return k;
	}
	k = read_file_at(r->fd, "cgroup.controllers", &controllers, NULL);
	if (k < 0 && k != -ENOENT)
		return k;
	r->available = controllers ? cg_parse_controllers(controllers) : 0;
	missing = calloc(1, 64);
	if (!missing)
		return -ENOMEM;
	free(r->missing);
	r->missing = missing;
	/* One controller per write: a refused one must not block the others. */
	for (size_t i = 0; i < ELEMENTSOF(cg_wanted); i++) {
		char buf[16];
		if (r->enabled & (1u << i))
			continue;
		if (r->available & (1u << i)) {
			snprintf(buf, sizeof(buf), "+%s", cg_wanted[i]);
			k = cg_write_ctl(r, r->fd, "cgroup.subtree_control", buf);
			if (k >= 0) {
				r->enabled |= 1u << i;
				continue;
			}
			if (k == -EBUSY) /* processes left in the root: the rule we must keep */
				return k;
		}
		mlen += (size_t)snprintf(missing + mlen, 64 - mlen, "%s%s", mlen ? " " : "",
					 cg_wanted[i]);
	}
	return 0;
}

int cg_root_set_partition(struct cg_root *r, const char *cpus)
{
	_cleanup_free_ char *state = NULL;
	int k;

	if (!r)
		return -EINVAL;
	if (!(r->enabled & CTL_CPUSET) && !(r->available & CTL_CPUSET))
		return -EOPNOTSUPP;
	if (!cpus || !cpus[0]) {
		k = cg_write_ctl(r, r->fd, "cpuset.cpus.partition", "member");
		if (k >= 0)
			k = cg_write_ctl(r, r->fd, "cpuset.cpus", "");
		return k;
	}
	k = cg_parse_cpulist(cpus, 4096, NULL);
	if (k < 0)
		return k;
	k = cg_write_ctl(r, r->fd, "cpuset.cpus", cpus);
	if (k < 0)
		return k;
	k = cg_write_ctl(r, r->fd, "cpuset.cpus.partition", "root");
	if (k < 0)
		return k;
	k = read_file_at(r->fd, "cpuset.cpus.partition", &state, NULL);
	if (k < 0)
		return k;
	if (r->is_cgroupfs && strncmp(state, "root\n", 5) != 0) {
		(void)cg_write_ctl(r, r->fd, "cpuset.cpus.partition", "member");
		return -EBUSY;
	}
	return 0;
}

bool cg_root_has(const struct cg_root *r, const char *controller)
{
	int i;

	if (!r || !controller)
		return false;
	i = cg_ctl_index(controller, strlen(controller));
	return i >= 0 && (r->enabled & (1u << i));
}

const char *cg_root_missing(const struct cg_root *r)
{
	return r && r->missing ? r->missing : "";
}
int cg_root_fd(const struct cg_root *r)
{
	return r ? r->fd : -EINVAL;
}
const char *cg_root_path(const struct cg_root *r)
{
	return r ? r->path : NULL;
}

void cg_root_free(struct cg_root *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->path);
	free(r->missing);
	free(r);
}
