/* placement.c — live placement: measurement tick -> policy -> cgroup limits -> spawn, with
 * reservations for tasks that are starting. */
#include "daemon-internal.h"

/* --- placement ------------------------------------------------------------------------- */

static void fill_limits(struct daemon *d, const struct dtask *t, struct cg_limits *l)
{
	cg_limits_init(l);
	if (cg_root_has(d->root, "cpu"))
		l->cpu_cores = t->cpu;
	if (cg_root_has(d->root, "memory"))
		l->memory_max = t->mem;
	if (cg_root_has(d->root, "cpuset") && t->dev >= 0 && d->dev[t->dev].cpus[0])
		snprintf(l->cpuset_cpus, sizeof(l->cpuset_cpus), "%s", d->dev[t->dev].cpus);
}

/* Makes the task's cgroup with its limits (t->dev < 0: all but the device's cpuset). */
static int make_cgroup(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_limits l;
	char name[128];
	int r;

	r = dtask_cgroup_name(t, name, sizeof(name));
	if (r < 0)
		return r;
	fill_limits(d, t, &l);
	r = cg_task_create(d->root, name, &l, &rt->cg);
	if (r == -EEXIST) {
		/* A leftover of a crash between mkdir and the state write: never ran (we only
		 * get here for tasks that were re-queued, or queued ones whose prepared cgroup
		 * a crash left), so it is safe to recreate. */
		struct cg_task *old;
		if (cg_task_adopt(d->root, name, &old) >= 0)
			(void)cg_task_destroy(old, 1000);
		r = cg_task_create(d->root, name, &l, &rt->cg);
	}
	return r;
}

/* --- prepared cgroups -------------------------------------------------------------------
 * The cgroup of the task a queue places next is made and limited while it waits, so that
 * between one task's exit and the next one's exec stand only the placement record, the
 * device's cpuset and the spawn (docs/DAEMON.md, Prepared cgroups). At most
 * prepare_cgroups at once, for the queues whose heads the policy would pick first. */

void daemon_unprepare(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;

	for (size_t i = 0; i < d->n_prepared; i++)
		if (d->prepared[i] == t->id) {
			d->prepared[i] = d->prepared[--d->n_prepared];
			break;
		}
	if (!rt || !rt->prepared)
		return;
	rt->prepared = false;
	if (rt->cg && t->state != DTASK_STARTING)
		daemon_reaper_push(d, TAKE_PTR(rt->cg));
}

static bool is_prepared(const struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_prepared; i++)
		if (d->prepared[i] == id)
			return true;
	return false;
}

void daemon_prepare_heads(struct daemon *d)
{
	size_t nq = policy_n_queues(d->pol);

	if (d->fleet || d->draining)
		return;
	while (d->n_prepared < d->conf.prepare_cgroups && d->n_prepared < DAEMON_PREPARE_MAX) {
		struct policy_queue_info qi;
		uint64_t best = 0;
		double best_share = INFINITY;
		struct dtask *t;
		int r;

		for (uint32_t q = 0; q < nq; q++)
			if (policy_queue_info(d->pol, q, &qi) >= 0 && qi.has_head &&
			    qi.dominant_share < best_share && !is_prepared(d, qi.head_id)) {
				best = qi.head_id;
				best_share = qi.dominant_share;
			}
		t = best ? daemon_task_find(d, best) : NULL;
		if (!t || t->state != DTASK_QUEUED || !t->rt || ((struct trt *)t->rt)->cg)
			return;
		r = make_cgroup(d, t);
		if (r < 0) {
			/* Its start will make it again and report what fails. */
			daemon_log(LOG_DEBUG, "task %" PRIu64 ": cannot prepare its cgroup: %s",
				   t->id, strerror(-r));
			return;
		}
		((struct trt *)t->rt)->prepared = true;
		d->prepared[d->n_prepared++] = t->id;
	}
}

int daemon_task_start(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_exec e = {0};
	char **oci_argv = NULL;
	bool prepared = rt->prepared && rt->cg;
	pid_t pid;
	int pidfd = -1, r;

	if (rt->prepared)
		daemon_unprepare(d, t); /* keeps rt->cg: the task is starting */
	if (prepared) {
		r = 0;
		if (cg_root_has(d->root, "cpuset") && t->dev >= 0 && d->dev[t->dev].cpus[0])
			r = cg_task_set_cpus(rt->cg, d->dev[t->dev].cpus);
	} else
		r = make_cgroup(d, t);
	if (r < 0)
		return r;
	r = daemon_shape_task(d, t);
	if (r < 0) {
		daemon_log(LOG_ERR, "task %" PRIu64 ": uplink %s: cannot shape its uploads: %s",
			   t->id, d->conf.uplink, strerror(-r));
		return r;
	}
	e.argv = t->argv;
	e.stdin_fd = e.stdout_fd = e.stderr_fd = -1;
	e.uid = (uid_t)-1;
	e.gid = (gid_t)-1;
	if (t->oci) {
		/* The runtime in task-N/rt, the container in task-N/ctr (oci.c). */
		r = daemon_oci_prepare(d, t, &oci_argv);
		if (r < 0)
			return r;
		e.argv = oci_argv;
		e.subdir = "rt";
		e.keep_cgroupns = true;
		/* The runtime's errors (a bundle it refuses) belong in the daemon's log; the
		 * container inherits it as its stderr too. */
		e.stderr_fd = STDERR_FILENO;
	}
	r = cg_task_spawn(rt->cg, &e, &pid, &pidfd);
	strv_free(oci_argv, oci_argv ? 8 : 0);
	if (r < 0)
		return r;
	rt->pidfd = pidfd;
	t->pid = pid;
	t->state = DTASK_RUNNING;
	t->start_us = daemon_realtime_us();
	daemon_task_changed(d, t);
	daemon_mx_placed(d, t);
	fleet_notify(d, t);
	r = daemon_watch_task(d, t);
	if (r < 0)
		daemon_log(LOG_WARNING, "task %" PRIu64 ": cannot watch its cgroup: %s", t->id,
			   strerror(-r));
	return 0;
}

/* Device free capacity as the policy should see it: total minus, per running task, its
 * reservation (demand) or its measured use, whichever is larger — unless placement is on
 * measured use only ("placement = measured"), the pure RD-DRF reading. */
static void update_devices(struct daemon *d)
{
	bool foreign = daemon_foreign_counts(d);

	for (size_t i = 0; i < d->n_dev; i++) {
		double cpu = 0, mem = 0;
		for (size_t k = 0; k < d->n_tasks; k++) {
			struct dtask *t = d->tasks[k];
			struct trt *rt = t->rt;
			if (t->dev != (int)i ||
			    (t->state != DTASK_RUNNING && t->state != DTASK_STARTING))
				continue;
			if (rt && rt->in_policy && d->conf.overcommit) {
				cpu += rt->cpu_used;
				mem += (double)rt->mem_used;
			} else {
				cpu += fmax(t->cpu, rt ? rt->cpu_used : 0);
				mem += fmax((double)t->mem, rt ? (double)rt->mem_used : 0);
			}
		}
		/* RD-DRF: what the load edgeslice did not start uses is not free either, and
		 * nothing is free while the node is under pressure. */
		if (foreign && d->fg.dev) {
			/* Below the noise floor (the daemon, a shell, the kernel's own work)
			 * foreign CPU is not counted: a task that needs the whole device would
			 * otherwise never fit. At or above it, it counts in full. */
			if (d->fg.dev[i].cpu >= d->conf.foreign_floor * d->dev[i].cpu)
				cpu += d->fg.dev[i].cpu;
			if (d->fg.dev[i].mem >= d->conf.foreign_floor * (double)d->dev[i].mem)
				mem += d->fg.dev[i].mem;
		}
		if (foreign && d->fg.backoff)
			cpu = d->dev[i].cpu, mem = (double)d->dev[i].mem;
		(void)policy_set_device_free(
		    d->pol, (uint32_t)i,
		    (struct policy_res){fmax(0, d->dev[i].cpu - cpu),
					fmax(0, (double)d->dev[i].mem - mem)});
	}
}

static void sample_policy(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct policy_res u;

	if (!rt || !rt->in_policy)
		return;
	if (d->conf.overcommit)
		u = (struct policy_res){rt->cpu_used, (double)rt->mem_used};
	else
		u = (struct policy_res){fmax(t->cpu, rt->cpu_used),
					fmax((double)t->mem, (double)rt->mem_used)};
	(void)policy_sample(d->pol, t->id, u);
}

void daemon_schedule(struct daemon *d)
{
	struct policy_placement p;
	uint64_t t0;
	int r;

	if (d->scheduling)
		return;
	if (d->draining) {
		if (d->dirty)
			(void)daemon_persist(d);
		return;
	}
	d->scheduling = true;
	update_devices(d);
	while ((t0 = now_usec(), r = policy_next(d->pol, daemon_mono_s(d), &p)) == 0) {
		struct dtask *t = daemon_task_find(d, p.inst_id);
		struct trt *rt;
		daemon_mx_decision(d, now_usec() - t0);
		if (!t || t->state != DTASK_QUEUED) {
			daemon_log(LOG_ERR, "policy placed unknown task %" PRIu64, p.inst_id);
			(void)policy_release(d->pol, p.inst_id, daemon_mono_s(d));
			continue;
		}
		rt = t->rt;
		rt->in_policy = true;
		t->dev = (int)p.dev_id;
		t->state = DTASK_STARTING;
		daemon_task_changed(d, t);
		/* Persist the placement before anything exists in the cgroup tree, so a crash
		 * in between is recognisable on restart. */
		r = daemon_persist(d);
		if (r >= 0)
			r = daemon_task_start(d, t);
		if (r < 0) {
			daemon_log(LOG_ERR, "task %" PRIu64 " (%s): cannot start on %s: %s", t->id,
				   t->queue, d->dev[t->dev].name, strerror(-r));
			daemon_task_finish(d, t, DTASK_FAILED, "start-failed");
			continue;
		}
		sample_policy(d, t);
		/* pid and start time: not needed for recovery ("starting" + a cgroup that used
		 * CPU is adopted), so they ride on the next write (at the latest the next tick's)
		 * instead of an fsync now, while the task starts and may already be exiting. */
		d->dirty_lazy = true;
		daemon_log(LOG_INFO, "task %" PRIu64 " (%s) placed on %s, pid %" PRId64, t->id,
			   t->queue, d->dev[t->dev].name, t->pid);
		daemon_emit(d, "placed", t);
		update_devices(d);
	}
	d->scheduling = false;
	if (d->dirty)
		(void)daemon_persist(d);
	daemon_prepare_heads(d);
	daemon_notify_status(d);
	/* The task may have exited before its watch was armed. */
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING && d->tasks[i]->rt &&
		    !((struct trt *)d->tasks[i]->rt)->watch_src)
			daemon_check_empty(d, d->tasks[i]);
}

/* Empty task-* cgroups no live task owns: left by a crash between recording an exit and
 * the rmdir. Populated ones are left alone (someone else's, or a bug to look at). */
void daemon_sweep_stale(struct daemon *d)
{
	_cleanup_close_ int fd =
	    openat(cg_root_fd(d->root), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		struct cg_task *ct;
		struct cg_events ev;
		char name[128];
		bool owned = false;
		if (strncmp(de->d_name, "task-", 5))
			continue;
		/* A queued task's cgroup was prepared before a crash and never used: removed
		 * here when empty, and made again when it is prepared or placed. */
		for (size_t i = 0; i < d->n_tasks && !owned; i++)
			owned = dtask_state_live(d->tasks[i]->state) &&
				d->tasks[i]->state != DTASK_QUEUED &&
				dtask_cgroup_name(d->tasks[i], name, sizeof(name)) >= 0 &&
				!strcmp(name, de->d_name);
		if (owned || cg_task_adopt(d->root, de->d_name, &ct) < 0)
			continue;
		if (cg_task_read_events(ct, &ev) >= 0 && !ev.populated &&
		    cg_task_destroy(ct, 500) >= 0)
			daemon_log(LOG_INFO, "removed stale cgroup %s", de->d_name);
		else
			cg_task_free(ct);
	}
	closedir(dir);
}

#define SAMPLE_SLICE 64 /* tasks read per turn of the loop (~1-2 ms of cgroup files) */

static void sample_continue(struct daemon *d);

int daemon_on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t now = now_usec();

	/* Finished tasks are freed only here, never under a handler that still holds one. */
	daemon_trim_finished(d);

	/* systemd may enable a delegated controller on the parent slice only after our start
	 * (seen with cpuset): retry for the first minute rather than run without it. */
	if (cg_root_missing(d->root)[0] && now - d->t0_us < 60000000u) {
		_cleanup_free_ char *before = strdup(cg_root_missing(d->root));
		if (cg_root_setup(d->root) >= 0 && before &&
		    strcmp(before, cg_root_missing(d->root)))
			daemon_log(LOG_INFO, "controllers now enabled; still missing: \"%s\"",
				   cg_root_missing(d->root));
	}
	if (d->shaper)
		daemon_unshape_drained(d, now);
	/* Off until the round's last slice re-arms it: an enabled timer whose time has passed
	 * fires again at once, and would restart the round before it ends. */
	(void)sd_event_source_set_enabled(s, SD_EVENT_OFF);
	d->sample_cursor = 0;
	sample_continue(d);
	return 0;
}

/* The end of a tick, once every task has been read: usage into the policy, foreign load, a
 * placement pass, and the next tick. */
static void tick_finish(struct daemon *d, int r)
{
	if (r < 0 && !d->node_read_failed)
		daemon_log(LOG_WARNING, "measurement: node files: %s", strerror(-r));
	d->node_read_failed = r < 0;
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct trt *rt = t->rt;
		double cpu;
		uint64_t mem;
		if (t->state != DTASK_RUNNING || !rt)
			continue;
		if (rt->main_exited) {
			daemon_check_empty(d, t); /* descendants left, or a lagging notification */
			continue;
		}
		if (daemon_measure_task(d, t, &cpu, &mem) >= 0) {
			rt->cpu_used = cpu;
			rt->mem_used = mem;
			sample_policy(d, t);
		}
	}
	daemon_foreign_tick(d, now_usec());
	if (d->dirty_lazy)
		d->dirty = true;
	daemon_schedule(d);
	(void)sd_event_source_set_time_relative(d->tick_src, (uint64_t)d->conf.measure_ms * 1000u);
	(void)sd_event_source_set_enabled(d->tick_src, SD_EVENT_ON);
}

static int on_sample_slice(sd_event_source *s, void *userdata)
{
	sample_continue(userdata);
	return 0;
}

/* Tasks are read SAMPLE_SLICE at a time, one slice per turn of the loop, below exits and
 * requests in priority: with 1,000 tasks one round took 13-28 ms of file reads here, and an
 * exit that came meanwhile waited for all of it. */
static void sample_continue(struct daemon *d)
{
	int r = sampler_tick_slice(d->sampler, &d->sample_cursor, SAMPLE_SLICE, now_usec());

	if (r == 1) {
		if (!d->sample_src &&
		    sd_event_add_defer(d->ev, &d->sample_src, on_sample_slice, d) >= 0)
			(void)sd_event_source_set_priority(d->sample_src,
							   SD_EVENT_PRIORITY_NORMAL + 2);
		if (d->sample_src &&
		    sd_event_source_set_enabled(d->sample_src, SD_EVENT_ONESHOT) >= 0)
			return;
		while ((r = sampler_tick_slice(d->sampler, &d->sample_cursor, SIZE_MAX,
					       now_usec())) == 1)
			; /* no event source: the rest of the round at once */
	}
	tick_finish(d, r);
}
