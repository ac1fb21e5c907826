/* shaper-class.c — task classes of the HTB tree over rtnetlink: put, delete, list and read
 * a class with its leaf qdisc and drop counters. */
#include "shaper-internal.h"

/* ---- classes ------------------------------------------------------------------------- */

static int put_leaf(struct shaper *s, uint32_t classid, const char *kind,
		    const struct shaper_sizing *z)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	int r;

	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), s->ifindex);
	rtnl_tc_set_parent(TC_CAST(q), classid);
	rtnl_tc_set_handle(TC_CAST(q), 0); /* kernel picks a free handle */
	r = rtnl_tc_set_kind(TC_CAST(q), kind);
	if (r >= 0 && !strcmp(kind, "fq_codel")) {
		r = rtnl_qdisc_fq_codel_set_target(q, z->target_us);
		if (r >= 0)
			r = rtnl_qdisc_fq_codel_set_interval(q, z->interval_us);
	} else if (r >= 0) {
		r = rtnl_qdisc_fifo_set_limit(q, (int)z->fifo_limit);
	}
	/* CREATE|REPLACE: grafts over HTB's default leaf (another kind), changes ours in place. */
	if (r >= 0)
		r = rtnl_qdisc_add(s->nl, q, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_qdisc_put(q);
	return shaper_nl_errno(r);
}

/* excl: fail with -EEXIST instead of changing a class that exists (a concurrent allocation
 * of the same id by another edgeslice process). */
int shaper_put_class_flags(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
			   uint64_t ceil_rate, bool with_leaf, bool excl)
{
	struct shaper_sizing zr, zc;
	struct rtnl_class *c = NULL;
	int r;

	r = shaper_size_class(rate, s->mtu, &zr);
	if (r < 0)
		return r;
	r = shaper_size_class(ceil_rate, s->mtu, &zc);
	if (r < 0)
		return r;
	c = rtnl_class_alloc();
	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), s->ifindex);
	rtnl_tc_set_parent(TC_CAST(c), parent);
	rtnl_tc_set_handle(TC_CAST(c), classid);
	rtnl_tc_set_mtu(TC_CAST(c), s->mtu + L2_HEADER);
	r = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (r >= 0)
		r = rtnl_htb_set_rate64(c, rate);
	if (r >= 0)
		r = rtnl_htb_set_ceil64(c, ceil_rate);
	if (r >= 0)
		r = rtnl_htb_set_rbuffer(c, zr.burst);
	if (r >= 0)
		r = rtnl_htb_set_cbuffer(c, zc.cburst);
	if (r >= 0)
		r = rtnl_htb_set_quantum(c, zr.quantum);
	if (r >= 0)
		r = rtnl_htb_set_prio(c, 0);
	if (r >= 0)
		r = rtnl_class_add(s->nl, c, NLM_F_CREATE | (excl ? NLM_F_EXCL : 0));
	rtnl_class_put(c);
	if (r < 0 || !with_leaf)
		return shaper_nl_errno(r);

	/* fq_codel per class: flows of one task share its rate fairly and the standing queue
	 * stays short. Re-created on a rate change because target/interval depend on the rate.
	 * Kernels without fq_codel (the kernel says ENOENT: "kind unknown") get a pfifo sized
	 * to ~100 ms at the class rate instead of HTB's tx_queue_len-deep default. */
	if (!s->no_fq_codel) {
		r = put_leaf(s, classid, "fq_codel", &zr);
		if (r != -ENOENT)
			return r;
		s->no_fq_codel = true;
	}
	return put_leaf(s, classid, "pfifo", &zr);
}

int shaper_put_class(struct shaper *s, uint32_t classid, uint32_t parent, uint64_t rate,
		     uint64_t ceil_rate, bool with_leaf)
{
	return shaper_put_class_flags(s, classid, parent, rate, ceil_rate, with_leaf, false);
}

int shaper_del_class(struct shaper *s, uint32_t classid)
{
	struct rtnl_class *c = rtnl_class_alloc();
	int r;

	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), s->ifindex);
	rtnl_tc_set_handle(TC_CAST(c), classid);
	rtnl_tc_set_parent(TC_CAST(c), SHAPER_CLASSID(SHAPER_MINOR_PARENT));
	r = rtnl_class_delete(s->nl, c);
	rtnl_class_put(c);
	return shaper_nl_errno(r);
}

static void collect_class(struct nl_object *obj, void *arg)
{
	struct class_list *l = arg;
	struct rtnl_class *c = (struct rtnl_class *)obj;
	struct shaper_class *e;
	uint32_t id = rtnl_tc_get_handle(TC_CAST(c));

	if (l->error || TC_H_MAJ(id) != (SHAPER_MAJOR << 16))
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct shaper_class *nv = realloc(l->v, cap * sizeof(*nv));
		if (!nv) {
			l->error = -ENOMEM;
			return;
		}
		l->v = nv;
		l->cap = cap;
	}
	e = &l->v[l->n++];
	memset(e, 0, sizeof(*e));
	e->classid = id;
	e->parent = rtnl_tc_get_parent(TC_CAST(c));
	(void)rtnl_htb_get_rate64(c, &e->rate);
	(void)rtnl_htb_get_ceil64(c, &e->ceil);
	e->burst = rtnl_htb_get_rbuffer(c);
	e->quantum = rtnl_htb_get_quantum(c);
	e->bytes = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_BYTES);
	e->packets = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_PACKETS);
	e->drops = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_DROPS);
	e->overlimits = rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_OVERLIMITS);
	e->qlen = (uint32_t)rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_QLEN);
	e->backlog = (uint32_t)rtnl_tc_get_stat(TC_CAST(c), RTNL_TC_BACKLOG);
	e->is_task = TC_H_MIN(id) >= SHAPER_MINOR_FIRST;
}

static void add_leaf_drops(struct nl_object *obj, void *arg)
{
	struct class_list *l = arg;
	struct rtnl_qdisc *q = (struct rtnl_qdisc *)obj;
	uint32_t parent = rtnl_tc_get_parent(TC_CAST(q));

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].classid == parent)
			l->v[i].drops += rtnl_tc_get_stat(TC_CAST(q), RTNL_TC_DROPS);
}

int shaper_list_classes(struct shaper *s, bool with_leaves, struct class_list *ret)
{
	struct nl_cache *cache = NULL;
	struct class_list l = {};
	int r;

	uint64_t t0 = now_nsec(), t1;

	r = rtnl_class_alloc_cache(s->nl, s->ifindex, &cache);
	if (r < 0)
		return shaper_nl_errno(r);
	t1 = now_nsec();
	nl_cache_foreach(cache, collect_class, &l);
	for (size_t i = 0; i < l.n; i++)
		l.v[i].sampled_ns = t0 + (t1 - t0) / 2;
	nl_cache_free(cache);
	if (!l.error && with_leaves) {
		r = rtnl_qdisc_alloc_cache(s->nl, &cache);
		if (r < 0) {
			free(l.v);
			return shaper_nl_errno(r);
		}
		/* The qdisc cache spans every device; parents are only unique per device. */
		struct rtnl_qdisc *filt = rtnl_qdisc_alloc();
		if (filt) {
			rtnl_tc_set_ifindex(TC_CAST(filt), s->ifindex);
			nl_cache_foreach_filter(cache, OBJ_CAST(filt), add_leaf_drops, &l);
			rtnl_qdisc_put(filt);
		}
		nl_cache_free(cache);
	}
	if (l.error) {
		free(l.v);
		return l.error;
	}
	*ret = l;
	return 0;
}

int shaper_read_class(struct shaper *s, uint32_t classid, uint64_t *ret_rate)
{
	struct class_list l;
	int r = shaper_list_classes(s, false, &l);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].classid == classid) {
			*ret_rate = l.v[i].rate;
			r = 0;
		}
	free(l.v);
	return r;
}

/* Default class gets what the task classes leave (at least 1 %), borrowing up to the parent. */
int shaper_update_default(struct shaper *s)
{
	struct class_list l;
	uint64_t sum = 0;
	int r = shaper_list_classes(s, false, &l);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_task)
			sum += l.v[i].rate;
	free(l.v);
	return shaper_put_class(s, SHAPER_CLASSID(SHAPER_MINOR_DEFAULT),
				SHAPER_CLASSID(SHAPER_MINOR_PARENT),
				shaper_default_rate(s->parent_rate, sum), s->parent_rate, false);
}

int shaper_max_task_rate(struct shaper *s, uint64_t *ret)
{
	struct class_list l;
	uint64_t mx = 0;
	int r = shaper_list_classes(s, false, &l);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++)
		if (l.v[i].is_task && l.v[i].rate > mx)
			mx = l.v[i].rate;
	free(l.v);
	*ret = mx;
	return 0;
}

/* GSO cap. HTB charges a GSO super-packet (up to 64 kB) as one packet: at 1 Mbit/s that
 * is half a second of line time in one dequeue, and measured here it let a 1.1 Mbit/s class
 * run 5-10 % fast. While tasks are shaped, the uplink's gso_max_size is lowered so that one
 * packet is at most ~1 ms of the slowest task class (never below two frames); sockets
 * connected afterwards build packets that small. The device's own value is saved with the
 * root qdisc and put back by shaper_restore(). */
uint32_t shaper_gso_cap(uint64_t slowest_rate, uint32_t mtu, uint32_t orig)
{
	uint64_t cap, two = 2 * ((uint64_t)mtu + L2_HEADER);

	if (!orig)
		return 0;
	if (!slowest_rate)
		return orig;
	cap = slowest_rate / 1000u;
	if (cap < two)
		cap = two;
	return cap < orig ? (uint32_t)cap : orig;
}
