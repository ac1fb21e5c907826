/* ctl.h — what the control-socket verbs of the CLI share (ctl.c): the connection and one
 * request, the table printers, and the reply options of the listing verbs. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "cli.h"
#include "jsonget.h"
#include "shaper.h"
#include "dapp.h"
#include "util.h"

#define DEFAULT_SOCKET "/run/edgeslice/control.sock"

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len;
};
/* Common option parsing for the read commands: --json, --socket. */
struct ropts {
	bool json;
	bool fleet; /* status --fleet */
	const char *sock;
	double interval;
};

/* --- shared between the files of this folder ---------------------------------- */

int ctl_show_status(const struct ropts *o, const char *cmd);
const char *ctl_socket_path(const char *opt);
int ctl_conn_open(const char *path, struct conn *c);
int ctl_conn_read(struct conn *c, json_object **ret);
int ctl_request(const char *cmd, const char *sock, json_object *req, json_object **ret);
int64_t ctl_ji(json_object *o, const char *k);
const char *ctl_js(json_object *o, const char *k);
void ctl_print_devices(json_object *arr);
void ctl_print_queues(json_object *arr);
bool ctl_jpath(json_object *o, double *ret, ...);
void ctl_print_tasks(json_object *arr);
void ctl_print_apps(json_object *arr);
void ctl_print_tables(json_object *rep);
int ctl_parse_ropts(int argc, char **argv, const char *help, struct ropts *o, bool top);
int ctl_simple(int argc, char **argv, const char *op, const char *help,
	       void (*print)(json_object *), const char *key);
