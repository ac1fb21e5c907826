/* uplink.c — per-task upload classes on the uplink (shaper): a class per shaped task, and the
 * sweep that removes the classes of finished tasks once they are drained. */
#include "daemon-internal.h"

/* --- upload shaping ------------------------------------------------------------------- */

/* Gives a task with an upload rate its own class on the uplink, keyed by its cgroup id, before
 * its first packet (called between cgroup creation and spawn, and on adoption). */
int daemon_shape_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP};
	char name[128];
	uint32_t classid;
	int r;

	if (!t->upload_rate)
		return 0;
	if (!d->shaper)
		return -ENETDOWN;
	r = dtask_cgroup_name(t, name, sizeof(name));
	if (r >= 0)
		r = probe_cgroup_id_at(cg_root_fd(d->root), name, &rt->cgroup_id);
	if (r < 0)
		return r;
	m.cgroup_id = rt->cgroup_id;
	/* Sockets of the task's own child cgroups count too (an OCI container in task-N/ctr). */
	if (shaper_cgroup_level_at(cg_root_fd(d->root), name, &m.cgroup_level) < 0)
		m.cgroup_level = 0;
	r = shaper_set_rate(d->shaper, &m, t->upload_rate, &classid);
	if (r < 0)
		return r;
	rt->shaped = true;
	daemon_log(LOG_DEBUG, "task %" PRIu64 ": uploads shaped by class %x:%x", t->id,
		   classid >> 16, classid & 0xffff);
	return 0;
}

bool daemon_any_shaped(struct daemon *d)
{
	for (size_t i = 0; i < d->n_tasks; i++)
		if (d->tasks[i]->rt && ((struct trt *)d->tasks[i]->rt)->shaped)
			return true;
	return false;
}

/* No task class left on the uplink — ours or one an admin made with `edgeslice shape`. */
static bool uplink_idle(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;

	if (!shaper_is_active(d->shaper))
		return false;
	if (shaper_list(d->shaper, &v, &n) < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i].is_task)
			return false;
	return true;
}

/* A finished task's class goes once it has sent what its task queued (at most 2 s later):
 * deleting a class drops its queue, and with it the task's last bytes or its RST. The last
 * class out restores the uplink's original root qdisc, so an idle node's uplink is exactly as
 * it was without edgeslice. Called from the tick and on task exit. */
void daemon_unshape_drained(struct daemon *d, uint64_t now)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;
	bool removed = false;

	if (!d->n_unshape)
		return;
	if (shaper_list(d->shaper, &v, &n) < 0)
		n = 0;
	for (size_t i = 0; i < d->n_unshape;) {
		struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP,
					 .cgroup_id = d->unshape[i].cgroup_id};
		bool queued = false;
		int r;
		for (size_t k = 0; k < n; k++)
			if (v[k].is_task && v[k].has_match &&
			    v[k].match.kind == SHAPER_MATCH_CGROUP &&
			    v[k].match.cgroup_id == m.cgroup_id)
				queued = v[k].qlen > 0 || v[k].backlog > 0;
		if (queued && now < d->unshape[i].deadline_us) {
			i++;
			continue;
		}
		r = shaper_unset(d->shaper, &m);
		if (r < 0 && r != -ENOENT)
			daemon_log(LOG_WARNING,
				   "uplink %s: removing the class of cgroup id %" PRIu64 ": %s",
				   d->conf.uplink, m.cgroup_id, strerror(-r));
		d->unshape[i] = d->unshape[--d->n_unshape];
		removed = true;
	}
	if (removed && uplink_idle(d)) {
		int r = shaper_restore(d->shaper);
		if (r < 0)
			daemon_log(LOG_WARNING, "uplink %s: restoring the original qdisc: %s",
				   d->conf.uplink, strerror(-r));
	}
}

void daemon_unshape_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct unshape *n;

	if (!rt || !rt->shaped || !d->shaper)
		return;
	rt->shaped = false;
	n = realloc(d->unshape, (d->n_unshape + 1) * sizeof(*n));
	if (!n) { /* cannot wait for it: remove now */
		struct shaper_match m = {.kind = SHAPER_MATCH_CGROUP, .cgroup_id = rt->cgroup_id};
		(void)shaper_unset(d->shaper, &m);
		return;
	}
	d->unshape = n;
	d->unshape[d->n_unshape++] = (struct unshape){rt->cgroup_id, now_usec() + 2000000u};
	daemon_unshape_drained(d, now_usec());
}

/* After adoption: a class whose cgroup is gone, or is a task cgroup of ours that no live task
 * owns, is a crash's leftover. Classes an admin set on other cgroups are left alone. */
void shaper_sweep(struct daemon *d)
{
	_cleanup_free_ struct shaper_class *v = NULL;
	size_t n = 0;

	if (!d->shaper || !shaper_is_active(d->shaper))
		return;
	if (shaper_list(d->shaper, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool owned = false;
		if (!v[i].is_task || !v[i].has_match || v[i].match.kind != SHAPER_MATCH_CGROUP)
			continue;
		_cleanup_free_ char *path = NULL;
		int r = shaper_cgroup_path(d->cgroupfs, v[i].match.cgroup_id, &path);
		for (size_t k = 0; k < d->n_tasks && !owned; k++) {
			struct trt *rt = d->tasks[k]->rt;
			owned = rt && rt->shaped && rt->cgroup_id == v[i].match.cgroup_id;
		}
		if (r != -ENOENT && !(r >= 0 && !strncmp(path, d->cg_path, strlen(d->cg_path)) &&
				      !strncmp(path + strlen(d->cg_path), "/task-", 6)))
			owned = true; /* not ours to remove */
		if (!owned && shaper_unset(d->shaper, &v[i].match) >= 0)
			daemon_log(LOG_INFO,
				   "uplink %s: removed the leftover class of cgroup id %" PRIu64,
				   d->conf.uplink, v[i].match.cgroup_id);
	}
	if (uplink_idle(d) && shaper_restore(d->shaper) >= 0)
		daemon_log(LOG_INFO, "uplink %s: no shaped task left; original qdisc restored",
			   d->conf.uplink);
}
