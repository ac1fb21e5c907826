/* cmd_apps.c — `edgeslice apps`: DAG applications and the state of their tasks. */
#include "ctl.h"

static int cmd_apps(int argc, char **argv)
{
	return ctl_simple(
	    argc, argv, "apps",
	    "Usage: edgeslice apps [--json] [--socket PATH]\n\nApplications (DAGs submitted "
	    "with `submit --app`): state (waiting, running, done, failed, cancelled), tasks "
	    "done, and per task its id, state, reason and predecessors.\n",
	    ctl_print_apps, "apps");
}
ES_COMMAND("apps", cmd_apps, "List DAG applications and the state of their tasks");
