/* fleet-internal.h — what the files of fleet mode share: struct fleet, the placer's view of
 * the fleet, the etcd keyspace and the helpers the node side, the placer and the status use. */
#pragma once

#include "fleet.h"
#include "jsonget.h"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include "etcd-internal.h"
#include "policy.h"
#include "util.h"

#define K_NODES	 FLEET_PREFIX "nodes/"
#define K_PLACER FLEET_PREFIX "placer"
#define K_QUEUE	 FLEET_PREFIX "queue/"
#define K_ASSIGN FLEET_PREFIX "assign/"
#define K_STATUS FLEET_PREFIX "status/"
#define K_SEQ	 FLEET_PREFIX "seq"

#define PUBLISH_US	 1000000u  /* device usage refresh */
#define ELECT_US	 250000u   /* how often a non-placer looks for a free placer key */
#define RESCAN_US	 2000000u  /* full re-read of this node's assignments besides the watch */
#define SUBMIT_RETRY_US	 5000000u  /* a submission retries transient etcd errors this long */
#define SAFETY_US	 1000000u  /* event-driven mode: a placement round at least this often */
#define PUBLISH_FULL_US	 10000000u /* event-driven mode: every device republished this often */
#define PUBLISH_DEADBAND 0.05	   /* ... and in between when its use moved this share of it */

struct pdev {
	char node[65], name[65];
	bool live, seen, added;
	double cpu, mem;	     /* capacity */
	double used_cpu, used_mem;   /* as the node measured */
	double alloc_cpu, alloc_mem; /* demands of assignments, from the assign range */
};

struct ptask {
	uint64_t id;
	bool placed, in_policy, seen;
	int64_t mod_rev; /* of the queue entry (waiting) */
	size_t dev;
	double cpu;
	uint64_t mem;
	char *spec; /* the queue entry's value */
};

struct pqueue {
	char name[65];
	uint32_t id;
};

struct placer {
	struct policy *pol;
	int64_t rev; /* create_revision of our /edgeslice/placer key: the fencing token */
	struct pdev *devs;
	size_t n_devs;
	struct ptask *tasks;
	size_t n_tasks;
	struct pqueue *queues;
	size_t n_queues;
	uint64_t t0_us;
	bool again;	/* a claim's compare failed: run the round again soon */
	size_t waiting; /* tasks left unplaced by the last round */
};

/* A prefix as etcd holds it, kept by the placer from one range and its watch (fleet-mirror.c):
 * kvs sorted by key, as a range returns them. */
struct fmirror {
	struct etcd_kv *kvs;
	size_t n, cap;
	bool ready;
};
enum { PW_QUEUE, PW_ASSIGN, PW_NODES, _PW_MAX };

struct pending {
	uint64_t id;
	char *value;
	bool final; /* also delete the assignment */
};

struct fleet {
	struct etcd *e;
	struct fleet_host h;
	char node[65];
	char policy[16];
	uint64_t seed;
	bool overcommit;
	bool no_placer;
	unsigned ttl;
	unsigned period_ms;
	int64_t lease;
	/* The election key's own, shorter lease (TTL/2, at least etcd's minimum): a dead
	 * placer's key goes within about half a node TTL, so the next placer is elected within
	 * one TTL of the kill, although the node's own lease may still have most of its TTL. */
	int64_t elease, ettl;
	uint64_t last_keepalive_us, last_ekeepalive_us, last_publish_us, last_elect_us,
	    last_rescan_us;
	struct etcd_watch *w;
	bool placer;
	struct placer pl;
	struct devset devs; /* fleet_devset_new(): the placer's devices */
	struct pending *pend;
	size_t n_pend;
	/* event-driven mode: the revision of our last write of status/<id>, per task running
	 * here, so the next write compares on it without reading first */
	struct srev {
		uint64_t id;
		int64_t rev;
	} * srev;
	size_t n_srev;
	struct etcd_kv *inbox; /* assignments from the watch, for fleet_inbox_run */
	size_t n_inbox;
	bool etcd_down;		  /* an error was noted; the next success is noted too */
	bool shut;		  /* fleet_shutdown() ran */
	struct fleet_note *notes; /* for fleet_take_notes() */
	size_t n_notes;
	int step_err; /* first -errno noted in this fleet_step() */
	/* event-driven mode (fleet_params.event) */
	sd_event *event;
	sd_event_source *kick; /* deferred: status writes and an owed placement round */
	bool rewatch;	       /* the assignment watch is to be rebuilt (not from its own cb) */
	struct etcd_watch *pw[_PW_MAX]; /* the placer's watches: queue/, assign/, nodes/ */
	struct fmirror mir[_PW_MAX];	/* and what they keep */
	bool pl_rewatch;		/* one of them died: rebuild */
	bool pl_owed;			/* a queue or capacity change: run a round now */
	bool pl_cap;			/* a node republished its use: a round by the next tick */
	uint64_t last_round_us;
	unsigned again_streak; /* rounds in a row whose claim failed a compare */
	/* event-driven mode: what each device published last, so a put that says nothing new
	 * (same capacity, allocation and running count, use within the deadband) is skipped */
	struct pubdev {
		char name[65];
		double cpu, mem, cpu_alloc, mem_alloc, cpu_used, mem_used, running;
	} * pub;
	size_t n_pub;
	uint64_t last_full_publish_us;
	uint64_t rounds, claims, claimed; /* rounds run, claim transactions, placements applied */
};

/* --- shared between the files of this folder ---------------------------------- */

uint64_t fleet_realtime_us(void);
const char *fleet_jstr(json_object *o);
double fleet_jget_d(json_object *o, const char *k);
int64_t fleet_jget_i(json_object *o, const char *k);
const char *fleet_jget_s(json_object *o, const char *k);
void fleet_key_id(char *buf, size_t size, const char *prefix, uint64_t id);
void fleet_key_assign(char *buf, size_t size, const char *node, uint64_t id);
void fleet_node_step(struct fleet *f, uint64_t now);
/* Queues a note for the host (fleet_take_notes); error 0 or -errno. */
void fleet_note(struct fleet *f, int prio, int error, const char *fmt, ...) _printf_(4, 5);
int fleet_etcd_failed(struct fleet *f, const char *what, int r);
void fleet_etcd_ok(struct fleet *f);
void fleet_placer_reset(struct placer *pl);
bool fleet_retry(int r, uint64_t deadline);
int fleet_flush_pending(struct fleet *f);
/* Event-driven mode: status/<id> was written by us at rev (0: forget it). */
void fleet_status_rev_set(struct fleet *f, uint64_t id, int64_t rev);
/* Event-driven mode: an assignment from the watch kept for the deferred source, which
 * starts what arrived together with one claim transaction (fleet_inbox_run). */
int fleet_inbox_push(struct fleet *f, const struct etcd_kv *kv);
void fleet_inbox_run(struct fleet *f);
void fleet_copy_alloc_used(json_object *to, json_object *from);
int fleet_publish(struct fleet *f);
void fleet_drop_election_lease(struct fleet *f);
int fleet_keepalive_if_due(struct fleet *f);
/* Event-driven mode: run the deferred work (status writes, an owed round) soon; no-op polled. */
void fleet_kick(struct fleet *f);
/* The placer's watches and mirrors (fleet-mirror.c). watch: a range of each prefix, then a
 * watch from the revision after it; unwatch: both gone. mirrored: every mirror is ready, so
 * a round reads them instead of etcd; view: a mirror as a range (not owned: no
 * etcd_kvs_done). claimed: a claim transaction applied at revision rev, written into the
 * mirrors before its own events come back. */
int fleet_placer_watch(struct fleet *f);
void fleet_placer_unwatch(struct fleet *f);
bool fleet_mirrored(const struct fleet *f);
struct etcd_kvs fleet_mirror_view(const struct fleet *f, int which);
void fleet_mirror_claimed(struct fleet *f, const char *qkey, const char *akey, const char *value,
			  int64_t rev);
void fleet_host_noted(struct fleet *f);
int fleet_on_kick(sd_event_source *s, void *userdata);
/* The device keys of a nodes/ range as devices (keys that are no device key or values that are
 * no JSON skipped); *ret malloc'd. */
int fleet_devices_parse(const struct etcd_kvs *kvs, struct devset_device **ret, size_t *ret_n);
