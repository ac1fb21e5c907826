/* devset.h — the device set: the capacity placements are made on, as an interface with one
 * backend per mode (the daemon's local node in controller/daemon/devset.c, fleet mode's live
 * devices of every node in controller/fleet/fleet-devset.c). Types only, so any level can use it.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct devset_device {
	char node[65]; /* node the device belongs to ("" = this one) */
	char name[65];
	char cpus[256];	   /* cpuset for tasks placed here ("" = no pinning) */
	double cpu;	   /* capacity, cores */
	uint64_t mem;	   /* capacity, bytes */
	bool local;	   /* tasks run on this host (cgroup enforcement applies) */
	double cpu_used;   /* measured use as the device's node published it (remote backends) */
	uint64_t mem_used; /* bytes, idem; 0 where the backend does not know */
};

struct devset_ops {
	const char *kind;
	/* Reads the set again (a remote backend's devices come and go); NULL = fixed set.
	 * 0 or -errno; on failure the set read before is kept. */
	int (*refresh)(void *ctx);
	size_t (*count)(void *ctx);
	int (*get)(void *ctx, size_t i, struct devset_device *ret);
	void (*free)(void *ctx);
};

struct devset {
	const struct devset_ops *ops;
	void *ctx;
};

static inline int devset_refresh(const struct devset *s)
{
	return s->ops->refresh ? s->ops->refresh(s->ctx) : 0;
}

static inline size_t devset_count(const struct devset *s)
{
	return s->ops->count(s->ctx);
}

/* -ENOENT past the end. */
static inline int devset_get(const struct devset *s, size_t i, struct devset_device *ret)
{
	return s->ops->get(s->ctx, i, ret);
}

/* Frees the backend's context; a zeroed set is a no-op. */
static inline void devset_free(struct devset *s)
{
	if (s->ops && s->ops->free)
		s->ops->free(s->ctx);
	s->ops = NULL;
	s->ctx = NULL;
}
