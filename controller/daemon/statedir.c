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

static void refuse(struct daemon *d, const char *file, const char *why)
{
	/* Refuse to start and leave the file where it is: starting empty (what moving it aside
	 * did) loses every accepted task and orphans the running ones. The exit status stops
	 * systemd's restarts. */
	daemon_log(LOG_ERR,
		   "%s/%s: corrupt (%s): not starting, the file is left as it is; "
		   "run edgesliced --recover, or restore it",
		   d->o.state_dir, file, why);
}

/* A state.json of an older edgesliced: written into the (new, empty) state.db in one
 * transaction, then renamed state.json.imported. A crash in between imports it again. */
static int import_json(struct daemon *d, struct dtask **ret, size_t *ret_n, uint64_t *ret_next)
{
	_cleanup_free_ char *text = NULL;
	struct dtask *tasks = NULL;
	size_t n = 0;
	uint64_t next = 1;
	char err[256];
	int r = read_file_at(d->state_fd, "state.json", &text, NULL);

	if (r == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		*ret_next = 1;
		return 0;
	}
	if (r < 0) {
		daemon_log(LOG_ERR, "%s/state.json: %s", d->o.state_dir, strerror(-r));
		return r;
	}
	r = dstate_parse(text, &tasks, &n, &next, err, sizeof(err));
	if (r < 0) {
		refuse(d, "state.json", err);
		return -EBADMSG;
	}
	r = dstore_write_all(d->store, tasks, n, next);
	if (r >= 0 && renameat(d->state_fd, "state.json", d->state_fd, "state.json.imported") < 0)
		r = negative_errno();
	if (r >= 0 && fsync(d->state_fd) < 0)
		r = negative_errno();
	if (r < 0) {
		daemon_log(LOG_ERR, "%s/state.json: import into state.db: %s", d->o.state_dir,
			   strerror(-r));
		dstate_free(tasks, n);
		return r;
	}
	daemon_log(LOG_INFO,
		   "%s/state.json: %zu task(s) imported into state.db (kept as "
		   "state.json.imported)",
		   d->o.state_dir, n);
	*ret = tasks;
	*ret_n = n;
	*ret_next = next;
	return 0;
}

int daemon_state_load(struct daemon *d, struct dtask **ret, size_t *ret_n)
{
	char path[PATH_MAX], err[256];
	struct dtask *tasks = NULL;
	uint64_t next = 0;
	size_t n = 0;
	int r;

	snprintf(path, sizeof(path), "%s/state.db", d->o.state_dir);
	r = dstore_open(path, &d->store, err, sizeof(err));
	if (r >= 0)
		r = dstore_load(d->store, &tasks, &n, &next, err, sizeof(err));
	if (r == -EBADMSG || r == -EPROTONOSUPPORT) {
		refuse(d, "state.db", err);
		return -EBADMSG;
	}
	if (r < 0) {
		daemon_log(LOG_ERR, "%s: %s (%s)", path, strerror(-r), err);
		return r;
	}
	if (!next) { /* never written */
		r = import_json(d, &tasks, &n, &next);
		if (r < 0)
			return r;
	}
	d->next_id = next;
	d->stored_next_id = next;
	*ret = tasks;
	*ret_n = n;
	return 0;
}
