/* measurer.c — the two edge measurers behind measurer.h: a child process speaking JSON lines over
 * a socketpair, and a built-in tiled loop nest timed on pinned worker threads. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r, asprintf, CPU_SET: also when CFLAGS is overridden */
#endif
#include "measurer.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "util.h"

#define NEST_CAP 128 /* per-axis extent cap: a measurement stays in the millisecond range */
#define REPEATS	 3

struct measurer {
	bool builtin;
	/* builtin */
	cpu_set_t cores;
	float *a, *b, *c;
	/* command */
	pid_t pid;
	int fd;
	int timeout_ms;
	char *buf;
	size_t buf_len, buf_cap;
	char err[256];
};

_printf_(2, 3) static int merr(struct measurer *m, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m->err, sizeof(m->err), fmt, ap);
	va_end(ap);
	return 0;
}

const char *measurer_last_error(const struct measurer *m)
{
	return m ? m->err : "";
}

int measurer_parse_cpus(const char *s, cpu_set_t *ret)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	if (!s || !*s)
		return -EINVAL;
	const char *p = s;
	while (*p) {
		char *end;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned long lo = strtoul(p, &end, 10), hi = lo;
		p = end;
		if (*p == '-') {
			p++;
			if (*p < '0' || *p > '9')
				return -EINVAL;
			hi = strtoul(p, &end, 10);
			p = end;
		}
		if (hi < lo)
			return -EINVAL;
		if (hi >= CPU_SETSIZE)
			return -ERANGE;
		for (unsigned long c = lo; c <= hi; c++)
			CPU_SET(c, &set);
		if (*p == ',') {
			p++;
			if (!*p)
				return -EINVAL;
		} else if (*p)
			return -EINVAL;
	}
	*ret = set;
	return 0;
}

int measurer_open_builtin(const cpu_set_t *cores, struct measurer **ret)
{
	_cleanup_free_ struct measurer *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->builtin = true;
	m->fd = -1;
	if (cores)
		m->cores = *cores;
	else {
		CPU_ZERO(&m->cores);
		CPU_SET(0, &m->cores);
	}
	if (CPU_COUNT(&m->cores) == 0)
		return -EINVAL;
	size_t n = (size_t)NEST_CAP * NEST_CAP;
	m->a = calloc(n, sizeof(float));
	m->b = calloc(n, sizeof(float));
	m->c = calloc(n, sizeof(float));
	if (!m->a || !m->b || !m->c) {
		free(m->a);
		free(m->b);
		free(m->c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		m->a[i] = (float)(i % 7) * 0.5f;
		m->b[i] = (float)(i % 5) * 0.25f;
	}
	*ret = TAKE_PTR(m);
	return 0;
}

struct nest_job {
	const struct measurer *m;
	int64_t ext[3], tile[3];
	int order[3];
	int cpu;
	int64_t mt_lo, mt_hi; /* M tiles of this worker */
	int rc;
};

static void run_tile(const struct nest_job *j, const int64_t *t)
{
	const float *A = j->m->a, *B = j->m->b;
	float *C = j->m->c;
	int64_t M = j->ext[0], N = j->ext[1], K = j->ext[2];
	int64_t i0 = t[0] * j->tile[0], j0 = t[1] * j->tile[1], k0 = t[2] * j->tile[2];
	int64_t i1 = i0 + j->tile[0] < M ? i0 + j->tile[0] : M;
	int64_t j1 = j0 + j->tile[1] < N ? j0 + j->tile[1] : N;
	int64_t k1 = k0 + j->tile[2] < K ? k0 + j->tile[2] : K;
	for (int64_t i = i0; i < i1; i++)
		for (int64_t k = k0; k < k1; k++) {
			float a = A[i * K + k];
			for (int64_t jj = j0; jj < j1; jj++)
				C[i * N + jj] += a * B[k * N + jj];
		}
}

static void *nest_worker(void *arg)
{
	struct nest_job *j = arg;
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(j->cpu, &one);
	/* sched_setaffinity(0) pins the calling thread only. */
	if (sched_setaffinity(0, sizeof(one), &one) < 0) {
		j->rc = negative_errno();
		return NULL;
	}
	int64_t cnt[3];
	for (int a = 0; a < 3; a++)
		cnt[a] = (j->ext[a] + j->tile[a] - 1) / j->tile[a];
	int64_t lo[3] = {0, 0, 0}, hi[3] = {cnt[0], cnt[1], cnt[2]};
	lo[0] = j->mt_lo;
	hi[0] = j->mt_hi;
	int o0 = j->order[0], o1 = j->order[1], o2 = j->order[2];
	int64_t t[3];
	for (t[o0] = lo[o0]; t[o0] < hi[o0]; t[o0]++)
		for (t[o1] = lo[o1]; t[o1] < hi[o1]; t[o1]++)
			for (t[o2] = lo[o2]; t[o2] < hi[o2]; t[o2]++)
				run_tile(j, t);
	return NULL;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int measure_builtin(struct measurer *m, const struct tvmlog_record *rec, double *costs,
			   size_t *ret_n)
{
	struct nest_job proto = {.m = m};
	struct distill_nest nest;
	int r = rec ? distill_nest(rec->steps, rec->n_steps, &nest) : -ENOENT;
	for (int a = 0; a < 3; a++) {
		proto.ext[a] = 64;
		proto.tile[a] = 64;
		proto.order[a] = a;
	}
	if (r == 0) {
		/* Axes past the record's splits keep the untiled default. */
		for (size_t a = 0; a < nest.n_axes && a < 3; a++) {
			proto.ext[a] = clamp64(nest.extent[a], 1, NEST_CAP);
			proto.tile[a] = clamp64(nest.tile[a], 1, proto.ext[a]);
		}
		if (nest.n_axes == 3)
			for (int a = 0; a < 3; a++)
				proto.order[a] = nest.order[a];
	}

	int cpus[CPU_SETSIZE], n_cpu = 0;
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &m->cores))
			cpus[n_cpu++] = c;
	int64_t mtiles = (proto.ext[0] + proto.tile[0] - 1) / proto.tile[0];
	int workers = (int)(mtiles < n_cpu ? mtiles : n_cpu);
	if (workers < 1)
		workers = 1;
	struct nest_job jobs[workers];
	pthread_t th[workers];

	/* One untimed run warms caches and page-faults the arrays in. */
	for (int rep = -1; rep < REPEATS; rep++) {
		uint64_t t0 = now_nsec();
		for (int w = 0; w < workers; w++) {
			jobs[w] = proto;
			jobs[w].cpu = cpus[w];
			jobs[w].mt_lo = mtiles * w / workers;
			jobs[w].mt_hi = mtiles * (w + 1) / workers;
			jobs[w].rc = 0;
			int e = pthread_create(&th[w], NULL, nest_worker, &jobs[w]);
			if (e) {
				for (int q = 0; q < w; q++)
					pthread_join(th[q], NULL);
				return -e;
			}
		}
		for (int w = 0; w < workers; w++)
			pthread_join(th[w], NULL);
		uint64_t t1 = now_nsec();
		for (int w = 0; w < workers; w++)
			if (jobs[w].rc < 0) {
				merr(m, "cannot pin a worker to CPU %d: %s", jobs[w].cpu,
				     strerror(-jobs[w].rc));
				return jobs[w].rc;
			}
		if (rep >= 0)
			costs[rep] = (double)(t1 - t0) * 1e-9;
	}
	*ret_n = REPEATS;
	return 0;
}

int measurer_open_command(const char *command, int timeout_ms, struct measurer **ret)
{
	if (!command || !*command || timeout_ms <= 0)
		return -EINVAL;
	_cleanup_free_ struct measurer *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return negative_errno();
	pid_t pid = fork();
	if (pid < 0) {
		int e = negative_errno();
		close(sv[0]);
		close(sv[1]);
		return e;
	}
	if (pid == 0) {
		if (dup2(sv[1], STDIN_FILENO) < 0 || dup2(sv[1], STDOUT_FILENO) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	m->pid = pid;
	m->fd = sv[0];
	m->timeout_ms = timeout_ms;
	*ret = TAKE_PTR(m);
	return 0;
}

void measurer_free(struct measurer *m)
{
	if (!m)
		return;
	if (m->builtin) {
		free(m->a);
		free(m->b);
		free(m->c);
	} else {
		if (m->fd >= 0)
			close(m->fd); /* EOF on stdin asks the command to exit */
		if (m->pid > 0) {
			int st;
			pid_t w = 0;
			for (int i = 0; i < 100 && (w = waitpid(m->pid, &st, WNOHANG)) == 0; i++)
				usleep(10000);
			if (w == 0) {
				kill(m->pid, SIGTERM);
				waitpid(m->pid, &st, 0);
			}
		}
		free(m->buf);
	}
	free(m);
}

int measurer_parse_answer(const char *line, size_t len, uint64_t *ret_id, double *ret_costs,
			  size_t *ret_n, int *ret_error_no)
{
	struct json_tokener *tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	struct json_object *o = json_tokener_parse_ex(tok, line, (int)len);
	bool ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	int r = -EPROTO;
	struct json_object *id, *costs, *eno;
	if (!ok || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "id", &id) || !json_object_is_type(id, json_type_int) ||
	    json_object_get_int64(id) < 0)
		goto out;
	int e = 0;
	if (json_object_object_get_ex(o, "error_no", &eno)) {
		if (!json_object_is_type(eno, json_type_int))
			goto out;
		int64_t v = json_object_get_int64(eno);
		if (v < 0 || v > INT32_MAX)
			goto out;
		e = (int)v;
	}
	size_t n = 0;
	if (json_object_object_get_ex(o, "costs", &costs)) {
		if (!json_object_is_type(costs, json_type_array))
			goto out;
		size_t k = json_object_array_length(costs);
		for (size_t i = 0; i < k; i++) {
			struct json_object *c = json_object_array_get_idx(costs, i);
			if (!json_object_is_type(c, json_type_double) &&
			    !json_object_is_type(c, json_type_int))
				goto out;
			double d = json_object_get_double(c);
			if (!isfinite(d) || d <= 0)
				goto out;
			if (n < MEASURER_MAX_COSTS)
				ret_costs[n++] = d;
		}
	}
	if (e == 0 && n == 0)
		goto out; /* success needs at least one cost */
	*ret_id = (uint64_t)json_object_get_int64(id);
	*ret_n = n;
	*ret_error_no = e;
	r = 0;
out:
	if (o)
		json_object_put(o);
	return r;
}

static int send_all(struct measurer *m, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(m->fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			merr(m, "measurer command exited or closed its input (%s)",
			     strerror(errno));
			return -EPIPE;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one answer line into m->buf (NUL-terminated, no newline); returns its length. */
static int recv_line(struct measurer *m, size_t *ret_len)
{
	uint64_t deadline = now_usec() + (uint64_t)m->timeout_ms * 1000;
	for (;;) {
		char *nl = m->buf ? memchr(m->buf, '\n', m->buf_len) : NULL;
		if (nl) {
			*nl = '\0';
			*ret_len = (size_t)(nl - m->buf);
			return 0;
		}
		if (m->buf_len > (1u << 20)) {
			merr(m, "measurer answer longer than 1 MiB");
			return -EPROTO;
		}
		uint64_t now = now_usec();
		if (now >= deadline) {
			merr(m, "measurer did not answer within %d ms", m->timeout_ms);
			return -ETIMEDOUT;
		}
		struct pollfd p = {.fd = m->fd, .events = POLLIN};
		int pr = poll(&p, 1, (int)((deadline - now + 999) / 1000));
		if (pr < 0 && errno != EINTR)
			return negative_errno();
		if (pr <= 0)
			continue;
		if (m->buf_cap - m->buf_len < 4096) {
			size_t nc = m->buf_cap ? m->buf_cap * 2 : 8192;
			char *nb = realloc(m->buf, nc);
			if (!nb)
				return -ENOMEM;
			m->buf = nb;
			m->buf_cap = nc;
		}
		ssize_t n = recv(m->fd, m->buf + m->buf_len, m->buf_cap - m->buf_len - 1, 0);
		if (n < 0 && errno != EINTR && errno != ECONNRESET)
			return negative_errno();
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			merr(m, "measurer command exited");
			return -EPIPE;
		}
		if (n > 0)
			m->buf_len += (size_t)n;
	}
}

int measurer_measure(struct measurer *m, uint64_t id, const char *line, size_t len,
		     const struct tvmlog_record *rec, double *ret_costs, size_t *ret_n,
		     int *ret_error_no)
{
	if (!m || !ret_costs || !ret_n || !ret_error_no)
		return -EINVAL;
	m->err[0] = '\0';
	if (m->builtin) {
		double c[REPEATS];
		size_t n;
		int r = measure_builtin(m, rec, c, &n);
		if (r < 0)
			return r;
		memcpy(ret_costs, c, n * sizeof(double));
		*ret_n = n;
		*ret_error_no = 0;
		return 0;
	}
	char head[64];
	int hl =
	    snprintf(head, sizeof(head), "{\"id\": %llu, \"record\": ", (unsigned long long)id);
	int r;
	if ((r = send_all(m, head, (size_t)hl)) < 0 || (r = send_all(m, line, len)) < 0 ||
	    (r = send_all(m, "}\n", 2)) < 0)
		return r;
	size_t al;
	r = recv_line(m, &al);
	if (r < 0)
		return r;
	uint64_t aid;
	double c[MEASURER_MAX_COSTS];
	size_t n;
	int e;
	r = measurer_parse_answer(m->buf, al, &aid, c, &n, &e);
	/* Drop the consumed line whatever it said. */
	memmove(m->buf, m->buf + al + 1, m->buf_len - al - 1);
	m->buf_len -= al + 1;
	if (r < 0) {
		merr(m, "malformed measurer answer for record %llu", (unsigned long long)id);
		return r;
	}
	if (aid != id) {
		merr(m, "measurer answered id %llu for request %llu", (unsigned long long)aid,
		     (unsigned long long)id);
		return -EPROTO;
	}
	memcpy(ret_costs, c, n * sizeof(double));
	*ret_n = n;
	*ret_error_no = e;
	return 0;
}
