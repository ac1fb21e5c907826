/* fleet_bench.c — fleet mode at scale against a real etcd: N simulated nodes (fleet_* with a
 * fake host: one device each, usage republished every second, a task "runs" for hold_ms),
 * one placer, and a driver that submits and reads the outcome from status/ (bench/fleet-run).
 *
 *   fleet_bench nodes  ENDPOINTS N HOLD_MS FIRST  simulated nodes sim-FIRST..; until killed
 *   fleet_bench placer ENDPOINTS                one placer candidate without devices
 *   fleet_bench submit ENDPOINTS COUNT RATE     COUNT tasks (1 core) at RATE/s (0 = at once)
 *   fleet_bench wait   ENDPOINTS COUNT TIMEOUT  until COUNT tasks exited; prints JSON stats */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "etcd-internal.h"
#include "fleet.h"
#include "util.h"

struct sim {
	struct fleet *f;
	sd_event *ev;
	sd_event_source *timer; /* fleet_step() every fleet_period_usec() */
	char name[32];
	double cpu_alloc;
	unsigned running;
	uint64_t *known;
	size_t n_known;
	unsigned hold_ms;
};

struct run {
	struct sim *s;
	uint64_t id;
	uint64_t start_us;
	double cpu;
	uint64_t submit_us, assigned_us;
};

static uint64_t rt_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The fleet module's failures (and news), warnings and worse printed once each. */
static void sim_log_notes(struct sim *s)
{
	struct fleet_note *v = NULL;
	size_t n = fleet_take_notes(s->f, &v);

	for (size_t i = 0; i < n; i++)
		if (v[i].prio <= LOG_WARNING)
			fprintf(stderr, "%s: %s\n", s->name, v[i].text);
	free(v);
}

static void sim_noted(void *ctx)
{
	sim_log_notes(ctx);
}

static int sim_on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct sim *s = userdata;

	(void)fleet_step(s->f);
	sim_log_notes(s);
	(void)sd_event_source_set_time_relative(src, fleet_period_usec(s->f));
	return 0;
}

static json_object *sim_devices(void *ctx)
{
	struct sim *s = ctx;
	json_object *a = json_object_new_array(), *d = json_object_new_object();
	/* Usage that moves, as a measured node's does. */
	double used = s->cpu_alloc * (0.7 + 0.3 * (double)rand() / RAND_MAX);

	json_object_object_add(d, "name", json_object_new_string("d0"));
	json_object_object_add(d, "cpus", json_object_new_string(""));
	json_object_object_add(d, "cpu_total", json_object_new_double(4));
	json_object_object_add(d, "mem_total", json_object_new_int64(8ll << 30));
	json_object_object_add(d, "cpu_alloc", json_object_new_double(s->cpu_alloc));
	json_object_object_add(d, "mem_alloc", json_object_new_int64((int64_t)s->running << 20));
	json_object_object_add(d, "cpu_used", json_object_new_double(used));
	json_object_object_add(d, "mem_used", json_object_new_int64((int64_t)s->running << 20));
	json_object_object_add(d, "running", json_object_new_int((int)s->running));
	json_object_array_add(a, d);
	return a;
}

static bool sim_known(void *ctx, uint64_t id)
{
	struct sim *s = ctx;
	for (size_t i = 0; i < s->n_known; i++)
		if (s->known[i] == id)
			return true;
	return false;
}

static int on_exit_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct run *r = userdata;
	struct fleet_update u = {.id = r->id,
				 .state = "exited",
				 .device = "d0",
				 .pid = 1,
				 .exit_code = 0,
				 .reason = "exited",
				 .start_us = r->start_us,
				 .end_us = rt_us(),
				 .queue = "bench",
				 .cpu = r->cpu,
				 .mem = 1 << 20,
				 .submit_us = r->submit_us,
				 .assigned_us = r->assigned_us};
	r->s->cpu_alloc -= r->cpu;
	r->s->running--;
	fleet_task_update(r->s->f, &u);
	sd_event_source_disable_unref(src);
	free(r);
	return 0;
}

static int sim_start(void *ctx, const struct fleet_task *t)
{
	struct sim *s = ctx;
	struct run *r = calloc(1, sizeof(*r));
	uint64_t *k = realloc(s->known, (s->n_known + 1) * sizeof(*k));
	struct fleet_update u = {.id = t->id,
				 .state = "running",
				 .device = t->device,
				 .pid = 1,
				 .exit_code = -1,
				 .reason = "",
				 .queue = t->queue,
				 .cpu = t->cpu,
				 .mem = t->mem,
				 .argv = t->argv,
				 .argc = t->argc,
				 .submit_us = t->submit_us,
				 .assigned_us = t->assigned_us};
	sd_event_source *src = NULL;

	if (!r || !k) {
		free(r);
		return -ENOMEM;
	}
	s->known = k;
	s->known[s->n_known++] = t->id;
	r->s = s;
	r->id = t->id;
	r->cpu = t->cpu;
	r->submit_us = t->submit_us;
	r->assigned_us = t->assigned_us;
	r->start_us = u.start_us = rt_us();
	s->cpu_alloc += t->cpu;
	s->running++;
	fleet_task_update(s->f, &u);
	(void)sd_event_add_time_relative(s->ev, &src, CLOCK_MONOTONIC,
					 (uint64_t)s->hold_ms * 1000u + 1, 1000, on_exit_timer, r);
	(void)sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
	return 0;
}

static json_object *empty_devices(void *ctx)
{
	return json_object_new_array();
}

static int run_fleets(const char *eps, size_t first, size_t n, unsigned hold_ms, bool placer)
{
	struct fleet_conf c = {.lease_ttl = 5};
	sd_event *ev = NULL;
	const char *ttl = getenv("FLEET_BENCH_TTL"), *pe = getenv("FLEET_BENCH_POLLED");
	bool polled = pe && !strcmp(pe, "1");
	struct sim *sims = calloc(n, sizeof(*sims));
	int r;

	snprintf(c.endpoints, sizeof(c.endpoints), "%s", eps);
	if (ttl && atoi(ttl) >= 2)
		c.lease_ttl = (unsigned)atoi(ttl);
	if (!sims || sd_event_default(&ev) < 0)
		return 1;
	for (size_t i = 0; i < n; i++) {
		/* the placer process stands for the placer only: no devices of its own */
		struct fleet_host h = {
		    &sims[i], sim_start, sim_known, placer ? empty_devices : sim_devices,
		    NULL,     NULL,	 sim_noted};
		/* FLEET_BENCH_POLLED=1: the baseline, watches polled and a round every tick */
		struct fleet_params p = {.conf = &c,
					 .policy = "rddrf",
					 .no_placer = !placer,
					 .seed = 1,
					 .event = polled ? NULL : ev};
		sims[i].ev = ev;
		sims[i].hold_ms = hold_ms;
		if (placer)
			snprintf(sims[i].name, sizeof(sims[i].name), "placer");
		else
			snprintf(sims[i].name, sizeof(sims[i].name), "sim-%03u",
				 (unsigned)((first + i) % 1000));
		p.node = sims[i].name;
		r = fleet_new(&p, &h, &sims[i].f);
		if (r >= 0)
			r = sd_event_add_time_relative(ev, &sims[i].timer, CLOCK_MONOTONIC,
						       fleet_period_usec(sims[i].f), 1000,
						       sim_on_timer, &sims[i]);
		if (r >= 0)
			r = sd_event_source_set_enabled(sims[i].timer, SD_EVENT_ON);
		if (r < 0) {
			fprintf(stderr, "fleet_new: %s\n", strerror(-r));
			return 1;
		}
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	(void)sd_event_add_signal(ev, NULL, SIGTERM, NULL, NULL);
	(void)sd_event_add_signal(ev, NULL, SIGINT, NULL, NULL);
	r = sd_event_loop(ev);
	if (!placer) { /* every start, to count duplicates against the tasks submitted */
		size_t starts = 0;
		for (size_t i = 0; i < n; i++)
			starts += sims[i].n_known;
		fprintf(stderr, "node-starts %zu\n", starts);
	} else {
		uint64_t rounds, claims, placed;
		fleet_counters(sims[0].f, &rounds, &claims, &placed);
		fprintf(stderr,
			"placer-counters {\"rounds\":%" PRIu64 ",\"claim_txns\":%" PRIu64
			",\"placed\":%" PRIu64 "}\n",
			rounds, claims, placed);
	}
	for (size_t i = 0; i < n; i++) {
		sd_event_source_disable_unref(sims[i].timer);
		(void)fleet_shutdown(sims[i].f);
		sim_log_notes(&sims[i]);
		fleet_free(sims[i].f);
	}
	return r < 0 ? 1 : 0;
}

static int submit(const char *eps, unsigned count, double rate)
{
	struct fleet_conf c = {.lease_ttl = 5};
	struct sim s = {.name = "driver"};
	struct fleet_host h = {&s, sim_start, sim_known, empty_devices, NULL, NULL, NULL};
	struct fleet_params p = {.conf = &c, .node = "driver", .no_placer = true};
	char *argv[] = {"bench", NULL}, err[256];
	uint64_t t0 = now_usec(), id;
	int r;

	snprintf(c.endpoints, sizeof(c.endpoints), "%s", eps);
	r = fleet_new(&p, &h, &s.f);
	if (r < 0)
		return 1;
	for (unsigned i = 0; i < count; i++) {
		if (rate > 0) {
			uint64_t due = t0 + (uint64_t)(i * 1e6 / rate), now = now_usec();
			if (due > now)
				usleep((useconds_t)(due - now));
		}
		r = fleet_submit(s.f, "bench", 1, 1 << 20, argv, 1, &id, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "submit: %s\n", err);
			return 1;
		}
	}
	fprintf(stderr, "submitted %u tasks in %.2f s\n", count, (double)(now_usec() - t0) / 1e6);
	fleet_free(s.f);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p / 100.0 * (double)n);
	return n ? v[i ? i - 1 : 0] : 0;
}

static int wait_done(const char *eps, unsigned count, double timeout_s)
{
	const char *ep[ETCD_MAX_ENDPOINTS];
	_cleanup_free_ char *copy = strdup(eps);
	char *save = NULL;
	size_t n = 0;
	struct etcd *e;
	uint64_t t0 = now_usec();

	for (char *t = strtok_r(copy, ",", &save); t && n < ETCD_MAX_ENDPOINTS;
	     t = strtok_r(NULL, ",", &save))
		ep[n++] = t;
	if (etcd_new(ep, n, NULL, &e) < 0)
		return 1;
	for (;;) {
		struct etcd_kvs kvs = {0};
		size_t done = 0, lost = 0;
		int r = etcd_range(e, "/edgeslice/status/", &kvs);
		if (r < 0) {
			fprintf(stderr, "range: %s\n", etcd_last_error(e));
			return 1;
		}
		for (size_t i = 0; i < kvs.n; i++) {
			done += strstr(kvs.kvs[i].value, "\"state\":\"exited\"") != NULL;
			lost += strstr(kvs.kvs[i].value, "\"state\":\"lost\"") != NULL;
		}
		if (done >= count || (double)(now_usec() - t0) / 1e6 > timeout_s) {
			double *lat = calloc(kvs.n + 1, sizeof(double));
			double *pl = calloc(kvs.n + 1, sizeof(double));
			double *nd = calloc(kvs.n + 1, sizeof(double));
			size_t ms = 0;
			uint64_t first = UINT64_MAX, last = 0, sub_first = UINT64_MAX;
			size_t m = 0;
			for (size_t i = 0; i < kvs.n; i++) {
				json_object *o = json_tokener_parse(kvs.kvs[i].value), *v;
				uint64_t st = 0, su = 0, as = 0;
				if (o && json_object_object_get_ex(o, "start_us", &v))
					st = (uint64_t)json_object_get_int64(v);
				if (o && json_object_object_get_ex(o, "assigned_us", &v))
					as = (uint64_t)json_object_get_int64(v);
				if (o && json_object_object_get_ex(o, "submit_us", &v))
					su = (uint64_t)json_object_get_int64(v);
				json_object_put(o);
				if (!st || !su)
					continue;
				lat[m++] = (double)(st - su) / 1e3;
				if (as >= su && st >= as) {
					pl[ms] = (double)(as - su) / 1e3;
					nd[ms++] = (double)(st - as) / 1e3;
				}
				first = st < first ? st : first;
				last = st > last ? st : last;
				sub_first = su < sub_first ? su : sub_first;
			}
			qsort(lat, m, sizeof(double), cmp_d);
			qsort(pl, ms, sizeof(double), cmp_d);
			qsort(nd, ms, sizeof(double), cmp_d);
			printf(
			    "{\"tasks\":%u,\"exited\":%zu,\"lost\":%zu,\"started\":%zu,"
			    "\"submit_to_start_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
			    "\"max\":%.2f},"
			    "\"submit_to_assigned_ms\":{\"p50\":%.2f,\"p99\":%.2f},"
			    "\"assigned_to_start_ms\":{\"p50\":%.2f,\"p99\":%.2f},"
			    "\"start_span_s\":%.3f,\"placements_per_s\":%.1f}\n",
			    count, done, lost, m, pct(lat, m, 50), pct(lat, m, 90), pct(lat, m, 99),
			    m ? lat[m - 1] : 0, pct(pl, ms, 50), pct(pl, ms, 99), pct(nd, ms, 50),
			    pct(nd, ms, 99), m > 1 ? (double)(last - first) / 1e6 : 0,
			    m > 1 && last > first ? (double)(m - 1) / ((double)(last - first) / 1e6)
						  : 0);
			free(lat);
			free(pl);
			free(nd);
			etcd_kvs_done(&kvs);
			etcd_free(e);
			return done >= count ? 0 : 1;
		}
		etcd_kvs_done(&kvs);
		usleep(
		    1000000); /* a range of every status: keep the driver's own load on etcd low */
	}
}

int main(int argc, char **argv)
{
	if (argc >= 6 && !strcmp(argv[1], "nodes"))
		return run_fleets(argv[2], strtoul(argv[5], NULL, 10), strtoul(argv[3], NULL, 10),
				  (unsigned)strtoul(argv[4], NULL, 10), false);
	if (argc >= 3 && !strcmp(argv[1], "placer"))
		return run_fleets(argv[2], 0, 1, 0, true);
	if (argc >= 5 && !strcmp(argv[1], "submit"))
		return submit(argv[2], (unsigned)strtoul(argv[3], NULL, 10), atof(argv[4]));
	if (argc >= 5 && !strcmp(argv[1], "wait"))
		return wait_done(argv[2], (unsigned)strtoul(argv[3], NULL, 10), atof(argv[4]));
	fprintf(stderr, "usage: fleet_bench nodes EPS N HOLD_MS FIRST | placer EPS | submit EPS "
			"COUNT RATE | wait EPS COUNT TIMEOUT\n");
	return 2;
}
