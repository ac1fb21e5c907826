/* distill_cold.c — the pure part of Trimmer's cold-candidate filter: leaf-embedding cosine, LOESS
 * cold marks, the k-nearest query and the epsilon schedule (policy/distill_cold.h). */
#include "distill_cold.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

double distill_leaf_cosine(const int32_t *a, const int32_t *b, size_t trees)
{
	if (trees == 0)
		return 0;
	size_t same = 0;
	for (size_t t = 0; t < trees; t++)
		same += a[t] == b[t];
	return (double)same / (double)trees;
}

/* Local linear fit at x0 over the finite points xs[lo..hi] (log costs ys) with tricube weights
 * scaled by the largest distance in the window. */
static double loess_at(const double *xs, const double *ys, size_t lo, size_t hi, double x0)
{
	double dmax = 0;
	for (size_t j = lo; j <= hi; j++)
		dmax = fmax(dmax, fabs(xs[j] - x0));
	dmax = dmax > 0 ? dmax * 1.0001 : 1; /* the farthest point keeps a small weight */
	double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
	for (size_t j = lo; j <= hi; j++) {
		double u = fabs(xs[j] - x0) / dmax, w = 1 - u * u * u;
		w = w * w * w;
		sw += w;
		sx += w * xs[j];
		sy += w * ys[j];
		sxx += w * xs[j] * xs[j];
		sxy += w * xs[j] * ys[j];
	}
	double mx = sx / sw, my = sy / sw, vxx = sxx / sw - mx * mx;
	if (vxx <= 1e-12)
		return my;
	double slope = (sxy / sw - mx * my) / vxx;
	return my + slope * (x0 - mx);
}

int distill_cold_marks(const double *cost, size_t n, double span, bool *ret_cold, double *ret_trend)
{
	if (!(span > 0 && span <= 1) || (n && (!cost || !ret_cold)))
		return -EINVAL;
	size_t nf = 0;
	for (size_t i = 0; i < n; i++)
		nf += isfinite(cost[i]) && cost[i] > 0;
	double *xs = malloc((nf ? nf : 1) * sizeof(double)),
	       *ys = malloc((nf ? nf : 1) * sizeof(double));
	size_t *pos = malloc((nf ? nf : 1) * sizeof(size_t));
	if (!xs || !ys || !pos) {
		free(xs);
		free(ys);
		free(pos);
		return -ENOMEM;
	}
	for (size_t i = 0, k = 0; i < n; i++)
		if (isfinite(cost[i]) && cost[i] > 0) {
			xs[k] = (double)i;
			ys[k] = log(cost[i]);
			pos[k++] = i;
		}
	for (size_t i = 0; i < n; i++) {
		ret_cold[i] = !(isfinite(cost[i]) && cost[i] > 0);
		if (ret_trend)
			ret_trend[i] = NAN;
	}
	if (nf < 3)
		goto out;
	size_t q = (size_t)ceil(span * (double)nf);
	if (q < 3)
		q = 3;
	for (size_t k = 0; k < nf; k++) {
		/* The q nearest finite points form a window around k in index order. */
		size_t lo = k, hi = k;
		while (hi - lo + 1 < q) {
			if (lo == 0)
				hi++;
			else if (hi == nf - 1)
				lo--;
			else if (xs[k] - xs[lo - 1] <= xs[hi + 1] - xs[k])
				lo--;
			else
				hi++;
		}
		double tr = loess_at(xs, ys, lo, hi, xs[k]);
		ret_cold[pos[k]] = ys[k] > tr + 1e-9;
		if (ret_trend)
			ret_trend[pos[k]] = exp(tr);
	}
out:
	free(xs);
	free(ys);
	free(pos);
	return 0;
}

int distill_cold_query(const int32_t *cand, const int32_t *db, const bool *cold, size_t n_db,
		       size_t trees, size_t k, size_t *ret_cold)
{
	if (k == 0 || k > DISTILL_COLD_MAX_K || !ret_cold)
		return -EINVAL;
	if (n_db < k)
		return -ENODATA;
	/* Keep the k best in a small sorted array: n_db is a task's measured records. */
	double top_s[DISTILL_COLD_MAX_K];
	size_t top_i[DISTILL_COLD_MAX_K], n_top = 0;
	for (size_t j = 0; j < n_db; j++) {
		double s = distill_leaf_cosine(cand, db + j * trees, trees);
		if (n_top == k && s <= top_s[k - 1])
			continue;
		size_t p = n_top < k ? n_top++ : k - 1;
		while (p > 0 && top_s[p - 1] < s) {
			top_s[p] = top_s[p - 1];
			top_i[p] = top_i[p - 1];
			p--;
		}
		top_s[p] = s;
		top_i[p] = j;
	}
	size_t c = 0;
	for (size_t p = 0; p < n_top; p++)
		c += cold[top_i[p]];
	*ret_cold = c;
	return 0;
}

double distill_cold_epsilon(double eps0, unsigned updates)
{
	return eps0 * pow(DISTILL_EPS_DECAY, (double)updates);
}

double distill_cold_epsilon_at(double eps0, unsigned updates, bool survey)
{
	return survey ? eps0 : distill_cold_epsilon(eps0, updates);
}

bool distill_cold_prior_drop(double p_cold, double thr)
{
	return thr < 1 && p_cold > thr; /* NAN compares false */
}

size_t distill_cold_pick(const float *p, const double *cloud, size_t n)
{
	size_t best = SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (best == SIZE_MAX || p[i] < p[best] ||
		    (p[i] == p[best] && cloud[i] < cloud[best]))
			best = i;
	return best;
}
