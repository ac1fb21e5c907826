/* dmetrics.c — edgesliced's /metrics: per task the cAdvisor/kubelet names, per queue and
 * device the placement figures, the daemon's own counters (docs/METRICS.md lists them all). */
#include "daemon-internal.h"
#include <sys/resource.h>
#include <sys/utsname.h>

/* Bucket bounds, seconds. */
static const double wait_le[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800};
static const double decision_le[] = {1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5,
				     1e-4, 2.5e-4, 5e-4, 1e-3, 5e-3,   1e-2};
static const double write_le[] = {2.5e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5};

/* --- events ---------------------------------------------------------------------------- */

static struct metrics_hist *queue_hist(struct daemon *d, const char *queue)
{
	struct dqueue *q = daemon_queue_find(d, queue);
	size_t i;

	if (!q)
		return NULL;
	i = (size_t)(q - d->queues);
	if (i >= d->mx.n_queue_wait) {
		struct metrics_hist *n = realloc(d->mx.queue_wait, d->n_queues * sizeof(*n));
		if (!n)
			return NULL;
		d->mx.queue_wait = n;
		for (size_t k = d->mx.n_queue_wait; k < d->n_queues; k++)
			(void)metrics_hist_init(&n[k], wait_le, ELEMENTSOF(wait_le));
		d->mx.n_queue_wait = d->n_queues;
	}
	return &d->mx.queue_wait[i];
}

void daemon_mx_placed(struct daemon *d, const struct dtask *t)
{
	struct metrics_hist *h = queue_hist(d, t->queue);

	d->mx.placements++;
	if (h && t->start_us >= t->submit_us)
		metrics_hist_observe(h, (double)(t->start_us - t->submit_us) / 1e6);
}

void daemon_mx_finished(struct daemon *d, const struct dtask *t)
{
	const char *st = dtask_state_name(t->state);
	/* The reasons are the daemon's own words, a short fixed list; anything past the table
	 * is counted as "other" so a bug cannot grow it. */
	const char *reason = t->reason[0] ? t->reason : "none";
	struct dmx_exit *e = NULL;

	for (size_t i = 0; i < d->mx.n_exits && !e; i++)
		if (!strcmp(d->mx.exits[i].state, st) && !strcmp(d->mx.exits[i].reason, reason))
			e = &d->mx.exits[i];
	if (!e && d->mx.n_exits < DMX_MAX_EXITS - 1) {
		e = &d->mx.exits[d->mx.n_exits++];
		snprintf(e->state, sizeof(e->state), "%s", st);
		snprintf(e->reason, sizeof(e->reason), "%s", reason);
	}
	if (!e) {
		e = &d->mx.exits[DMX_MAX_EXITS - 1];
		snprintf(e->state, sizeof(e->state), "other");
		snprintf(e->reason, sizeof(e->reason), "other");
	}
	e->n++;
}

void daemon_mx_decision(struct daemon *d, uint64_t usec)
{
	metrics_hist_observe(&d->mx.decision, (double)usec / 1e6);
}

void daemon_mx_write(struct daemon *d, uint64_t usec)
{
	metrics_hist_observe(&d->mx.write, (double)usec / 1e6);
}

/* --- rendering --------------------------------------------------------------------------- */

struct task_labels {
	char id[24];
	const char *v[13]; /* task, queue, device, app, [state, [command]], NULL */
};

static void label_task(struct daemon *d, const struct dtask *t, struct task_labels *l)
{
	snprintf(l->id, sizeof(l->id), "%" PRIu64, t->id);
	const char *v[] = {
	    "task",   l->id,
	    "queue",  t->queue,
	    "device", t->dev >= 0 && (size_t)t->dev < d->n_dev ? d->dev[t->dev].name : "",
	    "app",    t->app ? t->app_name : "",
	    NULL};
	memcpy(l->v, v, sizeof(v));
}

/* A running, sampled task's reading; false for the others (they have no series). */
static bool task_reading(struct daemon *d, const struct dtask *t, struct sampler_task *st)
{
	const struct trt *rt = t->rt;
	return t->state == DTASK_RUNNING && rt && rt->sampled &&
	       sampler_task_get(d->sampler, t->id, st) >= 0 && st->at_usec;
}

enum tval {
	TV_CPU,
	TV_MEM,
	TV_WSS,
	TV_PEAK,
	TV_THR_S,
	TV_THR_N,
	TV_OOM,
	TV_PSI, /* + resource * 2 + stalled */
};

/* The value of one per-task family; false where the task's cgroup has no such file. */
static bool task_value(const struct sampler_task *st, int what, double *v)
{
	static const unsigned psi_bit[] = {PROBE_HAVE_PSI_CPU, PROBE_HAVE_PSI_MEM,
					   PROBE_HAVE_PSI_IO};
	if (what >= TV_PSI) {
		int res = (what - TV_PSI) / 2, full = (what - TV_PSI) % 2;
		const struct probe_psi *p = res == 0   ? &st->psi_cpu
					    : res == 1 ? &st->psi_mem
						       : &st->psi_io;
		if (!(st->have & psi_bit[res]) || (full && !p->has_full))
			return false;
		*v = (double)(full ? p->full.total_usec : p->some.total_usec) / 1e6;
		return true;
	}
	switch (what) {
	case TV_CPU:
		*v = (double)st->usage_usec / 1e6;
		return true;
	case TV_MEM:
		*v = (double)st->mem_bytes;
		return st->have & PROBE_HAVE_MEM;
	case TV_WSS:
		*v = (double)(st->mem_bytes > st->mem_stat.inactive_file
				  ? st->mem_bytes - st->mem_stat.inactive_file
				  : 0);
		return (st->have & PROBE_HAVE_MEM) && (st->have & PROBE_HAVE_MEM_STAT);
	case TV_PEAK:
		*v = (double)st->mem_peak_bytes;
		return st->have & PROBE_HAVE_MEM_PEAK;
	case TV_THR_S:
		*v = (double)st->throttled_usec / 1e6;
		return st->have & PROBE_HAVE_THROTTLE;
	case TV_THR_N:
		*v = (double)st->nr_throttled;
		return st->have & PROBE_HAVE_THROTTLE;
	case TV_OOM:
		*v = (double)st->mem_events.oom_kill;
		return st->have & PROBE_HAVE_MEM_EVENTS;
	}
	return false;
}

static void render_tasks(struct daemon *d, struct metrics_out *o)
{
	static const struct {
		const char *name;
		enum metrics_type type;
		const char *help;
	} fam[] = {
	    {"container_cpu_usage_seconds", METRICS_COUNTER, "CPU time used (cpu.stat usage_usec)"},
	    {"container_memory_usage_bytes", METRICS_GAUGE, "Memory charged (memory.current)"},
	    {"container_memory_working_set_bytes", METRICS_GAUGE,
	     "memory.current minus inactive_file (cAdvisor's working set)"},
	    {"container_memory_max_usage_bytes", METRICS_GAUGE, "Peak memory (memory.peak)"},
	    {"container_cpu_cfs_throttled_seconds", METRICS_COUNTER,
	     "Time throttled by cpu.max (cpu.stat throttled_usec)"},
	    {"container_cpu_cfs_throttled_periods", METRICS_COUNTER,
	     "Periods throttled by cpu.max (cpu.stat nr_throttled)"},
	    {"container_oom_events", METRICS_COUNTER, "OOM kills in the cgroup (memory.events)"},
	    {"container_pressure_cpu_waiting_seconds", METRICS_COUNTER,
	     "Time some tasks waited for CPU (cpu.pressure some total)"},
	    {"container_pressure_cpu_stalled_seconds", METRICS_COUNTER,
	     "Time all tasks were stalled on CPU (cpu.pressure full total)"},
	    {"container_pressure_memory_waiting_seconds", METRICS_COUNTER,
	     "Time some tasks waited for memory (memory.pressure some total)"},
	    {"container_pressure_memory_stalled_seconds", METRICS_COUNTER,
	     "Time all tasks were stalled on memory (memory.pressure full total)"},
	    {"container_pressure_io_waiting_seconds", METRICS_COUNTER,
	     "Time some tasks waited for I/O (io.pressure some total)"},
	    {"container_pressure_io_stalled_seconds", METRICS_COUNTER,
	     "Time all tasks were stalled on I/O (io.pressure full total)"},
	};
	/* One reading per running task, looked up once (not once per family). */
	struct reading {
		const struct dtask *t;
		struct sampler_task st;
		struct task_labels l;
	} *rd = calloc(d->n_tasks ? d->n_tasks : 1, sizeof(*rd));
	size_t n = 0;
	struct task_labels l;
	double v;

	if (!rd) {
		o->err = -ENOMEM;
		return;
	}
	for (size_t i = 0; i < d->n_tasks; i++)
		if (task_reading(d, d->tasks[i], &rd[n].st)) {
			rd[n].t = d->tasks[i];
			label_task(d, d->tasks[i], &rd[n].l);
			n++;
		}
	for (size_t f = 0; f < ELEMENTSOF(fam); f++) {
		metrics_family(o, fam[f].name, fam[f].type, fam[f].help);
		for (size_t i = 0; i < n; i++)
			if (task_value(&rd[i].st, (int)f, &v))
				metrics_sample(o, rd[i].l.v, v);
	}
	free(rd);
	/* Limits as cAdvisor's container_spec_* give them: quota and period in microseconds. */
	metrics_family(o, "container_spec_cpu_quota", METRICS_GAUGE,
		       "cpu.max quota in microseconds per period (the task's CPU demand)");
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING && cg_root_has(d->root, "cpu")) {
			label_task(d, d->tasks[i], &l);
			metrics_sample(o, l.v, round(d->tasks[i]->cpu * 100000));
		}
	metrics_family(o, "container_spec_cpu_period", METRICS_GAUGE,
		       "cpu.max period in microseconds");
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING && cg_root_has(d->root, "cpu")) {
			label_task(d, d->tasks[i], &l);
			metrics_sample(o, l.v, 100000);
		}
	metrics_family(o, "container_spec_memory_limit_bytes", METRICS_GAUGE,
		       "memory.max (the task's memory demand)");
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->state == DTASK_RUNNING && d->mem_enforced) {
			label_task(d, d->tasks[i], &l);
			metrics_sample(o, l.v, (double)d->tasks[i]->mem);
		}
}

/* One series per live task with its state (and, only when configured, its command). */
static void render_task_info(struct daemon *d, struct metrics_out *o)
{
	struct task_labels l;

	metrics_family(o, "edgeslice_task_info", METRICS_GAUGE,
		       "Live tasks (waiting, queued, starting, running): 1 each");
	for (size_t i = 0; i < d->n_tasks; i++) {
		const struct dtask *t = d->tasks[i];
		_cleanup_free_ char *cmd = NULL;
		size_t n = 8;
		if (!dtask_state_live(t->state))
			continue;
		label_task(d, t, &l);
		l.v[n++] = "state";
		l.v[n++] = dtask_state_name(t->state);
		if (d->conf.metrics_commands && t->argv && t->argv[0]) {
			size_t len = 0;
			FILE *f = open_memstream(&cmd, &len);
			for (size_t k = 0; f && k < t->argc; k++)
				fprintf(f, "%s%s", k ? " " : "", t->argv[k]);
			if (f && fclose(f) == 0) {
				l.v[n++] = "command";
				l.v[n++] = cmd;
			}
		}
		l.v[n] = NULL;
		metrics_sample(o, l.v, 1);
	}
}

static void render_queues(struct daemon *d, struct metrics_out *o)
{
	static const char *const names[] = {"edgeslice_queue_waiting", "edgeslice_queue_running",
					    "edgeslice_queue_dominant_share"};
	static const char *const helps[] = {
	    "Tasks waiting for a placement", "Tasks placed and running",
	    "The queue's dominant share as the placement policy computes it"};

	for (size_t f = 0; f < ELEMENTSOF(names); f++) {
		metrics_family(o, names[f], METRICS_GAUGE, helps[f]);
		for (size_t i = 0; i < d->n_queues; i++) {
			struct policy_queue_info qi = {0};
			const char *l[] = {"queue", d->queues[i].name, NULL};
			(void)policy_queue_info(d->pol, d->queues[i].policy_id, &qi);
			metrics_sample(o, l,
				       f == 0	? qi.waiting
				       : f == 1 ? qi.running
						: qi.dominant_share);
		}
	}
	metrics_family(o, "edgeslice_queue_wait_seconds", METRICS_HISTOGRAM,
		       "Time from submit to start of the queue's tasks");
	for (size_t i = 0; i < d->n_queues; i++) {
		const char *l[] = {"queue", d->queues[i].name, NULL};
		struct metrics_hist *h = queue_hist(d, d->queues[i].name);
		if (h)
			metrics_hist_write(o, l, h);
	}
}

static void render_devices(struct daemon *d, struct metrics_out *o)
{
	static const char *const names[] = {
	    "edgeslice_device_cpu_capacity_cores",  "edgeslice_device_memory_capacity_bytes",
	    "edgeslice_device_cpu_allocated_cores", "edgeslice_device_memory_allocated_bytes",
	    "edgeslice_device_cpu_used_cores",	    "edgeslice_device_memory_used_bytes",
	    "edgeslice_device_cpu_free_cores",	    "edgeslice_device_memory_free_bytes",
	    "edgeslice_device_running_tasks",	    "edgeslice_device_cpu_foreign_cores",
	    "edgeslice_device_memory_foreign_bytes"};
	static const char *const helps[] = {
	    "CPU the device offers",
	    "Memory the device offers",
	    "CPU demand of its running tasks",
	    "Memory demand of its running tasks",
	    "CPU its tasks use (measured)",
	    "Memory its tasks use (measured)",
	    "Capacity minus allocation (CPU)",
	    "Capacity minus allocation (memory)",
	    "Tasks placed on it",
	    "CPU used on its CPUs by what edgeslice did not start",
	    "Its share of node memory used by what edgeslice did not start"};

	for (size_t f = 0; f < ELEMENTSOF(names); f++) {
		metrics_family(o, names[f], METRICS_GAUGE, helps[f]);
		for (size_t i = 0; i < d->n_dev; i++) {
			const char *l[] = {"device", d->dev[i].name, NULL};
			struct ddev_usage u;
			double v[11];
			daemon_device_usage(d, i, &u);
			v[0] = d->dev[i].cpu;
			v[1] = (double)d->dev[i].mem;
			v[2] = u.cpu_alloc;
			v[3] = u.mem_alloc;
			v[4] = u.cpu_used;
			v[5] = u.mem_used;
			v[6] = fmax(0, d->dev[i].cpu - u.cpu_alloc);
			v[7] = fmax(0, (double)d->dev[i].mem - u.mem_alloc);
			v[8] = u.running;
			v[9] = d->fg.dev ? d->fg.dev[i].cpu : 0;
			v[10] = d->fg.dev ? d->fg.dev[i].mem : 0;
			metrics_sample(o, l, v[f]);
		}
	}
	if (d->fg.scan) {
		struct probe_foreign_cg top[DFOREIGN_ROWS];
		size_t n = probe_foreign_top(d->fg.scan, top, DFOREIGN_ROWS);
		metrics_family(o, "edgeslice_foreign_cpu_cores", METRICS_GAUGE,
			       "The biggest cgroups of other runtimes by CPU (read-only)");
		for (size_t i = 0; i < n; i++) {
			const char *l[] = {"cgroup", top[i].path, "kind", top[i].kind, NULL};
			metrics_sample(o, l, top[i].cores);
		}
	}
}

static void gauge(struct metrics_out *o, const char *name, const char *help, double v)
{
	metrics_family(o, name, METRICS_GAUGE, help);
	metrics_sample(o, NULL, v);
}

/* The process's own figures under the names every Prometheus client library uses. */
static void render_process(struct daemon *d, struct metrics_out *o)
{
	struct rusage ru;
	unsigned long long size = 0, rss = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/self/statm", "re");
	size_t nfd = 0;
	DIR *dir = opendir("/proc/self/fd");

	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		metrics_family(o, "process_cpu_seconds", METRICS_COUNTER,
			       "User and system CPU time of edgesliced");
		metrics_sample(o, NULL,
			       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				   (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	}
	if (f && fscanf(f, "%llu %llu", &size, &rss) == 2)
		gauge(o, "process_resident_memory_bytes", "Resident set size of edgesliced",
		      (double)rss * (double)sysconf(_SC_PAGESIZE));
	if (dir) {
		while (readdir(dir))
			nfd++;
		closedir(dir);
		gauge(o, "process_open_fds", "Open file descriptors of edgesliced",
		      nfd > 3 ? (double)(nfd - 3) : 0); /* ., .. and the one listing them */
	}
	gauge(o, "process_start_time_seconds", "Start time of edgesliced since the epoch",
	      (double)(daemon_realtime_us() - (now_usec() - d->t0_us)) / 1e6);
}

static void render_daemon(struct daemon *d, struct metrics_out *o)
{
	struct utsname u;
	size_t by_state[_DTASK_STATE_MAX] = {0};

	metrics_family(o, "edgeslice_build_info", METRICS_GAUGE,
		       "Version, architecture and placement policy of edgesliced");
	uname(&u);
	const char *bl[] = {"version", ES_VERSION,     "arch", u.machine,
			    "policy",  d->conf.policy, NULL};
	metrics_sample(o, bl, 1);
	metrics_family(o, "edgeslice_tasks", METRICS_GAUGE, "Tasks in the table, by state");
	for (size_t i = 0; i < d->n_tasks; i++)
		by_state[d->tasks[i]->state]++;
	for (int s = 0; s < _DTASK_STATE_MAX; s++) {
		const char *l[] = {"state", dtask_state_name((enum dtask_state)s), NULL};
		metrics_sample(o, l, (double)by_state[s]);
	}
	metrics_family(o, "edgeslice_placements", METRICS_COUNTER, "Tasks placed and started");
	metrics_sample(o, NULL, (double)d->mx.placements);
	metrics_family(o, "edgeslice_task_exits", METRICS_COUNTER,
		       "Tasks that ended, by final state and reason");
	for (size_t i = 0; i < DMX_MAX_EXITS; i++)
		if (d->mx.exits[i].n) {
			const char *l[] = {"state", d->mx.exits[i].state, "reason",
					   d->mx.exits[i].reason, NULL};
			metrics_sample(o, l, (double)d->mx.exits[i].n);
		}
	metrics_family(o, "edgeslice_decision_duration_seconds", METRICS_HISTOGRAM,
		       "Time of one placement decision of the policy");
	metrics_hist_write(o, NULL, &d->mx.decision);
	metrics_family(o, "edgeslice_state_write_duration_seconds", METRICS_HISTOGRAM,
		       "Time of one state.db transaction (commit included)");
	metrics_hist_write(o, NULL, &d->mx.write);
	gauge(o, "edgeslice_control_clients", "Connections to the control socket",
	      (double)d->n_clients);
	metrics_family(o, "edgeslice_ebpf_probe_up", METRICS_GAUGE,
		       "1 when the eBPF scheduler probe measures, 0 on cgroup files alone");
	const char *pl[] = {"measure",
			    d->conf.measure == DCONF_MEASURE_CGROUP ? "cgroup"
			    : d->conf.measure == DCONF_MEASURE_EBPF ? "ebpf"
								    : "auto",
			    NULL};
	metrics_sample(o, pl, d->bpf ? 1 : 0);
	if (d->mx.http) {
		struct metrics_http_stats hs;
		metrics_http_stats(d->mx.http, &hs);
		const char *text[] = {"format", "text", NULL},
			   *om[] = {"format", "openmetrics", NULL};
		metrics_family(o, "edgeslice_metrics_scrapes", METRICS_COUNTER,
			       "Answered /metrics requests, by exposition format");
		metrics_sample(o, text, (double)(hs.scrapes - hs.scrapes_openmetrics));
		metrics_sample(o, om, (double)hs.scrapes_openmetrics);
		gauge(o, "edgeslice_metrics_connections", "Open HTTP connections", hs.connections);
	}
	render_process(d, o);
}

static int render(void *userdata, enum metrics_format fmt, char **ret, size_t *ret_len)
{
	struct daemon *d = userdata;
	struct metrics_out o;

	metrics_out_init(&o, fmt);
	render_tasks(d, &o);
	render_task_info(d, &o);
	render_queues(d, &o);
	render_devices(d, &o);
	render_daemon(d, &o);
	return metrics_out_finish(&o, ret, ret_len);
}

/* --- lifecycle ------------------------------------------------------------------------------ */

int daemon_metrics_setup(struct daemon *d)
{
	struct metrics_http_params p = {
	    .listen_fd = d->mx.listen_fd,
	    .address = d->conf.metrics_listen,
	    .max_connections = 64,
	    .max_per_ip = 16,
	    .timeout_s = 10,
	    /* A burst of scrapers shares one rendering: no more than the tick changes. */
	    .cache_ms = d->conf.measure_ms < 1000 ? d->conf.measure_ms : 1000,
	};
	char err[300] = "";
	int r;

	(void)metrics_hist_init(&d->mx.decision, decision_le, ELEMENTSOF(decision_le));
	(void)metrics_hist_init(&d->mx.write, write_le, ELEMENTSOF(write_le));
	if (p.listen_fd < 0 && !d->conf.metrics_listen[0])
		return 0;
	d->mx.listen_fd = -1; /* the endpoint's now, whatever happens */
	r = metrics_http_new(d->ev, &p, render, d, &d->mx.http, err, sizeof(err));
	if (r < 0) {
		daemon_log(LOG_ERR, "metrics: %s", err);
		return r;
	}
	daemon_log(LOG_INFO, "metrics: http://%s/metrics", metrics_http_address(d->mx.http));
	return 0;
}

void daemon_metrics_teardown(struct daemon *d)
{
	metrics_http_free(d->mx.http);
	d->mx.http = NULL;
	if (d->mx.listen_fd >= 0)
		close(d->mx.listen_fd);
	d->mx.listen_fd = -1;
	free(d->mx.queue_wait);
	d->mx.queue_wait = NULL;
	d->mx.n_queue_wait = 0;
}

json_object *daemon_metrics_json(struct daemon *d)
{
	json_object *o = json_object_new_object();
	struct metrics_http_stats hs;

	json_object_object_add(o, "enabled", json_object_new_boolean(d->mx.http != NULL));
	if (!d->mx.http)
		return o;
	metrics_http_stats(d->mx.http, &hs);
	json_object_object_add(o, "listen",
			       json_object_new_string(metrics_http_address(d->mx.http)));
	json_object_object_add(o, "scrapes", json_object_new_int64((int64_t)hs.scrapes));
	json_object_object_add(o, "scrapes_openmetrics",
			       json_object_new_int64((int64_t)hs.scrapes_openmetrics));
	json_object_object_add(o, "connections", json_object_new_int((int)hs.connections));
	json_object_object_add(o, "last_render_s", json_object_new_double(hs.last_render_s));
	json_object_object_add(o, "last_bytes", json_object_new_int64((int64_t)hs.last_bytes));
	return o;
}
