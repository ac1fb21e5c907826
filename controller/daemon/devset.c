/* devset.c — the local device-set backend (devset.h): this node as one device, or split into
 * several by the cpuset partitions of the config. Fleet mode's backend is fleet/fleet-devset.c. */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "util.h"

struct local {
	size_t n;
	struct devset_device dev[DCONF_MAX_DEVICES];
};

static size_t local_count(void *ctx)
{
	return ((struct local *)ctx)->n;
}

static int local_get(void *ctx, size_t i, struct devset_device *ret)
{
	struct local *l = ctx;
	if (i >= l->n)
		return -ENOENT;
	*ret = l->dev[i];
	return 0;
}

static void local_free(void *ctx)
{
	free(ctx);
}

static const struct devset_ops local_ops = {
    .kind = "local",
    .refresh = NULL, /* the node's partitions are fixed until a restart */
    .count = local_count,
    .get = local_get,
    .free = local_free,
};

int devset_local_new(const struct dconf *c, double node_cpu, uint64_t node_mem, struct devset *ret)
{
	struct local *l = calloc(1, sizeof(*l));
	double cpu_sum = 0;
	uint64_t mem_sum = 0;
	size_t unset_mem = 0;

	if (!l)
		return -ENOMEM;
	if (c->n_devices == 0) {
		l->n = 1;
		snprintf(l->dev[0].name, sizeof(l->dev[0].name), "node");
		l->dev[0].cpu = node_cpu;
		l->dev[0].mem = node_mem;
		l->dev[0].local = true;
	} else {
		l->n = c->n_devices;
		for (size_t i = 0; i < l->n; i++) {
			struct devset_device *d = &l->dev[i];
			snprintf(d->name, sizeof(d->name), "%s", c->devices[i].name);
			snprintf(d->cpus, sizeof(d->cpus), "%s", c->devices[i].cpus);
			d->cpu =
			    c->devices[i].cpu > 0 ? c->devices[i].cpu : node_cpu / (double)l->n;
			d->mem = c->devices[i].mem;
			d->local = true;
			cpu_sum += d->cpu;
			mem_sum += d->mem;
			if (!d->mem)
				unset_mem++;
		}
		/* Devices without a memory size share what the others leave of the node. */
		for (size_t i = 0; i < l->n; i++)
			if (!l->dev[i].mem)
				l->dev[i].mem =
				    node_mem > mem_sum ? (node_mem - mem_sum) / unset_mem : 0;
		if (cpu_sum > node_cpu + 1e-9 || mem_sum > node_mem) {
			free(l);
			return -ERANGE; /* the partitions promise more than the node has */
		}
		for (size_t i = 0; i < l->n; i++)
			if (l->dev[i].mem == 0 || l->dev[i].cpu <= 0) {
				free(l);
				return -ERANGE;
			}
	}
	ret->ops = &local_ops;
	ret->ctx = l;
	return 0;
}
