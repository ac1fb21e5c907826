/* kernel.c — what this node's kernel lacks for edgeslice (BTF, the memory controller, PSI, a
 * cgroup2-only hierarchy): said once each at start-up with the flag that fixes it. */
#include "daemon-internal.h"

#include <limits.h>
#include <sys/statfs.h>
#include <unistd.h>

/* What this kernel lacks (BTF, the memory controller, PSI, a cgroup2-only hierarchy), said
 * once each with the flag that fixes it, and kept for status. */
int daemon_check_kernel(struct daemon *d, const char *cgfs)
{
	const char *sys = d->o.sys ? d->o.sys : "/sys", *proc = d->o.proc ? d->o.proc : "/proc";
	char advice[1024], *line, *save = NULL;
	struct statfs sf;
	char path[PATH_MAX];
	int r;

	r = probe_caps_detect(sys, proc, cgfs, &d->caps);
	if (r < 0)
		return r;
	d->caps.btf = access(d->btf_path, R_OK) == 0;
	/* Hybrid: cgroup v1 at <sys>/fs/cgroup, our cgroup2 below it without controllers. */
	snprintf(path, sizeof(path), "%s/fs/cgroup", sys);
	d->hybrid = statfs(path, &sf) == 0 && sf.f_type != 0x63677270 &&
		    !cg_root_has(d->root, "cpu") && !cg_root_has(d->root, "memory");
	if (d->hybrid)
		daemon_log(
		    LOG_WARNING,
		    "this host mounts cgroups in hybrid mode: the controllers belong to the "
		    "v1 hierarchies under %s and the cgroup2 one at %s has none, so no limit is "
		    "enforced; boot with systemd.unified_cgroup_hierarchy=1",
		    path, cgfs);
	d->mem_enforced = cg_root_has(d->root, "memory");
	if (!d->mem_enforced && d->conf.require_memory) {
		daemon_log(LOG_ERR, "require_memory = yes, but %s",
			   d->caps.memory_disabled_cmdline
			       ? "the memory controller is disabled (cgroup_disable=memory): add "
				 "cgroup_enable=memory to the kernel command line and reboot"
			       : "the memory controller is not available here: add "
				 "cgroup_enable=memory to the kernel command line and reboot");
		return -EOPNOTSUPP;
	}
	r = probe_caps_advice(&d->caps, advice, sizeof(advice));
	if (r < 0)
		return r;
	d->n_kernel_warnings = 0;
	for (line = strtok_r(advice, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (d->hybrid && strstr(line, "memory controller"))
			continue; /* the hybrid line said it all */
		daemon_log(LOG_NOTICE, "%s", line);
		if (d->n_kernel_warnings < ELEMENTSOF(d->kernel_warnings))
			snprintf(d->kernel_warnings[d->n_kernel_warnings++],
				 sizeof(d->kernel_warnings[0]), "%s", line);
	}
	if (d->hybrid && d->n_kernel_warnings < ELEMENTSOF(d->kernel_warnings))
		snprintf(d->kernel_warnings[d->n_kernel_warnings++], sizeof(d->kernel_warnings[0]),
			 "cgroups in hybrid mode: no limit is enforced (boot with "
			 "systemd.unified_cgroup_hierarchy=1)");
	return 0;
}
