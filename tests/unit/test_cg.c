/* test_cg.c — the cgroup library on fake trees under mkdtemp(): limit formatting and
 * parsing, validation with the offending field named, and every error path of the API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "cg.h"
#include "util.h"

struct fake {
	char dir[64];
	char root[PATH_MAX];
};

static void put(const char *dir, const char *file, const char *s)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(s, f);
	fclose(f);
}

static char *get(const char *dir, const char *file)
{
	char p[PATH_MAX];
	char *s = NULL;
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	if (read_file_at(AT_FDCWD, p, &s, NULL) < 0)
		return NULL;
	return s;
}

/* A fake cgroupfs: <tmp>/ is the mount, <tmp>/es the delegated root. */
static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/test_cg.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof(f->root), "%s/es", f->dir);
	assert_int_equal(mkdir(f->root, 0755), 0);
	put(f->root, "cgroup.controllers", "cpuset cpu io memory pids\n");
	put(f->root, "cgroup.subtree_control", "");
	put(f->root, "cgroup.procs", "");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void test_cpu_max_format(void **state)
{
	char buf[64];
	assert_int_equal(cg_format_cpu_max(0.5, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "50000 100000");
	assert_int_equal(cg_format_cpu_max(1.25, 20000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "25000 20000");
	assert_int_equal(cg_format_cpu_max(0, 100000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "max 100000");
	assert_int_equal(cg_format_cpu_max(2, 1000000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2000000 1000000");
	/* below the kernel's 1 ms quota, bad periods, negative, NaN, tiny buffer */
	assert_int_equal(cg_format_cpu_max(0.001, 100000, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(cg_format_cpu_max(0.5, 999, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(cg_format_cpu_max(0.5, 1000001, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(cg_format_cpu_max(-1, 100000, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(cg_format_cpu_max(NAN, 100000, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(cg_format_cpu_max(0.5, 100000, buf, 5), -ENOBUFS);
	assert_int_equal(cg_format_cpu_max(0.5, 100000, NULL, 5), -EINVAL);
}

static void test_cpu_max_parse(void **state)
{
	double c;
	uint64_t p;
	assert_int_equal(cg_parse_cpu_max("50000 100000\n", &c, &p), 0);
	assert_true(fabs(c - 0.5) < 1e-12);
	assert_int_equal(p, 100000);
	assert_int_equal(cg_parse_cpu_max("max 100000", &c, &p), 0);
	assert_true(c == 0);
	assert_int_equal(cg_parse_cpu_max("150000 50000", &c, &p), 0);
	assert_true(fabs(c - 3.0) < 1e-12);
	assert_int_equal(p, 50000);
	assert_int_equal(cg_parse_cpu_max("", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max("50000", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max("50000 ", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max("-5 100000", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max("x 100000", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max("5000 0", &c, &p), -ERANGE);
	assert_int_equal(cg_parse_cpu_max("0 100000", &c, &p), -ERANGE);
	assert_int_equal(cg_parse_cpu_max("5000 100000\nx", &c, &p), -EINVAL);
	assert_int_equal(cg_parse_cpu_max(NULL, &c, &p), -EINVAL);
	/* round trip */
	char buf[64];
	assert_int_equal(cg_format_cpu_max(0.37, 100000, buf, sizeof(buf)), 0);
	assert_int_equal(cg_parse_cpu_max(buf, &c, &p), 0);
	assert_true(fabs(c - 0.37) < 1e-9);
}

static void test_cpulist_and_keyed(void **state)
{
	unsigned n;
	uint64_t v;
	assert_int_equal(cg_parse_cpulist("0-2,5", 8, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(cg_parse_cpulist("1\n", 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(cg_parse_cpulist("2", 2, &n), -ERANGE);
	assert_int_equal(cg_parse_cpulist("3-1", 8, &n), -EINVAL);
	assert_int_equal(cg_parse_cpulist("", 8, &n), -EINVAL);
	assert_int_equal(cg_parse_cpulist("1,", 8, &n), -EINVAL);
	assert_int_equal(cg_parse_cpulist("-1", 8, &n), -EINVAL);
	assert_int_equal(cg_parse_cpulist("a", 8, &n), -EINVAL);
	assert_int_equal(cg_parse_cpulist("1-", 8, &n), -EINVAL);

	const char *t = "usage_usec 1234\nuser_usec 1000\nnr_periods 7\nthrottled max\n";
	assert_int_equal(cg_parse_keyed(t, "usage_usec", &v), 0);
	assert_int_equal(v, 1234);
	assert_int_equal(cg_parse_keyed(t, "nr_periods", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(cg_parse_keyed(t, "throttled", &v), 0);
	assert_true(v == CG_UNLIMITED);
	/* exact key: "usage" is not "usage_usec" */
	assert_int_equal(cg_parse_keyed(t, "usage", &v), -ENXIO);
	assert_int_equal(cg_parse_keyed(t, "missing", &v), -ENXIO);
	assert_int_equal(cg_parse_keyed("oom_kill x\n", "oom_kill", &v), -EINVAL);
	assert_int_equal(cg_parse_keyed("oom_kill \n", "oom_kill", &v), -EINVAL);
	assert_int_equal(cg_parse_keyed(t, "", &v), -EINVAL);
}

static void expect_bad(const struct cg_limits *l, int err, const char *field)
{
	const char *f = "untouched";
	assert_int_equal(cg_limits_check(l, 4, 8ull << 30, &f), err);
	assert_string_equal(f, field);
}

static void test_limits_check(void **state)
{
	struct cg_limits l;
	const char *f = "untouched";

	cg_limits_init(&l);
	assert_int_equal(cg_limits_check(&l, 4, 8ull << 30, &f), 0);
	assert_string_equal(f, "untouched"); /* ret_* untouched on success */
	assert_int_equal(l.cpu_period_us, 100000);
	assert_true(l.memory_max == CG_UNLIMITED && l.pids_max == CG_UNLIMITED);

	l.cpu_cores = -0.5;
	expect_bad(&l, -ERANGE, "cpu_cores");
	l.cpu_cores = 4.5; /* above the node */
	expect_bad(&l, -ERANGE, "cpu_cores");
	l.cpu_cores = NAN;
	expect_bad(&l, -EINVAL, "cpu_cores");
	l.cpu_cores = 0.005; /* 500 us quota < 1 ms */
	expect_bad(&l, -ERANGE, "cpu_cores");
	l.cpu_cores = 4;
	assert_int_equal(cg_limits_check(&l, 4, 8ull << 30, NULL), 0);

	cg_limits_init(&l);
	l.cpu_period_us = 0;
	expect_bad(&l, -ERANGE, "cpu_period_us");
	l.cpu_period_us = 2000000;
	expect_bad(&l, -ERANGE, "cpu_period_us");

	cg_limits_init(&l);
	l.cpu_weight = 10001;
	expect_bad(&l, -ERANGE, "cpu_weight");
	cg_limits_init(&l);
	l.io_weight = 20000;
	expect_bad(&l, -ERANGE, "io_weight");

	cg_limits_init(&l);
	strcpy(l.cpuset_cpus, "0-4");
	expect_bad(&l, -ERANGE, "cpuset_cpus");
	strcpy(l.cpuset_cpus, "0,,1");
	expect_bad(&l, -EINVAL, "cpuset_cpus");
	strcpy(l.cpuset_cpus, "1");
	l.cpu_cores = 2; /* pinned to one core but asks for two */
	expect_bad(&l, -ERANGE, "cpu_cores");
	memset(l.cpuset_cpus, '1', sizeof(l.cpuset_cpus)); /* unterminated */
	l.cpu_cores = 0;
	expect_bad(&l, -EINVAL, "cpuset_cpus");

	cg_limits_init(&l);
	l.cpuset_exclusive = true;
	expect_bad(&l, -EINVAL, "cpuset_exclusive");
	strcpy(l.cpuset_mems, "x");
	l.cpuset_exclusive = false;
	expect_bad(&l, -EINVAL, "cpuset_mems");

	cg_limits_init(&l);
	l.memory_max = 0;
	expect_bad(&l, -EINVAL, "memory_max");
	l.memory_max = 9ull << 30;
	expect_bad(&l, -ERANGE, "memory_max");
	l.memory_max = 1ull << 30;
	l.memory_high = 2ull << 30;
	expect_bad(&l, -EINVAL, "memory_high");
	l.memory_high = 0;
	expect_bad(&l, -EINVAL, "memory_high");
	l.memory_high = 16ull << 30;
	l.memory_max = CG_UNLIMITED;
	expect_bad(&l, -ERANGE, "memory_high");

	cg_limits_init(&l);
	l.pids_max = 0;
	expect_bad(&l, -EINVAL, "pids_max");
	l.pids_max = 1ull << 40;
	expect_bad(&l, -ERANGE, "pids_max");

	cg_limits_init(&l);
	l.memory_swap_max = 0; /* no swap at all is a valid request */
	assert_int_equal(cg_limits_check(&l, 4, 8ull << 30, NULL), 0);
	assert_int_equal(cg_limits_check(NULL, 4, 1, NULL), -EINVAL);
	assert_non_null(strstr(cg_strerror_field(-ERANGE), "range"));
}

static void test_root_open_errors(void **state)
{
	struct fake *f = *state;
	struct cg_root *r = NULL;
	char p[PATH_MAX];

	assert_int_equal(cg_root_open(f->dir, "relative", &r), -EINVAL);
	assert_int_equal(cg_root_open("/elsewhere", f->root, &r), -EINVAL);
	snprintf(p, sizeof(p), "%s/../x", f->dir);
	assert_int_equal(cg_root_open(f->dir, p, &r), -EINVAL);
	snprintf(p, sizeof(p), "%s/nope/deeper", f->dir);
	assert_int_equal(cg_root_open(f->dir, p, &r), -ENOENT);
	assert_null(r);
	/* a plain file is not a subtree */
	snprintf(p, sizeof(p), "%s/es/cgroup.procs", f->dir);
	assert_int_equal(cg_root_open(f->dir, p, &r), -ENOTDIR);
	/* a missing configured root one level down is created */
	snprintf(p, sizeof(p), "%s/fresh", f->dir);
	assert_int_equal(cg_root_open(f->dir, p, &r), 0);
	assert_string_equal(cg_root_path(r), p);
	assert_false(cg_root_has(r, "cpu"));
	cg_root_free(r);
}

static void test_discover(void **state)
{
	struct fake *f = *state;
	char *path = NULL;
	char pc[PATH_MAX];

	snprintf(pc, sizeof(pc), "%s/proc-cgroup", f->dir);
	put(f->dir, "proc-cgroup", "12:pids:/x\n0::/system.slice/edgesliced.service\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), 0);
	assert_string_equal(path, "/sys/fs/cgroup/system.slice/edgesliced.service");
	free(path);
	path = NULL;
	assert_int_equal(cg_root_discover("/sys/fs/cgroup/unified/", pc, &path), 0);
	assert_string_equal(path, "/sys/fs/cgroup/unified/system.slice/edgesliced.service");
	free(path);
	path = NULL;
	put(f->dir, "proc-cgroup", "0::/\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), 0);
	assert_string_equal(path, "/sys/fs/cgroup");
	free(path);
	path = NULL;
	put(f->dir, "proc-cgroup", "4:memory:/a\n1:name=systemd:/\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), -ENOMEDIUM);
	put(f->dir, "proc-cgroup", "0::/gone (deleted)\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), -ENOENT);
	put(f->dir, "proc-cgroup", "0::relative\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), -EINVAL);
	put(f->dir, "proc-cgroup", "0::\n");
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", pc, &path), -EINVAL);
	assert_int_equal(cg_root_discover("/sys/fs/cgroup", "/nonexistent/x", &path), -ENOENT);
	assert_int_equal(cg_root_discover("rel", pc, &path), -EINVAL);
	assert_null(path);
}

static void test_setup_and_limits(void **state)
{
	struct fake *f = *state;
	struct cg_root *r = NULL;
	struct cg_task *t = NULL;
	struct cg_limits l;
	char td[PATH_MAX], *s;
	const char *field = NULL;

	put(f->root, "cgroup.procs", "4242\n");
	/* io is not offered: recorded, not fatal */
	put(f->root, "cgroup.controllers", "cpuset cpu memory pids\n");
	assert_int_equal(cg_root_open(f->dir, f->root, &r), 0);
	assert_int_equal(cg_root_setup(r), 0);
	assert_true(cg_root_has(r, "cpu") && cg_root_has(r, "memory") && cg_root_has(r, "pids"));
	assert_true(cg_root_has(r, "cpuset"));
	assert_false(cg_root_has(r, "io"));
	assert_false(cg_root_has(r, "bogus"));
	assert_string_equal(cg_root_missing(r), "io");
	/* the daemon's pid went to supervisor/ (its cgroup.procs is a plain file here) */
	snprintf(td, sizeof(td), "%s/supervisor", f->root);
	s = get(td, "cgroup.procs");
	assert_non_null(s);
	assert_string_equal(s, "4242");
	free(s);
	/* the last enable written (one controller per write) */
	s = get(f->root, "cgroup.subtree_control");
	assert_string_equal(s, "+pids");
	free(s);

	/* partition root for exclusive cores: cpus then "root" written, "" reverts */
	assert_int_equal(cg_root_set_partition(r, "1-3"), 0);
	s = get(f->root, "cpuset.cpus");
	assert_string_equal(s, "1-3");
	free(s);
	s = get(f->root, "cpuset.cpus.partition");
	assert_string_equal(s, "root");
	free(s);
	assert_int_equal(cg_root_set_partition(r, "3-1"), -EINVAL);
	assert_int_equal(cg_root_set_partition(r, NULL), 0);
	s = get(f->root, "cpuset.cpus.partition");
	assert_string_equal(s, "member");
	free(s);
	assert_int_equal(cg_root_set_partition(NULL, "1"), -EINVAL);

	cg_limits_init(&l);
	l.cpu_cores = 0.5;
	l.cpu_weight = 200;
	strcpy(l.cpuset_cpus, "1");
	strcpy(l.cpuset_mems, "0");
	l.memory_max = 256ull << 20;
	l.memory_high = 200ull << 20;
	l.memory_swap_max = 0;
	l.pids_max = 64;
	assert_int_equal(cg_task_create(r, "task-1", &l, &t), 0);
	snprintf(td, sizeof(td), "%s/task-1", f->root);
	s = get(td, "cpu.max");
	assert_string_equal(s, "50000 100000");
	free(s);
	s = get(td, "cpu.weight");
	assert_string_equal(s, "200");
	free(s);
	s = get(td, "cpuset.cpus");
	assert_string_equal(s, "1");
	free(s);
	s = get(td, "memory.max");
	assert_string_equal(s, "268435456");
	free(s);
	s = get(td, "memory.high");
	assert_string_equal(s, "209715200");
	free(s);
	s = get(td, "memory.swap.max");
	assert_string_equal(s, "0");
	free(s);
	s = get(td, "pids.max");
	assert_string_equal(s, "64");
	free(s);
	assert_string_equal(cg_task_name(t), "task-1");
	assert_true(cg_task_id(t) > 0);
	assert_true(cg_task_fd(t) >= 0);

	/* change a running task's limits: back to unlimited, new quota */
	l.cpu_cores = 1.5;
	l.cpu_period_us = 50000;
	strcpy(l.cpuset_cpus, "0-1");
	l.memory_max = CG_UNLIMITED;
	l.memory_high = CG_UNLIMITED;
	l.pids_max = CG_UNLIMITED;
	assert_int_equal(cg_task_set_limits(t, &l), 0);
	s = get(td, "cpu.max");
	assert_string_equal(s, "75000 50000");
	free(s);
	s = get(td, "memory.max");
	assert_string_equal(s, "max");
	free(s);
	s = get(td, "pids.max");
	assert_string_equal(s, "max");
	free(s);

	/* io not enabled: asking for io.weight names the field */
	l.io_weight = 100;
	assert_int_equal(cg_task_apply_limits(t, &l, &field), -EOPNOTSUPP);
	assert_string_equal(field, "io_weight");
	l.io_weight = 0;
	l.pids_max = 0;
	assert_int_equal(cg_task_apply_limits(t, &l, &field), -EINVAL);
	assert_string_equal(field, "pids_max");

	/* create: duplicate, bad names, bad limits leave nothing behind */
	struct cg_task *t2 = NULL;
	assert_int_equal(cg_task_create(r, "task-1", NULL, &t2), -EEXIST);
	assert_int_equal(cg_task_create(r, "supervisor", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "a/b", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "..", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "cgroup.procs", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "memory.max", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, "tab\there", NULL, &t2), -EINVAL);
	assert_int_equal(cg_task_create(r, NULL, NULL, &t2), -EINVAL);
	l.memory_max = 0;
	assert_int_equal(cg_task_create(r, "task-2", &l, &t2), -EINVAL);
	cg_limits_init(&l);
	l.io_weight = 50; /* controller missing: created then removed again */
	field = NULL;
	assert_int_equal(cg_task_create_ex(r, "task-3", &l, &t2, &field), -EOPNOTSUPP);
	assert_string_equal(field, "io_weight");
	l.io_weight = 0;
	l.memory_max = 0;
	assert_int_equal(cg_task_create_ex(r, "task-3", &l, &t2, &field), -EINVAL);
	assert_string_equal(field, "memory_max");
	cg_limits_init(&l);
	l.io_weight = 50;
	assert_int_equal(cg_task_create(r, "task-3", &l, &t2), -EOPNOTSUPP);
	assert_null(t2);
	struct stat st;
	snprintf(td, sizeof(td), "%s/task-2", f->root);
	assert_int_equal(stat(td, &st), -1);
	snprintf(td, sizeof(td), "%s/task-3", f->root);
	assert_int_equal(stat(td, &st), -1);

	/* adopt */
	assert_int_equal(cg_task_adopt(r, "nope", &t2), -ENOENT);
	assert_int_equal(cg_task_adopt(r, "../x", &t2), -EINVAL);
	assert_int_equal(cg_task_adopt(r, "cgroup.procs", &t2), -EINVAL);
	assert_int_equal(cg_task_adopt(r, "task-1", &t2), 0);
	assert_int_equal(cg_task_id(t2), cg_task_id(t));
	cg_task_free(t2);

	/* destroy removes it (fake tree: files unlinked, dir removed) */
	snprintf(td, sizeof(td), "%s/task-1", f->root);
	assert_int_equal(mkdir(strcat(td, "/nested"), 0755), 0);
	assert_int_equal(cg_task_destroy(t, 100), 0);
	snprintf(td, sizeof(td), "%s/task-1", f->root);
	assert_int_equal(stat(td, &st), -1);
	assert_int_equal(cg_task_destroy(NULL, 0), -EINVAL);
	cg_root_free(r);
}

static void test_setup_missing_controllers(void **state)
{
	struct fake *f = *state;
	struct cg_root *r = NULL;
	struct cg_task *t = NULL;
	struct cg_limits l;

	/* the host's hybrid v2: no controllers at all */
	put(f->root, "cgroup.controllers", "");
	assert_int_equal(cg_root_open(f->dir, f->root, &r), 0);
	assert_int_equal(cg_root_setup(r), 0);
	assert_string_equal(cg_root_missing(r), "cpu cpuset memory io pids");
	assert_int_equal(cg_root_set_partition(r, "1"), -EOPNOTSUPP);
	cg_limits_init(&l);
	/* unlimited everything still works: nothing to write */
	assert_int_equal(cg_task_create(r, "t", &l, &t), 0);
	l.cpu_cores = 1;
	const char *field = NULL;
	assert_int_equal(cg_task_apply_limits(t, &l, &field), -EOPNOTSUPP);
	assert_string_equal(field, "cpu_cores");
	cg_limits_init(&l);
	l.memory_max = 1 << 20;
	assert_int_equal(cg_task_apply_limits(t, &l, &field), -EOPNOTSUPP);
	assert_string_equal(field, "memory_max");
	assert_int_equal(cg_task_destroy(t, 10), 0);
	cg_root_free(r);
}

static void test_events_and_spawn(void **state)
{
	struct fake *f = *state;
	struct cg_root *r = NULL;
	struct cg_task *t = NULL;
	struct cg_events ev;
	char td[PATH_MAX];
	uint64_t usec;

	assert_int_equal(cg_root_open(f->dir, f->root, &r), 0);
	assert_int_equal(cg_task_create(r, "t", NULL, &t), 0);
	snprintf(td, sizeof(td), "%s/t", f->root);
	/* no cgroup.events yet */
	assert_int_equal(cg_task_read_events(t, &ev), -ENOENT);
	put(td, "cgroup.events", "populated 1\nfrozen 0\n");
	put(td, "memory.events", "low 0\nhigh 3\nmax 2\noom 1\noom_kill 1\noom_group_kill 0\n");
	int wfd = cg_task_watch_fd(t);
	assert_true(wfd >= 0);
	assert_int_equal(cg_task_watch_fd(t), wfd); /* one per task */
	assert_int_equal(cg_task_read_events(t, &ev), 0);
	assert_true(ev.populated);
	assert_false(ev.frozen);
	assert_int_equal(ev.oom, 1);
	assert_int_equal(ev.oom_kill, 1);
	assert_int_equal(ev.max, 2);
	assert_int_equal(ev.high, 3);
	/* a change fires the watch (pwrite keeps the cached fd valid) */
	{
		char p[PATH_MAX];
		snprintf(p, sizeof(p), "%s/cgroup.events", td);
		int fd = open(p, O_WRONLY);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "populated 0\n", 12, 0), 12);
		close(fd);
	}
	char buf[256];
	assert_true(read(wfd, buf, sizeof(buf)) > 0);
	assert_int_equal(cg_task_read_events(t, &ev), 0);
	assert_false(ev.populated);
	put(td, "cgroup.events", "frozen 1\n");
	assert_int_equal(cg_task_read_events(t, &ev), -ENXIO);

	assert_int_equal(cg_task_read_cpu_usec(t, &usec), -ENOENT);
	put(td, "cpu.stat", "usage_usec 777\nuser_usec 700\n");
	assert_int_equal(cg_task_read_cpu_usec(t, &usec), 0);
	assert_int_equal(usec, 777);

	/* spawn on a fake tree: clone3 refuses a non-cgroup fd, the fallback writes the
	 * child's pid into cgroup.procs before exec */
	put(td, "cgroup.procs", "");
	char *argv[] = {"true", NULL};
	struct cg_exec e;
	pid_t pid = 0;
	int pidfd = -1, status;
	cg_exec_init(&e, argv);
	assert_int_equal(cg_task_spawn(t, &e, &pid, &pidfd), 0);
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (pidfd >= 0)
		close(pidfd);
	char *s = get(td, "cgroup.procs");
	assert_int_equal(atoi(s), pid);
	free(s);
	/* stdout redirected, cwd and (as root) uid/gid applied in the child */
	{
		int pfd[2];
		char out[128] = "";
		char *idv[] = {"sh", "-c", "echo $(id -u):$(id -g):$(pwd)", NULL};
		assert_int_equal(pipe(pfd), 0);
		cg_exec_init(&e, idv);
		e.stdout_fd = pfd[1];
		e.cwd = "/";
		if (geteuid() == 0) {
			e.uid = 65534;
			e.gid = 65534;
		}
		assert_int_equal(cg_task_spawn(t, &e, &pid, NULL), 0);
		close(pfd[1]);
		assert_true(read(pfd[0], out, sizeof(out) - 1) > 0);
		close(pfd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (geteuid() == 0)
			assert_string_equal(out, "65534:65534:/\n");
		else
			assert_non_null(strstr(out, ":/\n"));
		cg_exec_init(&e, argv);
	}
	/* exec failure is reported as its errno, not a pid */
	char *bad[] = {"/nonexistent/binary", NULL};
	e.argv = bad;
	pid = 0;
	assert_int_equal(cg_task_spawn(t, &e, &pid, NULL), -ENOENT);
	assert_int_equal(pid, 0);
	e.cwd = "/nonexistent-dir";
	e.argv = argv;
	assert_int_equal(cg_task_spawn(t, &e, &pid, NULL), -ENOENT);
	/* forced clone3 on a fake tree: the kernel's refusal comes back */
	e.cwd = NULL;
	assert_true(cg_task_spawn_mode(t, &e, CG_SPAWN_CLONE3, &pid, NULL) < 0);
	e.argv = NULL;
	assert_int_equal(cg_task_spawn(t, &e, &pid, NULL), -EINVAL);
	assert_int_equal(cg_task_spawn(NULL, &e, &pid, NULL), -EINVAL);

	/* kill on a fake tree: cgroup.kill is written */
	put(td, "cgroup.kill", "");
	assert_int_equal(cg_task_kill(t), 0);
	s = get(td, "cgroup.kill");
	assert_string_equal(s, "1");
	free(s);
	assert_int_equal(cg_task_kill(NULL), -EINVAL);
	assert_int_equal(cg_task_destroy(t, 10), 0);
	cg_root_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpu_max_format),
	    cmocka_unit_test(test_cpu_max_parse),
	    cmocka_unit_test(test_cpulist_and_keyed),
	    cmocka_unit_test(test_limits_check),
	    cmocka_unit_test_setup_teardown(test_root_open_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_discover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_setup_and_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_setup_missing_controllers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_and_spawn, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
