/* main_edgeslice-infer.c — `edgeslice-infer`: the reference CNN workload. Runs real forward
 * passes layer by layer, writes planner profiles, serves and offloads partitioned jobs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "infer.h"
#include "infer_net.h"
#include "jps.h"
#include "jps_profile.h"
#include "util.h"

static const char usage[] =
    "Usage: edgeslice-infer MODEL [--input-size N] [--batch B] [--threads T]\n"
    "                       [--iterations I] [--warmup W] [--profile FILE] [--list-layers]\n"
    "       edgeslice-infer MODEL --duration S [--threads T] [--batch B]\n"
    "       edgeslice-infer MODEL --jobs N [--until LAYER | --plan lo|co|po|jps\n"
    "                       --bandwidth RATE [--rtt MS] [--plan-profile FILE]]\n"
    "                       [--offload HOST:PORT] [--timeout S]\n"
    "       edgeslice-infer [MODEL] --serve PORT [--bind ADDR] [--threads T] [--once]\n"
    "\n"
    "Runs the forward pass of a CNN with generated weights, layer by layer: convolutions\n"
    "as im2col + OpenBLAS sgemm, depthwise convolutions, pooling, fully connected layers.\n"
    "MODEL: alexnet, mobilenet-v2, resnet-18, vgg-19, inception-v3, googlenet.\n"
    "\n"
    "  --input-size N      square input side (default 224; 299 for inception-v3)\n"
    "  --batch B           images per job (default 1)\n"
    "  --threads T         BLAS threads (default 1)\n"
    "  --iterations I      timed passes (default 1); --warmup W untimed passes (default 1)\n"
    "  --profile FILE      write the planner's layer profile (median per-layer time of the\n"
    "                      timed passes, output bytes, DAG edges; JSON, docs/JPS.md); - = stdout\n"
    "  --list-layers       print every layer with its output shape, bytes and FLOPs\n"
    "  --duration S        run passes for S seconds (a long-running task), print images/s\n"
    "  --seed S            weight/input seed (default 1)\n"
    "  --json              machine-readable output\n"
    "\n"
    "Offloading (docs/INFER.md): a batch of --jobs N runs as a two-stage pipeline: the\n"
    "device computes job i's local part while job i-1's tensor uploads.\n"
    "  --until LAYER       cut every job after LAYER (its ancestors run locally)\n"
    "  --plan P            cuts and order from the planner: lo, co, po or jps, for the link\n"
    "                      given by --bandwidth RATE (3g, 4g, wifi, 5.85mbit...) and --rtt MS,\n"
    "                      on --plan-profile FILE or a profile measured now\n"
    "  --offload HOST:PORT the server finishing the jobs\n"
    "  --timeout S         connect/send/receive timeout in seconds (default 30)\n"
    "  --serve PORT        receive tensors, finish the remaining layers, reply; --once\n"
    "                      serves one connection then exits (port 0 picks one, printed);\n"
    "                      MODEL (with --input-size/--batch) is built before listening\n"
    "\n"
    "Exit status: 0 ok, 1 failure (one line on stderr), 2 usage error.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("edgeslice-infer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'edgeslice-infer --help'.\n", stderr);
	return 2;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	fputs("edgeslice-infer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
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

/* Median per-layer time over `iters` passes (after `warmup`), per image; the median and the
 * 99th percentile (nearest rank) of the whole pass. */
static int measure(struct infer_model *m, unsigned warmup, unsigned iters, double *layer_ms,
		   double *ret_total_ms, double *ret_p99_ms)
{
	_cleanup_free_ double *all = calloc((size_t)m->n * iters, sizeof(double));
	_cleanup_free_ double *tot = calloc(iters, sizeof(double));
	_cleanup_free_ double *col = calloc(iters, sizeof(double));
	int r;

	if (!all || !tot || !col)
		return -ENOMEM;
	for (unsigned i = 0; i < warmup; i++)
		if ((r = infer_forward(m, NULL, NULL)) < 0)
			return r;
	for (unsigned i = 0; i < iters; i++) {
		uint64_t t0 = now_nsec();
		if ((r = infer_forward(m, NULL, all + (size_t)i * m->n)) < 0)
			return r;
		tot[i] = (double)(now_nsec() - t0) / 1e6;
	}
	for (size_t l = 0; l < m->n; l++) {
		for (unsigned i = 0; i < iters; i++)
			col[i] = all[(size_t)i * m->n + l];
		qsort(col, iters, sizeof(double), dcmp);
		layer_ms[l] = col[iters / 2] / m->batch;
	}
	qsort(tot, iters, sizeof(double), dcmp);
	*ret_total_ms = tot[iters / 2];
	if (ret_p99_ms)
		*ret_p99_ms = tot[(size_t)ceil(0.99 * iters) - 1];
	return 0;
}

static int serve(uint16_t port, const char *bind_addr, unsigned threads, bool once, uint64_t seed,
		 const char *preload, unsigned input, unsigned batch)
{
	_cleanup_close_ int lfd = -1;
	struct infer_model *cache = NULL;
	uint16_t bound;
	int r;

	/* Building a model allocates its weights (AlexNet: 244 MB): do it before the first
	 * request so it does not land in a measured batch. */
	if (preload) {
		r = infer_model_new(preload, input, batch, &cache);
		if (r == 0)
			r = infer_model_alloc(cache, seed);
		if (r < 0) {
			infer_model_free(cache);
			return fail("--preload: %s: %s", preload, strerror(-r));
		}
	}
	r = infer_listen(bind_addr, port, &lfd, &bound);
	if (r < 0) {
		infer_model_free(cache);
		return fail("--serve: cannot listen on port %u: %s", port, strerror(-r));
	}
	printf("listening on port %u\n", bound);
	fflush(stdout);
	infer_set_threads(threads);
	for (;;) {
		_cleanup_close_ int cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		r = infer_serve_conn(cfd, &cache, threads, seed);
		if (r < 0)
			fprintf(stderr, "edgeslice-infer: --serve: connection ended: %s\n",
				strerror(-r));
		if (once)
			break;
	}
	infer_model_free(cache);
	return r < 0 && !once ? 1 : 0;
}

static int parse_hostport(const char *s, char *host, size_t hl, uint16_t *port)
{
	const char *c = strrchr(s, ':');
	uint64_t p;
	size_t n;

	if (!c || c == s)
		return -EINVAL;
	n = (size_t)(c - s);
	if (s[0] == '[' && n >= 2 && s[n - 1] == ']') /* [v6]:port */
		s++, n -= 2;
	if (n >= hl || parse_u64(c + 1, &p) < 0 || p == 0 || p > 65535)
		return -EINVAL;
	memcpy(host, s, n);
	host[n] = 0;
	*port = (uint16_t)p;
	return 0;
}

struct infer_opts {
	unsigned input, batch, threads, iters, warmup, jobs, timeout;
	uint64_t seed, rate;
	double duration, rtt;
	const char *profile, *until, *plan, *plan_profile, *offload, *bind_addr;
	bool json, list, once, serving;
	uint16_t serve_port;
};

/* The options into o: -1 to go on, else the exit status (help shown or usage error printed). */
static int parse_opts(int argc, char **argv, struct infer_opts *o)
{
	static const struct option opts[] = {{"input-size", required_argument, NULL, 'i'},
					     {"batch", required_argument, NULL, 'b'},
					     {"threads", required_argument, NULL, 't'},
					     {"iterations", required_argument, NULL, 'n'},
					     {"warmup", required_argument, NULL, 'w'},
					     {"profile", required_argument, NULL, 'p'},
					     {"list-layers", no_argument, NULL, 'L'},
					     {"seed", required_argument, NULL, 's'},
					     {"json", no_argument, NULL, 'j'},
					     {"until", required_argument, NULL, 'u'},
					     {"plan", required_argument, NULL, 'P'},
					     {"bandwidth", required_argument, NULL, 'B'},
					     {"rtt", required_argument, NULL, 'r'},
					     {"plan-profile", required_argument, NULL, 'F'},
					     {"offload", required_argument, NULL, 'o'},
					     {"timeout", required_argument, NULL, 'T'},
					     {"serve", required_argument, NULL, 'S'},
					     {"bind", required_argument, NULL, 'A'},
					     {"once", no_argument, NULL, '1'},
					     {"jobs", required_argument, NULL, 'J'},
					     {"duration", required_argument, NULL, 'D'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	uint64_t v;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
#define U32(var, lo, hi, what)                                                                     \
	do {                                                                                       \
		if (parse_u64(optarg, &v) < 0 || v + 1 < (uint64_t)(lo) + 1 || v > (hi))           \
			return usage_error("--%s: must be an integer in %u..%u", what,             \
					   (unsigned)(lo), (unsigned)(hi));                        \
		var = (unsigned)v;                                                                 \
	} while (0)
		switch (c) {
		case 'i':
			U32(o->input, 16, 2048, "input-size");
			break;
		case 'b':
			U32(o->batch, 1, 256, "batch");
			break;
		case 't':
			U32(o->threads, 1, 256, "threads");
			break;
		case 'n':
			U32(o->iters, 1, 100000, "iterations");
			break;
		case 'w':
			U32(o->warmup, 0, 100000, "warmup");
			break;
		case 'J':
			U32(o->jobs, 1, 100000, "jobs");
			break;
		case 'T':
			U32(o->timeout, 1, 3600, "timeout");
			break;
		case 'D':
			if (parse_double(optarg, &o->duration) < 0 || !isfinite(o->duration) ||
			    o->duration <= 0 || o->duration > 1e7)
				return usage_error("--duration: must be a number of seconds > 0");
			break;
		case 'S':
			if (parse_u64(optarg, &v) < 0 || v > 65535)
				return usage_error("--serve: must be a port number 0..65535");
			o->serve_port = (uint16_t)v;
			o->serving = true;
			break;
		case 's':
			if (parse_u64(optarg, &o->seed) < 0)
				return usage_error("--seed: must be a non-negative integer");
			break;
		case 'p':
			o->profile = optarg;
			break;
		case 'L':
			o->list = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'u':
			o->until = optarg;
			break;
		case 'P':
			if (!jps_plan_name_valid(optarg))
				return usage_error("--plan: must be lo, co, po or jps");
			o->plan = optarg;
			break;
		case 'B':
			if (parse_rate(optarg, &o->rate) < 0)
				return usage_error(
				    "--bandwidth: must be 3g, 4g, wifi or a rate like 5.85mbit");
			break;
		case 'r':
			if (parse_double(optarg, &o->rtt) < 0 || !isfinite(o->rtt) || o->rtt < 0 ||
			    o->rtt > 1e6)
				return usage_error("--rtt: must be a number of milliseconds >= 0");
			break;
		case 'F':
			o->plan_profile = optarg;
			break;
		case 'o':
			o->offload = optarg;
			break;
		case 'A':
			o->bind_addr = optarg;
			break;
		case '1':
			o->once = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

static int list_layers(const struct infer_model *m)
{
	printf("%-28s %-8s %-16s %12s %12s  inputs\n", "layer", "op", "output", "bytes", "MFLOP");
	for (size_t i = 0; i < m->n; i++) {
		static const char *ops[] = {"conv", "maxpool", "avgpool", "gap",
					    "fc",   "add",     "concat"};
		const struct infer_layer *l = &m->layers[i];
		char shp[32];
		snprintf(shp, sizeof(shp), "%ux%ux%u", l->out.c, l->out.h, l->out.w);
		printf("%-28s %-8s %-16s %12llu %12.1f ", l->name,
		       l->op == INFER_CONV && l->groups > 1 ? "dwconv" : ops[l->op], shp,
		       (unsigned long long)infer_output_bytes(m, (uint32_t)i), l->flops / 1e6);
		for (uint32_t k = 0; k < l->n_in; k++)
			printf(" %s", l->in[k] == INFER_INPUT ? "input" : m->layers[l->in[k]].name);
		printf("\n");
	}
	return 0;
}

static int run_duration(struct infer_model *m, const struct infer_opts *o)
{
	int r;

	/* A long-running task (what the node service schedules): passes o->until the time
	 * is up, then the throughput. */
	uint64_t t0 = now_nsec(), end = t0 + (uint64_t)(o->duration * 1e9), passes = 0;
	while (now_nsec() < end) {
		if ((r = infer_forward(m, NULL, NULL)) < 0)
			return fail("forward pass: %s", strerror(-r));
		passes++;
	}
	double el = (double)(now_nsec() - t0) / 1e9;
	if (o->json)
		printf("{\"model\": \"%s\", \"threads\": %u, \"batch\": %u, \"passes\": %llu, "
		       "\"seconds\": %.3f, \"images_per_sec\": %.3f}\n",
		       m->name, o->threads, o->batch, (unsigned long long)passes, el,
		       passes * o->batch / el);
	else
		printf("%s: %llu passes in %.2f s, %.2f images/s (%u threads, batch %u)\n", m->name,
		       (unsigned long long)passes, el, passes * o->batch / el, o->threads,
		       o->batch);
	return 0;
}

static int run_timing(struct infer_model *m, const struct infer_opts *o)
{
	int r;

	/* Plain timing run (and o->profile). */
	_cleanup_free_ double *ms = calloc(m->n, sizeof(double));
	double total, p99;
	if (!ms)
		return fail("out of memory");
	r = measure(m, o->warmup, o->iters, ms, &total, &p99);
	if (r < 0)
		return fail("forward pass: %s", strerror(-r));
	if (o->profile) {
		_cleanup_(jmodelfree) struct jps_model *jm = NULL;
		_cleanup_free_ char *js = NULL;
		char src[96];
		snprintf(src, sizeof(src),
			 "measured: edgeslice-infer, %u threads, batch %u, median of %u",
			 o->threads, o->batch, o->iters);
		r = infer_to_jps(m, ms, src, &jm);
		if (r == 0)
			r = jps_profile_format(jm, &js);
		if (r < 0)
			return fail("--profile: %s", strerror(-r));
		if (strcmp(o->profile, "-") == 0)
			fputs(js, stdout);
		else if ((r = write_file_atomic_at(AT_FDCWD, o->profile, js, strlen(js), 0644)) < 0)
			return fail("--profile: %s: %s", o->profile, strerror(-r));
	}
	if (o->profile && strcmp(o->profile, "-") == 0)
		return 0;
	if (o->json) {
		printf("{\"model\": \"%s\", \"input_size\": %u, \"batch\": %u, "
		       "\"threads\": %u, "
		       "\"iterations\": %u, \"median_ms\": %.3f, \"p99_ms\": %.3f, "
		       "\"weight_bytes\": %zu, \"activation_bytes\": %zu, \"output0\": %g}\n",
		       m->name, m->in.h, o->batch, o->threads, o->iters, total, p99,
		       infer_weight_bytes(m), infer_activation_bytes(m),
		       m->layers[m->n - 1].act[0]);
	} else {
		printf("%s: %u x 3x%ux%u, %u threads: %.2f ms per pass (median of %u, p99 %.2f), "
		       "weights %.1f MB, activations %.1f MB\n",
		       m->name, o->batch, m->in.h, m->in.w, o->threads, total, o->iters, p99,
		       infer_weight_bytes(m) / 1e6, infer_activation_bytes(m) / 1e6);
	}
	return 0;
}

/* A batch: cuts from --until or the planner, run locally or offloaded. */
static int run_batch(struct infer_model *m, const struct infer_opts *o)
{
	int r;

	_cleanup_free_ int32_t *cuts = calloc(o->jobs, sizeof(int32_t));
	_cleanup_free_ struct infer_job_result *res = calloc(o->jobs, sizeof(*res));
	_cleanup_close_ int fd = -1;
	double predicted = NAN, makespan = 0;
	size_t failed = 0;
	char err[256] = "";

	if (!cuts || !res)
		return fail("out of memory");
	if (o->until) {
		uint32_t li;
		if (strcmp(o->until, "input") == 0 || strcmp(o->until, "none") == 0)
			li = INFER_INPUT;
		else if (infer_find_layer(m, o->until, &li) < 0)
			return usage_error("--until: unknown layer \"%s\" (see --list-layers)",
					   o->until);
		for (unsigned i = 0; i < o->jobs; i++)
			cuts[i] = li == INFER_INPUT ? JPS_CUT_CLOUD
				  : li == m->n - 1  ? JPS_CUT_LOCAL
						    : (int32_t)li;
	} else if (o->plan) {
		_cleanup_(jmodelfree) struct jps_model *jm = NULL;
		struct jps_chain ch;
		struct jps_link link;
		if (o->plan_profile) {
			r = jps_profile_load(o->plan_profile, &jm, err, sizeof(err));
			if (r < 0)
				return fail("--plan-profile: %s", err);
			if (jm->n_layers != m->n)
				return fail("--plan-profile: %s has %zu layers, %s has %zu",
					    o->plan_profile, jm->n_layers, m->name, m->n);
		} else {
			_cleanup_free_ double *ms = calloc(m->n, sizeof(double));
			double total;
			if (!ms || measure(m, o->warmup, o->iters, ms, &total, NULL) < 0)
				return fail("profiling pass failed");
			for (size_t i = 0; i < m->n; i++)
				ms[i] *= o->batch;
			if ((r = infer_to_jps(m, ms, "measured", &jm)) < 0)
				return fail("profile: %s", strerror(-r));
		}
		/* a o->batch > 1 uploads o->batch x the per-image bytes */
		for (size_t i = 0; i < jm->n_layers; i++)
			jm->layers[i].out_bytes *= o->batch;
		jm->input_bytes *= o->batch;
		jps_link_init(&link, o->rate, o->rtt);
		if ((r = jps_chain_from_model(jm, &link, &ch)) < 0)
			return fail("planner: %s", strerror(-r));
		r = jps_plan_cuts(&ch, o->plan, o->jobs, cuts, &predicted);
		jps_chain_done(&ch);
		if (r < 0)
			return fail("planner: %s", strerror(-r));
	} else {
		for (unsigned i = 0; i < o->jobs; i++)
			cuts[i] = JPS_CUT_LOCAL;
	}
	for (unsigned i = 0; i < o->jobs; i++)
		if (cuts[i] != JPS_CUT_LOCAL && !o->offload)
			return usage_error(
			    "--offload: required when jobs are cut (job %u is cut %s)", i,
			    cuts[i] < 0 ? "before the first layer" : m->layers[cuts[i]].name);
	if (o->offload) {
		char host[256];
		uint16_t port;
		if (parse_hostport(o->offload, host, sizeof(host), &port) < 0)
			return usage_error("--offload: must be HOST:PORT");
		r = infer_connect(host, port, o->timeout * 1000, &fd);
		if (r < 0)
			return fail("--offload: cannot connect to %s: %s", o->offload,
				    strerror(-r));
	}
	r = infer_run_batch(m, fd, cuts, o->jobs, res, &makespan, &failed, err, sizeof(err));
	if (r < 0)
		return fail("offload: job %zu of %u: %s", failed, o->jobs, err);
	/* what the planner predicts: last upload arrival (same host) or local compute end
	 */
	double two_stage = 0;
	for (unsigned i = 0; i < o->jobs; i++) {
		double end = res[i].cut == JPS_CUT_LOCAL || res[i].upload_ms <= 0
				 ? res[i].done_ms
				 : res[i].upload_ms;
		if (end > two_stage)
			two_stage = end;
	}
	if (o->json) {
		_cleanup_(jfree) json_object *jo = json_object_new_object();
		json_object *ja = json_object_new_array();
		json_object_object_add(jo, "model", json_object_new_string(m->name));
		json_object_object_add(jo, "jobs", json_object_new_int(o->jobs));
		json_object_object_add(jo, "plan",
				       json_object_new_string(o->plan	 ? o->plan
							      : o->until ? "until"
									 : "lo"));
		json_object_object_add(jo, "makespan_ms", json_object_new_double(makespan));
		json_object_object_add(jo, "two_stage_makespan_ms",
				       json_object_new_double(two_stage));
		if (!isnan(predicted))
			json_object_object_add(jo, "predicted_ms",
					       json_object_new_double(predicted));
		for (unsigned i = 0; i < o->jobs; i++) {
			json_object *e = json_object_new_object();
			json_object_object_add(
			    e, "cut",
			    json_object_new_string(res[i].cut == JPS_CUT_LOCAL ? "(local-only)"
						   : res[i].cut < 0	       ? "(cloud-only)"
								    : m->layers[res[i].cut].name));
			json_object_object_add(e, "local_ms",
					       json_object_new_double(res[i].local_ms));
			json_object_object_add(e, "upload_done_ms",
					       json_object_new_double(res[i].upload_ms));
			json_object_object_add(e, "done_ms",
					       json_object_new_double(res[i].done_ms));
			json_object_object_add(e, "server_ms",
					       json_object_new_double(res[i].server_ms));
			json_object_object_add(e, "upload_bytes",
					       json_object_new_int64((int64_t)res[i].bytes));
			json_object_object_add(e, "crc32c", json_object_new_int64(res[i].crc));
			json_object_object_add(e, "output0", json_object_new_double(res[i].out0));
			json_object_array_add(ja, e);
		}
		json_object_object_add(jo, "results", ja);
		printf("%s\n", json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PLAIN));
	} else {
		for (unsigned i = 0; i < o->jobs; i++)
			printf("job %u: cut %-20s local %8.2f ms, done at %9.2f ms, %8llu "
			       "B, crc %08x\n",
			       i,
			       res[i].cut == JPS_CUT_LOCAL ? "(local-only)"
			       : res[i].cut < 0		   ? "(cloud-only)"
							   : m->layers[res[i].cut].name,
			       res[i].local_ms, res[i].done_ms, (unsigned long long)res[i].bytes,
			       res[i].crc);
		printf("makespan %.2f ms (last reply), %.2f ms (last upload arrival / "
		       "local end)",
		       makespan, two_stage);
		if (!isnan(predicted))
			printf(" (planner predicted %.2f ms)", predicted);
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct infer_opts o = {
	    .batch = 1, .threads = 1, .iters = 1, .warmup = 1, .timeout = 30, .seed = 1};
	_cleanup_(modelfree) struct infer_model *m = NULL;
	int r;

	signal(SIGPIPE, SIG_IGN);
	r = parse_opts(argc, argv, &o);
	if (r >= 0)
		return r;
	if (o.serving) {
		if (optind < argc - 1)
			return usage_error(
			    "--serve: at most one MODEL to preload (requests name theirs)");
		return serve(o.serve_port, o.bind_addr, o.threads, o.once, o.seed,
			     optind < argc ? argv[optind] : NULL, o.input, o.batch);
	}
	if (optind != argc - 1)
		return usage_error("MODEL: exactly one model required");
	if (o.until && o.plan)
		return usage_error("--until and --plan are exclusive");
	if (o.plan && !o.rate)
		return usage_error("--bandwidth: required with --plan");
	if ((o.until || o.plan) && !o.jobs)
		o.jobs = 1;
	r = infer_model_new(argv[optind], o.input, o.batch, &m);
	if (r == -ENOENT)
		return usage_error("MODEL: unknown model \"%s\" (alexnet, mobilenet-v2, resnet-18, "
				   "vgg-19, inception-v3, googlenet)",
				   argv[optind]);
	if (r < 0)
		return usage_error("--input-size: %u is too small for %s", o.input, argv[optind]);
	if (o.list)
		return list_layers(m);
	infer_set_threads(o.threads);
	r = infer_model_alloc(m, o.seed);
	if (r < 0)
		return fail("%s: cannot allocate weights (%.1f MB): %s", m->name,
			    infer_weight_bytes(m) / 1e6, strerror(-r));

	if (o.duration > 0)
		return run_duration(m, &o);
	if (!o.jobs)
		return run_timing(m, &o);
	return run_batch(m, &o);
}
