/* sim.c — time-stepped simulator: the policy places, device agents start tasks, tasks
 * share CPU and grow memory, OOM kills re-queue, measurement ticks feed the policy back. */
#include "sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NIL UINT32_MAX
#define MB  (1024.0 * 1024)
#define GB  (1024.0 * MB)

enum { I_FUTURE, I_WAITING, I_PLACED, I_RUNNING, I_DONE, I_REJECTED };

struct sinst {
	uint32_t queue;
	uint32_t dev;
	uint32_t next_local; /* device-local FIFO link */
	uint32_t run_pos;    /* index in the running list */
	uint8_t state;
	uint32_t attempt;
	double arrival, duration;
	double start, progress, run_t;
	double u, next_burst;
	double cpu_now, mem_now;
	double cpu_acc, acc_t; /* CPU-seconds and run time since the last tick */
	uint64_t rng;
};

struct sdev {
	struct policy_res total;
	uint32_t local_head, local_tail; /* placed, not yet started */
	double cpu_used, mem_used;
	double alloc_cpu, alloc_mem; /* demands granted by the policy and not released */
	double share;		     /* processor-sharing factor this step, <= 1 */
	double cpu_meas;	     /* measured CPU at the last tick */
};

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t next64(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ull;
	return mix64(*s);
}

/* Uniform in (0, 1). */
static double unif(uint64_t *s)
{
	return ((double)(next64(s) >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
	double a = unif(s), b = unif(s);
	return sqrt(-2 * log(a)) * cos(2 * M_PI * b);
}

static double draw_duration(const struct sim_duration *d, uint64_t *s)
{
	double v;
	switch (d->kind) {
	case SIM_DIST_UNIFORM:
		v = d->mean_s * (1 + d->spread * (2 * unif(s) - 1));
		break;
	case SIM_DIST_EXP:
		v = -d->mean_s * log(unif(s));
		break;
	case SIM_DIST_NORMAL:
		v = d->mean_s * (1 + d->spread * normal(s));
		break;
	default:
		v = d->mean_s;
	}
	return fmax(v, 0.05 * d->mean_s);
}

void sim_workload_free(struct sim_workload *w)
{
	if (!w)
		return;
	for (uint32_t j = 0; j < w->n_queues; j++) {
		free(w->queues[j].name);
		free(w->queues[j].times);
	}
	free(w->queues);
	for (uint32_t i = 0; w->background && i < w->n_devices; i++) {
		free(w->background[i].trace_t);
		free(w->background[i].trace_cpu);
	}
	free(w->background);
	free(w->devices);
	free(w->name);
	free(w);
}

double sim_background_cpu(const struct sim_background *b, double t)
{
	double v = 0;

	if (!b)
		return 0;
	switch (b->kind) {
	case SIM_BG_CONSTANT:
		return b->cpu;
	case SIM_BG_PERIODIC:
		return fmod(t, b->period_s) < b->duty * b->period_s ? b->cpu : 0;
	case SIM_BG_TRACE:
		for (uint32_t k = 0; k < b->n_trace && b->trace_t[k] <= t; k++)
			v = b->trace_cpu[k];
		return v;
	default:
		return 0;
	}
}

static double bg_mem(const struct sim_workload *w, uint32_t i)
{
	return w->background && w->background[i].kind != SIM_BG_NONE ? w->background[i].mem : 0;
}

int sim_workload_paper(struct sim_workload **ret)
{
	static const struct {
		const char *name;
		double cores, mem_mb, ms;
	} models[] = {
	    {"inception-v3", 2, 80, 680.81},
	    {"mobilenet-v2", 1, 330, 59.23},
	    {"resnet-18", 2, 1257, 116.36},
	    {"vgg-19", 3, 1658, 1026.19},
	};
	struct sim_workload *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->name = strdup("paper");
	w->devices = calloc(4, sizeof(*w->devices));
	w->queues = calloc(4, sizeof(*w->queues));
	if (!w->name || !w->devices || !w->queues)
		goto oom;
	w->n_devices = 4;
	for (unsigned i = 0; i < 4; i++)
		w->devices[i] = (struct policy_res){4, 8 * GB};
	for (unsigned j = 0; j < 4; j++) {
		struct sim_queue *q = &w->queues[w->n_queues];
		q->name = strdup(models[j].name);
		if (!q->name)
			goto oom;
		w->n_queues++;
		q->demand = (struct policy_res){models[j].cores, models[j].mem_mb * MB};
		q->weight = 1;
		/* Table III times are per inference on an idle Pi; +-10 % run-to-run jitter. */
		q->duration = (struct sim_duration){SIM_DIST_UNIFORM, models[j].ms / 1000, 0.1};
		/* The paper gives no usage profile; these are stated assumptions
		 * (docs/SIMULATOR.md): TVM runtimes keep their threads busy 60-100 % of the
		 * cap; the resident set grows from 40 % (weights mapped) to 95 % of the limit
		 * over the first half of the run (activations, arenas). */
		q->profile = (struct sim_profile){.cpu_lo = 0.6,
						  .cpu_hi = 1.0,
						  .cpu_period_s = 0.02,
						  .mem_start = 0.4,
						  .mem_peak = 0.95,
						  .mem_ramp = 0.5};
		q->arrival = SIM_ARRIVE_AT_ZERO;
		q->count = 400;
	}
	w->dt_s = 0.002;
	w->tick_s = 0.1;
	w->horizon_s = 1e5;
	*ret = w;
	return 0;
oom:
	sim_workload_free(w);
	return -ENOMEM;
}

int sim_workload_check(const struct sim_workload *w, const char **ret_field)
{
	const char *f = NULL;
#define BAD(name)                                                                                  \
	do {                                                                                       \
		f = (name);                                                                        \
		goto bad;                                                                          \
	} while (0)
	if (!w)
		BAD("workload");
	if (w->n_devices == 0)
		BAD("devices");
	for (uint32_t i = 0; i < w->n_devices; i++)
		if (!(w->devices[i].cpu > 0) || !(w->devices[i].mem > 0) ||
		    !isfinite(w->devices[i].cpu) || !isfinite(w->devices[i].mem))
			BAD("devices[].total");
	for (uint32_t i = 0; w->background && i < w->n_devices; i++) {
		const struct sim_background *b = &w->background[i];
		bool ok = (unsigned)b->kind < _SIM_BG_MAX && b->cpu >= 0 && isfinite(b->cpu) &&
			  b->mem >= 0 && b->mem < w->devices[i].mem;
		if (b->kind == SIM_BG_PERIODIC)
			ok = ok && b->period_s > 0 && isfinite(b->period_s) && b->duty > 0 &&
			     b->duty <= 1;
		for (uint32_t k = 0; ok && b->kind == SIM_BG_TRACE && k < b->n_trace; k++)
			ok = b->trace_t[k] >= 0 && isfinite(b->trace_t[k]) &&
			     b->trace_cpu[k] >= 0 && isfinite(b->trace_cpu[k]) &&
			     (k == 0 || b->trace_t[k] > b->trace_t[k - 1]);
		if (!ok)
			BAD("devices[].background");
	}
	if (w->n_queues == 0)
		BAD("queues");
	if (!(w->dt_s > 0) || !(w->tick_s >= w->dt_s) || !(w->horizon_s > 0) ||
	    !isfinite(w->horizon_s) || !isfinite(w->tick_s))
		BAD("sim");
	if (w->horizon_s / w->dt_s > 5e7)
		BAD("sim.dt_s");
	for (uint32_t j = 0; j < w->n_queues; j++) {
		const struct sim_queue *q = &w->queues[j];
		if (!q->name || !*q->name)
			BAD("queues[].name");
		if (!(q->demand.cpu >= 0) || !(q->demand.mem >= 0) || !isfinite(q->demand.cpu) ||
		    !isfinite(q->demand.mem) || (q->demand.cpu == 0 && q->demand.mem == 0))
			BAD("queues[].demand");
		if (!(q->weight > 0) || !isfinite(q->weight))
			BAD("queues[].weight");
		if ((unsigned)q->duration.kind >= _SIM_DIST_MAX || !(q->duration.mean_s > 0) ||
		    !isfinite(q->duration.mean_s) || !(q->duration.spread >= 0) ||
		    !isfinite(q->duration.spread) ||
		    (q->duration.kind == SIM_DIST_UNIFORM && q->duration.spread >= 1))
			BAD("queues[].duration");
		const struct sim_profile *p = &q->profile;
		if (!(p->cpu_lo > 0) || !(p->cpu_hi >= p->cpu_lo) || !(p->cpu_hi <= 1) ||
		    !(p->cpu_period_s > 0) || !isfinite(p->cpu_period_s) || !(p->mem_start >= 0) ||
		    !(p->mem_peak >= p->mem_start) || !(p->mem_peak <= 1) || !(p->mem_ramp >= 0) ||
		    !isfinite(p->mem_ramp))
			BAD("queues[].profile");
		if ((unsigned)q->arrival >= _SIM_ARRIVE_MAX)
			BAD("queues[].arrivals");
		if (q->arrival == SIM_ARRIVE_POISSON && (!(q->rate > 0) || !isfinite(q->rate)))
			BAD("queues[].arrivals.rate");
		if (q->arrival == SIM_ARRIVE_LIST) {
			if (q->n_times != q->count || (q->n_times && !q->times))
				BAD("queues[].arrivals.times");
			for (uint32_t k = 0; k < q->n_times; k++)
				if (!(q->times[k] >= 0) || !isfinite(q->times[k]))
					BAD("queues[].arrivals.times");
		}
		if (q->count > 10000000)
			BAD("queues[].count");
	}
	return 0;
bad:
	if (ret_field)
		*ret_field = f;
	return -EINVAL;
#undef BAD
}

void sim_result_done(struct sim_result *r)
{
	if (!r)
		return;
	free(r->per_queue);
	free(r->running);
	r->per_queue = NULL;
	r->running = NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct arr {
	double t;
	uint32_t inst;
};

static int cmp_arr(const void *a, const void *b)
{
	const struct arr *x = a, *y = b;
	if (x->t != y->t)
		return x->t < y->t ? -1 : 1;
	return (x->inst > y->inst) - (x->inst < y->inst);
}

struct simstate {
	const struct sim_workload *w;
	struct policy *pol;
	struct sinst *in;
	uint32_t n;
	struct sdev *dev;
	uint64_t seed;
	bool alloc_based;
	struct sim_result *res;
	double *waits;
	uint32_t n_waits;
	uint32_t *run; /* running instances, unordered */
	uint32_t n_run;
	double now; /* simulated time of the step being run */
};

/* The instance's per-attempt randomness depends only on (seed, instance, attempt), so
 * every policy sees the same tasks behave the same way. */
static void start_instance(struct simstate *s, uint32_t k, double t)
{
	struct sinst *x = &s->in[k];
	const struct sim_queue *q = &s->w->queues[x->queue];
	struct sdev *d = &s->dev[x->dev];
	x->state = I_RUNNING;
	x->start = t;
	x->progress = x->run_t = 0;
	x->rng = mix64(s->seed ^ mix64(((uint64_t)k << 20) ^ (x->attempt + 1)));
	x->u = q->profile.cpu_lo + (q->profile.cpu_hi - q->profile.cpu_lo) * unif(&x->rng);
	x->next_burst = q->profile.cpu_period_s;
	x->cpu_now = q->demand.cpu * x->u;
	x->mem_now = q->demand.mem * q->profile.mem_start;
	x->cpu_acc = x->acc_t = 0;
	x->run_pos = s->n_run;
	s->run[s->n_run++] = k;
	d->cpu_used += x->cpu_now;
	d->mem_used += x->mem_now;
}

static double mem_at(const struct sim_queue *q, const struct sinst *x)
{
	double ramp = q->profile.mem_ramp * x->duration;
	double f = ramp > 0 ? fmin(1, x->run_t / ramp) : 1;
	return q->demand.mem *
	       (q->profile.mem_start + (q->profile.mem_peak - q->profile.mem_start) * f);
}

/* Device agent: start placed tasks in FIFO order while the device physically has their
 * demand free right now (head-of-line: a task that cannot start holds the ones behind). */
static void admit_local(struct simstate *s, uint32_t i, double t)
{
	struct sdev *d = &s->dev[i];
	while (d->local_head != NIL) {
		uint32_t k = d->local_head;
		const struct sim_queue *q = &s->w->queues[s->in[k].queue];
		if (q->demand.cpu > d->total.cpu - d->cpu_used + 1e-9 ||
		    q->demand.mem > d->total.mem - d->mem_used + 1e-3)
			return;
		d->local_head = s->in[k].next_local;
		if (d->local_head == NIL)
			d->local_tail = NIL;
		start_instance(s, k, t);
	}
}

static int release(struct simstate *s, uint32_t k, double t)
{
	struct sinst *x = &s->in[k];
	const struct sim_queue *q = &s->w->queues[x->queue];
	struct sdev *d = &s->dev[x->dev];
	d->alloc_cpu -= q->demand.cpu;
	d->alloc_mem -= q->demand.mem;
	d->cpu_used = fmax(0, d->cpu_used - x->cpu_now);
	d->mem_used = fmax(0, d->mem_used - x->mem_now);
	x->cpu_now = x->mem_now = 0;
	uint32_t last = s->run[--s->n_run];
	s->run[x->run_pos] = last;
	s->in[last].run_pos = x->run_pos;
	return policy_release(s->pol, k, t);
}

/* 2. measurement tick: what the daemon would feed from cgroup files; one row of running
 * counts per queue. */
static int sim_tick(struct simstate *s, uint32_t *cap_samples)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;
	int r;

	/* A device's measured CPU is the sum of its tasks' cgroup rates over the
	 * tick (tasks that exited are gone with their cgroups); a task that has
	 * not run a full step yet reports nothing and stays in flight. */
	for (uint32_t i = 0; i < w->n_devices; i++)
		s->dev[i].cpu_meas = 0;
	for (uint32_t ri = 0; ri < s->n_run; ri++) {
		uint32_t k = s->run[ri];
		struct sinst *x = &s->in[k];
		if (x->acc_t <= 0) {
			s->dev[x->dev].cpu_meas += x->cpu_now;
			continue;
		}
		double rate = x->cpu_acc / x->acc_t;
		r = policy_sample(s->pol, k, (struct policy_res){rate, x->mem_now});
		if (r < 0)
			return r;
		s->dev[x->dev].cpu_meas += rate;
		x->cpu_acc = x->acc_t = 0;
	}
	for (uint32_t i = 0; i < w->n_devices; i++) {
		struct sdev *d = &s->dev[i];
		/* What the cgroup files and /proc/stat show: the tasks and the background. */
		const struct sim_background *b = w->background ? &w->background[i] : NULL;
		double cpu = fmin(d->cpu_meas + sim_background_cpu(b, s->now), d->total.cpu);
		r = policy_set_device_free(
		    s->pol, i,
		    (struct policy_res){d->total.cpu - cpu,
					d->total.mem - d->mem_used - bg_mem(w, i)});
		if (r < 0)
			return r;
	}
	if (res->n_samples == *cap_samples) {
		uint32_t nc = *cap_samples ? *cap_samples * 2 : 1024;
		uint16_t *nr = realloc(res->running, sizeof(uint16_t) * nc * w->n_queues);
		if (!nr) {
			r = -ENOMEM;
			return r;
		}
		res->running = nr;
		*cap_samples = nc;
	}
	uint16_t *row = &res->running[(size_t)res->n_samples * w->n_queues];
	memset(row, 0, sizeof(uint16_t) * w->n_queues);
	for (uint32_t ri = 0; ri < s->n_run; ri++)
		if (row[s->in[s->run[ri]].queue] < UINT16_MAX)
			row[s->in[s->run[ri]].queue]++;
	res->n_samples++;
	return 0;
}

/* 4. physics over [t, t + dt): processor sharing per device; finished instances leave. */
static int sim_physics(struct simstate *s, double t, double dt, double *cpu_int, double *mem_int,
		       uint32_t *remaining, bool *dirty)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;
	int r;

	for (uint32_t i = 0; i < w->n_devices; i++) {
		struct sdev *d = &s->dev[i];
		const struct sim_background *b = w->background ? &w->background[i] : NULL;
		double want = d->cpu_used + sim_background_cpu(b, t),
		       mem = d->mem_used + bg_mem(w, i);
		d->share = want > d->total.cpu ? d->total.cpu / want : 1;
		if (want > d->total.cpu + 1e-9 && d->cpu_used > 0)
			res->oversub_s += dt;
		*cpu_int += d->cpu_used * d->share * dt; /* the tasks' CPU, not the background's */
		*mem_int += d->mem_used * dt;
		res->max_mem_used_frac = fmax(res->max_mem_used_frac, mem / d->total.mem);
	}
	for (uint32_t ri = 0; ri < s->n_run; ri++) {
		uint32_t k = s->run[ri];
		struct sinst *x = &s->in[k];
		struct sdev *d = &s->dev[x->dev];
		const struct sim_queue *q = &w->queues[x->queue];
		double f = d->share;
		x->cpu_acc += x->cpu_now * f * dt;
		x->acc_t += dt;
		if (x->progress + f * dt >= x->duration) {
			double tc = t + (x->duration - x->progress) / f;
			struct sim_queue_result *pq = &res->per_queue[x->queue];
			s->waits[s->n_waits++] = x->start - x->arrival;
			pq->avg_wait_s += x->start - x->arrival;
			pq->completed++;
			pq->last_completion_s = fmax(pq->last_completion_s, tc);
			res->makespan_s = fmax(res->makespan_s, tc);
			res->max_slowdown = fmax(res->max_slowdown, (tc - x->start) / x->duration);
			res->avg_response_s += tc - x->arrival; /* a sum until sim_summary */
			res->completed++;
			x->state = I_DONE;
			r = release(s, k, tc);
			if (r < 0)
				return r;
			(*remaining)--;
			*dirty = true;
			ri--; /* release swapped another running instance into slot ri */
			continue;
		}
		x->progress += f * dt;
		x->run_t += dt;
		/* usage drifts: memory ramps, the CPU fraction is redrawn per period */
		double m = mem_at(q, x);
		d->mem_used += m - x->mem_now;
		x->mem_now = m;
		while (x->run_t >= x->next_burst) {
			x->u = q->profile.cpu_lo +
			       (q->profile.cpu_hi - q->profile.cpu_lo) * unif(&x->rng);
			x->next_burst += q->profile.cpu_period_s;
		}
		double c = q->demand.cpu * x->u;
		d->cpu_used += c - x->cpu_now;
		x->cpu_now = c;
	}
	return 0;
}

/* 5. memory over-commit: the kernel OOM-kills the largest task until it fits. */
static int sim_oom(struct simstate *s, double t, double dt, bool *dirty)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;
	int r;

	for (uint32_t i = 0; i < w->n_devices; i++) {
		struct sdev *d = &s->dev[i];
		while (d->mem_used + bg_mem(w, i) > d->total.mem + 1e-3) {
			uint32_t victim = NIL;
			for (uint32_t ri = 0; ri < s->n_run; ri++) {
				uint32_t k = s->run[ri];
				struct sinst *x = &s->in[k];
				if (x->dev != i)
					continue;
				if (victim == NIL || x->mem_now > s->in[victim].mem_now ||
				    (x->mem_now == s->in[victim].mem_now &&
				     x->start > s->in[victim].start))
					victim = k;
			}
			if (victim == NIL)
				break;
			res->failed++;
			r = release(s, victim, t + dt);
			if (r < 0)
				return r;
			s->in[victim].attempt++;
			s->in[victim].state = I_WAITING;
			s->in[victim].dev = NIL;
			r = policy_enqueue(s->pol, s->in[victim].queue, victim,
					   s->in[victim].arrival);
			if (r < 0)
				return r;
			*dirty = true;
		}
	}
	return 0;
}

/* 3. decisions: everything the policy places now goes to its device's local queue. */
static int sim_decide(struct simstate *s, double t)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;
	int r;

	struct policy_placement pl;
	while ((r = policy_next(s->pol, t, &pl)) == 0) {
		struct sinst *x = &s->in[pl.inst_id];
		struct sdev *d = &s->dev[pl.dev_id];
		const struct sim_queue *q = &w->queues[pl.queue_id];
		x->state = I_PLACED;
		x->dev = pl.dev_id;
		x->next_local = NIL;
		if (d->local_tail != NIL)
			s->in[d->local_tail].next_local = (uint32_t)pl.inst_id;
		else
			d->local_head = (uint32_t)pl.inst_id;
		d->local_tail = (uint32_t)pl.inst_id;
		d->alloc_cpu += q->demand.cpu;
		d->alloc_mem += q->demand.mem;
		if (s->alloc_based) {
			res->max_alloc_over =
			    fmax(res->max_alloc_over, d->alloc_cpu / d->total.cpu);
			res->max_alloc_over =
			    fmax(res->max_alloc_over, d->alloc_mem / d->total.mem);
		}
	}
	return r == -EAGAIN ? 0 : r;
}

/* The summary of a finished run: waits (mean, p95), per-queue means, utilisation. */
static void sim_summary(struct simstate *s, double t, double cpu_int, double mem_int,
			double cpu_cap, double mem_cap)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;

	double total_wait = 0;
	for (uint32_t k = 0; k < s->n_waits; k++)
		total_wait += s->waits[k];
	res->avg_wait_s = s->n_waits ? total_wait / s->n_waits : 0;
	res->avg_response_s = res->completed ? res->avg_response_s / res->completed : 0;
	if (s->n_waits) {
		qsort(s->waits, s->n_waits, sizeof(double), cmp_double);
		uint32_t rank = (uint32_t)ceil(0.95 * s->n_waits);
		res->p95_wait_s = s->waits[rank ? rank - 1 : 0];
	}
	for (uint32_t j = 0; j < w->n_queues; j++)
		if (res->per_queue[j].completed)
			res->per_queue[j].avg_wait_s /= res->per_queue[j].completed;
	if (res->makespan_s > 0) {
		/* integrals run to the last step boundary; clip to the makespan */
		res->cpu_util = fmin(1, cpu_int / (cpu_cap * fmax(res->makespan_s, t)));
		res->mem_util = fmin(1, mem_int / (mem_cap * fmax(res->makespan_s, t)));
	}
}

/* Instances, durations and arrivals: functions of (seed, queue, index) only. */
static int sim_instances(struct simstate *s, struct arr *arrivals, uint32_t *n_arr)
{
	const struct sim_workload *w = s->w;
	struct sim_result *res = s->res;
	uint64_t seed = s->seed;
	int r;

	for (uint32_t j = 0, k = 0; j < w->n_queues; j++) {
		const struct sim_queue *q = &w->queues[j];
		uint32_t cnt = q->arrival == SIM_ARRIVE_LIST ? q->n_times : q->count;
		uint64_t qrng = mix64(seed * 0x100000001b3ull + j + 1);
		double t = 0;
		r = policy_add_queue(s->pol, q->name, q->demand, q->weight, NULL);
		if (r < 0)
			return r;
		res->per_queue[j].submitted = cnt;
		for (uint32_t c = 0; c < cnt; c++, k++) {
			if (q->arrival == SIM_ARRIVE_POISSON)
				t += -log(unif(&qrng)) / q->rate;
			else if (q->arrival == SIM_ARRIVE_LIST)
				t = q->times[c];
			uint64_t irng = mix64(seed ^ mix64(((uint64_t)k << 20)));
			s->in[k] = (struct sinst){.queue = j,
						  .dev = NIL,
						  .next_local = NIL,
						  .state = I_FUTURE,
						  .arrival = t,
						  .duration = draw_duration(&q->duration, &irng)};
			arrivals[(*n_arr)++] = (struct arr){t, k};
		}
	}
	return 0;
}

int sim_run(const struct sim_workload *w, const struct policy_params *params, uint64_t seed,
	    struct sim_result *ret)
{
	struct simstate s = {.w = w, .seed = seed};
	struct sim_result res = {0};
	struct arr *arrivals = NULL;
	uint32_t n_arr = 0, next_arr = 0, cap_samples = 0;
	double cpu_cap = 0, mem_cap = 0, cpu_int = 0, mem_int = 0;
	int r;

	if (!params || !ret || sim_workload_check(w, NULL) < 0)
		return -EINVAL;
	for (uint32_t j = 0; j < w->n_queues; j++) {
		uint64_t c = w->queues[j].arrival == SIM_ARRIVE_LIST ? w->queues[j].n_times
								     : w->queues[j].count;
		if (s.n + c > 20000000)
			return -E2BIG;
		s.n += (uint32_t)c;
	}
	s.alloc_based = params->kind == POLICY_DRF || params->kind == POLICY_RR ||
			params->kind == POLICY_RANDOM;
	s.res = &res;
	res.policy = params->kind;
	res.n_queues = w->n_queues;
	res.sample_period_s = w->tick_s;
	s.in = calloc(s.n ? s.n : 1, sizeof(*s.in));
	s.dev = calloc(w->n_devices, sizeof(*s.dev));
	s.waits = calloc(s.n ? s.n : 1, sizeof(double));
	s.run = calloc(s.n ? s.n : 1, sizeof(uint32_t));
	arrivals = calloc(s.n ? s.n : 1, sizeof(*arrivals));
	res.per_queue = calloc(w->n_queues, sizeof(*res.per_queue));
	if (!s.in || !s.dev || !s.waits || !s.run || !arrivals || !res.per_queue) {
		r = -ENOMEM;
		goto out;
	}
	r = policy_new(params, &s.pol);
	if (r < 0)
		goto out;
	for (uint32_t i = 0; i < w->n_devices; i++) {
		s.dev[i] =
		    (struct sdev){.total = w->devices[i], .local_head = NIL, .local_tail = NIL};
		cpu_cap += w->devices[i].cpu;
		mem_cap += w->devices[i].mem;
		r = policy_add_device(s.pol, i, w->devices[i]);
		if (r < 0)
			goto out;
	}
	r = sim_instances(&s, arrivals, &n_arr);
	if (r < 0)
		goto out;
	qsort(arrivals, n_arr, sizeof(*arrivals), cmp_arr);

	uint32_t remaining = s.n;
	double t = 0, dt = w->dt_s, next_tick = 0, last_tick = 0;
	bool dirty = true;
	while (remaining > 0) {
		if (t > w->horizon_s) {
			r = -ETIME;
			goto out;
		}
		/* 1. arrivals */
		while (next_arr < n_arr && arrivals[next_arr].t <= t + 1e-12) {
			uint32_t k = arrivals[next_arr++].inst;
			r = policy_enqueue(s.pol, s.in[k].queue, k, s.in[k].arrival);
			if (r == -E2BIG) {
				s.in[k].state = I_REJECTED;
				res.per_queue[s.in[k].queue].rejected++;
				res.rejected++;
				remaining--;
				continue;
			}
			if (r < 0)
				goto out;
			s.in[k].state = I_WAITING;
			dirty = true;
		}
		/* 2. measurement tick: what the daemon would feed from cgroup files */
		s.now = t;
		if (t + 1e-12 >= next_tick) {
			r = sim_tick(&s, &cap_samples);
			if (r < 0)
				goto out;
			last_tick = next_tick;
			next_tick = last_tick + w->tick_s;
			dirty = true;
		}
		/* 3. decisions, then device agents start what physically fits */
		if (dirty) {
			r = sim_decide(&s, t);
			if (r < 0)
				goto out;
			dirty = false;
		}
		for (uint32_t i = 0; i < w->n_devices; i++)
			admit_local(&s, i, t);

		/* Nothing running or placed: jump to the next arrival. */
		bool busy = false;
		for (uint32_t i = 0; i < w->n_devices && !busy; i++)
			busy = s.dev[i].cpu_used > 0 || s.dev[i].mem_used > 0 ||
			       s.dev[i].local_head != NIL;
		if (!busy) {
			/* Idle until the next arrival or the next tick (which re-runs the policy:
			 * drf-paper may be waiting for its reconciliation). */
			double target = next_tick;
			if (next_arr < n_arr)
				target = fmin(target, arrivals[next_arr].t);
			if (target > t + dt) {
				t += floor((target - t) / dt) * dt;
				continue;
			}
		}

		/* 4. physics, 5. memory over-commit */
		r = sim_physics(&s, t, dt, &cpu_int, &mem_int, &remaining, &dirty);
		if (r >= 0)
			r = sim_oom(&s, t, dt, &dirty);
		if (r < 0)
			goto out;
		t += dt;
	}
	if (remaining > 0) {
		r = -EDEADLK;
		goto out;
	}

	sim_summary(&s, t, cpu_int, mem_int, cpu_cap, mem_cap);
	*ret = res;
	res.per_queue = NULL;
	res.running = NULL;
	r = 0;
out:
	sim_result_done(&res);
	policy_free(s.pol);
	free(s.in);
	free(s.dev);
	free(s.waits);
	free(s.run);
	free(arrivals);
	return r;
}
