/* test_probes.c — the probe parsers on real, truncated, garbage and missing-key inputs,
 * the readers and hot-file handles on fake cgroup / proc trees, and the sampler's math. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>

#include "probes.h"
#include "sampler.h"
#include "util.h"

#include <json-c/json.h>

static const char CPU_STAT_V2[] = "usage_usec 2287045\nuser_usec 1654093\nsystem_usec 632952\n"
				  "core_sched.force_idle_usec 0\nnr_periods 120\nnr_throttled 7\n"
				  "throttled_usec 345678\nnr_bursts 0\nburst_usec 0\n";
static const char CPU_STAT_NOCTL[] = "usage_usec 100\nuser_usec 60\nsystem_usec 40\n";
static const char MEM_EVENTS[] = "low 0\nhigh 3\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n";
static const char MEM_STAT[] = "anon 1048576\nfile 2097152\nkernel 65536\nkernel_stack 16384\n"
			       "pagetables 8192\nsock 0\nshmem 4096\nfile_mapped 0\nslab 32768\n"
			       "pgfault 1234\npgmajfault 5\nanon_thp 0\n";
static const char PSI[] = "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n"
			  "full avg10=0.10 avg60=0.00 avg300=0.00 total=789\n";
static const char PROC_STAT[] = "cpu  100 10 50 1000 20 3 4 5 0 0\n"
				"cpu0 50 5 25 500 10 1 2 2 0 0\n"
				"cpu1 50 5 25 500 10 2 2 3 0 0\n"
				"intr 12345 0 0\nctxt 999\nbtime 1700000000\n";
static const char MEMINFO[] = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\n"
			      "MemAvailable:   20000000 kB\nBuffers:          1000 kB\n";

static void test_keyed(void **state)
{
	uint64_t v = 42;
	assert_int_equal(probe_parse_keyed(CPU_STAT_V2, "usage_usec", &v), 0);
	assert_int_equal(v, 2287045);
	assert_int_equal(probe_parse_keyed(CPU_STAT_V2, "burst_usec", &v), 0);
	assert_int_equal(v, 0);
	/* exact key: a prefix of a key or a longer key is not a match */
	v = 42;
	assert_int_equal(probe_parse_keyed(CPU_STAT_V2, "usage", &v), -ENXIO);
	assert_int_equal(probe_parse_keyed(CPU_STAT_V2, "usage_usecs", &v), -ENXIO);
	assert_int_equal(probe_parse_keyed(MEM_EVENTS, "oom", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(probe_parse_keyed("", "x", &v), -ENXIO);
	/* garbage, truncation, overflow; ret untouched on error */
	v = 42;
	assert_int_equal(probe_parse_keyed("x 12a\n", "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x -1\n", "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x \n", "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x", "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x 1.5", "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x 18446744073709551616\n", "x", &v), -ERANGE);
	assert_int_equal(v, 42);
	assert_int_equal(probe_parse_keyed("x 18446744073709551615", "x", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(probe_parse_keyed("y 1\nx  7", "x", &v), 0); /* no trailing newline */
	assert_int_equal(v, 7);
	assert_int_equal(probe_parse_keyed(NULL, "x", &v), -EINVAL);
	assert_int_equal(probe_parse_keyed("x 1", "", &v), -EINVAL);
}

static void test_single(void **state)
{
	uint64_t v = 42;
	assert_int_equal(probe_parse_single("1234\n", &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(probe_parse_single("5", &v), 0);
	assert_int_equal(v, 5);
	v = 42;
	assert_int_equal(probe_parse_single("", &v), -EINVAL);
	assert_int_equal(probe_parse_single("\n", &v), -EINVAL);
	assert_int_equal(probe_parse_single("max\n", &v), -EINVAL);
	assert_int_equal(probe_parse_single("12 34\n", &v), -EINVAL);
	assert_int_equal(probe_parse_single("12\n\n", &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_cpu_stat(void **state)
{
	struct probe_cpu_stat s;
	assert_int_equal(probe_parse_cpu_stat(CPU_STAT_V2, &s), 0);
	assert_int_equal(s.usage_usec, 2287045);
	assert_int_equal(s.user_usec, 1654093);
	assert_int_equal(s.system_usec, 632952);
	assert_true(s.has_throttle);
	assert_int_equal(s.nr_periods, 120);
	assert_int_equal(s.nr_throttled, 7);
	assert_int_equal(s.throttled_usec, 345678);
	assert_int_equal(probe_parse_cpu_stat(CPU_STAT_NOCTL, &s), 0);
	assert_int_equal(s.usage_usec, 100);
	assert_false(s.has_throttle);
	assert_int_equal(s.throttled_usec, 0);
	/* truncated in the middle of the file and inside a value */
	s.usage_usec = 9;
	assert_int_equal(probe_parse_cpu_stat("usage_usec 100\nuser_usec 60\n", &s), -ENXIO);
	assert_int_equal(probe_parse_cpu_stat("usage_usec 100\nuser_usec 60\nsystem_", &s), -ENXIO);
	assert_int_equal(probe_parse_cpu_stat("usage_usec 100\nuser_usec 60\nsystem_usec", &s),
			 -EINVAL);
	/* throttling half present is corrupt, not "no controller" */
	assert_int_equal(
	    probe_parse_cpu_stat("usage_usec 1\nuser_usec 1\nsystem_usec 0\nnr_periods 3\n", &s),
	    -ENXIO);
	assert_int_equal(
	    probe_parse_cpu_stat("usage_usec 1\nuser_usec 1\nsystem_usec 0\nnr_periods x\n", &s),
	    -EINVAL);
	assert_int_equal(probe_parse_cpu_stat("\x01\x02garbage", &s), -ENXIO);
	assert_int_equal(s.usage_usec, 9);
}

static void test_mem_events_stat(void **state)
{
	struct probe_mem_events e = {.oom = 99};
	struct probe_mem_stat m;
	assert_int_equal(probe_parse_mem_events(MEM_EVENTS, &e), 0);
	assert_int_equal(e.high, 3);
	assert_int_equal(e.max, 12);
	assert_int_equal(e.oom_kill, 1);
	e.oom = 99;
	assert_int_equal(probe_parse_mem_events("low 0\nhigh 3\nmax 12\noom 1\n", &e), -ENXIO);
	assert_int_equal(probe_parse_mem_events("low 0\nhigh 3\nmax 12\noom 1\noom_kill z\n", &e),
			 -EINVAL);
	assert_int_equal(e.oom, 99);

	assert_int_equal(probe_parse_mem_stat(MEM_STAT, &m), 0);
	assert_int_equal(m.anon, 1048576);
	assert_int_equal(m.file, 2097152);
	assert_int_equal(m.kernel, 65536);
	assert_int_equal(m.shmem, 4096);
	assert_int_equal(m.slab, 32768);
	assert_int_equal(m.pgmajfault, 5);
	/* kernel (5.18+) optional; anon required; a bad optional value is still an error */
	assert_int_equal(probe_parse_mem_stat("anon 1\nfile 2\n", &m), 0);
	assert_int_equal(m.kernel, 0);
	assert_int_equal(m.file, 2);
	assert_int_equal(probe_parse_mem_stat("file 2\n", &m), -ENXIO);
	assert_int_equal(probe_parse_mem_stat("anon 1\nfile 2\nslab -3\n", &m), -EINVAL);
}

static void test_psi(void **state)
{
	struct probe_psi p;
	assert_int_equal(probe_parse_psi(PSI, &p), 0);
	assert_true(p.some.avg10 == 1.5);
	assert_true(p.some.avg60 == 0.25);
	assert_int_equal(p.some.total_usec, 123456);
	assert_true(p.has_full);
	assert_true(p.full.avg10 == 0.1);
	assert_int_equal(p.full.total_usec, 789);
	assert_int_equal(probe_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p),
			 0);
	assert_false(p.has_full);
	assert_int_equal(probe_parse_psi("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p),
			 -ENXIO);
	assert_int_equal(probe_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00\n", &p), -EINVAL);
	assert_int_equal(probe_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=\n", &p),
			 -EINVAL);
	assert_int_equal(
	    probe_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=1 x=2\n", &p), -EINVAL);
	assert_int_equal(probe_parse_psi("some avg60=0.00 avg10=0.00 avg300=0.00 total=1\n", &p),
			 -EINVAL);
	assert_int_equal(probe_parse_psi("some avg10=nan avg60=0.00 avg300=0.00 total=1\n", &p),
			 -EINVAL);
	assert_int_equal(probe_parse_psi("some avg10=.5 avg60=0.00 avg300=0.00 total=1\n", &p),
			 -EINVAL);
	assert_int_equal(probe_parse_psi("some avg10=1e5 avg60=0.00 avg300=0.00 total=1\n", &p),
			 -EINVAL);
	assert_int_equal(
	    probe_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=", &p),
	    -EINVAL);
	assert_int_equal(probe_parse_psi("", &p), -ENXIO);
}

static void test_proc_stat(void **state)
{
	struct probe_proc_stat s = {.ncpus = 77};
	assert_int_equal(probe_parse_proc_stat(PROC_STAT, &s), 0);
	assert_int_equal(s.busy_ticks, 100 + 10 + 50 + 3 + 4 + 5);
	assert_int_equal(s.total_ticks, 172 + 1000 + 20);
	assert_int_equal(s.ncpus, 2);
	/* eight fields (no guest columns) are enough */
	assert_int_equal(probe_parse_proc_stat("cpu  1 2 3 4 5 6 7 8\ncpu0 1 2 3 4 5 6 7 8\n", &s),
			 0);
	assert_int_equal(s.busy_ticks, 1 + 2 + 3 + 6 + 7 + 8);
	s.ncpus = 77;
	assert_int_equal(probe_parse_proc_stat("cpu  1 2 3 4 5\ncpu0 1 2 3 4 5 6 7 8\n", &s),
			 -EINVAL);
	assert_int_equal(probe_parse_proc_stat("cpu  1 2 3 4 5 6 7 8\n", &s),
			 -EINVAL); /* no cpuN */
	assert_int_equal(probe_parse_proc_stat("cpu  1 2 x 4 5 6 7 8\ncpu0 1\n", &s), -EINVAL);
	assert_int_equal(probe_parse_proc_stat("cpu  1 2 3 4 5 6 7 8 9 10 11\ncpu0 1\n", &s),
			 -EINVAL);
	assert_int_equal(probe_parse_proc_stat("intr 1\n", &s), -ENXIO);
	assert_int_equal(probe_parse_proc_stat("", &s), -ENXIO);
	assert_int_equal(s.ncpus, 77);
}

static void test_meminfo(void **state)
{
	uint64_t v = 42;
	assert_int_equal(probe_parse_meminfo(MEMINFO, "MemAvailable", &v), 0);
	assert_int_equal(v, 20000000ull * 1024);
	assert_int_equal(probe_parse_meminfo(MEMINFO, "MemTotal", &v), 0);
	assert_int_equal(v, 24576000ull * 1024);
	v = 42;
	assert_int_equal(probe_parse_meminfo(MEMINFO, "MemAvail", &v), -ENXIO);
	assert_int_equal(probe_parse_meminfo("MemAvailable:   2000", "MemAvailable", &v), -EINVAL);
	assert_int_equal(probe_parse_meminfo("MemAvailable:   x kB\n", "MemAvailable", &v),
			 -EINVAL);
	assert_int_equal(probe_parse_meminfo("MemAvailable:", "MemAvailable", &v), -EINVAL);
	assert_int_equal(
	    probe_parse_meminfo("MemAvailable: 99999999999999999999 kB", "MemAvailable", &v),
	    -ERANGE);
	assert_int_equal(
	    probe_parse_meminfo("MemAvailable: 18014398509481984 kB", "MemAvailable", &v), -ERANGE);
	assert_int_equal(v, 42);
}

static void test_hist_quantile(void **state)
{
	uint64_t h[PROBE_HIST_NSLOTS] = {};
	double q;
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.99, &q), -ENODATA);
	h[3] = 100; /* all in [8, 16) us */
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.5, &q), 0);
	assert_true(fabs(q - 12000.0) < 1e-6);
	h[10] = 1; /* one outlier in [1024, 2048) us */
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.99, &q), 0);
	assert_true(q >= 8000 && q < 16000);
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 1.0, &q), 0);
	assert_true(fabs(q - 2048000.0) < 1e-6);
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.0, &q), 0);
	assert_true(fabs(q - 8000.0) < 1e-6);
	h[0] = 1;
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.0, &q), 0);
	assert_true(q == 0.0);
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 1.5, &q), -EINVAL);
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, NAN, &q), -EINVAL);
	h[1] = UINT64_MAX;
	assert_int_equal(probe_hist_quantile(h, PROBE_HIST_NSLOTS, 0.5, &q), -ERANGE);
}

/* ---- fake trees ----------------------------------------------------------------- */

struct tree {
	char dir[64];
	int fd;
};

static void put(int dirfd, const char *path, const char *s)
{
	_cleanup_close_ int fd =
	    openat(dirfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static int tree_setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	strcpy(t->dir, "/tmp/es-probes-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	t->fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(t->fd >= 0);
	assert_int_equal(mkdirat(t->fd, "cg", 0755), 0);
	assert_int_equal(mkdirat(t->fd, "proc", 0755), 0);
	assert_int_equal(mkdirat(t->fd, "proc/pressure", 0755), 0);
	put(t->fd, "cg/cpu.stat", CPU_STAT_V2);
	put(t->fd, "cg/memory.current", "4096\n");
	put(t->fd, "cg/memory.peak", "8192\n");
	put(t->fd, "cg/memory.events", MEM_EVENTS);
	put(t->fd, "cg/memory.stat", MEM_STAT);
	put(t->fd, "cg/cpu.pressure", PSI);
	put(t->fd, "proc/stat", PROC_STAT);
	put(t->fd, "proc/meminfo", MEMINFO);
	put(t->fd, "proc/pressure/cpu", PSI);
	*state = t;
	return 0;
}

static int tree_teardown(void **state)
{
	struct tree *t = *state;
	char cmd[128];
	close(t->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	free(t);
	return 0;
}

static void test_readers(void **state)
{
	struct tree *t = *state;
	struct probe_cpu_stat cs;
	struct probe_mem_events me;
	struct probe_mem_stat ms;
	struct probe_psi psi;
	struct probe_proc_stat ps;
	uint64_t v, total, avail;
	char path[128];

	assert_int_equal(probe_read_cpu_stat_at(t->fd, "cg", &cs), 0);
	assert_int_equal(cs.usage_usec, 2287045);
	snprintf(path, sizeof(path), "%s/cg", t->dir);
	assert_int_equal(probe_read_cpu_stat(path, &cs), 0);
	assert_int_equal(cs.nr_throttled, 7);
	assert_int_equal(probe_read_mem_current_at(t->fd, "cg", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(probe_read_mem_current(path, &v), 0);
	assert_int_equal(probe_read_mem_peak_at(t->fd, "cg", &v), 0);
	assert_int_equal(v, 8192);
	assert_int_equal(probe_read_mem_peak(path, &v), 0);
	assert_int_equal(probe_read_mem_events_at(t->fd, "cg", &me), 0);
	assert_int_equal(me.max, 12);
	assert_int_equal(probe_read_mem_events(path, &me), 0);
	assert_int_equal(probe_read_mem_stat_at(t->fd, "cg", &ms), 0);
	assert_int_equal(ms.anon, 1048576);
	assert_int_equal(probe_read_mem_stat(path, &ms), 0);
	assert_int_equal(probe_read_pressure_at(t->fd, "cg", "cpu", &psi), 0);
	assert_int_equal(psi.some.total_usec, 123456);
	assert_int_equal(probe_read_pressure(path, "cpu", &psi), 0);
	assert_int_equal(probe_read_pressure_at(t->fd, "cg", "io", &psi), -ENOENT);
	assert_int_equal(probe_read_pressure_at(t->fd, "cg", "../x", &psi), -EINVAL);
	assert_int_equal(probe_read_cpu_stat_at(t->fd, "nope", &cs), -ENOENT);

	assert_int_equal(probe_read_proc_stat_at(t->fd, "proc", &ps), 0);
	assert_int_equal(ps.ncpus, 2);
	snprintf(path, sizeof(path), "%s/proc", t->dir);
	assert_int_equal(probe_read_proc_stat(path, &ps), 0);
	assert_int_equal(probe_read_meminfo_at(t->fd, "proc", &total, &avail), 0);
	assert_int_equal(avail, 20000000ull * 1024);
	assert_int_equal(probe_read_meminfo(path, &total, &avail), 0);
	assert_int_equal(probe_read_node_pressure_at(t->fd, "proc", "cpu", &psi), 0);
	assert_true(psi.some.avg10 == 1.5);
	assert_int_equal(probe_read_node_pressure(path, "memory", &psi), -ENOENT);
	assert_int_equal(probe_cgroup_id_at(t->fd, "cg", &v), 0);
	assert_true(v != 0);
}

static void test_hot_files(void **state)
{
	struct tree *t = *state;
	struct probe_cg *c = NULL;
	struct probe_node *n = NULL;
	struct probe_cg_sample s;
	struct probe_node_sample ns;

	assert_int_equal(probe_cg_open_at(t->fd, "cg", &c), 0);
	assert_int_equal(probe_cg_read(c, &s), 0);
	assert_int_equal(s.have, PROBE_HAVE_CPU | PROBE_HAVE_THROTTLE | PROBE_HAVE_MEM |
				     PROBE_HAVE_MEM_PEAK | PROBE_HAVE_MEM_EVENTS |
				     PROBE_HAVE_MEM_STAT | PROBE_HAVE_PSI_CPU);
	assert_int_equal(s.mem_current, 4096);
	/* the kept fd sees the new contents (pread from offset 0, not a stale cursor) */
	put(t->fd, "cg/memory.current", "1048576\n");
	put(t->fd, "cg/cpu.stat", CPU_STAT_NOCTL);
	assert_int_equal(probe_cg_read(c, &s), 0);
	assert_int_equal(s.mem_current, 1048576);
	assert_int_equal(s.cpu.usage_usec, 100);
	assert_false(s.have & PROBE_HAVE_THROTTLE);
	/* a corrupt optional file clears its bit only; a corrupt cpu.stat fails the read */
	put(t->fd, "cg/memory.current", "garbage\n");
	assert_int_equal(probe_cg_read(c, &s), 0);
	assert_false(s.have & PROBE_HAVE_MEM);
	put(t->fd, "cg/cpu.stat", "usage_usec 1\n");
	assert_int_equal(probe_cg_read(c, &s), -ENXIO);
	probe_cg_free(c);
	/* a cgroup without cpu.stat is not a cgroup */
	assert_int_equal(mkdirat(t->fd, "empty", 0755), 0);
	c = NULL;
	assert_int_equal(probe_cg_open_at(t->fd, "empty", &c), -ENOENT);
	assert_null(c);

	assert_int_equal(probe_node_open_at(t->fd, "proc", &n), 0);
	assert_int_equal(probe_node_read(n, &ns), 0);
	assert_int_equal(ns.stat.ncpus, 2);
	assert_int_equal(ns.mem_available, 20000000ull * 1024);
	assert_int_equal(ns.have, PROBE_HAVE_PSI_CPU);
	/* /proc/stat larger than the initial buffer: grows instead of failing */
	{
		size_t big = 40000;
		char *s2 = malloc(big + 1);
		size_t off = (size_t)snprintf(s2, big, "%s", PROC_STAT);
		while (off < big - 20)
			off += (size_t)snprintf(s2 + off, big - off, "softirq 1 2 3 4\n");
		put(t->fd, "proc/stat", s2);
		free(s2);
		assert_int_equal(probe_node_read(n, &ns), 0);
		assert_int_equal(ns.stat.ncpus, 2);
	}
	probe_node_free(n);
}

static void test_sampler(void **state)
{
	struct tree *t = *state;
	struct sampler_params p;
	struct sampler *s = NULL;
	struct sampler_task st;
	struct sampler_node sn;
	struct policy_res u;
	char proc[128];

	snprintf(proc, sizeof(proc), "%s/proc", t->dir);
	sampler_params_init(&p);
	p.proc_root = proc;
	p.use_bpf = false;
	p.alpha = 0.5;
	p.stale_after_s = 2.0;
	put(t->fd, "cg/cpu.stat",
	    "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\n"
	    "nr_throttled 0\nthrottled_usec 0\n");
	assert_int_equal(sampler_new(&p, &s), 0);
	assert_int_equal(sampler_bpf_error(s), -EOPNOTSUPP);
	assert_int_equal(sampler_add_task(s, 1, t->fd, "cg"), 0);
	assert_int_equal(sampler_add_task(s, 1, t->fd, "cg"), -EEXIST);
	assert_int_equal(sampler_n_tasks(s), 1);
	assert_int_equal(sampler_task_usage(s, 2, &u), -ENOENT);

	assert_int_equal(sampler_tick(s, 1000000), 0);
	assert_int_equal(sampler_task_usage(s, 1, &u), -ENODATA); /* one read: no rate */
	assert_int_equal(sampler_node_free(s, &u), -ENODATA);

	/* 1 s later: 1.5 cores used, 0.25 s throttled; node busy half of 2 CPUs */
	put(t->fd, "cg/cpu.stat",
	    "usage_usec 1500000\nuser_usec 0\nsystem_usec 0\nnr_periods 10\n"
	    "nr_throttled 2\nthrottled_usec 250000\n");
	put(t->fd, "proc/stat", "cpu  200 10 50 1100 20 3 4 5 0 0\ncpu0 1\ncpu1 1\n");
	assert_int_equal(sampler_tick(s, 2000000), 0);
	assert_int_equal(sampler_task_usage(s, 1, &u), 0);
	assert_true(fabs(u.cpu - 1.5) < 1e-9); /* first rate is taken as is */
	assert_true(u.mem == 4096.0);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_true(fabs(st.throttled_frac - 0.25) < 1e-9);
	assert_int_equal(st.nr_throttled, 2);
	assert_int_equal(sampler_node_get(s, &sn), 0);
	assert_int_equal(sn.ncpus, 2);
	assert_true(fabs(sn.cores_busy - 1.0) < 1e-9); /* 100 busy of 200 ticks, 2 CPUs */
	assert_int_equal(sampler_node_free(s, &u), 0);
	assert_true(fabs(u.cpu - 1.0) < 1e-9);
	assert_true(u.mem == 20000000.0 * 1024);

	/* next second 0.5 cores: EWMA(0.5) -> 1.0 */
	put(t->fd, "cg/cpu.stat",
	    "usage_usec 2000000\nuser_usec 0\nsystem_usec 0\nnr_periods 10\n"
	    "nr_throttled 2\nthrottled_usec 250000\n");
	assert_int_equal(sampler_tick(s, 3000000), 0);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_true(fabs(st.cores - 1.0) < 1e-9);
	assert_true(fabs(st.cores_last - 0.5) < 1e-9);
	assert_true(fabs(st.throttled_frac - 0.125) < 1e-9);

	/* unreadable cpu.stat: last values kept, stale only after stale_after_s */
	put(t->fd, "cg/cpu.stat", "garbage\n");
	assert_int_equal(sampler_tick(s, 4000000), 0);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_false(st.stale);
	assert_int_equal(st.at_usec, 3000000);
	assert_int_equal(sampler_task_usage(s, 1, &u), 0);
	assert_int_equal(sampler_tick(s, 5500000), 0);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_true(st.stale);
	assert_int_equal(sampler_task_usage(s, 1, &u), -ENODATA);
	/* the counter going backwards (cgroup recreated) restarts the rate, no negative cores */
	put(t->fd, "cg/cpu.stat", "usage_usec 10\nuser_usec 0\nsystem_usec 0\n");
	assert_int_equal(sampler_tick(s, 6000000), 0);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_false(st.stale);
	assert_true(st.cores >= 0);
	assert_true(fabs(st.cores - 1.0) < 1e-9);

	/* the round in slices (the daemon's loop serves exits between them): one task per
	 * call, the node read with the last */
	size_t cur = 0;
	assert_int_equal(sampler_add_task(s, 2, t->fd, "cg"), 0);
	assert_int_equal(sampler_tick_slice(s, &cur, 1, 7000000), 1);
	assert_int_equal(cur, 1);
	assert_int_equal(sampler_node_get(s, &sn), 0);
	assert_int_equal(sn.at_usec, 6000000); /* not yet */
	assert_int_equal(sampler_tick_slice(s, &cur, 1, 7000000), 0);
	assert_int_equal(cur, 2);
	assert_int_equal(sampler_node_get(s, &sn), 0);
	assert_int_equal(sn.at_usec, 7000000);
	assert_int_equal(sampler_task_get(s, 1, &st), 0);
	assert_int_equal(st.at_usec, 7000000);
	assert_int_equal(sampler_task_get(s, 2, &st), 0);
	assert_int_equal(st.at_usec, 7000000);
	assert_int_equal(sampler_tick_slice(s, &cur, 0, 8000000), -EINVAL);
	assert_int_equal(sampler_remove_task(s, 2), 0);

	assert_int_equal(sampler_remove_task(s, 1), 0);
	assert_int_equal(sampler_remove_task(s, 1), -ENOENT);
	assert_int_equal(sampler_n_tasks(s), 0);
	sampler_free(s);

	p.alpha = 0;
	assert_int_equal(sampler_new(&p, &s), -EINVAL);
	p.alpha = 1.5;
	assert_int_equal(sampler_new(&p, &s), -EINVAL);
	assert_true(sampler_ewma(4, 2, 0.25, false) == 3.5);
	assert_true(sampler_ewma(4, 2, 0.25, true) == 2);
}

static void test_caps(void **state)
{
	struct tree *t = *state;
	struct probe_caps c;
	char sys[128], proc[128], cg[128], buf[1024];

	snprintf(sys, sizeof(sys), "%s/sys", t->dir);
	snprintf(proc, sizeof(proc), "%s/proc", t->dir);
	snprintf(cg, sizeof(cg), "%s/cg", t->dir);
	assert_int_equal(mkdirat(t->fd, "sys", 0755), 0);
	/* Raspberry Pi like: no BTF, memory disabled on the command line, PSI off */
	put(t->fd, "cg/cgroup.controllers", "cpuset cpu io pids\n");
	put(t->fd, "proc/cmdline", "console=tty1 cgroup_disable=memory rootwait\n");
	unlinkat(t->fd, "proc/pressure/cpu", 0);
	assert_int_equal(probe_caps_detect(sys, proc, cg, &c), 0);
	assert_false(c.btf);
	assert_false(c.memory_ctl);
	assert_true(c.memory_disabled_cmdline);
	assert_false(c.psi);
	assert_int_equal(probe_caps_advice(&c, buf, sizeof(buf)), 3);
	assert_non_null(strstr(buf, "CONFIG_DEBUG_INFO_BTF"));
	assert_non_null(strstr(buf, "cgroup_enable=memory"));
	assert_non_null(strstr(buf, "psi=1"));
	assert_int_equal(probe_caps_advice(&c, buf, 16), -ENOBUFS);
	/* everything present; "memory" must be a whole word */
	assert_int_equal(mkdirat(t->fd, "sys/kernel", 0755), 0);
	assert_int_equal(mkdirat(t->fd, "sys/kernel/btf", 0755), 0);
	put(t->fd, "sys/kernel/btf/vmlinux", "x");
	put(t->fd, "proc/pressure/cpu", PSI);
	put(t->fd, "cg/cgroup.controllers", "cpuset cpu io memory pids\n");
	put(t->fd, "proc/cmdline", "console=tty1 psi=1\n");
	assert_int_equal(probe_caps_detect(sys, proc, cg, &c), 0);
	assert_true(c.btf && c.memory_ctl && c.psi && !c.memory_disabled_cmdline);
	assert_int_equal(probe_caps_advice(&c, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	put(t->fd, "cg/cgroup.controllers", "cpu memoryx\n");
	assert_int_equal(probe_caps_detect(sys, proc, cg, &c), 0);
	assert_false(c.memory_ctl);
}

static void test_json(void **state)
{
	struct sampler_task t = {.id = 7,
				 .valid = true,
				 .cores = 0.5,
				 .mem_bytes = 4096,
				 .have = PROBE_HAVE_CPU | PROBE_HAVE_MEM | PROBE_HAVE_PSI_CPU};
	struct sampler_node n = {.ncpus = 2, .cores_busy = 1.5, .mem_available = 1024};
	struct json_object *o = NULL, *x, *y;

	t.psi_cpu.some.avg10 = 2.5;
	assert_int_equal(sampler_task_json(&t, &o), 0);
	assert_true(json_object_object_get_ex(o, "id", &x) && json_object_get_uint64(x) == 7);
	assert_true(json_object_object_get_ex(o, "cpu", &x));
	assert_true(json_object_object_get_ex(x, "cores", &y) && json_object_get_double(y) == 0.5);
	/* absent sources are left out, not reported as zeros */
	assert_false(json_object_object_get_ex(x, "throttled_frac", &y));
	assert_false(json_object_object_get_ex(o, "bpf", &x));
	assert_true(json_object_object_get_ex(o, "memory", &x));
	assert_true(json_object_object_get_ex(x, "current", &y) &&
		    json_object_get_uint64(y) == 4096);
	assert_false(json_object_object_get_ex(x, "peak", &y));
	assert_true(json_object_object_get_ex(o, "psi", &x));
	assert_true(json_object_object_get_ex(x, "cpu", &y));
	assert_false(json_object_object_get_ex(x, "io", &y));
	json_object_put(o);
	t.have_bpf = true;
	t.rq_p99_ns = 2500000;
	t.have = PROBE_HAVE_CPU | PROBE_HAVE_THROTTLE;
	assert_int_equal(sampler_task_json(&t, &o), 0);
	assert_false(json_object_object_get_ex(o, "memory", &x));
	assert_true(json_object_object_get_ex(o, "bpf", &x));
	assert_true(json_object_object_get_ex(x, "rq_p99_us", &y) &&
		    json_object_get_double(y) == 2500.0);
	assert_true(json_object_object_get_ex(o, "cpu", &x) &&
		    json_object_object_get_ex(x, "throttled_frac", &y));
	json_object_put(o);
	assert_int_equal(sampler_node_json(&n, &o), 0);
	assert_true(json_object_object_get_ex(o, "cores_busy", &x) &&
		    json_object_get_double(x) == 1.5);
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keyed),
	    cmocka_unit_test(test_single),
	    cmocka_unit_test(test_cpu_stat),
	    cmocka_unit_test(test_mem_events_stat),
	    cmocka_unit_test(test_psi),
	    cmocka_unit_test(test_proc_stat),
	    cmocka_unit_test(test_meminfo),
	    cmocka_unit_test(test_hist_quantile),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test_setup_teardown(test_readers, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_hot_files, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_sampler, tree_setup, tree_teardown),
	    cmocka_unit_test_setup_teardown(test_caps, tree_setup, tree_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
