/* dforeign.c — the load edgeslice did not start, per device: CPU busy on the device's CPUs
 * and node memory in use, minus edgeslice's own tasks; the biggest foreign cgroups by
 * runtime; the node's pressure. RD-DRF places on what is left (docs/DAEMON.md, Foreign load). */
#include "daemon-internal.h"

#define SCAN_PERIOD_USEC 2000000u /* the runtimes' subtrees are walked this often */

int daemon_foreign_setup(struct daemon *d)
{
	_cleanup_close_ int fd = -1;
	const char *rel = d->cg_path ? d->cg_path + strlen(d->cgroupfs) : "";
	int r;

	d->fg.dev = calloc(d->n_dev ? d->n_dev : 1, sizeof(*d->fg.dev));
	if (!d->fg.dev)
		return -ENOMEM;
	d->fg.per_device = d->n_dev > 1 && cg_root_has(d->root, "cpuset");
	for (size_t i = 0; i < d->n_dev && d->fg.per_device; i++) {
		uint64_t a[PROBE_MAX_CPUS / 64], b[PROBE_MAX_CPUS / 64];
		d->fg.per_device = d->dev[i].cpus[0] && probe_cpulist_parse(d->dev[i].cpus, a) >= 0;
		for (size_t k = i + 1; k < d->n_dev && d->fg.per_device; k++) {
			d->fg.per_device =
			    d->dev[k].cpus[0] && probe_cpulist_parse(d->dev[k].cpus, b) >= 0;
			for (size_t w = 0; w < ELEMENTSOF(a) && d->fg.per_device; w++)
				d->fg.per_device = !(a[w] & b[w]);
		}
	}
	fd = open(d->cgroupfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no rows, the per-device figures still work */
	r = probe_foreign_new(fd, rel, &d->fg.scan);
	if (r < 0)
		daemon_log(LOG_WARNING, "foreign load: cannot follow the runtimes' cgroups: %s",
			   strerror(-r));
	return 0;
}

void daemon_foreign_teardown(struct daemon *d)
{
	probe_foreign_free(d->fg.scan);
	d->fg.scan = NULL;
	free(d->fg.dev);
	d->fg.dev = NULL;
}

/* What edgeslice's running tasks on device i use: measured once the sampler has a rate,
 * the demand before (the policy's in-flight rule), so a task that just started is not
 * counted as foreign load for the ticks before its first reading. */
static void ours(struct daemon *d, size_t i, double *ret_cpu, double *ret_mem)
{
	double cpu = 0, mem = 0;

	for (size_t k = 0; k < d->n_tasks; k++) {
		const struct dtask *t = d->tasks[k];
		const struct trt *rt = t->rt;
		struct sampler_task st;
		bool measured;
		if (t->dev != (int)i || (t->state != DTASK_RUNNING && t->state != DTASK_STARTING))
			continue;
		measured = rt && rt->sampled && sampler_task_get(d->sampler, t->id, &st) >= 0 &&
			   st.valid && !st.stale;
		cpu += measured ? rt->cpu_used : t->cpu;
		/* Without a memory controller the sampler reads no memory: count the demand. */
		mem += measured && d->mem_enforced ? (double)rt->mem_used : (double)t->mem;
	}
	*ret_cpu = cpu;
	*ret_mem = mem;
}

/* Node-wide: busy CPUs minus every edgeslice task (unpinned tasks run anywhere), shared among
 * the devices by their capacity. */
static void node_cpu(struct daemon *d, const char *stat, double alpha)
{
	char all[32];
	struct probe_proc_stat ps;
	double mine = 0, cap = 0;

	snprintf(all, sizeof(all), "0-%u", PROBE_MAX_CPUS - 1);
	if (probe_parse_proc_stat_cpus(stat, all, &ps) < 0)
		return;
	for (size_t i = 0; i < d->n_dev; i++) {
		double c, m;
		ours(d, i, &c, &m);
		mine += c;
		cap += d->dev[i].cpu;
	}
	if (d->fg.node_have_prev && ps.total_ticks > d->fg.node_prev_total &&
	    ps.busy_ticks >= d->fg.node_prev_busy && cap > 0) {
		double busy = (double)(ps.busy_ticks - d->fg.node_prev_busy) /
			      (double)(ps.total_ticks - d->fg.node_prev_total) * ps.ncpus;
		/* CPUs the devices were not given (node_cores below the CPUs online) are room
		 * for the system. */
		double x = fmax(0, busy - mine - fmax(0, (double)ps.ncpus - fmin(ps.ncpus, cap)));
		for (size_t i = 0; i < d->n_dev; i++) {
			struct dforeign_dev *f = &d->fg.dev[i];
			f->cpu = sampler_ewma(f->cpu, x * d->dev[i].cpu / cap, alpha, !f->valid);
			f->valid = true;
		}
	}
	d->fg.node_prev_busy = ps.busy_ticks;
	d->fg.node_prev_total = ps.total_ticks;
	d->fg.node_have_prev = true;
}

void daemon_foreign_tick(struct daemon *d, uint64_t now)
{
	_cleanup_free_ char *stat = NULL, *path = NULL;
	struct sampler_node sn;
	double alpha = d->conf.smoothing, mem_total = 0, foreign_mem = 0;
	size_t len;

	if (!d->fg.dev)
		return;
	if (asprintf(&path, "%s/stat", d->o.proc ? d->o.proc : "/proc") < 0)
		path = NULL;
	if (!path || read_file_at(AT_FDCWD, path, &stat, &len) < 0)
		return;
	if (sampler_node_get(d->sampler, &sn) >= 0 && sn.mem_total) {
		/* Memory the node's users hold past what edgeslice was not given (node_memory
		 * below MemTotal leaves room for the system), minus edgeslice's own tasks. */
		double used = (double)(sn.mem_total - sn.mem_available), mine = 0;
		for (size_t i = 0; i < d->n_dev; i++) {
			double c, m;
			ours(d, i, &c, &m);
			mine += m;
			mem_total += (double)d->dev[i].mem;
		}
		/* Memory no device was given (devices' memory= below MemTotal) is the system's
		 * room: only use past it eats into the devices. */
		foreign_mem = fmax(0, used - mine - fmax(0, (double)sn.mem_total - mem_total));
		d->fg.psi_cpu = (sn.have & PROBE_HAVE_PSI_CPU) ? sn.psi_cpu.some.avg10 : 0;
		d->fg.psi_mem = (sn.have & PROBE_HAVE_PSI_MEM) ? sn.psi_mem.some.avg10 : 0;
	}
	if (!d->fg.per_device)
		node_cpu(d, stat, alpha);
	for (size_t i = 0; i < d->n_dev; i++) {
		struct dforeign_dev *f = &d->fg.dev[i];
		struct probe_proc_stat ps;
		double cpu, mem;
		f->mem = mem_total > 0 ? foreign_mem * (double)d->dev[i].mem / mem_total : 0;
		if (!d->fg.per_device || probe_parse_proc_stat_cpus(stat, d->dev[i].cpus, &ps) < 0)
			continue;
		ours(d, i, &cpu, &mem);
		if (f->have_prev && ps.total_ticks > f->prev_total &&
		    ps.busy_ticks >= f->prev_busy) {
			double busy = (double)(ps.busy_ticks - f->prev_busy) /
				      (double)(ps.total_ticks - f->prev_total) * ps.ncpus;
			/* CPUs of the set the device was not given (cores= below the set, or
			 * node_cores below the CPUs online) are room for the system. */
			double headroom = fmax(0, (double)ps.ncpus - fmin(ps.ncpus, d->dev[i].cpu));
			double x = fmax(0, busy - cpu - headroom);
			f->cpu = sampler_ewma(f->cpu, x, alpha, !f->valid);
			f->valid = true;
		}
		f->prev_busy = ps.busy_ticks;
		f->prev_total = ps.total_ticks;
		f->have_prev = true;
	}
	d->fg.backoff =
	    d->conf.pressure_backoff > 0 && (d->fg.psi_cpu >= d->conf.pressure_backoff ||
					     d->fg.psi_mem >= d->conf.pressure_backoff);
	if (d->fg.scan && now - d->fg.scan_at >= SCAN_PERIOD_USEC) {
		(void)probe_foreign_scan(d->fg.scan, now);
		d->fg.scan_at = now;
	}
}

bool daemon_foreign_counts(const struct daemon *d)
{
	/* RD-DRF places on real-time availability; the other policies keep their classic
	 * definition of free capacity, so comparisons between them stay honest. */
	return !strcmp(d->conf.policy, "rddrf") && !d->conf.foreign_ignored;
}

json_object *daemon_foreign_json(struct daemon *d)
{
	struct probe_foreign_cg top[DFOREIGN_ROWS];
	json_object *o = json_object_new_object(), *rows = json_object_new_array();
	size_t n = d->fg.scan ? probe_foreign_top(d->fg.scan, top, DFOREIGN_ROWS) : 0;

	json_object_object_add(o, "counted_by_policy",
			       json_object_new_boolean(daemon_foreign_counts(d)));
	json_object_object_add(o, "pressure_cpu", json_object_new_double(d->fg.psi_cpu));
	json_object_object_add(o, "pressure_memory", json_object_new_double(d->fg.psi_mem));
	json_object_object_add(o, "backoff", json_object_new_boolean(d->fg.backoff));
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "cgroup", json_object_new_string(top[i].path));
		json_object_object_add(r, "kind", json_object_new_string(top[i].kind));
		json_object_object_add(r, "cpu_cores", json_object_new_double(top[i].cores));
		json_object_object_add(r, "mem_bytes",
				       json_object_new_int64((int64_t)top[i].mem_bytes));
		json_object_array_add(rows, r);
	}
	json_object_object_add(o, "cgroups", rows);
	return o;
}
