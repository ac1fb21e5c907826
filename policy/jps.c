/* jps.c — the JPS planner: profiles, bandwidth model, Johnson's rule, Alg. 2-5, baselines
 * and brute force (ALGORITHMS.md §2). Pure: no I/O, no globals, no clocks. */
#include "jps_internal.h"

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
int jps_topo_order(const struct jps_model *m, uint32_t *order, uint32_t *ret_bad)
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
	r = jps_topo_order(m, order, ret_bad_layer);
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
	r = jps_topo_order(m, order, NULL);
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
