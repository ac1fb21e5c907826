/* jps_graph.c — JPS for DAG models and heterogeneous jobs: Alg. 4 and 5 over graph cuts,
 * graph brute force and the heterogeneous planner (ALGORITHMS.md §2). Pure. */
#include "jps_internal.h"

/* ---- layer level -------------------------------------------------------------------- */

double jps_graph_makespan(const struct jps_graph *gr, const size_t *order)
{
	return jps_makespan(gr->w, order, gr->n);
}

static int check_edges(const struct jps_graph *gr)
{
	if (!gr || (gr->n && !gr->w) || (gr->n_edges && !gr->edges))
		return -EINVAL;
	for (size_t e = 0; e < gr->n_edges; e++)
		if (gr->edges[e][0] >= gr->n || gr->edges[e][1] >= gr->n ||
		    gr->edges[e][0] == gr->edges[e][1])
			return -EINVAL;
	return 0;
}

int jps_alg4(const struct jps_graph *gr, size_t *ret_order)
{
	size_t n, left, pos;
	uint32_t *outdeg = NULL;
	bool *gone = NULL;
	struct jps_job *sw = NULL;
	size_t *sidx = NULL, *sorder = NULL, *out = NULL;
	int r = check_edges(gr);

	if (r < 0)
		return r;
	n = gr->n;
	outdeg = calloc(n + 1, sizeof(*outdeg));
	gone = calloc(n + 1, sizeof(*gone));
	sw = calloc(n + 1, sizeof(*sw));
	sidx = calloc(n + 1, sizeof(*sidx));
	sorder = calloc(n + 1, sizeof(*sorder));
	out = calloc(n + 1, sizeof(*out));
	if (!outdeg || !gone || !sw || !sidx || !sorder || !out) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t e = 0; e < gr->n_edges; e++)
		outdeg[gr->edges[e][0]]++;
	/* Fill the schedule from the back: each round's sinks go before everything chosen. */
	left = n;
	pos = n;
	while (left) {
		size_t ns = 0;
		for (size_t v = 0; v < n; v++)
			if (!gone[v] && outdeg[v] == 0) {
				sidx[ns] = v;
				sw[ns++] = gr->w[v];
			}
		if (!ns) {
			r = -ELOOP;
			goto out;
		}
		r = jps_johnson_order(sw, ns, sorder);
		if (r < 0)
			goto out;
		pos -= ns;
		for (size_t i = 0; i < ns; i++) {
			out[pos + i] = sidx[sorder[i]];
			gone[sidx[i]] = true;
		}
		for (size_t e = 0; e < gr->n_edges; e++)
			for (size_t i = 0; i < ns; i++)
				if (gr->edges[e][1] == sidx[i])
					outdeg[gr->edges[e][0]]--;
		left -= ns;
	}
	memcpy(ret_order, out, n * sizeof(size_t));
	r = 0;
out:
	free(outdeg);
	free(gone);
	free(sw);
	free(sidx);
	free(sorder);
	free(out);
	return r;
}

/* Alg. 5 groups: a run of nodes (linked through next[]) with summed (f, g). */
struct group {
	double f, g;
	size_t head, tail;
};
struct glist {
	size_t n, cap;
	size_t *ids; /* group ids */
};

static int glist_push(struct glist *l, size_t id)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 4;
		size_t *ni = realloc(l->ids, nc * sizeof(size_t));
		if (!ni)
			return -ENOMEM;
		l->ids = ni;
		l->cap = nc;
	}
	l->ids[l->n++] = id;
	return 0;
}

/* Merge lists[0..k) into *out by repeatedly taking the Johnson-best head (ties: the
 * earlier list), like the merge step of merge sort. Frees the inputs. */
static int merge_lists(struct glist *lists, size_t k, const struct group *gs, struct glist *out)
{
	size_t *pos = calloc(k ? k : 1, sizeof(size_t));
	size_t total = 0;
	int r = 0;

	if (!pos)
		return -ENOMEM;
	for (size_t i = 0; i < k; i++)
		total += lists[i].n;
	for (size_t t = 0; t < total && r == 0; t++) {
		size_t best = SIZE_MAX;
		for (size_t i = 0; i < k; i++) {
			if (pos[i] >= lists[i].n)
				continue;
			if (best == SIZE_MAX) {
				best = i;
				continue;
			}
			const struct group *a = &gs[lists[i].ids[pos[i]]],
					   *b = &gs[lists[best].ids[pos[best]]];
			struct jps_job ja = {a->f, a->g}, jb = {b->f, b->g};
			if (jps_johnson_cmp(&ja, &jb) < 0)
				best = i;
		}
		r = glist_push(out, lists[best].ids[pos[best]++]);
	}
	free(pos);
	for (size_t i = 0; i < k; i++) {
		free(lists[i].ids);
		lists[i] = (struct glist){0};
	}
	return r;
}

int jps_alg5(const struct jps_graph *gr, size_t *ret_order, size_t *ret_group, size_t *ret_n_groups)
{
	size_t n;
	uint32_t *parent = NULL, *nchild = NULL;
	size_t *cstart = NULL, *child = NULL, *topo = NULL, *next = NULL;
	struct group *gs = NULL;
	struct glist *lists = NULL, *tmp = NULL, top = {0};
	int r = check_edges(gr);

	if (r < 0)
		return r;
	n = gr->n;
	parent = malloc((n + 1) * sizeof(*parent));
	nchild = calloc(n + 1, sizeof(*nchild));
	cstart = calloc(n + 2, sizeof(*cstart));
	child = calloc(gr->n_edges + 1, sizeof(*child));
	topo = calloc(n + 1, sizeof(*topo));
	next = calloc(n + 1, sizeof(*next));
	gs = calloc(n + 1, sizeof(*gs));
	lists = calloc(n + 1, sizeof(*lists));
	tmp = calloc(n + 1, sizeof(*tmp));
	if (!parent || !nchild || !cstart || !child || !topo || !next || !gs || !lists || !tmp) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t v = 0; v < n; v++)
		parent[v] = UINT32_MAX;
	for (size_t e = 0; e < gr->n_edges; e++) {
		uint32_t p = gr->edges[e][0], c = gr->edges[e][1];
		if (parent[c] != UINT32_MAX) { /* a join: not a tree */
			r = -EINVAL;
			goto out;
		}
		parent[c] = p;
		nchild[p]++;
	}
	for (size_t v = 0; v < n; v++)
		cstart[v + 1] = cstart[v] + nchild[v];
	{
		size_t *fill = calloc(n + 1, sizeof(size_t));
		if (!fill) {
			r = -ENOMEM;
			goto out;
		}
		/* children in edge order, so ties resolve the same way every run */
		for (size_t e = 0; e < gr->n_edges; e++) {
			uint32_t p = gr->edges[e][0];
			child[cstart[p] + fill[p]++] = gr->edges[e][1];
		}
		free(fill);
	}
	/* BFS from the roots gives parents before children; walk it backwards. */
	{
		size_t h = 0, t = 0;
		for (size_t v = 0; v < n; v++)
			if (parent[v] == UINT32_MAX)
				topo[t++] = v;
		while (h < t) {
			size_t u = topo[h++];
			for (size_t k = cstart[u]; k < cstart[u + 1]; k++)
				topo[t++] = child[k];
		}
		if (t < n) { /* a cycle: nodes unreachable from any root */
			r = -ELOOP;
			goto out;
		}
	}
	for (size_t i = n; i-- > 0;) {
		size_t v = topo[i], k = cstart[v + 1] - cstart[v];
		struct glist merged = {0};
		for (size_t j = 0; j < k; j++) {
			tmp[j] = lists[child[cstart[v] + j]];
			lists[child[cstart[v] + j]] = (struct glist){0};
		}
		r = merge_lists(tmp, k, gs, &merged);
		if (r < 0) {
			free(merged.ids);
			goto out;
		}
		if (merged.n == 0) {
			gs[v] = (struct group){gr->w[v].f, gr->w[v].g, v, v};
			next[v] = SIZE_MAX;
			r = glist_push(&merged, v);
			if (r < 0) {
				free(merged.ids);
				goto out;
			}
		} else {
			/* Fold the parent into the first group: it has to run before it anyway. */
			struct group *g0 = &gs[merged.ids[0]];
			g0->f += gr->w[v].f;
			g0->g += gr->w[v].g;
			next[v] = g0->head;
			g0->head = v;
		}
		lists[v] = merged;
	}
	/* The forest's roots hang off a virtual root with (0, 0). */
	{
		size_t nr = 0;
		for (size_t v = 0; v < n; v++)
			if (parent[v] == UINT32_MAX)
				tmp[nr++] = lists[v], lists[v] = (struct glist){0};
		r = merge_lists(tmp, nr, gs, &top);
		if (r < 0)
			goto out;
	}
	{
		size_t p = 0;
		for (size_t gi = 0; gi < top.n; gi++)
			for (size_t v = gs[top.ids[gi]].head; v != SIZE_MAX; v = next[v]) {
				ret_order[p] = v;
				if (ret_group)
					ret_group[p] = gi;
				p++;
				if (v == gs[top.ids[gi]].tail)
					break;
			}
		if (ret_n_groups)
			*ret_n_groups = top.n;
	}
	r = 0;
out:
	if (lists)
		for (size_t v = 0; v < n; v++)
			free(lists[v].ids);
	free(top.ids);
	free(parent);
	free(nchild);
	free(cstart);
	free(child);
	free(topo);
	free(next);
	free(gs);
	free(lists);
	free(tmp);
	return r;
}

/* DFS over every topological order. */
static void topo_dfs(const struct jps_graph *gr, uint32_t *indeg, bool *used, size_t *order,
		     size_t depth, double *best)
{
	if (depth == gr->n) {
		double m = jps_graph_makespan(gr, order);
		if (m < *best)
			*best = m;
		return;
	}
	for (size_t v = 0; v < gr->n; v++) {
		if (used[v] || indeg[v])
			continue;
		used[v] = true;
		order[depth] = v;
		for (size_t e = 0; e < gr->n_edges; e++)
			if (gr->edges[e][0] == v)
				indeg[gr->edges[e][1]]--;
		topo_dfs(gr, indeg, used, order, depth + 1, best);
		for (size_t e = 0; e < gr->n_edges; e++)
			if (gr->edges[e][0] == v)
				indeg[gr->edges[e][1]]++;
		used[v] = false;
	}
}

int jps_graph_brute_force(const struct jps_graph *gr, double *ret_makespan)
{
	uint32_t indeg[10] = {0};
	bool used[10] = {false};
	size_t order[10];
	double best = INFINITY;
	int r = check_edges(gr);

	if (r < 0)
		return r;
	if (gr->n > 10 || !ret_makespan)
		return -EINVAL;
	for (size_t e = 0; e < gr->n_edges; e++)
		indeg[gr->edges[e][1]]++;
	topo_dfs(gr, indeg, used, order, 0, &best);
	if (!isfinite(best) && gr->n)
		return -ELOOP;
	*ret_makespan = gr->n ? best : 0;
	return 0;
}

/* ---- heterogeneous models ---------------------------------------------------------- */

void jps_hetero_plan_done(struct jps_hetero_plan *p)
{
	if (!p)
		return;
	free(p->jobs);
	free(p->order);
	free(p->node_job);
	free(p->node_layer);
	*p = (struct jps_hetero_plan){0};
}

/* Johnson makespan of whole jobs. */
static int jobs_makespan(const struct jps_job *jw, size_t n, size_t *order, double *ret)
{
	int r = jps_johnson_order(jw, n, order);
	if (r < 0)
		return r;
	*ret = jps_makespan(jw, order, n);
	return 0;
}

/* Each model's homogeneous plan ignores the other models' jobs sharing the link, so the
 * mixed batch can do better: start from the better of those plans and every job at its
 * single-job optimum (PO), then move single jobs to other front cuts while the job-level
 * Johnson makespan drops (a few passes). Never worse than either start. */
static int improve_mixed_cuts(const struct jps_chain *chains, struct jps_hetero_job *jobs,
			      struct jps_job *jw, size_t n)
{
	size_t *order = calloc(n, sizeof(size_t)), *alt_cut = calloc(n, sizeof(size_t));
	struct jps_job *alt = calloc(n, sizeof(*alt));
	double best, t;
	int r = -ENOMEM;

	if (!order || !alt || !alt_cut)
		goto out;
	r = jobs_makespan(jw, n, order, &best);
	if (r < 0)
		goto out;
	for (size_t j = 0; j < n; j++) {
		const struct jps_chain *c = &chains[jobs[j].model];
		size_t po = 0;
		jps_partition_only(c, 1, &po);
		alt_cut[j] = po;
		alt[j] = (struct jps_job){c->cuts[po].f, c->cuts[po].g};
	}
	r = jobs_makespan(alt, n, order, &t);
	if (r < 0)
		goto out;
	if (t < best) {
		best = t;
		for (size_t j = 0; j < n; j++) {
			jobs[j].cut = alt_cut[j];
			jw[j] = alt[j];
		}
	}
	for (int pass = 0; pass < 3; pass++) {
		bool moved = false;
		for (size_t j = 0; j < n; j++) {
			const struct jps_chain *c = &chains[jobs[j].model];
			double gmin = INFINITY;
			struct jps_job keep = jw[j];
			size_t keep_cut = jobs[j].cut;
			for (size_t k = 0; k < c->n; k++) {
				if (!(c->cuts[k].g < gmin))
					continue; /* dominated: never helps */
				gmin = c->cuts[k].g;
				if (k == keep_cut)
					continue;
				jw[j] = (struct jps_job){c->cuts[k].f, c->cuts[k].g};
				r = jobs_makespan(jw, n, order, &t);
				if (r < 0) {
					jw[j] = keep;
					jobs[j].cut = keep_cut;
					goto out;
				}
				if (t < best - 1e-9) {
					best = t;
					keep = jw[j];
					keep_cut = k;
					moved = true;
				}
			}
			jw[j] = keep;
			jobs[j].cut = keep_cut;
		}
		if (!moved)
			break;
	}
	r = 0;
out:
	free(order);
	free(alt);
	free(alt_cut);
	return r;
}

/* Marks cut layer v and its ancestors in keep[]. */
static void mark_ancestors(const struct jps_model *m, uint32_t v, bool *keep)
{
	if (keep[v])
		return;
	keep[v] = true;
	for (uint32_t k = 0; k < m->layers[v].n_inputs; k++)
		if (m->layers[v].inputs[k] != JPS_INPUT)
			mark_ancestors(m, m->layers[v].inputs[k], keep);
}

/* Job j of model m, cut at c: its kept layers become nodes of gr in topological order with
 * their edges; frontier tensors carry upload time in proportion to their bytes; an input that
 * leaves the device is a node of its own. */
static int add_job(const struct jps_model *m, const struct jps_cut *c, size_t j,
		   struct jps_graph *gr, struct jps_hetero_plan *p)
{
	size_t n = m->n_layers;
	bool input_up = false;
	bool *keep = calloc(n, sizeof(*keep));
	uint32_t *node_of = calloc(2 * n, sizeof(*node_of));
	int r = 0;

	if (!keep || !node_of) {
		r = -ENOMEM;
		goto out;
	}
	if (c->layer == JPS_CUT_LOCAL)
		memset(keep, 1, n * sizeof(*keep));
	else if (c->layer >= 0)
		mark_ancestors(m, (uint32_t)c->layer, keep);
	/* The chain knows only g = w0 + bytes / b for the whole cut, so each uploaded
	 * tensor carries g in proportion to its bytes; the sum is the cut's g. */
	double per_byte = (c->bytes && c->g > 0) ? c->g / (double)c->bytes : 0;
	uint32_t *topo = node_of + n;
	r = jps_topo_order(m, topo, NULL);
	if (r < 0)
		goto out;
	for (size_t t = 0; t < n; t++) {
		uint32_t v = topo[t];
		if (!keep[v])
			continue;
		node_of[v] = (uint32_t)gr->n;
		p->node_job[gr->n] = (uint32_t)j;
		p->node_layer[gr->n] = (int32_t)v;
		gr->w[gr->n++] = (struct jps_job){m->layers[v].compute_ms, 0};
	}
	for (size_t v = 0; v < n; v++) {
		for (uint32_t k = 0; k < m->layers[v].n_inputs; k++) {
			uint32_t u = m->layers[v].inputs[k];
			if (keep[v] && u != JPS_INPUT && keep[u]) {
				gr->edges[gr->n_edges][0] = node_of[u];
				gr->edges[gr->n_edges][1] = node_of[v];
				gr->n_edges++;
			} else if (!keep[v] && u == JPS_INPUT) {
				input_up = true;
			} else if (!keep[v] && keep[u]) {
				/* frontier tensor, charged once */
				struct jps_job *w = &gr->w[node_of[u]];
				if (w->g == 0)
					w->g = per_byte * (double)m->layers[u].out_bytes;
			}
		}
	}
	if (c->layer == JPS_CUT_CLOUD)
		input_up = true;
	if (input_up) {
		/* The input upload is a node of its own with no compute. */
		p->node_job[gr->n] = (uint32_t)j;
		p->node_layer[gr->n] = -1;
		gr->w[gr->n++] = (struct jps_job){
		    0, c->layer == JPS_CUT_CLOUD ? c->g : per_byte * (double)m->input_bytes};
	}
out:
	free(keep);
	free(node_of);
	return r;
}

int jps_plan_hetero(const struct jps_model *const *models, const struct jps_chain *chains,
		    const size_t *n_jobs, size_t n_models, struct jps_hetero_plan *ret)
{
	struct jps_hetero_plan p = {0};
	struct jps_graph gr = {0};
	struct jps_job *jw = NULL;
	size_t *jorder = NULL, *lorder = NULL, cap_nodes = 0, cap_edges = 0, *first = NULL;
	int r = 0;

	if (!models || !chains || !n_jobs || !ret || n_models == 0)
		return -EINVAL;
	for (size_t i = 0; i < n_models; i++) {
		p.n_jobs += n_jobs[i];
		cap_nodes += n_jobs[i] * (models[i]->n_layers + 1);
	}
	if (p.n_jobs == 0)
		return -EINVAL;
	p.jobs = calloc(p.n_jobs, sizeof(*p.jobs));
	jw = calloc(p.n_jobs, sizeof(*jw));
	jorder = calloc(p.n_jobs, sizeof(*jorder));
	first = calloc(p.n_jobs + 1, sizeof(*first));
	gr.w = calloc(cap_nodes, sizeof(*gr.w));
	p.node_job = calloc(cap_nodes, sizeof(*p.node_job));
	p.node_layer = calloc(cap_nodes, sizeof(*p.node_layer));
	if (!p.jobs || !jw || !jorder || !first || !gr.w || !p.node_job || !p.node_layer) {
		r = -ENOMEM;
		goto out;
	}
	/* Cuts: each model planned on its own chain (Alg. 2 + mix search). */
	{
		size_t j = 0;
		for (size_t i = 0; i < n_models; i++) {
			struct jps_plan hp;
			if (!n_jobs[i])
				continue;
			r = jps_plan_homogeneous(&chains[i], n_jobs[i], &hp);
			if (r < 0)
				goto out;
			for (size_t k = 0; k < n_jobs[i]; k++, j++) {
				p.jobs[j] = (struct jps_hetero_job){(uint32_t)i, hp.order[k]};
				const struct jps_cut *c = &chains[i].cuts[hp.order[k]];
				jw[j] = (struct jps_job){c->f, c->g};
			}
			jps_plan_done(&hp);
		}
	}
	r = improve_mixed_cuts(chains, p.jobs, jw, p.n_jobs);
	if (r < 0)
		goto out;
	/* Local graph: per job, the kept layers; upload time on the frontier layers. */
	for (size_t i = 0; i < n_models; i++)
		for (size_t v = 0; v < models[i]->n_layers; v++)
			cap_edges += (size_t)models[i]->layers[v].n_inputs * n_jobs[i];
	gr.edges = calloc(cap_edges + 1, sizeof(*gr.edges));
	if (!gr.edges) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < p.n_jobs; j++) {
		first[j] = gr.n;
		r = add_job(models[p.jobs[j].model], &chains[p.jobs[j].model].cuts[p.jobs[j].cut],
			    j, &gr, &p);
		if (r < 0)
			goto out;
	}
	first[p.n_jobs] = gr.n;
	p.n_nodes = gr.n;
	p.order = calloc(gr.n + 1, sizeof(size_t));
	lorder = calloc(gr.n + 1, sizeof(size_t));
	if (!p.order || !lorder) {
		r = -ENOMEM;
		goto out;
	}
	r = jps_alg5(&gr, lorder, NULL, NULL);
	p.tree = r == 0;
	if (r == -EINVAL)
		r = jps_alg4(&gr, lorder);
	if (r < 0)
		goto out;
	p.makespan = jps_graph_makespan(&gr, lorder);
	/* Job level: Johnson over whole jobs, each job's nodes in creation (topological)
	 * order. Keep whichever order is faster; both are feasible. */
	r = jps_johnson_order(jw, p.n_jobs, jorder);
	if (r < 0)
		goto out;
	{
		size_t k = 0;
		for (size_t i = 0; i < p.n_jobs; i++)
			for (size_t v = first[jorder[i]]; v < first[jorder[i] + 1]; v++)
				p.order[k++] = v;
		p.job_level_makespan = jps_graph_makespan(&gr, p.order);
	}
	if (p.makespan <= p.job_level_makespan)
		memcpy(p.order, lorder, gr.n * sizeof(size_t));
	else
		p.makespan = p.job_level_makespan;
	*ret = p;
	p = (struct jps_hetero_plan){0};
	r = 0;
out:
	jps_hetero_plan_done(&p);
	free(gr.w);
	free(gr.edges);
	free(jw);
	free(jorder);
	free(lorder);
	free(first);
	return r;
}
