/* jps_bench.c — `make bench-jps`: planner time vs job count, share of random instances
 * where JPS equals brute force, predicted reduction vs local-only next to the paper. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer.h"
#include "jps.h"
#include "util.h"

static uint64_t rs = 0x2545f4914f6cdd1dull;
static double urand(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return (double)((rs * 2685821657736338717ull) >> 11) / (double)(1ull << 53);
}
static double irand(int lo, int hi)
{
	return lo + (int)(urand() * (hi - lo + 1));
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median wall time (us) of planning n jobs on chain c with the given pair budget. */
static double time_plan(const struct jps_chain *c, size_t n, double budget, double exact,
			double *ret_ms)
{
	double t[7];
	for (int i = 0; i < 7; i++) {
		struct jps_plan p;
		uint64_t a = now_nsec();
		if (jps_plan_homogeneous_ex(c, n, budget, exact, &p) < 0)
			exit(1);
		t[i] = (double)(now_nsec() - a) / 1e3;
		*ret_ms = p.makespan;
		jps_plan_done(&p);
	}
	qsort(t, 7, sizeof(double), dcmp);
	return t[3];
}

int main(int argc, char **argv)
{
	static const char *models[4] = {"alexnet", "mobilenet-v2", "googlenet", "resnet-18"};
	static const char *presets[3] = {"3g", "4g", "wifi"};
	static const uint64_t rates[3] = {137500, 731250, 2360000};
	static const double paper[4][3] = {{22.06, 42.11, 73.43},
					   {56.73, 78.83, 84.69},
					   {52.83, 71.93, 72.17},
					   {0.73, 28.22, 58.52}};
	static const size_t ns[4] = {10, 100, 1000, 10000};
	const char *json_path = argc > 1 ? argv[1] : "bench/results/jps.json";
	const char *md_path = argc > 2 ? argv[2] : "build/jps-bench.md";
	FILE *j = fopen(json_path, "w"), *md = fopen(md_path, "w");
	struct jps_link link;

	if (!j || !md) {
		fprintf(stderr, "jps-bench: cannot open %s / %s\n", json_path, md_path);
		return 1;
	}
	fprintf(j,
		"{\n  \"estimate\": \"compute times from FLOPs at %.1f GFLOP/s (not measured)\",\n",
		JPS_EST_GFLOPS);

	/* 1. planner time */
	fprintf(j, "  \"planner_time_us\": [\n");
	fprintf(
	    md,
	    "Planner time (median of 7, microseconds; chain conversion excluded), 4G link:\n\n");
	fprintf(
	    md,
	    "| model | cuts | n | Alg. 2 + 2-candidate mix + uniform (us) | default: + all pairs + "
	    "exact when small (us) | makespan gain of default |\n|---|---|---|---|---|---|\n");
	jps_link_init(&link, rates[1], 0);
	for (int mi = 0; mi < 4; mi += 2) {
		struct jps_model *m;
		struct jps_chain c;
		jps_builtin_model(models[mi], 0, &m);
		jps_chain_from_model(m, &link, &c);
		for (int k = 0; k < 4; k++) {
			double ms0, ms1;
			double t0 = time_plan(&c, ns[k], 0, 0, &ms0),
			       t1 = time_plan(&c, ns[k], JPS_PAIR_BUDGET, JPS_EXACT_BUDGET, &ms1);
			fprintf(
			    j,
			    "    {\"model\": \"%s\", \"cuts\": %zu, \"jobs\": %zu, "
			    "\"paper_mix_us\": %.1f, \"default_us\": %.1f, "
			    "\"paper_mix_makespan_ms\": %.3f, \"default_makespan_ms\": %.3f}%s\n",
			    models[mi], c.n, ns[k], t0, t1, ms0, ms1,
			    (mi == 2 && k == 3) ? "" : ",");
			fprintf(md, "| %s | %zu | %zu | %.1f | %.1f | %.2f%% |\n", models[mi], c.n,
				ns[k], t0, t1, 100 * (ms0 - ms1) / ms0);
		}
		jps_chain_done(&c);
		jps_model_free(m);
	}
	fprintf(j, "  ],\n");

	/* 2. JPS vs brute force on random monotone chains and random trees */
	{
		int total = 0, eq_paper = 0, eq_mix = 0, eq_pairs = 0, eq_def = 0;
		double worst = 0;
		for (int it = 0; it < 600; it++) {
			size_t k = 3 + it % 6, n = 2 + it % 5;
			double f[10], g[10], bf;
			struct jps_chain c;
			struct jps_plan p0, p1, p2;
			f[0] = 0;
			g[k - 1] = 0;
			for (size_t i = 1; i < k; i++)
				f[i] = f[i - 1] + irand(0, 10);
			for (size_t i = k - 1; i-- > 0;)
				g[i] = g[i + 1] + irand(0, 10);
			jps_chain_from_arrays(f, g, k, &c);
			jps_plan_homogeneous_ex(&c, n, 0, 0, &p0);
			jps_plan_homogeneous_ex(&c, n, JPS_PAIR_BUDGET, 0, &p1);
			jps_plan_homogeneous(&c, n, &p2);
			if (jps_brute_force(&c, n, 100000000, &bf) < 0)
				return 1;
			total++;
			eq_paper += fabs(p0.paper_makespan - bf) < 1e-9;
			eq_mix += fabs(p0.makespan - bf) < 1e-9;
			eq_pairs += fabs(p1.makespan - bf) < 1e-9;
			eq_def += fabs(p2.makespan - bf) < 1e-9;
			if (bf > 0 && (p1.makespan - bf) / bf > worst)
				worst = (p1.makespan - bf) / bf;
			jps_plan_done(&p0);
			jps_plan_done(&p1);
			jps_plan_done(&p2);
			jps_chain_done(&c);
		}
		int ttotal = 0, teq = 0;
		for (int it = 0; it < 400; it++) {
			size_t n = 2 + it % 7, order[8], ne = 0;
			struct jps_job w[8];
			uint32_t e[8][2];
			double bf;
			for (size_t v = 0; v < n; v++) {
				w[v] = (struct jps_job){irand(0, 9), irand(0, 9)};
				if (v && urand() < 0.85) {
					e[ne][0] = (uint32_t)(urand() * v), e[ne][1] = (uint32_t)v;
					w[e[ne][0]].g = 0;
					ne++;
				}
			}
			struct jps_graph gr = {.n = n, .w = w, .n_edges = ne, .edges = e};
			jps_alg5(&gr, order, NULL, NULL);
			jps_graph_brute_force(&gr, &bf);
			ttotal++;
			teq += fabs(jps_graph_makespan(&gr, order) - bf) < 1e-9;
		}
		/* AlexNet, identical jobs, 4G: full brute force for small n */
		int aeq = 0, an = 0, apaper = 0;
		{
			struct jps_model *m;
			struct jps_chain c;
			jps_builtin_model("alexnet", 0, &m);
			jps_chain_from_model(m, &link, &c);
			for (size_t n = 1; n <= 5; n++) {
				struct jps_plan p;
				double bf;
				jps_plan_homogeneous(&c, n, &p);
				if (jps_brute_force(&c, n, 200000000, &bf) == 0) {
					an++;
					aeq += fabs(p.makespan - bf) < 1e-9;
					apaper += fabs(p.paper_makespan - bf) < 1e-9;
				}
				jps_plan_done(&p);
			}
			jps_chain_done(&c);
			jps_model_free(m);
		}
		fprintf(j,
			"  \"vs_brute_force\": {\"random_chains\": %d, \"alg2_ratio_equal\": %d, "
			"\"mix_equal\": %d, \"all_pairs_equal\": %d, \"all_pairs_worst_gap_pct\": "
			"%.2f, \"default_equal\": %d, \"random_trees\": %d, \"alg5_equal\": %d, "
			"\"alexnet_4g_n_1_to_5_equal\": %d, \"alexnet_4g_alg2_equal\": %d, "
			"\"alexnet_4g_cases\": %d},\n",
			total, eq_paper, eq_mix, eq_pairs, 100 * worst, eq_def, ttotal, teq, aeq,
			apaper, an);
		fprintf(md, "\nShare of random instances where the plan equals brute force (all "
			    "cut multisets x all orders):\n\n");
		fprintf(md, "| instances | Alg. 2 ratio (paper) | + 2-candidate mix / uniform | + "
			    "all pairs | default (+ exact when small) |\n|---|---|---|---|---|\n");
		fprintf(md,
			"| %d monotone chains, 3-8 cuts, 2-6 jobs | %.1f%% | %.1f%% | %.1f%% "
			"(worst gap %.2f%%) | %.1f%% |\n",
			total, 100.0 * eq_paper / total, 100.0 * eq_mix / total,
			100.0 * eq_pairs / total, 100 * worst, 100.0 * eq_def / total);
		fprintf(md,
			"| AlexNet (estimate), 4G, 1-5 identical jobs | %d of %d (Alg. 2 ratio) | "
			"| | %d of %d |\n",
			apaper, an, aeq, an);
		fprintf(md,
			"\nAlg. 5 equals the best topological order on %d of %d random forests "
			"(2-8 nodes; see JPS.md for why not all).\n",
			teq, ttotal);
	}

	/* 3. predicted reduction vs local-only, 100 jobs, w0 = 0: on the FLOP estimate and on
	 * profiles measured now by the reference workload (1 thread, median of 5). */
	fprintf(j, "  \"reduction_vs_local_pct\": [\n");
	for (int src = 0; src < 2; src++) {
		if (src == 0)
			fprintf(md,
				"\nPredicted latency reduction vs local-only, 100 identical jobs, "
				"w0 = 0, FLOP-estimated compute (%.0f GFLOP/s), JPS (PO) [paper's "
				"JPS, Table 1]:\n\n",
				JPS_EST_GFLOPS);
		else
			fprintf(md, "\nThe same on profiles measured now by edgeslice-infer (this "
				    "x86 core, 1 thread, median of 5 passes per layer):\n\n");
		fprintf(md, "| model | 3G 1.1 Mbit/s | 4G 5.85 Mbit/s | Wi-Fi 18.88 Mbit/s "
			    "|\n|---|---|---|---|\n");
		for (int mi = 0; mi < 4; mi++) {
			struct jps_model *m = NULL;
			if (src == 0) {
				jps_builtin_model(models[mi], 0, &m);
			} else {
				struct infer_model *im;
				double ms[256] = {0}, all[5][256];
				if (infer_model_new(models[mi], 0, 1, &im) < 0 || im->n > 256 ||
				    infer_model_alloc(im, 1) < 0)
					return 1;
				infer_set_threads(1);
				infer_forward(im, NULL, NULL);
				for (int it = 0; it < 5; it++)
					infer_forward(im, NULL, all[it]);
				for (size_t l = 0; l < im->n; l++) {
					double col[5];
					for (int it = 0; it < 5; it++)
						col[it] = all[it][l];
					qsort(col, 5, sizeof(double), dcmp);
					ms[l] = col[2];
				}
				infer_to_jps(im, ms, "measured", &m);
				infer_model_free(im);
			}
			fprintf(md, "| %s |", models[mi]);
			for (int pi = 0; pi < 3; pi++) {
				struct jps_chain c;
				struct jps_plan p;
				jps_link_init(&link, rates[pi], 0);
				jps_chain_from_model(m, &link, &c);
				jps_plan_homogeneous(&c, 100, &p);
				double lo = jps_local_only(&c, 100), co = jps_cloud_only(&c, 100),
				       po = jps_partition_only(&c, 100, NULL);
				double r = 100 * (lo - p.makespan) / lo, rpo = 100 * (lo - po) / lo;
				fprintf(j,
					"    {\"profile\": \"%s\", \"model\": \"%s\", \"preset\": "
					"\"%s\", \"jps_ms\": %.2f, \"lo_ms\": %.2f, \"co_ms\": "
					"%.2f, \"po_ms\": %.2f, \"jps_pct\": %.2f, \"po_pct\": "
					"%.2f, \"co_pct\": %.2f, \"paper_jps_pct\": %.2f}%s\n",
					src ? "measured" : "flop-estimate", models[mi], presets[pi],
					p.makespan, lo, co, po, r, rpo, 100 * (lo - co) / lo,
					paper[mi][pi], (src == 1 && mi == 3 && pi == 2) ? "" : ",");
				fprintf(md, " %.1f%% (%.1f%%) [%.2f%%] |", r, rpo, paper[mi][pi]);
				jps_plan_done(&p);
				jps_chain_done(&c);
			}
			fprintf(md, "\n");
			jps_model_free(m);
		}
	}
	fprintf(j, "  ]\n}\n");
	fclose(j);
	fclose(md);
	return 0;
}
