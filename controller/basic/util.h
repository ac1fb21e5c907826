/* util.h — ownership and error conventions shared by every I/O module (see docs/DESIGN.md).
 * Functions return 0 or -errno; ret_* outputs are written only on success. */
#pragma once

#include <stdarg.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The release, as `edgeslice --version` and the metrics' build_info say it. */
#ifndef ES_VERSION
#define ES_VERSION "0.1.0"
#endif

#define ELEMENTSOF(a)  (sizeof(a) / sizeof((a)[0]))
#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

static inline void freep(void *p)
{
	free(*(void **)p);
}
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a _cleanup_ local. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

/* errno as a negative return value, never 0 even if errno was not set. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* Whole-file and pread helpers relative to a directory fd (AT_FDCWD allowed). */
int read_file_at(int dirfd, const char *path, char **ret, size_t *ret_len);
int pread_all(int fd, char *buf, size_t size, size_t *ret_len);
/* Writes the whole string with one write(2) (cgroup files need that). */
int write_string_at(int dirfd, const char *path, const char *s);
/* The same with extra open(2) flags (O_TRUNC, O_CREAT: created 0644). */
int write_string_flags_at(int dirfd, const char *path, const char *s, int flags);
/* Writes a file atomically: temp file in the same directory, fsync, rename, fsync dir. */
int write_file_atomic_at(int dirfd, const char *path, const char *data, size_t len, mode_t mode);

/* Strict number parsing: whole string, no sign surprises, range checked. */
int parse_u64(const char *s, uint64_t *ret);
int parse_double(const char *s, double *ret);
/* "1.5", "1500m" (millicores) -> cores */
int parse_cores(const char *s, double *ret);
/* "1257M", "2G", "512k", "1048576" -> bytes (binary units) */
int parse_bytes(const char *s, uint64_t *ret);
/* "5.85mbit", "700kbit", "1gbit", "1000bit", "10mbps"(bytes) -> bytes per second;
 * presets "3g", "4g", "wifi" = 1.1, 5.85, 18.88 Mbit/s (the JPS paper's links). */
int parse_rate(const char *s, uint64_t *ret_bytes_per_sec);

/* Monotonic time. */
/* Frees the first n strings of v and v itself (NULL v is fine): the argv arrays of tasks,
 * requests and catalog commands. */
void strv_free(char **v, size_t n);

/* A library loaded on demand (fleet mode's libcurl, the metrics endpoint's libmicrohttpd):
 * dlopen(soname) once, never unloaded, and each symbol's address stored at its offset in
 * table. 0, or -ENOENT (not installed; err says which package, from what) or -ENOSYS (a
 * symbol is missing: too old); err gets one line. */
struct dl_sym {
	const char *name;
	size_t off;
};
int dl_load_syms(const char *soname, const char *what, const struct dl_sym *syms, size_t n,
		 void *table, char *err, size_t errsz);

/* Replaces control characters with '?' so a message that quotes input stays one line. */
void str_one_line(char *s);
/* The error reporting every parser shares: formats one line into buf (control characters
 * replaced as str_one_line does) and returns r. buf NULL or size 0: only returns r. */
int errf(char *buf, size_t size, int r, const char *fmt, ...) _printf_(4, 5);
int verrf(char *buf, size_t size, int r, const char *fmt, va_list ap) _printf_(4, 0);

uint64_t now_usec(void);
uint64_t now_nsec(void);
