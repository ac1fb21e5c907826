/* etcd.c — etcd v3 JSON-gateway client: pure request builders and response parsers (tested on
 * strings), and the libcurl transport with endpoint failover and a poll-style watch. */
#include "etcd.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <limits.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdarg.h>

#include "util.h"

/* --- base64 ------------------------------------------------------------------------------ */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t out_len = (len + 2) / 3 * 4;
	char *out, *o;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	out = malloc(out_len + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t rest = len - i;
		if (rest > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (rest > 2)
			v |= p[i + 2];
		*o++ = b64_alphabet[(v >> 18) & 63];
		*o++ = b64_alphabet[(v >> 12) & 63];
		*o++ = rest > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
		*o++ = rest > 2 ? b64_alphabet[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int etcd_b64_decode(const char *s, size_t len, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *out = NULL;
	size_t n = 0;

	if (len % 4)
		return -EINVAL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i += 4) {
		int v[4], pad = 0;
		for (int j = 0; j < 4; j++) {
			char c = s[i + j];
			if (c == '=' && i + 4 == len && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad) /* data after '=' */
				return -EINVAL;
			v[j] = b64_value(c);
			if (v[j] < 0)
				return -EINVAL;
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		/* canonical: the bits a padded group drops must be zero */
		if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff)))
			return -EINVAL;
		out[n++] = (char)(w >> 16);
		if (pad < 2)
			out[n++] = (char)(w >> 8);
		if (pad < 1)
			out[n++] = (char)w;
	}
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = n;
	return 0;
}

int etcd_prefix_end(const char *prefix, size_t len, char **ret, size_t *ret_len)
{
	_cleanup_free_ char *end = malloc(len + 1);

	if (!end)
		return -ENOMEM;
	memcpy(end, prefix, len);
	for (size_t i = len; i > 0; i--) {
		unsigned char c = (unsigned char)end[i - 1];
		if (c < 0xff) {
			end[i - 1] = (char)(c + 1);
			end[i] = '\0';
			*ret_len = i;
			*ret = TAKE_PTR(end);
			return 0;
		}
	}
	/* empty prefix or all 0xff: "\0" means "to the end of the keyspace" */
	end[0] = '\0';
	*ret_len = 1;
	*ret = TAKE_PTR(end);
	return 0;
}

/* --- request builders ------------------------------------------------------------------- */

static void json_putp(json_object **o)
{
	if (*o)
		json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static int add_b64(json_object *o, const char *name, const void *data, size_t len)
{
	_cleanup_free_ char *s = etcd_b64_encode(data, len);
	json_object *v;

	if (!s)
		return -ENOMEM;
	v = json_object_new_string(s);
	if (!v || json_object_object_add(o, name, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* int64 fields go out as JSON strings, as the gateway writes them (no precision loss). */
static int add_i64(json_object *o, const char *name, int64_t x)
{
	char buf[24];
	json_object *v;

	snprintf(buf, sizeof(buf), "%" PRId64, x);
	v = json_object_new_string(buf);
	if (!v || json_object_object_add(o, name, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_obj(json_object *o, const char *name, json_object *v)
{
	if (!v || json_object_object_add(o, name, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int add_str(json_object *o, const char *name, const char *s)
{
	return add_obj(o, name, json_object_new_string(s));
}

static char *to_string(json_object *o)
{
	const char *s;

	if (!o)
		return NULL;
	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return s ? strdup(s) : NULL;
}

/* key plus, for a prefix, range_end */
static int add_key_range(json_object *o, const char *key, bool prefix)
{
	size_t len = strlen(key);
	int r = add_b64(o, "key", key, len);

	if (r < 0 || !prefix)
		return r;
	_cleanup_free_ char *end = NULL;
	size_t end_len;
	r = etcd_prefix_end(key, len, &end, &end_len);
	if (r < 0)
		return r;
	/* an empty prefix needs key "\0" too: key "" is invalid in etcd */
	if (len == 0) {
		r = add_b64(o, "key", "", 1);
		if (r < 0)
			return r;
	}
	return add_b64(o, "range_end", end, end_len);
}

char *etcd_req_range(const char *key, bool prefix)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	if (!o || add_key_range(o, key, prefix) < 0)
		return NULL;
	return to_string(o);
}

static json_object *put_obj(const char *key, const void *val, size_t len, int64_t lease)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	if (!o || add_b64(o, "key", key, strlen(key)) < 0 || add_b64(o, "value", val, len) < 0)
		return NULL;
	if (lease && add_i64(o, "lease", lease) < 0)
		return NULL;
	return TAKE_PTR(o);
}

char *etcd_req_put(const char *key, const void *val, size_t len, int64_t lease)
{
	_cleanup_json_ json_object *o = put_obj(key, val, len, lease);

	return to_string(o);
}

char *etcd_req_delete(const char *key, bool prefix)
{
	return etcd_req_range(key, prefix);
}

/* {"compare":[{"key","target":"MOD","result":"EQUAL","mod_revision"}], "success":[op],
 *  "failure":[{"request_range":{"key","keys_only":true}}]} — the failure branch reads the key
 * so a lost CAS learns the revision to retry from in the same round trip. */
static char *txn(const char *key, int64_t expected, json_object *success_op)
{
	_cleanup_json_ json_object *op = success_op;
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *cmp = json_object_new_object(), *cmps = json_object_new_array();
	json_object *succ = json_object_new_array(), *fail = json_object_new_array();
	json_object *rr = json_object_new_object(), *fop = json_object_new_object();
	int r = -ENOMEM;

	if (o && cmp && cmps && succ && fail && rr && fop && op) {
		r = add_b64(cmp, "key", key, strlen(key));
		r = r ?: add_str(cmp, "target", "MOD");
		r = r ?: add_str(cmp, "result", "EQUAL");
		r = r ?: add_i64(cmp, "mod_revision", expected);
		r = r ?: add_b64(rr, "key", key, strlen(key));
		r = r ?: add_obj(rr, "keys_only", json_object_new_boolean(1));
	}
	if (r < 0)
		goto fail;
	json_object_array_add(cmps, TAKE_PTR(cmp));
	json_object_array_add(succ, TAKE_PTR(op));
	json_object_object_add(fop, "request_range", TAKE_PTR(rr));
	json_object_array_add(fail, TAKE_PTR(fop));
	json_object_object_add(o, "compare", TAKE_PTR(cmps));
	json_object_object_add(o, "success", TAKE_PTR(succ));
	json_object_object_add(o, "failure", TAKE_PTR(fail));
	return to_string(o);
fail:
	json_object_put(cmp);
	json_object_put(cmps);
	json_object_put(succ);
	json_object_put(fail);
	json_object_put(rr);
	json_object_put(fop);
	return NULL;
}

char *etcd_req_txn_cas(const char *key, int64_t expected_mod_revision, const void *val, size_t len,
		       int64_t lease)
{
	json_object *put = put_obj(key, val, len, lease), *op = json_object_new_object();

	if (!put || !op || json_object_object_add(op, "request_put", put) < 0) {
		json_object_put(put);
		json_object_put(op);
		return NULL;
	}
	return txn(key, expected_mod_revision, op);
}

char *etcd_req_txn_cad(const char *key, int64_t expected_mod_revision)
{
	json_object *del = json_object_new_object(), *op = json_object_new_object();

	if (!del || !op || add_b64(del, "key", key, strlen(key)) < 0 ||
	    json_object_object_add(op, "request_delete_range", del) < 0) {
		json_object_put(del);
		json_object_put(op);
		return NULL;
	}
	return txn(key, expected_mod_revision, op);
}

static int add_cmp(json_object *arr, const struct etcd_cmp *c)
{
	json_object *o = json_object_new_object();
	const char *target = c->target == ETCD_CMP_CREATE ? "CREATE" : "MOD";
	int r = o ? 0 : -ENOMEM;

	r = r ?: add_b64(o, "key", c->key, strlen(c->key));
	r = r ?: add_str(o, "target", target);
	r = r ?: add_str(o, "result", "EQUAL");
	r = r
		?: add_i64(o, c->target == ETCD_CMP_CREATE ? "create_revision" : "mod_revision",
			   c->revision);
	if (r < 0 || json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

static int add_op(json_object *arr, const struct etcd_op *op)
{
	json_object *req = NULL, *o = json_object_new_object();
	const char *name = op->type == ETCD_OP_DELETE ? "request_delete_range" : "request_put";

	if (op->type == ETCD_OP_DELETE) {
		req = json_object_new_object();
		if (req && add_b64(req, "key", op->key, strlen(op->key)) < 0) {
			json_object_put(req);
			req = NULL;
		}
	} else {
		req = put_obj(op->key, op->value ?: "", op->len, op->lease);
	}
	if (!o || !req || json_object_object_add(o, name, req) < 0) {
		json_object_put(req);
		json_object_put(o);
		return -ENOMEM;
	}
	if (json_object_array_add(arr, o) < 0) {
		json_object_put(o);
		return -ENOMEM;
	}
	return 0;
}

char *etcd_req_txn(const struct etcd_cmp *cmps, size_t n_cmps, const struct etcd_op *ops,
		   size_t n_ops)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *c = json_object_new_array(), *s = json_object_new_array();
	int r = 0;

	if (!o || !c || !s) {
		json_object_put(c);
		json_object_put(s);
		return NULL;
	}
	for (size_t i = 0; i < n_cmps && r == 0; i++)
		r = add_cmp(c, &cmps[i]);
	for (size_t i = 0; i < n_ops && r == 0; i++)
		r = add_op(s, &ops[i]);
	if (r < 0 || json_object_object_add(o, "compare", c) < 0) {
		json_object_put(c);
		json_object_put(s);
		return NULL;
	}
	if (json_object_object_add(o, "success", s) < 0) {
		json_object_put(s);
		return NULL;
	}
	return to_string(o);
}

char *etcd_req_lease(const char *field, int64_t v)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	if (!o || add_i64(o, field, v) < 0)
		return NULL;
	return to_string(o);
}

char *etcd_req_watch(const char *key, bool prefix, int64_t start_revision)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *c = json_object_new_object();

	if (!o || !c || add_key_range(c, key, prefix) < 0 ||
	    (start_revision > 0 && add_i64(c, "start_revision", start_revision) < 0) ||
	    json_object_object_add(o, "create_request", c) < 0) {
		json_object_put(c);
		return NULL;
	}
	return to_string(o);
}

char *etcd_req_auth(const char *user, const char *password)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	if (!o || add_str(o, "name", user) < 0 || add_str(o, "password", password ?: "") < 0)
		return NULL;
	return to_string(o);
}

/* --- response parsers ------------------------------------------------------------------- */

_printf_(3, 4) static int perr(char *err, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ETCD_ERR_LEN, fmt, ap);
	va_end(ap);
	str_one_line(err);
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
	json_tokener *tok;
	json_object *o;
	size_t end;

	if (len > ETCD_MAX_BODY)
		return perr(err, -EMSGSIZE, "etcd response longer than %u bytes", ETCD_MAX_BODY);
	tok = json_tokener_new_ex(32);
	if (!tok)
		return perr(err, -ENOMEM, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error je = json_tokener_get_error(tok);
		json_object_put(o);
		json_tokener_free(tok);
		return perr(err, -EPROTO, "malformed JSON from etcd: %s",
			    je == json_tokener_continue || je == json_tokener_success
				? "unexpected end of input"
				: json_tokener_error_desc(je));
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < len; end++)
		if (buf[end] != ' ' && buf[end] != '\t' && buf[end] != '\r' && buf[end] != '\n') {
			json_object_put(o);
			return perr(err, -EPROTO, "malformed JSON from etcd: trailing data");
		}
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

/* --- transport --------------------------------------------------------------------------- */

struct buf {
	char *data;
	size_t len, cap;
	bool overflow;
};

static int buf_append(struct buf *b, const char *p, size_t n)
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

	return buf_append(b, p, nmemb) < 0 ? 0 : nmemb;
}

struct etcd {
	CURL *curl;
	struct curl_slist *hdrs;
	char *endpoints[ETCD_MAX_ENDPOINTS];
	size_t n, cur;
	unsigned timeout_ms, connect_timeout_ms;
	char *ca_file, *cert_file, *key_file, *user, *password;
	char *token;
	struct buf resp;
	long http;
	char curl_err[CURL_ERROR_SIZE];
	char err[ETCD_ERR_LEN];
};

_printf_(3, 4) static int fail(struct etcd *e, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
	str_one_line(e->err);
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;
static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* The request certainly never reached a server: safe to send elsewhere, even a CAS. */
static bool curl_undelivered(CURLcode c)
{
	return c == CURLE_COULDNT_CONNECT || c == CURLE_COULDNT_RESOLVE_HOST ||
	       c == CURLE_COULDNT_RESOLVE_PROXY || c == CURLE_SSL_CONNECT_ERROR ||
	       c == CURLE_PEER_FAILED_VERIFICATION || c == CURLE_SSL_CERTPROBLEM ||
	       c == CURLE_SSL_CACERT_BADFILE || c == CURLE_UNSUPPORTED_PROTOCOL;
}

static int curl_errno(CURLcode c)
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
static int setup_handle(struct etcd *e, CURL *c)
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
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -ENOMEM;
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
	r = setup_handle(e, e->curl);
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
		return fail(e, -ENOMEM, "etcd: cannot set up request to %s", url);
	c = curl_easy_perform(e->curl);
	if (c != CURLE_OK) {
		*ret_maybe_delivered = !curl_undelivered(c);
		if (c == CURLE_WRITE_ERROR && !e->resp.overflow)
			return fail(e, -ENOMEM, "etcd %s: out of memory reading the response", url);
		return fail(e, curl_errno(c), "etcd %s: %s", url,
			    e->curl_err[0] ? e->curl_err : curl_easy_strerror(c));
	}
	curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &e->http);
	if (e->http >= 502 && e->http <= 504) {
		char perr_buf[ETCD_ERR_LEN];
		int64_t rev;
		int r = etcd_parse_header(e->resp.data ?: "", e->resp.len, &rev, perr_buf);
		*ret_maybe_delivered = true;
		if (r < 0 && r != -EPROTO)
			return fail(e, r, "etcd %s: %s", url, perr_buf);
		return fail(e, e->http == 504 ? -ETIMEDOUT : -EAGAIN, "etcd %s: HTTP %ld", url,
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
		fail(e, r, "etcd: all %zu endpoints failed, last %s", e->n, last);
	}
	return r;
}

/* The parser's result, with a non-200 answer that is not a gateway error as -EPROTO. */
static int parsed(struct etcd *e, int r)
{
	if (r >= 0 && e->http != 200)
		return fail(e, -EPROTO, "etcd %s: unexpected HTTP %ld", etcd_endpoint(e), e->http);
	if (r == -EPROTO && e->http != 200 && e->http != 0) {
		char why[ETCD_ERR_LEN];
		snprintf(why, sizeof(why), "%s", e->err);
		return fail(e, e->http == 404 ? -EOPNOTSUPP : -EPROTO, "etcd %s: HTTP %ld (%s)",
			    etcd_endpoint(e), e->http, why);
	}
	return r;
}

static int authenticate(struct etcd *e)
{
	_cleanup_free_ char *body = etcd_req_auth(e->user, e->password);
	char *token;
	int r;

	if (!body)
		return fail(e, -ENOMEM, "out of memory");
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
		return fail(e, -ENOMEM, "out of memory");
	if (e->user && !e->token) {
		r = authenticate(e);
		if (r < 0)
			return r;
	}
	r = post_failover(e, path, body, idempotent);
	if (r == 0 && e->http == 401 && e->user && had_token) {
		r = authenticate(e);
		r = r ?: post_failover(e, path, body, idempotent);
	}
	return r;
}

#define BODY (e->resp.data ?: ""), e->resp.len

int etcd_put(struct etcd *e, const char *key, const void *val, size_t len, int64_t lease,
	     int64_t *ret_revision)
{
	_cleanup_free_ char *body = etcd_req_put(key, val, len, lease);
	int64_t rev;
	int r;

	if (!*key)
		return fail(e, -EINVAL, "etcd put: empty key");
	r = call(e, "/v3/kv/put", body, true);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_header(BODY, &rev, e->err));
	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = rev;
	return 0;
}

int etcd_range(struct etcd *e, const char *prefix, struct etcd_kvs *ret)
{
	_cleanup_free_ char *body = etcd_req_range(prefix, true);
	int r = call(e, "/v3/kv/range", body, true);

	if (r < 0)
		return r;
	return parsed(e, etcd_parse_range(BODY, ret, e->err));
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *ret)
{
	_cleanup_free_ char *body = etcd_req_range(key, false);
	struct etcd_kvs res;
	int r;

	if (!*key)
		return fail(e, -EINVAL, "etcd get: empty key");
	r = call(e, "/v3/kv/range", body, true);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_range(BODY, &res, e->err));
	if (r < 0)
		return r;
	if (res.n != 1) {
		etcd_kvs_done(&res);
		return fail(e, -ENOENT, "etcd get: no key \"%s\"", key);
	}
	*ret = res.kvs[0];
	memset(&res.kvs[0], 0, sizeof(res.kvs[0]));
	etcd_kvs_done(&res);
	return 0;
}

int etcd_delete(struct etcd *e, const char *key, bool prefix, int64_t *ret_deleted)
{
	_cleanup_free_ char *body = etcd_req_delete(key, prefix);
	int64_t n;
	int r;

	if (!*key && !prefix)
		return fail(e, -EINVAL, "etcd delete: empty key");
	r = call(e, "/v3/kv/deleterange", body, true);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_delete(BODY, &n, e->err));
	if (r < 0)
		return r;
	if (ret_deleted)
		*ret_deleted = n;
	return 0;
}

static int txn_call(struct etcd *e, const char *body, int64_t *ret_revision)
{
	int64_t rev;
	int r = call(e, "/v3/kv/txn", body, false);

	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_txn(BODY, &rev, e->err));
	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = rev;
	return r;
}

int etcd_txn_cas(struct etcd *e, const char *key, int64_t expected_mod_revision, const void *val,
		 size_t len, int64_t lease, int64_t *ret_revision)
{
	_cleanup_free_ char *body = NULL;

	if (!*key || expected_mod_revision < 0)
		return fail(e, -EINVAL, "etcd cas: empty key or negative revision");
	body = etcd_req_txn_cas(key, expected_mod_revision, val, len, lease);
	return txn_call(e, body, ret_revision);
}

int etcd_txn_cad(struct etcd *e, const char *key, int64_t expected_mod_revision)
{
	_cleanup_free_ char *body = NULL;

	if (!*key || expected_mod_revision <= 0)
		return fail(e, -EINVAL, "etcd cad: empty key or revision <= 0");
	body = etcd_req_txn_cad(key, expected_mod_revision);
	return txn_call(e, body, NULL);
}

int etcd_txn(struct etcd *e, const struct etcd_cmp *cmps, size_t n_cmps, const struct etcd_op *ops,
	     size_t n_ops, int64_t *ret_revision)
{
	_cleanup_free_ char *body = NULL;
	int64_t rev;
	int r;

	if (n_cmps > ETCD_TXN_MAX || n_ops > ETCD_TXN_MAX)
		return fail(e, -E2BIG, "etcd txn: more than %d compares or ops", ETCD_TXN_MAX);
	for (size_t i = 0; i < n_cmps; i++)
		if (!cmps[i].key || !*cmps[i].key || cmps[i].revision < 0)
			return fail(e, -EINVAL,
				    "etcd txn: compare %zu: empty key or negative revision", i);
	for (size_t i = 0; i < n_ops; i++)
		if (!ops[i].key || !*ops[i].key)
			return fail(e, -EINVAL, "etcd txn: op %zu: empty key", i);
	body = etcd_req_txn(cmps, n_cmps, ops, n_ops);
	r = call(e, "/v3/kv/txn", body, false);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_txn_result(BODY, &rev, e->err));
	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = rev;
	return r;
}

int etcd_lease_grant(struct etcd *e, int64_t ttl_s, int64_t *ret_id, int64_t *ret_ttl)
{
	_cleanup_free_ char *body = NULL;
	int64_t id, ttl;
	int r;

	if (ttl_s <= 0)
		return fail(e, -EINVAL, "etcd lease grant: TTL must be > 0");
	body = etcd_req_lease("TTL", ttl_s);
	/* a grant repeated elsewhere at worst leaves an unused lease that expires */
	r = call(e, "/v3/lease/grant", body, true);
	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_lease_grant(BODY, &id, &ttl, e->err));
	if (r < 0)
		return r;
	*ret_id = id;
	if (ret_ttl)
		*ret_ttl = ttl;
	return 0;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ret_ttl)
{
	_cleanup_free_ char *body = etcd_req_lease("ID", id);
	int64_t ttl;
	/* one request on the bidirectional stream: the gateway answers and closes it */
	int r = call(e, "/v3/lease/keepalive", body, true);

	if (r < 0)
		return r;
	r = parsed(e, etcd_parse_lease_keepalive(BODY, &ttl, e->err));
	if (r < 0)
		return r;
	if (ret_ttl)
		*ret_ttl = ttl;
	return 0;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	_cleanup_free_ char *body = etcd_req_lease("ID", id);
	int64_t rev;
	int r = call(e, "/v3/lease/revoke", body, true);

	if (r < 0)
		return r;
	return parsed(e, etcd_parse_header(BODY, &rev, e->err));
}

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
			r = fail(w->e, -ESTALE,
				 "etcd watch: revision %" PRId64 " compacted (oldest %" PRId64 ")",
				 w->rev + 1, m.compact_revision);
		else
			r = fail(w->e, cancel_errno(m.cancel_reason), "etcd watch cancelled: %s",
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
		r = fail(w->e, r, "out of memory");
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
		if (buf_append(&w->line, p + start, i - start) < 0) {
			w->dead = fail(w->e, -EMSGSIZE, "etcd watch: message longer than %u bytes",
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
	if (buf_append(&w->line, p + start, nmemb - start) < 0) {
		w->dead = fail(w->e, -EMSGSIZE, "etcd watch: message longer than %u bytes",
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
		return fail(e, -ENOMEM, "out of memory");
	curl_slist_free_all(w->hdrs);
	w->hdrs = NULL;
	for (struct curl_slist *h = e->hdrs; h; h = h->next) {
		struct curl_slist *t = curl_slist_append(w->hdrs, h->data);
		if (!t)
			return fail(e, -ENOMEM, "out of memory");
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
		return fail(e, -ENOMEM, "etcd watch: cannot set up request to %s", url);
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
		return fail(e, -EINVAL, "etcd watch: empty key or negative revision");
	if (e->user && !e->token) {
		r = authenticate(e);
		if (r < 0)
			return r;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return fail(e, -ENOMEM, "out of memory");
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
		return fail(e, -ENOMEM, "out of memory");
	r = setup_handle(e, w->easy);
	if (r < 0 || curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_body) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w) != CURLE_OK ||
	    curl_easy_setopt(w->easy, CURLOPT_ERRORBUFFER, w->curl_err) != CURLE_OK)
		return fail(e, -EINVAL, "etcd watch: cannot set up a curl handle");
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
		int r = authenticate(e);
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
			r = authenticate(e);
			return r < 0 ? r : 0;
		}
		if (http < 502 || http > 504) {
			w->dead = fail(e, r < 0 && r != -EPROTO ? r : -EPROTO,
				       "etcd watch %s: HTTP %ld: %s", e->endpoints[w->ep], http,
				       r < 0 ? why : "no error message");
			return w->dead;
		}
	}
	if (c == CURLE_OK)
		fail(e, -ECONNRESET, "etcd watch %s: stream ended", e->endpoints[w->ep]);
	else
		fail(e, curl_errno(c), "etcd watch %s: %s", e->endpoints[w->ep],
		     w->curl_err[0] ? w->curl_err : curl_easy_strerror(c));
	w->ep = (w->ep + 1) % e->n;
	if (++w->fails >= e->n) {
		/* every endpoint failed once in a row: report, retry on the next poll */
		w->fails = 0;
		return c == CURLE_OK ? -ECONNRESET : curl_errno(c);
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
			return fail(w->e, -EIO, "etcd watch: curl_multi_perform failed");
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
			return fail(w->e, -EIO, "etcd watch: curl_multi_poll failed");
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
