/* fleet-placer.c — the elected placer: election under a lease, the fleet-wide view of devices,
 * queues and tasks, fenced placement claims and dead-node handling. */
#include "fleet-internal.h"

/* --- placer -------------------------------------------------------------------------------- */

static double pl_now(const struct placer *pl)
{
	return (double)(now_usec() - pl->t0_us) / 1e6;
}

static int elect(struct fleet *f)
{
	char val[128];
	int64_t rev;
	int r;

	/* A read first: a transaction goes through raft even when its compare fails, and
	 * every node asks four times a second. */
	{
		struct etcd_kv kv = {0};
		r = etcd_get(f->e, K_PLACER, &kv);
		if (r >= 0) {
			etcd_kv_done(&kv);
			return 0;
		}
		if (r != -ENOENT)
			return fleet_etcd_failed(f, "placer election", r);
	}
	snprintf(val, sizeof(val), "{\"node\":\"%s\"}", f->node);
	if (!f->elease) {
		int64_t want = f->ttl / 2 > 1 ? f->ttl / 2 : 1;
		r = etcd_lease_grant(f->e, want, &f->elease, &f->ettl);
		if (r < 0) {
			f->elease = 0;
			return fleet_etcd_failed(f, "placer election lease", r);
		}
		if (f->ettl < 1)
			f->ettl = want;
		f->last_ekeepalive_us = now_usec();
	}
	r = etcd_txn_cas(f->e, K_PLACER, 0, val, strlen(val), f->elease, &rev);
	if (r == -ETIMEDOUT || r == -ECONNRESET || r == -EAGAIN) {
		/* Unknown outcome: if the key is ours, we won. */
		struct etcd_kv kv = {0};
		if (etcd_get(f->e, K_PLACER, &kv) >= 0) {
			r = kv.lease == f->elease ? 1 : 0;
			rev = kv.create_revision;
			etcd_kv_done(&kv);
		}
	}
	if (r <= 0) {
		fleet_drop_election_lease(
		    f); /* lost (or unknown): no lease to keep alive meanwhile */
		return r < 0 ? fleet_etcd_failed(f, "placer election", r) : 0;
	}
	fleet_placer_reset(&f->pl);
	struct policy_params pp = {.seed = f->seed, .reconcile_period_s = 10};
	if (policy_kind_from_name(f->policy, &pp.kind) < 0 || policy_new(&pp, &f->pl.pol) < 0) {
		fleet_note(f, LOG_ERR, -EINVAL, "fleet: placer: cannot create policy %s",
			   f->policy);
		(void)etcd_txn_cad(f->e, K_PLACER, rev);
		fleet_drop_election_lease(f);
		return -EINVAL;
	}
	f->pl.rev = rev;
	f->pl.t0_us = now_usec();
	f->placer = true;
	fleet_note(f, LOG_INFO, 0, "fleet: %s is the placer now (revision %" PRId64 ", policy %s)",
		   f->node, rev, f->policy);
	return 1;
}

static void step_down(struct fleet *f, const char *why)
{
	fleet_note(f, LOG_WARNING, 0, "fleet: %s is no longer the placer: %s", f->node, why);
	f->placer = false;
	fleet_drop_election_lease(f);
	fleet_placer_reset(&f->pl);
}

/* After a failed claim: are we still the elected placer? */
static bool still_placer(struct fleet *f)
{
	struct etcd_kv kv = {0};
	int r = etcd_get(f->e, K_PLACER, &kv);
	bool yes = r >= 0 && kv.create_revision == f->pl.rev;

	if (r >= 0)
		etcd_kv_done(&kv);
	if (r == -ENOENT || (r >= 0 && !yes))
		step_down(f, "the election key changed");
	return r < 0 || yes;
}

static struct pdev *pdev_get(struct placer *pl, const char *node, const char *name, size_t *ret_i)
{
	struct pdev *n;

	for (size_t i = 0; i < pl->n_devs; i++)
		if (!strcmp(pl->devs[i].node, node) && !strcmp(pl->devs[i].name, name)) {
			*ret_i = i;
			return &pl->devs[i];
		}
	n = realloc(pl->devs, (pl->n_devs + 1) * sizeof(*n));
	if (!n)
		return NULL;
	pl->devs = n;
	n = &pl->devs[pl->n_devs];
	memset(n, 0, sizeof(*n));
	snprintf(n->node, sizeof(n->node), "%s", node);
	snprintf(n->name, sizeof(n->name), "%s", name);
	*ret_i = pl->n_devs++;
	return n;
}

static struct ptask *ptask_find(struct placer *pl, uint64_t id)
{
	for (size_t i = 0; i < pl->n_tasks; i++)
		if (pl->tasks[i].id == id)
			return &pl->tasks[i];
	return NULL;
}

static struct ptask *ptask_add(struct placer *pl, uint64_t id)
{
	struct ptask *n = realloc(pl->tasks, (pl->n_tasks + 1) * sizeof(*n));
	if (!n)
		return NULL;
	pl->tasks = n;
	n = &pl->tasks[pl->n_tasks++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	return n;
}

static void ptask_remove(struct placer *pl, struct ptask *t)
{
	free(t->spec);
	*t = pl->tasks[--pl->n_tasks];
}

static int pqueue_get(struct placer *pl, const char *name, double cpu, uint64_t mem, uint32_t *ret)
{
	struct pqueue *n;
	int r;

	for (size_t i = 0; i < pl->n_queues; i++)
		if (!strcmp(pl->queues[i].name, name)) {
			*ret = pl->queues[i].id;
			return 0;
		}
	n = realloc(pl->queues, (pl->n_queues + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	pl->queues = n;
	n = &pl->queues[pl->n_queues];
	snprintf(n->name, sizeof(n->name), "%s", name);
	r = policy_add_queue(pl->pol, name, (struct policy_res){cpu, (double)mem}, 1.0, &n->id);
	if (r < 0)
		return r;
	pl->n_queues++;
	*ret = n->id;
	return 0;
}

/* The node of an assignment is gone (no device keys: its lease expired). */
static void node_gone(struct fleet *f, const struct etcd_kv *akv, uint64_t id, const char *node)
{
	struct etcd_kv st = {0};
	char skey[128], qkey[128];
	struct etcd_cmp c[3] = {{K_PLACER, ETCD_CMP_CREATE, f->pl.rev},
				{akv->key, ETCD_CMP_MOD, akv->mod_revision},
				{skey, ETCD_CMP_CREATE, 0}};
	struct etcd_op ops[2];
	json_object *o = NULL;
	const char *what;
	int r;

	fleet_key_id(skey, sizeof(skey), K_STATUS, id);
	fleet_key_id(qkey, sizeof(qkey), K_QUEUE, id);
	r = etcd_get(f->e, skey, &st);
	if (r == -ENOENT) {
		/* Never claimed by the node: back to the queue, same id, so it still runs once. */
		o = json_tokener_parse(akv->value);
		if (!o)
			return;
		json_object_object_del(o, "device");
		json_object_object_del(o, "node");
		json_object_object_add(o, "requeued_from", json_object_new_string(node));
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, akv->key, NULL, 0, 0};
		ops[1] =
		    (struct etcd_op){ETCD_OP_PUT, qkey, fleet_jstr(o), strlen(fleet_jstr(o)), 0};
		r = etcd_txn(f->e, c, 3, ops, 2, NULL);
		what = "re-queued";
	} else if (r >= 0) {
		json_object *s = json_tokener_parse(st.value);
		const char *state = s ? fleet_jget_s(s, "state") : "";
		c[2] = (struct etcd_cmp){skey, ETCD_CMP_MOD, st.mod_revision};
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, akv->key, NULL, 0, 0};
		if (s && (!strcmp(state, "starting") || !strcmp(state, "running"))) {
			json_object_object_add(s, "state", json_object_new_string("lost"));
			json_object_object_add(s, "reason", json_object_new_string("node-lost"));
			json_object_object_add(s, "end_us",
					       json_object_new_int64((int64_t)fleet_realtime_us()));
			o = s;
			ops[1] = (struct etcd_op){ETCD_OP_PUT, skey, fleet_jstr(o),
						  strlen(fleet_jstr(o)), 0};
			r = etcd_txn(f->e, c, 3, ops, 2, NULL);
			what = "lost";
		} else {
			json_object_put(s);
			r = etcd_txn(f->e, c, 3, ops, 1, NULL);
			what = "cleaned up";
		}
	} else {
		fleet_etcd_failed(f, "reading a task status", r);
		return;
	}
	if (r == 1)
		fleet_note(f, LOG_WARNING, 0, "fleet: node %s is gone: task %" PRIu64 " %s", node,
			   id, what);
	else if (r < 0)
		fleet_etcd_failed(f, "handling a lost node", r);
	json_object_put(o);
	etcd_kv_done(&st);
}

/* 1. devices: every one the fleet device set holds is live; the rest are dead. */
static void read_devices(struct fleet *f)
{
	struct placer *pl = &f->pl;
	size_t n = devset_count(&f->devs);

	for (size_t i = 0; i < pl->n_devs; i++)
		pl->devs[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct devset_device dd;
		struct pdev *d;
		size_t di;
		if (devset_get(&f->devs, i, &dd) < 0)
			continue;
		d = pdev_get(pl, dd.node, dd.name, &di);
		if (!d)
			continue;
		d->cpu = dd.cpu;
		d->mem = (double)dd.mem;
		d->used_cpu = dd.cpu_used;
		d->used_mem = (double)dd.mem_used;
		d->seen = true;
		/* Capacity as first published; later changes (0 while draining) reach the policy
		 * through the free capacity below. */
		if (!d->added && policy_add_device(pl->pol, (uint32_t)di,
						   (struct policy_res){d->cpu, d->mem}) >= 0)
			d->added = true;
		if (!d->added)
			continue;
		if (!d->live)
			(void)policy_set_device_live(pl->pol, (uint32_t)di, true);
		d->live = true;
	}
	for (size_t i = 0; i < pl->n_devs; i++) {
		pl->devs[i].alloc_cpu = pl->devs[i].alloc_mem = 0;
		if (!pl->devs[i].seen && pl->devs[i].live) {
			pl->devs[i].live = false;
			(void)policy_set_device_live(pl->pol, (uint32_t)i, false);
		}
	}
}

/* 2. assignments: count them on their devices; a dead node's are handled. */
static void read_assignments(struct fleet *f, const struct etcd_kvs *assign)
{
	struct placer *pl = &f->pl;

	for (size_t i = 0; i < pl->n_tasks; i++)
		pl->tasks[i].seen = false;
	for (size_t i = 0; i < assign->n; i++) {
		char node[65];
		uint64_t id;
		bool live = false;
		struct fleet_task t = {0};
		char err[64];
		struct ptask *pt;
		if (fleet_parse_assign_key(assign->kvs[i].key, node, sizeof(node), &id) < 0 ||
		    fleet_parse_task(assign->kvs[i].value, &t, err, sizeof(err)) < 0)
			continue;
		for (size_t k = 0; k < pl->n_devs && !live; k++)
			live = pl->devs[k].live && !strcmp(pl->devs[k].node, node);
		if (!live) {
			node_gone(f, &assign->kvs[i], id, node);
			fleet_task_done(&t);
			continue;
		}
		for (size_t k = 0; k < pl->n_devs; k++)
			if (!strcmp(pl->devs[k].node, node) &&
			    !strcmp(pl->devs[k].name, t.device)) {
				pl->devs[k].alloc_cpu += t.cpu;
				pl->devs[k].alloc_mem += (double)t.mem;
			}
		pt = ptask_find(pl, id);
		if (!pt && (pt = ptask_add(pl, id))) {
			pt->placed =
			    true; /* placed by an earlier placer: on the device counts only */
			pt->cpu = t.cpu;
			pt->mem = t.mem;
		}
		if (pt) {
			pt->seen = true;
			pt->placed = true;
		}
		fleet_task_done(&t);
	}
}

/* 3. queue entries: new ones enter the policy in id (= submission) order; tasks neither
 * assigned nor queued any more leave it. */
static void read_queue(struct fleet *f, const struct etcd_kvs *queue)
{
	struct placer *pl = &f->pl;
	int r;

	for (size_t i = 0; i < queue->n; i++) {
		struct fleet_task t = {0};
		char err[64];
		struct ptask *pt;
		uint32_t qid;
		if (fleet_parse_task(queue->kvs[i].value, &t, err, sizeof(err)) < 0) {
			fleet_note(f, LOG_ERR, -EINVAL, "fleet: %s: dropped: %s", queue->kvs[i].key,
				   err);
			(void)etcd_txn_cad(f->e, queue->kvs[i].key, queue->kvs[i].mod_revision);
			continue;
		}
		pt = ptask_find(pl, t.id);
		if (pt && pt->placed) {
			fleet_task_done(&t);
			continue;
		}
		if (!pt) {
			pt = ptask_add(pl, t.id);
			if (!pt) {
				fleet_task_done(&t);
				continue;
			}
			pt->cpu = t.cpu;
			pt->mem = t.mem;
			r = pqueue_get(pl, t.queue, t.cpu, t.mem, &qid);
			if (r >= 0)
				r = policy_enqueue(pl->pol, qid, t.id, pl_now(pl));
			if (r < 0) {
				/* Fits on no device of the fleet now: it waits (a node may join).
				 */
				ptask_remove(pl, pt);
				fleet_task_done(&t);
				continue;
			}
		}
		free(pt->spec);
		pt->spec = strdup(queue->kvs[i].value);
		pt->mod_rev = queue->kvs[i].mod_revision;
		pt->seen = true;
		fleet_task_done(&t);
	}
	for (size_t i = 0; i < pl->n_tasks;) {
		struct ptask *pt = &pl->tasks[i];
		if (pt->seen) {
			i++;
			continue;
		}
		if (pt->placed && pt->in_policy)
			(void)policy_release(pl->pol, pt->id, pl_now(pl));
		else if (!pt->placed)
			(void)policy_cancel(pl->pol, pt->id);
		ptask_remove(pl, pt);
	}
}

/* 4. free capacity as the node does it: total minus max(reserved, measured). */
static void set_free(struct fleet *f)
{
	struct placer *pl = &f->pl;

	for (size_t i = 0; i < pl->n_devs; i++) {
		struct pdev *d = &pl->devs[i];
		double uc = f->overcommit ? d->used_cpu : fmax(d->alloc_cpu, d->used_cpu);
		double um = f->overcommit ? d->used_mem : fmax(d->alloc_mem, d->used_mem);
		if (d->live)
			(void)policy_set_device_free(
			    pl->pol, (uint32_t)i,
			    (struct policy_res){fmax(0, d->cpu - uc), fmax(0, d->mem - um)});
	}
}

/* 5. place: the policy's decisions, up to CLAIM_BATCH at a time, claimed in one fenced
 * transaction (placer CREATE == mine, and each queue/<id> MOD == as read; then each queue entry
 * deleted and its assignment put). All or nothing: a compare that fails (an entry cancelled or
 * re-queued meanwhile, or a new placer) applies none, and the batch is forgotten like a failed
 * single claim: the next round reads what etcd holds. */
#define CLAIM_BATCH (ETCD_TXN_MAX / 2) /* two ops per claim */

struct claim {
	uint64_t id;
	uint32_t dev;
	char qkey[128], akey[192];
	char *value;
};

/* Books a decision on its device at once, so the next decision of the batch sees it. */
static void book(struct placer *pl, struct ptask *pt, uint32_t dev_id)
{
	struct pdev *d = &pl->devs[dev_id];

	pt->placed = pt->in_policy = true;
	(void)policy_sample(pl->pol, pt->id, (struct policy_res){pt->cpu, (double)pt->mem});
	d->alloc_cpu += pt->cpu;
	d->alloc_mem += (double)pt->mem;
	(void)policy_set_device_free(
	    pl->pol, dev_id,
	    (struct policy_res){fmax(0, d->cpu - fmax(d->alloc_cpu, d->used_cpu)),
				fmax(0, d->mem - fmax(d->alloc_mem, d->used_mem))});
}

/* The next batch of decisions; 0 when the policy has none. */
static size_t decide(struct fleet *f, struct claim *cl)
{
	struct placer *pl = &f->pl;
	struct policy_placement pp;
	size_t n = 0;

	/* the polled mode claims one at a time, as before batching: the bench's baseline */
	size_t batch = f->event ? CLAIM_BATCH : 1;

	while (n < batch && policy_next(pl->pol, pl_now(pl), &pp) == 0) {
		struct ptask *pt = ptask_find(pl, pp.inst_id);
		struct pdev *d = pp.dev_id < pl->n_devs ? &pl->devs[pp.dev_id] : NULL;
		json_object *o = pt && d && pt->spec ? json_tokener_parse(pt->spec) : NULL;
		if (!o) {
			(void)policy_release(pl->pol, pp.inst_id, pl_now(pl));
			if (pt)
				ptask_remove(pl, pt);
			continue;
		}
		json_object_object_add(o, "node", json_object_new_string(d->node));
		json_object_object_add(o, "device", json_object_new_string(d->name));
		json_object_object_add(o, "assigned_us",
				       json_object_new_int64((int64_t)fleet_realtime_us()));
		cl[n].value = strdup(fleet_jstr(o));
		json_object_put(o);
		if (!cl[n].value) {
			(void)policy_release(pl->pol, pp.inst_id, pl_now(pl));
			ptask_remove(pl, pt);
			break;
		}
		cl[n].id = pt->id;
		cl[n].dev = pp.dev_id;
		fleet_key_id(cl[n].qkey, sizeof(cl[n].qkey), K_QUEUE, pt->id);
		fleet_key_assign(cl[n].akey, sizeof(cl[n].akey), d->node, pt->id);
		book(pl, pt, pp.dev_id);
		n++;
	}
	return n;
}

/* 1 the batch applied, 0 a compare failed, -errno unknown outcome. */
static int claim(struct fleet *f, const struct claim *cl, size_t n)
{
	struct etcd_cmp c[1 + CLAIM_BATCH] = {0};
	struct etcd_op ops[2 * CLAIM_BATCH] = {0};
	int64_t rev = 0;
	int r;

	c[0] = (struct etcd_cmp){K_PLACER, ETCD_CMP_CREATE, f->pl.rev};
	for (size_t i = 0; i < n; i++) {
		struct ptask *pt = ptask_find(&f->pl, cl[i].id);
		c[1 + i] = (struct etcd_cmp){cl[i].qkey, ETCD_CMP_MOD, pt ? pt->mod_rev : -1};
		ops[2 * i] = (struct etcd_op){ETCD_OP_DELETE, cl[i].qkey, NULL, 0, 0};
		ops[2 * i + 1] =
		    (struct etcd_op){ETCD_OP_PUT, cl[i].akey, cl[i].value, strlen(cl[i].value), 0};
	}
	r = etcd_txn(f->e, c, 1 + n, ops, 2 * n, &rev);
	for (size_t i = 0; r == 1 && i < n; i++)
		fleet_mirror_claimed(f, cl[i].qkey, cl[i].akey, cl[i].value, rev);
	return r;
}

static void place(struct fleet *f)
{
	struct placer *pl = &f->pl;
	struct claim *cl = calloc(CLAIM_BATCH, sizeof(*cl));
	size_t n;
	int r;

	if (!cl)
		return;
	while (f->placer && fleet_keepalive_if_due(f) != -ENOENT && (n = decide(f, cl)) > 0) {
		r = claim(f, cl, n);
		for (size_t i = 0; i < n; i++) {
			struct ptask *pt = ptask_find(pl, cl[i].id);
			if (r == 1)
				fleet_note(f, LOG_INFO, 0,
					   "fleet: placed task %" PRIu64 " on %s/%s", cl[i].id,
					   pl->devs[cl[i].dev].node, pl->devs[cl[i].dev].name);
			else if (pt) {
				/* Not applied (or unknown): forget it; the next round reads what
				 * etcd holds. */
				(void)policy_release(pl->pol, pt->id, pl_now(pl));
				ptask_remove(pl, pt);
			}
			free(cl[i].value);
			cl[i].value = NULL;
		}
		f->claims++;
		f->claimed += r == 1 ? n : 0;
		if (r == 1)
			continue;
		if (r < 0)
			fleet_etcd_failed(f, "placement claim", r);
		else if (still_placer(f))
			f->pl.again =
			    true; /* an entry moved: read again soon, not at the next tick */
		break;
	}
	free(cl);
}

static void placer_step(struct fleet *f)
{
	struct etcd_kvs assign = {0}, queue = {0};
	/* event-driven: what the watches keep (the device set reads its mirror too) */
	bool mirrored = fleet_mirrored(f);
	int r;

	f->rounds++;
	r = devset_refresh(&f->devs);
	if (mirrored) {
		assign = fleet_mirror_view(f, PW_ASSIGN);
		queue = fleet_mirror_view(f, PW_QUEUE);
	}
	if (r >= 0 && !mirrored)
		r = etcd_range(f->e, K_ASSIGN, &assign);
	if (r >= 0 && !mirrored)
		r = etcd_range(f->e, K_QUEUE, &queue);
	if (r < 0) {
		fleet_etcd_failed(f, "placer read", r);
		goto out;
	}
	read_devices(f);
	read_assignments(f, &assign);
	read_queue(f, &queue);
	set_free(f);
	place(f);
	f->pl.waiting = 0;
	for (size_t i = 0; i < f->pl.n_tasks; i++)
		f->pl.waiting += !f->pl.tasks[i].placed;
	fleet_etcd_ok(f);
out:
	if (!mirrored) {
		etcd_kvs_done(&assign);
		etcd_kvs_done(&queue);
	}
}

/* --- event-driven rounds (the watches and the view they keep: fleet-mirror.c) ----------- */

static void round_now(struct fleet *f)
{
	f->pl_owed = f->pl_cap = false;
	f->pl.again = false;
	f->last_round_us = now_usec();
	placer_step(f);
	if (f->step_err < 0)
		f->pl_owed = true; /* an etcd failure: again at the next tick, not in a hot loop */
	if (!f->pl.again) {
		f->again_streak = 0;
		return;
	}
	/* A claim's compare failed: the view was behind etcd. The first time, again at once
	 * (the event that moves the view is usually in already); then at the tick; and after
	 * three in a row the mirrors are read again from etcd, in case a watch went quiet. */
	f->pl_owed = true;
	if (f->again_streak++ == 0)
		fleet_kick(f);
	else if (f->again_streak >= 3)
		f->pl_rewatch = true;
}

/* The deferred source: task states to write, and a round owed. */
int fleet_on_kick(sd_event_source *s, void *userdata)
{
	struct fleet *f = userdata;

	f->step_err = 0;
	if (f->n_inbox)
		fleet_inbox_run(f);
	if (f->n_pend)
		(void)fleet_flush_pending(f);
	if (f->placer && f->pl_owed && f->pl.pol)
		round_now(f);
	fleet_host_noted(f);
	return 0;
}

int fleet_step(struct fleet *f)
{
	uint64_t now = now_usec();

	f->step_err = 0;
	fleet_node_step(f, now);
	if (!f->placer && (f->pl.pol || f->pw[PW_QUEUE])) {
		fleet_placer_unwatch(f);
		fleet_placer_reset(&f->pl);
	}
	if (f->lease && !f->placer && !f->no_placer && now - f->last_elect_us >= ELECT_US) {
		f->last_elect_us = now;
		(void)elect(f);
	}
	if (!f->placer)
		return f->step_err;
	if (!f->event) {
		placer_step(f); /* the polled mode: a round every tick */
		return f->step_err;
	}
	if (f->pl_rewatch)
		fleet_placer_unwatch(f);
	if (!f->pw[PW_QUEUE] && fleet_placer_watch(f) < 0)
		f->pl_owed = true; /* no watches: every tick, as polled */
	if (f->pl_owed || (f->pl_cap && f->pl.waiting) || now - f->last_round_us >= SAFETY_US)
		round_now(f);
	return f->step_err;
}

void fleet_counters(const struct fleet *f, uint64_t *ret_rounds, uint64_t *ret_claims,
		    uint64_t *ret_placed)
{
	*ret_rounds = f->rounds;
	*ret_claims = f->claims;
	*ret_placed = f->claimed;
}

uint64_t fleet_period_usec(const struct fleet *f)
{
	return (uint64_t)f->period_ms * 1000u;
}
