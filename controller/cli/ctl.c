/* ctl.c — the client side of the control socket, shared by the verbs `status`, `top`, `submit`,
 * `cancel`, `queues`, `devices`, `tasks`, `apps`, `reload`, `events` (one cmd_*.c each; see
 * docs/PROTOCOL.md, docs/DAEMON.md): connection, one request, table printers. */
#include "ctl.h"

const char *ctl_socket_path(const char *opt)
{
	const char *e = getenv("EDGESLICE_SOCKET");
	return opt ? opt : e && *e ? e : DEFAULT_SOCKET;
}

int ctl_conn_open(const char *path, struct conn *c)
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
int ctl_conn_read(struct conn *c, json_object **ret)
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

int cli_ctl_request(const char *cmd, const char *sock, struct json_object *req,
		    struct json_object **ret)
{
	return ctl_request(cmd, sock, req, ret);
}

int ctl_request(const char *cmd, const char *sock, json_object *req, json_object **ret)
{
	struct conn c;
	const char *s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	_cleanup_free_ char *line = NULL;
	json_object *rep = NULL, *ok, *err, *msg;
	int r = ctl_conn_open(ctl_socket_path(sock), &c);

	if (r < 0) {
		cli_error(cmd, "%s: %s (is edgesliced running?)", ctl_socket_path(sock),
			  strerror(-r));
		return ES_EXIT_UNAVAILABLE;
	}
	if (asprintf(&line, "%s\n", s) < 0) {
		close(c.fd);
		return cli_error(cmd, "send: %m");
	}
	/* A refused peer (permission, limits) gets its error line at connect and is closed:
	 * the send may fail, the line is still there to read. */
	ssize_t sent = send(c.fd, line, strlen(line), MSG_NOSIGNAL);
	int send_errno = errno;
	r = ctl_conn_read(&c, &rep);
	close(c.fd);
	if (r < 0 && sent != (ssize_t)strlen(line))
		return cli_error(cmd, "send: %s", strerror(send_errno));
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
int64_t ctl_ji(json_object *o, const char *k)
{
	return jsonget_int64(o, k, 0);
}
const char *ctl_js(json_object *o, const char *k)
{
	return jsonget_string(o, k, "-");
}

static const char *mib(double bytes, char *buf, size_t n)
{
	snprintf(buf, n, "%.0fM", bytes / 1048576.0);
	return buf;
}

void ctl_print_devices(json_object *arr)
{
	char a[32], b[32], c[32], e[32];
	printf("%-10s %-8s %8s %8s %8s %8s %8s %9s %9s %9s %9s %4s\n", "DEVICE", "CPUS", "CORES",
	       "ALLOC", "USED", "FOREIGN", "FREE", "MEM", "MEMALLOC", "MEMUSED", "MEMFREE", "RUN");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		printf("%-10s %-8s %8.2f %8.2f %8.2f %8.2f %8.2f %9s %9s %9s %9s %4" PRId64 "\n",
		       ctl_js(o, "name"), *ctl_js(o, "cpus") ? ctl_js(o, "cpus") : "all",
		       jd(o, "cpu_total"), jd(o, "cpu_alloc"), jd(o, "cpu_used"),
		       jd(o, "cpu_foreign"), jd(o, "cpu_free"),
		       mib(jd(o, "mem_total"), a, sizeof(a)), mib(jd(o, "mem_alloc"), b, sizeof(b)),
		       mib(jd(o, "mem_used"), c, sizeof(c)), mib(jd(o, "mem_free"), e, sizeof(e)),
		       ctl_ji(o, "running"));
	}
}

void ctl_print_queues(json_object *arr)
{
	char a[32], b[32];
	printf("%-16s %6s %8s %6s %9s %7s %7s %9s %9s\n", "QUEUE", "CORES", "MEM", "SHARE",
	       "CPU-USE", "MEMUSE", "WAITING", "RUNNING", "MEANWAIT");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		printf("%-16s %6.2f %8s %6.3f %9.2f %7s %7" PRId64 " %9" PRId64 " %8.2fs\n",
		       ctl_js(o, "name"), jd(o, "cpu_demand"),
		       mib(jd(o, "mem_demand"), a, sizeof(a)), jd(o, "dominant_share"),
		       jd(o, "cpu_usage"), mib(jd(o, "mem_usage"), b, sizeof(b)),
		       ctl_ji(o, "waiting"), ctl_ji(o, "running"), jd(o, "mean_wait_s"));
	}
}

/* A number at a path of nested objects ("measure", "bpf", "rq_p99_us", NULL). */
bool ctl_jpath(json_object *o, double *ret, ...)
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

/* Set from a status reply's "kernel" object: PSI is off on this node (psi=0). */
static bool ctl_psi_off;

void ctl_print_tasks(json_object *arr)
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
		bool hrq = ctl_jpath(o, &rq, "measure", "bpf", "rq_p99_us", NULL);
		bool hthr = ctl_jpath(o, &thr, "measure", "cpu", "throttled_frac", NULL);
		bool hpsi = ctl_jpath(o, &psi, "measure", "psi", "cpu", "some_avg10", NULL);
		json_object *me = NULL;
		/* "*": the memory demand is accounted but not a limit (no memory controller). */
		bool unenforced = json_object_object_get_ex(o, "mem_enforced", &me) &&
				  !json_object_get_boolean(me);
		char mem[40];
		snprintf(mem, sizeof(mem), "%s%s", mib(jd(o, "mem_alloc"), a, sizeof(a)),
			 unenforced ? "*" : "");
		char app[160] = "-"; /* application tasks: APPID:app/task (ids are consecutive, so
				      * an application's tasks are listed together) */
		if (ctl_ji(o, "app"))
			snprintf(app, sizeof(app), "%" PRId64 ":%s/%s", ctl_ji(o, "app"),
				 ctl_js(o, "app_name"), ctl_js(o, "name"));
		printf("%6" PRId64
		       " %-20s %-16s %-10s %-9s %6.2f %6.2f %8s %8s %7.2fs %8s %6s %6s %s\n",
		       ctl_ji(o, "id"), app, ctl_js(o, "queue"), ctl_js(o, "device"),
		       ctl_js(o, "state"), jd(o, "cpu_alloc"), jd(o, "cpu_used"), mem,
		       mib(jd(o, "mem_used"), b, sizeof(b)), jd(o, "wait_s"),
		       fmt_opt(hrq, rq >= 10000 ? rq / 1000 : rq, rq >= 10000 ? "ms" : "us", c,
			       sizeof(c)),
		       fmt_opt(hthr, 100 * thr, "%", e, sizeof(e)),
		       ctl_psi_off ? "n/a" : fmt_opt(hpsi, psi, "%", f, sizeof(f)), cmd);
	}
}

/* Applications, one line each and one indented line per task (name, id, state, reason). */
void ctl_print_apps(json_object *arr)
{
	printf("%6s %-20s %-9s %7s\n", "APP", "NAME", "STATE", "DONE");
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i), *ts, *af;
		printf("%6" PRId64 " %-20s %-9s %3" PRId64 "/%-3" PRId64 "\n", ctl_ji(o, "id"),
		       ctl_js(o, "name"), ctl_js(o, "state"), ctl_ji(o, "n_done"),
		       ctl_ji(o, "n_tasks"));
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
			if (ctl_ji(t, "exit_code") > 0)
				snprintf(code, sizeof(code), " %" PRId64, ctl_ji(t, "exit_code"));
			printf("       %-16s task %-6" PRId64 " %-9s %s%s%s\n", ctl_js(t, "name"),
			       ctl_ji(t, "task"), ctl_js(t, "state"),
			       strcmp(ctl_js(t, "reason"), "-") ? ctl_js(t, "reason") : "", code,
			       after);
		}
	}
}

/* The biggest cgroups of other runtimes, under the devices (FOREIGN is what RD-DRF
 * subtracts; the rows say whose it is). */
static void ctl_print_foreign(json_object *rep)
{
	json_object *f = NULL, *rows = NULL, *b = NULL;
	char a[32];

	if (!json_object_object_get_ex(rep, "foreign", &f))
		return;
	if (json_object_object_get_ex(f, "backoff", &b) && json_object_get_boolean(b))
		printf("! node pressure above pressure_backoff (cpu %.1f%%, memory %.1f%%): RD-DRF "
		       "places nothing until it falls\n",
		       jd(f, "pressure_cpu"), jd(f, "pressure_memory"));
	if (!json_object_object_get_ex(f, "cgroups", &rows) || !json_object_array_length(rows))
		return;
	printf("%-10s %-10s %8s %9s  %s\n", "foreign", "KIND", "CORES", "MEM", "CGROUP");
	for (size_t i = 0; i < json_object_array_length(rows); i++) {
		json_object *o = json_object_array_get_idx(rows, i);
		printf("%-10s %-10s %8.2f %9s  %s\n", "", ctl_js(o, "kind"), jd(o, "cpu_cores"),
		       mib(jd(o, "mem_bytes"), a, sizeof(a)), ctl_js(o, "cgroup"));
	}
}

/* The devices, queues and tasks tables of a status reply (node or fleet view). */
void ctl_print_tables(json_object *rep)
{
	json_object *v;

	if (json_object_object_get_ex(rep, "devices", &v))
		ctl_print_devices(v);
	ctl_print_foreign(rep);
	printf("\n");
	if (json_object_object_get_ex(rep, "queues", &v))
		ctl_print_queues(v);
	printf("\n");
	json_object *k = NULL, *psi = NULL, *me = NULL;
	ctl_psi_off = json_object_object_get_ex(rep, "kernel", &k) &&
		      json_object_object_get_ex(k, "psi", &psi) && !json_object_get_boolean(psi);
	if (json_object_object_get_ex(rep, "tasks", &v)) {
		ctl_print_tasks(v);
		if (json_object_object_get_ex(k, "memory_enforced", &me) &&
		    !json_object_get_boolean(me) && json_object_array_length(v))
			printf("* memory demand accounted, not enforced: no memory controller "
			       "(see the line above the tables)\n");
	}
}

int ctl_parse_ropts(int argc, char **argv, const char *help, struct ropts *o, bool top)
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

int ctl_simple(int argc, char **argv, const char *op, const char *help,
	       void (*print)(json_object *), const char *key)
{
	struct ropts o = {0};
	json_object *req, *rep = NULL, *v;
	int r = ctl_parse_ropts(argc, argv, help, &o, false);

	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	if (o.fleet)
		return cli_usage_error(argv[0], "--fleet: only for status and top");
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string(op));
	r = ctl_request(argv[0], o.sock, req, &rep);
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
