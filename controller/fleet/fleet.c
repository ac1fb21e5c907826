/* fleet.c — fleet mode: node lease and device publication, the shared queue, placer election
 * and fenced claims, assignment watch, node-death handling, and the fleet-wide status view.
 *
 * Keyspace (values JSON; docs/FLEET.md):
 *   /edgeslice/nodes/<node>/devices/<dev>   capacity + usage, under the node lease
 *   /edgeslice/placer                       {"node"}, under the placer's election lease (TTL/2)
 *   /edgeslice/queue/<id>                   a queued task spec
 *   /edgeslice/assign/<node>/<id>           spec + device; written only by the elected placer
 *   /edgeslice/status/<id>                  starting/running/exited/failed/lost, by the node
 *
 * The two races that matter are each decided by one etcd transaction:
 *   placer claim   cmp placer CREATE == mine, queue/<id> MOD == read -> del queue, put assign
 *   node start     cmp assign MOD == seen, status/<id> absent        -> put status starting
 *   dead node      cmp placer, assign MOD, status/<id> absent        -> del assign, put queue
 * so a deposed placer assigns nothing, a task is assigned once, and a task whose node started
 * it (status exists) is never re-queued: it is reported "lost" instead. */
#include "fleet-internal.h"
#include "curl-dl.h"

int fleet_runtime_check(char *err, size_t errsz)
{
	return curl_dl_load(err, errsz);
}

void fleet_note(struct fleet *f, int prio, int error, const char *fmt, ...)
{
	struct fleet_note *n;
	va_list ap;

	if (error < 0 && !f->step_err)
		f->step_err = error;
	if (f->n_notes >= FLEET_MAX_NOTES)
		return; /* a host that never takes them */
	n = realloc(f->notes, (f->n_notes + 1) * sizeof(*n));
	if (!n)
		return;
	f->notes = n;
	n = &f->notes[f->n_notes++];
	n->prio = prio;
	n->error = error;
	va_start(ap, fmt);
	vsnprintf(n->text, sizeof(n->text), fmt, ap);
	va_end(ap);
	str_one_line(n->text);
}

size_t fleet_take_notes(struct fleet *f, struct fleet_note **ret)
{
	size_t n = f->n_notes;

	*ret = TAKE_PTR(f->notes);
	f->n_notes = 0;
	return n;
}

/* Notes an etcd failure once until etcd answers again; returns r. */
int fleet_etcd_failed(struct fleet *f, const char *what, int r)
{
	if (!f->etcd_down)
		fleet_note(f, LOG_WARNING, r, "fleet: %s: %s", what, etcd_last_error(f->e));
	else if (r < 0 && !f->step_err)
		f->step_err = r;
	f->etcd_down = true;
	return r;
}

void fleet_etcd_ok(struct fleet *f)
{
	if (f->etcd_down)
		fleet_note(f, LOG_INFO, 0, "fleet: etcd answers again (%s)", etcd_endpoint(f->e));
	f->etcd_down = false;
}

/* --- setup ------------------------------------------------------------------------------ */

static int split_endpoints(const char *list, char ***ret, size_t *ret_n)
{
	char **v = calloc(FLEET_MAX_ENDPOINTS, sizeof(char *));
	_cleanup_free_ char *copy = strdup(list);
	size_t n = 0;
	char *save = NULL;

	if (!v || !copy) {
		free(v);
		return -ENOMEM;
	}
	for (char *tok = strtok_r(copy, ",", &save); tok && n < FLEET_MAX_ENDPOINTS;
	     tok = strtok_r(NULL, ",", &save))
		if (!(v[n++] = strdup(tok)))
			break;
	*ret = v;
	*ret_n = n;
	return 0;
}

int fleet_new(const struct fleet_params *p, const struct fleet_host *h, struct fleet **ret)
{
	struct fleet *f = calloc(1, sizeof(*f));
	struct etcd_options eo = {0};
	_cleanup_free_ char *password = NULL;
	char **eps = NULL;
	size_t n = 0;
	int r;

	if (!f)
		return -ENOMEM;
	f->h = *h;
	f->ttl = p->conf->lease_ttl ? p->conf->lease_ttl : 5;
	f->period_ms = p->period_ms ? p->period_ms : 50;
	f->seed = p->seed;
	f->overcommit = p->overcommit;
	f->no_placer = p->no_placer;
	snprintf(f->policy, sizeof(f->policy), "%s", p->policy ? p->policy : "rddrf");
	if (p->node && *p->node)
		snprintf(f->node, sizeof(f->node), "%s", p->node);
	else if (gethostname(f->node, sizeof(f->node) - 1) < 0 || !f->node[0]) {
		r = -EINVAL;
		goto fail;
	}
	if (p->conf->password_file[0]) {
		r = read_file_at(AT_FDCWD, p->conf->password_file, &password, NULL);
		if (r < 0)
			goto fail;
		password[strcspn(password, "\n")] = '\0';
	}
	eo.ca_file = p->conf->ca[0] ? p->conf->ca : NULL;
	eo.cert_file = p->conf->cert[0] ? p->conf->cert : NULL;
	eo.key_file = p->conf->key[0] ? p->conf->key : NULL;
	eo.user = p->conf->user[0] ? p->conf->user : NULL;
	eo.password = password;
	/* A request must give up well inside one lease TTL, or a slow member costs the lease. */
	eo.timeout_ms = f->ttl * 1000 / 4;
	r = split_endpoints(p->conf->endpoints, &eps, &n);
	if (r < 0)
		goto fail;
	r = etcd_new((const char *const *)eps, n, &eo, &f->e);
	for (size_t i = 0; i < n; i++)
		free(eps[i]);
	free(eps);
	if (r < 0)
		goto fail;
	r = fleet_devset_new(f, &f->devs);
	if (r < 0)
		goto fail;
	if (p->event) {
		/* Below the loop's normal work, so the watch events that arrived together are all
		 * taken before the one round they cause. */
		f->event = sd_event_ref(p->event);
		r = sd_event_add_defer(f->event, &f->kick, fleet_on_kick, f);
		if (r >= 0)
			r = sd_event_source_set_priority(f->kick, SD_EVENT_PRIORITY_NORMAL + 10);
		if (r >= 0)
			r = sd_event_source_set_enabled(f->kick, SD_EVENT_OFF);
		if (r < 0)
			goto fail;
	}
	*ret = f;
	return 0;
fail:
	fleet_free(f);
	return r;
}

void fleet_placer_reset(struct placer *pl)
{
	policy_free(pl->pol);
	for (size_t i = 0; i < pl->n_tasks; i++)
		free(pl->tasks[i].spec);
	free(pl->tasks);
	free(pl->devs);
	free(pl->queues);
	memset(pl, 0, sizeof(*pl));
}

int fleet_shutdown(struct fleet *f)
{
	f->step_err = 0;
	/* Task states not yet written (a drained daemon exits right after its last task):
	 * one more try, else the placer would report them lost once the lease lapses. */
	if (f->e && f->n_pend)
		(void)fleet_flush_pending(f);
	if (f->e)
		fleet_drop_election_lease(f); /* a stopping placer hands over at once */
	f->shut = true;
	return f->step_err;
}

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	if (!f->shut)
		(void)fleet_shutdown(f);
	etcd_watch_free(f->w);
	fleet_placer_unwatch(f);
	fleet_placer_reset(&f->pl);
	devset_free(&f->devs);
	sd_event_source_disable_unref(f->kick);
	sd_event_unref(f->event);
	for (size_t i = 0; i < f->n_pend; i++)
		free(f->pend[i].value);
	free(f->pend);
	free(f->srev);
	free(f->pub);
	for (size_t i = 0; i < f->n_inbox; i++)
		etcd_kv_done(&f->inbox[i]);
	free(f->inbox);
	free(f->notes);
	etcd_free(f->e);
	free(f);
}

void fleet_kick(struct fleet *f)
{
	if (f->kick)
		(void)sd_event_source_set_enabled(f->kick, SD_EVENT_ONESHOT);
}

void fleet_host_noted(struct fleet *f)
{
	if (f->n_notes && f->h.noted)
		f->h.noted(f->h.ctx);
}

const char *fleet_node(const struct fleet *f)
{
	return f->node;
}
bool fleet_is_placer(const struct fleet *f)
{
	return f->placer;
}

/* --- submit ----------------------------------------------------------------------------- */

/* Errors that a moment later may not be there: no leader during an etcd election, a request
 * that timed out or was cut. Every endpoint refusing (etcd down) fails at once instead. */
static bool transient(int r)
{
	return r == -EAGAIN || r == -ETIMEDOUT || r == -ECONNRESET;
}

/* Whether to try again before the deadline (sleeping a little); a submission rides out an etcd
 * leader election (about a second) instead of failing. */
bool fleet_retry(int r, uint64_t deadline)
{
	if (!transient(r) || now_usec() >= deadline)
		return false;
	usleep(100000);
	return true;
}

int fleet_submit(struct fleet *f, const char *queue, double cpu, uint64_t mem, char *const *argv,
		 size_t argc, uint64_t *ret_id, char *err, size_t errsz)
{
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	uint64_t deadline = now_usec() + SUBMIT_RETRY_US;
	char key[128];
	int64_t rev, cur;
	int r;

	if (!o || !a) {
		json_object_put(o);
		json_object_put(a);
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	/* The revision of a write is unique fleet-wide: it is the task id. A repeated put only
	 * skips an id. */
	do
		r = etcd_put(f->e, K_SEQ, f->node, strlen(f->node), 0, &rev);
	while (r < 0 && fleet_retry(r, deadline));
	if (r < 0) {
		snprintf(err, errsz, "%s", etcd_last_error(f->e));
		json_object_put(o);
		json_object_put(a);
		return r;
	}
	for (size_t i = 0; i < argc; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(o, "id", json_object_new_int64(rev));
	json_object_object_add(o, "queue", json_object_new_string(queue));
	json_object_object_add(o, "cpu", json_object_new_double(cpu));
	json_object_object_add(o, "mem", json_object_new_int64((int64_t)mem));
	json_object_object_add(o, "argv", a);
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)fleet_realtime_us()));
	json_object_object_add(o, "submitted_on", json_object_new_string(f->node));
	fleet_key_id(key, sizeof(key), K_QUEUE, (uint64_t)rev);
	for (;;) {
		struct etcd_kv kv = {0};
		r = etcd_txn_cas(f->e, key, 0, fleet_jstr(o), strlen(fleet_jstr(o)), 0, &cur);
		if (r >= 0 || !fleet_retry(r, deadline))
			break;
		/* Outcome unknown: the key is ours alone (a fresh revision), so its presence
		 * says whether the write applied; absent, writing it again is safe. */
		do
			r = etcd_get(f->e, key, &kv);
		while (r < 0 && r != -ENOENT && fleet_retry(r, deadline));
		if (r >= 0) {
			etcd_kv_done(&kv);
			r = 1;
			break;
		}
		if (r != -ENOENT)
			break;
	}
	json_object_put(o);
	if (r < 0) {
		snprintf(err, errsz, "%s", etcd_last_error(f->e));
		return r;
	}
	/* r == 0: the key exists — only an earlier try of ours (an unknown outcome that did
	 * apply) can have written it, as its id is a revision nobody else got. */
	*ret_id = (uint64_t)rev;
	if (f->placer) { /* no need to wait for our own queue watch */
		f->pl_owed = true;
		fleet_kick(f);
	}
	return 0;
}

/* --- task status from this node ---------------------------------------------------------- */

int fleet_task_update(struct fleet *f, const struct fleet_update *u)
{
	json_object *o = json_object_new_object();
	struct pending *n;
	char *v;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "id", json_object_new_int64((int64_t)u->id));
	json_object_object_add(o, "state", json_object_new_string(u->state));
	json_object_object_add(o, "node", json_object_new_string(f->node));
	json_object_object_add(o, "device", json_object_new_string(u->device ? u->device : ""));
	json_object_object_add(o, "pid", json_object_new_int64(u->pid));
	json_object_object_add(o, "exit_code", json_object_new_int(u->exit_code));
	json_object_object_add(o, "reason", json_object_new_string(u->reason ? u->reason : ""));
	json_object_object_add(o, "start_us", json_object_new_int64((int64_t)u->start_us));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)u->end_us));
	json_object_object_add(o, "queue", json_object_new_string(u->queue ? u->queue : ""));
	json_object_object_add(o, "cpu", json_object_new_double(u->cpu));
	json_object_object_add(o, "mem", json_object_new_int64((int64_t)u->mem));
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)u->submit_us));
	if (u->assigned_us)
		json_object_object_add(o, "assigned_us",
				       json_object_new_int64((int64_t)u->assigned_us));
	if (u->argv) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < u->argc; i++)
			json_object_array_add(a, json_object_new_string(u->argv[i]));
		json_object_object_add(o, "argv", a);
	}
	v = strdup(fleet_jstr(o));
	json_object_put(o);
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->n_pend; i++)
		if (f->pend[i].id == u->id) { /* the newest state replaces an unwritten one */
			free(f->pend[i].value);
			f->pend[i].value = v;
			f->pend[i].final = strcmp(u->state, "running") != 0;
			if (f->pend[i].final)
				fleet_kick(f);
			return 0;
		}
	n = realloc(f->pend, (f->n_pend + 1) * sizeof(*n));
	if (!n) {
		free(v);
		return -ENOMEM;
	}
	f->pend = n;
	f->pend[f->n_pend++] = (struct pending){u->id, v, strcmp(u->state, "running") != 0};
	/* An end frees capacity (the assignment goes with it): written at once. "running"
	 * waits for the next tick (at most fleet_period_usec), so a short task's end replaces it
	 * and one write says both. */
	if (f->pend[f->n_pend - 1].final)
		fleet_kick(f);
	return 0;
}

static struct srev *srev_find(struct fleet *f, uint64_t id)
{
	for (size_t i = 0; i < f->n_srev; i++)
		if (f->srev[i].id == id)
			return &f->srev[i];
	return NULL;
}

void fleet_status_rev_set(struct fleet *f, uint64_t id, int64_t rev)
{
	struct srev *k = srev_find(f, id);

	if (!f->event)
		return;
	if (k && !rev) {
		*k = f->srev[--f->n_srev];
		return;
	}
	if (!k && rev) {
		k = reallocarray(f->srev, f->n_srev + 1, sizeof(*k));
		if (!k)
			return; /* then the next write reads first */
		f->srev = k;
		k = &f->srev[f->n_srev++];
		k->id = id;
	}
	if (k)
		k->rev = rev;
}

/* Event-driven mode: the write compared on the revision of our own last write, no read first.
 * 1 written, 0 not (unknown revision, or status/<id> changed: the placer's "lost"), -errno. */
static int flush_known(struct fleet *f, struct pending *p, const char *skey, const char *akey)
{
	struct srev *k = srev_find(f, p->id);
	struct etcd_cmp c;
	struct etcd_op ops[2] = {{ETCD_OP_PUT, skey, p->value, strlen(p->value), 0},
				 {ETCD_OP_DELETE, akey, NULL, 0, 0}};
	int64_t rev = 0;
	int r;

	if (!k)
		return 0;
	c = (struct etcd_cmp){skey, ETCD_CMP_MOD, k->rev};
	r = etcd_txn(f->e, &c, 1, ops, p->final ? 2 : 1, &rev);
	if (r == 1)
		fleet_status_rev_set(f, p->id, p->final ? 0 : rev);
	return r;
}

/* Event-driven mode: every pending write whose status revision we know, in one transaction
 * (each compared on that revision); all or nothing. 1 written (and dropped from the list), 0
 * not (then each goes the single way), -errno unknown outcome. */
#define FLUSH_BATCH (ETCD_TXN_MAX / 2) /* up to two ops each */
static int flush_batch(struct fleet *f)
{
	struct etcd_cmp c[FLUSH_BATCH];
	struct etcd_op ops[2 * FLUSH_BATCH];
	char skeys[FLUSH_BATCH][128], akeys[FLUSH_BATCH][192];
	size_t idx[FLUSH_BATCH], n = 0, no = 0;
	int64_t rev = 0;
	int r;

	for (size_t i = 0; i < f->n_pend && n < FLUSH_BATCH; i++) {
		struct pending *p = &f->pend[i];
		struct srev *k = srev_find(f, p->id);
		if (!k)
			continue;
		fleet_key_id(skeys[n], sizeof(skeys[n]), K_STATUS, p->id);
		fleet_key_assign(akeys[n], sizeof(akeys[n]), f->node, p->id);
		c[n] = (struct etcd_cmp){skeys[n], ETCD_CMP_MOD, k->rev};
		ops[no++] = (struct etcd_op){ETCD_OP_PUT, skeys[n], p->value, strlen(p->value), 0};
		if (p->final)
			ops[no++] = (struct etcd_op){ETCD_OP_DELETE, akeys[n], NULL, 0, 0};
		idx[n++] = i;
	}
	if (n < 2)
		return 0;
	(void)fleet_keepalive_if_due(f);
	r = etcd_txn(f->e, c, n, ops, no, &rev);
	if (r != 1)
		return r;
	/* from the back, so the indexes still hold while entries are swapped out */
	for (size_t k = n; k-- > 0;) {
		struct pending *p = &f->pend[idx[k]];
		fleet_status_rev_set(f, p->id, p->final ? 0 : rev);
		free(p->value);
		*p = f->pend[--f->n_pend];
	}
	return 1;
}

int fleet_flush_pending(struct fleet *f)
{
	if (f->event) {
		int r = flush_batch(f);
		if (r < 0)
			return fleet_etcd_failed(f, "task status", r);
	}
	for (size_t i = 0; i < f->n_pend;) {
		struct pending *p = &f->pend[i];
		char skey[128], akey[192];
		struct etcd_op ops[2];
		int64_t rev = 0;
		int r;

		struct etcd_kv st = {0};
		struct etcd_cmp c;
		size_t nc = 0;
		bool lost = false;

		(void)fleet_keepalive_if_due(f);
		fleet_key_id(skey, sizeof(skey), K_STATUS, p->id);
		fleet_key_assign(akey, sizeof(akey), f->node, p->id);
		r = flush_known(f, p, skey, akey);
		if (r < 0)
			return fleet_etcd_failed(f, "task status", r);
		if (r == 1) {
			free(p->value);
			f->pend[i] = f->pend[--f->n_pend];
			continue;
		}
		/* The placer's verdict "lost" (we were deemed dead) stays: a restarted node that
		 * finds the task ended must not turn it back into "exited". */
		r = etcd_get(f->e, skey, &st);
		if (r >= 0) {
			json_object *o = json_tokener_parse(st.value);
			lost = o && !strcmp(fleet_jget_s(o, "state"), "lost");
			json_object_put(o);
			c = (struct etcd_cmp){skey, ETCD_CMP_MOD, st.mod_revision};
			nc = 1;
			etcd_kv_done(&st);
		} else if (r != -ENOENT) {
			return fleet_etcd_failed(f, "task status", r);
		} else {
			c = (struct etcd_cmp){skey, ETCD_CMP_CREATE, 0};
			nc = 1;
		}
		ops[0] = (struct etcd_op){ETCD_OP_PUT, skey, p->value, strlen(p->value), 0};
		ops[1] = (struct etcd_op){ETCD_OP_DELETE, akey, NULL, 0, 0};
		/* Compared on the revision read, so a "lost" written in between is not overwritten;
		 * a failed compare or an unknown outcome is simply tried again next time. */
		if (lost)
			r = etcd_txn(f->e, NULL, 0, &ops[1], 1, NULL);
		else
			r = etcd_txn(f->e, &c, nc, ops, p->final ? 2 : 1, &rev);
		if (r == 1)
			fleet_status_rev_set(f, p->id, lost || p->final ? 0 : rev);
		if (r == 0) {
			i++;
			continue;
		}
		if (r < 0) {
			return fleet_etcd_failed(f, "task status", r);
		}
		free(p->value);
		f->pend[i] = f->pend[--f->n_pend];
	}
	return 0;
}

/* --- node: lease, devices, assignments -------------------------------------------------- */

/* cpu/mem allocated and used, from a device as the daemon or etcd shows it. */
void fleet_copy_alloc_used(json_object *to, json_object *from)
{
	json_object_object_add(to, "cpu_alloc",
			       json_object_new_double(fleet_jget_d(from, "cpu_alloc")));
	json_object_object_add(to, "mem_alloc",
			       json_object_new_int64(fleet_jget_i(from, "mem_alloc")));
	json_object_object_add(to, "cpu_used",
			       json_object_new_double(fleet_jget_d(from, "cpu_used")));
	json_object_object_add(to, "mem_used",
			       json_object_new_int64(fleet_jget_i(from, "mem_used")));
}

/* Event-driven mode: whether device d says something its last publication did not. Use
 * within PUBLISH_DEADBAND of capacity is the same: a node's measured use moves every second,
 * and 100 nodes' puts are 100 fsync'd writes a second on the fleet's etcd. */
static bool pub_news(struct fleet *f, json_object *d, struct pubdev **ret)
{
	struct pubdev v = {.cpu = fleet_jget_d(d, "cpu_total"),
			   .mem = (double)fleet_jget_i(d, "mem_total"),
			   .cpu_alloc = fleet_jget_d(d, "cpu_alloc"),
			   .mem_alloc = (double)fleet_jget_i(d, "mem_alloc"),
			   .cpu_used = fleet_jget_d(d, "cpu_used"),
			   .mem_used = (double)fleet_jget_i(d, "mem_used"),
			   .running = (double)fleet_jget_i(d, "running")};
	struct pubdev *p = NULL;
	bool news;

	snprintf(v.name, sizeof(v.name), "%s", fleet_jget_s(d, "name"));
	for (size_t i = 0; i < f->n_pub && !p; i++)
		if (!strcmp(f->pub[i].name, v.name))
			p = &f->pub[i];
	if (!p) {
		p = reallocarray(f->pub, f->n_pub + 1, sizeof(*p));
		if (!p) {
			*ret = NULL;
			return true;
		}
		f->pub = p;
		p = &f->pub[f->n_pub++];
		*p = v;
		p->cpu = -1; /* never published */
	}
	news = p->cpu != v.cpu || p->mem != v.mem || p->cpu_alloc != v.cpu_alloc ||
	       p->mem_alloc != v.mem_alloc || p->running != v.running ||
	       fabs(p->cpu_used - v.cpu_used) > PUBLISH_DEADBAND * v.cpu ||
	       fabs(p->mem_used - v.mem_used) > PUBLISH_DEADBAND * v.mem;
	*p = news ? v : *p;
	*ret = p;
	return news;
}

int fleet_publish(struct fleet *f)
{
	json_object *arr = f->h.devices(f->h.ctx);
	uint64_t now = now_usec();
	bool full = !f->event || !f->last_full_publish_us ||
		    now - f->last_full_publish_us >= PUBLISH_FULL_US;
	int r = 0;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(arr) && r >= 0; i++) {
		json_object *d = json_object_array_get_idx(arr, i), *o;
		struct pubdev *p = NULL;
		char key[256];
		if (f->event && !pub_news(f, d, &p) && !full)
			continue;
		o = json_object_new_object();
		snprintf(key, sizeof(key), K_NODES "%s/devices/%s", f->node,
			 fleet_jget_s(d, "name"));
		json_object_object_add(o, "cpu",
				       json_object_new_double(fleet_jget_d(d, "cpu_total")));
		json_object_object_add(o, "mem",
				       json_object_new_int64(fleet_jget_i(d, "mem_total")));
		json_object_object_add(o, "cpus", json_object_new_string(fleet_jget_s(d, "cpus")));
		fleet_copy_alloc_used(o, d);
		json_object_object_add(o, "running",
				       json_object_new_int64(fleet_jget_i(d, "running")));
		{
			json_object *u;
			if (json_object_object_get_ex(d, "tasks_used", &u) &&
			    json_object_is_type(u, json_type_object))
				json_object_object_add(o, "tasks_used", json_object_get(u));
		}
		json_object_object_add(o, "time_us",
				       json_object_new_int64((int64_t)fleet_realtime_us()));
		r = etcd_put(f->e, key, fleet_jstr(o), strlen(fleet_jstr(o)), f->lease, NULL);
		json_object_put(o);
		if (r < 0 && p)
			p->cpu = -1; /* not said after all: say it next time */
	}
	json_object_put(arr);
	if (r >= 0 && full)
		f->last_full_publish_us = now;
	return r;
}

/* Keepalive every TTL/3. Also called between the requests of a long burst of work (many
 * assignments, placements or status writes), so that work never costs the lease. -ENOENT
 * when the lease is gone: the node joins again on the next tick and is no longer placer
 * (its state is dropped by the timer, not here, as a placer round may be running). */
void fleet_drop_election_lease(struct fleet *f)
{
	if (!f->elease)
		return;
	(void)etcd_lease_revoke(f->e, f->elease); /* deletes the election key if it is ours */
	f->elease = 0;
}

int fleet_keepalive_if_due(struct fleet *f)
{
	uint64_t now = now_usec();
	int r;

	if (f->elease && now - f->last_ekeepalive_us >= (uint64_t)f->ettl * 1000000u / 3) {
		r = etcd_lease_keepalive(f->e, f->elease, NULL);
		if (r == -ENOENT) {
			f->elease = 0;
			if (f->placer) {
				fleet_note(
				    f, LOG_WARNING, r,
				    "fleet: election lease expired; %s is no longer the placer",
				    f->node);
				f->placer = false; /* state dropped by the timer, as below */
			}
		} else if (r >= 0)
			f->last_ekeepalive_us = now;
	}
	if (!f->lease || now - f->last_keepalive_us < (uint64_t)f->ttl * 1000000u / 3)
		return 0;
	r = etcd_lease_keepalive(f->e, f->lease, NULL);
	if (r == -ENOENT) {
		fleet_note(f, LOG_WARNING, r, "fleet: lease %" PRId64 " expired; joining again%s",
			   f->lease, f->placer ? "; no longer the placer" : "");
		f->lease = 0;
		f->placer = false;
		fleet_drop_election_lease(f);
		/* re-read assignments after joining again; not freed here, as this may run from
		 * the watch's own callback */
		f->rewatch = true;
		return r;
	}
	if (r < 0)
		return fleet_etcd_failed(f, "lease keepalive", r);
	fleet_etcd_ok(f);
	f->last_keepalive_us = now;
	return 0;
}
