/* test_etcd.c — the etcd gateway client's pure parts on strings (base64, prefix ends, request
 * bodies, every response parser incl. truncated/garbage/missing fields) and its error mapping
 * at the transport boundary against loopback fakes (refused port, silent and garbage servers). */
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
	    cmocka_unit_test(test_new_invalid),
	    cmocka_unit_test(test_transport_errors),
	    cmocka_unit_test(test_watch_stream),
	    cmocka_unit_test(test_watch_cancel),
	    cmocka_unit_test(test_watch_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
