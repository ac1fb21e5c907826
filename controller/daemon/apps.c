/* apps.c — DAG applications (dapp.c documents): submission as a set of tasks, their state
 * as the tasks settle, the apps view and cancellation. */
#include "daemon-internal.h"

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
bool daemon_app_pinned(struct daemon *d, const struct dtask *t)
{
	if (!t->app)
		return false;
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->app == t->app && dtask_state_live(d->tasks[i]->state))
			return true;
	return false;
}

void daemon_app_settle(struct daemon *d, uint64_t app)
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
			t->end_us = daemon_realtime_us();
			if (!strncmp(why->reason, "dependency-failed: ", 19))
				snprintf(t->reason, sizeof(t->reason), "%s", why->reason);
			else
				snprintf(t->reason, sizeof(t->reason), "dependency-failed: %s",
					 why->name);
			daemon_log(LOG_INFO, "task %" PRIu64 " (%s/%s) failed: %s", t->id,
				   t->app_name, t->name, t->reason);
			daemon_emit(d, "finished", t);
			daemon_task_changed(d, t);
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
		int r = daemon_queue_get(d, t->queue, t->cpu, t->mem, &q);
		/* the policy breaks ties between queues by arrival: keep the rank order there */
		if (r >= 0)
			r = policy_enqueue(d->pol, q->policy_id, t->id,
					   daemon_mono_s(d) + 1e-6 * (double)k);
		d->dirty = true;
		if (r < 0) {
			daemon_log(LOG_ERR, "task %" PRIu64 " (%s/%s): cannot queue: %s", t->id,
				   t->app_name, t->name, strerror(-r));
			t->state = DTASK_FAILED;
			t->end_us = daemon_realtime_us();
			snprintf(t->reason, sizeof(t->reason), "start-failed");
			daemon_task_changed(d, t);
			daemon_emit(d, "finished", t);
			daemon_app_settle(d, app);
			return;
		}
		t->state = DTASK_QUEUED;
		daemon_task_changed(d, t);
		daemon_emit(d, "queued", t);
	}
}

void daemon_apps_settle_all(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->app == d->tasks[i]->id) /* the first task names the application */
			daemon_app_settle(d, d->tasks[i]->id);
}

json_object *daemon_apps_json(struct daemon *d, bool live_only)
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
		if (live_only && !daemon_app_pinned(d, m[0]))
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
		    o, "end_us",
		    json_object_new_int64(daemon_app_pinned(d, m[0]) ? 0 : (int64_t)end));
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

/* The demand of every task of a (its own, its queue's, an earlier task's of the same queue,
 * or the catalog's) into cpu[] and mem[], checked like a submit. 0 or the error set in err. */
static int check_demands(struct daemon *d, const struct dapp *a, double *cpu, uint64_t *mem,
			 struct proto_error *err)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct dapp_task *at = &a->task[i];
		struct dqueue *q = daemon_queue_find(d, at->queue);
		const struct dconf_model *m = daemon_model_find(d, at->queue);
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
			return daemon_set_err(
			    err, PROTO_E_NO_QUEUE, "app",
			    "tasks[%zu].queue: \"%s\" is not in the model catalog; give a demand",
			    i, at->queue);
		if (!at->argv && !(m && m->cmd_argc))
			return daemon_set_err(
			    err, PROTO_E_MISSING_FIELD, "app",
			    "tasks[%zu].argv: missing, and \"%s\" has no command in the "
			    "model catalog",
			    i, at->queue);
		if (!d->fleet) {
			char where[32];
			snprintf(where, sizeof(where), "tasks[%zu]", i);
			if (daemon_check_task_argv(at->argv, m, where, err) < 0)
				return -EINVAL;
		}
		if ((q && (fabs(q->cpu - cpu[i]) > 1e-9 || q->mem != mem[i])) ||
		    (same >= 0 && (fabs(cpu[same] - cpu[i]) > 1e-9 || mem[same] != mem[i])))
			return daemon_set_err(err, PROTO_E_BAD_VALUE, "app",
					      "tasks[%zu].demand: queue %s has another demand", i,
					      at->queue);
		for (size_t k = 0; k < d->n_dev; k++)
			fits |= cpu[i] <= d->dev[k].cpu + 1e-9 &&
				(double)mem[i] <= (double)d->dev[k].mem;
		if (!fits)
			return daemon_set_err(err, PROTO_E_TOO_BIG, "app",
					      "tasks[%zu].demand: %.3g cores, %" PRIu64
					      " bytes exceeds every device",
					      i, cpu[i], mem[i]);
	}
	return 0;
}

int daemon_do_submit_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err)
{
	struct dapp *a = req->dapp;
	double cpu[DAPP_MAX_TASKS], phi[DAPP_MAX_TASKS];
	uint64_t mem[DAPP_MAX_TASKS], first = d->next_id;
	int order[DAPP_MAX_TASKS], r;
	size_t live = 0, base = d->n_tasks;
	json_object *ts;

	if (d->draining)
		return daemon_set_err(err, PROTO_E_STATE, NULL,
				      "the daemon is draining for shutdown");
	for (size_t i = 0; i < d->n_tasks; i++)
		live += dtask_state_live(d->tasks[i]->state);
	if (live + a->n > d->conf.max_tasks)
		return daemon_set_err(err, PROTO_E_LIMIT, NULL, "max_tasks (%u) reached",
				      d->conf.max_tasks);
	/* every task is checked like a submit before anything is created */
	r = check_demands(d, a, cpu, mem, err);
	if (r < 0)
		return r;
	r = dapp_priority(a, phi, order);
	for (size_t i = 0; i < a->n && r >= 0; i++) {
		struct dqueue *q;
		r = daemon_queue_get(d, a->task[i].queue, cpu[i], mem[i], &q);
	}
	for (size_t i = 0; i < a->n && r >= 0; i++) {
		struct dapp_task *at = &a->task[i];
		struct dtask *t = calloc(1, sizeof(*t));
		size_t na = 0;
		if (!t || !daemon_trt_new(d, t) ||
		    !(t->after = calloc(DAPP_MAX_TASKS, sizeof(*t->after)))) {
			daemon_task_free(t);
			r = -ENOMEM;
			break;
		}
		t->id = d->next_id++;
		snprintf(t->queue, sizeof(t->queue), "%s", at->queue);
		if (at->argv) {
			t->argv = TAKE_PTR(at->argv);
			t->argc = at->argc;
			at->argc = 0;
		} else if (dconf_model_argv(daemon_model_find(d, at->queue), &t->argv, &t->argc) <
			   0) {
			daemon_task_free(t);
			r = -ENOMEM;
			break;
		}
		t->cpu = cpu[i];
		t->mem = mem[i];
		t->dev = -1;
		t->exit_code = -1;
		t->submit_us = daemon_realtime_us();
		t->app = first;
		snprintf(t->app_name, sizeof(t->app_name), "%s", a->name);
		snprintf(t->name, sizeof(t->name), "%s", at->name);
		for (size_t j = 0; j < a->n; j++)
			if ((at->pred >> j) & 1)
				t->after[na++] = first + j;
		t->n_after = na;
		t->prio = phi[i];
		t->state = na ? DTASK_WAITING : DTASK_QUEUED;
		r = daemon_task_append(d, t);
		if (r < 0)
			daemon_task_free(t);
	}
	if (r >= 0)
		r = daemon_persist(d); /* acknowledged only once durable, waiting tasks included */
	if (r < 0) {
		while (d->n_tasks > base)
			daemon_task_free(d->tasks[--d->n_tasks]);
		d->next_id = first;
		(void)daemon_persist(d);
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "submit-app: %s", strerror(-r));
	}
	/* the roots, in MRS priority order */
	for (size_t k = 0; k < a->n; k++) {
		struct dtask *t = d->tasks[base + (size_t)order[k]];
		if (t->state != DTASK_QUEUED)
			continue;
		r = policy_enqueue(d->pol, daemon_queue_find(d, t->queue)->policy_id, t->id,
				   daemon_mono_s(d) + 1e-6 * (double)k);
		if (r < 0) {
			t->state = DTASK_FAILED;
			t->end_us = daemon_realtime_us();
			snprintf(t->reason, sizeof(t->reason), "start-failed");
			daemon_task_changed(d, t);
			d->dirty = true;
			continue;
		}
		daemon_emit(d, "queued", t);
	}
	daemon_app_settle(d, first);
	daemon_log(LOG_INFO, "application %" PRIu64 " (%s): %zu tasks", first, a->name, a->n);
	json_object_object_add(reply, "app", json_object_new_int64((int64_t)first));
	json_object_object_add(reply, "name", json_object_new_string(a->name));
	daemon_schedule(d);
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

int daemon_do_cancel_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err)
{
	struct dtask *m[DAPP_MAX_TASKS];
	size_t n = app_members(d, req->app, m), hit = 0;
	int r;

	if (!n)
		return daemon_set_err(err, PROTO_E_NO_TASK, "app", "app: no application %" PRIu64,
				      req->app);
	/* waiting and queued ones first, so that nothing is released while the running die */
	for (size_t i = 0; i < n; i++)
		if (m[i]->state == DTASK_WAITING || m[i]->state == DTASK_QUEUED) {
			if (m[i]->state == DTASK_QUEUED)
				(void)policy_cancel(d->pol, m[i]->id);
			m[i]->state = DTASK_CANCELLED;
			m[i]->end_us = daemon_realtime_us();
			snprintf(m[i]->reason, sizeof(m[i]->reason), "cancelled");
			daemon_task_changed(d, m[i]);
			daemon_emit(d, "finished", m[i]);
			hit++;
		}
	for (size_t i = 0; i < n; i++) {
		struct trt *rt = m[i]->rt;
		if (m[i]->state == DTASK_RUNNING && rt && rt->cg) {
			rt->cancel = true;
			r = cg_task_kill(rt->cg);
			if (r < 0)
				daemon_log(LOG_WARNING, "task %" PRIu64 ": kill: %s", m[i]->id,
					   strerror(-r));
			hit++;
		}
	}
	if (!hit)
		return daemon_set_err(err, PROTO_E_STATE, "app",
				      "app: %" PRIu64 " has no live task", req->app);
	r = daemon_persist(d);
	if (r < 0)
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "state: %s", strerror(-r));
	json_object_object_add(reply, "app", json_object_new_int64((int64_t)req->app));
	json_object_object_add(reply, "cancelled", json_object_new_int((int)hit));
	return 0;
}
