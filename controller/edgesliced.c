/* edgesliced.c — the node service's entry point. The service itself lives in
 * controller/daemon*.c; this file only parses the command line and runs it. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		printf("Usage: edgesliced [--config FILE]\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("edgesliced 0.1.0\n");
		return 0;
	}
	fprintf(stderr, "edgesliced: the node service is not built yet (issue 4)\n");
	return 69;
}
