/* fleet-hooks.c — the daemon's side of fleet mode: the struct fleet_host callbacks that start,
 * cancel and describe local tasks for the fleet module, its timer, set-up and teardown, and the
 * one place its failures are logged (the module returns them as notes and logs nothing). */
#include "daemon-internal.h"

/* Each note of the fleet module once, in the order they happened. Called after every fleet call
 * that works on etcd and before the daemon acts on a callback, so the log reads in order. */
void fleet_log_notes(struct daemon *d)
{
	struct fleet_note *v = NULL;
	size_t n;

	if (!d->fleet)
		return;
	n = fleet_take_notes(d->fleet, &v);
	for (size_t i = 0; i < n; i++)
		daemon_log(v[i].prio, "%s", v[i].text);
	free(v);
}

/* --- fleet mode: what controller/fleet/ calls back -------------------------------------- */

/* A draining node offers no capacity, so the placer sends it nothing new. */
static json_object *fleet_devices(void *ctx)
{
	struct daemon *d = ctx;
	json_object *a = daemon_devices_json(d);

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

	fleet_log_notes(d);
	for (size_t i = 0; i < d->n_tasks; i++) {
		struct dtask *t = d->tasks[i];
		struct trt *rt = t->rt;
		if (t->fleet_id != fleet_id)
			continue;
		if (t->state != DTASK_RUNNING || !rt || !rt->cg || rt->cancel)
			return 0; /* ended, or being killed already */
		rt->cancel = true;
		daemon_log(LOG_INFO,
			   "task %" PRIu64 " (fleet %" PRIu64 "): cancelled through the fleet",
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
 * daemon_schedule()'s path: record (with fleet_id) persisted as starting, then cgroup and spawn. */
static int fleet_start(void *ctx, const struct fleet_task *ft)
{
	struct daemon *d = ctx;
	struct dtask *t = calloc(1, sizeof(*t));
	struct dqueue *q;
	int r;

	fleet_log_notes(d);
	if (!t || !daemon_trt_new(d, t)) {
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
	t->submit_us = ft->submit_us ? ft->submit_us : daemon_realtime_us();
	r = !t->argv || t->argc != ft->argc ? -ENOMEM : t->dev < 0 ? -ENODEV : 0;
	if (r >= 0)
		r = daemon_queue_get(d, t->queue, t->cpu, t->mem, &q);
	if (r < 0) {
		daemon_task_free(t);
		return r;
	}
	t->state = DTASK_STARTING;
	r = daemon_task_append(d, t);
	if (r < 0) {
		daemon_task_free(t);
		return r;
	}
	r = daemon_persist(d);
	if (r >= 0)
		r = daemon_task_start(d, t);
	if (r < 0) {
		daemon_log(LOG_ERR, "task %" PRIu64 " (fleet %" PRIu64 "): cannot start on %s: %s",
			   t->id, t->fleet_id, d->dev[t->dev].name, strerror(-r));
		daemon_task_finish(d, t, DTASK_FAILED, "start-failed");
		(void)daemon_persist(d);
		return r;
	}
	d->dirty = true;
	daemon_log(LOG_INFO, "task %" PRIu64 " (fleet %" PRIu64 ", %s) started on %s, pid %" PRId64,
		   t->id, t->fleet_id, t->queue, d->dev[t->dev].name, t->pid);
	daemon_emit(d, "placed", t);
	daemon_schedule(d); /* persists */
	return 0;
}

/* Work the fleet module ran from the loop (a watch event, a placement round) left notes. */
static void fleet_noted(void *ctx)
{
	fleet_log_notes(ctx);
}

/* One round of fleet work; what went wrong is logged from its notes, so the return is not. */
static int on_fleet_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	(void)fleet_step(d->fleet);
	fleet_log_notes(d);
	(void)sd_event_source_set_time_relative(s, fleet_period_usec(d->fleet));
	return 0;
}

int fleet_setup(struct daemon *d)
{
	struct fleet_host h = {
	    d,		fleet_start, fleet_known, fleet_devices, fleet_draining, fleet_cancel_local,
	    fleet_noted};
	/* Event-driven: watches on the loop, a placement round when something changed. */
	struct fleet_params p = {
	    .event = d->ev,
	    .conf = &d->conf.fleet,
	    .node = d->conf.fleet.node_name,
	    .policy = d->conf.policy,
	    .seed = d->conf.seed,
	    .overcommit = d->conf.overcommit,
	};
	int r;

	if (!d->conf.fleet.enabled)
		return 0;
	char err[256];
	r = fleet_runtime_check(err, sizeof(err));
	if (r < 0) {
		daemon_log(LOG_ERR, "fleet: %s", err);
		return r;
	}
	r = fleet_new(&p, &h, &d->fleet);
	if (r < 0)
		return r;
	r = sd_event_add_time_relative(d->ev, &d->fleet_timer, CLOCK_MONOTONIC,
				       fleet_period_usec(d->fleet), 1000, on_fleet_timer, d);
	if (r < 0)
		return r;
	return sd_event_source_set_enabled(d->fleet_timer, SD_EVENT_ON);
}

/* Shutdown: the last task states and the placer key go before the lease lapses. */
void fleet_teardown(struct daemon *d)
{
	d->fleet_timer = sd_event_source_disable_unref(d->fleet_timer);
	if (!d->fleet)
		return;
	(void)fleet_shutdown(d->fleet); /* logged from its notes */
	fleet_log_notes(d);
	fleet_free(d->fleet);
	d->fleet = NULL;
}
