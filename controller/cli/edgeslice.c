/* edgeslice.c — the command line: dispatches to the subcommands that controller/cmd_*.c
 * register with ES_COMMAND (see cli.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

extern const struct es_command __start_es_commands[];
extern const struct es_command __stop_es_commands[];

static int cmp_cmd(const void *a, const void *b)
{
	return strcmp((*(const struct es_command *const *)a)->name,
		      (*(const struct es_command *const *)b)->name);
}

static void usage(FILE *f)
{
	size_t n = (size_t)(__stop_es_commands - __start_es_commands);
	const struct es_command **v = calloc(n ? n : 1, sizeof(*v));

	fprintf(f, "Usage: edgeslice COMMAND [OPTIONS...]\n\n"
		   "Resource controller for DNN inference on edge devices.\n\nCommands:\n");
	for (size_t i = 0; v && i < n; i++)
		v[i] = &__start_es_commands[i];
	if (v) {
		int w = 0;
		qsort(v, n, sizeof(*v), cmp_cmd);
		for (size_t i = 0; i < n; i++)
			if ((int)strlen(v[i]->name) > w)
				w = (int)strlen(v[i]->name);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  %-*s  %s\n", w, v[i]->name, v[i]->summary);
	}
	free(v);
	fprintf(f, "\nRun 'edgeslice COMMAND --help' for a command's options.\n"
		   "  -h --help     Show this help\n  --version     Show the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return ES_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return ES_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("edgeslice %s\n", ES_VERSION);
		return ES_EXIT_OK;
	}
	for (const struct es_command *c = __start_es_commands; c < __stop_es_commands; c++)
		if (!strcmp(c->name, argv[1]))
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "edgeslice: unknown command '%s'\nTry 'edgeslice --help'.\n", argv[1]);
	return ES_EXIT_USAGE;
}
