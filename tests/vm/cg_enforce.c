/* cg_enforce.c — drives the cgroup library against a real kernel: host integration checks,
 * enforcement measured inside the VM, the systemd Delegate=yes check, and the benchmark. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "cg.h"
#include "util.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

static int failures;
static const char *self_exe = "/proc/self/exe";

static void _printf_(2, 3) check(bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%s - ", ok ? "ok" : "not ok");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
	if (!ok)
		failures++;
}

static _Noreturn void die(const char *what, int err)
{
	printf("not ok - %s: %s\n", what, strerror(-err));
	exit(1);
}
#define MUST(what, expr)                                                                           \
	({                                                                                         \
		int _r = (expr);                                                                   \
		if (_r < 0)                                                                        \
			die(what, _r);                                                             \
		_r;                                                                                \
	})

/* --- helper modes the tests spawn ----------------------------------------------------- */

static int mode_burn(void)
{
	volatile uint64_t x = 0;
	for (;;)
		x++;
	return 0;
}

static int mode_hog(const char *mb)
{
	size_t n = (size_t)atoi(mb) << 20;
	for (size_t off = 0; off < n; off += 1 << 20) {
		char *p = malloc(1 << 20);
		if (!p)
			return 3;
		memset(p, 0x5a, 1 << 20);
	}
	return 0; /* never reached under memory.max */
}

static int mode_forkbomb(void)
{
	int n = 0;
	for (;;) {
		pid_t p = fork();
		if (p == 0) {
			pause();
			_exit(0);
		}
		if (p < 0) {
			printf("forkbomb: fork failed after %d children: %s\n", n, strerror(errno));
			fflush(stdout);
			pause();
			return errno == EAGAIN ? 0 : 1;
		}
		n++;
	}
}

/* --- helpers --------------------------------------------------------------------------- */

static void reap_all(void)
{
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

static bool pidfd_exited(int pidfd, int timeout_ms)
{
	struct pollfd p = {.fd = pidfd, .events = POLLIN};
	return poll(&p, 1, timeout_ms) == 1;
}

static int wait_pidfd(int pidfd, siginfo_t *si)
{
	memset(si, 0, sizeof(*si));
	return (int)syscall(SYS_waitid, P_PIDFD, pidfd, si, WEXITED, NULL);
}

/* Waits on the inotify fd until cgroup.events reads populated == want. */
static bool wait_populated(struct cg_task *t, bool want, int timeout_ms)
{
	int wfd = cg_task_watch_fd(t);
	uint64_t deadline = now_usec() + (uint64_t)timeout_ms * 1000;
	struct cg_events ev;

	if (wfd < 0)
		return false;
	for (;;) {
		if (cg_task_read_events(t, &ev) < 0)
			return false;
		if (ev.populated == want)
			return true;
		uint64_t now = now_usec();
		if (now >= deadline)
			return false;
		struct pollfd p = {.fd = wfd, .events = POLLIN};
		(void)poll(&p, 1, (int)((deadline - now) / 1000) + 1);
	}
}

static int read_proc_cgroup(pid_t pid, char *buf, size_t size)
{
	char p[64], *s = NULL;
	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	int k = read_file_at(AT_FDCWD, p, &s, NULL);
	if (k < 0)
		return k;
	char *l = strstr(s, "0::");
	if (!l) {
		free(s);
		return -ENOENT;
	}
	snprintf(buf, size, "%.*s", (int)strcspn(l + 3, "\n"), l + 3);
	free(s);
	return 0;
}

/* The cgroup path of root r relative to the mount, for comparing with /proc/PID/cgroup. */
static const char *rel(const char *mount, const char *path)
{
	const char *p = path + strlen(mount);
	return *p ? p : "/";
}

static int count_children(const char *dir, char *names, size_t size)
{
	DIR *d = opendir(dir);
	int n = 0;
	names[0] = '\0';
	if (!d)
		return -errno;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		n++;
		strncat(names, de->d_name, size - strlen(names) - 2);
		strcat(names, " ");
	}
	closedir(d);
	return n;
}

static pid_t spawn(struct cg_task *t, int mode, int *pidfd, char *const *argv)
{
	struct cg_exec e;
	pid_t pid;
	cg_exec_init(&e, argv);
	e.stdout_fd = 1;
	e.stderr_fd = 2;
	MUST("spawn", cg_task_spawn_mode(t, &e, mode, &pid, pidfd));
	return pid;
}

static int killseq(struct cg_root *r);

/* --- host integration (no controllers needed) ------------------------------------------ */

static void lifecycle(struct cg_root *r, const char *mount, int mode, const char *label)
{
	struct cg_task *t = NULL;
	char want[PATH_MAX], got[PATH_MAX], name[64];
	int pidfd = -1;
	siginfo_t si;

	snprintf(name, sizeof(name), "task-%s", label);
	MUST("create", cg_task_create(r, name, NULL, &t));
	snprintf(want, sizeof(want), "%s/%s", rel(mount, cg_root_path(r)), name);

	/* 1. starts inside its cgroup; exit status via pidfd; emptiness via inotify */
	char *exit7[] = {"/bin/sh", "-c", "read x </dev/null; exit 7", NULL};
	pid_t pid = spawn(t, mode, &pidfd, exit7);
	check(pidfd >= 0, "%s: pidfd returned", label);
	check(wait_pidfd(pidfd, &si) == 0 && si.si_code == CLD_EXITED && si.si_status == 7,
	      "%s: exit status 7 seen through the pidfd (pid %d)", label, (int)pid);
	close(pidfd);
	check(wait_populated(t, false, 2000), "%s: cgroup.events populated 0 after exit", label);

	char *sleeper[] = {"/bin/sleep", "30", NULL};
	pid = spawn(t, mode, &pidfd, sleeper);
	check(read_proc_cgroup(pid, got, sizeof(got)) == 0 && strcmp(got, want) == 0,
	      "%s: /proc/%d/cgroup is %s (got %s)", label, (int)pid, want, got);
	check(!pidfd_exited(pidfd, 0), "%s: pidfd not readable while running", label);
	check(wait_populated(t, true, 100), "%s: populated 1 while running", label);
	MUST("kill", cg_task_kill(t));
	check(pidfd_exited(pidfd, 2000), "%s: pidfd readable after cgroup.kill", label);
	check(wait_pidfd(pidfd, &si) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
	      "%s: killed by SIGKILL", label);
	close(pidfd);
	check(wait_populated(t, false, 2000), "%s: populated 0 after kill", label);

	/* 2. a daemonized grandchild keeps the cgroup populated after its parent exits */
	char *daemonize[] = {"/bin/sh", "-c",
			     "setsid /bin/sleep 30 </dev/null >/dev/null 2>&1 & exit 0", NULL};
	/* AUTO after a kill: see the kill-sequence note in cg_task_spawn_mode */
	pid = spawn(t, CG_SPAWN_AUTO, &pidfd, daemonize);
	int w = wait_pidfd(pidfd, &si);
	check(w == 0 && si.si_code == CLD_EXITED && si.si_status == 0,
	      "%s: daemonizing parent exited (waitid %d errno %d code %d status %d)", label, w,
	      w < 0 ? errno : 0, si.si_code, si.si_status);
	close(pidfd);
	usleep(100000);
	check(wait_populated(t, true, 100), "%s: still populated by the daemonized grandchild",
	      label);
	MUST("kill", cg_task_kill(t));
	check(wait_populated(t, false, 2000), "%s: populated 0 once the grandchild is killed",
	      label);
	reap_all();

	/* 3. teardown leaves nothing */
	snprintf(got, sizeof(got), "%s/%s", cg_root_path(r), name);
	MUST("destroy", cg_task_destroy(t, 2000));
	struct stat st;
	check(stat(got, &st) < 0 && errno == ENOENT, "%s: %s removed", label, got);
}

static int host(const char *mount)
{
	char path[PATH_MAX], names[1024], *disc = NULL;
	struct cg_root *r = NULL;
	struct cg_task *t = NULL;
	struct stat st;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	MUST("discover", cg_root_discover(mount, NULL, &disc));
	check(stat(disc, &st) == 0 && S_ISDIR(st.st_mode), "discovered own cgroup %s exists", disc);
	free(disc);

	snprintf(path, sizeof(path), "%s/edgeslice-itest-%d", mount, (int)getpid());
	MUST("root open", cg_root_open(mount, path, &r));
	MUST("root setup", cg_root_setup(r));
	printf("# controllers not available here: %s\n", cg_root_missing(r));
	check(stat(strcat(strcpy(names, path), "/supervisor"), &st) == 0, "supervisor/ leaf made");

	lifecycle(r, mount, CG_SPAWN_CLONE3, "clone3");
	lifecycle(r, mount, CG_SPAWN_FORK, "fork-fallback");
	killseq(r);

	/* limits the hybrid host cannot enforce are refused by name, nothing left behind */
	struct cg_limits l;
	const char *field = NULL;
	cg_limits_init(&l);
	l.cpu_cores = 0.5;
	if (!cg_root_has(r, "cpu")) {
		check(cg_task_create(r, "nocpu", &l, &t) == -EOPNOTSUPP, "cpu.max refused w/o cpu");
		snprintf(names, sizeof(names), "%s/nocpu", path);
		check(stat(names, &st) < 0, "refused task left no cgroup");
		MUST("create", cg_task_create(r, "nocpu", NULL, &t));
		int k = cg_task_apply_limits(t, &l, &field);
		check(k == -EOPNOTSUPP && field && strcmp(field, "cpu_cores") == 0,
		      "changing limits names the field (%s)", field ? field : "?");
		MUST("destroy", cg_task_destroy(t, 1000));
	}

	/* adoption: a nested tree some other runtime made, with a process inside */
	char ext[PATH_MAX];
	snprintf(ext, sizeof(ext), "%s/ctr-ext", path);
	MUST("mkdir", mkdir(ext, 0755) < 0 ? -errno : 0);
	strcat(ext, "/inner");
	MUST("mkdir", mkdir(ext, 0755) < 0 ? -errno : 0);
	pid_t pid = fork();
	if (pid == 0) {
		char p[PATH_MAX + 16];
		snprintf(p, sizeof(p), "%s/cgroup.procs", ext);
		if (write_string_at(AT_FDCWD, p, "0") < 0)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	usleep(100000);
	MUST("adopt", cg_task_adopt(r, "ctr-ext", &t));
	check(wait_populated(t, true, 1000), "adopted cgroup reads populated (nested child)");
	MUST("kill", cg_task_kill(t));
	int status;
	check(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status), "adopted process killed");
	MUST("destroy adopted", cg_task_destroy(t, 2000));
	check(count_children(path, names, sizeof(names)) == 1, "only supervisor/ left: %s", names);

	cg_root_free(r);
	check(rmdir(strcat(strcpy(names, path), "/supervisor")) == 0 && rmdir(path) == 0,
	      "test root removed");
	return failures ? 1 : 0;
}

/* --- VM enforcement ------------------------------------------------------------------- */

static int enforce(const char *mount)
{
	char path[PATH_MAX], names[1024], buf[256], *s = NULL;
	struct cg_root *r = NULL;
	struct cg_task *t = NULL, *by = NULL;
	struct cg_limits l;
	struct cg_events ev;
	int pidfd, bypidfd;
	siginfo_t si;
	const char *ctl[] = {"cpu", "cpuset", "memory", "io", "pids"};

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	snprintf(path, sizeof(path), "%s/edgeslice", mount);
	MUST("root open", cg_root_open(mount, path, &r));
	MUST("root setup", cg_root_setup(r));
	for (size_t i = 0; i < ELEMENTSOF(ctl); i++)
		check(cg_root_has(r, ctl[i]), "controller %s enabled for tasks", ctl[i]);

	/* CPU: 0.5 core over 2 s, measured from cpu.stat */
	cg_limits_init(&l);
	l.cpu_cores = 0.5;
	MUST("create burn", cg_task_create(r, "burn", &l, &t));
	MUST("read", read_file_at(cg_task_fd(t), "cpu.max", &s, NULL));
	check(strcmp(s, "50000 100000\n") == 0, "cpu.max reads 50000 100000");
	free(s);
	char *burn[] = {(char *)self_exe, "burn", NULL};
	pid_t pid = spawn(t, CG_SPAWN_AUTO, &pidfd, burn);
	usleep(300000); /* let it settle into the quota */
	uint64_t u0, u1, t0, t1;
	MUST("cpu.stat", cg_task_read_cpu_usec(t, &u0));
	t0 = now_usec();
	usleep(2000000);
	MUST("cpu.stat", cg_task_read_cpu_usec(t, &u1));
	t1 = now_usec();
	double cores = (double)(u1 - u0) / (double)(t1 - t0);
	/* The quota is a ceiling: above it is an enforcement fault. Below it, in an emulated
	 * guest on a loaded host, the vCPU may simply not have run (0.39 seen in a fresh-root
	 * run beside three other jobs); 0.2 still shows the burner was not stopped. */
	check(cores <= 0.55 && cores >= 0.2, "burner at 0.5 core used %.3f cores over %.2f s",
	      cores, (double)(t1 - t0) / 1e6);
	/* raise the running task's limit to 1 core */
	l.cpu_cores = 1.0;
	MUST("set limits", cg_task_set_limits(t, &l));
	usleep(300000);
	MUST("cpu.stat", cg_task_read_cpu_usec(t, &u0));
	t0 = now_usec();
	usleep(1000000);
	MUST("cpu.stat", cg_task_read_cpu_usec(t, &u1));
	t1 = now_usec();
	cores = (double)(u1 - u0) / (double)(t1 - t0);
	/* past the old 0.5 ceiling shows the raise took effect, whatever the host lends the vCPU */
	check(cores > 0.6, "after raising to 1 core it used %.3f cores", cores);
	MUST("kill", cg_task_kill(t));
	check(wait_pidfd(pidfd, &si) == 0 && si.si_code == CLD_KILLED, "burner killed (pid %d)",
	      (int)pid);
	close(pidfd);
	MUST("destroy", cg_task_destroy(t, 2000));

	/* memory: a hog over memory.max is OOM-killed, reported; the bystander lives */
	cg_limits_init(&l);
	char *sleeper[] = {"/bin/sleep", "60", NULL};
	MUST("create bystander", cg_task_create(r, "bystander", &l, &by));
	pid_t bypid = spawn(by, CG_SPAWN_AUTO, &bypidfd, sleeper);
	l.memory_max = 32ull << 20;
	l.memory_high = CG_UNLIMITED;
	l.memory_swap_max = 0;
	MUST("create hog", cg_task_create(r, "hog", &l, &t));
	int wfd = cg_task_watch_fd(t);
	check(wfd >= 0, "watch fd for hog");
	char *hog[] = {(char *)self_exe, "hog", "512", NULL};
	pid = spawn(t, CG_SPAWN_AUTO, &pidfd, hog);
	check(pidfd_exited(pidfd, 30000), "hog ended");
	check(wait_pidfd(pidfd, &si) == 0 && si.si_code == CLD_KILLED && si.si_status == SIGKILL,
	      "hog (pid %d) was SIGKILLed (code %d status %d)", (int)pid, si.si_code, si.si_status);
	close(pidfd);
	struct pollfd pfd = {.fd = wfd, .events = POLLIN};
	check(poll(&pfd, 1, 2000) == 1, "inotify fired for memory.events / cgroup.events");
	MUST("events", cg_task_read_events(t, &ev));
	check(ev.oom_kill >= 1 && ev.max >= 1, "memory.events oom_kill=%" PRIu64 " max=%" PRIu64,
	      ev.oom_kill, ev.max);
	check(!pidfd_exited(bypidfd, 0) && kill(bypid, 0) == 0, "bystander still alive");
	check(kill(getpid(), 0) == 0, "the test driver itself survived");
	MUST("destroy hog", cg_task_destroy(t, 2000));

	/* cpuset: pinned to CPU 1 */
	cg_limits_init(&l);
	strcpy(l.cpuset_cpus, "1");
	strcpy(l.cpuset_mems, "0");
	MUST("create pin", cg_task_create(r, "pin", &l, &t));
	pid = spawn(t, CG_SPAWN_AUTO, &pidfd, sleeper);
	snprintf(buf, sizeof(buf), "/proc/%d/status", (int)pid);
	MUST("status", read_file_at(AT_FDCWD, buf, &s, NULL));
	char *cal = strstr(s, "Cpus_allowed_list:");
	check(cal && strncmp(cal, "Cpus_allowed_list:\t1\n", 21) == 0,
	      "Cpus_allowed_list is 1 (%.*s)", cal ? (int)strcspn(cal + 18, "\n") : 0,
	      cal ? cal + 18 : "");
	free(s);
	/* move it to CPU 0 while it runs */
	strcpy(l.cpuset_cpus, "0");
	MUST("set cpuset", cg_task_set_limits(t, &l));
	MUST("status", read_file_at(AT_FDCWD, buf, &s, NULL));
	cal = strstr(s, "Cpus_allowed_list:");
	check(cal && strncmp(cal, "Cpus_allowed_list:\t0\n", 21) == 0,
	      "after the change Cpus_allowed_list is 0");
	free(s);
	MUST("kill", cg_task_kill(t));
	check(pidfd_exited(pidfd, 2000), "pinned task killed");
	close(pidfd);
	reap_all();
	MUST("destroy pin", cg_task_destroy(t, 2000));

	/* pids.max stops a fork bomb */
	cg_limits_init(&l);
	l.pids_max = 16;
	MUST("create bomb", cg_task_create(r, "bomb", &l, &t));
	char *bomb[] = {(char *)self_exe, "forkbomb", NULL};
	pid = spawn(t, CG_SPAWN_AUTO, &pidfd, bomb);
	uint64_t cur = 0, maxev = 0;
	for (int i = 0; i < 100 && maxev == 0; i++) {
		usleep(50000);
		if (read_file_at(cg_task_fd(t), "pids.events", &s, NULL) == 0) {
			(void)cg_parse_keyed(s, "max", &maxev);
			free(s);
		}
	}
	MUST("pids.current", read_file_at(cg_task_fd(t), "pids.current", &s, NULL));
	cur = strtoull(s, NULL, 10);
	free(s);
	check(maxev >= 1 && cur == 16,
	      "fork bomb stopped at pids.max: pids.current=%" PRIu64 " pids.events max=%" PRIu64,
	      cur, maxev);
	check(!pidfd_exited(pidfd, 0), "the bomb saw EAGAIN and kept running (not crashed)");
	MUST("kill", cg_task_kill(t));
	check(wait_populated(t, false, 5000), "bomb cgroup empty after cgroup.kill");
	close(pidfd);
	reap_all();
	MUST("destroy bomb", cg_task_destroy(t, 5000));

	/* exclusive cores: CPU 1 as a partition root of its own */
	cg_limits_init(&l);
	strcpy(l.cpuset_cpus, "1");
	l.cpuset_exclusive = true;
	const char *field = NULL;
	/* Under a delegated root that is no partition root the kernel marks the partition
	 * invalid; the library must refuse rather than claim exclusivity. */
	int k = cg_task_create(r, "excl", &l, &t);
	check(k == -EBUSY, "exclusive cores refused with -EBUSY under a non-partition parent (%d)",
	      k);
	snprintf(buf, sizeof(buf), "%s/excl", path);
	struct stat st;
	check(stat(buf, &st) < 0, "the refused exclusive cgroup was removed again");
	(void)field;

	/* With the subtree a partition root of its own (needs >= 3 CPUs: the machine keeps
	 * CPU 0, supervisor/ keeps 1), a whole-core task gets CPU 2 to itself. */
	if (sysconf(_SC_NPROCESSORS_ONLN) >= 3) {
		k = cg_root_set_partition(r, "1-2");
		check(k == 0, "subtree made a partition root on CPUs 1-2 (%d)", k);
		cg_limits_init(&l);
		l.cpu_cores = 1;
		strcpy(l.cpuset_cpus, "2");
		l.cpuset_exclusive = true;
		k = cg_task_create(r, "excl", &l, &t);
		check(k == 0, "whole-core task created with an exclusive CPU (%d)", k);
		if (k == 0) {
			MUST("read",
			     read_file_at(cg_task_fd(t), "cpuset.cpus.partition", &s, NULL));
			check(strcmp(s, "root\n") == 0, "task cgroup is a valid partition root");
			free(s);
			pid = spawn(t, CG_SPAWN_AUTO, &pidfd, sleeper);
			snprintf(buf, sizeof(buf), "/proc/%d/status", (int)pid);
			MUST("status", read_file_at(AT_FDCWD, buf, &s, NULL));
			check(strstr(s, "Cpus_allowed_list:\t2\n") != NULL,
			      "exclusive task on CPU 2");
			free(s);
			MUST("read", read_file_at(cg_root_fd(r), "supervisor/cpuset.cpus.effective",
						  &s, NULL));
			check(strcmp(s, "1\n") == 0,
			      "supervisor/ may no longer run on CPU 2 (effective %.*s)",
			      (int)strcspn(s, "\n"), s);
			free(s);
			MUST("kill", cg_task_kill(t));
			check(pidfd_exited(pidfd, 2000), "exclusive task killed");
			close(pidfd);
			reap_all();
			MUST("destroy excl", cg_task_destroy(t, 2000));
		}
		check(cg_root_set_partition(r, NULL) == 0, "subtree back to a member cpuset");
	} else
		printf("# fewer than 3 CPUs: exclusive partition check skipped\n");

	/* adoption of a nested tree; teardown leaves nothing */
	snprintf(buf, sizeof(buf), "%s/ctr-ext", path);
	MUST("mkdir", mkdir(buf, 0755) < 0 ? -errno : 0);
	strcat(buf, "/inner");
	MUST("mkdir", mkdir(buf, 0755) < 0 ? -errno : 0);
	pid = fork();
	if (pid == 0) {
		strcat(buf, "/cgroup.procs");
		if (write_string_at(AT_FDCWD, buf, "0") < 0)
			_exit(1);
		execl("/bin/sleep", "sleep", "60", (char *)NULL);
		_exit(1);
	}
	usleep(200000);
	MUST("adopt", cg_task_adopt(r, "ctr-ext", &t));
	check(wait_populated(t, true, 1000), "adopted container populated");
	MUST("kill", cg_task_kill(t));
	check(wait_populated(t, false, 3000), "adopted container empty after kill");
	MUST("destroy adopted", cg_task_destroy(t, 3000));
	MUST("kill bystander", cg_task_kill(by));
	close(bypidfd);
	reap_all();
	MUST("destroy bystander", cg_task_destroy(by, 3000));
	check(count_children(path, names, sizeof(names)) == 1 && strcmp(names, "supervisor ") == 0,
	      "nothing but supervisor/ left under %s: %s", path, names);
	cg_root_free(r);
	return failures ? 1 : 0;
}

/* --- systemd: Delegate=yes subtree discovery ------------------------------------------ */

static int systemd_check(const char *mount, const char *unit)
{
	char *disc = NULL, want[PATH_MAX], got[PATH_MAX];
	struct cg_root *r = NULL;
	struct cg_task *t = NULL;
	struct cg_limits l;
	int pidfd;

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	MUST("discover", cg_root_discover(mount, NULL, &disc));
	snprintf(want, sizeof(want), "%s/system.slice/%s", mount, unit);
	check(strcmp(disc, want) == 0, "discovered %s (want %s)", disc, want);
	MUST("root open", cg_root_open(mount, disc, &r));
	MUST("root setup", cg_root_setup(r));
	const char *ctl[] = {"cpu", "cpuset", "memory", "io", "pids"};
	for (size_t i = 0; i < ELEMENTSOF(ctl); i++)
		check(cg_root_has(r, ctl[i]), "Delegate=yes gave us %s", ctl[i]);
	MUST("self cgroup", read_proc_cgroup(getpid(), got, sizeof(got)));
	snprintf(want, sizeof(want), "%s/supervisor", rel(mount, disc));
	check(strcmp(got, want) == 0, "the service moved itself into %s (is %s)", want, got);
	cg_limits_init(&l);
	l.cpu_cores = 0.5;
	l.memory_max = 64ull << 20;
	l.pids_max = 32;
	MUST("create", cg_task_create(r, "task-sd", &l, &t));
	char *sleeper[] = {"/bin/sleep", "30", NULL};
	pid_t pid = spawn(t, CG_SPAWN_AUTO, &pidfd, sleeper);
	MUST("task cgroup", read_proc_cgroup(pid, got, sizeof(got)));
	snprintf(want, sizeof(want), "%s/task-sd", rel(mount, disc));
	check(strcmp(got, want) == 0, "task started in %s", got);
	MUST("kill", cg_task_kill(t));
	check(pidfd_exited(pidfd, 2000), "task killed");
	reap_all();
	MUST("destroy", cg_task_destroy(t, 2000));
	free(disc);
	cg_root_free(r);
	return failures ? 1 : 0;
}

/* --- benchmark ------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* create + spawn /bin/true + pidfd exit + destroy, per iteration; prints JSON. */
static int bench(const char *mount, int n, const char *where)
{
	char path[PATH_MAX];
	struct cg_root *r = NULL;
	uint64_t *lat[3];
	const int modes[2] = {CG_SPAWN_CLONE3, CG_SPAWN_FORK};
	const char *labels[3] = {"clone3_into_cgroup", "fork_then_cgroup_procs",
				 "cgroup_only_no_process"};
	char *truev[] = {"/bin/true", NULL};

	snprintf(path, sizeof(path), "%s/edgeslice-bench-%d", mount, (int)getpid());
	MUST("root open", cg_root_open(mount, path, &r));
	MUST("root setup", cg_root_setup(r));
	for (int m = 0; m < 3; m++)
		lat[m] = calloc((size_t)n, sizeof(uint64_t));
	/* interleave the paths so noise hits all alike; the third is the cgroup work alone
	 * (mkdir + limits + rmdir), the baseline the spawn paths add process cost to */
	for (int i = 0; i < n; i++)
		for (int m = 0; m < 3; m++) {
			struct cg_task *t = NULL;
			struct cg_exec e;
			siginfo_t si;
			pid_t pid;
			int pidfd;
			uint64_t t0 = now_nsec();
			MUST("create", cg_task_create(r, "bench", NULL, &t));
			if (m < 2) {
				cg_exec_init(&e, truev);
				MUST("spawn", cg_task_spawn_mode(t, &e, modes[m], &pid, &pidfd));
				MUST("wait", wait_pidfd(pidfd, &si));
				close(pidfd);
			}
			MUST("destroy", cg_task_destroy(t, 2000));
			lat[m][i] = now_nsec() - t0;
		}
	printf("{\"where\": \"%s\", \"iterations\": %d", where, n);
	for (int m = 0; m < 3; m++) {
		qsort(lat[m], (size_t)n, sizeof(uint64_t), cmp_u64);
		printf(", \"%s\": {\"median_us\": %.1f, \"p99_us\": %.1f}", labels[m],
		       (double)lat[m][n / 2] / 1e3, (double)lat[m][(n * 99) / 100] / 1e3);
		free(lat[m]);
	}
	printf("}\n");
	cg_root_free(r);
	char sup[PATH_MAX + 16];
	snprintf(sup, sizeof(sup), "%s/supervisor", path);
	rmdir(sup);
	rmdir(path);
	return 0;
}

/* Does a CLONE_INTO_CGROUP child survive birth into a cgroup that saw cgroup.kill? The
 * library must start the task either way, exactly once. */
static int killseq(struct cg_root *r)
{
	struct cg_task *t = NULL, *t2 = NULL;
	char *sleeper[] = {"/bin/sleep", "30", NULL}, *truev[] = {"/bin/true", NULL};
	siginfo_t si;
	pid_t pid;
	int pidfd, k;
	struct cg_exec e;

	MUST("create", cg_task_create(r, "killseq", NULL, &t));
	spawn(t, CG_SPAWN_CLONE3, &pidfd, sleeper);
	MUST("kill", cg_task_kill(t));
	MUST("wait", wait_pidfd(pidfd, &si));
	close(pidfd);
	cg_exec_init(&e, truev);
	k = cg_task_spawn_mode(t, &e, CG_SPAWN_CLONE3, &pid, &pidfd);
	printf("# clone3 into a cgroup that saw cgroup.kill: %s\n",
	       k == -ECANCELED ? "child SIGKILLed at birth (reported -ECANCELED)"
	       : k == 0	       ? "child ran normally"
			       : strerror(-k));
	check(k == 0 || k == -ECANCELED, "forced clone3 after kill: started or -ECANCELED (%d)", k);
	if (k == 0) {
		MUST("wait", wait_pidfd(pidfd, &si));
		close(pidfd);
	}
	/* a fresh handle does not know about the kill: AUTO must still start it, once */
	MUST("adopt", cg_task_adopt(r, "killseq", &t2));
	k = cg_task_spawn_mode(t2, &e, CG_SPAWN_AUTO, &pid, &pidfd);
	check(k == 0, "AUTO spawn into a killed cgroup via a fresh handle works (%d)", k);
	if (k == 0) {
		check(wait_pidfd(pidfd, &si) == 0 && si.si_code == CLD_EXITED && si.si_status == 0,
		      "and the task ran to exit 0");
		close(pidfd);
	}
	cg_task_free(t2);
	MUST("destroy", cg_task_destroy(t, 2000));
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "burn") == 0)
		return mode_burn();
	if (argc >= 3 && strcmp(argv[1], "hog") == 0)
		return mode_hog(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "forkbomb") == 0)
		return mode_forkbomb();
	if (argc >= 3 && strcmp(argv[1], "host") == 0)
		return host(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "enforce") == 0)
		return enforce(argv[2]);
	if (argc >= 4 && strcmp(argv[1], "systemd") == 0)
		return systemd_check(argv[2], argv[3]);
	if (argc >= 5 && strcmp(argv[1], "bench") == 0)
		return bench(argv[2], atoi(argv[3]), argv[4]);
	fprintf(
	    stderr,
	    "usage: cg_enforce host|enforce MOUNT | systemd MOUNT UNIT | bench MOUNT N WHERE\n");
	return 2;
}
