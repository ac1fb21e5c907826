/* cg.c — cgroup v2 enforcement: the delegated subtree, one cgroup per inference task, its
 * limits, starting a task inside it atomically, and noticing exit, emptiness and OOM kills.
 *
 * The tree edgeslice owns (the unit's own cgroup under Delegate=yes, or a configured root):
 *
 *   /sys/fs/cgroup/                          cgroupfs_root (pure v2; hybrid: .../unified)
 *   └── system.slice/edgesliced.service/     the delegated root (struct cg_root)
 *       │   cgroup.subtree_control = "+cpu +cpuset +memory +io +pids" (those offered)
 *       ├── supervisor/                      edgesliced itself (leaf: no-internal-process rule)
 *       ├── task-resnet50-17/                one cgroup per task (struct cg_task)
 *       │       cpu.max  cpu.weight  cpuset.cpus/.mems  memory.max/.high/.swap.max
 *       │       pids.max  io.weight  cgroup.events  memory.events  cgroup.kill
 *       └── ctr-abc/                         adopted: started by another runtime
 *           └── (whatever that runtime made)  torn down depth-first
 *
 * Processes only ever live in leaves: the daemon in supervisor/, tasks in their own
 * cgroup, placed there by clone3(CLONE_INTO_CGROUP) so no instruction runs elsewhere. */
#include "cg.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sys/inotify.h>
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

/* The controllers edgeslice asks for, in the order they are enabled. */
static const char *const wanted[] = {"cpu", "cpuset", "memory", "io", "pids"};
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
	unsigned available; /* bitmask of wanted[] listed in cgroup.controllers */
	unsigned enabled;   /* bitmask of wanted[] enabled for children */
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
	int inotify_fd;	  /* lazily created by cg_task_watch_fd */
	bool killed;	  /* cgroup.kill was written: see cg_task_spawn_mode */
};

static int remove_tree(int parentfd, const char *name, bool is_cgroupfs);

static void cg_root_freep(struct cg_root **p)
{
	cg_root_free(*p);
}
static void cg_task_freep(struct cg_task **p)
{
	cg_task_free(*p);
}

/* cgroup files are rewritten in place; O_TRUNC keeps fake trees honest and is a no-op
 * on cgroupfs. One write(2), since the kernel parses each write as a whole. */
static int write_flags(int dirfd, const char *file, const char *s, int flags)
{
	_cleanup_close_ int fd =
	    openat(dirfd, file, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY | flags, 0644);
	size_t len = strlen(s);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = write(fd, s, len);
	if (n < 0)
		return negative_errno();
	return (size_t)n == len ? 0 : -EIO;
}

static int write_at(int dirfd, const char *file, const char *s)
{
	return write_flags(dirfd, file, s, 0);
}

/* On a fake tree (unit tests) the kernel is not there to provide the interface files. */
static int write_ctl(const struct cg_root *r, int dirfd, const char *file, const char *s)
{
	return write_flags(dirfd, file, s, r->is_cgroupfs ? 0 : O_CREAT);
}

static int ctl_index(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(wanted); i++)
		if (strlen(wanted[i]) == len && strncmp(wanted[i], name, len) == 0)
			return (int)i;
	return -1;
}

/* A space-separated controller list ("cpuset cpu io memory pids") as a bitmask. */
static unsigned parse_controllers(const char *s)
{
	unsigned mask = 0;

	while (*s) {
		size_t n;
		s += strspn(s, " \t\n");
		n = strcspn(s, " \t\n");
		if (n == 0)
			break;
		int i = ctl_index(s[0] == '+' ? s + 1 : s, s[0] == '+' ? n - 1 : n);
		if (i >= 0)
			mask |= 1u << i;
		s += n;
	}
	return mask;
}

int cg_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);

	if (klen == 0)
		return -EINVAL;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
			continue;
		char num[32];
		size_t n = strcspn(p + klen + 1, "\n");
		if (n == 0 || n >= sizeof(num))
			return -EINVAL;
		memcpy(num, p + klen + 1, n);
		num[n] = '\0';
		if (strcmp(num, "max") == 0) {
			*ret = CG_UNLIMITED;
			return 0;
		}
		return parse_u64(num, ret);
	}
	return -ENXIO;
}

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
	r->available = controllers ? parse_controllers(controllers) : 0;
	k = read_file_at(r->fd, "cgroup.subtree_control", &subtree, NULL);
	if (k < 0 && k != -ENOENT)
		return k;
	r->enabled = subtree ? parse_controllers(subtree) : 0;
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
			k = write_ctl(r, r->fd, "supervisor/cgroup.procs", tok);
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
	r->available = controllers ? parse_controllers(controllers) : 0;
	missing = calloc(1, 64);
	if (!missing)
		return -ENOMEM;
	free(r->missing);
	r->missing = missing;
	/* One controller per write: a refused one must not block the others. */
	for (size_t i = 0; i < ELEMENTSOF(wanted); i++) {
		char buf[16];
		if (r->enabled & (1u << i))
			continue;
		if (r->available & (1u << i)) {
			snprintf(buf, sizeof(buf), "+%s", wanted[i]);
			k = write_ctl(r, r->fd, "cgroup.subtree_control", buf);
			if (k >= 0) {
				r->enabled |= 1u << i;
				continue;
			}
			if (k == -EBUSY) /* processes left in the root: the rule we must keep */
				return k;
		}
		mlen +=
		    (size_t)snprintf(missing + mlen, 64 - mlen, "%s%s", mlen ? " " : "", wanted[i]);
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
		k = write_ctl(r, r->fd, "cpuset.cpus.partition", "member");
		if (k >= 0)
			k = write_ctl(r, r->fd, "cpuset.cpus", "");
		return k;
	}
	k = cg_parse_cpulist(cpus, 4096, NULL);
	if (k < 0)
		return k;
	k = write_ctl(r, r->fd, "cpuset.cpus", cpus);
	if (k < 0)
		return k;
	k = write_ctl(r, r->fd, "cpuset.cpus.partition", "root");
	if (k < 0)
		return k;
	k = read_file_at(r->fd, "cpuset.cpus.partition", &state, NULL);
	if (k < 0)
		return k;
	if (r->is_cgroupfs && strncmp(state, "root\n", 5) != 0) {
		(void)write_ctl(r, r->fd, "cpuset.cpus.partition", "member");
		return -EBUSY;
	}
	return 0;
}

bool cg_root_has(const struct cg_root *r, const char *controller)
{
	int i;

	if (!r || !controller)
		return false;
	i = ctl_index(controller, strlen(controller));
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

/* --- limits ---------------------------------------------------------------------------- */

void cg_limits_init(struct cg_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->cpu_period_us = 100000;
	l->memory_max = CG_UNLIMITED;
	l->memory_high = CG_UNLIMITED;
	l->memory_swap_max = CG_UNLIMITED;
	l->pids_max = CG_UNLIMITED;
}

int cg_format_cpu_max(double cores, uint64_t period_us, char *buf, size_t size)
{
	int n;

	if (!buf || size == 0)
		return -EINVAL;
	/* The kernel's bounds: 1 ms <= period <= 1 s, quota >= 1 ms. */
	if (period_us < 1000 || period_us > 1000000)
		return -ERANGE;
	if (!isfinite(cores) || cores < 0)
		return -ERANGE;
	if (cores == 0)
		n = snprintf(buf, size, "max %" PRIu64, period_us);
	else {
		double q = round(cores * (double)period_us);
		if (q < 1000 || q > (double)(UINT64_MAX >> 12))
			return -ERANGE;
		n = snprintf(buf, size, "%" PRIu64 " %" PRIu64, (uint64_t)q, period_us);
	}
	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return 0;
}

int cg_parse_cpu_max(const char *s, double *ret_cores, uint64_t *ret_period_us)
{
	char quota[32], period[32];
	uint64_t q = 0, p;
	size_t a, b;
	int k;

	if (!s)
		return -EINVAL;
	a = strcspn(s, " ");
	if (a == 0 || a >= sizeof(quota) || s[a] != ' ')
		return -EINVAL;
	memcpy(quota, s, a);
	quota[a] = '\0';
	s += a + 1;
	b = strcspn(s, "\n");
	if (b == 0 || b >= sizeof(period) || (s[b] == '\n' && s[b + 1] != '\0'))
		return -EINVAL;
	memcpy(period, s, b);
	period[b] = '\0';
	k = parse_u64(period, &p);
	if (k < 0)
		return -EINVAL;
	if (p == 0)
		return -ERANGE;
	if (strcmp(quota, "max") != 0) {
		k = parse_u64(quota, &q);
		if (k < 0)
			return -EINVAL;
		if (q == 0)
			return -ERANGE;
	}
	if (ret_cores)
		*ret_cores = q ? (double)q / (double)p : 0;
	if (ret_period_us)
		*ret_period_us = p;
	return 0;
}

int cg_parse_cpulist(const char *s, unsigned limit, unsigned *ret_count)
{
	unsigned count = 0;
	const char *p = s;

	if (!s)
		return -EINVAL;
	if (*p == '\0')
		return -EINVAL;
	for (;;) {
		char *end;
		unsigned long a, b;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		a = strtoul(p, &end, 10);
		if (errno || end == p)
			return -EINVAL;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtoul(p, &end, 10);
			if (errno || end == p || b < a)
				return -EINVAL;
			p = end;
		}
		if (b >= limit)
			return -ERANGE;
		count += (unsigned)(b - a + 1);
		if (*p == '\0' || (*p == '\n' && p[1] == '\0'))
			break;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	if (ret_count)
		*ret_count = count;
	return 0;
}

static int check_weight(uint32_t w)
{
	return w == 0 || (w >= 1 && w <= 10000) ? 0 : -ERANGE;
}

int cg_limits_check(const struct cg_limits *l, unsigned ncpus, uint64_t mem_total,
		    const char **ret_field)
{
	const char *field = NULL;
	int r = 0;

	if (!l)
		return -EINVAL;
#define FAIL(f, e)                                                                                 \
	do {                                                                                       \
		field = (f);                                                                       \
		r = (e);                                                                           \
		goto out;                                                                          \
	} while (0)
	if (l->cpu_period_us < 1000 || l->cpu_period_us > 1000000)
		FAIL("cpu_period_us", -ERANGE);
	if (!isfinite(l->cpu_cores))
		FAIL("cpu_cores", -EINVAL);
	if (l->cpu_cores < 0 || l->cpu_cores > (double)ncpus)
		FAIL("cpu_cores", -ERANGE);
	if (l->cpu_cores > 0 && round(l->cpu_cores * (double)l->cpu_period_us) < 1000)
		FAIL("cpu_cores", -ERANGE); /* below the kernel's 1 ms minimum quota */
	if (check_weight(l->cpu_weight) < 0)
		FAIL("cpu_weight", -ERANGE);
	if (memchr(l->cpuset_cpus, '\0', sizeof(l->cpuset_cpus)) == NULL)
		FAIL("cpuset_cpus", -EINVAL);
	if (l->cpuset_cpus[0]) {
		unsigned n;
		r = cg_parse_cpulist(l->cpuset_cpus, ncpus, &n);
		if (r < 0)
			FAIL("cpuset_cpus", r);
		/* Pinned to fewer cores than the quota asks for can never be met. */
		if (l->cpu_cores > (double)n)
			FAIL("cpu_cores", -ERANGE);
	}
	if (l->cpuset_exclusive && !l->cpuset_cpus[0])
		FAIL("cpuset_exclusive", -EINVAL);
	if (memchr(l->cpuset_mems, '\0', sizeof(l->cpuset_mems)) == NULL)
		FAIL("cpuset_mems", -EINVAL);
	if (l->cpuset_mems[0]) {
		r = cg_parse_cpulist(l->cpuset_mems, 1024, NULL);
		if (r < 0)
			FAIL("cpuset_mems", r);
	}
	if (l->memory_max == 0)
		FAIL("memory_max", -EINVAL);
	if (l->memory_max != CG_UNLIMITED && l->memory_max > mem_total)
		FAIL("memory_max", -ERANGE);
	if (l->memory_high == 0)
		FAIL("memory_high", -EINVAL);
	if (l->memory_high != CG_UNLIMITED && l->memory_high > mem_total)
		FAIL("memory_high", -ERANGE);
	if (l->memory_high != CG_UNLIMITED && l->memory_max != CG_UNLIMITED &&
	    l->memory_high > l->memory_max)
		FAIL("memory_high", -EINVAL);
	if (l->pids_max == 0)
		FAIL("pids_max", -EINVAL);
	if (l->pids_max != CG_UNLIMITED && l->pids_max > (uint64_t)INT_MAX)
		FAIL("pids_max", -ERANGE);
	if (check_weight(l->io_weight) < 0)
		FAIL("io_weight", -ERANGE);
#undef FAIL
	return 0;
out:
	if (ret_field)
		*ret_field = field;
	return r;
}

const char *cg_strerror_field(int err)
{
	switch (err) {
	case -EINVAL:
		return "invalid value";
	case -ERANGE:
		return "out of range for this node";
	case -EOPNOTSUPP:
		return "controller not available in the delegated subtree";
	default:
		return strerror(-err);
	}
}

static int format_u64_or_max(uint64_t v, char *buf, size_t size)
{
	if (v == CG_UNLIMITED)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%" PRIu64, v);
	return 0;
}

int cg_task_apply_limits(struct cg_task *t, const struct cg_limits *l, const char **ret_field)
{
	unsigned en;
	char buf[64];
	const char *field = NULL;
	int r;

	if (!t || !l)
		return -EINVAL;
	/* Node-independent checks only; the caller checks against the node. */
	r = cg_limits_check(l, 4096, UINT64_MAX - 1, &field);
	if (r < 0)
		goto fail;
	en = t->root->enabled;

#define NEED(bit, f, cond)                                                                         \
	do {                                                                                       \
		if (!(en & (bit)) && (cond)) {                                                     \
			field = (f);                                                               \
			r = -EOPNOTSUPP;                                                           \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)
#define WRITE(f, file, s)                                                                          \
	do {                                                                                       \
		r = write_ctl(t->root, t->fd, (file), (s));                                        \
		if (r < 0) {                                                                       \
			field = (f);                                                               \
			goto fail;                                                                 \
		}                                                                                  \
	} while (0)

	NEED(CTL_CPU, "cpu_cores", l->cpu_cores > 0);
	NEED(CTL_CPU, "cpu_weight", l->cpu_weight > 0);
	NEED(CTL_CPUSET, "cpuset_cpus", l->cpuset_cpus[0]);
	NEED(CTL_CPUSET, "cpuset_mems", l->cpuset_mems[0]);
	NEED(CTL_MEMORY, "memory_max", l->memory_max != CG_UNLIMITED);
	NEED(CTL_MEMORY, "memory_high", l->memory_high != CG_UNLIMITED);
	NEED(CTL_MEMORY, "memory_swap_max", l->memory_swap_max != CG_UNLIMITED);
	NEED(CTL_PIDS, "pids_max", l->pids_max != CG_UNLIMITED);
	NEED(CTL_IO, "io_weight", l->io_weight > 0);

	if (en & CTL_CPU) {
		r = cg_format_cpu_max(l->cpu_cores, l->cpu_period_us, buf, sizeof(buf));
		if (r < 0) {
			field = "cpu_cores";
			goto fail;
		}
		WRITE("cpu_cores", "cpu.max", buf);
		if (l->cpu_weight) {
			snprintf(buf, sizeof(buf), "%u", l->cpu_weight);
			WRITE("cpu_weight", "cpu.weight", buf);
		}
	}
	if (en & CTL_CPUSET) {
		if (l->cpuset_cpus[0])
			WRITE("cpuset_cpus", "cpuset.cpus", l->cpuset_cpus);
		if (l->cpuset_mems[0])
			WRITE("cpuset_mems", "cpuset.mems", l->cpuset_mems);
		/* Exclusive cores: a partition root takes its CPUs away from every sibling
		 * (the parent must itself be a partition root, which the top cgroup is). */
		if (l->cpuset_exclusive) {
			_cleanup_free_ char *state = NULL;
			WRITE("cpuset_exclusive", "cpuset.cpus.partition", "root");
			/* The kernel accepts the write and then reports "root invalid (reason)"
			 * when the parent is no partition root or a sibling holds the CPUs. */
			r = read_file_at(t->fd, "cpuset.cpus.partition", &state, NULL);
			if (r >= 0 && t->root->is_cgroupfs && strncmp(state, "root\n", 5) != 0) {
				(void)write_at(t->fd, "cpuset.cpus.partition", "member");
				r = -EBUSY;
			}
			if (r < 0) {
				field = "cpuset_exclusive";
				goto fail;
			}
		}
	}
	if (en & CTL_MEMORY) {
		/* Lower memory.high first so that a shrinking max does not trip the OOM
		 * killer before reclaim had its chance. */
		format_u64_or_max(l->memory_high, buf, sizeof(buf));
		WRITE("memory_high", "memory.high", buf);
		format_u64_or_max(l->memory_max, buf, sizeof(buf));
		WRITE("memory_max", "memory.max", buf);
		format_u64_or_max(l->memory_swap_max, buf, sizeof(buf));
		r = write_ctl(t->root, t->fd, "memory.swap.max", buf);
		/* No swap accounting (CONFIG_MEMCG_SWAP off / swapaccount=0): nothing to cap
		 * unless a finite value was asked for. */
		if (r < 0 && !(r == -ENOENT && l->memory_swap_max == CG_UNLIMITED)) {
			field = "memory_swap_max";
			goto fail;
		}
	}
	if (en & CTL_PIDS) {
		format_u64_or_max(l->pids_max, buf, sizeof(buf));
		WRITE("pids_max", "pids.max", buf);
	}
	if ((en & CTL_IO) && l->io_weight) {
		/* io.weight exists only with the BFQ/CFQ-style weight policy (blk-iocost or
		 * bfq); where it is missing an asked-for weight is reported. */
		snprintf(buf, sizeof(buf), "default %u", l->io_weight);
		r = write_ctl(t->root, t->fd, "io.weight", buf);
		if (r == -ENOENT)
			r = write_ctl(t->root, t->fd, "io.bfq.weight", buf);
		if (r < 0) {
			field = "io_weight";
			goto fail;
		}
	}
#undef NEED
#undef WRITE
	return 0;
fail:
	if (ret_field)
		*ret_field = field;
	return r;
}

int cg_task_set_limits(struct cg_task *t, const struct cg_limits *l)
{
	return cg_task_apply_limits(t, l, NULL);
}

/* --- tasks ----------------------------------------------------------------------------- */

static int name_valid(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || n > NAME_MAX || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strcmp(name, "supervisor") == 0 ||
	    strncmp(name, "cgroup.", 7) == 0)
		return -EINVAL;
	/* Controller files live in the same directory: "cpu.max" must never be a task. */
	if (strchr(name, '.') && ctl_index(name, strcspn(name, ".")) >= 0)
		return -EINVAL;
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EINVAL;
	return 0;
}

static int task_new(struct cg_root *r, const char *name, int fd, struct cg_task **ret)
{
	_cleanup_(cg_task_freep) struct cg_task *t = calloc(1, sizeof(*t));
	struct stat st;

	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	t->root = r;
	t->fd = fd;
	t->events_fd = t->memevents_fd = t->cpustat_fd = t->inotify_fd = -1;
	t->name = strdup(name);
	if (!t->name)
		return -ENOMEM;
	if (fstat(fd, &st) < 0)
		return negative_errno();
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* On cgroup2 the directory's inode number is the cgroup id (what BPF's
	 * bpf_get_current_cgroup_id() returns) on 64-bit kernels. */
	t->id = st.st_ino;
	*ret = TAKE_PTR(t);
	return 0;
}

int cg_task_create_ex(struct cg_root *r, const char *name, const struct cg_limits *l,
		      struct cg_task **ret, const char **ret_field)
{
	const char *field = NULL;
	_cleanup_(cg_task_freep) struct cg_task *t = NULL;
	struct cg_limits defaults;
	int fd, k;

	if (!r || !ret)
		return -EINVAL;
	k = name_valid(name);
	if (k < 0)
		return k;
	if (!l) {
		cg_limits_init(&defaults);
		l = &defaults;
	}
	k = cg_limits_check(l, 4096, UINT64_MAX - 1, &field);
	if (k < 0)
		goto fail;
	if (mkdirat(r->fd, name, 0755) < 0)
		return negative_errno();
	fd = openat(r->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		k = negative_errno();
		(void)unlinkat(r->fd, name, AT_REMOVEDIR);
		return k;
	}
	k = task_new(r, name, fd, &t);
	if (k >= 0)
		k = cg_task_apply_limits(t, l, &field);
	if (k < 0) {
		/* Never leave a half-configured cgroup behind. */
		if (t)
			cg_task_free(TAKE_PTR(t));
		(void)remove_tree(r->fd, name, r->is_cgroupfs);
		goto fail;
	}
	*ret = TAKE_PTR(t);
	return 0;
fail:
	if (ret_field && field)
		*ret_field = field;
	return k;
}

int cg_task_create(struct cg_root *r, const char *name, const struct cg_limits *l,
		   struct cg_task **ret)
{
	return cg_task_create_ex(r, name, l, ret, NULL);
}

int cg_task_adopt(struct cg_root *r, const char *name, struct cg_task **ret)
{
	int fd, k;

	if (!r || !ret)
		return -EINVAL;
	k = name_valid(name);
	if (k < 0)
		return k;
	fd = openat(r->fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return negative_errno();
	return task_new(r, name, fd, ret);
}

/* --- starting a task ------------------------------------------------------------------- */

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
	    set_tid_size, cgroup;
};

/* Runs in the child between clone/fork and exec: only async-signal-safe calls. On
 * failure the errno goes to the parent over the CLOEXEC pipe. */
static _Noreturn void child_exec(const struct cg_exec *e, int errpipe, int procs_fd)
{
	int fds[3] = {e->stdin_fd, e->stdout_fd, e->stderr_fd};
	int err;
	sigset_t all;

	/* "I ran": lets the parent tell a child killed at birth from one that exec'd. */
	if (write(errpipe, "A", 1) != 1)
		_exit(127);
	if (procs_fd >= 0) {
		/* Fallback path: move ourselves before anything else runs. */
		char buf[24];
		int n = snprintf(buf, sizeof(buf), "%ld", (long)syscall(SYS_getpid));
		if (write(procs_fd, buf, (size_t)n) != n)
			goto fail;
		close(procs_fd);
	}
	/* The daemon may block signals for signalfd and ignore SIGPIPE; the task gets a
	 * clean slate. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)signal(s, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	/* Lift the caller's fds above 2 first so dup2 order cannot clobber them. */
	for (int i = 0; i < 3; i++) {
		int src = fds[i];
		if (src < 0)
			src = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		if (src < 0)
			goto fail;
		fds[i] = fcntl(src, F_DUPFD, 3);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	if (e->cwd && chdir(e->cwd) < 0)
		goto fail;
	if (e->gid != (gid_t)-1 && (setgroups(0, NULL) < 0 || setgid(e->gid) < 0))
		goto fail;
	if (e->uid != (uid_t)-1 && setuid(e->uid) < 0)
		goto fail;
	if (e->envp)
		execvpe(e->argv[0], e->argv, e->envp);
	else
		execvp(e->argv[0], e->argv);
fail:
	err = errno ? errno : EIO;
	(void)!write(errpipe, &err, sizeof(err));
	_exit(127);
}

/* Waits for the exec status: EOF means the child exec'd, an int is its errno. */
static int wait_exec(int errpipe_rd, pid_t pid)
{
	int err = 0;
	char alive = 0;
	ssize_t n;

	do
		n = read(errpipe_rd, &alive, 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* The child died before running a single instruction of ours. */
		(void)waitpid(pid, NULL, 0);
		return -ECANCELED;
	}
	do
		n = read(errpipe_rd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		(void)waitpid(pid, NULL, 0);
		return err > 0 ? -err : -EIO;
	}
	return 0;
}

static int spawn_once(struct cg_task *t, const struct cg_exec *e, int mode, pid_t *ret_pid,
		      int *ret_pidfd, bool *ret_cloned)
{
	int pipefd[2];
	_cleanup_close_ int rd = -1, wr = -1;
	int pidfd = -1;
	pid_t pid = -1;
	int k;

	if (!t || !e || !e->argv || !e->argv[0] || !ret_pid)
		return -EINVAL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	rd = pipefd[0];
	wr = pipefd[1];

	/* Seen on a 6.18 host: after cgroup.kill, a child cloned with CLONE_INTO_CGROUP into
	 * that cgroup is SIGKILLed at birth (the kill sequence number is compared against the
	 * parent's cgroup). Migration via cgroup.procs is not affected, so a killed cgroup
	 * that is reused takes the fork path. */
	if (mode == CG_SPAWN_AUTO && t->killed)
		mode = CG_SPAWN_FORK;
	if (mode != CG_SPAWN_FORK) {
		struct clone_args_v2 args = {
		    .flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		    .pidfd = (uint64_t)(uintptr_t)&pidfd,
		    .exit_signal = SIGCHLD,
		    .cgroup = (uint64_t)t->fd,
		};
		long r = syscall(SYS_clone3, &args, sizeof(args));
		if (r == 0) {
			close(rd);
			child_exec(e, wr, -1);
		}
		if (r > 0) {
			pid = (pid_t)r;
			*ret_cloned = true;
		} else if (mode == CG_SPAWN_CLONE3 ||
			   /* Refusals that mean "this kernel cannot": no clone3 (< 5.3), no
			    * CLONE_INTO_CGROUP (< 5.7), or not a cgroup2 fd (fake tree). */
			   !(errno == ENOSYS || errno == E2BIG || errno == EINVAL ||
			     errno == EBADF || errno == EPERM))
			return negative_errno();
	}
	if (pid < 0) {
		_cleanup_close_ int procs = openat(t->fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (procs < 0)
			return negative_errno();
		pid = fork();
		if (pid < 0)
			return negative_errno();
		if (pid == 0) {
			close(rd);
			child_exec(e, wr, procs);
		}
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0)
			(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
		else
			pidfd = -1;
	}
	wr = -1, close(pipefd[1]);
	k = wait_exec(rd, pid);
	if (k < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return k;
	}
	*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = pidfd;
	else if (pidfd >= 0)
		close(pidfd);
	return 0;
}

int cg_task_spawn_mode(struct cg_task *t, const struct cg_exec *e, int mode, pid_t *ret_pid,
		       int *ret_pidfd)
{
	bool cloned = false;
	int k;

	if (!t || !e || !e->argv || !e->argv[0] || !ret_pid)
		return -EINVAL;
	k = spawn_once(t, e, mode, ret_pid, ret_pidfd, &cloned);
	if (k == -ECANCELED && cloned && mode == CG_SPAWN_AUTO) {
		/* Killed at birth by the kernel (the cgroup.kill note above) before any code
		 * of the task ran, so starting it again cannot run it twice. */
		t->killed = true;
		k = spawn_once(t, e, CG_SPAWN_FORK, ret_pid, ret_pidfd, &cloned);
	}
	return k;
}

int cg_task_spawn(struct cg_task *t, const struct cg_exec *e, pid_t *ret_pid, int *ret_pidfd)
{
	return cg_task_spawn_mode(t, e, CG_SPAWN_AUTO, ret_pid, ret_pidfd);
}

void cg_exec_init(struct cg_exec *e, char *const *argv)
{
	memset(e, 0, sizeof(*e));
	e->argv = argv;
	e->stdin_fd = e->stdout_fd = e->stderr_fd = -1;
	e->uid = (uid_t)-1;
	e->gid = (gid_t)-1;
}

/* --- events ---------------------------------------------------------------------------- */

static int task_path(const struct cg_task *t, const char *file, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s%s%s", t->root->path, t->name, file ? "/" : "",
			 file ? file : "");
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int cg_task_watch_fd(struct cg_task *t)
{
	char p[PATH_MAX];
	int k;

	if (!t)
		return -EINVAL;
	if (t->inotify_fd >= 0)
		return t->inotify_fd;
	_cleanup_close_ int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	k = task_path(t, "cgroup.events", p, sizeof(p));
	if (k < 0)
		return k;
	if (inotify_add_watch(fd, p, IN_MODIFY) < 0)
		return negative_errno();
	k = task_path(t, "memory.events", p, sizeof(p));
	if (k < 0)
		return k;
	if (inotify_add_watch(fd, p, IN_MODIFY) < 0 && errno != ENOENT)
		return negative_errno();
	t->inotify_fd = TAKE_FD(fd);
	return t->inotify_fd;
}

static int pread_keyed(int dirfd, const char *file, int *cache_fd, char *buf, size_t size)
{
	if (*cache_fd < 0) {
		*cache_fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
		if (*cache_fd < 0)
			return negative_errno();
	}
	return pread_all(*cache_fd, buf, size, NULL);
}

int cg_task_read_events(struct cg_task *t, struct cg_events *ret)
{
	char buf[512];
	struct cg_events ev = {0};
	uint64_t v;
	int k;

	if (!t || !ret)
		return -EINVAL;
	/* Drain the inotify queue so the fd only fires on the next change. */
	if (t->inotify_fd >= 0) {
		char junk[4096];
		while (read(t->inotify_fd, junk, sizeof(junk)) > 0)
			;
	}
	k = pread_keyed(t->fd, "cgroup.events", &t->events_fd, buf, sizeof(buf));
	if (k < 0)
		return k;
	k = cg_parse_keyed(buf, "populated", &v);
	if (k < 0)
		return k;
	ev.populated = v != 0;
	if (cg_parse_keyed(buf, "frozen", &v) >= 0)
		ev.frozen = v != 0;
	k = pread_keyed(t->fd, "memory.events", &t->memevents_fd, buf, sizeof(buf));
	if (k >= 0) {
		(void)cg_parse_keyed(buf, "oom", &ev.oom);
		(void)cg_parse_keyed(buf, "oom_kill", &ev.oom_kill);
		(void)cg_parse_keyed(buf, "max", &ev.max);
		(void)cg_parse_keyed(buf, "high", &ev.high);
	} else if (k != -ENOENT)
		return k;
	*ret = ev;
	return 0;
}

int cg_task_read_cpu_usec(struct cg_task *t, uint64_t *ret_usec)
{
	char buf[1024];
	uint64_t v;
	int k;

	if (!t || !ret_usec)
		return -EINVAL;
	k = pread_keyed(t->fd, "cpu.stat", &t->cpustat_fd, buf, sizeof(buf));
	if (k < 0)
		return k;
	k = cg_parse_keyed(buf, "usage_usec", &v);
	if (k < 0)
		return k;
	*ret_usec = v;
	return 0;
}

/* --- teardown -------------------------------------------------------------------------- */

static int kill_procs(int dirfd)
{
	for (int round = 0; round < 64; round++) {
		_cleanup_free_ char *procs = NULL;
		bool any = false;
		int k = read_file_at(dirfd, "cgroup.procs", &procs, NULL);
		if (k < 0)
			return k;
		for (char *p = procs, *save = NULL, *tok; (tok = strtok_r(p, "\n", &save));
		     p = NULL) {
			uint64_t pid;
			if (parse_u64(tok, &pid) < 0 || pid == 0 || pid > INT_MAX)
				continue;
			any = true;
			if (kill((pid_t)pid, SIGKILL) < 0 && errno != ESRCH)
				return negative_errno();
		}
		if (!any)
			return 0;
		(void)usleep(1000);
	}
	return -EBUSY;
}

/* Kills everything below dirfd: cgroup.kill covers descendants on >= 5.14; older
 * kernels get SIGKILL per pid, child cgroups first. */
static int kill_tree(int dirfd, bool is_cgroupfs)
{
	int k = write_at(dirfd, "cgroup.kill", "1");

	if (k >= 0)
		return 0;
	if (k != -ENOENT && k != -EINVAL)
		return k;
	_cleanup_close_ int dfd = dup(dirfd);
	if (dfd < 0)
		return negative_errno();
	DIR *d = fdopendir(dfd);
	if (!d)
		return negative_errno();
	TAKE_FD(dfd);
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		int c = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (c < 0)
			continue;
		k = kill_tree(c, is_cgroupfs);
		close(c);
		if (k < 0) {
			closedir(d);
			return k;
		}
	}
	closedir(d);
	return kill_procs(dirfd);
}

int cg_task_kill(struct cg_task *t)
{
	if (!t)
		return -EINVAL;
	t->killed = true;
	return kill_tree(t->fd, t->root->is_cgroupfs);
}

/* rmdir of one cgroup after its children (an adopted container may have nested ones). */
static int remove_tree(int parentfd, const char *name, bool is_cgroupfs)
{
	_cleanup_close_ int fd =
	    openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	int k;

	if (fd < 0)
		return errno == ENOENT ? 0 : negative_errno();
	int dfd = dup(fd);
	if (dfd < 0)
		return negative_errno();
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return negative_errno();
	}
	for (struct dirent *de; (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (de->d_type == DT_DIR) {
			k = remove_tree(fd, de->d_name, is_cgroupfs);
			if (k < 0) {
				closedir(d);
				return k;
			}
		} else if (!is_cgroupfs)
			/* fake tree (unit tests): the interface files are plain files */
			(void)unlinkat(fd, de->d_name, 0);
	}
	closedir(d);
	if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0)
		return errno == ENOENT ? 0 : negative_errno();
	return 0;
}

int cg_task_destroy(struct cg_task *t, unsigned timeout_ms)
{
	uint64_t deadline;
	unsigned delay_us = 200;
	int k;

	if (!t)
		return -EINVAL;
	/* Drop our own fds first: nothing of ours should pin the cgroup. */
	if (t->inotify_fd >= 0)
		close(t->inotify_fd), t->inotify_fd = -1;
	if (t->events_fd >= 0)
		close(t->events_fd), t->events_fd = -1;
	if (t->memevents_fd >= 0)
		close(t->memevents_fd), t->memevents_fd = -1;
	if (t->cpustat_fd >= 0)
		close(t->cpustat_fd), t->cpustat_fd = -1;
	deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		k = remove_tree(t->root->fd, t->name, t->root->is_cgroupfs);
		if (k != -EBUSY)
			break;
		/* EBUSY: killed processes not reaped yet (a zombie still counts) */
		if (now_usec() >= deadline)
			return -EBUSY;
		(void)usleep(delay_us);
		if (delay_us < 20000)
			delay_us *= 2;
	}
	if (k < 0)
		return k;
	cg_task_free(t);
	return 0;
}

int cg_task_fd(const struct cg_task *t)
{
	return t ? t->fd : -EINVAL;
}
const char *cg_task_name(const struct cg_task *t)
{
	return t ? t->name : NULL;
}
uint64_t cg_task_id(const struct cg_task *t)
{
	return t ? t->id : 0;
}

void cg_task_free(struct cg_task *t)
{
	if (!t)
		return;
	if (t->fd >= 0)
		close(t->fd);
	if (t->events_fd >= 0)
		close(t->events_fd);
	if (t->memevents_fd >= 0)
		close(t->memevents_fd);
	if (t->cpustat_fd >= 0)
		close(t->cpustat_fd);
	if (t->inotify_fd >= 0)
		close(t->inotify_fd);
	free(t->name);
	free(t);
}
