/* metrics-http.c — GET /metrics over HTTP with libmicrohttpd in external-epoll mode: its
 * epoll fd and its timeout are sources of the caller's sd-event loop, so no thread is added. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "mhd-dl.h"
#include "util.h"

struct metrics_http {
	struct MHD_Daemon *mhd;
	sd_event *ev;
	sd_event_source *io, *timer;
	metrics_render_fn render;
	void *userdata;
	unsigned cache_ms;
	struct cached {
		struct MHD_Response *resp;
		uint64_t at_us;
	} cache[2]; /* per format */
	char address[INET6_ADDRSTRLEN + 8];
	struct metrics_http_stats st;
};

int metrics_parse_address(const char *s, struct sockaddr_storage *ret, unsigned *ret_len)
{
	char host[INET6_ADDRSTRLEN];
	const char *colon, *h = s;
	size_t hlen;
	uint64_t port;

	if (!s || !*s)
		return -EINVAL;
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || memchr(s, ':', (size_t)(colon - s)))
			return -EINVAL;
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= sizeof(host) || parse_u64(colon + 1, &port) < 0 || port > 65535)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = 0;
	memset(ret, 0, sizeof(*ret));
	if (*s == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ret;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ret;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*a4);
	}
	return 0;
}

static int listen_on(const char *address, int *ret_fd)
{
	struct sockaddr_storage sa;
	unsigned len;
	int one = 1, r;
	_cleanup_close_ int fd = -1;

	r = metrics_parse_address(address, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return negative_errno();
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (sa.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 128) < 0)
		return negative_errno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void name_address(struct metrics_http *h, int fd)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return;
	if (sa.ss_family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&sa;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
		snprintf(h->address, sizeof(h->address), "%s:%u", host, port);
	} else if (sa.ss_family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&sa;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
		snprintf(h->address, sizeof(h->address), "[%s]:%u", host, port);
	}
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;
	if (!r)
		return MHD_NO;
	(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The exposition in fmt, rendered or reused from the cache. A reference for the caller. */
static struct MHD_Response *scrape(struct metrics_http *h, enum metrics_format fmt)
{
	struct cached *k = &h->cache[fmt == METRICS_OPENMETRICS];
	uint64_t now = now_usec(), t0;
	struct MHD_Response *resp;
	char *body = NULL;
	size_t len = 0;

	if (k->resp && h->cache_ms && now - k->at_us < (uint64_t)h->cache_ms * 1000) {
		/* MHD counts references: queueing it again is the sharing. */
		return k->resp;
	}
	t0 = now_usec();
	if (h->render(h->userdata, fmt, &body, &len) < 0)
		return NULL;
	h->st.last_render_s = (double)(now_usec() - t0) / 1e6;
	h->st.bytes += len;
	h->st.last_bytes = len;
	resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return NULL;
	}
	(void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				      metrics_content_type(fmt));
	if (k->resp)
		MHD_destroy_response(k->resp);
	k->resp = resp;
	k->at_us = now;
	return resp;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct metrics_http *h = cls;
	struct MHD_Response *resp;
	enum metrics_format fmt;

	h->st.requests++;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
	if (!strcmp(url, "/"))
		return reply_text(c, MHD_HTTP_OK, "edgesliced: metrics at /metrics\n");
	if (strcmp(url, "/metrics"))
		return reply_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	fmt = metrics_negotiate(
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT));
	resp = scrape(h, fmt);
	if (!resp) {
		h->st.errors++;
		return reply_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render metrics\n");
	}
	h->st.scrapes++;
	h->st.scrapes_openmetrics += fmt == METRICS_OPENMETRICS;
	return MHD_queue_response(c, MHD_HTTP_OK, resp);
}

static void arm_timer(struct metrics_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES) {
		(void)sd_event_source_set_enabled(h->timer, SD_EVENT_OFF);
		return;
	}
	(void)sd_event_source_set_time(h->timer, now_usec() + (uint64_t)ms * 1000);
	(void)sd_event_source_set_enabled(h->timer, SD_EVENT_ONESHOT);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct metrics_http *h = userdata;
	(void)MHD_run(h->mhd);
	arm_timer(h);
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	return on_io(NULL, -1, 0, userdata);
}

/* Library code does not log above debug: libmicrohttpd's messages are dropped here and the
 * failures that matter reach the caller as counters (metrics_http_stats). */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	struct metrics_http *h = cls;
	h->st.errors++;
}

int metrics_http_new(struct sd_event *ev, const struct metrics_http_params *p,
		     metrics_render_fn render, void *userdata, struct metrics_http **ret, char *err,
		     size_t errsz)
{
	_cleanup_close_ int fd = p->listen_fd;
	const union MHD_DaemonInfo *info;
	struct metrics_http *h;
	int r;

	r = mhd_dl_load(err, errsz);
	if (r < 0)
		return r;
	if (fd < 0 && (r = listen_on(p->address, &fd)) < 0) {
		snprintf(err, errsz, "cannot listen on %s: %s", p->address, strerror(-r));
		return r;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->ev = ev;
	h->render = render;
	h->userdata = userdata;
	h->cache_ms = p->cache_ms;
	name_address(h, fd);
	h->mhd = MHD_start_daemon(
	    MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, on_request, h,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(p->max_connections ? p->max_connections : 64),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)(p->max_per_ip ? p->max_per_ip : 16),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(p->timeout_s ? p->timeout_s : 10),
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h, MHD_OPTION_END);
	if (!h->mhd) {
		free(h);
		snprintf(err, errsz, "libmicrohttpd would not start");
		return -EIO;
	}
	fd = -1; /* libmicrohttpd's now */
	info = MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || (r = sd_event_add_io(ev, &h->io, info->epoll_fd, EPOLLIN, on_io, h)) < 0 ||
	    (r = sd_event_add_time(ev, &h->timer, CLOCK_MONOTONIC, 0, 1000, on_timer, h)) < 0) {
		metrics_http_free(h);
		snprintf(err, errsz, "cannot poll libmicrohttpd's events");
		return info ? r : -EIO;
	}
	arm_timer(h);
	*ret = h;
	return 0;
}

void metrics_http_free(struct metrics_http *h)
{
	if (!h)
		return;
	sd_event_source_disable_unref(h->io);
	sd_event_source_disable_unref(h->timer);
	for (size_t i = 0; i < 2; i++)
		if (h->cache[i].resp)
			MHD_destroy_response(h->cache[i].resp);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	free(h);
}

const char *metrics_http_address(const struct metrics_http *h)
{
	return h->address;
}

void metrics_http_stats(const struct metrics_http *h, struct metrics_http_stats *ret)
{
	const union MHD_DaemonInfo *i =
	    MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	*ret = h->st;
	ret->connections = i ? i->num_connections : 0;
}
