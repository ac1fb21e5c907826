/* cmd_events.c — `edgeslice events`: follow placements and exits as JSON lines. */
#include "ctl.h"

static int cmd_events(int argc, char **argv)
{
	struct ropts o = {0};
	struct conn c;
	json_object *rep;
	static const char req[] = "{\"op\":\"events\"}\n";
	int r = ctl_parse_ropts(
	    argc, argv,
	    "Usage: edgeslice events [--json] [--socket PATH]\n\nFollows placements "
	    "and exits as they happen (one line each) until interrupted.\n",
	    &o, false);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	r = ctl_conn_open(ctl_socket_path(o.sock), &c);
	if (r < 0) {
		cli_error("events", "%s: %s (is edgesliced running?)", ctl_socket_path(o.sock),
			  strerror(-r));
		return ES_EXIT_UNAVAILABLE;
	}
	if (write(c.fd, req, sizeof(req) - 1) != sizeof(req) - 1)
		return cli_error("events", "send: %m");
	for (bool first = true;; first = false) {
		r = ctl_conn_read(&c, &rep);
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
			printf("%-9s task %-6" PRId64 " %-16s %-10s %s %s\n", ctl_js(rep, "event"),
			       ctl_ji(rep, "task"), ctl_js(rep, "queue"), ctl_js(rep, "device"),
			       ctl_js(rep, "state"), ctl_js(rep, "reason"));
		fflush(stdout);
		json_object_put(rep);
	}
}
ES_COMMAND("events", cmd_events, "Follow placements and exits");
