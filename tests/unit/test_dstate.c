/* test_dstate.c — the daemon's persisted state (round trip, corruption refused whole) and
 * its configuration/catalog parsers (errors name line and key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dconf.h"
#include "dstate.h"
#include "util.h"

#include <fcntl.h>

static char *argv_a[] = {"/bin/burn", "--ms", "100", NULL};

static void test_round_trip(void **state)
{
	struct dtask t[2] = {0}, *back = NULL;
	size_t n;
	uint64_t next;
	char *text, err[256];

	t[0] = (struct dtask){.id = 3,
			      .argv = argv_a,
			      .argc = 3,
			      .cpu = 1.5,
			      .mem = 1257ull << 20,
			      .state = DTASK_RUNNING,
			      .dev = 1,
			      .submit_us = 10,
			      .start_us = 20,
			      .pid = 4242,
			      .exit_code = -1};
	snprintf(t[0].queue, sizeof(t[0].queue), "resnet-18");
	t[1] = (struct dtask){.id = 5,
			      .argv = argv_a,
			      .argc = 1,
			      .cpu = 2,
			      .mem = 1,
			      .state = DTASK_DONE,
			      .dev = 0,
			      .exit_code = 137};
	snprintf(t[1].queue, sizeof(t[1].queue), "vgg-19");
	snprintf(t[1].reason, sizeof(t[1].reason), "oom-kill");
	t[1].cpu_usec = 1234567;
	t[1].upload_rate = 731250;
	assert_int_equal(dstate_format(t, 2, 9, &text), 0);
	assert_int_equal(dstate_parse(text, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(next, 9);
	assert_int_equal(back[0].id, 3);
	assert_string_equal(back[0].queue, "resnet-18");
	assert_int_equal(back[0].argc, 3);
	assert_string_equal(back[0].argv[1], "--ms");
	assert_null(back[0].argv[3]);
	assert_true(back[0].cpu == 1.5);
	assert_int_equal(back[0].mem, 1257ull << 20);
	assert_int_equal(back[0].state, DTASK_RUNNING);
	assert_int_equal(back[0].dev, 1);
	assert_int_equal(back[0].pid, 4242);
	assert_int_equal(back[0].start_us, 20);
	assert_int_equal(back[1].exit_code, 137);
	assert_string_equal(back[1].reason, "oom-kill");
	assert_int_equal(back[1].cpu_usec, 1234567);
	assert_int_equal(back[1].upload_rate, 731250);
	assert_int_equal(back[0].upload_rate, 0); /* absent: not shaped */
	dstate_free(back, n);
	free(text);
}

static void expect_bad(const char *text, const char *needle)
{
	struct dtask *back = (struct dtask *)0x1;
	size_t n = 77;
	uint64_t next = 77;
	char err[256] = "";
	assert_int_equal(dstate_parse(text, &back, &n, &next, err, sizeof(err)), -EINVAL);
	assert_true(back == (struct dtask *)0x1); /* outputs untouched on failure */
	assert_int_equal(n, 77);
	if (!strstr(err, needle))
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

#define TASK(id, extra)                                                                            \
	"{\"id\":" #id                                                                             \
	",\"queue\":\"q\",\"argv\":[\"a\"],\"cpu\":1,\"memory\":5,\"state\":\"queued\","           \
	"\"device\":-1,\"submit_us\":1,\"start_us\":0,\"end_us\":0,\"pid\":0,\"exit_code\":-"      \
	"1" extra "}"

static void test_corruption(void **state)
{
	struct dtask *back;
	size_t n;
	uint64_t next;
	char err[256];

	assert_int_equal(dstate_parse("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(
					  1, "") "," TASK(2, "") "]}",
				      &back, &n, &next, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	dstate_free(back, n);
	expect_bad("", "JSON");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(1, ""), "JSON"); /* truncated */
	expect_bad("{\"version\":2,\"next_id\":3,\"tasks\":[]}", "version");
	expect_bad("{\"version\":1,\"tasks\":[]}", "next_id");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(1, "") "," TASK(1, "") "]}",
		   "duplicate");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(3, "") "]}", "next_id");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[{\"id\":1}]}", "queue");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(1, ",\"reason\":5") "]}",
		   "reason");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(1, ",\"cpu_usec\":-4") "]}",
		   "cpu_usec");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" TASK(1, ",\"upload_rate\":0") "]}",
		   "upload_rate");
	expect_bad(
	    "{\"version\":1,\"next_id\":3,\"tasks\":[{\"id\":1,\"queue\":\"q\",\"argv\":[\"a\"],"
	    "\"cpu\":1,\"memory\":5,\"state\":\"running\",\"device\":-1,\"submit_us\":1,"
	    "\"start_us\":0,\"end_us\":0,\"pid\":0,\"exit_code\":-1}]}",
	    "without a device");
	expect_bad(
	    "{\"version\":1,\"next_id\":3,\"tasks\":[{\"id\":1,\"queue\":\"q\",\"argv\":[\"a\"],"
	    "\"cpu\":1,\"memory\":5,\"state\":\"zombie\",\"device\":-1,\"submit_us\":1,"
	    "\"start_us\":0,\"end_us\":0,\"pid\":0,\"exit_code\":-1}]}",
	    "state");
}

/* Application fields: optional (older files and plain tasks lack them), round trip, and a
 * waiting task must name its application and predecessors. */
static void test_app_fields(void **state)
{
	struct dtask t[2] = {0}, *back = NULL;
	uint64_t after[1] = {4}, next;
	size_t n;
	char *text, err[256];

	t[0] = (struct dtask){.id = 4,
			      .argv = argv_a,
			      .argc = 1,
			      .cpu = 1,
			      .mem = 5,
			      .state = DTASK_DONE,
			      .dev = 0,
			      .exit_code = 0,
			      .app = 4,
			      .prio = 3.5};
	t[1] = (struct dtask){.id = 5,
			      .argv = argv_a,
			      .argc = 1,
			      .cpu = 1,
			      .mem = 5,
			      .state = DTASK_WAITING,
			      .dev = -1,
			      .exit_code = -1,
			      .app = 4,
			      .after = after,
			      .n_after = 1,
			      .prio = 1};
	for (int i = 0; i < 2; i++) {
		snprintf(t[i].queue, sizeof(t[i].queue), "q%d", i);
		snprintf(t[i].app_name, sizeof(t[i].app_name), "traffic");
	}
	snprintf(t[0].name, sizeof(t[0].name), "detect");
	snprintf(t[1].name, sizeof(t[1].name), "face");
	assert_int_equal(dstate_format(t, 2, 6, &text), 0);
	assert_int_equal(dstate_parse(text, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(n, 2);
	assert_int_equal(back[1].state, DTASK_WAITING);
	assert_true(dtask_state_live(back[1].state));
	assert_int_equal(back[1].app, 4);
	assert_string_equal(back[1].app_name, "traffic");
	assert_string_equal(back[1].name, "face");
	assert_int_equal(back[1].n_after, 1);
	assert_int_equal(back[1].after[0], 4);
	assert_true(back[1].prio == 1.0);
	assert_int_equal(back[0].n_after, 0);
	assert_true(back[0].prio == 3.5);
	dstate_free(back, n);
	free(text);
	/* a plain task is written without them, and read back as app 0 */
	t[0].app = 0;
	assert_int_equal(dstate_format(t, 1, 6, &text), 0);
	assert_null(strstr(text, "app"));
	assert_int_equal(dstate_parse(text, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(back[0].app, 0);
	assert_null(back[0].after);
	dstate_free(back, n);
	free(text);
#define APP(id, st, extra)                                                                         \
	"{\"id\":" #id ",\"queue\":\"q\",\"argv\":[\"a\"],\"cpu\":1,\"memory\":5,\"state\":\"" st  \
	"\","                                                                                      \
	"\"device\":-1,\"submit_us\":1,\"start_us\":0,\"end_us\":0,\"pid\":0,\"exit_code\":-"      \
	"1" extra "}"
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" APP(1, "waiting", "") "]}",
		   "waiting without an application");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" APP(1, "queued", ",\"app\":2") "]}",
		   "app");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
		       1, "queued", ",\"app\":1,\"name\":\"a\",\"after\":[]") "]}",
		   "app_name");
	expect_bad("{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
		       1, "queued", ",\"app\":1,\"app_name\":\"x\",\"after\":[]") "]}",
		   "name");
	expect_bad(
	    "{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
		2, "waiting", ",\"app\":1,\"app_name\":\"x\",\"name\":\"b\",\"after\":[2]") "]}",
	    "after[0]");
	expect_bad(
	    "{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
		2, "waiting", ",\"app\":1,\"app_name\":\"x\",\"name\":\"b\",\"after\":[]") "]}",
	    "without predecessors");
	expect_bad(
	    "{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
		2, "waiting",
		",\"app\":1,\"app_name\":\"x\",\"name\":\"b\",\"after\":[1],\"prio\":\"hi\"") "]}",
	    "prio");
	assert_int_equal(
	    dstate_parse("{\"version\":1,\"next_id\":3,\"tasks\":[" APP(
			     2, "waiting",
			     ",\"app\":1,\"app_name\":\"x\",\"name\":\"b\",\"after\":[1]") "]}",
			 &back, &n, &next, err, sizeof(err)),
	    0);
	dstate_free(back, n);
#undef APP
}

static void test_config(void **state)
{
	struct dconf c;
	char err[256];
	unsigned n;

	assert_int_equal(
	    dconf_parse("# comment\n\npolicy = drf\nmeasure_interval_ms=50\n"
			"on_sigterm = drain\nenforcement = strict\n"
			"device = a cpus=0-1 memory=2G\ndevice = b cpus=2,3 cores=1.5\n",
			&c, err, sizeof(err)),
	    0);
	assert_string_equal(c.policy, "drf");
	assert_int_equal(c.measure_ms, 50);
	assert_int_equal(c.on_sigterm, DCONF_SIGTERM_DRAIN);
	assert_true(c.strict);
	assert_int_equal(c.n_devices, 2);
	assert_string_equal(c.devices[0].cpus, "0-1");
	assert_true(c.devices[0].cpu == 2.0);
	assert_int_equal(c.devices[0].mem, 2ull << 30);
	assert_true(c.devices[1].cpu == 1.5);
	assert_int_equal(dconf_parse("", &c, err, sizeof(err)), 0);
	assert_string_equal(c.policy, "rddrf");
	assert_int_equal(c.measure_ms, 100);

	assert_int_equal(dconf_parse("\n\npolicy = fifo\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 3: policy"));
	assert_int_equal(dconf_parse("colour = blue\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "colour: unknown key"));
	assert_int_equal(dconf_parse("policy\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("measure_interval_ms = 1\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(c.measure, DCONF_MEASURE_AUTO); /* from the successful parse above */
	assert_true(c.smoothing == 0.5);
	assert_int_equal(
	    dconf_parse("measure = cgroup\nmeasure_smoothing = 0.25\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.measure, DCONF_MEASURE_CGROUP);
	assert_true(c.smoothing == 0.25);
	assert_int_equal(dconf_parse("measure = ebpf\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.measure, DCONF_MEASURE_EBPF);
	assert_int_equal(dconf_parse("measure = bpf\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: measure: must be auto, ebpf or cgroup"));
	assert_int_equal(dconf_parse("measure_smoothing = 0\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "measure_smoothing"));
	assert_int_equal(dconf_parse("measure_smoothing = 1.5\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("measure_smoothing = nan\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("measure_smoothing = 0.5x\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(
	    dconf_parse("uplink = eth0\nuplink_rate = 100mbit\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.uplink, "eth0");
	assert_int_equal(c.uplink_rate, 12500000);
	assert_int_equal(dconf_parse("uplink_rate = auto\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.uplink_rate, 0);
	assert_string_equal(c.uplink, "");
	assert_int_equal(dconf_parse("uplink = a/b\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uplink: must be an interface name"));
	assert_int_equal(dconf_parse("uplink = abcdefghijklmnopq\n", &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dconf_parse("uplink_rate = 0mbit\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "uplink_rate"));
	assert_int_equal(dconf_parse("device = a cpus=1-0\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cpus"));
	assert_int_equal(dconf_parse("device = a\ndevice = a\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(dconf_parse("device = a gpus=1\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_cpulist_count("0-3,5,7-8", &n), 0);
	assert_int_equal(n, 7);
	assert_int_equal(dconf_cpulist_count("0-", &n), -EINVAL);
	assert_int_equal(dconf_cpulist_count("a", &n), -EINVAL);
}

static void test_config_fleet(void **state)
{
	struct dconf c;
	char err[256];

	assert_int_equal(dconf_parse("", &c, err, sizeof(err)), 0);
	assert_false(c.fleet.enabled);
	assert_int_equal(c.fleet.lease_ttl, 5);
	assert_string_equal(c.fleet.node_name, "");
	assert_int_equal(
	    dconf_parse("fleet = etcd\nfleet_endpoints = http://127.0.0.1:2379,https://e2:2379\n"
			"node_name = edge-1\nfleet_lease_ttl = 3\nfleet_ca = /etc/ca.pem\n"
			"fleet_cert = /etc/c.pem\nfleet_key = /etc/k.pem\n"
			"fleet_user = es\nfleet_password_file = /etc/pw\n",
			&c, err, sizeof(err)),
	    0);
	assert_true(c.fleet.enabled);
	assert_string_equal(c.fleet.endpoints, "http://127.0.0.1:2379,https://e2:2379");
	assert_string_equal(c.fleet.node_name, "edge-1");
	assert_int_equal(c.fleet.lease_ttl, 3);
	assert_string_equal(c.fleet.ca, "/etc/ca.pem");
	assert_string_equal(c.fleet.cert, "/etc/c.pem");
	assert_string_equal(c.fleet.key, "/etc/k.pem");
	assert_string_equal(c.fleet.user, "es");
	assert_string_equal(c.fleet.password_file, "/etc/pw");
	assert_int_equal(dconf_parse("fleet = off\n", &c, err, sizeof(err)), 0);
	assert_false(c.fleet.enabled);

	assert_int_equal(dconf_parse("fleet = zookeeper\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 1: fleet: must be off or etcd"));
	assert_null(strchr(err, '\n'));
	assert_int_equal(dconf_parse("\nfleet_endpoints = 127.0.0.1:2379\n", &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "line 2: fleet_endpoints"));
	assert_int_equal(dconf_parse("fleet_endpoints = http://a:1,\n", &c, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dconf_parse("fleet_endpoints = http://\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("fleet_endpoints =\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("node_name = a/b\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "node_name"));
	assert_int_equal(dconf_parse("fleet_lease_ttl = 1\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fleet_lease_ttl"));
	assert_int_equal(dconf_parse("fleet_lease_ttl = 5s\n", &c, err, sizeof(err)), -EINVAL);
	assert_int_equal(dconf_parse("fleet_ca = ca.pem\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fleet_ca: must be an absolute path"));
	assert_int_equal(dconf_parse("fleet_cert = /c.pem\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fleet_cert"));
	assert_int_equal(dconf_parse("fleet_user = es\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fleet_user"));
	assert_int_equal(
	    dconf_parse("fleet_user = a b\nfleet_password_file = /p\n", &c, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(dconf_parse("fleet_password_file = p\n", &c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "fleet_password_file"));
}

static void test_fleet_id(void **state)
{
	struct dtask t = {.id = 3,
			  .queue = "q",
			  .cpu = 1,
			  .mem = 1,
			  .state = DTASK_DONE,
			  .dev = 0,
			  .exit_code = 0,
			  .fleet_id = 1234567};
	char *argv[] = {"true", NULL}, *text = NULL, err[256];
	struct dtask *back = NULL;
	size_t n = 0;
	uint64_t next = 0;

	t.argv = argv;
	t.argc = 1;
	assert_int_equal(dstate_format(&t, 1, 4, &text), 0);
	assert_non_null(strstr(text, "\"fleet_id\":1234567"));
	assert_int_equal(dstate_parse(text, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(back[0].fleet_id, 1234567);
	dstate_free(back, n);
	free(text);
	t.fleet_id = 0;
	assert_int_equal(dstate_format(&t, 1, 4, &text), 0);
	assert_null(strstr(text, "fleet_id"));
	free(text);
	assert_int_equal(
	    dstate_parse("{\"version\":1,\"next_id\":2,\"tasks\":[{\"id\":1,\"queue\":\"q\","
			 "\"argv\":[\"x\"],\"cpu\":1,\"memory\":1,\"state\":\"done\",\"device\":0,"
			 "\"submit_us\":0,\"start_us\":0,\"end_us\":0,\"pid\":0,\"exit_code\":0,"
			 "\"fleet_id\":0}]}",
			 &back, &n, &next, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "fleet_id"));
}

static void test_catalog(void **state)
{
	struct dconf_model *m = NULL;
	size_t n;
	char err[256];

	assert_int_equal(dconf_parse_models(
			     "{\"models\":[{\"name\":\"resnet-18\",\"cpu\":2,\"memory\":\"1257M\"},"
			     "{\"name\":\"tiny\",\"cpu\":0.25,\"memory\":\"8M\"}]}",
			     &m, &n, err, sizeof(err)),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(m[0].name, "resnet-18");
	assert_int_equal(m[0].mem, 1257ull << 20);
	assert_true(m[1].cpu == 0.25);
	assert_int_equal(m[0].cmd_argc, 0);
	{
		char **argv = NULL;
		size_t argc = 0;
		assert_int_equal(dconf_model_argv(&m[0], &argv, &argc), -ENOENT);
		free(m);
		m = NULL;
		assert_int_equal(
		    dconf_parse_models("{\"models\":[{\"name\":\"r\",\"cpu\":2,\"memory\":\"1G\","
				       "\"command\":[\"edgeslice-infer\",\"resnet-18\",\"\",\"--"
				       "threads\",\"2\"]}]}",
				       &m, &n, err, sizeof(err)),
		    0);
		assert_int_equal(m[0].cmd_argc, 5);
		assert_int_equal(dconf_model_argv(&m[0], &argv, &argc), 0);
		assert_int_equal(argc, 5);
		assert_string_equal(argv[0], "edgeslice-infer");
		assert_string_equal(argv[2], ""); /* empty arguments other than argv[0] are kept */
		assert_string_equal(argv[4], "2");
		assert_null(argv[5]);
		for (size_t i = 0; i < argc; i++)
			free(argv[i]);
		free(argv);
		free(m);
		m = NULL;
	}
	assert_int_equal(
	    dconf_parse_models(
		"{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\",\"command\":[]}]}", &m,
		&n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "models[0].command: must be an array"));
	assert_int_equal(
	    dconf_parse_models(
		"{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\",\"command\":\"ls\"}]}",
		&m, &n, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(
	    dconf_parse_models(
		"{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\",\"command\":[\"\"]}]}",
		&m, &n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "models[0].command[0]"));
	assert_int_equal(
	    dconf_parse_models(
		"{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\",\"command\":[\"x\",7]}]}",
		&m, &n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "models[0].command[1]"));
	assert_int_equal(dconf_parse_models("{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":"
					    "\"1M\",\"command\":[\"x\\u0000y\"]}]}",
					    &m, &n, err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dconf_parse_models("{\"models\":[{\"name\":\"a\",\"cpu\":1}]}", &m, &n,
					    err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "models[0]"));
	assert_int_equal(
	    dconf_parse_models(
		"{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\",\"gpu\":1}]}", &m, &n,
		err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "gpu"));
	assert_int_equal(
	    dconf_parse_models("{\"models\":[{\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\"},{"
			       "\"name\":\"a\",\"cpu\":1,\"memory\":\"1M\"}]}",
			       &m, &n, err, sizeof(err)),
	    -EINVAL);
	assert_non_null(strstr(err, "duplicate"));
	/* a key quoted back in the error cannot break the one-line rule (found by fuzzing) */
	assert_int_equal(
	    dconf_parse_models("{\"models\":[{\"na\\nme\":\"a\"}]}", &m, &n, err, sizeof(err)),
	    -EINVAL);
	assert_string_equal(err, "models[0].na?me: unknown field");
	assert_int_equal(dconf_parse_models("nope", &m, &n, err, sizeof(err)), -EINVAL);
	/* the shipped defaults are the paper's four models */
	assert_string_equal(dconf_default_models[3].name, "vgg-19");
	assert_true(dconf_default_models[3].cpu == 3);
	assert_int_equal(dconf_default_models[3].mem, 1658ull << 20);
}

/* The files `make install` ships must parse (tests run from the source tree). */
static void test_shipped_files(void **state)
{
	struct dconf c;
	struct dconf_model *m = NULL;
	size_t n;
	char err[256], *text = NULL;

	if (read_file_at(AT_FDCWD, "units/edgeslice.conf", &text, NULL) < 0)
		fail_msg(
		    "units/edgeslice.conf: not readable (run the unit tests from the source tree)");
	assert_int_equal(dconf_parse(text, &c, err, sizeof(err)), 0);
	assert_string_equal(c.policy, "rddrf");
	assert_int_equal(c.n_devices, 0); /* every key is commented out: the defaults */
	free(text);
	assert_int_equal(read_file_at(AT_FDCWD, "units/models.json", &text, NULL), 0);
	assert_int_equal(dconf_parse_models(text, &m, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(m[i].name, dconf_default_models[i].name);
		assert_true(m[i].cpu == dconf_default_models[i].cpu);
		assert_int_equal(m[i].mem, dconf_default_models[i].mem);
	}
	free(m);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),	 cmocka_unit_test(test_corruption),
	    cmocka_unit_test(test_app_fields),	 cmocka_unit_test(test_config),
	    cmocka_unit_test(test_config_fleet), cmocka_unit_test(test_fleet_id),
	    cmocka_unit_test(test_catalog),	 cmocka_unit_test(test_shipped_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
