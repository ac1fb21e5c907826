/* cg-spawn.c — starting a task inside its cgroup atomically: clone3(CLONE_INTO_CGROUP), the
 * exec reported back through a pipe, and the retry after a concurrent kill. */
#include "cg-internal.h"

#include <linux/close_range.h>
#include <sys/resource.h>

/* --- starting a task ------------------------------------------------------------------- */

struct clone_args_v2 {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
	    set_tid_size, cgroup;
};

/* Runs in the child between clone/fork and exec: only async-signal-safe calls. On
 * failure the errno goes to the parent over the CLOEXEC pipe. */
static _Noreturn void child_exec(const struct cg_exec *e, int errpipe, int procs_fd)
{
	int fds[3] = {e->stdin_fd, e->stdout_fd, e->stderr_fd};
	int err;
	sigset_t all;

	/* "I ran": lets the parent tell a child killed at birth from one that exec'd. */
	if (write(errpipe, "A", 1) != 1)
		_exit(127);
	if (procs_fd >= 0) {
		/* Fallback path: move ourselves before anything else runs. */
		char buf[24];
		int n = snprintf(buf, sizeof(buf), "%ld", (long)syscall(SYS_getpid));
		if (write(procs_fd, buf, (size_t)n) != n)
			goto fail;
		close(procs_fd);
	}
	/* Now in its cgroup: make that the root of the task's cgroup view. Moving a process
	 * needs both cgroups inside the writer's namespace root, so even a root task cannot
	 * write itself (or a child) into another cgroup's cgroup.procs. EPERM: an unprivileged
	 * daemon, whose tasks the delegation rules keep in its subtree already. */
	if (!e->keep_cgroupns && unshare(CLONE_NEWCGROUP) < 0 && errno != EPERM)
		goto fail;
	/* The daemon may block signals for signalfd and ignore SIGPIPE; the task gets a
	 * clean slate. */
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			(void)signal(s, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	/* The daemon runs at a raised priority (its unit's Nice=) so that tasks that fill the
	 * CPUs do not starve it; tasks run at the default. Lowering one's own priority needs no
	 * privilege. */
	(void)setpriority(PRIO_PROCESS, 0, 0);
	/* Lift the caller's fds above 2 first so dup2 order cannot clobber them. */
	for (int i = 0; i < 3; i++) {
		int src = fds[i];
		if (src < 0)
			src = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
		if (src < 0)
			goto fail;
		fds[i] = fcntl(src, F_DUPFD, 3);
		if (fds[i] < 0)
			goto fail;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	/* Nothing past 2 reaches the task: the copies and /dev/null opened above, and anything
	 * of the daemon's opened without O_CLOEXEC. Marked, not closed: errpipe must live until
	 * the exec succeeds. */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (e->cwd && chdir(e->cwd) < 0)
		goto fail;
	if (e->gid != (gid_t)-1 && (setgroups(0, NULL) < 0 || setgid(e->gid) < 0))
		goto fail;
	if (e->uid != (uid_t)-1 && setuid(e->uid) < 0)
		goto fail;
	if (e->envp)
		execvpe(e->argv[0], e->argv, e->envp);
	else
		execvp(e->argv[0], e->argv);
fail:
	err = errno ? errno : EIO;
	(void)!write(errpipe, &err, sizeof(err));
	_exit(127);
}

/* Waits for the exec status: EOF means the child exec'd, an int is its errno. */
static int wait_exec(int errpipe_rd, pid_t pid)
{
	int err = 0;
	char alive = 0;
	ssize_t n;

	do
		n = read(errpipe_rd, &alive, 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* The child died before running a single instruction of ours. */
		(void)waitpid(pid, NULL, 0);
		return -ECANCELED;
	}
	do
		n = read(errpipe_rd, &err, sizeof(err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(err)) {
		(void)waitpid(pid, NULL, 0);
		return err > 0 ? -err : -EIO;
	}
	return 0;
}

static int spawn_once(struct cg_task *t, const struct cg_exec *e, int mode, pid_t *ret_pid,
		      int *ret_pidfd, bool *ret_cloned)
{
	int pipefd[2];
	_cleanup_close_ int rd = -1, wr = -1, subfd = -1;
	int pidfd = -1, cgfd = t ? t->fd : -1;
	pid_t pid = -1;
	int k;

	if (!t || !e || !e->argv || !e->argv[0] || !ret_pid)
		return -EINVAL;
	if (e->subdir) {
		if (!*e->subdir || strchr(e->subdir, '/') || !strcmp(e->subdir, "..") ||
		    !strcmp(e->subdir, "."))
			return -EINVAL;
		if (mkdirat(t->fd, e->subdir, 0755) < 0 && errno != EEXIST)
			return negative_errno();
		subfd = openat(t->fd, e->subdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (subfd < 0)
			return negative_errno();
		cgfd = subfd;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return negative_errno();
	rd = pipefd[0];
	wr = pipefd[1];

	/* Seen on a 6.18 host: after cgroup.kill, a child cloned with CLONE_INTO_CGROUP into
	 * that cgroup is SIGKILLed at birth (the kill sequence number is compared against the
	 * parent's cgroup). Migration via cgroup.procs is not affected, so a killed cgroup
	 * that is reused takes the fork path. */
	if (mode == CG_SPAWN_AUTO && t->killed)
		mode = CG_SPAWN_FORK;
	if (mode != CG_SPAWN_FORK) {
		struct clone_args_v2 args = {
		    .flags = CLONE_INTO_CGROUP | CLONE_PIDFD,
		    .pidfd = (uint64_t)(uintptr_t)&pidfd,
		    .exit_signal = SIGCHLD,
		    .cgroup = (uint64_t)cgfd,
		};
		long r = syscall(SYS_clone3, &args, sizeof(args));
		if (r == 0) {
			close(rd);
			child_exec(e, wr, -1);
		}
		if (r > 0) {
			pid = (pid_t)r;
			*ret_cloned = true;
		} else if (mode == CG_SPAWN_CLONE3 ||
			   /* Refusals that mean "this kernel cannot": no clone3 (< 5.3), no
			    * CLONE_INTO_CGROUP (< 5.7), or not a cgroup2 fd (fake tree). */
			   !(errno == ENOSYS || errno == E2BIG || errno == EINVAL ||
			     errno == EBADF || errno == EPERM))
			return negative_errno();
	}
	if (pid < 0) {
		_cleanup_close_ int procs = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
		if (procs < 0)
			return negative_errno();
		pid = fork();
		if (pid < 0)
			return negative_errno();
		if (pid == 0) {
			close(rd);
			child_exec(e, wr, procs);
		}
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0)
			(void)fcntl(pidfd, F_SETFD, FD_CLOEXEC);
		else
			pidfd = -1;
	}
	wr = -1, close(pipefd[1]);
	k = wait_exec(rd, pid);
	if (k < 0) {
		if (pidfd >= 0)
			close(pidfd);
		return k;
	}
	*ret_pid = pid;
	if (ret_pidfd)
		*ret_pidfd = pidfd;
	else if (pidfd >= 0)
		close(pidfd);
	return 0;
}

int cg_task_spawn_mode(struct cg_task *t, const struct cg_exec *e, int mode, pid_t *ret_pid,
		       int *ret_pidfd)
{
	bool cloned = false;
	int k;

	if (!t || !e || !e->argv || !e->argv[0] || !ret_pid)
		return -EINVAL;
	k = spawn_once(t, e, mode, ret_pid, ret_pidfd, &cloned);
	if (k == -ECANCELED && cloned && mode == CG_SPAWN_AUTO) {
		/* Killed at birth by the kernel (the cgroup.kill note above) before any code
		 * of the task ran, so starting it again cannot run it twice. */
		t->killed = true;
		k = spawn_once(t, e, CG_SPAWN_FORK, ret_pid, ret_pidfd, &cloned);
	}
	return k;
}

int cg_task_spawn(struct cg_task *t, const struct cg_exec *e, pid_t *ret_pid, int *ret_pidfd)
{
	return cg_task_spawn_mode(t, e, CG_SPAWN_AUTO, ret_pid, ret_pidfd);
}

void cg_exec_init(struct cg_exec *e, char *const *argv)
{
	memset(e, 0, sizeof(*e));
	e->argv = argv;
	e->stdin_fd = e->stdout_fd = e->stderr_fd = -1;
	e->uid = (uid_t)-1;
	e->gid = (gid_t)-1;
}
