/* cmd_profile.c — `edgeslice profile MODEL --cores 1..N`: whole-model time per core count
 * on this machine, the efficiency indicator (eq. 4) and the CPU/memory demand it selects. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "dconf.h"
#include "infer.h"
#include "policy.h"
#include "util.h"

#define MAX_CORES 256

static const char usage[] =
    "Usage: edgeslice profile MODEL [--cores 1..N] [--iterations I] [--input-size N]\n"
    "                         [--batch B] [--eta E] [--json]\n"
    "                         [--catalog FILE [--rule knee|literal] [--duration S]]\n"
    "\n"
    "Measure MODEL's whole forward pass (edgeslice-infer's kernels, generated weights) on\n"
    "1..N cores and print the time per core count, the efficiency indicator of eq. (4),\n"
    "Efficiency(c) = T(1) / (T(c) * c), and the demand each rule selects: the literal\n"
    "rule (highest efficiency, ties to fewer cores) and the knee rule (largest c with\n"
    "Efficiency(c) >= eta). Memory demand is the measured peak resident set. This is how\n"
    "the model catalog's demands are produced for a device.\n"
    "\n"
    "  MODEL            alexnet, mobilenet-v2, resnet-18, vgg-19, inception-v3, googlenet\n"
    "  --cores 1..N     core counts to measure (default 1..online CPUs); 'N' alone = 1..N\n"
    "  --iterations I   timed passes per core count, median reported (default 5)\n"
    "  --input-size N   input side (default the model's); --batch B images (default 1)\n"
    "  --eta E          knee threshold in (0, 1] (default 0.75)\n"
    "  --json           machine-readable output\n"
    "  --catalog FILE   add or replace MODEL in the daemon's model catalog FILE (created if\n"
    "                   missing; e.g. /etc/edgeslice/models.json): cpu = the demand of\n"
    "                   --rule (default knee), memory = peak RSS + 20 %, rounded up to MiB,\n"
    "                   command = edgeslice-infer MODEL --threads CPU --duration S (default\n"
    "                   10) — what `edgeslice submit --queue MODEL` runs without a command.\n"
    "                   The other entries are kept; the file is replaced atomically.\n"
    "\n"
    "Cores are OpenBLAS threads; pin with a cpuset (cgroup) for exclusive cores.\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

static int dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void modelfree(struct infer_model **m)
{
	infer_model_free(*m);
}
static void jfree(json_object **o)
{
	if (*o)
		json_object_put(*o);
}

static int parse_cores_range(const char *s, unsigned *lo, unsigned *hi)
{
	uint64_t a, b;
	const char *dots = strstr(s, "..");
	if (!dots) {
		if (parse_u64(s, &b) < 0)
			return -EINVAL;
		a = 1;
	} else {
		char first[32];
		size_t n = (size_t)(dots - s);
		if (n == 0 || n >= sizeof(first))
			return -EINVAL;
		memcpy(first, s, n);
		first[n] = 0;
		if (parse_u64(first, &a) < 0 || parse_u64(dots + 2, &b) < 0)
			return -EINVAL;
	}
	if (a < 1 || b < a || b > MAX_CORES)
		return -ERANGE;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

/* Adds or replaces one entry of a model catalog file, validated before and after with the
 * daemon's own parser so a bad file is reported, never overwritten or produced. */
static int catalog_update(const char *path, const char *model, unsigned cpu, uint64_t mem,
			  unsigned input, unsigned batch, double duration)
{
	_cleanup_free_ char *text = NULL, *exe = NULL;
	_cleanup_(jfree) json_object *root = NULL;
	struct dconf_model *check = NULL;
	json_object *arr, *e, *cmd;
	const char *out;
	char err[256], buf[64], *slash;
	size_t n = 0;
	int r = read_file_at(AT_FDCWD, path, &text, NULL);

	if (r < 0 && r != -ENOENT)
		return cli_error("profile", "--catalog: %s: %s", path, strerror(-r));
	if (text) {
		if (dconf_parse_models(text, &check, &n, err, sizeof(err)) < 0)
			return cli_error("profile", "--catalog: %s: %s; not changed", path, err);
		free(check);
		root = json_tokener_parse(text);
	} else {
		root = json_object_new_object();
		json_object_object_add(root, "models", json_object_new_array());
	}
	if (!root || !json_object_object_get_ex(root, "models", &arr))
		return cli_error("profile", "--catalog: %s: cannot read", path);
	e = json_object_new_object();
	json_object_object_add(e, "name", json_object_new_string(model));
	json_object_object_add(e, "cpu", json_object_new_int((int)cpu));
	snprintf(buf, sizeof(buf), "%" PRIu64 "M", (mem + (1u << 20) - 1) >> 20);
	json_object_object_add(e, "memory", json_object_new_string(buf));
	/* The edgeslice-infer next to this edgeslice: the daemon's PATH may not have it. */
	exe = realpath("/proc/self/exe", NULL);
	slash = exe ? strrchr(exe, '/') : NULL;
	cmd = json_object_new_array();
	if (slash) {
		*slash = '\0';
		snprintf(err, sizeof(err), "%.200s/edgeslice-infer", exe);
		json_object_array_add(
		    cmd, json_object_new_string(access(err, X_OK) == 0 ? err : "edgeslice-infer"));
	} else
		json_object_array_add(cmd, json_object_new_string("edgeslice-infer"));
	json_object_array_add(cmd, json_object_new_string(model));
	json_object_array_add(cmd, json_object_new_string("--threads"));
	snprintf(buf, sizeof(buf), "%u", cpu);
	json_object_array_add(cmd, json_object_new_string(buf));
	json_object_array_add(cmd, json_object_new_string("--duration"));
	snprintf(buf, sizeof(buf), "%g", duration);
	json_object_array_add(cmd, json_object_new_string(buf));
	if (input) {
		json_object_array_add(cmd, json_object_new_string("--input-size"));
		snprintf(buf, sizeof(buf), "%u", input);
		json_object_array_add(cmd, json_object_new_string(buf));
	}
	if (batch > 1) {
		json_object_array_add(cmd, json_object_new_string("--batch"));
		snprintf(buf, sizeof(buf), "%u", batch);
		json_object_array_add(cmd, json_object_new_string(buf));
	}
	json_object_object_add(e, "command", cmd);
	for (n = 0; n < json_object_array_length(arr); n++) {
		json_object *x = json_object_array_get_idx(arr, n), *nm;
		if (json_object_object_get_ex(x, "name", &nm) &&
		    !strcmp(json_object_get_string(nm), model))
			break;
	}
	if (n < json_object_array_length(arr))
		json_object_array_put_idx(arr, n, e);
	else
		json_object_array_add(arr, e);
	out = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (dconf_parse_models(out, &check, &n, err, sizeof(err)) < 0)
		return cli_error("profile", "--catalog: the new entry is invalid: %s; not changed",
				 err);
	free(check);
	_cleanup_free_ char *withnl = NULL;
	if (asprintf(&withnl, "%s\n", out) < 0)
		return cli_error("profile", "out of memory");
	r = write_file_atomic_at(AT_FDCWD, path, withnl, strlen(withnl), 0644);
	if (r < 0)
		return cli_error("profile", "--catalog: %s: %s", path, strerror(-r));
	return ES_EXIT_OK;
}

/* A bad catalog fails before minutes of measuring, not after. */
static int check_catalog(const char *catalog)
{
	_cleanup_free_ char *text = NULL;
	struct dconf_model *check = NULL;
	size_t n = 0;
	char err[256];
	int r;

	r = read_file_at(AT_FDCWD, catalog, &text, NULL);
	if (r < 0 && r != -ENOENT)
		return cli_error("profile", "--catalog: %s: %s", catalog, strerror(-r));
	if (text && dconf_parse_models(text, &check, &n, err, sizeof(err)) < 0)
		return cli_error("profile", "--catalog: %s: %s; not changed", catalog, err);
	free(check);
	return ES_EXIT_OK;
}

/* t[k - 1]: the median time of one forward pass on k threads, k = 1..hi. */
static int measure_cores(struct infer_model *m, unsigned hi, unsigned iters, double *t)
{
	int r;

	for (unsigned k = 1; k <= hi; k++) {
		_cleanup_free_ double *s = calloc(iters, sizeof(double));
		if (!s)
			return cli_error("profile", "out of memory");
		infer_set_threads(k);
		if ((r = infer_forward(m, NULL, NULL)) < 0) /* warm-up: caches, thread start */
			return cli_error("profile", "forward pass: %s", strerror(-r));
		for (unsigned i = 0; i < iters; i++) {
			uint64_t a = now_nsec();
			infer_forward(m, NULL, NULL);
			s[i] = (double)(now_nsec() - a) / 1e6;
		}
		qsort(s, iters, sizeof(double), dcmp);
		t[k - 1] = s[iters / 2];
	}
	return ES_EXIT_OK;
}

static void print_json(const struct infer_model *m, unsigned batch, unsigned iters, unsigned hi,
		       const double *t, const double *eff, double eta, unsigned pick_lit,
		       unsigned pick_knee, const struct rusage *ru)
{
	_cleanup_(jfree) json_object *o = json_object_new_object();
	json_object *rows = json_object_new_array();
	json_object_object_add(o, "model", json_object_new_string(m->name));
	json_object_object_add(o, "input_size", json_object_new_int((int)m->in.h));
	json_object_object_add(o, "batch", json_object_new_int((int)batch));
	json_object_object_add(o, "iterations", json_object_new_int((int)iters));
	for (unsigned k = 1; k <= hi; k++) {
		json_object *e = json_object_new_object();
		json_object_object_add(e, "cores", json_object_new_int((int)k));
		json_object_object_add(e, "time_ms", json_object_new_double(t[k - 1]));
		json_object_object_add(e, "efficiency", json_object_new_double(eff[k - 1]));
		json_object_array_add(rows, e);
	}
	json_object_object_add(o, "measurements", rows);
	json_object_object_add(o, "eta", json_object_new_double(eta));
	json_object_object_add(o, "cores_literal", json_object_new_int((int)pick_lit));
	json_object_object_add(o, "cores_knee", json_object_new_int((int)pick_knee));
	json_object_object_add(o, "mem_peak_bytes",
			       json_object_new_int64((int64_t)ru->ru_maxrss * 1024));
	json_object_object_add(o, "weight_bytes",
			       json_object_new_int64((int64_t)infer_weight_bytes(m)));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
}

static int cmd_profile(int argc, char **argv)
{
	static const struct option opts[] = {{"cores", required_argument, NULL, 'c'},
					     {"iterations", required_argument, NULL, 'n'},
					     {"input-size", required_argument, NULL, 'i'},
					     {"batch", required_argument, NULL, 'b'},
					     {"eta", required_argument, NULL, 'e'},
					     {"json", no_argument, NULL, 'j'},
					     {"catalog", required_argument, NULL, 'C'},
					     {"rule", required_argument, NULL, 'r'},
					     {"duration", required_argument, NULL, 'D'},
					     {"help", no_argument, NULL, 'h'},
					     {}};
	const char *catalog = NULL;
	bool knee = true;
	double duration = 10;
	unsigned lo = 1, hi = 0, iters = 5, input = 0, batch = 1, pick_lit = 0, pick_knee = 0;
	double eta = 0.75, t[MAX_CORES], eff[MAX_CORES];
	bool json = false;
	uint64_t v;
	_cleanup_(modelfree) struct infer_model *m = NULL;
	struct rusage ru;
	int c, r;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_cores_range(optarg, &lo, &hi) < 0)
				return cli_usage_error(
				    "profile",
				    "--cores: must be N or LO..HI with 1 <= LO <= HI <= %d",
				    MAX_CORES);
			break;
		case 'n':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 1000)
				return cli_usage_error(
				    "profile", "--iterations: must be an integer in 1..1000");
			iters = (unsigned)v;
			break;
		case 'i':
			if (parse_u64(optarg, &v) < 0 || v < 16 || v > 2048)
				return cli_usage_error(
				    "profile", "--input-size: must be an integer in 16..2048");
			input = (unsigned)v;
			break;
		case 'b':
			if (parse_u64(optarg, &v) < 0 || v < 1 || v > 256)
				return cli_usage_error("profile",
						       "--batch: must be an integer in 1..256");
			batch = (unsigned)v;
			break;
		case 'e':
			if (parse_double(optarg, &eta) < 0 || !(eta > 0 && eta <= 1))
				return cli_usage_error("profile",
						       "--eta: must be a number in (0, 1]");
			break;
		case 'j':
			json = true;
			break;
		case 'C':
			if (!*optarg)
				return cli_usage_error("profile", "--catalog: must be a file path");
			catalog = optarg;
			break;
		case 'r':
			if (!strcmp(optarg, "knee"))
				knee = true;
			else if (!strcmp(optarg, "literal"))
				knee = false;
			else
				return cli_usage_error("profile",
						       "--rule: must be knee or literal");
			break;
		case 'D':
			if (parse_double(optarg, &duration) < 0 ||
			    !(duration > 0 && duration <= 86400))
				return cli_usage_error("profile",
						       "--duration: must be seconds in (0, 86400]");
			break;
		case 'h':
			fputs(usage, stdout);
			return ES_EXIT_OK;
		default:
			return cli_usage_error("profile",
					       "unknown or incomplete option '%s' (see --help)",
					       argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("profile", "MODEL: exactly one model required");
	if (!hi) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		hi = n > 0 && n <= MAX_CORES ? (unsigned)n : 1;
	}
	if (lo != 1)
		return cli_usage_error("profile",
				       "--cores: must start at 1 (eq. 4 divides by T(1))");
	if (catalog && (r = check_catalog(catalog)) != ES_EXIT_OK)
		return r;
	r = infer_model_new(argv[optind], input, batch, &m);
	if (r == -ENOENT)
		return cli_usage_error("profile", "MODEL: unknown model \"%s\"", argv[optind]);
	if (r < 0)
		return cli_usage_error("profile", "--input-size: too small for %s", argv[optind]);
	r = infer_model_alloc(m, 1);
	if (r < 0)
		return cli_error("profile", "%s: cannot allocate: %s", m->name, strerror(-r));
	r = measure_cores(m, hi, iters, t);
	if (r != ES_EXIT_OK)
		return r;
	infer_set_threads(1);
	if ((r = policy_efficiency(t, hi, eff)) < 0 ||
	    (r = policy_pick_cores(t, hi, POLICY_EFF_LITERAL, eta, &pick_lit)) < 0 ||
	    (r = policy_pick_cores(t, hi, POLICY_EFF_KNEE, eta, &pick_knee)) < 0)
		return cli_error("profile", "efficiency: %s", strerror(-r));
	getrusage(RUSAGE_SELF, &ru);
	if (json) {
		print_json(m, batch, iters, hi, t, eff, eta, pick_lit, pick_knee, &ru);
	} else {
		printf("%s: %u x 3x%ux%u, median of %u passes per core count\n", m->name, batch,
		       m->in.h, m->in.w, iters);
		printf("%6s %10s %8s %11s\n", "cores", "time ms", "speedup", "efficiency");
		for (unsigned k = 1; k <= hi; k++)
			printf("%6u %10.2f %8.2f %11.3f\n", k, t[k - 1], t[0] / t[k - 1],
			       eff[k - 1]);
		printf("demand (literal eq. 4): cpu %u, memory %.1f MiB (peak RSS)\n", pick_lit,
		       (double)ru.ru_maxrss / 1024);
		printf("demand (knee, eta %.2f): cpu %u, memory %.1f MiB (peak RSS)\n", eta,
		       pick_knee, (double)ru.ru_maxrss / 1024);
	}
	if (catalog) {
		/* 20 % over the profile's own peak: the task's process differs (binary, threads).
		 */
		uint64_t mem = (uint64_t)ru.ru_maxrss * 1024 / 5 * 6;
		unsigned cpu = knee ? pick_knee : pick_lit;
		r = catalog_update(catalog, m->name, cpu, mem, input, batch, duration);
		if (r)
			return r;
		if (!json)
			printf("%s: %s: cpu %u, memory %" PRIu64 "M (rule %s)\n", catalog, m->name,
			       cpu, (mem + (1u << 20) - 1) >> 20, knee ? "knee" : "literal");
	}
	return ES_EXIT_OK;
}
ES_COMMAND("profile", cmd_profile,
	   "Measure a model per core count and derive its CPU/memory demand");
