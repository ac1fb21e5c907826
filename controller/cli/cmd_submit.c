/* cmd_submit.c — `edgeslice submit`: queue a task (or, --app, a DAG application) with the
 * node service or (--fleet) the fleet. */
#include "ctl.h"

/* Sends a submit request (consumed) and prints the reply: JSON, or the new id under key. */
static int submit_send(json_object *req, const char *sock, bool json, const char *key)
{
	json_object *rep = NULL;
	int r = ctl_request("submit", sock, req, &rep);

	json_object_put(req);
	if (r)
		return r;
	if (json)
		printf("%s\n", json_object_to_json_string_ext(rep, JSON_C_TO_STRING_PRETTY));
	else
		printf("%" PRId64 "\n", ctl_ji(rep, key));
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
    "                        [--socket PATH] [-- CMD [ARG...] | --oci BUNDLE_DIR]\n"
    "       edgeslice submit --app FILE.json [--json] [--socket PATH]\n\n"
    "Queues CMD as an inference task of queue Q. The demand (e.g. 2c,1257M) defaults to the\n"
    "queue's, or to the model catalog entry named Q. Without CMD the task runs the catalog\n"
    "entry's command (e.g. edgeslice-infer MODEL --threads N --duration S, written by\n"
    "`edgeslice profile MODEL --catalog FILE`). The task is acknowledged only after it was\n"
    "written to the daemon's state; prints the task id.\n\n"
    "  --upload-rate R  shape the task's uploads on the node's uplink (uplink = in\n"
    "                   edgeslice.conf) to R: 5.85mbit, 700kbit, or a preset 3g, 4g, wifi;\n"
    "                   its class exists before the task starts and goes when it ends\n"
    "  --oci DIR        run the OCI bundle in DIR (config.json + rootfs) as the task's\n"
    "                   container, with the OCI runtime of oci_runtime = (crun); the demand\n"
    "                   limits the container and the runtime together (make one with\n"
    "                   `edgeslice bundle MODEL DIR`)\n\n"
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
	    {"oci", required_argument, NULL, 'o'},
	    {},
	};
	const char *queue = NULL, *sock = NULL, *app = NULL, *oci = NULL;
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
		case 'o':
			oci = optarg;
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
	if (oci && optind < argc)
		return cli_usage_error("submit",
				       "--oci: the bundle's config.json gives the command");
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("submit"));
	json_object_object_add(req, "queue", json_object_new_string(queue));
	if (upload)
		json_object_object_add(req, "upload_rate", json_object_new_int64((int64_t)upload));
	if (oci) { /* the daemon reads the bundle: send an absolute path */
		_cleanup_free_ char *abs = realpath(oci, NULL);
		if (!abs) {
			json_object_put(req);
			fprintf(stderr, "edgeslice submit: --oci %s: %s\n", oci, strerror(errno));
			return ES_EXIT_USAGE;
		}
		json_object_object_add(req, "oci", json_object_new_string(abs));
	}
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
