/* edgesliced.c — the node service's entry point. The service itself lives in
 * controller/daemon*.c; this file only parses the command line and runs it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: edgesliced [OPTIONS...]\n\n"
	    "The edgeslice node service: queues inference tasks, places them with the configured\n"
	    "policy (RD-DRF by default), enforces each placement with a cgroup v2 and serves the\n"
	    "control socket used by edgeslice(1). See docs/DAEMON.md.\n\n"
	    "  --config FILE        configuration (default /etc/edgeslice/edgeslice.conf;\n"
	    "                       a missing file means the defaults)\n"
	    "  --state-dir DIR      persisted tasks (default /var/lib/edgeslice)\n"
	    "  --runtime-dir DIR    control.sock lives here (default /run/edgeslice);\n"
	    "                       ignored under socket activation\n"
	    "  --cgroupfs DIR       cgroup2 mount (default /sys/fs/cgroup, or .../unified)\n"
	    "  --cgroup-root PATH   subtree for tasks, a path inside the cgroup2 hierarchy such\n"
	    "                       as /system.slice/edgeslice-tasks.service (created if\n"
	    "                       missing; default: our own cgroup under Delegate=yes)\n"
	    "  --btf FILE           kernel BTF for the eBPF probe (default\n"
	    "                       /sys/kernel/btf/vmlinux; missing: cgroup files only)\n"
	    "  --procfs DIR         procfs root (default /proc)\n"
	    "  --sysfs DIR          sysfs root (default /sys)\n"
	    "  --recover            rebuild a damaged STATE_DIR/state.db from the rows that\n"
	    "                       still read and the task cgroups, keep the damaged file as\n"
	    "                       state.db.damaged-TIMESTAMP, print what was recovered, exit\n"
	    "  -h --help            show this help\n"
	    "  --version            show the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"state-dir", required_argument, NULL, 's'},
	    {"runtime-dir", required_argument, NULL, 'r'},
	    {"cgroupfs", required_argument, NULL, 'f'},
	    {"cgroup-root", required_argument, NULL, 'g'},
	    {"btf", required_argument, NULL, 'b'},
	    {"procfs", required_argument, NULL, 'p'},
	    {"sysfs", required_argument, NULL, 'y'},
	    {"recover", no_argument, NULL, 'R'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {},
	};
	struct daemon_opts o = {
	    .config = "/etc/edgeslice/edgeslice.conf",
	    .state_dir = "/var/lib/edgeslice",
	    .runtime_dir = "/run/edgeslice",
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'r':
			o.runtime_dir = optarg;
			break;
		case 'f':
			o.cgroupfs = optarg;
			break;
		case 'g':
			if (optarg[0] != '/') {
				fprintf(stderr, "edgesliced: --cgroup-root: must start with /\n");
				return 2;
			}
			o.cgroup_root = optarg;
			break;
		case 'b':
			o.btf = optarg;
			break;
		case 'p':
			o.proc = optarg;
			break;
		case 'y':
			o.sys = optarg;
			break;
		case 'R':
			o.recover = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("edgesliced 0.1.0\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "edgesliced: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return daemon_run(&o);
}
