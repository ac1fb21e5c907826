/* sampler_json.c — the sampler's per-task and per-node view as json-c objects, so the
 * daemon's status reply and `edgeslice probe --json` share one schema (docs/PROBES.md). */
#include <json-c/json.h>

#include "sampler.h"
#include "util.h"

static void json_objectp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_objectp)

/* json-c reports allocation failure as -1 or NULL; one helper so callers stay short. */
static int add(struct json_object *o, const char *k, struct json_object *v)
{
	if (!v || json_object_object_add(o, k, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}
static int add_d(struct json_object *o, const char *k, double v)
{
	return add(o, k, json_object_new_double(v));
}
static int add_u(struct json_object *o, const char *k, uint64_t v)
{
	return add(o, k, json_object_new_uint64(v));
}
static int add_b(struct json_object *o, const char *k, bool v)
{
	return add(o, k, json_object_new_boolean(v));
}

static int psi_json(const struct probe_psi *p, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	if (add_d(o, "some_avg10", p->some.avg10) < 0 ||
	    add_d(o, "some_avg60", p->some.avg60) < 0 ||
	    add_u(o, "some_total_usec", p->some.total_usec) < 0)
		return -ENOMEM;
	if (p->has_full && (add_d(o, "full_avg10", p->full.avg10) < 0 ||
			    add_d(o, "full_avg60", p->full.avg60) < 0 ||
			    add_u(o, "full_total_usec", p->full.total_usec) < 0))
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}

static int add_psi(struct json_object *o, unsigned have, const struct probe_psi *cpu,
		   const struct probe_psi *mem, const struct probe_psi *io)
{
	_cleanup_json_ struct json_object *psi = json_object_new_object();
	struct json_object *x;
	if (!psi)
		return -ENOMEM;
	if ((have & PROBE_HAVE_PSI_CPU) && (psi_json(cpu, &x) < 0 || add(psi, "cpu", x) < 0))
		return -ENOMEM;
	if ((have & PROBE_HAVE_PSI_MEM) && (psi_json(mem, &x) < 0 || add(psi, "memory", x) < 0))
		return -ENOMEM;
	if ((have & PROBE_HAVE_PSI_IO) && (psi_json(io, &x) < 0 || add(psi, "io", x) < 0))
		return -ENOMEM;
	return add(o, "psi", TAKE_PTR(psi));
}

int sampler_task_json(const struct sampler_task *t, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	_cleanup_json_ struct json_object *cpu = json_object_new_object();
	if (!o || !cpu)
		return -ENOMEM;
	if (add_u(o, "id", t->id) < 0 || add_u(o, "cgroup_id", t->cgroup_id) < 0 ||
	    add_u(o, "at_usec", t->at_usec) < 0 || add_b(o, "valid", t->valid) < 0 ||
	    add_b(o, "stale", t->stale) < 0 || add_b(o, "gone", t->gone) < 0)
		return -ENOMEM;
	if (add_d(cpu, "cores", t->cores) < 0 || add_d(cpu, "cores_last", t->cores_last) < 0 ||
	    add_u(cpu, "usage_usec", t->usage_usec) < 0)
		return -ENOMEM;
	if ((t->have & PROBE_HAVE_THROTTLE) &&
	    (add_d(cpu, "throttled_frac", t->throttled_frac) < 0 ||
	     add_u(cpu, "throttled_usec", t->throttled_usec) < 0 ||
	     add_u(cpu, "nr_throttled", t->nr_throttled) < 0))
		return -ENOMEM;
	if (add(o, "cpu", TAKE_PTR(cpu)) < 0)
		return -ENOMEM;
	if (t->have & PROBE_HAVE_MEM) {
		_cleanup_json_ struct json_object *m = json_object_new_object();
		if (!m || add_u(m, "current", t->mem_bytes) < 0)
			return -ENOMEM;
		if ((t->have & PROBE_HAVE_MEM_PEAK) && add_u(m, "peak", t->mem_peak_bytes) < 0)
			return -ENOMEM;
		if ((t->have & PROBE_HAVE_MEM_EVENTS) &&
		    (add_u(m, "high_events", t->mem_events.high) < 0 ||
		     add_u(m, "max_events", t->mem_events.max) < 0 ||
		     add_u(m, "oom_kill", t->mem_events.oom_kill) < 0))
			return -ENOMEM;
		if ((t->have & PROBE_HAVE_MEM_STAT) &&
		    (add_u(m, "anon", t->mem_stat.anon) < 0 ||
		     add_u(m, "file", t->mem_stat.file) < 0 ||
		     add_u(m, "kernel", t->mem_stat.kernel) < 0 ||
		     add_u(m, "pgmajfault", t->mem_stat.pgmajfault) < 0 ||
		     add_u(m, "inactive_file", t->mem_stat.inactive_file) < 0))
			return -ENOMEM;
		if (add(o, "memory", TAKE_PTR(m)) < 0)
			return -ENOMEM;
	}
	if (add_psi(o, t->have, &t->psi_cpu, &t->psi_mem, &t->psi_io) < 0)
		return -ENOMEM;
	if (t->have_bpf) {
		_cleanup_json_ struct json_object *b = json_object_new_object();
		if (!b || add_d(b, "cores", t->bpf_cores) < 0 ||
		    add_d(b, "ctx_switches_per_s", t->ctx_switches_per_s) < 0 ||
		    add_d(b, "rq_p50_us", t->rq_p50_ns / 1000.0) < 0 ||
		    add_d(b, "rq_p99_us", t->rq_p99_ns / 1000.0) < 0 ||
		    add_d(b, "rq_mean_us", t->rq_mean_ns / 1000.0) < 0 ||
		    add_u(b, "nr_switches", t->bpf.nr_switches) < 0 ||
		    add_u(b, "nr_preempt", t->bpf.nr_preempt) < 0 ||
		    add_u(b, "oncpu_ns", t->bpf.oncpu_ns) < 0)
			return -ENOMEM;
		if (add(o, "bpf", TAKE_PTR(b)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int sampler_node_json(const struct sampler_node *n, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	if (!o)
		return -ENOMEM;
	if (add_u(o, "at_usec", n->at_usec) < 0 || add_b(o, "valid", n->valid) < 0 ||
	    add_b(o, "stale", n->stale) < 0 || add_u(o, "ncpus", n->ncpus) < 0 ||
	    add_d(o, "cores_busy", n->cores_busy) < 0 || add_u(o, "mem_total", n->mem_total) < 0 ||
	    add_u(o, "mem_available", n->mem_available) < 0 ||
	    add_psi(o, n->have, &n->psi_cpu, &n->psi_mem, &n->psi_io) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(o);
	return 0;
}
