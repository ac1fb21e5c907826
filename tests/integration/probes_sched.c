/* probes_sched.c — host/VM integration test of the eBPF scheduler probe against real
 * cgroups: on-CPU time vs cpu.stat, run-queue latency under overload, the sampler. */
#include <math.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "probes.h"
#include "sampler.h"
#include "util.h"

#define SKIP 77
static int failures;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The cgroup2 mount: ES_CGROUP2 or the first cgroup2 entry in /proc/self/mounts. */
static int find_cgroup2(char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = NULL;
	char dev[256], dir[4096], type[64];
	const char *env = getenv("ES_CGROUP2");

	if (env) {
		snprintf(buf, size, "%s", env);
		return 0;
	}
	f = fopen("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	while (fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(buf, size, "%s", dir);
			return 0;
		}
	return -ENOENT;
}

/* A child that moves itself into cg, pins itself to cpus [0, ncpu) and spins. */
static pid_t burner(int cgfd, int ncpu)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		for (int i = 0; i < ncpu; i++)
			CPU_SET(i, &set);
		if (ncpu > 0)
			(void)sched_setaffinity(0, sizeof(set), &set);
		if (write_string_at(cgfd, "cgroup.procs", "0") < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		for (volatile uint64_t x = 0;; x++)
			;
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &c, 1) != 1) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

static void reap(pid_t *pids, int n)
{
	for (int i = 0; i < n; i++)
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
}

static int freeze(int cgfd, bool on)
{
	int r = write_string_at(cgfd, "cgroup.freeze", on ? "1" : "0");
	if (r < 0)
		return r;
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *ev = NULL;
		uint64_t frozen;
		if (read_file_at(cgfd, "cgroup.events", &ev, NULL) == 0 &&
		    probe_parse_keyed(ev, "frozen", &frozen) == 0 && frozen == (on ? 1 : 0))
			return 0;
		sleep_ms(2);
	}
	return -ETIMEDOUT;
}

static int mkcg(int parent, const char *name)
{
	if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
		return -1;
	return openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Phase 1: two burners in two cgroups; BPF on-CPU time vs cpu.stat usage, after freezing
 * so both counters are final. */
static void test_oncpu(struct probe_bpf *b, int top)
{
	_cleanup_close_ int a = mkcg(top, "a"), c = mkcg(top, "b");
	int fds[2] = {a, c};
	uint64_t ids[2];
	pid_t pids[2] = {};

	CHECK(a >= 0 && c >= 0, "mkdir test cgroups: %m");
	if (a < 0 || c < 0)
		return;
	for (int i = 0; i < 2; i++) {
		CHECK(probe_cgroup_id_at(fds[i], ".", &ids[i]) == 0, "cgroup id");
		CHECK(probe_bpf_add_cgroup(b, ids[i]) == 0, "filter add");
	}
	for (int i = 0; i < 2; i++)
		pids[i] = burner(fds[i], 0);
	CHECK(pids[0] > 0 && pids[1] > 0, "burners");
	sleep_ms(2000);
	for (int i = 0; i < 2; i++) {
		struct probe_cpu_stat st;
		struct probe_bpf_cg bc;
		CHECK(freeze(fds[i], true) == 0, "freeze");
		CHECK(probe_read_cpu_stat_at(fds[i], ".", &st) == 0, "cpu.stat");
		CHECK(probe_bpf_read_cgroup(b, ids[i], &bc) == 0, "bpf read");
		double cs = (double)st.usage_usec * 1000.0, bpf = (double)bc.oncpu_ns;
		double err = cs > 0 ? (bpf - cs) / cs : 1.0;
		printf(
		    "cgroup %c: cpu.stat %.1f ms, eBPF on-CPU %.1f ms (%+.3f %%), switches %llu\n",
		    'a' + i, cs / 1e6, bpf / 1e6, err * 100, (unsigned long long)bc.nr_switches);
		CHECK(cs > 200e6, "burner %c ran only %.0f ms", 'a' + i, cs / 1e6);
		CHECK(err > -0.02 && err < 0.02, "eBPF vs cpu.stat differ by %.2f %% (> 2 %%)",
		      err * 100);
		CHECK(bc.nr_switches > 0, "no context switches counted");
	}
	/* Removal stops accounting: counters dropped and lookups fail. */
	struct probe_bpf_cg bc;
	CHECK(probe_bpf_remove_cgroup(b, ids[1]) == 0, "filter remove");
	CHECK(probe_bpf_read_cgroup(b, ids[1], &bc) == -ENOENT, "removed cgroup still readable");
	CHECK(probe_bpf_remove_cgroup(b, ids[1]) == -ENOENT, "double remove");
	reap(pids, 2);
	(void)probe_bpf_remove_cgroup(b, ids[0]);
	unlinkat(top, "a", AT_REMOVEDIR);
	unlinkat(top, "b", AT_REMOVEDIR);
}

struct rq {
	double wait_share; /* run-queue wait per burner per second of wall time */
	double p99_ns;
	uint64_t count;
};

static struct rq run_queue(struct probe_bpf *b, int top, const char *name, int nburn)
{
	_cleanup_close_ int fd = mkcg(top, name);
	struct probe_bpf_cg before = {}, after = {};
	pid_t pids[8] = {};
	uint64_t id = 0, t0, t1;
	struct rq out = {};
	uint64_t d[PROBE_HIST_NSLOTS];

	if (fd < 0 || probe_cgroup_id_at(fd, ".", &id) < 0 || probe_bpf_add_cgroup(b, id) < 0) {
		CHECK(false, "cgroup %s", name);
		return out;
	}
	for (int i = 0; i < nburn; i++)
		pids[i] = burner(fd, 2);
	sleep_ms(300); /* let wakeup_new waits of the start settle out of the window */
	CHECK(probe_bpf_read_cgroup(b, id, &before) == 0, "read");
	t0 = now_nsec();
	sleep_ms(1500);
	CHECK(probe_bpf_read_cgroup(b, id, &after) == 0, "read");
	t1 = now_nsec();
	reap(pids, nburn);
	for (size_t i = 0; i < PROBE_HIST_NSLOTS; i++)
		d[i] = after.rq_hist[i] - before.rq_hist[i];
	out.count = after.rq_count - before.rq_count;
	out.wait_share = (double)(after.rq_sum_ns - before.rq_sum_ns) / (double)(t1 - t0) / nburn;
	if (probe_hist_quantile(d, PROBE_HIST_NSLOTS, 0.99, &out.p99_ns) < 0)
		out.p99_ns = 0;
	printf("%d burner(s) on 2 CPUs: %llu waits, wait share %.3f, p99 %.0f us\n", nburn,
	       (unsigned long long)out.count, out.wait_share, out.p99_ns / 1000);
	(void)probe_bpf_remove_cgroup(b, id);
	unlinkat(top, name, AT_REMOVEDIR);
	return out;
}

static void test_runqueue(struct probe_bpf *b, int top)
{
	struct rq base = run_queue(b, top, "rq1", 1);
	struct rq four = run_queue(b, top, "rq4", 4);

	/* Four spinners on two CPUs wait at least half the time each, however loaded the
	 * machine (other load only adds waiting); one waits only when something else runs, so
	 * less than four do on the same machine. */
	CHECK(four.count > 0, "no run-queue waits with four burners");
	CHECK(four.wait_share > 0.4, "four burners waited only %.3f of the time", four.wait_share);
	CHECK(four.wait_share > base.wait_share, "no queueing vs baseline (%.3f vs %.3f)",
	      four.wait_share, base.wait_share);
	CHECK(four.p99_ns >= 1e6, "four-burner p99 %.0f us < 1 ms", four.p99_ns / 1000);
}

/* The sampler over the same kind of cgroup: rates from cpu.stat and from eBPF agree. */
static void test_sampler(int top)
{
	_cleanup_close_ int fd = mkcg(top, "s");
	struct sampler_params p;
	struct sampler *s = NULL;
	struct sampler_task t = {};
	struct policy_res u;
	pid_t pid[1] = {};

	sampler_params_init(&p);
	p.alpha = 1.0;
	CHECK(fd >= 0, "mkdir s");
	CHECK(sampler_new(&p, &s) == 0, "sampler_new");
	if (!s || fd < 0)
		return;
	CHECK(sampler_bpf_error(s) == 0, "sampler without BPF: %d", sampler_bpf_error(s));
	CHECK(sampler_add_task(s, 7, fd, ".") == 0, "add task");
	/* Where the cpu controller is on (the VM), a 0.5-core quota must show as 0.5 cores
	 * used and about half the wall time throttled. */
	bool quota = faccessat(fd, "cpu.max", F_OK, 0) == 0;
	if (quota)
		CHECK(write_string_at(fd, "cpu.max", "50000 100000") == 0, "cpu.max");
	pid[0] = burner(fd, 0);
	struct probe_cpu_stat st0 = {}, st1 = {};
	uint64_t t0, t1;
	/* Frozen at both ends of the window: eBPF credits on-CPU time at switch-out, so only
	 * then do both sources cover exactly the same run time. */
	CHECK(freeze(fd, true) == 0, "freeze");
	t0 = now_usec();
	CHECK(probe_read_cpu_stat_at(fd, ".", &st0) == 0, "cpu.stat");
	CHECK(sampler_tick(s, t0) == 0, "tick");
	CHECK(sampler_task_usage(s, 7, &u) == -ENODATA, "usage before two ticks");
	CHECK(freeze(fd, false) == 0, "thaw");
	sleep_ms(1000);
	/* eBPF credits on-CPU time at switch-out; freezing switches the burner out so both
	 * sources cover the same interval (a spinner may otherwise run for seconds unswitched). */
	CHECK(freeze(fd, true) == 0, "freeze");
	t1 = now_usec();
	CHECK(probe_read_cpu_stat_at(fd, ".", &st1) == 0, "cpu.stat");
	CHECK(sampler_tick(s, t1) == 0, "tick");
	CHECK(sampler_task_get(s, 7, &t) == 0, "get");
	CHECK(sampler_task_usage(s, 7, &u) == 0, "usage");
	/* What the burner got depends on the machine's load; the sampler must report exactly
	 * that (cpu.stat's own delta over the same interval), not a fixed figure. */
	double want = (double)(st1.usage_usec - st0.usage_usec) / (double)(t1 - t0);
	printf("sampler: cores %.3f (eBPF %.3f; cpu.stat delta %.3f), switches/s %.0f, rq p99 %.0f "
	       "us\n",
	       t.cores, t.bpf_cores, want, t.ctx_switches_per_s, t.rq_p99_ns / 1000);
	CHECK(want > 0.02, "the burner did not run (%.3f cores)", want);
	CHECK(fabs(t.cores - want) < 0.05 + 0.05 * want && t.cores < 1.05,
	      "sampler says %.3f cores, cpu.stat %.3f", t.cores, want);
	if (quota) {
		printf("sampler: cpu.max 0.5 core: cores %.3f, throttled %.0f %% of the time\n",
		       t.cores, t.throttled_frac * 100);
		CHECK(t.have & PROBE_HAVE_THROTTLE,
		      "no throttling keys with the cpu controller on");
		CHECK(t.cores > 0.4 && t.cores < 0.6, "cpu.max 0.5 but %.3f cores measured",
		      t.cores);
		CHECK(t.throttled_frac > 0.25, "throttled only %.3f of the time", t.throttled_frac);
	}
	if (t.have & PROBE_HAVE_MEM) {
		printf("sampler: memory.current %llu bytes\n", (unsigned long long)t.mem_bytes);
		CHECK(u.mem > 0 && u.mem == (double)t.mem_bytes, "memory usage %f", u.mem);
	}
	CHECK(t.have_bpf && t.bpf_cores > 0 && (t.bpf_cores - t.cores) / t.cores < 0.1 &&
		  (t.cores - t.bpf_cores) / t.cores < 0.1,
	      "eBPF cores %.3f vs cpu.stat %.3f", t.bpf_cores, t.cores);
	struct policy_res r;
	CHECK(sampler_node_free(s, &r) == 0 && r.cpu >= 0 && r.mem > 0, "node free");
	reap(pid, 1);
	sleep_ms(50);
	CHECK(sampler_remove_task(s, 7) == 0, "remove");
	sampler_free(s);
	unlinkat(top, "s", AT_REMOVEDIR);
}

int main(void)
{
	char cg2[4096], top[4200];
	struct probe_bpf *b = NULL;
	int r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0) {
		printf("needs root\n");
		return SKIP;
	}
	if (find_cgroup2(cg2, sizeof(cg2)) < 0) {
		printf("no cgroup2 mount\n");
		return SKIP;
	}
	r = probe_bpf_open(NULL, &b);
	if (r == -EOPNOTSUPP) {
		printf("skip: %s\n", probe_bpf_error_reason(r));
		return SKIP;
	}
	if (r < 0) {
		/* A verifier or attach error is a failure, not a skip. */
		printf("probe_bpf_open: %s (%s)\n", probe_bpf_error_reason(r), strerror(-r));
		return 1;
	}
	snprintf(top, sizeof(top), "%s/es-probes-%d", cg2, (int)getpid());
	if (mkdir(top, 0755) < 0) {
		printf("mkdir %s: %m\n", top);
		return 1;
	}
	_cleanup_close_ int topfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	/* Where the parent offers them (pure v2 in the VM), let the test cgroups have cpu and
	 * memory; the host's unified hierarchy has no controllers and refuses. */
	(void)write_string_at(topfd, "cgroup.subtree_control", "+cpu +memory");
	test_oncpu(b, topfd);
	test_runqueue(b, topfd);
	test_sampler(topfd);
	probe_bpf_free(b);
	if (rmdir(top) < 0)
		printf("rmdir %s: %m\n", top);
	printf("%s (%d failure(s))\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}
