/* cg.c — cgroup v2 enforcement: the delegated subtree, one cgroup per inference task, its
 * limits, starting a task inside it atomically, and noticing exit, emptiness and OOM kills.
 *
 * The tree edgeslice owns (the unit's own cgroup under Delegate=yes, or a configured root):
 *
 *   /sys/fs/cgroup/                          cgroupfs_root (pure v2; hybrid: .../unified)
 *   └── system.slice/edgesliced.service/     the delegated root (struct cg_root)
 *       │   cgroup.subtree_control = "+cpu +cpuset +memory +io +pids" (those offered)
 *       ├── supervisor/                      edgesliced itself (leaf: no-internal-process rule)
 *       ├── task-resnet50-17/                one cgroup per task (struct cg_task)
 *       │       cpu.max  cpu.weight  cpuset.cpus/.mems  memory.max/.high/.swap.max
 *       │       pids.max  io.weight  cgroup.events  memory.events  cgroup.kill
 *       └── ctr-abc/                         adopted: started by another runtime
 *           └── (whatever that runtime made)  torn down depth-first
 *
 * Processes only ever live in leaves: the daemon in supervisor/, tasks in their own
 * cgroup, placed there by clone3(CLONE_INTO_CGROUP) so no instruction runs elsewhere. */
#include "cg-internal.h"

/* The controllers edgeslice asks for, in the order they are enabled. */
const char *const cg_wanted[5] = {"cpu", "cpuset", "memory", "io", "pids"};

void cg_root_freep(struct cg_root **p)
{
	cg_root_free(*p);
}
void cg_task_freep(struct cg_task **p)
{
	cg_task_free(*p);
}

/* cgroup files are rewritten in place; O_TRUNC keeps fake trees honest and is a no-op
 * on cgroupfs. One write(2), since the kernel parses each write as a whole. */
int cg_write_at(int dirfd, const char *file, const char *s)
{
	return write_string_flags_at(dirfd, file, s, O_TRUNC);
}

/* On a fake tree (unit tests) the kernel is not there to provide the interface files. */
int cg_write_ctl(const struct cg_root *r, int dirfd, const char *file, const char *s)
{
	return write_string_flags_at(dirfd, file, s, O_TRUNC | (r->is_cgroupfs ? 0 : O_CREAT));
}

int cg_ctl_index(const char *name, size_t len)
{
	for (size_t i = 0; i < ELEMENTSOF(cg_wanted); i++)
		if (strlen(cg_wanted[i]) == len && strncmp(cg_wanted[i], name, len) == 0)
			return (int)i;
	return -1;
}

/* A space-separated controller list ("cpuset cpu io memory pids") as a bitmask. */
unsigned cg_parse_controllers(const char *s)
{
	unsigned mask = 0;

	while (*s) {
		size_t n;
		s += strspn(s, " \t\n");
		n = strcspn(s, " \t\n");
		if (n == 0)
			break;
		int i = cg_ctl_index(s[0] == '+' ? s + 1 : s, s[0] == '+' ? n - 1 : n);
		if (i >= 0)
			mask |= 1u << i;
		s += n;
	}
	return mask;
}

int cg_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	size_t klen = strlen(key);

	if (klen == 0)
		return -EINVAL;
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, klen) != 0 || p[klen] != ' ')
			continue;
		char num[32];
		size_t n = strcspn(p + klen + 1, "\n");
		if (n == 0 || n >= sizeof(num))
			return -EINVAL;
		memcpy(num, p + klen + 1, n);
		num[n] = '\0';
		if (strcmp(num, "max") == 0) {
			*ret = CG_UNLIMITED;
			return 0;
		}
		return parse_u64(num, ret);
	}
	return -ENXIO;
}
