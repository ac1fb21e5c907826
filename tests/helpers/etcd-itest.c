/* etcd-itest.c — drives controller/fleet/etcd.c against a real etcd cluster for
 * tests/integration/etcd: kv, CAS races between processes, leases, watch, endpoint failover.
 * Usage: etcd-itest ENDPOINT[,ENDPOINT...] wait|kv|cas|lease|watch|watch-kill PID|all
 *        etcd-itest ENDPOINT wait|tls CA CERT KEY;  etcd-itest ENDPOINT[,...] auth USER PASSWORD */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcd-internal.h"
#include "util.h"

static const char *eps[ETCD_MAX_ENDPOINTS];
static size_t n_eps;
static char prefix[64]; /* per run, so reruns on the same cluster do not collide */

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "etcd-itest:%d: check failed: %s: ", __LINE__, #cond);     \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)
#define OK(call, e)                                                                                \
	do {                                                                                       \
		int _r = (call);                                                                   \
		CHECK(_r >= 0, "%s", etcd_last_error(e));                                          \
	} while (0)

/* generous: a 2-core box shared with builds; TLS handshakes count in the connect timeout */
static struct etcd_options opts = {.timeout_ms = 5000, .connect_timeout_ms = 2000};

static struct etcd *client_with(bool reversed, const struct etcd_options *o)
{
	const char *order[ETCD_MAX_ENDPOINTS];
	struct etcd *e = NULL;

	for (size_t i = 0; i < n_eps; i++)
		order[i] = eps[reversed ? n_eps - 1 - i : i];
	int r = etcd_new(order, n_eps, o, &e);
	CHECK(r == 0, "etcd_new: %s", strerror(-r));
	return e;
}

static struct etcd *client(bool reversed)
{
	return client_with(reversed, &opts);
}

static char *key(const char *fmt, ...)
{
	static char buf[8][256];
	static int slot;
	char *k = buf[slot++ % 8];
	va_list ap;
	int n = snprintf(k, 256, "%s", prefix);

	va_start(ap, fmt);
	vsnprintf(k + n, 256 - (size_t)n, fmt, ap);
	va_end(ap);
	return k;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void expect_value(struct etcd *e, const char *k, const char *want)
{
	struct etcd_kv kv;
	OK(etcd_get(e, k, &kv), e);
	CHECK(kv.value_len == strlen(want) && !strcmp(kv.value, want), "%s = \"%s\", want \"%s\"",
	      k, kv.value, want);
	etcd_kv_done(&kv);
}

static void test_wait(void)
{
	struct etcd *e = client(false);
	int r = -1;

	for (int i = 0; i < 100 && r < 0; i++) {
		r = etcd_put(e, "/edgeslice-itest/ready", "1", 1, 0, NULL);
		if (r < 0)
			sleep_ms(100);
	}
	CHECK(r == 0, "cluster not ready: %s", etcd_last_error(e));
	etcd_free(e);
}

static void test_kv(void)
{
	struct etcd *e = client(false);
	struct etcd_kvs all;
	struct etcd_kv kv;
	int64_t rev1, rev2, n;

	OK(etcd_put(e, key("nodes/a/devices/cpu"), "4", 1, 0, &rev1), e);
	OK(etcd_put(e, key("nodes/b/devices/cpu"), "8", 1, 0, &rev2), e);
	CHECK(rev2 == rev1 + 1, "revisions %" PRId64 " then %" PRId64, rev1, rev2);
	OK(etcd_put(e, key("nodes0"), "outside", 7, 0, NULL), e); /* the prefix's range_end */
	OK(etcd_put(e, key("bin"), "a\0b\xff", 4, 0, NULL), e);

	OK(etcd_get(e, key("nodes/a/devices/cpu"), &kv), e);
	CHECK(!strcmp(kv.value, "4") && kv.mod_revision == rev1 && kv.version == 1,
	      "value %s rev %" PRId64 " version %" PRId64, kv.value, kv.mod_revision, kv.version);
	etcd_kv_done(&kv);
	OK(etcd_get(e, key("bin"), &kv), e);
	CHECK(kv.value_len == 4 && !memcmp(kv.value, "a\0b\xff", 4), "binary value changed");
	etcd_kv_done(&kv);
	CHECK(etcd_get(e, key("nope"), &kv) == -ENOENT, "missing key: %s", etcd_last_error(e));

	OK(etcd_range(e, key("nodes/"), &all), e);
	CHECK(all.n == 2, "range nodes/: %zu keys", all.n);
	CHECK(!strcmp(all.kvs[0].key, key("nodes/a/devices/cpu")) && !strcmp(all.kvs[0].value, "4"),
	      "first %s", all.kvs[0].key);
	CHECK(!strcmp(all.kvs[1].key, key("nodes/b/devices/cpu")) && !strcmp(all.kvs[1].value, "8"),
	      "second %s", all.kvs[1].key);
	CHECK(all.revision >= rev2, "range revision %" PRId64, all.revision);
	etcd_kvs_done(&all);

	/* overwrite bumps version and mod_revision, keeps create_revision */
	OK(etcd_put(e, key("nodes/a/devices/cpu"), "3", 1, 0, NULL), e);
	OK(etcd_get(e, key("nodes/a/devices/cpu"), &kv), e);
	CHECK(!strcmp(kv.value, "3") && kv.version == 2 && kv.create_revision == rev1,
	      "after overwrite: %s v%" PRId64, kv.value, kv.version);
	etcd_kv_done(&kv);

	OK(etcd_delete(e, key("nodes/"), true, &n), e);
	CHECK(n == 2, "deleted %" PRId64 " under nodes/", n);
	OK(etcd_range(e, key("nodes/"), &all), e);
	CHECK(all.n == 0, "range after delete: %zu keys", all.n);
	etcd_kvs_done(&all);
	expect_value(e, key("nodes0"), "outside");
	OK(etcd_delete(e, key("nodes0"), false, &n), e);
	CHECK(n == 1, "deleted %" PRId64, n);
	OK(etcd_delete(e, key("nodes0"), false, &n), e);
	CHECK(n == 0, "deleted again %" PRId64, n);
	printf("ok kv (via %s)\n", etcd_endpoint(e));
	etcd_free(e);
}

/* Two processes race the same CAS; returns the bitmask of winners (exactly one expected). */
static int race(const char *k, int64_t expected)
{
	int go[2], winners = 0;
	pid_t pids[2];

	CHECK(pipe(go) == 0, "pipe");
	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		CHECK(pids[i] >= 0, "fork");
		if (pids[i] == 0) {
			char c, val[32];
			struct etcd *e = client(i == 1); /* each on its own member */
			close(go[1]);
			if (read(go[0], &c, 1) < 0)
				_exit(3);
			snprintf(val, sizeof(val), "contender-%d", i);
			int r = etcd_txn_cas(e, k, expected, val, strlen(val), 0, NULL);
			if (r < 0)
				fprintf(stderr, "contender %d: %s\n", i, etcd_last_error(e));
			etcd_free(e);
			_exit(r == 1 ? 10 : r == 0 ? 11 : 12);
		}
	}
	close(go[0]);
	close(go[1]); /* both start at once */
	for (int i = 0; i < 2; i++) {
		int st;
		CHECK(waitpid(pids[i], &st, 0) == pids[i], "waitpid");
		CHECK(WIFEXITED(st) && (WEXITSTATUS(st) == 10 || WEXITSTATUS(st) == 11),
		      "contender %d failed (status %d)", i, st);
		if (WEXITSTATUS(st) == 10)
			winners |= 1 << i;
	}
	return winners;
}

static void test_cas(void)
{
	struct etcd *e = client(false);
	struct etcd_kv kv;
	int64_t rev, rev2, cur;

	/* must-not-exist: exactly one of two contenders creates the key */
	int w = race(key("assign/n1/t1"), 0);
	CHECK(w == 1 || w == 2, "winners mask %d", w);
	expect_value(e, key("assign/n1/t1"), w == 1 ? "contender-0" : "contender-1");
	OK(etcd_get(e, key("assign/n1/t1"), &kv), e);
	rev = kv.mod_revision;
	etcd_kv_done(&kv);

	/* the creation CAS now fails and reports the current revision */
	CHECK(etcd_txn_cas(e, key("assign/n1/t1"), 0, "x", 1, 0, &cur) == 0, "%s",
	      etcd_last_error(e));
	CHECK(cur == rev, "compare failure reported %" PRId64 ", key at %" PRId64, cur, rev);

	/* update on the current revision succeeds once; the stale revision then loses */
	CHECK(etcd_txn_cas(e, key("assign/n1/t1"), rev, "started", 7, 0, &rev2) == 1, "%s",
	      etcd_last_error(e));
	CHECK(rev2 > rev, "new revision %" PRId64, rev2);
	CHECK(etcd_txn_cas(e, key("assign/n1/t1"), rev, "again", 5, 0, &cur) == 0, "%s",
	      etcd_last_error(e));
	CHECK(cur == rev2, "stale CAS reported %" PRId64 ", want %" PRId64, cur, rev2);
	expect_value(e, key("assign/n1/t1"), "started");

	/* two contenders on the same stale-able revision: one wins */
	w = race(key("assign/n1/t1"), rev2);
	CHECK(w == 1 || w == 2, "winners mask %d on revision %" PRId64, w, rev2);
	expect_value(e, key("assign/n1/t1"), w == 1 ? "contender-0" : "contender-1");

	/* compare-and-delete */
	OK(etcd_get(e, key("assign/n1/t1"), &kv), e);
	CHECK(etcd_txn_cad(e, key("assign/n1/t1"), rev2) == 0, "cad on stale revision won");
	CHECK(etcd_txn_cad(e, key("assign/n1/t1"), kv.mod_revision) == 1, "%s", etcd_last_error(e));
	etcd_kv_done(&kv);
	CHECK(etcd_get(e, key("assign/n1/t1"), &kv) == -ENOENT, "key survived cad");

	/* the placer's claim: one txn fenced by the election key's create_revision and the queue
	 * entry's mod_revision writes both the queue entry and the node's assignment */
	int64_t lease, ttl, placer, q;
	OK(etcd_lease_grant(e, 30, &lease, &ttl), e);
	CHECK(etcd_txn_cas(e, key("placer"), 0, "node-a", 6, lease, &placer) == 1, "%s",
	      etcd_last_error(e));
	OK(etcd_put(e, key("queue/t2"), "queued", 6, 0, &q), e);
	struct etcd_cmp cmps[] = {{key("placer"), ETCD_CMP_CREATE, placer},
				  {key("queue/t2"), ETCD_CMP_MOD, q}};
	struct etcd_op ops[] = {{ETCD_OP_PUT, key("queue/t2"), "assigned n1", 11, 0},
				{ETCD_OP_PUT, key("assign/n1/t2"), "t2", 2, 0}};
	CHECK(etcd_txn(e, cmps, 2, ops, 2, &rev) == 1, "%s", etcd_last_error(e));
	expect_value(e, key("queue/t2"), "assigned n1");
	expect_value(e, key("assign/n1/t2"), "t2");
	/* the same claim on the now stale queue revision writes nothing */
	ops[0].value = "assigned n2";
	ops[1].key = key("assign/n2/t2");
	CHECK(etcd_txn(e, cmps, 2, ops, 2, &cur) == 0, "stale claim won: %s", etcd_last_error(e));
	CHECK(cur >= rev, "judged at %" PRId64, cur);
	CHECK(etcd_get(e, key("assign/n2/t2"), &kv) == -ENOENT, "stale claim wrote an assignment");
	/* placer failover: the old placer's fence no longer holds after its lease is gone */
	OK(etcd_lease_revoke(e, lease), e);
	CHECK(etcd_txn_cas(e, key("placer"), 0, "node-b", 6, 0, &placer) == 1, "%s",
	      etcd_last_error(e));
	OK(etcd_put(e, key("queue/t3"), "queued", 6, 0, &q), e);
	struct etcd_cmp old_fence[] = {{key("placer"), ETCD_CMP_CREATE, cmps[0].revision},
				       {key("queue/t3"), ETCD_CMP_MOD, q}};
	ops[0].key = key("queue/t3");
	CHECK(etcd_txn(e, old_fence, 2, ops, 1, NULL) == 0, "deposed placer's claim won");
	expect_value(e, key("queue/t3"), "queued");
	old_fence[0].revision = placer;
	CHECK(etcd_txn(e, old_fence, 2, ops, 1, NULL) == 1, "%s", etcd_last_error(e));
	OK(etcd_delete(e, key("queue/"), true, NULL), e);
	OK(etcd_delete(e, key("assign/"), true, NULL), e);
	OK(etcd_delete(e, key("placer"), false, NULL), e);
	printf("ok cas (one winner of two, stale revision refused, fenced multi-key claim)\n");
	etcd_free(e);
}

static void test_lease(void)
{
	struct etcd *e = client(false);
	struct etcd_kv kv;
	int64_t id, ttl, left;
	uint64_t t0;

	OK(etcd_lease_grant(e, 2, &id, &ttl), e);
	CHECK(ttl == 2, "granted TTL %" PRId64, ttl);
	OK(etcd_put(e, key("nodes/n1/devices/cpu"), "{\"cores\":4}", 11, id, NULL), e);
	OK(etcd_get(e, key("nodes/n1/devices/cpu"), &kv), e);
	CHECK(kv.lease == id, "lease %" PRId64 ", want %" PRId64, kv.lease, id);
	etcd_kv_done(&kv);

	/* kept alive for twice the TTL: still there */
	t0 = now_usec();
	while (now_usec() - t0 < 4500000) {
		OK(etcd_lease_keepalive(e, id, &left), e);
		CHECK(left == 2, "keepalive TTL %" PRId64, left);
		sleep_ms(500);
	}
	expect_value(e, key("nodes/n1/devices/cpu"), "{\"cores\":4}");

	/* let it lapse: the key goes within TTL plus the leader's expiry check */
	t0 = now_usec();
	int r;
	while ((r = etcd_get(e, key("nodes/n1/devices/cpu"), &kv)) == 0) {
		etcd_kv_done(&kv);
		CHECK(now_usec() - t0 < 6000000, "leased key alive 6 s after the last keepalive");
		sleep_ms(100);
	}
	CHECK(r == -ENOENT, "%s", etcd_last_error(e));
	double gone = (double)(now_usec() - t0) / 1e6;
	CHECK(gone >= 1.0, "key gone after only %.2f s", gone);
	CHECK(etcd_lease_keepalive(e, id, &left) == -ENOENT, "keepalive on an expired lease: %s",
	      etcd_last_error(e));

	/* revoke deletes the lease's keys at once */
	OK(etcd_lease_grant(e, 30, &id, &ttl), e);
	OK(etcd_put(e, key("placer"), "node-a", 6, id, NULL), e);
	OK(etcd_lease_revoke(e, id), e);
	CHECK(etcd_get(e, key("placer"), &kv) == -ENOENT, "key survived revoke");
	CHECK(etcd_lease_revoke(e, id) == -ENOENT, "second revoke: %s", etcd_last_error(e));
	CHECK(etcd_put(e, key("x"), "1", 1, id, NULL) == -ENOENT, "put on a revoked lease: %s",
	      etcd_last_error(e));
	printf("ok lease (kept 4.5 s on TTL 2, lapsed after %.1f s, revoke)\n", gone);
	etcd_free(e);
}

struct seen {
	int n;
	struct {
		enum etcd_event_type type;
		char key[256], value[64];
		int64_t rev;
	} ev[16];
};

static int on_event(const struct etcd_event *ev, void *userdata)
{
	struct seen *s = userdata;

	if (s->n < 16) {
		s->ev[s->n].type = ev->type;
		snprintf(s->ev[s->n].key, sizeof(s->ev[0].key), "%s", ev->kv.key);
		snprintf(s->ev[s->n].value, sizeof(s->ev[0].value), "%s", ev->kv.value);
		s->ev[s->n].rev = ev->kv.mod_revision;
	}
	s->n++;
	return 0;
}

static void poll_until(struct etcd_watch *w, struct seen *s, int want, struct etcd *e)
{
	uint64_t t0 = now_usec();

	while (s->n < want) {
		int r = etcd_watch_poll(w, 200, on_event, s);
		/* while members come and go a poll may report them down; the watch lives on */
		CHECK(r >= 0 || r == -ECONNREFUSED || r == -ECONNRESET, "watch: %s",
		      etcd_last_error(e));
		CHECK(now_usec() - t0 < 10000000, "watch saw %d of %d events in 10 s", s->n, want);
	}
}

static void wait_ready(struct etcd_watch *w, struct etcd *e)
{
	uint64_t t0 = now_usec();

	while (!etcd_watch_ready(w)) {
		int r = etcd_watch_poll(w, 100, NULL, NULL);
		CHECK(r >= 0, "watch: %s", etcd_last_error(e));
		CHECK(now_usec() - t0 < 5000000, "watch not created in 5 s");
	}
}

/* Another process (its own client, endpoints in reverse order) writes. */
static void writer(const char *suffix)
{
	pid_t pid = fork();
	int st;

	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		struct etcd *o = client(true);
		if (etcd_put(o, key("status/%s-a", suffix), "running", 7, 0, NULL) < 0 ||
		    etcd_put(o, key("status/%s-b", suffix), "queued", 6, 0, NULL) < 0 ||
		    etcd_delete(o, key("status/%s-a", suffix), false, NULL) < 0) {
			fprintf(stderr, "writer: %s\n", etcd_last_error(o));
			_exit(1);
		}
		etcd_free(o);
		_exit(0);
	}
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "writer failed");
}

static void check_events(struct seen *s, const char *suffix)
{
	CHECK(s->n == 3, "%d events", s->n);
	CHECK(s->ev[0].type == ETCD_EVENT_PUT &&
		  !strcmp(s->ev[0].key, key("status/%s-a", suffix)) &&
		  !strcmp(s->ev[0].value, "running"),
	      "event 0: %s=%s", s->ev[0].key, s->ev[0].value);
	CHECK(s->ev[1].type == ETCD_EVENT_PUT &&
		  !strcmp(s->ev[1].key, key("status/%s-b", suffix)) &&
		  !strcmp(s->ev[1].value, "queued"),
	      "event 1: %s=%s", s->ev[1].key, s->ev[1].value);
	CHECK(s->ev[2].type == ETCD_EVENT_DELETE &&
		  !strcmp(s->ev[2].key, key("status/%s-a", suffix)),
	      "event 2: %s", s->ev[2].key);
	CHECK(s->ev[0].rev < s->ev[1].rev && s->ev[1].rev < s->ev[2].rev, "revisions out of order");
}

static void test_watch(void)
{
	struct etcd *e = client(false);
	struct etcd_watch *w = NULL, *h = NULL;
	struct seen s = {0}, hist = {0};
	int64_t start;

	OK(etcd_watch_new(e, key("status/"), true, 0, &w), e);
	wait_ready(w, e);
	start = etcd_watch_revision(w) + 1;
	writer("w");
	poll_until(w, &s, 3, e);
	check_events(&s, "w");
	CHECK(etcd_watch_poll(w, 300, on_event, &s) == 0 && s.n == 3, "extra events: %d", s.n);

	/* from a past revision the watch replays history */
	OK(etcd_watch_new(e, key("status/w-"), true, start, &h), e);
	poll_until(h, &hist, 3, e);
	check_events(&hist, "w");
	CHECK(hist.ev[0].rev == s.ev[0].rev && hist.ev[2].rev == s.ev[2].rev, "history differs");
	printf("ok watch (3 events from another client, replay from revision %" PRId64 ")\n",
	       start);
	etcd_watch_free(h);
	etcd_watch_free(w);
	OK(etcd_delete(e, key("status/"), true, NULL), e);
	etcd_free(e);
}

/* The member the watch streams from is killed mid-watch: the watch resumes on another member
 * after the last delivered revision, losing and repeating nothing. */
static void test_watch_kill(pid_t member)
{
	struct etcd *e = client(false);
	struct etcd_watch *w = NULL;
	struct seen s = {0};
	int64_t rev;

	OK(etcd_watch_new(e, key("status/"), true, 0, &w), e);
	wait_ready(w, e);
	OK(etcd_put(e, key("status/before"), "1", 1, 0, &rev), e);
	poll_until(w, &s, 1, e);
	CHECK(!strcmp(s.ev[0].key, key("status/before")) && s.ev[0].rev == rev, "first event");
	s.n = 0;
	CHECK(kill(member, SIGKILL) == 0, "kill %d: %s", (int)member, strerror(errno));
	sleep_ms(300);
	writer("k");
	poll_until(w, &s, 3, e);
	check_events(&s, "k");
	CHECK(etcd_watch_poll(w, 300, on_event, &s) == 0 && s.n == 3, "repeated events: %d", s.n);
	printf("ok watch across a killed member (resumed after revision %" PRId64 ")\n", rev);
	etcd_watch_free(w);
	etcd_free(e);
}

/* https with a private CA and client certificates (etcd --client-cert-auth). */
static void test_tls(const char *ca, const char *cert, const char *keyf)
{
	struct etcd_options o = opts;
	struct etcd *e, *bad;
	struct etcd_watch *w = NULL;
	struct seen s = {0};
	int64_t id, ttl;
	int r;

	o.ca_file = ca;
	o.cert_file = cert;
	o.key_file = keyf;
	opts = o; /* the watch test's writer process uses the same credentials */
	e = client(false);
	OK(etcd_watch_new(e, key("status/"), true, 0, &w), e);
	wait_ready(w, e);
	OK(etcd_put(e, key("tls"), "over https", 10, 0, NULL), e);
	expect_value(e, key("tls"), "over https");
	CHECK(etcd_txn_cas(e, key("tls"), 0, "x", 1, 0, NULL) == 0, "%s", etcd_last_error(e));
	OK(etcd_lease_grant(e, 5, &id, &ttl), e);
	OK(etcd_lease_keepalive(e, id, &ttl), e);
	OK(etcd_lease_revoke(e, id), e);
	writer("t");
	poll_until(w, &s, 3, e);
	check_events(&s, "t");
	etcd_watch_free(w);

	/* no client certificate: the server refuses the handshake */
	o.cert_file = o.key_file = NULL;
	bad = client_with(false, &o);
	r = etcd_put(bad, key("tls"), "x", 1, 0, NULL);
	CHECK(r < 0, "put without a client certificate succeeded");
	printf("  without client certificate: %s (%s)\n", strerror(-r), etcd_last_error(bad));
	etcd_free(bad);
	/* the system CAs do not know the server */
	o.ca_file = NULL;
	o.cert_file = cert;
	o.key_file = keyf;
	bad = client_with(false, &o);
	r = etcd_put(bad, key("tls"), "x", 1, 0, NULL);
	CHECK(r == -EACCES, "untrusted server: %s", etcd_last_error(bad));
	etcd_free(bad);
	expect_value(e, key("tls"), "over https");
	printf("ok tls (client certificate, private CA; refused without either)\n");
	etcd_free(e);
}

/* etcd auth: token login, refusals, and a new login when the short-lived token expired. */
static void test_auth(const char *user, const char *password)
{
	struct etcd_options o = opts;
	struct etcd *e, *bad;
	struct etcd_watch *w = NULL, *w2 = NULL;
	struct seen s = {0}, s2 = {0};
	int r;

	bad = client(false);
	r = etcd_put(bad, key("auth"), "x", 1, 0, NULL);
	CHECK(r == -EACCES, "put without credentials: %s", etcd_last_error(bad));
	etcd_free(bad);
	o.user = user;
	o.password = "wrong";
	bad = client_with(false, &o);
	r = etcd_put(bad, key("auth"), "x", 1, 0, NULL);
	CHECK(r == -EACCES, "wrong password: %s", etcd_last_error(bad));
	etcd_free(bad);

	o.password = password;
	opts = o;
	e = client(false);
	OK(etcd_put(e, key("auth"), "logged in", 9, 0, NULL), e);
	expect_value(e, key("auth"), "logged in");
	OK(etcd_watch_new(e, key("status/"), true, 0, &w), e);
	wait_ready(w, e);
	sleep_ms(3000); /* the members run --auth-token-ttl 2: the token expires */
	OK(etcd_put(e, key("auth"), "again", 5, 0, NULL), e);
	expect_value(e, key("auth"), "again");
	sleep_ms(3000);
	/* a watch opened with an expired token logs in again */
	OK(etcd_watch_new(e, key("status/"), true, 0, &w2), e);
	wait_ready(w2, e);
	writer("a");
	poll_until(w, &s, 3, e);
	check_events(&s, "a");
	poll_until(w2, &s2, 3, e);
	check_events(&s2, "a");
	etcd_watch_free(w2);
	etcd_watch_free(w);
	OK(etcd_delete(e, key(""), true, NULL), e);
	printf("ok auth (refused without or with wrong credentials, token renewed after expiry)\n");
	etcd_free(e);
}

int main(int argc, char **argv)
{
	char *list, *save = NULL;

	if (argc < 3) {
		fprintf(stderr, "usage: etcd-itest ENDPOINT[,...] "
				"wait|kv|cas|lease|watch|watch-kill PID|all\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	list = strdup(argv[1]);
	for (char *t = strtok_r(list, ",", &save); t && n_eps < ETCD_MAX_ENDPOINTS;
	     t = strtok_r(NULL, ",", &save))
		eps[n_eps++] = t;
	snprintf(prefix, sizeof(prefix), "/edgeslice-itest/%d/", (int)getpid());
	const char *cmd = argv[2];
	if (!strcmp(cmd, "wait")) {
		if (argc > 5) {
			opts.ca_file = argv[3];
			opts.cert_file = argv[4];
			opts.key_file = argv[5];
		}
		test_wait();
	} else if (!strcmp(cmd, "kv"))
		test_kv();
	else if (!strcmp(cmd, "cas"))
		test_cas();
	else if (!strcmp(cmd, "lease"))
		test_lease();
	else if (!strcmp(cmd, "watch"))
		test_watch();
	else if (!strcmp(cmd, "watch-kill") && argc > 3)
		test_watch_kill((pid_t)atoi(argv[3]));
	else if (!strcmp(cmd, "tls") && argc > 5)
		test_tls(argv[3], argv[4], argv[5]);
	else if (!strcmp(cmd, "auth") && argc > 4)
		test_auth(argv[3], argv[4]);
	else if (!strcmp(cmd, "all")) {
		test_kv();
		test_cas();
		test_watch();
		test_lease();
	} else {
		fprintf(stderr, "etcd-itest: unknown command %s\n", cmd);
		return 2;
	}
	free(list);
	return 0;
}
