/* cmd_probe.c — `edgeslice probe`: samples cgroups directly with the probes module (eBPF
 * scheduler probe + cgroup files), without the daemon; the measurement side of status. */
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <time.h>

#include "cli.h"
#include "probes.h"
#include "sampler.h"
#include "util.h"

#define CMD "probe"

static void help(void)
{
	printf(
	    "Usage: edgeslice probe [OPTIONS] CGROUP...\n"
	    "\n"
	    "Measure cgroup v2 directories the way edgesliced does for RD-DRF: cores used\n"
	    "(cpu.stat), memory (memory.current, memory.peak), time throttled by cpu.max,\n"
	    "pressure (PSI some avg10) and, where the kernel has BTF, run-queue latency p99\n"
	    "and on-CPU time from the eBPF scheduler probe. Each CGROUP is a directory in a\n"
	    "cgroup2 mount, e.g. /sys/fs/cgroup/edgeslice/task-1.\n"
	    "\n"
	    "Rates need two readings, so the first report comes after one interval.\n"
	    "\n"
	    "Options:\n"
	    "  -i, --interval SEC   seconds between readings (default 1; 0.05..3600)\n"
	    "  -n, --count N        reports to print, then exit (default 1)\n"
	    "  -a, --alpha A        EWMA weight of the newest interval, (0,1] (default 1:\n"
	    "                       unsmoothed)\n"
	    "      --no-bpf         cgroup files only (do not load the eBPF probe)\n"
	    "      --proc DIR       procfs root for the node line (default /proc)\n"
	    "      --json           one JSON object per report: {\"node\":{...},\"tasks\":[...]}\n"
	    "  -h, --help           this help\n"
	    "\n"
	    "Columns: CORES from cpu.stat; BPF cores from the eBPF probe (credited at context\n"
	    "switch, so a task that never switches out shows less over short intervals);\n"
	    "RQ.P99 run-queue latency p99; THR share of wall time throttled; PSI some avg10 in\n"
	    "percent for cpu/memory/io. \"-\" means the kernel does not provide it here (no\n"
	    "memory controller, PSI off, no BTF). Missing kernel features are explained once on\n"
	    "stderr.\n"
	    "\n"
	    "Exit status: 0 ok, 1 a cgroup could not be read, 2 usage error, 69 no procfs.\n");
}

static void fmt_bytes(char *buf, size_t size, bool have, uint64_t v)
{
	static const char units[] = "BKMGT";
	double d = (double)v;
	int u = 0;
	if (!have) {
		snprintf(buf, size, "-");
		return;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f%c" : "%.0f%c", d, units[u]);
}

static void fmt_us(char *buf, size_t size, bool have, double ns)
{
	if (!have)
		snprintf(buf, size, "-");
	else if (ns >= 1e6)
		snprintf(buf, size, "%.1fms", ns / 1e6);
	else
		snprintf(buf, size, "%.0fus", ns / 1e3);
}

static void fmt_psi(char *buf, size_t size, bool have, const struct probe_psi *p)
{
	if (have)
		snprintf(buf, size, "%.1f", p->some.avg10);
	else
		snprintf(buf, size, "-");
}

static void print_text(struct sampler *s, char **paths, size_t n)
{
	struct sampler_node nd;
	printf("%-40s %6s %6s %8s %8s %8s %5s %5s %5s %5s\n", "CGROUP", "CORES", "BPF", "MEM",
	       "PEAK", "RQ.P99", "THR", "P.CPU", "P.MEM", "P.IO");
	for (size_t i = 0; i < n; i++) {
		struct sampler_task t;
		char mem[16], peak[16], rq[16], pc[16], pm[16], pi[16], bpf[16], thr[16];
		if (sampler_task_get(s, i, &t) < 0)
			continue;
		fmt_bytes(mem, sizeof(mem), t.have & PROBE_HAVE_MEM, t.mem_bytes);
		fmt_bytes(peak, sizeof(peak), t.have & PROBE_HAVE_MEM_PEAK, t.mem_peak_bytes);
		fmt_us(rq, sizeof(rq), t.have_bpf && t.rq_p99_ns > 0, t.rq_p99_ns);
		fmt_psi(pc, sizeof(pc), t.have & PROBE_HAVE_PSI_CPU, &t.psi_cpu);
		fmt_psi(pm, sizeof(pm), t.have & PROBE_HAVE_PSI_MEM, &t.psi_mem);
		fmt_psi(pi, sizeof(pi), t.have & PROBE_HAVE_PSI_IO, &t.psi_io);
		if (t.have_bpf)
			snprintf(bpf, sizeof(bpf), "%.2f", t.bpf_cores);
		else
			snprintf(bpf, sizeof(bpf), "-");
		if (t.have & PROBE_HAVE_THROTTLE)
			snprintf(thr, sizeof(thr), "%.0f%%", t.throttled_frac * 100);
		else
			snprintf(thr, sizeof(thr), "-");
		printf("%-40s %6.2f %6s %8s %8s %8s %5s %5s %5s %5s%s\n", paths[i], t.cores, bpf,
		       mem, peak, rq, thr, pc, pm, pi,
		       t.gone	 ? "  (gone)"
		       : t.stale ? "  (stale)"
				 : "");
	}
	if (sampler_node_get(s, &nd) == 0) {
		char avail[16], pc[16], pm[16], pi[16];
		fmt_bytes(avail, sizeof(avail), true, nd.mem_available);
		fmt_psi(pc, sizeof(pc), nd.have & PROBE_HAVE_PSI_CPU, &nd.psi_cpu);
		fmt_psi(pm, sizeof(pm), nd.have & PROBE_HAVE_PSI_MEM, &nd.psi_mem);
		fmt_psi(pi, sizeof(pi), nd.have & PROBE_HAVE_PSI_IO, &nd.psi_io);
		printf("node: %u CPUs, %.2f busy, MemAvailable %s, PSI some avg10 cpu %s memory %s "
		       "io %s\n",
		       nd.ncpus, nd.cores_busy, avail, pc, pm, pi);
	}
}

static int print_json(struct sampler *s, size_t n)
{
	struct json_object *o = json_object_new_object(), *tasks = json_object_new_array(),
			   *x = NULL;
	struct sampler_node nd;
	int r = -ENOMEM;

	if (!o || !tasks)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct sampler_task t;
		if (sampler_task_get(s, i, &t) < 0 || sampler_task_json(&t, &x) < 0)
			goto out;
		if (json_object_array_add(tasks, x) < 0) {
			json_object_put(x);
			goto out;
		}
	}
	if (sampler_node_get(s, &nd) == 0 && sampler_node_json(&nd, &x) == 0)
		json_object_object_add(o, "node", x);
	json_object_object_add(o, "tasks", tasks);
	tasks = NULL;
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	r = 0;
out:
	json_object_put(tasks);
	json_object_put(o);
	return r;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmd_probe(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"interval", required_argument, NULL, 'i'}, {"count", required_argument, NULL, 'n'},
	    {"alpha", required_argument, NULL, 'a'},	{"no-bpf", no_argument, NULL, 'B'},
	    {"proc", required_argument, NULL, 'P'},	{"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},		{}};
	struct sampler_params p;
	struct sampler *s = NULL;
	double interval = 1.0;
	uint64_t count = 1;
	bool json = false;
	int c, r, rc = ES_EXIT_OK;

	sampler_params_init(&p);
	p.alpha = 1.0;
	p.slow_period_s = 0; /* an interactive reading wants every file every time */
	optind = 1;
	while ((c = getopt_long(argc, argv, "i:n:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (parse_double(optarg, &interval) < 0 ||
			    !(interval >= 0.05 && interval <= 3600))
				return cli_usage_error(
				    CMD, "--interval: must be seconds between 0.05 and 3600");
			break;
		case 'n':
			if (parse_u64(optarg, &count) < 0 || count == 0 || count > 1000000)
				return cli_usage_error(CMD, "--count: must be a positive integer");
			break;
		case 'a':
			if (parse_double(optarg, &p.alpha) < 0 || !(p.alpha > 0 && p.alpha <= 1))
				return cli_usage_error(CMD, "--alpha: must be in (0, 1]");
			break;
		case 'B':
			p.use_bpf = false;
			break;
		case 'P':
			p.proc_root = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			help();
			return ES_EXIT_OK;
		default:
			return ES_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error(CMD, "CGROUP: at least one cgroup directory is required");
	p.stale_after_s = interval * 3;

	r = sampler_new(&p, &s);
	if (r < 0)
		return r == -ENOENT ? (cli_error(CMD, "%s: %s", p.proc_root, strerror(-r)),
				       ES_EXIT_UNAVAILABLE)
				    : cli_error(CMD, "%s", strerror(-r));
	if (p.use_bpf && sampler_bpf_error(s) < 0)
		fprintf(stderr,
			"edgeslice probe: eBPF probe off (%s): measuring from cgroup files only\n",
			probe_bpf_error_reason(sampler_bpf_error(s)));
	size_t n = (size_t)(argc - optind);
	for (size_t i = 0; i < n; i++) {
		r = sampler_add_task(s, i, AT_FDCWD, argv[optind + i]);
		if (r < 0) {
			rc = cli_error(CMD, "%s: %s", argv[optind + i],
				       r == -ENOENT ? "not a cgroup v2 directory (no cpu.stat)"
						    : strerror(-r));
			goto out;
		}
	}
	r = sampler_tick(s, now_usec());
	if (r < 0) {
		rc = cli_error(CMD, "%s: %s", p.proc_root, strerror(-r));
		goto out;
	}
	for (uint64_t k = 0; k < count; k++) {
		sleep_s(interval);
		(void)sampler_tick(s, now_usec());
		if (json) {
			if (print_json(s, n) < 0) {
				rc = cli_error(CMD, "out of memory");
				goto out;
			}
		} else
			print_text(s, argv + optind, n);
		fflush(stdout);
	}
	for (size_t i = 0; i < n; i++) {
		struct sampler_task t;
		if (sampler_task_get(s, i, &t) == 0 && (t.gone || t.stale))
			rc = ES_EXIT_FAILURE;
	}
out:
	sampler_free(s);
	return rc;
}
ES_COMMAND("probe", cmd_probe,
	   "Measure cgroups like the daemon does (cores, memory, run-queue p99, PSI)");
