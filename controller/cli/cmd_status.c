/* cmd_status.c — `edgeslice status`: live allocations per device, queue and task, of this
 * node or (--fleet) of the whole fleet. */
#include "ctl.h"

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

int ctl_show_status(const struct ropts *o, const char *cmd)
{
	json_object *req = json_object_new_object(), *rep = NULL, *v;
	int r;
	json_object_object_add(req, "op", json_object_new_string(o->fleet ? "fleet" : "status"));
	r = ctl_request(cmd, o->sock, req, &rep);
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
		       nodes ? json_object_array_length(nodes) : 0, ctl_js(fo, "placer"),
		       ctl_js(fo, "node"), ctl_js(fo, "endpoint"));
		ctl_print_tables(rep);
	} else {
		double busy = 0, ncpu = 0, psi = 0;
		json_object *m = NULL;
		printf("policy %s%s, measuring with %s", ctl_js(rep, "policy"),
		       json_object_object_get_ex(rep, "draining", &v) && json_object_get_boolean(v)
			   ? " (draining)"
			   : "",
		       json_object_object_get_ex(rep, "measure", &m) &&
			       !strcmp(ctl_js(m, "source"), "ebpf")
			   ? "eBPF + cgroup files"
			   : "cgroup files");
		if (m && strcmp(ctl_js(m, "ebpf_error"), "-"))
			printf(" (eBPF: %s)", ctl_js(m, "ebpf_error"));
		if (ctl_jpath(rep, &busy, "measure", "node", "cores_busy", NULL) &&
		    ctl_jpath(rep, &ncpu, "measure", "node", "ncpus", NULL))
			printf("; node %.2f of %.0f cores busy", busy, ncpu);
		if (ctl_jpath(rep, &psi, "measure", "node", "psi", "cpu", "some_avg10", NULL))
			printf(", cpu pressure %.1f%%", psi);
		printf("\n");
		json_object *k = NULL, *w = NULL;
		if (json_object_object_get_ex(rep, "kernel", &k) &&
		    json_object_object_get_ex(k, "warnings", &w))
			for (size_t i = 0; i < json_object_array_length(w); i++)
				printf("! %s\n",
				       json_object_get_string(json_object_array_get_idx(w, i)));
		printf("\n");
		ctl_print_tables(rep);
		if (json_object_object_get_ex(rep, "apps", &v) && json_object_array_length(v)) {
			printf("\n");
			ctl_print_apps(v);
		}
	}
	json_object_put(rep);
	return ES_EXIT_OK;
}

static int cmd_status(int argc, char **argv)
{
	struct ropts o = {0};
	int r = ctl_parse_ropts(argc, argv, status_help, &o, false);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	return ctl_show_status(&o, argv[0]);
}
ES_COMMAND("status", cmd_status, "Show live allocations per device, queue and task");
