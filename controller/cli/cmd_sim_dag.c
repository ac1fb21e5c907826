/* cmd_sim_dag.c — `edgeslice sim --dag`: runs MRS and the PASS-like/Ekya-like baselines
 * (policy/mrs.c) over a DAG workload (controller/sim/dagsim.c) and reports per policy. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dagsim.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(
	    f, "Usage: edgeslice sim --dag WORKLOAD.json [--policy mrs,pass,ekya] [--rate R]\n"
	       "                     [--seed N] [--count N] [--json]\n\n"
	       "Simulate DAG applications with model retraining on heterogeneous edge servers and\n"
	       "compare schedulers on the same arrivals:\n"
	       "  mrs   online multi-request scheduling with SRS retraining decisions (eq. 11)\n"
	       "  pass  PASS-like priority list scheduling, retrain every model each pass_period\n"
	       "  ekya  Ekya-like greedy: retrain every model whenever its best configuration "
	       "helps\n\n"
	       "Options:\n"
	       "  --dag FILE     workload (format in docs/MRS.md; example "
	       "docs/examples/lifelogging.json)\n"
	       "  --policy LIST  comma-separated policies (default mrs,pass,ekya)\n"
	       "  --rate R       Poisson arrivals per second, overriding the file (and its csv)\n"
	       "  --seed N       seed of the Poisson arrivals (default: the file's, else 1)\n"
	       "  --count N      number of requests generated (default: the file's, else 200)\n"
	       "  --json         machine-readable output\n\n"
	       "Reports per policy: mean and p95 request completion time (s), mean inference "
	       "accuracy,\n"
	       "mean objective (completion + theta * sum(1 - accuracy)) and the number of "
	       "retrainings.\n"
	       "Exit status: 0 ok, 1 simulation failure, 2 usage or workload error.\n");
}

/* --policy LIST -> want[]; ES_EXIT_OK or the exit status, the error printed. */
static int parse_policies(const char *pol, bool want[_MRS_POLICY_MAX])
{
	_cleanup_free_ char *list = strdup(pol);
	char *save = NULL;
	bool any = false;

	if (!list)
		return cli_error("sim", "out of memory");
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		enum mrs_policy p;
		if (mrs_policy_from_name(t, &p) < 0)
			return cli_usage_error(
			    "sim", "--policy: unknown policy '%s' (mrs, pass, ekya)", t);
		want[p] = any = true;
	}
	if (!any)
		return cli_usage_error("sim", "--policy: empty list");
	return ES_EXIT_OK;
}

int dag_sim_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dag", required_argument, NULL, 'd'},   {"policy", required_argument, NULL, 'p'},
	    {"rate", required_argument, NULL, 'r'},  {"seed", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},	     {}};
	const char *file = NULL, *pol = "mrs,pass,ekya";
	double rate = 0;
	uint64_t seed = 0, count = 0;
	bool json = false, have_seed = false;
	bool want[_MRS_POLICY_MAX] = {0};
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ struct dagsim_workload *w = NULL;
	_cleanup_free_ double *arr = NULL;
	size_t len, n_arr = 0;
	char err[512];
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'd':
			file = optarg;
			break;
		case 'p':
			pol = optarg;
			break;
		case 'r':
			if (parse_double(optarg, &rate) < 0 || !(rate > 0) || rate > 1e6)
				return cli_usage_error(
				    "sim",
				    "--rate: must be a positive number of arrivals per second");
			break;
		case 's':
			if (parse_u64(optarg, &seed) < 0)
				return cli_usage_error("sim",
						       "--seed: must be a non-negative integer");
			have_seed = true;
			break;
		case 'n':
			if (parse_u64(optarg, &count) < 0 || count == 0 || count > 1000000)
				return cli_usage_error("sim",
						       "--count: must be an integer in 1..1000000");
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return ES_EXIT_OK;
		default:
			return cli_usage_error("sim", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("sim", "unexpected argument '%s'", argv[optind]);
	if (!file)
		return cli_usage_error("sim", "--dag: a workload file is required");
	r = parse_policies(pol, want);
	if (r != ES_EXIT_OK)
		return r;
	r = read_file_at(AT_FDCWD, file, &text, &len);
	if (r < 0)
		return cli_usage_error("sim", "--dag: %s: %s", file, strerror(-r));
	w = malloc(sizeof(*w));
	if (!w)
		return cli_error("sim", "out of memory");
	r = dagsim_parse(text, len, w, err, sizeof(err));
	if (r == -ENOMEM)
		return cli_error("sim", "out of memory");
	if (r < 0)
		return cli_usage_error("sim", "%s: %s", file, err);
	if (count)
		w->arrivals.count = count;
	if (have_seed)
		w->arrivals.seed = seed;
	if (rate > 0)
		w->arrivals.rate = rate;
	if (rate == 0 && w->arrivals.csv[0]) {
		_cleanup_free_ char *dup = strdup(file), *csv = NULL, *path = NULL;
		size_t clen;
		if (!dup)
			return cli_error("sim", "out of memory");
		if (w->arrivals.csv[0] == '/')
			path = strdup(w->arrivals.csv);
		else if (asprintf(&path, "%s/%s", dirname(dup), w->arrivals.csv) < 0)
			path = NULL;
		if (!path)
			return cli_error("sim", "out of memory");
		r = read_file_at(AT_FDCWD, path, &csv, &clen);
		if (r < 0)
			return cli_usage_error("sim", "arrivals.csv: %s: %s", path, strerror(-r));
		r = dagsim_parse_csv(csv, &arr, &n_arr, err, sizeof(err));
		if (r < 0)
			return cli_usage_error("sim", "%s", err);
	} else {
		r = dagsim_poisson(w->arrivals.rate, w->arrivals.count, w->arrivals.seed, &arr);
		if (r < 0)
			return cli_error("sim", "arrivals: %s", strerror(-r));
		n_arr = w->arrivals.count;
	}

	if (json)
		printf("{\"workload\":\"%s\",\"requests\":%zu,\"theta\":%g,\"policies\":[", file,
		       n_arr, w->wl.theta);
	else
		printf("%-6s %10s %10s %9s %10s %10s\n", "POLICY", "MEAN_S", "P95_S", "ACCURACY",
		       "OBJECTIVE", "RETRAINS");
	bool first = true;
	for (int p = 0; p < _MRS_POLICY_MAX; p++) {
		struct mrs_result res;
		if (!want[p])
			continue;
		r = mrs_simulate(&w->wl, (enum mrs_policy)p, arr, n_arr, false, &res);
		if (r < 0)
			return cli_error("sim", "%s: %s", mrs_policy_name((enum mrs_policy)p),
					 strerror(-r));
		if (json)
			printf(
			    "%s{\"policy\":\"%s\",\"mean_completion_s\":%.6f,\"p95_completion_s\":%"
			    ".6f,"
			    "\"mean_accuracy\":%.6f,\"mean_objective\":%.6f,\"retrainings\":%zu}",
			    first ? "" : ",", mrs_policy_name((enum mrs_policy)p),
			    res.mean_completion, res.p95_completion, res.mean_accuracy,
			    res.mean_objective, res.retrainings);
		else
			printf("%-6s %10.3f %10.3f %9.4f %10.3f %10zu\n",
			       mrs_policy_name((enum mrs_policy)p), res.mean_completion,
			       res.p95_completion, res.mean_accuracy, res.mean_objective,
			       res.retrainings);
		first = false;
	}
	if (json)
		printf("]}\n");
	return ES_EXIT_OK;
}
