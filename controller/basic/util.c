/* util.c — small I/O and parsing helpers shared by the daemon, the CLI and the probes.
 * Everything returns -errno; nothing logs. */
#include <dlfcn.h>

#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <strings.h>
#include <math.h>
#include <sys/stat.h>
#include <time.h>

int pread_all(int fd, char *buf, size_t size, size_t *ret_len)
{
	size_t off = 0;

	if (size == 0)
		return -EINVAL;
	while (off < size - 1) {
		ssize_t n = pread(fd, buf + off, size - 1 - off, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	if (off == size - 1) {
		/* Do not silently truncate: tell the caller the buffer was too small. */
		char c;
		ssize_t n = pread(fd, &c, 1, (off_t)off);
		if (n > 0)
			return -EFBIG;
	}
	buf[off] = '\0';
	if (ret_len)
		*ret_len = off;
	return 0;
}

int read_file_at(int dirfd, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, len = 0;

	if (fd < 0)
		return negative_errno();
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			if (cap >= (64u << 20))
				return -EFBIG;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negative_errno();
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int write_string_flags_at(int dirfd, const char *path, const char *s, int flags)
{
	_cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY | flags, 0644);
	size_t len = strlen(s);
	ssize_t n;

	if (fd < 0)
		return negative_errno();
	n = write(fd, s, len);
	if (n < 0)
		return negative_errno();
	if ((size_t)n != len)
		return -EIO;
	return 0;
}

int write_string_at(int dirfd, const char *path, const char *s)
{
	return write_string_flags_at(dirfd, path, s, 0);
}

int write_file_atomic_at(int dirfd, const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	_cleanup_close_ int fd = -1;
	int r;

	r = snprintf(tmp, sizeof(tmp), "%.*s.#%s.%ld", slash ? (int)(slash - path + 1) : 0, path,
		     slash ? slash + 1 : path, (long)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return negative_errno();
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = negative_errno();
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = negative_errno();
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		r = negative_errno();
		goto fail;
	}
	{
		/* Make the rename itself durable. */
		char dir[PATH_MAX];
		int dfd;
		if (slash)
			snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
		else
			snprintf(dir, sizeof(dir), ".");
		dfd = openat(dirfd, dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			(void)fsync(dfd);
			close(dfd);
		}
	}
	return 0;
fail:
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int parse_double(const char *s, double *ret)
{
	char *end;
	double v;

	if (!s || !*s || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Splits "12.5xyz" into a finite non-negative number and its suffix. */
static int split_number(const char *s, double *ret_v, const char **ret_suffix)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	/* strtod accepts hex and inf/nan spellings; only plain decimals are allowed here. */
	for (const char *p = s; p < end; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
		      *p == '-' || *p == '+'))
			return -EINVAL;
	*ret_v = v;
	*ret_suffix = end;
	return 0;
}

int parse_cores(const char *s, double *ret)
{
	const char *suf;
	double v;
	int r = split_number(s, &v, &suf);

	if (r < 0)
		return r;
	if (strcmp(suf, "m") == 0)
		v /= 1000.0;
	else if (strcmp(suf, "") != 0 && strcmp(suf, "c") != 0)
		return -EINVAL;
	if (v > 65536)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_bytes(const char *s, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {
	    {"", 1.0},
	    {"B", 1.0},
	    {"k", 1024.0},
	    {"K", 1024.0},
	    {"KiB", 1024.0},
	    {"M", 1048576.0},
	    {"MiB", 1048576.0},
	    {"G", 1073741824.0},
	    {"GiB", 1073741824.0},
	    {"T", 1099511627776.0},
	    {"TiB", 1099511627776.0},
	};
	const char *suf;
	double v;
	int r = split_number(s, &v, &suf);

	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcmp(suf, units[i].suffix) == 0) {
			double b = v * units[i].mult;
			if (b >= 1.8e19)
				return -ERANGE;
			*ret = (uint64_t)llround(b);
			return 0;
		}
	return -EINVAL;
}

int parse_rate(const char *s, uint64_t *ret_bytes_per_sec)
{
	/* tc(8) conventions: "bit" suffixes are bits/s, "bps" suffixes are bytes/s; k = 1000. */
	static const struct {
		const char *suffix;
		double bytes_per_unit;
	} units[] = {
	    {"bit", 1.0 / 8}, {"kbit", 1e3 / 8}, {"mbit", 1e6 / 8}, {"gbit", 1e9 / 8},
	    {"bps", 1.0},     {"kbps", 1e3},	 {"mbps", 1e6},	    {"gbps", 1e9},
	};
	/* The JPS paper's link presets (ALGORITHMS.md §2), in Mbit/s. */
	static const struct {
		const char *name;
		uint64_t bytes_per_sec;
	} presets[] = {{"3g", 137500}, {"4g", 731250}, {"wifi", 2360000}};
	const char *suf;
	double v;
	int r;

	for (size_t i = 0; s && i < ELEMENTSOF(presets); i++)
		if (strcasecmp(s, presets[i].name) == 0) {
			*ret_bytes_per_sec = presets[i].bytes_per_sec;
			return 0;
		}
	r = split_number(s, &v, &suf);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (strcasecmp(suf, units[i].suffix) == 0) {
			double b = v * units[i].bytes_per_unit;
			if (b < 1.0)
				return -ERANGE;
			if (b > 1e12)
				return -ERANGE;
			*ret_bytes_per_sec = (uint64_t)llround(b);
			return 0;
		}
	return -EINVAL;
}

uint64_t now_nsec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_usec(void)
{
	return now_nsec() / 1000;
}

void str_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

int verrf(char *buf, size_t size, int r, const char *fmt, va_list ap)
{
	if (buf && size) {
		vsnprintf(buf, size, fmt, ap);
		str_one_line(buf);
	}
	return r;
}

int errf(char *buf, size_t size, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = verrf(buf, size, r, fmt, ap);
	va_end(ap);
	return r;
}

void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int dl_load_syms(const char *soname, const char *what, const struct dl_sym *syms, size_t n,
		 void *table, char *err, size_t errsz)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		snprintf(err, errsz, "%s: %s", what, dlerror());
		return -ENOENT;
	}
	for (size_t i = 0; i < n; i++) {
		void *p = dlsym(h, syms[i].name);
		if (!p) {
			snprintf(err, errsz, "%s has no %s (too old)", soname, syms[i].name);
			return -ENOSYS;
		}
		*(void **)((char *)table + syms[i].off) = p;
	}
	return 0;
}
