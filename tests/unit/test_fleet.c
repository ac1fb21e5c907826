/* test_fleet.c — fleet mode's pure parts: the keyspace's key parsers, the task spec that
 * travels through queue/ and assign/ (bad specs are refused naming the field), the devices
 * the fleet device set reads from a nodes/ range, and the notes the host logs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet-internal.h"

static void test_keys(void **state)
{
	char node[65], dev[65];
	uint64_t id = 0;

	assert_int_equal(fleet_parse_device_key("/edgeslice/nodes/edge-1/devices/d0", node,
						sizeof(node), dev, sizeof(dev)),
			 0);
	assert_string_equal(node, "edge-1");
	assert_string_equal(dev, "d0");
	assert_int_equal(fleet_parse_device_key("/edgeslice/nodes/edge-1/devices/", node,
						sizeof(node), dev, sizeof(dev)),
			 -EINVAL);
	assert_int_equal(fleet_parse_device_key("/edgeslice/nodes//devices/d0", node, sizeof(node),
						dev, sizeof(dev)),
			 -EINVAL);
	assert_int_equal(fleet_parse_device_key("/edgeslice/nodes/a/devices/d/x", node,
						sizeof(node), dev, sizeof(dev)),
			 -EINVAL);
	assert_int_equal(
	    fleet_parse_device_key("/edgeslice/queue/1", node, sizeof(node), dev, sizeof(dev)),
	    -EINVAL);
	assert_int_equal(
	    fleet_parse_device_key("/edgeslice/nodes/a/devices/d0", node, 1, dev, sizeof(dev)),
	    -EINVAL);

	assert_int_equal(fleet_parse_assign_key("/edgeslice/assign/n2/0000000000000042", node,
						sizeof(node), &id),
			 0);
	assert_string_equal(node, "n2");
	assert_int_equal(id, 42);
	assert_int_equal(fleet_parse_assign_key("/edgeslice/assign/n2/0", node, sizeof(node), &id),
			 -EINVAL);
	assert_int_equal(fleet_parse_assign_key("/edgeslice/assign/n2/x", node, sizeof(node), &id),
			 -EINVAL);
	assert_int_equal(fleet_parse_assign_key("/edgeslice/assign/n2", node, sizeof(node), &id),
			 -EINVAL);
	assert_int_equal(fleet_parse_assign_key("/edgeslice/status/1", node, sizeof(node), &id),
			 -EINVAL);
}

static void test_task(void **state)
{
	struct fleet_task t;
	char err[128];

	assert_int_equal(
	    fleet_parse_task("{\"id\":17,\"queue\":\"resnet-18\",\"cpu\":2,\"mem\":1048576,"
			     "\"argv\":[\"sh\",\"-c\",\"true\"],\"submit_us\":5,\"device\":\"d1\"}",
			     &t, err, sizeof(err)),
	    0);
	assert_int_equal(t.id, 17);
	assert_string_equal(t.queue, "resnet-18");
	assert_true(t.cpu == 2);
	assert_int_equal(t.mem, 1048576);
	assert_int_equal(t.argc, 3);
	assert_string_equal(t.argv[2], "true");
	assert_null(t.argv[3]);
	assert_string_equal(t.device, "d1");
	assert_int_equal(t.submit_us, 5);
	assert_false(t.cancel);
	fleet_task_done(&t);
	/* a cancel request rides on the assignment (fleet_cancel) */
	assert_int_equal(
	    fleet_parse_task("{\"id\":2,\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"],"
			     "\"device\":\"d0\",\"cancel\":true}",
			     &t, err, sizeof(err)),
	    0);
	assert_true(t.cancel);
	fleet_task_done(&t);
	/* a queue entry has no device yet */
	assert_int_equal(
	    fleet_parse_task("{\"id\":1,\"queue\":\"q\",\"cpu\":0.5,\"mem\":1,\"argv\":[\"x\"]}",
			     &t, err, sizeof(err)),
	    0);
	assert_string_equal(t.device, "");
	fleet_task_done(&t);

	static const struct {
		const char *json, *field;
	} bad[] = {
	    {"", "JSON"},
	    {"[1]", "JSON"},
	    {"{\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"]}", "id"},
	    {"{\"id\":0,\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"]}", "id"},
	    {"{\"id\":\"1\",\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"]}", "id"},
	    {"{\"id\":1,\"queue\":\"\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"]}", "queue"},
	    {"{\"id\":1,\"queue\":\"q\",\"cpu\":0,\"mem\":1,\"argv\":[\"x\"]}", "cpu"},
	    {"{\"id\":1,\"queue\":\"q\",\"cpu\":1,\"mem\":-1,\"argv\":[\"x\"]}", "mem"},
	    {"{\"id\":1,\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[]}", "argv"},
	    {"{\"id\":1,\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\",2]}", "argv[1]"},
	    {"{\"id\":1,\"queue\":\"q\",\"cpu\":1,\"mem\":1,\"argv\":[\"x\"],\"device\":3}",
	     "device"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(fleet_parse_task(bad[i].json, &t, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].field))
			fail_msg("%s: error \"%s\" does not name %s", bad[i].json, err,
				 bad[i].field);
	}
}

static void test_devices(void **state)
{
	struct etcd_kv kv[] = {
	    {.key = "/edgeslice/nodes/n1/devices/d0",
	     .value = "{\"cpu\":2.5,\"mem\":1048576,\"cpu_used\":0.5,\"mem_used\":4096}"},
	    {.key = "/edgeslice/nodes/n1/lease", .value = "{}"},	     /* no device key */
	    {.key = "/edgeslice/nodes/n2/devices/d1", .value = "{not json"}, /* skipped */
	    {.key = "/edgeslice/nodes/n2/devices/d2", .value = "{\"cpu\":1,\"mem\":-5}"},
	};
	struct etcd_kvs kvs = {.kvs = kv, .n = 4};
	struct devset_device *v = NULL;
	size_t n = 0;

	assert_int_equal(fleet_devices_parse(&kvs, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].node, "n1");
	assert_string_equal(v[0].name, "d0");
	assert_true(v[0].cpu == 2.5 && v[0].cpu_used == 0.5);
	assert_int_equal(v[0].mem, 1048576);
	assert_int_equal(v[0].mem_used, 4096);
	assert_false(v[0].local);
	assert_string_equal(v[1].node, "n2");
	assert_string_equal(v[1].name, "d2");
	assert_int_equal(v[1].mem, 0); /* a negative size is no capacity */
	free(v);
}

static void test_notes(void **state)
{
	struct fleet f = {0};
	struct fleet_note *v = NULL;

	assert_int_equal(fleet_take_notes(&f, &v), 0);
	assert_null(v);
	fleet_note(&f, LOG_INFO, 0, "fleet: node %s joined", "n1");
	fleet_note(&f, LOG_ERR, -EINVAL, "fleet: %s: bad\nassignment", "k");
	fleet_note(&f, LOG_WARNING, -EIO, "later");
	assert_int_equal(f.step_err, -EINVAL); /* the first failure of the round */
	assert_int_equal(fleet_take_notes(&f, &v), 3);
	assert_int_equal(v[0].prio, LOG_INFO);
	assert_int_equal(v[0].error, 0);
	assert_string_equal(v[0].text, "fleet: node n1 joined");
	assert_int_equal(v[1].error, -EINVAL);
	assert_null(strchr(v[1].text, '\n')); /* one line for the log */
	assert_string_equal(v[2].text, "later");
	free(v);
	assert_int_equal(fleet_take_notes(&f, &v), 0); /* taken once */
	for (size_t i = 0; i < FLEET_MAX_NOTES + 5; i++)
		fleet_note(&f, LOG_INFO, 0, "n%zu", i);
	assert_int_equal(fleet_take_notes(&f, &v), FLEET_MAX_NOTES); /* bounded */
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_keys),
	    cmocka_unit_test(test_task),
	    cmocka_unit_test(test_devices),
	    cmocka_unit_test(test_notes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
