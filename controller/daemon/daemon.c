/* daemon.c — edgesliced's service loop: control socket, live placement (measure -> policy
 * -> cgroup limits -> spawn), exit detection, persistence before acknowledgement, adoption.
 *
 * Data flow of one placement:
 *   submit ──> state.db (queued) ──> policy_enqueue
 *   tick/exit/submit ──> measure (cpu.stat, memory.current) ──> policy_sample/set_device_free
 *   policy_next ──> state.db (starting) ──> cg_task_create(cpu.max, memory.max, cpuset)
 *              ──> cg_task_spawn (clone3 into the cgroup) ──> state.db (running)
 *   cgroup.events populated=0 (EPOLLPRI) ─> policy_release ──> state.db (done) ──> rmdir
 *
 * Crash rules (see docs/DAEMON.md): a "starting" task whose cgroup never used CPU was never
 * started and is re-queued; one whose cgroup ran is running or finished, never restarted. */
#include "daemon-internal.h"

/* --- startup, adoption, shutdown -------------------------------------------------------- */

static int node_capacity(struct daemon *d)
{
	return daemon_node_capacity(d, &d->conf, &d->node_cpu, &d->node_mem);
}

/* A task found in state.db at startup. */
static int adopt(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_events ev;
	char name[128];
	uint64_t usec = 0;
	int r;

	if (t->state == DTASK_QUEUED || t->state == DTASK_WAITING || !dtask_state_live(t->state))
		return 0;
	if (dtask_cgroup_name(t, name, sizeof(name)) < 0 || t->dev < 0 ||
	    (size_t)t->dev >= d->n_dev) {
		t->state = DTASK_FAILED;
		snprintf(t->reason, sizeof(t->reason), "lost");
		return 0;
	}
	r = cg_task_adopt(d->root, name, &rt->cg);
	if (r == -ENOENT) {
		if (t->state == DTASK_STARTING) {
			/* Crashed before the cgroup existed: it never ran. */
			t->state = DTASK_QUEUED;
			t->dev = -1;
			return 0;
		}
		/* We remove a cgroup only after its task ended, just before recording that; or
		 * someone stopped edgeslice-tasks.service. Either way it is not running. */
		t->state = DTASK_DONE;
		t->end_us = daemon_realtime_us();
		snprintf(t->reason, sizeof(t->reason), "vanished-while-down");
		daemon_log(LOG_WARNING, "task %" PRIu64 ": cgroup %s vanished while we were down",
			   t->id, name);
		return 0;
	}
	if (r < 0)
		return r;
	r = cg_task_read_events(rt->cg, &ev);
	if (r < 0)
		return r;
	(void)cg_task_read_cpu_usec(rt->cg, &usec);
	if (!ev.populated) {
		if (t->state == DTASK_STARTING && usec == 0) {
			/* Created but never spawned: nothing ran, start it again. */
			(void)cg_task_destroy(TAKE_PTR(rt->cg), 1000);
			t->state = DTASK_QUEUED;
			t->dev = -1;
			return 0;
		}
		t->state = DTASK_RUNNING; /* finished while we were down */
		daemon_task_finish(d, t, DTASK_DONE, "exited-while-down");
		return 0;
	}
	t->state = DTASK_RUNNING;
	if (!t->start_us)
		t->start_us = daemon_realtime_us();
	r = daemon_shape_task(d, t); /* adopts its class if the uplink kept it */
	if (r < 0)
		daemon_log(LOG_WARNING,
			   "task %" PRIu64 ": uplink: cannot shape its uploads again: %s", t->id,
			   strerror(-r));
	r = daemon_watch_task(d, t);
	if (r < 0)
		return r;
	daemon_log(LOG_INFO, "task %" PRIu64 " (%s) adopted on %s", t->id, t->queue,
		   d->dev[t->dev].name);
	return 0;
}

static int load_state(struct daemon *d)
{
	struct dtask *flat = NULL;
	size_t n = 0;
	int r = daemon_state_load(d, &flat, &n);

	if (r < 0)
		return r;
	d->loading = true;
	for (size_t i = 0; i < n; i++) {
		struct dtask *t = malloc(sizeof(*t));
		if (!t || daemon_task_append(d, t) < 0) {
			free(t);
			dstate_free(flat, n);
			return -ENOMEM;
		}
		*t = flat[i];
		memset(&flat[i], 0, sizeof(flat[i]));
		t->rt = NULL;
		if (!daemon_trt_new(d, t)) {
			dstate_free(flat, n);
			return -ENOMEM;
		}
		daemon_task_stored(t);
	}
	dstate_free(flat, n);
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct dqueue *q;
		if (!dtask_state_live(t->state))
			continue;
		r = daemon_queue_get(d, t->queue, t->cpu, t->mem, &q);
		if (r < 0)
			return r;
		r = adopt(d, t);
		if (r < 0) {
			daemon_log(LOG_ERR, "task %" PRIu64 ": cannot adopt: %s", t->id,
				   strerror(-r));
			return r;
		}
		if (t->state == DTASK_QUEUED) {
			r = policy_enqueue(d->pol, q->policy_id, t->id, daemon_mono_s(d));
			if (r < 0)
				return r;
		}
	}
	d->loading = false;
	daemon_apps_settle_all(
	    d);			 /* tasks that ended while we were down release their successors */
	daemon_tasks_compare(d); /* what adoption changed */
	return daemon_persist(d);
}

static int open_socket(struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int n = sd_listen_fds(1);

	/* Socket activation: the unix socket is the control socket (edgesliced.socket), a TCP
	 * one the metrics endpoint (edgesliced-metrics.socket); anything else is refused. */
	for (int i = 0; i < n; i++) {
		int s = SD_LISTEN_FDS_START + i;
		if (sd_is_socket_unix(s, SOCK_STREAM, 1, NULL, 0) > 0 && d->listen_fd < 0)
			d->listen_fd = s;
		else if (sd_is_socket_inet(s, AF_UNSPEC, SOCK_STREAM, 1, 0) > 0 &&
			 d->mx.listen_fd < 0)
			d->mx.listen_fd = s;
		else
			return -E2BIG;
	}
	if (d->listen_fd >= 0)
		return 0;
	if (mkdir(d->o.runtime_dir, 0755) < 0 && errno != EEXIST)
		return negative_errno();
	if (snprintf(d->sock_path, sizeof(d->sock_path), "%s/control.sock", d->o.runtime_dir) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, d->sock_path, strlen(d->sock_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	(void)unlink(d->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0)
		return negative_errno();
	if (chmod(d->sock_path, 0660) < 0)
		return negative_errno();
	/* Without the group the socket still serves root: say why the others are refused. */
	if (d->have_group && chown(d->sock_path, 0, d->group) < 0)
		daemon_log(LOG_WARNING, "%s: cannot give it group %s (%s): only root may use it",
			   d->sock_path, d->conf.group, strerror(errno));
	d->own_socket = true;
	d->listen_fd = TAKE_FD(fd);
	return 0;
}

/* --- bounded shutdown ------------------------------------------------------------------ */

/* Once asked to stop, the daemon is gone within SHUTDOWN_DEADLINE_S whatever holds it: the
 * tasks run on in their own unit and the next start adopts them, and state.db is written one
 * transaction per change, so exiting here loses nothing acknowledged. The journal line names
 * the step that did not finish (the unit's TimeoutStopSec=90s is the outer bound; its own
 * "timed out" line instead means the event loop never saw the signal). */
#define SHUTDOWN_DEADLINE_S 30
static const char *volatile shutdown_step = "event loop";

static void on_shutdown_alarm(int sig)
{
	const char *parts[] = {daemon_log_prefix ? "<3>" : "",
			       "edgesliced: shutdown did not finish in time (step: ", shutdown_step,
			       "); exiting, tasks keep running\n"};
	(void)sig;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (write(STDERR_FILENO, parts[i], strlen(parts[i])) < 0)
			break;
	_exit(EXIT_FAILURE);
}

static unsigned shutdown_deadline_s = SHUTDOWN_DEADLINE_S;
/* Hidden, for tests/integration/daemon: EDGESLICED_TEST_SHUTDOWN_HANG=N makes the deadline N
 * seconds and the shutdown hang after writing state.db, as a stuck step would. */
static bool shutdown_test_hang;

static void shutdown_deadline_arm(void)
{
	static bool armed;
	struct sigaction sa = {.sa_handler = on_shutdown_alarm};

	if (armed)
		return;
	armed = true;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
	alarm(shutdown_deadline_s);
}

static void shutdown_test_setup(void)
{
	const char *v = getenv("EDGESLICED_TEST_SHUTDOWN_HANG");
	char *end;
	unsigned long n;

	if (!v)
		return;
	n = strtoul(v, &end, 10);
	if (*end || n < 1 || n > SHUTDOWN_DEADLINE_S)
		return;
	shutdown_deadline_s = (unsigned)n;
	shutdown_test_hang = true;
}

/* While draining, how far ahead each EXTEND_TIMEOUT_USEC= pushes the unit's stop timeout. */
#define DRAIN_EXTEND_USEC_STR "30000000"

static bool any_running(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING || d->tasks[i]->state == DTASK_STARTING)
			return true;
	return false;
}

static int on_term(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;

	if (d->conf.on_sigterm == DCONF_SIGTERM_LEAVE || d->draining || !any_running(d)) {
		shutdown_deadline_arm();
		(void)sd_notify(0, "STOPPING=1");
		return sd_event_exit(d->ev, 0);
	}
	/* drain: no new placements; exit when the running tasks are done. The unit's stop
	 * timeout is finite (a hung stop must not hold apt or a shutdown for ever), so the drain
	 * extends it while it makes progress (on_drain_check). */
	d->draining = true;
	(void)sd_notify(0, "EXTEND_TIMEOUT_USEC=" DRAIN_EXTEND_USEC_STR);
	daemon_log(LOG_INFO,
		   "draining: waiting for running tasks (send SIGTERM again to leave them)");
	daemon_notify_status(d);
	return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	char err[256], restart[256];
	(void)daemon_reload(d, restart, sizeof(restart), err, sizeof(err));
	return 0;
}

static int on_drain_check(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	if (d->draining && !any_running(d)) {
		shutdown_deadline_arm();
		(void)sd_notify(0, "STOPPING=1");
		return sd_event_exit(d->ev, 0);
	}
	/* Every 5 s (25 checks) while draining: another 30 s from now. */
	if (d->draining && ++d->drain_checks % 25 == 0)
		(void)sd_notify(0, "EXTEND_TIMEOUT_USEC=" DRAIN_EXTEND_USEC_STR);
	return sd_event_source_set_time_relative(s, 200000);
}

/* The cgroup2 mount: want (--cgroupfs), else <sys>/fs/cgroup, else <sys>/fs/cgroup/unified. */
static int pick_cgroupfs(const char *sys, const char *want, char *buf, size_t size)
{
	char path[PATH_MAX];
	struct statfs sf;

	if (want) {
		snprintf(buf, size, "%s", want);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/fs/cgroup", sys);
	if (statfs(path, &sf) == 0 && sf.f_type == 0x63677270) {
		snprintf(buf, size, "%s", path);
		return 0;
	}
	snprintf(path, sizeof(path), "%s/fs/cgroup/unified", sys); /* hybrid hosts */
	if (statfs(path, &sf) == 0 && sf.f_type == 0x63677270) {
		snprintf(buf, size, "%s", path);
		return 0;
	}
	return -ENOMEDIUM;
}

static bool cpuset_offered(struct cg_root *root)
{
	_cleanup_free_ char *c = NULL;
	if (read_file_at(cg_root_fd(root), "cgroup.controllers", &c, NULL) < 0)
		return false;
	for (char *save = NULL, *tok = strtok_r(c, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save))
		if (!strcmp(tok, "cpuset"))
			return true;
	return false;
}

/* Configuration, model catalog, socket group, node capacity and the device set. */
static int setup_config(struct daemon *d)
{
	const struct daemon_opts *o = &d->o;
	_cleanup_free_ char *conftext = NULL;
	char err[256];
	struct group *gr;
	int r;

	dconf_init(&d->conf);
	r = read_file_at(AT_FDCWD, o->config, &conftext, NULL);
	if (r < 0 && r != -ENOENT) {
		daemon_log(LOG_ERR, "%s: %s", o->config, strerror(-r));
		return r;
	}
	if (conftext && dconf_parse(conftext, &d->conf, err, sizeof(err)) < 0) {
		daemon_log(LOG_ERR, "%s: %s", o->config, err);
		return -EINVAL;
	}
	r = daemon_load_catalog(d, d->conf.catalog, d->conf.catalog_set, err, sizeof(err));
	if (r < 0) {
		daemon_log(LOG_ERR, "catalog %s", err);
		return r;
	}
	gr = getgrnam(d->conf.group);
	if (gr) {
		d->group = gr->gr_gid;
		d->have_group = true;
	} else
		daemon_log(LOG_WARNING, "group %s does not exist: only root may use the socket",
			   d->conf.group);
	r = node_capacity(d);
	if (r < 0) {
		daemon_log(LOG_ERR, "cannot read the node's memory size");
		return r;
	}
	r = devset_local_new(&d->conf, d->node_cpu, d->node_mem, &d->devs);
	if (r < 0) {
		daemon_log(LOG_ERR,
			   "device partitions exceed the node (%.3g cores, %" PRIu64 " bytes)",
			   d->node_cpu, d->node_mem);
		return r;
	}
	return 0;
}

/* The placement policy over the device set. */
static int setup_policy(struct daemon *d)
{
	struct policy_params pp = {0};
	int r;

	d->n_dev = devset_count(&d->devs);
	d->dev = calloc(d->n_dev, sizeof(*d->dev));
	if (!d->dev) {
		daemon_log(LOG_ERR, "devices: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	r = policy_kind_from_name(d->conf.policy, &pp.kind);
	if (r < 0) {
		daemon_log(LOG_ERR, "policy %s: %s", d->conf.policy, strerror(-r));
		return r;
	}
	pp.seed = d->conf.seed;
	pp.reconcile_period_s = 10;
	r = policy_new(&pp, &d->pol);
	if (r < 0) {
		daemon_log(LOG_ERR, "policy %s: %s", d->conf.policy, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < d->n_dev; i++) {
		(void)devset_get(&d->devs, i, &d->dev[i]);
		r = policy_add_device(d->pol, (uint32_t)i,
				      (struct policy_res){d->dev[i].cpu, (double)d->dev[i].mem});
		if (r < 0) {
			daemon_log(LOG_ERR, "device %s: %s", d->dev[i].name, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* The delegated cgroup subtree tasks run in; ret_path is its absolute path. */
static int setup_cgroup(struct daemon *d, char **ret_path)
{
	const struct daemon_opts *o = &d->o;
	_cleanup_free_ char *cgpath = NULL;
	char cgfs[PATH_MAX], self[PATH_MAX];
	int r;

	r = pick_cgroupfs(o->sys ? o->sys : "/sys", o->cgroupfs, cgfs, sizeof(cgfs));
	if (r < 0) {
		daemon_log(LOG_ERR,
			   "no cgroup2 hierarchy mounted (a cgroup v1 host): edgeslice "
			   "needs cgroup v2; boot with systemd.unified_cgroup_hierarchy=1");
		return r;
	}
	if (o->cgroup_root) {
		/* A path inside the hierarchy, e.g. /system.slice/edgeslice-tasks.service. */
		if (asprintf(&cgpath, "%s%s", cgfs, o->cgroup_root) < 0) {
			cgpath = NULL;
			daemon_log(LOG_ERR, "cgroup root: %s", strerror(ENOMEM));
			return -ENOMEM;
		}
		if (mkdir(cgpath, 0755) < 0 && errno != EEXIST) {
			r = negative_errno();
			daemon_log(LOG_ERR, "%s: %s", cgpath, strerror(-r));
			return r;
		}
	} else {
		snprintf(self, sizeof(self), "%s/self/cgroup", o->proc ? o->proc : "/proc");
		r = cg_root_discover(cgfs, self, &cgpath);
		if (r < 0) {
			daemon_log(LOG_ERR, "cannot find our own cgroup below %s: %s", cgfs,
				   strerror(-r));
			return r;
		}
	}
	if (!cgpath) {
		daemon_log(LOG_ERR, "cannot find our own cgroup below %s", cgfs);
		return -ENOENT;
	}
	d->cg_path = cgpath;
	snprintf(d->cgroupfs, sizeof(d->cgroupfs), "%s", cgfs);
	r = cg_root_open(cgfs, cgpath, &d->root);
	if (r >= 0)
		r = cg_root_setup(d->root);
	if (r < 0) {
		daemon_log(LOG_ERR,
			   "cgroup subtree %s: %s (run with Delegate=yes or --cgroup-root)", cgpath,
			   strerror(-r));
		return r;
	}
	if (strstr(cg_root_missing(d->root), "cpuset") && cpuset_offered(d->root)) {
		/* Say why, once: cg_root_setup records only that it is missing. */
		r = write_string_at(cg_root_fd(d->root), "cgroup.subtree_control", "+cpuset");
		daemon_log(LOG_WARNING, "cpuset: enabling in %s: %s", cgpath,
			   r < 0 ? strerror(-r) : "ok now");
		if (r >= 0)
			(void)cg_root_setup(d->root);
	}
	if (cg_root_missing(d->root)[0]) {
		if (d->conf.strict &&
		    (!cg_root_has(d->root, "cpu") || !cg_root_has(d->root, "memory"))) {
			daemon_log(LOG_ERR, "controllers missing in %s: %s (enforcement = strict)",
				   cgpath, cg_root_missing(d->root));
			return -EOPNOTSUPP;
		}
		daemon_log(LOG_WARNING,
			   "controllers missing in %s: %s; their limits are not enforced", cgpath,
			   cg_root_missing(d->root));
	}
	r = daemon_check_kernel(d, cgfs);
	if (r < 0)
		return r;
	*ret_path = TAKE_PTR(cgpath);
	return 0;
}

/* Measurement (before the state, which re-adopts running tasks into it) and the uplink. */
static int setup_measurement(struct daemon *d)
{
	struct sampler_params sp;
	int r;

	sampler_params_init(&sp);
	sp.proc_root = d->o.proc;
	sp.btf_path = d->btf_path;
	sp.alpha = d->conf.smoothing;
	sp.use_bpf = d->conf.measure != DCONF_MEASURE_CGROUP;
	r = sampler_new(&sp, &d->sampler);
	if (r < 0) {
		daemon_log(LOG_ERR, "measurement: cannot read the node's /proc files: %s",
			   strerror(-r));
		return r;
	}
	r = sampler_bpf_error(d->sampler);
	d->bpf = sp.use_bpf && r == 0;
	if (sp.use_bpf && r < 0) {
		if (d->conf.measure == DCONF_MEASURE_EBPF) {
			daemon_log(LOG_ERR,
				   "measure = ebpf: the eBPF scheduler probe cannot run: %s",
				   probe_bpf_error_reason(r));
			return r;
		}
		/* A missing kernel feature is the node's (said once by check_kernel when it is the
		 * BTF); anything else is a bug of ours. */
		if (!(r == -EOPNOTSUPP && !d->caps.btf))
			daemon_log(r == -EOPNOTSUPP || r == -EPERM ? LOG_NOTICE : LOG_ERR,
				   "eBPF scheduler probe unavailable (%s: %s); measuring with "
				   "cgroup files only",
				   probe_bpf_error_reason(r), strerror(-r));
	}

	if (d->conf.uplink[0]) {
		r = shaper_open(d->conf.uplink, d->conf.uplink_rate, &d->shaper);
		if (r < 0) {
			daemon_log(LOG_ERR, "uplink %s: %s", d->conf.uplink,
				   r == -ENODEV ? "no such interface in this network namespace"
						: strerror(-r));
			return r;
		}
		if (shaper_is_active(d->shaper))
			daemon_log(
			    LOG_NOTICE,
			    "uplink %s: edgeslice's shaping found (a previous run's); adopting it",
			    d->conf.uplink);
	}
	return 0;
}

/* The event loop and what runs on it: removal thread, fleet, state, socket, signals, timers. */
static int setup_loop(struct daemon *d, sd_event_source **drain_src)
{
	int r;

	r = sd_event_default(&d->ev);
	if (r < 0) {
		daemon_log(LOG_ERR, "event loop: %s", strerror(-r));
		return r;
	}
	r = daemon_reaper_start(&d->reaper);
	if (r < 0) {
		daemon_log(LOG_ERR, "cannot start the cgroup removal thread: %s", strerror(-r));
		return r;
	}
	r = fleet_setup(d); /* before the state: adopted fleet tasks report through it */
	if (r < 0) {
		daemon_log(LOG_ERR, "fleet: %s", strerror(-r));
		return r;
	}
	r = load_state(d);
	if (r < 0) {
		if (r != -EBADMSG) /* a corrupt file was said in its own words */
			daemon_log(LOG_ERR, "state: %s", strerror(-r));
		return r;
	}
	daemon_sweep_stale(d);
	shaper_sweep(d);
	r = open_socket(d);
	if (r < 0) {
		daemon_log(LOG_ERR, "control socket in %s: %s", d->o.runtime_dir, strerror(-r));
		return r;
	}
	r = daemon_metrics_setup(d);
	if (r < 0)
		return r;
	if ((r = sd_event_add_io(d->ev, &d->listen_src, d->listen_fd, EPOLLIN, daemon_on_accept,
				 d)) < 0 ||
	    (r = sd_event_add_signal(d->ev, NULL, SIGTERM, on_term, d)) < 0 ||
	    (r = sd_event_add_signal(d->ev, NULL, SIGINT, on_term, d)) < 0 ||
	    (r = sd_event_add_signal(d->ev, NULL, SIGHUP, on_hup, d)) < 0 ||
	    (r = sd_event_add_time_relative(d->ev, &d->tick_src, CLOCK_MONOTONIC,
					    (uint64_t)d->conf.measure_ms * 1000u, 1000,
					    daemon_on_tick, d)) < 0 ||
	    (r = sd_event_add_time_relative(d->ev, drain_src, CLOCK_MONOTONIC, 200000, 10000,
					    on_drain_check, d)) < 0) {
		daemon_log(LOG_ERR, "event sources: %s", strerror(-r));
		return r;
	}
	(void)sd_event_source_set_enabled(d->tick_src, SD_EVENT_ON);
	(void)sd_event_source_set_enabled(*drain_src, SD_EVENT_ON);
	(void)sd_event_set_watchdog(d->ev, true);
	return 0;
}

static void teardown(struct daemon *d, sd_event_source *drain_src)
{
	/* Prepared cgroups of queued tasks go (a restart prepares them again). */
	shutdown_step = "removing prepared cgroups";
	while (d->n_prepared) {
		struct dtask *t = daemon_task_find(d, d->prepared[0]);
		struct trt *rt = t ? t->rt : NULL;
		if (rt && rt->prepared && rt->cg && cg_task_destroy(rt->cg, 200) < 0)
			cg_task_free(rt->cg);
		if (rt) {
			rt->cg = NULL;
			rt->prepared = false;
		}
		d->prepared[0] = d->prepared[--d->n_prepared];
	}
	shutdown_step = "joining the cgroup removal thread";
	daemon_reaper_stop(&d->reaper);
	shutdown_step = "closing clients, metrics, foreign-load readers";
	while (d->clients)
		daemon_client_free(d->clients);
	daemon_metrics_teardown(d);
	daemon_foreign_teardown(d);
	d->turns_src = sd_event_source_disable_unref(d->turns_src);
	d->sched_src = sd_event_source_disable_unref(d->sched_src);
	d->sample_src = sd_event_source_disable_unref(d->sample_src);
	daemon_batch_free(d);
	shutdown_step = "removing finished tasks' upload classes";
	if (d->shaper) { /* stopping: finished tasks' classes go now */
		for (size_t i = 0; i < d->n_unshape; i++)
			d->unshape[i].deadline_us = 0;
		daemon_unshape_drained(d, now_usec());
	}
	free(d->unshape);
	if (d->shaper && daemon_any_shaped(d))
		daemon_log(LOG_INFO,
			   "uplink %s: classes of running tasks kept (a restart adopts them)",
			   d->conf.uplink);
	d->stopping = true; /* their rows stay */
	for (size_t i = 0; i < d->n_tasks; i++)
		daemon_task_free(d->tasks[i]);
	free(d->tasks);
	free(d->gone);
	free(d->chg);
	shutdown_step = "closing state.db";
	dstore_close(d->store);
	shutdown_step = "detaching the eBPF probes";
	sampler_free(d->sampler);
	shutdown_step = "closing fleet connections";
	fleet_teardown(d);
	shutdown_step = "closing the shaper";
	shaper_free(d->shaper);
	shutdown_step = "releasing the event loop and the state folder";
	sd_event_source_disable_unref(drain_src);
	sd_event_source_disable_unref(d->tick_src);
	sd_event_source_disable_unref(d->listen_src);
	if (d->own_socket) {
		(void)unlink(d->sock_path);
		close(d->listen_fd);
	}
	sd_event_unref(d->ev);
	if (d->state_fd >= 0)
		close(d->state_fd);
	if (d->lock_fd >= 0)
		close(d->lock_fd); /* releases the lock */
	cg_root_free(d->root);
	policy_free(d->pol);
	devset_free(&d->devs);
	free(d->dev);
	free(d->queues);
	free(d->models);
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon dd = {0}, *d = &dd;
	_cleanup_free_ char *cgpath = NULL;
	sd_event_source *drain_src = NULL;
	int r, ret = 1;
	sigset_t ss;

	daemon_log_prefix = getenv("JOURNAL_STREAM") != NULL;
	if (getenv("EDGESLICED_DEBUG"))
		daemon_log_max = LOG_DEBUG;
	/* Hidden, for bench/daemon-run's before/after: one transaction per request. */
	d->batch.off =
	    getenv("EDGESLICED_GROUP_COMMIT") && !strcmp(getenv("EDGESLICED_GROUP_COMMIT"), "0");
	d->o = *o;
	d->listen_fd = d->state_fd = d->lock_fd = d->mx.listen_fd = -1;
	snprintf(d->btf_path, sizeof(d->btf_path), "%s",
		 o->btf ? o->btf : "/sys/kernel/btf/vmlinux");
	if (!o->btf && o->sys)
		snprintf(d->btf_path, sizeof(d->btf_path), "%s/kernel/btf/vmlinux", o->sys);
	d->t0_us = now_usec();
	shutdown_test_setup();
	/* Blocked before any thread exists (the cgroup removal thread, libcurl's), so that every
	 * thread inherits the mask and these reach only the event loop's signalfd; one arriving
	 * during start-up waits for the loop. Tasks get a clean mask in cg_task_spawn. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (setup_config(d) < 0)
		return 1;
	r = daemon_open_state_dir(d);
	if (r < 0) {
		if (r == -EBUSY)
			ret = DAEMON_EXIT_BUSY;
		goto out;
	}
	if (setup_policy(d) < 0)
		goto out;
	r = setup_cgroup(d, &cgpath);
	if (r < 0) {
		/* This kernel cannot do what the configuration requires: restarting will not help
		 * (the unit lists this status in RestartPreventExitStatus=). */
		if (r == -EOPNOTSUPP)
			ret = DAEMON_EXIT_UNSUPPORTED;
		goto out;
	}
	if (o->recover) {
		ret = daemon_recover(d) < 0 ? 1 : 0;
		goto out;
	}

	if (setup_measurement(d) < 0 || daemon_foreign_setup(d) < 0)
		goto out;
	r = setup_loop(d, &drain_src);
	if (r < 0) {
		if (r == -EBADMSG)
			ret = DAEMON_EXIT_CORRUPT;
		goto out;
	}
	daemon_schedule(d);
	daemon_log(LOG_INFO,
		   "ready: policy %s, %zu device(s), measuring with %s, cgroup %s, socket %s",
		   d->conf.policy, d->n_dev, d->bpf ? "eBPF + cgroup files" : "cgroup files",
		   cgpath, d->own_socket ? d->sock_path : "(socket activation)");
	(void)sd_notify(0, "READY=1");
	daemon_notify_status(d);
	r = sd_event_loop(d->ev);
	if (r < 0)
		daemon_log(LOG_ERR, "event loop: %s", strerror(-r));
	ret = r < 0 ? 1 : 0;
	shutdown_step = "writing state.db";
	/* Requests still waiting for a group commit are dropped with the batch (teardown): they
	 * were never answered, so no client counts on them. */
	daemon_tasks_compare(d);
	(void)daemon_persist(d);
	if (shutdown_test_hang && r >= 0) {
		shutdown_step = "test hang";
		for (;;)
			pause();
	}
	daemon_log(LOG_INFO, "stopping; %s",
		   any_running(d) ? "running tasks keep running" : "no tasks running");
out:
	teardown(d, drain_src);
	return ret;
}
