/* cli.c — uniform one-line error reporting for every edgeslice subcommand. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

__attribute__((format(printf, 2, 0))) static void vreport(const char *cmd, const char *fmt,
							  va_list ap)
{
	fprintf(stderr, "edgeslice%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try 'edgeslice %s --help'.\n", cmd ? cmd : "");
	return ES_EXIT_USAGE;
}

int cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vreport(cmd, fmt, ap);
	va_end(ap);
	return ES_EXIT_FAILURE;
}
