/* sim_random.c — random simulator workloads (`edgeslice sim --workload random:SEED`): mixed
 * demands, durations and memory ramps under Poisson arrivals at a given offered CPU load, to
 * test policies on workloads nobody tuned them for. Pure. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define MB (1024.0 * 1024)

static double rnd(uint64_t *s) /* uniform in [0, 1) */
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static double pick(uint64_t *s, double lo, double hi)
{
	return lo + (hi - lo) * rnd(s);
}

int sim_workload_random(uint64_t seed, const struct sim_random_params *p, struct sim_workload **ret)
{
	struct sim_random_params d = {.n_devices = 3,
				      .device_cores = 2,
				      .device_mem_mb = 2048,
				      .n_queues = 6,
				      .per_queue = 60,
				      .load = 0.9};
	struct sim_workload *w;
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 1;
	double offered = 0, cap;
	char name[48];

	if (p)
		d = *p;
	if (d.n_devices < 1 || d.n_queues < 1 || d.per_queue < 1 || !(d.device_cores > 0) ||
	    !(d.device_mem_mb > 0) || !(d.load > 0))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	snprintf(name, sizeof(name), "random:%llu", (unsigned long long)seed);
	w->name = strdup(name);
	w->devices = calloc(d.n_devices, sizeof(*w->devices));
	w->queues = calloc(d.n_queues, sizeof(*w->queues));
	if (!w->name || !w->devices || !w->queues)
		goto oom;
	w->n_devices = d.n_devices;
	for (uint32_t i = 0; i < d.n_devices; i++)
		w->devices[i] = (struct policy_res){d.device_cores, d.device_mem_mb * MB};
	w->dt_s = 0.01;
	w->tick_s = 0.1;
	w->horizon_s = 1e5;
	for (uint32_t j = 0; j < d.n_queues; j++) {
		struct sim_queue *q = &w->queues[j];
		char qn[16];
		snprintf(qn, sizeof(qn), "q%u", j);
		q->name = strdup(qn);
		if (!q->name)
			goto oom;
		w->n_queues++;
		/* Demands: a quarter to all of a device's cores, 8-75 % of its memory. */
		q->demand = (struct policy_res){round(pick(&s, 0.25, 1) * d.device_cores * 4) / 4,
						round(pick(&s, 0.08, 0.75) * d.device_mem_mb) * MB};
		if (q->demand.cpu < 0.25)
			q->demand.cpu = 0.25;
		q->weight = 1;
		q->duration = (struct sim_duration){rnd(&s) < 0.5 ? SIM_DIST_EXP : SIM_DIST_UNIFORM,
						    pick(&s, 1, 12), 0.3};
		double lo = pick(&s, 0.1, 0.7);
		q->profile = (struct sim_profile){.cpu_lo = lo,
						  .cpu_hi = pick(&s, lo, 1),
						  .cpu_period_s = pick(&s, 0.05, 1),
						  .mem_start = pick(&s, 0.05, 0.5),
						  .mem_peak = pick(&s, 0.6, 1),
						  .mem_ramp = pick(&s, 0.1, 1)};
		if (q->profile.mem_peak < q->profile.mem_start)
			q->profile.mem_peak = q->profile.mem_start;
		q->arrival = SIM_ARRIVE_POISSON;
		q->count = d.per_queue;
		/* CPU the queue would keep busy (its demand, as a limit, times its mean use)
		 * per arrival; rates are set below so that the total is `load` of the node. */
		offered += q->demand.cpu * (q->profile.cpu_lo + q->profile.cpu_hi) / 2 *
			   q->duration.mean_s;
	}
	cap = d.device_cores * d.n_devices;
	for (uint32_t j = 0; j < w->n_queues; j++)
		w->queues[j].rate = d.load * cap / offered; /* same rate for every queue */
	*ret = w;
	return 0;
oom:
	sim_workload_free(w);
	return -ENOMEM;
}
