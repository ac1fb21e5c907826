/* test_jps_profile.c — JSON layer profiles: parsing, one-line errors naming the field,
 * round trip through the writer and the planner, built-in lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jps_profile.h"

static const char chain_json[] =
    "{\"model\":\"toy\",\"source\":\"measured\",\"input_bytes\":1000,\"layers\":["
    "{\"name\":\"a\",\"compute_ms\":1.5,\"output_bytes\":800},"
    "{\"name\":\"b\",\"compute_ms\":2,\"output_bytes\":100},"
    "{\"name\":\"c\",\"compute_ms\":0.5,\"output_bytes\":40,\"inputs\":[\"b\",\"a\"]}]}";

static void test_parse_ok(void **state)
{
	struct jps_model *m;
	char err[256] = "";

	assert_int_equal(jps_profile_parse(chain_json, strlen(chain_json), &m, err, sizeof(err)),
			 0);
	assert_string_equal(m->name, "toy");
	assert_string_equal(m->source, "measured");
	assert_int_equal(m->input_bytes, 1000);
	assert_int_equal(m->n_layers, 3);
	assert_int_equal(m->layers[0].n_inputs, 1);
	assert_int_equal(m->layers[0].inputs[0], JPS_INPUT); /* default: a chain */
	assert_int_equal(m->layers[1].inputs[0], 0);
	assert_int_equal(m->layers[2].n_inputs, 2);
	assert_int_equal(m->layers[2].inputs[1], 0);
	assert_true(m->layers[0].compute_ms == 1.5);
	jps_model_free(m);
}

static void expect_error(const char *json, int code, const char *msg)
{
	struct jps_model *m = NULL;
	char err[256] = "";
	assert_int_equal(jps_profile_parse(json, strlen(json), &m, err, sizeof(err)), code);
	assert_null(m);
	if (!strstr(err, msg))
		fail_msg("error \"%s\" does not contain \"%s\"", err, msg);
	assert_null(strchr(err, '\n'));
}

static void test_parse_errors(void **state)
{
	expect_error("{", -EINVAL, "profile: invalid JSON");
	expect_error("[]", -EINVAL, "profile: must be a JSON object");
	expect_error("{\"input_bytes\":1,\"layers\":[]}", -EINVAL, "model: missing");
	expect_error("{\"model\":\"x\",\"layers\":[]}", -EINVAL, "input_bytes: missing");
	expect_error("{\"model\":\"x\",\"input_bytes\":-1,\"layers\":[]}", -EINVAL,
		     "input_bytes: must be");
	expect_error("{\"model\":\"x\",\"input_bytes\":1}", -EINVAL, "layers: missing");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[]}", -EINVAL,
		     "layers: must not be empty");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"compute_ms\":1,\"output_"
		     "bytes\":1}]}",
		     -EINVAL, "layers[0].name: missing");
	expect_error(
	    "{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"output_bytes\":1}]}",
	    -EINVAL, "layers[0].compute_ms: missing");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_"
		     "ms\":-2,\"output_bytes\":1}]}",
		     -EINVAL, "layers[0].compute_ms: must be a finite number >= 0");
	expect_error(
	    "{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_ms\":1}]}",
	    -EINVAL, "layers[0].output_bytes: missing");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_"
		     "ms\":1,\"output_bytes\":1.5}]}",
		     -EINVAL, "layers[0].output_bytes: must be a non-negative integer");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_"
		     "ms\":1,\"output_bytes\":1,\"inputs\":[\"zz\"]}]}",
		     -EINVAL, "layers[0].inputs[0]: unknown layer \"zz\"");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_"
		     "ms\":1,\"output_bytes\":1},"
		     "{\"name\":\"a\",\"compute_ms\":1,\"output_bytes\":1}]}",
		     -EINVAL, "layers[1].name: duplicate layer \"a\"");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":["
		     "{\"name\":\"a\",\"compute_ms\":1,\"output_bytes\":1,\"inputs\":[\"b\"]},"
		     "{\"name\":\"b\",\"compute_ms\":1,\"output_bytes\":1,\"inputs\":[\"a\"]}]}",
		     -ELOOP, "cycle through layer");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":["
		     "{\"name\":\"a\",\"compute_ms\":1,\"output_bytes\":1,\"inputs\":[\"a\"]}]}",
		     -EINVAL, "feeds itself");
	expect_error("{\"model\":\"x\",\"input_bytes\":1,\"layers\":[{\"name\":\"a\",\"compute_"
		     "ms\":1,\"output_bytes\":1}]} x",
		     -EINVAL, "trailing data");
}

static void test_round_trip(void **state)
{
	struct jps_model *m, *m2;
	struct jps_chain c1, c2;
	struct jps_link l;
	struct jps_plan p1, p2;
	char *json, err[256];

	assert_int_equal(jps_builtin_model("googlenet", 0, &m), 0);
	assert_int_equal(jps_profile_format(m, &json), 0);
	assert_int_equal(jps_profile_parse(json, strlen(json), &m2, err, sizeof(err)), 0);
	assert_int_equal(m2->n_layers, m->n_layers);
	for (size_t i = 0; i < m->n_layers; i++) {
		assert_string_equal(m->layers[i].name, m2->layers[i].name);
		assert_int_equal(m->layers[i].out_bytes, m2->layers[i].out_bytes);
		assert_true(fabs(m->layers[i].compute_ms - m2->layers[i].compute_ms) < 1e-9);
		assert_int_equal(m->layers[i].n_inputs, m2->layers[i].n_inputs);
	}
	assert_int_equal(jps_link_init(&l, 731250, 5), 0);
	assert_int_equal(jps_chain_from_model(m, &l, &c1), 0);
	assert_int_equal(jps_chain_from_model(m2, &l, &c2), 0);
	assert_int_equal(jps_plan_homogeneous(&c1, 20, &p1), 0);
	assert_int_equal(jps_plan_homogeneous(&c2, 20, &p2), 0);
	assert_true(fabs(p1.makespan - p2.makespan) < 1e-6);
	jps_plan_done(&p1);
	jps_plan_done(&p2);
	jps_chain_done(&c1);
	jps_chain_done(&c2);
	free(json);
	jps_model_free(m);
	jps_model_free(m2);
}

static void test_load(void **state)
{
	struct jps_model *m;
	char err[256] = "";

	assert_int_equal(jps_profile_load("resnet-18", &m, err, sizeof(err)), 0);
	assert_string_equal(m->name, "resnet-18");
	jps_model_free(m);
	/* the workload's other graphs, FLOP-estimated */
	assert_int_equal(jps_profile_load("inception-v3", &m, err, sizeof(err)), 0);
	assert_int_equal(m->input_bytes, 3 * 299 * 299 * 4);
	assert_non_null(strstr(m->source, "flop-estimate"));
	jps_model_free(m);
	assert_int_equal(jps_profile_load("lenet", &m, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "unknown model \"lenet\""));
	assert_int_equal(jps_profile_load("/nonexistent/p.json", &m, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/p.json"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
