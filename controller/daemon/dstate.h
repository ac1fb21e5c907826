/* dstate.h — edgesliced's task records and their persisted form: one JSON record per task
 * (a row of state.db, dstore.h) and the older whole-table state.json. Pure serialization. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum dtask_state {
	DTASK_QUEUED,	 /* accepted, waiting for a placement */
	DTASK_STARTING,	 /* placed; cgroup may exist; spawn may or may not have happened */
	DTASK_RUNNING,	 /* spawned inside its cgroup */
	DTASK_DONE,	 /* cgroup emptied (exit status in exit_code when we reaped it) */
	DTASK_CANCELLED, /* cancelled while queued, or killed by cancel */
	DTASK_FAILED,	 /* could not be enforced or started */
	DTASK_WAITING,	 /* application task: predecessors not all done (docs/DAEMON.md) */
	_DTASK_STATE_MAX,
};

struct dtask {
	uint64_t id;
	char queue[65];
	char **argv; /* NULL-terminated */
	size_t argc;
	double cpu;   /* demand, cores */
	uint64_t mem; /* demand, bytes */
	enum dtask_state state;
	int dev;	    /* device index, -1 when not placed */
	uint64_t submit_us; /* CLOCK_REALTIME usec (survives restarts) */
	uint64_t start_us;
	uint64_t end_us;
	int64_t pid;	      /* 0 when unknown */
	int exit_code;	      /* -1 unknown; else wait status code; 128+sig for signals */
	char reason[64];      /* why FAILED/DONE ("exited", "oom-kill", "lost", ...) */
	uint64_t cpu_usec;    /* CPU time used (cpu.stat usage_usec), known once finished */
	uint64_t upload_rate; /* bytes/s its uploads are shaped to on the uplink; 0 = not shaped */
	/* application membership (controller/dapp.h); app == 0: a plain task */
	uint64_t app; /* the application's id: the id of its first task */
	char app_name[65];
	char name[32];	 /* task name within the application */
	uint64_t *after; /* ids of the predecessors (same application, lower ids) */
	size_t n_after;
	double prio;	   /* MRS upward rank; ready tasks are queued highest first */
	char *oci;	   /* an OCI container: its bundle folder (absolute); NULL = argv runs as
			    * a plain command. argv is then the container's process.args. */
	uint64_t fleet_id; /* fleet mode: the fleet-wide task id it was assigned as; 0 = local.
			    * Persisted so an assignment is started once across restarts. */
	/* runtime only, not persisted */
	void *rt;
};

const char *dtask_state_name(enum dtask_state s);
int dtask_state_from_name(const char *s, enum dtask_state *ret);
bool dtask_state_live(enum dtask_state s); /* waiting, queued, starting or running */
/* "task-<queue>-<id>": the task's cgroup directory name. */
int dtask_cgroup_name(const struct dtask *t, char *buf, size_t size);
void dtask_free_fields(struct dtask *t);

/* One record as a JSON object (a state.db row, an entry of state.json's "tasks"). */
int dtask_format(const struct dtask *t, char **ret);
/* Parses and validates one record (messages name it tasks[0]); -EINVAL with err set. */
int dtask_parse(const char *text, struct dtask *ret, char *err, size_t errsz);
/* {"version":1,"next_id":N,"tasks":[...]} as one malloc'd string. */
int dstate_format(const struct dtask *tasks, size_t n, uint64_t next_id, char **ret);
/* Parses and validates; any inconsistency (bad type, duplicate id, id >= next_id) is
 * -EINVAL with a message in err, so a corrupt file is never half-loaded. */
int dstate_parse(const char *text, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		 char *err, size_t errsz);
void dstate_free(struct dtask *tasks, size_t n);
