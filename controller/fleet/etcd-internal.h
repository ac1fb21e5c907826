/* etcd-internal.h — private to controller/fleet/ (tests may include it): a small client of etcd
 * v3's JSON gateway (/v3/kv, /v3/lease, /v3/watch) over libcurl + json-c, with endpoint
 * failover; the base for fleet mode (docs/FLEET.md). Only fleet.h is public. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

/* Every function returns 0 (or a documented count/flag) or -errno; ret_* outputs are written
 * only on success. Foreign errors are mapped at this boundary (docs/FLEET.md, "Errors"):
 * no endpoint answers -ECONNREFUSED/-EHOSTUNREACH, timeout -ETIMEDOUT, malformed or unexpected
 * JSON -EPROTO, gateway gRPC codes to their nearest errno (NotFound -ENOENT, InvalidArgument
 * -EINVAL, Unauthenticated -EACCES, PermissionDenied -EPERM, Unavailable -EAGAIN, ...). The
 * one-line reason is kept for etcd_last_error(). One client is used by one thread at a time. */

#define ETCD_ERR_LEN	   256
#define ETCD_MAX_ENDPOINTS 16
/* Largest response or watch message accepted (etcd's default request limit is 1.5 MiB; a
 * range may return many keys). */
#define ETCD_MAX_BODY (64u << 20)

struct etcd_options {
	unsigned timeout_ms;	     /* per request and endpoint; 0 = 5000 */
	unsigned connect_timeout_ms; /* 0 = min(timeout_ms, 1000) */
	const char *ca_file;	     /* TLS: CA bundle for https:// endpoints (NULL = system) */
	const char *cert_file;	     /* TLS client certificate (PEM), with key_file */
	const char *key_file;
	const char *user; /* etcd auth (/v3/auth/authenticate): token sent as Authorization */
	const char *password;
};

/* One key-value as etcd returns it; value is NUL-terminated for convenience (value_len excludes
 * the NUL; values may hold NUL bytes). */
struct etcd_kv {
	char *key;
	char *value;
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};
void etcd_kv_done(struct etcd_kv *kv);

struct etcd_kvs {
	struct etcd_kv *kvs;
	size_t n;
	int64_t revision; /* store revision the range was read at */
	bool more;	  /* the server had more keys than the limit */
};
void etcd_kvs_done(struct etcd_kvs *r);

struct etcd;

/* endpoints: "http://127.0.0.1:2379", "https://host:2379" (n >= 1, at most ETCD_MAX_ENDPOINTS).
 * opts may be NULL. Nothing is contacted yet. */
int etcd_new(const char *const *endpoints, size_t n, const struct etcd_options *opts,
	     struct etcd **ret);
void etcd_free(struct etcd *e);
/* The reason for the last failure of a call on e ("" if none), one line. */
const char *etcd_last_error(const struct etcd *e);
/* The endpoint the next request goes to first (the one that answered last). */
const char *etcd_endpoint(const struct etcd *e);

int etcd_put(struct etcd *e, const char *key, const void *val, size_t len, int64_t lease,
	     int64_t *ret_revision);
/* -ENOENT if the key does not exist. */
int etcd_get(struct etcd *e, const char *key, struct etcd_kv *ret);
/* Every key starting with prefix ("" = all keys), sorted by key. */
int etcd_range(struct etcd *e, const char *prefix, struct etcd_kvs *ret);
/* Deletes key, or every key under it if prefix; ret_deleted (may be NULL) counts them. */
int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *ret_deleted);
/* Writes key = val (under lease, 0 = none) only if the key's mod_revision is still
 * expected_mod_revision (0 = the key must not exist). Returns 1 if it was written (ret_revision
 * = the new revision), 0 if the compare failed (ret_revision = the key's current mod_revision,
 * 0 if absent), or -errno. A CAS is never retried on another endpoint once it may have reached
 * a server: on -ETIMEDOUT/-ECONNRESET/-EAGAIN its outcome is unknown, re-read the key. */
int etcd_txn_cas(struct etcd *e, const char *key, int64_t expected_mod_revision, const void *val,
		 size_t len, int64_t lease, int64_t *ret_revision);
/* Deletes key only if its mod_revision is expected_mod_revision: 1 deleted, 0 compare failed. */
int etcd_txn_cad(struct etcd *e, const char *key, int64_t expected_mod_revision);

/* A general transaction: if every compare holds (key's revision EQUAL to the given one; 0 =
 * the key does not exist), apply every op atomically. 1 = applied (ret_revision = its
 * revision), 0 = a compare failed and nothing was written (ret_revision = the store revision it
 * was judged at). Like a CAS, never resent once it may have reached a server. At most 128
 * compares and 128 ops (etcd's default --max-txn-ops, which bounds each list). */
enum etcd_cmp_target {
	ETCD_CMP_MOD,	 /* mod_revision: the key is unchanged since read */
	ETCD_CMP_CREATE, /* create_revision: the same incarnation of the key (an election) */
};
struct etcd_cmp {
	const char *key;
	enum etcd_cmp_target target;
	int64_t revision;
};
enum etcd_op_type { ETCD_OP_PUT, ETCD_OP_DELETE };
struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	const void *value; /* PUT only */
	size_t len;
	int64_t lease;
};
#define ETCD_TXN_MAX 128
int etcd_txn(struct etcd *e, const struct etcd_cmp *cmps, size_t n_cmps, const struct etcd_op *ops,
	     size_t n_ops, int64_t *ret_revision);

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *ret_id, int64_t *ret_ttl);
/* One keepalive round; ret_ttl (may be NULL) = the renewed TTL. -ENOENT if the lease expired
 * or was revoked (its keys are gone). Call every TTL/3 or so. */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ret_ttl);
/* Revokes the lease and deletes its keys; -ENOENT if it had already expired. */
int etcd_lease_revoke(struct etcd *e, int64_t id);

/* --- watch: poll style, for an event loop or a thread -----------------------------------
 * etcd_watch_new() opens a streaming POST /v3/watch on its own connection (a libcurl multi
 * handle) for key, or every key under it if prefix, from start_revision (0 = from now).
 * etcd_watch_poll() waits up to timeout_ms (0 = just drain what arrived) and calls cb for each
 * event in order; it returns the number of events delivered, or -errno. When the stream breaks
 * (member down, connection reset) poll reconnects to the next endpoint and resumes at the
 * revision after the last one delivered, so no event is lost or repeated. -ESTALE if that
 * revision has been compacted (re-read with etcd_range and start a new watch); -ECANCELED if
 * the server cancelled the watch. A cb returning < 0 stops the poll with that value. */
enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };
struct etcd_event {
	enum etcd_event_type type;
	struct etcd_kv kv; /* for DELETE: key and mod_revision (the deletion's revision) */
};
typedef int (*etcd_watch_cb)(const struct etcd_event *ev, void *userdata);
struct etcd_watch;
int etcd_watch_new(struct etcd *e, const char *key, bool prefix, int64_t start_revision,
		   struct etcd_watch **ret);
int etcd_watch_poll(struct etcd_watch *w, unsigned timeout_ms, etcd_watch_cb cb, void *userdata);
/* Event-loop style, instead of etcd_watch_poll (never both on one watch): libcurl's sockets and
 * timeouts become io and time sources of ev (CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION), the
 * newline-delimited messages are parsed as their bytes arrive, and cb runs for each event in
 * order as soon as its message is complete (its return value is ignored). err (may be NULL)
 * gets what poll would have returned: -ESTALE, -ECANCELED, -EACCES, -EPERM, -EPROTO,
 * -EMSGSIZE when the watch is dead (free it, read again, watch again), or the last -errno
 * when every endpoint failed once in a row (the watch then retries by itself every
 * ETCD_WATCH_RETRY_MS). A broken stream reconnects to the next endpoint at once, resuming
 * after the last revision delivered. cb and err may call etcd_watch_free(w). */
#define ETCD_WATCH_RETRY_MS 500
typedef void (*etcd_watch_err_cb)(int error, void *userdata);
int etcd_watch_attach_event(struct etcd_watch *w, sd_event *ev, etcd_watch_cb cb,
			    etcd_watch_err_cb err, void *userdata);
/* True once the server confirmed the watch (events after that point are guaranteed seen). */
bool etcd_watch_ready(const struct etcd_watch *w);
/* The revision the watch resumes after (last event's revision, or the creation revision). */
int64_t etcd_watch_revision(const struct etcd_watch *w);
void etcd_watch_free(struct etcd_watch *w);

/* --- pure helpers (no I/O; unit-tested and fuzzed) ----------------------------------- */

/* Standard base64 with padding, as Go's encoding/json writes []byte. */
char *etcd_b64_encode(const void *data, size_t len);
/* Strict: length a multiple of 4, standard alphabet, canonical padding. ret gets a malloc'd
 * NUL-terminated buffer. -EINVAL on anything else. */
int etcd_b64_decode(const char *s, size_t len, char **ret, size_t *ret_len);
/* The range_end selecting every key with this prefix: the prefix with its last byte below 0xff
 * incremented; "\0" (all keys) when there is none. ret is malloc'd, ret_len its length. */
int etcd_prefix_end(const char *prefix, size_t len, char **ret, size_t *ret_len);

/* Request bodies (malloc'd JSON, NULL on allocation failure). */
char *etcd_req_range(const char *key, bool prefix);
char *etcd_req_put(const char *key, const void *val, size_t len, int64_t lease);
char *etcd_req_delete(const char *key, bool prefix);
char *etcd_req_txn_cas(const char *key, int64_t expected_mod_revision, const void *val, size_t len,
		       int64_t lease);
char *etcd_req_txn_cad(const char *key, int64_t expected_mod_revision);
char *etcd_req_txn(const struct etcd_cmp *cmps, size_t n_cmps, const struct etcd_op *ops,
		   size_t n_ops);
char *etcd_req_lease(const char *field, int64_t v); /* {"TTL":"5"} or {"ID":"..."} */
char *etcd_req_watch(const char *key, bool prefix, int64_t start_revision);
char *etcd_req_auth(const char *user, const char *password);

/* Response parsers. Each first recognizes a gateway error object ({"error","code","message"})
 * and returns its mapped -errno with the message in err; -EPROTO for malformed JSON, a
 * missing or mistyped field (named in err). err has ETCD_ERR_LEN bytes. */
int etcd_gateway_errno(int grpc_code);
int etcd_parse_header(const char *buf, size_t len, int64_t *ret_revision, char *err);
int etcd_parse_range(const char *buf, size_t len, struct etcd_kvs *ret, char *err);
int etcd_parse_delete(const char *buf, size_t len, int64_t *ret_deleted, char *err);
/* 1/0 = succeeded or not; ret_revision = the header revision if succeeded, else the key's
 * mod_revision from the failure branch's range (0 if absent). */
int etcd_parse_txn(const char *buf, size_t len, int64_t *ret_revision, char *err);
/* A general txn's answer: 1/0 = succeeded or not, ret_revision = the header revision. */
int etcd_parse_txn_result(const char *buf, size_t len, int64_t *ret_revision, char *err);
int etcd_parse_lease_grant(const char *buf, size_t len, int64_t *ret_id, int64_t *ret_ttl,
			   char *err);
/* The keepalive stream's first message ({"result":{...}}); -ENOENT when TTL is absent or 0. */
int etcd_parse_lease_keepalive(const char *buf, size_t len, int64_t *ret_ttl, char *err);
int etcd_parse_auth(const char *buf, size_t len, char **ret_token, char *err);

/* One message of the watch stream ({"result":{...}} or {"error":{...}}). */
struct etcd_watch_msg {
	int64_t revision; /* header revision (0 if absent) */
	bool created, canceled;
	int64_t compact_revision;
	char cancel_reason[128];
	struct etcd_event *events;
	size_t n_events;
};
void etcd_watch_msg_done(struct etcd_watch_msg *m);
int etcd_parse_watch_msg(const char *buf, size_t len, struct etcd_watch_msg *ret, char *err);
