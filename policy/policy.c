/* policy.c — RD-DRF and its baselines (drf, drf-paper, rr, random) behind policy.h.
 * Pure state machine: the caller feeds devices, queues, instances, samples and time. */
#include "policy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX

enum inst_state { INST_FREE, INST_WAITING, INST_RUNNING };

struct inst {
	uint64_t id;
	uint32_t queue;
	uint32_t dev;
	uint32_t prev, next; /* FIFO links while waiting; free-list link when free */
	double arrival;
	struct policy_res usage; /* last sample */
	uint64_t sample_epoch;	 /* device epoch at the first sample */
	uint8_t state;
	bool sampled;
};

struct dev {
	struct policy_res total;
	struct policy_res meas_free; /* last policy_set_device_free (total until then) */
	/* In-flight compensation, subtracted from meas_free until a measurement covers it:
	 * demands of unsampled instances, and of instances sampled after the last device
	 * measurement. Released-but-still-measured usage is credited back. */
	struct policy_res inflight, pending, credit;
	struct policy_res alloc;       /* sum of demands placed here (drf, rr, random) */
	struct policy_res stale_alloc; /* drf-paper: releases not yet reconciled */
	uint64_t epoch;
	uint32_t running;
	bool present, live;
};

struct queue {
	char *name;
	struct policy_res demand;
	double weight;
	struct policy_res usage_meas; /* sum of last samples of sampled running instances */
	uint32_t n_inflight;	      /* running instances without a sample */
	uint32_t running, waiting;
	uint32_t stale_running; /* drf-paper: released but not yet reconciled */
	uint32_t head, tail;
};

struct policy {
	struct policy_params params;
	struct dev *devs;
	uint32_t n_devs; /* array size (max id + 1) */
	struct queue *queues;
	uint32_t n_queues, cap_queues;
	struct inst *insts;
	uint32_t n_insts, cap_insts, free_inst;
	/* inst id -> index, open addressing with linear probing; NIL = empty */
	uint32_t *hash;
	uint32_t hash_cap; /* power of two */
	uint32_t n_hashed;
	uint64_t rng;
	uint32_t rr_queue, rr_dev;
	double last_reconcile;
	/* scratch for policy_next */
	uint32_t *heap;
	uint32_t heap_cap;
	double *share;
};

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
static bool res_fits(struct policy_res d, struct policy_res free)
{
	return d.cpu <= free.cpu + 1e-9 && d.mem <= free.mem + 1;
}

static struct policy_res res_add(struct policy_res a, struct policy_res b)
{
	return (struct policy_res){a.cpu + b.cpu, a.mem + b.mem};
}

static struct policy_res res_sub(struct policy_res a, struct policy_res b)
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

static uint32_t rng_below(uint64_t *s, uint32_t n)
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

static void fifo_unlink(struct policy *p, struct queue *q, uint32_t idx)
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
	return 0;
}

int policy_set_device_live(struct policy *p, uint32_t dev_id, bool live)
{
	struct dev *d = p ? dev_get(p, dev_id) : NULL;
	if (!d)
		return -ENOENT;
	d->live = live;
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
	return 0;
}

/* Free capacity R_i as the configured policy sees it. */
static struct policy_res dev_free(const struct policy *p, const struct dev *d)
{
	switch (p->params.kind) {
	case POLICY_RDDRF: {
		struct policy_res r = d->meas_free;
		if (!p->params.no_inflight_compensation)
			r = res_sub(r, res_add(d->inflight, d->pending));
		r = res_add(r, d->credit);
		r.cpu = fmin(r.cpu, d->total.cpu);
		r.mem = fmin(r.mem, d->total.mem);
		return r;
	}
	case POLICY_DRF_PAPER:
		return res_sub(d->total, res_add(d->alloc, d->stale_alloc));
	default:
		return res_sub(d->total, d->alloc);
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
		return res_clamp0(res_add(q->usage_meas, res_scale(q->demand, q->n_inflight)));
	case POLICY_DRF_PAPER:
		return res_scale(q->demand, (double)q->running + q->stale_running);
	default:
		return res_scale(q->demand, q->running);
	}
}

static struct policy_res pooled_total(const struct policy *p)
{
	struct policy_res c = {0, 0};
	for (uint32_t i = 0; i < p->n_devs; i++)
		if (p->devs[i].present && p->devs[i].live)
			c = res_add(c, p->devs[i].total);
	return c;
}

static double dominant_share(const struct policy *p, const struct queue *q, struct policy_res c)
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
	    .dominant_share = dominant_share(p, q, pooled_total(p)),
	    .waiting = q->waiting,
	    .running = q->running,
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
	*ret = (struct policy_device_info){
	    .total = d->total, .free = dev_free(p, d), .running = d->running, .live = d->live};
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
		fits_somewhere = p->devs[i].present && res_fits(q->demand, p->devs[i].total);
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
	fifo_unlink(p, &p->queues[p->insts[idx].queue], idx);
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
		d->inflight = res_clamp0(res_sub(d->inflight, q->demand));
		d->pending = res_add(d->pending, q->demand);
		q->usage_meas = res_add(q->usage_meas, usage);
	} else {
		q->usage_meas = res_clamp0(res_add(q->usage_meas, res_sub(usage, in->usage)));
	}
	in->usage = usage;
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
		q->usage_meas = res_clamp0(res_sub(q->usage_meas, in->usage));
		if (in->sample_epoch == d->epoch)
			d->pending = res_clamp0(res_sub(d->pending, q->demand));
		else
			d->credit =
			    res_add(d->credit, in->usage); /* measured; back until next tick */
	} else {
		q->n_inflight--;
		d->inflight = res_clamp0(res_sub(d->inflight, q->demand));
	}
	q->running--;
	d->running--;
	d->alloc = res_clamp0(res_sub(d->alloc, q->demand));
	if (p->params.kind == POLICY_DRF_PAPER) {
		/* The defect modelled: the release is invisible until the next reconciliation. */
		q->stale_running++;
		d->stale_alloc = res_add(d->stale_alloc, q->demand);
	}
	if (q->running == 0)
		q->usage_meas = (struct policy_res){0, 0};
	inst_release_slot(p, idx);
	return 0;
}

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
		struct policy_res f = dev_free(p, d);
		if (!res_fits(dem, f))
			continue;
		struct policy_res a = res_sub(f, dem);
		double idle = fmin(a.cpu / d->total.cpu, a.mem / d->total.mem);
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
		if (d->present && d->live && res_fits(dem, dev_free(p, d)))
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
		if (d->present && d->live && res_fits(dem, dev_free(p, d)) &&
		    rng_below(&p->rng, ++n) == 0)
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
		struct policy_res f = dev_free(p, d);
		pool = res_add(pool, f);
		double idle = fmin(f.cpu / d->total.cpu, f.mem / d->total.mem);
		if (idle > best_idle && res_fits(dem, d->total)) {
			best_idle = idle;
			best = i;
		}
	}
	if (best == NIL || !res_fits(dem, pool))
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
	return res_fits(dem, maxfree);
}

static uint32_t pick_device(struct policy *p, struct policy_res dem)
{
	switch (p->params.kind) {
	case POLICY_RDDRF:
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

	fifo_unlink(p, q, idx);
	in->state = INST_RUNNING;
	in->dev = dev;
	in->sampled = false;
	q->running++;
	q->n_inflight++;
	d->running++;
	d->inflight = res_add(d->inflight, q->demand);
	d->alloc = res_add(d->alloc, q->demand);
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

	for (uint32_t i = 0; i < p->n_devs; i++) {
		const struct dev *d = &p->devs[i];
		if (!d->present || !d->live)
			continue;
		struct policy_res f = dev_free(p, d);
		maxfree.cpu = fmax(maxfree.cpu, f.cpu);
		maxfree.mem = fmax(maxfree.mem, f.mem);
		pool = res_add(pool, f);
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
			uint32_t k = rng_below(&p->rng, n);
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
	struct policy_res c = pooled_total(p);
	for (uint32_t j = 0; j < p->n_queues; j++) {
		struct queue *q = &p->queues[j];
		if (!q->waiting || !can_fit_max(q->demand, maxfree))
			continue;
		p->share[j] = dominant_share(p, q, c);
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
