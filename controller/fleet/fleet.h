/* fleet.h — fleet mode of edgesliced: nodes publish devices under a lease, share one queue in
 * etcd and elect one placer that runs the node's policy over every live device (docs/FLEET.md). */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "devset.h"

#define FLEET_PREFIX "/edgeslice/"

/* Fleet mode (docs/FLEET.md): off = single node, etcd = share a queue and a placer through
 * etcd. Set from edgeslice.conf by dconf.c; endpoints are kept as one comma-separated list
 * (validated: http:// or https://). */
#define FLEET_MAX_ENDPOINTS 16
struct fleet_conf {
	bool enabled;
	char endpoints[1024];
	char node_name[65];		   /* "" = the hostname */
	unsigned lease_ttl;		   /* seconds, default 5 */
	char ca[256], cert[256], key[256]; /* TLS pass-through ("" = none) */
	char user[65];
	char password_file[256];
};

/* An assignment as a node receives it: run task id of queue on its device. */
struct fleet_task {
	uint64_t id; /* fleet-wide id (an etcd revision) */
	char queue[65];
	double cpu;   /* demand, cores */
	uint64_t mem; /* demand, bytes */
	char **argv;  /* NULL-terminated; owned by the fleet module, copy what is kept */
	size_t argc;
	char device[65];
	uint64_t submit_us;
	uint64_t assigned_us; /* when the placer claimed it (0 if not said) */
	bool cancel;	      /* the assignment carries a cancel request (fleet_cancel) */
};

/* What the fleet module needs from the daemon that hosts it. */
struct fleet_host {
	void *ctx;
	/* Start t through the daemon's normal path (state record with fleet_id persisted before
	 * the spawn, cgroup limits, spawn). 0 or -errno (then the daemon records it failed). */
	int (*start)(void *ctx, const struct fleet_task *t);
	/* Whether a local task record already carries this fleet id (started before). */
	bool (*known)(void *ctx, uint64_t fleet_id);
	/* The node's devices as `status` shows them (a json array the caller puts). */
	json_object *(*devices)(void *ctx);
	/* Draining for shutdown (may be NULL): new assignments are handed back to the queue. */
	bool (*draining)(void *ctx);
	/* Cancel the running local task that carries this fleet id (kill its cgroup; its end
	 * is reported as "cancelled" through fleet_update). May be NULL; called again on every
	 * rescan until the task has ended, so it must be idempotent. */
	int (*cancel)(void *ctx, uint64_t fleet_id);
	/* Event-driven mode (fleet_params.event): notes were queued outside fleet_step (a watch
	 * event or a placement round ran from the loop); the host takes them. May be NULL. */
	void (*noted)(void *ctx);
};

struct fleet_params {
	const struct fleet_conf *conf;
	const char *node;   /* node name ("" = hostname) */
	const char *policy; /* policy name the placer runs (dconf policy) */
	uint64_t seed;
	bool overcommit;    /* placement = measured */
	unsigned period_ms; /* fleet timer period (default 50) */
	bool no_placer;	    /* never stand for placer (simulated nodes in bench/fleet_bench.c) */
	/* The host's event loop: watches run on it (libcurl's sockets as io sources), and the
	 * placement round and status writes run when something changed (a deferred source),
	 * not on the timer. NULL = the polled mode: watches polled and a placement round on
	 * every fleet_step (kept as the bench's baseline). */
	sd_event *event;
};

struct fleet;

/* What fleet mode needs at run time and a node outside a fleet never loads: libcurl (through
 * dlopen). 0, or -errno with one line in err saying what is missing. fleet_new checks it too. */
int fleet_runtime_check(char *err, size_t errsz);

/* Sets up the client; no etcd request is made here (fleet_step grants the lease, publishes,
 * watches and elects), so an unreachable etcd does not stop the daemon. */
int fleet_new(const struct fleet_params *p, const struct fleet_host *h, struct fleet **ret);
/* Hands the node over: writes the task states not yet written (one more try) and gives up the
 * placer key at once. 0 or the first -errno (also in the notes). fleet_free does it if needed. */
int fleet_shutdown(struct fleet *f);
void fleet_free(struct fleet *f);

/* One round of fleet work, due every fleet_period_usec() (the host runs the timer): lease
 * keepalive, device publication, this node's assignments, the task states not yet written,
 * the election and, while placer, a placement round (event-driven mode: only if a capacity
 * change is pending, a round is owed, or as the safety net once a second). 0 or the first
 * -errno of the round; what went wrong (and what happened) is in the notes. */
int fleet_step(struct fleet *f);
uint64_t fleet_period_usec(const struct fleet *f);
/* What this node did as placer since fleet_new: placement rounds run, claim transactions sent,
 * placements they applied (several per transaction: batched claims). For benches and logs. */
void fleet_counters(const struct fleet *f, uint64_t *ret_rounds, uint64_t *ret_claims,
		    uint64_t *ret_placed);

/* What fleet mode has to report, for its host to log each once (the module logs nothing):
 * failures (error = -errno, LOG_ERR or LOG_WARNING; an etcd failure once until etcd answers
 * again) and news (error 0, LOG_INFO: joined, elected, placed, assigned), in order, by
 * fleet_step and fleet_shutdown. A host that takes them at the top of its callbacks too keeps
 * its own lines in order with them (the daemon does). */
struct fleet_note {
	int prio;
	int error;
	char text[512];
};
/* Moves the notes gathered since the last call into *ret (malloc'd, NULL if none); returns
 * how many. At most FLEET_MAX_NOTES are kept between two calls; later ones are dropped. */
#define FLEET_MAX_NOTES 4096
size_t fleet_take_notes(struct fleet *f, struct fleet_note **ret);

const char *fleet_node(const struct fleet *f);
bool fleet_is_placer(const struct fleet *f);

/* Fleet mode as a device set (devset.h, kind "fleet"): every device the live nodes publish, read
 * from etcd by devset_refresh() (nothing before the first); node and measured use filled in.
 * The placer places through it. The set uses f's etcd client: free it before f. */
int fleet_devset_new(struct fleet *f, struct devset *ret);

/* Queues a task in /edgeslice/queue/<id>; ret_id = its fleet-wide id. -errno with a one-line
 * reason in err on failure. */
int fleet_submit(struct fleet *f, const char *queue, double cpu, uint64_t mem, char *const *argv,
		 size_t argc, uint64_t *ret_id, char *err, size_t errsz);

/* A local task that carries a fleet id changed state: published to /edgeslice/status/<id>
 * (retried until it is written; a final state also removes the assignment). */
struct fleet_update {
	uint64_t id;
	const char *state; /* running, exited, failed, cancelled */
	const char *device;
	int64_t pid;
	int exit_code;
	const char *reason;
	uint64_t start_us, end_us;
	/* the spec, kept in status/ once the assignment is gone */
	const char *queue;
	double cpu;
	uint64_t mem;
	char *const *argv;
	size_t argc;
	uint64_t submit_us;
	uint64_t assigned_us; /* kept in status/ when given (bench/fleet_bench.c splits its
			       * latency at it) */
};
/* Queued here, written by fleet_step (retried until written). 0 or -ENOMEM. */
int fleet_task_update(struct fleet *f, const struct fleet_update *u);

/* The whole fleet read from etcd: {"fleet":{...},"devices":[...],"queues":[...],"tasks":[...]}
 * with the node view's columns (devices named node/device). */
int fleet_status(struct fleet *f, json_object **ret, char *err, size_t errsz);

/* --- pure helpers (unit-tested) ------------------------------------------------------- */

/* "/edgeslice/nodes/<node>/devices/<dev>" -> node, dev. -EINVAL otherwise. */
int fleet_parse_device_key(const char *key, char *node, size_t nsz, char *dev, size_t dsz);
/* "/edgeslice/assign/<node>/<id>" -> node, id. */
int fleet_parse_assign_key(const char *key, char *node, size_t nsz, uint64_t *ret_id);
/* A task spec ({"id","queue","cpu","mem","argv",...}); argv malloc'd, free with
 * fleet_task_done. -EINVAL with the field in err. */
int fleet_parse_task(const char *json, struct fleet_task *ret, char *err, size_t errsz);

/* Cancels fleet task id from any node. Queued or assigned but not started: removed and
 * recorded "cancelled" at once (ret_state "cancelled"), fenced against a concurrent placement
 * or start claim. Started: its assignment is marked and its node kills it (ret_state
 * "cancelling"; the status turns "cancelled" when it has ended). -ENOENT unknown id,
 * -EALREADY already ended (its state in err), -EAGAIN it moved meanwhile (try again). */
int fleet_cancel(struct fleet *f, uint64_t id, char *ret_state, size_t statesz, char *err,
		 size_t errsz);
void fleet_task_done(struct fleet_task *t);
