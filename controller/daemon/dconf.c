/* dconf.c — parsing of edgesliced's key = value configuration and JSON model catalog.
 * key = value because admins edit it by hand (comments, no quoting); the catalog is data. */
#include "dconf.h"

#include <ctype.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <sys/socket.h>

#include "metrics.h"
#include "proto.h"
#include "shaper.h"
#include "util.h"

const struct dconf_model dconf_default_models[4] = {
    {.name = "inception-v3", .cpu = 2, .mem = 80ull << 20},
    {.name = "mobilenet-v2", .cpu = 1, .mem = 330ull << 20},
    {.name = "resnet-18", .cpu = 2, .mem = 1257ull << 20},
    {.name = "vgg-19", .cpu = 3, .mem = 1658ull << 20},
};

static const char *const policies[] = {"rddrf", "drf", "drf-paper", "rr", "random"};

void dconf_init(struct dconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->policy, sizeof(c->policy), "rddrf");
	c->seed = 1;
	c->measure_ms = 100;
	c->measure = DCONF_MEASURE_AUTO;
	c->smoothing = 0.5;
	c->on_sigterm = DCONF_SIGTERM_LEAVE;
	c->strict = false;
	snprintf(c->group, sizeof(c->group), "edgeslice");
	snprintf(c->oci_runtime, sizeof(c->oci_runtime), "crun");
	c->foreign_floor = 0.2;
	snprintf(c->catalog, sizeof(c->catalog), "/etc/edgeslice/models.json");
	c->max_tasks = 10000;
	c->prepare_cgroups = 4;
	c->keep_finished = 256;
	c->idle_timeout_s = 60;
	c->write_timeout_s = 30;
	snprintf(c->fleet.endpoints, sizeof(c->fleet.endpoints), "http://127.0.0.1:2379");
	c->fleet.lease_ttl = 5;
}

static int err_at(char *err, size_t errsz, unsigned line, const char *fmt, ...) _printf_(4, 5);
static int err_at(char *err, size_t errsz, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = line ? snprintf(err, errsz, "line %u: ", line) : 0;

	if (n < 0 || (size_t)n >= errsz)
		n = 0;
	va_start(ap, fmt);
	(void)verrf(err + n, errsz - (size_t)n, 0, fmt, ap);
	va_end(ap);
	str_one_line(err);
	return -EINVAL;
}

/* "http://h:p,https://h:p": each an http(s) URL with a host, at most FLEET_MAX_ENDPOINTS. */
static bool endpoints_valid(const char *v)
{
	size_t n = 0;
	const char *p = v;

	if (!*v)
		return false;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p), skip;
		if (!strncmp(p, "http://", 7))
			skip = 7;
		else if (!strncmp(p, "https://", 8))
			skip = 8;
		else
			return false;
		if (len <= skip || memchr(p, ' ', len) || ++n > FLEET_MAX_ENDPOINTS)
			return false;
		if (!e)
			break;
		p = e + 1;
		if (!*p)
			return false;
	}
	return true;
}

static int set_path(char *dst, size_t size, const char *v, const char *key, char *err, size_t errsz,
		    unsigned line)
{
	if (v[0] != '/' || strlen(v) >= size)
		return err_at(err, errsz, line, "%s: must be an absolute path", key);
	snprintf(dst, size, "%s", v);
	return 0;
}

int dconf_cpulist_count(const char *s, unsigned *ret)
{
	unsigned count = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		char *end;
		unsigned long a, b;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		a = strtoul(p, &end, 10);
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			b = strtoul(p, &end, 10);
			p = end;
		}
		if (b < a || b >= 4096)
			return -EINVAL;
		count += (unsigned)(b - a + 1);
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	*ret = count;
	return 0;
}

static char *strip(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "NAME cpus=0-1 memory=2G [cores=1.5]" */
static int parse_device(char *v, struct dconf_device *d, char *err, size_t errsz, unsigned line)
{
	char *save = NULL, *tok = strtok_r(v, " \t", &save);

	memset(d, 0, sizeof(*d));
	if (!tok || !proto_name_valid(tok))
		return err_at(err, errsz, line, "device: a name (A-Z a-z 0-9 _ . -) comes first");
	snprintf(d->name, sizeof(d->name), "%s", tok);
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *eq = strchr(tok, '=');
		if (!eq)
			return err_at(err, errsz, line,
				      "device %s: expected key=value, got \"%.40s\"", d->name, tok);
		*eq++ = '\0';
		if (!strcmp(tok, "cpus")) {
			unsigned n;
			if (dconf_cpulist_count(eq, &n) < 0 || strlen(eq) >= sizeof(d->cpus))
				return err_at(err, errsz, line,
					      "device %s: cpus: not a CPU list (e.g. 0-1,3)",
					      d->name);
			snprintf(d->cpus, sizeof(d->cpus), "%s", eq);
			if (d->cpu == 0)
				d->cpu = n;
		} else if (!strcmp(tok, "cores")) {
			if (parse_cores(eq, &d->cpu) < 0 || d->cpu <= 0)
				return err_at(err, errsz, line,
					      "device %s: cores: not a core count", d->name);
		} else if (!strcmp(tok, "memory")) {
			if (parse_bytes(eq, &d->mem) < 0 || d->mem == 0)
				return err_at(err, errsz, line,
					      "device %s: memory: not a size (e.g. 2G)", d->name);
		} else
			return err_at(err, errsz, line,
				      "device %s: %.40s: unknown key (cpus, cores, memory)",
				      d->name, tok);
	}
	return 0;
}

/* The node service's own keys. 0 set, -EINVAL (err says why), 1 not one of these keys. */
static int set_node_key(struct dconf *c, const char *k, char *v, char *err, size_t errsz,
			unsigned line)
{
	if (!strcmp(k, "policy")) {
		bool ok = false;
		for (size_t i = 0; i < ELEMENTSOF(policies); i++)
			ok |= !strcmp(v, policies[i]);
		if (!ok)
			return err_at(
			    err, errsz, line,
			    "policy: unknown \"%.20s\" (rddrf, drf, drf-paper, rr, random)", v);
		snprintf(c->policy, sizeof(c->policy), "%s", v);
	} else if (!strcmp(k, "seed")) {
		if (parse_u64(v, &c->seed) < 0)
			return err_at(err, errsz, line, "seed: must be a non-negative integer");
	} else if (!strcmp(k, "measure_interval_ms")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x < 10 || x > 60000)
			return err_at(err, errsz, line, "measure_interval_ms: must be 10..60000");
		c->measure_ms = (unsigned)x;
	} else if (!strcmp(k, "measure")) {
		if (!strcmp(v, "auto"))
			c->measure = DCONF_MEASURE_AUTO;
		else if (!strcmp(v, "ebpf"))
			c->measure = DCONF_MEASURE_EBPF;
		else if (!strcmp(v, "cgroup"))
			c->measure = DCONF_MEASURE_CGROUP;
		else
			return err_at(err, errsz, line, "measure: must be auto, ebpf or cgroup");
	} else if (!strcmp(k, "measure_smoothing")) {
		char *end;
		double x;
		errno = 0;
		x = strtod(v, &end);
		if (errno || end == v || *end || !(x > 0 && x <= 1))
			return err_at(err, errsz, line, "measure_smoothing: must be in (0, 1]");
		c->smoothing = x;
	} else if (!strcmp(k, "on_sigterm")) {
		if (!strcmp(v, "leave"))
			c->on_sigterm = DCONF_SIGTERM_LEAVE;
		else if (!strcmp(v, "drain"))
			c->on_sigterm = DCONF_SIGTERM_DRAIN;
		else
			return err_at(err, errsz, line, "on_sigterm: must be leave or drain");
	} else if (!strcmp(k, "enforcement")) {
		if (!strcmp(v, "strict"))
			c->strict = true;
		else if (!strcmp(v, "best-effort"))
			c->strict = false;
		else
			return err_at(err, errsz, line,
				      "enforcement: must be strict or best-effort");
	} else if (!strcmp(k, "require_memory")) {
		if (!strcmp(v, "yes"))
			c->require_memory = true;
		else if (!strcmp(v, "no"))
			c->require_memory = false;
		else
			return err_at(err, errsz, line, "require_memory: must be yes or no");
	} else if (!strcmp(k, "placement")) {
		if (!strcmp(v, "reserved"))
			c->overcommit = false;
		else if (!strcmp(v, "measured"))
			c->overcommit = true;
		else
			return err_at(err, errsz, line, "placement: must be reserved or measured");
	} else if (!strcmp(k, "group")) {
		if (!*v || strlen(v) >= sizeof(c->group))
			return err_at(err, errsz, line, "group: must be a group name");
		snprintf(c->group, sizeof(c->group), "%s", v);
	} else if (!strcmp(k, "catalog")) {
		if (v[0] != '/' || strlen(v) >= sizeof(c->catalog))
			return err_at(err, errsz, line, "catalog: must be an absolute path");
		snprintf(c->catalog, sizeof(c->catalog), "%s", v);
		c->catalog_set = true;
	} else if (!strcmp(k, "node_cores")) {
		if (strcmp(v, "auto") && (parse_cores(v, &c->node_cpu) < 0 || c->node_cpu <= 0))
			return err_at(err, errsz, line, "node_cores: must be auto or a core count");
	} else if (!strcmp(k, "node_memory")) {
		if (strcmp(v, "auto") && (parse_bytes(v, &c->node_mem) < 0 || c->node_mem == 0))
			return err_at(err, errsz, line, "node_memory: must be auto or a size");
	} else if (!strcmp(k, "max_tasks")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x < 1 || x > 1000000)
			return err_at(err, errsz, line, "max_tasks: must be 1..1000000");
		c->max_tasks = (unsigned)x;
	} else if (!strcmp(k, "prepare_cgroups")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x > DAEMON_PREPARE_MAX)
			return err_at(err, errsz, line, "prepare_cgroups: must be 0..64");
		c->prepare_cgroups = (unsigned)x;
	} else if (!strcmp(k, "keep_finished")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x > 100000)
			return err_at(err, errsz, line, "keep_finished: must be 0..100000");
		c->keep_finished = (unsigned)x;
	} else if (!strcmp(k, "metrics_listen")) {
		struct sockaddr_storage sa;
		unsigned len;
		if (strcmp(v, "off") && (strlen(v) >= sizeof(c->metrics_listen) ||
					 metrics_parse_address(v, &sa, &len) < 0))
			return err_at(err, errsz, line,
				      "metrics_listen: must be off or a numeric HOST:PORT "
				      "(127.0.0.1:9464, [::1]:9464)");
		snprintf(c->metrics_listen, sizeof(c->metrics_listen), "%s",
			 strcmp(v, "off") ? v : "");
	} else if (!strcmp(k, "oci_runtime")) {
		if (!*v || strlen(v) >= sizeof(c->oci_runtime) || strchr(v, ' '))
			return err_at(err, errsz, line,
				      "oci_runtime: must be a program name or path (crun, runc)");
		snprintf(c->oci_runtime, sizeof(c->oci_runtime), "%s", v);
	} else if (!strcmp(k, "foreign_floor")) {
		if (parse_double(v, &c->foreign_floor) < 0 || !(c->foreign_floor >= 0) ||
		    c->foreign_floor > 1)
			return err_at(err, errsz, line,
				      "foreign_floor: must be a share of a device's cores, 0..1");
	} else if (!strcmp(k, "foreign_load")) {
		if (strcmp(v, "count") && strcmp(v, "ignore"))
			return err_at(err, errsz, line, "foreign_load: must be count or ignore");
		c->foreign_ignored = !strcmp(v, "ignore");
	} else if (!strcmp(k, "pressure_backoff")) {
		if (parse_double(v, &c->pressure_backoff) < 0 || !(c->pressure_backoff >= 0) ||
		    c->pressure_backoff > 100)
			return err_at(err, errsz, line,
				      "pressure_backoff: must be a percentage 0..100 (0 = off)");
	} else if (!strcmp(k, "metrics_commands")) {
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return err_at(err, errsz, line, "metrics_commands: must be yes or no");
		c->metrics_commands = !strcmp(v, "yes");
	} else if (!strcmp(k, "client_idle_timeout_s") || !strcmp(k, "client_write_timeout_s")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x > 86400 || (x == 0 && k[7] == 'w'))
			return err_at(err, errsz, line, "%s: must be %s..86400", k,
				      k[7] == 'w' ? "1" : "0");
		*(k[7] == 'w' ? &c->write_timeout_s : &c->idle_timeout_s) = (unsigned)x;
	} else
		return 1;
	return 0;
}

/* Fleet mode's keys (docs/FLEET.md); returns like set_node_key. */
static int set_fleet_key(struct dconf *c, const char *k, char *v, char *err, size_t errsz,
			 unsigned line)
{
	if (!strcmp(k, "fleet")) {
		if (!strcmp(v, "off"))
			c->fleet.enabled = false;
		else if (!strcmp(v, "etcd"))
			c->fleet.enabled = true;
		else
			return err_at(err, errsz, line, "fleet: must be off or etcd");
	} else if (!strcmp(k, "fleet_endpoints")) {
		if (strlen(v) >= sizeof(c->fleet.endpoints) || !endpoints_valid(v))
			return err_at(err, errsz, line,
				      "fleet_endpoints: must be http:// or https:// URLs, "
				      "comma-separated (at most %d)",
				      FLEET_MAX_ENDPOINTS);
		snprintf(c->fleet.endpoints, sizeof(c->fleet.endpoints), "%s", v);
	} else if (!strcmp(k, "node_name")) {
		if (!proto_name_valid(v))
			return err_at(err, errsz, line, "node_name: 1..64 of A-Z a-z 0-9 _ . -");
		snprintf(c->fleet.node_name, sizeof(c->fleet.node_name), "%s", v);
	} else if (!strcmp(k, "fleet_lease_ttl")) {
		uint64_t x;
		if (parse_u64(v, &x) < 0 || x < 2 || x > 3600)
			return err_at(err, errsz, line, "fleet_lease_ttl: must be 2..3600 seconds");
		c->fleet.lease_ttl = (unsigned)x;
	} else if (!strcmp(k, "fleet_ca")) {
		int r = set_path(c->fleet.ca, sizeof(c->fleet.ca), v, k, err, errsz, line);
		if (r < 0)
			return r;
	} else if (!strcmp(k, "fleet_cert")) {
		int r = set_path(c->fleet.cert, sizeof(c->fleet.cert), v, k, err, errsz, line);
		if (r < 0)
			return r;
	} else if (!strcmp(k, "fleet_key")) {
		int r = set_path(c->fleet.key, sizeof(c->fleet.key), v, k, err, errsz, line);
		if (r < 0)
			return r;
	} else if (!strcmp(k, "fleet_user")) {
		if (!*v || strlen(v) >= sizeof(c->fleet.user) || strpbrk(v, " \t:"))
			return err_at(err, errsz, line, "fleet_user: must be an etcd user name");
		snprintf(c->fleet.user, sizeof(c->fleet.user), "%s", v);
	} else if (!strcmp(k, "fleet_password_file")) {
		int r = set_path(c->fleet.password_file, sizeof(c->fleet.password_file), v, k, err,
				 errsz, line);
		if (r < 0)
			return r;
	} else
		return 1;
	return 0;
}

/* The uplink and device partition keys; returns like set_node_key. */
static int set_uplink_key(struct dconf *c, const char *k, char *v, char *err, size_t errsz,
			  unsigned line)
{
	if (!strcmp(k, "uplink")) {
		if (strlen(v) >= sizeof(c->uplink) || strchr(v, '/') || !strcmp(v, ".") ||
		    !strcmp(v, ".."))
			return err_at(err, errsz, line,
				      "uplink: must be an interface name (1-15 characters)");
		for (const char *q = v; *q; q++)
			if (isspace((unsigned char)*q))
				return err_at(
				    err, errsz, line,
				    "uplink: must be an interface name (1-15 characters)");
		snprintf(c->uplink, sizeof(c->uplink), "%s", v);
	} else if (!strcmp(k, "uplink_rate")) {
		if (!strcmp(v, "auto"))
			c->uplink_rate = 0;
		else if (shaper_parse_rate(v, &c->uplink_rate) < 0)
			return err_at(err, errsz, line,
				      "uplink_rate: must be auto or a rate between 8kbit "
				      "and 100gbit (e.g. 100mbit)");
	} else if (!strcmp(k, "device")) {
		if (c->n_devices >= DCONF_MAX_DEVICES)
			return err_at(err, errsz, line, "device: more than %d devices",
				      DCONF_MAX_DEVICES);
		int r = parse_device(v, &c->devices[c->n_devices], err, errsz, line);
		if (r < 0)
			return r;
		for (size_t i = 0; i < c->n_devices; i++)
			if (!strcmp(c->devices[i].name, c->devices[c->n_devices].name))
				return err_at(err, errsz, line, "device %s: defined twice",
					      c->devices[i].name);
		c->n_devices++;
	} else
		return 1;
	return 0;
}

int dconf_parse(const char *text, struct dconf *out, char *err, size_t errsz)
{
	struct dconf c;
	_cleanup_free_ char *copy = strdup(text ? text : "");
	char *save = NULL, *ln;
	unsigned line = 0;
	int r;
	const char *p;

	if (!copy)
		return -ENOMEM;
	dconf_init(&c);
	/* strtok_r would skip empty lines and lose the line count; walk by hand. */
	for (ln = copy; ln; ln = save) {
		char *k, *v, *eq;
		save = strchr(ln, '\n');
		if (save)
			*save++ = '\0';
		line++;
		k = strip(ln);
		if (!*k || *k == '#' || *k == ';')
			continue;
		eq = strchr(k, '=');
		if (!eq)
			return err_at(err, errsz, line, "expected key = value");
		*eq = '\0';
		k = strip(k);
		v = strip(eq + 1);
		r = set_node_key(&c, k, v, err, errsz, line);
		if (r > 0)
			r = set_fleet_key(&c, k, v, err, errsz, line);
		if (r > 0)
			r = set_uplink_key(&c, k, v, err, errsz, line);
		if (r > 0)
			return err_at(err, errsz, line, "%.40s: unknown key", k);
		if (r < 0)
			return r;
	}
	(void)p;
	if (!c.fleet.cert[0] != !c.fleet.key[0])
		return err_at(err, errsz, 0, "fleet_cert: fleet_cert and fleet_key go together");
	if (!c.fleet.user[0] != !c.fleet.password_file[0])
		return err_at(err, errsz, 0,
			      "fleet_user: fleet_user and fleet_password_file go together");
	*out = c;
	return 0;
}

int dconf_model_argv(const struct dconf_model *m, char ***ret, size_t *ret_argc)
{
	char **argv;
	const char *p = m->cmd;

	if (!m->cmd_argc)
		return -ENOENT;
	argv = calloc(m->cmd_argc + 1, sizeof(char *));
	if (!argv)
		return -ENOMEM;
	for (unsigned i = 0; i < m->cmd_argc; i++) {
		argv[i] = strdup(p);
		if (!argv[i]) {
			strv_free(argv, i);
			return -ENOMEM;
		}
		p += strlen(p) + 1;
	}
	*ret = argv;
	*ret_argc = m->cmd_argc;
	return 0;
}

int dconf_parse_models(const char *text, struct dconf_model **ret, size_t *ret_n, char *err,
		       size_t errsz)
{
	_cleanup_free_ struct dconf_model *m = NULL;
	json_object *o, *arr;
	size_t n;
	int r = -EINVAL;

	o = json_tokener_parse(text ? text : "");
	if (!o)
		return err_at(err, errsz, 0, "not valid JSON");
	if (!json_object_object_get_ex(o, "models", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		err_at(err, errsz, 0, "models: missing or not an array");
		goto out;
	}
	n = json_object_array_length(arr);
	if (n > DCONF_MAX_MODELS) {
		err_at(err, errsz, 0, "models: more than %d", DCONF_MAX_MODELS);
		goto out;
	}
	m = calloc(n ? n : 1, sizeof(*m));
	if (!m) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i), *v;
		bool cpu = false, mem = false;
		if (!json_object_is_type(e, json_type_object)) {
			err_at(err, errsz, 0, "models[%zu]: must be an object", i);
			goto out;
		}
		json_object_object_foreach(e, k, val)
		{
			if (!strcmp(k, "name")) {
				if (!json_object_is_type(val, json_type_string) ||
				    !proto_name_valid(json_object_get_string(val))) {
					err_at(err, errsz, 0,
					       "models[%zu].name: 1-64 of A-Z a-z 0-9 _ . -", i);
					goto out;
				}
				snprintf(m[i].name, sizeof(m[i].name), "%s",
					 json_object_get_string(val));
			} else if (!strcmp(k, "cpu")) {
				if (!json_object_is_type(val, json_type_int) &&
				    !json_object_is_type(val, json_type_double)) {
					err_at(err, errsz, 0, "models[%zu].cpu: must be a number",
					       i);
					goto out;
				}
				m[i].cpu = json_object_get_double(val);
				if (!isfinite(m[i].cpu) || m[i].cpu <= 0 || m[i].cpu > 4096) {
					err_at(err, errsz, 0, "models[%zu].cpu: must be > 0", i);
					goto out;
				}
				cpu = true;
			} else if (!strcmp(k, "memory")) {
				if (!json_object_is_type(val, json_type_string) ||
				    parse_bytes(json_object_get_string(val), &m[i].mem) < 0 ||
				    !m[i].mem) {
					err_at(err, errsz, 0,
					       "models[%zu].memory: must be a size like \"80M\"",
					       i);
					goto out;
				}
				mem = true;
			} else if (!strcmp(k, "command")) {
				size_t na, used = 0;
				if (!json_object_is_type(val, json_type_array) ||
				    (na = json_object_array_length(val)) == 0 ||
				    na > DCONF_MAX_CMD_ARGS) {
					err_at(
					    err, errsz, 0,
					    "models[%zu].command: must be an array of 1-%d strings",
					    i, DCONF_MAX_CMD_ARGS);
					goto out;
				}
				for (size_t a = 0; a < na; a++) {
					json_object *s1 = json_object_array_get_idx(val, a);
					const char *str = json_object_get_string(s1);
					size_t len;
					if (!json_object_is_type(s1, json_type_string) ||
					    (len = strlen(str)) !=
						(size_t)json_object_get_string_len(s1) ||
					    (a == 0 && len == 0)) {
						err_at(err, errsz, 0,
						       "models[%zu].command[%zu]: must be a string "
						       "without NUL%s",
						       i, a, a == 0 ? ", not empty" : "");
						goto out;
					}
					if (used + len + 1 > sizeof(m[i].cmd)) {
						err_at(err, errsz, 0,
						       "models[%zu].command: longer than %d bytes",
						       i, DCONF_MAX_CMD);
						goto out;
					}
					memcpy(m[i].cmd + used, str, len + 1);
					used += len + 1;
				}
				m[i].cmd_argc = (unsigned)na;
			} else if (!strcmp(k, "bundle")) {
				const char *b = json_object_get_string(val);
				if (!json_object_is_type(val, json_type_string) || b[0] != '/' ||
				    strlen(b) >= sizeof(m[i].bundle)) {
					err_at(
					    err, errsz, 0,
					    "models[%zu].bundle: must be an absolute folder path "
					    "(under 256 bytes)",
					    i);
					goto out;
				}
				snprintf(m[i].bundle, sizeof(m[i].bundle), "%s", b);
			} else {
				err_at(err, errsz, 0, "models[%zu].%.40s: unknown field", i, k);
				goto out;
			}
		}
		(void)v;
		if (!m[i].name[0] || !cpu || !mem) {
			err_at(err, errsz, 0, "models[%zu]: needs name, cpu and memory", i);
			goto out;
		}
		if (m[i].bundle[0] && m[i].cmd_argc) {
			err_at(err, errsz, 0, "models[%zu]: give command or bundle, not both", i);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m[j].name, m[i].name)) {
				err_at(err, errsz, 0, "models[%zu].name: duplicate \"%s\"", i,
				       m[i].name);
				goto out;
			}
	}
	*ret = TAKE_PTR(m);
	*ret_n = n;
	r = 0;
out:
	json_object_put(o);
	return r;
}
