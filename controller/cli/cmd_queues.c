/* cmd_queues.c — `edgeslice queues`: queues and their dominant shares. */
#include "ctl.h"

static int cmd_queues(int argc, char **argv)
{
	return ctl_simple(
	    argc, argv, "queues",
	    "Usage: edgeslice queues [--json] [--socket PATH]\n\nQueues with their demand, "
	    "dominant share, waiting and running counts and mean waiting time.\n",
	    ctl_print_queues, "queues");
}
ES_COMMAND("queues", cmd_queues, "List queues and their dominant shares");
