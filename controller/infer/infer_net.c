/* infer_net.c — the offload server (one reader thread per connection feeding the forward pass)
 * and the client connection; frames are infer_frame.c, the device pipeline infer_pipeline.c. */
#include "infer_net_internal.h"

/* ---- server ------------------------------------------------------------------------ */

static int send_error(int fd, uint32_t job, const char *msg)
{
	struct infer_frame_header h = {.magic = INFER_FRAME_MAGIC,
				       .version = INFER_FRAME_VERSION,
				       .type = INFER_FRAME_ERROR,
				       .job = job,
				       .msg_len = (uint32_t)strlen(msg)};
	struct infer_frame f;
	int r = infer_frame_build(&h, NULL, NULL, msg, &f);
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
		struct infer_shape s = infer_shape_of_layer(m, want);
		if (d[i].layer != want || d[i].batch != m->batch || d[i].c != s.c ||
		    d[i].h != s.h || d[i].w != s.w) {
			snprintf(err, errlen, "tensor %zu: expected layer %d shape %ux%ux%ux%u", i,
				 want, m->batch, s.c, s.h, s.w);
			free(local);
			return -EINVAL;
		}
		memcpy(infer_data_of_layer(m, want), buf + off,
		       infer_tensor_elems(&d[i]) * sizeof(float));
		off += infer_tensor_elems(&d[i]) * sizeof(float);
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
		return infer_frame_build(&rh, &od, &od_data, NULL, reply);
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
