/* tasks.c — edgesliced's log, clocks and task table: records, persistence to state.db,
 * queues, and the events and sd_notify status that report a change. */
#include "daemon-internal.h"

/* --- logging -------------------------------------------------------------------------- */

bool daemon_log_prefix;
int daemon_log_max = LOG_INFO;
void daemon_log(int prio, const char *fmt, ...)
{
	va_list ap;
	if (prio > daemon_log_max)
		return;
	flockfile(stderr); /* one line per message, also from the cgroup removal thread */
	if (daemon_log_prefix)
		fprintf(stderr, "<%d>", prio);
	else
		fputs("edgesliced: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

double daemon_mono_s(const struct daemon *d)
{
	return (double)(now_usec() - d->t0_us) / 1e6;
}

uint64_t daemon_realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --- measurement ------------------------------------------------------------------------ */

/* Usage of a running task as of the last sampler tick: the EWMA of cpu.stat's usage rate and
 * memory.current. -ENODATA until two good reads exist or when the reading went stale; the
 * previous value is kept then (the policy charges at least the demand anyway). */
int daemon_measure_task(struct daemon *d, const struct dtask *t, double *ret_cpu, uint64_t *ret_mem)
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

void daemon_measure_start(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	int r = sampler_add_task(d->sampler, t->id, cg_task_fd(rt->cg), ".");

	if (r < 0 && r != -EEXIST)
		daemon_log(LOG_WARNING, "task %" PRIu64 ": not measured: %s", t->id, strerror(-r));
	else
		rt->sampled = true;
}

/* --- tasks, queues, persistence ------------------------------------------------------- */

struct dtask *daemon_task_find(struct daemon *d, uint64_t id)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->id == id)
			return d->tasks[i];
	return NULL;
}

struct trt *daemon_trt_new(struct daemon *d, struct dtask *t)
{
	struct trt *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->d = d;
	rt->pidfd = -1;
	t->rt = rt;
	return rt;
}

void daemon_trt_close(struct dtask *t)
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

void daemon_task_free(struct dtask *t)
{
	struct trt *rt;

	if (!t)
		return;
	rt = t->rt;
	if (rt && rt->snap.stored && !rt->d->stopping) { /* its row goes with the next commit */
		struct daemon *d = rt->d;
		if (d->n_gone == d->cap_gone) {
			size_t nc = d->cap_gone ? d->cap_gone * 2 : 64;
			uint64_t *n = realloc(d->gone, nc * sizeof(*n));
			if (n) {
				d->gone = n;
				d->cap_gone = nc;
			}
		}
		if (d->n_gone < d->cap_gone) /* else: the row stays, trimmed again at start */
			d->gone[d->n_gone++] = t->id;
	}
	if (rt && rt->marked) /* no longer to write */
		for (size_t i = 0; i < rt->d->n_chg; i++)
			if (rt->d->chg[i] == t) {
				rt->d->chg[i] = rt->d->chg[--rt->d->n_chg];
				break;
			}
	daemon_trt_close(t);
	free(t->rt);
	dtask_free_fields(t);
	free(t);
}

/* The fields that change after a task is recorded; the rest is fixed at submit. */
static bool snap_differs(const struct dtask *t, const struct tsnap *s)
{
	return !s->stored || s->state != t->state || s->dev != t->dev || s->pid != t->pid ||
	       s->exit_code != t->exit_code || s->start_us != t->start_us ||
	       s->end_us != t->end_us || s->cpu_usec != t->cpu_usec ||
	       s->upload_rate != t->upload_rate || s->fleet_id != t->fleet_id ||
	       s->prio != t->prio || strcmp(s->reason, t->reason);
}

void daemon_task_stored(struct dtask *t)
{
	struct tsnap *s = &((struct trt *)t->rt)->snap;

	*s = (struct tsnap){
	    .stored = true,
	    .state = t->state,
	    .dev = t->dev,
	    .exit_code = t->exit_code,
	    .pid = t->pid,
	    .start_us = t->start_us,
	    .end_us = t->end_us,
	    .cpu_usec = t->cpu_usec,
	    .upload_rate = t->upload_rate,
	    .fleet_id = t->fleet_id,
	    .prio = t->prio,
	};
	memcpy(s->reason, t->reason, sizeof(s->reason));
}

void daemon_task_changed(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;

	/* A prepared cgroup is for a start: leaving the queue any other way gives it back. */
	if (rt && rt->prepared && t->state != DTASK_QUEUED && t->state != DTASK_STARTING)
		daemon_unprepare(d, t);
	if (!rt || rt->marked)
		return;
	if (d->n_chg == d->cap_chg) {
		size_t nc = d->cap_chg ? d->cap_chg * 2 : 64;
		struct dtask **c = realloc(d->chg, nc * sizeof(*c));
		if (!c) {
			d->scan_us = 0; /* the next persist compares the whole table instead */
			return;
		}
		d->chg = c;
		d->cap_chg = nc;
	}
	d->chg[d->n_chg++] = t;
	rt->marked = true;
}

void daemon_tasks_compare(struct daemon *d)
{
	size_t missed = 0;

	for (size_t i = 0; i < d->n_tasks; i++) {
		struct trt *rt = d->tasks[i]->rt;
		if (rt && !rt->marked && snap_differs(d->tasks[i], &rt->snap)) {
			missed += rt->snap.stored;
			daemon_task_changed(d, d->tasks[i]);
		}
	}
	if (missed && !d->loading)
		daemon_log(LOG_DEBUG, "state.db: %zu changed task(s) were not marked", missed);
	d->scan_us = now_usec();
}

/* One transaction with the rows of the marked tasks, the deletions and next_id. */
static int persist_changes(struct daemon *d)
{
	uint64_t t0 = now_usec();
	int r;

	if (now_usec() - d->scan_us > 10 * 1000000ull)
		daemon_tasks_compare(d);
	if (!d->n_chg && !d->n_gone && d->next_id == d->stored_next_id)
		return 0;
	r = dstore_begin(d->store);
	for (size_t i = 0; r >= 0 && i < d->n_chg; i++)
		r = dstore_put(d->store, d->chg[i]);
	for (size_t i = 0; r >= 0 && i < d->n_gone; i++)
		r = dstore_delete(d->store, d->gone[i]);
	if (r >= 0 && d->next_id != d->stored_next_id)
		r = dstore_set_next_id(d->store, d->next_id);
	if (r >= 0) {
		r = dstore_commit(d->store);
		if (r >= 0)
			daemon_mx_write(d, now_usec() - t0);
		return r;
	}
	dstore_rollback(d->store);
	return r;
}

int daemon_persist(struct daemon *d)
{
	int r;

	if (!d->store)
		return -EBADF;
	r = persist_changes(d);
	if (r < 0) {
		/* dirty stays set, so the next placement pass writes it again; said once */
		if (!d->persist_failed)
			daemon_log(LOG_ERR, "state.db: write failed: %s", strerror(-r));
		d->persist_failed = true;
		d->dirty = true;
		return r;
	}
	for (size_t i = 0; i < d->n_chg; i++) {
		daemon_task_stored(d->chg[i]);
		((struct trt *)d->chg[i]->rt)->marked = false;
	}
	d->n_chg = 0;
	d->n_gone = 0;
	d->stored_next_id = d->next_id;
	if (d->persist_failed)
		daemon_log(LOG_INFO, "state.db: written again");
	d->persist_failed = false;
	d->dirty = d->dirty_lazy = false;
	return 0;
}

/* Drops the oldest finished tasks beyond keep_finished. */
void daemon_trim_finished(struct daemon *d)
{
	size_t fin = 0;
	for (size_t i = 0; i < d->n_tasks; i++)
		fin += !dtask_state_live(d->tasks[i]->state);
	for (size_t i = 0; i < d->n_tasks && fin > d->conf.keep_finished;) {
		if (!dtask_state_live(d->tasks[i]->state) && !daemon_app_pinned(d, d->tasks[i])) {
			daemon_task_free(d->tasks[i]);
			memmove(&d->tasks[i], &d->tasks[i + 1],
				(d->n_tasks - i - 1) * sizeof(*d->tasks));
			d->n_tasks--;
			fin--;
		} else
			i++;
	}
}

int daemon_task_append(struct daemon *d, struct dtask *t)
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
	if (!d->loading) /* (loading: t is filled in after) */
		daemon_task_changed(d, t);
	return 0;
}

struct dqueue *daemon_queue_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_queues; i++)
		if (!strcmp(d->queues[i].name, name))
			return &d->queues[i];
	return NULL;
}

const struct dconf_model *daemon_model_find(struct daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_models; i++)
		if (!strcmp(d->models[i].name, name))
			return &d->models[i];
	return NULL;
}

int daemon_queue_get(struct daemon *d, const char *name, double cpu, uint64_t mem,
		     struct dqueue **ret)
{
	struct dqueue *q = daemon_queue_find(d, name), *n;
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

void daemon_emit(struct daemon *d, const char *what, const struct dtask *t)
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
	json_object_object_add(o, "time_us", json_object_new_int64((int64_t)daemon_realtime_us()));
	if (asprintf(&line, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) < 0)
		line = NULL;
	json_object_put(o);
	if (!line)
		return;
	for (struct client *c = d->clients; c; c = c->next)
		if (c->events && !c->closing)
			daemon_client_send(c, line);
}

void daemon_notify_status(struct daemon *d)
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
void fleet_notify(struct daemon *d, const struct dtask *t)
{
	int r;
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
	r = fleet_task_update(d->fleet, &u);
	if (r < 0)
		daemon_log(LOG_ERR,
			   "task %" PRIu64 " (fleet %" PRIu64 "): state %s not kept for etcd: %s",
			   t->id, t->fleet_id, u.state, strerror(-r));
}
