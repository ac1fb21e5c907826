/* etcd-response.c — pure parsers of etcd v3 JSON-gateway responses and gateway errors into
 * -errno and a one-line reason; tested and fuzzed on strings. */
#include "etcd-client-internal.h"

/* --- response parsers ------------------------------------------------------------------- */

_printf_(3, 4) static int perr(char *err, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = verrf(err, ETCD_ERR_LEN, r, fmt, ap);
	va_end(ap);
	return r;
}

int etcd_gateway_errno(int code)
{
	switch (code) {
	case 1: /* Canceled */
		return -ECANCELED;
	case 3: /* InvalidArgument */
	case 9: /* FailedPrecondition */
		return -EINVAL;
	case 4: /* DeadlineExceeded */
		return -ETIMEDOUT;
	case 5: /* NotFound */
		return -ENOENT;
	case 6: /* AlreadyExists */
		return -EEXIST;
	case 7: /* PermissionDenied */
		return -EPERM;
	case 8: /* ResourceExhausted: too many requests, database space exceeded */
		return -ENOSPC;
	case 10: /* Aborted */
	case 14: /* Unavailable: no leader, leader changed, request timed out */
		return -EAGAIN;
	case 11: /* OutOfRange: compacted or future revision */
		return -ERANGE;
	case 12: /* Unimplemented */
		return -EOPNOTSUPP;
	case 16: /* Unauthenticated */
		return -EACCES;
	case 2:	 /* Unknown */
	case 13: /* Internal */
	case 15: /* DataLoss */
		return -EIO;
	default:
		return -EPROTO;
	}
}

static int parse_json(const char *buf, size_t len, json_object **ret, char *err)
{
	enum json_tokener_error je;
	json_object *o;
	int r;

	if (len > ETCD_MAX_BODY)
		return perr(err, -EMSGSIZE, "etcd response longer than %u bytes", ETCD_MAX_BODY);
	r = json_parse_strict(buf, len, 32, JSON_TOKENER_STRICT, " \t\r\n", &o, &je, NULL);
	if (r == -ENOMEM)
		return perr(err, -ENOMEM, "out of memory");
	if (r == -EBADMSG)
		return perr(err, -EPROTO, "malformed JSON from etcd: trailing data");
	if (r < 0)
		return perr(err, -EPROTO, "malformed JSON from etcd: %s",
			    je == json_tokener_continue || je == json_tokener_success
				? "unexpected end of input"
				: json_tokener_error_desc(je));
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return perr(err, -EPROTO, "etcd response is not a JSON object");
	}
	*ret = o;
	return 0;
}

static int json_int_field(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int(v);
}

static const char *json_str_field(json_object *o, const char *name)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* A unary gateway error is {"error":"...","code":N,"message":"..."} (and no "header"); a
 * streaming one is {"error":{"grpc_code":N,"http_code":N,"message":"..."}}. Returns 0 if o is
 * not an error. */
static int gateway_error(json_object *o, char *err)
{
	json_object *e;
	const char *msg;
	int code;

	if (!json_object_object_get_ex(o, "error", &e))
		return 0;
	if (json_object_is_type(e, json_type_object)) {
		code = json_int_field(e, "grpc_code");
		msg = json_str_field(e, "message");
	} else if (!json_object_object_get_ex(o, "header", NULL) &&
		   (json_object_object_get_ex(o, "code", NULL) ||
		    json_object_object_get_ex(o, "message", NULL))) {
		code = json_int_field(o, "code");
		msg = json_str_field(o, "message") ?: json_str_field(o, "error");
	} else {
		return 0; /* e.g. LeaseGrantResponse's own "error" string */
	}
	int r = etcd_gateway_errno(code);
	/* etcd's auth layer answers missing and wrong credentials with InvalidArgument */
	if (r == -EINVAL && msg &&
	    (strstr(msg, "user name is empty") || strstr(msg, "authentication failed")))
		r = -EACCES;
	return perr(err, r, "etcd: %s (code %d)", msg ?: "error", code);
}

/* Parses, then maps a gateway error object to -errno. */
static int parse_response(const char *buf, size_t len, json_object **ret, char *err)
{
	json_object *o = NULL;
	int r = parse_json(buf, len, &o, err);

	if (r < 0)
		return r;
	r = gateway_error(o, err);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	*ret = o;
	return 0;
}

/* int64 as the gateway writes it: a decimal string (or a JSON integer). Absent = 0 unless
 * required (proto3 JSON omits zero values). */
static int get_i64(json_object *o, const char *name, bool required, int64_t *ret, char *err)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, name, &v)) {
		if (required)
			return perr(err, -EPROTO, "etcd response: missing field \"%s\"", name);
		*ret = 0;
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		int64_t x = json_object_get_int64(v);
		if (errno == ERANGE)
			return perr(err, -EPROTO, "etcd response: field \"%s\" out of range", name);
		*ret = x;
		return 0;
	}
	if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;
		if (*s == '-' || (*s >= '0' && *s <= '9')) {
			errno = 0;
			long long x = strtoll(s, &end, 10);
			if (!errno && !*end && end != s && !(s[0] == '-' && !s[1])) {
				*ret = x;
				return 0;
			}
		}
	}
	return perr(err, -EPROTO, "etcd response: field \"%s\" is not an int64", name);
}

static int get_bool(json_object *o, const char *name, bool *ret, char *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v)) {
		*ret = false;
		return 0;
	}
	if (!json_object_is_type(v, json_type_boolean))
		return perr(err, -EPROTO, "etcd response: field \"%s\" is not a boolean", name);
	*ret = json_object_get_boolean(v);
	return 0;
}

/* A field that must be an object if present; *ret = NULL when absent. */
static int get_obj(json_object *o, const char *name, bool required, json_object **ret, char *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || json_object_is_type(v, json_type_null)) {
		if (required)
			return perr(err, -EPROTO, "etcd response: missing field \"%s\"", name);
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_object))
		return perr(err, -EPROTO, "etcd response: field \"%s\" is not an object", name);
	*ret = v;
	return 0;
}

static int get_array(json_object *o, const char *name, json_object **ret, char *err)
{
	json_object *v;

	if (!json_object_object_get_ex(o, name, &v) || json_object_is_type(v, json_type_null)) {
		*ret = NULL;
		return 0;
	}
	if (!json_object_is_type(v, json_type_array))
		return perr(err, -EPROTO, "etcd response: field \"%s\" is not an array", name);
	*ret = v;
	return 0;
}

static int get_b64(json_object *o, const char *name, bool required, char **ret, size_t *ret_len,
		   char *err)
{
	json_object *v;
	int r;

	if (!json_object_object_get_ex(o, name, &v)) {
		if (required)
			return perr(err, -EPROTO, "etcd response: missing field \"%s\"", name);
		return etcd_b64_decode("", 0, ret, ret_len);
	}
	if (!json_object_is_type(v, json_type_string))
		return perr(err, -EPROTO, "etcd response: field \"%s\" is not a string", name);
	r = etcd_b64_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), ret,
			    ret_len);
	if (r == -EINVAL)
		return perr(err, -EPROTO, "etcd response: field \"%s\" is not base64", name);
	if (r < 0)
		return perr(err, r, "out of memory");
	return 0;
}

static int header_revision(json_object *o, bool required, int64_t *ret, char *err)
{
	json_object *h;
	int r = get_obj(o, "header", required, &h, err);

	if (r < 0)
		return r;
	if (!h) {
		*ret = 0;
		return 0;
	}
	r = get_i64(h, "revision", required, ret, err);
	if (r == 0 && *ret < 0)
		return perr(err, -EPROTO, "etcd response: negative header revision");
	return r;
}

void etcd_kv_done(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_done(struct etcd_kvs *r)
{
	for (size_t i = 0; i < r->n; i++)
		etcd_kv_done(&r->kvs[i]);
	free(r->kvs);
	memset(r, 0, sizeof(*r));
}

static int parse_kv(json_object *o, struct etcd_kv *ret, char *err)
{
	struct etcd_kv kv = {0};
	size_t key_len;
	int r;

	if (!json_object_is_type(o, json_type_object))
		return perr(err, -EPROTO, "etcd response: a kv is not an object");
	r = get_b64(o, "key", true, &kv.key, &key_len, err);
	if (r < 0)
		return r;
	if (memchr(kv.key, '\0', key_len)) {
		etcd_kv_done(&kv);
		return perr(err, -EPROTO, "etcd response: key holds a NUL byte");
	}
	r = get_b64(o, "value", false, &kv.value, &kv.value_len, err);
	r = r ?: get_i64(o, "create_revision", false, &kv.create_revision, err);
	r = r ?: get_i64(o, "mod_revision", true, &kv.mod_revision, err);
	r = r ?: get_i64(o, "version", false, &kv.version, err);
	r = r ?: get_i64(o, "lease", false, &kv.lease, err);
	if (r == 0 && (kv.mod_revision <= 0 || kv.create_revision < 0 || kv.version < 0))
		r = perr(err, -EPROTO, "etcd response: kv with a revision out of range");
	if (r < 0) {
		etcd_kv_done(&kv);
		return r;
	}
	*ret = kv;
	return 0;
}

static int parse_kvs(json_object *o, struct etcd_kv **ret, size_t *ret_n, char *err)
{
	json_object *a;
	struct etcd_kv *kvs;
	size_t n;
	int r = get_array(o, "kvs", &a, err);

	if (r < 0)
		return r;
	n = a ? json_object_array_length(a) : 0;
	kvs = calloc(n ?: 1, sizeof(*kvs));
	if (!kvs)
		return perr(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		r = parse_kv(json_object_array_get_idx(a, i), &kvs[i], err);
		if (r < 0) {
			for (size_t j = 0; j < i; j++)
				etcd_kv_done(&kvs[j]);
			free(kvs);
			return r;
		}
	}
	*ret = kvs;
	*ret_n = n;
	return 0;
}

int etcd_parse_header(const char *buf, size_t len, int64_t *ret_revision, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	int64_t rev;
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &rev, err);
	if (r < 0)
		return r;
	*ret_revision = rev;
	return 0;
}

int etcd_parse_range(const char *buf, size_t len, struct etcd_kvs *ret, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	struct etcd_kvs res = {0};
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &res.revision, err);
	r = r ?: get_bool(o, "more", &res.more, err);
	r = r ?: parse_kvs(o, &res.kvs, &res.n, err);
	if (r < 0)
		return r;
	*ret = res;
	return 0;
}

int etcd_parse_delete(const char *buf, size_t len, int64_t *ret_deleted, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	int64_t rev, deleted;
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &rev, err);
	r = r ?: get_i64(o, "deleted", false, &deleted, err);
	if (r < 0)
		return r;
	*ret_deleted = deleted;
	return 0;
}

int etcd_parse_txn(const char *buf, size_t len, int64_t *ret_revision, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *resps, *rr = NULL;
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int64_t rev;
	bool ok;
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &rev, err);
	r = r ?: get_bool(o, "succeeded", &ok, err);
	r = r ?: get_array(o, "responses", &resps, err);
	if (r < 0)
		return r;
	if (ok) {
		*ret_revision = rev;
		return 1;
	}
	/* the failure branch is one request_range on the key */
	if (!resps || json_object_array_length(resps) != 1)
		return perr(err, -EPROTO, "etcd response: txn failure needs one response");
	json_object *first = json_object_array_get_idx(resps, 0);
	if (!json_object_is_type(first, json_type_object))
		return perr(err, -EPROTO, "etcd response: field \"responses\" holds a non-object");
	r = get_obj(first, "response_range", true, &rr, err);
	r = r ?: parse_kvs(rr, &kvs, &n, err);
	if (r < 0)
		return r;
	rev = n ? kvs[0].mod_revision : 0;
	for (size_t i = 0; i < n; i++)
		etcd_kv_done(&kvs[i]);
	free(kvs);
	*ret_revision = rev;
	return 0;
}

int etcd_parse_txn_result(const char *buf, size_t len, int64_t *ret_revision, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *resps;
	int64_t rev;
	bool ok;
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &rev, err);
	r = r ?: get_bool(o, "succeeded", &ok, err);
	r = r ?: get_array(o, "responses", &resps, err);
	if (r < 0)
		return r;
	*ret_revision = rev;
	return ok;
}

int etcd_parse_lease_grant(const char *buf, size_t len, int64_t *ret_id, int64_t *ret_ttl,
			   char *err)
{
	_cleanup_json_ json_object *o = NULL;
	int64_t rev, id, ttl;
	const char *e;
	int r = parse_response(buf, len, &o, err);

	r = r ?: header_revision(o, true, &rev, err);
	if (r < 0)
		return r;
	e = json_str_field(o, "error");
	if (e && *e)
		return perr(err, -EIO, "etcd: lease grant: %s", e);
	r = get_i64(o, "ID", true, &id, err);
	r = r ?: get_i64(o, "TTL", true, &ttl, err);
	if (r < 0)
		return r;
	if (id == 0 || ttl <= 0)
		return perr(err, -EPROTO, "etcd response: lease grant without ID or TTL");
	*ret_id = id;
	*ret_ttl = ttl;
	return 0;
}

int etcd_parse_lease_keepalive(const char *buf, size_t len, int64_t *ret_ttl, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *res;
	int64_t ttl, id;
	const char *nl = memchr(buf, '\n', len);
	int r;

	/* a stream: only its first message answers our one request */
	if (nl)
		len = (size_t)(nl - buf);
	r = parse_response(buf, len, &o, err);
	r = r ?: get_obj(o, "result", true, &res, err);
	r = r ?: get_i64(res, "ID", false, &id, err);
	r = r ?: get_i64(res, "TTL", false, &ttl, err);
	if (r < 0)
		return r;
	if (ttl <= 0)
		return perr(err, -ENOENT, "etcd: lease %" PRId64 " expired or revoked", id);
	*ret_ttl = ttl;
	return 0;
}

int etcd_parse_auth(const char *buf, size_t len, char **ret_token, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	const char *t;
	char *s;
	int r = parse_response(buf, len, &o, err);

	if (r < 0)
		return r;
	t = json_str_field(o, "token");
	if (!t || !*t)
		return perr(err, -EPROTO, "etcd response: missing field \"token\"");
	if (strpbrk(t, "\r\n"))
		return perr(err, -EPROTO, "etcd response: field \"token\" holds a line break");
	s = strdup(t);
	if (!s)
		return perr(err, -ENOMEM, "out of memory");
	*ret_token = s;
	return 0;
}

void etcd_watch_msg_done(struct etcd_watch_msg *m)
{
	for (size_t i = 0; i < m->n_events; i++)
		etcd_kv_done(&m->events[i].kv);
	free(m->events);
	memset(m, 0, sizeof(*m));
}

int etcd_parse_watch_msg(const char *buf, size_t len, struct etcd_watch_msg *ret, char *err)
{
	_cleanup_json_ json_object *o = NULL;
	struct etcd_watch_msg m = {0};
	json_object *res, *evs;
	const char *reason;
	int r = parse_response(buf, len, &o, err);

	r = r ?: get_obj(o, "result", true, &res, err);
	r = r ?: header_revision(res, false, &m.revision, err);
	r = r ?: get_bool(res, "created", &m.created, err);
	r = r ?: get_bool(res, "canceled", &m.canceled, err);
	r = r ?: get_i64(res, "compact_revision", false, &m.compact_revision, err);
	r = r ?: get_array(res, "events", &evs, err);
	if (r < 0)
		return r;
	reason = json_str_field(res, "cancel_reason");
	if (reason) {
		snprintf(m.cancel_reason, sizeof(m.cancel_reason), "%s", reason);
		str_one_line(m.cancel_reason);
	}
	size_t n = evs ? json_object_array_length(evs) : 0;
	m.events = calloc(n ?: 1, sizeof(*m.events));
	if (!m.events)
		return perr(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *ev = json_object_array_get_idx(evs, i), *kv;
		const char *type;
		if (!json_object_is_type(ev, json_type_object)) {
			r = perr(err, -EPROTO, "etcd response: an event is not an object");
			break;
		}
		type = json_str_field(ev, "type");
		if (json_object_object_get_ex(ev, "type", NULL) && !type) {
			r = perr(err, -EPROTO, "etcd response: field \"type\" is not a string");
			break;
		}
		if (!type || !strcmp(type, "PUT"))
			m.events[i].type = ETCD_EVENT_PUT;
		else if (!strcmp(type, "DELETE"))
			m.events[i].type = ETCD_EVENT_DELETE;
		else {
			r = perr(err, -EPROTO, "etcd response: unknown event type \"%.32s\"", type);
			break;
		}
		r = get_obj(ev, "kv", true, &kv, err);
		r = r ?: parse_kv(kv, &m.events[i].kv, err);
		if (r < 0)
			break;
		m.n_events++;
	}
	if (r < 0) {
		etcd_watch_msg_done(&m);
		return r;
	}
	*ret = m;
	return 0;
}
