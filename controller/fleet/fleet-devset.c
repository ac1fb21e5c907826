/* fleet-devset.c — fleet mode as a device-set backend (devset.h): every device the live nodes
 * publish under their leases (nodes/<node>/devices/<dev>), read from etcd on each refresh. */
#include "fleet-internal.h"

struct fdevs {
	struct fleet *f;
	struct etcd *e;
	struct devset_device *v;
	size_t n;
};

static uint64_t nonneg(int64_t v)
{
	return v > 0 ? (uint64_t)v : 0;
}

int fleet_devices_parse(const struct etcd_kvs *kvs, struct devset_device **ret, size_t *ret_n)
{
	struct devset_device *v = calloc(kvs->n ? kvs->n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < kvs->n; i++) {
		struct devset_device *d = &v[n];
		json_object *o;
		memset(d, 0, sizeof(*d));
		/* Keys that are no device and values that are no JSON are not devices. */
		if (fleet_parse_device_key(kvs->kvs[i].key, d->node, sizeof(d->node), d->name,
					   sizeof(d->name)) < 0 ||
		    !(o = json_tokener_parse(kvs->kvs[i].value)))
			continue;
		d->cpu = fleet_jget_d(o, "cpu");
		d->mem = nonneg(fleet_jget_i(o, "mem"));
		d->cpu_used = fleet_jget_d(o, "cpu_used");
		d->mem_used = nonneg(fleet_jget_i(o, "mem_used"));
		json_object_put(o);
		n++;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int fdevs_refresh(void *ctx)
{
	struct fdevs *s = ctx;
	struct etcd_kvs kvs = {0};
	struct devset_device *v;
	size_t n;
	int r;

	if (s->f && fleet_mirrored(s->f)) { /* the placer's watch keeps nodes/ */
		kvs = fleet_mirror_view(s->f, PW_NODES);
		r = fleet_devices_parse(&kvs, &v, &n);
	} else {
		r = etcd_range(s->e, K_NODES, &kvs);
		if (r >= 0)
			r = fleet_devices_parse(&kvs, &v, &n);
		etcd_kvs_done(&kvs);
	}
	if (r < 0)
		return r;
	free(s->v);
	s->v = v;
	s->n = n;
	return 0;
}

static size_t fdevs_count(void *ctx)
{
	return ((struct fdevs *)ctx)->n;
}

static int fdevs_get(void *ctx, size_t i, struct devset_device *ret)
{
	struct fdevs *s = ctx;
	if (i >= s->n)
		return -ENOENT;
	*ret = s->v[i];
	return 0;
}

static void fdevs_free(void *ctx)
{
	struct fdevs *s = ctx;
	if (s)
		free(s->v);
	free(s);
}

static const struct devset_ops fleet_ops = {
    .kind = "fleet",
    .refresh = fdevs_refresh,
    .count = fdevs_count,
    .get = fdevs_get,
    .free = fdevs_free,
};

int fleet_devset_new(struct fleet *f, struct devset *ret)
{
	struct fdevs *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->f = f;
	s->e = f->e;
	ret->ops = &fleet_ops;
	ret->ctx = s;
	return 0;
}
