/* views.c — the JSON views of the node (status, devices, queues, tasks, uplink, measurement)
 * the control socket and fleet mode answer with. */
#include "daemon-internal.h"

/* --- views --------------------------------------------------------------------------- */

static json_object *task_json(struct daemon *d, const struct dtask *t)
{
	char name[128];
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	const struct trt *rt = t->rt;
	uint64_t now = daemon_realtime_us(), wait_end;

	for (size_t i = 0; i < t->argc; i++)
		json_object_array_add(a, json_object_new_string(t->argv[i]));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)t->id));
	json_object_object_add(o, "queue", json_object_new_string(t->queue));
	json_object_object_add(o, "state", json_object_new_string(dtask_state_name(t->state)));
	json_object_object_add(o, "device",
			       t->dev >= 0 && (size_t)t->dev < d->n_dev
				   ? json_object_new_string(d->dev[t->dev].name)
				   : NULL);
	json_object_object_add(o, "cpu_alloc", json_object_new_double(t->cpu));
	json_object_object_add(o, "mem_alloc", json_object_new_int64((int64_t)t->mem));
	/* A memory demand is always accounted; it is a limit only with the memory controller. */
	json_object_object_add(o, "mem_enforced", json_object_new_boolean(d->mem_enforced));
	json_object_object_add(
	    o, "cpu_used",
	    json_object_new_double(rt && t->state == DTASK_RUNNING ? rt->cpu_used : 0));
	json_object_object_add(
	    o, "mem_used",
	    json_object_new_int64(rt && t->state == DTASK_RUNNING ? (int64_t)rt->mem_used : 0));
	wait_end = t->start_us ? t->start_us : (dtask_state_live(t->state) ? now : t->end_us);
	json_object_object_add(o, "wait_s",
			       json_object_new_double(wait_end > t->submit_us
							  ? (double)(wait_end - t->submit_us) / 1e6
							  : 0));
	json_object_object_add(
	    o, "run_s",
	    json_object_new_double(
		t->start_us ? (double)((t->end_us ? t->end_us : now) - t->start_us) / 1e6 : 0));
	json_object_object_add(o, "pid", json_object_new_int64(t->pid));
	json_object_object_add(o, "exit_code", json_object_new_int(t->exit_code));
	json_object_object_add(o, "reason", json_object_new_string(t->reason));
	json_object_object_add(o, "cpu_seconds", json_object_new_double((double)t->cpu_usec / 1e6));
	json_object_object_add(o, "submit_us", json_object_new_int64((int64_t)t->submit_us));
	json_object_object_add(o, "start_us", json_object_new_int64((int64_t)t->start_us));
	json_object_object_add(o, "end_us", json_object_new_int64((int64_t)t->end_us));
	json_object_object_add(o, "argv", a);
	if (t->oci) /* argv is then the container's process.args */
		json_object_object_add(o, "oci", json_object_new_string(t->oci));
	if (t->fleet_id)
		json_object_object_add(o, "fleet_id", json_object_new_int64((int64_t)t->fleet_id));
	if (t->upload_rate)
		json_object_object_add(o, "upload_rate",
				       json_object_new_int64((int64_t)t->upload_rate));
	if (dtask_state_live(t->state) && t->state != DTASK_QUEUED && d->cg_path &&
	    dtask_cgroup_name(t, name, sizeof(name)) >= 0) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", d->cg_path, name) >= 0)
			json_object_object_add(o, "cgroup", json_object_new_string(p));
		else
			p = NULL;
	}
	if (t->app) {
		json_object *af = json_object_new_array();
		json_object_object_add(o, "app", json_object_new_int64((int64_t)t->app));
		json_object_object_add(o, "app_name", json_object_new_string(t->app_name));
		json_object_object_add(o, "name", json_object_new_string(t->name));
		for (size_t i = 0; i < t->n_after; i++)
			json_object_array_add(af, json_object_new_int64((int64_t)t->after[i]));
		json_object_object_add(o, "after", af);
		json_object_object_add(o, "priority", json_object_new_double(t->prio));
	}
	if (rt && rt->sampled && t->state == DTASK_RUNNING) {
		struct sampler_task st;
		json_object *m = NULL;
		if (sampler_task_get(d->sampler, t->id, &st) >= 0 &&
		    sampler_task_json(&st, &m) >= 0)
			json_object_object_add(o, "measure", m);
	}
	return o;
}

/* The uplink's classes with their counters, each named by the task it shapes. */
json_object *daemon_uplink_json(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	json_object *o = json_object_new_object(), *a = json_object_new_array();
	size_t n = 0;

	json_object_object_add(o, "device", json_object_new_string(d->conf.uplink));
	json_object_object_add(o, "active", json_object_new_boolean(shaper_is_active(d->shaper)));
	json_object_object_add(o, "rate",
			       json_object_new_int64((int64_t)shaper_parent_rate(d->shaper)));
	if (shaper_is_active(d->shaper) && shaper_list(d->shaper, &v, &n) >= 0)
		for (size_t i = 0; i < n; i++) {
			json_object *c = json_object_new_object();
			char id[16];
			snprintf(id, sizeof(id), "%x:%x", v[i].classid >> 16,
				 v[i].classid & 0xffff);
			json_object_object_add(c, "class", json_object_new_string(id));
			json_object_object_add(
			    c, "kind",
			    json_object_new_string(v[i].is_task ? "task"
						   : (v[i].classid & 0xffff) == SHAPER_MINOR_PARENT
						       ? "parent"
						       : "default"));
			for (size_t k = 0; k < d->n_tasks && v[i].is_task && v[i].has_match; k++) {
				struct trt *rt = d->tasks[k]->rt;
				if (rt && rt->shaped && v[i].match.kind == SHAPER_MATCH_CGROUP &&
				    rt->cgroup_id == v[i].match.cgroup_id)
					json_object_object_add(
					    c, "task",
					    json_object_new_int64((int64_t)d->tasks[k]->id));
			}
			json_object_object_add(c, "rate",
					       json_object_new_int64((int64_t)v[i].rate));
			json_object_object_add(c, "ceil",
					       json_object_new_int64((int64_t)v[i].ceil));
			json_object_object_add(c, "bytes",
					       json_object_new_int64((int64_t)v[i].bytes));
			json_object_object_add(c, "packets",
					       json_object_new_int64((int64_t)v[i].packets));
			json_object_object_add(c, "drops",
					       json_object_new_int64((int64_t)v[i].drops));
			json_object_array_add(a, c);
		}
	json_object_object_add(o, "classes", a);
	return o;
}

/* The node as measured, and by what. */
/* What the kernel offers and what is therefore not done, one line each (docs/EDGE.md). */
json_object *daemon_kernel_json(struct daemon *d)
{
	json_object *o = json_object_new_object(), *w = json_object_new_array();

	json_object_object_add(o, "btf", json_object_new_boolean(d->caps.btf));
	json_object_object_add(o, "memory_controller", json_object_new_boolean(d->caps.memory_ctl));
	json_object_object_add(o, "memory_enforced", json_object_new_boolean(d->mem_enforced));
	json_object_object_add(o, "psi", json_object_new_boolean(d->caps.psi));
	json_object_object_add(o, "hybrid_cgroups", json_object_new_boolean(d->hybrid));
	for (size_t i = 0; i < d->n_kernel_warnings; i++)
		json_object_array_add(w, json_object_new_string(d->kernel_warnings[i]));
	json_object_object_add(o, "warnings", w);
	return o;
}

json_object *daemon_measure_json(struct daemon *d)
{
	json_object *o = json_object_new_object(), *n = NULL;
	struct sampler_node sn;
	int r = sampler_bpf_error(d->sampler);

	json_object_object_add(o, "source", json_object_new_string(d->bpf ? "ebpf" : "cgroup"));
	if (!d->bpf && d->conf.measure != DCONF_MEASURE_CGROUP && r < 0)
		json_object_object_add(o, "ebpf_error",
				       json_object_new_string(probe_bpf_error_reason(r)));
	json_object_object_add(o, "interval_ms", json_object_new_int(d->conf.measure_ms));
	if (sampler_node_get(d->sampler, &sn) >= 0 && sampler_node_json(&sn, &n) >= 0)
		json_object_object_add(o, "node", n);
	return o;
}

void daemon_device_usage(struct daemon *d, size_t dev, struct ddev_usage *ret)
{
	struct ddev_usage u = {0};
	for (size_t k = 0; k < d->n_tasks; k++) {
		const struct dtask *t = d->tasks[k];
		const struct trt *rt = t->rt;
		if (t->dev != (int)dev || (t->state != DTASK_RUNNING && t->state != DTASK_STARTING))
			continue;
		u.running++;
		u.cpu_alloc += t->cpu;
		u.mem_alloc += (double)t->mem;
		if (rt) {
			u.cpu_used += rt->cpu_used;
			u.mem_used += (double)rt->mem_used;
		}
	}
	*ret = u;
}

json_object *daemon_devices_json(struct daemon *d)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_dev; i++) {
		json_object *o = json_object_new_object();
		struct ddev_usage u;
		daemon_device_usage(d, i, &u);
		json_object_object_add(o, "name", json_object_new_string(d->dev[i].name));
		json_object_object_add(o, "kind", json_object_new_string(d->devs.ops->kind));
		json_object_object_add(o, "cpus", json_object_new_string(d->dev[i].cpus));
		json_object_object_add(o, "cpu_total", json_object_new_double(d->dev[i].cpu));
		json_object_object_add(o, "mem_total",
				       json_object_new_int64((int64_t)d->dev[i].mem));
		json_object_object_add(o, "cpu_alloc", json_object_new_double(u.cpu_alloc));
		json_object_object_add(o, "mem_alloc", json_object_new_int64((int64_t)u.mem_alloc));
		json_object_object_add(o, "cpu_used", json_object_new_double(u.cpu_used));
		json_object_object_add(o, "mem_used", json_object_new_int64((int64_t)u.mem_used));
		json_object_object_add(
		    o, "cpu_free", json_object_new_double(fmax(0, d->dev[i].cpu - u.cpu_alloc)));
		json_object_object_add(
		    o, "mem_free",
		    json_object_new_int64((int64_t)fmax(0, (double)d->dev[i].mem - u.mem_alloc)));
		json_object_object_add(o, "running", json_object_new_int((int)u.running));
		if (d->fg.dev) {
			double fc = d->fg.dev[i].cpu, fm = d->fg.dev[i].mem;
			json_object_object_add(o, "cpu_foreign", json_object_new_double(fc));
			json_object_object_add(o, "mem_foreign",
					       json_object_new_int64((int64_t)fm));
			/* what RD-DRF sees as free (the other policies: cpu_free/mem_free) */
			json_object_object_add(
			    o, "cpu_available",
			    json_object_new_double(fmax(0, d->dev[i].cpu - u.cpu_alloc - fc)));
			json_object_object_add(o, "mem_available",
					       json_object_new_int64((int64_t)fmax(
						   0, (double)d->dev[i].mem - u.mem_alloc - fm)));
		}
		json_object_array_add(arr, o);
	}
	return arr;
}

json_object *daemon_queues_json(struct daemon *d)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_queues; i++) {
		struct policy_queue_info qi = {0};
		json_object *o = json_object_new_object();
		unsigned done = 0;
		double wait = 0;
		for (size_t k = 0; k < d->n_tasks; k++) {
			const struct dtask *t = d->tasks[k];
			if (strcmp(t->queue, d->queues[i].name) || !t->start_us)
				continue;
			done++;
			wait += (double)(t->start_us - t->submit_us) / 1e6;
		}
		(void)policy_queue_info(d->pol, d->queues[i].policy_id, &qi);
		json_object_object_add(o, "name", json_object_new_string(d->queues[i].name));
		json_object_object_add(o, "cpu_demand", json_object_new_double(d->queues[i].cpu));
		json_object_object_add(o, "mem_demand",
				       json_object_new_int64((int64_t)d->queues[i].mem));
		json_object_object_add(o, "dominant_share",
				       json_object_new_double(qi.dominant_share));
		json_object_object_add(o, "cpu_usage", json_object_new_double(qi.usage.cpu));
		json_object_object_add(o, "mem_usage",
				       json_object_new_int64((int64_t)qi.usage.mem));
		json_object_object_add(o, "waiting", json_object_new_int((int)qi.waiting));
		json_object_object_add(o, "running", json_object_new_int((int)qi.running));
		json_object_object_add(o, "mean_wait_s",
				       json_object_new_double(done ? wait / done : 0));
		json_object_array_add(arr, o);
	}
	return arr;
}

json_object *daemon_tasks_json(struct daemon *d, bool live_only)
{
	json_object *arr = json_object_new_array();
	for (size_t i = 0; i < d->n_tasks; i++)
		if (!live_only || dtask_state_live(d->tasks[i]->state))
			json_object_array_add(arr, task_json(d, d->tasks[i]));
	return arr;
}
