/* fleet-node.c — the node side of fleet mode: assignments watched and started under the start
 * claim, cancellation from any node, and the periodic rescan. */
#include "fleet-internal.h"

/* Removes a queue entry or an assignment (key, unchanged since mod_rev) and records the task
 * "cancelled" in status/<id>, carrying the spec so the fleet view keeps it. With
 * status_absent the status key must not exist yet (nobody claimed the start). 1 done, 0 the
 * entry moved or the start was claimed meanwhile, -errno. */
static int cancel_entry(struct fleet *f, const char *key, int64_t mod_rev, uint64_t id,
			const char *spec, bool status_absent)
{
	char skey[128];
	json_object *o = json_tokener_parse(spec);
	struct etcd_cmp c[2];
	struct etcd_op ops[2];
	int r;

	if (!o)
		o = json_object_new_object();
	fleet_key_id(skey, sizeof(skey), K_STATUS, id);
	json_object_object_del(o, "cancel");
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "state", json_object_new_string("cancelled"));
	json_object_object_add(o, "reason", json_object_new_string("cancelled"));
	json_object_object_add(o, "exit_code", json_object_new_int(-1));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)fleet_realtime_us()));
	c[0] = (struct etcd_cmp){key, ETCD_CMP_MOD, mod_rev};
	c[1] = (struct etcd_cmp){skey, ETCD_CMP_CREATE, 0};
	ops[0] = (struct etcd_op){ETCD_OP_DELETE, key, NULL, 0, 0};
	ops[1] = (struct etcd_op){ETCD_OP_PUT, skey, fleet_jstr(o), strlen(fleet_jstr(o)), 0};
	r = etcd_txn(f->e, c, status_absent ? 2 : 1, ops, 2, NULL);
	json_object_put(o);
	return r;
}

int fleet_cancel(struct fleet *f, uint64_t id, char *ret_state, size_t statesz, char *err,
		 size_t errsz)
{
	char qkey[128], skey[128], tail[24];
	struct etcd_kv kv = {0}, st = {0};
	struct etcd_kvs as = {0};
	int r;

	fleet_key_id(qkey, sizeof(qkey), K_QUEUE, id);
	fleet_key_id(skey, sizeof(skey), K_STATUS, id);
	snprintf(tail, sizeof(tail), "/%016" PRIu64, id);
	r = etcd_get(f->e, qkey, &kv);
	if (r >= 0) { /* queued */
		r = cancel_entry(f, qkey, kv.mod_revision, id, kv.value, true);
		etcd_kv_done(&kv);
		if (r == 1) {
			snprintf(ret_state, statesz, "cancelled");
			return 0;
		}
		if (r < 0)
			goto fail;
		/* placed meanwhile: look for its assignment */
	} else if (r != -ENOENT)
		goto fail;
	r = etcd_range(f->e, K_ASSIGN, &as);
	if (r < 0)
		goto fail;
	r = -ENOENT; /* no assignment of this id */
	for (size_t i = 0; i < as.n; i++) {
		size_t kl = strlen(as.kvs[i].key), tl = strlen(tail);
		if (kl < tl || strcmp(as.kvs[i].key + kl - tl, tail))
			continue;
		r = etcd_get(f->e, skey, &st);
		if (r == -ENOENT) { /* assigned, start not claimed: never starts */
			r = cancel_entry(f, as.kvs[i].key, as.kvs[i].mod_revision, id,
					 as.kvs[i].value, true);
			if (r == 1)
				snprintf(ret_state, statesz, "cancelled");
		} else if (r >= 0) { /* started (or starting): its node kills it */
			json_object *o = json_tokener_parse(as.kvs[i].value);
			struct etcd_cmp c = {as.kvs[i].key, ETCD_CMP_MOD, as.kvs[i].mod_revision};
			struct etcd_op op;
			etcd_kv_done(&st);
			if (!o) {
				r = -EPROTO;
				break;
			}
			json_object_object_add(o, "cancel", json_object_new_boolean(1));
			op = (struct etcd_op){ETCD_OP_PUT, as.kvs[i].key, fleet_jstr(o),
					      strlen(fleet_jstr(o)), 0};
			r = etcd_txn(f->e, &c, 1, &op, 1, NULL);
			json_object_put(o);
			if (r == 1)
				snprintf(ret_state, statesz, "cancelling");
		}
		break;
	}
	if (r == 1) {
		etcd_kvs_done(&as);
		return 0;
	}
	if (r == 0) {
		etcd_kvs_done(&as);
		snprintf(err, errsz,
			 "task %" PRIu64 " moved while it was being cancelled; try again", id);
		return -EAGAIN;
	}
	if (r < 0 && r != -ENOENT)
		goto fail;
	etcd_kvs_done(&as);
	/* neither queued nor assigned: ended, or unknown */
	r = etcd_get(f->e, skey, &st);
	if (r >= 0) {
		json_object *o = json_tokener_parse(st.value);
		snprintf(err, errsz, "task %" PRIu64 " is %s", id,
			 o ? fleet_jget_s(o, "state") : "ended");
		json_object_put(o);
		etcd_kv_done(&st);
		return -EALREADY;
	}
	if (r == -ENOENT) {
		snprintf(err, errsz, "no fleet task %" PRIu64, id);
		return -ENOENT;
	}
fail:
	etcd_kvs_done(&as);
	snprintf(err, errsz, "%s", etcd_last_error(f->e));
	return r < 0 ? r : -EIO;
}

/* Starts t, whose start this node claimed. */
static void start_claimed(struct fleet *f, const struct fleet_task *t)
{
	int r;

	fleet_etcd_ok(f);
	fleet_note(f, LOG_INFO, 0, "fleet: task %" PRIu64 " (%s) assigned here on %s", t->id,
		   t->queue, t->device);
	r = f->h.start(f->h.ctx, t);
	if (r < 0) {
		fleet_note(f, LOG_ERR, r, "fleet: task %" PRIu64 ": cannot start: %s", t->id,
			   strerror(-r));
		/* Without a local record nothing reports it: say so, which also ends the
		 * assignment (else the rescan would try again every time). */
		if (!f->h.known(f->h.ctx, t->id)) {
			struct fleet_update u = {
			    .id = t->id,
			    .state = "failed",
			    .device = t->device,
			    .exit_code = -1,
			    .reason = r == -ENODEV ? "no-such-device" : "start-failed",
			    .end_us = fleet_realtime_us(),
			    .queue = t->queue,
			    .cpu = t->cpu,
			    .mem = t->mem,
			    .argv = t->argv,
			    .argc = t->argc,
			    .submit_us = t->submit_us,
			};
			(void)fleet_task_update(f, &u);
		}
	}
}

/* Claims the start of t: only while the assignment is the one we saw and nobody (the placer
 * re-queueing it after deeming us dead) decided otherwise. 1 claimed (status/<id> "starting",
 * its revision remembered for our next status write), 0 not, -errno unknown outcome. */
static int claim_start(struct fleet *f, const struct etcd_kv *kv, const struct fleet_task *t,
		       const char *skey)
{
	json_object *o = json_object_new_object();
	struct etcd_cmp c[2] = {{kv->key, ETCD_CMP_MOD, kv->mod_revision},
				{skey, ETCD_CMP_CREATE, 0}};
	struct etcd_op op;
	int64_t rev = 0;
	int r;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "id", json_object_new_int64((int64_t)t->id));
	json_object_object_add(o, "state", json_object_new_string("starting"));
	json_object_object_add(o, "node", json_object_new_string(f->node));
	json_object_object_add(o, "device", json_object_new_string(t->device));
	op = (struct etcd_op){ETCD_OP_PUT, skey, fleet_jstr(o), strlen(fleet_jstr(o)), 0};
	r = etcd_txn(f->e, c, 2, &op, 1, &rev);
	json_object_put(o);
	if (r == 1)
		fleet_status_rev_set(f, t->id, rev);
	return r;
}

/* One assignment of ours: start it unless it was started (or taken back) already. */
static void handle_assignment(struct fleet *f, const struct etcd_kv *kv)
{
	struct fleet_task t = {0};
	struct etcd_kv st = {0};
	char skey[128], err[128];
	int r;

	r = fleet_parse_task(kv->value, &t, err, sizeof(err));
	if (r < 0) {
		fleet_note(f, LOG_ERR, r, "fleet: %s: bad assignment: %s", kv->key, err);
		return;
	}
	if (t.cancel) {
		if (f->h.known(f->h.ctx, t.id)) {
			if (f->h.cancel)
				(void)f->h.cancel(f->h.ctx, t.id);
		} else {
			/* Claimed ("starting") but not started here: it never will be. */
			r = cancel_entry(f, kv->key, kv->mod_revision, t.id, kv->value, false);
			if (r < 0)
				fleet_etcd_failed(f, "cancelling a task", r);
			else if (r == 1)
				fleet_note(f, LOG_INFO, 0,
					   "fleet: task %" PRIu64 " cancelled before its start",
					   t.id);
		}
		goto out;
	}
	if (f->h.known(f->h.ctx, t.id) || fleet_keepalive_if_due(f) == -ENOENT)
		goto out;
	fleet_key_id(skey, sizeof(skey), K_STATUS, t.id);
	/* Event-driven mode claims first and reads only when the claim fails (a status exists:
	 * a restart, or the placer's verdict; or the assignment moved): one request instead of
	 * two on the way to a start. The polled mode reads first, as it always did. */
	if (f->event && !(f->h.draining && f->h.draining(f->h.ctx))) {
		r = claim_start(f, kv, &t, skey);
		if (r < 0) {
			fleet_etcd_failed(f, "claiming a start", r);
			goto out;
		}
		if (r == 1)
			goto start;
	}
	r = etcd_get(f->e, skey, &st);
	if (r == -ENOENT && f->h.draining && f->h.draining(f->h.ctx)) {
		/* Hand it back, under the same compares as a start claim. */
		json_object *o = json_tokener_parse(kv->value);
		char qkey[128];
		struct etcd_cmp c[2] = {{kv->key, ETCD_CMP_MOD, kv->mod_revision},
					{skey, ETCD_CMP_CREATE, 0}};
		struct etcd_op ops[2];
		if (!o)
			goto out;
		json_object_object_del(o, "device");
		json_object_object_del(o, "node");
		json_object_object_add(o, "declined_by", json_object_new_string(f->node));
		fleet_key_id(qkey, sizeof(qkey), K_QUEUE, t.id);
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, kv->key, NULL, 0, 0};
		ops[1] =
		    (struct etcd_op){ETCD_OP_PUT, qkey, fleet_jstr(o), strlen(fleet_jstr(o)), 0};
		r = etcd_txn(f->e, c, 2, ops, 2, NULL);
		json_object_put(o);
		if (r == 1)
			fleet_note(f, LOG_INFO, 0,
				   "fleet: task %" PRIu64 " handed back to the queue (draining)",
				   t.id);
		else if (r < 0)
			fleet_etcd_failed(f, "handing back a task", r);
		goto out;
	}
	if (r == -ENOENT) {
		r = claim_start(f, kv, &t, skey);
		if (r < 0) {
			/* Unknown outcome: the rescan reads status/<id> and decides again. */
			fleet_etcd_failed(f, "claiming a start", r);
			goto out;
		}
		if (r == 0)
			goto out;
	} else if (r < 0) {
		fleet_etcd_failed(f, "reading a task status", r);
		goto out;
	} else {
		json_object *o = json_tokener_parse(st.value);
		/* "starting" by us with no local record: the claim was written but the spawn,
		 * which always follows a persisted record, never happened. */
		bool ours = o && !strcmp(fleet_jget_s(o, "state"), "starting") &&
			    !strcmp(fleet_jget_s(o, "node"), f->node);
		json_object_put(o);
		if (!ours)
			goto out;
	}
start:
	start_claimed(f, &t);
out:
	etcd_kv_done(&st);
	fleet_task_done(&t);
}

/* --- event-driven mode: the assignments of one watch delivery, claimed together --------- */

int fleet_inbox_push(struct fleet *f, const struct etcd_kv *kv)
{
	struct etcd_kv *v = reallocarray(f->inbox, f->n_inbox + 1, sizeof(*v));
	struct etcd_kv *n;

	if (!v)
		return -ENOMEM;
	f->inbox = v;
	n = &f->inbox[f->n_inbox];
	*n = *kv;
	n->key = strdup(kv->key);
	n->value = strndup(kv->value ? kv->value : "", kv->value_len);
	if (!n->key || !n->value) {
		etcd_kv_done(n);
		return -ENOMEM;
	}
	f->n_inbox++;
	fleet_kick(f);
	return 0;
}

#define START_BATCH (ETCD_TXN_MAX / 2) /* two compares per start claim */

/* Claims the starts of several new assignments in one transaction (each: the assignment
 * unchanged, status/<id> absent -> put "starting"); all or nothing. 1 all claimed, 0 not
 * (then each goes the single way, which reads what it must), -errno unknown outcome. */
static int claim_starts(struct fleet *f, struct etcd_kv **kvs, struct fleet_task *ts, size_t n)
{
	struct etcd_cmp c[2 * START_BATCH];
	struct etcd_op ops[START_BATCH];
	char skeys[START_BATCH][128];
	json_object *o[START_BATCH] = {0};
	int64_t rev = 0;
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		fleet_key_id(skeys[i], sizeof(skeys[i]), K_STATUS, ts[i].id);
		o[i] = json_object_new_object();
		if (!o[i]) {
			r = -ENOMEM;
			break;
		}
		json_object_object_add(o[i], "id", json_object_new_int64((int64_t)ts[i].id));
		json_object_object_add(o[i], "state", json_object_new_string("starting"));
		json_object_object_add(o[i], "node", json_object_new_string(f->node));
		json_object_object_add(o[i], "device", json_object_new_string(ts[i].device));
		c[2 * i] = (struct etcd_cmp){kvs[i]->key, ETCD_CMP_MOD, kvs[i]->mod_revision};
		c[2 * i + 1] = (struct etcd_cmp){skeys[i], ETCD_CMP_CREATE, 0};
		ops[i] = (struct etcd_op){ETCD_OP_PUT, skeys[i], fleet_jstr(o[i]),
					  strlen(fleet_jstr(o[i])), 0};
	}
	if (r == 0)
		r = etcd_txn(f->e, c, 2 * n, ops, n, &rev);
	for (size_t i = 0; i < n; i++) {
		if (r == 1)
			fleet_status_rev_set(f, ts[i].id, rev);
		json_object_put(o[i]);
	}
	return r;
}

void fleet_inbox_run(struct fleet *f)
{
	struct etcd_kv *in = TAKE_PTR(f->inbox), *kvs[START_BATCH];
	struct fleet_task ts[START_BATCH];
	size_t n_in = f->n_inbox, n = 0;
	bool draining = f->h.draining && f->h.draining(f->h.ctx);
	int r;

	f->n_inbox = 0;
	for (size_t i = 0; i < n_in; i++) {
		struct fleet_task t = {0};
		char err[128];
		/* the plain case goes in the batch; anything else (a cancel, a task known here, a
		 * draining node, a bad spec) the single way */
		if (n < START_BATCH && !draining &&
		    fleet_parse_task(in[i].value, &t, err, sizeof(err)) >= 0 && !t.cancel &&
		    !f->h.known(f->h.ctx, t.id)) {
			kvs[n] = &in[i];
			ts[n++] = t;
			continue;
		}
		fleet_task_done(&t);
		handle_assignment(f, &in[i]);
	}
	if (n > 1) {
		(void)fleet_keepalive_if_due(f);
		r = claim_starts(f, kvs, ts, n);
		if (r < 0)
			/* unknown outcome: the rescan reads status/<id> and decides */
			fleet_etcd_failed(f, "claiming starts", r);
		for (size_t i = 0; i < n; i++)
			if (r == 1)
				start_claimed(f, &ts[i]);
			else if (r == 0)
				handle_assignment(f, kvs[i]);
	} else if (n == 1)
		handle_assignment(f, kvs[0]);
	for (size_t i = 0; i < n; i++)
		fleet_task_done(&ts[i]);
	for (size_t i = 0; i < n_in; i++)
		etcd_kv_done(&in[i]);
	free(in);
}

static int on_watch_event(const struct etcd_event *ev, void *userdata)
{
	struct fleet *f = userdata;

	if (ev->type != ETCD_EVENT_PUT)
		return 0;
	/* event-driven: gathered, and claimed together by the deferred source once this
	 * delivery is over (the placer's batches arrive as one message) */
	if (!f->event || fleet_inbox_push(f, &ev->kv) < 0)
		handle_assignment(f, &ev->kv);
	return 0;
}

/* Event-driven mode: the watch died (compacted, cancelled) or no endpoint answers. */
static void on_watch_error(int r, void *userdata)
{
	struct fleet *f = userdata;

	if (r == -ESTALE || r == -ECANCELED)
		f->rewatch = true; /* rebuilt from a range by the next fleet_step */
	else {
		fleet_etcd_failed(f, "assignment watch", r);
		if (r == -EACCES || r == -EPERM || r == -EPROTO || r == -EMSGSIZE)
			f->rewatch = true;
	}
	fleet_host_noted(f);
}

static int rescan(struct fleet *f, int64_t *ret_rev)
{
	struct etcd_kvs kvs = {0};
	char prefix[128];
	int r;

	snprintf(prefix, sizeof(prefix), K_ASSIGN "%s/", f->node);
	r = etcd_range(f->e, prefix, &kvs);
	if (r < 0)
		return fleet_etcd_failed(f, "reading assignments", r);
	for (size_t i = 0; i < kvs.n; i++)
		handle_assignment(f, &kvs.kvs[i]);
	if (ret_rev)
		*ret_rev = kvs.revision;
	etcd_kvs_done(&kvs);
	return 0;
}

void fleet_node_step(struct fleet *f, uint64_t now)
{
	int r;

	if (f->rewatch) {
		etcd_watch_free(f->w);
		f->w = NULL;
		f->rewatch = false;
	}
	if (!f->lease) {
		int64_t ttl;
		r = etcd_lease_grant(f->e, f->ttl, &f->lease, &ttl);
		if (r < 0) {
			fleet_etcd_failed(f, "lease grant", r);
			f->lease = 0;
			return;
		}
		fleet_etcd_ok(f);
		fleet_note(f, LOG_INFO, 0,
			   "fleet: node %s joined (lease %" PRId64 ", TTL %" PRId64 " s, via %s)",
			   f->node, f->lease, ttl, etcd_endpoint(f->e));
		f->last_keepalive_us = now;
		f->last_publish_us = f->last_full_publish_us = 0; /* the old lease took the keys */
	} else if (fleet_keepalive_if_due(f) == -ENOENT)
		return;
	if (!f->last_publish_us || now - f->last_publish_us >= PUBLISH_US) {
		r = fleet_publish(f);
		if (r < 0)
			fleet_etcd_failed(f, "publishing devices", r);
		else
			f->last_publish_us = now;
	}
	if (!f->w) {
		int64_t rev = 0;
		if (rescan(f, &rev) < 0)
			return;
		char prefix[128];
		snprintf(prefix, sizeof(prefix), K_ASSIGN "%s/", f->node);
		r = etcd_watch_new(f->e, prefix, true, rev + 1, &f->w);
		if (r >= 0 && f->event)
			r = etcd_watch_attach_event(f->w, f->event, on_watch_event, on_watch_error,
						    f);
		if (r < 0) {
			fleet_etcd_failed(f, "watching assignments", r);
			etcd_watch_free(f->w);
			f->w = NULL;
			return;
		}
		f->last_rescan_us = now;
	}
	if (!f->event) {
		r = etcd_watch_poll(f->w, 0, on_watch_event, f);
		if (r == -ESTALE || r == -ECANCELED) {
			etcd_watch_free(f->w);
			f->w = NULL;
		} else if (r < 0)
			fleet_etcd_failed(f, "assignment watch", r);
	}
	if (now - f->last_rescan_us >= RESCAN_US) {
		(void)rescan(f, NULL);
		f->last_rescan_us = now;
	}
	(void)fleet_flush_pending(f);
}
