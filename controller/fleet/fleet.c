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
#include "fleet.h"
#include "jsonget.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "etcd.h"
#include "policy.h"
#include "util.h"

#define K_NODES	 FLEET_PREFIX "nodes/"
#define K_PLACER FLEET_PREFIX "placer"
#define K_QUEUE	 FLEET_PREFIX "queue/"
#define K_ASSIGN FLEET_PREFIX "assign/"
#define K_STATUS FLEET_PREFIX "status/"
#define K_SEQ	 FLEET_PREFIX "seq"

#define PUBLISH_US	1000000u /* device usage refresh */
#define ELECT_US	250000u	 /* how often a non-placer looks for a free placer key */
#define RESCAN_US	2000000u /* full re-read of this node's assignments besides the watch */
#define SUBMIT_RETRY_US 5000000u /* a submission retries transient etcd errors this long */

struct pdev {
	char node[65], name[65];
	bool live, seen, added;
	double cpu, mem;	     /* capacity */
	double used_cpu, used_mem;   /* as the node measured */
	double alloc_cpu, alloc_mem; /* demands of assignments, from the assign range */
};

struct ptask {
	uint64_t id;
	bool placed, in_policy, seen;
	int64_t mod_rev; /* of the queue entry (waiting) */
	size_t dev;
	double cpu;
	uint64_t mem;
	char *spec; /* the queue entry's value */
};

struct pqueue {
	char name[65];
	uint32_t id;
};

struct placer {
	struct policy *pol;
	int64_t rev; /* create_revision of our /edgeslice/placer key: the fencing token */
	struct pdev *devs;
	size_t n_devs;
	struct ptask *tasks;
	size_t n_tasks;
	struct pqueue *queues;
	size_t n_queues;
	uint64_t t0_us;
};

struct pending {
	uint64_t id;
	char *value;
	bool final; /* also delete the assignment */
};

struct fleet {
	struct etcd *e;
	struct fleet_host h;
	char node[65];
	char policy[16];
	uint64_t seed;
	bool overcommit;
	bool no_placer;
	unsigned ttl;
	unsigned period_ms;
	sd_event_source *timer;
	int64_t lease;
	/* The election key's own, shorter lease (TTL/2, at least etcd's minimum): a dead
	 * placer's key goes within about half a node TTL, so the next placer is elected within
	 * one TTL of the kill, although the node's own lease may still have most of its TTL. */
	int64_t elease, ettl;
	uint64_t last_keepalive_us, last_ekeepalive_us, last_publish_us, last_elect_us,
	    last_rescan_us;
	struct etcd_watch *w;
	bool placer;
	struct placer pl;
	struct pending *pend;
	size_t n_pend;
	bool etcd_down; /* an error was logged; the next success is logged too */
};

static void flog(struct fleet *f, int prio, const char *fmt, ...) _printf_(3, 4);
static void flog(struct fleet *f, int prio, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	str_one_line(buf);
	if (f->h.log)
		f->h.log(f->h.ctx, prio, buf);
}

/* Logs an etcd failure once until etcd answers again. */
static int etcd_failed(struct fleet *f, const char *what, int r)
{
	if (!f->etcd_down)
		flog(f, LOG_WARNING, "fleet: %s: %s", what, etcd_last_error(f->e));
	f->etcd_down = true;
	return r;
}

static void etcd_ok(struct fleet *f)
{
	if (f->etcd_down)
		flog(f, LOG_INFO, "fleet: etcd answers again (%s)", etcd_endpoint(f->e));
	f->etcd_down = false;
}

static int keepalive_if_due(struct fleet *f);

static uint64_t realtime_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *jstr(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
}

static double jget_d(json_object *o, const char *k)
{
	return jsonget_double(o, k, 0);
}
static int64_t jget_i(json_object *o, const char *k)
{
	return jsonget_int64(o, k, 0);
}
static const char *jget_s(json_object *o, const char *k)
{
	return jsonget_string(o, k, "");
}

/* --- pure helpers ------------------------------------------------------------------------- */

static int copy_seg(const char *s, size_t len, char *dst, size_t size)
{
	if (len == 0 || len >= size || memchr(s, '/', len))
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

int fleet_parse_device_key(const char *key, char *node, size_t nsz, char *dev, size_t dsz)
{
	const char *p, *s;

	if (strncmp(key, K_NODES, strlen(K_NODES)))
		return -EINVAL;
	p = key + strlen(K_NODES);
	s = strstr(p, "/devices/");
	if (!s || copy_seg(p, (size_t)(s - p), node, nsz) < 0)
		return -EINVAL;
	s += strlen("/devices/");
	return copy_seg(s, strlen(s), dev, dsz);
}

int fleet_parse_assign_key(const char *key, char *node, size_t nsz, uint64_t *ret_id)
{
	const char *p, *s;
	uint64_t id;

	if (strncmp(key, K_ASSIGN, strlen(K_ASSIGN)))
		return -EINVAL;
	p = key + strlen(K_ASSIGN);
	s = strchr(p, '/');
	if (!s || copy_seg(p, (size_t)(s - p), node, nsz) < 0)
		return -EINVAL;
	if (parse_u64(s + 1, &id) < 0 || id == 0)
		return -EINVAL;
	*ret_id = id;
	return 0;
}

void fleet_task_done(struct fleet_task *t)
{
	strv_free(t->argv, t->argc);
	t->argv = NULL;
	t->argc = 0;
}

int fleet_parse_task(const char *json, struct fleet_task *ret, char *err, size_t errsz)
{
	json_object *o = json_tokener_parse(json), *v, *a;
	struct fleet_task t = {0};
	int r = -EINVAL;
	size_t n;

#define BAD(...)                                                                                   \
	do {                                                                                       \
		snprintf(err, errsz, __VA_ARGS__);                                                 \
		goto out;                                                                          \
	} while (0)
	if (!o || !json_object_is_type(o, json_type_object))
		BAD("not a JSON object");
	if (!json_object_object_get_ex(o, "id", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		BAD("id: missing or not a positive integer");
	t.id = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "queue", &v) ||
	    !json_object_is_type(v, json_type_string) || !*json_object_get_string(v) ||
	    strlen(json_object_get_string(v)) >= sizeof(t.queue))
		BAD("queue: missing or invalid");
	snprintf(t.queue, sizeof(t.queue), "%s", json_object_get_string(v));
	if (!json_object_object_get_ex(o, "cpu", &v) ||
	    !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)) ||
	    !(json_object_get_double(v) > 0) || !isfinite(json_object_get_double(v)))
		BAD("cpu: missing or not > 0");
	t.cpu = json_object_get_double(v);
	if (!json_object_object_get_ex(o, "mem", &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) <= 0)
		BAD("mem: missing or not a positive integer");
	t.mem = (uint64_t)json_object_get_int64(v);
	if (!json_object_object_get_ex(o, "argv", &a) || !json_object_is_type(a, json_type_array) ||
	    (n = json_object_array_length(a)) == 0 || n > 256)
		BAD("argv: missing or invalid");
	t.argv = calloc(n + 1, sizeof(char *));
	if (!t.argv) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		v = json_object_array_get_idx(a, i);
		if (!json_object_is_type(v, json_type_string))
			BAD("argv[%zu]: not a string", i);
		t.argv[i] = strdup(json_object_get_string(v));
		if (!t.argv[i]) {
			r = -ENOMEM;
			goto out;
		}
		t.argc = i + 1;
	}
	if (json_object_object_get_ex(o, "device", &v)) {
		if (!json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) >= sizeof(t.device))
			BAD("device: not a device name");
		snprintf(t.device, sizeof(t.device), "%s", json_object_get_string(v));
	}
	t.submit_us = (uint64_t)jget_i(o, "submit_us");
	t.cancel = json_object_object_get_ex(o, "cancel", &v) && json_object_get_boolean(v);
	*ret = t;
	memset(&t, 0, sizeof(t));
	r = 0;
out:
#undef BAD
	fleet_task_done(&t);
	json_object_put(o);
	return r;
}

/* --- keys ------------------------------------------------------------------------------- */

static void key_id(char *buf, size_t size, const char *prefix, uint64_t id)
{
	snprintf(buf, size, "%s%016" PRIu64, prefix, id);
}

static void key_assign(char *buf, size_t size, const char *node, uint64_t id)
{
	snprintf(buf, size, K_ASSIGN "%s/%016" PRIu64, node, id);
}

/* --- setup ------------------------------------------------------------------------------ */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata);

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

int fleet_new(const struct fleet_params *p, const struct fleet_host *h, sd_event *ev,
	      struct fleet **ret)
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
	if (ev) {
		r = sd_event_add_time_relative(ev, &f->timer, CLOCK_MONOTONIC,
					       (uint64_t)f->period_ms * 1000u, 1000, on_timer, f);
		if (r < 0)
			goto fail;
		(void)sd_event_source_set_enabled(f->timer, SD_EVENT_ON);
	}
	*ret = f;
	return 0;
fail:
	fleet_free(f);
	return r;
}

static void placer_reset(struct placer *pl)
{
	policy_free(pl->pol);
	for (size_t i = 0; i < pl->n_tasks; i++)
		free(pl->tasks[i].spec);
	free(pl->tasks);
	free(pl->devs);
	free(pl->queues);
	memset(pl, 0, sizeof(*pl));
}

static void flush_pending(struct fleet *f);

static void drop_election_lease(struct fleet *f);

void fleet_free(struct fleet *f)
{
	if (!f)
		return;
	/* Task states not yet written (a drained daemon exits right after its last task):
	 * one more try, else the placer would report them lost once the lease lapses. */
	if (f->e && f->n_pend)
		flush_pending(f);
	sd_event_source_disable_unref(f->timer);
	if (f->e)
		drop_election_lease(f); /* a stopping placer hands over at once */
	etcd_watch_free(f->w);
	placer_reset(&f->pl);
	for (size_t i = 0; i < f->n_pend; i++)
		free(f->pend[i].value);
	free(f->pend);
	etcd_free(f->e);
	free(f);
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
static bool retry(int r, uint64_t deadline)
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
	while (r < 0 && retry(r, deadline));
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
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)realtime_us()));
	json_object_object_add(o, "submitted_on", json_object_new_string(f->node));
	key_id(key, sizeof(key), K_QUEUE, (uint64_t)rev);
	for (;;) {
		struct etcd_kv kv = {0};
		r = etcd_txn_cas(f->e, key, 0, jstr(o), strlen(jstr(o)), 0, &cur);
		if (r >= 0 || !retry(r, deadline))
			break;
		/* Outcome unknown: the key is ours alone (a fresh revision), so its presence
		 * says whether the write applied; absent, writing it again is safe. */
		do
			r = etcd_get(f->e, key, &kv);
		while (r < 0 && r != -ENOENT && retry(r, deadline));
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
	return 0;
}

/* --- task status from this node ---------------------------------------------------------- */

void fleet_task_update(struct fleet *f, const struct fleet_update *u)
{
	json_object *o = json_object_new_object();
	struct pending *n;
	char *v;

	if (!o)
		return;
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
	if (u->argv) {
		json_object *a = json_object_new_array();
		for (size_t i = 0; i < u->argc; i++)
			json_object_array_add(a, json_object_new_string(u->argv[i]));
		json_object_object_add(o, "argv", a);
	}
	v = strdup(jstr(o));
	json_object_put(o);
	if (!v)
		return;
	for (size_t i = 0; i < f->n_pend; i++)
		if (f->pend[i].id == u->id) { /* the newest state replaces an unwritten one */
			free(f->pend[i].value);
			f->pend[i].value = v;
			f->pend[i].final = strcmp(u->state, "running") != 0;
			return;
		}
	n = realloc(f->pend, (f->n_pend + 1) * sizeof(*n));
	if (!n) {
		free(v);
		return;
	}
	f->pend = n;
	f->pend[f->n_pend++] = (struct pending){u->id, v, strcmp(u->state, "running") != 0};
}

static void flush_pending(struct fleet *f)
{
	for (size_t i = 0; i < f->n_pend;) {
		struct pending *p = &f->pend[i];
		char skey[128], akey[192];
		struct etcd_op ops[2];
		int r;

		struct etcd_kv st = {0};
		struct etcd_cmp c;
		size_t nc = 0;
		bool lost = false;

		(void)keepalive_if_due(f);
		key_id(skey, sizeof(skey), K_STATUS, p->id);
		key_assign(akey, sizeof(akey), f->node, p->id);
		/* The placer's verdict "lost" (we were deemed dead) stays: a restarted node that
		 * finds the task ended must not turn it back into "exited". */
		r = etcd_get(f->e, skey, &st);
		if (r >= 0) {
			json_object *o = json_tokener_parse(st.value);
			lost = o && !strcmp(jget_s(o, "state"), "lost");
			json_object_put(o);
			c = (struct etcd_cmp){skey, ETCD_CMP_MOD, st.mod_revision};
			nc = 1;
			etcd_kv_done(&st);
		} else if (r != -ENOENT) {
			etcd_failed(f, "task status", r);
			return;
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
			r = etcd_txn(f->e, &c, nc, ops, p->final ? 2 : 1, NULL);
		if (r == 0) {
			i++;
			continue;
		}
		if (r < 0) {
			etcd_failed(f, "task status", r);
			return;
		}
		free(p->value);
		f->pend[i] = f->pend[--f->n_pend];
	}
}

/* --- node: lease, devices, assignments -------------------------------------------------- */

/* cpu/mem allocated and used, from a device as the daemon or etcd shows it. */
static void copy_alloc_used(json_object *to, json_object *from)
{
	json_object_object_add(to, "cpu_alloc", json_object_new_double(jget_d(from, "cpu_alloc")));
	json_object_object_add(to, "mem_alloc", json_object_new_int64(jget_i(from, "mem_alloc")));
	json_object_object_add(to, "cpu_used", json_object_new_double(jget_d(from, "cpu_used")));
	json_object_object_add(to, "mem_used", json_object_new_int64(jget_i(from, "mem_used")));
}

static int publish(struct fleet *f)
{
	json_object *arr = f->h.devices(f->h.ctx);
	int r = 0;

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(arr) && r >= 0; i++) {
		json_object *d = json_object_array_get_idx(arr, i), *o = json_object_new_object();
		char key[256];
		snprintf(key, sizeof(key), K_NODES "%s/devices/%s", f->node, jget_s(d, "name"));
		json_object_object_add(o, "cpu", json_object_new_double(jget_d(d, "cpu_total")));
		json_object_object_add(o, "mem", json_object_new_int64(jget_i(d, "mem_total")));
		json_object_object_add(o, "cpus", json_object_new_string(jget_s(d, "cpus")));
		copy_alloc_used(o, d);
		json_object_object_add(o, "running", json_object_new_int64(jget_i(d, "running")));
		{
			json_object *u;
			if (json_object_object_get_ex(d, "tasks_used", &u) &&
			    json_object_is_type(u, json_type_object))
				json_object_object_add(o, "tasks_used", json_object_get(u));
		}
		json_object_object_add(o, "time_us", json_object_new_int64((int64_t)realtime_us()));
		r = etcd_put(f->e, key, jstr(o), strlen(jstr(o)), f->lease, NULL);
		json_object_put(o);
	}
	json_object_put(arr);
	return r;
}

/* Keepalive every TTL/3. Also called between the requests of a long burst of work (many
 * assignments, placements or status writes), so that work never costs the lease. -ENOENT
 * when the lease is gone: the node joins again on the next tick and is no longer placer
 * (its state is dropped by the timer, not here, as a placer round may be running). */
static void drop_election_lease(struct fleet *f)
{
	if (!f->elease)
		return;
	(void)etcd_lease_revoke(f->e, f->elease); /* deletes the election key if it is ours */
	f->elease = 0;
}

static int keepalive_if_due(struct fleet *f)
{
	uint64_t now = now_usec();
	int r;

	if (f->elease && now - f->last_ekeepalive_us >= (uint64_t)f->ettl * 1000000u / 3) {
		r = etcd_lease_keepalive(f->e, f->elease, NULL);
		if (r == -ENOENT) {
			f->elease = 0;
			if (f->placer) {
				flog(f, LOG_WARNING,
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
		flog(f, LOG_WARNING, "fleet: lease %" PRId64 " expired; joining again%s", f->lease,
		     f->placer ? "; no longer the placer" : "");
		f->lease = 0;
		f->placer = false;
		drop_election_lease(f);
		etcd_watch_free(f->w); /* re-read assignments after joining again */
		f->w = NULL;
		return r;
	}
	if (r < 0)
		return etcd_failed(f, "lease keepalive", r);
	etcd_ok(f);
	f->last_keepalive_us = now;
	return 0;
}

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
	key_id(skey, sizeof(skey), K_STATUS, id);
	json_object_object_del(o, "cancel");
	json_object_object_add(o, "id", json_object_new_int64((int64_t)id));
	json_object_object_add(o, "state", json_object_new_string("cancelled"));
	json_object_object_add(o, "reason", json_object_new_string("cancelled"));
	json_object_object_add(o, "exit_code", json_object_new_int(-1));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)realtime_us()));
	c[0] = (struct etcd_cmp){key, ETCD_CMP_MOD, mod_rev};
	c[1] = (struct etcd_cmp){skey, ETCD_CMP_CREATE, 0};
	ops[0] = (struct etcd_op){ETCD_OP_DELETE, key, NULL, 0, 0};
	ops[1] = (struct etcd_op){ETCD_OP_PUT, skey, jstr(o), strlen(jstr(o)), 0};
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

	key_id(qkey, sizeof(qkey), K_QUEUE, id);
	key_id(skey, sizeof(skey), K_STATUS, id);
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
			op = (struct etcd_op){ETCD_OP_PUT, as.kvs[i].key, jstr(o), strlen(jstr(o)),
					      0};
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
			 o ? jget_s(o, "state") : "ended");
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

/* One assignment of ours: start it unless it was started (or taken back) already. */
static void handle_assignment(struct fleet *f, const struct etcd_kv *kv)
{
	struct fleet_task t = {0};
	struct etcd_kv st = {0};
	char skey[128], err[128];
	int r;

	r = fleet_parse_task(kv->value, &t, err, sizeof(err));
	if (r < 0) {
		flog(f, LOG_ERR, "fleet: %s: bad assignment: %s", kv->key, err);
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
				etcd_failed(f, "cancelling a task", r);
			else if (r == 1)
				flog(f, LOG_INFO,
				     "fleet: task %" PRIu64 " cancelled before its start", t.id);
		}
		goto out;
	}
	if (f->h.known(f->h.ctx, t.id) || keepalive_if_due(f) == -ENOENT)
		goto out;
	key_id(skey, sizeof(skey), K_STATUS, t.id);
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
		key_id(qkey, sizeof(qkey), K_QUEUE, t.id);
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, kv->key, NULL, 0, 0};
		ops[1] = (struct etcd_op){ETCD_OP_PUT, qkey, jstr(o), strlen(jstr(o)), 0};
		r = etcd_txn(f->e, c, 2, ops, 2, NULL);
		json_object_put(o);
		if (r == 1)
			flog(f, LOG_INFO,
			     "fleet: task %" PRIu64 " handed back to the queue (draining)", t.id);
		else if (r < 0)
			etcd_failed(f, "handing back a task", r);
		goto out;
	}
	if (r == -ENOENT) {
		/* Claim the start: only while the assignment is the one we saw and nobody (the
		 * placer re-queueing it after deeming us dead) decided otherwise. */
		json_object *o = json_object_new_object();
		struct etcd_cmp c[2] = {{kv->key, ETCD_CMP_MOD, kv->mod_revision},
					{skey, ETCD_CMP_CREATE, 0}};
		struct etcd_op op;
		json_object_object_add(o, "id", json_object_new_int64((int64_t)t.id));
		json_object_object_add(o, "state", json_object_new_string("starting"));
		json_object_object_add(o, "node", json_object_new_string(f->node));
		json_object_object_add(o, "device", json_object_new_string(t.device));
		op = (struct etcd_op){ETCD_OP_PUT, skey, jstr(o), strlen(jstr(o)), 0};
		r = etcd_txn(f->e, c, 2, &op, 1, NULL);
		json_object_put(o);
		if (r < 0) {
			/* Unknown outcome: the rescan reads status/<id> and decides again. */
			etcd_failed(f, "claiming a start", r);
			goto out;
		}
		if (r == 0)
			goto out;
	} else if (r < 0) {
		etcd_failed(f, "reading a task status", r);
		goto out;
	} else {
		json_object *o = json_tokener_parse(st.value);
		/* "starting" by us with no local record: the claim was written but the spawn,
		 * which always follows a persisted record, never happened. */
		bool ours = o && !strcmp(jget_s(o, "state"), "starting") &&
			    !strcmp(jget_s(o, "node"), f->node);
		json_object_put(o);
		if (!ours)
			goto out;
	}
	etcd_ok(f);
	flog(f, LOG_INFO, "fleet: task %" PRIu64 " (%s) assigned here on %s", t.id, t.queue,
	     t.device);
	r = f->h.start(f->h.ctx, &t);
	if (r < 0) {
		flog(f, LOG_ERR, "fleet: task %" PRIu64 ": cannot start: %s", t.id, strerror(-r));
		/* Without a local record nothing reports it: say so, which also ends the
		 * assignment (else the rescan would try again every time). */
		if (!f->h.known(f->h.ctx, t.id)) {
			struct fleet_update u = {
			    .id = t.id,
			    .state = "failed",
			    .device = t.device,
			    .exit_code = -1,
			    .reason = r == -ENODEV ? "no-such-device" : "start-failed",
			    .end_us = realtime_us(),
			    .queue = t.queue,
			    .cpu = t.cpu,
			    .mem = t.mem,
			    .argv = t.argv,
			    .argc = t.argc,
			    .submit_us = t.submit_us,
			};
			fleet_task_update(f, &u);
		}
	}
out:
	etcd_kv_done(&st);
	fleet_task_done(&t);
}

static int on_watch_event(const struct etcd_event *ev, void *userdata)
{
	struct fleet *f = userdata;
	if (ev->type == ETCD_EVENT_PUT)
		handle_assignment(f, &ev->kv);
	return 0;
}

static int rescan(struct fleet *f, int64_t *ret_rev)
{
	struct etcd_kvs kvs = {0};
	char prefix[128];
	int r;

	snprintf(prefix, sizeof(prefix), K_ASSIGN "%s/", f->node);
	r = etcd_range(f->e, prefix, &kvs);
	if (r < 0)
		return etcd_failed(f, "reading assignments", r);
	for (size_t i = 0; i < kvs.n; i++)
		handle_assignment(f, &kvs.kvs[i]);
	if (ret_rev)
		*ret_rev = kvs.revision;
	etcd_kvs_done(&kvs);
	return 0;
}

static void node_step(struct fleet *f, uint64_t now)
{
	int r;

	if (!f->lease) {
		int64_t ttl;
		r = etcd_lease_grant(f->e, f->ttl, &f->lease, &ttl);
		if (r < 0) {
			etcd_failed(f, "lease grant", r);
			f->lease = 0;
			return;
		}
		etcd_ok(f);
		flog(f, LOG_INFO,
		     "fleet: node %s joined (lease %" PRId64 ", TTL %" PRId64 " s, via %s)",
		     f->node, f->lease, ttl, etcd_endpoint(f->e));
		f->last_keepalive_us = now;
		f->last_publish_us = 0;
	} else if (keepalive_if_due(f) == -ENOENT)
		return;
	if (!f->last_publish_us || now - f->last_publish_us >= PUBLISH_US) {
		r = publish(f);
		if (r < 0)
			etcd_failed(f, "publishing devices", r);
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
		if (r < 0) {
			etcd_failed(f, "watching assignments", r);
			return;
		}
		f->last_rescan_us = now;
	}
	r = etcd_watch_poll(f->w, 0, on_watch_event, f);
	if (r == -ESTALE || r == -ECANCELED) {
		etcd_watch_free(f->w);
		f->w = NULL;
	} else if (r < 0)
		etcd_failed(f, "assignment watch", r);
	if (now - f->last_rescan_us >= RESCAN_US) {
		(void)rescan(f, NULL);
		f->last_rescan_us = now;
	}
	flush_pending(f);
}

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
			return etcd_failed(f, "placer election", r);
	}
	snprintf(val, sizeof(val), "{\"node\":\"%s\"}", f->node);
	if (!f->elease) {
		int64_t want = f->ttl / 2 > 1 ? f->ttl / 2 : 1;
		r = etcd_lease_grant(f->e, want, &f->elease, &f->ettl);
		if (r < 0) {
			f->elease = 0;
			return etcd_failed(f, "placer election lease", r);
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
		drop_election_lease(f); /* lost (or unknown): no lease to keep alive meanwhile */
		return r < 0 ? etcd_failed(f, "placer election", r) : 0;
	}
	placer_reset(&f->pl);
	struct policy_params pp = {.seed = f->seed, .reconcile_period_s = 10};
	if (policy_kind_from_name(f->policy, &pp.kind) < 0 || policy_new(&pp, &f->pl.pol) < 0) {
		flog(f, LOG_ERR, "fleet: placer: cannot create policy %s", f->policy);
		(void)etcd_txn_cad(f->e, K_PLACER, rev);
		drop_election_lease(f);
		return -EINVAL;
	}
	f->pl.rev = rev;
	f->pl.t0_us = now_usec();
	f->placer = true;
	flog(f, LOG_INFO, "fleet: %s is the placer now (revision %" PRId64 ", policy %s)", f->node,
	     rev, f->policy);
	return 1;
}

static void step_down(struct fleet *f, const char *why)
{
	flog(f, LOG_WARNING, "fleet: %s is no longer the placer: %s", f->node, why);
	f->placer = false;
	drop_election_lease(f);
	placer_reset(&f->pl);
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

	key_id(skey, sizeof(skey), K_STATUS, id);
	key_id(qkey, sizeof(qkey), K_QUEUE, id);
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
		ops[1] = (struct etcd_op){ETCD_OP_PUT, qkey, jstr(o), strlen(jstr(o)), 0};
		r = etcd_txn(f->e, c, 3, ops, 2, NULL);
		what = "re-queued";
	} else if (r >= 0) {
		json_object *s = json_tokener_parse(st.value);
		const char *state = s ? jget_s(s, "state") : "";
		c[2] = (struct etcd_cmp){skey, ETCD_CMP_MOD, st.mod_revision};
		ops[0] = (struct etcd_op){ETCD_OP_DELETE, akv->key, NULL, 0, 0};
		if (s && (!strcmp(state, "starting") || !strcmp(state, "running"))) {
			json_object_object_add(s, "state", json_object_new_string("lost"));
			json_object_object_add(s, "reason", json_object_new_string("node-lost"));
			json_object_object_add(s, "end_us",
					       json_object_new_int64((int64_t)realtime_us()));
			o = s;
			ops[1] = (struct etcd_op){ETCD_OP_PUT, skey, jstr(o), strlen(jstr(o)), 0};
			r = etcd_txn(f->e, c, 3, ops, 2, NULL);
			what = "lost";
		} else {
			json_object_put(s);
			r = etcd_txn(f->e, c, 3, ops, 1, NULL);
			what = "cleaned up";
		}
	} else {
		etcd_failed(f, "reading a task status", r);
		return;
	}
	if (r == 1)
		flog(f, LOG_WARNING, "fleet: node %s is gone: task %" PRIu64 " %s", node, id, what);
	else if (r < 0)
		etcd_failed(f, "handling a lost node", r);
	json_object_put(o);
	etcd_kv_done(&st);
}

static void placer_step(struct fleet *f)
{
	struct placer *pl = &f->pl;
	struct etcd_kvs nodes = {0}, assign = {0}, queue = {0};
	struct policy_placement pp;
	int r;

	r = etcd_range(f->e, K_NODES, &nodes);
	if (r >= 0)
		r = etcd_range(f->e, K_ASSIGN, &assign);
	if (r >= 0)
		r = etcd_range(f->e, K_QUEUE, &queue);
	if (r < 0) {
		etcd_failed(f, "placer read", r);
		goto out;
	}
	/* 1. devices: every published one is live; the rest are dead */
	for (size_t i = 0; i < pl->n_devs; i++)
		pl->devs[i].seen = false;
	for (size_t i = 0; i < nodes.n; i++) {
		char node[65], name[65];
		json_object *o;
		struct pdev *d;
		size_t di;
		if (fleet_parse_device_key(nodes.kvs[i].key, node, sizeof(node), name,
					   sizeof(name)) < 0 ||
		    !(o = json_tokener_parse(nodes.kvs[i].value)))
			continue;
		d = pdev_get(pl, node, name, &di);
		if (d) {
			d->cpu = jget_d(o, "cpu");
			d->mem = (double)jget_i(o, "mem");
			d->used_cpu = jget_d(o, "cpu_used");
			d->used_mem = (double)jget_i(o, "mem_used");
			d->seen = true;
			/* Capacity as first published; later changes (0 while draining) reach the
			 * policy through the free capacity below. */
			if (!d->added &&
			    policy_add_device(pl->pol, (uint32_t)di,
					      (struct policy_res){d->cpu, d->mem}) >= 0)
				d->added = true;
			if (!d->added) {
				json_object_put(o);
				continue;
			}
			if (!d->live)
				(void)policy_set_device_live(pl->pol, (uint32_t)di, true);
			d->live = true;
		}
		json_object_put(o);
	}
	for (size_t i = 0; i < pl->n_devs; i++) {
		pl->devs[i].alloc_cpu = pl->devs[i].alloc_mem = 0;
		if (!pl->devs[i].seen && pl->devs[i].live) {
			pl->devs[i].live = false;
			(void)policy_set_device_live(pl->pol, (uint32_t)i, false);
		}
	}
	/* 2. assignments: count them on their devices; a dead node's are handled */
	for (size_t i = 0; i < pl->n_tasks; i++)
		pl->tasks[i].seen = false;
	for (size_t i = 0; i < assign.n; i++) {
		char node[65];
		uint64_t id;
		bool live = false;
		struct fleet_task t = {0};
		char err[64];
		struct ptask *pt;
		if (fleet_parse_assign_key(assign.kvs[i].key, node, sizeof(node), &id) < 0 ||
		    fleet_parse_task(assign.kvs[i].value, &t, err, sizeof(err)) < 0)
			continue;
		for (size_t k = 0; k < pl->n_devs && !live; k++)
			live = pl->devs[k].live && !strcmp(pl->devs[k].node, node);
		if (!live) {
			node_gone(f, &assign.kvs[i], id, node);
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
	/* 3. queue entries: new ones enter the policy in id (= submission) order */
	for (size_t i = 0; i < queue.n; i++) {
		struct fleet_task t = {0};
		char err[64];
		struct ptask *pt;
		uint32_t qid;
		if (fleet_parse_task(queue.kvs[i].value, &t, err, sizeof(err)) < 0) {
			flog(f, LOG_ERR, "fleet: %s: dropped: %s", queue.kvs[i].key, err);
			(void)etcd_txn_cad(f->e, queue.kvs[i].key, queue.kvs[i].mod_revision);
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
		pt->spec = strdup(queue.kvs[i].value);
		pt->mod_rev = queue.kvs[i].mod_revision;
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
	/* 4. free capacity as the node does it: total minus max(reserved, measured) */
	for (size_t i = 0; i < pl->n_devs; i++) {
		struct pdev *d = &pl->devs[i];
		double uc = f->overcommit ? d->used_cpu : fmax(d->alloc_cpu, d->used_cpu);
		double um = f->overcommit ? d->used_mem : fmax(d->alloc_mem, d->used_mem);
		if (d->live)
			(void)policy_set_device_free(
			    pl->pol, (uint32_t)i,
			    (struct policy_res){fmax(0, d->cpu - uc), fmax(0, d->mem - um)});
	}
	/* 5. place: each claim is one fenced transaction */
	while (f->placer && policy_next(pl->pol, pl_now(pl), &pp) == 0) {
		struct ptask *pt = ptask_find(pl, pp.inst_id);
		struct pdev *d = pp.dev_id < pl->n_devs ? &pl->devs[pp.dev_id] : NULL;
		char qkey[128], akey[192];
		json_object *o;
		if (keepalive_if_due(f) == -ENOENT) {
			(void)policy_release(pl->pol, pp.inst_id, pl_now(pl));
			break;
		}
		if (!pt || !d || !pt->spec) {
			(void)policy_release(pl->pol, pp.inst_id, pl_now(pl));
			if (pt)
				ptask_remove(pl, pt);
			continue;
		}
		o = json_tokener_parse(pt->spec);
		if (!o) {
			(void)policy_release(pl->pol, pp.inst_id, pl_now(pl));
			ptask_remove(pl, pt);
			continue;
		}
		json_object_object_add(o, "node", json_object_new_string(d->node));
		json_object_object_add(o, "device", json_object_new_string(d->name));
		json_object_object_add(o, "assigned_us",
				       json_object_new_int64((int64_t)realtime_us()));
		key_id(qkey, sizeof(qkey), K_QUEUE, pt->id);
		key_assign(akey, sizeof(akey), d->node, pt->id);
		{
			struct etcd_cmp c[2] = {{K_PLACER, ETCD_CMP_CREATE, pl->rev},
						{qkey, ETCD_CMP_MOD, pt->mod_rev}};
			struct etcd_op ops[2] = {{ETCD_OP_DELETE, qkey, NULL, 0, 0},
						 {ETCD_OP_PUT, akey, jstr(o), strlen(jstr(o)), 0}};
			r = etcd_txn(f->e, c, 2, ops, 2, NULL);
		}
		json_object_put(o);
		if (r == 1) {
			pt->placed = pt->in_policy = true;
			(void)policy_sample(pl->pol, pt->id,
					    (struct policy_res){pt->cpu, (double)pt->mem});
			d->alloc_cpu += pt->cpu;
			d->alloc_mem += (double)pt->mem;
			(void)policy_set_device_free(
			    pl->pol, pp.dev_id,
			    (struct policy_res){fmax(0, d->cpu - fmax(d->alloc_cpu, d->used_cpu)),
						fmax(0, d->mem - fmax(d->alloc_mem, d->used_mem))});
			flog(f, LOG_INFO, "fleet: placed task %" PRIu64 " on %s/%s", pt->id,
			     d->node, d->name);
			continue;
		}
		/* Not applied (or unknown): forget it; the next round reads what etcd holds. */
		(void)policy_release(pl->pol, pt->id, pl_now(pl));
		ptask_remove(pl, pt);
		if (r < 0) {
			etcd_failed(f, "placement claim", r);
			break;
		}
		if (!still_placer(f))
			break;
	}
	etcd_ok(f);
out:
	etcd_kvs_done(&nodes);
	etcd_kvs_done(&assign);
	etcd_kvs_done(&queue);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct fleet *f = userdata;
	uint64_t now = now_usec();

	node_step(f, now);
	if (!f->placer && f->pl.pol)
		placer_reset(&f->pl);
	if (f->lease && !f->placer && !f->no_placer && now - f->last_elect_us >= ELECT_US) {
		f->last_elect_us = now;
		(void)elect(f);
	}
	if (f->placer)
		placer_step(f);
	(void)sd_event_source_set_time_relative(s, (uint64_t)f->period_ms * 1000u);
	return 0;
}

/* --- status view ------------------------------------------------------------------------- */

struct vqueue {
	char name[65];
	double cpu, mem, ucpu, umem, wait;
	unsigned waiting, running, started;
};

static struct vqueue *vq_get(struct vqueue **v, size_t *n, const char *name, double cpu, double mem)
{
	struct vqueue *x;
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i].name, name))
			return &(*v)[i];
	x = realloc(*v, (*n + 1) * sizeof(*x));
	if (!x)
		return NULL;
	*v = x;
	x = &x[(*n)++];
	memset(x, 0, sizeof(*x));
	snprintf(x->name, sizeof(x->name), "%s", name);
	x->cpu = cpu;
	x->mem = mem;
	return x;
}

static json_object *view_task(json_object *spec, const char *state, const char *node,
			      const char *device, json_object *st)
{
	json_object *o = json_object_new_object(), *a = NULL;
	uint64_t now = realtime_us(), submit = (uint64_t)jget_i(spec, "submit_us");
	uint64_t start = st ? (uint64_t)jget_i(st, "start_us") : 0,
		 end = st ? (uint64_t)jget_i(st, "end_us") : 0;
	char dev[140];

	snprintf(dev, sizeof(dev), "%s%s%s", node ? node : "", node && *node ? "/" : "",
		 device ? device : "");
	json_object_object_add(o, "id", json_object_new_int64(jget_i(spec, "id")));
	json_object_object_add(o, "queue", json_object_new_string(jget_s(spec, "queue")));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "node", node && *node ? json_object_new_string(node) : NULL);
	json_object_object_add(o, "device", *dev ? json_object_new_string(dev) : NULL);
	json_object_object_add(o, "cpu_alloc", json_object_new_double(jget_d(spec, "cpu")));
	json_object_object_add(o, "mem_alloc", json_object_new_int64(jget_i(spec, "mem")));
	json_object_object_add(o, "cpu_used", json_object_new_double(0));
	json_object_object_add(o, "mem_used", json_object_new_int64(0));
	json_object_object_add(
	    o, "wait_s",
	    json_object_new_double(submit && (start ? start : now) > submit
				       ? (double)((start ? start : now) - submit) / 1e6
				       : 0));
	json_object_object_add(
	    o, "run_s",
	    json_object_new_double(start ? (double)((end ? end : now) - start) / 1e6 : 0));
	json_object_object_add(o, "pid", json_object_new_int64(st ? jget_i(st, "pid") : 0));
	json_object_object_add(o, "exit_code",
			       json_object_new_int(st ? (int)jget_i(st, "exit_code") : -1));
	json_object_object_add(o, "reason", json_object_new_string(st ? jget_s(st, "reason") : ""));
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)submit));
	json_object_object_add(o, "start_us", json_object_new_int64((int64_t)start));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)end));
	if (json_object_object_get_ex(spec, "argv", &a))
		json_object_object_add(o, "argv", json_object_get(a));
	return o;
}

int fleet_status(struct fleet *f, json_object **ret, char *err, size_t errsz)
{
	struct etcd_kvs nodes = {0}, assign = {0}, queue = {0}, status = {0};
	struct etcd_kv pk = {0};
	json_object *out = NULL, *fo, *devs, *qs, *tasks, *nl, *used = NULL;
	_cleanup_free_ struct vqueue *vq = NULL;
	size_t nvq = 0;
	double tcpu = 0, tmem = 0;
	int r;

	uint64_t deadline = now_usec() + 2000000u;

again:
	r = etcd_range(f->e, K_NODES, &nodes);
	if (r >= 0)
		r = etcd_range(f->e, K_ASSIGN, &assign);
	if (r >= 0)
		r = etcd_range(f->e, K_QUEUE, &queue);
	if (r >= 0)
		r = etcd_range(f->e, K_STATUS, &status);
	if (r >= 0) {
		r = etcd_get(f->e, K_PLACER, &pk);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0 && retry(r, deadline)) {
		etcd_kvs_done(&nodes);
		etcd_kvs_done(&assign);
		etcd_kvs_done(&queue);
		etcd_kvs_done(&status);
		etcd_kv_done(&pk);
		goto again;
	}
	if (r < 0) {
		snprintf(err, errsz, "%s", etcd_last_error(f->e));
		goto done;
	}
	out = json_object_new_object();
	fo = json_object_new_object();
	devs = json_object_new_array();
	qs = json_object_new_array();
	tasks = json_object_new_array();
	nl = json_object_new_array();
	used = json_object_new_object(); /* fleet id -> [cores, bytes] as the nodes measured */
	{
		json_object *p = pk.value ? json_tokener_parse(pk.value) : NULL;
		json_object_object_add(fo, "node", json_object_new_string(f->node));
		json_object_object_add(fo, "placer",
				       p ? json_object_new_string(jget_s(p, "node")) : NULL);
		json_object_object_add(fo, "placer_revision",
				       json_object_new_int64(pk.create_revision));
		json_object_object_add(fo, "endpoint", json_object_new_string(etcd_endpoint(f->e)));
		json_object_object_add(fo, "revision", json_object_new_int64(nodes.revision));
		json_object_put(p);
	}
	for (size_t i = 0; i < nodes.n; i++) {
		char node[65], name[65], full[140];
		json_object *d, *o;
		if (fleet_parse_device_key(nodes.kvs[i].key, node, sizeof(node), name,
					   sizeof(name)) < 0 ||
		    !(d = json_tokener_parse(nodes.kvs[i].value)))
			continue;
		if (!json_object_array_length(nl) ||
		    strcmp(json_object_get_string(
			       json_object_array_get_idx(nl, json_object_array_length(nl) - 1)),
			   node))
			json_object_array_add(nl, json_object_new_string(node));
		snprintf(full, sizeof(full), "%s/%s", node, name);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(full));
		json_object_object_add(o, "node", json_object_new_string(node));
		json_object_object_add(o, "device", json_object_new_string(name));
		json_object_object_add(o, "kind", json_object_new_string("fleet"));
		json_object_object_add(o, "cpus", json_object_new_string(jget_s(d, "cpus")));
		json_object_object_add(o, "cpu_total", json_object_new_double(jget_d(d, "cpu")));
		json_object_object_add(o, "mem_total", json_object_new_int64(jget_i(d, "mem")));
		copy_alloc_used(o, d);
		json_object_object_add(
		    o, "cpu_free",
		    json_object_new_double(fmax(0, jget_d(d, "cpu") - jget_d(d, "cpu_alloc"))));
		json_object_object_add(
		    o, "mem_free",
		    json_object_new_int64(
			(int64_t)fmax(0, (double)(jget_i(d, "mem") - jget_i(d, "mem_alloc")))));
		json_object_object_add(o, "running", json_object_new_int64(jget_i(d, "running")));
		{
			json_object *u;
			if (json_object_object_get_ex(d, "tasks_used", &u) &&
			    json_object_is_type(u, json_type_object)) {
				json_object_object_foreach(u, k, v)
				    json_object_object_add(used, k, json_object_get(v));
			}
		}
		tcpu += jget_d(d, "cpu");
		tmem += (double)jget_i(d, "mem");
		json_object_array_add(devs, o);
		json_object_put(d);
	}
	json_object_object_add(fo, "nodes", nl);
	/* tasks: queued entries, assignments, then every status (finished ones included) */
	for (size_t i = 0; i < queue.n; i++) {
		json_object *s = json_tokener_parse(queue.kvs[i].value);
		struct vqueue *q;
		if (!s)
			continue;
		q = vq_get(&vq, &nvq, jget_s(s, "queue"), jget_d(s, "cpu"),
			   (double)jget_i(s, "mem"));
		if (q)
			q->waiting++;
		json_object_array_add(tasks, view_task(s, "queued", NULL, NULL, NULL));
		json_object_put(s);
	}
	for (size_t i = 0; i < assign.n; i++) {
		json_object *s = json_tokener_parse(assign.kvs[i].value), *st = NULL;
		char skey[128];
		struct vqueue *q;
		if (!s)
			continue;
		key_id(skey, sizeof(skey), K_STATUS, (uint64_t)jget_i(s, "id"));
		for (size_t k = 0; k < status.n; k++)
			if (!strcmp(status.kvs[k].key, skey))
				st = json_tokener_parse(status.kvs[k].value);
		q = vq_get(&vq, &nvq, jget_s(s, "queue"), jget_d(s, "cpu"),
			   (double)jget_i(s, "mem"));
		if (q) {
			q->running++;
			q->ucpu += jget_d(s, "cpu");
			q->umem += (double)jget_i(s, "mem");
		}
		if (!st)
			json_object_array_add(tasks, view_task(s, "assigned", jget_s(s, "node"),
							       jget_s(s, "device"), NULL));
		json_object_put(st);
		json_object_put(s);
	}
	for (size_t k = 0; k < status.n; k++) {
		json_object *st = json_tokener_parse(status.kvs[k].value), *s = NULL;
		char akey[192];
		struct vqueue *q;
		if (!st)
			continue;
		key_assign(akey, sizeof(akey), jget_s(st, "node"), (uint64_t)jget_i(st, "id"));
		for (size_t i = 0; i < assign.n && !s; i++)
			if (!strcmp(assign.kvs[i].key, akey))
				s = json_tokener_parse(assign.kvs[i].value);
		if (!s) /* finished: its spec went with the assignment; keep what status has */
			s = json_object_get(st);
		q = vq_get(&vq, &nvq, jget_s(s, "queue"), jget_d(s, "cpu"),
			   (double)jget_i(s, "mem"));
		if (q && jget_i(st, "start_us") && jget_i(s, "submit_us")) {
			q->started++;
			q->wait += (double)(jget_i(st, "start_us") - jget_i(s, "submit_us")) / 1e6;
		}
		{
			json_object *o = view_task(s, jget_s(st, "state"), jget_s(st, "node"),
						   jget_s(st, "device"), st),
				    *u;
			char id[24];
			snprintf(id, sizeof(id), "%" PRId64, jget_i(st, "id"));
			/* Measured by the node (published with its devices about once a second). */
			if (!strcmp(jget_s(st, "state"), "running") &&
			    json_object_object_get_ex(used, id, &u) &&
			    json_object_is_type(u, json_type_array) &&
			    json_object_array_length(u) == 2) {
				json_object_object_add(
				    o, "cpu_used",
				    json_object_new_double(
					json_object_get_double(json_object_array_get_idx(u, 0))));
				json_object_object_add(o, "mem_used",
						       json_object_new_int64(json_object_get_int64(
							   json_object_array_get_idx(u, 1))));
			}
			json_object_array_add(tasks, o);
		}
		json_object_put(s);
		json_object_put(st);
	}
	for (size_t i = 0; i < nvq; i++) {
		json_object *o = json_object_new_object();
		double share =
		    fmax(tcpu > 0 ? vq[i].ucpu / tcpu : 0, tmem > 0 ? vq[i].umem / tmem : 0);
		json_object_object_add(o, "name", json_object_new_string(vq[i].name));
		json_object_object_add(o, "cpu_demand", json_object_new_double(vq[i].cpu));
		json_object_object_add(o, "mem_demand", json_object_new_int64((int64_t)vq[i].mem));
		json_object_object_add(o, "dominant_share", json_object_new_double(share));
		json_object_object_add(o, "cpu_usage", json_object_new_double(vq[i].ucpu));
		json_object_object_add(o, "mem_usage", json_object_new_int64((int64_t)vq[i].umem));
		json_object_object_add(o, "waiting", json_object_new_int((int)vq[i].waiting));
		json_object_object_add(o, "running", json_object_new_int((int)vq[i].running));
		json_object_object_add(
		    o, "mean_wait_s",
		    json_object_new_double(vq[i].started ? vq[i].wait / vq[i].started : 0));
		json_object_array_add(qs, o);
	}
	json_object_object_add(out, "fleet", fo);
	json_object_object_add(out, "devices", devs);
	json_object_object_add(out, "queues", qs);
	json_object_object_add(out, "tasks", tasks);
	*ret = out;
done:
	if (used)
		json_object_put(used);
	etcd_kvs_done(&nodes);
	etcd_kvs_done(&assign);
	etcd_kvs_done(&queue);
	etcd_kvs_done(&status);
	etcd_kv_done(&pk);
	return r < 0 ? r : 0;
}
