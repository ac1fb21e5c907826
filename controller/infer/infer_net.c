/* infer_net.c — tensor frames over TCP: encoding with CRC-32C, the offload server, and the
 * device-side two-stage pipeline (compute job i while job i-1 uploads). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "infer_net.h"
#include "util.h"

void infer_frame_done(struct infer_frame *f)
{
	if (!f)
		return;
	free(f->buf);
	*f = (struct infer_frame){0};
}

static size_t tensor_elems(const struct infer_tensor_desc *d)
{
	return (size_t)d->batch * d->c * d->h * d->w;
}

static struct infer_shape shape_of_layer(const struct infer_model *m, int32_t layer)
{
	return layer < 0 ? m->in : m->layers[layer].out;
}

static float *data_of_layer(struct infer_model *m, int32_t layer)
{
	return layer < 0 ? m->input : m->layers[layer].act;
}

/* Frame = header | descs | payloads | msg | crc. */
static int frame_build(const struct infer_frame_header *h, const struct infer_tensor_desc *d,
		       const float *const *data, const char *msg, struct infer_frame *ret)
{
	size_t len = sizeof(*h) + h->n_tensors * sizeof(*d) + h->msg_len + 4, off;
	uint8_t *buf;

	for (uint32_t i = 0; i < h->n_tensors; i++)
		len += tensor_elems(&d[i]) * sizeof(float);
	if (len > INFER_FRAME_MAX_BYTES)
		return -E2BIG;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, h, sizeof(*h));
	off = sizeof(*h);
	if (h->n_tensors)
		memcpy(buf + off, d, h->n_tensors * sizeof(*d));
	off += h->n_tensors * sizeof(*d);
	for (uint32_t i = 0; i < h->n_tensors; i++) {
		size_t b = tensor_elems(&d[i]) * sizeof(float);
		memcpy(buf + off, data[i], b);
		off += b;
	}
	if (h->msg_len)
		memcpy(buf + off, msg, h->msg_len);
	off += h->msg_len;
	uint32_t crc = infer_crc32c(0, buf, off);
	memcpy(buf + off, &crc, 4);
	*ret = (struct infer_frame){buf, len, crc};
	return 0;
}

int infer_frame_request(const struct infer_model *m, uint32_t job, int32_t cut,
			struct infer_frame *ret)
{
	struct infer_frame_header h = {.magic = INFER_FRAME_MAGIC,
				       .version = INFER_FRAME_VERSION,
				       .type = INFER_FRAME_REQUEST,
				       .job = job,
				       .cut = cut < 0 ? -1 : cut,
				       .input_size = m->in.h,
				       .batch = m->batch};
	struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
	const float *data[INFER_FRAME_MAX_TENSORS];
	uint32_t fr[INFER_FRAME_MAX_TENSORS * 8];
	size_t nf;
	bool *local;
	int r;

	if (!m || !ret || (cut >= 0 && (size_t)cut >= m->n))
		return -EINVAL;
	local = calloc(m->n, sizeof(bool));
	if (!local)
		return -ENOMEM;
	if (cut >= 0)
		infer_mark_ancestors(m, (uint32_t)cut, local);
	/* the frontier can exceed the frame's tensor limit only in exotic graphs */
	if (m->n > INFER_FRAME_MAX_TENSORS * 8) {
		uint32_t *big = calloc(m->n + 1, sizeof(uint32_t));
		if (!big) {
			free(local);
			return -ENOMEM;
		}
		nf = infer_frontier(m, local, big);
		if (nf > INFER_FRAME_MAX_TENSORS) {
			free(big);
			free(local);
			return -E2BIG;
		}
		memcpy(fr, big, nf * sizeof(uint32_t));
		free(big);
	} else {
		nf = infer_frontier(m, local, fr);
	}
	free(local);
	if (nf > INFER_FRAME_MAX_TENSORS)
		return -E2BIG;
	memcpy(h.model, m->name, strnlen(m->name, sizeof(h.model) - 1));
	h.n_tensors = (uint32_t)nf;
	for (size_t i = 0; i < nf; i++) {
		int32_t layer = fr[i] == INFER_INPUT ? -1 : (int32_t)fr[i];
		struct infer_shape s = shape_of_layer(m, layer);
		d[i] = (struct infer_tensor_desc){layer, m->batch, s.c, s.h, s.w, 0};
		data[i] = layer < 0 ? m->input : m->layers[layer].act;
	}
	r = frame_build(&h, d, data, NULL, ret);
	return r;
}

/* Total length a frame announces, from its header and descriptors; -EBADMSG if absurd. */
static int frame_expected_len(const struct infer_frame_header *h, const struct infer_tensor_desc *d,
			      size_t *ret)
{
	size_t len = sizeof(*h) + (size_t)h->n_tensors * sizeof(*d) + h->msg_len + 4;
	for (uint32_t i = 0; i < h->n_tensors; i++) {
		unsigned __int128 e = (unsigned __int128)d[i].batch * d[i].c * d[i].h * d[i].w * 4;
		if (e > INFER_FRAME_MAX_BYTES)
			return -EBADMSG;
		len += (size_t)e;
		if (len > INFER_FRAME_MAX_BYTES)
			return -EBADMSG;
	}
	*ret = len;
	return 0;
}

static int header_ok(const struct infer_frame_header *h)
{
	if (h->magic != INFER_FRAME_MAGIC || h->version != INFER_FRAME_VERSION)
		return -EBADMSG;
	if (h->type < INFER_FRAME_REQUEST || h->type > INFER_FRAME_ERROR)
		return -EBADMSG;
	if (h->n_tensors > INFER_FRAME_MAX_TENSORS || h->msg_len > 4096)
		return -EBADMSG;
	return 0;
}

int infer_frame_check(const uint8_t *buf, size_t len, struct infer_frame_header *ret_hdr)
{
	struct infer_frame_header h;
	size_t want;
	uint32_t crc;
	int r;

	if (!buf || len < sizeof(h) + 4)
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	r = header_ok(&h);
	if (r < 0)
		return r;
	if (len < sizeof(h) + (size_t)h.n_tensors * sizeof(struct infer_tensor_desc) + 4)
		return -EBADMSG;
	{
		struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
		memcpy(d, buf + sizeof(h), h.n_tensors * sizeof(*d));
		r = frame_expected_len(&h, d, &want);
		if (r < 0)
			return r;
	}
	if (want != len)
		return -EBADMSG;
	memcpy(&crc, buf + len - 4, 4);
	if (crc != infer_crc32c(0, buf, len - 4))
		return -EBADMSG;
	if (ret_hdr)
		*ret_hdr = h;
	return 0;
}

int infer_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int infer_frame_read(int fd, uint8_t **ret_buf, size_t *ret_len)
{
	struct infer_frame_header h;
	struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t want;
	int r;

	r = read_all(fd, &h, sizeof(h));
	if (r < 0)
		return r;
	r = header_ok(&h);
	if (r < 0)
		return r;
	r = read_all(fd, d, h.n_tensors * sizeof(*d));
	if (r < 0)
		return r;
	r = frame_expected_len(&h, d, &want);
	if (r < 0)
		return r;
	buf = malloc(want);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), d, h.n_tensors * sizeof(*d));
	r = read_all(fd, buf + sizeof(h) + h.n_tensors * sizeof(*d),
		     want - sizeof(h) - h.n_tensors * sizeof(*d));
	if (r < 0)
		return r;
	r = infer_frame_check(buf, want, NULL);
	if (r < 0)
		return r;
	*ret_buf = TAKE_PTR(buf);
	*ret_len = want;
	return 0;
}

/* ---- server ------------------------------------------------------------------------ */

static int send_error(int fd, uint32_t job, const char *msg)
{
	struct infer_frame_header h = {.magic = INFER_FRAME_MAGIC,
				       .version = INFER_FRAME_VERSION,
				       .type = INFER_FRAME_ERROR,
				       .job = job,
				       .msg_len = (uint32_t)strlen(msg)};
	struct infer_frame f;
	int r = frame_build(&h, NULL, NULL, msg, &f);
	if (r < 0)
		return r;
	r = infer_write_all(fd, f.buf, f.len);
	infer_frame_done(&f);
	return r;
}

/* Checks a request against the model and runs its remaining layers; fills err on a
 * request the server cannot serve (the device gets it as an error frame). */
static int serve_one(const uint8_t *buf, const struct infer_frame_header *h,
		     struct infer_model **cache, unsigned threads, uint64_t seed, uint64_t recv_ns,
		     struct infer_frame *reply, char *err, size_t errlen)
{
	struct infer_tensor_desc d[INFER_FRAME_MAX_TENSORS];
	char name[sizeof(h->model) + 1];
	struct infer_model *m = *cache;
	uint32_t fr[INFER_FRAME_MAX_TENSORS];
	bool *local = NULL;
	size_t nf, off;
	int r;

	memcpy(name, h->model, sizeof(h->model));
	name[sizeof(h->model)] = 0;
	if (!m || strcmp(m->name, name) || m->in.h != h->input_size || m->batch != h->batch) {
		struct infer_model *nm;
		r = infer_model_new(name, h->input_size, h->batch, &nm);
		if (r < 0) {
			snprintf(err, errlen, "cannot build model \"%s\" (input %u, batch %u): %s",
				 name, h->input_size, h->batch, strerror(-r));
			return r;
		}
		r = infer_model_alloc(nm, seed);
		if (r < 0) {
			infer_model_free(nm);
			snprintf(err, errlen, "cannot allocate model \"%s\": %s", name,
				 strerror(-r));
			return r;
		}
		infer_model_free(*cache);
		*cache = m = nm;
		infer_set_threads(threads);
	}
	if (h->cut < -1 || h->cut >= (int32_t)m->n) {
		snprintf(err, errlen, "cut %d out of range for %s", h->cut, m->name);
		return -EINVAL;
	}
	local = calloc(m->n, sizeof(bool));
	if (!local)
		return -ENOMEM;
	if (h->cut >= 0)
		infer_mark_ancestors(m, (uint32_t)h->cut, local);
	nf = infer_frontier(m, local, fr);
	memcpy(d, buf + sizeof(*h), h->n_tensors * sizeof(*d));
	if (nf != h->n_tensors) {
		snprintf(err, errlen, "cut %d of %s needs %zu tensors, got %u", h->cut, m->name, nf,
			 h->n_tensors);
		free(local);
		return -EINVAL;
	}
	off = sizeof(*h) + h->n_tensors * sizeof(*d);
	for (size_t i = 0; i < nf; i++) {
		int32_t want = fr[i] == INFER_INPUT ? -1 : (int32_t)fr[i];
		struct infer_shape s = shape_of_layer(m, want);
		if (d[i].layer != want || d[i].batch != m->batch || d[i].c != s.c ||
		    d[i].h != s.h || d[i].w != s.w) {
			snprintf(err, errlen, "tensor %zu: expected layer %d shape %ux%ux%ux%u", i,
				 want, m->batch, s.c, s.h, s.w);
			free(local);
			return -EINVAL;
		}
		memcpy(data_of_layer(m, want), buf + off, tensor_elems(&d[i]) * sizeof(float));
		off += tensor_elems(&d[i]) * sizeof(float);
	}
	for (size_t i = 0; i < m->n; i++)
		local[i] = !local[i];
	{
		uint64_t t0 = now_nsec();
		r = infer_forward(m, local, NULL);
		free(local);
		if (r < 0) {
			snprintf(err, errlen, "forward pass failed: %s", strerror(-r));
			return r;
		}
		struct infer_frame_header rh = {.magic = INFER_FRAME_MAGIC,
						.version = INFER_FRAME_VERSION,
						.type = INFER_FRAME_REPLY,
						.job = h->job,
						.cut = h->cut,
						.input_size = h->input_size,
						.batch = h->batch,
						.n_tensors = 1,
						.server_us = (uint32_t)((now_nsec() - t0) / 1000),
						.recv_ns = recv_ns};
		uint32_t rcrc;
		struct infer_shape o = m->layers[m->n - 1].out;
		struct infer_tensor_desc od = {(int32_t)m->n - 1, m->batch, o.c, o.h, o.w, 0};
		const float *od_data = m->layers[m->n - 1].act;
		memcpy(&rcrc, buf + off + h->msg_len, 4);
		rh.echo_crc = rcrc;
		memcpy(rh.model, h->model, sizeof(rh.model));
		return frame_build(&rh, &od, &od_data, NULL, reply);
	}
}

/* The server reads frames on its own thread, stamping each with its arrival time, so a
 * request's upload ends when its bytes arrive, not when the previous job's compute ends. */
#define SERVE_QUEUE 16
struct rx_item {
	uint8_t *buf;
	size_t len;
	uint64_t recv_ns;
	int err; /* terminal item: the read error (-ECONNRESET at EOF) */
};
struct rx_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rx_item q[SERVE_QUEUE];
	size_t head, count;
	bool stop;
	int fd;
};

static void *reader_thread(void *arg)
{
	struct rx_queue *q = arg;
	for (;;) {
		struct rx_item it = {0};
		it.err = infer_frame_read(q->fd, &it.buf, &it.len);
		it.recv_ns = now_nsec();
		pthread_mutex_lock(&q->mu);
		while (q->count == SERVE_QUEUE && !q->stop)
			pthread_cond_wait(&q->cv, &q->mu);
		if (q->stop) {
			pthread_mutex_unlock(&q->mu);
			free(it.buf);
			return NULL;
		}
		q->q[(q->head + q->count) % SERVE_QUEUE] = it;
		q->count++;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		if (it.err)
			return NULL;
	}
}

int infer_serve_conn(int fd, struct infer_model **cache, unsigned threads, uint64_t seed)
{
	struct rx_queue q = {.fd = fd};
	pthread_t th;
	int ret = 0;

	pthread_mutex_init(&q.mu, NULL);
	pthread_cond_init(&q.cv, NULL);
	if (pthread_create(&th, NULL, reader_thread, &q) != 0) {
		pthread_mutex_destroy(&q.mu);
		pthread_cond_destroy(&q.cv);
		return -EAGAIN;
	}
	for (;;) {
		struct rx_item it;
		struct infer_frame_header h;
		struct infer_frame reply = {0};
		char err[256] = "";
		int r;

		pthread_mutex_lock(&q.mu);
		while (!q.count)
			pthread_cond_wait(&q.cv, &q.mu);
		it = q.q[q.head];
		q.head = (q.head + 1) % SERVE_QUEUE;
		q.count--;
		pthread_cond_broadcast(&q.cv);
		pthread_mutex_unlock(&q.mu);

		if (it.err == -ECONNRESET)
			break; /* the device hung up: done */
		if (it.err < 0) {
			if (it.err == -EBADMSG)
				send_error(fd, 0, "corrupt frame (bad magic, size or CRC)");
			ret = it.err;
			break;
		}
		memcpy(&h, it.buf, sizeof(h));
		if (h.type != INFER_FRAME_REQUEST) {
			free(it.buf);
			send_error(fd, h.job, "expected a request frame");
			ret = -EPROTO;
			break;
		}
		r = serve_one(it.buf, &h, cache, threads, seed, it.recv_ns, &reply, err,
			      sizeof(err));
		free(it.buf);
		if (r < 0) {
			send_error(fd, h.job, err[0] ? err : strerror(-r));
			continue;
		}
		r = infer_write_all(fd, reply.buf, reply.len);
		infer_frame_done(&reply);
		if (r < 0) {
			ret = r;
			break;
		}
	}
	/* stop the reader: wake it from read() and from a full queue */
	shutdown(fd, SHUT_RDWR);
	pthread_mutex_lock(&q.mu);
	q.stop = true;
	pthread_cond_broadcast(&q.cv);
	pthread_mutex_unlock(&q.mu);
	pthread_join(th, NULL);
	while (q.count) {
		free(q.q[q.head].buf);
		q.head = (q.head + 1) % SERVE_QUEUE;
		q.count--;
	}
	pthread_mutex_destroy(&q.mu);
	pthread_cond_destroy(&q.cv);
	return ret;
}

int infer_listen(const char *addr, uint16_t port, int *ret_fd, uint16_t *ret_port)
{
	struct sockaddr_in6 sa = {
	    .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any};
	socklen_t sl = sizeof(sa);
	int one = 1, zero = 0;
	_cleanup_close_ int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (addr) {
		struct in_addr v4;
		if (inet_pton(AF_INET, addr, &v4) == 1) {
			/* v4-mapped */
			memset(&sa.sin6_addr, 0, sizeof(sa.sin6_addr));
			sa.sin6_addr.s6_addr[10] = sa.sin6_addr.s6_addr[11] = 0xff;
			memcpy(&sa.sin6_addr.s6_addr[12], &v4, 4);
		} else if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1) {
			return -EINVAL;
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		return -errno;
	if (getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
		return -errno;
	if (ret_port)
		*ret_port = ntohs(sa.sin6_port);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int infer_connect(const char *host, uint16_t port, unsigned timeout_ms, int *ret_fd)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ps[8];
	int r, last = -ECONNREFUSED;

	snprintf(ps, sizeof(ps), "%u", port);
	r = getaddrinfo(host, ps, &hints, &ai);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		_cleanup_close_ int fd =
		    socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct pollfd p;
		int soerr = 0, one = 1;
		socklen_t sl = sizeof(soerr);
		struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

		if (fd < 0) {
			last = -errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			last = -errno;
			continue;
		}
		p = (struct pollfd){fd, POLLOUT, 0};
		r = poll(&p, 1, (int)timeout_ms);
		if (r <= 0) {
			last = r == 0 ? -ETIMEDOUT : -errno;
			continue;
		}
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr) {
			last = -soerr;
			continue;
		}
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		*ret_fd = TAKE_FD(fd);
		freeaddrinfo(ai);
		return 0;
	}
	freeaddrinfo(ai);
	return last;
}

/* ---- device pipeline ---------------------------------------------------------------- */

/* Three threads: compute (job i's local layers -> frame), send (frames in order onto the
 * link), receive (replies in order). Uploads never wait for the server's compute, so the
 * link is the pipeline's second stage, as the planner models it. */
#define WINDOW 8 /* frames sent but not yet answered */

struct slot {
	size_t job;
	struct infer_frame f; /* empty for a local job */
	double local_ms;
	double end_ms; /* compute end since the batch start */
	float out0;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot q[2]; /* compute runs at most one job ahead of the link */
	size_t head, count;
	size_t sent[WINDOW]; /* jobs awaiting a reply, FIFO */
	size_t s_head, s_count;
	bool compute_done, send_done, abort;
	int err;
	size_t err_job;
	char msg[200];
	int fd;
	struct infer_model *m;
	const int32_t *cuts;
	size_t n;
	uint64_t t0;
	struct infer_job_result *res;
};

static double since(const struct pipe *p)
{
	return (double)(now_nsec() - p->t0) / 1e6;
}

/* Records the first failure and wakes everyone (a blocked read/send via shutdown). */
static void pipe_fail(struct pipe *p, int err, size_t job, const char *msg)
{
	pthread_mutex_lock(&p->mu);
	if (!p->abort) {
		p->abort = true;
		p->err = err;
		p->err_job = job;
		snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "");
		if (p->fd >= 0)
			shutdown(p->fd, SHUT_RDWR);
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

static const char *net_error(int r)
{
	return r == -ECONNRESET || r == -EPIPE ? "server closed the connection"
	       : r == -ETIMEDOUT	       ? "timed out waiting for the server"
	       : r == -EBADMSG		       ? "corrupt reply frame"
					       : NULL;
}

static void *compute_thread(void *arg)
{
	struct pipe *p = arg;
	bool *run = calloc(p->m->n, sizeof(bool));

	if (!run)
		pipe_fail(p, -ENOMEM, 0, NULL);
	for (size_t i = 0; run && i < p->n; i++) {
		struct slot s = {.job = i};
		int32_t cut = p->cuts[i];
		uint64_t a;
		int r;

		pthread_mutex_lock(&p->mu);
		bool stop = p->abort;
		pthread_mutex_unlock(&p->mu);
		if (stop)
			break;
		memset(run, 0, p->m->n * sizeof(bool));
		if (cut == JPS_CUT_LOCAL)
			memset(run, 1, p->m->n * sizeof(bool));
		else if (cut >= 0)
			infer_mark_ancestors(p->m, (uint32_t)cut, run);
		a = now_nsec();
		r = infer_forward(p->m, run, NULL);
		s.local_ms = (double)(now_nsec() - a) / 1e6;
		s.end_ms = since(p);
		if (r == 0 && cut == JPS_CUT_LOCAL)
			s.out0 = p->m->layers[p->m->n - 1].act[0];
		else if (r == 0)
			r = infer_frame_request(p->m, (uint32_t)i, cut, &s.f);
		if (r < 0) {
			pipe_fail(p, r, i, "cannot build the request frame");
			break;
		}
		pthread_mutex_lock(&p->mu);
		while (!p->abort && p->count == 2)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->abort) {
			pthread_mutex_unlock(&p->mu);
			infer_frame_done(&s.f);
			break;
		}
		p->q[(p->head + p->count) % 2] = s;
		p->count++;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
	free(run);
	pthread_mutex_lock(&p->mu);
	p->compute_done = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void *receive_thread(void *arg)
{
	struct pipe *p = arg;

	for (;;) {
		_cleanup_free_ uint8_t *rb = NULL;
		struct infer_frame_header h;
		size_t job, rl;
		char msg[200] = "";
		int r;

		pthread_mutex_lock(&p->mu);
		while (!p->abort && !p->s_count && !p->send_done)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->abort || !p->s_count) {
			pthread_mutex_unlock(&p->mu);
			return NULL;
		}
		job = p->sent[p->s_head];
		pthread_mutex_unlock(&p->mu);

		r = infer_frame_read(p->fd, &rb, &rl);
		if (r < 0) {
			pipe_fail(p, r, job, net_error(r));
			return NULL;
		}
		memcpy(&h, rb, sizeof(h));
		if (h.type == INFER_FRAME_ERROR) {
			size_t ml = h.msg_len < 150 ? h.msg_len : 150;
			snprintf(msg, sizeof(msg), "server: %.*s", (int)ml,
				 (const char *)rb + rl - 4 - h.msg_len);
			pipe_fail(p, -EPROTO, job, msg);
			return NULL;
		}
		if (h.type != INFER_FRAME_REPLY || h.job != job) {
			snprintf(msg, sizeof(msg), "reply for job %u, expected %zu", h.job, job);
			pipe_fail(p, -EPROTO, job, msg);
			return NULL;
		}
		if (h.echo_crc != p->res[job].crc) {
			snprintf(msg, sizeof(msg),
				 "server received a different tensor (crc %08x, sent %08x)",
				 h.echo_crc, p->res[job].crc);
			pipe_fail(p, -EBADMSG, job, msg);
			return NULL;
		}
		if (h.recv_ns > p->t0)
			p->res[job].upload_ms = (double)(h.recv_ns - p->t0) / 1e6;
		p->res[job].server_ms = h.server_us / 1000.0;
		if (h.n_tensors >= 1)
			memcpy(&p->res[job].out0,
			       rb + sizeof(h) + h.n_tensors * sizeof(struct infer_tensor_desc),
			       sizeof(float));
		pthread_mutex_lock(&p->mu);
		p->res[job].done_ms = since(p);
		p->s_head = (p->s_head + 1) % WINDOW;
		p->s_count--;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
	}
}

int infer_run_batch(struct infer_model *m, int fd, const int32_t *cuts, size_t n_jobs,
		    struct infer_job_result *res, double *ret_makespan_ms, size_t *ret_failed_job,
		    char *err, size_t errlen)
{
	struct pipe p = {.m = m, .cuts = cuts, .n = n_jobs, .res = res, .fd = fd};
	pthread_t tc, tr;
	bool have_rx = false;
	double makespan = 0;
	int r = 0;

	if (!m || !cuts || !res || !m->allocated)
		return -EINVAL;
	for (size_t i = 0; i < n_jobs; i++)
		if (cuts[i] != JPS_CUT_LOCAL && fd < 0)
			return -ENOTCONN;
	memset(res, 0, n_jobs * sizeof(*res));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	p.t0 = now_nsec();
	if (pthread_create(&tc, NULL, compute_thread, &p) != 0) {
		r = -EAGAIN;
		goto out_nothread;
	}
	if (fd >= 0) {
		if (pthread_create(&tr, NULL, receive_thread, &p) != 0)
			pipe_fail(&p, -EAGAIN, 0, NULL);
		else
			have_rx = true;
	}
	/* This thread sends. */
	for (size_t taken = 0; taken < n_jobs; taken++) {
		struct slot s;
		pthread_mutex_lock(&p.mu);
		while (!p.count && !p.compute_done && !p.abort)
			pthread_cond_wait(&p.cv, &p.mu);
		if (p.abort || !p.count) {
			pthread_mutex_unlock(&p.mu);
			break;
		}
		s = p.q[p.head];
		p.head = (p.head + 1) % 2;
		p.count--;
		pthread_cond_broadcast(&p.cv);
		res[s.job].cut = cuts[s.job];
		res[s.job].local_ms = s.local_ms;
		if (!s.f.buf) {
			/* a local job is done when its compute ends */
			res[s.job].out0 = s.out0;
			res[s.job].done_ms = s.end_ms;
			pthread_mutex_unlock(&p.mu);
			continue;
		}
		while (!p.abort && p.s_count == WINDOW)
			pthread_cond_wait(&p.cv, &p.mu);
		if (p.abort) {
			pthread_mutex_unlock(&p.mu);
			infer_frame_done(&s.f);
			break;
		}
		res[s.job].bytes = s.f.len;
		res[s.job].crc = s.f.crc;
		/* enqueue before sending: the reply may arrive before send() returns */
		p.sent[(p.s_head + p.s_count) % WINDOW] = s.job;
		p.s_count++;
		pthread_cond_broadcast(&p.cv);
		pthread_mutex_unlock(&p.mu);
		r = infer_write_all(fd, s.f.buf, s.f.len);
		infer_frame_done(&s.f);
		if (r < 0) {
			/* name the oldest job still waiting for its answer: the first one lost */
			pthread_mutex_lock(&p.mu);
			size_t lost = p.s_count ? p.sent[p.s_head] : s.job;
			pthread_mutex_unlock(&p.mu);
			pipe_fail(&p, r, lost, net_error(r));
			break;
		}
	}
	pthread_mutex_lock(&p.mu);
	p.send_done = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	if (have_rx)
		pthread_join(tr, NULL);
	pthread_join(tc, NULL);
	while (p.count) { /* frames left behind by an abort */
		infer_frame_done(&p.q[p.head].f);
		p.head = (p.head + 1) % 2;
		p.count--;
	}
	if (p.err) {
		r = p.err;
		if (ret_failed_job)
			*ret_failed_job = p.err_job;
		if (err && errlen)
			snprintf(err, errlen, "%s", p.msg[0] ? p.msg : strerror(-r));
	} else {
		r = 0;
		for (size_t i = 0; i < n_jobs; i++)
			if (res[i].done_ms > makespan)
				makespan = res[i].done_ms;
		if (ret_makespan_ms)
			*ret_makespan_ms = makespan;
	}
out_nothread:
	pthread_mutex_destroy(&p.mu);
	pthread_cond_destroy(&p.cv);
	return r;
}
