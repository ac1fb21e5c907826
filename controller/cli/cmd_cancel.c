/* cmd_cancel.c — `edgeslice cancel`: cancel a queued or running task or application. */
#include "ctl.h"

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
	r = ctl_request("cancel", sock, req, &rep);
	json_object_put(req);
	if (r)
		return r;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else if (fleet)
		printf("%s\n", ctl_js(rep, "state"));
	json_object_put(rep);
	return ES_EXIT_OK;
}
ES_COMMAND("cancel", cmd_cancel, "Cancel a queued or running task");
