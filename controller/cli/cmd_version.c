/* cmd_version.c — `edgeslice version`: build and kernel feature summary (what this node's
 * kernel lets edgeslice measure and enforce, as the daemon would find it at start). */
#include <bpf/libbpf.h>
#include <json-c/json_c_version.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/utsname.h>

#include "cli.h"
#include "probes.h"

#define CGROUP2_MAGIC 0x63677270
#ifdef __clang__
#define COMPILER "clang " __clang_version__
#else
#define COMPILER "gcc " __VERSION__
#endif

static const char *cgroupfs(void)
{
	struct statfs sf;

	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
		return "/sys/fs/cgroup";
	if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_MAGIC)
		return "/sys/fs/cgroup/unified"; /* hybrid hosts */
	return NULL;
}

static const char *yes(bool b)
{
	return b ? "yes" : "no";
}

static int cmd_version(int argc, char **argv)
{
	struct probe_caps caps;
	struct utsname u;
	const char *cg;
	char advice[1024];

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: edgeslice version\n\nPrint the version, how it was built and what "
		       "this node's kernel offers (cgroup2, BTF for the eBPF probes, memory "
		       "controller, PSI).\n");
		return ES_EXIT_OK;
	}
	printf("edgeslice 0.1.0\n");
	printf("build: %s, libbpf %u.%u, json-c %s\n", COMPILER, libbpf_major_version(),
	       libbpf_minor_version(), json_c_version());
	if (uname(&u) == 0)
		printf("kernel: %s %s %s\n", u.sysname, u.release, u.machine);
	cg = cgroupfs();
	printf("cgroup2: %s\n", cg ? cg : "not mounted");
	if (probe_caps_detect("/sys", "/proc", cg ? cg : "/sys/fs/cgroup", &caps) < 0)
		return ES_EXIT_OK;
	printf("btf: %s\nmemory controller: %s\npsi: %s\n", yes(caps.btf), yes(caps.memory_ctl),
	       yes(caps.psi));
	if (probe_caps_advice(&caps, advice, sizeof(advice)) > 0)
		printf("%s%s", advice, advice[strlen(advice) - 1] == '\n' ? "" : "\n");
	return ES_EXIT_OK;
}
ES_COMMAND("version", cmd_version, "Print the version");
