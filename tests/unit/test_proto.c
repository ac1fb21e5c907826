/* test_proto.c — control-socket request parsing: every error code, field names in errors,
 * limits, and the error reply format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static enum proto_err parse(const char *s, struct proto_request *r, struct proto_error *e)
{
	memset(r, 0, sizeof(*r));
	int k = proto_parse_request(s, strlen(s), r, e);
	if (k == 0)
		return PROTO_OK;
	assert_int_equal(k, -EINVAL);
	return e->code;
}

static void test_submit_ok(void **state)
{
	struct proto_request r;
	struct proto_error e;
	assert_int_equal(parse("{\"op\":\"submit\",\"id\":7,\"queue\":\"resnet-18\",\"argv\":[\"/"
			       "bin/x\",\"-n\",\"3\"],"
			       "\"demand\":{\"cpu\":2,\"memory\":\"1257M\"}}",
			       &r, &e),
			 PROTO_OK);
	assert_int_equal(r.op, PROTO_SUBMIT);
	assert_true(r.has_id);
	assert_int_equal(r.id, 7);
	assert_string_equal(r.queue, "resnet-18");
	assert_int_equal(r.argc, 3);
	assert_string_equal(r.argv[2], "3");
	assert_null(r.argv[3]);
	assert_true(r.has_demand);
	assert_true(r.cpu == 2.0);
	assert_int_equal(r.mem, 1257ull << 20);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[\"a\"],\"demand\":{"
			       "\"cpu\":\"500m\",\"memory\":4096}}",
			       &r, &e),
			 PROTO_OK);
	assert_true(r.cpu == 0.5);
	assert_int_equal(r.mem, 4096);
	assert_false(r.has_id);
	proto_request_done(&r);
	assert_int_equal(parse("  {\"op\":\"status\"} \r", &r, &e), PROTO_OK);
	assert_int_equal(r.op, PROTO_STATUS);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":12}", &r, &e), PROTO_OK);
	assert_int_equal(r.task, 12);
}

static void test_errors(void **state)
{
	struct proto_request r;
	struct proto_error e;
	assert_int_equal(parse("{\"op\":", &r, &e), PROTO_E_BAD_JSON);
	assert_int_equal(parse("{\"op\":\"status\"} x", &r, &e), PROTO_E_BAD_JSON);
	assert_int_equal(parse("{'op':'status'}", &r, &e), PROTO_E_BAD_JSON);
	assert_int_equal(parse("[1,2]", &r, &e), PROTO_E_NOT_OBJECT);
	assert_int_equal(parse("{\"op\":\"explode\",\"id\":3}", &r, &e), PROTO_E_UNKNOWN_OP);
	assert_true(r.has_id); /* echoed even on error */
	assert_int_equal(r.id, 3);
	assert_int_equal(parse("{}", &r, &e), PROTO_E_MISSING_FIELD);
	assert_string_equal(e.field, "op");
	assert_int_equal(parse("{\"op\":1}", &r, &e), PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"status\",\"id\":\"x\"}", &r, &e), PROTO_E_BAD_TYPE);
	assert_string_equal(e.field, "id");
	assert_int_equal(parse("{\"op\":\"status\",\"verbose\":true}", &r, &e),
			 PROTO_E_UNKNOWN_FIELD);
	assert_non_null(strstr(e.message, "verbose"));
	assert_int_equal(parse("{\"op\":\"status\",\"a\\nb\":1}", &r, &e), PROTO_E_UNKNOWN_FIELD);
	assert_null(strchr(e.message, '\n')); /* the reply stays one line */
	assert_non_null(strstr(e.message, "a?b"));
	assert_int_equal(parse("{\"op\":\"submit\",\"argv\":[\"a\"]}", &r, &e),
			 PROTO_E_MISSING_FIELD);
	assert_string_equal(e.field, "queue");
	/* upload_rate: bytes/s or a rate string; out of range or mistyped named */
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"upload_rate\":\"4g\"}", &r, &e), PROTO_OK);
	assert_int_equal(r.upload_rate, 731250);
	proto_request_done(&r);
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"upload_rate\":125000}", &r, &e), PROTO_OK);
	assert_int_equal(r.upload_rate, 125000);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"upload_rate\":0}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "upload_rate");
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"upload_rate\":\"fast\"}", &r, &e),
	    PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "upload_rate");
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"upload_rate\":1.5}", &r, &e),
			 PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"status\",\"upload_rate\":1000}", &r, &e),
			 PROTO_E_UNKNOWN_FIELD);
	/* no argv: the daemon runs the catalog's command for the queue, or refuses itself */
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\"}", &r, &e), PROTO_OK);
	assert_null(r.argv);
	assert_int_equal(r.argc, 0);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"../x\",\"argv\":[\"a\"]}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "queue");
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[]}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[1]}", &r, &e),
			 PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":\"ls\"}", &r, &e),
			 PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[\"a\"],\"demand\":{"
			       "\"cpu\":-1,\"memory\":1}}",
			       &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "demand.cpu");
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[\"a\"],\"demand\":{\"cpu\":1}}", &r,
		  &e),
	    PROTO_E_MISSING_FIELD);
	assert_string_equal(e.field, "demand.memory");
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[\"a\"],\"demand\":{"
			       "\"cpu\":1,\"memory\":\"lots\"}}",
			       &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[\"a\"],\"demand\":{"
			       "\"cpu\":1,\"memory\":1,\"gpu\":1}}",
			       &r, &e),
			 PROTO_E_UNKNOWN_FIELD);
	assert_int_equal(parse("{\"op\":\"cancel\"}", &r, &e), PROTO_E_MISSING_FIELD);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":5,\"fleet\":true}", &r, &e), PROTO_OK);
	assert_true(r.fleet);
	assert_int_equal(r.task, 5);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"cancel\",\"fleet\":true}", &r, &e),
			 PROTO_E_MISSING_FIELD);
	assert_string_equal(e.field, "task");
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":5,\"fleet\":1}", &r, &e),
			 PROTO_E_BAD_TYPE);
	assert_string_equal(e.field, "fleet");
	assert_int_equal(parse("{\"op\":\"status\",\"fleet\":true}", &r, &e),
			 PROTO_E_UNKNOWN_FIELD);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":0}", &r, &e), PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":1.5}", &r, &e), PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"status\",\"task\":1}", &r, &e), PROTO_E_UNKNOWN_FIELD);
}

static void test_apps(void **state)
{
	struct proto_request r;
	struct proto_error e;
	assert_int_equal(parse("{\"op\":\"submit-app\",\"id\":2,\"app\":{\"name\":\"t\",\"tasks\":["
			       "{\"name\":\"a\",\"queue\":\"q\",\"argv\":[\"x\"]},"
			       "{\"name\":\"b\",\"model\":\"m\",\"after\":[\"a\"]}]}}",
			       &r, &e),
			 PROTO_OK);
	assert_int_equal(r.op, PROTO_SUBMIT_APP);
	assert_true(proto_op_mutates(r.op));
	assert_non_null(r.dapp);
	proto_request_done(&r);
	assert_null(r.dapp);
	assert_int_equal(parse("{\"op\":\"submit-app\"}", &r, &e), PROTO_E_MISSING_FIELD);
	assert_string_equal(e.field, "app");
	assert_int_equal(parse("{\"op\":\"submit-app\",\"app\":[]}", &r, &e), PROTO_E_BAD_TYPE);
	assert_int_equal(parse("{\"op\":\"submit-app\",\"app\":{\"name\":\"t\",\"tasks\":["
			       "{\"name\":\"a\",\"queue\":\"q\",\"after\":[\"z\"]}]}}",
			       &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "app");
	assert_string_equal(e.message, "tasks[0].after[0]: unknown task \"z\"");
	assert_int_equal(parse("{\"op\":\"submit-app\",\"app\":{\"name\":\"t\",\"tasks\":[{"
			       "\"name\":\"a\",\"queue\":\"q\",\"x\":1}]}}",
			       &r, &e),
			 PROTO_E_UNKNOWN_FIELD);
	assert_int_equal(
	    parse("{\"op\":\"submit-app\",\"queue\":\"q\",\"app\":{\"name\":\"t\"}}", &r, &e),
	    PROTO_E_UNKNOWN_FIELD);
	assert_int_equal(parse("{\"op\":\"cancel\",\"app\":4}", &r, &e), PROTO_OK);
	assert_int_equal(r.app, 4);
	assert_int_equal(r.task, 0);
	assert_int_equal(parse("{\"op\":\"cancel\",\"app\":4,\"task\":4}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"cancel\",\"app\":\"4\"}", &r, &e), PROTO_E_BAD_TYPE);
	assert_string_equal(e.field, "app");
	assert_int_equal(parse("{\"op\":\"cancel\",\"app\":0}", &r, &e), PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"apps\"}", &r, &e), PROTO_OK);
	assert_int_equal(r.op, PROTO_APPS);
	assert_false(proto_op_mutates(r.op));
	assert_int_equal(parse("{\"op\":\"apps\",\"app\":1}", &r, &e), PROTO_E_UNKNOWN_FIELD);
}

static void test_limits(void **state)
{
	struct proto_request r = {0};
	struct proto_error e;
	size_t n = PROTO_MAX_LINE + 10;
	char *big = malloc(n + 1), *deep;
	memset(big, ' ', n);
	big[n] = 0;
	assert_int_equal(proto_parse_request(big, n, &r, &e), -EINVAL);
	assert_int_equal(e.code, PROTO_E_TOO_LARGE);
	free(big);
	/* nesting beyond the parser's depth bound is malformed, not a stack overflow */
	deep = malloc(4001);
	for (int i = 0; i < 2000; i++) {
		deep[i] = '[';
		deep[2000 + i] = ']';
	}
	deep[4000] = 0;
	assert_int_equal(parse(deep, &r, &e), PROTO_E_BAD_JSON);
	free(deep);
	/* ids: 2^63-1 is an id (cancel answers no-such-task), 2^63 and past are not */
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":9223372036854775807}", &r, &e),
			 PROTO_OK);
	assert_true(r.task == 9223372036854775807ull);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":9223372036854775808}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"cancel\",\"app\":99999999999999999999999}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_int_equal(parse("{\"op\":\"cancel\",\"task\":0}", &r, &e), PROTO_E_BAD_VALUE);
	assert_int_equal(proto_parse_request("{\"op\":\"status\"}\0x", 17, &r, &e), -EINVAL);
	assert_int_equal(e.code, PROTO_E_BAD_JSON);
	/* 257 arguments */
	{
		char buf[8192];
		size_t o = (size_t)snprintf(buf, sizeof(buf),
					    "{\"op\":\"submit\",\"queue\":\"q\",\"argv\":[");
		for (int i = 0; i < 257; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s\"a\"", i ? "," : "");
		snprintf(buf + o, sizeof(buf) - o, "]}");
		assert_int_equal(parse(buf, &r, &e), PROTO_E_BAD_VALUE);
		assert_string_equal(e.field, "argv");
	}
}

/* submit of an OCI bundle instead of a command */
static void test_oci(void **state)
{
	struct proto_request r;
	struct proto_error e;
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"oci\":\"/srv/b\"}", &r, &e),
			 PROTO_OK);
	assert_string_equal(r.oci, "/srv/b");
	assert_null(r.argv);
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"oci\":\"b\"}", &r, &e),
			 PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "oci");
	proto_request_done(&r);
	assert_int_equal(parse("{\"op\":\"submit\",\"queue\":\"q\",\"oci\":7}", &r, &e),
			 PROTO_E_BAD_TYPE);
	proto_request_done(&r);
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"oci\":\"/b\",\"argv\":[\"x\"]}", &r, &e),
	    PROTO_E_BAD_VALUE);
	assert_string_equal(e.field, "oci");
	proto_request_done(&r);
	assert_int_equal(
	    parse("{\"op\":\"submit\",\"queue\":\"q\",\"oci\":\"/a\\u0000b\"}", &r, &e),
	    PROTO_E_BAD_VALUE);
	proto_request_done(&r);
}

static void test_error_reply(void **state)
{
	struct proto_request r = {.has_id = true, .id = 42};
	struct proto_error e = {.code = PROTO_E_UNKNOWN_FIELD, .field = "x"};
	char *line;
	json_object *o, *v, *err;
	snprintf(e.message, sizeof(e.message), "x: unknown field");
	line = proto_format_error(&r, &e);
	assert_non_null(line);
	assert_int_equal(line[strlen(line) - 1], '\n');
	o = json_tokener_parse(line);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "id", &v));
	assert_int_equal(json_object_get_int(v), 42);
	assert_true(json_object_object_get_ex(o, "ok", &v));
	assert_false(json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(o, "error", &err));
	assert_true(json_object_object_get_ex(err, "code", &v));
	assert_string_equal(json_object_get_string(v), "unknown-field");
	json_object_put(o);
	free(line);
	for (int i = 0; i < _PROTO_E_MAX; i++)
		assert_string_not_equal(proto_err_name((enum proto_err)i), "");
	assert_true(proto_op_mutates(PROTO_SUBMIT));
	assert_false(proto_op_mutates(PROTO_STATUS));
	assert_true(proto_name_valid("inception-v3"));
	assert_false(proto_name_valid(".hidden"));
	assert_false(proto_name_valid("a/b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_submit_ok),	cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_apps),	cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_error_reply), cmocka_unit_test(test_oci),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
