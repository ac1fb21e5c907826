/* fleet-mirror.c — the event-driven placer's view of etcd: queue/, assign/ and nodes/ each read
 * once and then kept by a watch on the host's loop, and the events that owe a placement round.
 *
 * What can let a waiting task start — a new queue entry, an assignment gone (an exit, a lost
 * node), a node gone — owes a round now: the deferred kick source runs it once for however
 * many events arrived together. A node republishing its measured use (each node, every second)
 * only marks capacity changed; the next tick runs the round if something waits. A round reads
 * the mirrors instead of three ranges, so its only request on the way to a start is the claim.
 * The mirrors lag etcd by a watch delivery: every claim still compares each queue entry's
 * revision, so a stale view can cost a failed claim, never a second placement; the placer's own
 * claims are written into the mirrors when they apply, so the next round does not count them
 * as still queued. */
#include "fleet-internal.h"

static int kv_copy(struct etcd_kv *to, const struct etcd_kv *from)
{
	*to = *from;
	to->key = strdup(from->key);
	to->value = malloc(from->value_len + 1);
	if (!to->key || !to->value) {
		free(to->key);
		free(to->value);
		memset(to, 0, sizeof(*to));
		return -ENOMEM;
	}
	memcpy(to->value, from->value ? from->value : "", from->value_len);
	to->value[from->value_len] = '\0';
	return 0;
}

/* The index of key, or where it would go (*found false). */
static size_t find(const struct fmirror *m, const char *key, bool *found)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->kvs[mid].key, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static void mirror_clear(struct fmirror *m)
{
	for (size_t i = 0; i < m->n; i++)
		etcd_kv_done(&m->kvs[i]);
	free(m->kvs);
	memset(m, 0, sizeof(*m));
}

static int mirror_put(struct fmirror *m, const struct etcd_kv *kv)
{
	bool found;
	size_t i = find(m, kv->key, &found);
	struct etcd_kv n;

	if (found && m->kvs[i].mod_revision > kv->mod_revision)
		return 0; /* ours, written at claim time, is newer than this event */
	if (kv_copy(&n, kv) < 0)
		return -ENOMEM;
	if (found) {
		etcd_kv_done(&m->kvs[i]);
		m->kvs[i] = n;
		return 0;
	}
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct etcd_kv *v = reallocarray(m->kvs, cap, sizeof(*v));
		if (!v) {
			etcd_kv_done(&n);
			return -ENOMEM;
		}
		m->kvs = v;
		m->cap = cap;
	}
	memmove(&m->kvs[i + 1], &m->kvs[i], (m->n - i) * sizeof(*m->kvs));
	m->kvs[i] = n;
	m->n++;
	return 0;
}

static void mirror_del(struct fmirror *m, const char *key)
{
	bool found;
	size_t i = find(m, key, &found);

	if (!found)
		return;
	etcd_kv_done(&m->kvs[i]);
	memmove(&m->kvs[i], &m->kvs[i + 1], (m->n - i - 1) * sizeof(*m->kvs));
	m->n--;
}

/* An event into its mirror; a mirror that cannot follow (no memory) is rebuilt. */
static void apply(struct fleet *f, int which, const struct etcd_event *ev)
{
	struct fmirror *m = &f->mir[which];

	if (!m->ready)
		return;
	if (ev->type == ETCD_EVENT_DELETE)
		mirror_del(m, ev->kv.key);
	else if (mirror_put(m, &ev->kv) < 0) {
		f->pl_rewatch = true;
		f->pl_owed = true;
	}
}

static void owe(struct fleet *f)
{
	f->pl_owed = true;
	fleet_kick(f);
}

static int on_queue_event(const struct etcd_event *ev, void *userdata)
{
	apply(userdata, PW_QUEUE, ev);
	if (ev->type == ETCD_EVENT_PUT) /* deletions are our own claims, or cancels */
		owe(userdata);
	return 0;
}

static int on_assign_event(const struct etcd_event *ev, void *userdata)
{
	struct fleet *f = userdata;

	apply(f, PW_ASSIGN, ev);
	if (ev->type == ETCD_EVENT_DELETE && f->pl.waiting)
		owe(f);
	return 0;
}

static int on_nodes_event(const struct etcd_event *ev, void *userdata)
{
	struct fleet *f = userdata;

	apply(f, PW_NODES, ev);
	if (ev->type == ETCD_EVENT_DELETE)
		owe(f); /* a node gone: its assignments are handled */
	else
		f->pl_cap = true;
	return 0;
}

static void on_placer_watch_error(int r, void *userdata)
{
	struct fleet *f = userdata;

	if (r == -ESTALE || r == -ECANCELED || r == -EACCES || r == -EPERM || r == -EPROTO ||
	    r == -EMSGSIZE)
		f->pl_rewatch = true; /* dead: read again and watch again on the next tick */
	if (r != -ESTALE && r != -ECANCELED)
		fleet_etcd_failed(f, "placer watch", r);
	f->pl_owed = true;
	fleet_host_noted(f);
}

void fleet_placer_unwatch(struct fleet *f)
{
	for (size_t i = 0; i < _PW_MAX; i++) {
		etcd_watch_free(f->pw[i]);
		f->pw[i] = NULL;
		mirror_clear(&f->mir[i]);
	}
	f->pl_rewatch = false;
}

int fleet_placer_watch(struct fleet *f)
{
	static const char *const keys[_PW_MAX] = {K_QUEUE, K_ASSIGN, K_NODES};
	static const etcd_watch_cb cbs[_PW_MAX] = {on_queue_event, on_assign_event, on_nodes_event};
	int r = 0;

	for (size_t i = 0; i < _PW_MAX && r >= 0; i++) {
		struct etcd_kvs kvs = {0};
		r = etcd_range(f->e, keys[i], &kvs);
		if (r < 0)
			break;
		/* every change after the range is an event: none missed, none twice */
		r = etcd_watch_new(f->e, keys[i], true, kvs.revision + 1, &f->pw[i]);
		if (r >= 0)
			r = etcd_watch_attach_event(f->pw[i], f->event, cbs[i],
						    on_placer_watch_error, f);
		f->mir[i] = (struct fmirror){kvs.kvs, kvs.n, kvs.n, r >= 0};
	}
	if (r < 0) {
		fleet_placer_unwatch(f);
		return fleet_etcd_failed(f, "placer watch", r);
	}
	f->pl_owed = true;
	return 0;
}

bool fleet_mirrored(const struct fleet *f)
{
	for (size_t i = 0; i < _PW_MAX; i++)
		if (!f->mir[i].ready)
			return false;
	return true;
}

struct etcd_kvs fleet_mirror_view(const struct fleet *f, int which)
{
	return (struct etcd_kvs){.kvs = f->mir[which].kvs, .n = f->mir[which].n};
}

void fleet_mirror_claimed(struct fleet *f, const char *qkey, const char *akey, const char *value,
			  int64_t rev)
{
	struct etcd_kv kv = {.key = (char *)akey,
			     .value = (char *)value,
			     .value_len = strlen(value),
			     .create_revision = rev,
			     .mod_revision = rev,
			     .version = 1};

	if (!fleet_mirrored(f))
		return;
	mirror_del(&f->mir[PW_QUEUE], qkey);
	if (mirror_put(&f->mir[PW_ASSIGN], &kv) < 0)
		f->pl_rewatch = true;
}
