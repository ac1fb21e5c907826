/* cmd_plan.c — `edgeslice plan`: the JPS offloading planner on layer profiles; prints cuts,
 * job counts per cut, processing order, predicted makespan and the LO/CO/PO baselines. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "jps.h"
#include "jps_profile.h"
#include "util.h"

#define MAX_PROFILES 16
#define MAX_JOBS     1000000u

static const char usage[] =
    "Usage: edgeslice plan --profile FILE|MODEL [--profile ...] --jobs N\n"
    "                      --bandwidth RATE [--rtt MS] [--json]\n"
    "\n"
    "Plan a batch of N inference jobs for offloading over an upload link of the given\n"
    "rate: where to cut each job (what runs locally, which tensor is uploaded), in which\n"
    "order to compute and upload them, and the predicted makespan (JPS, docs/JPS.md).\n"
    "\n"
    "  --profile FILE|MODEL  a layer profile (JSON, docs/JPS.md) or a built-in model:\n"
    "                        alexnet, mobilenet-v2, googlenet, resnet-18, vgg-19,\n"
    "                        inception-v3 (FLOP-estimated times; measure with\n"
    "                        edgeslice-infer --profile). Repeat to mix heterogeneous\n"
    "                        models: N jobs of each,\n"
    "                        scheduled layer by layer (Alg. 5 on trees, else Alg. 4).\n"
    "  --jobs N              jobs per profile (1..1000000)\n"
    "  --bandwidth RATE      upload rate: 3g, 4g, wifi (1.1, 5.85, 18.88 Mbit/s) or a tc\n"
    "                        rate such as 5.85mbit, 700kbit, 2mbps (bytes)\n"
    "  --rtt MS              per-upload round trip w0 in milliseconds (default 0)\n"
    "  --json                machine-readable output\n"
    "\n"
    "The upload time of a cut is g = w0 + bytes / rate; cloud compute is ignored.\n"
    "Baselines: LO local only, CO cloud only (upload the input), PO every job cut at the\n"
    "single-job optimum (min f + g) in the same pipeline.\n"
    "Exit status: 0 ok, 1 planning failed, 2 usage error.\n";

static const char *cut_name(const struct jps_model *m, const struct jps_cut *c)
{
	if (c->layer == JPS_CUT_CLOUD)
		return "(cloud-only)";
	if (c->layer == JPS_CUT_LOCAL)
		return "(local-only)";
	return m->layers[c->layer].name;
}

static void jfree(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

/* Change of x against base, % (negative = JPS is faster). */
static double pct(double base, double x)
{
	return base > 0 ? 100.0 * (x - base) / base : 0;
}

static json_object *cut_json(const struct jps_model *m, const struct jps_cut *c, size_t jobs)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "cut", json_object_new_string(cut_name(m, c)));
	json_object_object_add(o, "jobs", json_object_new_int64((int64_t)jobs));
	json_object_object_add(o, "f_ms", json_object_new_double(c->f));
	json_object_object_add(o, "g_ms", json_object_new_double(c->g));
	json_object_object_add(o, "upload_bytes", json_object_new_int64((int64_t)c->bytes));
	return o;
}

static int plan_one(const struct jps_model *m, const struct jps_chain *c, size_t n, uint64_t rate,
		    double rtt, bool json)
{
	struct jps_plan p;
	size_t po_cut;
	double lo, co, po;
	int r = jps_plan_homogeneous(c, n, &p);

	if (r < 0)
		return cli_error("plan", "%s: planning failed: %s", m->name, strerror(-r));
	lo = jps_local_only(c, n);
	co = jps_cloud_only(c, n);
	po = jps_partition_only(c, n, &po_cut);
	if (json) {
		_cleanup_(jfree) json_object *o = json_object_new_object();
		json_object *cuts = json_object_new_array(), *order = json_object_new_array(),
			    *base = json_object_new_object();
		json_object_object_add(o, "model", json_object_new_string(m->name));
		json_object_object_add(o, "source", json_object_new_string(m->source));
		json_object_object_add(o, "jobs", json_object_new_int64((int64_t)n));
		json_object_object_add(o, "bandwidth_bytes_per_sec",
				       json_object_new_int64((int64_t)rate));
		json_object_object_add(o, "rtt_ms", json_object_new_double(rtt));
		for (size_t i = 0; i < n;) {
			size_t k = i;
			while (k < n && p.order[k] == p.order[i])
				k++;
			json_object_array_add(cuts, cut_json(m, &c->cuts[p.order[i]], k - i));
			json_object *run = json_object_new_object();
			json_object_object_add(
			    run, "cut", json_object_new_string(cut_name(m, &c->cuts[p.order[i]])));
			json_object_object_add(run, "count",
					       json_object_new_int64((int64_t)(k - i)));
			json_object_array_add(order, run);
			i = k;
		}
		json_object_object_add(o, "cuts", cuts);
		json_object_object_add(o, "order", order);
		json_object_object_add(o, "makespan_ms", json_object_new_double(p.makespan));
		json_object_object_add(o, "method", json_object_new_string(p.method));
		json_object *a2 = json_object_new_object();
		json_object_object_add(a2, "lo",
				       json_object_new_string(cut_name(m, &c->cuts[p.alg2.lo])));
		json_object_object_add(a2, "hi",
				       json_object_new_string(cut_name(m, &c->cuts[p.alg2.hi])));
		json_object_object_add(a2, "ratio", json_object_new_int64(p.alg2.ratio));
		json_object_object_add(a2, "makespan_ms", json_object_new_double(p.paper_makespan));
		json_object_object_add(o, "alg2", a2);
		json_object_object_add(base, "local_only_ms", json_object_new_double(lo));
		json_object_object_add(base, "cloud_only_ms", json_object_new_double(co));
		json_object_object_add(base, "partition_only_ms", json_object_new_double(po));
		json_object_object_add(base, "partition_only_cut",
				       json_object_new_string(cut_name(m, &c->cuts[po_cut])));
		json_object_object_add(base, "reduction_vs_local_pct",
				       json_object_new_double(-pct(lo, p.makespan)));
		json_object_object_add(o, "baselines", base);
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf(
		    "model %s (%zu layers, times: %s), %zu jobs, upload %.3f Mbit/s, rtt %g ms\n",
		    m->name, m->n_layers, m->source, n, (double)rate * 8 / 1e6, rtt);
		printf("%-22s %8s %10s %10s %12s\n", "cut after", "jobs", "f ms", "g ms",
		       "upload B");
		for (size_t i = 0; i < n;) {
			size_t k = i;
			const struct jps_cut *x = &c->cuts[p.order[i]];
			while (k < n && p.order[k] == p.order[i])
				k++;
			printf("%-22s %8zu %10.2f %10.2f %12llu\n", cut_name(m, x), k - i, x->f,
			       x->g, (unsigned long long)x->bytes);
			i = k;
		}
		printf("order: ");
		for (size_t i = 0; i < n;) {
			size_t k = i;
			while (k < n && p.order[k] == p.order[i])
				k++;
			printf("%s%zu x %s", i ? ", then " : "", k - i,
			       cut_name(m, &c->cuts[p.order[i]]));
			i = k;
		}
		printf("\npredicted makespan: %.2f ms, found by %s (Alg. 2 alone: %s|%s ratio %u "
		       "-> %.2f ms)\n",
		       p.makespan, p.method, cut_name(m, &c->cuts[p.alg2.lo]),
		       cut_name(m, &c->cuts[p.alg2.hi]), p.alg2.ratio, p.paper_makespan);
		printf("local-only %.2f ms, cloud-only %.2f ms, partition-only %.2f ms (cut after "
		       "%s)\n",
		       lo, co, po, cut_name(m, &c->cuts[po_cut]));
		printf("JPS vs local-only: %+.2f%%, vs cloud-only: %+.2f%%, vs partition-only: "
		       "%+.2f%%\n",
		       pct(lo, p.makespan), pct(co, p.makespan), pct(po, p.makespan));
	}
	jps_plan_done(&p);
	return ES_EXIT_OK;
}

static int plan_hetero(struct jps_model **models, struct jps_chain *chains, size_t nm, size_t n,
		       bool json)
{
	struct jps_hetero_plan hp;
	size_t njobs[MAX_PROFILES];
	double lo = 0, co = 0, po;
	int r;

	for (size_t i = 0; i < nm; i++)
		njobs[i] = n;
	r = jps_plan_hetero((const struct jps_model *const *)models, chains, njobs, nm, &hp);
	if (r < 0)
		return cli_error("plan", "heterogeneous planning failed: %s", strerror(-r));
	/* Baselines over the mixed batch: LO and CO are sums; PO Johnson-orders jobs cut at
	 * their single-job optimum. */
	{
		size_t total = hp.n_jobs, k = 0;
		_cleanup_free_ struct jps_job *jobs = calloc(total, sizeof(*jobs));
		_cleanup_free_ size_t *ord = calloc(total, sizeof(*ord));
		if (!jobs || !ord)
			return cli_error("plan", "out of memory");
		for (size_t i = 0; i < nm; i++) {
			size_t cut;
			lo += jps_local_only(&chains[i], n);
			co += chains[i].cuts[0].g * (double)n;
			jps_partition_only(&chains[i], n, &cut);
			for (size_t j = 0; j < n; j++)
				jobs[k++] =
				    (struct jps_job){chains[i].cuts[cut].f, chains[i].cuts[cut].g};
		}
		jps_johnson_order(jobs, total, ord);
		po = jps_makespan(jobs, ord, total);
	}
	if (json) {
		_cleanup_(jfree) json_object *o = json_object_new_object();
		json_object *ms = json_object_new_array(), *order = json_object_new_array();
		for (size_t i = 0; i < nm; i++) {
			json_object *mo = json_object_new_object(), *cuts = json_object_new_array();
			json_object_object_add(mo, "model",
					       json_object_new_string(models[i]->name));
			json_object_object_add(mo, "source",
					       json_object_new_string(models[i]->source));
			for (size_t c = 0; c < chains[i].n; c++) {
				size_t cnt = 0;
				for (size_t j = 0; j < hp.n_jobs; j++)
					cnt += hp.jobs[j].model == i && hp.jobs[j].cut == c;
				if (cnt)
					json_object_array_add(
					    cuts, cut_json(models[i], &chains[i].cuts[c], cnt));
			}
			json_object_object_add(mo, "cuts", cuts);
			json_object_array_add(ms, mo);
		}
		for (size_t k = 0; k < hp.n_nodes; k++) {
			size_t v = hp.order[k];
			const struct jps_hetero_job *j = &hp.jobs[hp.node_job[v]];
			json_object *e = json_object_new_object();
			json_object_object_add(e, "job",
					       json_object_new_int64((int64_t)hp.node_job[v]));
			json_object_object_add(e, "model",
					       json_object_new_string(models[j->model]->name));
			json_object_object_add(
			    e, "layer",
			    json_object_new_string(
				hp.node_layer[v] < 0
				    ? "input"
				    : models[j->model]->layers[hp.node_layer[v]].name));
			json_object_array_add(order, e);
		}
		json_object_object_add(o, "models", ms);
		json_object_object_add(o, "jobs_per_model", json_object_new_int64((int64_t)n));
		json_object_object_add(o, "algorithm",
				       json_object_new_string(hp.tree ? "alg5-tree" : "alg4-dag"));
		json_object_object_add(o, "order", order);
		json_object_object_add(o, "makespan_ms", json_object_new_double(hp.makespan));
		json_object_object_add(o, "job_level_makespan_ms",
				       json_object_new_double(hp.job_level_makespan));
		json_object_object_add(o, "local_only_ms", json_object_new_double(lo));
		json_object_object_add(o, "cloud_only_ms", json_object_new_double(co));
		json_object_object_add(o, "partition_only_ms", json_object_new_double(po));
		printf("%s\n", json_object_to_json_string_ext(
				   o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		printf("%zu models x %zu jobs, layer-level schedule by %s\n", nm, n,
		       hp.tree ? "Alg. 5 (tree-optimal merge)"
			       : "Alg. 4 (DAG, Johnson per sink set)");
		for (size_t i = 0; i < nm; i++) {
			printf("%s (times: %s):", models[i]->name, models[i]->source);
			for (size_t c = 0; c < chains[i].n; c++) {
				size_t cnt = 0;
				for (size_t j = 0; j < hp.n_jobs; j++)
					cnt += hp.jobs[j].model == i && hp.jobs[j].cut == c;
				if (cnt)
					printf(" %zu x %s (f %.2f, g %.2f ms)", cnt,
					       cut_name(models[i], &chains[i].cuts[c]),
					       chains[i].cuts[c].f, chains[i].cuts[c].g);
			}
			printf("\n");
		}
		printf("job order (by first layer run):");
		{
			/* runs of jobs of the same model and cut, so a big batch stays readable */
			_cleanup_free_ bool *seen = calloc(hp.n_jobs, sizeof(bool));
			uint32_t prev = UINT32_MAX;
			size_t run = 0, prev_cut = 0;
			for (size_t k = 0; seen && k <= hp.n_nodes; k++) {
				uint32_t j = k < hp.n_nodes ? hp.node_job[hp.order[k]] : UINT32_MAX;
				if (j != UINT32_MAX && seen[j])
					continue;
				if (j != UINT32_MAX)
					seen[j] = true;
				if (j != UINT32_MAX && prev != UINT32_MAX &&
				    hp.jobs[j].model == hp.jobs[prev].model &&
				    hp.jobs[j].cut == prev_cut) {
					run++;
					continue;
				}
				if (prev != UINT32_MAX)
					printf(
					    " %zu x %s@%s", run, models[hp.jobs[prev].model]->name,
					    cut_name(models[hp.jobs[prev].model],
						     &chains[hp.jobs[prev].model].cuts[prev_cut]));
				if (j == UINT32_MAX)
					break;
				prev = j;
				prev_cut = hp.jobs[j].cut;
				run = 1;
			}
		}
		printf("\npredicted makespan: %.2f ms (job-level Johnson: %.2f ms)\n", hp.makespan,
		       hp.job_level_makespan);
		printf("local-only %.2f ms, cloud-only %.2f ms, partition-only %.2f ms\n", lo, co,
		       po);
		printf("JPS vs local-only: %+.2f%%, vs cloud-only: %+.2f%%, vs partition-only: "
		       "%+.2f%%\n",
		       pct(lo, hp.makespan), pct(co, hp.makespan), pct(po, hp.makespan));
	}
	jps_hetero_plan_done(&hp);
	return ES_EXIT_OK;
}

static int cmd_plan(int argc, char **argv)
{
	static const struct option opts[] = {{"profile", required_argument, NULL, 'p'},
					     {"jobs", required_argument, NULL, 'n'},
					     {"bandwidth", required_argument, NULL, 'b'},
					     {"rtt", required_argument, NULL, 'r'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	const char *specs[MAX_PROFILES];
	size_t nspec = 0, n = 0;
	uint64_t rate = 0, v;
	double rtt = 0;
	bool json = false;
	struct jps_model *models[MAX_PROFILES] = {0};
	struct jps_chain chains[MAX_PROFILES] = {0};
	struct jps_link link;
	int c, r, ret = ES_EXIT_OK;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (nspec == MAX_PROFILES)
				return cli_usage_error("plan", "--profile: at most %d profiles",
						       MAX_PROFILES);
			specs[nspec++] = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &v) < 0 || v == 0 || v > MAX_JOBS)
				return cli_usage_error(
				    "plan", "--jobs: must be an integer in 1..%u", MAX_JOBS);
			n = v;
			break;
		case 'b':
			if (parse_rate(optarg, &rate) < 0)
				return cli_usage_error(
				    "plan",
				    "--bandwidth: must be 3g, 4g, wifi or a rate like 5.85mbit");
			break;
		case 'r':
			if (parse_double(optarg, &rtt) < 0 || !isfinite(rtt) || rtt < 0 ||
			    rtt > 1e6)
				return cli_usage_error(
				    "plan", "--rtt: must be a number of milliseconds >= 0");
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return ES_EXIT_OK;
		default:
			return cli_usage_error("plan",
					       "unknown or incomplete option '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("plan", "unexpected argument '%s'", argv[optind]);
	if (!nspec)
		return cli_usage_error("plan", "--profile: required");
	if (!n)
		return cli_usage_error("plan", "--jobs: required");
	if (!rate)
		return cli_usage_error("plan", "--bandwidth: required");
	if (nspec > 1 && n > 64)
		return cli_usage_error("plan", "--jobs: at most 64 per model when mixing profiles");
	if (jps_link_init(&link, rate, rtt) < 0)
		return cli_usage_error("plan", "--bandwidth: invalid");
	for (size_t i = 0; i < nspec; i++) {
		char err[512] = "";
		r = jps_profile_load(specs[i], &models[i], err, sizeof(err));
		if (r < 0) {
			ret = cli_error("plan", "--profile: %s", err[0] ? err : strerror(-r));
			goto out;
		}
		r = jps_chain_from_model(models[i], &link, &chains[i]);
		if (r < 0) {
			ret = cli_error("plan", "--profile: %s: %s", specs[i], strerror(-r));
			goto out;
		}
	}
	if (nspec == 1)
		ret = plan_one(models[0], &chains[0], n, rate, rtt, json);
	else
		ret = plan_hetero(models, chains, nspec, n, json);
out:
	for (size_t i = 0; i < nspec; i++) {
		jps_chain_done(&chains[i]);
		jps_model_free(models[i]);
	}
	return ret;
}
ES_COMMAND("plan", cmd_plan, "Plan partitioned offloading of a batch of inference jobs (JPS)");
