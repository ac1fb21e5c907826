/* daemon.c — edgesliced's service loop: control socket, live placement (measure -> policy
 * -> cgroup limits -> spawn), exit detection, persistence before acknowledgement, adoption.
 *
 * Data flow of one placement:
 *   submit ──> state.json (queued) ──> policy_enqueue
 *   tick/exit/submit ──> measure (cpu.stat, memory.current) ──> policy_sample/set_device_free
 *   policy_next ──> state.json (starting) ──> cg_task_create(cpu.max, memory.max, cpuset)
 *              ──> cg_task_spawn (clone3 into the cgroup) ──> state.json (running)
 *   cgroup.events populated=0 (inotify) ──> policy_release ──> state.json (done) ──> rmdir
 *
 * Crash rules (see docs/DAEMON.md): a "starting" task whose cgroup never used CPU was never
 * started and is re-queued; one whose cgroup ran is running or finished, never restarted. */
#include "daemon.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "cg.h"
#include "dapp.h"
#include "dstate.h"
#include "fleet.h"
#include "policy.h"
#include "probes.h"
#include "proto.h"
#include "sampler.h"
#include "shaper.h"
#include "util.h"

#define MAX_CLIENTS 256
#define MAX_OUTBUF  (8u << 20) /* a client that does not read this much is dropped */

struct daemon;

struct trt { /* a task's runtime half */
	struct daemon *d;
	struct cg_task *cg;
	int pidfd;
	sd_event_source *pid_src, *watch_src;
	bool sampled;	    /* known to the sampler */
	uint64_t cgroup_id; /* for the uplink classifier; 0 = unknown */
	bool shaped;	    /* has a class on the uplink */
	double cpu_used;
	uint64_t mem_used;
	bool in_policy, cancel;
	bool main_exited; /* pidfd fired; the cgroup may still hold descendants */
	sd_event_source *recheck_src;
	uint64_t recheck_us;
	int64_t arrival_ms;
};

struct client {
	struct daemon *d;
	int fd;
	sd_event_source *src;
	char *in;
	size_t in_len, in_cap;
	char *out;
	size_t out_len, out_cap;
	bool events, closing, authorized;
	struct ucred cred;
	struct client *next;
};

struct dqueue {
	char name[65];
	double cpu;
	uint64_t mem;
	uint32_t policy_id;
};

struct daemon {
	struct daemon_opts o;
	struct dconf conf;
	sd_event *ev;
	sd_event_source *listen_src, *tick_src;
	int listen_fd, state_fd;
	char sock_path[PATH_MAX];
	bool own_socket;
	gid_t group;
	bool have_group;
	struct cg_root *root;
	struct policy *pol;
	struct devset devs;
	size_t n_dev;
	struct devset_device *dev;
	double node_cpu;
	uint64_t node_mem;
	struct dconf_model *models;
	size_t n_models;
	struct dqueue *queues;
	size_t n_queues;
	struct dtask **tasks;
	size_t n_tasks, cap_tasks;
	uint64_t next_id;
	uint64_t t0_us;
	struct client *clients;
	size_t n_clients;
	bool draining, scheduling;
	bool dirty;	/* in-memory state newer than state.json (only where a crash is harmless) */
	struct reaper { /* removes emptied task cgroups off the event loop */
		pthread_t thread;
		pthread_mutex_t lock;
		pthread_cond_t wake;
		struct cg_task **q;
		size_t n, cap;
		bool stop, running;
	} reaper;
	struct sampler *sampler; /* cgroup files, plus the eBPF probe when it loaded */
	bool bpf;
	bool node_read_failed;
	struct shaper *shaper; /* the uplink's per-task shaping; NULL without uplink = */
	struct unshape {
		uint64_t cgroup_id, deadline_us;
	} * unshape; /* classes of finished tasks, removed once drained */
	size_t n_unshape;
	const char *cg_path;	 /* absolute path of the task subtree */
	char cgroupfs[PATH_MAX]; /* the cgroup2 mount */
	bool journal;
	char last_status[128];
	struct fleet *fleet; /* fleet = etcd (controller/fleet.c); NULL in single-node mode */
	bool loading;	     /* load_state: applications are settled once all tasks are known */
};

/* --- logging -------------------------------------------------------------------------- */

static bool log_prefix;
static int log_max = LOG_INFO;
static void logm(int prio, const char *fmt, ...) _printf_(2, 3);
static void logm(int prio, const char *fmt, ...)
{
	va_list ap;
	if (prio > log_max)
		return;
	flockfile(stderr); /* one line per message, also from the cgroup removal thread */
	if (log_prefix)
		fprintf(stderr, "<%d>", prio);
	else
		fputs("edgesliced: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

static double mono_s(const struct daemon *d)
{
	return (double)(now_usec() - d->t0_us) / 1e6;
}

static uint64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --- measurement ------------------------------------------------------------------------ */

/* Usage of a running task as of the last sampler tick: the EWMA of cpu.stat's usage rate and
 * memory.current. -ENODATA until two good reads exist or when the reading went stale; the
 * previous value is kept then (the policy charges at least the demand anyway). */
static int measure_task(struct daemon *d, const struct dtask *t, double *ret_cpu, uint64_t *ret_mem)
{
	struct sampler_task st;
	int r = sampler_task_get(d->sampler, t->id, &st);

	if (r < 0)
		return r;
	if (!st.valid || st.stale || st.gone)
		return -ENODATA;
	*ret_cpu = st.cores;
	*ret_mem = (st.have & PROBE_HAVE_MEM) ? st.mem_bytes : 0;
	return 0;
}

static void measure_start(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	int r = sampler_add_task(d->sampler, t->id, cg_task_fd(rt->cg), ".");

	if (r < 0 && r != -EEXIST)
		logm(LOG_WARNING, "task %" PRIu64 ": not measured: %s", t->id, strerror(-r));
	else
		rt->sampled = true;
}

/* --- tasks, queues, persistence ------------------------------------------------------- */

static struct dtask *task_find(struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->id == id)
			return d->tasks[i];
	return NULL;
}

static struct trt *trt_new(struct daemon *d, struct dtask *t)
{
	struct trt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->d = d;
	rt->pidfd = -1;
	t->rt = rt;
	return rt;
}

static void trt_close(struct dtask *t)
{
	struct trt *rt = t->rt;
	if (!rt)
		return;
	rt->pid_src = sd_event_source_disable_unref(rt->pid_src);
	rt->watch_src = sd_event_source_disable_unref(rt->watch_src);
	rt->recheck_src = sd_event_source_disable_unref(rt->recheck_src);
	if (rt->pidfd >= 0)
		close(rt->pidfd);
	rt->pidfd = -1;
	if (rt->sampled)
		(void)sampler_remove_task(rt->d->sampler, t->id);
	rt->sampled = false;
	if (rt->cg)
		cg_task_free(rt->cg);
	rt->cg = NULL;
}

static void task_free(struct dtask *t)
{
	if (!t)
		return;
	trt_close(t);
	free(t->rt);
	dtask_free_fields(t);
	free(t);
}

static int persist(struct daemon *d)
{
	_cleanup_free_ struct dtask *flat = NULL;
	_cleanup_free_ char *text = NULL;
	int r;

	flat = calloc(d->n_tasks ? d->n_tasks : 1, sizeof(*flat));
	if (!flat)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_tasks; i++)
		flat[i] = *d->tasks[i];
	r = dstate_format(flat, d->n_tasks, d->next_id, &text);
	if (r < 0)
		return r;
	d->dirty = false;
	r = write_file_atomic_at(d->state_fd, "state.json", text, strlen(text), 0600);
	if (r < 0)
		logm(LOG_ERR, "state.json: write failed: %s", strerror(-r));
	return r;
}

/* Drops the oldest finished tasks beyond keep_finished. */
static bool app_pinned(struct daemon *d, const struct dtask *t);

static void trim_finished(struct daemon *d)
{
	size_t fin = 0;
	for (size_t i = 0; i < d->n_tasks; i++)
		fin += !dtask_state_live(d->tasks[i]->state);
	for (size_t i = 0; i < d->n_tasks && fin > d->conf.keep_finished;) {
		if (!dtask_state_live(d->tasks[i]->state) && !app_pinned(d, d->tasks[i])) {
			task_free(d->tasks[i]);
			memmove(&d->tasks[i], &d->tasks[i + 1],
				(d->n_tasks - i - 1) * sizeof(*d->tasks));
			d->n_tasks--;
			fin--;
		} else
			i++;
	}
}

static int task_append(struct daemon *d, struct dtask *t)
{
	if (d->n_tasks == d->cap_tasks) {
		size_t nc = d->cap_tasks ? d->cap_tasks * 2 : 64;
		struct dtask **n = realloc(d->tasks, nc * sizeof(*n));
		if (!n)
			return -ENOMEM;
		d->tasks = n;
		d->cap_tasks = nc;
	}
	d->tasks[d->n_tasks++] = t;
	return 0;
}

static struct dqueue *queue_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_queues; i++)
		if (!strcmp(d->queues[i].name, name))
			return &d->queues[i];
	return NULL;
}

static const struct dconf_model *model_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_models; i++)
		if (!strcmp(d->models[i].name, name))
			return &d->models[i];
	return NULL;
}

static int queue_get(struct daemon *d, const char *name, double cpu, uint64_t mem,
		     struct dqueue **ret)
{
	struct dqueue *q = queue_find(d, name), *n;
	int r;

	if (q) {
		*ret = q;
		return 0;
	}
	n = realloc(d->queues, (d->n_queues + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	d->queues = n;
	q = &d->queues[d->n_queues];
	memset(q, 0, sizeof(*q));
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->cpu = cpu;
	q->mem = mem;
	r = policy_add_queue(d->pol, name, (struct policy_res){cpu, (double)mem}, 1.0,
			     &q->policy_id);
	if (r < 0)
		return r;
	d->n_queues++;
	*ret = q;
	return 0;
}

/* --- events to subscribers ------------------------------------------------------------ */

static void client_send(struct client *c, const char *line);

static void emit(struct daemon *d, const char *what, const struct dtask *t)
{
	json_object *o = json_object_new_object();
	_cleanup_free_ char *line = NULL;

	if (!o)
		return;
	json_object_object_add(o, "event", json_object_new_string(what));
	json_object_object_add(o, "task", json_object_new_int64((int64_t)t->id));
	json_object_object_add(o, "queue", json_object_new_string(t->queue));
	json_object_object_add(o, "state", json_object_new_string(dtask_state_name(t->state)));
	if (t->app) {
		json_object_object_add(o, "app", json_object_new_int64((int64_t)t->app));
		json_object_object_add(o, "name", json_object_new_string(t->name));
	}
	if (t->dev >= 0 && (size_t)t->dev < d->n_dev)
		json_object_object_add(o, "device", json_object_new_string(d->dev[t->dev].name));
	if (t->state == DTASK_DONE || t->state == DTASK_FAILED || t->state == DTASK_CANCELLED) {
		json_object_object_add(o, "exit_code", json_object_new_int(t->exit_code));
		json_object_object_add(o, "reason", json_object_new_string(t->reason));
	}
	json_object_object_add(o, "time_us", json_object_new_int64((int64_t)realtime_us()));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	if (!line)
		return;
	for (struct client *c = d->clients; c; c = c->next)
		if (c->events && !c->closing)
			client_send(c, line);
}

static void notify_status(struct daemon *d)
{
	unsigned q = 0, run = 0;
	char buf[128];

	for (size_t i = 0; i < d->n_tasks; i++) {
		q += d->tasks[i]->state == DTASK_QUEUED;
		run += d->tasks[i]->state == DTASK_RUNNING || d->tasks[i]->state == DTASK_STARTING;
	}
	snprintf(buf, sizeof(buf), "STATUS=%u queued, %u running on %zu device(s)%s", q, run,
		 d->n_dev, d->draining ? ", draining" : "");
	if (strcmp(buf, d->last_status)) {
		(void)sd_notify(0, buf);
		snprintf(d->last_status, sizeof(d->last_status), "%s", buf);
	}
}

/* --- exit detection -------------------------------------------------------------------- */

/* Fleet mode: a task that came from the fleet reports its state to etcd. */
static void fleet_notify(struct daemon *d, const struct dtask *t)
{
	struct fleet_update u = {
	    .id = t->fleet_id,
	    .state = t->state == DTASK_DONE ? "exited" : dtask_state_name(t->state),
	    .pid = t->pid,
	    .exit_code = t->exit_code,
	    .reason = t->reason,
	    .start_us = t->start_us,
	    .end_us = t->end_us,
	    .queue = t->queue,
	    .cpu = t->cpu,
	    .mem = t->mem,
	    .argv = t->argv,
	    .argc = t->argc,
	    .submit_us = t->submit_us,
	};

	if (!d->fleet || !t->fleet_id)
		return;
	u.device = t->dev >= 0 && (size_t)t->dev < d->n_dev ? d->dev[t->dev].name : "";
	fleet_task_update(d->fleet, &u);
}

static void schedule(struct daemon *d);
static void app_settle(struct daemon *d, uint64_t app);

/* --- upload shaping ------------------------------------------------------------------- */

/* Gives a task with an upload rate its own class on the uplink, keyed by its cgroup id, before
 * its first packet (called between cgroup creation and spawn, and on adoption). */
static int shape_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP};
	char name[128];
	uint32_t classid;
	int r;

	if (!t->upload_rate)
		return 0;
	if (!d->shaper)
		return -ENETDOWN;
	r = dtask_cgroup_name(t, name, sizeof(name));
	if (r >= 0)
		r = probe_cgroup_id_at(cg_root_fd(d->root), name, &rt->cgroup_id);
	if (r < 0)
		return r;
	m.cgroup_id = rt->cgroup_id;
	r = shaper_set_rate(d->shaper, &m, t->upload_rate, &classid);
	if (r < 0)
		return r;
	rt->shaped = true;
	logm(LOG_DEBUG, "task %" PRIu64 ": uploads shaped by class %x:%x", t->id, classid >> 16,
	     classid & 0xffff);
	return 0;
}

static bool any_shaped(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->rt && ((struct trt *)d->tasks[i]->rt)->shaped)
			return true;
	return false;
}

/* No task class left on the uplink — ours or one an admin made with `edgeslice shape`. */
static bool uplink_idle(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;

	if (!shaper_is_active(d->shaper))
		return false;
	if (shaper_list(d->shaper, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i].is_task)
			return false;
	return true;
}

/* A finished task's class goes once it has sent what its task queued (at most 2 s later):
 * deleting a class drops its queue, and with it the task's last bytes or its RST. The last
 * class out restores the uplink's original root qdisc, so an idle node's uplink is exactly as
 * it was without edgeslice. Called from the tick and on task exit. */
static void unshape_drained(struct daemon *d, uint64_t now)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;
	bool removed = false;

	if (!d->n_unshape)
		return;
	if (shaper_list(d->shaper, &v, &n) < 0)
		n = 0;
	for (size_t i = 0; i < d->n_unshape;) {
		struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP,
					 .cgroup_id = d->unshape[i].cgroup_id};
		bool queued = false;
		int r;
		for (size_t k = 0; k < n; k++)
			if (v[k].is_task && v[k].has_match &&
			    v[k].match.kind == SHAPER_MATCH_CGROUP &&
			    v[k].match.cgroup_id == m.cgroup_id)
				queued = v[k].qlen > 0 || v[k].backlog > 0;
		if (queued && now < d->unshape[i].deadline_us) {
			i++;
			continue;
		}
		r = shaper_unset(d->shaper, &m);
		if (r < 0 && r != -ENOENT)
			logm(LOG_WARNING,
			     "uplink %s: removing the class of cgroup id %" PRIu64 ": %s",
			     d->conf.uplink, m.cgroup_id, strerror(-r));
		d->unshape[i] = d->unshape[--d->n_unshape];
		removed = true;
	}
	if (removed && uplink_idle(d)) {
		int r = shaper_restore(d->shaper);
		if (r < 0)
			logm(LOG_WARNING, "uplink %s: restoring the original qdisc: %s",
			     d->conf.uplink, strerror(-r));
	}
}

static void unshape_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct unshape *n;

	if (!rt || !rt->shaped || !d->shaper)
		return;
	rt->shaped = false;
	n = realloc(d->unshape, (d->n_unshape + 1) * sizeof(*n));
	if (!n) { /* cannot wait for it: remove now */
		struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP, .cgroup_id = rt->cgroup_id};
		(void)shaper_unset(d->shaper, &m);
		return;
	}
	d->unshape = n;
	d->unshape[d->n_unshape++] = (struct unshape){rt->cgroup_id, now_usec() + 2000000u};
	unshape_drained(d, now_usec());
}

/* After adoption: a class whose cgroup is gone, or is a task cgroup of ours that no live task
 * owns, is a crash's leftover. Classes an admin set on other cgroups are left alone. */
static void shaper_sweep(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;

	if (!d->shaper || !shaper_is_active(d->shaper))
		return;
	if (shaper_list(d->shaper, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool owned = false;
		if (!v[i].is_task || !v[i].has_match || v[i].match.kind != SHAPER_MATCH_CGROUP)
			continue;
		_cleanup_free_ char *path = NULL;
		int r = shaper_cgroup_path(d->cgroupfs, v[i].match.cgroup_id, &path);
		for (size_t k = 0; k < d->n_tasks && !owned; k++) {
			struct trt *rt = d->tasks[k]->rt;
			owned = rt && rt->shaped && rt->cgroup_id == v[i].match.cgroup_id;
		}
		if (r != -ENOENT && !(r >= 0 && !strncmp(path, d->cg_path, strlen(d->cg_path)) &&
				      !strncmp(path + strlen(d->cg_path), "/task-", 6)))
			owned = true; /* not ours to remove */
		if (!owned && shaper_unset(d->shaper, &v[i].match) >= 0)
			logm(LOG_INFO,
			     "uplink %s: removed the leftover class of cgroup id %" PRIu64,
			     d->conf.uplink, v[i].match.cgroup_id);
	}
	if (uplink_idle(d) && shaper_restore(d->shaper) >= 0)
		logm(LOG_INFO, "uplink %s: no shaped task left; original qdisc restored",
		     d->conf.uplink);
}

/* --- cgroup removal ------------------------------------------------------------------- */

/* rmdir of a cgroup waits for the kernel: EBUSY for ~20 ms after the exit, and on a busy host
 * (cgroup_mutex shared with every other cgroup user) single rmdirs were measured at 20-250
 * ms. Done on the event loop it stalled placements, exits and requests behind it (exit ->
 * next exec p99 130-250 ms), so one thread does it. It touches only the cg_task handles
 * handed to it (and the root's directory fd, read-only). */
static void *reaper_main(void *arg)
{
	struct reaper *rp = arg;

	pthread_mutex_lock(&rp->lock);
	for (;;) {
		struct cg_task *ct;
		bool stopping;
		int r;
		while (!rp->n && !rp->stop)
			pthread_cond_wait(&rp->wake, &rp->lock);
		if (!rp->n)
			break;
		ct = rp->q[--rp->n];
		stopping = rp->stop;
		pthread_mutex_unlock(&rp->lock);
		r = cg_task_destroy(ct, stopping ? 200 : 5000);
		if (r < 0) {
			/* A start-up sweep removes it once it is empty (sweep_stale). */
			logm(LOG_WARNING, "cgroup %s: removal: %s", cg_task_name(ct), strerror(-r));
			cg_task_free(ct);
		}
		pthread_mutex_lock(&rp->lock);
	}
	pthread_mutex_unlock(&rp->lock);
	return NULL;
}

static int reaper_start(struct reaper *rp)
{
	sigset_t all, old;
	int r;

	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->wake, NULL);
	/* The thread inherits a mask blocking every signal: SIGTERM & co. must reach the
	 * event loop's signalfd, not kill the process through a thread that does not block them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&rp->thread, NULL, reaper_main, rp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	rp->running = true;
	return 0;
}

/* Drains the queue (200 ms per cgroup at most) and joins. */
static void reaper_stop(struct reaper *rp)
{
	if (!rp->running)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	pthread_cond_signal(&rp->wake);
	pthread_mutex_unlock(&rp->lock);
	pthread_join(rp->thread, NULL);
	rp->running = false;
	free(rp->q);
	rp->q = NULL;
	pthread_cond_destroy(&rp->wake);
	pthread_mutex_destroy(&rp->lock);
}

static void reaper_push(struct daemon *d, struct cg_task *ct)
{
	struct reaper *rp = &d->reaper;
	bool queued = false;

	if (rp->running) {
		pthread_mutex_lock(&rp->lock);
		if (rp->n == rp->cap) {
			size_t cap = rp->cap ? 2 * rp->cap : 16;
			struct cg_task **q = realloc(rp->q, cap * sizeof(*q));
			if (q) {
				rp->q = q;
				rp->cap = cap;
			}
		}
		if (rp->n < rp->cap) {
			rp->q[rp->n++] = ct;
			queued = true;
			pthread_cond_signal(&rp->wake);
		}
		pthread_mutex_unlock(&rp->lock);
	}
	if (!queued && cg_task_destroy(ct, 200) < 0)
		cg_task_free(ct);
}

static void task_finish(struct daemon *d, struct dtask *t, enum dtask_state st, const char *reason)
{
	struct trt *rt = t->rt;
	struct cg_events ev = {0};
	int r;

	if (rt && rt->cg && cg_task_read_events(rt->cg, &ev) >= 0 && ev.oom_kill > 0 &&
	    st == DTASK_DONE)
		reason = "oom-kill";
	if (rt && rt->cg)
		(void)cg_task_read_cpu_usec(rt->cg, &t->cpu_usec);
	t->state = rt && rt->cancel ? DTASK_CANCELLED : st;
	t->end_us = realtime_us();
	snprintf(t->reason, sizeof(t->reason), "%s", rt && rt->cancel ? "cancelled" : reason);
	if (rt && rt->in_policy) {
		r = policy_release(d->pol, t->id, mono_s(d));
		if (r < 0)
			logm(LOG_WARNING, "task %" PRIu64 ": policy release: %s", t->id,
			     strerror(-r));
		rt->in_policy = false;
	}
	unshape_task(d, t);
	if (rt) {
		rt->pid_src = sd_event_source_disable_unref(rt->pid_src);
		rt->watch_src = sd_event_source_disable_unref(rt->watch_src);
		if (rt->cg)
			reaper_push(d, TAKE_PTR(rt->cg));
		trt_close(t);
	}
	logm(LOG_INFO, "task %" PRIu64 " (%s) %s: %s, exit code %d", t->id, t->queue,
	     dtask_state_name(t->state), t->reason, t->exit_code);
	/* Written by the caller's next persist (schedule() always ends with one), so that an
	 * exit and the placement it makes room for cost one fsync. A crash before it leaves
	 * the task "running" without a cgroup, which a restart records as ended. */
	d->dirty = true;
	emit(d, "finished", t);
	fleet_notify(d, t);
	if (t->app)
		app_settle(d, t->app); /* queue the successors, or fail them */
	notify_status(d);
}

static void check_empty(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_events ev;

	if (!rt || !rt->cg || t->state != DTASK_RUNNING)
		return;
	if (cg_task_read_events(rt->cg, &ev) < 0 || ev.populated)
		return;
	/* The main process may have been reaped a moment later than the cgroup emptied. */
	if (rt->pidfd >= 0) {
		siginfo_t si = {0};
		if (waitid(P_PIDFD, (id_t)rt->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid)
			t->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	}
	/* Without a pidfd (adopted after a restart) the task is not our child: PID 1 reaped
	 * it and its exit status is unknown (-1). */
	task_finish(d, t, DTASK_DONE,
		    rt->pidfd < 0 && t->exit_code < 0 ? "exited-adopted" : "exited");
	schedule(d);
}

/* sd-event's accuracy 0 means its default, 250 ms of allowed coalescing: a 2 ms re-check
 * would fire up to 250 ms late, on the exit -> next start path. */
#define RECHECK_ACCURACY_US 100

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct dtask *t = userdata;
	struct trt *rt = t->rt;

	struct daemon *d = rt->d;

	rt->recheck_src = sd_event_source_disable_unref(rt->recheck_src);
	check_empty(d, t);
	/* Back off 2, 4, ... 64 ms; past that the tick looks every measure_interval_ms. */
	if (t->state == DTASK_RUNNING && rt->recheck_us < 64000) {
		rt->recheck_us *= 2;
		(void)sd_event_add_time_relative(d->ev, &rt->recheck_src, CLOCK_MONOTONIC,
						 rt->recheck_us, RECHECK_ACCURACY_US, on_recheck,
						 t);
	}
	return 0;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct dtask *t = userdata;
	struct trt *rt = t->rt;
	siginfo_t si = {0};

	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid)
		t->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	rt->pid_src = sd_event_source_disable_unref(rt->pid_src);
	close(rt->pidfd);
	rt->pidfd = -1;
	rt->main_exited = true;
	check_empty(rt->d, t);
	/* The cgroup.events inotify can lag (kernfs notifies from a work queue): when the
	 * main process is gone but the cgroup is not yet seen empty, look again shortly. */
	if (t->state == DTASK_RUNNING && !rt->recheck_src) {
		rt->recheck_us = 2000;
		(void)sd_event_add_time_relative(rt->d->ev, &rt->recheck_src, CLOCK_MONOTONIC,
						 rt->recheck_us, RECHECK_ACCURACY_US, on_recheck,
						 t);
	}
	return 0;
}

static int on_cg_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct dtask *t = userdata;
	char buf[4096];

	/* Drain the inotify queue; the state itself is read from cgroup.events. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	check_empty(((struct trt *)t->rt)->d, t);
	return 0;
}

static int watch_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	int wfd = cg_task_watch_fd(rt->cg), r;

	if (wfd < 0)
		return wfd;
	r = sd_event_add_io(d->ev, &rt->watch_src, wfd, EPOLLIN, on_cg_event, t);
	if (r < 0)
		return r;
	if (rt->pidfd >= 0) {
		r = sd_event_add_io(d->ev, &rt->pid_src, rt->pidfd, EPOLLIN, on_pidfd, t);
		if (r < 0)
			return r;
	}
	measure_start(d, t);
	return 0;
}

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

static int task_start(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_limits l;
	struct cg_exec e = {0};
	char name[128];
	pid_t pid;
	int pidfd = -1, r;

	r = dtask_cgroup_name(t, name, sizeof(name));
	if (r < 0)
		return r;
	fill_limits(d, t, &l);
	r = cg_task_create(d->root, name, &l, &rt->cg);
	if (r == -EEXIST) {
		/* A leftover of a crash between mkdir and the state write: never ran (we only
		 * get here for tasks that were re-queued), so it is safe to recreate. */
		struct cg_task *old;
		if (cg_task_adopt(d->root, name, &old) >= 0)
			(void)cg_task_destroy(old, 1000);
		r = cg_task_create(d->root, name, &l, &rt->cg);
	}
	if (r < 0)
		return r;
	r = shape_task(d, t);
	if (r < 0) {
		logm(LOG_ERR, "task %" PRIu64 ": uplink %s: cannot shape its uploads: %s", t->id,
		     d->conf.uplink, strerror(-r));
		return r;
	}
	e.argv = t->argv;
	e.stdin_fd = e.stdout_fd = e.stderr_fd = -1;
	e.uid = (uid_t)-1;
	e.gid = (gid_t)-1;
	r = cg_task_spawn(rt->cg, &e, &pid, &pidfd);
	if (r < 0)
		return r;
	rt->pidfd = pidfd;
	t->pid = pid;
	t->state = DTASK_RUNNING;
	t->start_us = realtime_us();
	fleet_notify(d, t);
	r = watch_task(d, t);
	if (r < 0)
		logm(LOG_WARNING, "task %" PRIu64 ": cannot watch its cgroup: %s", t->id,
		     strerror(-r));
	return 0;
}

/* Device free capacity as the policy should see it: total minus, per running task, its
 * reservation (demand) or its measured use, whichever is larger — unless placement is on
 * measured use only ("placement = measured"), the pure RD-DRF reading. */
static void update_devices(struct daemon *d)
{
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

static void schedule(struct daemon *d)
{
	struct policy_placement p;
	int r;

	if (d->scheduling)
		return;
	if (d->draining) {
		if (d->dirty)
			(void)persist(d);
		return;
	}
	d->scheduling = true;
	update_devices(d);
	while ((r = policy_next(d->pol, mono_s(d), &p)) == 0) {
		struct dtask *t = task_find(d, p.inst_id);
		struct trt *rt;
		if (!t || t->state != DTASK_QUEUED) {
			logm(LOG_ERR, "policy placed unknown task %" PRIu64, p.inst_id);
			(void)policy_release(d->pol, p.inst_id, mono_s(d));
			continue;
		}
		rt = t->rt;
		rt->in_policy = true;
		t->dev = (int)p.dev_id;
		t->state = DTASK_STARTING;
		/* Persist the placement before anything exists in the cgroup tree, so a crash
		 * in between is recognisable on restart. */
		r = persist(d);
		if (r >= 0)
			r = task_start(d, t);
		if (r < 0) {
			logm(LOG_ERR, "task %" PRIu64 " (%s): cannot start on %s: %s", t->id,
			     t->queue, d->dev[t->dev].name, strerror(-r));
			task_finish(d, t, DTASK_FAILED, "start-failed");
			continue;
		}
		sample_policy(d, t);
		/* pid and start time: not needed for recovery ("starting" + a cgroup that used
		 * CPU is adopted), so they ride on the next write instead of delaying this loop. */
		d->dirty = true;
		logm(LOG_INFO, "task %" PRIu64 " (%s) placed on %s, pid %" PRId64, t->id, t->queue,
		     d->dev[t->dev].name, t->pid);
		emit(d, "placed", t);
		update_devices(d);
	}
	d->scheduling = false;
	if (d->dirty)
		(void)persist(d);
	notify_status(d);
	/* The task may have exited before its watch was armed. */
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING && d->tasks[i]->rt &&
		    !((struct trt *)d->tasks[i]->rt)->watch_src)
			check_empty(d, d->tasks[i]);
}

/* Empty task-* cgroups no live task owns: left by a crash between recording an exit and
 * the rmdir. Populated ones are left alone (someone else's, or a bug to look at). */
static void sweep_stale(struct daemon *d)
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
		for (size_t i = 0; i < d->n_tasks && !owned; i++)
			owned = dtask_state_live(d->tasks[i]->state) &&
				dtask_cgroup_name(d->tasks[i], name, sizeof(name)) >= 0 &&
				!strcmp(name, de->d_name);
		if (owned || cg_task_adopt(d->root, de->d_name, &ct) < 0)
			continue;
		if (cg_task_read_events(ct, &ev) >= 0 && !ev.populated &&
		    cg_task_destroy(ct, 500) >= 0)
			logm(LOG_INFO, "removed stale cgroup %s", de->d_name);
		else
			cg_task_free(ct);
	}
	closedir(dir);
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	uint64_t now = now_usec();
	int r;

	/* Finished tasks are freed only here, never under a handler that still holds one. */
	trim_finished(d);

	/* systemd may enable a delegated controller on the parent slice only after our start
	 * (seen with cpuset): retry for the first minute rather than run without it. */
	if (cg_root_missing(d->root)[0] && now - d->t0_us < 60000000u) {
		_cleanup_free_ char *before = strdup(cg_root_missing(d->root));
		if (cg_root_setup(d->root) >= 0 && before &&
		    strcmp(before, cg_root_missing(d->root)))
			logm(LOG_INFO, "controllers now enabled; still missing: \"%s\"",
			     cg_root_missing(d->root));
	}
	if (d->shaper)
		unshape_drained(d, now);
	r = sampler_tick(d->sampler, now);
	if (r < 0 && !d->node_read_failed)
		logm(LOG_WARNING, "measurement: node files: %s", strerror(-r));
	d->node_read_failed = r < 0;
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct trt *rt = t->rt;
		double cpu;
		uint64_t mem;
		if (t->state != DTASK_RUNNING || !rt)
			continue;
		if (rt->main_exited) {
			check_empty(d, t); /* descendants left, or a lagging notification */
			continue;
		}
		if (measure_task(d, t, &cpu, &mem) >= 0) {
			rt->cpu_used = cpu;
			rt->mem_used = mem;
			sample_policy(d, t);
		}
	}
	schedule(d);
	(void)sd_event_source_set_time_relative(s, (uint64_t)d->conf.measure_ms * 1000u);
	return 0;
}

/* --- views --------------------------------------------------------------------------- */

static json_object *task_json(struct daemon *d, const struct dtask *t)
{
	char name[128];
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	const struct trt *rt = t->rt;
	uint64_t now = realtime_us(), wait_end;

	for (size_t i = 0; i < t->argc; i++)
		json_object_array_add(a, json_object_new_string(t->argv[i]));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)t->id));
	json_object_object_add(o, "queue", json_object_new_string(t->queue));
	json_object_object_add(o, "state", json_object_new_string(dtask_state_name(t->state)));
	json_object_object_add(o, "device",
			       t->dev >= 0 && (size_t)t->dev < d->n_dev
				   ? json_object_new_string(d->dev[t->dev].name)
				   : NULL);
	json_object_object_add(o, "cpu_alloc", json_object_new_double(t->cpu));
	json_object_object_add(o, "mem_alloc", json_object_new_int64((int64_t)t->mem));
	json_object_object_add(
	    o, "cpu_used",
	    json_object_new_double(rt && t->state == DTASK_RUNNING ? rt->cpu_used : 0));
	json_object_object_add(
	    o, "mem_used",
	    json_object_new_int64(rt && t->state == DTASK_RUNNING ? (int64_t)rt->mem_used : 0));
	wait_end = t->start_us ? t->start_us : (dtask_state_live(t->state) ? now : t->end_us);
	json_object_object_add(o, "wait_s",
			       json_object_new_double(wait_end > t->submit_us
							  ? (double)(wait_end - t->submit_us) / 1e6
							  : 0));
	json_object_object_add(
	    o, "run_s",
	    json_object_new_double(
		t->start_us ? (double)((t->end_us ? t->end_us : now) - t->start_us) / 1e6 : 0));
	json_object_object_add(o, "pid", json_object_new_int64(t->pid));
	json_object_object_add(o, "exit_code", json_object_new_int(t->exit_code));
	json_object_object_add(o, "reason", json_object_new_string(t->reason));
	json_object_object_add(o, "cpu_seconds", json_object_new_double((double)t->cpu_usec / 1e6));
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)t->submit_us));
	json_object_object_add(o, "start_us", json_object_new_int64((int64_t)t->start_us));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)t->end_us));
	json_object_object_add(o, "argv", a);
	if (t->fleet_id)
		json_object_object_add(o, "fleet_id", json_object_new_int64((int64_t)t->fleet_id));
	if (t->upload_rate)
		json_object_object_add(o, "upload_rate",
				       json_object_new_int64((int64_t)t->upload_rate));
	if (dtask_state_live(t->state) && t->state != DTASK_QUEUED && d->cg_path &&
	    dtask_cgroup_name(t, name, sizeof(name)) >= 0) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", d->cg_path, name) >= 0)
			json_object_object_add(o, "cgroup", json_object_new_string(p));
		else
			p = NULL;
	}
	if (t->app) {
		json_object *af = json_object_new_array();
		json_object_object_add(o, "app", json_object_new_int64((int64_t)t->app));
		json_object_object_add(o, "app_name", json_object_new_string(t->app_name));
		json_object_object_add(o, "name", json_object_new_string(t->name));
		for (size_t i = 0; i < t->n_after; i++)
			json_object_array_add(af, json_object_new_int64((int64_t)t->after[i]));
		json_object_object_add(o, "after", af);
		json_object_object_add(o, "priority", json_object_new_double(t->prio));
	}
	if (rt && rt->sampled && t->state == DTASK_RUNNING) {
		struct sampler_task st;
		json_object *m = NULL;
		if (sampler_task_get(d->sampler, t->id, &st) >= 0 &&
		    sampler_task_json(&st, &m) >= 0)
			json_object_object_add(o, "measure", m);
	}
	return o;
}

/* The uplink's classes with their counters, each named by the task it shapes. */
static json_object *uplink_json(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t n = 0;

	json_object_object_add(o, "device", json_object_new_string(d->conf.uplink));
	json_object_object_add(o, "active", json_object_new_boolean(shaper_is_active(d->shaper)));
	json_object_object_add(o, "rate",
			       json_object_new_int64((int64_t)shaper_parent_rate(d->shaper)));
	if (shaper_is_active(d->shaper) && shaper_list(d->shaper, &v, &n) >= 0)
		for (size_t i = 0; i < n; i++) {
			json_object *c = json_object_new_object();
			char id[16];
			snprintf(id, sizeof(id), "%x:%x", v[i].classid >> 16,
				 v[i].classid & 0xffff);
			json_object_object_add(c, "class", json_object_new_string(id));
			json_object_object_add(
			    c, "kind",
			    json_object_new_string(v[i].is_task ? "task"
						   : (v[i].classid & 0xffff) == SHAPER_MINOR_PARENT
						       ? "parent"
						       : "default"));
			for (size_t k = 0; k < d->n_tasks && v[i].is_task && v[i].has_match; k++) {
				struct trt *rt = d->tasks[k]->rt;
				if (rt && rt->shaped && v[i].match.kind == SHAPER_MATCH_CGROUP &&
				    rt->cgroup_id == v[i].match.cgroup_id)
					json_object_object_add(
					    c, "task",
					    json_object_new_int64((int64_t)d->tasks[k]->id));
			}
			json_object_object_add(c, "rate",
					       json_object_new_int64((int64_t)v[i].rate));
			json_object_object_add(c, "ceil",
					       json_object_new_int64((int64_t)v[i].ceil));
			json_object_object_add(c, "bytes",
					       json_object_new_int64((int64_t)v[i].bytes));
			json_object_object_add(c, "packets",
					       json_object_new_int64((int64_t)v[i].packets));
			json_object_object_add(c, "drops",
					       json_object_new_int64((int64_t)v[i].drops));
			json_object_array_add(a, c);
		}
	json_object_object_add(o, "classes", a);
	return o;
}

/* The node as measured, and by what. */
static json_object *measure_json(struct daemon *d)
{
	json_object *o = json_object_new_object(), *n = NULL;
	struct sampler_node sn;
	int r = sampler_bpf_error(d->sampler);

	json_object_object_add(o, "source", json_object_new_string(d->bpf ? "ebpf" : "cgroup"));
	if (!d->bpf && d->conf.measure != DCONF_MEASURE_CGROUP && r < 0)
		json_object_object_add(o, "ebpf_error",
				       json_object_new_string(r == -EOPNOTSUPP
								  ? "no BTF or BPF in this kernel"
								  : strerror(-r)));
	json_object_object_add(o, "interval_ms", json_object_new_int(d->conf.measure_ms));
	if (sampler_node_get(d->sampler, &sn) >= 0 && sampler_node_json(&sn, &n) >= 0)
		json_object_object_add(o, "node", n);
	return o;
}

static json_object *devices_json(struct daemon *d)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_dev; i++) {
		json_object *o = json_object_new_object();
		double ac = 0, uc = 0, am = 0, um = 0;
		unsigned run = 0;
		for (size_t k = 0; k < d->n_tasks; k++) {
			const struct dtask *t = d->tasks[k];
			const struct trt *rt = t->rt;
			if (t->dev != (int)i ||
			    (t->state != DTASK_RUNNING && t->state != DTASK_STARTING))
				continue;
			run++;
			ac += t->cpu;
			am += (double)t->mem;
			if (rt) {
				uc += rt->cpu_used;
				um += (double)rt->mem_used;
			}
		}
		json_object_object_add(o, "name", json_object_new_string(d->dev[i].name));
		json_object_object_add(o, "kind", json_object_new_string(d->devs.ops->kind));
		json_object_object_add(o, "cpus", json_object_new_string(d->dev[i].cpus));
		json_object_object_add(o, "cpu_total", json_object_new_double(d->dev[i].cpu));
		json_object_object_add(o, "mem_total",
				       json_object_new_int64((int64_t)d->dev[i].mem));
		json_object_object_add(o, "cpu_alloc", json_object_new_double(ac));
		json_object_object_add(o, "mem_alloc", json_object_new_int64((int64_t)am));
		json_object_object_add(o, "cpu_used", json_object_new_double(uc));
		json_object_object_add(o, "mem_used", json_object_new_int64((int64_t)um));
		json_object_object_add(o, "cpu_free",
				       json_object_new_double(fmax(0, d->dev[i].cpu - ac)));
		json_object_object_add(
		    o, "mem_free",
		    json_object_new_int64((int64_t)fmax(0, (double)d->dev[i].mem - am)));
		json_object_object_add(o, "running", json_object_new_int((int)run));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *queues_json(struct daemon *d)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_queues; i++) {
		struct policy_queue_info qi = {0};
		json_object *o = json_object_new_object();
		unsigned done = 0;
		double wait = 0;
		for (size_t k = 0; k < d->n_tasks; k++) {
			const struct dtask *t = d->tasks[k];
			if (strcmp(t->queue, d->queues[i].name) || !t->start_us)
				continue;
			done++;
			wait += (double)(t->start_us - t->submit_us) / 1e6;
		}
		(void)policy_queue_info(d->pol, d->queues[i].policy_id, &qi);
		json_object_object_add(o, "name", json_object_new_string(d->queues[i].name));
		json_object_object_add(o, "cpu_demand", json_object_new_double(d->queues[i].cpu));
		json_object_object_add(o, "mem_demand",
				       json_object_new_int64((int64_t)d->queues[i].mem));
		json_object_object_add(o, "dominant_share",
				       json_object_new_double(qi.dominant_share));
		json_object_object_add(o, "cpu_usage", json_object_new_double(qi.usage.cpu));
		json_object_object_add(o, "mem_usage",
				       json_object_new_int64((int64_t)qi.usage.mem));
		json_object_object_add(o, "waiting", json_object_new_int((int)qi.waiting));
		json_object_object_add(o, "running", json_object_new_int((int)qi.running));
		json_object_object_add(o, "mean_wait_s",
				       json_object_new_double(done ? wait / done : 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *tasks_json(struct daemon *d, bool live_only)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_tasks; i++)
		if (!live_only || dtask_state_live(d->tasks[i]->state))
			json_object_array_add(arr, task_json(d, d->tasks[i]));
	return arr;
}

/* --- fleet mode: what controller/fleet.c calls back ------------------------------------ */

static void fleet_log(void *ctx, int prio, const char *msg)
{
	logm(prio, "%s", msg);
}

/* A draining node offers no capacity, so the placer sends it nothing new. */
static json_object *fleet_devices(void *ctx)
{
	struct daemon *d = ctx;
	json_object *a = devices_json(d);

	for (size_t i = 0; d->draining && a && i < json_object_array_length(a); i++) {
		json_object_object_add(json_object_array_get_idx(a, i), "cpu_total",
				       json_object_new_double(0));
		json_object_object_add(json_object_array_get_idx(a, i), "mem_total",
				       json_object_new_int64(0));
	}
	/* Measured use of the fleet tasks running here, by fleet id, for `status --fleet`. */
	for (size_t i = 0; a && i < json_object_array_length(a) && i < d->n_dev; i++) {
		json_object *u = json_object_new_object();
		for (size_t k = 0; k < d->n_tasks; k++) {
			const struct dtask *t = d->tasks[k];
			const struct trt *rt = t->rt;
			char id[24];
			json_object *v;
			if (!t->fleet_id || t->dev != (int)i || t->state != DTASK_RUNNING || !rt)
				continue;
			v = json_object_new_array();
			json_object_array_add(v, json_object_new_double(rt->cpu_used));
			json_object_array_add(v, json_object_new_int64((int64_t)rt->mem_used));
			snprintf(id, sizeof(id), "%" PRIu64, t->fleet_id);
			json_object_object_add(u, id, v);
		}
		json_object_object_add(json_object_array_get_idx(a, i), "tasks_used", u);
	}
	return a;
}

static bool fleet_draining(void *ctx)
{
	return ((struct daemon *)ctx)->draining;
}

/* fleet_cancel() reached the node running the task: kill it like a local cancel. */
static int fleet_cancel_local(void *ctx, uint64_t fleet_id)
{
	struct daemon *d = ctx;

	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct trt *rt = t->rt;
		if (t->fleet_id != fleet_id)
			continue;
		if (t->state != DTASK_RUNNING || !rt || !rt->cg || rt->cancel)
			return 0; /* ended, or being killed already */
		rt->cancel = true;
		logm(LOG_INFO, "task %" PRIu64 " (fleet %" PRIu64 "): cancelled through the fleet",
		     t->id, fleet_id);
		return cg_task_kill(rt->cg);
	}
	return -ENOENT;
}

static bool fleet_known(void *ctx, uint64_t fleet_id)
{
	struct daemon *d = ctx;
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->fleet_id == fleet_id)
			return true;
	return false;
}

/* An assignment: the placer chose the device, so the local policy is bypassed, but the rest is
 * schedule()'s path: record (with fleet_id) persisted as starting, then cgroup and spawn. */
static int fleet_start(void *ctx, const struct fleet_task *ft)
{
	struct daemon *d = ctx;
	struct dtask *t = calloc(1, sizeof(*t));
	struct dqueue *q;
	int r;

	if (!t || !trt_new(d, t)) {
		free(t);
		return -ENOMEM;
	}
	t->id = d->next_id++;
	t->fleet_id = ft->id;
	snprintf(t->queue, sizeof(t->queue), "%s", ft->queue);
	t->argv = calloc(ft->argc + 1, sizeof(char *));
	for (size_t i = 0; t->argv && i < ft->argc; i++)
		if ((t->argv[i] = strdup(ft->argv[i])))
			t->argc = i + 1;
	t->cpu = ft->cpu;
	t->mem = ft->mem;
	t->dev = -1;
	for (size_t i = 0; i < d->n_dev; i++)
		if (!strcmp(d->dev[i].name, ft->device))
			t->dev = (int)i;
	t->exit_code = -1;
	t->submit_us = ft->submit_us ? ft->submit_us : realtime_us();
	r = !t->argv || t->argc != ft->argc ? -ENOMEM : t->dev < 0 ? -ENODEV : 0;
	if (r >= 0)
		r = queue_get(d, t->queue, t->cpu, t->mem, &q);
	if (r < 0) {
		task_free(t);
		return r;
	}
	t->state = DTASK_STARTING;
	r = task_append(d, t);
	if (r < 0) {
		task_free(t);
		return r;
	}
	r = persist(d);
	if (r >= 0)
		r = task_start(d, t);
	if (r < 0) {
		logm(LOG_ERR, "task %" PRIu64 " (fleet %" PRIu64 "): cannot start on %s: %s", t->id,
		     t->fleet_id, d->dev[t->dev].name, strerror(-r));
		task_finish(d, t, DTASK_FAILED, "start-failed");
		(void)persist(d);
		return r;
	}
	d->dirty = true;
	logm(LOG_INFO, "task %" PRIu64 " (fleet %" PRIu64 ", %s) started on %s, pid %" PRId64,
	     t->id, t->fleet_id, t->queue, d->dev[t->dev].name, t->pid);
	emit(d, "placed", t);
	schedule(d); /* persists */
	return 0;
}

static int fleet_setup(struct daemon *d)
{
	struct fleet_host h = {d,	  fleet_start,	  fleet_known,	     fleet_devices,
			       fleet_log, fleet_draining, fleet_cancel_local};
	struct fleet_params p = {
	    .conf = &d->conf.fleet,
	    .node = d->conf.fleet.node_name,
	    .policy = d->conf.policy,
	    .seed = d->conf.seed,
	    .overcommit = d->conf.overcommit,
	};
	if (!d->conf.fleet.enabled)
		return 0;
	return fleet_new(&p, &h, d->ev, &d->fleet);
}

/* --- requests ------------------------------------------------------------------------- */

static int set_err(struct proto_error *e, enum proto_err code, const char *field, const char *fmt,
		   ...) _printf_(4, 5);
static int set_err(struct proto_error *e, enum proto_err code, const char *field, const char *fmt,
		   ...)
{
	va_list ap;
	e->code = code;
	e->field = field;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int do_submit(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err)
{
	struct dqueue *q = queue_find(d, req->queue);
	const struct dconf_model *m = model_find(d, req->queue);
	struct dtask *t;
	double cpu;
	uint64_t mem;
	size_t live = 0;
	bool fits = false;
	int r;

	if (d->draining)
		return set_err(err, PROTO_E_STATE, NULL, "the daemon is draining for shutdown");
	for (size_t i = 0; i < d->n_tasks; i++)
		live += dtask_state_live(d->tasks[i]->state);
	if (live >= d->conf.max_tasks)
		return set_err(err, PROTO_E_LIMIT, NULL, "max_tasks (%u) reached",
			       d->conf.max_tasks);
	if (req->has_demand) {
		cpu = req->cpu;
		mem = req->mem;
	} else if (q) {
		cpu = q->cpu;
		mem = q->mem;
	} else if (m) {
		cpu = m->cpu;
		mem = m->mem;
	} else
		return set_err(err, PROTO_E_NO_QUEUE, "queue",
			       "queue: \"%s\" is not in the model catalog; give a demand",
			       req->queue);
	if (req->upload_rate && !d->shaper)
		return set_err(err, PROTO_E_BAD_VALUE, "upload_rate",
			       "upload_rate: this node shapes no uplink (set uplink = IFNAME in "
			       "edgeslice.conf)");
	if (!req->argv && !(m && m->cmd_argc))
		return set_err(
		    err, PROTO_E_MISSING_FIELD, "argv",
		    "argv: missing, and queue \"%s\" has no command in the model catalog",
		    req->queue);
	if (q && (fabs(q->cpu - cpu) > 1e-9 || q->mem != mem))
		return set_err(err, PROTO_E_BAD_VALUE, "demand",
			       "demand: queue %s has demand %.3g cores, %" PRIu64 " bytes", q->name,
			       q->cpu, q->mem);
	if (d->fleet && req->upload_rate)
		return set_err(err, PROTO_E_BAD_VALUE, "upload_rate",
			       "upload_rate: not supported for fleet submissions");
	if (d->fleet) { /* fleet mode: queued in etcd; the fleet's placer decides where */
		char **fargv = req->argv;
		size_t fargc = req->argc;
		uint64_t fid;
		char e[200];
		if (!fargv && dconf_model_argv(m, &fargv, &fargc) < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
		r = fleet_submit(d->fleet, req->queue, cpu, mem, fargv, fargc, &fid, e, sizeof(e));
		if (fargv != req->argv)
			strv_free(fargv, fargc);
		if (r < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
		json_object_object_add(reply, "task", json_object_new_int64((int64_t)fid));
		json_object_object_add(reply, "state", json_object_new_string("queued"));
		json_object_object_add(reply, "fleet", json_object_new_boolean(1));
		return 0;
	}
	for (size_t i = 0; i < d->n_dev; i++)
		fits |= cpu <= d->dev[i].cpu + 1e-9 && (double)mem <= (double)d->dev[i].mem;
	if (!fits)
		return set_err(err, PROTO_E_TOO_BIG, "demand",
			       "demand: %.3g cores, %" PRIu64 " bytes exceeds every device", cpu,
			       mem);
	if (!q) {
		r = queue_get(d, req->queue, cpu, mem, &q);
		if (r < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "queue: %s", strerror(-r));
	}
	t = calloc(1, sizeof(*t));
	if (!t || !trt_new(d, t)) {
		free(t);
		return set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	t->id = d->next_id++;
	snprintf(t->queue, sizeof(t->queue), "%s", req->queue);
	if (req->argv) {
		t->argv = TAKE_PTR(req->argv);
		t->argc = req->argc;
		req->argc = 0;
	} else if (dconf_model_argv(m, &t->argv, &t->argc) < 0) {
		task_free(t);
		return set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	t->cpu = cpu;
	t->mem = mem;
	t->upload_rate = req->upload_rate;
	t->state = DTASK_QUEUED;
	t->dev = -1;
	t->exit_code = -1;
	t->submit_us = realtime_us();
	r = task_append(d, t);
	if (r >= 0)
		r = persist(d); /* acknowledged only once durable */
	if (r >= 0)
		r = policy_enqueue(d->pol, q->policy_id, t->id, mono_s(d));
	if (r < 0) {
		if (d->n_tasks && d->tasks[d->n_tasks - 1] == t)
			d->n_tasks--;
		task_free(t);
		(void)persist(d);
		return set_err(err, r == -E2BIG ? PROTO_E_TOO_BIG : PROTO_E_INTERNAL, NULL,
			       "submit: %s", strerror(-r));
	}
	json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
	emit(d, "queued", t);
	schedule(d);
	json_object_object_add(reply, "state", json_object_new_string(dtask_state_name(t->state)));
	return 0;
}

static int do_cancel_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err);

static int do_cancel(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err)
{
	struct dtask *t = task_find(d, req->task);
	struct trt *rt;
	int r;

	if (req->app)
		return do_cancel_app(d, req, reply, err);
	if (req->fleet) {
		char state[16] = "", e[192] = "";
		if (!d->fleet)
			return set_err(err, PROTO_E_BAD_VALUE, "fleet",
				       "fleet: this node is not in fleet mode");
		r = fleet_cancel(d->fleet, req->task, state, sizeof(state), e, sizeof(e));
		if (r == -ENOENT)
			return set_err(err, PROTO_E_NO_TASK, "task", "task: %s", e);
		if (r == -EALREADY || r == -EAGAIN)
			return set_err(err, PROTO_E_STATE, "task", "task: %s", e);
		if (r < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
		json_object_object_add(reply, "task", json_object_new_int64((int64_t)req->task));
		json_object_object_add(reply, "state", json_object_new_string(state));
		return 0;
	}
	if (!t)
		return set_err(err, PROTO_E_NO_TASK, "task", "task: no task %" PRIu64, req->task);
	rt = t->rt;
	if (t->state == DTASK_QUEUED || t->state == DTASK_WAITING) {
		if (t->state == DTASK_QUEUED)
			(void)policy_cancel(d->pol, t->id);
		t->state = DTASK_CANCELLED;
		t->end_us = realtime_us();
		snprintf(t->reason, sizeof(t->reason), "cancelled");
		if (t->app)
			app_settle(d, t->app); /* its dependents fail */
		r = persist(d);
		if (r < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "state: %s", strerror(-r));
		emit(d, "finished", t);
	} else if (t->state == DTASK_RUNNING && rt && rt->cg) {
		rt->cancel = true;
		r = cg_task_kill(rt->cg);
		if (r < 0)
			return set_err(err, PROTO_E_INTERNAL, NULL, "kill: %s", strerror(-r));
	} else
		return set_err(err, PROTO_E_STATE, "task", "task: %" PRIu64 " is %s", t->id,
			       dtask_state_name(t->state));
	json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
	json_object_object_add(reply, "state", json_object_new_string(dtask_state_name(t->state)));
	return 0;
}

/* --- applications (DAGs of tasks, controller/dapp.h, docs/DAEMON.md) ---------------------- */

/* The tasks of application `app` in id order (= their order in the submitted document). */
static size_t app_members(struct daemon *d, uint64_t app, struct dtask *ret[DAPP_MAX_TASKS])
{
	size_t n = 0;
	for (size_t i = 0; i < d->n_tasks && n < DAPP_MAX_TASKS; i++)
		if (d->tasks[i]->app == app)
			ret[n++] = d->tasks[i];
	return n;
}

static enum dapp_tstate app_tstate(const struct dtask *t)
{
	switch (t->state) {
	case DTASK_WAITING:
		return DAPP_T_WAITING;
	case DTASK_QUEUED:
	case DTASK_STARTING:
		return DAPP_T_QUEUED;
	case DTASK_RUNNING:
		return DAPP_T_RUNNING;
	case DTASK_DONE:
		return t->exit_code > 0 || !strcmp(t->reason, "oom-kill") ? DAPP_T_FAILED
									  : DAPP_T_OK;
	case DTASK_CANCELLED:
		return DAPP_T_CANCELLED;
	default:
		return DAPP_T_FAILED;
	}
}

/* Finished tasks of an application with live ones are kept: their outcome decides the rest. */
static bool app_pinned(struct daemon *d, const struct dtask *t)
{
	if (!t->app)
		return false;
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->app == t->app && dtask_state_live(d->tasks[i]->state))
			return true;
	return false;
}

static void app_settle(struct daemon *d, uint64_t app)
{
	struct dtask *m[DAPP_MAX_TASKS];
	enum dapp_tstate st[DAPP_MAX_TASKS];
	uint64_t pred[DAPP_MAX_TASKS] = {0}, failed, ready;
	int root[DAPP_MAX_TASKS], ready_idx[DAPP_MAX_TASKS];
	size_t n = d->loading ? 0 : app_members(d, app, m), nr = 0;

	for (size_t i = 0; i < n; i++) {
		st[i] = app_tstate(m[i]);
		for (size_t k = 0; k < m[i]->n_after; k++)
			for (size_t j = 0; j < n; j++)
				if (m[j]->id == m[i]->after[k])
					pred[i] |= 1ull << j;
	}
	if (!n || dapp_step(n, pred, st, NULL, &failed, root, &ready) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct dtask *t = m[i], *why = m[root[i]];
		if ((failed >> i) & 1) {
			t->state = DTASK_FAILED;
			t->end_us = realtime_us();
			if (!strncmp(why->reason, "dependency-failed: ", 19))
				snprintf(t->reason, sizeof(t->reason), "%s", why->reason);
			else
				snprintf(t->reason, sizeof(t->reason), "dependency-failed: %s",
					 why->name);
			logm(LOG_INFO, "task %" PRIu64 " (%s/%s) failed: %s", t->id, t->app_name,
			     t->name, t->reason);
			emit(d, "finished", t);
			d->dirty = true;
		} else if ((ready >> i) & 1) {
			size_t k = nr++;
			/* MRS: among the ready tasks, highest upward rank first (ties: document
			 * order) */
			while (k > 0 && m[ready_idx[k - 1]]->prio < t->prio) {
				ready_idx[k] = ready_idx[k - 1];
				k--;
			}
			ready_idx[k] = (int)i;
		}
	}
	for (size_t k = 0; k < nr; k++) {
		struct dtask *t = m[ready_idx[k]];
		struct dqueue *q;
		int r = queue_get(d, t->queue, t->cpu, t->mem, &q);
		/* the policy breaks ties between queues by arrival: keep the rank order there */
		if (r >= 0)
			r = policy_enqueue(d->pol, q->policy_id, t->id,
					   mono_s(d) + 1e-6 * (double)k);
		d->dirty = true;
		if (r < 0) {
			logm(LOG_ERR, "task %" PRIu64 " (%s/%s): cannot queue: %s", t->id,
			     t->app_name, t->name, strerror(-r));
			t->state = DTASK_FAILED;
			t->end_us = realtime_us();
			snprintf(t->reason, sizeof(t->reason), "start-failed");
			emit(d, "finished", t);
			app_settle(d, app);
			return;
		}
		t->state = DTASK_QUEUED;
		emit(d, "queued", t);
	}
}

static void apps_settle_all(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->app == d->tasks[i]->id) /* the first task names the application */
			app_settle(d, d->tasks[i]->id);
}

static json_object *apps_json(struct daemon *d, bool live_only)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *m[DAPP_MAX_TASKS];
		enum dapp_tstate st[DAPP_MAX_TASKS];
		json_object *o, *ts;
		uint64_t app = d->tasks[i]->app, start = 0, end = 0;
		size_t n, done = 0;
		bool first = true;
		if (!app)
			continue;
		for (size_t j = 0; j < i && first; j++)
			first = d->tasks[j]->app != app;
		if (!first)
			continue;
		n = app_members(d, app, m);
		for (size_t k = 0; k < n; k++) {
			st[k] = app_tstate(m[k]);
			done += st[k] == DAPP_T_OK;
			if (m[k]->start_us && (!start || m[k]->start_us < start))
				start = m[k]->start_us;
			end = m[k]->end_us > end ? m[k]->end_us : end;
		}
		if (live_only && !app_pinned(d, m[0]))
			continue;
		o = json_object_new_object();
		ts = json_object_new_array();
		json_object_object_add(o, "id", json_object_new_int64((int64_t)app));
		json_object_object_add(o, "name", json_object_new_string(m[0]->app_name));
		json_object_object_add(o, "state", json_object_new_string(dapp_state(n, st)));
		json_object_object_add(o, "n_tasks", json_object_new_int((int)n));
		json_object_object_add(o, "n_done", json_object_new_int((int)done));
		json_object_object_add(o, "submit_us",
				       json_object_new_int64((int64_t)m[0]->submit_us));
		json_object_object_add(o, "start_us", json_object_new_int64((int64_t)start));
		json_object_object_add(
		    o, "end_us", json_object_new_int64(app_pinned(d, m[0]) ? 0 : (int64_t)end));
		for (size_t k = 0; k < n; k++) {
			json_object *t = json_object_new_object(), *af = json_object_new_array();
			json_object_object_add(t, "name", json_object_new_string(m[k]->name));
			json_object_object_add(t, "task", json_object_new_int64((int64_t)m[k]->id));
			json_object_object_add(t, "queue", json_object_new_string(m[k]->queue));
			json_object_object_add(
			    t, "state", json_object_new_string(dtask_state_name(m[k]->state)));
			json_object_object_add(t, "reason", json_object_new_string(m[k]->reason));
			json_object_object_add(t, "exit_code",
					       json_object_new_int(m[k]->exit_code));
			json_object_object_add(t, "priority", json_object_new_double(m[k]->prio));
			for (size_t a = 0; a < m[k]->n_after; a++)
				for (size_t j = 0; j < n; j++)
					if (m[j]->id == m[k]->after[a])
						json_object_array_add(
						    af, json_object_new_string(m[j]->name));
			json_object_object_add(t, "after", af);
			json_object_array_add(ts, t);
		}
		json_object_object_add(o, "tasks", ts);
		json_object_array_add(arr, o);
	}
	return arr;
}

static int do_submit_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err)
{
	struct dapp *a = req->dapp;
	double cpu[DAPP_MAX_TASKS], phi[DAPP_MAX_TASKS];
	uint64_t mem[DAPP_MAX_TASKS], first = d->next_id;
	int order[DAPP_MAX_TASKS], r;
	size_t live = 0, base = d->n_tasks;
	json_object *ts;

	if (d->draining)
		return set_err(err, PROTO_E_STATE, NULL, "the daemon is draining for shutdown");
	for (size_t i = 0; i < d->n_tasks; i++)
		live += dtask_state_live(d->tasks[i]->state);
	if (live + a->n > d->conf.max_tasks)
		return set_err(err, PROTO_E_LIMIT, NULL, "max_tasks (%u) reached",
			       d->conf.max_tasks);
	/* every task is checked like a submit before anything is created */
	for (size_t i = 0; i < a->n; i++) {
		const struct dapp_task *at = &a->task[i];
		struct dqueue *q = queue_find(d, at->queue);
		const struct dconf_model *m = model_find(d, at->queue);
		bool fits = false;
		int same = -1;
		for (size_t j = 0; j < i && same < 0; j++)
			if (!strcmp(a->task[j].queue, at->queue))
				same = (int)j;
		if (at->has_demand) {
			cpu[i] = at->cpu;
			mem[i] = at->mem;
		} else if (q) {
			cpu[i] = q->cpu;
			mem[i] = q->mem;
		} else if (same >= 0) {
			cpu[i] = cpu[same];
			mem[i] = mem[same];
		} else if (m) {
			cpu[i] = m->cpu;
			mem[i] = m->mem;
		} else
			return set_err(
			    err, PROTO_E_NO_QUEUE, "app",
			    "tasks[%zu].queue: \"%s\" is not in the model catalog; give a demand",
			    i, at->queue);
		if (!at->argv && !(m && m->cmd_argc))
			return set_err(err, PROTO_E_MISSING_FIELD, "app",
				       "tasks[%zu].argv: missing, and \"%s\" has no command in the "
				       "model catalog",
				       i, at->queue);
		if ((q && (fabs(q->cpu - cpu[i]) > 1e-9 || q->mem != mem[i])) ||
		    (same >= 0 && (fabs(cpu[same] - cpu[i]) > 1e-9 || mem[same] != mem[i])))
			return set_err(err, PROTO_E_BAD_VALUE, "app",
				       "tasks[%zu].demand: queue %s has another demand", i,
				       at->queue);
		for (size_t k = 0; k < d->n_dev; k++)
			fits |= cpu[i] <= d->dev[k].cpu + 1e-9 &&
				(double)mem[i] <= (double)d->dev[k].mem;
		if (!fits)
			return set_err(err, PROTO_E_TOO_BIG, "app",
				       "tasks[%zu].demand: %.3g cores, %" PRIu64
				       " bytes exceeds every device",
				       i, cpu[i], mem[i]);
	}
	r = dapp_priority(a, phi, order);
	for (size_t i = 0; i < a->n && r >= 0; i++) {
		struct dqueue *q;
		r = queue_get(d, a->task[i].queue, cpu[i], mem[i], &q);
	}
	for (size_t i = 0; i < a->n && r >= 0; i++) {
		struct dapp_task *at = &a->task[i];
		struct dtask *t = calloc(1, sizeof(*t));
		size_t na = 0;
		if (!t || !trt_new(d, t) ||
		    !(t->after = calloc(DAPP_MAX_TASKS, sizeof(*t->after)))) {
			task_free(t);
			r = -ENOMEM;
			break;
		}
		t->id = d->next_id++;
		snprintf(t->queue, sizeof(t->queue), "%s", at->queue);
		if (at->argv) {
			t->argv = TAKE_PTR(at->argv);
			t->argc = at->argc;
			at->argc = 0;
		} else if (dconf_model_argv(model_find(d, at->queue), &t->argv, &t->argc) < 0) {
			task_free(t);
			r = -ENOMEM;
			break;
		}
		t->cpu = cpu[i];
		t->mem = mem[i];
		t->dev = -1;
		t->exit_code = -1;
		t->submit_us = realtime_us();
		t->app = first;
		snprintf(t->app_name, sizeof(t->app_name), "%s", a->name);
		snprintf(t->name, sizeof(t->name), "%s", at->name);
		for (size_t j = 0; j < a->n; j++)
			if ((at->pred >> j) & 1)
				t->after[na++] = first + j;
		t->n_after = na;
		t->prio = phi[i];
		t->state = na ? DTASK_WAITING : DTASK_QUEUED;
		r = task_append(d, t);
		if (r < 0)
			task_free(t);
	}
	if (r >= 0)
		r = persist(d); /* acknowledged only once durable, waiting tasks included */
	if (r < 0) {
		while (d->n_tasks > base)
			task_free(d->tasks[--d->n_tasks]);
		d->next_id = first;
		(void)persist(d);
		return set_err(err, PROTO_E_INTERNAL, NULL, "submit-app: %s", strerror(-r));
	}
	/* the roots, in MRS priority order */
	for (size_t k = 0; k < a->n; k++) {
		struct dtask *t = d->tasks[base + (size_t)order[k]];
		if (t->state != DTASK_QUEUED)
			continue;
		r = policy_enqueue(d->pol, queue_find(d, t->queue)->policy_id, t->id,
				   mono_s(d) + 1e-6 * (double)k);
		if (r < 0) {
			t->state = DTASK_FAILED;
			t->end_us = realtime_us();
			snprintf(t->reason, sizeof(t->reason), "start-failed");
			d->dirty = true;
			continue;
		}
		emit(d, "queued", t);
	}
	app_settle(d, first);
	logm(LOG_INFO, "application %" PRIu64 " (%s): %zu tasks", first, a->name, a->n);
	json_object_object_add(reply, "app", json_object_new_int64((int64_t)first));
	json_object_object_add(reply, "name", json_object_new_string(a->name));
	schedule(d);
	ts = json_object_new_array();
	for (size_t i = 0; i < a->n && base + i < d->n_tasks; i++) {
		json_object *o = json_object_new_object();
		const struct dtask *t = d->tasks[base + i];
		json_object_object_add(o, "name", json_object_new_string(t->name));
		json_object_object_add(o, "task", json_object_new_int64((int64_t)t->id));
		json_object_object_add(o, "state",
				       json_object_new_string(dtask_state_name(t->state)));
		json_object_object_add(o, "priority", json_object_new_double(t->prio));
		json_object_array_add(ts, o);
	}
	json_object_object_add(reply, "tasks", ts);
	return 0;
}

static int do_cancel_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err)
{
	struct dtask *m[DAPP_MAX_TASKS];
	size_t n = app_members(d, req->app, m), hit = 0;
	int r;

	if (!n)
		return set_err(err, PROTO_E_NO_TASK, "app", "app: no application %" PRIu64,
			       req->app);
	/* waiting and queued ones first, so that nothing is released while the running die */
	for (size_t i = 0; i < n; i++)
		if (m[i]->state == DTASK_WAITING || m[i]->state == DTASK_QUEUED) {
			if (m[i]->state == DTASK_QUEUED)
				(void)policy_cancel(d->pol, m[i]->id);
			m[i]->state = DTASK_CANCELLED;
			m[i]->end_us = realtime_us();
			snprintf(m[i]->reason, sizeof(m[i]->reason), "cancelled");
			emit(d, "finished", m[i]);
			hit++;
		}
	for (size_t i = 0; i < n; i++) {
		struct trt *rt = m[i]->rt;
		if (m[i]->state == DTASK_RUNNING && rt && rt->cg) {
			rt->cancel = true;
			r = cg_task_kill(rt->cg);
			if (r < 0)
				logm(LOG_WARNING, "task %" PRIu64 ": kill: %s", m[i]->id,
				     strerror(-r));
			hit++;
		}
	}
	if (!hit)
		return set_err(err, PROTO_E_STATE, "app", "app: %" PRIu64 " has no live task",
			       req->app);
	r = persist(d);
	if (r < 0)
		return set_err(err, PROTO_E_INTERNAL, NULL, "state: %s", strerror(-r));
	json_object_object_add(reply, "app", json_object_new_int64((int64_t)req->app));
	json_object_object_add(reply, "cancelled", json_object_new_int((int)hit));
	return 0;
}

static int load_catalog(struct daemon *d, const char *path, char *err, size_t errsz);
static int reload(struct daemon *d, char *restart, size_t rsz, char *err, size_t errsz);

static bool peer_in_group(struct daemon *d, const struct ucred *cr)
{
	char path[64], line[512];
	_cleanup_fclose_ FILE *f = NULL;

	if (cr->uid == 0)
		return true;
	if (!d->have_group)
		return false;
	if (cr->gid == d->group)
		return true;
	/* Supplementary groups of the peer process. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cr->pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Groups:", 7)) {
			char *save = NULL;
			for (char *tok = strtok_r(line + 7, " \t\n", &save); tok;
			     tok = strtok_r(NULL, " \t\n", &save))
				if ((gid_t)strtoul(tok, NULL, 10) == d->group)
					return true;
		}
	return false;
}

static void handle_line(struct client *c, const char *line, size_t len)
{
	struct daemon *d = c->d;
	struct proto_request req = {0};
	struct proto_error err = {0};
	json_object *reply;
	_cleanup_free_ char *out = NULL;
	int r;

	r = proto_parse_request(line, len, &req, &err);
	if (r >= 0 && !c->authorized)
		r = set_err(&err, PROTO_E_PERMISSION, NULL, "%s needs root or group %s",
			    proto_op_name(req.op), d->conf.group);
	reply = json_object_new_object();
	if (r >= 0 && reply) {
		if (req.has_id)
			json_object_object_add(reply, "id", json_object_new_int64(req.id));
		json_object_object_add(reply, "ok", json_object_new_boolean(1));
		switch (req.op) {
		case PROTO_SUBMIT:
			r = do_submit(d, &req, reply, &err);
			break;
		case PROTO_CANCEL:
			r = do_cancel(d, &req, reply, &err);
			break;
		case PROTO_SUBMIT_APP:
			r = do_submit_app(d, &req, reply, &err);
			break;
		case PROTO_APPS:
			json_object_object_add(reply, "apps", apps_json(d, false));
			break;
		case PROTO_STATUS:
			json_object_object_add(reply, "policy",
					       json_object_new_string(d->conf.policy));
			json_object_object_add(reply, "draining",
					       json_object_new_boolean(d->draining));
			json_object_object_add(reply, "measure", measure_json(d));
			if (d->shaper)
				json_object_object_add(reply, "uplink", uplink_json(d));
			json_object_object_add(reply, "devices", devices_json(d));
			json_object_object_add(reply, "queues", queues_json(d));
			json_object_object_add(reply, "tasks", tasks_json(d, true));
			json_object_object_add(reply, "apps", apps_json(d, true));
			break;
		case PROTO_QUEUES:
			json_object_object_add(reply, "queues", queues_json(d));
			break;
		case PROTO_FLEET: {
			json_object *fs = NULL;
			char e[200];
			if (!d->fleet)
				r = set_err(&err, PROTO_E_STATE, NULL,
					    "fleet mode is off (fleet = etcd)");
			else if (fleet_status(d->fleet, &fs, e, sizeof(e)) < 0)
				r = set_err(&err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
			else {
				static const char *const keys[] = {"fleet", "devices", "queues",
								   "tasks"};
				for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
					json_object *v = NULL;
					if (json_object_object_get_ex(fs, keys[i], &v))
						json_object_object_add(reply, keys[i],
								       json_object_get(v));
				}
			}
			json_object_put(fs);
			break;
		}
		case PROTO_DEVICES:
			json_object_object_add(reply, "devices", devices_json(d));
			break;
		case PROTO_TASKS:
			json_object_object_add(reply, "tasks", tasks_json(d, false));
			break;
		case PROTO_EVENTS:
			c->events = true;
			json_object_object_add(reply, "stream", json_object_new_boolean(1));
			break;
		case PROTO_RELOAD: {
			char e[256], restart[256];
			r = reload(d, restart, sizeof(restart), e, sizeof(e));
			if (r < 0)
				set_err(&err, PROTO_E_BAD_VALUE,
					r == -EBADMSG ? "config" : "catalog", "%s", e);
			else {
				json_object *a = json_object_new_array();
				for (char *k = restart, *sp; *k; k = sp ? sp + 1 : k + strlen(k)) {
					sp = strchr(k, ' ');
					json_object_array_add(
					    a, json_object_new_string_len(k, sp ? (int)(sp - k)
										: (int)strlen(k)));
				}
				json_object_object_add(reply, "models",
						       json_object_new_int((int)d->n_models));
				json_object_object_add(reply, "restart_required", a);
			}
			break;
		}
		default:
			r = set_err(&err, PROTO_E_UNKNOWN_OP, "op", "op: unknown");
		}
	}
	if (r >= 0 && reply) {
		if (asprintf(&out, "%s\n",
			     json_object_to_json_string_ext(reply, JSON_C_TO_STRING_PLAIN)) < 0)
			out = NULL;
	} else {
		if (!reply)
			set_err(&err, PROTO_E_INTERNAL, NULL, "out of memory");
		out = proto_format_error(&req, &err);
	}
	json_object_put(reply);
	proto_request_done(&req);
	if (out)
		client_send(c, out);
}

/* --- clients -------------------------------------------------------------------------- */

static void client_free(struct client *c)
{
	struct daemon *d = c->d;
	for (struct client **p = &d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	d->n_clients--;
	sd_event_source_disable_unref(c->src);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_update(struct client *c)
{
	(void)sd_event_source_set_io_events(c->src, (c->closing ? 0 : EPOLLIN) |
							(c->out_len ? EPOLLOUT : 0));
	if (c->closing && !c->out_len)
		client_free(c);
}

static void client_send(struct client *c, const char *line)
{
	size_t n = strlen(line);

	if (c->out_len + n > MAX_OUTBUF) {
		/* A reader this slow would make us buffer without bound: drop it. The
		 * shutdown makes epoll report a hangup, which frees it from the loop. */
		c->closing = true;
		c->out_len = 0;
		(void)shutdown(c->fd, SHUT_RDWR);
		return;
	}
	if (c->out_len + n > c->out_cap) {
		size_t nc = (c->out_len + n) * 2;
		char *b = realloc(c->out, nc);
		if (!b) {
			c->closing = true;
			c->out_len = 0;
			return;
		}
		c->out = b;
		c->out_cap = nc;
	}
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
	/* Events are queued to clients other than the one being served: arm their POLLOUT. */
	(void)sd_event_source_set_io_events(c->src, (c->closing ? 0 : EPOLLIN) | EPOLLOUT);
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *c = userdata;

	if (revents & EPOLLOUT && c->out_len) {
		ssize_t n = send(fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			client_free(c);
			return 0;
		}
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (size_t)n;
		}
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->closing) {
		char *nl;
		ssize_t n;
		if (c->in_cap - c->in_len < 4096) {
			size_t nc = c->in_cap ? c->in_cap * 2 : 8192;
			char *b = realloc(c->in, nc);
			if (!b) {
				client_free(c);
				return 0;
			}
			c->in = b;
			c->in_cap = nc;
		}
		n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			/* EOF: answer what was complete, then go. */
			c->closing = true;
			client_update(c);
			return 0;
		}
		c->in_len += (size_t)n;
		while (!c->closing && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t len = (size_t)(nl - c->in);
			handle_line(c, c->in, len);
			memmove(c->in, nl + 1, c->in_len - len - 1);
			c->in_len -= len + 1;
		}
		if (c->in_len > PROTO_MAX_LINE) {
			struct proto_error e = {.code = PROTO_E_TOO_LARGE};
			_cleanup_free_ char *out = NULL;
			snprintf(e.message, sizeof(e.message), "request longer than %u bytes",
				 PROTO_MAX_LINE);
			out = proto_format_error(NULL, &e);
			if (out)
				client_send(c, out);
			/* No way to find the next request boundary reliably: close after replying.
			 */
			c->closing = true;
			c->in_len = 0;
		}
	}
	client_update(c);
	return 0;
}

static int on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct client *c;
	socklen_t len;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	if (d->n_clients >= MAX_CLIENTS) {
		static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"limit\",\"message\":"
					  "\"too many clients\"}}\n";
		(void)send(cfd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->d = d;
	c->fd = cfd;
	len = sizeof(c->cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == 0)
		c->authorized = peer_in_group(d, &c->cred);
	if (sd_event_add_io(d->ev, &c->src, cfd, EPOLLIN, on_client, c) < 0) {
		close(cfd);
		free(c);
		return 0;
	}
	c->next = d->clients;
	d->clients = c;
	d->n_clients++;
	return 0;
}

/* --- startup, adoption, shutdown -------------------------------------------------------- */

static int load_catalog(struct daemon *d, const char *path, char *err, size_t errsz)
{
	_cleanup_free_ char *text = NULL;
	struct dconf_model *m = NULL;
	size_t n = 0;
	int r = read_file_at(AT_FDCWD, path, &text, NULL);

	if (r == -ENOENT) {
		m = malloc(sizeof(dconf_default_models));
		if (!m)
			return -ENOMEM;
		memcpy(m, dconf_default_models, sizeof(dconf_default_models));
		n = ELEMENTSOF(dconf_default_models);
	} else if (r < 0) {
		snprintf(err, errsz, "%.200s: %.40s", path, strerror(-r));
		return r;
	} else {
		char e[256];
		r = dconf_parse_models(text, &m, &n, e, sizeof(e));
		if (r < 0) {
			snprintf(err, errsz, "%.100s: %.150s", path, e);
			return r;
		}
	}
	free(d->models);
	d->models = m;
	d->n_models = n;
	return 0;
}

/* Re-reads edgeslice.conf and the model catalog (SIGHUP, `reload`). Keys that can change under
 * running tasks take effect now; those that define the device set, the policy's state or the
 * probes (policy, seed, device, node_cores/memory, enforcement, measure, measure_smoothing)
 * keep their running values and are named in `restart` (space-separated). A bad file changes
 * nothing: -EBADMSG (config) or the catalog's error, reason in err. */
static int reload(struct daemon *d, char *restart, size_t rsz, char *err, size_t errsz)
{
	_cleanup_free_ char *text = NULL;
	struct dconf c;
	char e[256];
	struct group *gr;
	int r = read_file_at(AT_FDCWD, d->o.config, &text, NULL);

	restart[0] = '\0';
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errsz, "%.200s: %s", d->o.config, strerror(-r));
		logm(LOG_ERR, "reload: %s; nothing changed", err);
		return -EBADMSG;
	}
	dconf_init(&c);
	if (text && dconf_parse(text, &c, e, sizeof(e)) < 0) {
		snprintf(err, errsz, "%.100s: %.150s", d->o.config, e);
		logm(LOG_ERR, "reload: %s; nothing changed", err);
		return -EBADMSG;
	}
	r = load_catalog(d, c.catalog, err, errsz);
	if (r < 0) {
		logm(LOG_ERR, "reload: catalog %s; nothing changed", err);
		return r;
	}
#define RESTART_IF(cond, key)                                                                      \
	do {                                                                                       \
		if (cond)                                                                          \
			snprintf(restart + strlen(restart), rsz - strlen(restart), "%s%s",         \
				 restart[0] ? " " : "", key);                                      \
	} while (0)
	RESTART_IF(strcmp(c.policy, d->conf.policy), "policy");
	RESTART_IF(c.seed != d->conf.seed, "seed");
	RESTART_IF(c.n_devices != d->conf.n_devices ||
		       memcmp(c.devices, d->conf.devices, c.n_devices * sizeof(c.devices[0])),
		   "device");
	RESTART_IF(c.node_cpu != d->conf.node_cpu, "node_cores");
	RESTART_IF(c.node_mem != d->conf.node_mem, "node_memory");
	RESTART_IF(c.strict != d->conf.strict, "enforcement");
	RESTART_IF(c.measure != d->conf.measure, "measure");
	RESTART_IF(c.smoothing != d->conf.smoothing, "measure_smoothing");
	RESTART_IF(memcmp(&c.fleet, &d->conf.fleet, sizeof(c.fleet)), "fleet");
#undef RESTART_IF
	d->conf.measure_ms = c.measure_ms; /* the tick re-arms with it */
	d->conf.on_sigterm = c.on_sigterm;
	d->conf.overcommit = c.overcommit;
	d->conf.max_tasks = c.max_tasks;
	d->conf.keep_finished = c.keep_finished;
	memcpy(d->conf.catalog, c.catalog, sizeof(c.catalog));
	if (strcmp(c.group, d->conf.group)) {
		memcpy(d->conf.group, c.group, sizeof(c.group));
		gr = getgrnam(d->conf.group);
		d->have_group = gr != NULL;
		if (gr) {
			d->group = gr->gr_gid;
			if (d->own_socket) /* socket activation: SocketGroup= in the .socket unit */
				(void)chown(d->sock_path, 0, d->group);
		} else
			logm(LOG_WARNING, "group %s does not exist: only root may use the socket",
			     d->conf.group);
	}
	logm(LOG_INFO, "reloaded %s and the model catalog (%zu models)%s%s", d->o.config,
	     d->n_models, restart[0] ? "; needs a restart to change: " : "", restart);
	schedule(d); /* placement = measured/reserved may have changed what fits */
	return 0;
}

static int node_capacity(struct daemon *d)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	_cleanup_free_ char *mi = NULL;

	d->node_cpu = d->conf.node_cpu > 0 ? d->conf.node_cpu : (double)(n > 0 ? n : 1);
	d->node_mem = d->conf.node_mem;
	if (!d->node_mem && read_file_at(AT_FDCWD, "/proc/meminfo", &mi, NULL) >= 0) {
		char *p = strstr(mi, "MemTotal:");
		if (p)
			d->node_mem = strtoull(p + 9, NULL, 10) * 1024u;
	}
	return d->node_mem ? 0 : -ENODATA;
}

/* A task found in state.json at startup. */
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
		t->end_us = realtime_us();
		snprintf(t->reason, sizeof(t->reason), "vanished-while-down");
		logm(LOG_WARNING, "task %" PRIu64 ": cgroup %s vanished while we were down", t->id,
		     name);
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
		task_finish(d, t, DTASK_DONE, "exited-while-down");
		return 0;
	}
	t->state = DTASK_RUNNING;
	if (!t->start_us)
		t->start_us = realtime_us();
	r = shape_task(d, t); /* adopts its class if the uplink kept it */
	if (r < 0)
		logm(LOG_WARNING, "task %" PRIu64 ": uplink: cannot shape its uploads again: %s",
		     t->id, strerror(-r));
	r = watch_task(d, t);
	if (r < 0)
		return r;
	logm(LOG_INFO, "task %" PRIu64 " (%s) adopted on %s", t->id, t->queue, d->dev[t->dev].name);
	return 0;
}

static int load_state(struct daemon *d)
{
	_cleanup_free_ char *text = NULL;
	struct dtask *flat = NULL;
	size_t n = 0;
	char err[256];
	int r = read_file_at(d->state_fd, "state.json", &text, NULL);

	d->next_id = 1;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = dstate_parse(text, &flat, &n, &d->next_id, err, sizeof(err));
	if (r < 0) {
		/* Keep the evidence and refuse to start: silently dropping accepted tasks is
		 * worse than not running. */
		logm(LOG_ERR, "state.json: corrupt (%s); moved aside to state.json.corrupt", err);
		(void)renameat(d->state_fd, "state.json", d->state_fd, "state.json.corrupt");
		return -EBADMSG;
	}
	for (size_t i = 0; i < n; i++) {
		struct dtask *t = malloc(sizeof(*t));
		if (!t || task_append(d, t) < 0) {
			free(t);
			dstate_free(flat, n);
			return -ENOMEM;
		}
		*t = flat[i];
		memset(&flat[i], 0, sizeof(flat[i]));
		t->rt = NULL;
		if (!trt_new(d, t)) {
			dstate_free(flat, n);
			return -ENOMEM;
		}
	}
	dstate_free(flat, n);
	d->loading = true;
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct dqueue *q;
		if (!dtask_state_live(t->state))
			continue;
		r = queue_get(d, t->queue, t->cpu, t->mem, &q);
		if (r < 0)
			return r;
		r = adopt(d, t);
		if (r < 0) {
			logm(LOG_ERR, "task %" PRIu64 ": cannot adopt: %s", t->id, strerror(-r));
			return r;
		}
		if (t->state == DTASK_QUEUED) {
			r = policy_enqueue(d->pol, q->policy_id, t->id, mono_s(d));
			if (r < 0)
				return r;
		}
	}
	d->loading = false;
	apps_settle_all(d); /* tasks that ended while we were down release their successors */
	return persist(d);
}

static int open_socket(struct daemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;
	int n = sd_listen_fds(1);

	if (n > 1)
		return -E2BIG;
	if (n == 1) {
		d->listen_fd = SD_LISTEN_FDS_START;
		return 0;
	}
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
	if (d->have_group)
		(void)chown(d->sock_path, 0, d->group);
	d->own_socket = true;
	d->listen_fd = TAKE_FD(fd);
	return 0;
}

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
		(void)sd_notify(0, "STOPPING=1");
		return sd_event_exit(d->ev, 0);
	}
	/* drain: no new placements; exit when the running tasks are done. */
	d->draining = true;
	logm(LOG_INFO, "draining: waiting for running tasks (send SIGTERM again to leave them)");
	notify_status(d);
	return 0;
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct daemon *d = userdata;
	char err[256], restart[256];
	(void)reload(d, restart, sizeof(restart), err, sizeof(err));
	return 0;
}

static int on_drain_check(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;
	if (d->draining && !any_running(d)) {
		(void)sd_notify(0, "STOPPING=1");
		return sd_event_exit(d->ev, 0);
	}
	return sd_event_source_set_time_relative(s, 200000);
}

static int pick_cgroupfs(const char *want, char *buf, size_t size)
{
	struct statfs sf;
	if (want) {
		snprintf(buf, size, "%s", want);
		return 0;
	}
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == 0x63677270)
		snprintf(buf, size, "/sys/fs/cgroup");
	else if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == 0x63677270)
		snprintf(buf, size, "/sys/fs/cgroup/unified"); /* hybrid hosts */
	else
		return -ENOMEDIUM;
	return 0;
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

int daemon_run(const struct daemon_opts *o)
{
	struct daemon dd = {0}, *d = &dd;
	_cleanup_free_ char *conftext = NULL, *cgpath = NULL;
	char err[256], cgfs[PATH_MAX];
	struct policy_params pp = {0};
	struct sampler_params sp;
	sd_event_source *drain_src = NULL;
	struct group *gr;
	int r, ret = 1;
	sigset_t ss;

	log_prefix = getenv("JOURNAL_STREAM") != NULL;
	if (getenv("EDGESLICED_DEBUG"))
		log_max = LOG_DEBUG;
	d->o = *o;
	d->listen_fd = d->state_fd = -1;
	d->t0_us = now_usec();
	/* Blocked before any thread exists (the cgroup removal thread, libcurl's), so that every
	 * thread inherits the mask and these reach only the event loop's signalfd; one arriving
	 * during start-up waits for the loop. Tasks get a clean mask in cg_task_spawn. */
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	dconf_init(&d->conf);
	r = read_file_at(AT_FDCWD, o->config, &conftext, NULL);
	if (r < 0 && r != -ENOENT) {
		logm(LOG_ERR, "%s: %s", o->config, strerror(-r));
		return 1;
	}
	if (conftext && dconf_parse(conftext, &d->conf, err, sizeof(err)) < 0) {
		logm(LOG_ERR, "%s: %s", o->config, err);
		return 1;
	}
	if (load_catalog(d, d->conf.catalog, err, sizeof(err)) < 0) {
		logm(LOG_ERR, "catalog %s", err);
		return 1;
	}
	gr = getgrnam(d->conf.group);
	if (gr) {
		d->group = gr->gr_gid;
		d->have_group = true;
	} else
		logm(LOG_WARNING, "group %s does not exist: only root may use the socket",
		     d->conf.group);
	if (node_capacity(d) < 0) {
		logm(LOG_ERR, "cannot read the node's memory size");
		return 1;
	}
	r = devset_local_new(&d->conf, d->node_cpu, d->node_mem, &d->devs);
	if (r < 0) {
		logm(LOG_ERR, "device partitions exceed the node (%.3g cores, %" PRIu64 " bytes)",
		     d->node_cpu, d->node_mem);
		return 1;
	}
	d->n_dev = d->devs.ops->count(d->devs.ctx);
	d->dev = calloc(d->n_dev, sizeof(*d->dev));
	if (!d->dev)
		goto out;
	if (policy_kind_from_name(d->conf.policy, &pp.kind) < 0)
		goto out;
	pp.seed = d->conf.seed;
	pp.reconcile_period_s = 10;
	if (policy_new(&pp, &d->pol) < 0)
		goto out;
	for (size_t i = 0; i < d->n_dev; i++) {
		(void)d->devs.ops->get(d->devs.ctx, i, &d->dev[i]);
		r = policy_add_device(d->pol, (uint32_t)i,
				      (struct policy_res){d->dev[i].cpu, (double)d->dev[i].mem});
		if (r < 0) {
			logm(LOG_ERR, "device %s: %s", d->dev[i].name, strerror(-r));
			goto out;
		}
	}

	/* cgroup subtree */
	r = pick_cgroupfs(o->cgroupfs, cgfs, sizeof(cgfs));
	if (r < 0) {
		logm(LOG_ERR, "no cgroup2 hierarchy mounted");
		goto out;
	}
	if (o->cgroup_root) {
		/* A path inside the hierarchy, e.g. /system.slice/edgeslice-tasks.service. */
		if (asprintf(&cgpath, "%s%s", cgfs, o->cgroup_root) < 0) {
			cgpath = NULL;
			goto out;
		}
		if (mkdir(cgpath, 0755) < 0 && errno != EEXIST) {
			logm(LOG_ERR, "%s: %m", cgpath);
			goto out;
		}
	} else {
		r = cg_root_discover(cgfs, "/proc/self/cgroup", &cgpath);
		if (r < 0) {
			logm(LOG_ERR, "cannot find our own cgroup below %s: %s", cgfs,
			     strerror(-r));
			goto out;
		}
	}
	if (!cgpath)
		goto out;
	d->cg_path = cgpath;
	snprintf(d->cgroupfs, sizeof(d->cgroupfs), "%s", cgfs);
	r = cg_root_open(cgfs, cgpath, &d->root);
	if (r >= 0)
		r = cg_root_setup(d->root);
	if (r < 0) {
		logm(LOG_ERR, "cgroup subtree %s: %s (run with Delegate=yes or --cgroup-root)",
		     cgpath, strerror(-r));
		goto out;
	}
	if (strstr(cg_root_missing(d->root), "cpuset") && cpuset_offered(d->root)) {
		/* Say why, once: cg_root_setup records only that it is missing. */
		r = write_string_at(cg_root_fd(d->root), "cgroup.subtree_control", "+cpuset");
		logm(LOG_WARNING, "cpuset: enabling in %s: %s", cgpath,
		     r < 0 ? strerror(-r) : "ok now");
		if (r >= 0)
			(void)cg_root_setup(d->root);
	}
	if (cg_root_missing(d->root)[0]) {
		if (d->conf.strict &&
		    (!cg_root_has(d->root, "cpu") || !cg_root_has(d->root, "memory"))) {
			logm(LOG_ERR, "controllers missing in %s: %s (enforcement = strict)",
			     cgpath, cg_root_missing(d->root));
			goto out;
		}
		logm(LOG_WARNING, "controllers missing in %s: %s; their limits are not enforced",
		     cgpath, cg_root_missing(d->root));
	}

	/* state */
	if (mkdir(o->state_dir, 0700) < 0 && errno != EEXIST) {
		logm(LOG_ERR, "%s: %m", o->state_dir);
		goto out;
	}
	d->state_fd = open(o->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->state_fd < 0) {
		logm(LOG_ERR, "%s: %m", o->state_dir);
		goto out;
	}

	/* measurement: before the state, which re-adopts running tasks into it */
	sampler_params_init(&sp);
	sp.alpha = d->conf.smoothing;
	sp.use_bpf = d->conf.measure != DCONF_MEASURE_CGROUP;
	r = sampler_new(&sp, &d->sampler);
	if (r < 0) {
		logm(LOG_ERR, "measurement: cannot read the node's /proc files: %s", strerror(-r));
		goto out;
	}
	r = sampler_bpf_error(d->sampler);
	d->bpf = sp.use_bpf && r == 0;
	if (sp.use_bpf && r < 0) {
		if (d->conf.measure == DCONF_MEASURE_EBPF) {
			logm(LOG_ERR, "measure = ebpf: the eBPF scheduler probe cannot run: %s",
			     r == -EOPNOTSUPP ? "no BTF or BPF in this kernel" : strerror(-r));
			goto out;
		}
		logm(LOG_NOTICE,
		     "eBPF scheduler probe unavailable (%s); measuring with cgroup files only",
		     r == -EOPNOTSUPP ? "no BTF or BPF in this kernel" : strerror(-r));
	}

	if (d->conf.uplink[0]) {
		r = shaper_open(d->conf.uplink, d->conf.uplink_rate, &d->shaper);
		if (r < 0) {
			logm(LOG_ERR, "uplink %s: %s", d->conf.uplink,
			     r == -ENODEV ? "no such interface in this network namespace"
					  : strerror(-r));
			goto out;
		}
		if (shaper_is_active(d->shaper))
			logm(LOG_NOTICE,
			     "uplink %s: edgeslice's shaping found (a previous run's); adopting it",
			     d->conf.uplink);
	}

	if (sd_event_default(&d->ev) < 0)
		goto out;
	r = reaper_start(&d->reaper);
	if (r < 0) {
		logm(LOG_ERR, "cannot start the cgroup removal thread: %s", strerror(-r));
		goto out;
	}
	r = fleet_setup(d); /* before the state: adopted fleet tasks report through it */
	if (r < 0) {
		logm(LOG_ERR, "fleet: %s", strerror(-r));
		goto out;
	}
	r = load_state(d);
	if (r < 0) {
		logm(LOG_ERR, "state: %s", strerror(-r));
		goto out;
	}
	sweep_stale(d);
	shaper_sweep(d);
	r = open_socket(d);
	if (r < 0) {
		logm(LOG_ERR, "control socket in %s: %s", o->runtime_dir, strerror(-r));
		goto out;
	}
	if (sd_event_add_io(d->ev, &d->listen_src, d->listen_fd, EPOLLIN, on_accept, d) < 0 ||
	    sd_event_add_signal(d->ev, NULL, SIGTERM, on_term, d) < 0 ||
	    sd_event_add_signal(d->ev, NULL, SIGINT, on_term, d) < 0 ||
	    sd_event_add_signal(d->ev, NULL, SIGHUP, on_hup, d) < 0 ||
	    sd_event_add_time_relative(d->ev, &d->tick_src, CLOCK_MONOTONIC,
				       (uint64_t)d->conf.measure_ms * 1000u, 1000, on_tick,
				       d) < 0 ||
	    sd_event_add_time_relative(d->ev, &drain_src, CLOCK_MONOTONIC, 200000, 10000,
				       on_drain_check, d) < 0)
		goto out;
	(void)sd_event_source_set_enabled(d->tick_src, SD_EVENT_ON);
	(void)sd_event_source_set_enabled(drain_src, SD_EVENT_ON);
	(void)sd_event_set_watchdog(d->ev, true);
	schedule(d);
	logm(LOG_INFO, "ready: policy %s, %zu device(s), measuring with %s, cgroup %s, socket %s",
	     d->conf.policy, d->n_dev, d->bpf ? "eBPF + cgroup files" : "cgroup files", cgpath,
	     d->own_socket ? d->sock_path : "(socket activation)");
	(void)sd_notify(0, "READY=1");
	notify_status(d);
	r = sd_event_loop(d->ev);
	ret = r < 0 ? 1 : 0;
	(void)persist(d);
	logm(LOG_INFO, "stopping; %s",
	     any_running(d) ? "running tasks keep running" : "no tasks running");
out:
	reaper_stop(&d->reaper);
	while (d->clients)
		client_free(d->clients);
	if (d->shaper) { /* stopping: finished tasks' classes go now */
		for (size_t i = 0; i < d->n_unshape; i++)
			d->unshape[i].deadline_us = 0;
		unshape_drained(d, now_usec());
	}
	free(d->unshape);
	if (d->shaper && any_shaped(d))
		logm(LOG_INFO, "uplink %s: classes of running tasks kept (a restart adopts them)",
		     d->conf.uplink);
	for (size_t i = 0; i < d->n_tasks; i++)
		task_free(d->tasks[i]);
	free(d->tasks);
	sampler_free(d->sampler);
	fleet_free(d->fleet);
	shaper_free(d->shaper);
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
	cg_root_free(d->root);
	policy_free(d->pol);
	if (d->devs.ops)
		d->devs.ops->free(d->devs.ctx);
	free(d->dev);
	free(d->queues);
	free(d->models);
	return ret;
}
