/* proto.h — the control socket's wire format: newline-delimited JSON requests parsed into
 * a struct, and error replies. Pure (no I/O), so it is unit-tested and fuzzed directly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dapp;

#define PROTO_MAX_LINE 65536u /* a longer request line is refused with "too-large" */
#define PROTO_MAX_ARGS 256u
#define PROTO_MAX_ARG  4096u
#define PROTO_MAX_NAME 64u

enum proto_op {
	PROTO_STATUS,
	PROTO_SUBMIT,
	PROTO_CANCEL,
	PROTO_QUEUES,
	PROTO_DEVICES,
	PROTO_TASKS,
	PROTO_EVENTS,
	PROTO_RELOAD,
	PROTO_SUBMIT_APP, /* a DAG application (controller/dapp.h) */
	PROTO_APPS,
	PROTO_FLEET, /* fleet mode: the whole fleet read from etcd */
	_PROTO_OP_MAX,
};

/* Every error a reply can carry; the wire names are in docs/PROTOCOL.md. */
enum proto_err {
	PROTO_OK,
	PROTO_E_TOO_LARGE,     /* "too-large": line over PROTO_MAX_LINE */
	PROTO_E_BAD_JSON,      /* "bad-json": not parseable */
	PROTO_E_NOT_OBJECT,    /* "not-object": valid JSON but not an object */
	PROTO_E_UNKNOWN_OP,    /* "unknown-op" */
	PROTO_E_UNKNOWN_FIELD, /* "unknown-field" */
	PROTO_E_BAD_TYPE,      /* "bad-type" */
	PROTO_E_MISSING_FIELD, /* "missing-field" */
	PROTO_E_BAD_VALUE,     /* "bad-value": right type, unacceptable value */
	PROTO_E_PERMISSION,    /* "permission-denied": peer not root / not in the group */
	PROTO_E_NO_QUEUE,      /* "no-such-queue": unknown queue and no demand given */
	PROTO_E_NO_TASK,       /* "no-such-task" */
	PROTO_E_TOO_BIG,       /* "demand-too-big": exceeds every device's capacity */
	PROTO_E_STATE,	       /* "wrong-state": e.g. cancel of a finished task */
	PROTO_E_LIMIT,	       /* "limit": too many tasks/clients */
	PROTO_E_INTERNAL,      /* "internal": the daemon failed (state write etc.) */
	PROTO_E_BAD_COMMAND,   /* "bad-command": argv[0] not found or not executable */
	_PROTO_E_MAX,
};

struct proto_request {
	enum proto_op op;
	bool has_id;
	int64_t id; /* echoed in the reply */
	/* submit */
	char *queue;
	char **argv; /* NULL-terminated */
	size_t argc;
	bool has_demand;
	double cpu;	      /* cores */
	uint64_t mem;	      /* bytes */
	uint64_t upload_rate; /* bytes/s; 0 = not shaped */
	char *oci;	      /* an OCI bundle folder (absolute) instead of argv */
	/* cancel: one of task, app */
	uint64_t task;
	uint64_t app;
	bool fleet; /* cancel: task is a fleet-wide id (fleet mode) */
	/* submit-app: malloc'd, validated */
	struct dapp *dapp;
};

struct proto_error {
	enum proto_err code;
	const char *field; /* static string or NULL */
	char message[160];
};

/* Parses one request line (without the newline). On failure fills *err (and ret->id /
 * has_id when they could be read, so the reply can echo them) and returns -EINVAL. */
int proto_parse_request(const char *buf, size_t len, struct proto_request *ret,
			struct proto_error *err);
void proto_request_done(struct proto_request *r);

const char *proto_op_name(enum proto_op op);
const char *proto_err_name(enum proto_err e);
/* Mutating requests need root or the daemon's group; reads are allowed to the group. */
bool proto_op_mutates(enum proto_op op);
/* A queue name: 1..64 of [A-Za-z0-9_.-], not starting with '.'. */
bool proto_name_valid(const char *s);
/* One error reply line, '\n'-terminated, malloc'd. NULL on ENOMEM. */
char *proto_format_error(const struct proto_request *req, const struct proto_error *err);
