/* cmd_devices.c — `edgeslice devices`: devices and their capacity. */
#include "ctl.h"

static int cmd_devices(int argc, char **argv)
{
	return ctl_simple(
	    argc, argv, "devices",
	    "Usage: edgeslice devices [--json] [--socket PATH]\n\nDevices with capacity, "
	    "allocated, used and free cores and memory.\n",
	    ctl_print_devices, "devices");
}
ES_COMMAND("devices", cmd_devices, "List devices and their capacity");
