/* clients.c — control-socket clients: accept with per-uid caps and a root reserve, buffered
 * line I/O with a per-turn budget, incremental output, idle and slow-reader timeouts. */
#include "daemon-internal.h"

/* --- clients -------------------------------------------------------------------------- */

static void turns_remove(struct client *c)
{
	struct daemon *d = c->d;
	struct client *prev = NULL;

	if (!c->in_turns)
		return;
	for (struct client *p = d->turns_head; p; prev = p, p = p->turn_next)
		if (p == c) {
			if (prev)
				prev->turn_next = c->turn_next;
			else
				d->turns_head = c->turn_next;
			if (d->turns_tail == c)
				d->turns_tail = prev;
			break;
		}
	c->in_turns = false;
	c->turn_next = NULL;
}

void daemon_client_free(struct client *c)
{
	struct daemon *d = c->d;
	for (struct client **p = &d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	d->n_clients--;
	turns_remove(c);
	daemon_batch_forget(c);
	sd_event_source_disable_unref(c->src);
	sd_event_source_disable_unref(c->timer);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static size_t out_pending(const struct client *c)
{
	return c->out_len - c->out_off;
}

static bool line_pending(const struct client *c)
{
	return memchr(c->in + c->in_off, '\n', c->in_len - c->in_off) != NULL;
}

/* Reading stops while a turn's leftovers wait for their turn, while unsent output is above
 * OUT_PAUSE (a pipeliner that does not read stalls in its own socket buffer, not in our
 * memory) and after EOF. */
static bool wants_input(const struct client *c)
{
	return !c->closing && !c->eof && out_pending(c) < OUT_PAUSE && !line_pending(c);
}

/* Drops a client from a place that may be iterating the list (events): shut the socket so
 * that epoll reports a hangup, which frees it from the loop. */
static void client_abort(struct client *c, const char *why)
{
	daemon_log(LOG_WARNING, "client pid %d uid %u: %s; closed", (int)c->cred.pid,
		   (unsigned)c->cred.uid, why);
	c->closing = true;
	c->out_off = c->out_len = 0;
	(void)shutdown(c->fd, SHUT_RDWR);
	(void)sd_event_source_set_io_events(c->src, EPOLLIN);
}

/* A reply larger than the socket's buffer would go out in as many rounds as it takes the
 * client to drain the buffer and the loop to be woken again: on a busy machine each round
 * waits for a CPU. Sized to the reply once, it goes out in one send; the bytes move from our
 * buffer to the kernel's, so memory in use stays as bounded as before (the reply limit, the
 * per-uid connection caps). Needs CAP_NET_ADMIN (the daemon has it), else SO_SNDBUF's cap. */
static void fit_sndbuf(struct client *c, size_t n)
{
	int want;

	if (n <= c->sndbuf || c->sndbuf >= SNDBUF_MAX)
		return;
	want = (int)(n < SNDBUF_MAX ? n : SNDBUF_MAX);
	if (setsockopt(c->fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) == 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) == 0)
		c->sndbuf = (size_t)want;
	else
		c->sndbuf = SNDBUF_MAX; /* refused: do not ask again */
}

void daemon_client_send_n(struct client *c, const char *line, size_t n)
{
	if (c->closing && !c->out_len)
		return;
	/* Nothing queued before it: straight to the socket, no copy for what it takes. */
	if (!out_pending(c) && !c->closing && n >= 4096) {
		fit_sndbuf(c, n);
		ssize_t k = send(c->fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (k > 0) {
			c->active_us = now_usec();
			line += k;
			n -= (size_t)k;
			if (!n)
				return;
		}
	}
	if (c->events && out_pending(c) + n > MAX_OUTBUF) {
		/* An event subscriber this slow would make us buffer without bound. */
		client_abort(c, "events not read (16 MiB unsent)");
		return;
	}
	if (c->out_off && c->out_off >= c->out_len / 2) {
		memmove(c->out, c->out + c->out_off, out_pending(c));
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t nc = (c->out_len + n) + (c->out_len + n) / 2;
		char *b = realloc(c->out, nc);
		if (!b) {
			client_abort(c, "out of memory for its output");
			return;
		}
		c->out = b;
		c->out_cap = nc;
	}
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
	/* Events are queued to clients other than the one being served: arm their POLLOUT. */
	(void)sd_event_source_set_io_events(c->src, (wants_input(c) ? EPOLLIN : 0) | EPOLLOUT);
}

void daemon_client_send(struct client *c, const char *line)
{
	daemon_client_send_n(c, line, strlen(line));
}

/* Sends what the socket takes now; the rest goes out on the next POLLOUT. -errno when the
 * peer is gone. */
static int flush(struct client *c)
{
	fit_sndbuf(c, out_pending(c));
	while (out_pending(c)) {
		ssize_t n =
		    send(c->fd, c->out + c->out_off, out_pending(c), MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : negative_errno();
		c->out_off += (size_t)n;
		c->active_us = now_usec();
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > (1u << 20)) { /* a large reply went out: give its buffer back */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	return 0;
}

static void reply_error(struct client *c, enum proto_err code, const char *fmt, ...) _printf_(3, 4);
static void reply_error(struct client *c, enum proto_err code, const char *fmt, ...)
{
	struct proto_error e = {.code = code};
	_cleanup_free_ char *out = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e.message, sizeof(e.message), fmt, ap);
	va_end(ap);
	out = proto_format_error(NULL, &e);
	if (out)
		daemon_client_send(c, out);
}

static int on_turns(sd_event_source *s, void *userdata);

/* Queues c for a turn after every client already waiting: one daemon-wide defer at idle
 * priority, so new connections and other clients' fresh requests come first, and clients
 * with leftovers take turns in order. (A per-client defer is not enough: sd-event keeps a
 * re-enabled defer's old place in its pending order, so the first one armed kept winning.) */
static void turns_push(struct client *c)
{
	struct daemon *d = c->d;

	if (c->in_turns)
		return;
	if (!d->turns_src) {
		if (sd_event_add_defer(d->ev, &d->turns_src, on_turns, d) < 0)
			return; /* the client's next io event serves it */
		(void)sd_event_source_set_priority(d->turns_src, SD_EVENT_PRIORITY_IDLE);
	}
	c->in_turns = true;
	c->turn_next = NULL;
	if (d->turns_tail)
		d->turns_tail->turn_next = c;
	else
		d->turns_head = c;
	d->turns_tail = c;
	(void)sd_event_source_set_enabled(d->turns_src, SD_EVENT_ONESHOT);
}

/* Handles complete requests until the budget of this turn is spent. A final request without
 * a newline is answered once the peer has shut its side. */
static void process(struct client *c)
{
	uint64_t t0 = now_usec();
	size_t bytes = 0;
	unsigned n = 0;
	char *nl;

	while (!c->closing && out_pending(c) < OUT_PAUSE &&
	       (nl = memchr(c->in + c->in_off, '\n', c->in_len - c->in_off))) {
		size_t len = (size_t)(nl - (c->in + c->in_off));
		if (n >= BUDGET_REQUESTS || bytes >= BUDGET_BYTES ||
		    now_usec() - t0 >= BUDGET_USEC) {
			/* Yield: others' requests come first; the leftovers wait their turn. */
			turns_push(c);
			return;
		}
		if (daemon_handle_line(c, c->in + c->in_off, len) == -EAGAIN)
			return; /* after its group commit: the replies wake c */
		c->in_off += len + 1;
		c->active_us = now_usec();
		bytes += len + 1;
		n++;
	}
	if (c->in_off) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->closing || line_pending(c))
		return;
	if (c->in_len > PROTO_MAX_LINE && !c->held) { /* (held: answered in order, after) */
		reply_error(c, PROTO_E_TOO_LARGE, "request longer than %u bytes", PROTO_MAX_LINE);
		/* No way to find the next request boundary reliably: close after replying. */
		c->closing = true;
		c->in_len = 0;
	} else if (c->eof && !c->held) {
		if (c->in_len) /* a last request the peer did not end with \n */
			(void)daemon_handle_line(c, c->in, c->in_len);
		c->in_len = 0;
		c->closing = !c->held; /* else once its group commit answered it */
	}
}

static int read_input(struct client *c)
{
	ssize_t n;

	if (c->in_cap - c->in_len < 4096) {
		size_t nc = c->in_cap ? c->in_cap * 2 : 8192;
		char *b = realloc(c->in, nc);
		if (!b)
			return -ENOMEM;
		c->in = b;
		c->in_cap = nc;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : negative_errno();
	if (n == 0)
		c->eof = true;
	c->in_len += (size_t)n;
	return 0;
}

/* Re-arms the io mask for the client's state; frees a closing client once its output is out.
 * Returns false when c was freed. */
static bool client_update(struct client *c)
{
	if (c->closing && !out_pending(c) && !c->held) {
		daemon_client_free(c);
		return false;
	}
	/* Requests left and neither input nor output to wake us: a turn must (with requests
	 * in a group commit, its replies will). */
	if (!c->closing && line_pending(c) && out_pending(c) < OUT_PAUSE && !c->held)
		turns_push(c);
	(void)sd_event_source_set_io_events(c->src, (wants_input(c) ? EPOLLIN : 0) |
							(out_pending(c) ? EPOLLOUT : 0));
	return true;
}

static void serve(struct client *c, uint32_t revents)
{
	if (revents & EPOLLOUT && out_pending(c) && flush(c) < 0) {
		daemon_client_free(c);
		return;
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR) && wants_input(c)) {
		if (read_input(c) < 0) {
			daemon_client_free(c);
			return;
		}
	} else if (revents & (EPOLLHUP | EPOLLERR) && !out_pending(c) && !line_pending(c)) {
		c->eof = true;
	}
	process(c);
	/* A reply made this turn usually fits the socket buffer: send it now. */
	if (out_pending(c) && flush(c) < 0) {
		daemon_client_free(c);
		return;
	}
	(void)client_update(c);
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	serve(userdata, revents);
	return 0;
}

static int on_turns(sd_event_source *s, void *userdata)
{
	struct daemon *d = userdata;
	struct client *c = d->turns_head;

	if (c) {
		d->turns_head = c->turn_next;
		if (!d->turns_head)
			d->turns_tail = NULL;
		c->in_turns = false;
		c->turn_next = NULL;
		serve(c, 0); /* may queue c again, at the tail */
	}
	if (d->turns_head)
		(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* Idle: no complete request for idle_timeout_s (events subscribers wait legitimately).
 * Slow: output pending and not a byte taken for write_timeout_s. */
static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct client *c = userdata;
	const struct dconf *conf = &c->d->conf;
	uint64_t now = now_usec(), limit;
	bool slow = out_pending(c) > 0;

	limit = slow ? conf->write_timeout_s : conf->idle_timeout_s;
	/* Not idle: an events subscriber waits legitimately, and requests it sent that wait
	 * for their turn are our delay, not the client's. */
	if (!slow && (c->events || line_pending(c) || c->held))
		limit = 0;
	if (limit && now - c->active_us >= limit * 1000000ull) {
		daemon_log(LOG_INFO, "client pid %d uid %u: %s for %us; closed", (int)c->cred.pid,
			   (unsigned)c->cred.uid, slow ? "replies not read" : "idle",
			   (unsigned)limit);
		daemon_client_free(c);
		return 0;
	}
	(void)sd_event_source_set_time_relative(s, 1000000);
	(void)sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
	return 0;
}

/* Who may take the slot: root up to MAX_CLIENTS (evicting the longest-idle client, one with
 * no request or output in flight, when all are taken), others up to
 * MAX_CLIENTS - ROOT_RESERVE and MAX_CLIENTS_UID each. */
static const char *admit(struct daemon *d, const struct ucred *cr)
{
	size_t mine = 0;
	struct client *idlest = NULL;

	for (struct client *c = d->clients; c; c = c->next) {
		mine += c->cred.uid == cr->uid;
		if (!c->events && !out_pending(c) && !line_pending(c) && !c->held &&
		    (!idlest || c->active_us < idlest->active_us))
			idlest = c;
	}
	if (cr->uid != 0 && mine >= MAX_CLIENTS_UID)
		return "too many connections from this uid";
	if (cr->uid != 0 && d->n_clients >= MAX_CLIENTS - ROOT_RESERVE)
		return "too many clients";
	if (d->n_clients >= MAX_CLIENTS) {
		if (!idlest)
			return "too many clients";
		daemon_log(LOG_INFO, "client pid %d uid %u: closed to let root in",
			   (int)idlest->cred.pid, (unsigned)idlest->cred.uid);
		daemon_client_free(idlest);
	}
	return NULL;
}

/* A refusal at accept: one error line, then the connection is closed at once. */
static void refuse(int cfd, enum proto_err code, const char *why)
{
	struct proto_error e = {.code = code};
	_cleanup_free_ char *out = NULL;
	char sink[4096];

	snprintf(e.message, sizeof(e.message), "%s", why);
	out = proto_format_error(NULL, &e);
	/* Read what the peer already sent, so that close() does not reset the connection
	 * before it reads our line. */
	for (int i = 0; i < 16 && recv(cfd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	if (out)
		(void)send(cfd, out, strlen(out), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(cfd);
}

int daemon_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct client *c;
	struct ucred cred = {.pid = 0, .uid = (uid_t)-1, .gid = (gid_t)-1};
	socklen_t len = sizeof(cred);
	const char *why;
	char msg[128];
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    !daemon_peer_authorized(d, cfd, &cred)) {
		snprintf(msg, sizeof(msg), "the control socket needs root or group %s",
			 d->conf.group);
		refuse(cfd, PROTO_E_PERMISSION, msg);
		return 0;
	}
	why = admit(d, &cred);
	if (why) {
		refuse(cfd, PROTO_E_LIMIT, why);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->d = d;
	c->fd = cfd;
	c->cred = cred;
	c->authorized = true;
	c->active_us = now_usec();
	if (sd_event_add_io(d->ev, &c->src, cfd, EPOLLIN, on_client, c) < 0 ||
	    sd_event_add_time_relative(d->ev, &c->timer, CLOCK_MONOTONIC, 1000000, 100000, on_timer,
				       c) < 0) {
		sd_event_source_disable_unref(c->src);
		close(cfd);
		free(c);
		return 0;
	}
	c->next = d->clients;
	d->clients = c;
	d->n_clients++;
	return 0;
}
