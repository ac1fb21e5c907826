/* cg-watch.c — noticing exit, emptiness and OOM kills: the task's open cgroup.events, which
 * kernfs makes pollable (EPOLLPRI when it changes), and the pread readers of cgroup.events,
 * memory.events and cpu.stat. No inotify: an instance per task ran into
 * fs.inotify.max_user_instances at 128 tasks, and the last close of an instance waits for the
 * kernel's mark cleanup (8-132 ms seen), which a task forked meanwhile could inherit. */
#include "cg-internal.h"

/* --- events ---------------------------------------------------------------------------- */

static int pread_keyed(int dirfd, const char *file, int *cache_fd, char *buf, size_t size)
{
	if (*cache_fd < 0) {
		*cache_fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
		if (*cache_fd < 0)
			return negative_errno();
	}
	return pread_all(*cache_fd, buf, size, NULL);
}

int cg_task_watch_fd(struct cg_task *t)
{
	char buf[512];
	int k;

	if (!t)
		return -EINVAL;
	/* Reading arms it: kernfs reports EPOLLPRI while the file changed since the last read
	 * through this open file (cg_task_read_events reads it again each time). */
	k = pread_keyed(t->fd, "cgroup.events", &t->events_fd, buf, sizeof(buf));
	if (k < 0)
		return k;
	return t->events_fd;
}

int cg_task_read_events(struct cg_task *t, struct cg_events *ret)
{
	char buf[512];
	struct cg_events ev = {0};
	uint64_t v;
	int k;

	if (!t || !ret)
		return -EINVAL;
	/* This read also re-arms the watch (cg_task_watch_fd). */
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
