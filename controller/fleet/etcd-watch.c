/* etcd-watch.c — the watch: one streaming libcurl request per watch, events queued as they
 * arrive and handed out by etcd_watch_poll(), or driven by an sd-event loop
 * (etcd_watch_attach_event) and handed out as they arrive. */
#include "etcd-client-internal.h"
#include <sys/epoll.h>

/* --- watch ------------------------------------------------------------------------------- */

struct etcd_watch {
	struct etcd *e;
	CURLM *multi;
	CURL *easy;
	bool attached;
	char *key;
	bool prefix;
	bool have_rev, ready;
	int64_t rev; /* last revision received: resume at rev + 1 */
	size_t ep;
	size_t fails; /* consecutive streams that ended without a message */
	char *body;
	struct buf line;
	struct etcd_event *q; /* received, not yet delivered */
	size_t q_head, q_n, q_cap;
	int dead;		 /* -errno once the server cancelled the watch */
	bool reauth, reauthed;	 /* token refused: log in again, once per refusal */
	struct curl_slist *hdrs; /* a copy: the client's may be rebuilt while we stream */
	char curl_err[CURL_ERROR_SIZE];
	/* event-loop style (etcd_watch_attach_event) */
	sd_event *event;
	sd_event_source *timer; /* libcurl's timeout, or the retry after every endpoint failed */
	struct wsock {
		curl_socket_t fd;
		sd_event_source *src;
	} * socks;
	size_t n_socks;
	etcd_watch_cb ev_cb;
	etcd_watch_err_cb ev_err;
	void *ev_data;
	unsigned busy; /* inside one of our sd-event handlers */
	bool doomed;   /* etcd_watch_free() was called from a callback: free when it returns */
	bool reported; /* w->dead handed to ev_err */
};

static int queue_push(struct etcd_watch *w, struct etcd_event *ev)
{
	if (w->q_head > 0 && w->q_head == w->q_n) {
		w->q_head = w->q_n = 0;
	}
	if (w->q_n == w->q_cap) {
		size_t cap = w->q_cap ? w->q_cap * 2 : 16;
		struct etcd_event *q = reallocarray(w->q, cap, sizeof(*q));
		if (!q)
			return -ENOMEM;
		w->q = q;
		w->q_cap = cap;
	}
	w->q[w->q_n++] = *ev;
	memset(ev, 0, sizeof(*ev));
	return 0;
}

/* A watch the server refused at creation is "canceled" with the gRPC error as text. */
static int cancel_errno(const char *reason)
{
	if (strstr(reason, "code = Unauthenticated"))
		return -EACCES;
	if (strstr(reason, "code = PermissionDenied"))
		return -EPERM;
	return -ECANCELED;
}

static int watch_line(struct etcd_watch *w, const char *p, size_t n)
{
	struct etcd_watch_msg m;
	int r = etcd_parse_watch_msg(p, n, &m, w->e->err);

	if (r < 0)
		return r;
	w->fails = 0;
	w->reauthed = false;
	if (m.canceled) {
		if (m.compact_revision > 0)
			r = etcd_fail(w->e, -ESTALE,
				      "etcd watch: revision %" PRId64 " compacted (oldest %" PRId64
				      ")",
				      w->rev + 1, m.compact_revision);
		else
			r = etcd_fail(w->e, cancel_errno(m.cancel_reason),
				      "etcd watch cancelled: %s",
				      m.cancel_reason[0] ? m.cancel_reason : "no reason given");
		etcd_watch_msg_done(&m);
		return r;
	}
	if (m.created && !w->ready) {
		w->ready = true;
		if (!w->have_rev) {
			w->rev = m.revision;
			w->have_rev = true;
		}
	}
	/* a message carries all events of its revisions (a txn's share one): skip what was
	 * delivered before a reconnect, resume after the last revision seen */
	int64_t after = w->have_rev ? w->rev : INT64_MIN;
	for (size_t i = 0; i < m.n_events && r == 0; i++) {
		int64_t rev = m.events[i].kv.mod_revision;
		if (rev <= after)
			continue;
		r = queue_push(w, &m.events[i]);
		if (r == 0 && (!w->have_rev || rev > w->rev)) {
			w->rev = rev;
			w->have_rev = true;
		}
	}
	if (r < 0)
		r = etcd_fail(w->e, r, "out of memory");
	etcd_watch_msg_done(&m);
	return r;
}

static size_t on_watch_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct etcd_watch *w = userdata;
	size_t start = 0;

	if (w->dead)
		return 0;
	for (size_t i = 0; i < nmemb; i++) {
		if (p[i] != '\n')
			continue;
		if (etcd_buf_append(&w->line, p + start, i - start) < 0) {
			w->dead =
			    etcd_fail(w->e, -EMSGSIZE, "etcd watch: message longer than %u bytes",
				      ETCD_MAX_BODY);
			return 0;
		}
		start = i + 1;
		if (w->line.len > 0) {
			int r = watch_line(w, w->line.data, w->line.len);
			w->line.len = 0;
			if (r == -EACCES && w->e->user && !w->reauthed) {
				w->reauth = true; /* expired token: reconnect after a new login */
				return 0;
			}
			if (r < 0) {
				w->dead = r;
				return 0;
			}
		}
	}
	if (etcd_buf_append(&w->line, p + start, nmemb - start) < 0) {
		w->dead = etcd_fail(w->e, -EMSGSIZE, "etcd watch: message longer than %u bytes",
				    ETCD_MAX_BODY);
		return 0;
	}
	return nmemb;
}

static void watch_detach(struct etcd_watch *w)
{
	if (w->attached) {
		curl_multi_remove_handle(w->multi, w->easy);
		w->attached = false;
	}
}

static int watch_attach(struct etcd_watch *w)
{
	struct etcd *e = w->e;
	_cleanup_free_ char *url = NULL;
	int64_t start = w->have_rev ? w->rev + 1 : 0;

	free(w->body);
	w->body = etcd_req_watch(w->key, w->prefix, start);
	if (!w->body || asprintf(&url, "%s/v3/watch", e->endpoints[w->ep]) < 0)
		return etcd_fail(e, -ENOMEM, "out of memory");
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	for (struct curl_slist *h = e->hdrs; h; h = h->next) {
		struct curl_slist *t = curl_slist_append(w->hdrs, h->data);
		if (!t)
			return etcd_fail(e, -ENOMEM, "out of memory");
		w->hdrs = t;
	}
	w->line.len = 0;
	w->ready = w->ready && w->have_rev;
	w->curl_err[0] = '\0';
	if (curl_easy_setopt(w->easy, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, w->body) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(w->body)) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->hdrs) != CURLE_OK ||
	    curl_multi_add_handle(w->multi, w->easy) != CURLM_OK)
		return etcd_fail(e, -ENOMEM, "etcd watch: cannot set up request to %s", url);
	w->attached = true;
	return 0;
}

void etcd_watch_free(struct etcd_watch *w)
{
	if (!w)
		return;
	if (w->busy) {
		w->doomed = true;
		return;
	}
	watch_detach(w);
	if (w->easy)
		curl_easy_cleanup(w->easy);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	for (size_t i = 0; i < w->n_socks; i++)
		sd_event_source_disable_unref(w->socks[i].src);
	free(w->socks);
	sd_event_source_disable_unref(w->timer);
	sd_event_unref(w->event);
	for (size_t i = w->q_head; i < w->q_n; i++)
		etcd_kv_done(&w->q[i].kv);
	free(w->q);
	free(w->key);
	free(w->body);
	free(w->line.data);
	curl_slist_free_all(w->hdrs);
	free(w);
}

static void etcd_watch_freep(struct etcd_watch **w)
{
	etcd_watch_free(*w);
}

int etcd_watch_new(struct etcd *e, const char *key, bool prefix, int64_t start_revision,
		   struct etcd_watch **ret)
{
	_cleanup_(etcd_watch_freep) struct etcd_watch *w = NULL;
	int r;

	if ((!*key && !prefix) || start_revision < 0)
		return etcd_fail(e, -EINVAL, "etcd watch: empty key or negative revision");
	if (e->user && !e->token) {
		r = etcd_authenticate(e);
		if (r < 0)
			return r;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return etcd_fail(e, -ENOMEM, "out of memory");
	w->e = e;
	w->prefix = prefix;
	w->ep = e->cur;
	w->key = strdup(key);
	if (start_revision > 0) {
		w->rev = start_revision - 1;
		w->have_rev = true;
	}
	w->multi = curl_multi_init();
	w->easy = curl_easy_init();
	if (!w->key || !w->multi || !w->easy)
		return etcd_fail(e, -ENOMEM, "out of memory");
	r = etcd_setup_handle(e, w->easy);
	if (r < 0 || curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_body) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, w->curl_err) != CURLE_OK)
		return etcd_fail(e, -EINVAL, "etcd watch: cannot set up a curl handle");
	r = watch_attach(w);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(w);
	return 0;
}

bool etcd_watch_ready(const struct etcd_watch *w)
{
	return w->ready;
}

int64_t etcd_watch_revision(const struct etcd_watch *w)
{
	return w->rev;
}

/* A finished transfer: the stream broke or the server ended it. 0 = reconnect. */
static int watch_ended(struct etcd_watch *w, CURLcode c)
{
	struct etcd *e = w->e;
	long http = 0;

	curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &http);
	watch_detach(w);
	if (w->reauth) {
		int r = etcd_authenticate(e);
		w->reauth = false;
		w->reauthed = true;
		return r < 0 ? r : 0;
	}
	if (w->dead)
		return w->dead;
	if (c == CURLE_OK && http != 200 && http != 0) {
		/* an error answer, not a stream: the body is one gateway error */
		char why[ETCD_ERR_LEN];
		int64_t rev;
		int r = etcd_parse_header(w->line.data ?: "", w->line.len, &rev, why);
		if (http == 401 && e->user && !w->reauthed) {
			w->reauthed = true;
			r = etcd_authenticate(e);
			return r < 0 ? r : 0;
		}
		if (http < 502 || http > 504) {
			w->dead = etcd_fail(e, r < 0 && r != -EPROTO ? r : -EPROTO,
					    "etcd watch %s: HTTP %ld: %s", e->endpoints[w->ep],
					    http, r < 0 ? why : "no error message");
			return w->dead;
		}
	}
	if (c == CURLE_OK)
		etcd_fail(e, -ECONNRESET, "etcd watch %s: stream ended", e->endpoints[w->ep]);
	else
		etcd_fail(e, etcd_curl_errno(c), "etcd watch %s: %s", e->endpoints[w->ep],
			  w->curl_err[0] ? w->curl_err : curl_easy_strerror(c));
	w->ep = (w->ep + 1) % e->n;
	if (++w->fails >= e->n) {
		/* every endpoint failed once in a row: report, retry on the next poll */
		w->fails = 0;
		return c == CURLE_OK ? -ECONNRESET : etcd_curl_errno(c);
	}
	return 0;
}

int etcd_watch_poll(struct etcd_watch *w, unsigned timeout_ms, etcd_watch_cb cb, void *userdata)
{
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	int r = 0, delivered = 0;

	if (w->event)
		return etcd_fail(w->e, -EBUSY, "etcd watch: driven by an event loop, not polled");

	for (;;) {
		int running = 0, left;
		CURLMsg *msg;

		if (w->q_head < w->q_n || w->dead)
			break;
		if (!w->attached) {
			r = watch_attach(w);
			if (r < 0)
				return r;
		}
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			return etcd_fail(w->e, -EIO, "etcd watch: curl_multi_perform failed");
		while ((msg = curl_multi_info_read(w->multi, &left)))
			if (msg->msg == CURLMSG_DONE) {
				r = watch_ended(w, msg->data.result);
				break;
			}
		if (r < 0 && !w->dead)
			break; /* every endpoint down right now */
		if (w->q_head < w->q_n || w->dead)
			break;
		uint64_t now = now_usec();
		if (now >= deadline)
			break;
		uint64_t wait_ms = (deadline - now + 999) / 1000;
		if (wait_ms > INT_MAX)
			wait_ms = INT_MAX;
		if (w->attached &&
		    curl_multi_poll(w->multi, NULL, 0, (int)wait_ms, NULL) != CURLM_OK)
			return etcd_fail(w->e, -EIO, "etcd watch: curl_multi_poll failed");
	}
	while (w->q_head < w->q_n) {
		struct etcd_event *ev = &w->q[w->q_head];
		int k = cb ? cb(ev, userdata) : 0;
		etcd_kv_done(&ev->kv);
		w->q_head++;
		delivered++;
		if (k < 0)
			return k;
	}
	if (delivered)
		return delivered;
	if (w->dead)
		return w->dead;
	return r < 0 ? r : 0;
}

/* --- event-loop style ----------------------------------------------------------------------- */

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata);

static struct wsock *sock_find(struct etcd_watch *w, curl_socket_t fd)
{
	for (size_t i = 0; i < w->n_socks; i++)
		if (w->socks[i].fd == fd)
			return &w->socks[i];
	return NULL;
}

/* CURLMOPT_SOCKETFUNCTION: what libcurl wants to wait for on one of its sockets. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct etcd_watch *w = userp;
	struct wsock *k = sock_find(w, fd);
	uint32_t events =
	    (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);

	if (what == CURL_POLL_REMOVE) {
		if (k) {
			sd_event_source_disable_unref(k->src);
			*k = w->socks[--w->n_socks];
		}
		return 0;
	}
	if (k)
		return sd_event_source_set_io_events(k->src, events) < 0 ? -1 : 0;
	k = reallocarray(w->socks, w->n_socks + 1, sizeof(*k));
	if (!k)
		return -1;
	w->socks = k;
	k = &w->socks[w->n_socks];
	if (sd_event_add_io(w->event, &k->src, fd, events, on_io, w) < 0)
		return -1;
	k->fd = fd;
	w->n_socks++;
	return 0;
}

static void timer_in(struct etcd_watch *w, uint64_t usec)
{
	(void)sd_event_source_set_time_relative(w->timer, usec);
	(void)sd_event_source_set_enabled(w->timer, SD_EVENT_ONESHOT);
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants to be called with CURL_SOCKET_TIMEOUT. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct etcd_watch *w = userp;

	if (timeout_ms < 0)
		(void)sd_event_source_set_enabled(w->timer, SD_EVENT_OFF);
	else
		timer_in(w, (uint64_t)timeout_ms * 1000);
	return 0;
}

/* After libcurl ran: a finished stream is reconnected (or retried later), then the events
 * that arrived are handed out in order. */
static void drive(struct etcd_watch *w)
{
	CURLMsg *msg;
	int left, r = 0;

	while (!w->dead && (msg = curl_multi_info_read(w->multi, &left)))
		if (msg->msg == CURLMSG_DONE) {
			r = watch_ended(w, msg->data.result);
			if (r == 0)
				r = watch_attach(w);
			if (r < 0 && !w->dead)
				timer_in(w, ETCD_WATCH_RETRY_MS * 1000u);
			break; /* one transfer per watch */
		}
	while (w->q_head < w->q_n && !w->doomed) {
		struct etcd_event *ev = &w->q[w->q_head++];
		if (w->ev_cb)
			(void)w->ev_cb(ev, w->ev_data);
		etcd_kv_done(&ev->kv);
	}
	if (w->doomed)
		return;
	if (w->dead && !w->reported) {
		w->reported = true;
		watch_detach(w);
		if (w->ev_err)
			w->ev_err(w->dead, w->ev_data);
	} else if (r < 0 && !w->dead && w->ev_err)
		w->ev_err(r, w->ev_data);
}

static int leave(struct etcd_watch *w)
{
	if (--w->busy == 0 && w->doomed)
		etcd_watch_free(w);
	return 0;
}

static int on_io(sd_event_source *src, int fd, uint32_t revents, void *userdata)
{
	struct etcd_watch *w = userdata;
	int mask = (revents & EPOLLIN ? CURL_CSELECT_IN : 0) |
		   (revents & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
		   (revents & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
	int running;

	w->busy++;
	(void)curl_multi_socket_action(w->multi, fd, mask, &running);
	drive(w);
	return leave(w);
}

static int on_timer(sd_event_source *src, uint64_t usec, void *userdata)
{
	struct etcd_watch *w = userdata;
	int running;

	w->busy++;
	if (!w->attached && !w->dead && watch_attach(w) < 0)
		timer_in(w, ETCD_WATCH_RETRY_MS * 1000u);
	else if (w->attached)
		(void)curl_multi_socket_action(w->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	drive(w);
	return leave(w);
}

int etcd_watch_attach_event(struct etcd_watch *w, sd_event *ev, etcd_watch_cb cb,
			    etcd_watch_err_cb err, void *userdata)
{
	int r;

	if (w->event)
		return etcd_fail(w->e, -EBUSY, "etcd watch: already on an event loop");
	/* accuracy 1 us: sd-event's default would let a timeout slip by up to 250 ms */
	r = sd_event_add_time_relative(ev, &w->timer, CLOCK_MONOTONIC, 0, 1, on_timer, w);
	if (r < 0)
		return etcd_fail(w->e, r, "etcd watch: cannot add a timer: %s", strerror(-r));
	w->event = sd_event_ref(ev);
	w->ev_cb = cb;
	w->ev_err = err;
	w->ev_data = userdata;
	if (curl_multi_setopt(w->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_SOCKETDATA, w) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(w->multi, CURLMOPT_TIMERDATA, w) != CURLM_OK)
		return etcd_fail(w->e, -EINVAL, "etcd watch: cannot set the multi callbacks");
	/* the request was added before the callbacks existed: start it from the timer now */
	timer_in(w, 0);
	return 0;
}
