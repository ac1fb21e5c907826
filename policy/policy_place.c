/* policy_place.c — the placement decision: queue order by dominant share (RD-DRF, DRF,
 * DRF-paper) or round robin, device choice per policy, and policy_next. Pure. */
#include "policy_internal.h"

/* --- decisions ------------------------------------------------------------------ */

int policy_queue_cmp(const struct policy_queue_key *a, const struct policy_queue_key *b)
{
	if (a->share != b->share)
		return a->share < b->share ? -1 : 1;
	if (a->running != b->running)
		return a->running < b->running ? -1 : 1;
	if (a->head_arrival != b->head_arrival)
		return a->head_arrival < b->head_arrival ? -1 : 1;
	int c = strcmp(a->name, b->name);
	return (c > 0) - (c < 0);
}

static int queue_cmp_idx(const struct policy *p, uint32_t a, uint32_t b)
{
	const struct queue *qa = &p->queues[a], *qb = &p->queues[b];
	struct policy_queue_key ka = {p->share[a], qa->running, p->insts[qa->head].arrival,
				      qa->name};
	struct policy_queue_key kb = {p->share[b], qb->running, p->insts[qb->head].arrival,
				      qb->name};
	return policy_queue_cmp(&ka, &kb);
}

static void sift_down(struct policy *p, uint32_t *h, uint32_t n, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && queue_cmp_idx(p, h[l], h[m]) < 0)
			m = l;
		if (r < n && queue_cmp_idx(p, h[r], h[m]) < 0)
			m = r;
		if (m == i)
			return;
		uint32_t t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/* rddrf: the fitting live device with the most idle resources after placement. */
static uint32_t pick_most_idle(const struct policy *p, struct policy_res dem)
{
	uint32_t best = NIL;
	double best_idle = -INFINITY;
	for (uint32_t i = 0; i < p->n_devs; i++) {
		const struct dev *d = &p->devs[i];
		if (!d->present || !d->live)
			continue;
		struct policy_res f = policy_dev_free(p, d);
		if (!policy_res_fits(dem, f))
			continue;
		double idle = policy_idle_after(f, d->total, dem);
		if (idle > best_idle) {
			best_idle = idle;
			best = i;
		}
	}
	return best;
}

static uint32_t pick_first_fit(const struct policy *p, struct policy_res dem, uint32_t start)
{
	for (uint32_t k = 0; k < p->n_devs; k++) {
		uint32_t i = (start + k) % p->n_devs;
		const struct dev *d = &p->devs[i];
		if (d->present && d->live && policy_res_fits(dem, policy_dev_free(p, d)))
			return i;
	}
	return NIL;
}

static uint32_t pick_random_fit(struct policy *p, struct policy_res dem)
{
	uint32_t n = 0, chosen = NIL;
	/* Reservoir sampling: one pass, uniform over fitting devices. */
	for (uint32_t i = 0; i < p->n_devs; i++) {
		const struct dev *d = &p->devs[i];
		if (d->present && d->live && policy_res_fits(dem, policy_dev_free(p, d)) &&
		    policy_rng_below(&p->rng, ++n) == 0)
			chosen = i;
	}
	return chosen;
}

/* drf-paper: fit against the pooled free capacity; the device is the one with the most
 * (stale) free capacity, which may still be unable to hold the instance right now. Devices
 * whose total cannot ever hold it are not candidates: the task would wait there forever,
 * which models no real scheduler. */
static uint32_t pick_pooled(const struct policy *p, struct policy_res dem)
{
	struct policy_res pool = {0, 0};
	uint32_t best = NIL;
	double best_idle = -INFINITY;
	for (uint32_t i = 0; i < p->n_devs; i++) {
		const struct dev *d = &p->devs[i];
		if (!d->present || !d->live)
			continue;
		struct policy_res f = policy_dev_free(p, d);
		pool = policy_res_add(pool, f);
		double idle = fmin(f.cpu / d->total.cpu, f.mem / d->total.mem);
		if (idle > best_idle && policy_res_fits(dem, d->total)) {
			best_idle = idle;
			best = i;
		}
	}
	if (best == NIL || !policy_res_fits(dem, pool))
		return NIL;
	return best;
}

static void reconcile(struct policy *p, double now_s)
{
	double period = p->params.reconcile_period_s;
	if (now_s - p->last_reconcile < period)
		return;
	for (uint32_t j = 0; j < p->n_queues; j++)
		p->queues[j].stale_running = 0;
	for (uint32_t i = 0; i < p->n_devs; i++)
		p->devs[i].stale_alloc = (struct policy_res){0, 0};
	p->last_reconcile = floor(now_s / period) * period;
}

/* Cheap necessary condition: no live device has that much free in some dimension. */
static bool can_fit_max(struct policy_res dem, struct policy_res maxfree)
{
	return policy_res_fits(dem, maxfree);
}

static uint32_t pick_device(struct policy *p, struct policy_res dem)
{
	uint32_t best;

	switch (p->params.kind) {
	case POLICY_RDDRF:
		if (policy_devidx_most_idle(p, dem, &best) == 0)
			return best;
		return pick_most_idle(p, dem);
	case POLICY_DRF_PAPER:
		return pick_pooled(p, dem);
	case POLICY_RR:
		return pick_first_fit(p, dem, p->rr_dev);
	case POLICY_RANDOM:
		return pick_random_fit(p, dem);
	default:
		return pick_first_fit(p, dem, 0);
	}
}

static void place(struct policy *p, uint32_t qid, uint32_t dev, struct policy_placement *ret)
{
	struct queue *q = &p->queues[qid];
	struct dev *d = &p->devs[dev];
	uint32_t idx = q->head;
	struct inst *in = &p->insts[idx];

	policy_fifo_unlink(p, q, idx);
	in->state = INST_RUNNING;
	in->dev = dev;
	in->sampled = false;
	q->running++;
	q->n_inflight++;
	d->running++;
	d->inflight = policy_res_add(d->inflight, q->demand);
	d->alloc = policy_res_add(d->alloc, q->demand);
	policy_devidx_touch(p, dev);
	*ret = (struct policy_placement){.inst_id = in->id, .queue_id = qid, .dev_id = dev};
}

int policy_next(struct policy *p, double now_s, struct policy_placement *ret)
{
	struct policy_res maxfree = {-1, -1}, pool = {0, 0};
	uint32_t n = 0, dev;

	if (!p || !ret || !isfinite(now_s))
		return -EINVAL;
	if (p->params.kind == POLICY_DRF_PAPER)
		reconcile(p, now_s);

	/* The index knows the largest free capacity; the scan is for the other policies (and
	 * drf-paper's pool). */
	bool indexed = policy_devidx_max_free(p, &maxfree) == 0;
	for (uint32_t i = 0; !indexed && i < p->n_devs; i++) {
		const struct dev *d = &p->devs[i];
		if (!d->present || !d->live)
			continue;
		struct policy_res f = policy_dev_free(p, d);
		maxfree.cpu = fmax(maxfree.cpu, f.cpu);
		maxfree.mem = fmax(maxfree.mem, f.mem);
		pool = policy_res_add(pool, f);
	}
	if (maxfree.cpu < 0)
		return -EAGAIN; /* no live device */
	/* drf-paper checks fit against the pool, so its prefilter is the pool. */
	if (p->params.kind == POLICY_DRF_PAPER)
		maxfree = pool;

	switch (p->params.kind) {
	case POLICY_RR:
		for (uint32_t k = 0; k < p->n_queues; k++) {
			uint32_t j = (p->rr_queue + k) % p->n_queues;
			struct queue *q = &p->queues[j];
			if (!q->waiting || !can_fit_max(q->demand, maxfree))
				continue;
			dev = pick_device(p, q->demand);
			if (dev == NIL)
				continue;
			place(p, j, dev, ret);
			p->rr_queue = (j + 1) % p->n_queues;
			p->rr_dev = (dev + 1) % p->n_devs;
			return 0;
		}
		return -EAGAIN;
	case POLICY_RANDOM: {
		/* Random order over the waiting queues (partial Fisher-Yates), first that fits. */
		for (uint32_t j = 0; j < p->n_queues; j++)
			if (p->queues[j].waiting && can_fit_max(p->queues[j].demand, maxfree))
				p->heap[n++] = j;
		while (n > 0) {
			uint32_t k = policy_rng_below(&p->rng, n);
			uint32_t j = p->heap[k];
			p->heap[k] = p->heap[--n];
			dev = pick_device(p, p->queues[j].demand);
			if (dev != NIL) {
				place(p, j, dev, ret);
				return 0;
			}
		}
		return -EAGAIN;
	}
	default:
		break;
	}

	/* DRF family: min s_j by the strict total order, skipping heads that cannot fit. */
	struct policy_res c = policy_pooled_total(p);
	for (uint32_t j = 0; j < p->n_queues; j++) {
		struct queue *q = &p->queues[j];
		if (!q->waiting || !can_fit_max(q->demand, maxfree))
			continue;
		p->share[j] = policy_dominant_share(p, q, c);
		p->heap[n++] = j;
	}
	for (uint32_t i = n / 2; i-- > 0;)
		sift_down(p, p->heap, n, i);
	while (n > 0) {
		uint32_t j = p->heap[0];
		dev = pick_device(p, p->queues[j].demand);
		if (dev != NIL) {
			place(p, j, dev, ret);
			return 0;
		}
		p->heap[0] = p->heap[--n];
		sift_down(p, p->heap, n, 0);
	}
	return -EAGAIN;
}

/* --- efficiency indicator (eq. 4) -------------------------------------------------- */

int policy_efficiency(const double *t_ms, size_t n, double *ret_eff)
{
	if (!t_ms || !ret_eff || n == 0)
		return -EINVAL;
	for (size_t c = 0; c < n; c++)
		if (!(t_ms[c] > 0) || !isfinite(t_ms[c]))
			return -EINVAL;
	for (size_t c = 0; c < n; c++)
		ret_eff[c] = t_ms[0] / (t_ms[c] * (double)(c + 1));
	return 0;
}

int policy_pick_cores(const double *t_ms, size_t n, enum policy_eff_rule rule, double eta,
		      unsigned *ret_cores)
{
	double *eff;
	unsigned best = 1;
	int r;

	if (!ret_cores || n == 0 || n > 4096)
		return -EINVAL;
	if (rule == POLICY_EFF_KNEE && (!(eta > 0) || eta > 1))
		return -EINVAL;
	if (rule != POLICY_EFF_KNEE && rule != POLICY_EFF_LITERAL)
		return -EINVAL;
	eff = malloc(sizeof(double) * n);
	if (!eff)
		return -ENOMEM;
	r = policy_efficiency(t_ms, n, eff);
	if (r < 0) {
		free(eff);
		return r;
	}
	if (rule == POLICY_EFF_LITERAL) {
		for (size_t c = 1; c < n; c++)
			if (eff[c] > eff[best - 1])
				best = (unsigned)c + 1; /* strict: ties keep fewer cores */
	} else {
		for (size_t c = 0; c < n; c++)
			if (eff[c] >= eta)
				best = (unsigned)c + 1;
	}
	free(eff);
	*ret_cores = best;
	return 0;
}
