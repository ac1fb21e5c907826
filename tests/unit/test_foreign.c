/* test_foreign.c — the foreign-load readers: busy time of a CPU set from /proc/stat text,
 * runtime classification of cgroup paths, and the scan of a fake cgroup tree. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "probes.h"

static const char *stat_text = "cpu  400 0 200 1000 0 0 0 0 0 0\n"
			       "cpu0 100 0 50 250 0 0 0 0 0 0\n"
			       "cpu1 100 0 50 250 0 0 0 0 0 0\n"
			       "cpu2 150 0 50 200 0 0 0 0 0 0\n"
			       "cpu3 50 0 50 300 0 0 0 0 0 0\n"
			       "intr 1 2 3\n";

static void test_cpuset_busy(void **state)
{
	struct probe_proc_stat s;
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "2-3", &s), 0);
	assert_int_equal(s.ncpus, 2);
	assert_int_equal(s.busy_ticks, 300);
	assert_int_equal(s.total_ticks, 800);
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "0,2", &s), 0);
	assert_int_equal(s.busy_ticks, 350);
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "0-4095", &s), 0);
	assert_int_equal(s.ncpus, 4);
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "8-9", &s), -ENXIO); /* offline */
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "x", &s), -EINVAL);
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "3-1", &s), -EINVAL);
	assert_int_equal(probe_parse_proc_stat_cpus(stat_text, "0-4096", &s), -EINVAL);
	assert_int_equal(probe_parse_proc_stat_cpus("cpu0 1 2\n", "0", &s), -EINVAL); /* cut */
	assert_int_equal(probe_parse_proc_stat_cpus(NULL, "0", &s), -EINVAL);
}

static void test_kind(void **state)
{
	assert_string_equal(
	    probe_foreign_kind("kubepods.slice/kubepods-burstable.slice/"
			       "kubepods-burstable-pod1.slice/cri-containerd-ab.scope"),
	    "kubernetes");
	/* Pod and QoS slices only group containers. */
	assert_null(probe_foreign_kind("kubepods.slice/kubepods-burstable.slice"));
	assert_string_equal(
	    probe_foreign_kind("/kubepods/burstable/pod12/0123abcd"),
	    "kubernetes"); /* cgroupfs driver: a pod dir is pod*, a container its id */
	assert_string_equal(probe_foreign_kind("system.slice/docker-0123.scope"), "docker");
	assert_string_equal(probe_foreign_kind("machine.slice/libpod-99.scope"), "podman");
	assert_string_equal(probe_foreign_kind("system.slice/nginx.service"), "service");
	assert_null(probe_foreign_kind("user.slice/user-0.slice"));
	assert_null(probe_foreign_kind("system.slice"));
}

static void mk(const char *root, const char *rel, const char *cpustat)
{
	char p[512];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
	if (!cpustat)
		return;
	strncat(p, "/cpu.stat", sizeof(p) - strlen(p) - 1);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(cpustat, f);
	fclose(f);
}

static void test_scan(void **state)
{
	char root[] = "/tmp/es-foreign-XXXXXX";
	struct probe_foreign *f;
	struct probe_foreign_cg top[4];
	int fd;
	size_t n;

	assert_non_null(mkdtemp(root));
	mk(root, "kubepods.slice/kubepods-besteffort.slice/pod1.slice/cri-containerd-a.scope",
	   "usage_usec 1000000\nuser_usec 0\nsystem_usec 0\n");
	mk(root, "system.slice/nginx.service", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
	mk(root, "system.slice/edgeslice-tasks.service",
	   "usage_usec 0\nuser_usec 0\nsystem_usec 0\n");
	fd = open(root, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(probe_foreign_new(fd, "/system.slice/edgeslice-tasks.service", &f), 0);
	assert_int_equal(probe_foreign_scan(f, 1000000), 0);
	mk(root, "kubepods.slice/kubepods-besteffort.slice/pod1.slice/cri-containerd-a.scope",
	   "usage_usec 2500000\nuser_usec 0\nsystem_usec 0\n");
	assert_int_equal(probe_foreign_scan(f, 2000000), 0); /* 1.5 s of CPU in 1 s */
	n = probe_foreign_top(f, top, 4);
	assert_int_equal(n, 2); /* our own service is never foreign */
	assert_string_equal(top[0].kind, "kubernetes");
	assert_true(top[0].cores > 1.49 && top[0].cores < 1.51);
	assert_string_equal(top[1].path, "system.slice/nginx.service");
	probe_foreign_free(f);
	close(fd);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpuset_busy),
	    cmocka_unit_test(test_kind),
	    cmocka_unit_test(test_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
