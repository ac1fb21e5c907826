/* submit.c — the submit and cancel requests: validation against the catalog and limits,
 * the record persisted before the reply, cancellation of queued and running tasks. */
#include "daemon-internal.h"

/* --- requests ------------------------------------------------------------------------- */

int daemon_set_err(struct proto_error *e, enum proto_err code, const char *field, const char *fmt,
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

/* Whether execvp() could run cmd, as the daemon (tasks run as its user): an existing regular
 * file with execute permission, by path or found in PATH as execvp searches it. 0 or -errno,
 * the reason in why. */
int daemon_check_command(const char *cmd, char *why, size_t whysz)
{
	const char *path = getenv("PATH");
	struct stat st;
	int r = -ENOENT;

	if (strchr(cmd, '/')) {
		if (stat(cmd, &st) < 0)
			r = negative_errno();
		else if (!S_ISREG(st.st_mode))
			r = -EISDIR;
		else if (access(cmd, X_OK) < 0)
			r = negative_errno();
		else
			return 0;
		snprintf(why, whysz, "%s", r == -EISDIR ? "not a regular file" : strerror(-r));
		return r;
	}
	if (!path)
		path = "/bin:/usr/bin"; /* execvp's default */
	for (const char *p = path, *e;; p = e + 1) {
		char full[PATH_MAX];
		e = strchrnul(p, ':');
		if (snprintf(full, sizeof(full), "%.*s%s%s", (int)(e - p), p, e == p ? "" : "/",
			     cmd) < (int)sizeof(full) &&
		    stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(full, X_OK) == 0)
				return 0;
			r = -EACCES;
		}
		if (!*e)
			break;
	}
	snprintf(why, whysz, "%s", r == -EACCES ? "not executable" : "not found in PATH");
	return r;
}

/* bad-command for argv (or, without one, the catalog command of m); where names the place
 * in an application ("tasks[2]"), NULL for submit. */
int daemon_check_task_argv(char **argv, const struct dconf_model *m, const char *where,
			   struct proto_error *err)
{
	const char *cmd = argv ? argv[0] : m->cmd;
	char why[64];

	if (daemon_check_command(cmd, why, sizeof(why)) < 0)
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, where ? "app" : "argv",
				      "%s%sargv[0]%s: %.300s: %s", where ? where : "",
				      where ? "." : "", argv ? "" : " (catalog command)", cmd, why);
	return 0;
}

int daemon_do_submit(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err)
{
	struct dqueue *q = daemon_queue_find(d, req->queue);
	const struct dconf_model *m = daemon_model_find(d, req->queue);
	struct dtask *t;
	double cpu;
	uint64_t mem;
	size_t live = 0;
	bool fits = false;
	int r;

	if (d->draining)
		return daemon_set_err(err, PROTO_E_STATE, NULL,
				      "the daemon is draining for shutdown");
	/* Counted only when the limit can be reached (live <= n_tasks): a pass over the whole
	 * table per submit made a submit's cost grow with the queue. */
	for (size_t i = 0; d->n_tasks >= d->conf.max_tasks && i < d->n_tasks; i++)
		live += dtask_state_live(d->tasks[i]->state);
	if (live >= d->conf.max_tasks)
		return daemon_set_err(err, PROTO_E_LIMIT, NULL, "max_tasks (%u) reached",
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
		return daemon_set_err(err, PROTO_E_NO_QUEUE, "queue",
				      "queue: \"%s\" is not in the model catalog; give a demand",
				      req->queue);
	if (req->upload_rate && !d->shaper)
		return daemon_set_err(
		    err, PROTO_E_BAD_VALUE, "upload_rate",
		    "upload_rate: this node shapes no uplink (set uplink = IFNAME in "
		    "edgeslice.conf)");
	if (!req->argv && !req->oci && m && m->bundle[0] && !(req->oci = strdup(m->bundle)))
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	if (req->oci && d->fleet)
		return daemon_set_err(err, PROTO_E_BAD_VALUE, "oci",
				      "oci: container tasks are not supported in fleet mode yet");
	if (req->oci && daemon_oci_check(d, req->oci, &req->argv, &req->argc, err) < 0)
		return -EINVAL; /* req->argv: the container's process.args, for display */
	if (!req->argv && !(m && m->cmd_argc))
		return daemon_set_err(
		    err, PROTO_E_MISSING_FIELD, "argv",
		    "argv: missing, and queue \"%s\" has no command in the model catalog",
		    req->queue);
	if (!d->fleet && !req->oci && daemon_check_task_argv(req->argv, m, NULL, err) < 0)
		return -EINVAL; /* fleet tasks run on other nodes: checked there */
	if (q && (fabs(q->cpu - cpu) > 1e-9 || q->mem != mem))
		return daemon_set_err(err, PROTO_E_BAD_VALUE, "demand",
				      "demand: queue %s has demand %.3g cores, %" PRIu64 " bytes",
				      q->name, q->cpu, q->mem);
	if (d->fleet && req->upload_rate)
		return daemon_set_err(err, PROTO_E_BAD_VALUE, "upload_rate",
				      "upload_rate: not supported for fleet submissions");
	if (d->fleet) { /* fleet mode: queued in etcd; the fleet's placer decides where */
		char **fargv = req->argv;
		size_t fargc = req->argc;
		uint64_t fid;
		char e[200];
		if (!fargv && dconf_model_argv(m, &fargv, &fargc) < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
		r = fleet_submit(d->fleet, req->queue, cpu, mem, fargv, fargc, &fid, e, sizeof(e));
		if (fargv != req->argv)
			strv_free(fargv, fargc);
		if (r < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
		json_object_object_add(reply, "task", json_object_new_int64((int64_t)fid));
		json_object_object_add(reply, "state", json_object_new_string("queued"));
		json_object_object_add(reply, "fleet", json_object_new_boolean(1));
		return 0;
	}
	for (size_t i = 0; i < d->n_dev; i++)
		fits |= cpu <= d->dev[i].cpu + 1e-9 && (double)mem <= (double)d->dev[i].mem;
	if (!fits)
		return daemon_set_err(err, PROTO_E_TOO_BIG, "demand",
				      "demand: %.3g cores, %" PRIu64 " bytes exceeds every device",
				      cpu, mem);
	if (!q) {
		r = daemon_queue_get(d, req->queue, cpu, mem, &q);
		if (r < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "queue: %s",
					      strerror(-r));
	}
	t = calloc(1, sizeof(*t));
	if (!t || !daemon_trt_new(d, t)) {
		free(t);
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	t->id = d->next_id++;
	snprintf(t->queue, sizeof(t->queue), "%s", req->queue);
	if (req->argv) {
		t->argv = TAKE_PTR(req->argv);
		t->argc = req->argc;
		req->argc = 0;
	} else if (dconf_model_argv(m, &t->argv, &t->argc) < 0) {
		daemon_task_free(t);
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	}
	t->oci = TAKE_PTR(req->oci);
	t->cpu = cpu;
	t->mem = mem;
	t->upload_rate = req->upload_rate;
	t->state = DTASK_QUEUED;
	t->dev = -1;
	t->exit_code = -1;
	t->submit_us = daemon_realtime_us();
	r = daemon_task_append(d, t);
	if (r >= 0 && d->batch.cur) { /* written, queued and answered with its batch (batch.c) */
		d->batch.cur->task = t;
		d->batch.cur->policy_id = q->policy_id;
		d->batch.cur->stage = BATCH_TX;
		json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
		return 0;
	}
	if (r >= 0)
		r = daemon_persist(d); /* acknowledged only once durable */
	if (r >= 0)
		r = policy_enqueue(d->pol, q->policy_id, t->id, daemon_mono_s(d));
	if (r < 0) {
		if (d->n_tasks && d->tasks[d->n_tasks - 1] == t)
			d->n_tasks--;
		daemon_task_free(t);
		if (!d->batch.cur)
			(void)daemon_persist(d);
		return daemon_set_err(err, r == -E2BIG ? PROTO_E_TOO_BIG : PROTO_E_INTERNAL, NULL,
				      "submit: %s", strerror(-r));
	}
	json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
	daemon_emit(d, "queued", t);
	daemon_schedule(d);
	json_object_object_add(reply, "state", json_object_new_string(dtask_state_name(t->state)));
	return 0;
}

int daemon_do_cancel(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err)
{
	struct dtask *t = daemon_task_find(d, req->task);
	struct trt *rt;
	int r;

	if (req->app)
		return daemon_do_cancel_app(d, req, reply, err);
	if (req->fleet) {
		char state[16] = "", e[192] = "";
		if (!d->fleet)
			return daemon_set_err(err, PROTO_E_BAD_VALUE, "fleet",
					      "fleet: this node is not in fleet mode");
		r = fleet_cancel(d->fleet, req->task, state, sizeof(state), e, sizeof(e));
		if (r == -ENOENT)
			return daemon_set_err(err, PROTO_E_NO_TASK, "task", "task: %s", e);
		if (r == -EALREADY || r == -EAGAIN)
			return daemon_set_err(err, PROTO_E_STATE, "task", "task: %s", e);
		if (r < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "fleet: %s", e);
		json_object_object_add(reply, "task", json_object_new_int64((int64_t)req->task));
		json_object_object_add(reply, "state", json_object_new_string(state));
		return 0;
	}
	if (!t)
		return daemon_set_err(err, PROTO_E_NO_TASK, "task", "task: no task %" PRIu64,
				      req->task);
	rt = t->rt;
	if ((t->state == DTASK_QUEUED || t->state == DTASK_WAITING) && d->batch.cur)
		return t->app ? daemon_batch_later(d) : daemon_batch_cancel(d, t, reply);
	if (t->state == DTASK_QUEUED || t->state == DTASK_WAITING) {
		if (t->state == DTASK_QUEUED)
			(void)policy_cancel(d->pol, t->id);
		t->state = DTASK_CANCELLED;
		t->end_us = daemon_realtime_us();
		snprintf(t->reason, sizeof(t->reason), "cancelled");
		daemon_task_changed(d, t);
		if (t->app)
			daemon_app_settle(d, t->app); /* its dependents fail */
		r = daemon_persist(d);
		if (r < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "state: %s",
					      strerror(-r));
		daemon_emit(d, "finished", t);
		daemon_prepare_heads(d);
	} else if (t->state == DTASK_RUNNING && rt && rt->cg) {
		rt->cancel = true;
		r = cg_task_kill(rt->cg);
		if (r < 0)
			return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "kill: %s",
					      strerror(-r));
	} else
		return daemon_set_err(err, PROTO_E_STATE, "task", "task: %" PRIu64 " is %s", t->id,
				      dtask_state_name(t->state));
	json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
	json_object_object_add(reply, "state", json_object_new_string(dtask_state_name(t->state)));
	return 0;
}
