/* cli.h — how `edgeslice` subcommands register themselves and report errors.
 * Each controller/cmd_*.c defines its commands with ES_COMMAND; no central table to edit. */
#pragma once

#include <stdbool.h>

struct es_command {
	const char *name;
	int (*run)(int argc, char **argv); /* argv[0] is the subcommand name; returns exit code */
	const char *summary;		   /* one line for `edgeslice --help` */
};

#define ES_COMMAND(_name, _fn, _summary)                                                           \
	static const struct es_command __es_cmd_##_fn                                              \
	    __attribute__((used, section("es_commands"), aligned(sizeof(void *)))) = {             \
		.name = (_name), .run = (_fn), .summary = (_summary)}

/* Exit codes (sysexits-like, documented in docs/CLI.md). */
enum {
	ES_EXIT_OK = 0,
	ES_EXIT_FAILURE = 1,
	ES_EXIT_USAGE = 2,
	ES_EXIT_UNAVAILABLE = 69, /* daemon not running / kernel feature missing */
};

/* "edgeslice <cmd>: <message>" on stderr, one line. Returns ES_EXIT_USAGE / FAILURE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One request to edgesliced's control socket (sock NULL: $EDGESLICE_SOCKET or the default).
 * 0 with the reply in *ret (caller json_object_put()s it); else the exit status, the error
 * already printed as "edgeslice <cmd>: ..." (ES_EXIT_UNAVAILABLE when the daemon is not
 * reachable, ES_EXIT_FAILURE for an error reply). */
struct json_object;
int cli_ctl_request(const char *cmd, const char *sock, struct json_object *req,
		    struct json_object **ret);

/* `edgeslice sim --dag WORKLOAD.json [--policy mrs,pass,ekya] [--rate R] [--seed N] [--json]`
 * (cmd_sim_dag.c; cmd_sim.c hands --dag over to it). */
int dag_sim_main(int argc, char **argv);
