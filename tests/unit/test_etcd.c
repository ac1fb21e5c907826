/* test_etcd.c — the etcd gateway client's pure parts on strings (base64, prefix ends, request
 * bodies, every response parser incl. truncated/garbage/missing fields); the transport
 * boundary is in test_etcd_transport.c. */
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
#include <time.h>
#include <unistd.h>

#include "etcd-internal.h"

#define S(lit) lit, sizeof(lit) - 1

/* --- base64 and prefixes ----------------------------------------------------------------- */

static void check_b64(const char *plain, size_t len, const char *enc)
{
	char *e = etcd_b64_encode(plain, len), *d;
	size_t dlen;

	assert_non_null(e);
	assert_string_equal(e, enc);
	assert_int_equal(etcd_b64_decode(e, strlen(e), &d, &dlen), 0);
	assert_int_equal(dlen, len);
	assert_memory_equal(d, plain, len);
	assert_int_equal(d[len], '\0');
	free(e);
	free(d);
}

static void test_b64(void **state)
{
	/* RFC 4648 section 10 */
	check_b64("", 0, "");
	check_b64("f", 1, "Zg==");
	check_b64("fo", 2, "Zm8=");
	check_b64("foo", 3, "Zm9v");
	check_b64("foob", 4, "Zm9vYg==");
	check_b64("fooba", 5, "Zm9vYmE=");
	check_b64("foobar", 6, "Zm9vYmFy");
	check_b64("a\0b", 3, "YQBi");
	check_b64("\xff\xfe\xfd", 3, "//79");

	/* every byte value round-trips */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (size_t n = 0; n <= 256; n += 37) {
		char *e = etcd_b64_encode(all, n), *d;
		size_t dlen;
		assert_int_equal(strlen(e), (n + 2) / 3 * 4);
		assert_int_equal(etcd_b64_decode(e, strlen(e), &d, &dlen), 0);
		assert_int_equal(dlen, n);
		assert_memory_equal(d, all, n);
		free(e);
		free(d);
	}

	char *d = (char *)0x1;
	size_t dlen = 7;
	const char *bad[] = {"Zg",   "Zg=",  "Zm9",  "Z===", "====",   "Zg==Zg==", "Zm9v!",
			     "Zm 9", "Zh==", "Zm9=", "Zm=v", "Zm9v\n", "-_-_"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(etcd_b64_decode(bad[i], strlen(bad[i]), &d, &dlen), -EINVAL);
	/* outputs untouched on failure */
	assert_ptr_equal(d, (char *)0x1);
	assert_int_equal(dlen, 7);
}

static void check_end(const char *prefix, size_t len, const char *want, size_t want_len)
{
	char *end;
	size_t end_len;

	assert_int_equal(etcd_prefix_end(prefix, len, &end, &end_len), 0);
	assert_int_equal(end_len, want_len);
	assert_memory_equal(end, want, want_len);
	free(end);
}

static void test_prefix_end(void **state)
{
	check_end(S("/edgeslice/nodes/"), S("/edgeslice/nodes0"));
	check_end(S("a"), S("b"));
	check_end(S("a\xff"), S("b"));
	check_end(S("a\xff\xff"), S("b"));
	check_end(S("\xff"), S("\0"));
	check_end(S(""), S("\0"));
}

/* --- request bodies ---------------------------------------------------------------------- */

static json_object *parse_ok(const char *s)
{
	json_object *o = json_tokener_parse(s);
	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	return o;
}

static const char *str_at(json_object *o, const char *path)
{
	char buf[128], *save = NULL;
	json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(v, json_type_array))
			v = json_object_array_get_idx(v, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(v, tok, &v))
			return NULL;
		if (!v)
			return NULL;
	}
	return json_object_get_string(v);
}

static void test_requests(void **state)
{
	json_object *o;
	char *s;

	s = etcd_req_range("/edgeslice/nodes/", true);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "key"), "L2VkZ2VzbGljZS9ub2Rlcy8="); /* no "\/" escapes */
	assert_non_null(strstr(s, "L2VkZ2VzbGljZS9ub2Rlcy8="));
	assert_string_equal(str_at(o, "range_end"), "L2VkZ2VzbGljZS9ub2RlczA="); /* .../nodes0 */
	json_object_put(o);
	free(s);

	s = etcd_req_range("foo", false);
	assert_string_equal(s, "{\"key\":\"Zm9v\"}");
	free(s);

	/* everything: key "\0", range_end "\0" */
	s = etcd_req_range("", true);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "key"), "AA==");
	assert_string_equal(str_at(o, "range_end"), "AA==");
	json_object_put(o);
	free(s);

	s = etcd_req_put("foo", "bar", 3, 0);
	assert_string_equal(s, "{\"key\":\"Zm9v\",\"value\":\"YmFy\"}");
	free(s);
	s = etcd_req_put("foo", "", 0, 7587880000000000001);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "value"), "");
	assert_string_equal(str_at(o, "lease"), "7587880000000000001"); /* a string: no rounding */
	json_object_put(o);
	free(s);

	s = etcd_req_delete("/q/", true);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "key"), "L3Ev");
	assert_string_equal(str_at(o, "range_end"), "L3Ew");
	json_object_put(o);
	free(s);

	s = etcd_req_txn_cas("k", 0, "v", 1, 42);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "compare.0.key"), "aw==");
	assert_string_equal(str_at(o, "compare.0.target"), "MOD");
	assert_string_equal(str_at(o, "compare.0.result"), "EQUAL");
	assert_string_equal(str_at(o, "compare.0.mod_revision"), "0");
	assert_string_equal(str_at(o, "success.0.request_put.key"), "aw==");
	assert_string_equal(str_at(o, "success.0.request_put.value"), "dg==");
	assert_string_equal(str_at(o, "success.0.request_put.lease"), "42");
	assert_string_equal(str_at(o, "failure.0.request_range.key"), "aw==");
	assert_string_equal(str_at(o, "failure.0.request_range.keys_only"), "true");
	json_object_put(o);
	free(s);

	s = etcd_req_txn_cad("k", 17);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "compare.0.mod_revision"), "17");
	assert_string_equal(str_at(o, "success.0.request_delete_range.key"), "aw==");
	json_object_put(o);
	free(s);

	struct etcd_cmp cmps[] = {{"/p", ETCD_CMP_CREATE, 9}, {"/q/1", ETCD_CMP_MOD, 0}};
	struct etcd_op ops[] = {{ETCD_OP_PUT, "/q/1", "x", 1, 5},
				{ETCD_OP_DELETE, "/a", NULL, 0, 0}};
	s = etcd_req_txn(cmps, 2, ops, 2);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "compare.0.key"), "L3A=");
	assert_string_equal(str_at(o, "compare.0.target"), "CREATE");
	assert_string_equal(str_at(o, "compare.0.create_revision"), "9");
	assert_null(str_at(o, "compare.0.mod_revision"));
	assert_string_equal(str_at(o, "compare.1.target"), "MOD");
	assert_string_equal(str_at(o, "compare.1.mod_revision"), "0");
	assert_string_equal(str_at(o, "success.0.request_put.value"), "eA==");
	assert_string_equal(str_at(o, "success.0.request_put.lease"), "5");
	assert_string_equal(str_at(o, "success.1.request_delete_range.key"), "L2E=");
	assert_null(str_at(o, "failure"));
	json_object_put(o);
	free(s);
	s = etcd_req_txn(NULL, 0, NULL, 0);
	assert_string_equal(s, "{\"compare\":[],\"success\":[]}");
	free(s);

	s = etcd_req_lease("TTL", 5);
	assert_string_equal(s, "{\"TTL\":\"5\"}");
	free(s);
	s = etcd_req_lease("ID", -3);
	assert_string_equal(s, "{\"ID\":\"-3\"}");
	free(s);

	s = etcd_req_watch("/a/", true, 0);
	o = parse_ok(s);
	assert_string_equal(str_at(o, "create_request.key"), "L2Ev");
	assert_string_equal(str_at(o, "create_request.range_end"), "L2Ew");
	assert_null(str_at(o, "create_request.start_revision"));
	json_object_put(o);
	free(s);
	s = etcd_req_watch("/a", false, 12);
	o = parse_ok(s);
	assert_null(str_at(o, "create_request.range_end"));
	assert_string_equal(str_at(o, "create_request.start_revision"), "12");
	json_object_put(o);
	free(s);

	s = etcd_req_auth("root", "p\"w");
	o = parse_ok(s);
	assert_string_equal(str_at(o, "name"), "root");
	assert_string_equal(str_at(o, "password"), "p\"w");
	json_object_put(o);
	free(s);
}

/* --- response parsers (bodies as etcd 3.4's gateway writes them) -------------------------- */

#define HDR                                                                                        \
	"\"header\":{\"cluster_id\":\"15118495548433857066\",\"member_id\":\"1366\",\"revision\":" \
	"\"13\",\"raft_term\":\"2\"}"

static void test_parse_errors(void **state)
{
	char err[ETCD_ERR_LEN];
	int64_t rev = -1;

	assert_int_equal(etcd_parse_header(S("{" HDR "}"), &rev, err), 0);
	assert_int_equal(rev, 13);
	rev = -1;
	/* gateway errors keep their message and map to errno */
	assert_int_equal(etcd_parse_header(
			     S("{\"error\":\"etcdserver: requested lease not found\","
			       "\"message\":\"etcdserver: requested lease not found\",\"code\":5}"),
			     &rev, err),
			 -ENOENT);
	assert_non_null(strstr(err, "requested lease not found"));
	assert_int_equal(rev, -1);
	assert_int_equal(
	    etcd_parse_header(
		S("{\"error\":\"x\",\"message\":\"etcdserver: no leader\",\"code\":14}"), &rev,
		err),
	    -EAGAIN);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":3}"), &rev, err), -EINVAL);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":16}"), &rev, err), -EACCES);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":4}"), &rev, err),
			 -ETIMEDOUT);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":11}"), &rev, err), -ERANGE);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":99}"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"error\":\"x\",\"code\":\"5\"}"), &rev, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"error\":{\"grpc_code\":14,\"http_code\":503,"
					     "\"message\":\"etcdserver: no leader\"}}"),
					   &rev, err),
			 -EAGAIN);
	assert_non_null(strstr(err, "no leader"));
	/* malformed */
	assert_int_equal(etcd_parse_header(S(""), &rev, err), -EPROTO);
	assert_non_null(strstr(err, "malformed JSON"));
	assert_int_equal(etcd_parse_header(S("{\"header\":{\"revision\":\"1"), &rev, err), -EPROTO);
	assert_non_null(strstr(err, "end of input"));
	assert_int_equal(etcd_parse_header(S("Not Found\n"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_header(S("[1]"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_header(S("{" HDR "} x"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_header(S("{" HDR "}\n"), &rev, err), 0);
	assert_int_equal(etcd_parse_header(S("{}"), &rev, err), -EPROTO);
	assert_string_equal(err, "etcd response: missing field \"header\"");
	assert_int_equal(etcd_parse_header(S("{\"header\":{}}"), &rev, err), -EPROTO);
	assert_string_equal(err, "etcd response: missing field \"revision\"");
	assert_int_equal(etcd_parse_header(S("{\"header\":[]}"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"header\":{\"revision\":\"12x\"}}"), &rev, err),
			 -EPROTO);
	assert_string_equal(err, "etcd response: field \"revision\" is not an int64");
	assert_int_equal(
	    etcd_parse_header(S("{\"header\":{\"revision\":\"99999999999999999999\"}}"), &rev, err),
	    -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"header\":{\"revision\":\"-\"}}"), &rev, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"header\":{\"revision\":true}}"), &rev, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_header(S("{\"header\":{\"revision\":7}}"), &rev, err), 0);
	assert_int_equal(rev, 7);
	/* a message quoting input stays one line */
	assert_int_equal(
	    etcd_parse_header(S("{\"error\":\"x\",\"message\":\"a\\nb\",\"code\":2}"), &rev, err),
	    -EIO);
	assert_null(strchr(err, '\n'));
	/* a NUL inside the body is not the end of it */
	assert_int_equal(
	    etcd_parse_header("{" HDR "}\0junk", sizeof("{" HDR "}\0junk") - 1, &rev, err),
	    -EPROTO);
}

static void test_parse_range(void **state)
{
	char err[ETCD_ERR_LEN];
	struct etcd_kvs r = {.n = 99};

	assert_int_equal(
	    etcd_parse_range(
		S("{" HDR
		  ",\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"2\",\"mod_revision\":\"4\","
		  "\"version\":\"2\",\"value\":\"YmFy\",\"lease\":\"4111120443657465613\"},{"
		  "\"key\":\"Zm9w\",\"mod_revision\":\"5\"}],\"count\":\"2\"}"),
		&r, err),
	    0);
	assert_int_equal(r.revision, 13);
	assert_int_equal(r.n, 2);
	assert_false(r.more);
	assert_string_equal(r.kvs[0].key, "foo");
	assert_string_equal(r.kvs[0].value, "bar");
	assert_int_equal(r.kvs[0].value_len, 3);
	assert_int_equal(r.kvs[0].create_revision, 2);
	assert_int_equal(r.kvs[0].mod_revision, 4);
	assert_int_equal(r.kvs[0].version, 2);
	assert_int_equal(r.kvs[0].lease, 4111120443657465613);
	/* proto3 JSON omits empty values and zero numbers */
	assert_string_equal(r.kvs[1].key, "fop");
	assert_string_equal(r.kvs[1].value, "");
	assert_int_equal(r.kvs[1].value_len, 0);
	assert_int_equal(r.kvs[1].lease, 0);
	etcd_kvs_done(&r);

	/* no key: no "kvs" */
	r.n = 99;
	assert_int_equal(etcd_parse_range(S("{" HDR "}"), &r, err), 0);
	assert_int_equal(r.n, 0);
	etcd_kvs_done(&r);
	assert_int_equal(etcd_parse_range(S("{" HDR ",\"kvs\":[],\"more\":true}"), &r, err), 0);
	assert_true(r.more);
	etcd_kvs_done(&r);

	struct etcd_kvs untouched = {.n = 42};
	const char *bad[] = {
	    "{" HDR ",\"kvs\":{}}",
	    "{" HDR ",\"kvs\":[1]}",
	    "{" HDR ",\"kvs\":[{\"mod_revision\":\"4\"}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\"}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"4\",\"value\":\"Y\"}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"4\",\"value\":3}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"AA==\",\"mod_revision\":\"4\"}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"4\"},{\"key\":\"!\",\"mod_"
	    "revision\":\"4\"}]}",
	    "{" HDR ",\"more\":\"yes\"}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"4\"}",
	    "{\"kvs\":[]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"0\"}]}",
	    "{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"3\",\"version\":\"-1\"}]}",
	    "{\"header\":{\"revision\":\"-2\"}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(etcd_parse_range(bad[i], strlen(bad[i]), &untouched, err),
				 -EPROTO);
		assert_int_equal(untouched.n, 42);
		assert_null(untouched.kvs);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(
	    etcd_parse_range(
		S("{" HDR ",\"kvs\":[{\"key\":\"Zm9v\",\"mod_revision\":\"4\",\"value\":\"Y\"}]}"),
		&r, err),
	    -EPROTO);
	assert_string_equal(err, "etcd response: field \"value\" is not base64");
	/* a binary value keeps its NUL bytes */
	assert_int_equal(
	    etcd_parse_range(
		S("{" HDR
		  ",\"kvs\":[{\"key\":\"aw==\",\"mod_revision\":\"4\",\"value\":\"YQBi\"}]}"),
		&r, err),
	    0);
	assert_int_equal(r.kvs[0].value_len, 3);
	assert_memory_equal(r.kvs[0].value, "a\0b", 3);
	etcd_kvs_done(&r);
}

static void test_parse_txn_delete(void **state)
{
	char err[ETCD_ERR_LEN];
	int64_t rev = -1, n = -1;

	assert_int_equal(etcd_parse_txn(S("{" HDR ",\"succeeded\":true,\"responses\":[{\"response_"
					  "put\":{\"header\":{\"revision\":\"4\"}}}]}"),
					&rev, err),
			 1);
	assert_int_equal(rev, 13);
	/* compare failed: the failure branch's range tells the key's current revision */
	assert_int_equal(
	    etcd_parse_txn(
		S("{" HDR ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"13\"},"
		  "\"kvs\":[{\"key\":\"Zm9v\",\"create_revision\":\"4\",\"mod_revision\":"
		  "\"11\",\"version\":\"2\"}],\"count\":\"1\"}}]}"),
		&rev, err),
	    0);
	assert_int_equal(rev, 11);
	rev = -1;
	assert_int_equal(
	    etcd_parse_txn(
		S("{" HDR
		  ",\"responses\":[{\"response_range\":{\"header\":{\"revision\":\"13\"}}}]}"),
		&rev, err),
	    0);
	assert_int_equal(rev, 0);
	rev = -1;
	assert_int_equal(etcd_parse_txn(S("{" HDR "}"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_txn(S("{" HDR ",\"responses\":[]}"), &rev, err), -EPROTO);
	assert_int_equal(etcd_parse_txn(S("{" HDR ",\"responses\":[3]}"), &rev, err), -EPROTO);
	assert_int_equal(
	    etcd_parse_txn(S("{" HDR ",\"responses\":[{\"response_put\":{}}]}"), &rev, err),
	    -EPROTO);
	assert_string_equal(err, "etcd response: missing field \"response_range\"");
	assert_int_equal(etcd_parse_txn(S("{" HDR ",\"succeeded\":1}"), &rev, err), -EPROTO);
	assert_int_equal(
	    etcd_parse_txn(
		S("{\"error\":\"etcdserver: too many operations in txn request\",\"code\":3}"),
		&rev, err),
	    -EINVAL);
	assert_int_equal(rev, -1);

	rev = -1;
	assert_int_equal(
	    etcd_parse_txn_result(S("{" HDR ",\"succeeded\":true,\"responses\":[{\"response_put\":{"
				    "}},{\"response_put\":{}}]}"),
				  &rev, err),
	    1);
	assert_int_equal(rev, 13);
	rev = -1;
	assert_int_equal(etcd_parse_txn_result(S("{" HDR "}"), &rev, err), 0);
	assert_int_equal(rev, 13);
	rev = -1;
	assert_int_equal(etcd_parse_txn_result(S("{" HDR ",\"responses\":{}}"), &rev, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_txn_result(S("{\"succeeded\":true}"), &rev, err), -EPROTO);
	assert_int_equal(
	    etcd_parse_txn_result(
		S("{\"error\":\"etcdserver: duplicate key given in txn request\",\"code\":3}"),
		&rev, err),
	    -EINVAL);
	assert_int_equal(rev, -1);

	assert_int_equal(etcd_parse_delete(S("{" HDR ",\"deleted\":\"3\"}"), &n, err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(etcd_parse_delete(S("{" HDR "}"), &n, err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(etcd_parse_delete(S("{" HDR ",\"deleted\":\"x\"}"), &n, err), -EPROTO);
}

static void test_parse_lease_auth(void **state)
{
	char err[ETCD_ERR_LEN], *tok = NULL;
	int64_t id = -1, ttl = -1;

	assert_int_equal(
	    etcd_parse_lease_grant(S("{" HDR ",\"ID\":\"4111120443657465608\",\"TTL\":\"5\"}"), &id,
				   &ttl, err),
	    0);
	assert_int_equal(id, 4111120443657465608);
	assert_int_equal(ttl, 5);
	id = ttl = -1;
	assert_int_equal(etcd_parse_lease_grant(S("{" HDR ",\"TTL\":\"5\"}"), &id, &ttl, err),
			 -EPROTO);
	assert_string_equal(err, "etcd response: missing field \"ID\"");
	assert_int_equal(etcd_parse_lease_grant(S("{" HDR ",\"ID\":\"1\"}"), &id, &ttl, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_lease_grant(
			     S("{" HDR ",\"ID\":\"1\",\"TTL\":\"5\",\"error\":\"lease exists\"}"),
			     &id, &ttl, err),
			 -EIO);
	assert_int_equal(
	    etcd_parse_lease_grant(S("{\"error\":\"etcdserver: too many requests\",\"code\":8}"),
				   &id, &ttl, err),
	    -ENOSPC);
	assert_int_equal(id, -1);

	assert_int_equal(
	    etcd_parse_lease_keepalive(
		S("{\"result\":{" HDR ",\"ID\":\"4111120443657465613\",\"TTL\":\"5\"}}\n"), &ttl,
		err),
	    0);
	assert_int_equal(ttl, 5);
	ttl = -1;
	/* an expired lease answers without TTL */
	assert_int_equal(
	    etcd_parse_lease_keepalive(S("{\"result\":{" HDR ",\"ID\":\"123\"}}\n"), &ttl, err),
	    -ENOENT);
	assert_string_equal(err, "etcd: lease 123 expired or revoked");
	/* only the first message of the stream counts */
	assert_int_equal(
	    etcd_parse_lease_keepalive(
		S("{\"result\":{" HDR ",\"ID\":\"1\",\"TTL\":\"3\"}}\ngarbage"), &ttl, err),
	    0);
	assert_int_equal(ttl, 3);
	assert_int_equal(
	    etcd_parse_lease_keepalive(S("{" HDR ",\"ID\":\"1\",\"TTL\":\"3\"}"), &ttl, err),
	    -EPROTO);
	assert_int_equal(etcd_parse_lease_keepalive(S("{\"result\":{\"TTL\":\"3\"\n}}"), &ttl, err),
			 -EPROTO);
	assert_int_equal(
	    etcd_parse_lease_keepalive(S("{\"error\":{\"grpc_code\":5,\"message\":\"etcdserver: "
					 "requested lease not found\"}}\n"),
				       &ttl, err),
	    -ENOENT);

	assert_int_equal(etcd_parse_auth(S("{" HDR ",\"token\":\"abc.123\"}"), &tok, err), 0);
	assert_string_equal(tok, "abc.123");
	free(tok);
	tok = NULL;
	assert_int_equal(etcd_parse_auth(S("{" HDR "}"), &tok, err), -EPROTO);
	assert_int_equal(etcd_parse_auth(S("{" HDR ",\"token\":\"a\\r\\nX-Evil: 1\"}"), &tok, err),
			 -EPROTO);
	assert_int_equal(etcd_parse_auth(S("{\"error\":\"etcdserver: authentication failed, "
					   "invalid user ID or password\",\"code\":3}"),
					 &tok, err),
			 -EACCES);
	assert_null(tok);
}

static void test_parse_watch(void **state)
{
	char err[ETCD_ERR_LEN];
	struct etcd_watch_msg m;

	assert_int_equal(
	    etcd_parse_watch_msg(S("{\"result\":{" HDR ",\"created\":true}}"), &m, err), 0);
	assert_true(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.revision, 13);
	assert_int_equal(m.n_events, 0);
	etcd_watch_msg_done(&m);

	assert_int_equal(
	    etcd_parse_watch_msg(
		S("{\"result\":{" HDR
		  ",\"events\":[{\"kv\":{\"key\":\"dzE=\",\"create_revision\":\"10\",\"mod_"
		  "revision\":\"11\",\"version\":\"2\",\"value\":\"Yg==\"},\"prev_kv\":{\"key\":"
		  "\"dzE=\",\"mod_revision\":\"10\",\"value\":\"YQ==\"}},{\"type\":\"DELETE\","
		  "\"kv\":{\"key\":\"dzI=\",\"mod_revision\":\"11\"}}]}}"),
		&m, err),
	    0);
	assert_false(m.created);
	assert_int_equal(m.n_events, 2);
	assert_int_equal(m.events[0].type, ETCD_EVENT_PUT);
	assert_string_equal(m.events[0].kv.key, "w1");
	assert_string_equal(m.events[0].kv.value, "b");
	assert_int_equal(m.events[0].kv.mod_revision, 11);
	assert_int_equal(m.events[1].type, ETCD_EVENT_DELETE);
	assert_string_equal(m.events[1].kv.key, "w2");
	assert_int_equal(m.events[1].kv.value_len, 0);
	etcd_watch_msg_done(&m);

	assert_int_equal(
	    etcd_parse_watch_msg(S("{\"result\":{\"header\":{\"cluster_id\":\"1\",\"raft_term\":"
				   "\"2\"},\"canceled\":true,\"compact_revision\":\"7\"}}"),
				 &m, err),
	    0);
	assert_true(m.canceled);
	assert_int_equal(m.compact_revision, 7);
	assert_int_equal(m.revision, 0);
	etcd_watch_msg_done(&m);
	assert_int_equal(
	    etcd_parse_watch_msg(S("{\"result\":{" HDR
				   ",\"watch_id\":\"-1\",\"created\":true,\"canceled\":true,"
				   "\"cancel_reason\":\"mvcc: watcher range is empty\"}}"),
				 &m, err),
	    0);
	assert_true(m.canceled);
	assert_string_equal(m.cancel_reason, "mvcc: watcher range is empty");
	etcd_watch_msg_done(&m);

	assert_int_equal(
	    etcd_parse_watch_msg(
		S("{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no "
		  "leader\",\"http_status\":\"Service Unavailable\"}}"),
		&m, err),
	    -EAGAIN);
	const char *bad[] = {
	    "{" HDR "}",
	    "{\"result\":[]}",
	    "{\"result\":{\"events\":[{\"type\":\"PATCH\",\"kv\":{\"key\":\"dzE=\",\"mod_"
	    "revision\":\"1\"}}]}}",
	    "{\"result\":{\"events\":[{\"type\":1,\"kv\":{\"key\":\"dzE=\",\"mod_revision\":\"1\"}}"
	    "]}}",
	    "{\"result\":{\"events\":[{\"type\":\"PUT\"}]}}",
	    "{\"result\":{\"events\":[{\"kv\":{\"key\":\"dzE=\",\"mod_revision\":\"1\"}}, 5]}}",
	    "{\"result\":{\"events\":[{\"kv\":{\"key\":\"dzE=\",\"mod_revision\":\"1\"}},{\"kv\":{"
	    "\"key\":\"d\",\"mod_revision\":\"1\"}}]}}",
	    "{\"result\":{\"created\":\"true\"}}",
	    "{\"result\":{\"compact_revision\":[]}}",
	    "{\"result\":{\"events\":[{\"kv\":{\"key\":\"dzE=\",\"mod_revision\":\"1\"}}]}",
	    "{\"result\":{\"created\":true}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(etcd_parse_watch_msg(bad[i], strlen(bad[i]), &m, err), -EPROTO);
	assert_int_equal(etcd_gateway_errno(0), -EPROTO);
	assert_int_equal(etcd_gateway_errno(1), -ECANCELED);
	assert_int_equal(etcd_gateway_errno(7), -EPERM);
	assert_int_equal(etcd_gateway_errno(12), -EOPNOTSUPP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_b64),
	    cmocka_unit_test(test_prefix_end),
	    cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_parse_range),
	    cmocka_unit_test(test_parse_txn_delete),
	    cmocka_unit_test(test_parse_lease_auth),
	    cmocka_unit_test(test_parse_watch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
