/* cmd_experiment.c — `edgeslice experiment offload`: a planned batch offloaded over a veth
 * pair between two network namespaces, upload shaped by the project's shaper, measured. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "infer.h"
#include "infer_net.h"
#include "jps.h"
#include "util.h"

#include "shaper.h"

static const char usage[] =
    "Usage: edgeslice experiment offload --model M --jobs N --preset 3g|4g|wifi\n"
    "                                    --plan lo|co|po|jps [--rtt MS] [--input-size N]\n"
    "                                    [--threads T] [--timeout S] [--json]\n"
    "\n"
    "Runs the offloading experiment of the JPS paper on this machine: creates a device\n"
    "and a server network namespace joined by a veth pair, shapes the device's upload to\n"
    "the preset rate with edgeslice's shaper (HTB class matched on the device address),\n"
    "starts `edgeslice-infer --serve` in the server namespace, runs a batch of N jobs of\n"
    "model M with the cuts and order of the plan (lo local only, co cloud only, po\n"
    "partition only, jps joint partition and pipeline), and reports the measured makespan\n"
    "next to the planner's prediction. Everything it creates is removed on exit.\n"
    "\n"
    "  --model M        alexnet, mobilenet-v2, resnet-18, vgg-19, inception-v3, googlenet\n"
    "  --jobs N         jobs in the batch (1..10000)\n"
    "  --preset P       3g, 4g, wifi (1.1, 5.85, 18.88 Mbit/s) or a rate (5.85mbit)\n"
    "  --plan P         lo, co, po or jps\n"
    "  --rtt MS         per-upload round trip w0 for the planner (default: measured)\n"
    "  --input-size N   input side (default the model's); --threads T BLAS threads (1)\n"
    "  --timeout S      per-operation network timeout (default 60)\n"
    "  --json           machine-readable output\n"
    "\n"
    "Needs root (namespaces, veth, tc). Exit: 0 ok, 1 failure, 2 usage, 69 unavailable.\n";

struct exp_env {
	char ns_dev[32], ns_srv[32], if_dev[IFNAMSIZ], if_srv[IFNAMSIZ];
	char addr_dev[32], addr_srv[32];
	int orig_ns;
	pid_t server;
	struct shaper *shaper;
	bool ns_created[2];
};

/* Runs a command quietly; 0 on exit status 0. */
static int run(const char *const argv[])
{
	pid_t p = fork();
	int st;
	if (p < 0)
		return -errno;
	if (p == 0) {
		int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(p, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static void env_teardown(struct exp_env *e)
{
	if (e->shaper) {
		shaper_restore(e->shaper);
		shaper_free(e->shaper);
		e->shaper = NULL;
	}
	if (e->server > 0) {
		kill(e->server, SIGTERM);
		waitpid(e->server, NULL, 0);
		e->server = 0;
	}
	if (e->orig_ns >= 0) {
		setns(e->orig_ns, CLONE_NEWNET);
		close(e->orig_ns);
		e->orig_ns = -1;
	}
	/* deleting the namespaces deletes the veth pair with them */
	if (e->ns_created[0])
		RUN("ip", "netns", "del", e->ns_dev);
	if (e->ns_created[1])
		RUN("ip", "netns", "del", e->ns_srv);
	e->ns_created[0] = e->ns_created[1] = false;
}

static int env_setup(struct exp_env *e, char *err, size_t errlen)
{
	unsigned id = (unsigned)getpid() % 100000;
	char path[64];
	int fd, r;

	snprintf(e->ns_dev, sizeof(e->ns_dev), "es-off-%u-dev", id);
	snprintf(e->ns_srv, sizeof(e->ns_srv), "es-off-%u-srv", id);
	snprintf(e->if_dev, sizeof(e->if_dev), "esod%u", id);
	snprintf(e->if_srv, sizeof(e->if_srv), "esos%u", id);
	snprintf(e->addr_dev, sizeof(e->addr_dev), "10.%u.%u.1", 200 + id % 50, (id / 50) % 250);
	snprintf(e->addr_srv, sizeof(e->addr_srv), "10.%u.%u.2", 200 + id % 50, (id / 50) % 250);
	char cidr_dev[40], cidr_srv[40];
	snprintf(cidr_dev, sizeof(cidr_dev), "%s/30", e->addr_dev);
	snprintf(cidr_srv, sizeof(cidr_srv), "%s/30", e->addr_srv);
#define STEP(what, ...)                                                                            \
	do {                                                                                       \
		if ((r = RUN(__VA_ARGS__)) < 0) {                                                  \
			snprintf(err, errlen, "%s failed", what);                                  \
			return r;                                                                  \
		}                                                                                  \
	} while (0)
	STEP("ip netns add (device)", "ip", "netns", "add", e->ns_dev);
	e->ns_created[0] = true;
	STEP("ip netns add (server)", "ip", "netns", "add", e->ns_srv);
	e->ns_created[1] = true;
	STEP("veth creation", "ip", "link", "add", e->if_dev, "netns", e->ns_dev, "type", "veth",
	     "peer", "name", e->if_srv, "netns", e->ns_srv);
	STEP("address (device)", "ip", "-n", e->ns_dev, "addr", "add", cidr_dev, "dev", e->if_dev);
	STEP("address (server)", "ip", "-n", e->ns_srv, "addr", "add", cidr_srv, "dev", e->if_srv);
	STEP("link up", "ip", "-n", e->ns_dev, "link", "set", e->if_dev, "up");
	STEP("link up", "ip", "-n", e->ns_srv, "link", "set", e->if_srv, "up");
	STEP("lo up", "ip", "-n", e->ns_dev, "link", "set", "lo", "up");
	STEP("lo up", "ip", "-n", e->ns_srv, "link", "set", "lo", "up");
#undef STEP
	/* This process becomes the device: its sockets and netlink live in ns_dev. */
	e->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/run/netns/%s", e->ns_dev);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (e->orig_ns < 0 || fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		snprintf(err, errlen, "cannot enter namespace %s: %s", e->ns_dev, strerror(-r));
		return r;
	}
	close(fd);
	return 0;
}

/* Starts `edgeslice-infer MODEL --serve 0 --once` in the server namespace; returns its port. */
static int start_server(struct exp_env *e, const char *model, unsigned input, unsigned threads,
			uint16_t *ret_port, char *err, size_t errlen)
{
	char self[PATH_MAX], bin[PATH_MAX + 32], in[16], th[16], line[128];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int pfd[2];
	FILE *f;

	if (n < 0)
		return -errno;
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(bin, sizeof(bin), "%s/edgeslice-infer", self);
	if (access(bin, X_OK) < 0) {
		snprintf(err, errlen,
			 "edgeslice-infer not found next to edgeslice (build it: make)");
		return -ENOENT;
	}
	snprintf(in, sizeof(in), "%u", input);
	snprintf(th, sizeof(th), "%u", threads);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	e->server = fork();
	if (e->server < 0)
		return -errno;
	if (e->server == 0) {
		dup2(pfd[1], 1);
		const char *argv[] = {
		    "ip",      "netns", "exec",	  e->ns_srv,   bin, model,
		    "--serve", "0",	"--once", "--threads", th,  input ? "--input-size" : NULL,
		    in,	       NULL};
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	if (!f) {
		close(pfd[0]);
		return -errno;
	}
	/* the server prints its port once its model is built */
	if (!fgets(line, sizeof(line), f) || sscanf(line, "listening on port %hu", ret_port) != 1) {
		fclose(f);
		snprintf(err, errlen, "server did not start");
		return -EIO;
	}
	fclose(f);
	return 0;
}

static void modelfree(struct infer_model **m)
{
	infer_model_free(*m);
}
static void jmodelfree(struct jps_model **m)
{
	jps_model_free(*m);
}
static void jfree(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct exp_opts {
	const char *model, *plan, *preset;
	unsigned jobs, input, threads, timeout;
	uint64_t rate; /* bytes per second */
	double rtt;    /* ms; < 0 = measure it */
	bool json;
};

/* The options of `experiment offload` into o: -1 to go on, else the exit status (help shown
 * or the usage error printed). */
static int parse_opts(int argc, char **argv, struct exp_opts *o)
{
	static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
					     {"jobs", required_argument, NULL, 'n'},
					     {"preset", required_argument, NULL, 'p'},
					     {"plan", required_argument, NULL, 'P'},
					     {"rtt", required_argument, NULL, 'r'},
					     {"input-size", required_argument, NULL, 'i'},
					     {"threads", required_argument, NULL, 't'},
					     {"timeout", required_argument, NULL, 'T'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	uint64_t v;
	int c;

	if (argc < 2 || strcmp(argv[1], "offload") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(usage, stdout);
			return ES_EXIT_OK;
		}
		return cli_usage_error("experiment",
				       "the only experiment is 'offload' (see --help)");
	}
	argc--, argv++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			o->model = optarg;
			break;
		case 'n':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 10000)
				return cli_usage_error("experiment",
						       "--jobs: must be an integer in 1..10000");
			o->jobs = (unsigned)v;
			break;
		case 'p':
			if (parse_rate(optarg, &o->rate) < 0)
				return cli_usage_error(
				    "experiment",
				    "--preset: must be 3g, 4g, wifi or a rate like 5.85mbit");
			o->preset = optarg;
			break;
		case 'P':
			if (!jps_plan_name_valid(optarg))
				return cli_usage_error("experiment",
						       "--plan: must be lo, co, po or jps");
			o->plan = optarg;
			break;
		case 'r':
			if (parse_double(optarg, &o->rtt) < 0 || !isfinite(o->rtt) || o->rtt < 0 ||
			    o->rtt > 1e5)
				return cli_usage_error(
				    "experiment", "--rtt: must be a number of milliseconds >= 0");
			break;
		case 'i':
			if (parse_u64(optarg, &v) < 0 || v < 16 || v > 2048)
				return cli_usage_error(
				    "experiment", "--input-size: must be an integer in 16..2048");
			o->input = (unsigned)v;
			break;
		case 't':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 256)
				return cli_usage_error("experiment",
						       "--threads: must be an integer in 1..256");
			o->threads = (unsigned)v;
			break;
		case 'T':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 3600)
				return cli_usage_error("experiment",
						       "--timeout: must be an integer in 1..3600");
			o->timeout = (unsigned)v;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return ES_EXIT_OK;
		default:
			return cli_usage_error("experiment",
					       "unknown or incomplete option '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("experiment", "unexpected argument '%s'", argv[optind]);
	if (!o->model)
		return cli_usage_error("experiment", "--model: required");
	if (!o->jobs)
		return cli_usage_error("experiment", "--jobs: required");
	if (!o->rate)
		return cli_usage_error("experiment", "--preset: required");
	if (!o->plan)
		return cli_usage_error("experiment", "--plan: required");
	return -1;
}

/* Profile this device now: median of 5 passes after a warm-up, per layer, into ms and the
 * planner's model. ES_EXIT_OK or the exit status, the error printed. */
static int profile_device(struct infer_model *m, double *ms, struct jps_model **ret)
{
	double *all = calloc(m->n * 5, sizeof(double)), col[5];
	int r;

	if (!all)
		return cli_error("experiment", "out of memory");
	infer_forward(m, NULL, NULL);
	for (int i = 0; i < 5; i++)
		infer_forward(m, NULL, all + (size_t)i * m->n);
	for (size_t l = 0; l < m->n; l++) {
		for (int i = 0; i < 5; i++)
			col[i] = all[(size_t)i * m->n + l];
		qsort(col, 5, sizeof(double), dcmp);
		ms[l] = col[2];
	}
	free(all);
	if ((r = infer_to_jps(m, ms, "measured", ret)) < 0)
		return cli_error("experiment", "profile: %s", strerror(-r));
	return ES_EXIT_OK;
}

/* Per job: its cut, local, upload and reply times, the server's compute, bytes uploaded. */
static json_object *results_json(const struct infer_model *m, const int32_t *cuts,
				 const struct infer_job_result *res, unsigned jobs)
{
	json_object *cu = json_object_new_array();
	for (unsigned i = 0; i < jobs; i++) {
		json_object *j = json_object_new_object();
		json_object_object_add(
		    j, "cut",
		    json_object_new_string(cuts[i] == JPS_CUT_LOCAL ? "(local-only)"
					   : cuts[i] < 0	    ? "(cloud-only)"
								    : m->layers[cuts[i]].name));
		json_object_object_add(j, "local_ms", json_object_new_double(res[i].local_ms));
		json_object_object_add(j, "upload_done_ms",
				       json_object_new_double(res[i].upload_ms));
		json_object_object_add(j, "done_ms", json_object_new_double(res[i].done_ms));
		json_object_object_add(j, "server_ms", json_object_new_double(res[i].server_ms));
		json_object_object_add(j, "upload_bytes",
				       json_object_new_int64((int64_t)res[i].bytes));
		json_object_array_add(cu, j);
	}
	return cu;
}

/* w0: the median of 5 round trips of a tiny frame through the shaped link, each what the
 * upload took beyond the frame's transmit time at the rate. */
static int probe_rtt(struct infer_model *m, int fd, uint64_t rate, size_t *failed, double *ret_ms)
{
	int32_t last = (int32_t)m->n - 2;
	char err[256] = "";
	double t[5];
	int r;

	for (int i = 0; i < 5; i++) {
		int32_t one = last;
		struct infer_job_result jr;
		double mk;
		r = infer_run_batch(m, fd, &one, 1, &jr, &mk, failed, err, sizeof(err));
		if (r < 0)
			return cli_error("experiment", "offload: rtt probe: %s", err);
		t[i] = jr.upload_ms - jr.local_ms - (double)jr.bytes / ((double)rate / 1000.0);
	}
	qsort(t, 5, sizeof(double), dcmp);
	*ret_ms = t[2] > 0 ? t[2] : 0;
	return ES_EXIT_OK;
}

static int cmd_experiment(int argc, char **argv)
{
	struct exp_opts eo = {.threads = 1, .timeout = 60, .rtt = -1};
	int c;

	c = parse_opts(argc, argv, &eo);
	if (c >= 0)
		return c;
	_cleanup_(modelfree) struct infer_model *m = NULL;
	_cleanup_(jmodelfree) struct jps_model *jm = NULL;
	_cleanup_free_ int32_t *cuts = NULL;
	_cleanup_free_ struct infer_job_result *res = NULL;
	_cleanup_free_ double *ms = NULL;
	struct exp_env e = {.orig_ns = -1};
	struct jps_chain ch = {0};
	struct jps_link link;
	double predicted = NAN, lo_pred, measured = 0, e2e = 0, rtt_measured = 0;
	char err[256] = "";
	int fd = -1, r, ret = ES_EXIT_FAILURE;
	size_t failed = 0;

	if (geteuid() != 0) {
		fprintf(
		    stderr,
		    "edgeslice experiment: offload: needs root (network namespaces, veth, tc)\n");
		return ES_EXIT_UNAVAILABLE;
	}
	r = infer_model_new(eo.model, eo.input, 1, &m);
	if (r == -ENOENT)
		return cli_usage_error("experiment", "--model: unknown model \"%s\"", eo.model);
	if (r < 0)
		return cli_usage_error("experiment", "--input-size: too small for %s", eo.model);
	cuts = calloc(eo.jobs, sizeof(int32_t));
	res = calloc(eo.jobs, sizeof(*res));
	ms = calloc(m->n, sizeof(double));
	if (!cuts || !res || !ms)
		return cli_error("experiment", "out of memory");
	infer_set_threads(eo.threads);
	if ((r = infer_model_alloc(m, 1)) < 0)
		return cli_error("experiment", "%s: cannot allocate: %s", eo.model, strerror(-r));
	r = profile_device(m, ms, &jm);
	if (r != ES_EXIT_OK)
		return r;

	r = env_setup(&e, err, sizeof(err));
	if (r < 0) {
		cli_error("experiment", "offload: %s", err);
		goto out;
	}
	{
		uint16_t port;
		struct shaper_match sm;
		uint32_t classid;
		char hp[64];
		r = shaper_open(e.if_dev, 0, &e.shaper);
		if (r == 0)
			r = shaper_match_source(e.addr_dev, &sm);
		if (r == 0)
			r = shaper_set_rate(e.shaper, &sm, eo.rate, &classid);
		if (r < 0) {
			cli_error("experiment", "offload: shaping %s to %s failed: %s", e.if_dev,
				  eo.preset, strerror(-r));
			goto out;
		}
		r = start_server(&e, eo.model, eo.input, eo.threads, &port, err, sizeof(err));
		if (r < 0) {
			cli_error("experiment", "offload: %s", err[0] ? err : strerror(-r));
			goto out;
		}
		snprintf(hp, sizeof(hp), "%s", e.addr_srv);
		r = infer_connect(hp, port, eo.timeout * 1000, &fd);
		if (r < 0) {
			cli_error("experiment", "offload: cannot connect to the server: %s",
				  strerror(-r));
			goto out;
		}
		/* w0: a tiny frame's round trip through the shaped link (the paper measures it) */
		if (eo.rtt < 0) {
			if (probe_rtt(m, fd, eo.rate, &failed, &rtt_measured) != ES_EXIT_OK)
				goto out;
			eo.rtt = rtt_measured;
		}
	}
	/* Plan. */
	jps_link_init(&link, eo.rate, eo.rtt);
	if ((r = jps_chain_from_model(jm, &link, &ch)) < 0) {
		cli_error("experiment", "planner: %s", strerror(-r));
		goto out;
	}
	lo_pred = jps_local_only(&ch, eo.jobs);
	if ((r = jps_plan_cuts(&ch, eo.plan, eo.jobs, cuts, &predicted)) < 0) {
		cli_error("experiment", "planner: %s", strerror(-r));
		goto out;
	}
	r = infer_run_batch(m, fd, cuts, eo.jobs, res, &e2e, &failed, err, sizeof(err));
	if (r < 0) {
		cli_error("experiment", "offload: job %zu of %u: %s", failed, eo.jobs, err);
		goto out;
	}
	/* The planner's makespan: the last upload's end (or local job's compute end). The
	 * replies also wait for the server's compute, which the model ignores. */
	for (unsigned i = 0; i < eo.jobs; i++) {
		double end = cuts[i] == JPS_CUT_LOCAL ? res[i].done_ms : res[i].upload_ms;
		if (end > measured)
			measured = end;
	}
	if (eo.json) {
		_cleanup_(jfree) json_object *o = json_object_new_object();
		json_object_object_add(o, "model", json_object_new_string(eo.model));
		json_object_object_add(o, "preset", json_object_new_string(eo.preset));
		json_object_object_add(o, "rate_bytes_per_sec",
				       json_object_new_int64((int64_t)eo.rate));
		json_object_object_add(o, "plan", json_object_new_string(eo.plan));
		json_object_object_add(o, "jobs", json_object_new_int((int)eo.jobs));
		json_object_object_add(o, "rtt_ms", json_object_new_double(eo.rtt));
		json_object_object_add(o, "measured_ms", json_object_new_double(measured));
		json_object_object_add(o, "end_to_end_ms", json_object_new_double(e2e));
		json_object_object_add(o, "predicted_ms", json_object_new_double(predicted));
		json_object_object_add(o, "local_only_predicted_ms",
				       json_object_new_double(lo_pred));
		json_object_object_add(
		    o, "prediction_error_pct",
		    json_object_new_double(100 * (measured - predicted) / predicted));
		json_object_object_add(o, "results", results_json(m, cuts, res, eo.jobs));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	} else {
		printf("%s, %u jobs, %s (%.2f Mbit/s), plan %s, w0 %.2f ms%s\n", eo.model, eo.jobs,
		       eo.preset, (double)eo.rate * 8 / 1e6, eo.plan, eo.rtt,
		       rtt_measured > 0 ? " (measured)" : "");
		printf("measured makespan %.1f ms, predicted %.1f ms (error %+.1f%%); local-only "
		       "predicted %.1f ms\n",
		       measured, predicted, 100 * (measured - predicted) / predicted, lo_pred);
		printf("end to end (last reply, includes the server's compute): %.1f ms\n", e2e);
	}
	ret = ES_EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	jps_chain_done(&ch);
	env_teardown(&e);
	return ret;
}
ES_COMMAND("experiment", cmd_experiment, "Run the tc-shaped offloading experiment (JPS)");
