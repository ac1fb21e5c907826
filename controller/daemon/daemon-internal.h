/* daemon-internal.h — what the files of edgesliced share: struct daemon, the task table and
 * its runtime half, and the functions one file of the daemon calls in another. */
#pragma once

#include "daemon.h"
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <syslog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <time.h>
#include "cg.h"
#include "dapp.h"
#include "dstate.h"
#include "dstore.h"
#include "fleet.h"
#include "metrics.h"
#include "policy.h"
#include "probes.h"
#include "proto.h"
#include "sampler.h"
#include "shaper.h"
#include "util.h"

/* Control-socket limits (docs/PROTOCOL.md, Limits). Authorised peers only hold slots: a
 * peer outside the group gets its error at accept and is closed. */
#define MAX_CLIENTS	256	     /* connections held at a time */
#define MAX_CLIENTS_UID 64	     /* per non-root uid */
#define ROOT_RESERVE	32	     /* slots only root may take */
#define OUT_PAUSE	(256u << 10) /* unsent output above this: stop reading requests */
#define MAX_OUTBUF	(16u << 20)  /* unsent events above this: the subscriber is dropped */
#define SNDBUF_MAX	(4u << 20) /* a client socket's send buffer, raised to fit a large reply */
#define MAX_REPLY	(256u << 20) /* one reply larger than this: too-large instead */
#define BUDGET_REQUESTS 16	     /* per client per loop turn ... */
#define BUDGET_BYTES	(64u << 10)  /* ... or this many request bytes ... */
#define BUDGET_USEC	10000	     /* ... or this long, then the next client's turn */
#define BATCH_MAX	64	     /* submits and cancels in one group commit (batch.c) ... */
#define BATCH_WAIT_US	1000	     /* ... or the longest the first waits for the others */
#define BATCH_PLACE_US	20000	     /* placement after batches: at most once per this */

struct daemon;

struct trt { /* a task's runtime half */
	struct daemon *d;
	struct cg_task *cg;
	int pidfd;
	sd_event_source *pid_src, *watch_src;
	bool sampled;	    /* known to the sampler */
	uint64_t cgroup_id; /* for the uplink classifier; 0 = unknown */
	bool shaped;	    /* has a class on the uplink */
	double cpu_used;
	uint64_t mem_used;
	bool in_policy, cancel;
	bool main_exited; /* pidfd fired; the cgroup may still hold descendants */
	bool prepared;	  /* queued, its cgroup already made and limited (placement.c) */
	sd_event_source *recheck_src;
	uint64_t recheck_us;
	int64_t arrival_ms;
	bool marked;   /* in daemon.chg: its row is written by the next daemon_persist */
	struct tsnap { /* the task's row as last committed to state.db (tasks.c) */
		bool stored;
		enum dtask_state state;
		int dev, exit_code;
		int64_t pid;
		uint64_t start_us, end_us, cpu_usec, upload_rate, fleet_id;
		double prio;
		char reason[64];
	} snap;
};

struct client {
	struct daemon *d;
	int fd;
	sd_event_source *src;
	sd_event_source *timer;	  /* idle and slow-reader timeouts */
	struct client *turn_next; /* in the daemon's queue of clients with requests left */
	bool in_turns;
	char *in;
	size_t in_off, in_len, in_cap; /* unparsed input is in[in_off, in_len) */
	char *out;
	size_t out_off, out_len, out_cap; /* unsent output is out[out_off, out_len) */
	uint64_t active_us;		  /* last request handled or output byte sent */
	size_t sndbuf;			  /* SO_SNDBUF as we last set it (0 = the default) */
	bool events, closing, authorized;
	bool eof;	    /* the peer shut its side: answer what it sent, then close */
	unsigned held;	    /* its requests in the open group commit, not answered yet */
	uint64_t batch_gen; /* the last group commit it joined (batch.c) */
	struct ucred cred;
	struct client *next;
};

/* Metrics kept for /metrics (dmetrics.c); the live figures are read at scrape time. */
#define DMX_MAX_EXITS 24
struct dmx {
	struct metrics_http *http;
	int listen_fd; /* socket-activated TCP socket, until the endpoint takes it; -1 */
	uint64_t placements;
	struct dmx_exit { /* exits by state and reason (a bounded set: the daemon's words) */
		char state[16], reason[64];
		uint64_t n;
	} exits[DMX_MAX_EXITS];
	size_t n_exits;
	struct metrics_hist decision, write;
	struct metrics_hist *queue_wait; /* parallel to daemon.queues */
	size_t n_queue_wait;
};

/* Foreign load (dforeign.c): per device, smoothed; the node's pressure; the runtimes' rows. */
#define DFOREIGN_ROWS 5
struct dforeign_dev {
	double cpu, mem; /* cores and bytes used by what edgeslice did not start */
	uint64_t prev_busy, prev_total;
	bool have_prev, valid;
};
struct dforeign {
	struct dforeign_dev *dev; /* parallel to daemon.dev */
	struct probe_foreign *scan;
	uint64_t scan_at;
	double psi_cpu, psi_mem; /* node "some" avg10, percent */
	/* Per device from its own CPUs when each has a cpuset of its own, enforced; otherwise
	 * (one device, overlapping sets, no cpuset controller) node-wide, shared by capacity. */
	bool per_device;
	uint64_t node_prev_busy, node_prev_total;
	bool node_have_prev;
	bool backoff; /* pressure above pressure_backoff: RD-DRF places nothing */
};

/* A device's running tasks summed: demand, measured use. */
struct ddev_usage {
	double cpu_alloc, mem_alloc, cpu_used, mem_used;
	unsigned running;
};

/* A submit or cancel waiting for the group commit (batch.c): parsed when read, applied and
 * answered with the others of its batch. */
struct batch_entry {
	struct client *c; /* NULL once the client is gone: applied, not answered */
	struct proto_request req;
	struct proto_error err;
	json_object *reply;
	int r;
	enum { BATCH_READ, BATCH_DONE, BATCH_TX, BATCH_AFTER } stage;
	struct dtask *task; /* submit: the new task; cancel: the task */
	uint32_t policy_id; /* submit: its queue's */
	struct {	    /* cancel: the fields before it, restored if the commit fails */
		enum dtask_state state;
		uint64_t end_us;
		char reason[64];
	} undo;
};

struct batch {
	struct batch_entry *e;
	size_t n, cap;
	struct batch_entry *cur;      /* being applied: submit.c leaves its commit to batch.c */
	sd_event_source *src, *timer; /* commit now (after this iteration's reads); at the latest */
	uint64_t gen;		      /* this batch's number */
	size_t joined, waiting;	      /* clients in this batch; of the last one, not back yet */
	bool off;		      /* EDGESLICED_GROUP_COMMIT=0: one commit per request */
	sd_event_source *place_src;   /* placement for committed submits, deferred */
	uint64_t place_us;	      /* the last placement pass a batch ran */
};

struct dqueue {
	char name[65];
	double cpu;
	uint64_t mem;
	uint32_t policy_id;
};

struct daemon {
	struct daemon_opts o;
	struct dconf conf;
	sd_event *ev;
	sd_event_source *listen_src, *tick_src;
	int listen_fd, state_fd;
	char sock_path[PATH_MAX];
	bool own_socket;
	gid_t group;
	bool have_group;
	struct cg_root *root;
	struct policy *pol;
	struct devset devs;
	size_t n_dev;
	struct devset_device *dev;
	double node_cpu;
	uint64_t node_mem;
	struct dconf_model *models;
	size_t n_models;
	struct dqueue *queues;
	size_t n_queues;
	struct dtask **tasks;
	size_t n_tasks, cap_tasks;
	uint64_t next_id;
	uint64_t t0_us;
	struct client *clients;
	size_t n_clients;
	/* Clients with complete requests left after their turn's budget, served in order by
	 * one idle-priority defer (clients.c). */
	sd_event_source *turns_src;
	sd_event_source *sched_src;  /* a placement pass after this loop turn's exits */
	sd_event_source *sample_src; /* the rest of a measurement round, a slice per turn */
	size_t sample_cursor;
	struct client *turns_head, *turns_tail;
	bool draining, scheduling;
	unsigned drain_checks; /* on_drain_check calls while draining */
	bool dirty; /* in-memory state newer than state.db (only where a crash is harmless) */
	bool persist_failed;	 /* the last state.db transaction failed (logged once) */
	struct dstore *store;	 /* state.db */
	uint64_t stored_next_id; /* next_id as committed */
	uint64_t *gone;		 /* ids of stored tasks since dropped: rows to delete */
	size_t n_gone, cap_gone;
	struct dtask **chg; /* tasks changed since the last commit (daemon_task_changed) */
	size_t n_chg, cap_chg;
	uint64_t scan_us; /* last full comparison of the table with the rows (a safety net) */
	bool stopping;	  /* teardown: tasks freed now keep their rows */
	struct reaper {	  /* removes emptied task cgroups off the event loop */
		pthread_t thread;
		pthread_mutex_t lock;
		pthread_cond_t wake;
		struct cg_task **q;
		size_t n, cap;
		bool stop, running;
	} reaper;
	struct sampler *sampler; /* cgroup files, plus the eBPF probe when it loaded */
	bool bpf;
	bool node_read_failed;
	struct shaper *shaper; /* the uplink's per-task shaping; NULL without uplink = */
	struct unshape {
		uint64_t cgroup_id, deadline_us;
	} * unshape; /* classes of finished tasks, removed once drained */
	size_t n_unshape;
	uint64_t prepared[DAEMON_PREPARE_MAX]; /* ids of queued tasks with a made cgroup */
	size_t n_prepared;
	bool dirty_lazy; /* changes no recovery needs (a start's pid): written by the next tick */
	const char *cg_path;	 /* absolute path of the task subtree */
	char cgroupfs[PATH_MAX]; /* the cgroup2 mount */
	int lock_fd;		 /* state folder lock (flock), held while running */
	char btf_path[PATH_MAX]; /* the kernel's BTF (daemon_opts.btf, or <sys>/kernel/btf/vmlinux)
				  */
	struct probe_caps caps;	 /* what the kernel offers (check_kernel) */
	bool hybrid;		 /* cgroup v1 controllers, an empty cgroup2: nothing enforced */
	bool mem_enforced;	 /* memory.max is written (the memory controller is delegated) */
	char kernel_warnings[4][256]; /* one line each, as logged at start-up */
	size_t n_kernel_warnings;
	bool journal;
	char last_status[128];
	struct fleet *fleet; /* fleet = etcd (controller/fleet/); NULL in single-node mode */
	sd_event_source *fleet_timer; /* fleet_step() every fleet_period_usec() */
	bool loading;	    /* load_state: applications are settled once all tasks are known */
	struct batch batch; /* group commit of submits and cancels (batch.c) */
	struct dmx mx;
	struct dforeign fg;
};

/* --- shared between the files of this folder ---------------------------------- */

extern bool daemon_log_prefix;
extern int daemon_log_max;

void daemon_log(int prio, const char *fmt, ...) _printf_(2, 3);
double daemon_mono_s(const struct daemon *d);
uint64_t daemon_realtime_us(void);
int daemon_measure_task(struct daemon *d, const struct dtask *t, double *ret_cpu,
			uint64_t *ret_mem);
void daemon_measure_start(struct daemon *d, struct dtask *t);
struct dtask *daemon_task_find(struct daemon *d, uint64_t id);
struct trt *daemon_trt_new(struct daemon *d, struct dtask *t);
void daemon_trt_close(struct dtask *t);
void daemon_task_free(struct dtask *t);
/* Commits what changed since the last call (rows of new and changed tasks, deletions,
 * next_id) in one transaction; on failure everything stays pending for the next call. */
int daemon_persist(struct daemon *d);
/* t changed (state, placement, exit...): its row goes with the next daemon_persist. Every
 * change of a recorded field calls it, so a commit costs what changed, not the table. */
void daemon_task_changed(struct daemon *d, struct dtask *t);
/* Every task compared with its row (load, shutdown, and every 10 s as a safety net). */
void daemon_tasks_compare(struct daemon *d);
/* A task just read from state.db: its row is what is in memory. */
void daemon_task_stored(struct dtask *t);
/* Opens state.db (importing an older state.json once) and reads every task; -EBADMSG when
 * it is damaged (logged: the daemon must not start). */
int daemon_state_load(struct daemon *d, struct dtask **ret, size_t *ret_n);
/* edgesliced --recover: rebuilds state.db from what reads and the cgroup tree. */
int daemon_recover(struct daemon *d);
void daemon_trim_finished(struct daemon *d);
int daemon_task_append(struct daemon *d, struct dtask *t);
struct dqueue *daemon_queue_find(struct daemon *d, const char *name);
const struct dconf_model *daemon_model_find(struct daemon *d, const char *name);
int daemon_queue_get(struct daemon *d, const char *name, double cpu, uint64_t mem,
		     struct dqueue **ret);
void daemon_emit(struct daemon *d, const char *what, const struct dtask *t);
void daemon_notify_status(struct daemon *d);
void fleet_notify(struct daemon *d, const struct dtask *t);
int daemon_shape_task(struct daemon *d, struct dtask *t);
bool daemon_any_shaped(struct daemon *d);
void daemon_unshape_drained(struct daemon *d, uint64_t now);
void daemon_unshape_task(struct daemon *d, struct dtask *t);
void shaper_sweep(struct daemon *d);
int daemon_reaper_start(struct reaper *rp);
void daemon_reaper_stop(struct reaper *rp);
void daemon_task_finish(struct daemon *d, struct dtask *t, enum dtask_state st, const char *reason);
void daemon_check_empty(struct daemon *d, struct dtask *t);
int daemon_watch_task(struct daemon *d, struct dtask *t);
int daemon_task_start(struct daemon *d, struct dtask *t);
/* A queued task's prepared cgroup is given back (to the removal thread), unless starting. */
void daemon_unprepare(struct daemon *d, struct dtask *t);
/* Fills the free prepare_cgroups slots (after every placement pass and cancel). */
void daemon_prepare_heads(struct daemon *d);
/* daemon_schedule() once the exits ready in this loop turn are handled. */
void daemon_schedule_soon(struct daemon *d);
void daemon_reaper_push(struct daemon *d, struct cg_task *ct);
void daemon_schedule(struct daemon *d);
void daemon_sweep_stale(struct daemon *d);
int daemon_on_tick(sd_event_source *s, uint64_t usec, void *userdata);
json_object *daemon_uplink_json(struct daemon *d);
json_object *daemon_measure_json(struct daemon *d);
json_object *daemon_kernel_json(struct daemon *d);
/* Detects what the kernel lacks, logs it once, fills d->caps and the warnings; -EOPNOTSUPP
 * when require_memory = yes cannot be met. cgfs: the cgroup2 mount (d->root is open). */
int daemon_check_kernel(struct daemon *d, const char *cgfs);
/* Creates, opens (d->state_fd) and locks (d->lock_fd) the state folder; -EBUSY when another
 * daemon holds it. */
int daemon_open_state_dir(struct daemon *d);
json_object *daemon_devices_json(struct daemon *d);
json_object *daemon_queues_json(struct daemon *d);
json_object *daemon_tasks_json(struct daemon *d, bool live_only);
int fleet_setup(struct daemon *d);
void fleet_teardown(struct daemon *d);
void fleet_log_notes(struct daemon *d);
int daemon_set_err(struct proto_error *e, enum proto_err code, const char *field, const char *fmt,
		   ...) _printf_(4, 5);
/* 0 when execvp() could run cmd as the daemon; else -errno and why (bad-command). */
int daemon_check_command(const char *cmd, char *why, size_t whysz);
/* bad-command for argv, or without one the catalog command of m; where: "tasks[i]" in an
 * application, NULL for submit. */
int daemon_check_task_argv(char **argv, const struct dconf_model *m, const char *where,
			   struct proto_error *err);
int daemon_do_submit(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err);
int daemon_do_cancel(struct daemon *d, struct proto_request *req, json_object *reply,
		     struct proto_error *err);
bool daemon_app_pinned(struct daemon *d, const struct dtask *t);
void daemon_app_settle(struct daemon *d, uint64_t app);
void daemon_apps_settle_all(struct daemon *d);
json_object *daemon_apps_json(struct daemon *d, bool live_only);
int daemon_do_submit_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err);
int daemon_do_cancel_app(struct daemon *d, struct proto_request *req, json_object *reply,
			 struct proto_error *err);
bool daemon_peer_authorized(struct daemon *d, int fd, const struct ucred *cr);
/* -EAGAIN: not handled (the client's earlier requests wait for their group commit). */
int daemon_handle_line(struct client *c, const char *line, size_t len);
/* The reply line for req (reply, or the error when r < 0) queued to c; takes reply. */
void daemon_reply(struct client *c, struct proto_request *req, json_object *reply, int r,
		  struct proto_error *err);
/* Group commit (batch.c): whether req waits for it; adds it (taking req's fields); commits
 * (applies every request, one transaction, then the replies); a client going away. */
bool daemon_batch_wants(struct daemon *d, const struct proto_request *req);
int daemon_batch_add(struct client *c, struct proto_request *req);
void daemon_batch_commit(struct daemon *d);
void daemon_batch_forget(struct client *c);
void daemon_batch_free(struct daemon *d);
/* Inside a batch (d->batch.cur): a queued task cancelled with the others; or the request is
 * done alone after the commit (an application's task, whose dependents change too). */
int daemon_batch_cancel(struct daemon *d, struct dtask *t, json_object *reply);
int daemon_batch_later(struct daemon *d);
void daemon_client_free(struct client *c);
void daemon_client_send(struct client *c, const char *line);
void daemon_client_send_n(struct client *c, const char *line, size_t n);
int daemon_on_accept(sd_event_source *s, int fd, uint32_t revents, void *userdata);
/* The node's size as a start with config c sees it: node_cores/node_memory, else online
 * CPUs and MemTotal; -ENODATA without a memory size. */
int daemon_node_capacity(const struct daemon *d, const struct dconf *c, double *ret_cpu,
			 uint64_t *ret_mem);
/* Loads the model catalog; a missing file is an error when required (the catalog key), else
 * the built-in models. */
int daemon_load_catalog(struct daemon *d, const char *path, bool required, char *err, size_t errsz);
/* Metrics (dmetrics.c): the endpoint when configured or socket-activated, and the events
 * counted for it. */
int daemon_metrics_setup(struct daemon *d);
void daemon_metrics_teardown(struct daemon *d);
void daemon_mx_placed(struct daemon *d, const struct dtask *t);
void daemon_mx_finished(struct daemon *d, const struct dtask *t);
void daemon_mx_decision(struct daemon *d, uint64_t usec);
void daemon_mx_write(struct daemon *d, uint64_t usec);
json_object *daemon_metrics_json(struct daemon *d);
void daemon_device_usage(struct daemon *d, size_t dev, struct ddev_usage *ret);
/* OCI containers (oci.c). */
int daemon_oci_check(struct daemon *d, const char *bundle, char ***ret_argv, size_t *ret_argc,
		     struct proto_error *err);
int daemon_oci_prepare(struct daemon *d, struct dtask *t, char ***ret_argv);
void daemon_oci_cleanup(struct daemon *d, const struct dtask *t);
/* Foreign load (dforeign.c). */
int daemon_foreign_setup(struct daemon *d);
void daemon_foreign_teardown(struct daemon *d);
void daemon_foreign_tick(struct daemon *d, uint64_t now);
bool daemon_foreign_counts(const struct daemon *d);
json_object *daemon_foreign_json(struct daemon *d);
int daemon_reload(struct daemon *d, char *restart, size_t rsz, char *err, size_t errsz);
