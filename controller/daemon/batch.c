/* batch.c — group commit: the submits and cancels read in one pass of the event loop are
 * applied together, written to state.db in one transaction, and answered once it committed.
 *
 * A request is parsed when read and waits here, unapplied, so that nothing else (placement,
 * status, another transaction) sees it before its batch commits. The batch commits after the
 * loop has read what every ready client sent (a defer below normal priority), as soon as the
 * clients of the last batch are back or BATCH_WAIT_US after its first request, or at once at
 * BATCH_MAX. A failed commit answers every request of the batch with an error and undoes
 * their changes in memory: the table then matches the file again. */
#include "daemon-internal.h"

static int on_commit(sd_event_source *s, void *userdata)
{
	daemon_batch_commit(userdata);
	return 0;
}

static int on_commit_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	daemon_batch_commit(userdata);
	return 0;
}

static int on_place(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct daemon *d = userdata;

	d->batch.place_us = now_usec();
	daemon_schedule(d);
	return 0;
}

/* A placement pass for committed submits: now, or BATCH_PLACE_US after the last one. The
 * pass walks the whole table (device usage, sd_notify status): with 20,000 queued, one per
 * batch of a few submits cost as much as the submits. Exits and ticks place at once. */
static void place(struct daemon *d)
{
	struct batch *b = &d->batch;
	uint64_t now = now_usec();
	int enabled = SD_EVENT_OFF, r;

	if (now - b->place_us >= BATCH_PLACE_US) {
		b->place_us = now;
		daemon_schedule(d);
		return;
	}
	if (b->place_src && sd_event_source_get_enabled(b->place_src, &enabled) >= 0 &&
	    enabled != SD_EVENT_OFF)
		return; /* already due */
	if (!b->place_src)
		r = sd_event_add_time(d->ev, &b->place_src, CLOCK_MONOTONIC,
				      b->place_us + BATCH_PLACE_US, 100, on_place, d);
	else
		r = sd_event_source_set_time(b->place_src, b->place_us + BATCH_PLACE_US);
	if (r >= 0)
		r = sd_event_source_set_enabled(b->place_src, SD_EVENT_ONESHOT);
	if (r < 0) {
		b->place_us = now;
		daemon_schedule(d);
	}
}

bool daemon_batch_wants(struct daemon *d, const struct proto_request *req)
{
	if (d->batch.off || !d->store || d->fleet) /* fleet: written to etcd, not state.db */
		return false;
	return req->op == PROTO_SUBMIT || (req->op == PROTO_CANCEL && !req->app && !req->fleet);
}

/* Commit now, after the reads already pending in this pass of the loop. */
static void arm_now(struct daemon *d)
{
	struct batch *b = &d->batch;

	if (!b->src) {
		if (sd_event_add_defer(d->ev, &b->src, on_commit, d) < 0) {
			daemon_batch_commit(d); /* no source: at once, one batch per request */
			return;
		}
		(void)sd_event_source_set_priority(b->src, SD_EVENT_PRIORITY_NORMAL + 1);
	}
	(void)sd_event_source_set_enabled(b->src, SD_EVENT_ONESHOT);
}

static void arm_timer(struct daemon *d)
{
	struct batch *b = &d->batch;
	int r;

	if (!b->timer)
		r = sd_event_add_time_relative(d->ev, &b->timer, CLOCK_MONOTONIC, BATCH_WAIT_US, 1,
					       on_commit_timer, d);
	else
		r = sd_event_source_set_time_relative(b->timer, BATCH_WAIT_US);
	if (r >= 0)
		r = sd_event_source_set_enabled(b->timer, SD_EVENT_ONESHOT);
	if (r < 0)
		arm_now(d);
}

int daemon_batch_add(struct client *c, struct proto_request *req)
{
	struct daemon *d = c->d;
	struct batch *b = &d->batch;
	struct batch_entry *e;

	if (!b->gen)
		b->gen = 1; /* a client's batch_gen 0: never in one */
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		struct batch_entry *ne = realloc(b->e, nc * sizeof(*ne));
		if (!ne)
			return -ENOMEM; /* the caller answers it alone */
		b->e = ne;
		b->cap = nc;
	}
	e = &b->e[b->n++];
	*e = (struct batch_entry){.c = c, .req = *req};
	*req = (struct proto_request){0}; /* its fields are the entry's now */
	c->held++;
	if (c->batch_gen != b->gen) {
		if (c->batch_gen && c->batch_gen + 1 == b->gen && b->waiting)
			b->waiting--;
		c->batch_gen = b->gen;
		b->joined++;
	}
	if (b->n >= BATCH_MAX)
		daemon_batch_commit(d);
	else if (!b->waiting)
		arm_now(d);
	else if (b->n == 1)
		arm_timer(d);
	return 0;
}

void daemon_batch_forget(struct client *c)
{
	struct batch *b = &c->d->batch;

	for (size_t i = 0; i < b->n; i++)
		if (b->e[i].c == c)
			b->e[i].c = NULL;
	if (c->batch_gen && c->batch_gen == b->gen && b->joined)
		b->joined--;
	else if (c->batch_gen && c->batch_gen + 1 == b->gen && b->waiting) {
		b->waiting--;
		if (!b->waiting && b->n)
			arm_now(c->d);
	}
	c->held = 0;
}

int daemon_batch_cancel(struct daemon *d, struct dtask *t, json_object *reply)
{
	struct batch_entry *e = d->batch.cur;

	e->task = t;
	e->undo.state = t->state;
	e->undo.end_us = t->end_us;
	memcpy(e->undo.reason, t->reason, sizeof(e->undo.reason));
	t->state = DTASK_CANCELLED;
	t->end_us = daemon_realtime_us();
	snprintf(t->reason, sizeof(t->reason), "cancelled");
	daemon_task_changed(d, t);
	e->stage = BATCH_TX;
	json_object_object_add(reply, "task", json_object_new_int64((int64_t)t->id));
	json_object_object_add(reply, "state", json_object_new_string(dtask_state_name(t->state)));
	return 0;
}

int daemon_batch_later(struct daemon *d)
{
	d->batch.cur->stage = BATCH_AFTER;
	return 0;
}

/* Runs the request's handler; with d->batch.cur set, a change it makes is left for the
 * batch's transaction (stage BATCH_TX). */
static void run(struct daemon *d, struct batch_entry *e, bool in_batch)
{
	if (!e->reply) {
		e->reply = json_object_new_object();
		if (!e->reply) {
			e->r = daemon_set_err(&e->err, PROTO_E_INTERNAL, NULL, "out of memory");
			e->stage = BATCH_DONE;
			return;
		}
		if (e->req.has_id)
			json_object_object_add(e->reply, "id", json_object_new_int64(e->req.id));
		json_object_object_add(e->reply, "ok", json_object_new_boolean(1));
	}
	d->batch.cur = in_batch ? e : NULL;
	e->stage = BATCH_DONE;
	if (e->req.op == PROTO_SUBMIT)
		e->r = daemon_do_submit(d, &e->req, e->reply, &e->err);
	else
		e->r = daemon_do_cancel(d, &e->req, e->reply, &e->err);
	d->batch.cur = NULL;
}

static void remove_task(struct daemon *d, struct dtask *t)
{
	for (size_t i = d->n_tasks; i-- > 0;)
		if (d->tasks[i] == t) {
			memmove(&d->tasks[i], &d->tasks[i + 1],
				(d->n_tasks - i - 1) * sizeof(*d->tasks));
			d->n_tasks--;
			break;
		}
	daemon_task_free(t);
}

/* The commit failed: every change of the batch undone, newest first, each request an error. */
static void rollback(struct daemon *d, uint64_t next_id, int r)
{
	struct batch *b = &d->batch;

	for (size_t i = b->n; i-- > 0;) {
		struct batch_entry *e = &b->e[i];
		struct dtask *t = e->task;
		if (e->stage != BATCH_TX)
			continue;
		if (e->req.op == PROTO_SUBMIT)
			remove_task(d, t); /* never stored: no row to delete */
		else {
			t->state = e->undo.state;
			t->end_us = e->undo.end_us;
			memcpy(t->reason, e->undo.reason, sizeof(t->reason));
		}
		e->task = NULL;
		e->r = daemon_set_err(&e->err, PROTO_E_INTERNAL, NULL, "state: %s", strerror(-r));
	}
	d->next_id = next_id; /* the batch's ids were never acknowledged */
}

/* Committed: what waited for durability (the policy's queue, events). */
static bool committed(struct daemon *d)
{
	struct batch *b = &d->batch;
	bool placed = false;

	for (size_t i = 0; i < b->n; i++) {
		struct batch_entry *e = &b->e[i];
		struct dtask *t = e->task;
		int r;
		if (e->stage != BATCH_TX)
			continue;
		if (e->req.op == PROTO_CANCEL) {
			if (e->undo.state == DTASK_QUEUED)
				(void)policy_cancel(d->pol, t->id);
			daemon_emit(d, "finished", t);
			continue;
		}
		r = policy_enqueue(d->pol, e->policy_id, t->id, daemon_mono_s(d));
		if (r < 0) { /* as an unbatched submit does: the task goes, the request fails */
			remove_task(d, t);
			e->task = NULL;
			e->r = daemon_set_err(&e->err, PROTO_E_INTERNAL, NULL, "submit: %s",
					      strerror(-r));
			continue;
		}
		daemon_emit(d, "queued", t);
		placed = true;
	}
	return placed;
}

void daemon_batch_commit(struct daemon *d)
{
	struct batch *b = &d->batch;
	uint64_t next_id = d->next_id;
	bool tx = false;
	int r = 0;

	if (b->src)
		(void)sd_event_source_set_enabled(b->src, SD_EVENT_OFF);
	if (b->timer)
		(void)sd_event_source_set_enabled(b->timer, SD_EVENT_OFF);
	if (!b->n)
		return;
	for (size_t i = 0; i < b->n; i++) {
		run(d, &b->e[i], true);
		tx |= b->e[i].stage == BATCH_TX;
	}
	if (tx)
		r = daemon_persist(d); /* one transaction: nothing answered before it returns */
	if (r < 0)
		rollback(d, next_id, r);
	else if (committed(d))
		place(d);
	for (size_t i = 0; i < b->n; i++) {
		struct batch_entry *e = &b->e[i];
		if (e->stage == BATCH_AFTER) /* alone, with its own transaction */
			run(d, e, false);
		if (e->r >= 0 && e->task && e->req.op == PROTO_SUBMIT)
			json_object_object_add(
			    e->reply, "state",
			    json_object_new_string(dtask_state_name(e->task->state)));
		if (e->c) {
			e->c->held--;
			daemon_reply(e->c, &e->req, TAKE_PTR(e->reply), e->r, &e->err);
		}
		json_object_put(e->reply);
		proto_request_done(&e->req);
	}
	b->n = 0;
	b->waiting = b->joined;
	b->joined = 0;
	b->gen++;
	daemon_prepare_heads(d); /* a cancelled head's slot */
}

void daemon_batch_free(struct daemon *d)
{
	struct batch *b = &d->batch;

	for (size_t i = 0; i < b->n; i++) {
		json_object_put(b->e[i].reply);
		proto_request_done(&b->e[i].req);
	}
	free(b->e);
	b->e = NULL;
	b->n = b->cap = 0;
	b->src = sd_event_source_disable_unref(b->src);
	b->timer = sd_event_source_disable_unref(b->timer);
	b->place_src = sd_event_source_disable_unref(b->place_src);
}
