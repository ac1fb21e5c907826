/* infer_pipeline.c — the device side of offloading: a two-stage pipeline that computes job i
 * while job i-1 uploads, over a window of in-flight jobs. */
#include "infer_net_internal.h"

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
