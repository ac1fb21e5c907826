/* caps.c — detects what this node's kernel lets edgeslice measure (BTF, memory controller,
 * PSI) and words the one-time advice for kernels that lack it, e.g. Raspberry Pi OS. */
#include "probes.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

static bool exists(const char *root, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", root, rel);
	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0;
}

static bool has_word(const char *text, const char *word)
{
	size_t len = strlen(word);
	for (const char *p = text; (p = strstr(p, word)); p += len) {
		bool start = p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
		char e = p[len];
		if (start && (e == '\0' || e == ' ' || e == '\t' || e == '\n'))
			return true;
	}
	return false;
}

int probe_caps_detect(const char *sys, const char *proc, const char *cgroupfs,
		      struct probe_caps *ret)
{
	struct probe_caps c = {};
	char path[PATH_MAX];
	struct probe_psi psi;

	if (!sys || !proc || !cgroupfs)
		return -EINVAL;
	c.btf = exists(sys, "kernel/btf/vmlinux");
	c.psi = probe_read_node_pressure(proc, "cpu", &psi) == 0;
	if (snprintf(path, sizeof(path), "%s/cgroup.controllers", cgroupfs) < (int)sizeof(path)) {
		_cleanup_free_ char *ctl = NULL;
		if (read_file_at(AT_FDCWD, path, &ctl, NULL) == 0)
			c.memory_ctl = has_word(ctl, "memory");
	}
	if (snprintf(path, sizeof(path), "%s/cmdline", proc) < (int)sizeof(path)) {
		_cleanup_free_ char *cmd = NULL;
		if (read_file_at(AT_FDCWD, path, &cmd, NULL) == 0)
			c.memory_disabled_cmdline = has_word(cmd, "cgroup_disable=memory");
	}
	*ret = c;
	return 0;
}

int probe_caps_advice(const struct probe_caps *c, char *buf, size_t size)
{
	size_t off = 0;
	int lines = 0;
	const char *msg[3];

	if (!c || !buf || size == 0)
		return -EINVAL;
	if (!c->btf)
		msg[lines++] =
		    "kernel has no BTF (/sys/kernel/btf/vmlinux): eBPF probes off, measuring from "
		    "cgroup files only (no run-queue latency); a kernel built with "
		    "CONFIG_DEBUG_INFO_BTF=y enables them";
	if (!c->memory_ctl)
		msg[lines++] =
		    c->memory_disabled_cmdline
			? "memory controller disabled (cgroup_disable=memory on the kernel command "
			  "line): add cgroup_enable=memory (Raspberry Pi: "
			  "/boot/firmware/cmdline.txt) "
			  "and reboot; memory is neither limited nor measured per task"
			: "memory controller not available in the cgroup2 root: add "
			  "cgroup_enable=memory to the kernel command line and reboot; memory is "
			  "neither limited nor measured per task";
	if (!c->psi)
		msg[lines++] =
		    "PSI off (/proc/pressure unreadable): add psi=1 to the kernel command line "
		    "and reboot; pressure columns stay empty";
	buf[0] = '\0';
	for (int i = 0; i < lines; i++) {
		int n = snprintf(buf + off, size - off, "%s\n", msg[i]);
		if (n < 0 || (size_t)n >= size - off)
			return -ENOBUFS;
		off += (size_t)n;
	}
	return lines;
}
