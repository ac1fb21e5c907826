/* etcd.c — etcd v3 JSON-gateway client over libcurl: endpoint failover, auth tokens and the
 * unary verbs (requests built in etcd-request.c, parsed in etcd-response.c; watch: etcd-watch.c).
 */
#include "etcd-client-internal.h"

int etcd_buf_append(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > ETCD_MAX_BODY) {
		b->overflow = true;
		return -EMSGSIZE;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct buf *b = userdata;

	return etcd_buf_append(b, p, nmemb) < 0 ? 0 : nmemb;
}

int etcd_fail(struct etcd *e, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = verrf(e->err, sizeof(e->err), r, fmt, ap);
	va_end(ap);
	return r;
}

const char *etcd_last_error(const struct etcd *e)
{
	return e->err;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->endpoints[e->cur];
}

/* The request certainly never reached a server: safe to send elsewhere, even a CAS. */
static bool curl_undelivered(CURLcode c)
{
	return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
	       c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_SSL_CONNECT_ERROR ||
	       c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CERTPROBLEM ||
	       c == CURLE_SSL_CACERT_BADFILE || c == CURLE_UNSUPPORTED_PROTOCOL;
}

int etcd_curl_errno(CURLcode c)
{
	switch (c) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EACCES;
	case CURLE_SSL_CONNECT_ERROR:
		return -ECONNABORTED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	case CURLE_WRITE_ERROR:
		return -EMSGSIZE; /* only our body callback refuses data */
	default:
		return -EIO;
	}
}

static int rebuild_headers(struct etcd *e)
{
	struct curl_slist *h = NULL, *t;

	h = curl_slist_append(h, "Content-Type: application/json");
	/* no 100-continue round trip for large bodies */
	if (h && (t = curl_slist_append(h, "Expect:")))
		h = t;
	else if (h) {
		curl_slist_free_all(h);
		return -ENOMEM;
	}
	if (h && e->token) {
		_cleanup_free_ char *a = NULL;
		if (asprintf(&a, "Authorization: %s", e->token) < 0 ||
		    !(t = curl_slist_append(h, a))) {
			curl_slist_free_all(h);
			return -ENOMEM;
		}
	}
	if (!h)
		return -ENOMEM;
	curl_slist_free_all(e->hdrs);
	e->hdrs = h;
	return 0;
}

/* Options shared by the unary handle and watch handles. */
int etcd_setup_handle(struct etcd *e, CURL *c)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)e->connect_timeout_ms);
	SET(CURLOPT_PROXY, ""); /* never through an http_proxy from the environment */
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_HTTPHEADER, e->hdrs);
	if (e->ca_file)
		SET(CURLOPT_CAINFO, e->ca_file);
	if (e->cert_file)
		SET(CURLOPT_SSLCERT, e->cert_file);
	if (e->key_file)
		SET(CURLOPT_SSLKEY, e->key_file);
#undef SET
	return rc == CURLE_OK ? 0 : -EINVAL;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->hdrs);
	for (size_t i = 0; i < e->n; i++)
		free(e->endpoints[i]);
	free(e->ca_file);
	free(e->cert_file);
	free(e->key_file);
	free(e->user);
	if (e->password) {
		explicit_bzero(e->password, strlen(e->password));
		free(e->password);
	}
	if (e->token) {
		explicit_bzero(e->token, strlen(e->token));
		free(e->token);
	}
	free(e->resp.data);
	free(e);
}

static void etcd_freep(struct etcd **e)
{
	etcd_free(*e);
}

static int dup_opt(const char *s, char **ret)
{
	if (!s || !*s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int etcd_new(const char *const *endpoints, size_t n, const struct etcd_options *opts,
	     struct etcd **ret)
{
	_cleanup_(etcd_freep) struct etcd *e = NULL;
	struct etcd_options none = {0};
	int r;

	if (!opts)
		opts = &none;
	if (n == 0 || n > ETCD_MAX_ENDPOINTS)
		return -EINVAL;
	r = curl_dl_load(NULL, 0);
	if (r < 0)
		return r;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *ep = endpoints[i];
		size_t len;
		size_t scheme = 0;
		if (ep && !strncmp(ep, "http://", 7))
			scheme = 7;
		else if (ep && !strncmp(ep, "https://", 8))
			scheme = 8;
		if (!scheme || strpbrk(ep, " \t\r\n"))
			return -EINVAL;
		len = strlen(ep);
		while (len > 0 && ep[len - 1] == '/')
			len--;
		if (len <= scheme) /* no host */
			return -EINVAL;
		e->endpoints[i] = strndup(ep, len);
		if (!e->endpoints[i])
			return -ENOMEM;
		e->n = i + 1;
	}
	e->timeout_ms = opts->timeout_ms ?: 5000;
	e->connect_timeout_ms =
	    opts->connect_timeout_ms ?: (e->timeout_ms < 1000 ? e->timeout_ms : 1000);
	if ((r = dup_opt(opts->ca_file, &e->ca_file)) < 0 ||
	    (r = dup_opt(opts->cert_file, &e->cert_file)) < 0 ||
	    (r = dup_opt(opts->key_file, &e->key_file)) < 0 ||
	    (r = dup_opt(opts->user, &e->user)) < 0 ||
	    (r = dup_opt(opts->password, &e->password)) < 0)
		return r;
	if (!!e->cert_file != !!e->key_file)
		return -EINVAL;
	r = rebuild_headers(e);
	if (r < 0)
		return r;
	e->curl = curl_easy_init();
	if (!e->curl)
		return -ENOMEM;
	r = etcd_setup_handle(e, e->curl);
	if (r < 0)
		return r;
	if (curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->resp) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_ERRORBUFFER, e->curl_err) != CURLE_OK)
		return -EINVAL;
	*ret = TAKE_PTR(e);
	return 0;
}

/* One POST to one endpoint. 0 = an HTTP answer other than 502-504 is in e->resp/e->http. */
static int post_once(struct etcd *e, size_t idx, const char *path, const char *body,
		     bool *ret_maybe_delivered)
{
	_cleanup_free_ char *url = NULL;
	CURLcode c;

	if (asprintf(&url, "%s%s", e->endpoints[idx], path) < 0)
		return -ENOMEM;
	e->resp.len = 0;
	e->resp.overflow = false;
	if (e->resp.data)
		e->resp.data[0] = '\0';
	e->curl_err[0] = '\0';
	e->http = 0;
	if (curl_easy_setopt(e->curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body)) != CURLE_OK ||
	    curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, e->hdrs) != CURLE_OK)
		return etcd_fail(e, -ENOMEM, "etcd: cannot set up request to %s", url);
	c = curl_easy_perform(e->curl);
	if (c != CURLE_OK) {
		*ret_maybe_delivered = !curl_undelivered(c);
		if (c == CURLE_WRITE_ERROR && !e->resp.overflow)
			return etcd_fail(e, -ENOMEM, "etcd %s: out of memory reading the response",
					 url);
		return etcd_fail(e, etcd_curl_errno(c), "etcd %s: %s", url,
				 e->curl_err[0] ? e->curl_err : curl_easy_strerror(c));
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &e->http);
	if (e->http >= 502 && e->http <= 504) {
		char perr_buf[ETCD_ERR_LEN];
		int64_t rev;
		int r = etcd_parse_header(e->resp.data ?: "", e->resp.len, &rev, perr_buf);
		*ret_maybe_delivered = true;
		if (r < 0 && r != -EPROTO)
			return etcd_fail(e, r, "etcd %s: %s", url, perr_buf);
		return etcd_fail(e, e->http == 504 ? -ETIMEDOUT : -EAGAIN, "etcd %s: HTTP %ld", url,
				 e->http);
	}
	return 0;
}

/* POSTs to the current endpoint, failing over to the next ones. A request that may have
 * reached a server (timeout, reset, 5xx) is resent elsewhere only if idempotent. */
static int post_failover(struct etcd *e, const char *path, const char *body, bool idempotent)
{
	size_t first = e->cur;
	int r = -EHOSTUNREACH;

	for (size_t i = 0; i < e->n; i++) {
		size_t idx = (first + i) % e->n;
		bool maybe = false;
		r = post_once(e, idx, path, body, &maybe);
		if (r == 0) {
			e->cur = idx;
			return 0;
		}
		if (r == -ENOMEM || r == -EMSGSIZE)
			return r;
		/* the next request starts at the next endpoint */
		e->cur = (idx + 1) % e->n;
		if (maybe && !idempotent)
			return r;
	}
	if (e->n > 1) {
		char last[ETCD_ERR_LEN];
		snprintf(last, sizeof(last), "%s", e->err);
		etcd_fail(e, r, "etcd: all %zu endpoints failed, last %s", e->n, last);
	}
	return r;
}

/* The parser's result, with a non-200 answer that is not a gateway error as -EPROTO. */
static int parsed(struct etcd *e, int r)
{
	if (r >= 0 && e->http != 200)
		return etcd_fail(e, -EPROTO, "etcd %s: unexpected HTTP %ld", etcd_endpoint(e),
				 e->http);
	if (r == -EPROTO && e->http != 200 && e->http != 0) {
		char why[ETCD_ERR_LEN];
		snprintf(why, sizeof(why), "%s", e->err);
		return etcd_fail(e, e->http == 404 ? -EOPNOTSUPP : -EPROTO,
				 "etcd %s: HTTP %ld (%s)", etcd_endpoint(e), e->http, why);
	}
	return r;
}

int etcd_authenticate(struct etcd *e)
{
	_cleanup_free_ char *body = etcd_req_auth(e->user, e->password);
	char *token;
	int r;

	if (!body)
		return etcd_fail(e, -ENOMEM, "out of memory");
	free(e->token);
	e->token = NULL;
	r = rebuild_headers(e);
	r = r ?: post_failover(e, "/v3/auth/authenticate", body, true);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_auth(e->resp.data ?: "", e->resp.len, &token, e->err));
	if (r < 0)
		return r;
	e->token = token;
	return rebuild_headers(e);
}

/* A request with auth: logs in first if needed, and once more when the token was refused
 * (simple tokens expire after 5 minutes idle). On 0 the answer is in e->resp. */
static int call(struct etcd *e, const char *path, const char *body, bool idempotent)
{
	bool had_token = e->token;
	int r;

	if (!body)
		return etcd_fail(e, -ENOMEM, "out of memory");
	if (e->user && !e->token) {
		r = etcd_authenticate(e);
		if (r < 0)
			return r;
	}
	r = post_failover(e, path, body, idempotent);
	if (r == 0 && e->http == 401 && e->user && had_token) {
		r = etcd_authenticate(e);
		r = r ?: post_failover(e, path, body, idempotent);
	}
	return r;
}

#define BODY (e->resp.data ?: ""), e->resp.len

/* What a verb's answer carries; each parser fills the fields its verb has. */
struct answer {
	int64_t revision, n, id, ttl;
	struct etcd_kvs kvs;
};
typedef int (*parse_fn)(const char *buf, size_t len, struct answer *a, char *err);

static int p_header(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_header(buf, len, &a->revision, err);
}
static int p_range(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_range(buf, len, &a->kvs, err);
}
static int p_delete(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_delete(buf, len, &a->n, err);
}
static int p_txn(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_txn(buf, len, &a->revision, err);
}
static int p_txn_result(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_txn_result(buf, len, &a->revision, err);
}
static int p_lease_grant(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_lease_grant(buf, len, &a->id, &a->ttl, err);
}
static int p_lease_keepalive(const char *buf, size_t len, struct answer *a, char *err)
{
	return etcd_parse_lease_keepalive(buf, len, &a->ttl, err);
}

enum verb { PUT, RANGE, DELETE, TXN, TXN_OPS, LEASE_GRANT, LEASE_KEEPALIVE, LEASE_REVOKE };
static const struct verb_info {
	const char *path;
	bool idempotent; /* may be sent to the next endpoint after a failure */
	parse_fn parse;
} verbs[] = {
    [PUT] = {"/v3/kv/put", true, p_header},
    [RANGE] = {"/v3/kv/range", true, p_range},
    [DELETE] = {"/v3/kv/deleterange", true, p_delete},
    [TXN] = {"/v3/kv/txn", false, p_txn},
    [TXN_OPS] = {"/v3/kv/txn", false, p_txn_result},
    /* a grant repeated elsewhere at worst leaves an unused lease that expires */
    [LEASE_GRANT] = {"/v3/lease/grant", true, p_lease_grant},
    /* one request on the bidirectional stream: the gateway answers and closes it */
    [LEASE_KEEPALIVE] = {"/v3/lease/keepalive", true, p_lease_keepalive},
    [LEASE_REVOKE] = {"/v3/lease/revoke", true, p_header},
};

/* The one path of every verb: the request built by etcd-request.c (NULL = out of memory) is
 * sent with auth and failover, and the answer parsed into a. On failure a holds nothing. */
static int roundtrip(struct etcd *e, enum verb v, const char *body, struct answer *a)
{
	int r = call(e, verbs[v].path, body, verbs[v].idempotent);

	if (r >= 0)
		r = parsed(e, verbs[v].parse(BODY, a, e->err));
	if (r < 0)
		etcd_kvs_done(&a->kvs);
	return r;
}

int etcd_put(struct etcd *e, const char *key, const void *val, size_t len, int64_t lease,
	     int64_t *ret_revision)
{
	_cleanup_free_ char *body = NULL;
	struct answer a = {0};
	int r;

	if (!*key)
		return etcd_fail(e, -EINVAL, "etcd put: empty key");
	body = etcd_req_put(key, val, len, lease);
	r = roundtrip(e, PUT, body, &a);
	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = a.revision;
	return 0;
}

int etcd_range(struct etcd *e, const char *prefix, struct etcd_kvs *ret)
{
	_cleanup_free_ char *body = etcd_req_range(prefix, true);
	struct answer a = {0};
	int r = roundtrip(e, RANGE, body, &a);

	if (r < 0)
		return r;
	*ret = a.kvs;
	return r;
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *ret)
{
	_cleanup_free_ char *body = NULL;
	struct answer a = {0};
	int r;

	if (!*key)
		return etcd_fail(e, -EINVAL, "etcd get: empty key");
	body = etcd_req_range(key, false);
	r = roundtrip(e, RANGE, body, &a);
	if (r < 0)
		return r;
	if (a.kvs.n != 1) {
		etcd_kvs_done(&a.kvs);
		return etcd_fail(e, -ENOENT, "etcd get: no key \"%s\"", key);
	}
	*ret = a.kvs.kvs[0];
	memset(&a.kvs.kvs[0], 0, sizeof(a.kvs.kvs[0]));
	etcd_kvs_done(&a.kvs);
	return 0;
}

int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *ret_deleted)
{
	_cleanup_free_ char *body = NULL;
	struct answer a = {0};
	int r;

	if (!*key && !prefix)
		return etcd_fail(e, -EINVAL, "etcd delete: empty key");
	body = etcd_req_delete(key, prefix);
	r = roundtrip(e, DELETE, body, &a);
	if (r < 0)
		return r;
	if (ret_deleted)
		*ret_deleted = a.n;
	return 0;
}

/* A transaction's answer: 1 applied, 0 not, with the store's revision. */
static int txn_roundtrip(struct etcd *e, enum verb v, const char *body, int64_t *ret_revision)
{
	struct answer a = {0};
	int r = roundtrip(e, v, body, &a);

	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = a.revision;
	return r;
}

int etcd_txn_cas(struct etcd *e, const char *key, int64_t expected_mod_revision, const void *val,
		 size_t len, int64_t lease, int64_t *ret_revision)
{
	_cleanup_free_ char *body = NULL;

	if (!*key || expected_mod_revision < 0)
		return etcd_fail(e, -EINVAL, "etcd cas: empty key or negative revision");
	body = etcd_req_txn_cas(key, expected_mod_revision, val, len, lease);
	return txn_roundtrip(e, TXN, body, ret_revision);
}

int etcd_txn_cad(struct etcd *e, const char *key, int64_t expected_mod_revision)
{
	_cleanup_free_ char *body = NULL;

	if (!*key || expected_mod_revision <= 0)
		return etcd_fail(e, -EINVAL, "etcd cad: empty key or revision <= 0");
	body = etcd_req_txn_cad(key, expected_mod_revision);
	return txn_roundtrip(e, TXN, body, NULL);
}

int etcd_txn(struct etcd *e, const struct etcd_cmp *cmps, size_t n_cmps, const struct etcd_op *ops,
	     size_t n_ops, int64_t *ret_revision)
{
	_cleanup_free_ char *body = NULL;

	if (n_cmps > ETCD_TXN_MAX || n_ops > ETCD_TXN_MAX)
		return etcd_fail(e, -E2BIG, "etcd txn: more than %d compares or ops", ETCD_TXN_MAX);
	for (size_t i = 0; i < n_cmps; i++)
		if (!cmps[i].key || !*cmps[i].key || cmps[i].revision < 0)
			return etcd_fail(
			    e, -EINVAL, "etcd txn: compare %zu: empty key or negative revision", i);
	for (size_t i = 0; i < n_ops; i++)
		if (!ops[i].key || !*ops[i].key)
			return etcd_fail(e, -EINVAL, "etcd txn: op %zu: empty key", i);
	body = etcd_req_txn(cmps, n_cmps, ops, n_ops);
	return txn_roundtrip(e, TXN_OPS, body, ret_revision);
}

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *ret_id, int64_t *ret_ttl)
{
	_cleanup_free_ char *body = NULL;
	struct answer a = {0};
	int r;

	if (ttl_s <= 0)
		return etcd_fail(e, -EINVAL, "etcd lease grant: TTL must be > 0");
	body = etcd_req_lease("TTL", ttl_s);
	r = roundtrip(e, LEASE_GRANT, body, &a);
	if (r < 0)
		return r;
	*ret_id = a.id;
	if (ret_ttl)
		*ret_ttl = a.ttl;
	return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ret_ttl)
{
	_cleanup_free_ char *body = etcd_req_lease("ID", id);
	struct answer a = {0};
	int r = roundtrip(e, LEASE_KEEPALIVE, body, &a);

	if (r < 0)
		return r;
	if (ret_ttl)
		*ret_ttl = a.ttl;
	return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	_cleanup_free_ char *body = etcd_req_lease("ID", id);
	struct answer a = {0};

	return roundtrip(e, LEASE_REVOKE, body, &a);
}
