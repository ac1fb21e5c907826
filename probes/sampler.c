/* sampler.c — per-tick sampling of task cgroups and the node: counters to rates, EWMA
 * smoothing, staleness; optional eBPF counters for run-queue latency and switches. */
#include "sampler.h"
#include "util.h"

#include <fcntl.h>

struct task {
	struct sampler_task pub;
	struct probe_cg *cg;
	bool have_prev, have_bpf_prev;
	uint64_t prev_at, prev_usage, prev_throttled;
	uint64_t slow_at; /* last read of the slow files (0 = never) */
	uint64_t bpf_prev_at, prev_oncpu, prev_switches;
	uint64_t prev_hist[PROBE_HIST_NSLOTS];
	double hist[PROBE_HIST_NSLOTS]; /* decayed run-queue latency histogram */
};

struct sampler {
	struct sampler_params p;
	struct probe_node *node;
	struct probe_bpf *bpf;
	int bpf_error;
	struct sampler_node n;
	bool node_have_prev;
	uint64_t node_prev_at, prev_busy, prev_total;
	struct task *tasks;
	size_t n_tasks, cap;
};

void sampler_params_init(struct sampler_params *p)
{
	*p = (struct sampler_params){
	    .proc_root = "/proc",
	    .alpha = 0.5,
	    .stale_after_s = 3.0,
	    .slow_period_s = 2.0,
	    .use_bpf = true,
	};
}

double sampler_ewma(double prev, double x, double alpha, bool first)
{
	return first ? x : alpha * x + (1.0 - alpha) * prev;
}

void sampler_free(struct sampler *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_tasks; i++)
		probe_cg_free(s->tasks[i].cg);
	free(s->tasks);
	probe_node_free(s->node);
	probe_bpf_free(s->bpf);
	free(s);
}
static void sampler_freep(struct sampler **s)
{
	sampler_free(*s);
}

int sampler_new(const struct sampler_params *p, struct sampler **ret)
{
	_cleanup_(sampler_freep) struct sampler *s = NULL;
	struct sampler_params def;
	int r;

	if (!p) {
		sampler_params_init(&def);
		p = &def;
	}
	if (!(p->alpha > 0.0 && p->alpha <= 1.0) || !(p->stale_after_s > 0.0) ||
	    !(p->slow_period_s >= 0.0))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->p = *p;
	if (!s->p.proc_root)
		s->p.proc_root = "/proc";
	r = probe_node_open(s->p.proc_root, &s->node);
	if (r < 0)
		return r;
	s->bpf_error = -EOPNOTSUPP;
	if (p->use_bpf) {
		struct probe_bpf_opts o = {.account_all = p->bpf_account_all,
					   .btf_path = p->btf_path};
		s->bpf_error = probe_bpf_open(&o, &s->bpf);
	}
	*ret = TAKE_PTR(s);
	return 0;
}

int sampler_bpf_error(const struct sampler *s)
{
	return s->bpf ? 0 : s->bpf_error;
}
size_t sampler_n_tasks(const struct sampler *s)
{
	return s->n_tasks;
}

static struct task *find(const struct sampler *s, uint64_t id)
{
	for (size_t i = 0; i < s->n_tasks; i++)
		if (s->tasks[i].pub.id == id)
			return &s->tasks[i];
	return NULL;
}

int sampler_add_task(struct sampler *s, uint64_t id, int dirfd, const char *cg)
{
	struct probe_cg *c = NULL;
	uint64_t cgid = 0;
	int r;

	if (find(s, id))
		return -EEXIST;
	if (s->n_tasks == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct task *nt = realloc(s->tasks, ncap * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		s->tasks = nt;
		s->cap = ncap;
	}
	r = probe_cg_open_at(dirfd, cg, &c);
	if (r < 0)
		return r;
	r = probe_cgroup_id_at(probe_cg_dirfd(c), ".", &cgid);
	if (r < 0) {
		probe_cg_free(c);
		return r;
	}
	if (s->bpf && !s->p.bpf_account_all) {
		r = probe_bpf_add_cgroup(s->bpf, cgid);
		if (r < 0) {
			probe_cg_free(c);
			return r;
		}
	}
	s->tasks[s->n_tasks++] = (struct task){
	    .pub = {.id = id, .cgroup_id = cgid},
	    .cg = c,
	};
	return 0;
}

int sampler_remove_task(struct sampler *s, uint64_t id)
{
	struct task *t = find(s, id);

	if (!t)
		return -ENOENT;
	if (s->bpf && !s->p.bpf_account_all)
		(void)probe_bpf_remove_cgroup(s->bpf, t->pub.cgroup_id);
	probe_cg_free(t->cg);
	*t = s->tasks[--s->n_tasks];
	return 0;
}

static void tick_bpf(struct sampler *s, struct task *t, uint64_t now)
{
	struct probe_bpf_cg b;
	double alpha = s->p.alpha;

	if (!s->bpf || probe_bpf_read_cgroup(s->bpf, t->pub.cgroup_id, &b) < 0)
		return;
	if (t->have_bpf_prev && now > t->bpf_prev_at && b.oncpu_ns >= t->prev_oncpu &&
	    b.nr_switches >= t->prev_switches) {
		double dt_ns = (double)(now - t->bpf_prev_at) * 1000.0;
		bool first = !t->pub.have_bpf;
		t->pub.bpf_cores = sampler_ewma(
		    t->pub.bpf_cores, (double)(b.oncpu_ns - t->prev_oncpu) / dt_ns, alpha, first);
		t->pub.ctx_switches_per_s = sampler_ewma(
		    t->pub.ctx_switches_per_s,
		    (double)(b.nr_switches - t->prev_switches) * 1e9 / dt_ns, alpha, first);
		/* A decayed histogram: recent waits dominate, like the EWMA rates. */
		uint64_t hist[PROBE_HIST_NSLOTS];
		for (size_t i = 0; i < PROBE_HIST_NSLOTS; i++) {
			uint64_t d =
			    b.rq_hist[i] >= t->prev_hist[i] ? b.rq_hist[i] - t->prev_hist[i] : 0;
			t->hist[i] = t->hist[i] * (1.0 - alpha) + (double)d;
			/* Scaled so quantiles keep resolution when the decayed counts are small. */
			hist[i] = (uint64_t)(t->hist[i] * 1024.0 + 0.5);
		}
		double q;
		t->pub.rq_p50_ns =
		    probe_hist_quantile(hist, PROBE_HIST_NSLOTS, 0.50, &q) == 0 ? q : 0;
		t->pub.rq_p99_ns =
		    probe_hist_quantile(hist, PROBE_HIST_NSLOTS, 0.99, &q) == 0 ? q : 0;
		t->pub.have_bpf = true;
	}
	t->pub.rq_mean_ns = b.rq_count ? (double)b.rq_sum_ns / (double)b.rq_count : 0;
	t->pub.bpf = b;
	memcpy(t->prev_hist, b.rq_hist, sizeof(t->prev_hist));
	t->prev_oncpu = b.oncpu_ns;
	t->prev_switches = b.nr_switches;
	t->bpf_prev_at = now;
	t->have_bpf_prev = true;
}

static void tick_task(struct sampler *s, struct task *t, uint64_t now)
{
	struct sampler_task *p = &t->pub;
	struct probe_cg_sample cs;
	double alpha = s->p.alpha;
	int r;

	if (p->gone)
		return;
	bool slow = !t->slow_at || (double)(now - t->slow_at) >= s->p.slow_period_s * 1e6;
	r = probe_cg_read_some(t->cg, slow ? PROBE_HAVE_ALL : PROBE_HAVE_ALL & ~PROBE_HAVE_SLOW,
			       &cs);
	if (r == -ENODEV)
		p->gone = true;
	if (r < 0) {
		p->stale =
		    !p->at_usec || (double)(now - p->at_usec) > s->p.stale_after_s * 1e6 || p->gone;
		return;
	}
	/* A counter going backwards means the cgroup was recreated: restart the rate. */
	if (t->have_prev && now > t->prev_at && cs.cpu.usage_usec >= t->prev_usage) {
		double dt = (double)(now - t->prev_at);
		double c = (double)(cs.cpu.usage_usec - t->prev_usage) / dt;
		bool first = !p->valid;
		p->cores_last = c;
		p->cores = sampler_ewma(p->cores, c, alpha, first);
		if (cs.cpu.has_throttle && cs.cpu.throttled_usec >= t->prev_throttled)
			p->throttled_frac = sampler_ewma(
			    p->throttled_frac,
			    (double)(cs.cpu.throttled_usec - t->prev_throttled) / dt, alpha, first);
		p->valid = true;
	}
	t->prev_usage = cs.cpu.usage_usec;
	t->prev_throttled = cs.cpu.throttled_usec;
	t->prev_at = now;
	t->have_prev = true;

	p->at_usec = now;
	p->stale = false;
	p->usage_usec = cs.cpu.usage_usec;
	p->mem_bytes = cs.mem_current;
	p->mem_peak_bytes = cs.mem_peak;
	p->throttled_usec = cs.cpu.throttled_usec;
	p->nr_throttled = cs.cpu.nr_throttled;
	if (slow) {
		t->slow_at = now;
		p->have = cs.have;
		p->mem_events = cs.mem_events;
		p->mem_stat = cs.mem_stat;
		p->psi_cpu = cs.psi_cpu;
		p->psi_mem = cs.psi_mem;
		p->psi_io = cs.psi_io;
	} else
		p->have = (cs.have & ~PROBE_HAVE_SLOW) | (p->have & PROBE_HAVE_SLOW);
	tick_bpf(s, t, now);
}

static int tick_node(struct sampler *s, uint64_t now)
{
	struct probe_node_sample ns;
	int r;

	r = probe_node_read(s->node, &ns);
	if (r < 0) {
		s->n.stale =
		    !s->n.at_usec || (double)(now - s->n.at_usec) > s->p.stale_after_s * 1e6;
		return r;
	}
	if (s->node_have_prev && ns.stat.total_ticks > s->prev_total &&
	    ns.stat.busy_ticks >= s->prev_busy) {
		double share = (double)(ns.stat.busy_ticks - s->prev_busy) /
			       (double)(ns.stat.total_ticks - s->prev_total);
		s->n.cores_busy =
		    sampler_ewma(s->n.cores_busy, share * ns.stat.ncpus, s->p.alpha, !s->n.valid);
		s->n.valid = true;
	}
	s->prev_busy = ns.stat.busy_ticks;
	s->prev_total = ns.stat.total_ticks;
	s->node_have_prev = true;
	s->n.at_usec = now;
	s->n.stale = false;
	s->n.ncpus = ns.stat.ncpus;
	s->n.mem_total = ns.mem_total;
	s->n.mem_available = ns.mem_available;
	s->n.have = ns.have;
	s->n.psi_cpu = ns.psi_cpu;
	s->n.psi_mem = ns.psi_mem;
	s->n.psi_io = ns.psi_io;
	return 0;
}

int sampler_tick_slice(struct sampler *s, size_t *cursor, size_t max, uint64_t now)
{
	if (!s || !cursor || !max)
		return -EINVAL;
	if (*cursor < s->n_tasks) {
		size_t end = max < s->n_tasks - *cursor ? *cursor + max : s->n_tasks;
		for (; *cursor < end; (*cursor)++)
			tick_task(s, &s->tasks[*cursor], now);
		if (*cursor < s->n_tasks)
			return 1;
	}
	return tick_node(s, now);
}

int sampler_tick(struct sampler *s, uint64_t now)
{
	size_t cursor = 0;
	int r;

	while ((r = sampler_tick_slice(s, &cursor, SIZE_MAX, now)) == 1)
		;
	return r;
}

int sampler_task_get(const struct sampler *s, uint64_t id, struct sampler_task *ret)
{
	const struct task *t = find(s, id);
	if (!t)
		return -ENOENT;
	*ret = t->pub;
	return 0;
}

int sampler_task_at(const struct sampler *s, size_t i, struct sampler_task *ret)
{
	if (i >= s->n_tasks)
		return -ENOENT;
	*ret = s->tasks[i].pub;
	return 0;
}

int sampler_node_get(const struct sampler *s, struct sampler_node *ret)
{
	if (!s->n.at_usec)
		return -ENODATA;
	*ret = s->n;
	return 0;
}

int sampler_task_usage(const struct sampler *s, uint64_t id, struct policy_res *ret)
{
	const struct task *t = find(s, id);
	if (!t)
		return -ENOENT;
	if (!t->pub.valid || t->pub.stale)
		return -ENODATA;
	*ret = (struct policy_res){
	    .cpu = t->pub.cores,
	    .mem = (t->pub.have & PROBE_HAVE_MEM) ? (double)t->pub.mem_bytes : 0.0,
	};
	return 0;
}

int sampler_node_free(const struct sampler *s, struct policy_res *ret)
{
	double cpu;
	if (!s->n.valid || s->n.stale)
		return -ENODATA;
	cpu = (double)s->n.ncpus - s->n.cores_busy;
	*ret = (struct policy_res){
	    .cpu = cpu > 0 ? cpu : 0,
	    .mem = (double)s->n.mem_available,
	};
	return 0;
}
