/* reload.c — the model catalog and edgeslice.conf read again (SIGHUP, `reload`), checked
 * exactly as a start would check them, and the node's size as a start sees it. */
#include "daemon-internal.h"

int daemon_load_catalog(struct daemon *d, const char *path, bool required, char *err, size_t errsz)
{
	_cleanup_free_ char *text = NULL;
	struct dconf_model *m = NULL;
	size_t n = 0;
	int r = read_file_at(AT_FDCWD, path, &text, NULL);

	if (r == -ENOENT && required) {
		snprintf(err, errsz, "%.200s: no such file (the catalog key names it)", path);
		return r;
	} else if (r == -ENOENT) {
		m = malloc(sizeof(dconf_default_models));
		if (!m)
			return -ENOMEM;
		memcpy(m, dconf_default_models, sizeof(dconf_default_models));
		n = ELEMENTSOF(dconf_default_models);
		daemon_log(LOG_NOTICE, "%s absent and no catalog key: the %zu built-in models",
			   path, n);
	} else if (r < 0) {
		snprintf(err, errsz, "%.200s: %.40s", path, strerror(-r));
		return r;
	} else {
		char e[256];
		r = dconf_parse_models(text, &m, &n, e, sizeof(e));
		if (r < 0) {
			snprintf(err, errsz, "%.100s: %.150s", path, e);
			return r;
		}
	}
	free(d->models);
	d->models = m;
	d->n_models = n;
	return 0;
}

/* What start refuses, reload refuses: a device set the node (as the next start sizes it)
 * cannot hold. */
static int reload_check_devices(struct daemon *d, const struct dconf *c, char *err, size_t errsz)
{
	struct devset ds;
	double cpu;
	uint64_t mem;

	if (daemon_node_capacity(d, c, &cpu, &mem) < 0) {
		snprintf(err, errsz, "cannot read the node's memory size");
		return -ENODATA;
	}
	if (devset_local_new(c, cpu, mem, &ds) < 0) {
		snprintf(err, errsz,
			 "%.100s: device partitions exceed the node (%.3g cores, %" PRIu64
			 " bytes)",
			 d->o.config, cpu, mem);
		return -ERANGE;
	}
	ds.ops->free(ds.ctx);
	return 0;
}

/* Re-reads edgeslice.conf and the model catalog (SIGHUP, `reload`). Keys that can change under
 * running tasks take effect now; those that define the device set, the policy's state or the
 * probes (policy, seed, device, node_cores/memory, enforcement, measure, measure_smoothing)
 * keep their running values and are named in `restart` (space-separated). A bad file changes
 * nothing: -EBADMSG (config) or the catalog's error, reason in err. */
int daemon_reload(struct daemon *d, char *restart, size_t rsz, char *err, size_t errsz)
{
	_cleanup_free_ char *text = NULL;
	struct dconf c;
	char e[256];
	struct group *gr;
	int r = read_file_at(AT_FDCWD, d->o.config, &text, NULL);

	restart[0] = '\0';
	if (r < 0 && r != -ENOENT) {
		snprintf(err, errsz, "%.200s: %s", d->o.config, strerror(-r));
		daemon_log(LOG_ERR, "reload: %s; nothing changed", err);
		return -EBADMSG;
	}
	dconf_init(&c);
	if (text && dconf_parse(text, &c, e, sizeof(e)) < 0) {
		snprintf(err, errsz, "%.100s: %.150s", d->o.config, e);
		daemon_log(LOG_ERR, "reload: %s; nothing changed", err);
		return -EBADMSG;
	}
	r = reload_check_devices(d, &c, err, errsz);
	if (r < 0) {
		daemon_log(LOG_ERR, "reload: %s; nothing changed", err);
		return -EBADMSG;
	}
	r = daemon_load_catalog(d, c.catalog, c.catalog_set, err, errsz);
	if (r < 0) {
		daemon_log(LOG_ERR, "reload: catalog %s; nothing changed", err);
		return r;
	}
#define RESTART_IF(cond, key)                                                                      \
	do {                                                                                       \
		if (cond)                                                                          \
			snprintf(restart + strlen(restart), rsz - strlen(restart), "%s%s",         \
				 restart[0] ? " " : "", key);                                      \
	} while (0)
	RESTART_IF(strcmp(c.policy, d->conf.policy), "policy");
	RESTART_IF(c.seed != d->conf.seed, "seed");
	RESTART_IF(c.n_devices != d->conf.n_devices ||
		       memcmp(c.devices, d->conf.devices, c.n_devices * sizeof(c.devices[0])),
		   "device");
	RESTART_IF(c.node_cpu != d->conf.node_cpu, "node_cores");
	RESTART_IF(c.node_mem != d->conf.node_mem, "node_memory");
	RESTART_IF(c.strict != d->conf.strict, "enforcement");
	RESTART_IF(c.require_memory != d->conf.require_memory, "require_memory");
	RESTART_IF(c.measure != d->conf.measure, "measure");
	RESTART_IF(c.smoothing != d->conf.smoothing, "measure_smoothing");
	RESTART_IF(memcmp(&c.fleet, &d->conf.fleet, sizeof(c.fleet)), "fleet");
	RESTART_IF(strcmp(c.metrics_listen, d->conf.metrics_listen), "metrics_listen");
#undef RESTART_IF
	d->conf.measure_ms = c.measure_ms; /* the tick re-arms with it */
	d->conf.on_sigterm = c.on_sigterm;
	d->conf.overcommit = c.overcommit;
	d->conf.max_tasks = c.max_tasks;
	d->conf.prepare_cgroups = c.prepare_cgroups;
	d->conf.keep_finished = c.keep_finished;
	d->conf.metrics_commands = c.metrics_commands;
	d->conf.pressure_backoff = c.pressure_backoff;
	d->conf.foreign_ignored = c.foreign_ignored;
	d->conf.foreign_floor = c.foreign_floor;
	memcpy(d->conf.oci_runtime, c.oci_runtime, sizeof(c.oci_runtime));
	memcpy(d->conf.catalog, c.catalog, sizeof(c.catalog));
	if (strcmp(c.group, d->conf.group)) {
		memcpy(d->conf.group, c.group, sizeof(c.group));
		gr = getgrnam(d->conf.group);
		d->have_group = gr != NULL;
		if (gr) {
			d->group = gr->gr_gid;
			/* socket activation: SocketGroup= in the .socket unit */
			if (d->own_socket && chown(d->sock_path, 0, d->group) < 0)
				daemon_log(LOG_WARNING, "%s: cannot give it group %s (%s)",
					   d->sock_path, d->conf.group, strerror(errno));
		} else
			daemon_log(LOG_WARNING,
				   "group %s does not exist: only root may use the socket",
				   d->conf.group);
	}
	daemon_log(LOG_INFO, "reloaded %s and the model catalog (%zu models)%s%s", d->o.config,
		   d->n_models, restart[0] ? "; needs a restart to change: " : "", restart);
	daemon_schedule(d); /* placement = measured/reserved may have changed what fits */
	return 0;
}

/* The node's size as a start with config c sees it: node_cores/node_memory, else online
 * CPUs and MemTotal. */
int daemon_node_capacity(const struct daemon *d, const struct dconf *c, double *ret_cpu,
			 uint64_t *ret_mem)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	_cleanup_free_ char *mi = NULL;
	uint64_t mem = c->node_mem;

	if (!mem) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/meminfo", d->o.proc ? d->o.proc : "/proc");
		if (read_file_at(AT_FDCWD, path, &mi, NULL) >= 0)
			(void)probe_parse_meminfo(mi, "MemTotal", &mem);
	}
	if (!mem)
		return -ENODATA;
	*ret_cpu = c->node_cpu > 0 ? c->node_cpu : (double)(n > 0 ? n : 1);
	*ret_mem = mem;
	return 0;
}
