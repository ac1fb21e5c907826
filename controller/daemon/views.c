/* views.c — the JSON views of the node (status, devices, queues, tasks, uplink, measurement)
 * the control socket and fleet mode answer with. */
#include "daemon-internal.h"

/* --- views --------------------------------------------------------------------------- */

/* A task's object is written as text straight into the reply, not built as json-c objects:
 * with 5,000 tasks the objects (22 fields each) made `status` cost 48 ms, most of it malloc
 * and free. Same keys, same order, same values as json-c would print. */
static void put_str(struct printbuf *pb, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	printbuf_memappend(pb, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6] = {'\\', 0, '0', '0', 0, 0};
		int n = 2;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		printbuf_memappend(pb, run, (int)(s - run));
		run = s + 1;
		switch (ch) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\t':
			esc[1] = 't';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		default:
			esc[1] = 'u';
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			n = 6;
		}
		printbuf_memappend(pb, esc, n);
	}
	printbuf_memappend(pb, run, (int)(s - run));
	printbuf_memappend(pb, "\"", 1);
}

static void put_key(struct printbuf *pb, const char *key)
{
	printbuf_memappend(pb, ",\"", 2); /* keys are ours: nothing to escape */
	printbuf_memappend(pb, key, (int)strlen(key));
	printbuf_memappend(pb, "\":", 2);
}

/* Digits by hand: printf was most of the cost of a task's text. */
static void put_i64(struct printbuf *pb, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do
		*--p = (char)('0' + u % 10);
	while (u /= 10);
	if (v < 0)
		*--p = '-';
	printbuf_memappend(pb, p, (int)(buf + sizeof(buf) - p));
}

static void put_int(struct printbuf *pb, const char *key, int64_t v)
{
	put_key(pb, key);
	put_i64(pb, v);
}

static void put_double(struct printbuf *pb, const char *key, double v)
{
	char buf[40];
	int n;

	put_key(pb, key);
	if (!isfinite(v))
		v = 0;
	if (fabs(v) < 1e15 && v == (double)(int64_t)v) { /* as json-c: 1 is "1.0" */
		put_i64(pb, (int64_t)v);
		printbuf_memappend(pb, ".0", 2);
		return;
	}
	n = snprintf(buf, sizeof(buf), "%.17g", v);
	printbuf_memappend(pb, buf, n);
	if (!strpbrk(buf, ".e"))
		printbuf_memappend(pb, ".0", 2);
}

/* A duration kept in microseconds, as decimal seconds ("2.0", "0.1235"): exact, and without
 * printf's floating-point conversion, which was a fifth of a 5,000-task status. */
static void put_usec(struct printbuf *pb, const char *key, uint64_t us)
{
	char frac[8] = {'.'};
	int n = 7;

	put_key(pb, key);
	put_i64(pb, (int64_t)(us / 1000000u));
	for (int i = 6, f = (int)(us % 1000000u); i >= 1; i--, f /= 10)
		frac[i] = (char)('0' + f % 10);
	while (n > 2 && frac[n - 1] == '0')
		n--;
	printbuf_memappend(pb, frac, n);
}

static void task_text(struct daemon *d, const struct dtask *t, struct printbuf *pb)
{
	char name[128];
	const struct trt *rt = t->rt;
	uint64_t now = daemon_realtime_us(), wait_end;
	bool running = rt && t->state == DTASK_RUNNING;

	printbuf_memappend(pb, "{\"id\":", 6);
	put_i64(pb, (int64_t)t->id);
	put_key(pb, "queue");
	put_str(pb, t->queue);
	put_key(pb, "state");
	put_str(pb, dtask_state_name(t->state));
	put_key(pb, "device");
	if (t->dev >= 0 && (size_t)t->dev < d->n_dev)
		put_str(pb, d->dev[t->dev].name);
	else
		printbuf_memappend(pb, "null", 4);
	put_double(pb, "cpu_alloc", t->cpu);
	put_int(pb, "mem_alloc", (int64_t)t->mem);
	/* A memory demand is always accounted; it is a limit only with the memory controller. */
	put_key(pb, "mem_enforced");
	printbuf_memappend(pb, d->mem_enforced ? "true" : "false", d->mem_enforced ? 4 : 5);
	put_double(pb, "cpu_used", running ? rt->cpu_used : 0);
	put_int(pb, "mem_used", running ? (int64_t)rt->mem_used : 0);
	wait_end = t->start_us ? t->start_us : (dtask_state_live(t->state) ? now : t->end_us);
	put_usec(pb, "wait_s", wait_end > t->submit_us ? wait_end - t->submit_us : 0);
	put_usec(pb, "run_s",
		 t->start_us && (t->end_us ? t->end_us : now) > t->start_us
		     ? (t->end_us ? t->end_us : now) - t->start_us
		     : 0);
	put_int(pb, "pid", t->pid);
	put_int(pb, "exit_code", t->exit_code);
	put_key(pb, "reason");
	put_str(pb, t->reason);
	put_usec(pb, "cpu_seconds", t->cpu_usec);
	put_int(pb, "submit_us", (int64_t)t->submit_us);
	put_int(pb, "start_us", (int64_t)t->start_us);
	put_int(pb, "end_us", (int64_t)t->end_us);
	put_key(pb, "argv");
	printbuf_memappend(pb, "[", 1);
	for (size_t i = 0; i < t->argc; i++) {
		if (i)
			printbuf_memappend(pb, ",", 1);
		put_str(pb, t->argv[i]);
	}
	printbuf_memappend(pb, "]", 1);
	if (t->oci) { /* argv is then the container's process.args */
		put_key(pb, "oci");
		put_str(pb, t->oci);
	}
	if (t->fleet_id)
		put_int(pb, "fleet_id", (int64_t)t->fleet_id);
	if (t->upload_rate)
		put_int(pb, "upload_rate", (int64_t)t->upload_rate);
	if (dtask_state_live(t->state) && t->state != DTASK_QUEUED && d->cg_path &&
	    dtask_cgroup_name(t, name, sizeof(name)) >= 0) {
		char path[PATH_MAX + sizeof(name)];
		snprintf(path, sizeof(path), "%s/%s", d->cg_path, name);
		put_key(pb, "cgroup");
		put_str(pb, path);
	}
	if (t->app) {
		put_int(pb, "app", (int64_t)t->app);
		put_key(pb, "app_name");
		put_str(pb, t->app_name);
		put_key(pb, "name");
		put_str(pb, t->name);
		put_key(pb, "after");
		printbuf_memappend(pb, "[", 1);
		for (size_t i = 0; i < t->n_after; i++) {
			if (i)
				printbuf_memappend(pb, ",", 1);
			put_i64(pb, (int64_t)t->after[i]);
		}
		printbuf_memappend(pb, "]", 1);
		put_double(pb, "priority", t->prio);
	}
	if (rt && rt->sampled && t->state == DTASK_RUNNING) {
		struct sampler_task st;
		json_object *m = NULL;
		if (sampler_task_get(d->sampler, t->id, &st) >= 0 &&
		    sampler_task_json(&st, &m) >= 0) {
			put_key(pb, "measure");
			sprintbuf(pb, "%s",
				  json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN));
			json_object_put(m);
		}
	}
	printbuf_memappend(pb, "}", 1);
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
			if (fc < d->conf.foreign_floor * d->dev[i].cpu) /* noise: not counted */
				fc = 0;
			if (fm < d->conf.foreign_floor * (double)d->dev[i].mem)
				fm = 0;
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

static int tasks_serialize(json_object *jso, struct printbuf *pb, int level, int flags)
{
	const struct printbuf *text = json_object_get_userdata(jso);
	return printbuf_memappend(pb, text->buf, text->bpos) < 0 ? -1 : 0;
}

static void tasks_text_free(json_object *jso, void *userdata)
{
	printbuf_free(userdata);
}

/* An array whose text is written now (task_text) and put into the reply when it is
 * serialized: it has no json-c elements, only the control socket's replies use it. */
json_object *daemon_tasks_json(struct daemon *d, bool live_only)
{
	json_object *arr = json_object_new_array();
	struct printbuf *pb = printbuf_new();
	bool first = true;

	if (!arr || !pb) {
		printbuf_free(pb);
		return arr;
	}
	/* Sized once (a task is 250-400 bytes) rather than grown by doubling and copying. */
	if (d->n_tasks > 16 && d->n_tasks < (1u << 20) &&
	    printbuf_memset(pb, 0, 0, (int)(d->n_tasks * 384)) >= 0)
		printbuf_reset(pb);
	printbuf_memappend(pb, "[", 1);
	for (size_t i = 0; i < d->n_tasks; i++)
		if (!live_only || dtask_state_live(d->tasks[i]->state)) {
			if (!first)
				printbuf_memappend(pb, ",", 1);
			task_text(d, d->tasks[i], pb);
			first = false;
		}
	printbuf_memappend(pb, "]", 1);
	json_object_set_serializer(arr, tasks_serialize, pb, tasks_text_free);
	return arr;
}
