/* mrs.c — DAG scheduling with retraining: priority (eq. 10), list scheduling under a capacity
 * timeline (Alg. 1), SRS (eq. 11, Alg. 2), MRS online (Alg. 3), PASS-like and Ekya-like baselines.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mrs.h"

#define EPS 1e-9

struct interval {
	double start, end, demand;
};

struct lane {
	struct interval *iv;
	size_t n, cap;
};

struct mrs_timeline {
	size_t n;
	struct lane lane[MRS_MAX_SERVERS];
};

static int find_task(const struct mrs_app *app, const char *name)
{
	for (size_t i = 0; i < app->n_tasks; i++)
		if (strcmp(app->task[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool finite_nonneg(double v)
{
	return isfinite(v) && v >= 0;
}

static double max_capacity(const struct mrs_cluster *cl)
{
	double m = 0;
	for (size_t j = 0; j < cl->n; j++)
		m = fmax(m, cl->s[j].capacity);
	return m;
}

/* Kahn's algorithm; fills order with a topological order, -ELOOP (and a node on a cycle) if none.
 */
static int topo(const struct mrs_dag *dag, int order[], int *ret_cyclic)
{
	int indeg[MRS_MAX_NODES];
	size_t head = 0, tail = 0;

	for (size_t i = 0; i < dag->n; i++) {
		indeg[i] = __builtin_popcountll(dag->pred[i]);
		if (indeg[i] == 0)
			order[tail++] = (int)i;
	}
	while (head < tail) {
		int u = order[head++];
		for (size_t v = 0; v < dag->n; v++)
			if ((dag->succ[u] >> v) & 1)
				if (--indeg[v] == 0)
					order[tail++] = (int)v;
	}
	if (tail == dag->n)
		return 0;
	for (size_t i = 0; i < dag->n; i++)
		if (indeg[i] > 0) {
			*ret_cyclic = (int)i;
			break;
		}
	return -ELOOP;
}

int mrs_dag_build(const struct mrs_app *app, const struct mrs_cluster *cl, struct mrs_dag *ret,
		  const char **ret_bad)
{
	struct mrs_dag d = {0};
	int order[MRS_MAX_NODES], cyc = 0, r;
	double cmax = cl ? max_capacity(cl) : INFINITY;

	if (app->n_tasks == 0 || app->n_tasks > MRS_MAX_TASKS || app->n_edges > MRS_MAX_EDGES)
		return -EINVAL;
	d.n = app->n_tasks;
	for (size_t i = 0; i < app->n_tasks; i++) {
		const struct mrs_task *t = &app->task[i];
		bool ok = finite_nonneg(t->work) && isfinite(t->demand) && t->demand > 0 &&
			  finite_nonneg(t->data_out) && finite_nonneg(t->model_size) &&
			  finite_nonneg(t->drift) && t->acc0 >= 0 && t->acc0 <= 1 &&
			  t->acc_floor >= 0 && t->acc_floor <= 1 && t->n_cfg <= MRS_MAX_CONFIGS &&
			  find_task(app, t->name) == (int)i;
		for (size_t h = 0; ok && h < t->n_cfg; h++) {
			const struct mrs_retrain_cfg *c = &t->cfg[h];
			ok = finite_nonneg(c->samples) && finite_nonneg(c->work) &&
			     isfinite(c->resources) && c->resources > 0 && c->accuracy >= 0 &&
			     c->accuracy <= 1;
			if (ok && c->resources > cmax + EPS) {
				if (ret_bad)
					*ret_bad = t->name;
				return -E2BIG;
			}
		}
		if (!ok) {
			if (ret_bad)
				*ret_bad = t->name;
			return -EINVAL;
		}
		if (t->demand > cmax + EPS) {
			if (ret_bad)
				*ret_bad = t->name;
			return -E2BIG;
		}
		d.node[i] = (struct mrs_node){
		    .work = t->work, .demand = t->demand, .data_out = t->data_out, .task = (int)i};
	}
	for (size_t e = 0; e < app->n_edges; e++) {
		int a = find_task(app, app->edge[e].from), b = find_task(app, app->edge[e].to);
		if (a < 0 || b < 0) {
			if (ret_bad)
				*ret_bad = a < 0 ? app->edge[e].from : app->edge[e].to;
			return -ENOENT;
		}
		if (a == b) {
			if (ret_bad)
				*ret_bad = app->task[a].name;
			return -ELOOP;
		}
		d.succ[a] |= 1ull << b;
		d.pred[b] |= 1ull << a;
	}
	r = topo(&d, order, &cyc);
	if (r < 0) {
		if (ret_bad)
			*ret_bad = app->task[cyc].name;
		return r;
	}
	*ret = d;
	return 0;
}

static double mean_exec(const struct mrs_cluster *cl, const struct mrs_node *n)
{
	double sum = 0;
	size_t k = 0;
	for (size_t j = 0; j < cl->n; j++)
		if (n->demand <= cl->s[j].capacity + EPS) {
			sum += n->work / (n->demand * cl->s[j].speed);
			k++;
		}
	return k ? sum / (double)k : 0;
}

static double max_transfer(const struct mrs_cluster *cl, double bytes)
{
	double t = 0;
	for (size_t a = 0; a < cl->n; a++)
		for (size_t b = 0; b < cl->n; b++)
			if (a != b && cl->link[a][b] > 0)
				t = fmax(t, bytes / cl->link[a][b]);
	return t;
}

int mrs_priority(const struct mrs_cluster *cl, const struct mrs_dag *dag, double ret_phi[],
		 int ret_order[])
{
	int order[MRS_MAX_NODES], pos[MRS_MAX_NODES], cyc = 0, r;
	double phi[MRS_MAX_NODES];

	r = topo(dag, order, &cyc);
	if (r < 0)
		return r;
	for (size_t k = dag->n; k-- > 0;) {
		int i = order[k];
		double e = mean_exec(cl, &dag->node[i]), best = 0;
		bool any = false;
		pos[i] = (int)k;
		for (size_t s = 0; s < dag->n; s++)
			if ((dag->succ[i] >> s) & 1) {
				best = fmax(best, max_transfer(cl, dag->node[i].data_out) + phi[s]);
				any = true;
			}
		phi[i] = e + (any ? best : 0);
	}
	/* insertion sort: decreasing phi, ties by topological position, which keeps it topological
	 */
	for (size_t k = 0; k < dag->n; k++)
		ret_order[k] = order[k];
	for (size_t k = 1; k < dag->n; k++) {
		int x = ret_order[k];
		size_t m = k;
		while (m > 0 &&
		       (phi[ret_order[m - 1]] < phi[x] ||
			(phi[ret_order[m - 1]] == phi[x] && pos[ret_order[m - 1]] > pos[x]))) {
			ret_order[m] = ret_order[m - 1];
			m--;
		}
		ret_order[m] = x;
	}
	if (ret_phi)
		memcpy(ret_phi, phi, sizeof(double) * dag->n);
	return 0;
}

int mrs_timeline_new(size_t n_servers, struct mrs_timeline **ret)
{
	struct mrs_timeline *tl;
	if (n_servers == 0 || n_servers > MRS_MAX_SERVERS)
		return -EINVAL;
	tl = calloc(1, sizeof(*tl));
	if (!tl)
		return -ENOMEM;
	tl->n = n_servers;
	*ret = tl;
	return 0;
}

void mrs_timeline_free(struct mrs_timeline *tl)
{
	if (!tl)
		return;
	for (size_t j = 0; j < tl->n; j++)
		free(tl->lane[j].iv);
	free(tl);
}

int mrs_timeline_copy(const struct mrs_timeline *tl, struct mrs_timeline **ret)
{
	struct mrs_timeline *c;
	int r = mrs_timeline_new(tl->n, &c);
	if (r < 0)
		return r;
	for (size_t j = 0; j < tl->n; j++) {
		size_t n = tl->lane[j].n;
		if (!n)
			continue;
		c->lane[j].iv = malloc(n * sizeof(struct interval));
		if (!c->lane[j].iv) {
			mrs_timeline_free(c);
			return -ENOMEM;
		}
		memcpy(c->lane[j].iv, tl->lane[j].iv, n * sizeof(struct interval));
		c->lane[j].n = c->lane[j].cap = n;
	}
	*ret = c;
	return 0;
}

int mrs_timeline_add(struct mrs_timeline *tl, size_t j, double start, double end, double demand)
{
	struct lane *l;
	if (j >= tl->n || !(end >= start))
		return -EINVAL;
	if (end == start)
		return 0;
	l = &tl->lane[j];
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct interval *iv = realloc(l->iv, cap * sizeof(*iv));
		if (!iv)
			return -ENOMEM;
		l->iv = iv;
		l->cap = cap;
	}
	l->iv[l->n++] = (struct interval){start, end, demand};
	return 0;
}

/* Drop reservations that end before any future query can start. */
static void timeline_prune(struct mrs_timeline *tl, double t)
{
	for (size_t j = 0; j < tl->n; j++) {
		struct lane *l = &tl->lane[j];
		size_t w = 0;
		for (size_t i = 0; i < l->n; i++)
			if (l->iv[i].end > t)
				l->iv[w++] = l->iv[i];
		l->n = w;
	}
}

static double usage_at(const struct lane *l, double p)
{
	double u = 0;
	for (size_t i = 0; i < l->n; i++)
		if (l->iv[i].start <= p + EPS && p < l->iv[i].end - EPS)
			u += l->iv[i].demand;
	return u;
}

static bool fits(const struct lane *l, double cap, double s, double dur, double c)
{
	if (usage_at(l, s) + c > cap + EPS)
		return false;
	/* usage only rises at interval starts, so those inside the window are the only other checks
	 */
	for (size_t i = 0; i < l->n; i++)
		if (l->iv[i].start > s + EPS && l->iv[i].start < s + dur - EPS &&
		    usage_at(l, l->iv[i].start) + c > cap + EPS)
			return false;
	return true;
}

double mrs_timeline_earliest(const struct mrs_timeline *tl, const struct mrs_cluster *cl, size_t j,
			     double ready, double duration, double demand)
{
	const struct lane *l = &tl->lane[j];
	double best = INFINITY;

	if (demand > cl->s[j].capacity + EPS)
		return INFINITY;
	if (fits(l, cl->s[j].capacity, ready, duration, demand))
		return ready;
	/* a start becomes feasible only when some reservation ends */
	for (size_t i = 0; i < l->n; i++) {
		double s = l->iv[i].end;
		if (s > ready && s < best && fits(l, cl->s[j].capacity, s, duration, demand))
			best = s;
	}
	return best;
}

static double transfer(const struct mrs_cluster *cl, size_t a, size_t b, double bytes)
{
	if (a == b || bytes == 0)
		return 0;
	return cl->link[a][b] > 0 ? bytes / cl->link[a][b] : INFINITY;
}

/* Min-finish server for node i given its predecessors' placements. */
static int place(const struct mrs_cluster *cl, const struct mrs_dag *dag,
		 const struct mrs_placement pl[], int i, double arrival,
		 const struct mrs_timeline *tl, struct mrs_placement *ret)
{
	const struct mrs_node *n = &dag->node[i];
	struct mrs_placement best = {.server = -1, .start = INFINITY, .finish = INFINITY};

	for (size_t j = 0; j < cl->n; j++) {
		double ready = arrival + n->release, dur, s;
		for (size_t p = 0; p < dag->n; p++)
			if ((dag->pred[i] >> p) & 1)
				ready =
				    fmax(ready, pl[p].finish + transfer(cl, (size_t)pl[p].server, j,
									dag->node[p].data_out));
		if (!isfinite(ready))
			continue;
		dur = n->work / (n->demand * cl->s[j].speed);
		s = mrs_timeline_earliest(tl, cl, j, ready, dur, n->demand);
		if (s + dur < best.finish - EPS || (best.server < 0 && isfinite(s)))
			best =
			    (struct mrs_placement){.server = (int)j, .start = s, .finish = s + dur};
	}
	if (best.server < 0)
		return -E2BIG;
	*ret = best;
	return 0;
}

int mrs_list_schedule(const struct mrs_cluster *cl, const struct mrs_dag *dag, double arrival,
		      struct mrs_timeline *tl, struct mrs_placement ret[])
{
	int order[MRS_MAX_NODES], r;
	struct mrs_placement pl[MRS_MAX_NODES];

	r = mrs_priority(cl, dag, NULL, order);
	if (r < 0)
		return r;
	for (size_t k = 0; k < dag->n; k++) {
		int i = order[k];
		r = place(cl, dag, pl, i, arrival, tl, &pl[i]);
		if (r < 0)
			return r;
		r = mrs_timeline_add(tl, (size_t)pl[i].server, pl[i].start, pl[i].finish,
				     dag->node[i].demand);
		if (r < 0)
			return r;
	}
	memcpy(ret, pl, sizeof(pl[0]) * dag->n);
	return 0;
}

double mrs_delta_p(const struct mrs_cluster *cl, const struct mrs_task *task, size_t j,
		   const struct mrs_retrain_cfg *cfg, double acc_now, double theta)
{
	double t_train = cfg->work / (cfg->resources * cl->s[j].speed);
	/* the retraining node may land on another server: charge the slowest model hand-over */
	double t_model = max_transfer(cl, task->model_size);
	double t_samples = cl->source_rate > 0 ? cfg->samples / cl->source_rate : 0;
	return t_train + t_model + t_samples + theta * (acc_now - cfg->accuracy);
}

static const char *const policy_names[_MRS_POLICY_MAX] = {
    [MRS_POLICY_MRS] = "mrs", [MRS_POLICY_PASS] = "pass", [MRS_POLICY_EKYA] = "ekya"};

const char *mrs_policy_name(enum mrs_policy p)
{
	return p < _MRS_POLICY_MAX ? policy_names[p] : NULL;
}

int mrs_policy_from_name(const char *s, enum mrs_policy *ret)
{
	for (int p = 0; p < _MRS_POLICY_MAX; p++)
		if (strcmp(s, policy_names[p]) == 0) {
			*ret = (enum mrs_policy)p;
			return 0;
		}
	return -EINVAL;
}

/* --- simulation -------------------------------------------------------------------------- */

struct model_state {
	double base, since;
	unsigned pending; /* retraining nodes decided but not yet placed (MRS interleaving) */
};

struct request {
	size_t app;
	double arrival;
	struct mrs_dag dag;
	int order[MRS_MAX_NODES];
	size_t pos;
	struct mrs_placement pl[MRS_MAX_NODES];
	int cfg[MRS_MAX_TASKS]; /* chosen retraining configuration, -1 none */
	double acc[MRS_MAX_TASKS];
};

static double accuracy_now(const struct mrs_task *t, const struct model_state *m, double now)
{
	return fmax(t->acc_floor, m->base - t->drift * fmax(0, now - m->since));
}

static int best_accuracy_cfg(const struct mrs_task *t)
{
	int b = -1;
	for (size_t h = 0; h < t->n_cfg; h++)
		if (b < 0 || t->cfg[h].accuracy > t->cfg[b].accuracy)
			b = (int)h;
	return b;
}

/* Decide retraining for request rq (Alg. 2 for MRS; the baselines' rules otherwise) and append
 * the retraining nodes. */
static int decide(const struct mrs_workload *wl, enum mrs_policy policy, struct request *rq,
		  struct model_state ms[], const struct mrs_timeline *tl, bool pass_due)
{
	const struct mrs_app *app = &wl->app[rq->app];
	struct mrs_placement pl[MRS_MAX_NODES];
	int r;

	for (size_t i = 0; i < app->n_tasks; i++) {
		rq->cfg[i] = -1;
		rq->acc[i] = accuracy_now(&app->task[i], &ms[i], rq->arrival);
	}
	if (policy == MRS_POLICY_MRS) {
		struct mrs_timeline *scratch = NULL;
		r = mrs_timeline_copy(tl, &scratch);
		if (r < 0)
			return r;
		r = mrs_list_schedule(&wl->cluster, &rq->dag, rq->arrival, scratch, pl);
		mrs_timeline_free(scratch);
		if (r < 0)
			return r;
		for (size_t i = 0; i < app->n_tasks; i++) {
			const struct mrs_task *t = &app->task[i];
			double best = INFINITY;
			int bh = -1;
			for (size_t h = 0; h < t->n_cfg; h++) {
				double dp = mrs_delta_p(&wl->cluster, t, (size_t)pl[i].server,
							&t->cfg[h], rq->acc[i], wl->theta);
				if (dp < best) {
					best = dp;
					bh = (int)h;
				}
			}
			/* a retraining already queued by an earlier request refreshes this model */
			if (bh >= 0 && best < 0 && t->cfg[bh].accuracy >= wl->a_min &&
			    !ms[i].pending)
				rq->cfg[i] = bh;
		}
	} else {
		for (size_t i = 0; i < app->n_tasks; i++) {
			int b = best_accuracy_cfg(&app->task[i]);
			if (b < 0)
				continue;
			if (policy == MRS_POLICY_EKYA ? app->task[i].cfg[b].accuracy > rq->acc[i]
						      : pass_due)
				rq->cfg[i] = b;
		}
	}
	for (size_t i = 0; i < app->n_tasks; i++) {
		const struct mrs_retrain_cfg *c;
		size_t n = rq->dag.n;
		if (rq->cfg[i] < 0)
			continue;
		c = &app->task[i].cfg[rq->cfg[i]];
		rq->dag.node[n] = (struct mrs_node){
		    .work = c->work,
		    .demand = c->resources,
		    .data_out = app->task[i].model_size,
		    .release =
			wl->cluster.source_rate > 0 ? c->samples / wl->cluster.source_rate : 0,
		    .task = (int)i,
		    .retrain = true,
		};
		rq->dag.succ[n] = 1ull << i;
		rq->dag.pred[i] |= 1ull << n;
		rq->dag.n++;
		rq->acc[i] = c->accuracy;
		ms[i].pending++;
	}
	return mrs_priority(&wl->cluster, &rq->dag, NULL, rq->order);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct sim {
	const struct mrs_workload *wl;
	struct mrs_timeline *tl;
	struct model_state (*ms)[MRS_MAX_TASKS];
	double *completion, acc_sum, obj_sum;
	size_t retrainings, done;
	struct mrs_trace_entry *trace;
	size_t n_trace, cap_trace;
	bool want_trace;
};

/* Record a placed node: reserve it (unless mrs_list_schedule already did), reset the model
 * accuracy when a retraining finishes, append to the trace. */
static int commit(struct sim *sm, struct request *rq, size_t req_idx, int i, bool reserve)
{
	const struct mrs_node *n = &rq->dag.node[i];
	int r = reserve ? mrs_timeline_add(sm->tl, (size_t)rq->pl[i].server, rq->pl[i].start,
					   rq->pl[i].finish, n->demand)
			: 0;
	if (r < 0)
		return r;
	if (n->retrain) {
		struct model_state *m = &sm->ms[rq->app][n->task];
		m->base = rq->acc[n->task];
		m->since = rq->pl[i].finish;
		m->pending--;
		sm->retrainings++;
	}
	if (sm->want_trace) {
		if (sm->n_trace == sm->cap_trace) {
			size_t cap = sm->cap_trace ? sm->cap_trace * 2 : 64;
			struct mrs_trace_entry *t = realloc(sm->trace, cap * sizeof(*t));
			if (!t)
				return -ENOMEM;
			sm->trace = t;
			sm->cap_trace = cap;
		}
		sm->trace[sm->n_trace++] = (struct mrs_trace_entry){
		    .req = req_idx,
		    .node = i,
		    .server = rq->pl[i].server,
		    .retrain = n->retrain,
		    .start = rq->pl[i].start,
		    .finish = rq->pl[i].finish,
		    .demand = n->demand,
		    .pred = rq->dag.pred[i],
		};
	}
	return 0;
}

static void finish_request(struct sim *sm, const struct request *rq)
{
	const struct mrs_app *app = &sm->wl->app[rq->app];
	double end = rq->arrival, acc = 0, loss = 0;
	for (size_t i = 0; i < rq->dag.n; i++)
		end = fmax(end, rq->pl[i].finish);
	for (size_t i = 0; i < app->n_tasks; i++) {
		acc += rq->acc[i];
		loss += 1 - rq->acc[i];
	}
	sm->completion[sm->done++] = end - rq->arrival;
	sm->acc_sum += acc / (double)app->n_tasks;
	sm->obj_sum += (end - rq->arrival) + sm->wl->theta * loss;
}

int mrs_simulate(const struct mrs_workload *wl, enum mrs_policy policy, const double *arrivals,
		 size_t n_req, bool want_trace, struct mrs_result *ret)
{
	struct sim sm = {.wl = wl, .want_trace = want_trace};
	struct request *rq = NULL;
	struct mrs_dag base[MRS_MAX_APPS];
	double next_pass = 0;
	size_t admitted = 0, first_active = 0;
	int r;

	if (n_req == 0 || wl->n_apps == 0 || wl->n_apps > MRS_MAX_APPS || policy >= _MRS_POLICY_MAX)
		return -EINVAL;
	for (size_t k = 0; k < n_req; k++)
		if (!isfinite(arrivals[k]) || arrivals[k] < 0 ||
		    (k && arrivals[k] < arrivals[k - 1]))
			return -EINVAL;
	for (size_t a = 0; a < wl->n_apps; a++) {
		r = mrs_dag_build(&wl->app[a], &wl->cluster, &base[a], NULL);
		if (r < 0)
			return r;
	}
	r = mrs_timeline_new(wl->cluster.n, &sm.tl);
	if (r < 0)
		return r;
	rq = calloc(n_req, sizeof(*rq));
	sm.ms = calloc(wl->n_apps, sizeof(*sm.ms));
	sm.completion = calloc(n_req, sizeof(double));
	if (!rq || !sm.ms || !sm.completion) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t a = 0; a < wl->n_apps; a++)
		for (size_t i = 0; i < wl->app[a].n_tasks; i++)
			sm.ms[a][i] = (struct model_state){.base = wl->app[a].task[i].acc0};

	for (;;) {
		/* Alg. 3: among the heads of the active requests' lists, the task that starts first
		 */
		struct mrs_placement best = {.start = INFINITY, .finish = INFINITY};
		size_t best_k = SIZE_MAX;

		if (policy == MRS_POLICY_MRS) {
			for (size_t k = first_active; k < admitted; k++) {
				struct mrs_placement p;
				if (rq[k].pos == rq[k].dag.n)
					continue;
				r = place(&wl->cluster, &rq[k].dag, rq[k].pl,
					  rq[k].order[rq[k].pos], rq[k].arrival, sm.tl, &p);
				if (r < 0)
					goto out;
				if (p.start < best.start - EPS ||
				    (p.start < best.start + EPS && p.finish < best.finish)) {
					best = p;
					best_k = k;
				}
			}
		}
		if (admitted < n_req && (best_k == SIZE_MAX || arrivals[admitted] <= best.start)) {
			struct request *q = &rq[admitted];
			bool pass_due = false;
			q->app = admitted % wl->n_apps;
			q->arrival = arrivals[admitted];
			q->dag = base[q->app];
			if (policy == MRS_POLICY_PASS && q->arrival >= next_pass) {
				pass_due = true;
				next_pass = q->arrival + wl->pass_period;
			}
			timeline_prune(sm.tl, rq[first_active].arrival < q->arrival &&
						      policy == MRS_POLICY_MRS
						  ? rq[first_active].arrival
						  : q->arrival);
			r = decide(wl, policy, q, sm.ms[q->app], sm.tl, pass_due);
			if (r < 0)
				goto out;
			admitted++;
			if (policy != MRS_POLICY_MRS) {
				/* baselines: the whole request by its priority list, first come
				 * first served */
				r = mrs_list_schedule(&wl->cluster, &q->dag, q->arrival, sm.tl,
						      q->pl);
				if (r < 0)
					goto out;
				for (size_t k = 0; k < q->dag.n; k++) {
					r = commit(&sm, q, admitted - 1, q->order[k], false);
					if (r < 0)
						goto out;
				}
				q->pos = q->dag.n;
				finish_request(&sm, q);
				first_active = admitted;
			}
			continue;
		}
		if (best_k == SIZE_MAX)
			break;
		{
			struct request *q = &rq[best_k];
			int i = q->order[q->pos];
			q->pl[i] = best;
			r = commit(&sm, q, best_k, i, true);
			if (r < 0)
				goto out;
			if (++q->pos == q->dag.n)
				finish_request(&sm, q);
			while (first_active < admitted &&
			       rq[first_active].pos == rq[first_active].dag.n)
				first_active++;
		}
	}

	qsort(sm.completion, n_req, sizeof(double), cmp_double);
	{
		double sum = 0;
		size_t p95 = (size_t)ceil(0.95 * (double)n_req);
		for (size_t k = 0; k < n_req; k++)
			sum += sm.completion[k];
		*ret = (struct mrs_result){
		    .n_requests = n_req,
		    .mean_completion = sum / (double)n_req,
		    .p95_completion = sm.completion[p95 ? p95 - 1 : 0],
		    .mean_accuracy = sm.acc_sum / (double)n_req,
		    .mean_objective = sm.obj_sum / (double)n_req,
		    .retrainings = sm.retrainings,
		    .trace = want_trace ? sm.trace : NULL,
		    .n_trace = want_trace ? sm.n_trace : 0,
		};
		if (want_trace)
			sm.trace = NULL;
	}
	r = 0;
out:
	free(sm.trace);
	free(sm.completion);
	free(sm.ms);
	free(rq);
	mrs_timeline_free(sm.tl);
	return r;
}
