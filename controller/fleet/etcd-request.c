/* etcd-request.c — pure builders of etcd v3 JSON-gateway requests (base64 keys, ranges,
 * puts, transactions, leases, watches, auth); tested on strings. */
#include "etcd-client-internal.h"

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
