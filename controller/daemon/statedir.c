/* statedir.c — the state folder: created 0700, opened for the state file, and locked for
 * the daemon's lifetime so that one daemon at a time runs on it. */
#include "daemon-internal.h"

#include <sys/file.h>
#include <unistd.h>

/* The state folder, held with a lock for the daemon's lifetime: a second daemon on the same
 * folders would adopt the first one's tasks and start the same queued ones. -EBUSY when
 * another daemon holds it (named by the pid it wrote). */
int daemon_open_state_dir(struct daemon *d)
{
	const char *dir = d->o.state_dir;
	char pid[32];
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		r = negative_errno();
		daemon_log(LOG_ERR, "%s: %s", dir, strerror(-r));
		return r;
	}
	d->state_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->state_fd < 0) {
		r = negative_errno();
		daemon_log(LOG_ERR, "%s: %s", dir, strerror(-r));
		return r;
	}
	d->lock_fd = openat(d->state_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (d->lock_fd < 0) {
		r = negative_errno();
		daemon_log(LOG_ERR, "%s/lock: %s", dir, strerror(-r));
		return r;
	}
	if (flock(d->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		r = negative_errno();
		if (r != -EWOULDBLOCK) {
			daemon_log(LOG_ERR, "%s/lock: %s", dir, strerror(-r));
			return r;
		}
		ssize_t n = pread(d->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		daemon_log(
		    LOG_ERR,
		    "%s is in use by another edgesliced (pid %s): one daemon per state folder", dir,
		    pid[0] ? pid : "unknown");
		return -EBUSY;
	}
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(d->lock_fd, 0) < 0 || pwrite(d->lock_fd, pid, strlen(pid), 0) < 0)
		daemon_log(LOG_WARNING, "%s/lock: cannot record our pid: %m", dir);
	return 0;
}
