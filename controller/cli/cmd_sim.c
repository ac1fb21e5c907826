/* cmd_sim.c — `edgeslice sim`: runs every requested policy on one workload under the same
 * physics and seed and prints a comparison table, JSON, and optionally an SVG timeline. */
#include <errno.h>
#include <getopt.h>
#include <json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "dagsim.h"
#include "policy.h"
#include "sim.h"
#include "util.h"
#include "workload.h"

#define CMD "sim"

static void help(void)
{
	printf(
	    "Usage: edgeslice sim [--workload paper|FILE] [--policy LIST] [--seed N] [--json]\n"
	    "                     [--svg FILE]\n"
	    "       edgeslice sim --dag FILE [--policy mrs,pass,ekya] [--rate R] [--seed N]\n"
	    "                     [--json]   (DAG applications with retraining; docs/MRS.md)\n"
	    "\n"
	    "Simulate placement policies on one workload and compare them. Every policy runs on\n"
	    "identical physics and the same seed: the same instances with the same durations,\n"
	    "arrivals and usage profiles. Tasks share a device's CPU (processor sharing); their\n"
	    "memory ramps and an over-committed device OOM-kills its largest task, which is\n"
	    "counted as failed and re-queued. The physics are in docs/SIMULATOR.md.\n"
	    "\n"
	    "Options:\n"
	    "  -w, --workload paper|FILE  the built-in paper workload (4 Raspberry Pi 4B, 400\n"
	    "                             instances of each of four models at t=0; default) or a\n"
	    "                             JSON workload file (format in docs/SIMULATOR.md), or\n"
	    "                             random:SEED, a generated one (3 devices of 2 cores,\n"
	    "                             6 queues with random demands, durations and memory\n"
	    "                             ramps, Poisson arrivals at 90 %% offered CPU load)\n"
	    "  -p, --policy LIST          comma-separated: rddrf, drf, drf-paper, rr, random\n"
	    "                             (default: all five)\n"
	    "  -s, --seed N               seed for durations, arrivals, usage and the random\n"
	    "                             policy (default 1)\n"
	    "      --reconcile SECONDS    drf-paper's reconciliation period (default 10)\n"
	    "      --no-inflight-compensation\n"
	    "                             ablation: rddrf counts fresh placements as using\n"
	    "                             nothing until their first sample (shows why the rule\n"
	    "                             exists; never how edgesliced runs)\n"
	    "      --memory-on-measured   rddrf as the paper has it: memory fits on measured use\n"
	    "                             alone (a task still growing into its demand lets others\n"
	    "                             in; the kernel then OOM-kills). Default: CPU on "
	    "measured\n"
	    "                             use, memory also within the device's total - demands\n"
	    "  -j, --json                 print JSON instead of the table\n"
	    "      --svg FILE             write the per-queue running-instance timeline of every\n"
	    "                             policy (the paper's Fig. 11) as SVG\n"
	    "  -h, --help                 show this help\n"
	    "\n"
	    "Output: per policy the average and 95th-percentile waiting time (submission to the\n"
	    "start of the run that completed), the makespan, CPU and memory utilization over the\n"
	    "makespan, OOM failures, and per queue the completion count, average wait and last\n"
	    "completion. JSON keys: workload, results[].policy, avg_wait_s, p95_wait_s,\n"
	    "makespan_s, cpu_util, mem_util, failed, per_queue[].queue, completed, avg_wait_s,\n"
	    "last_completion_s.\n"
	    "\n"
	    "Exit status: 0 on success, 1 if a simulation fails, 2 on usage errors.\n");
}

struct opts {
	const char *workload;
	const char *policies;
	const char *svg;
	uint64_t seed;
	double reconcile;
	bool json;
	bool no_inflight, mem_measured;
};

enum { OPT_SVG = 0x100, OPT_RECONCILE, OPT_NO_INFLIGHT, OPT_MEM_MEASURED };

/* Parses argv into o. Returns -1 on success, else the exit code to return. New options
 * (--dag, which hands the whole argv to another simulator, is dispatched in cmd_sim). */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
	    {"workload", required_argument, NULL, 'w'},
	    {"policy", required_argument, NULL, 'p'},
	    {"seed", required_argument, NULL, 's'},
	    {"json", no_argument, NULL, 'j'},
	    {"svg", required_argument, NULL, OPT_SVG},
	    {"reconcile", required_argument, NULL, OPT_RECONCILE},
	    {"no-inflight-compensation", no_argument, NULL, OPT_NO_INFLIGHT},
	    {"memory-on-measured", no_argument, NULL, OPT_MEM_MEASURED},
	    {"help", no_argument, NULL, 'h'},
	    {}};
	int c;

	*o = (struct opts){.workload = "paper",
			   .policies = "rddrf,drf,drf-paper,rr,random",
			   .seed = 1,
			   .reconcile = 10};
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":w:p:s:jh", longopts, NULL)) != -1) {
		switch (c) {
		case 'w':
			o->workload = optarg;
			break;
		case 'p':
			o->policies = optarg;
			break;
		case 's':
			if (parse_u64(optarg, &o->seed) < 0)
				return cli_usage_error(
				    CMD, "--seed: expected a non-negative integer, got '%s'",
				    optarg);
			break;
		case 'j':
			o->json = true;
			break;
		case OPT_SVG:
			o->svg = optarg;
			break;
		case OPT_RECONCILE:
			if (parse_double(optarg, &o->reconcile) < 0 || !(o->reconcile > 0) ||
			    !isfinite(o->reconcile))
				return cli_usage_error(
				    CMD, "--reconcile: expected a positive number of seconds");
			break;
		case OPT_NO_INFLIGHT:
			o->no_inflight = true;
			break;
		case OPT_MEM_MEASURED:
			o->mem_measured = true;
			break;
		case 'h':
			help();
			return ES_EXIT_OK;
		case ':':
			return cli_usage_error(CMD, "%s: missing argument", argv[optind - 1]);
		default:
			return cli_usage_error(CMD, "%s: unknown option", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]);
	return -1;
}

static int parse_policies(const char *list, enum policy_kind *kinds, unsigned *n)
{
	char buf[256];
	char *save = NULL;
	if (strlen(list) >= sizeof(buf))
		return cli_usage_error(CMD, "--policy: list too long");
	strcpy(buf, list);
	*n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum policy_kind k;
		if (policy_kind_from_name(tok, &k) < 0)
			return cli_usage_error(
			    CMD,
			    "--policy: unknown policy '%s' (rddrf, drf, drf-paper, rr, random)",
			    tok);
		for (unsigned i = 0; i < *n; i++)
			if (kinds[i] == k)
				return cli_usage_error(CMD, "--policy: '%s' given twice", tok);
		kinds[(*n)++] = k;
	}
	if (*n == 0)
		return cli_usage_error(CMD, "--policy: expected at least one policy");
	return -1;
}

static json_object *jnum(double v)
{
	char s[32];
	snprintf(s, sizeof(s), "%.4f", v);
	return json_object_new_double_s(v, s);
}

static int print_json(const struct sim_workload *w, const struct sim_result *res, unsigned n)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	json_object_object_add(root, "workload", json_object_new_string(w->name));
	for (unsigned i = 0; i < n; i++) {
		const struct sim_result *r = &res[i];
		json_object *o = json_object_new_object(), *pq = json_object_new_array();
		json_object_object_add(o, "policy",
				       json_object_new_string(policy_kind_name(r->policy)));
		json_object_object_add(o, "avg_wait_s", jnum(r->avg_wait_s));
		json_object_object_add(o, "p95_wait_s", jnum(r->p95_wait_s));
		json_object_object_add(o, "makespan_s", jnum(r->makespan_s));
		json_object_object_add(o, "cpu_util", jnum(r->cpu_util));
		json_object_object_add(o, "mem_util", jnum(r->mem_util));
		json_object_object_add(o, "failed", json_object_new_int64(r->failed));
		json_object_object_add(o, "oversub_s", json_object_new_double(r->oversub_s));
		json_object_object_add(o, "avg_response_s",
				       json_object_new_double(r->avg_response_s));
		json_object_object_add(o, "max_slowdown", json_object_new_double(r->max_slowdown));
		for (uint32_t j = 0; j < r->n_queues; j++) {
			json_object *q = json_object_new_object();
			json_object_object_add(q, "queue",
					       json_object_new_string(w->queues[j].name));
			json_object_object_add(q, "completed",
					       json_object_new_int64(r->per_queue[j].completed));
			json_object_object_add(q, "avg_wait_s", jnum(r->per_queue[j].avg_wait_s));
			json_object_object_add(q, "last_completion_s",
					       jnum(r->per_queue[j].last_completion_s));
			json_object_array_add(pq, q);
		}
		json_object_object_add(o, "per_queue", pq);
		json_object_array_add(arr, o);
	}
	json_object_object_add(root, "results", arr);
	puts(json_object_to_json_string_ext(root,
					    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
	json_object_put(root);
	return 0;
}

static void print_table(const struct sim_workload *w, const struct sim_result *res, unsigned n,
			uint64_t seed)
{
	uint64_t inst = 0;
	for (uint32_t j = 0; j < w->n_queues; j++)
		inst += w->queues[j].count;
	printf("workload %s: %u devices, %u queues, %llu instances, seed %llu\n\n", w->name,
	       w->n_devices, w->n_queues, (unsigned long long)inst, (unsigned long long)seed);
	bool bg = false; /* background load: how long devices were over-subscribed matters */
	for (uint32_t i = 0; w->background && i < w->n_devices; i++)
		bg = bg || w->background[i].kind != SIM_BG_NONE;
	printf("%-10s %10s %10s %10s %8s %8s %7s%s\n", "policy", "avg_wait_s", "p95_wait_s",
	       "makespan_s", "cpu_util", "mem_util", "failed",
	       bg ? "  oversub_s slowdown response_s" : "");
	for (unsigned i = 0; i < n; i++) {
		printf("%-10s %10.2f %10.2f %10.2f %7.1f%% %7.1f%% %7u",
		       policy_kind_name(res[i].policy), res[i].avg_wait_s, res[i].p95_wait_s,
		       res[i].makespan_s, 100 * res[i].cpu_util, 100 * res[i].mem_util,
		       res[i].failed);
		if (bg)
			printf(" %10.1f %8.2f %10.2f", res[i].oversub_s, res[i].max_slowdown,
			       res[i].avg_response_s);
		putchar('\n');
	}
	printf("\nlast completion per queue (s)\n%-10s", "policy");
	for (uint32_t j = 0; j < w->n_queues; j++)
		printf(" %14.14s", w->queues[j].name);
	putchar('\n');
	for (unsigned i = 0; i < n; i++) {
		printf("%-10s", policy_kind_name(res[i].policy));
		for (uint32_t j = 0; j < w->n_queues; j++)
			printf(" %14.2f", res[i].per_queue[j].last_completion_s);
		putchar('\n');
	}
}

static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
				      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

/* One panel per policy, one polyline per queue, shared time axis (Fig. 11 of the paper). */
static int write_svg(const char *path, const struct sim_workload *w, const struct sim_result *res,
		     unsigned n)
{
	const double W = 900, PH = 170, L = 60, R = 170, T = 30, GAP = 40;
	double ymax = 1;
	_cleanup_fclose_ FILE *f = NULL;

	/* One y scale for all panels so heights compare; each panel has its own time axis
	 * because makespans differ by an order of magnitude (drf-paper). */
	for (unsigned i = 0; i < n; i++)
		for (size_t k = 0; k < (size_t)res[i].n_samples * res[i].n_queues; k++)
			ymax = fmax(ymax, res[i].running[k]);
	f = fopen(path, "we");
	if (!f)
		return -errno;
	double H = T + n * (PH + GAP);
	fprintf(f,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
		"font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%%\" "
		"height=\"100%%\" fill=\"white\"/>\n",
		W, H);
	fprintf(f,
		"<text x=\"%.0f\" y=\"18\" font-size=\"14\">running instances per queue over time "
		"— workload %s</text>\n",
		L, w->name);
	for (unsigned i = 0; i < n; i++) {
		const struct sim_result *r = &res[i];
		double y0 = T + i * (PH + GAP), pw = W - L - R;
		double tmax = fmax(r->makespan_s, r->n_samples * r->sample_period_s);
		if (tmax <= 0)
			tmax = 1;
		fprintf(f, "<g><text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n", L,
			y0 + 12, policy_kind_name(r->policy));
		fprintf(f,
			"<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" fill=\"none\" "
			"stroke=\"#888\"/>\n",
			L, y0 + 18, pw, PH - 18);
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.0f</text>\n", L - 4,
			y0 + 26, ymax);
		fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n", L - 4,
			y0 + PH);
		for (int tk = 0; tk <= 4; tk++)
			fprintf(f,
				"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%.0fs</text>\n",
				L + pw * tk / 4, y0 + PH + 14, tmax * tk / 4);
		/* at most ~2 points per pixel; each point is the mean of its bucket */
		uint32_t step = r->n_samples > 2 * pw ? (uint32_t)(r->n_samples / (2 * pw)) + 1 : 1;
		for (uint32_t j = 0; j < r->n_queues; j++) {
			const char *col = palette[j % ELEMENTSOF(palette)];
			fprintf(
			    f,
			    "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"",
			    col);
			for (uint32_t k = 0; k < r->n_samples; k += step) {
				double sum = 0;
				uint32_t m = 0;
				for (; m < step && k + m < r->n_samples; m++)
					sum += r->running[(size_t)(k + m) * r->n_queues + j];
				double x = L + pw * fmin(1, k * r->sample_period_s / tmax);
				double y = y0 + PH - (PH - 22) * (sum / m) / ymax;
				fprintf(f, "%.1f,%.1f ", x, y);
			}
			fprintf(f, "\"/>\n");
			if (i == 0)
				fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n",
					W - R + 10, T + 30 + 16 * j, col, w->queues[j].name);
		}
		fprintf(f, "</g>\n");
	}
	fprintf(f, "</svg>\n");
	if (fflush(f) != 0 || ferror(f))
		return -EIO;
	return 0;
}

static int cmd_sim(int argc, char **argv)
{
	struct opts o;
	enum policy_kind kinds[_POLICY_KIND_MAX];
	struct sim_result res[_POLICY_KIND_MAX] = {};
	struct sim_workload *w = NULL;
	unsigned n = 0, done = 0;
	char err[256];
	int r, rc = ES_EXIT_OK;

	/* DAG applications with retraining are another simulator with its own options
	 * (docs/MRS.md); --dag anywhere before "--" selects it. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--dag") == 0 || strncmp(argv[i], "--dag=", 6) == 0)
			return dag_sim_main(argc, argv);

	if ((r = parse_opts(argc, argv, &o)) >= 0)
		return r;
	if ((r = parse_policies(o.policies, kinds, &n)) >= 0)
		return r;
	r = workload_load(o.workload, &w, err, sizeof(err));
	if (r < 0) {
		if (r == -ENOMEM)
			return cli_error(CMD, "--workload: out of memory");
		return cli_error(CMD, "--workload: %s", err[0] ? err : strerror(-r));
	}
	for (; done < n; done++) {
		struct policy_params pp = {.kind = kinds[done],
					   .seed = o.seed,
					   .reconcile_period_s = o.reconcile,
					   .no_inflight_compensation = o.no_inflight,
					   .memory_on_measured = o.mem_measured};
		r = sim_run(w, &pp, o.seed, &res[done]);
		if (r < 0) {
			rc = cli_error(
			    CMD, "%s: simulation failed: %s", policy_kind_name(kinds[done]),
			    r == -ETIME ? "horizon reached before every instance finished"
					: strerror(-r));
			goto out;
		}
	}
	if (o.json)
		print_json(w, res, n);
	else
		print_table(w, res, n, o.seed);
	if (o.svg) {
		r = write_svg(o.svg, w, res, n);
		if (r < 0)
			rc = cli_error(CMD, "--svg: %s: %s", o.svg, strerror(-r));
	}
out:
	for (unsigned i = 0; i < done; i++)
		sim_result_done(&res[i]);
	sim_workload_free(w);
	return rc;
}
ES_COMMAND("sim", cmd_sim, "Simulate placement policies on a workload and compare them");
