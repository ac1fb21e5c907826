/* cmd_bundle.c — `edgeslice bundle MODEL DIR`: an OCI bundle that runs edgeslice-infer (or a
 * given command) from the host's /usr, read-only, with no registry and no image. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"

static const char bundle_help[] =
    "Usage: edgeslice bundle MODEL DIR [-- CMD [ARG...]]\n\n"
    "Writes an OCI bundle (DIR/config.json and DIR/rootfs) for `edgeslice submit --oci DIR`\n"
    "and catalog entries with \"bundle\": the container runs `edgeslice-infer MODEL` (or\n"
    "CMD) as root in its own PID, IPC, UTS, mount and cgroup namespaces, on the host's\n"
    "network (upload shaping classifies its sockets by cgroup). Its root is an empty,\n"
    "read-only rootfs onto which the host's /usr is bind-mounted read-only (with\n"
    "/etc/ld.so.cache and /etc/alternatives, which the loader and OpenBLAS need), plus the\n"
    "folder of CMD when it lies outside /usr. No limits are written: edgesliced limits the\n"
    "task's cgroup and gives the runtime a child of it.\n";

static json_object *jstr_array(const char *const *v, int n)
{
	json_object *a = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static json_object *mount(const char *dst, const char *type, const char *src, const char *opts)
{
	json_object *m = json_object_new_object(), *o = json_object_new_array();
	char *s = strdup(opts), *save = NULL;
	json_object_object_add(m, "destination", json_object_new_string(dst));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "source", json_object_new_string(src));
	for (char *t = s ? strtok_r(s, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		json_object_array_add(o, json_object_new_string(t));
	free(s);
	json_object_object_add(m, "options", o);
	return m;
}

/* The command's absolute path: as given, else edgeslice-infer beside this binary, else
 * from PATH. */
static int resolve(const char *cmd, char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n;
	if (strchr(cmd, '/'))
		return realpath(cmd, buf) ? 0 : -errno;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash &&
		    snprintf(buf, size, "%.*s/%s", (int)(slash - self), self, cmd) < (int)size &&
		    access(buf, X_OK) == 0)
			return 0;
	}
	const char *path = getenv("PATH");
	_cleanup_free_ char *p = strdup(path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = p ? strtok_r(p, ":", &save) : NULL; d; d = strtok_r(NULL, ":", &save))
		if (snprintf(buf, size, "%s/%s", d, cmd) < (int)size && access(buf, X_OK) == 0)
			return 0;
	return -ENOENT;
}

static json_object *config(const char *const *args, int n, const char *extra_dir)
{
	/* Within edgesliced.service's CapabilityBoundingSet (a runtime cannot grant more). */
	static const char *const caps[] = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER",
					   "CAP_KILL",	"CAP_SETGID",	    "CAP_SETUID"};
	static const char *const env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/"};
	static const char *const ns[] = {"pid", "ipc", "uts", "mount", "cgroup"};
	json_object *c = json_object_new_object(), *p = json_object_new_object();
	json_object *user = json_object_new_object(), *cp = json_object_new_object();
	json_object *root = json_object_new_object(), *mounts = json_object_new_array();
	json_object *lx = json_object_new_object(), *nss = json_object_new_array();

	json_object_object_add(c, "ociVersion", json_object_new_string("1.0.2"));
	json_object_object_add(p, "terminal", json_object_new_boolean(false));
	json_object_object_add(user, "uid", json_object_new_int(0));
	json_object_object_add(user, "gid", json_object_new_int(0));
	json_object_object_add(p, "user", user);
	json_object_object_add(p, "args", jstr_array(args, n));
	json_object_object_add(p, "env", jstr_array(env, 2));
	json_object_object_add(p, "cwd", json_object_new_string("/"));
	for (int i = 0; i < 4; i++) {
		static const char *const sets[] = {"bounding", "effective", "permitted", "ambient"};
		json_object_object_add(cp, sets[i], jstr_array(caps, (int)ELEMENTSOF(caps)));
	}
	json_object_object_add(p, "capabilities", cp);
	json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(true));
	json_object_object_add(c, "process", p);
	json_object_object_add(root, "path", json_object_new_string("rootfs"));
	json_object_object_add(root, "readonly", json_object_new_boolean(true));
	json_object_object_add(c, "root", root);
	json_object_object_add(c, "hostname", json_object_new_string("edgeslice"));
	json_object_array_add(mounts, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
	json_object_array_add(
	    mounts, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
	json_object_array_add(mounts, mount("/dev/pts", "devpts", "devpts",
					    "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620"));
	json_object_array_add(
	    mounts, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k"));
	json_object_array_add(mounts, mount("/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro"));
	json_object_array_add(mounts, mount("/tmp", "tmpfs", "tmpfs", "nosuid,nodev,mode=1777"));
	json_object_array_add(mounts, mount("/usr", "bind", "/usr", "rbind,ro"));
	json_object_array_add(mounts,
			      mount("/etc/ld.so.cache", "bind", "/etc/ld.so.cache", "bind,ro"));
	json_object_array_add(mounts,
			      mount("/etc/alternatives", "bind", "/etc/alternatives", "rbind,ro"));
	if (extra_dir)
		json_object_array_add(mounts, mount(extra_dir, "bind", extra_dir, "rbind,ro"));
	json_object_object_add(c, "mounts", mounts);
	for (size_t i = 0; i < ELEMENTSOF(ns); i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "type", json_object_new_string(ns[i]));
		json_object_array_add(nss, o);
	}
	json_object_object_add(lx, "namespaces", nss);
	json_object_object_add(c, "linux", lx);
	return c;
}

static int make_rootfs(const char *dir, const char *extra_dir)
{
	static const char *const dirs[] = {
	    "rootfs",	  "rootfs/usr", "rootfs/proc", "rootfs/dev",
	    "rootfs/sys", "rootfs/tmp", "rootfs/etc",  "rootfs/etc/alternatives"};
	static const char *const links[] = {"bin", "lib", "lib64", "sbin"};
	char p[2 * PATH_MAX + 16];
	int fd;

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, dirs[i]);
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	for (size_t i = 0; i < ELEMENTSOF(links); i++) { /* merged /usr, as Debian 12 has it */
		char target[16];
		snprintf(p, sizeof(p), "%s/rootfs/%s", dir, links[i]);
		snprintf(target, sizeof(target), "usr/%s", links[i]);
		if (symlink(target, p) < 0 && errno != EEXIST)
			return -errno;
	}
	snprintf(p, sizeof(p), "%s/rootfs/etc/ld.so.cache", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	close(fd);
	if (extra_dir) { /* the mount point of the command's folder, made inside rootfs */
		snprintf(p, sizeof(p), "%s/rootfs%s", dir, extra_dir);
		for (char *s = p + strlen(dir) + 8; *s; s++)
			if (*s == '/') {
				*s = 0;
				(void)mkdir(p, 0755);
				*s = '/';
			}
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int cmd_bundle(int argc, char **argv)
{
	char cmd[PATH_MAX], dir_abs[PATH_MAX], extra[PATH_MAX], path[PATH_MAX + 16];
	const char **args;
	int n, r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(bundle_help, stdout);
		return ES_EXIT_OK;
	}
	if (argc < 3 || (argc > 3 && strcmp(argv[3], "--")) || argc == 4)
		return cli_usage_error("bundle", "expected MODEL DIR [-- CMD [ARG...]]");
	n = argc > 4 ? argc - 4 : 2;
	args = calloc((size_t)n + 1, sizeof(char *));
	if (!args)
		return ES_EXIT_FAILURE;
	r = resolve(argc > 4 ? argv[4] : "edgeslice-infer", cmd, sizeof(cmd));
	if (r < 0) {
		free(args);
		fprintf(stderr, "edgeslice bundle: %s: not found\n",
			argc > 4 ? argv[4] : "edgeslice-infer");
		return ES_EXIT_FAILURE;
	}
	args[0] = cmd;
	for (int i = 1; i < n; i++)
		args[i] = argc > 4 ? argv[4 + i] : argv[1];
	snprintf(extra, sizeof(extra), "%s", cmd);
	*strrchr(extra, '/') = 0;
	if ((mkdir(argv[2], 0755) < 0 && errno != EEXIST) || !realpath(argv[2], dir_abs)) {
		fprintf(stderr, "edgeslice bundle: %s: %s\n", argv[2], strerror(errno));
		free(args);
		return ES_EXIT_FAILURE;
	}
	bool outside = strncmp(extra, "/usr/", 5) != 0;
	r = make_rootfs(dir_abs, outside ? extra : NULL);
	if (r >= 0) {
		json_object *c = config(args, n, outside ? extra : NULL);
		const char *s = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY);
		snprintf(path, sizeof(path), "%s/config.json", dir_abs);
		r = write_file_atomic_at(AT_FDCWD, path, s, strlen(s), 0644);
		json_object_put(c);
	}
	free(args);
	if (r < 0) {
		fprintf(stderr, "edgeslice bundle: %s: %s\n", dir_abs, strerror(-r));
		return ES_EXIT_FAILURE;
	}
	printf("%s\n", dir_abs);
	return ES_EXIT_OK;
}
ES_COMMAND("bundle", cmd_bundle, "Write an OCI bundle that runs a model: bundle MODEL DIR");
