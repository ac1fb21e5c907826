/* probes_bench.c — measures, in one run, the eBPF probe's cost per scheduler event, the cost
 * of one sampling tick per task (kept-open pread vs open+read+close) and the sampler's CPU. */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "probes.h"
#include "sampler.h"
#include "util.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "nop.skel.h"

static char cg2[4096];
static int topfd = -1;

static int find_cgroup2(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mounts", "re");
	char dev[256], type[64];
	const char *env = getenv("ES_CGROUP2");

	if (env) {
		snprintf(cg2, sizeof(cg2), "%s", env);
		return 0;
	}
	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, cg2, type) == 3)
		if (strcmp(type, "cgroup2") == 0)
			return 0;
	return -ENOENT;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Context-switch-heavy load: two processes ping-ponging a byte over pipes, both pinned to
 * CPU 0 so every round trip is two switches. Runs in cgroup cgfd for secs seconds. */
static void pingpong(int cgfd, double secs)
{
	int a[2], b[2];
	pid_t pid[2];

	if (pipe(a) < 0 || pipe(b) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			cpu_set_t set;
			char c = 0;
			uint64_t end = now_usec() + (uint64_t)(secs * 1e6);
			CPU_ZERO(&set);
			CPU_SET(0, &set);
			(void)sched_setaffinity(0, sizeof(set), &set);
			if (cgfd >= 0)
				(void)write_string_at(cgfd, "cgroup.procs", "0");
			int in = i ? a[0] : b[0], out = i ? b[1] : a[1];
			/* Only our two ends stay open, so the partner's exit reads as EOF. */
			close(i ? a[1] : b[1]);
			close(i ? b[0] : a[0]);
			if (i == 0)
				(void)!write(out, &c, 1);
			for (unsigned n = 0;; n++) {
				if (read(in, &c, 1) != 1)
					_exit(0);
				if ((n & 1023) == 0 && now_usec() > end)
					_exit(0);
				if (write(out, &c, 1) != 1)
					_exit(0);
			}
		}
	}
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
	for (int i = 0; i < 2; i++)
		waitpid(pid[i], NULL, 0);
}

struct bpf_cost {
	double ns_per_event;
	uint64_t events;
	uint64_t switches_in_cg;
};

static int bpf_cost(bool in_filter, struct bpf_cost *ret)
{
	struct probe_bpf *b = NULL;
	struct probe_bpf_prog_stats s0, s1;
	struct probe_bpf_cg c = {};
	_cleanup_close_ int statsfd = -1;
	_cleanup_close_ int fd = -1;
	uint64_t id;
	int r;

	if (mkdirat(topfd, "pp", 0755) < 0 && errno != EEXIST)
		return negative_errno();
	fd = openat(topfd, "pp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negative_errno();
	r = probe_bpf_open(NULL, &b);
	if (r < 0)
		return r;
	r = probe_bpf_enable_stats(&statsfd);
	if (r < 0)
		goto out;
	if ((r = probe_cgroup_id_at(fd, ".", &id)) < 0)
		goto out;
	if (in_filter && (r = probe_bpf_add_cgroup(b, id)) < 0)
		goto out;
	probe_bpf_prog_stats(b, &s0);
	pingpong(fd, 2.0);
	probe_bpf_prog_stats(b, &s1);
	if (in_filter)
		(void)probe_bpf_read_cgroup(b, id, &c);
	ret->events = s1.run_cnt - s0.run_cnt;
	ret->ns_per_event =
	    ret->events ? (double)(s1.run_time_ns - s0.run_time_ns) / (double)ret->events : 0;
	ret->switches_in_cg = c.nr_switches;
	r = 0;
out:
	probe_bpf_free(b);
	unlinkat(topfd, "pp", AT_REMOVEDIR);
	return r;
}

/* The floor: an empty program on sched_switch under the same load. */
static int nop_cost(double *ret_ns, uint64_t *ret_events)
{
	struct nop_bpf *skel = nop_bpf__open_and_load();
	_cleanup_close_ int statsfd = -1;
	struct bpf_prog_info i0 = {}, i1 = {};
	uint32_t len = sizeof(i0);
	int r, pfd;

	if (!skel)
		return -EOPNOTSUPP;
	r = nop_bpf__attach(skel);
	if (r == 0)
		r = probe_bpf_enable_stats(&statsfd);
	if (r < 0) {
		nop_bpf__destroy(skel);
		return r;
	}
	pfd = bpf_program__fd(skel->progs.es_nop_switch);
	bpf_obj_get_info_by_fd(pfd, &i0, &len);
	pingpong(-1, 2.0);
	len = sizeof(i1);
	bpf_obj_get_info_by_fd(pfd, &i1, &len);
	*ret_events = i1.run_cnt - i0.run_cnt;
	*ret_ns = *ret_events ? (double)(i1.run_time_ns - i0.run_time_ns) / (double)*ret_events : 0;
	nop_bpf__destroy(skel);
	return 0;
}

/* One task's tick through the one-shot readers: open+read+close per file. */
static void oneshot_tick(int dirfd, const char *cg)
{
	struct probe_cpu_stat cs;
	struct probe_mem_events me;
	struct probe_mem_stat ms;
	struct probe_psi psi;
	uint64_t v;
	(void)probe_read_cpu_stat_at(dirfd, cg, &cs);
	(void)probe_read_mem_current_at(dirfd, cg, &v);
	(void)probe_read_mem_peak_at(dirfd, cg, &v);
	(void)probe_read_mem_events_at(dirfd, cg, &me);
	(void)probe_read_mem_stat_at(dirfd, cg, &ms);
	(void)probe_read_pressure_at(dirfd, cg, "cpu", &psi);
	(void)probe_read_pressure_at(dirfd, cg, "memory", &psi);
	(void)probe_read_pressure_at(dirfd, cg, "io", &psi);
}

int main(int argc, char **argv)
{
	const char *out = argc > 1 ? argv[1] : "bench/results/probes.json";
	char top[4200], files[256] = "";
	struct bpf_cost hit = {}, miss = {};
	int r_hit = -1, r_miss = -1;
	const int iters = 20000;
	double fast_ns = 0, pread_ns = 0, oneshot_ns = 0, cpu_pread_ns = 0, cpu_oneshot_ns = 0;
	double samp_pct_bpf = -1, samp_pct_files = -1, tick_us_bpf = 0, tick_us_files = 0;
	int bpf_err = 0;
	double nop_ns = 0;
	uint64_t nop_events = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0 || find_cgroup2() < 0) {
		fprintf(stderr, "bench-probes: needs root and a cgroup2 mount\n");
		return 77;
	}
	snprintf(top, sizeof(top), "%s/es-probes-bench-%d", cg2, (int)getpid());
	if (mkdir(top, 0755) < 0 || (topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "bench-probes: mkdir %s: %m\n", top);
		return 1;
	}

	/* 1. eBPF cost per event, ping-pong load inside (hit) and outside (miss) the filter. */
	r_hit = bpf_cost(true, &hit);
	r_miss = bpf_cost(false, &miss);
	(void)nop_cost(&nop_ns, &nop_events);
	printf("bpf: empty sched_switch program (floor) %.1f ns/event (%llu events)\n", nop_ns,
	       (unsigned long long)nop_events);
	printf("bpf: filter hit %.1f ns/event (%llu events), filter miss %.1f ns/event (%llu "
	       "events)\n",
	       hit.ns_per_event, (unsigned long long)hit.events, miss.ns_per_event,
	       (unsigned long long)miss.events);

	/* 2. one tick for one task: hot files pread vs open+read+close, on a real cgroup. */
	{
		struct probe_cg *c = NULL;
		struct probe_cg_sample s;
		struct probe_cpu_stat cs;
		char buf[4096];
		uint64_t t0;
		mkdirat(topfd, "t", 0755);
		if (probe_cg_open_at(topfd, "t", &c) == 0) {
			(void)probe_cg_read(c, &s); /* drops files the kernel refuses (PSI off) */
			snprintf(files, sizeof(files), "cpu.stat%s%s%s%s%s",
				 s.have & PROBE_HAVE_MEM ? " memory.current" : "",
				 s.have & PROBE_HAVE_MEM_STAT ? " memory.stat" : "",
				 s.have & PROBE_HAVE_MEM_EVENTS ? " memory.events" : "",
				 s.have & PROBE_HAVE_PSI_CPU ? " cpu.pressure" : "",
				 s.have & PROBE_HAVE_PSI_MEM ? " memory.pressure" : "");
			/* interleaved rounds so drift in machine load hits both sides alike */
			uint64_t tp = 0, to = 0, cp = 0, co = 0, tf = 0;
			_cleanup_close_ int cfd = openat(topfd, "t/cpu.stat", O_RDONLY | O_CLOEXEC);
			for (int round = 0; round < 10; round++) {
				t0 = now_nsec();
				for (int i = 0; i < iters / 10; i++)
					(void)probe_cg_read(c, &s);
				tp += now_nsec() - t0;
				t0 = now_nsec();
				for (int i = 0; i < iters / 10; i++)
					(void)probe_cg_read_some(
					    c, PROBE_HAVE_ALL & ~PROBE_HAVE_SLOW, &s);
				tf += now_nsec() - t0;
				t0 = now_nsec();
				for (int i = 0; i < iters / 10; i++)
					oneshot_tick(topfd, "t");
				to += now_nsec() - t0;
				t0 = now_nsec();
				for (int i = 0; i < iters / 10; i++)
					if (pread_all(cfd, buf, sizeof(buf), NULL) == 0)
						(void)probe_parse_cpu_stat(buf, &cs);
				cp += now_nsec() - t0;
				t0 = now_nsec();
				for (int i = 0; i < iters / 10; i++)
					(void)probe_read_cpu_stat_at(topfd, "t", &cs);
				co += now_nsec() - t0;
			}
			pread_ns = (double)tp / iters;
			fast_ns = (double)tf / iters;
			oneshot_ns = (double)to / iters;
			cpu_pread_ns = (double)cp / iters;
			cpu_oneshot_ns = (double)co / iters;
			probe_cg_free(c);
		}
		unlinkat(topfd, "t", AT_REMOVEDIR);
		printf("tick per task (%s): pread %.0f ns, open+read+close %.0f ns; cpu.stat "
		       "alone: %.0f vs %.0f ns; "
		       "fast tick (no slow files) %.0f ns\n",
		       files, pread_ns, oneshot_ns, cpu_pread_ns, cpu_oneshot_ns, fast_ns);
	}

	/* 3. sampler CPU: 100 task cgroups at 10 Hz for 5 s, with and without the eBPF probe. */
	for (int mode = 0; mode < 2; mode++) {
		struct sampler_params p;
		struct sampler *s = NULL;
		char name[32];
		int ticks = 50;
		sampler_params_init(&p);
		p.use_bpf = mode == 0;
		if (sampler_new(&p, &s) < 0)
			continue;
		if (mode == 0)
			bpf_err = sampler_bpf_error(s);
		for (int i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "task%03d", i);
			mkdirat(topfd, name, 0755);
			(void)sampler_add_task(s, (uint64_t)i, topfd, name);
		}
		uint64_t c0 = cpu_ns(), w0 = now_nsec(), next = now_usec();
		for (int k = 0; k < ticks; k++) {
			(void)sampler_tick(s, now_usec());
			next += 100000;
			uint64_t now = now_usec();
			if (next > now)
				usleep((useconds_t)(next - now));
		}
		double cpu = (double)(cpu_ns() - c0), wall = (double)(now_nsec() - w0);
		sampler_free(s);
		for (int i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "task%03d", i);
			unlinkat(topfd, name, AT_REMOVEDIR);
		}
		double pct = cpu / wall * 100.0, tick_us = cpu / ticks / 1000.0;
		if (mode == 0) {
			samp_pct_bpf = pct;
			tick_us_bpf = tick_us;
		} else {
			samp_pct_files = pct;
			tick_us_files = tick_us;
		}
		printf("sampler, 100 tasks at 10 Hz, %s: %.3f %% of one core (%.0f us per tick)\n",
		       mode == 0 ? (bpf_err ? "eBPF unavailable" : "with eBPF")
				 : "cgroup files only",
		       pct, tick_us);
	}
	close(topfd);
	rmdir(top);

	_cleanup_fclose_ FILE *f = fopen(out, "we");
	if (!f) {
		fprintf(stderr, "bench-probes: %s: %m\n", out);
		return 1;
	}
	struct utsname_s {
		char r[128];
	} k = {""};
	{
		_cleanup_free_ char *rel = NULL;
		if (read_file_at(AT_FDCWD, "/proc/sys/kernel/osrelease", &rel, NULL) == 0) {
			rel[strcspn(rel, "\n")] = 0;
			snprintf(k.r, sizeof(k.r), "%s", rel);
		}
	}
	fprintf(
	    f,
	    "{\n"
	    "  \"kernel\": \"%s\",\n  \"ncpus\": %ld,\n"
	    "  \"bpf_ns_per_event_filter_hit\": %.1f,\n  \"bpf_events_filter_hit\": %llu,\n"
	    "  \"bpf_ns_per_event_filter_miss\": %.1f,\n  \"bpf_events_filter_miss\": %llu,\n"
	    "  \"bpf_ns_per_event_empty_program\": %.1f,\n  \"bpf_events_empty_program\": %llu,\n"
	    "  \"bpf_load\": \"pipe ping-pong, 2 processes pinned to CPU 0, 2 s each\",\n"
	    "  \"bpf_error\": %d,\n"
	    "  \"tick_files\": \"%s\",\n"
	    "  \"tick_per_task_pread_ns\": %.0f,\n  \"tick_per_task_open_read_close_ns\": %.0f,\n"
	    "  \"tick_per_task_fast_pread_ns\": %.0f,\n"
	    "  \"cpu_stat_pread_ns\": %.0f,\n  \"cpu_stat_open_read_close_ns\": %.0f,\n"
	    "  \"sampler_100_tasks_10hz_pct_core_with_bpf\": %.3f,\n  "
	    "\"sampler_tick_us_with_bpf\": %.0f,\n"
	    "  \"sampler_100_tasks_10hz_pct_core_files_only\": %.3f,\n  "
	    "\"sampler_tick_us_files_only\": %.0f\n"
	    "}\n",
	    k.r, sysconf(_SC_NPROCESSORS_ONLN), hit.ns_per_event, (unsigned long long)hit.events,
	    miss.ns_per_event, (unsigned long long)miss.events, nop_ns,
	    (unsigned long long)nop_events, r_hit < 0 ? r_hit : r_miss, files, pread_ns, oneshot_ns,
	    fast_ns, cpu_pread_ns, cpu_oneshot_ns, samp_pct_bpf, tick_us_bpf, samp_pct_files,
	    tick_us_files);
	printf("wrote %s\n", out);
	return 0;
}
