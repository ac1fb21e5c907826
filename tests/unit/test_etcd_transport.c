/* test_etcd_transport.c — the etcd client's error mapping at the transport boundary against
 * loopback fakes: refused port, silent and garbage servers, watch streams, polled and on an
 * sd-event loop (the pure parts: test_etcd.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include "etcd-internal.h"

/* A response header as the gateway sends it (as in test_etcd.c). */
#define HDR                                                                                        \
	"\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"1366\",\"revision\":" \
	"\"13\",\"raft_term\":\"2\"}"

/* --- the transport boundary against loopback fakes ----------------------------------------- */

struct fake {
	int fd;
	unsigned port;
	const char *reply;	     /* NULL: read the request and stay silent */
	const char *const *segments; /* or: written one by one, 50 ms apart, then close */
	int requests;		     /* atomic */
	pthread_mutex_t lock;
	char last_request[4096]; /* under lock */
	pthread_t thread;
};

/* Reads one request: headers, then Content-Length bytes of body. */
static ssize_t read_request(int c, char *buf, size_t size)
{
	size_t n = 0;
	long body = -1;
	char *end = NULL;

	while (n + 1 < size) {
		ssize_t k = read(c, buf + n, size - 1 - n);
		if (k <= 0)
			return -1;
		n += (size_t)k;
		buf[n] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			char *cl = strcasestr(buf, "Content-Length:");
			body = cl && cl < end ? atol(cl + 15) : 0;
		}
		if (end && (long)(n - (size_t)(end + 4 - buf)) >= body)
			return (ssize_t)n;
	}
	return (ssize_t)n;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;

	for (;;) {
		char buf[4096];
		int c = accept(f->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		if (read_request(c, buf, sizeof(buf)) > 0) {
			pthread_mutex_lock(&f->lock);
			snprintf(f->last_request, sizeof(f->last_request), "%s", buf);
			pthread_mutex_unlock(&f->lock);
			__atomic_add_fetch(&f->requests, 1, __ATOMIC_SEQ_CST);
			if (f->reply) {
				ssize_t w = write(c, f->reply, strlen(f->reply));
				(void)w;
			} else if (f->segments) {
				for (size_t i = 0; f->segments[i]; i++) {
					ssize_t w =
					    write(c, f->segments[i], strlen(f->segments[i]));
					(void)w;
					usleep(50 * 1000);
				}
			} else {
				usleep(600 * 1000);
			}
		}
		close(c);
	}
}

static int fake_requests(struct fake *f)
{
	return __atomic_load_n(&f->requests, __ATOMIC_SEQ_CST);
}

static void fake_start(struct fake *f, const char *reply)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	f->reply = reply;
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->fd, 8), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&a, &al), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->fd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->fd);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A loopback port nobody listens on. */
static unsigned closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static struct etcd *client(unsigned port1, unsigned port2, unsigned timeout_ms)
{
	char a[64], b[64];
	const char *eps[] = {a, b};
	struct etcd_options o = {.timeout_ms = timeout_ms};
	struct etcd *e = NULL;

	snprintf(a, sizeof(a), "http://127.0.0.1:%u/", port1);
	snprintf(b, sizeof(b), "http://127.0.0.1:%u", port2);
	assert_int_equal(etcd_new(eps, port2 ? 2 : 1, &o, &e), 0);
	assert_string_equal(etcd_last_error(e), "");
	return e;
}

static void test_new_invalid(void **state)
{
	const char *bad[] = {"127.0.0.1:2379", "http://", "https:///", "http://a b", "ftp://h"};
	const char *ok[] = {"http://127.0.0.1:2379"};
	struct etcd_options cert_only = {.cert_file = "/x.pem"};
	struct etcd *e = (struct etcd *)0x1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(etcd_new(&bad[i], 1, NULL, &e), -EINVAL);
	assert_int_equal(etcd_new(ok, 0, NULL, &e), -EINVAL);
	assert_int_equal(etcd_new(ok, ETCD_MAX_ENDPOINTS + 1, NULL, &e), -EINVAL);
	assert_int_equal(etcd_new(ok, 1, &cert_only, &e), -EINVAL);
	assert_ptr_equal(e, (struct etcd *)0x1);
	assert_int_equal(etcd_new(ok, 1, NULL, &e), 0);
	assert_string_equal(etcd_endpoint(e), "http://127.0.0.1:2379");
	assert_int_equal(etcd_put(e, "", "v", 1, 0, NULL), -EINVAL);
	etcd_free(e);
}

#define OK_PUT                                                                                     \
	"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{" HDR "}"

static void test_transport_errors(void **state)
{
	struct fake f;
	struct etcd *e;
	struct etcd_kv kv;
	int64_t rev = -1;

	/* nobody listens anywhere: -ECONNREFUSED, one line naming the endpoints tried */
	e = client(closed_port(), closed_port(), 500);
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, &rev), -ECONNREFUSED);
	assert_non_null(strstr(etcd_last_error(e), "all 2 endpoints failed"));
	assert_int_equal(rev, -1);
	etcd_free(e);

	/* failover: the first endpoint is down, the second answers and becomes current */
	fake_start(&f, OK_PUT);
	e = client(closed_port(), f.port, 2000);
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, &rev), 0);
	assert_int_equal(rev, 13);
	char want[64];
	snprintf(want, sizeof(want), "http://127.0.0.1:%u", f.port);
	assert_string_equal(etcd_endpoint(e), want);
	/* a body that is not a range answer */
	assert_int_equal(etcd_get(e, "k", &kv), -ENOENT);
	etcd_free(e);
	fake_stop(&f);

	/* garbage and truncated bodies: -EPROTO */
	fake_start(&f, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>oops</html>");
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, NULL), -EPROTO);
	assert_non_null(strstr(etcd_last_error(e), "malformed JSON"));
	etcd_free(e);
	fake_stop(&f);
	fake_start(&f, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"header\":{\"revis");
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_lease_revoke(e, 5), -EPROTO);
	etcd_free(e);
	fake_stop(&f);

	/* something that is not an etcd gateway */
	fake_start(&f, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nConnection: "
		       "close\r\n\r\nNot Found\n");
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, NULL), -EOPNOTSUPP);
	assert_non_null(strstr(etcd_last_error(e), "HTTP 404"));
	etcd_free(e);
	fake_stop(&f);

	/* a gateway error answer keeps etcd's message */
	fake_start(
	    &f,
	    "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n{\"error\":\"etcdserver: requested "
	    "lease not found\",\"message\":\"etcdserver: requested lease not found\",\"code\":5}");
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_put(e, "k", "v", 1, 77, NULL), -ENOENT);
	assert_non_null(strstr(etcd_last_error(e), "requested lease not found"));
	etcd_free(e);
	fake_stop(&f);

	/* a member that accepts and never answers: -ETIMEDOUT; a CAS is not resent elsewhere */
	struct fake ok;
	fake_start(&f, NULL);
	fake_start(&ok, OK_PUT);
	e = client(f.port, ok.port, 300);
	assert_int_equal(etcd_txn_cas(e, "k", 0, "v", 1, 0, NULL), -ETIMEDOUT);
	assert_int_equal(fake_requests(&ok), 0);
	/* ...but the next request starts at the next endpoint */
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, NULL), 0);
	assert_int_equal(fake_requests(&ok), 1);
	etcd_free(e);
	/* an idempotent request fails over after a timeout */
	e = client(f.port, ok.port, 300);
	assert_int_equal(etcd_put(e, "k", "v", 1, 0, NULL), 0);
	assert_int_equal(fake_requests(&ok), 2);
	etcd_free(e);
	fake_stop(&ok);
	fake_stop(&f);
}

struct got {
	int n;
	enum etcd_event_type type[8];
	char key[8][16], value[8][16];
	int64_t rev[8];
};

static int on_event(const struct etcd_event *ev, void *userdata)
{
	struct got *g = userdata;

	assert_true(g->n < 8);
	g->type[g->n] = ev->type;
	snprintf(g->key[g->n], sizeof(g->key[0]), "%s", ev->kv.key);
	snprintf(g->value[g->n], sizeof(g->value[0]), "%s", ev->kv.value);
	g->rev[g->n] = ev->kv.mod_revision;
	g->n++;
	return 0;
}

#define STREAM_HDR "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"

/* Messages split across writes and several in one write; the stream then ends, the watch
 * reconnects from the revision after the last event and skips what the replay repeats. */
static void test_watch_stream(void **state)
{
	const char *const segs[] = {
	    STREAM_HDR,
	    "{\"result\":{\"header\":{\"revision\":\"10\"},\"created\":true}}\n{\"result\":{\"hea",
	    "der\":{\"revision\":\"11\"},\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":"
	    "\"11\","
	    "\"value\":\"MQ==\"}}]}}\n{\"result\":{\"header\":{\"revision\":\"12\"},\"events\":[{"
	    "\"type\":"
	    "\"DELETE\",\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"12\"}}]}}\n",
	    NULL,
	};
	struct fake f;
	struct etcd *e;
	struct etcd_watch *w = NULL;
	struct got g = {0};
	uint64_t t0;

	fake_start(&f, NULL);
	f.segments = segs;
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_watch_new(e, "a", false, 0, &w), 0);
	for (int i = 0; i < 50 && g.n < 2; i++) {
		int r = etcd_watch_poll(w, 100, on_event, &g);
		assert_true(r >= 0);
	}
	assert_int_equal(g.n, 2);
	assert_true(etcd_watch_ready(w));
	assert_int_equal(g.type[0], ETCD_EVENT_PUT);
	assert_string_equal(g.key[0], "a");
	assert_string_equal(g.value[0], "1");
	assert_int_equal(g.rev[0], 11);
	assert_int_equal(g.type[1], ETCD_EVENT_DELETE);
	assert_int_equal(g.rev[1], 12);
	assert_int_equal(etcd_watch_revision(w), 12);
	pthread_mutex_lock(&f.lock);
	assert_non_null(strstr(f.last_request, "POST /v3/watch "));
	assert_non_null(strstr(f.last_request, "{\"create_request\":{\"key\":\"YQ==\"}}"));
	pthread_mutex_unlock(&f.lock);

	/* the server replays the same stream after the reconnect: nothing is delivered twice */
	t0 = now_ms();
	while (fake_requests(&f) < 2 && now_ms() - t0 < 3000)
		(void)etcd_watch_poll(w, 100, on_event, &g); /* -ECONNRESET when the stream ends */
	assert_int_equal(fake_requests(&f), 2);
	for (int i = 0; i < 5; i++)
		(void)etcd_watch_poll(w, 100, on_event, &g);
	assert_int_equal(g.n, 2);
	pthread_mutex_lock(&f.lock);
	assert_non_null(strstr(f.last_request, "\"start_revision\":\"13\""));
	pthread_mutex_unlock(&f.lock);
	etcd_watch_free(w);
	etcd_free(e);
	fake_stop(&f);
}

static void test_watch_cancel(void **state)
{
	const char *const compacted[] = {
	    STREAM_HDR,
	    "{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,\"compact_revision\":"
	    "\"7\"}}\n",
	    NULL,
	};
	const char *const denied[] = {
	    STREAM_HDR,
	    "{\"result\":{\"header\":{\"revision\":\"3\"},\"canceled\":true,\"cancel_reason\":"
	    "\"rpc error: code = PermissionDenied desc = etcdserver: permission denied\"}}\n",
	    NULL,
	};
	const char *const garbage[] = {STREAM_HDR, "{\"result\":{\"created\":tru}}\n", NULL};
	struct {
		const char *const *segs;
		int want;
	} cases[] = {{compacted, -ESTALE}, {denied, -EPERM}, {garbage, -EPROTO}};

	for (size_t i = 0; i < 3; i++) {
		struct fake f;
		struct etcd *e;
		struct etcd_watch *w = NULL;
		int r = 0;

		fake_start(&f, NULL);
		f.segments = cases[i].segs;
		e = client(f.port, 0, 2000);
		assert_int_equal(etcd_watch_new(e, "/p/", true, 5, &w), 0);
		for (int k = 0; k < 50 && r == 0; k++)
			r = etcd_watch_poll(w, 100, on_event, NULL);
		assert_int_equal(r, cases[i].want);
		assert_true(etcd_last_error(e)[0] != '\0');
		/* the watch stays dead and says so */
		assert_int_equal(etcd_watch_poll(w, 0, on_event, NULL), cases[i].want);
		pthread_mutex_lock(&f.lock);
		assert_non_null(strstr(f.last_request, "\"start_revision\":\"5\""));
		pthread_mutex_unlock(&f.lock);
		etcd_watch_free(w);
		etcd_free(e);
		fake_stop(&f);
	}
}

static void test_watch_refused(void **state)
{
	struct etcd *e = client(closed_port(), closed_port(), 500);
	struct etcd_watch *w = NULL;

	assert_int_equal(etcd_watch_new(e, "", false, 0, &w), -EINVAL);
	assert_int_equal(etcd_watch_new(e, "/a/", true, 0, &w), 0);
	assert_false(etcd_watch_ready(w));
	assert_int_equal(etcd_watch_poll(w, 200, NULL, NULL), -ECONNREFUSED);
	/* still usable: the next poll retries */
	assert_int_equal(etcd_watch_poll(w, 200, NULL, NULL), -ECONNREFUSED);
	etcd_watch_free(w);
	etcd_free(e);
}

/* --- the watch on an sd-event loop ---------------------------------------------------------- */

struct evgot {
	struct got g;
	int err, n_err;
	struct etcd_watch *free_on_err; /* freed from its own callback */
};

static int on_ev_event(const struct etcd_event *ev, void *userdata)
{
	return on_event(ev, &((struct evgot *)userdata)->g);
}

static void on_ev_error(int r, void *userdata)
{
	struct evgot *x = userdata;

	x->err = r;
	x->n_err++;
	if (x->free_on_err) {
		etcd_watch_free(x->free_on_err);
		x->free_on_err = NULL;
	}
}

static void run_until(sd_event *ev, bool (*done)(void *), void *arg, unsigned ms)
{
	uint64_t t0 = now_ms();

	while (!done(arg) && now_ms() - t0 < ms)
		assert_true(sd_event_run(ev, 50 * 1000) >= 0);
}

static bool two_events(void *arg)
{
	return ((struct evgot *)arg)->g.n >= 2;
}

static bool two_requests(void *arg)
{
	return fake_requests(arg) >= 2;
}

static bool errored(void *arg)
{
	return ((struct evgot *)arg)->n_err > 0;
}

/* The same stream as test_watch_stream, on a loop: events as they arrive, the reconnect
 * without a poll, nothing delivered twice; a dead watch reports once and can be freed from
 * its own callback; a refused one reports and retries by itself. */
static void test_watch_event_loop(void **state)
{
	const char *const segs[] = {
	    STREAM_HDR,
	    "{\"result\":{\"header\":{\"revision\":\"10\"},\"created\":true}}\n{\"result\":{\"hea",
	    "der\":{\"revision\":\"11\"},\"events\":[{\"kv\":{\"key\":\"YQ==\",\"mod_revision\":"
	    "\"11\",\"value\":\"MQ==\"}}]}}\n{\"result\":{\"header\":{\"revision\":\"12\"},"
	    "\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"YQ==\",\"mod_revision\":\"12\"}}]}}"
	    "\n",
	    NULL,
	};
	const char *const compacted[] = {
	    STREAM_HDR,
	    "{\"result\":{\"header\":{\"raft_term\":\"2\"},\"canceled\":true,\"compact_revision\":"
	    "\"7\"}}\n",
	    NULL,
	};
	struct fake f;
	struct etcd *e;
	struct etcd_watch *w = NULL;
	struct evgot x = {0};
	sd_event *ev = NULL;

	assert_int_equal(sd_event_new(&ev), 0);
	fake_start(&f, NULL);
	f.segments = segs;
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_watch_new(e, "a", false, 0, &w), 0);
	assert_int_equal(etcd_watch_attach_event(w, ev, on_ev_event, on_ev_error, &x), 0);
	assert_int_equal(etcd_watch_poll(w, 0, on_event, &x.g), -EBUSY);
	run_until(ev, two_events, &x, 3000);
	assert_int_equal(x.g.n, 2);
	assert_true(etcd_watch_ready(w));
	assert_int_equal(x.g.type[0], ETCD_EVENT_PUT);
	assert_string_equal(x.g.value[0], "1");
	assert_int_equal(x.g.type[1], ETCD_EVENT_DELETE);
	assert_int_equal(x.g.rev[1], 12);
	/* the stream ends; the loop reconnects at once from revision 13; the replay adds none */
	run_until(ev, two_requests, &f, 3000);
	assert_int_equal(fake_requests(&f), 2);
	for (int i = 0; i < 5; i++)
		assert_true(sd_event_run(ev, 50 * 1000) >= 0);
	assert_int_equal(x.g.n, 2);
	pthread_mutex_lock(&f.lock);
	assert_non_null(strstr(f.last_request, "\"start_revision\":\"13\""));
	pthread_mutex_unlock(&f.lock);
	etcd_watch_free(w);
	etcd_free(e);
	fake_stop(&f);

	/* compacted: -ESTALE once, and the callback frees the watch */
	memset(&x, 0, sizeof(x));
	fake_start(&f, NULL);
	f.segments = compacted;
	e = client(f.port, 0, 2000);
	assert_int_equal(etcd_watch_new(e, "/p/", true, 5, &w), 0);
	assert_int_equal(etcd_watch_attach_event(w, ev, on_ev_event, on_ev_error, &x), 0);
	x.free_on_err = w;
	run_until(ev, errored, &x, 3000);
	assert_int_equal(x.err, -ESTALE);
	assert_int_equal(x.n_err, 1);
	assert_null(x.free_on_err);
	for (int i = 0; i < 3; i++)
		assert_true(sd_event_run(ev, 50 * 1000) >= 0);
	assert_int_equal(x.n_err, 1);
	etcd_free(e);
	fake_stop(&f);

	/* nobody listens: reported, then retried every ETCD_WATCH_RETRY_MS by itself */
	memset(&x, 0, sizeof(x));
	e = client(closed_port(), closed_port(), 500);
	assert_int_equal(etcd_watch_new(e, "/a/", true, 0, &w), 0);
	assert_int_equal(etcd_watch_attach_event(w, ev, on_ev_event, on_ev_error, &x), 0);
	run_until(ev, errored, &x, 3000);
	assert_int_equal(x.err, -ECONNREFUSED);
	{
		uint64_t t0 = now_ms();
		while (x.n_err < 2 && now_ms() - t0 < 3000)
			assert_true(sd_event_run(ev, 50 * 1000) >= 0);
	}
	assert_true(x.n_err >= 2);
	etcd_watch_free(w);
	etcd_free(e);
	sd_event_unref(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_invalid),	  cmocka_unit_test(test_transport_errors),
	    cmocka_unit_test(test_watch_stream),  cmocka_unit_test(test_watch_cancel),
	    cmocka_unit_test(test_watch_refused), cmocka_unit_test(test_watch_event_loop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
