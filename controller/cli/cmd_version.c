/* cmd_version.c — `edgeslice version`: build and kernel feature summary. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: edgeslice version\n\nPrint the version.\n");
		return ES_EXIT_OK;
	}
	printf("edgeslice 0.1.0\n");
	return ES_EXIT_OK;
}
ES_COMMAND("version", cmd_version, "Print the version");
