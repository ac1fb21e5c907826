/* dconf.h — edgesliced's configuration (/etc/edgeslice/edgeslice.conf, key = value) and
 * model catalog (/etc/edgeslice/models.json). Parsing is separate from I/O and pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"

#define DCONF_MAX_DEVICES 64
#define DCONF_MAX_MODELS  256

struct dconf_device {
	char name[65];
	char cpus[256]; /* cpuset list, "" = all of the node */
	double cpu;	/* cores; 0 = from cpus or the node */
	uint64_t mem;	/* bytes; 0 = the node's share */
};

#define DCONF_MAX_CMD	   1024 /* bytes of a catalog command, NUL-separated arguments */
#define DCONF_MAX_CMD_ARGS 64

struct dconf_model {
	char name[65];
	double cpu;
	uint64_t mem;
	/* The command a submission without one runs ("command": [argv...] in the catalog):
	 * cmd_argc arguments packed NUL-separated in cmd; cmd_argc 0 = none. Fixed-size so a
	 * catalog is one flat array (copied, freed with free()). */
	unsigned cmd_argc;
	char cmd[DCONF_MAX_CMD];
	char bundle[256]; /* "bundle": an OCI bundle folder run instead of a command; "" = none */
};
/* A freshly allocated NULL-terminated argv of the model's command; -ENOENT without one. */
int dconf_model_argv(const struct dconf_model *m, char ***ret, size_t *ret_argc);

enum dconf_sigterm { DCONF_SIGTERM_LEAVE, DCONF_SIGTERM_DRAIN };
/* Where per-task usage comes from: cgroup files only, or those plus the eBPF scheduler probe
 * (auto: the probe if it loads, else files, said once; ebpf: refuse to start without it). */
enum dconf_measure { DCONF_MEASURE_AUTO, DCONF_MEASURE_EBPF, DCONF_MEASURE_CGROUP };

#define DAEMON_PREPARE_MAX 64 /* prepare_cgroups' bound */

struct dconf {
	char policy[16]; /* rddrf drf drf-paper rr random */
	uint64_t seed;
	unsigned measure_ms; /* measurement tick, default 100 (10 Hz) */
	enum dconf_measure measure;
	double smoothing; /* EWMA weight of the newest interval, (0,1]; default 0.5 */
	enum dconf_sigterm on_sigterm;
	bool strict;		  /* enforcement = strict: refuse to run without cpu/memory */
	bool require_memory;	  /* require_memory = yes: refuse to run without memory limits */
	bool overcommit;	  /* placement on measured use only (pure RD-DRF) */
	char group[33];		  /* control socket group */
	char catalog[256];	  /* model catalog path */
	bool catalog_set;	  /* `catalog` given: a missing file is an error */
	unsigned idle_timeout_s;  /* a client silent this long is closed (0 = never) */
	unsigned write_timeout_s; /* a client not reading its replies this long is closed */
	double node_cpu;	  /* 0 = online CPUs */
	uint64_t node_mem;	  /* 0 = MemTotal */
	unsigned max_tasks;	  /* queued + running */
	unsigned prepare_cgroups; /* queue heads whose cgroup is made ahead of their start */
	unsigned keep_finished;	  /* finished tasks kept for `tasks` */
	char metrics_listen[64];  /* HOST:PORT of /metrics; "" = only a socket-activated one */
	bool metrics_commands;	  /* command lines as a label of edgeslice_task_info */
	double pressure_backoff;  /* node PSI some avg10 (%) that stops RD-DRF; 0 = off */
	bool foreign_ignored;	  /* foreign_load = ignore: RD-DRF does not subtract it */
	double foreign_floor;	  /* foreign CPU below this share of a device is noise; 0.2 */
	char oci_runtime[256];	  /* OCI runtime for container tasks (crun, runc or a path) */
	char uplink[16];	  /* interface whose uploads are shaped per task; "" = none */
	uint64_t uplink_rate;	  /* bytes/s of the HTB parent; 0 = the link's speed */
	size_t n_devices;
	struct dconf_device devices[DCONF_MAX_DEVICES];
	struct fleet_conf fleet; /* fleet mode (fleet.h) */
};

void dconf_init(struct dconf *c);
/* Parses the whole file. On error returns -EINVAL and writes "line N: key: why" to err. */
int dconf_parse(const char *text, struct dconf *c, char *err, size_t errsz);
/* {"models":[{"name":"resnet-18","cpu":2,"memory":"1257M","command":["edgeslice-infer",...]},...]}
 */
int dconf_parse_models(const char *text, struct dconf_model **ret, size_t *ret_n, char *err,
		       size_t errsz);
/* The paper's four models, used when the catalog file is missing. */
extern const struct dconf_model dconf_default_models[4];
/* Counts CPUs in a cpuset list "0-2,4"; -EINVAL on syntax. */
int dconf_cpulist_count(const char *s, unsigned *ret);
