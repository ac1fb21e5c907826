/* jps.c — the JPS planner: profiles, bandwidth model, Johnson's rule, Alg. 2-5, baselines
 * and brute force (ALGORITHMS.md §2). Pure: no I/O, no globals, no clocks. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jps.h"

/* ---- profiles ------------------------------------------------------------------- */

int jps_model_new(const char *name, const char *source, uint64_t input_bytes,
		  struct jps_model **ret)
{
	struct jps_model *m;

	if (!name || !ret)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->name = strdup(name);
	m->source = strdup(source ? source : "unknown");
	if (!m->name || !m->source) {
		jps_model_free(m);
		return -ENOMEM;
	}
	m->input_bytes = input_bytes;
	*ret = m;
	return 0;
}

int jps_model_add_layer(struct jps_model *m, const char *name, double compute_ms,
			uint64_t out_bytes, const uint32_t *inputs, uint32_t n_inputs,
			uint32_t *ret_index)
{
	struct jps_layer *l, *nl;

	if (!m || !name || (n_inputs && !inputs))
		return -EINVAL;
	if (m->n_layers >= JPS_MAX_LAYERS)
		return -E2BIG;
	nl = realloc(m->layers, (m->n_layers + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	m->layers = nl;
	l = &m->layers[m->n_layers];
	memset(l, 0, sizeof(*l));
	l->name = strdup(name);
	if (!l->name)
		return -ENOMEM;
	if (n_inputs) {
		l->inputs = malloc(n_inputs * sizeof(uint32_t));
		if (!l->inputs) {
			free(l->name);
			return -ENOMEM;
		}
		memcpy(l->inputs, inputs, n_inputs * sizeof(uint32_t));
	}
	l->n_inputs = n_inputs;
	l->compute_ms = compute_ms;
	l->out_bytes = out_bytes;
	if (ret_index)
		*ret_index = (uint32_t)m->n_layers;
	m->n_layers++;
	return 0;
}

void jps_model_free(struct jps_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_layers; i++) {
		free(m->layers[i].name);
		free(m->layers[i].inputs);
	}
	free(m->layers);
	free(m->name);
	free(m->source);
	free(m);
}

int jps_model_find_layer(const struct jps_model *m, const char *name, uint32_t *ret_index)
{
	for (size_t i = 0; i < m->n_layers; i++)
		if (strcmp(m->layers[i].name, name) == 0) {
			*ret_index = (uint32_t)i;
			return 0;
		}
	return -ENOENT;
}

double jps_model_total_ms(const struct jps_model *m)
{
	double t = 0;
	for (size_t i = 0; i < m->n_layers; i++)
		t += m->layers[i].compute_ms;
	return t;
}

/* Kahn's algorithm over the input edges; -ELOOP (and a layer on the cycle) if cyclic. */
static int topo_order(const struct jps_model *m, uint32_t *order, uint32_t *ret_bad)
{
	size_t n = m->n_layers, head = 0, tail = 0;
	uint32_t *pending = calloc(n ? n : 1, sizeof(uint32_t));
	uint32_t *nsucc = calloc(n + 1, sizeof(uint32_t));
	uint32_t *succ = NULL;
	size_t ne = 0;
	int r = 0;

	if (!pending || !nsucc) {
		r = -ENOMEM;
		goto out;
	}
	/* CSR successor lists. */
	for (size_t v = 0; v < n; v++)
		for (uint32_t k = 0; k < m->layers[v].n_inputs; k++) {
			uint32_t u = m->layers[v].inputs[k];
			if (u != JPS_INPUT) {
				nsucc[u + 1]++;
				pending[v]++;
				ne++;
			}
		}
	for (size_t v = 0; v < n; v++)
		nsucc[v + 1] += nsucc[v];
	succ = malloc((ne ? ne : 1) * sizeof(uint32_t));
	if (!succ) {
		r = -ENOMEM;
		goto out;
	}
	{
		uint32_t *fill = calloc(n ? n : 1, sizeof(uint32_t));
		if (!fill) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t v = 0; v < n; v++)
			for (uint32_t k = 0; k < m->layers[v].n_inputs; k++) {
				uint32_t u = m->layers[v].inputs[k];
				if (u != JPS_INPUT)
					succ[nsucc[u] + fill[u]++] = (uint32_t)v;
			}
		free(fill);
	}
	for (size_t v = 0; v < n; v++)
		if (!pending[v])
			order[tail++] = (uint32_t)v;
	while (head < tail) {
		uint32_t u = order[head++];
		for (uint32_t k = nsucc[u]; k < nsucc[u + 1]; k++)
			if (--pending[succ[k]] == 0)
				order[tail++] = succ[k];
	}
	if (tail < n) {
		for (size_t v = 0; v < n; v++)
			if (pending[v]) {
				if (ret_bad)
					*ret_bad = (uint32_t)v;
				break;
			}
		r = -ELOOP;
	}
out:
	free(pending);
	free(nsucc);
	free(succ);
	return r;
}

int jps_model_validate(const struct jps_model *m, uint32_t *ret_bad_layer)
{
	uint32_t *order;
	int r;

	if (!m)
		return -EINVAL;
	if (m->n_layers == 0 || m->n_layers > JPS_MAX_LAYERS)
		return -EINVAL;
	for (size_t v = 0; v < m->n_layers; v++) {
		const struct jps_layer *l = &m->layers[v];
		if (!isfinite(l->compute_ms) || l->compute_ms < 0) {
			if (ret_bad_layer)
				*ret_bad_layer = (uint32_t)v;
			return -EINVAL;
		}
		for (uint32_t k = 0; k < l->n_inputs; k++)
			if (l->inputs[k] != JPS_INPUT && l->inputs[k] >= m->n_layers) {
				if (ret_bad_layer)
					*ret_bad_layer = (uint32_t)v;
				return -EINVAL;
			}
		for (size_t w = 0; w < v; w++)
			if (strcmp(m->layers[w].name, l->name) == 0) {
				if (ret_bad_layer)
					*ret_bad_layer = (uint32_t)v;
				return -EEXIST;
			}
	}
	order = malloc(m->n_layers * sizeof(uint32_t));
	if (!order)
		return -ENOMEM;
	r = topo_order(m, order, ret_bad_layer);
	free(order);
	return r;
}

/* ---- bandwidth ------------------------------------------------------------------- */

int jps_link_init(struct jps_link *l, uint64_t bytes_per_sec, double rtt_ms)
{
	if (!l || bytes_per_sec == 0 || !isfinite(rtt_ms) || rtt_ms < 0)
		return -EINVAL;
	l->w0_ms = rtt_ms;
	l->bytes_per_ms = (double)bytes_per_sec / 1000.0;
	return 0;
}

double jps_upload_ms(const struct jps_link *l, uint64_t bytes)
{
	return l->w0_ms + (double)bytes / l->bytes_per_ms;
}

/* ---- Alg. 1 ------------------------------------------------------------------------ */

int jps_johnson_cmp(const struct jps_job *a, const struct jps_job *b)
{
	bool ha = a->f < a->g, hb = b->f < b->g; /* comm-heavy */

	if (ha != hb)
		return ha ? -1 : 1;
	if (ha)
		return a->f < b->f ? -1 : a->f > b->f ? 1 : 0;
	return a->g > b->g ? -1 : a->g < b->g ? 1 : 0;
}

int jps_johnson_order(const struct jps_job *jobs, size_t n, size_t *ret_order)
{
	size_t *o;

	if (n && (!jobs || !ret_order))
		return -EINVAL;
	o = malloc((n ? n : 1) * sizeof(size_t));
	if (!o)
		return -ENOMEM;
	/* Insertion-merge sort would do; a stable bottom-up merge sort keeps O(n log n). */
	for (size_t i = 0; i < n; i++)
		o[i] = i;
	{
		size_t *tmp = malloc((n ? n : 1) * sizeof(size_t));
		if (!tmp) {
			free(o);
			return -ENOMEM;
		}
		for (size_t w = 1; w < n; w *= 2) {
			for (size_t lo = 0; lo < n; lo += 2 * w) {
				size_t mid = lo + w < n ? lo + w : n,
				       hi = lo + 2 * w < n ? lo + 2 * w : n;
				size_t i = lo, j = mid, k = lo;
				while (i < mid && j < hi)
					tmp[k++] = jps_johnson_cmp(&jobs[o[j]], &jobs[o[i]]) < 0
						       ? o[j++]
						       : o[i++];
				while (i < mid)
					tmp[k++] = o[i++];
				while (j < hi)
					tmp[k++] = o[j++];
			}
			memcpy(o, tmp, n * sizeof(size_t));
		}
		free(tmp);
	}
	memcpy(ret_order, o, n * sizeof(size_t));
	free(o);
	return 0;
}

double jps_makespan(const struct jps_job *jobs, const size_t *order, size_t n)
{
	double comp = 0, up = 0;

	for (size_t i = 0; i < n; i++) {
		const struct jps_job *j = &jobs[order ? order[i] : i];
		comp += j->f;
		if (j->g > 0)
			up = (comp > up ? comp : up) + j->g;
	}
	return comp > up ? comp : up;
}

/* ---- cut chains -------------------------------------------------------------------- */

typedef uint64_t word_t;
#define WBITS 64u

static bool bit_get(const word_t *s, size_t i)
{
	return (s[i / WBITS] >> (i % WBITS)) & 1u;
}
static void bit_set(word_t *s, size_t i)
{
	s[i / WBITS] |= (word_t)1 << (i % WBITS);
}

static int cut_cmp(const void *pa, const void *pb)
{
	const struct jps_cut *a = pa, *b = pb;
	if (a->f != b->f)
		return a->f < b->f ? -1 : 1;
	if (a->n_local != b->n_local)
		return a->n_local < b->n_local ? -1 : 1;
	if (a->g != b->g)
		return a->g > b->g ? -1 : 1;
	return a->layer < b->layer ? -1 : a->layer > b->layer;
}

/* f, frontier bytes and local count of local set L. */
static void eval_set(const struct jps_model *m, const word_t *L, const struct jps_link *link,
		     struct jps_cut *c)
{
	size_t n = m->n_layers;
	bool upload_input = false;
	uint64_t bytes = 0;
	double f = 0;
	uint32_t nl = 0;
	/* A local layer is on the frontier if any non-local layer reads it. */
	word_t *front = calloc((n + WBITS - 1) / WBITS, sizeof(word_t));

	for (size_t v = 0; v < n; v++) {
		const struct jps_layer *l = &m->layers[v];
		if (bit_get(L, v)) {
			f += l->compute_ms;
			nl++;
			continue;
		}
		for (uint32_t k = 0; k < l->n_inputs; k++) {
			uint32_t u = l->inputs[k];
			if (u == JPS_INPUT)
				upload_input = true;
			else if (bit_get(L, u) && front)
				bit_set(front, u);
		}
	}
	if (front)
		for (size_t v = 0; v < n; v++)
			if (bit_get(front, v))
				bytes += m->layers[v].out_bytes;
	free(front);
	if (upload_input)
		bytes += m->input_bytes;
	c->f = f;
	c->n_local = nl;
	c->bytes = bytes;
	c->g = (nl < n || bytes) ? jps_upload_ms(link, bytes) : 0;
}

int jps_chain_from_model(const struct jps_model *m, const struct jps_link *link,
			 struct jps_chain *ret)
{
	size_t n, words;
	uint32_t *order = NULL;
	word_t *anc = NULL, *all = NULL;
	struct jps_cut *cuts = NULL;
	size_t nc = 0;
	int r;

	if (!m || !link || !ret)
		return -EINVAL;
	r = jps_model_validate(m, NULL);
	if (r < 0)
		return r;
	n = m->n_layers;
	words = (n + WBITS - 1) / WBITS;
	order = malloc(n * sizeof(uint32_t));
	anc = calloc(n * words, sizeof(word_t));
	all = calloc(words, sizeof(word_t));
	cuts = calloc(n + 2, sizeof(*cuts));
	if (!order || !anc || !all || !cuts) {
		r = -ENOMEM;
		goto fail;
	}
	r = topo_order(m, order, NULL);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = order[i];
		word_t *a = &anc[v * words];
		bit_set(a, v);
		bit_set(all, v);
		for (uint32_t k = 0; k < m->layers[v].n_inputs; k++) {
			uint32_t u = m->layers[v].inputs[k];
			if (u == JPS_INPUT)
				continue;
			for (size_t w = 0; w < words; w++)
				a[w] |= anc[u * words + w];
		}
	}
	/* Cloud only: nothing local, upload the input. */
	cuts[nc] = (struct jps_cut){.layer = JPS_CUT_CLOUD};
	{
		word_t *none = calloc(words, sizeof(word_t));
		if (!none) {
			r = -ENOMEM;
			goto fail;
		}
		eval_set(m, none, link, &cuts[nc]);
		free(none);
		/* The cloud always receives the input, even if no layer names it. */
		cuts[nc].bytes = m->input_bytes;
		cuts[nc].g = jps_upload_ms(link, m->input_bytes);
	}
	nc++;
	for (size_t v = 0; v < n; v++) {
		struct jps_cut c = {.layer = (int32_t)v};
		eval_set(m, &anc[v * words], link, &c);
		if (c.n_local == n)
			continue; /* same set as local only */
		cuts[nc++] = c;
	}
	cuts[nc] = (struct jps_cut){.layer = JPS_CUT_LOCAL};
	eval_set(m, all, link, &cuts[nc]);
	cuts[nc].g = 0;
	cuts[nc].bytes = 0;
	nc++;
	qsort(cuts, nc, sizeof(*cuts), cut_cmp);
	/* Drop duplicate local sets (same f, same local count, same frontier): they plan
	 * identically, and a chain with repeats would skew Alg. 2's binary search. */
	{
		size_t w = 0;
		for (size_t i = 0; i < nc; i++) {
			if (w && cuts[w - 1].f == cuts[i].f &&
			    cuts[w - 1].n_local == cuts[i].n_local && cuts[w - 1].g == cuts[i].g &&
			    cuts[i].layer >= 0)
				continue;
			cuts[w++] = cuts[i];
		}
		nc = w;
	}
	free(order);
	free(anc);
	free(all);
	ret->n = nc;
	ret->cuts = cuts;
	return 0;
fail:
	free(order);
	free(anc);
	free(all);
	free(cuts);
	return r;
}

int jps_chain_from_arrays(const double *f, const double *g, size_t n, struct jps_chain *ret)
{
	struct jps_cut *cuts;

	if (!f || !g || !ret || n == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(f[i]) || !isfinite(g[i]) || f[i] < 0 || g[i] < 0)
			return -EINVAL;
	cuts = calloc(n, sizeof(*cuts));
	if (!cuts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		cuts[i] = (struct jps_cut){.f = f[i], .g = g[i], .layer = (int32_t)i};
	ret->n = n;
	ret->cuts = cuts;
	return 0;
}

void jps_chain_done(struct jps_chain *c)
{
	if (!c)
		return;
	free(c->cuts);
	c->cuts = NULL;
	c->n = 0;
}

/* ---- Alg. 2 ------------------------------------------------------------------------- */

int jps_alg2(const struct jps_chain *c, struct jps_bsearch *ret)
{
	size_t l = 1, r;
	const struct jps_cut *x;
	double num, den, q;

	if (!c || !ret || c->n == 0)
		return -EINVAL;
	x = c->cuts;
	if (c->n == 1) {
		*ret = (struct jps_bsearch){0, 0, 0};
		return 0;
	}
	r = c->n - 1;
	while (l < r) {
		size_t mid = l + (r - l) / 2;
		if (x[mid].f < x[mid].g)
			l = mid + 1;
		else
			r = mid;
	}
	if (x[l].f < x[l].g) { /* comm-heavy everywhere: no crossing, cut as late as possible */
		*ret = (struct jps_bsearch){l, l, 0};
		return 0;
	}
	num = x[l].f - x[l].g;
	den = x[l - 1].g - x[l - 1].f;
	if (num <= 0 || den <= 0) {
		*ret = (struct jps_bsearch){l - 1, l, 0};
		return 0;
	}
	q = floor(num / den);
	*ret = (struct jps_bsearch){l - 1, l,
				    q >= (double)JPS_RATIO_MAX ? JPS_RATIO_MAX : (uint32_t)q};
	return 0;
}

size_t jps_ratio_split(uint32_t ratio, size_t n)
{
	return (size_t)(((unsigned __int128)n * ratio) / ((unsigned __int128)ratio + 1));
}

/* Makespan of blocks of identical jobs run in the given block order: the flow-shop
 * identity C = max_i (F_i + G_{i..n}) is linear inside a block, so only its first and
 * last job can attain the maximum. */
struct block {
	double f, g;
	size_t count;
};

static double blocks_makespan(const struct block *b, size_t nb)
{
	double after = 0, before = 0, best = 0;

	for (size_t i = 0; i < nb; i++)
		after += b[i].g * (double)b[i].count;
	for (size_t i = 0; i < nb; i++) {
		double c = (double)b[i].count;
		if (!b[i].count)
			continue;
		after -= b[i].g * c;
		double t1 = before + b[i].f + c * b[i].g + after;
		double tc = before + c * b[i].f + b[i].g + after;
		if (b[i].g == 0) /* a local job uploads nothing: only compute counts */
			t1 = tc = before + c * b[i].f + after;
		if (t1 > best)
			best = t1;
		if (tc > best)
			best = tc;
		before += c * b[i].f;
	}
	return before > best ? before : best;
}

double jps_mix_makespan(const struct jps_cut *a, size_t n_a, const struct jps_cut *b, size_t n_b)
{
	struct jps_job ja = {a->f, a->g}, jb = {b->f, b->g};
	struct block bl[2];

	if (jps_johnson_cmp(&jb, &ja) < 0) {
		bl[0] = (struct block){b->f, b->g, n_b};
		bl[1] = (struct block){a->f, a->g, n_a};
	} else {
		bl[0] = (struct block){a->f, a->g, n_a};
		bl[1] = (struct block){b->f, b->g, n_b};
	}
	return blocks_makespan(bl, 2);
}

void jps_plan_done(struct jps_plan *p)
{
	if (!p)
		return;
	free(p->order);
	p->order = NULL;
}

int jps_plan_homogeneous(const struct jps_chain *c, size_t n_jobs, struct jps_plan *ret)
{
	return jps_plan_homogeneous_ex(c, n_jobs, JPS_PAIR_BUDGET, JPS_EXACT_BUDGET, ret);
}

/* Exact search state: cut indices in Johnson order, so any multiset's Johnson order is
 * its counts read in this order. */
struct exact {
	const struct jps_chain *c;
	struct block *bl;
	size_t *cnt, *best_cnt;
	double best;
};

static void exact_rec(struct exact *x, size_t i, size_t left)
{
	size_t k = x->c->n;
	if (i == k - 1) {
		x->cnt[i] = left;
		for (size_t q = 0; q < k; q++)
			x->bl[q].count = x->cnt[q];
		double t = blocks_makespan(x->bl, k);
		if (t < x->best - 1e-12) {
			x->best = t;
			memcpy(x->best_cnt, x->cnt, k * sizeof(size_t));
		}
		return;
	}
	for (size_t m = 0; m <= left; m++) {
		x->cnt[i] = m;
		exact_rec(x, i + 1, left - m);
	}
}

/* Number of multisets of n jobs over k cuts, C(n + k - 1, k - 1), as a double. */
static double multisets(size_t k, size_t n)
{
	double r = 1;
	for (size_t i = 1; i < k && r < 1e300; i++)
		r = r * (double)(n + i) / (double)i;
	return r;
}

int jps_plan_homogeneous_ex(const struct jps_chain *c, size_t n_jobs, double pair_budget,
			    double exact_budget, struct jps_plan *ret)
{
	struct jps_bsearch bs;
	struct jps_chain pc = {0};
	size_t n_lo, k, *pi = NULL, np = 0;
	double best, gmin = INFINITY;
	size_t *order = NULL, *cnt = NULL, *jord = NULL;
	struct jps_job *cj = NULL;
	const char *method;
	int r;

	if (!c || !ret || c->n == 0 || n_jobs == 0)
		return -EINVAL;
	k = c->n;
	order = malloc(n_jobs * sizeof(size_t));
	cnt = calloc(k, sizeof(size_t));
	pi = calloc(k, sizeof(size_t));
	pc.cuts = calloc(k, sizeof(*pc.cuts));
	if (!order || !cnt || !pi || !pc.cuts) {
		r = -ENOMEM;
		goto fail;
	}
	/* The Pareto front of (f, g): a cut with both more compute and more upload than
	 * another never helps (the flow-shop makespan is monotone in every stage time), and
	 * on the front f rises while g falls, which is what Alg. 2 assumes. */
	for (size_t i = 0; i < k; i++)
		if (c->cuts[i].g < gmin) {
			gmin = c->cuts[i].g;
			pi[np] = i;
			pc.cuts[np++] = c->cuts[i];
		}
	pc.n = np;
	r = jps_alg2(&pc, &bs);
	if (r < 0)
		goto fail;
	bs.lo = pi[bs.lo];
	bs.hi = pi[bs.hi];
	n_lo = jps_ratio_split(bs.ratio, n_jobs);
	const struct jps_cut *lo = &c->cuts[bs.lo], *hi = &c->cuts[bs.hi];
	double paper = jps_mix_makespan(lo, n_lo, hi, n_jobs - n_lo);
#define TAKE(t, a, na, b, nb, how)                                                                 \
	do {                                                                                       \
		memset(cnt, 0, k * sizeof(size_t));                                                \
		cnt[a] += (na);                                                                    \
		cnt[b] += (nb);                                                                    \
		best = (t);                                                                        \
		method = (how);                                                                    \
	} while (0)
	TAKE(paper, bs.lo, n_lo, bs.hi, n_jobs - n_lo, "alg2-ratio");
	for (size_t m = 0; m <= n_jobs; m++) {
		double t = jps_mix_makespan(lo, m, hi, n_jobs - m);
		if (t < best)
			TAKE(t, bs.lo, m, bs.hi, n_jobs - m, "alg2-mix");
	}
	for (size_t i = 0; i < k; i++) {
		double t = jps_mix_makespan(&c->cuts[i], n_jobs, &c->cuts[i], 0);
		if (t < best)
			TAKE(t, i, n_jobs, i, 0, "uniform");
	}
	/* Beyond the paper: every pair of front cuts with every split, while that stays
	 * cheap, since the best pair need not straddle the crossing. */
	if ((double)np * (double)np * (double)(n_jobs + 1) <= pair_budget)
		for (size_t i = 0; i < np; i++)
			for (size_t j = i + 1; j < np; j++)
				for (size_t m = 1; m < n_jobs; m++) {
					double t = jps_mix_makespan(&c->cuts[pi[i]], m,
								    &c->cuts[pi[j]], n_jobs - m);
					if (t < best)
						TAKE(t, pi[i], m, pi[j], n_jobs - m, "pair-mix");
				}
#undef TAKE
	jord = calloc(np, sizeof(size_t));
	cj = calloc(np, sizeof(*cj));
	if (!jord || !cj) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < np; i++)
		cj[i] = (struct jps_job){pc.cuts[i].f, pc.cuts[i].g};
	r = jps_johnson_order(cj, np, jord);
	if (r < 0)
		goto fail;
	/* Small instances: every multiset of front cuts, each in Johnson order (optimal for
	 * a fixed multiset), i.e. the brute-force optimum at a fraction of its cost. */
	if (multisets(np, n_jobs) * (double)np <= exact_budget) {
		struct exact x = {.c = &pc, .best = best};
		x.bl = calloc(np, sizeof(*x.bl));
		x.cnt = calloc(np, sizeof(size_t));
		x.best_cnt = calloc(np, sizeof(size_t));
		if (!x.bl || !x.cnt || !x.best_cnt) {
			free(x.bl), free(x.cnt), free(x.best_cnt);
			r = -ENOMEM;
			goto fail;
		}
		for (size_t q = 0; q < np; q++)
			x.bl[q] = (struct block){pc.cuts[jord[q]].f, pc.cuts[jord[q]].g, 0};
		exact_rec(&x, 0, n_jobs);
		if (x.best < best) {
			best = x.best;
			method = "exact";
			memset(cnt, 0, k * sizeof(size_t));
			for (size_t q = 0; q < np; q++)
				cnt[pi[jord[q]]] = x.best_cnt[q];
		}
		free(x.bl), free(x.cnt), free(x.best_cnt);
	}
	/* Processing order: the chosen multiset in Johnson order (stable over cut index). */
	{
		size_t p = 0, *all = calloc(k, sizeof(size_t));
		struct jps_job *aj = calloc(k, sizeof(*aj));
		if (!all || !aj) {
			free(all);
			free(aj);
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < k; i++)
			aj[i] = (struct jps_job){c->cuts[i].f, c->cuts[i].g};
		r = jps_johnson_order(aj, k, all);
		if (r == 0)
			for (size_t q = 0; q < k; q++)
				for (size_t i = 0; i < cnt[all[q]]; i++)
					order[p++] = all[q];
		free(all);
		free(aj);
		if (r < 0)
			goto fail;
	}
	free(cnt);
	free(jord);
	free(cj);
	free(pi);
	free(pc.cuts);
	*ret = (struct jps_plan){.n_jobs = n_jobs,
				 .order = order,
				 .makespan = best,
				 .alg2 = bs,
				 .paper_makespan = paper,
				 .method = method};
	return 0;
fail:
	free(order);
	free(cnt);
	free(jord);
	free(cj);
	free(pi);
	free(pc.cuts);
	return r;
}

double jps_local_only(const struct jps_chain *c, size_t n_jobs)
{
	const struct jps_cut *l = &c->cuts[c->n - 1];
	return jps_mix_makespan(l, n_jobs, l, 0);
}

double jps_cloud_only(const struct jps_chain *c, size_t n_jobs)
{
	return jps_mix_makespan(&c->cuts[0], n_jobs, &c->cuts[0], 0);
}

double jps_partition_only(const struct jps_chain *c, size_t n_jobs, size_t *ret_cut)
{
	size_t best = 0;
	for (size_t i = 1; i < c->n; i++)
		if (c->cuts[i].f + c->cuts[i].g < c->cuts[best].f + c->cuts[best].g)
			best = i;
	if (ret_cut)
		*ret_cut = best;
	return jps_mix_makespan(&c->cuts[best], n_jobs, &c->cuts[best], 0);
}

/* ---- brute force ------------------------------------------------------------------ */

/* Minimum makespan over all permutations of jobs[0..n) (Heap's algorithm). */
static double all_orders(struct jps_job *jobs, size_t n)
{
	size_t c[16] = {0}, i = 1;
	double best = jps_makespan(jobs, NULL, n);

	while (i < n) {
		if (c[i] < i) {
			size_t k = (i % 2) ? c[i] : 0;
			struct jps_job t = jobs[k];
			jobs[k] = jobs[i];
			jobs[i] = t;
			double m = jps_makespan(jobs, NULL, n);
			if (m < best)
				best = m;
			c[i]++;
			i = 1;
		} else {
			c[i] = 0;
			i++;
		}
	}
	return best;
}

int jps_brute_force_order(const struct jps_job *jobs, size_t n, double *ret_makespan)
{
	struct jps_job tmp[10];

	if (!ret_makespan || n > 10 || (n && !jobs))
		return -EINVAL;
	memcpy(tmp, jobs, n * sizeof(*jobs));
	*ret_makespan = all_orders(tmp, n);
	return 0;
}

int jps_brute_force(const struct jps_chain *c, size_t n_jobs, uint64_t max_evals,
		    double *ret_makespan)
{
	size_t idx[8];
	struct jps_job jobs[8];
	double best = INFINITY, fact = 1, multisets = 1;

	if (!c || !ret_makespan || c->n == 0 || n_jobs == 0 || n_jobs > 8)
		return -EINVAL;
	for (size_t i = 1; i <= n_jobs; i++) {
		fact *= (double)i;
		multisets = multisets * (double)(c->n - 1 + i) / (double)i;
	}
	if (fact * multisets > (double)max_evals)
		return -E2BIG;
	for (size_t i = 0; i < n_jobs; i++)
		idx[i] = 0;
	for (;;) {
		for (size_t i = 0; i < n_jobs; i++)
			jobs[i] = (struct jps_job){c->cuts[idx[i]].f, c->cuts[idx[i]].g};
		double m = all_orders(jobs, n_jobs);
		if (m < best)
			best = m;
		/* next non-decreasing sequence */
		size_t p = n_jobs;
		while (p > 0 && idx[p - 1] == c->n - 1)
			p--;
		if (p == 0)
			break;
		idx[p - 1]++;
		for (size_t q = p; q < n_jobs; q++)
			idx[q] = idx[p - 1];
	}
	*ret_makespan = best;
	return 0;
}

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

int jps_plan_hetero(const struct jps_model *const *models, const struct jps_chain *chains,
		    const size_t *n_jobs, size_t n_models, struct jps_hetero_plan *ret)
{
	struct jps_hetero_plan p = {0};
	struct jps_graph gr = {0};
	struct jps_job *jw = NULL;
	size_t *jorder = NULL, *lorder = NULL, cap_nodes = 0, cap_edges = 0, *first = NULL;
	bool *keep = NULL;
	uint32_t *node_of = NULL;
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
		const struct jps_model *m = models[p.jobs[j].model];
		const struct jps_chain *ch = &chains[p.jobs[j].model];
		const struct jps_cut *c = &ch->cuts[p.jobs[j].cut];
		size_t n = m->n_layers;
		bool input_up = false;

		free(keep);
		free(node_of);
		keep = calloc(n, sizeof(*keep));
		node_of = calloc(2 * n, sizeof(*node_of));
		if (!keep || !node_of) {
			r = -ENOMEM;
			goto out;
		}
		if (c->layer == JPS_CUT_LOCAL)
			memset(keep, 1, n * sizeof(*keep));
		else if (c->layer >= 0)
			mark_ancestors(m, (uint32_t)c->layer, keep);
		first[j] = gr.n;
		/* The chain knows only g = w0 + bytes / b for the whole cut, so each uploaded
		 * tensor carries g in proportion to its bytes; the sum is the cut's g. */
		double per_byte = (c->bytes && c->g > 0) ? c->g / (double)c->bytes : 0;
		uint32_t *topo = node_of + n;
		r = topo_order(m, topo, NULL);
		if (r < 0)
			goto out;
		for (size_t t = 0; t < n; t++) {
			uint32_t v = topo[t];
			if (!keep[v])
				continue;
			node_of[v] = (uint32_t)gr.n;
			p.node_job[gr.n] = (uint32_t)j;
			p.node_layer[gr.n] = (int32_t)v;
			gr.w[gr.n++] = (struct jps_job){m->layers[v].compute_ms, 0};
		}
		for (size_t v = 0; v < n; v++) {
			for (uint32_t k = 0; k < m->layers[v].n_inputs; k++) {
				uint32_t u = m->layers[v].inputs[k];
				if (keep[v] && u != JPS_INPUT && keep[u]) {
					gr.edges[gr.n_edges][0] = node_of[u];
					gr.edges[gr.n_edges][1] = node_of[v];
					gr.n_edges++;
				} else if (!keep[v] && u == JPS_INPUT) {
					input_up = true;
				} else if (!keep[v] && keep[u]) {
					/* frontier tensor, charged once */
					struct jps_job *w = &gr.w[node_of[u]];
					if (w->g == 0)
						w->g = per_byte * (double)m->layers[u].out_bytes;
				}
			}
		}
		if (c->layer == JPS_CUT_CLOUD)
			input_up = true;
		if (input_up) {
			/* The input upload is a node of its own with no compute. */
			p.node_job[gr.n] = (uint32_t)j;
			p.node_layer[gr.n] = -1;
			gr.w[gr.n++] = (struct jps_job){0, c->layer == JPS_CUT_CLOUD
							       ? c->g
							       : per_byte * (double)m->input_bytes};
		}
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
	free(keep);
	free(node_of);
	return r;
}
