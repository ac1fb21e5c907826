/* policy.c — RD-DRF and its baselines (drf, drf-paper, rr, random) behind policy.h.
 * Pure state machine: the caller feeds devices, queues, instances, samples and time. */
#include "policy_internal.h"

/* --- names ------------------------------------------------------------------ */

static const char *const kind_names[_POLICY_KIND_MAX] = {
    [POLICY_RDDRF] = "rddrf", [POLICY_DRF] = "drf",	  [POLICY_DRF_PAPER] = "drf-paper",
    [POLICY_RR] = "rr",	      [POLICY_RANDOM] = "random",
};

int policy_kind_from_name(const char *name, enum policy_kind *ret)
{
	if (!name)
		return -EINVAL;
	for (int k = 0; k < _POLICY_KIND_MAX; k++)
		if (!strcmp(name, kind_names[k])) {
			*ret = (enum policy_kind)k;
			return 0;
		}
	return -EINVAL;
}

const char *policy_kind_name(enum policy_kind k)
{
	if ((unsigned)k >= _POLICY_KIND_MAX)
		return NULL;
	return kind_names[k];
}

/* --- helpers ---------------------------------------------------------------- */

static bool res_valid(struct policy_res r)
{
	return isfinite(r.cpu) && isfinite(r.mem) && r.cpu >= 0 && r.mem >= 0;
}

/* Sums of fractional cores drift in the last bits (0.1 + 0.2 != 0.3); a nano-core and a
 * byte of slack keep an exact fit from failing on rounding. */
bool policy_res_fits(struct policy_res d, struct policy_res free)
{
	return d.cpu <= free.cpu + 1e-9 && d.mem <= free.mem + 1;
}

struct policy_res policy_res_add(struct policy_res a, struct policy_res b)
{
	return (struct policy_res){a.cpu + b.cpu, a.mem + b.mem};
}

struct policy_res policy_res_sub(struct policy_res a, struct policy_res b)
{
	return (struct policy_res){a.cpu - b.cpu, a.mem - b.mem};
}

static struct policy_res res_scale(struct policy_res a, double k)
{
	return (struct policy_res){a.cpu * k, a.mem * k};
}

/* Float sums drift; a tiny negative residue means zero. */
static struct policy_res res_clamp0(struct policy_res a)
{
	if (a.cpu < 1e-9)
		a.cpu = 0;
	if (a.mem < 1e-3)
		a.mem = 0;
	return a;
}

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t policy_rng_below(uint64_t *s, uint32_t n)
{
	/* Lemire's multiply-shift; bias is below 2^-32 for the n we see. */
	return (uint32_t)(((splitmix64(s) >> 32) * (uint64_t)n) >> 32);
}

static uint32_t hash_slot(uint64_t id, uint32_t cap)
{
	uint64_t h = id * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (cap - 1);
}

static uint32_t hash_find(const struct policy *p, uint64_t id)
{
	if (!p->hash_cap)
		return NIL;
	for (uint32_t s = hash_slot(id, p->hash_cap);; s = (s + 1) & (p->hash_cap - 1)) {
		uint32_t i = p->hash[s];
		if (i == NIL)
			return NIL;
		if (p->insts[i].id == id)
			return i;
	}
}

static int hash_grow(struct policy *p)
{
	uint32_t ncap = p->hash_cap ? p->hash_cap * 2 : 64;
	uint32_t *nh = malloc(sizeof(uint32_t) * ncap);
	if (!nh)
		return -ENOMEM;
	memset(nh, 0xff, sizeof(uint32_t) * ncap);
	for (uint32_t k = 0; k < p->hash_cap; k++) {
		uint32_t i = p->hash[k];
		if (i == NIL)
			continue;
		uint32_t s = hash_slot(p->insts[i].id, ncap);
		while (nh[s] != NIL)
			s = (s + 1) & (ncap - 1);
		nh[s] = i;
	}
	free(p->hash);
	p->hash = nh;
	p->hash_cap = ncap;
	return 0;
}

static void hash_insert(struct policy *p, uint32_t idx)
{
	uint32_t s = hash_slot(p->insts[idx].id, p->hash_cap);
	while (p->hash[s] != NIL)
		s = (s + 1) & (p->hash_cap - 1);
	p->hash[s] = idx;
	p->n_hashed++;
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
static void hash_remove(struct policy *p, uint64_t id)
{
	uint32_t mask = p->hash_cap - 1;
	uint32_t s = hash_slot(id, p->hash_cap);
	while (p->hash[s] != NIL && p->insts[p->hash[s]].id != id)
		s = (s + 1) & mask;
	if (p->hash[s] == NIL)
		return;
	p->hash[s] = NIL;
	p->n_hashed--;
	for (uint32_t j = (s + 1) & mask; p->hash[j] != NIL; j = (j + 1) & mask) {
		uint32_t home = hash_slot(p->insts[p->hash[j]].id, p->hash_cap);
		/* move j back into the hole if its home is not in (s, j] cyclically */
		bool in_range = s <= j ? (home > s && home <= j) : (home > s || home <= j);
		if (!in_range) {
			p->hash[s] = p->hash[j];
			p->hash[j] = NIL;
			s = j;
		}
	}
}

static int inst_alloc(struct policy *p, uint32_t *ret)
{
	if (p->free_inst != NIL) {
		*ret = p->free_inst;
		p->free_inst = p->insts[*ret].next;
		return 0;
	}
	if (p->n_insts == p->cap_insts) {
		uint32_t ncap = p->cap_insts ? p->cap_insts * 2 : 64;
		struct inst *n = realloc(p->insts, sizeof(*n) * ncap);
		if (!n)
			return -ENOMEM;
		p->insts = n;
		p->cap_insts = ncap;
	}
	*ret = p->n_insts++;
	return 0;
}

static void inst_release_slot(struct policy *p, uint32_t idx)
{
	hash_remove(p, p->insts[idx].id);
	p->insts[idx].state = INST_FREE;
	p->insts[idx].next = p->free_inst;
	p->free_inst = idx;
}

void policy_fifo_unlink(struct policy *p, struct queue *q, uint32_t idx)
{
	struct inst *in = &p->insts[idx];
	if (in->prev != NIL)
		p->insts[in->prev].next = in->next;
	else
		q->head = in->next;
	if (in->next != NIL)
		p->insts[in->next].prev = in->prev;
	else
		q->tail = in->prev;
	in->prev = in->next = NIL;
	q->waiting--;
}

static struct dev *dev_get(const struct policy *p, uint32_t dev_id)
{
	if (dev_id >= p->n_devs || !p->devs[dev_id].present)
		return NULL;
	return &p->devs[dev_id];
}

/* --- lifecycle ---------------------------------------------------------------- */

int policy_new(const struct policy_params *params, struct policy **ret)
{
	struct policy *p;

	if (!params || !ret || (unsigned)params->kind >= _POLICY_KIND_MAX)
		return -EINVAL;
	if (params->reconcile_period_s < 0 || !isfinite(params->reconcile_period_s))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->params = *params;
	if (p->params.reconcile_period_s == 0)
		p->params.reconcile_period_s = 10;
	p->rng = params->seed;
	p->free_inst = NIL;
	*ret = p;
	return 0;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (uint32_t j = 0; j < p->n_queues; j++)
		free(p->queues[j].name);
	free(p->queues);
	free(p->devs);
	free(p->insts);
	free(p->hash);
	free(p->heap);
	free(p->share);
	policy_devidx_free(p);
	free(p);
}

/* --- devices ------------------------------------------------------------------ */

int policy_add_device(struct policy *p, uint32_t dev_id, struct policy_res total)
{
	if (!p || dev_id == NIL || !res_valid(total) || total.cpu <= 0 || total.mem <= 0)
		return -EINVAL;
	if (dev_id < p->n_devs && p->devs[dev_id].present)
		return -EEXIST;
	if (dev_id >= p->n_devs) {
		uint32_t n = dev_id + 1;
		struct dev *d = realloc(p->devs, sizeof(*d) * n);
		if (!d)
			return -ENOMEM;
		memset(d + p->n_devs, 0, sizeof(*d) * (n - p->n_devs));
		p->devs = d;
		p->n_devs = n;
	}
	p->devs[dev_id] =
	    (struct dev){.total = total, .meas_free = total, .present = true, .live = true};
	policy_devidx_invalidate(p);
	p->total_valid = false;
	return 0;
}

int policy_set_device_live(struct policy *p, uint32_t dev_id, bool live)
{
	struct dev *d = p ? dev_get(p, dev_id) : NULL;
	if (!d)
		return -ENOENT;
	d->live = live;
	p->total_valid = false;
	policy_devidx_touch(p, dev_id);
	return 0;
}

int policy_set_device_free(struct policy *p, uint32_t dev_id, struct policy_res measured_free)
{
	struct dev *d = p ? dev_get(p, dev_id) : NULL;
	if (!d)
		return -ENOENT;
	if (!isfinite(measured_free.cpu) || !isfinite(measured_free.mem))
		return -EINVAL;
	/* A measurement can overshoot by rounding or undershoot under pressure; keep it sane. */
	measured_free.cpu = fmin(fmax(measured_free.cpu, 0), d->total.cpu);
	measured_free.mem = fmin(fmax(measured_free.mem, 0), d->total.mem);
	d->meas_free = measured_free;
	d->pending = d->credit = (struct policy_res){0, 0};
	d->epoch++;
	policy_devidx_touch(p, dev_id);
	return 0;
}

/* Free capacity R_i as the configured policy sees it. */
struct policy_res policy_dev_free(const struct policy *p, const struct dev *d)
{
	switch (p->params.kind) {
	case POLICY_RDDRF: {
		struct policy_res r = d->meas_free;
		if (!p->params.no_inflight_compensation)
			r = policy_res_sub(r, policy_res_add(d->inflight, d->pending));
		r = policy_res_add(r, d->credit);
		r.cpu = fmin(r.cpu, d->total.cpu);
		r.mem = fmin(r.mem, d->total.mem);
		/* Memory is not compressible: admitting on memory measured below a running
		 * task's demand bets that it will not grow into it, and losing the bet is an OOM
		 * kill. CPU is compressible (the worst case is throttling), so it stays measured.
		 */
		if (!p->params.memory_on_measured)
			r.mem = fmin(r.mem, d->total.mem - d->alloc.mem);
		return r;
	}
	case POLICY_DRF_PAPER:
		return policy_res_sub(d->total, policy_res_add(d->alloc, d->stale_alloc));
	default:
		return policy_res_sub(d->total, d->alloc);
	}
}

/* --- queues ------------------------------------------------------------------- */

int policy_add_queue(struct policy *p, const char *name, struct policy_res demand, double weight,
		     uint32_t *ret_queue_id)
{
	uint32_t id;

	if (!p || !name || !*name || !res_valid(demand) || (demand.cpu <= 0 && demand.mem <= 0))
		return -EINVAL;
	if (weight == 0)
		weight = 1;
	if (!(weight > 0) || !isfinite(weight))
		return -EINVAL;
	if (policy_find_queue(p, name, &id) == 0)
		return -EEXIST;
	if (p->n_queues == NIL - 1)
		return -ENOSPC;
	if (p->n_queues == p->cap_queues) {
		uint32_t ncap = p->cap_queues ? p->cap_queues * 2 : 16;
		struct queue *nq = realloc(p->queues, sizeof(*nq) * ncap);
		if (!nq)
			return -ENOMEM;
		p->queues = nq;
		p->cap_queues = ncap;
		uint32_t *nh = realloc(p->heap, sizeof(uint32_t) * ncap);
		if (!nh)
			return -ENOMEM;
		p->heap = nh;
		double *ns = realloc(p->share, sizeof(double) * ncap);
		if (!ns)
			return -ENOMEM;
		p->share = ns;
		p->heap_cap = ncap;
	}
	char *n = strdup(name);
	if (!n)
		return -ENOMEM;
	id = p->n_queues++;
	p->queues[id] =
	    (struct queue){.name = n, .demand = demand, .weight = weight, .head = NIL, .tail = NIL};
	if (ret_queue_id)
		*ret_queue_id = id;
	return 0;
}

int policy_find_queue(const struct policy *p, const char *name, uint32_t *ret_queue_id)
{
	if (!p || !name)
		return -EINVAL;
	for (uint32_t j = 0; j < p->n_queues; j++)
		if (!strcmp(p->queues[j].name, name)) {
			if (ret_queue_id)
				*ret_queue_id = j;
			return 0;
		}
	return -ENOENT;
}

size_t policy_n_queues(const struct policy *p)
{
	return p ? p->n_queues : 0;
}

/* U_j as the configured policy sees it. */
static struct policy_res queue_usage(const struct policy *p, const struct queue *q)
{
	switch (p->params.kind) {
	case POLICY_RDDRF:
		if (p->params.no_inflight_compensation)
			return res_clamp0(q->usage_meas);
		return res_clamp0(
		    policy_res_add(q->usage_meas, res_scale(q->demand, q->n_inflight)));
	case POLICY_DRF_PAPER:
		return res_scale(q->demand, (double)q->running + q->stale_running);
	default:
		return res_scale(q->demand, q->running);
	}
}

/* Kept between decisions (O(devices) to sum), summed again, in the same order, after a
 * device is added or changes liveness. */
struct policy_res policy_pooled_total(const struct policy *p)
{
	struct policy *w = (struct policy *)p; /* a cache, not state */
	struct policy_res c = {0, 0};

	if (p->total_valid)
		return p->total_cache;
	for (uint32_t i = 0; i < p->n_devs; i++)
		if (p->devs[i].present && p->devs[i].live)
			c = policy_res_add(c, p->devs[i].total);
	w->total_cache = c;
	w->total_valid = true;
	return c;
}

double policy_dominant_share(const struct policy *p, const struct queue *q, struct policy_res c)
{
	struct policy_res u = queue_usage(p, q);
	double s = 0;
	if (c.cpu > 0)
		s = fmax(s, u.cpu / c.cpu);
	if (c.mem > 0)
		s = fmax(s, u.mem / c.mem);
	return s / q->weight;
}

int policy_queue_info(const struct policy *p, uint32_t queue_id, struct policy_queue_info *ret)
{
	if (!p || !ret)
		return -EINVAL;
	if (queue_id >= p->n_queues)
		return -ENOENT;
	const struct queue *q = &p->queues[queue_id];
	*ret = (struct policy_queue_info){
	    .name = q->name,
	    .demand = q->demand,
	    .weight = q->weight,
	    .usage = queue_usage(p, q),
	    .dominant_share = policy_dominant_share(p, q, policy_pooled_total(p)),
	    .waiting = q->waiting,
	    .running = q->running,
	    .has_head = q->head != NIL,
	    .head_id = q->head != NIL ? p->insts[q->head].id : 0,
	};
	return 0;
}

int policy_device_info(const struct policy *p, uint32_t dev_id, struct policy_device_info *ret)
{
	const struct dev *d = p ? dev_get(p, dev_id) : NULL;
	if (!ret)
		return -EINVAL;
	if (!d)
		return -ENOENT;
	*ret = (struct policy_device_info){.total = d->total,
					   .free = policy_dev_free(p, d),
					   .running = d->running,
					   .live = d->live};
	return 0;
}

/* --- instances ---------------------------------------------------------------- */

int policy_enqueue(struct policy *p, uint32_t queue_id, uint64_t inst_id, double arrival_s)
{
	uint32_t idx;
	bool fits_somewhere = false;
	int r;

	if (!p || !isfinite(arrival_s))
		return -EINVAL;
	if (queue_id >= p->n_queues)
		return -ENOENT;
	struct queue *q = &p->queues[queue_id];
	for (uint32_t i = 0; i < p->n_devs && !fits_somewhere; i++)
		fits_somewhere = p->devs[i].present && policy_res_fits(q->demand, p->devs[i].total);
	if (!fits_somewhere)
		return -E2BIG;
	if (hash_find(p, inst_id) != NIL)
		return -EEXIST;
	if ((p->n_hashed + 1) * 2 > p->hash_cap) {
		r = hash_grow(p);
		if (r < 0)
			return r;
	}
	r = inst_alloc(p, &idx);
	if (r < 0)
		return r;
	p->insts[idx] = (struct inst){
	    .id = inst_id,
	    .queue = queue_id,
	    .dev = NIL,
	    .prev = q->tail,
	    .next = NIL,
	    .arrival = arrival_s,
	    .state = INST_WAITING,
	};
	if (q->tail != NIL)
		p->insts[q->tail].next = idx;
	else
		q->head = idx;
	q->tail = idx;
	q->waiting++;
	hash_insert(p, idx);
	return 0;
}

int policy_cancel(struct policy *p, uint64_t inst_id)
{
	uint32_t idx = p ? hash_find(p, inst_id) : NIL;
	if (idx == NIL || p->insts[idx].state != INST_WAITING)
		return -ENOENT;
	policy_fifo_unlink(p, &p->queues[p->insts[idx].queue], idx);
	inst_release_slot(p, idx);
	return 0;
}

int policy_sample(struct policy *p, uint64_t inst_id, struct policy_res usage)
{
	uint32_t idx = p ? hash_find(p, inst_id) : NIL;
	if (idx == NIL || p->insts[idx].state != INST_RUNNING)
		return -ENOENT;
	if (!res_valid(usage))
		return -EINVAL;
	struct inst *in = &p->insts[idx];
	struct queue *q = &p->queues[in->queue];
	struct dev *d = &p->devs[in->dev];
	if (!in->sampled) {
		/* In-flight compensation ends for U_j now; for R_i it ends with the next
		 * device measurement, which is the first one that can include this usage. */
		in->sampled = true;
		in->sample_epoch = d->epoch;
		q->n_inflight--;
		d->inflight = res_clamp0(policy_res_sub(d->inflight, q->demand));
		d->pending = policy_res_add(d->pending, q->demand);
		q->usage_meas = policy_res_add(q->usage_meas, usage);
	} else {
		q->usage_meas =
		    res_clamp0(policy_res_add(q->usage_meas, policy_res_sub(usage, in->usage)));
	}
	in->usage = usage;
	policy_devidx_touch(p, in->dev);
	return 0;
}

int policy_release(struct policy *p, uint64_t inst_id, double now_s)
{
	uint32_t idx = p ? hash_find(p, inst_id) : NIL;
	if (idx == NIL || p->insts[idx].state != INST_RUNNING)
		return -ENOENT;
	struct inst *in = &p->insts[idx];
	struct queue *q = &p->queues[in->queue];
	struct dev *d = &p->devs[in->dev];

	if (in->sampled) {
		q->usage_meas = res_clamp0(policy_res_sub(q->usage_meas, in->usage));
		if (in->sample_epoch == d->epoch)
			d->pending = res_clamp0(policy_res_sub(d->pending, q->demand));
		else
			d->credit = policy_res_add(d->credit,
						   in->usage); /* measured; back until next tick */
	} else {
		q->n_inflight--;
		d->inflight = res_clamp0(policy_res_sub(d->inflight, q->demand));
	}
	q->running--;
	d->running--;
	d->alloc = res_clamp0(policy_res_sub(d->alloc, q->demand));
	if (p->params.kind == POLICY_DRF_PAPER) {
		/* The defect modelled: the release is invisible until the next reconciliation. */
		q->stale_running++;
		d->stale_alloc = policy_res_add(d->stale_alloc, q->demand);
	}
	if (q->running == 0)
		q->usage_meas = (struct policy_res){0, 0};
	policy_devidx_touch(p, in->dev);
	inst_release_slot(p, idx);
	return 0;
}
