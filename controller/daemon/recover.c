/* recover.c — edgesliced --recover: a damaged state.db rebuilt from the rows that still read
 * and the task cgroups, so that nothing runs twice and no running task is orphaned. */
#include "daemon-internal.h"

#include <unistd.h>

/* "task-<queue>-<id>" -> queue, id (a queue name may hold '-': the id follows the last). */
static bool parse_task_dir(const char *name, char *queue, size_t qsz, uint64_t *ret_id)
{
	const char *dash = strrchr(name, '-');
	size_t ql;

	if (strncmp(name, "task-", 5) || !dash || dash <= name + 5)
		return false;
	if (parse_u64(dash + 1, ret_id) < 0 || !*ret_id)
		return false;
	ql = (size_t)(dash - (name + 5));
	if (ql >= qsz)
		return false;
	memcpy(queue, name + 5, ql);
	queue[ql] = '\0';
	return proto_name_valid(queue);
}

static struct dtask *find(struct dtask *tasks, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (tasks[i].id == id)
			return &tasks[i];
	return NULL;
}

/* A populated task cgroup whose row is lost: recorded as running so that the next start
 * adopts it. Its demand is its queue's (a queue has one demand) when a row of that queue was
 * read, else what the cgroup enforces (cpu.max, memory.max), else the whole device; the
 * device from cpuset.cpus, else the first. */
static int synthesize(struct daemon *d, int dfd, const char *queue, uint64_t id,
		      const struct dtask *rows, size_t n_rows, struct dtask *t)
{
	_cleanup_free_ char *cpu = NULL, *mem = NULL, *cpus = NULL;
	uint64_t period;

	*t = (struct dtask){.id = id, .dev = 0, .exit_code = -1};
	snprintf(t->queue, sizeof(t->queue), "%s", queue);
	if (read_file_at(dfd, "cpuset.cpus", &cpus, NULL) >= 0) {
		cpus[strcspn(cpus, "\n")] = '\0';
		for (size_t i = 0; i < d->n_dev; i++)
			if (cpus[0] && !strcmp(d->dev[i].cpus, cpus))
				t->dev = (int)i;
	}
	for (size_t i = 0; i < n_rows && !t->cpu; i++)
		if (!strcmp(rows[i].queue, queue)) {
			t->cpu = rows[i].cpu;
			t->mem = rows[i].mem;
		}
	if (!t->cpu && read_file_at(dfd, "cpu.max", &cpu, NULL) >= 0)
		(void)cg_parse_cpu_max(cpu, &t->cpu, &period);
	if (!(t->cpu > 0) || !isfinite(t->cpu))
		t->cpu = d->n_dev ? d->dev[t->dev].cpu : d->node_cpu;
	if (!t->mem && read_file_at(dfd, "memory.max", &mem, NULL) >= 0 && strncmp(mem, "max", 3))
		(void)parse_u64(strtok(mem, "\n"), &t->mem);
	if (!t->mem)
		t->mem = d->n_dev ? d->dev[t->dev].mem : d->node_mem;
	t->state = DTASK_RUNNING;
	t->submit_us = t->start_us = daemon_realtime_us();
	snprintf(t->reason, sizeof(t->reason), "recovered");
	t->argv = calloc(2, sizeof(char *));
	if (!t->argv || !(t->argv[0] = strdup("(recovered: command unknown)")))
		return -ENOMEM;
	t->argc = 1;
	return 0;
}

/* Task cgroups: those without a row are re-adopted (populated) or removed (empty). */
static int scan_cgroups(struct daemon *d, struct dtask **tasks, size_t *n, uint64_t *max_id)
{
	int fd = openat(cg_root_fd(d->root), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;
	int r = 0;

	if (fd < 0 || !(dir = fdopendir(fd))) {
		r = negative_errno();
		if (fd >= 0)
			close(fd);
		return r;
	}
	while (r >= 0 && (de = readdir(dir))) {
		_cleanup_close_ int dfd = -1;
		_cleanup_free_ char *ev = NULL;
		char queue[65];
		uint64_t id;
		struct dtask *nt;

		if (de->d_type != DT_DIR || !parse_task_dir(de->d_name, queue, sizeof(queue), &id))
			continue;
		*max_id = id > *max_id ? id : *max_id;
		if (find(*tasks, *n, id)) {
			printf("task %" PRIu64 ": row read, cgroup %s present (adopted at start)\n",
			       id, de->d_name);
			continue;
		}
		dfd = openat(dirfd(dir), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || read_file_at(dfd, "cgroup.events", &ev, NULL) < 0)
			continue;
		if (!strstr(ev, "populated 1")) {
			int e = unlinkat(dirfd(dir), de->d_name, AT_REMOVEDIR) < 0 ? errno : 0;
			printf("task %" PRIu64 ": row lost, cgroup %s empty (it ran): %s\n", id,
			       de->d_name, e ? strerror(e) : "removed");
			continue;
		}
		nt = realloc(*tasks, (*n + 1) * sizeof(*nt));
		if (!nt) {
			r = -ENOMEM;
			break;
		}
		*tasks = nt;
		if (synthesize(d, dfd, queue, id, nt, *n, &nt[*n]) < 0) {
			dtask_free_fields(&nt[*n]);
			r = -ENOMEM;
			break;
		}
		(*n)++;
		printf("task %" PRIu64 ": row lost, cgroup %s holds processes: recorded running "
		       "(command unknown), adopted at start\n",
		       id, de->d_name);
	}
	closedir(dir);
	return r;
}

/* state.db.new written and closed, the damaged files moved aside, the new one in place. */
static int replace_db(struct daemon *d, const struct dtask *tasks, size_t n, uint64_t next,
		      char *moved, size_t msz)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char path[PATH_MAX], from[PATH_MAX + 8], to[PATH_MAX + 64], err[256];
	struct dstore *s = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	snprintf(path, sizeof(path), "%s/state.db.new", d->o.state_dir);
	for (size_t i = 0; i < 3; i++) {
		snprintf(from, sizeof(from), "%s%s", path, sfx[i]);
		(void)unlink(from);
	}
	r = dstore_open(path, &s, err, sizeof(err));
	if (r >= 0)
		r = dstore_write_all(s, tasks, n, next);
	dstore_close(s); /* checkpoints: state.db.new alone holds everything */
	if (r < 0) {
		fprintf(stderr, "edgesliced: %s: %s\n", path, strerror(-r));
		return r;
	}
	gmtime_r(&now, &tm);
	snprintf(moved, msz, "state.db.damaged-%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	for (size_t i = 0; i < 3; i++) { /* a stale -wal must never meet the new file */
		snprintf(from, sizeof(from), "state.db%s", sfx[i]);
		snprintf(to, sizeof(to), "%s%s", moved, sfx[i]);
		if (renameat(d->state_fd, from, d->state_fd, to) < 0 && errno != ENOENT)
			return -errno;
	}
	if (renameat(d->state_fd, "state.db.new", d->state_fd, "state.db") < 0)
		return -errno;
	return fsync(d->state_fd) < 0 ? -errno : 0;
}

int daemon_recover(struct daemon *d)
{
	char path[PATH_MAX], err[256], moved[64];
	struct dtask *tasks = NULL;
	size_t n = 0, bad = 0, rows;
	uint64_t next = 0, max_id = 0;
	struct dstore *s = NULL;
	bool failed = false;
	int r;

	snprintf(path, sizeof(path), "%s/state.db", d->o.state_dir);
	if (access(path, F_OK) < 0) {
		fprintf(stderr, "edgesliced: %s: nothing to recover (%m)\n", path);
		return -ENOENT;
	}
	r = dstore_open(path, &s, err, sizeof(err));
	if (r >= 0)
		r = dstore_load(s, &tasks, &n, &next, err, sizeof(err));
	dstore_close(s);
	dstate_free(tasks, n);
	if (r >= 0) {
		printf("%s: not damaged (%zu task(s)); nothing to do\n", path, n);
		return 0;
	}
	printf("%s: damaged (%s)\n", path, err);
	tasks = NULL;
	n = 0;
	r = dstore_salvage(path, &tasks, &n, &next, &bad, &failed);
	if (r < 0) {
		fprintf(stderr, "edgesliced: %s: %s\n", path, strerror(-r));
		return r;
	}
	rows = n;
	for (size_t i = 0; i < n; i++)
		max_id = tasks[i].id > max_id ? tasks[i].id : max_id;
	r = scan_cgroups(d, &tasks, &n, &max_id);
	if (r < 0)
		fprintf(stderr, "edgesliced: %s: cannot list task cgroups: %s\n", d->cg_path,
			strerror(-r));
	if (r >= 0) {
		next = next > max_id ? next : max_id + 1; /* no id is handed out twice */
		r = replace_db(d, tasks, n, next, moved, sizeof(moved));
	}
	if (r >= 0)
		printf("recovered: %zu task row(s)%s; %zu row(s) did not validate; %zu running "
		       "task(s) without a row re-adopted from cgroups; next id %" PRIu64
		       "\nnot recovered: %s%s\ndamaged file kept as %s/%s\n",
		       rows, failed ? " (reading stopped at damage)" : "", bad, n - rows, next,
		       failed || bad ? "rows on damaged pages (queued or finished tasks not "
				       "listed above are lost)"
				     : "nothing",
		       "", d->o.state_dir, moved);
	dstate_free(tasks, n);
	return r;
}
