/* cmd_reload.c — `edgeslice reload`: the node service re-reads edgeslice.conf and the model
 * catalog. */
#include "ctl.h"

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
	int r = ctl_parse_ropts(argc, argv, reload_help, &o, false);

	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("reload"));
	r = ctl_request(argv[0], o.sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (o.json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else {
		printf("reloaded: %" PRId64 " models in the catalog\n", ctl_ji(rep, "models"));
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
