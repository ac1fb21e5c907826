/* distill_features.c — features of a tuning record computed from its transform steps and
 * workload shape (no TVM needed), the loop nest view of a record, and the synthetic cost model. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "distill.h"

#include <errno.h>
#include <math.h>
#include <string.h>

static const char *const feat_names[DISTILL_N_FEATURES] = {
    "n_steps", "n_sp",	   "n_re",	"n_fu",	     "n_an",	   "n_location", "n_cache",
    "unroll",  "parallel", "vectorize", "work",	     "n_shape",	   "inner_prod", "inner_max",
    "tile",    "outer",	   "levels",	"order_sig", "inversions", "stage_sp",	 "footprint",
};

const char *distill_feature_name(size_t col)
{
	return col < DISTILL_N_FEATURES ? feat_names[col] : NULL;
}

static double lg(double v)
{
	return log2(1.0 + (v > 0 ? v : 0));
}

static int64_t prod_len(const struct distill_step *s)
{
	int64_t p = 1;
	for (int32_t i = 0; i < s->n_len && i < DISTILL_MAX_LEN; i++)
		if (s->len[i] > 0 && p < (INT64_C(1) << 40))
			p *= s->len[i];
	return p;
}

/* Lehmer code of a permutation of n <= 3 distinct keys, normalized to [0, 1]. */
static double perm_sig(const int *perm, size_t n)
{
	static const int fact[] = {1, 1, 2, 6};
	if (n < 2)
		return 0;
	int code = 0;
	for (size_t i = 0; i < n; i++) {
		int smaller = 0;
		for (size_t j = i + 1; j < n; j++)
			smaller += perm[j] < perm[i];
		code += smaller * fact[n - 1 - i];
	}
	return (double)code / (fact[n] - 1);
}

/* Where iterator `it` of the stage appears in its last reorder, or -1. */
static int order_pos(const struct distill_step *re, int32_t it)
{
	if (!re)
		return -1;
	for (int32_t k = 0; k < re->n_order && k < DISTILL_MAX_ORDER; k++)
		if (re->order[k] == it)
			return k;
	return -1;
}

struct stage_view {
	const struct distill_step *sp[DISTILL_NEST_AXES];
	size_t n_sp;	 /* split steps on the stage with extent > 1, first DISTILL_NEST_AXES */
	size_t n_sp_all; /* all split steps on the stage */
	const struct distill_step *re;
};

static void view_stage(const struct distill_step *steps, size_t n, int32_t stage,
		       struct stage_view *v)
{
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		const struct distill_step *s = &steps[i];
		if (s->stage != stage)
			continue;
		if (s->kind == DISTILL_STEP_SP) {
			v->n_sp_all++;
			if (s->extent != 1 && v->n_sp < DISTILL_NEST_AXES)
				v->sp[v->n_sp++] = s;
		} else if (s->kind == DISTILL_STEP_RE)
			v->re = s;
	}
}

/* Axis order of the outermost loops: axes sorted by where their level-0 iterator appears. */
static void axis_order(const struct stage_view *v, int *order)
{
	int pos[DISTILL_NEST_AXES];
	for (size_t a = 0; a < v->n_sp; a++) {
		int p = order_pos(v->re, v->sp[a]->iter);
		pos[a] = p < 0 ? 1000 + (int)a : p;
		order[a] = (int)a;
	}
	for (size_t i = 1; i < v->n_sp; i++)
		for (size_t j = i; j > 0 && pos[order[j]] < pos[order[j - 1]]; j--) {
			int t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
}

static int32_t busiest_stage(const struct distill_step *steps, size_t n)
{
	int32_t best = -1;
	size_t best_n = 0;
	for (size_t i = 0; i < n; i++) {
		if (steps[i].kind != DISTILL_STEP_SP)
			continue;
		size_t c = 0;
		for (size_t j = 0; j < n; j++)
			c += steps[j].kind == DISTILL_STEP_SP && steps[j].stage == steps[i].stage;
		if (c > best_n) {
			best_n = c;
			best = steps[i].stage;
		}
	}
	return best;
}

int distill_nest(const struct distill_step *steps, size_t n_steps, struct distill_nest *ret)
{
	if (!ret || (n_steps && !steps))
		return -EINVAL;
	struct distill_nest nest = {.unroll = 0, .parallel = 1, .vectorize = 1};
	struct stage_view v;
	int32_t stage = busiest_stage(steps, n_steps);
	if (stage < 0)
		return -ENOENT;
	view_stage(steps, n_steps, stage, &v);
	if (v.n_sp == 0)
		return -ENOENT;

	nest.n_axes = v.n_sp;
	for (size_t a = 0; a < v.n_sp; a++) {
		const struct distill_step *s = v.sp[a];
		int64_t tile = prod_len(s), ext = s->extent > 0 ? s->extent : tile;
		if (tile > ext)
			tile = ext;
		nest.extent[a] = ext;
		nest.tile[a] = tile;
		nest.inner[a] = s->n_len > 0 && s->len[s->n_len - 1] > 0 ? s->len[s->n_len - 1] : 1;
		if (nest.inner[a] > tile)
			nest.inner[a] = tile;
	}
	axis_order(&v, nest.order);

	bool par = false, vec = false;
	for (size_t i = 0; i < n_steps; i++) {
		const struct distill_step *s = &steps[i];
		if (s->kind == DISTILL_STEP_PR && s->unroll > nest.unroll)
			nest.unroll = s->unroll;
		if (s->kind == DISTILL_STEP_AN && s->annotation == DISTILL_AN_PARALLEL)
			par = true;
		if (s->kind == DISTILL_STEP_AN && s->annotation == DISTILL_AN_VECTORIZE)
			vec = true;
	}
	if (par) {
		/* Fusing the two outermost loops before parallelizing is what multi-level tiling
		 * does; without a fuse only the outermost loop is parallel. */
		bool fused = false;
		for (size_t i = 0; i < n_steps; i++)
			if (steps[i].kind == DISTILL_STEP_FU && steps[i].n_len >= 2)
				fused = true;
		size_t k = fused && nest.n_axes >= 2 ? 2 : 1;
		for (size_t j = 0; j < k; j++) {
			int a = nest.order[j];
			nest.parallel *= nest.extent[a] / (nest.tile[a] ? nest.tile[a] : 1);
		}
		if (nest.parallel < 1)
			nest.parallel = 1;
	}
	if (vec)
		nest.vectorize = nest.inner[nest.n_axes >= 2 ? 1 : 0];
	*ret = nest;
	return 0;
}

size_t distill_features(const struct distill_step *steps, size_t n_steps, const int64_t *shape,
			size_t n_shape, float rows[][DISTILL_N_FEATURES])
{
	float rec[DISTILL_N_FEATURES] = {0};
	int32_t stages[DISTILL_MAX_ROWS];
	size_t n_stages = 0;
	int64_t unroll = 0;

	rec[DISTILL_FEAT_N_STEPS] = (float)n_steps;
	for (size_t i = 0; i < n_steps; i++) {
		const struct distill_step *s = &steps[i];
		switch (s->kind) {
		case DISTILL_STEP_SP:
			rec[DISTILL_FEAT_N_SP]++;
			break;
		case DISTILL_STEP_RE:
			rec[DISTILL_FEAT_N_RE]++;
			break;
		case DISTILL_STEP_FU:
			rec[DISTILL_FEAT_N_FU]++;
			break;
		case DISTILL_STEP_AN:
			rec[DISTILL_FEAT_N_AN]++;
			break;
		case DISTILL_STEP_CA:
		case DISTILL_STEP_CI:
		case DISTILL_STEP_CR:
			rec[DISTILL_FEAT_N_LOCATION]++;
			break;
		case DISTILL_STEP_CHR:
		case DISTILL_STEP_CHW:
		case DISTILL_STEP_RF:
			rec[DISTILL_FEAT_N_CACHE]++;
			break;
		case DISTILL_STEP_PR:
			if (s->unroll > unroll)
				unroll = s->unroll;
			break;
		default:
			break;
		}
		if (s->kind == DISTILL_STEP_SP) {
			bool seen = false;
			for (size_t k = 0; k < n_stages; k++)
				seen |= stages[k] == s->stage;
			if (!seen && n_stages < DISTILL_MAX_ROWS)
				stages[n_stages++] = s->stage;
		}
	}
	rec[DISTILL_FEAT_UNROLL] = (float)lg((double)unroll);
	struct distill_nest nest;
	if (distill_nest(steps, n_steps, &nest) == 0) {
		rec[DISTILL_FEAT_PARALLEL] = (float)lg((double)nest.parallel);
		rec[DISTILL_FEAT_VECTORIZE] = (float)lg((double)nest.vectorize);
	}
	double work = 1;
	for (size_t i = 0; i < n_shape; i++)
		if (shape[i] > 0 && work < 1e30)
			work *= (double)shape[i];
	rec[DISTILL_FEAT_WORK] = (float)lg(work);
	rec[DISTILL_FEAT_N_SHAPE] = (float)n_shape;

	size_t n_rows = n_stages ? n_stages : 1;
	for (size_t r = 0; r < n_rows; r++) {
		memcpy(rows[r], rec, sizeof(rec));
		if (!n_stages)
			continue;
		struct stage_view v;
		view_stage(steps, n_steps, stages[r], &v);
		double inner_prod = 1, inner_max = 1, tile = 1, outer = 1;
		int32_t levels = 0;
		double tiles[DISTILL_NEST_AXES], foot = 0;
		for (size_t a = 0; a < v.n_sp; a++) {
			const struct distill_step *s = v.sp[a];
			double in = s->n_len > 0 ? (double)s->len[s->n_len - 1] : 1;
			double t = (double)prod_len(s);
			inner_prod *= in > 0 ? in : 1;
			inner_max = fmax(inner_max, in);
			tile *= t;
			tiles[a] = t;
			outer *= s->extent > 0 ? fmax(1.0, (double)s->extent / t) : 1;
			if (s->n_len + 1 > levels)
				levels = s->n_len + 1;
		}
		for (size_t a = 0; a < v.n_sp; a++)
			for (size_t b = a + 1; b < v.n_sp; b++)
				foot += tiles[a] * tiles[b];
		if (v.n_sp == 1)
			foot = tiles[0];
		int ord[DISTILL_NEST_AXES];
		axis_order(&v, ord);
		double inv = 0;
		if (v.re && v.re->n_order > 1) {
			int32_t m =
			    v.re->n_order < DISTILL_MAX_ORDER ? v.re->n_order : DISTILL_MAX_ORDER;
			size_t c = 0;
			for (int32_t i = 0; i < m; i++)
				for (int32_t j = i + 1; j < m; j++)
					c += v.re->order[i] > v.re->order[j];
			inv = (double)c / ((double)m * (m - 1) / 2);
		}
		rows[r][DISTILL_FEAT_INNER_PROD] = (float)log2(inner_prod);
		rows[r][DISTILL_FEAT_INNER_MAX] = (float)log2(inner_max);
		rows[r][DISTILL_FEAT_TILE] = (float)log2(tile);
		rows[r][DISTILL_FEAT_OUTER] = (float)log2(outer);
		rows[r][DISTILL_FEAT_LEVELS] = (float)levels;
		rows[r][DISTILL_FEAT_ORDER_SIG] = (float)perm_sig(ord, v.n_sp);
		rows[r][DISTILL_FEAT_INVERSIONS] = (float)inv;
		rows[r][DISTILL_FEAT_STAGE_SP] = (float)v.n_sp_all;
		rows[r][DISTILL_FEAT_FOOTPRINT] = (float)lg(foot);
	}
	return n_rows;
}

/* --- synthetic model -------------------------------------------------------------------- */

void distill_device_cloud(struct distill_device *ret)
{
	*ret = (struct distill_device){.cache_bytes = 1024.0 * 1024,
				       .cores = 8,
				       .vector = 8,
				       .gflops = 8,
				       .noise_seed = 0xc10d,
				       .noise = 0.03};
}

void distill_device_edge(struct distill_device *ret)
{
	*ret = (struct distill_device){.cache_bytes = 32.0 * 1024,
				       .cores = 4,
				       .vector = 4,
				       .gflops = 2,
				       .noise_seed = 0xed9e,
				       .noise = 0.03};
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

int distill_model_cost(const struct distill_device *d, const struct distill_step *steps,
		       size_t n_steps, const int64_t *shape, size_t n_shape, double *ret)
{
	struct distill_nest n;
	int r = distill_nest(steps, n_steps, &n);
	if (r < 0)
		return r;
	if (n.n_axes < 3)
		return -ENOENT;
	double M = (double)n.extent[0], N = (double)n.extent[1], K = (double)n.extent[2];
	double tm = (double)n.tile[0], tn = (double)n.tile[1], tk = (double)n.tile[2];
	double flops = 2 * M * N * K;

	/* Compute: cores used by the parallel loop, vector lanes used by the innermost loop, a
	 * small unroll effect (none is worst, very deep unrolling thrashes the i-cache a bit). */
	double cores = fmin(d->cores, (double)n.parallel);
	if (n.parallel > d->cores)
		/* Uneven chunks leave cores idle in the last round. */
		cores = d->cores * ((double)n.parallel / d->cores) /
			ceil((double)n.parallel / d->cores);
	double lanes = fmin(d->vector, (double)n.vectorize);
	double vec_eff = 0.5 + 0.5 * lanes / d->vector;
	double unroll = n.unroll == 0 ? 1.15 : n.unroll <= 16 ? 1.0 : n.unroll <= 64 ? 0.97 : 1.03;
	if (d->unroll_kind == 1)
		unroll = n.unroll == 0 ? 1.10 : n.unroll <= 16 ? 1.0 : n.unroll <= 64 ? 1.04 : 1.20;
	double t_compute = flops / (d->gflops * 1e9 * cores * vec_eff) * unroll;
	if (d->regs > 0) {
		/* Register micro-kernel: the innermost i x j tile of accumulators. Past the
		 * register file it spills; far below it, loads are not amortised. */
		double micro = (double)n.inner[0] * (double)n.inner[1];
		if (micro > d->regs)
			t_compute *= 1 + 0.6 * log2(micro / d->regs);
		else if (4 * micro < d->regs)
			t_compute *= 1 + 0.3 * log2(d->regs / (4 * micro));
	}

	/* Memory: A and B are streamed once per tile of the other operand; past the cache the
	 * effective bandwidth collapses with the overflow (the paper's cloud-tuned, big-tile
	 * records that "read too much data at a time"). */
	double footprint = 4 * (tm * tk + tk * tn + tm * tn);
	double bytes = 4 * M * N * K * (1 / tn + 1 / tm) + 4 * M * N;
	double bw = d->gflops * 1e9 * d->cores * 0.6; /* bytes/s from cache, scaled with the chip */
	double pen = d->mem_penalty > 0 ? d->mem_penalty : 3;
	if (d->l2_bytes > 0) {
		/* Two levels: past the first cache the next one serves at a moderate loss, past
		 * the second memory does. */
		if (footprint > d->cache_bytes)
			bw /= 1 + 0.5 * pen * log2(fmin(footprint, d->l2_bytes) / d->cache_bytes);
		if (footprint > d->l2_bytes)
			bw /= 1 + pen * log2(footprint / d->l2_bytes);
	} else if (footprint > d->cache_bytes) {
		bw /= 1 + pen * log2(footprint / d->cache_bytes);
	}
	if (n.order[0] == 2)
		bytes *= 1.3; /* reduction outermost: C is re-read for every k tile */
	double t_mem = bytes / bw;

	uint64_t h = d->noise_seed;
	for (size_t a = 0; a < n.n_axes; a++) {
		h = mix(h, (uint64_t)n.tile[a]);
		h = mix(h, (uint64_t)n.inner[a]);
		h = mix(h, (uint64_t)n.order[a]);
	}
	h = mix(h, (uint64_t)n.unroll);
	h = mix(h, (uint64_t)n.parallel);
	h = mix(h, (uint64_t)n.vectorize);
	for (size_t i = 0; i < n_shape; i++)
		h = mix(h, (uint64_t)shape[i]);
	double u = (double)(h >> 11) * 0x1.0p-53;
	double cost = (t_compute + t_mem) * (1 + d->noise * (2 * u - 1));
	if (!(cost > 0) || !isfinite(cost))
		return -ERANGE;
	*ret = cost;
	return 0;
}
