/* policy_devidx.c — RD-DRF's device index: a tournament tree over the devices whose nodes keep
 * the bounds that let the most-idle-fit search skip whole subtrees. Pure, like the policies.
 *
 * Each node holds, over the live devices below it, the largest free CPU and memory (a demand
 * that fits neither cannot fit below), the largest free/total ratios and the largest totals.
 * For a demand d the idle after placement of a device is min(f.cpu/T.cpu - d.cpu/T.cpu,
 * f.mem/T.mem - d.mem/T.mem); max(f/T) - d/max(T) bounds it from above in floating point too
 * (correctly rounded division and subtraction are monotonic), so a left-first search that
 * skips a subtree whose bound is not above the best found returns exactly what the linear scan
 * returns, lowest index among equals included. A changed device is marked dirty and its path
 * to the root recomputed before the next decision: O(log n) per change. */
#include "policy_internal.h"

static void node_dead(struct devidx_node *n)
{
	*n = (struct devidx_node){-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
}

static void leaf_set(const struct policy *p, uint32_t i, struct devidx_node *n)
{
	const struct dev *d = i < p->n_devs ? &p->devs[i] : NULL;

	if (!d || !d->present || !d->live) {
		node_dead(n);
		return;
	}
	struct policy_res f = policy_dev_free(p, d);
	*n = (struct devidx_node){
	    f.cpu, f.mem, f.cpu / d->total.cpu, f.mem / d->total.mem, d->total.cpu, d->total.mem};
}

static void node_join(struct devidx_node *n, const struct devidx_node *a,
		      const struct devidx_node *b)
{
	n->fc = fmax(a->fc, b->fc);
	n->fm = fmax(a->fm, b->fm);
	n->rc = fmax(a->rc, b->rc);
	n->rm = fmax(a->rm, b->rm);
	n->tc = fmax(a->tc, b->tc);
	n->tm = fmax(a->tm, b->tm);
}

static bool enabled(const struct policy *p)
{
	return p->params.kind == POLICY_RDDRF && !p->params.no_device_index;
}

void policy_devidx_touch(struct policy *p, uint32_t dev_id)
{
	if (!enabled(p) || p->idx_rebuild || dev_id >= p->idx_cap)
		return;
	if (!p->idx_dirty[dev_id]) {
		p->idx_dirty[dev_id] = 1;
		p->idx_list[p->idx_n_dirty++] = dev_id;
	}
}

void policy_devidx_invalidate(struct policy *p)
{
	p->idx_rebuild = true;
}

void policy_devidx_free(struct policy *p)
{
	free(p->idx);
	free(p->idx_dirty);
	free(p->idx_list);
	p->idx = NULL;
	p->idx_dirty = NULL;
	p->idx_list = NULL;
	p->idx_cap = 0;
}

static int rebuild(struct policy *p)
{
	uint32_t cap = 1;

	while (cap < p->n_devs)
		cap *= 2;
	if (cap != p->idx_cap) {
		struct devidx_node *t = calloc(2 * (size_t)cap, sizeof(*t));
		uint8_t *dirty = calloc(cap, 1);
		uint32_t *list = calloc(cap, sizeof(*list));
		if (!t || !dirty || !list) {
			free(t);
			free(dirty);
			free(list);
			return -ENOMEM;
		}
		policy_devidx_free(p);
		p->idx = t;
		p->idx_dirty = dirty;
		p->idx_list = list;
		p->idx_cap = cap;
	}
	for (uint32_t i = 0; i < cap; i++)
		leaf_set(p, i, &p->idx[cap + i]);
	for (uint32_t k = cap; k-- > 1;)
		node_join(&p->idx[k], &p->idx[2 * k], &p->idx[2 * k + 1]);
	memset(p->idx_dirty, 0, cap);
	p->idx_n_dirty = 0;
	p->idx_rebuild = false;
	return 0;
}

/* Brings the tree up to date; -ENOMEM leaves it to the linear scan. */
static int sync_idx(struct policy *p)
{
	if (p->idx_rebuild || !p->idx)
		return rebuild(p);
	for (uint32_t k = 0; k < p->idx_n_dirty; k++) {
		uint32_t i = p->idx_list[k], n = p->idx_cap + i;
		p->idx_dirty[i] = 0;
		leaf_set(p, i, &p->idx[n]);
		for (n /= 2; n >= 1; n /= 2)
			node_join(&p->idx[n], &p->idx[2 * n], &p->idx[2 * n + 1]);
	}
	p->idx_n_dirty = 0;
	return 0;
}

/* The idle after placement, as the bound is computed (see the top of the file). */
double policy_idle_after(struct policy_res f, struct policy_res total, struct policy_res dem)
{
	return fmin(f.cpu / total.cpu - dem.cpu / total.cpu,
		    f.mem / total.mem - dem.mem / total.mem);
}

static void search(const struct policy *p, uint32_t k, struct policy_res dem, uint32_t *best,
		   double *best_idle)
{
	const struct devidx_node *n = &p->idx[k];

	if (!policy_res_fits(dem, (struct policy_res){n->fc, n->fm}))
		return;
	if (fmin(n->rc - dem.cpu / n->tc, n->rm - dem.mem / n->tm) <= *best_idle)
		return;
	if (k >= p->idx_cap) {
		uint32_t i = k - p->idx_cap;
		const struct dev *d = &p->devs[i];
		struct policy_res f = {n->fc, n->fm};
		double idle;
		if (!policy_res_fits(dem, f))
			return;
		idle = policy_idle_after(f, d->total, dem);
		if (idle > *best_idle) {
			*best_idle = idle;
			*best = i;
		}
		return;
	}
	search(p, 2 * k, dem, best, best_idle);
	search(p, 2 * k + 1, dem, best, best_idle);
}

int policy_devidx_most_idle(struct policy *p, struct policy_res dem, uint32_t *ret)
{
	uint32_t best = NIL;
	double best_idle = -INFINITY;

	if (!enabled(p) || p->n_devs == 0 || sync_idx(p) < 0)
		return -EOPNOTSUPP;
	search(p, 1, dem, &best, &best_idle);
	*ret = best;
	return 0;
}

int policy_devidx_max_free(struct policy *p, struct policy_res *ret)
{
	if (!enabled(p) || p->n_devs == 0 || sync_idx(p) < 0)
		return -EOPNOTSUPP;
	*ret = (struct policy_res){p->idx[1].fc, p->idx[1].fm};
	return 0;
}
