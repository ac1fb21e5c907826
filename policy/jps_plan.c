/* jps_plan.c — JPS plans for identical jobs: blocks of jobs per cut, the exact homogeneous
 * plan, the local/cloud/partition baselines and brute force (ALGORITHMS.md §2). Pure. */
#include "jps_internal.h"

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

bool jps_plan_name_valid(const char *plan)
{
	return !strcmp(plan, "lo") || !strcmp(plan, "co") || !strcmp(plan, "po") ||
	       !strcmp(plan, "jps");
}

int jps_plan_cuts(const struct jps_chain *c, const char *plan, size_t n_jobs, int32_t *cuts,
		  double *ret_makespan)
{
	double predicted;
	size_t ci = 0;

	if (!jps_plan_name_valid(plan))
		return -EINVAL;
	if (!strcmp(plan, "jps")) {
		struct jps_plan p;
		int r = jps_plan_homogeneous(c, n_jobs, &p);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n_jobs; i++)
			cuts[i] = c->cuts[p.order[i]].layer;
		*ret_makespan = p.makespan;
		jps_plan_done(&p);
		return 0;
	}
	if (!strcmp(plan, "lo"))
		ci = c->n - 1, predicted = jps_local_only(c, n_jobs);
	else if (!strcmp(plan, "co"))
		ci = 0, predicted = jps_cloud_only(c, n_jobs);
	else
		predicted = jps_partition_only(c, n_jobs, &ci);
	for (size_t i = 0; i < n_jobs; i++)
		cuts[i] = c->cuts[ci].layer;
	*ret_makespan = predicted;
	return 0;
}
