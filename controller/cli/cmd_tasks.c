/* cmd_tasks.c — `edgeslice tasks`: tasks, including recently finished ones. */
#include "ctl.h"

static int cmd_tasks(int argc, char **argv)
{
	return ctl_simple(
	    argc, argv, "tasks",
	    "Usage: edgeslice tasks [--json] [--socket PATH]\n\nEvery task the daemon "
	    "knows, live and recently finished (keep_finished in the config).\n",
	    ctl_print_tasks, "tasks");
}
ES_COMMAND("tasks", cmd_tasks, "List tasks, including recently finished ones");
