/* exits.c — exit detection (pidfd, cgroup.events, recheck) and the removal thread that
 * deletes emptied task cgroups off the event loop. */
#include "daemon-internal.h"
#include <poll.h>
#include <sys/syscall.h>

/* --- cgroup removal ------------------------------------------------------------------- */

/* rmdir of a cgroup waits for the kernel: EBUSY for ~20 ms after the exit, and on a busy host
 * (cgroup_mutex shared with every other cgroup user) single rmdirs were measured at 20-250
 * ms. Done on the event loop it stalled placements, exits and requests behind it (exit ->
 * next exec p99 130-250 ms), so one thread does it. It touches only the cg_task handles
 * handed to it (and the root's directory fd, read-only). */
static void *reaper_main(void *arg)
{
	struct reaper *rp = arg;

	pthread_mutex_lock(&rp->lock);
	for (;;) {
		struct cg_task *ct;
		bool stopping;
		int r;
		while (!rp->n && !rp->stop)
			pthread_cond_wait(&rp->wake, &rp->lock);
		if (!rp->n)
			break;
		ct = rp->q[--rp->n];
		stopping = rp->stop;
		pthread_mutex_unlock(&rp->lock);
		r = cg_task_destroy(ct, stopping ? 200 : 5000);
		if (r < 0) {
			/* A start-up sweep removes it once it is empty (sweep_stale). */
			daemon_log(LOG_WARNING, "cgroup %s: removal: %s", cg_task_name(ct),
				   strerror(-r));
			cg_task_free(ct);
		}
		pthread_mutex_lock(&rp->lock);
	}
	pthread_mutex_unlock(&rp->lock);
	return NULL;
}

int daemon_reaper_start(struct reaper *rp)
{
	sigset_t all, old;
	int r;

	pthread_mutex_init(&rp->lock, NULL);
	pthread_cond_init(&rp->wake, NULL);
	/* The thread inherits a mask blocking every signal: SIGTERM & co. must reach the
	 * event loop's signalfd, not kill the process through a thread that does not block them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&rp->thread, NULL, reaper_main, rp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	rp->running = true;
	return 0;
}

/* Drains the queue (200 ms per cgroup at most) and joins. */
void daemon_reaper_stop(struct reaper *rp)
{
	if (!rp->running)
		return;
	pthread_mutex_lock(&rp->lock);
	rp->stop = true;
	pthread_cond_signal(&rp->wake);
	pthread_mutex_unlock(&rp->lock);
	pthread_join(rp->thread, NULL);
	rp->running = false;
	free(rp->q);
	rp->q = NULL;
	pthread_cond_destroy(&rp->wake);
	pthread_mutex_destroy(&rp->lock);
}

void daemon_reaper_push(struct daemon *d, struct cg_task *ct)
{
	struct reaper *rp = &d->reaper;
	bool queued = false;

	if (rp->running) {
		pthread_mutex_lock(&rp->lock);
		if (rp->n == rp->cap) {
			size_t cap = rp->cap ? 2 * rp->cap : 16;
			struct cg_task **q = realloc(rp->q, cap * sizeof(*q));
			if (q) {
				rp->q = q;
				rp->cap = cap;
			}
		}
		if (rp->n < rp->cap) {
			rp->q[rp->n++] = ct;
			queued = true;
			pthread_cond_signal(&rp->wake);
		}
		pthread_mutex_unlock(&rp->lock);
	}
	if (!queued && cg_task_destroy(ct, 200) < 0)
		cg_task_free(ct);
}

void daemon_task_finish(struct daemon *d, struct dtask *t, enum dtask_state st, const char *reason)
{
	struct trt *rt = t->rt;
	struct cg_events ev = {0};
	int r;

	if (rt && rt->cg && cg_task_read_events(rt->cg, &ev) >= 0 && ev.oom_kill > 0 &&
	    st == DTASK_DONE)
		reason = "oom-kill";
	if (rt && rt->cg)
		(void)cg_task_read_cpu_usec(rt->cg, &t->cpu_usec);
	t->state = rt && rt->cancel ? DTASK_CANCELLED : st;
	t->end_us = daemon_realtime_us();
	snprintf(t->reason, sizeof(t->reason), "%s", rt && rt->cancel ? "cancelled" : reason);
	daemon_task_changed(d, t);
	daemon_mx_finished(d, t);
	if (rt && rt->in_policy) {
		r = policy_release(d->pol, t->id, daemon_mono_s(d));
		if (r < 0)
			daemon_log(LOG_WARNING, "task %" PRIu64 ": policy release: %s", t->id,
				   strerror(-r));
		rt->in_policy = false;
	}
	daemon_unshape_task(d, t);
	daemon_oci_cleanup(d, t);
	if (rt) {
		rt->pid_src = sd_event_source_disable_unref(rt->pid_src);
		rt->watch_src = sd_event_source_disable_unref(rt->watch_src);
		if (rt->cg)
			daemon_reaper_push(d, TAKE_PTR(rt->cg));
		daemon_trt_close(t);
	}
	daemon_log(LOG_INFO, "task %" PRIu64 " (%s) %s: %s, exit code %d", t->id, t->queue,
		   dtask_state_name(t->state), t->reason, t->exit_code);
	/* Written by the caller's next persist (daemon_schedule() always ends with one), so that an
	 * exit and the placement it makes room for cost one fsync. A crash before it leaves
	 * the task "running" without a cgroup, which a restart records as ended. */
	d->dirty = true;
	daemon_emit(d, "finished", t);
	fleet_notify(d, t);
	if (t->app)
		daemon_app_settle(d, t->app); /* queue the successors, or fail them */
	daemon_notify_status(d);
}

void daemon_check_empty(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	struct cg_events ev;

	if (!rt || !rt->cg || t->state != DTASK_RUNNING)
		return;
	if (cg_task_read_events(rt->cg, &ev) < 0 || ev.populated)
		return;
	/* The main process may have been reaped a moment later than the cgroup emptied. */
	if (rt->pidfd >= 0) {
		siginfo_t si = {0};
		struct pollfd pfd = {.fd = rt->pidfd, .events = POLLIN};
		if (!rt->main_exited && poll(&pfd, 1, 50) == 0) {
			/* Empty cgroup, live main process: it moved itself out (a root task on
			 * a cgroup2 mount without nsdelegate, where its cgroup namespace does not
			 * bind it). Untracked it would run outside every limit: kill it. */
			daemon_log(LOG_WARNING, "task %" PRIu64 ": left its cgroup; killed", t->id);
			(void)syscall(SYS_pidfd_send_signal, rt->pidfd, SIGKILL, NULL, 0);
			(void)waitid(P_PIDFD, (id_t)rt->pidfd, &si, WEXITED);
			daemon_task_finish(d, t, DTASK_FAILED, "escaped");
			daemon_schedule_soon(d);
			return;
		}
		if (waitid(P_PIDFD, (id_t)rt->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid)
			t->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
		daemon_task_changed(d, t);
	}
	/* Without a pidfd (adopted after a restart) the task is not our child: PID 1 reaped
	 * it and its exit status is unknown (-1). */
	daemon_task_finish(d, t, DTASK_DONE,
			   rt->pidfd < 0 && t->exit_code < 0 ? "exited-adopted" : "exited");
	daemon_schedule_soon(d);
}

static int on_sched(sd_event_source *s, void *userdata)
{
	daemon_schedule(userdata);
	return 0;
}

/* The placement pass (and its one transaction) after every exit that is ready in this turn
 * of the loop has been handled: exits that come together, as when many tasks end at once,
 * share one fsync instead of queueing behind one each. */
void daemon_schedule_soon(struct daemon *d)
{
	if (!d->sched_src) {
		if (sd_event_add_defer(d->ev, &d->sched_src, on_sched, d) < 0) {
			daemon_schedule(d);
			return;
		}
		(void)sd_event_source_set_priority(d->sched_src, SD_EVENT_PRIORITY_NORMAL + 1);
	}
	(void)sd_event_source_set_enabled(d->sched_src, SD_EVENT_ONESHOT);
}

/* sd-event's accuracy 0 means its default, 250 ms of allowed coalescing: a 2 ms re-check
 * would fire up to 250 ms late, on the exit -> next start path. */
#define RECHECK_ACCURACY_US 100

static int on_recheck(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct dtask *t = userdata;
	struct trt *rt = t->rt;

	struct daemon *d = rt->d;

	rt->recheck_src = sd_event_source_disable_unref(rt->recheck_src);
	daemon_check_empty(d, t);
	/* Back off 2, 4, ... 64 ms; past that the tick looks every measure_interval_ms. */
	if (t->state == DTASK_RUNNING && rt->recheck_us < 64000) {
		rt->recheck_us *= 2;
		(void)sd_event_add_time_relative(d->ev, &rt->recheck_src, CLOCK_MONOTONIC,
						 rt->recheck_us, RECHECK_ACCURACY_US, on_recheck,
						 t);
	}
	return 0;
}

static int on_pidfd(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct dtask *t = userdata;
	struct trt *rt = t->rt;
	siginfo_t si = {0};

	if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == 0 && si.si_pid)
		t->exit_code = si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
	daemon_task_changed(rt->d, t);
	rt->pid_src = sd_event_source_disable_unref(rt->pid_src);
	close(rt->pidfd);
	rt->pidfd = -1;
	rt->main_exited = true;
	daemon_check_empty(rt->d, t);
	/* The cgroup empties a little after the main process exits (its children, the
	 * kernel's own exit work): when the main process is gone but the cgroup is not yet seen
	 * empty, look again shortly. */
	if (t->state == DTASK_RUNNING && !rt->recheck_src) {
		rt->recheck_us = 2000;
		(void)sd_event_add_time_relative(rt->d->ev, &rt->recheck_src, CLOCK_MONOTONIC,
						 rt->recheck_us, RECHECK_ACCURACY_US, on_recheck,
						 t);
	}
	return 0;
}

static int on_cg_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct dtask *t = userdata;
	struct trt *rt = t->rt;
	struct cg_events ev;

	/* Reading re-arms the level-triggered EPOLLPRI, whatever check_empty decides. */
	(void)cg_task_read_events(rt->cg, &ev);
	daemon_check_empty(rt->d, t);
	return 0;
}

/* The main process's pidfd first, whatever happens to the cgroup watch: without the watch the
 * exit is still seen at once (and the cgroup's emptiness by the recheck timer). */
int daemon_watch_task(struct daemon *d, struct dtask *t)
{
	struct trt *rt = t->rt;
	int wfd, r;

	if (rt->pidfd >= 0) {
		r = sd_event_add_io(d->ev, &rt->pid_src, rt->pidfd, EPOLLIN, on_pidfd, t);
		if (r < 0)
			return r;
	}
	wfd = cg_task_watch_fd(rt->cg);
	r = wfd < 0 ? wfd : sd_event_add_io(d->ev, &rt->watch_src, wfd, EPOLLPRI, on_cg_event, t);
	if (r < 0)
		daemon_log(LOG_WARNING, "task %" PRIu64 ": cannot watch its cgroup: %s%s", t->id,
			   strerror(-r),
			   rt->pidfd >= 0 ? "; its exit is still seen from its pidfd"
					  : "; its exit is seen by the measurement tick");
	daemon_measure_start(d, t);
	return 0;
}
