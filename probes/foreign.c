/* foreign.c — the load edgeslice did not start: busy time of a CPU set from /proc/stat, and
 * the cgroups of known runtimes (kubelet/containerd, Docker, Podman, systemd services) with
 * their CPU and memory use, read-only (foreign.h in probes.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "probes.h"
#include "util.h"

int probe_cpulist_parse(const char *s, uint64_t *bits)
{
	const char *p = s;

	memset(bits, 0, PROBE_MAX_CPUS / 8);
	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		char *end;
		unsigned long a, b;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		a = b = strtoul(p, &end, 10);
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (b < a || b >= PROBE_MAX_CPUS)
			return -EINVAL;
		for (unsigned long c = a; c <= b; c++)
			bits[c / 64] |= 1ull << (c % 64);
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return 0;
}

int probe_parse_proc_stat_cpus(const char *text, const char *cpus, struct probe_proc_stat *ret)
{
	uint64_t bits[PROBE_MAX_CPUS / 64];
	struct probe_proc_stat s = {0};
	int r;

	if (!text)
		return -EINVAL;
	r = probe_cpulist_parse(cpus, bits);
	if (r < 0)
		return r;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > 3 && !memcmp(p, "cpu", 3) && p[3] >= '0' && p[3] <= '9') {
			char *end;
			unsigned long c = strtoul(p + 3, &end, 10);
			uint64_t f[8] = {0};
			const char *q = end;
			if (c < PROBE_MAX_CPUS && (bits[c / 64] & (1ull << (c % 64)))) {
				for (size_t i = 0; i < 8; i++) {
					while (q < p + n && *q == ' ')
						q++;
					if (q >= p + n || *q < '0' || *q > '9')
						return -EINVAL;
					f[i] = strtoull(q, &end, 10);
					q = end;
				}
				s.busy_ticks += f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
				s.total_ticks +=
				    f[0] + f[1] + f[2] + f[5] + f[6] + f[7] + f[3] + f[4];
				s.ncpus++;
			}
		}
		p += n;
		if (*p == '\n')
			p++;
	}
	if (!s.ncpus)
		return -ENXIO;
	*ret = s;
	return 0;
}

const char *probe_foreign_kind(const char *path)
{
	static const struct {
		const char *pattern, *kind;
	} known[] = {
	    {"system.slice/docker-*.scope", "docker"},
	    {"docker/*", "docker"},
	    {"machine.slice/libpod-*.scope", "podman"},
	    {"machine.slice/machine-*.scope", "machine"},
	    {"system.slice/*.service", "service"},
	};
	const char *base = strrchr(path, '/');
	char parent[PROBE_FOREIGN_PATH] = "";

	while (*path == '/')
		path++;
	base = base ? base + 1 : path;
	if (base > path + 1) {
		const char *p = base - 1;
		while (p > path && p[-1] != '/')
			p--;
		snprintf(parent, sizeof(parent), "%.*s", (int)(base - 1 - p), p);
	}
	/* Kubernetes: containers are the children of a pod ("pod<uid>" with the cgroupfs
	 * driver, "kubepods-<qos>-pod<uid>.slice" with systemd's); QoS and pod cgroups only
	 * group them. */
	if (!strncmp(path, "kubepods", 8))
		return (!fnmatch("pod*", parent, 0) || !fnmatch("*-pod*.slice", parent, 0)) &&
			       fnmatch("pod*", base, 0) && fnmatch("*.slice", base, 0)
			   ? "kubernetes"
			   : NULL;
	for (size_t i = 0; i < ELEMENTSOF(known); i++)
		if (!fnmatch(known[i].pattern, path, 0))
			return known[i].kind;
	return NULL;
}

struct seen {
	char path[PROBE_FOREIGN_PATH];
	uint64_t usage_usec, at_usec;
	double cores;
	bool live;
};

struct probe_foreign {
	int cgfs_fd;
	char exclude[PROBE_FOREIGN_PATH]; /* our own subtree, never foreign */
	struct seen *s;
	size_t n, cap;
};

int probe_foreign_new(int cgfs_fd, const char *exclude, struct probe_foreign **ret)
{
	struct probe_foreign *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->cgfs_fd = fcntl(cgfs_fd, F_DUPFD_CLOEXEC, 3);
	if (f->cgfs_fd < 0) {
		free(f);
		return negative_errno();
	}
	while (exclude && *exclude == '/')
		exclude++;
	snprintf(f->exclude, sizeof(f->exclude), "%s", exclude ? exclude : "");
	*ret = f;
	return 0;
}

void probe_foreign_free(struct probe_foreign *f)
{
	if (!f)
		return;
	close(f->cgfs_fd);
	free(f->s);
	free(f);
}

static struct seen *seen_get(struct probe_foreign *f, const char *path)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->s[i].path, path))
			return &f->s[i];
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 32;
		struct seen *s;
		if (cap > PROBE_FOREIGN_MAX)
			return NULL;
		s = realloc(f->s, cap * sizeof(*s));
		if (!s)
			return NULL;
		f->s = s;
		f->cap = cap;
	}
	memset(&f->s[f->n], 0, sizeof(f->s[0]));
	snprintf(f->s[f->n].path, sizeof(f->s[0].path), "%s", path);
	return &f->s[f->n++];
}

static void visit(struct probe_foreign *f, const char *path, uint64_t now, int depth)
{
	struct probe_cpu_stat cs;
	_cleanup_close_ int fd = -1;
	DIR *dir;
	struct dirent *de;
	const char *kind;

	const char *base = strrchr(path, '/');

	if (f->exclude[0] && !strncmp(path, f->exclude, strlen(f->exclude)))
		return;
	if (!strncmp(base ? base + 1 : path, "edgeslice", 9)) /* our own units */
		return;
	kind = probe_foreign_kind(path);
	if (kind && probe_read_cpu_stat_at(f->cgfs_fd, path, &cs) >= 0) {
		struct seen *s = seen_get(f, path);
		if (s) {
			if (s->at_usec && now > s->at_usec && cs.usage_usec >= s->usage_usec)
				s->cores = (double)(cs.usage_usec - s->usage_usec) /
					   (double)(now - s->at_usec);
			s->usage_usec = cs.usage_usec;
			s->at_usec = now;
			s->live = true;
		}
		return; /* a container's own children are its business */
	}
	if (depth >= 4)
		return;
	fd = openat(f->cgfs_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	dir = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
	if (!dir)
		return;
	while ((de = readdir(dir))) {
		char sub[PROBE_FOREIGN_PATH];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >= (int)sizeof(sub))
			continue;
		visit(f, sub, now, depth + 1);
	}
	closedir(dir);
}

int probe_foreign_scan(struct probe_foreign *f, uint64_t now_usec)
{
	static const char *const roots[] = {"kubepods.slice", "kubepods", "system.slice",
					    "machine.slice", "docker"};
	size_t k = 0;

	for (size_t i = 0; i < f->n; i++)
		f->s[i].live = false;
	for (size_t i = 0; i < ELEMENTSOF(roots); i++)
		visit(f, roots[i], now_usec, 1);
	for (size_t i = 0; i < f->n; i++) /* gone cgroups leave the table */
		if (f->s[i].live)
			f->s[k++] = f->s[i];
	f->n = k;
	return 0;
}

static int by_cores(const void *a, const void *b)
{
	double x = ((const struct probe_foreign_cg *)a)->cores,
	       y = ((const struct probe_foreign_cg *)b)->cores;
	return x < y ? 1 : x > y ? -1 : 0;
}

size_t probe_foreign_top(struct probe_foreign *f, struct probe_foreign_cg *ret, size_t max)
{
	struct probe_foreign_cg *all = calloc(f->n ? f->n : 1, sizeof(*all));
	size_t n = 0;

	if (!all)
		return 0;
	for (size_t i = 0; i < f->n; i++) {
		struct probe_foreign_cg *c = &all[n++];
		snprintf(c->path, sizeof(c->path), "%s", f->s[i].path);
		c->kind = probe_foreign_kind(f->s[i].path);
		c->cores = f->s[i].cores;
		if (probe_read_mem_current_at(f->cgfs_fd, f->s[i].path, &c->mem_bytes) < 0)
			c->mem_bytes = 0;
	}
	qsort(all, n, sizeof(*all), by_cores);
	if (n > max)
		n = max;
	memcpy(ret, all, n * sizeof(*all));
	free(all);
	return n;
}
