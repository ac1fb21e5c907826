/* cg-task.c — one cgroup per task (struct cg_task): limits parsed, checked and applied,
 * created or adopted, killed and torn down depth-first. */
#include "cg-internal.h"

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

int cg_task_set_cpus(struct cg_task *t, const char *cpus)
{
	if (!t || !cpus || !*cpus || strlen(cpus) >= sizeof(((struct cg_limits *)0)->cpuset_cpus))
		return -EINVAL;
	if (!(t->root->enabled & CTL_CPUSET))
		return -EOPNOTSUPP;
	return cg_write_ctl(t->root, t->fd, "cpuset.cpus", cpus);
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
		r = cg_write_ctl(t->root, t->fd, (file), (s));                                     \
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
				(void)cg_write_at(t->fd, "cpuset.cpus.partition", "member");
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
		r = cg_write_ctl(t->root, t->fd, "memory.swap.max", buf);
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
		r = cg_write_ctl(t->root, t->fd, "io.weight", buf);
		if (r == -ENOENT)
			r = cg_write_ctl(t->root, t->fd, "io.bfq.weight", buf);
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
	if (strchr(name, '.') && cg_ctl_index(name, strcspn(name, ".")) >= 0)
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
	t->events_fd = t->memevents_fd = t->cpustat_fd = -1;
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
		(void)cg_remove_tree(r->fd, name, r->is_cgroupfs);
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
	int k = cg_write_at(dirfd, "cgroup.kill", "1");

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
int cg_remove_tree(int parentfd, const char *name, bool is_cgroupfs)
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
			k = cg_remove_tree(fd, de->d_name, is_cgroupfs);
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
	if (t->events_fd >= 0)
		close(t->events_fd), t->events_fd = -1;
	if (t->memevents_fd >= 0)
		close(t->memevents_fd), t->memevents_fd = -1;
	if (t->cpustat_fd >= 0)
		close(t->cpustat_fd), t->cpustat_fd = -1;
	deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	for (;;) {
		k = cg_remove_tree(t->root->fd, t->name, t->root->is_cgroupfs);
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
	free(t->name);
	free(t);
}
