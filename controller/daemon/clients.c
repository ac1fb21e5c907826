/* clients.c — control-socket clients: accept, buffered line I/O, output limits and event
 * subscribers. */
#include "daemon-internal.h"

/* --- clients -------------------------------------------------------------------------- */

void daemon_client_free(struct client *c)
{
	struct daemon *d = c->d;
	for (struct client **p = &d->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	d->n_clients--;
	sd_event_source_disable_unref(c->src);
	close(c->fd);
	free(c->in);
	free(c->out);
	free(c);
}

static void client_update(struct client *c)
{
	(void)sd_event_source_set_io_events(c->src, (c->closing ? 0 : EPOLLIN) |
							(c->out_len ? EPOLLOUT : 0));
	if (c->closing && !c->out_len)
		daemon_client_free(c);
}

void daemon_client_send(struct client *c, const char *line)
{
	size_t n = strlen(line);

	if (c->out_len + n > MAX_OUTBUF) {
		/* A reader this slow would make us buffer without bound: drop it. The
		 * shutdown makes epoll report a hangup, which frees it from the loop. */
		c->closing = true;
		c->out_len = 0;
		(void)shutdown(c->fd, SHUT_RDWR);
		return;
	}
	if (c->out_len + n > c->out_cap) {
		size_t nc = (c->out_len + n) * 2;
		char *b = realloc(c->out, nc);
		if (!b) {
			c->closing = true;
			c->out_len = 0;
			return;
		}
		c->out = b;
		c->out_cap = nc;
	}
	memcpy(c->out + c->out_len, line, n);
	c->out_len += n;
	/* Events are queued to clients other than the one being served: arm their POLLOUT. */
	(void)sd_event_source_set_io_events(c->src, (c->closing ? 0 : EPOLLIN) | EPOLLOUT);
}

static int on_client(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct client *c = userdata;

	if (revents & EPOLLOUT && c->out_len) {
		ssize_t n = send(fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			daemon_client_free(c);
			return 0;
		}
		if (n > 0) {
			memmove(c->out, c->out + n, c->out_len - (size_t)n);
			c->out_len -= (size_t)n;
		}
	}
	if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->closing) {
		char *nl;
		ssize_t n;
		if (c->in_cap - c->in_len < 4096) {
			size_t nc = c->in_cap ? c->in_cap * 2 : 8192;
			char *b = realloc(c->in, nc);
			if (!b) {
				daemon_client_free(c);
				return 0;
			}
			c->in = b;
			c->in_cap = nc;
		}
		n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) {
			/* EOF: answer what was complete, then go. */
			c->closing = true;
			client_update(c);
			return 0;
		}
		c->in_len += (size_t)n;
		while (!c->closing && (nl = memchr(c->in, '\n', c->in_len))) {
			size_t len = (size_t)(nl - c->in);
			daemon_handle_line(c, c->in, len);
			memmove(c->in, nl + 1, c->in_len - len - 1);
			c->in_len -= len + 1;
		}
		if (c->in_len > PROTO_MAX_LINE) {
			struct proto_error e = {.code = PROTO_E_TOO_LARGE};
			_cleanup_free_ char *out = NULL;
			snprintf(e.message, sizeof(e.message), "request longer than %u bytes",
				 PROTO_MAX_LINE);
			out = proto_format_error(NULL, &e);
			if (out)
				daemon_client_send(c, out);
			/* No way to find the next request boundary reliably: close after replying.
			 */
			c->closing = true;
			c->in_len = 0;
		}
	}
	client_update(c);
	return 0;
}

int daemon_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct daemon *d = userdata;
	struct client *c;
	socklen_t len;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return 0;
	if (d->n_clients >= MAX_CLIENTS) {
		static const char msg[] = "{\"ok\":false,\"error\":{\"code\":\"limit\",\"message\":"
					  "\"too many clients\"}}\n";
		(void)send(cfd, msg, sizeof(msg) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(cfd);
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(cfd);
		return 0;
	}
	c->d = d;
	c->fd = cfd;
	len = sizeof(c->cred);
	if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len) == 0)
		c->authorized = daemon_peer_authorized(d, cfd, &c->cred);
	if (sd_event_add_io(d->ev, &c->src, cfd, EPOLLIN, on_client, c) < 0) {
		close(cfd);
		free(c);
		return 0;
	}
	c->next = d->clients;
	d->clients = c;
	d->n_clients++;
	return 0;
}
