/* read.c — cgroup v2 and /proc readers: one-shot path/at(dirfd) forms, and per-cgroup /
 * per-node handles that keep the hot files open and pread them every sampling tick. */
#include "probes.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>

/* Stat files are small; memory.stat is the largest (~1.5 KiB on 6.x, 40-odd keys). */
#define STAT_BUF 8192

static int join(char *buf, size_t size, const char *dir, const char *file)
{
	int n = snprintf(buf, size, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

/* Reads dir/file relative to dirfd into a bounded stack buffer. */
static int read_small_at(int dirfd, const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int r;

	if (!dir || !file)
		return -EINVAL;
	r = join(path, sizeof(path), dir, file);
	if (r < 0)
		return r;
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return negative_errno();
	return pread_all(fd, buf, size, NULL);
}

int probe_read_cpu_stat_at(int dirfd, const char *cg, struct probe_cpu_stat *ret)
{
	char buf[STAT_BUF];
	int r = read_small_at(dirfd, cg, "cpu.stat", buf, sizeof(buf));
	return r < 0 ? r : probe_parse_cpu_stat(buf, ret);
}
int probe_read_cpu_stat(const char *cg, struct probe_cpu_stat *ret)
{
	return probe_read_cpu_stat_at(AT_FDCWD, cg, ret);
}

int probe_read_mem_current_at(int dirfd, const char *cg, uint64_t *ret)
{
	char buf[64];
	int r = read_small_at(dirfd, cg, "memory.current", buf, sizeof(buf));
	return r < 0 ? r : probe_parse_single(buf, ret);
}
int probe_read_mem_current(const char *cg, uint64_t *ret)
{
	return probe_read_mem_current_at(AT_FDCWD, cg, ret);
}

int probe_read_mem_peak_at(int dirfd, const char *cg, uint64_t *ret)
{
	char buf[64];
	int r = read_small_at(dirfd, cg, "memory.peak", buf, sizeof(buf));
	return r < 0 ? r : probe_parse_single(buf, ret);
}
int probe_read_mem_peak(const char *cg, uint64_t *ret)
{
	return probe_read_mem_peak_at(AT_FDCWD, cg, ret);
}

int probe_read_mem_events_at(int dirfd, const char *cg, struct probe_mem_events *ret)
{
	char buf[512];
	int r = read_small_at(dirfd, cg, "memory.events", buf, sizeof(buf));
	return r < 0 ? r : probe_parse_mem_events(buf, ret);
}
int probe_read_mem_events(const char *cg, struct probe_mem_events *ret)
{
	return probe_read_mem_events_at(AT_FDCWD, cg, ret);
}

int probe_read_mem_stat_at(int dirfd, const char *cg, struct probe_mem_stat *ret)
{
	char buf[STAT_BUF];
	int r = read_small_at(dirfd, cg, "memory.stat", buf, sizeof(buf));
	return r < 0 ? r : probe_parse_mem_stat(buf, ret);
}
int probe_read_mem_stat(const char *cg, struct probe_mem_stat *ret)
{
	return probe_read_mem_stat_at(AT_FDCWD, cg, ret);
}

static int pressure_file(const char *resource, char *buf, size_t size)
{
	if (!resource ||
	    (strcmp(resource, "cpu") && strcmp(resource, "memory") && strcmp(resource, "io")))
		return -EINVAL;
	int n = snprintf(buf, size, "%s.pressure", resource);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int probe_read_pressure_at(int dirfd, const char *cg, const char *resource, struct probe_psi *ret)
{
	char file[32], buf[512];
	int r = pressure_file(resource, file, sizeof(file));
	if (r < 0)
		return r;
	r = read_small_at(dirfd, cg, file, buf, sizeof(buf));
	return r < 0 ? r : probe_parse_psi(buf, ret);
}
int probe_read_pressure(const char *cg, const char *resource, struct probe_psi *ret)
{
	return probe_read_pressure_at(AT_FDCWD, cg, resource, ret);
}

int probe_read_proc_stat_at(int dirfd, const char *proc, struct probe_proc_stat *ret)
{
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX];
	int r = join(path, sizeof(path), proc, "stat");
	if (r < 0)
		return r;
	/* /proc/stat grows with CPUs and interrupts: read it whole. */
	r = read_file_at(dirfd, path, &buf, NULL);
	return r < 0 ? r : probe_parse_proc_stat(buf, ret);
}
int probe_read_proc_stat(const char *proc, struct probe_proc_stat *ret)
{
	return probe_read_proc_stat_at(AT_FDCWD, proc, ret);
}

static int parse_meminfo_pair(const char *buf, uint64_t *ret_total, uint64_t *ret_avail)
{
	uint64_t t, a;
	int r;
	if ((r = probe_parse_meminfo(buf, "MemTotal", &t)) < 0 ||
	    (r = probe_parse_meminfo(buf, "MemAvailable", &a)) < 0)
		return r;
	*ret_total = t;
	*ret_avail = a;
	return 0;
}

int probe_read_meminfo_at(int dirfd, const char *proc, uint64_t *ret_total, uint64_t *ret_available)
{
	char buf[STAT_BUF];
	int r = read_small_at(dirfd, proc, "meminfo", buf, sizeof(buf));
	return r < 0 ? r : parse_meminfo_pair(buf, ret_total, ret_available);
}
int probe_read_meminfo(const char *proc, uint64_t *ret_total, uint64_t *ret_available)
{
	return probe_read_meminfo_at(AT_FDCWD, proc, ret_total, ret_available);
}

int probe_read_node_pressure_at(int dirfd, const char *proc, const char *resource,
				struct probe_psi *ret)
{
	char file[32], buf[512];
	int r = pressure_file(resource, file, sizeof(file)); /* validates resource */
	if (r < 0)
		return r;
	snprintf(file, sizeof(file), "pressure/%s", resource);
	r = read_small_at(dirfd, proc, file, buf, sizeof(buf));
	return r < 0 ? r : probe_parse_psi(buf, ret);
}
int probe_read_node_pressure(const char *proc, const char *resource, struct probe_psi *ret)
{
	return probe_read_node_pressure_at(AT_FDCWD, proc, resource, ret);
}

int probe_cgroup_id_at(int dirfd, const char *cg, uint64_t *ret)
{
	/* cgroupfs file handles are the 64-bit kernfs id, the same value BPF reads from
	 * kn->id; the inode number alone is only equal to it on 64-bit kernels. */
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh.handle_bytes = sizeof(uint64_t)};
	int mount_id;

	if (name_to_handle_at(dirfd, cg, &h.fh, &mount_id, 0) < 0) {
		struct stat st;
		if (errno != EOPNOTSUPP && errno != EOVERFLOW)
			return negative_errno();
		/* Not a kernfs (fake tree in tests): fall back to the inode number. */
		if (fstatat(dirfd, cg, &st, 0) < 0)
			return negative_errno();
		*ret = (uint64_t)st.st_ino;
		return 0;
	}
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EIO;
	memcpy(ret, h.fh.f_handle, sizeof(uint64_t));
	return 0;
}

/* ---- hot files ----------------------------------------------------------------- */

enum { F_CPU, F_MEM, F_PEAK, F_EVENTS, F_MSTAT, F_PCPU, F_PMEM, F_PIO, _F_MAX };
static const char *const cg_files[_F_MAX] = {
    [F_CPU] = "cpu.stat",	  [F_MEM] = "memory.current", [F_PEAK] = "memory.peak",
    [F_EVENTS] = "memory.events", [F_MSTAT] = "memory.stat",  [F_PCPU] = "cpu.pressure",
    [F_PMEM] = "memory.pressure", [F_PIO] = "io.pressure",
};

struct probe_cg {
	int dirfd;
	int fd[_F_MAX];
};

void probe_cg_free(struct probe_cg *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < _F_MAX; i++)
		closep(&c->fd[i]);
	closep(&c->dirfd);
	free(c);
}
static void probe_cg_freep(struct probe_cg **c)
{
	probe_cg_free(*c);
}

int probe_cg_open_at(int dirfd, const char *cg, struct probe_cg **ret)
{
	_cleanup_(probe_cg_freep) struct probe_cg *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	for (size_t i = 0; i < _F_MAX; i++)
		c->fd[i] = -1;
	c->dirfd = openat(dirfd, cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return negative_errno();
	for (size_t i = 0; i < _F_MAX; i++) {
		c->fd[i] = openat(c->dirfd, cg_files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (c->fd[i] < 0 && (i == F_CPU || errno != ENOENT))
			return negative_errno();
	}
	*ret = TAKE_PTR(c);
	return 0;
}
int probe_cg_open(const char *cg, struct probe_cg **ret)
{
	return probe_cg_open_at(AT_FDCWD, cg, ret);
}
int probe_cg_dirfd(const struct probe_cg *c)
{
	return c->dirfd;
}

/* Reads one hot file; a file the kernel refuses (PSI off: EOPNOTSUPP) or that went away
 * is closed so later ticks do not pay for it again. */
static int hot_read(int *fd, char *buf, size_t size)
{
	int r;
	if (*fd < 0)
		return -ENOENT;
	r = pread_all(*fd, buf, size, NULL);
	if (r == -EOPNOTSUPP || r == -ENODEV || r == -ENOENT) {
		closep(fd);
		*fd = -1;
	}
	return r;
}

static void read_psi(int *fd, char *buf, size_t size, struct probe_psi *out, unsigned bit,
		     unsigned *have)
{
	if (hot_read(fd, buf, size) == 0 && probe_parse_psi(buf, out) == 0)
		*have |= bit;
}

int probe_cg_read(struct probe_cg *c, struct probe_cg_sample *ret)
{
	return probe_cg_read_some(c, PROBE_HAVE_ALL, ret);
}

int probe_cg_read_some(struct probe_cg *c, unsigned want, struct probe_cg_sample *ret)
{
	struct probe_cg_sample s = {};
	char buf[STAT_BUF];
	int r;

	/* cpu.stat of a removed cgroup reads ENODEV: the task is gone. */
	r = pread_all(c->fd[F_CPU], buf, sizeof(buf), NULL);
	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	r = probe_parse_cpu_stat(buf, &s.cpu);
	if (r < 0)
		return r;
	s.have |= PROBE_HAVE_CPU | (s.cpu.has_throttle ? PROBE_HAVE_THROTTLE : 0);
	if ((want & PROBE_HAVE_MEM) && hot_read(&c->fd[F_MEM], buf, sizeof(buf)) == 0 &&
	    probe_parse_single(buf, &s.mem_current) == 0)
		s.have |= PROBE_HAVE_MEM;
	if ((want & PROBE_HAVE_MEM_PEAK) && hot_read(&c->fd[F_PEAK], buf, sizeof(buf)) == 0 &&
	    probe_parse_single(buf, &s.mem_peak) == 0)
		s.have |= PROBE_HAVE_MEM_PEAK;
	if ((want & PROBE_HAVE_MEM_EVENTS) && hot_read(&c->fd[F_EVENTS], buf, sizeof(buf)) == 0 &&
	    probe_parse_mem_events(buf, &s.mem_events) == 0)
		s.have |= PROBE_HAVE_MEM_EVENTS;
	if ((want & PROBE_HAVE_MEM_STAT) && hot_read(&c->fd[F_MSTAT], buf, sizeof(buf)) == 0 &&
	    probe_parse_mem_stat(buf, &s.mem_stat) == 0)
		s.have |= PROBE_HAVE_MEM_STAT;
	if (want & PROBE_HAVE_PSI_CPU)
		read_psi(&c->fd[F_PCPU], buf, sizeof(buf), &s.psi_cpu, PROBE_HAVE_PSI_CPU, &s.have);
	if (want & PROBE_HAVE_PSI_MEM)
		read_psi(&c->fd[F_PMEM], buf, sizeof(buf), &s.psi_mem, PROBE_HAVE_PSI_MEM, &s.have);
	if (want & PROBE_HAVE_PSI_IO)
		read_psi(&c->fd[F_PIO], buf, sizeof(buf), &s.psi_io, PROBE_HAVE_PSI_IO, &s.have);
	*ret = s;
	return 0;
}

enum { N_STAT, N_MEMINFO, N_PCPU, N_PMEM, N_PIO, _N_MAX };
static const char *const node_files[_N_MAX] = {
    [N_STAT] = "stat",	       [N_MEMINFO] = "meminfo",
    [N_PCPU] = "pressure/cpu", [N_PMEM] = "pressure/memory",
    [N_PIO] = "pressure/io",
};

struct probe_node {
	int fd[_N_MAX];
	char *buf; /* /proc/stat is large on many-CPU hosts: a heap buffer that grows */
	size_t size;
};

void probe_node_free(struct probe_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < _N_MAX; i++)
		closep(&n->fd[i]);
	free(n->buf);
	free(n);
}
static void probe_node_freep(struct probe_node **n)
{
	probe_node_free(*n);
}

int probe_node_open_at(int dirfd, const char *proc, struct probe_node **ret)
{
	_cleanup_(probe_node_freep) struct probe_node *n = calloc(1, sizeof(*n));
	_cleanup_close_ int pfd = -1;

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < _N_MAX; i++)
		n->fd[i] = -1;
	pfd = openat(dirfd, proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0)
		return negative_errno();
	for (size_t i = 0; i < _N_MAX; i++) {
		n->fd[i] = openat(pfd, node_files[i], O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (n->fd[i] < 0 && (i <= N_MEMINFO || errno != ENOENT))
			return negative_errno();
	}
	n->size = 16384;
	n->buf = malloc(n->size);
	if (!n->buf)
		return -ENOMEM;
	*ret = TAKE_PTR(n);
	return 0;
}
int probe_node_open(const char *proc, struct probe_node **ret)
{
	return probe_node_open_at(AT_FDCWD, proc, ret);
}

int probe_node_read(struct probe_node *n, struct probe_node_sample *ret)
{
	struct probe_node_sample s = {};
	int r;

	for (;;) {
		r = pread_all(n->fd[N_STAT], n->buf, n->size, NULL);
		if (r != -EFBIG)
			break;
		if (n->size >= (4u << 20))
			return -EFBIG;
		char *nb = realloc(n->buf, n->size * 2);
		if (!nb)
			return -ENOMEM;
		n->buf = nb;
		n->size *= 2;
	}
	if (r < 0)
		return r;
	r = probe_parse_proc_stat(n->buf, &s.stat);
	if (r < 0)
		return r;
	r = pread_all(n->fd[N_MEMINFO], n->buf, n->size, NULL);
	if (r < 0)
		return r;
	r = parse_meminfo_pair(n->buf, &s.mem_total, &s.mem_available);
	if (r < 0)
		return r;
	read_psi(&n->fd[N_PCPU], n->buf, n->size, &s.psi_cpu, PROBE_HAVE_PSI_CPU, &s.have);
	read_psi(&n->fd[N_PMEM], n->buf, n->size, &s.psi_mem, PROBE_HAVE_PSI_MEM, &s.have);
	read_psi(&n->fd[N_PIO], n->buf, n->size, &s.psi_io, PROBE_HAVE_PSI_IO, &s.have);
	*ret = s;
	return 0;
}
