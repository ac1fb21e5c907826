/* policy_internal.h — what the files of the placement policies share: the instance, device
 * and queue tables and the resource-vector helpers. Pure, like the policies. */
#pragma once

#include "policy.h"

#define NIL UINT32_MAX
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum inst_state { INST_FREE, INST_WAITING, INST_RUNNING };

struct inst {
	uint64_t id;
	uint32_t queue;
	uint32_t dev;
	uint32_t prev, next; /* FIFO links while waiting; free-list link when free */
	double arrival;
	struct policy_res usage; /* last sample */
	uint64_t sample_epoch;	 /* device epoch at the first sample */
	uint8_t state;
	bool sampled;
};

struct dev {
	struct policy_res total;
	struct policy_res meas_free; /* last policy_set_device_free (total until then) */
	/* In-flight compensation, subtracted from meas_free until a measurement covers it:
	 * demands of unsampled instances, and of instances sampled after the last device
	 * measurement. Released-but-still-measured usage is credited back. */
	struct policy_res inflight, pending, credit;
	struct policy_res alloc;       /* sum of demands placed here (drf, rr, random) */
	struct policy_res stale_alloc; /* drf-paper: releases not yet reconciled */
	uint64_t epoch;
	uint32_t running;
	bool present, live;
};

struct queue {
	char *name;
	struct policy_res demand;
	double weight;
	struct policy_res usage_meas; /* sum of last samples of sampled running instances */
	uint32_t n_inflight;	      /* running instances without a sample */
	uint32_t running, waiting;
	uint32_t stale_running; /* drf-paper: released but not yet reconciled */
	uint32_t head, tail;
};

/* One node of the device index (policy_devidx.c): maxima over the live devices below it. */
struct devidx_node {
	double fc, fm; /* free */
	double rc, rm; /* free / total */
	double tc, tm; /* total */
};

struct policy {
	struct policy_params params;
	struct dev *devs;
	uint32_t n_devs; /* array size (max id + 1) */
	struct queue *queues;
	uint32_t n_queues, cap_queues;
	struct inst *insts;
	uint32_t n_insts, cap_insts, free_inst;
	/* inst id -> index, open addressing with linear probing; NIL = empty */
	uint32_t *hash;
	uint32_t hash_cap; /* power of two */
	uint32_t n_hashed;
	uint64_t rng;
	uint32_t rr_queue, rr_dev;
	double last_reconcile;
	/* scratch for policy_next */
	uint32_t *heap;
	uint32_t heap_cap;
	double *share;
	/* RD-DRF's device index: a tree over idx_cap leaves (idx[1] the root), the devices
	 * changed since it was last brought up to date */
	struct devidx_node *idx;
	uint32_t idx_cap;
	uint8_t *idx_dirty;
	uint32_t *idx_list, idx_n_dirty;
	bool idx_rebuild;
	struct policy_res total_cache; /* policy_pooled_total() while total_valid */
	bool total_valid;
};

/* --- shared between the files of this folder ---------------------------------- */

bool policy_res_fits(struct policy_res d, struct policy_res free);
struct policy_res policy_res_add(struct policy_res a, struct policy_res b);
struct policy_res policy_res_sub(struct policy_res a, struct policy_res b);
uint32_t policy_rng_below(uint64_t *s, uint32_t n);
void policy_fifo_unlink(struct policy *p, struct queue *q, uint32_t idx);
struct policy_res policy_dev_free(const struct policy *p, const struct dev *d);
struct policy_res policy_pooled_total(const struct policy *p);
double policy_dominant_share(const struct policy *p, const struct queue *q, struct policy_res c);

/* The device index (policy_devidx.c). touch: device dev_id changed; invalidate: the device
 * table changed shape. most_idle and max_free answer from the index, -EOPNOTSUPP when it is
 * not in use (another policy, the no_device_index baseline, no memory): scan instead. */
void policy_devidx_touch(struct policy *p, uint32_t dev_id);
void policy_devidx_invalidate(struct policy *p);
void policy_devidx_free(struct policy *p);
int policy_devidx_most_idle(struct policy *p, struct policy_res dem, uint32_t *ret);
int policy_devidx_max_free(struct policy *p, struct policy_res *ret);
double policy_idle_after(struct policy_res f, struct policy_res total, struct policy_res dem);
