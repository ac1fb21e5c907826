/* cmd_top.c — `edgeslice top`: `status` refreshed continuously. */
#include "ctl.h"

static const char top_help[] = "Usage: edgeslice top [--interval SEC] [--json] [--socket PATH]\n\n"
			       "Repeats `edgeslice status` every SEC seconds (default 1) until "
			       "interrupted.\n";

static int cmd_top(int argc, char **argv)
{
	struct ropts o = {0};
	int r = ctl_parse_ropts(argc, argv, top_help, &o, true);
	if (r)
		return r < 0 ? ES_EXIT_OK : r;
	for (;;) {
		if (!o.json && isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		r = ctl_show_status(&o, argv[0]);
		if (r)
			return r;
		fflush(stdout);
		usleep((useconds_t)(o.interval * 1e6));
	}
}
ES_COMMAND("top", cmd_top, "Refresh `status` continuously");
