/* cmd_ctl.c — the client side of the control socket: `edgeslice status`, `top`, `submit`,
 * `cancel`, `queues`, `devices`, `tasks`, `apps`, `events` (see docs/PROTOCOL.md, docs/DAEMON.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "jsonget.h"
#include "shaper.h"
#include "dapp.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/edgeslice/control.sock"

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len;
};

static const char *socket_path(const char *opt)
{
	const char *e = getenv("EDGESLICE_SOCKET");
	return opt ? opt : e && *e ? e : DEFAULT_SOCKET;
}

static int conn_open(const char *path, struct conn *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c->len = 0;
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return negative_errno();
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = negative_errno();
		close(c->fd);
		return r;
	}
	return 0;
}

/* One reply line as parsed JSON (caller puts it). */
static int conn_read(struct conn *c, json_object **ret)
{
	_cleanup_free_ char *acc = NULL;
	size_t acc_len = 0;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			char *line = malloc(acc_len + n + 1);
			if (!line)
				return -ENOMEM;
			if (acc_len)
				memcpy(line, acc, acc_len);
			memcpy(line + acc_len, c->buf, n);
			line[acc_len + n] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			*ret = json_tokener_parse(line);
			free(line);
			return *ret ? 0 : -EBADMSG;
		}
		if (c->len == sizeof(c->buf)) {
			/* replies can exceed the buffer (status with many tasks) */
			char *na = realloc(acc, acc_len + c->len);
			if (!na)
				return -ENOMEM;
			acc = na;
			memcpy(acc + acc_len, c->buf, c->len);
			acc_len += c->len;
			c->len = 0;
		}
		ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negative_errno();
		if (n == 0)
			return -ECONNRESET;
		c->len += (size_t)n;
	}
}

static int request(const char *cmd, const char *sock, json_object *req, json_object **ret);

int cli_ctl_request(const char *cmd, const char *sock, struct json_object *req,
		    struct json_object **ret)
{
	return request(cmd, sock, req, ret);
}

static int request(const char *cmd, const char *sock, json_object *req, json_object **ret)
{
	struct conn c;
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *line = NULL;
	json_object *rep = NULL, *ok, *err, *msg;
	int r = conn_open(socket_path(sock), &c);

	if (r < 0) {
		cli_error(cmd, "%s: %s (is edgesliced running?)", socket_path(sock), strerror(-r));
		return ES_EXIT_UNAVAILABLE;
	}
	if (asprintf(&line, "%s\n", s) < 0 ||
	    write(c.fd, line, strlen(line)) != (ssize_t)strlen(line)) {
		close(c.fd);
		return cli_error(cmd, "send: %m");
	}
	r = conn_read(&c, &rep);
	close(c.fd);
	if (r < 0)
		return cli_error(cmd, "reply: %s", strerror(-r));
	if (!json_object_object_get_ex(rep, "ok", &ok) || !json_object_get_boolean(ok)) {
		const char *m = "unknown error";
		if (json_object_object_get_ex(rep, "error", &err) &&
		    json_object_object_get_ex(err, "message", &msg))
			m = json_object_get_string(msg);
		r = cli_error(cmd, "%s", m);
		json_object_put(rep); /* m points into it */
		return r;
	}
	*ret = rep;
	return 0;
}

static double jd(json_object *o, const char *k)
{
	return jsonget_double(o, k, 0);
}
static int64_t ji(json_object *o, const char *k)
{
	return jsonget_int64(o, k, 0);
}
static const char *js(json_object *o, const char *k)
{
	return jsonget_string(o, k, "-");
}

static const char *mib(double bytes, char *buf, size_t n)
{
	snprintf(buf, n, "%.0fM", bytes / 1048576.0);
	return buf;
}

static void print_devices(json_object *arr)
{
	char a[32], b[32], c[32], e[32];
	printf("%-10s %-8s %8s %8s %8s %8s %9s %9s %9s %9s %4s\n", "DEVICE", "CPUS", "CORES",
	       "ALLOC", "USED", "FREE", "MEM", "MEMALLOC", "MEMUSED", "MEMFREE", "RUN");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		printf("%-10s %-8s %8.2f %8.2f %8.2f %8.2f %9s %9s %9s %9s %4" PRId64 "\n",
		       js(o, "name"), *js(o, "cpus") ? js(o, "cpus") : "all", jd(o, "cpu_total"),
		       jd(o, "cpu_alloc"), jd(o, "cpu_used"), jd(o, "cpu_free"),
		       mib(jd(o, "mem_total"), a, sizeof(a)), mib(jd(o, "mem_alloc"), b, sizeof(b)),
		       mib(jd(o, "mem_used"), c, sizeof(c)), mib(jd(o, "mem_free"), e, sizeof(e)),
		       ji(o, "running"));
	}
}

static void print_queues(json_object *arr)
{
	char a[32], b[32];
	printf("%-16s %6s %8s %6s %9s %7s %7s %9s %9s\n", "QUEUE", "CORES", "MEM", "SHARE",
	       "CPU-USE", "MEMUSE", "WAITING", "RUNNING", "MEANWAIT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		printf("%-16s %6.2f %8s %6.3f %9.2f %7s %7" PRId64 " %9" PRId64 " %8.2fs\n",
		       js(o, "name"), jd(o, "cpu_demand"), mib(jd(o, "mem_demand"), a, sizeof(a)),
		       jd(o, "dominant_share"), jd(o, "cpu_usage"),
		       mib(jd(o, "mem_usage"), b, sizeof(b)), ji(o, "waiting"), ji(o, "running"),
		       jd(o, "mean_wait_s"));
	}
}

/* A number at a path of nested objects ("measure", "bpf", "rq_p99_us", NULL). */
static bool jpath(json_object *o, double *ret, ...)
{
	va_list ap;
	const char *k;
	va_start(ap, ret);
	while (o && (k = va_arg(ap, const char *)))
		if (!json_object_object_get_ex(o, k, &o))
			o = NULL;
	va_end(ap);
	if (!o ||
	    !(json_object_is_type(o, json_type_double) || json_object_is_type(o, json_type_int)))
		return false;
	*ret = json_object_get_double(o);
	return true;
}

/* "-" where the node cannot measure it (no eBPF, no PSI) or the task is not running. */
static const char *fmt_opt(bool have, double v, const char *unit, char *buf, size_t n)
{
	if (!have)
		return "-";
	snprintf(buf, n, "%.0f%s", v, unit);
	return buf;
}

static void print_tasks(json_object *arr)
{
	char a[32], b[32], c[32], e[32], f[32];
	printf("%6s %-20s %-16s %-10s %-9s %6s %6s %8s %8s %8s %8s %6s %6s %s\n", "ID", "APP",
	       "QUEUE", "DEVICE", "STATE", "CORES", "USED", "MEM", "MEMUSED", "WAIT", "RQ-P99",
	       "THROT", "PSI", "COMMAND");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *argv;
		const char *cmd = "-";
		if (json_object_object_get_ex(o, "argv", &argv) && json_object_array_length(argv))
			cmd = json_object_get_string(json_object_array_get_idx(argv, 0));
		double rq = 0, thr = 0, psi = 0;
		bool hrq = jpath(o, &rq, "measure", "bpf", "rq_p99_us", NULL);
		bool hthr = jpath(o, &thr, "measure", "cpu", "throttled_frac", NULL);
		bool hpsi = jpath(o, &psi, "measure", "psi", "cpu", "some_avg10", NULL);
		char app[160] = "-"; /* application tasks: APPID:app/task (ids are consecutive, so
				      * an application's tasks are listed together) */
		if (ji(o, "app"))
			snprintf(app, sizeof(app), "%" PRId64 ":%s/%s", ji(o, "app"),
				 js(o, "app_name"), js(o, "name"));
		printf("%6" PRId64
		       " %-20s %-16s %-10s %-9s %6.2f %6.2f %8s %8s %7.2fs %8s %6s %6s %s\n",
		       ji(o, "id"), app, js(o, "queue"), js(o, "device"), js(o, "state"),
		       jd(o, "cpu_alloc"), jd(o, "cpu_used"), mib(jd(o, "mem_alloc"), a, sizeof(a)),
		       mib(jd(o, "mem_used"), b, sizeof(b)), jd(o, "wait_s"),
		       fmt_opt(hrq, rq >= 10000 ? rq / 1000 : rq, rq >= 10000 ? "ms" : "us", c,
			       sizeof(c)),
		       fmt_opt(hthr, 100 * thr, "%", e, sizeof(e)),
		       fmt_opt(hpsi, psi, "%", f, sizeof(f)), cmd);
	}
}

/* Applications, one line each and one indented line per task (name, id, state, reason). */
static void print_apps(json_object *arr)
{
	printf("%6s %-20s %-9s %7s\n", "APP", "NAME", "STATE", "DONE");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *ts, *af;
		printf("%6" PRId64 " %-20s %-9s %3" PRId64 "/%-3" PRId64 "\n", ji(o, "id"),
		       js(o, "name"), js(o, "state"), ji(o, "n_done"), ji(o, "n_tasks"));
		if (!json_object_object_get_ex(o, "tasks", &ts))
			continue;
		for (size_t k = 0; k < json_object_array_length(ts); k++) {
			json_object *t = json_object_array_get_idx(ts, k);
			char after[256] = "";
			size_t off = 0;
			if (json_object_object_get_ex(t, "after", &af))
				for (size_t a = 0;
				     a < json_object_array_length(af) && off < sizeof(after); a++)
					off +=
					    (size_t)snprintf(after + off, sizeof(after) - off,
							     "%s%s", a ? "," : " after ",
							     json_object_get_string(
								 json_object_array_get_idx(af, a)));
			char code[32] = "";
			if (ji(t, "exit_code") > 0)
				snprintf(code, sizeof(code), " %" PRId64, ji(t, "exit_code"));
			printf("       %-16s task %-6" PRId64 " %-9s %s%s%s\n", js(t, "name"),
			       ji(t, "task"), js(t, "state"),
			       strcmp(js(t, "reason"), "-") ? js(t, "reason") : "", code, after);
		}
	}
}

/* The devices, queues and tasks tables of a status reply (node or fleet view). */
static void print_tables(json_object *rep)
{
	json_object *v;

	if (json_object_object_get_ex(rep, "devices", &v))
		print_devices(v);
	printf("\n");
	if (json_object_object_get_ex(rep, "queues", &v))
		print_queues(v);
	printf("\n");
	if (json_object_object_get_ex(rep, "tasks", &v))
		print_tasks(v);
}

/* Common option parsing for the read commands: --json, --socket. */
struct ropts {
	bool json;
	bool fleet; /* status --fleet */
	const char *sock;
	double interval;
};

static int parse_ropts(int argc, char **argv, const char *help, struct ropts *o, bool top)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},		{"socket", required_argument, NULL, 's'},
	    {"interval", required_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
	    {"fleet", no_argument, NULL, 'f'},		{},
	};
	int c;
	optind = 1;
	o->interval = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 's':
			o->sock = optarg;
			break;
		case 'f':
			o->fleet = true;
			break;
		case 'i':
			if (!top || parse_double(optarg, &o->interval) < 0 || o->interval < 0.1)
				return cli_usage_error(argv[0],
						       "--interval: must be >= 0.1 seconds");
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return cli_usage_error(argv[0], "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(argv[0], "unexpected argument '%s'", argv[optind]);
	return 0;
}

static int simple(int argc, char **argv, const char *op, const char *help,
		  void (*print)(json_object *), const char *key)
{
	struct ropts o = {0};
	json_object *req, *rep = NULL, *v;
	int r = parse_ropts(argc, argv, help, &o, false);

	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	if (o.fleet)
		return cli_usage_error(argv[0], "--fleet: only for status and top");
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string(op));
	r = request(argv[0], o.sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (o.json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else if (json_object_object_get_ex(rep, key, &v))
		print(v);
	json_object_put(rep);
	return ES_EXIT_OK;
}

static const char status_help[] =
    "Usage: edgeslice status [--fleet] [--json] [--socket PATH]\n\n"
    "Live allocations, like systemd-cgtop: per device its capacity, allocated, used and free\n"
    "cores and memory; per queue its demand, dominant share and waiting/running counts; per\n"
    "live task its queue, device, state, cores and memory allocated/used, waiting time, and as\n"
    "measured: run-queue latency p99 (RQ-P99, eBPF only), share of time throttled by cpu.max\n"
    "(THROT) and CPU pressure (PSI, some avg10). \"-\": not measurable on this node.\n\n"
    "  --fleet        fleet mode: every node's devices, the fleet's queues and tasks, as the\n"
    "                 daemon reads them from etcd (devices named NODE/DEVICE)\n"
    "  --json         the daemon's reply as JSON (see docs/PROTOCOL.md)\n"
    "  --socket PATH  control socket (default $EDGESLICE_SOCKET or " DEFAULT_SOCKET ")\n";

static int show_status(const struct ropts *o, const char *cmd)
{
	json_object *req = json_object_new_object(), *rep = NULL, *v;
	int r;
	json_object_object_add(req, "op", json_object_new_string(o->fleet ? "fleet" : "status"));
	r = request(cmd, o->sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (o->json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else if (o->fleet) {
		json_object *fo = NULL, *nodes = NULL;
		json_object_object_get_ex(rep, "fleet", &fo);
		json_object_object_get_ex(fo, "nodes", &nodes);
		printf("fleet: %zu node(s), placer %s, read by %s from %s\n\n",
		       nodes ? json_object_array_length(nodes) : 0, js(fo, "placer"),
		       js(fo, "node"), js(fo, "endpoint"));
		print_tables(rep);
	} else {
		double busy = 0, ncpu = 0, psi = 0;
		json_object *m = NULL;
		printf("policy %s%s, measuring with %s", js(rep, "policy"),
		       json_object_object_get_ex(rep, "draining", &v) && json_object_get_boolean(v)
			   ? " (draining)"
			   : "",
		       json_object_object_get_ex(rep, "measure", &m) &&
			       !strcmp(js(m, "source"), "ebpf")
			   ? "eBPF + cgroup files"
			   : "cgroup files");
		if (m && strcmp(js(m, "ebpf_error"), "-"))
			printf(" (eBPF: %s)", js(m, "ebpf_error"));
		if (jpath(rep, &busy, "measure", "node", "cores_busy", NULL) &&
		    jpath(rep, &ncpu, "measure", "node", "ncpus", NULL))
			printf("; node %.2f of %.0f cores busy", busy, ncpu);
		if (jpath(rep, &psi, "measure", "node", "psi", "cpu", "some_avg10", NULL))
			printf(", cpu pressure %.1f%%", psi);
		printf("\n\n");
		print_tables(rep);
		if (json_object_object_get_ex(rep, "apps", &v) && json_object_array_length(v)) {
			printf("\n");
			print_apps(v);
		}
	}
	json_object_put(rep);
	return ES_EXIT_OK;
}

static int cmd_status(int argc, char **argv)
{
	struct ropts o = {0};
	int r = parse_ropts(argc, argv, status_help, &o, false);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	return show_status(&o, argv[0]);
}
ES_COMMAND("status", cmd_status, "Show live allocations per device, queue and task");

static const char top_help[] = "Usage: edgeslice top [--interval SEC] [--json] [--socket PATH]\n\n"
			       "Repeats `edgeslice status` every SEC seconds (default 1) until "
			       "interrupted.\n";

static int cmd_top(int argc, char **argv)
{
	struct ropts o = {0};
	int r = parse_ropts(argc, argv, top_help, &o, true);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	for (;;) {
		if (!o.json && isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		r = show_status(&o, argv[0]);
		if (r)
			return r;
		fflush(stdout);
		usleep((useconds_t)(o.interval * 1e6));
	}
}
ES_COMMAND("top", cmd_top, "Refresh `status` continuously");

static int cmd_queues(int argc, char **argv)
{
	return simple(
	    argc, argv, "queues",
	    "Usage: edgeslice queues [--json] [--socket PATH]\n\nQueues with their demand, "
	    "dominant share, waiting and running counts and mean waiting time.\n",
	    print_queues, "queues");
}
ES_COMMAND("queues", cmd_queues, "List queues and their dominant shares");

static int cmd_devices(int argc, char **argv)
{
	return simple(argc, argv, "devices",
		      "Usage: edgeslice devices [--json] [--socket PATH]\n\nDevices with capacity, "
		      "allocated, used and free cores and memory.\n",
		      print_devices, "devices");
}
ES_COMMAND("devices", cmd_devices, "List devices and their capacity");

static int cmd_tasks(int argc, char **argv)
{
	return simple(argc, argv, "tasks",
		      "Usage: edgeslice tasks [--json] [--socket PATH]\n\nEvery task the daemon "
		      "knows, live and recently finished (keep_finished in the config).\n",
		      print_tasks, "tasks");
}
ES_COMMAND("tasks", cmd_tasks, "List tasks, including recently finished ones");

static int cmd_apps(int argc, char **argv)
{
	return simple(
	    argc, argv, "apps",
	    "Usage: edgeslice apps [--json] [--socket PATH]\n\nApplications (DAGs submitted "
	    "with `submit --app`): state (waiting, running, done, failed, cancelled), tasks "
	    "done, and per task its id, state, reason and predecessors.\n",
	    print_apps, "apps");
}
ES_COMMAND("apps", cmd_apps, "List DAG applications and the state of their tasks");

/* Sends a submit request (consumed) and prints the reply: JSON, or the new id under key. */
static int submit_send(json_object *req, const char *sock, bool json, const char *key)
{
	json_object *rep = NULL;
	int r = request("submit", sock, req, &rep);

	json_object_put(req);
	if (r)
		return r;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else
		printf("%" PRId64 "\n", ji(rep, key));
	json_object_put(rep);
	return ES_EXIT_OK;
}

/* `submit --app FILE`: checked here first, so that errors name the file. */
static int submit_app(const char *path, const char *sock, bool json)
{
	_cleanup_free_ char *text = NULL;
	struct dapp *a = calloc(1, sizeof(*a));
	struct dapp_error e;
	json_object *req;
	size_t len = 0;
	int r;

	if (!a)
		return cli_error("submit", "out of memory");
	r = read_file_at(AT_FDCWD, path, &text, &len);
	if (r < 0) {
		free(a);
		return cli_usage_error("submit", "%s: %s", path, strerror(-r));
	}
	r = dapp_parse(text, len, a, &e);
	dapp_done(a);
	free(a);
	if (r < 0)
		return cli_usage_error("submit", "%s: %s", path, e.message);
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("submit-app"));
	json_object_object_add(req, "app", json_tokener_parse(text));
	return submit_send(req, sock, json, "app");
}

static const char submit_help[] =
    "Usage: edgeslice submit --queue Q [--demand CORES,MEM] [--upload-rate R] [--json]\n"
    "                        [--socket PATH] [-- CMD [ARG...]]\n"
    "       edgeslice submit --app FILE.json [--json] [--socket PATH]\n\n"
    "Queues CMD as an inference task of queue Q. The demand (e.g. 2c,1257M) defaults to the\n"
    "queue's, or to the model catalog entry named Q. Without CMD the task runs the catalog\n"
    "entry's command (e.g. edgeslice-infer MODEL --threads N --duration S, written by\n"
    "`edgeslice profile MODEL --catalog FILE`). The task is acknowledged only after it was\n"
    "written to the daemon's state; prints the task id.\n\n"
    "  --upload-rate R  shape the task's uploads on the node's uplink (uplink = in\n"
    "                   edgeslice.conf) to R: 5.85mbit, 700kbit, or a preset 3g, 4g, wifi;\n"
    "                   its class exists before the task starts and goes when it ends\n\n"
    "--app submits a DAG application (docs/DAEMON.md): {\"name\":..., \"tasks\":[{\"name\",\n"
    "\"queue\" or \"model\", \"demand\", \"argv\", \"after\":[names], \"compute_s\"}]}; a task is\n"
    "queued once its predecessors exited 0 and fails when one of them failed. Prints the\n"
    "application id (cancel it with `edgeslice cancel --app ID`).\n";

static int cmd_submit(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"queue", required_argument, NULL, 'q'},
	    {"demand", required_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'j'},
	    {"socket", required_argument, NULL, 's'},
	    {"upload-rate", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {"app", required_argument, NULL, 'a'},
	    {},
	};
	const char *queue = NULL, *sock = NULL, *app = NULL;
	uint64_t upload = 0;
	bool json = false, has_demand = false;
	double cpu = 0;
	uint64_t mem = 0;
	json_object *req, *a;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
		switch (c) {
		case 'q':
			queue = optarg;
			break;
		case 'a':
			app = optarg;
			break;
		case 'd': {
			char *comma = strchr(optarg, ',');
			_cleanup_free_ char *cs =
			    comma ? strndup(optarg, (size_t)(comma - optarg)) : NULL;
			if (!comma || parse_cores(cs, &cpu) < 0 || cpu <= 0 ||
			    parse_bytes(comma + 1, &mem) < 0 || mem == 0)
				return cli_usage_error(
				    "submit", "--demand: must be CORES,MEMORY (e.g. 2c,1257M)");
			has_demand = true;
			break;
		}
		case 'u':
			if (shaper_parse_rate(optarg, &upload) < 0)
				return cli_usage_error(
				    "submit",
				    "--upload-rate: must be a rate between 8kbit and "
				    "100gbit (5.85mbit, 700kbit) or a preset (3g, 4g, wifi)");
			break;
		case 'j':
			json = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			fputs(submit_help, stdout);
			return ES_EXIT_OK;
		default:
			return cli_usage_error("submit", "unknown option");
		}
	}
	if (app) {
		if (queue || has_demand || upload || optind < argc)
			return cli_usage_error(
			    "submit", "--app: the file gives queues, demands and commands");
		return submit_app(app, sock, json);
	}
	if (!queue)
		return cli_usage_error("submit", "--queue: missing (or --app)");
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("submit"));
	json_object_object_add(req, "queue", json_object_new_string(queue));
	if (upload)
		json_object_object_add(req, "upload_rate", json_object_new_int64((int64_t)upload));
	if (optind < argc) { /* else the catalog's command for the queue */
		a = json_object_new_array();
		for (int i = optind; i < argc; i++)
			json_object_array_add(a, json_object_new_string(argv[i]));
		json_object_object_add(req, "argv", a);
	}
	if (has_demand) {
		json_object *d = json_object_new_object();
		json_object_object_add(d, "cpu", json_object_new_double(cpu));
		json_object_object_add(d, "memory", json_object_new_int64((int64_t)mem));
		json_object_object_add(req, "demand", d);
	}
	return submit_send(req, sock, json, "task");
}
ES_COMMAND("submit", cmd_submit, "Queue a task: submit --queue Q [--demand 2c,1257M] -- CMD");

static int cmd_cancel(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},  {"socket", required_argument, NULL, 's'},
	    {"help", no_argument, NULL, 'h'},  {"app", no_argument, NULL, 'a'},
	    {"fleet", no_argument, NULL, 'f'}, {},
	};
	const char *sock = NULL;
	bool json = false, app = false, fleet = false;
	uint64_t id;
	json_object *req, *rep = NULL;
	int c, r;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'a':
			app = true;
			break;
		case 'f':
			fleet = true;
			break;
		case 'j':
			json = true;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			printf("Usage: edgeslice cancel [--app | --fleet] [--json] [--socket PATH] "
			       "ID\n\nRemoves a queued "
			       "task, or kills a running one (its whole cgroup). With --app, ID is "
			       "an\n"
			       "application: its waiting and queued tasks are removed, its running "
			       "ones killed.\n"
			       "With --fleet (fleet mode, any node), ID is a fleet task id: queued "
			       "or assigned\n"
			       "but not started, it is removed at once (\"cancelled\"); started, "
			       "its node kills\n"
			       "it (\"cancelling\"; `status --fleet` shows \"cancelled\" once it "
			       "has ended).\n");
			return ES_EXIT_OK;
		default:
			return cli_usage_error("cancel", "unknown option");
		}
	}
	if (app && fleet)
		return cli_usage_error("cancel", "--app and --fleet: give only one");
	if (optind + 1 != argc || parse_u64(argv[optind], &id) < 0 || id == 0 || id > INT64_MAX)
		return cli_usage_error("cancel", "ID: must be one %s id",
				       app     ? "application"
				       : fleet ? "fleet task"
					       : "task");
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("cancel"));
	json_object_object_add(req, app ? "app" : "task", json_object_new_int64((int64_t)id));
	if (fleet)
		json_object_object_add(req, "fleet", json_object_new_boolean(1));
	r = request("cancel", sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else if (fleet)
		printf("%s\n", js(rep, "state"));
	json_object_put(rep);
	return ES_EXIT_OK;
}
ES_COMMAND("cancel", cmd_cancel, "Cancel a queued or running task");

static const char reload_help[] =
    "Usage: edgeslice reload [--json] [--socket PATH]\n\n"
    "Makes edgesliced re-read edgeslice.conf and the model catalog (like SIGHUP). Keys that\n"
    "can change under running tasks (measure_interval_ms, placement, on_sigterm, group,\n"
    "catalog, max_tasks, keep_finished) take effect at once; the others (policy, seed, device,\n"
    "node_cores, node_memory, enforcement, measure, measure_smoothing) are listed as needing a\n"
    "restart and keep their running values. A file with an error changes nothing.\n\n"
    "  --json         the daemon's reply as JSON\n"
    "  --socket PATH  control socket (default $EDGESLICE_SOCKET or " DEFAULT_SOCKET ")\n";

static int cmd_reload(int argc, char **argv)
{
	struct ropts o = {0};
	json_object *req, *rep = NULL, *a;
	int r = parse_ropts(argc, argv, reload_help, &o, false);

	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("reload"));
	r = request(argv[0], o.sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (o.json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else {
		printf("reloaded: %" PRId64 " models in the catalog\n", ji(rep, "models"));
		if (json_object_object_get_ex(rep, "restart_required", &a) &&
		    json_object_array_length(a)) {
			printf("changed, but only a restart applies them:");
			for (size_t i = 0; i < json_object_array_length(a); i++)
				printf(" %s",
				       json_object_get_string(json_object_array_get_idx(a, i)));
			printf("\n");
		}
	}
	json_object_put(rep);
	return ES_EXIT_OK;
}
ES_COMMAND("reload", cmd_reload, "Re-read edgeslice.conf and the model catalog");

static int cmd_events(int argc, char **argv)
{
	struct ropts o = {0};
	struct conn c;
	json_object *rep;
	static const char req[] = "{\"op\":\"events\"}\n";
	int r =
	    parse_ropts(argc, argv,
			"Usage: edgeslice events [--json] [--socket PATH]\n\nFollows placements "
			"and exits as they happen (one line each) until interrupted.\n",
			&o, false);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	r = conn_open(socket_path(o.sock), &c);
	if (r < 0) {
		cli_error("events", "%s: %s (is edgesliced running?)", socket_path(o.sock),
			  strerror(-r));
		return ES_EXIT_UNAVAILABLE;
	}
	if (write(c.fd, req, sizeof(req) - 1) != sizeof(req) - 1)
		return cli_error("events", "send: %m");
	for (bool first = true;; first = false) {
		r = conn_read(&c, &rep);
		if (r < 0) {
			close(c.fd);
			return r == -ECONNRESET ? ES_EXIT_OK
						: cli_error("events", "%s", strerror(-r));
		}
		if (first) {
			json_object_put(rep);
			continue;
		}
		if (o.json)
			printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PLAIN));
		else
			printf("%-9s task %-6" PRId64 " %-16s %-10s %s %s\n", js(rep, "event"),
			       ji(rep, "task"), js(rep, "queue"), js(rep, "device"),
			       js(rep, "state"), js(rep, "reason"));
		fflush(stdout);
		json_object_put(rep);
	}
}
ES_COMMAND("events", cmd_events, "Follow placements and exits");
