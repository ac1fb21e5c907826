/* policy_bench.c — per-decision cost of every policy at (queues, devices) scale; prints JSON.
 * `policy_bench scale Q D ITERS`: RD-DRF alone at Q queues x D devices, with its device index
 * and with the linear device scan it replaced, one JSON object (bench-fleet runs it).
 * Steady state: every queue has waiting instances, devices stay near full, each decision is
 * followed by one release so the next decision has real work to do. Every placement gets
 * one sample (0.8 core, 100 MB) so rddrf's shares come from measurement; no device
 * measurement is fed, so its R_i stays demand-based and a release frees a real slot. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "policy.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Returns median and p99 of decision time in microseconds. */
static int bench(enum policy_kind kind, unsigned nq, unsigned nd, unsigned iters, bool scan,
		 double *med, double *p99)
{
	struct policy_params pp = {
	    .kind = kind, .seed = 42, .reconcile_period_s = 10, .no_device_index = scan};
	struct policy *p;
	uint64_t next_id = 1, *running;
	unsigned n_run = 0;
	double *ts;
	srand(7);
	if (policy_new(&pp, &p) < 0)
		return -ENOMEM;
	running = calloc(nq * 4 + nd * 64 + iters, sizeof(*running));
	ts = calloc(iters, sizeof(*ts));
	for (unsigned i = 0; i < nd; i++)
		policy_add_device(p, i, (struct policy_res){4, 8.0 * (1 << 30)});
	for (unsigned j = 0; j < nq; j++) {
		char name[32];
		uint32_t id;
		snprintf(name, sizeof(name), "q%04u", j);
		/* 1..3 cores, 64 MB..2 GB: the paper's range */
		policy_add_queue(
		    p, name, (struct policy_res){1 + rand() % 3, (64 + rand() % 1984) * 1048576.0},
		    1, &id);
		/* enough that heads stay waiting after the cluster is full */
		for (unsigned k = 0; k < 3 + nd * 3 / nq; k++)
			policy_enqueue(p, id, next_id++, 0);
	}
	struct policy_placement pl;
	double t = 0;
	/* fill the cluster */
	while (policy_next(p, t, &pl) == 0) {
		running[n_run++] = pl.inst_id;
		policy_sample(p, pl.inst_id, (struct policy_res){0.8, 1e8});
	}
	for (unsigned it = 0; it < iters; it++) {
		t += 0.01;
		/* one release frees room somewhere; replace the instance in its queue */
		if (n_run > 0) {
			unsigned victim = (unsigned)rand() % n_run;
			policy_release(p, running[victim], t);
			running[victim] = running[--n_run];
		}
		policy_enqueue(p, (uint32_t)(rand() % nq), next_id++, t);
		double t0 = now_ns();
		int r = policy_next(p, t, &pl);
		ts[it] = (now_ns() - t0) / 1000;
		if (r == 0) {
			running[n_run++] = pl.inst_id;
			policy_sample(p, pl.inst_id, (struct policy_res){0.8, 1e8});
		}
	}
	qsort(ts, iters, sizeof(*ts), cmp_d);
	*med = ts[iters / 2];
	*p99 = ts[(unsigned)(iters * 0.99)];
	policy_free(p);
	free(running);
	free(ts);
	return 0;
}

static int scale(unsigned nq, unsigned nd, unsigned iters)
{
	double med, p99, smed, sp99;

	if (bench(POLICY_RDDRF, nq, nd, iters, false, &med, &p99) < 0 ||
	    bench(POLICY_RDDRF, nq, nd, iters, true, &smed, &sp99) < 0)
		return 1;
	printf("{\"policy\": \"rddrf\", \"queues\": %u, \"devices\": %u, \"decisions\": %u, "
	       "\"decision_us_median\": %.2f, \"decision_us_p99\": %.2f, "
	       "\"scan_baseline_us_median\": %.2f, \"scan_baseline_us_p99\": %.2f}\n",
	       nq, nd, iters, med, p99, smed, sp99);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "scale"))
		return scale((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
			     (unsigned)atoi(argv[4]));
	static const unsigned Q[] = {10, 100, 1000}, D[] = {4, 64, 256};
	printf("[");
	const char *sep = "\n";
	for (int k = 0; k < _POLICY_KIND_MAX; k++)
		for (unsigned a = 0; a < 3; a++)
			for (unsigned b = 0; b < 3; b++) {
				double med, p99;
				if (bench((enum policy_kind)k, Q[a], D[b], 2000, false, &med,
					  &p99) < 0)
					return 1;
				printf("%s  {\"policy\": \"%s\", \"queues\": %u, \"devices\": %u, "
				       "\"decision_us_median\": %.2f, \"decision_us_p99\": %.2f}",
				       sep, policy_kind_name((enum policy_kind)k), Q[a], D[b], med,
				       p99);
				sep = ",\n";
			}
	printf("\n]\n");
	return 0;
}
