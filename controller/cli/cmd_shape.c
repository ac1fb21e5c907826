/* cmd_shape.c — `edgeslice shape`: per-cgroup (or per-interface / per-source) upload shaping
 * on an uplink, usable with or without edgesliced; all state lives in the kernel. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/pkt_sched.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>

#include <bpf/libbpf.h>

#include "cli.h"
#include "shaper.h"
#include "util.h"

#define CMD "shape"

static void help(void)
{
	printf(
	    "Usage:\n"
	    "  edgeslice shape DEV --rate R|--preset NAME [--cgroup PATH|--ingress IF|--source "
	    "ADDR]\n"
	    "  edgeslice shape DEV --clear [--cgroup PATH|--ingress IF|--source ADDR]\n"
	    "  edgeslice shape DEV --show [--json]\n"
	    "\n"
	    "Shape upload bandwidth on network device DEV (the uplink) with an HTB tree and a BPF\n"
	    "classifier. Each shaped task gets its own class whose rate is also its ceiling; all\n"
	    "other traffic goes to a default class. State lives in the kernel, so the command\n"
	    "works the same with or without edgesliced running. Run it in the network namespace\n"
	    "of DEV (e.g. with nsenter --net=...).\n"
	    "\n"
	    "Rates (R) are tc-style: 700kbit, 5.85mbit, 1gbit (bits/s), 2mbps (bytes/s), between\n"
	    "8kbit and 100gbit; or a preset name. Presets: 3g = 1.1mbit, 4g = 5.85mbit,\n"
	    "wifi = 18.88mbit.\n"
	    "\n"
	    "Options:\n"
	    "  --rate R          Shape the selected task (or, without a selector, the whole\n"
	    "                    device: the parent class) to R\n"
	    "  --preset NAME     Same as --rate with a preset: 3g, 4g, wifi\n"
	    "  --cgroup PATH     Select the task by its cgroup v2 directory (absolute, or "
	    "relative\n"
	    "                    to the cgroup2 mount); matches sockets created inside it\n"
	    "  --task ID         Select an edgesliced task (needs the daemon's socket)\n"
	    "  --ingress IF      Select traffic forwarded in from interface IF (a task's own\n"
	    "                    network namespace behind a veth)\n"
	    "  --source ADDR     Select forwarded traffic by IPv4/IPv6 source address\n"
	    "  --link-rate R     Parent rate when first installing (default: the link speed the\n"
	    "                    driver reports, else 10gbit)\n"
	    "  --clear           Remove the selected task's class; without a selector remove\n"
	    "                    all shaping and restore DEV's previous root qdisc exactly\n"
	    "  --show            Show the classes: rate, ceil, bytes, packets, drops\n"
	    "  --json            With --show: print JSON\n"
	    "  -h --help         Show this help\n"
	    "\n"
	    "A root qdisc with handle e5: is edgeslice's; one found at start (a crashed daemon's\n"
	    "leftovers) is adopted, and --clear restores what was there before it.\n"
	    "\n"
	    "Exit status: 0 success, 1 failure, 2 usage error, 69 daemon needed but not "
	    "available.\n"
	    "See docs/SHAPER.md.\n");
}

static const char *cgroup2_mount(void)
{
	static const char *candidates[] = {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"};
	struct statfs sfs;

	for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
		if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
			return candidates[i];
	return NULL;
}

static void describe_match(const struct shaper_class *c, char *buf, size_t size, const char *mnt)
{
	_cleanup_free_ char *path = NULL;
	char ifname[IF_NAMESIZE], addr[INET6_ADDRSTRLEN];

	if (!c->is_task) {
		snprintf(buf, size, "%s", TC_H_MIN(c->classid) == 1 ? "(parent)" : "(default)");
		return;
	}
	if (!c->has_match) {
		snprintf(buf, size, "(unmatched)");
		return;
	}
	switch (c->match.kind) {
	case SHAPER_MATCH_CGROUP:
		if (mnt && shaper_cgroup_path(mnt, c->match.cgroup_id, &path) == 0)
			snprintf(buf, size, "cgroup %s", path);
		else
			snprintf(buf, size, "cgroup id %llu",
				 (unsigned long long)c->match.cgroup_id);
		break;
	case SHAPER_MATCH_IFINDEX:
		snprintf(buf, size, "ingress %s",
			 if_indextoname(c->match.ifindex, ifname) ? ifname : "?");
		break;
	case SHAPER_MATCH_SOURCE:
		inet_ntop(c->match.family, c->match.addr, addr, sizeof(addr));
		snprintf(buf, size, "source %s", addr);
		break;
	}
}

static int show(struct shaper *s, const char *dev, bool json)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	const char *mnt = cgroup2_mount();
	char rate[32], ceil_s[32], match[PATH_MAX + 32];
	size_t n;
	int r = shaper_list(s, &v, &n);

	if (r < 0)
		return cli_error(CMD, "%s: cannot read classes: %s", dev, strerror(-r));
	if (json) {
		json_object *o = json_object_new_object(), *a = json_object_new_array();
		json_object_object_add(o, "device", json_object_new_string(dev));
		json_object_object_add(o, "ifindex", json_object_new_int(shaper_ifindex(s)));
		json_object_object_add(o, "shaped", json_object_new_boolean(shaper_is_active(s)));
		json_object_object_add(o, "root", json_object_new_string(shaper_root_kind(s)));
		for (size_t i = 0; i < n; i++) {
			json_object *c = json_object_new_object();
			char id[16];
			snprintf(id, sizeof(id), "%x:%x", TC_H_MAJ(v[i].classid) >> 16,
				 TC_H_MIN(v[i].classid));
			json_object_object_add(c, "classid", json_object_new_string(id));
			json_object_object_add(c, "kind",
					       json_object_new_string(v[i].is_task ? "task"
								      : TC_H_MIN(v[i].classid) == 1
									  ? "parent"
									  : "default"));
			if (v[i].is_task && v[i].has_match) {
				_cleanup_free_ char *path = NULL;
				char addr[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
				switch (v[i].match.kind) {
				case SHAPER_MATCH_CGROUP:
					json_object_object_add(
					    c, "cgroup_id",
					    json_object_new_uint64(v[i].match.cgroup_id));
					if (mnt && shaper_cgroup_path(mnt, v[i].match.cgroup_id,
								      &path) == 0)
						json_object_object_add(
						    c, "cgroup", json_object_new_string(path));
					break;
				case SHAPER_MATCH_IFINDEX:
					json_object_object_add(
					    c, "ingress",
					    json_object_new_string(
						if_indextoname(v[i].match.ifindex, ifname) ? ifname
											   : "?"));
					break;
				case SHAPER_MATCH_SOURCE:
					inet_ntop(v[i].match.family, v[i].match.addr, addr,
						  sizeof(addr));
					json_object_object_add(c, "source",
							       json_object_new_string(addr));
					break;
				}
			}
			json_object_object_add(c, "rate_bytes_per_s",
					       json_object_new_uint64(v[i].rate));
			json_object_object_add(c, "ceil_bytes_per_s",
					       json_object_new_uint64(v[i].ceil));
			json_object_object_add(c, "burst_bytes",
					       json_object_new_uint64(v[i].burst));
			json_object_object_add(c, "quantum_bytes",
					       json_object_new_uint64(v[i].quantum));
			json_object_object_add(c, "bytes", json_object_new_uint64(v[i].bytes));
			json_object_object_add(c, "packets", json_object_new_uint64(v[i].packets));
			json_object_object_add(c, "drops", json_object_new_uint64(v[i].drops));
			json_object_object_add(c, "overlimits",
					       json_object_new_uint64(v[i].overlimits));
			json_object_object_add(c, "backlog_bytes",
					       json_object_new_uint64(v[i].backlog));
			json_object_object_add(c, "sampled_monotonic_ns",
					       json_object_new_uint64(v[i].sampled_ns));
			json_object_array_add(a, c);
		}
		json_object_object_add(o, "classes", a);
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
		return ES_EXIT_OK;
	}
	if (!shaper_is_active(s)) {
		printf("%s: not shaped by edgeslice (root qdisc %s)\n", dev,
		       *shaper_root_kind(s) ? shaper_root_kind(s) : "none");
		return ES_EXIT_OK;
	}
	shaper_format_rate(shaper_parent_rate(s), rate, sizeof(rate));
	printf("%s: edgeslice htb e5:, parent rate %s\n", dev, rate);
	printf("%-7s %-44s %10s %10s %14s %10s %7s\n", "CLASS", "MATCH", "RATE", "CEIL", "BYTES",
	       "PACKETS", "DROPS");
	for (size_t i = 0; i < n; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%x:%x", TC_H_MAJ(v[i].classid) >> 16,
			 TC_H_MIN(v[i].classid));
		shaper_format_rate(v[i].rate, rate, sizeof(rate));
		shaper_format_rate(v[i].ceil, ceil_s, sizeof(ceil_s));
		describe_match(&v[i], match, sizeof(match), mnt);
		printf("%-7s %-44s %10s %10s %14llu %10llu %7llu\n", id, match, rate, ceil_s,
		       (unsigned long long)v[i].bytes, (unsigned long long)v[i].packets,
		       (unsigned long long)v[i].drops);
	}
	return ES_EXIT_OK;
}

static int rate_arg(const char *opt, const char *val, uint64_t *ret)
{
	int r = shaper_parse_rate(val, ret);

	if (r == -ERANGE)
		return cli_usage_error(CMD, "%s: '%s' is out of range (8kbit to 100gbit)", opt,
				       val);
	if (r < 0)
		return cli_usage_error(
		    CMD, "%s: '%s' is not a rate (e.g. 5.85mbit, 700kbit) or preset (3g, 4g, wifi)",
		    opt, val);
	return 0;
}

/* The daemon knows the task's cgroup: ask it (then that cgroup is shaped). */
static int task_cgroup_of(const char *task, char **ret)
{
	_cleanup_free_ char *cg = NULL;
	json_object *req, *rep = NULL, *arr, *v;
	uint64_t want;
	int r;

	if (parse_u64(task, &want) < 0 || want == 0)
		return cli_usage_error(CMD, "--task: '%s' is not a task id", task);
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("tasks"));
	r = cli_ctl_request(CMD, NULL, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (json_object_object_get_ex(rep, "tasks", &arr))
		for (size_t i = 0; i < json_object_array_length(arr) && !cg; i++) {
			json_object *t = json_object_array_get_idx(arr, i);
			if (json_object_object_get_ex(t, "id", &v) &&
			    (uint64_t)json_object_get_int64(v) == want) {
				if (!json_object_object_get_ex(t, "cgroup", &v)) {
					json_object_object_get_ex(t, "state", &v);
					r = cli_error(CMD,
						      "--task: task %s is %s: it has no "
						      "cgroup to shape",
						      task, json_object_get_string(v));
					json_object_put(rep);
					return r;
				}
				cg = strdup(json_object_get_string(v));
			}
		}
	json_object_put(rep);
	if (!cg)
		return cli_error(CMD, "--task: no task %s in edgesliced", task);
	*ret = TAKE_PTR(cg);
	return ES_EXIT_OK;
}

/* The traffic a selector picks (--cgroup, --ingress, --source), validated before the device
 * is touched. */
static int build_match(const char *cgroup, const char *ingress, const char *source,
		       struct shaper_match *m)
{
	int r;

	if (cgroup) {
		_cleanup_free_ char *abs = NULL;
		const char *mnt = cgroup2_mount();
		if (cgroup[0] != '/') {
			if (!mnt)
				return cli_error(
				    CMD, "--cgroup: no cgroup2 mount found for relative path '%s'",
				    cgroup);
			if (asprintf(&abs, "%s/%s", mnt, cgroup) < 0)
				return cli_error(CMD, "out of memory");
		}
		m->kind = SHAPER_MATCH_CGROUP;
		r = shaper_cgroup_id(abs ? abs : cgroup, &m->cgroup_id);
		if (r == -ENOENT)
			return cli_usage_error(CMD, "--cgroup: '%s': no such cgroup", cgroup);
		if (r == -ENOTDIR || r == -EMEDIUMTYPE)
			return cli_usage_error(CMD, "--cgroup: '%s': not a cgroup v2 directory",
					       cgroup);
		if (r < 0)
			return cli_error(CMD, "--cgroup: '%s': %s", cgroup, strerror(-r));
		/* Its descendants' sockets too; unknown level: the cgroup itself only. */
		if (shaper_cgroup_level_at(AT_FDCWD, abs ? abs : cgroup, &m->cgroup_level) < 0)
			m->cgroup_level = 0;
	} else if (ingress) {
		m->kind = SHAPER_MATCH_IFINDEX;
		m->ifindex = if_nametoindex(ingress);
		if (!m->ifindex)
			return cli_usage_error(CMD, "--ingress: '%s': no such device", ingress);
	} else if (source) {
		if (shaper_match_source(source, m) < 0)
			return cli_usage_error(CMD, "--source: '%s' is not an IPv4 or IPv6 address",
					       source);
	}
	return ES_EXIT_OK;
}

/* The HTB tree without a task class: the parent at rate (--rate/--preset without selector). */
static int install(struct shaper *s, const char *dev, uint64_t rate, const char *rate_opt,
		   const char *rate_s)
{
	int r = shaper_setup(s, rate), ret;

	ret = r == -ERANGE
		  ? cli_usage_error(CMD, "%s: '%s' is below a task class's rate", rate_opt, rate_s)
	      : r == -EBUSY ? cli_error(CMD,
					"%s: has a configured classful root qdisc (%s) that could "
					"not be restored exactly; not replacing it",
					dev, shaper_root_kind(s))
	      : r < 0	    ? cli_error(CMD, "%s: cannot install shaping: %s", dev, strerror(-r))
			    : ES_EXIT_OK;
	return ret;
}

/* One class for the selected traffic at rate. */
static int shape_selected(struct shaper *s, const char *dev, const struct shaper_match *m,
			  uint64_t rate, uint64_t link_rate, const char *rate_opt,
			  const char *rate_s)
{
	uint32_t classid;
	char pr[32];
	int r, ret;

	r = shaper_set_rate(s, m, rate, &classid);
	shaper_format_rate(shaper_is_active(s) ? shaper_parent_rate(s) : link_rate, pr, sizeof(pr));
	ret = r == -ERANGE   ? cli_usage_error(CMD, "%s: '%s' exceeds the parent rate of %s",
					       rate_opt, rate_s, dev)
	      : r == -EBUSY  ? cli_error(CMD,
					 "%s: has a configured classful root qdisc (%s) that could "
					  "not be restored exactly; not replacing it",
					 dev, shaper_root_kind(s))
	      : r == -ENOSPC ? cli_error(CMD, "%s: no free class id left", dev)
	      : r < 0	     ? cli_error(CMD, "%s: cannot shape: %s", dev, strerror(-r))
			     : ES_EXIT_OK;
	if (r == 0)
		printf("%s: class %x:%x at %s\n", dev, SHAPER_MAJOR, TC_H_MIN(classid), rate_s);
	return ret;
}

static int cmd_shape(int argc, char **argv)
{
	enum {
		OPT_RATE = 256,
		OPT_PRESET,
		OPT_CGROUP,
		OPT_TASK,
		OPT_INGRESS,
		OPT_SOURCE,
		OPT_LINK_RATE,
		OPT_CLEAR,
		OPT_SHOW,
		OPT_JSON
	};
	static const struct option opts[] = {
	    {"rate", required_argument, NULL, OPT_RATE},
	    {"preset", required_argument, NULL, OPT_PRESET},
	    {"cgroup", required_argument, NULL, OPT_CGROUP},
	    {"task", required_argument, NULL, OPT_TASK},
	    {"ingress", required_argument, NULL, OPT_INGRESS},
	    {"source", required_argument, NULL, OPT_SOURCE},
	    {"link-rate", required_argument, NULL, OPT_LINK_RATE},
	    {"clear", no_argument, NULL, OPT_CLEAR},
	    {"show", no_argument, NULL, OPT_SHOW},
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	const char *rate_s = NULL, *cgroup = NULL, *task = NULL, *ingress = NULL, *source = NULL;
	const char *dev, *rate_opt = NULL;
	uint64_t rate = 0, link_rate = 0;
	bool clear = false, do_show = false, json = false;
	struct shaper_match m = {};
	struct shaper *s = NULL;
	unsigned selectors = 0, modes = 0;
	int c, r, ret;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return ES_EXIT_OK;
		case OPT_RATE:
		case OPT_PRESET:
			if (rate_s)
				return cli_usage_error(CMD, "--rate and --preset: give only one");
			rate_s = optarg;
			rate_opt = c == OPT_RATE ? "--rate" : "--preset";
			if (c == OPT_PRESET && shaper_preset(optarg, &rate) < 0)
				return cli_usage_error(
				    CMD, "--preset: unknown preset '%s' (3g, 4g, wifi)", optarg);
			if (c == OPT_RATE && (r = rate_arg("--rate", optarg, &rate)) != 0)
				return r;
			modes++;
			break;
		case OPT_CGROUP:
			cgroup = optarg;
			selectors++;
			break;
		case OPT_TASK:
			task = optarg;
			selectors++;
			break;
		case OPT_INGRESS:
			ingress = optarg;
			selectors++;
			break;
		case OPT_SOURCE:
			source = optarg;
			selectors++;
			break;
		case OPT_LINK_RATE:
			if ((r = rate_arg("--link-rate", optarg, &link_rate)) != 0)
				return r;
			break;
		case OPT_CLEAR:
			clear = true;
			modes++;
			break;
		case OPT_SHOW:
			do_show = true;
			modes++;
			break;
		case OPT_JSON:
			json = true;
			break;
		case ':':
			return cli_usage_error(CMD, "%s: needs an argument", argv[optind - 1]);
		default:
			return cli_usage_error(CMD, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error(CMD, "missing DEV (the uplink network device)");
	if (optind + 1 < argc)
		return cli_usage_error(CMD, "unexpected argument '%s'", argv[optind + 1]);
	dev = argv[optind];
	if (modes != 1)
		return cli_usage_error(CMD, "give exactly one of --rate/--preset, --clear, --show");
	if (selectors > 1)
		return cli_usage_error(CMD,
				       "give at most one of --cgroup, --task, --ingress, --source");
	if (do_show && selectors)
		return cli_usage_error(CMD, "--show: takes no selector");
	if (json && !do_show)
		return cli_usage_error(CMD, "--json: only with --show");
	_cleanup_free_ char *task_cgroup = NULL;
	if (task) {
		r = task_cgroup_of(task, &task_cgroup);
		if (r != ES_EXIT_OK)
			return r;
		cgroup = task_cgroup;
	}

	/* Validate every input before touching the device: bad input changes nothing. */
	r = build_match(cgroup, ingress, source, &m);
	if (r != ES_EXIT_OK)
		return r;

	libbpf_set_print(NULL);
	r = shaper_open(dev, link_rate, &s);
	if (r == -ENODEV || r == -EINVAL)
		return cli_error(CMD, "%s: no such network device", dev);
	if (r < 0)
		return cli_error(CMD, "%s: %s", dev, strerror(-r));

	if (do_show) {
		ret = show(s, dev, json);
	} else if (clear && !selectors) {
		r = shaper_restore(s);
		ret = r < 0 ? cli_error(CMD, "%s: cannot restore the previous root qdisc: %s", dev,
					strerror(-r))
			    : ES_EXIT_OK;
	} else if (clear) {
		r = shaper_unset(s, &m);
		ret = r == -ENOENT ? cli_error(CMD, "%s: the selected traffic is not shaped", dev)
		      : r < 0 ? cli_error(CMD, "%s: cannot remove the class: %s", dev, strerror(-r))
			      : ES_EXIT_OK;
	} else if (!selectors) {
		ret = install(s, dev, rate, rate_opt, rate_s);
	} else {
		ret = shape_selected(s, dev, &m, rate, link_rate, rate_opt, rate_s);
	}
	shaper_free(s);
	return ret;
}
ES_COMMAND("shape", cmd_shape, "Shape upload bandwidth per task on an uplink");
