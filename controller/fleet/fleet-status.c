/* fleet-status.c — `status --fleet`: the whole fleet read from etcd, with the node view's
 * columns (devices named node/device). */
#include "fleet-internal.h"

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
	uint64_t now = fleet_realtime_us(), submit = (uint64_t)fleet_jget_i(spec, "submit_us");
	uint64_t start = st ? (uint64_t)fleet_jget_i(st, "start_us") : 0,
		 end = st ? (uint64_t)fleet_jget_i(st, "end_us") : 0;
	char dev[140];

	snprintf(dev, sizeof(dev), "%s%s%s", node ? node : "", node && *node ? "/" : "",
		 device ? device : "");
	json_object_object_add(o, "id", json_object_new_int64(fleet_jget_i(spec, "id")));
	json_object_object_add(o, "queue", json_object_new_string(fleet_jget_s(spec, "queue")));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "node", node && *node ? json_object_new_string(node) : NULL);
	json_object_object_add(o, "device", *dev ? json_object_new_string(dev) : NULL);
	json_object_object_add(o, "cpu_alloc", json_object_new_double(fleet_jget_d(spec, "cpu")));
	json_object_object_add(o, "mem_alloc", json_object_new_int64(fleet_jget_i(spec, "mem")));
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
	json_object_object_add(o, "pid", json_object_new_int64(st ? fleet_jget_i(st, "pid") : 0));
	json_object_object_add(o, "exit_code",
			       json_object_new_int(st ? (int)fleet_jget_i(st, "exit_code") : -1));
	json_object_object_add(o, "reason",
			       json_object_new_string(st ? fleet_jget_s(st, "reason") : ""));
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)submit));
	json_object_object_add(o, "start_us", json_object_new_int64((int64_t)start));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)end));
	if (json_object_object_get_ex(spec, "argv", &a))
		json_object_object_add(o, "argv", json_object_get(a));
	return o;
}

/* What fleet_status reads from etcd and builds, passed between its steps. */
struct view {
	struct fleet *f;
	struct etcd_kvs nodes, assign, queue, status;
	struct etcd_kv pk;
	json_object *devs, *tasks, *nl, *used; /* used: fleet id -> [cores, bytes] measured */
	struct vqueue *vq;
	size_t nvq;
	double tcpu, tmem;
};

static void view_done(struct view *v)
{
	if (v->used)
		json_object_put(v->used);
	etcd_kvs_done(&v->nodes);
	etcd_kvs_done(&v->assign);
	etcd_kvs_done(&v->queue);
	etcd_kvs_done(&v->status);
	etcd_kv_done(&v->pk);
	free(v->vq);
}

/* The keyspace in one consistent-enough pass, retrying transient errors for 2 s. */
static int view_read(struct view *v)
{
	struct fleet *f = v->f;
	uint64_t deadline = now_usec() + 2000000u;
	int r;

again:
	r = etcd_range(f->e, K_NODES, &v->nodes);
	if (r >= 0)
		r = etcd_range(f->e, K_ASSIGN, &v->assign);
	if (r >= 0)
		r = etcd_range(f->e, K_QUEUE, &v->queue);
	if (r >= 0)
		r = etcd_range(f->e, K_STATUS, &v->status);
	if (r >= 0) {
		r = etcd_get(f->e, K_PLACER, &v->pk);
		if (r == -ENOENT)
			r = 0;
	}
	if (r < 0 && fleet_retry(r, deadline)) {
		etcd_kvs_done(&v->nodes);
		etcd_kvs_done(&v->assign);
		etcd_kvs_done(&v->queue);
		etcd_kvs_done(&v->status);
		etcd_kv_done(&v->pk);
		goto again;
	}
	return r;
}

static void view_fleet(struct view *v, json_object *fo)
{
	struct fleet *f = v->f;

	json_object *p = v->pk.value ? json_tokener_parse(v->pk.value) : NULL;
	json_object_object_add(fo, "node", json_object_new_string(f->node));
	json_object_object_add(fo, "placer",
			       p ? json_object_new_string(fleet_jget_s(p, "node")) : NULL);
	json_object_object_add(fo, "placer_revision", json_object_new_int64(v->pk.create_revision));
	json_object_object_add(fo, "endpoint", json_object_new_string(etcd_endpoint(f->e)));
	json_object_object_add(fo, "revision", json_object_new_int64(v->nodes.revision));
	json_object_put(p);
}

/* Devices with the node view's columns, named node/device; the node list; measured use. */
static void view_devices(struct view *v)
{
	for (size_t i = 0; i < v->nodes.n; i++) {
		char node[65], name[65], full[140];
		json_object *d, *o;
		if (fleet_parse_device_key(v->nodes.kvs[i].key, node, sizeof(node), name,
					   sizeof(name)) < 0 ||
		    !(d = json_tokener_parse(v->nodes.kvs[i].value)))
			continue;
		if (!json_object_array_length(v->nl) ||
		    strcmp(json_object_get_string(json_object_array_get_idx(
			       v->nl, json_object_array_length(v->nl) - 1)),
			   node))
			json_object_array_add(v->nl, json_object_new_string(node));
		snprintf(full, sizeof(full), "%s/%s", node, name);
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(full));
		json_object_object_add(o, "node", json_object_new_string(node));
		json_object_object_add(o, "device", json_object_new_string(name));
		json_object_object_add(o, "kind", json_object_new_string("fleet"));
		json_object_object_add(o, "cpus", json_object_new_string(fleet_jget_s(d, "cpus")));
		json_object_object_add(o, "cpu_total",
				       json_object_new_double(fleet_jget_d(d, "cpu")));
		json_object_object_add(o, "mem_total",
				       json_object_new_int64(fleet_jget_i(d, "mem")));
		fleet_copy_alloc_used(o, d);
		json_object_object_add(
		    o, "cpu_free",
		    json_object_new_double(
			fmax(0, fleet_jget_d(d, "cpu") - fleet_jget_d(d, "cpu_alloc"))));
		json_object_object_add(
		    o, "mem_free",
		    json_object_new_int64((int64_t)fmax(
			0, (double)(fleet_jget_i(d, "mem") - fleet_jget_i(d, "mem_alloc")))));
		json_object_object_add(o, "running",
				       json_object_new_int64(fleet_jget_i(d, "running")));
		{
			json_object *u;
			if (json_object_object_get_ex(d, "tasks_used", &u) &&
			    json_object_is_type(u, json_type_object)) {
				json_object_object_foreach(u, k, val)
				    json_object_object_add(v->used, k, json_object_get(val));
			}
		}
		v->tcpu += fleet_jget_d(d, "cpu");
		v->tmem += (double)fleet_jget_i(d, "mem");
		json_object_array_add(v->devs, o);
		json_object_put(d);
	}
}

/* Tasks: queued entries, assignments, then every status (finished ones included). */
static void view_queued(struct view *v)
{
	for (size_t i = 0; i < v->queue.n; i++) {
		json_object *s = json_tokener_parse(v->queue.kvs[i].value);
		struct vqueue *q;
		if (!s)
			continue;
		q = vq_get(&v->vq, &v->nvq, fleet_jget_s(s, "queue"), fleet_jget_d(s, "cpu"),
			   (double)fleet_jget_i(s, "mem"));
		if (q)
			q->waiting++;
		json_object_array_add(v->tasks, view_task(s, "queued", NULL, NULL, NULL));
		json_object_put(s);
	}
}

static void view_assigned(struct view *v)
{
	for (size_t i = 0; i < v->assign.n; i++) {
		json_object *s = json_tokener_parse(v->assign.kvs[i].value), *st = NULL;
		char skey[128];
		struct vqueue *q;
		if (!s)
			continue;
		fleet_key_id(skey, sizeof(skey), K_STATUS, (uint64_t)fleet_jget_i(s, "id"));
		for (size_t k = 0; k < v->status.n; k++)
			if (!strcmp(v->status.kvs[k].key, skey))
				st = json_tokener_parse(v->status.kvs[k].value);
		q = vq_get(&v->vq, &v->nvq, fleet_jget_s(s, "queue"), fleet_jget_d(s, "cpu"),
			   (double)fleet_jget_i(s, "mem"));
		if (q) {
			q->running++;
			q->ucpu += fleet_jget_d(s, "cpu");
			q->umem += (double)fleet_jget_i(s, "mem");
		}
		if (!st)
			json_object_array_add(v->tasks,
					      view_task(s, "assigned", fleet_jget_s(s, "node"),
							fleet_jget_s(s, "device"), NULL));
		json_object_put(st);
		json_object_put(s);
	}
}

static void view_statuses(struct view *v)
{
	for (size_t k = 0; k < v->status.n; k++) {
		json_object *st = json_tokener_parse(v->status.kvs[k].value), *s = NULL;
		char akey[192];
		struct vqueue *q;
		if (!st)
			continue;
		fleet_key_assign(akey, sizeof(akey), fleet_jget_s(st, "node"),
				 (uint64_t)fleet_jget_i(st, "id"));
		for (size_t i = 0; i < v->assign.n && !s; i++)
			if (!strcmp(v->assign.kvs[i].key, akey))
				s = json_tokener_parse(v->assign.kvs[i].value);
		if (!s) /* finished: its spec went with the assignment; keep what v->status has */
			s = json_object_get(st);
		q = vq_get(&v->vq, &v->nvq, fleet_jget_s(s, "queue"), fleet_jget_d(s, "cpu"),
			   (double)fleet_jget_i(s, "mem"));
		if (q && fleet_jget_i(st, "start_us") && fleet_jget_i(s, "submit_us")) {
			q->started++;
			q->wait +=
			    (double)(fleet_jget_i(st, "start_us") - fleet_jget_i(s, "submit_us")) /
			    1e6;
		}
		{
			json_object *o = view_task(s, fleet_jget_s(st, "state"),
						   fleet_jget_s(st, "node"),
						   fleet_jget_s(st, "device"), st),
				    *u;
			char id[24];
			snprintf(id, sizeof(id), "%" PRId64, fleet_jget_i(st, "id"));
			/* Measured by the node (published with its devices about once a second). */
			if (!strcmp(fleet_jget_s(st, "state"), "running") &&
			    json_object_object_get_ex(v->used, id, &u) &&
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
			json_object_array_add(v->tasks, o);
		}
		json_object_put(s);
		json_object_put(st);
	}
}

static void view_queues(struct view *v, json_object *qs)
{
	for (size_t i = 0; i < v->nvq; i++) {
		json_object *o = json_object_new_object();
		double share = fmax(v->tcpu > 0 ? v->vq[i].ucpu / v->tcpu : 0,
				    v->tmem > 0 ? v->vq[i].umem / v->tmem : 0);
		json_object_object_add(o, "name", json_object_new_string(v->vq[i].name));
		json_object_object_add(o, "cpu_demand", json_object_new_double(v->vq[i].cpu));
		json_object_object_add(o, "mem_demand",
				       json_object_new_int64((int64_t)v->vq[i].mem));
		json_object_object_add(o, "dominant_share", json_object_new_double(share));
		json_object_object_add(o, "cpu_usage", json_object_new_double(v->vq[i].ucpu));
		json_object_object_add(o, "mem_usage",
				       json_object_new_int64((int64_t)v->vq[i].umem));
		json_object_object_add(o, "waiting", json_object_new_int((int)v->vq[i].waiting));
		json_object_object_add(o, "running", json_object_new_int((int)v->vq[i].running));
		json_object_object_add(o, "mean_wait_s",
				       json_object_new_double(v->vq[i].started
								  ? v->vq[i].wait / v->vq[i].started
								  : 0));
		json_object_array_add(qs, o);
	}
}

int fleet_status(struct fleet *f, json_object **ret, char *err, size_t errsz)
{
	struct view v = {.f = f};
	json_object *out, *fo, *qs;
	int r;

	r = view_read(&v);
	if (r < 0) {
		snprintf(err, errsz, "%s", etcd_last_error(f->e));
		view_done(&v);
		return r;
	}
	out = json_object_new_object();
	fo = json_object_new_object();
	v.devs = json_object_new_array();
	qs = json_object_new_array();
	v.tasks = json_object_new_array();
	v.nl = json_object_new_array();
	v.used = json_object_new_object();
	view_fleet(&v, fo);
	view_devices(&v);
	json_object_object_add(fo, "nodes", v.nl);
	view_queued(&v);
	view_assigned(&v);
	view_statuses(&v);
	view_queues(&v, qs);
	json_object_object_add(out, "fleet", fo);
	json_object_object_add(out, "devices", v.devs);
	json_object_object_add(out, "queues", qs);
	json_object_object_add(out, "tasks", v.tasks);
	*ret = out;
	view_done(&v);
	return 0;
}
