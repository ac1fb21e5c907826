/* cg-watch.c — noticing exit, emptiness and OOM kills: the inotify watch on cgroup.events and
 * the pread readers of cgroup.events, memory.events and cpu.stat. */
#include "cg-internal.h"

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
