/* etcd-watch.c — the poll-style watch: one streaming libcurl request per watch, events
 * queued as they arrive and handed out by etcd_watch_poll(). */
#include "etcd-client-internal.h"

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
	watch_detach(w);
	if (w->easy)
		curl_easy_cleanup(w->easy);
	if (w->multi)
		curl_multi_cleanup(w->multi);
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
