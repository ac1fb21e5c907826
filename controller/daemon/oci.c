/* oci.c — tasks that are OCI containers: the bundle checked at submit, a per-task copy of its
 * config.json pointing the runtime (crun, runc) at task-N/ctr, the runtime started in
 * task-N/rt, its files removed at the end (docs/DAEMON.md, Containers). */
#include "daemon-internal.h"

#define OCI_MAX_CONFIG (1u << 20)

static json_object *read_config(const char *bundle, char *why, size_t whysz)
{
	_cleanup_free_ char *path = NULL, *text = NULL;
	json_object *o;
	size_t len;
	int r;

	if (asprintf(&path, "%s/config.json", bundle) < 0) {
		path = NULL;
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	r = read_file_at(AT_FDCWD, path, &text, &len);
	if (r < 0) {
		snprintf(why, whysz, "%s: %s", path, strerror(-r));
		return NULL;
	}
	if (len > OCI_MAX_CONFIG) {
		snprintf(why, whysz, "%s: larger than 1 MiB", path);
		return NULL;
	}
	o = json_tokener_parse(text);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		snprintf(why, whysz, "%s: not a JSON object", path);
		return NULL;
	}
	return o;
}

int daemon_oci_check(struct daemon *d, const char *bundle, char ***ret_argv, size_t *ret_argc,
		     struct proto_error *err)
{
	json_object *cfg, *proc = NULL, *args = NULL, *root = NULL, *rp = NULL;
	char why[PATH_MAX + 64];
	struct stat st;
	size_t n;
	char **argv;

	if (daemon_check_command(d->conf.oci_runtime, why, sizeof(why)) < 0)
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, "oci",
				      "oci: the OCI runtime %s (oci_runtime =): %s",
				      d->conf.oci_runtime, why);
	cfg = read_config(bundle, why, sizeof(why));
	if (!cfg)
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, "oci", "oci: %s", why);
	if (!json_object_object_get_ex(cfg, "process", &proc) ||
	    !json_object_object_get_ex(proc, "args", &args) ||
	    !json_object_is_type(args, json_type_array) || !(n = json_object_array_length(args)) ||
	    n > PROTO_MAX_ARGS) {
		json_object_put(cfg);
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, "oci",
				      "oci: %s/config.json: process.args must be a non-empty array",
				      bundle);
	}
	if (!json_object_object_get_ex(cfg, "root", &root) ||
	    !json_object_object_get_ex(root, "path", &rp) ||
	    !json_object_is_type(rp, json_type_string)) {
		json_object_put(cfg);
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, "oci",
				      "oci: %s/config.json: root.path missing", bundle);
	}
	snprintf(why, sizeof(why), "%s%s%s", json_object_get_string(rp)[0] == '/' ? "" : bundle,
		 json_object_get_string(rp)[0] == '/' ? "" : "/", json_object_get_string(rp));
	if (stat(why, &st) < 0 || !S_ISDIR(st.st_mode)) {
		json_object_put(cfg);
		return daemon_set_err(err, PROTO_E_BAD_COMMAND, "oci", "oci: root %s: not a folder",
				      why);
	}
	argv = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; argv && i < n; i++) {
		const char *a = json_object_get_string(json_object_array_get_idx(args, i));
		argv[i] = strdup(a ? a : "");
		if (!argv[i]) {
			strv_free(argv, i);
			argv = NULL;
		}
	}
	json_object_put(cfg);
	if (!argv)
		return daemon_set_err(err, PROTO_E_INTERNAL, NULL, "out of memory");
	*ret_argv = argv;
	*ret_argc = n;
	return 0;
}

/* <runtime_dir>/oci/<task cgroup name>: the task's copy of the bundle's config. */
static int task_dir(struct daemon *d, const struct dtask *t, char *buf, size_t size)
{
	char name[128];
	int r = dtask_cgroup_name(t, name, sizeof(name));
	if (r < 0)
		return r;
	if (snprintf(buf, size, "%s/oci/%s", d->o.runtime_dir, name) >= (int)size)
		return -ENAMETOOLONG;
	return 0;
}

static int mkdir_p(const char *path)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s", path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			if (mkdir(p, 0700) < 0 && errno != EEXIST)
				return negative_errno();
			*s = '/';
		}
	return mkdir(p, 0700) < 0 && errno != EEXIST ? negative_errno() : 0;
}

static void rm_tree(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	DIR *dir = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
	struct dirent *de;

	if (dir) {
		while ((de = readdir(dir))) {
			char sub[PATH_MAX];
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
			    (int)sizeof(sub))
				continue;
			if (de->d_type == DT_DIR)
				rm_tree(sub);
			else
				(void)unlink(sub);
		}
		closedir(dir);
	}
	(void)rmdir(path);
}

int daemon_oci_prepare(struct daemon *d, struct dtask *t, char ***ret_argv)
{
	char dir[PATH_MAX], why[PATH_MAX + 64], cgname[128], id[40], path[PATH_MAX + 16];
	json_object *cfg, *linux_ = NULL, *proc = NULL, *root = NULL, *rp = NULL;
	_cleanup_free_ char *state = NULL;
	const char *rel = d->cg_path + strlen(d->cgroupfs);
	int r;

	if ((r = task_dir(d, t, dir, sizeof(dir))) < 0 ||
	    (r = dtask_cgroup_name(t, cgname, sizeof(cgname))) < 0)
		return r;
	cfg = read_config(t->oci, why, sizeof(why));
	if (!cfg) {
		daemon_log(LOG_ERR, "task %" PRIu64 ": %s", t->id, why);
		return -ENOENT;
	}
	/* The runtime gets a child cgroup of the task's and no limits of its own: the task's
	 * cgroup holds them, for the container and the runtime alike. */
	if (!json_object_object_get_ex(cfg, "linux", &linux_)) {
		linux_ = json_object_new_object();
		json_object_object_add(cfg, "linux", linux_);
	}
	json_object_object_del(linux_, "resources");
	snprintf(path, sizeof(path), "%s/%s/ctr", *rel ? rel : "", cgname);
	json_object_object_add(linux_, "cgroupsPath", json_object_new_string(path));
	if (json_object_object_get_ex(cfg, "process", &proc))
		json_object_object_add(proc, "terminal", json_object_new_boolean(false));
	if (json_object_object_get_ex(cfg, "root", &root) &&
	    json_object_object_get_ex(root, "path", &rp) && json_object_get_string(rp)[0] != '/') {
		snprintf(path, sizeof(path), "%s/%s", t->oci, json_object_get_string(rp));
		json_object_object_add(root, "path", json_object_new_string(path));
	}
	snprintf(path, sizeof(path), "%s/config.json", dir);
	r = mkdir_p(dir);
	if (r >= 0) {
		const char *s = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN);
		r = write_file_atomic_at(AT_FDCWD, path, s, strlen(s), 0600);
	}
	json_object_put(cfg);
	if (r < 0)
		return r;
	snprintf(id, sizeof(id), "edgeslice-%" PRIu64, t->id);
	if (asprintf(&state, "%s/oci/state", d->o.runtime_dir) < 0) {
		state = NULL;
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", state, id);
	rm_tree(path); /* a previous attempt's, after a crash: the runtime would refuse the id */
	const char *v[] = {d->conf.oci_runtime,
			   "--cgroup-manager=cgroupfs",
			   "--root",
			   state,
			   "run",
			   "--bundle",
			   dir,
			   id,
			   NULL};
	char **argv = calloc(ELEMENTSOF(v), sizeof(char *));
	for (size_t i = 0; argv && v[i]; i++)
		if (!(argv[i] = strdup(v[i]))) {
			strv_free(argv, i);
			argv = NULL;
		}
	if (!argv)
		return -ENOMEM;
	*ret_argv = argv;
	return 0;
}

void daemon_oci_cleanup(struct daemon *d, const struct dtask *t)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];

	if (!t->oci || task_dir(d, t, dir, sizeof(dir)) < 0)
		return;
	rm_tree(dir);
	snprintf(path, sizeof(path), "%s/oci/state/edgeslice-%" PRIu64, d->o.runtime_dir, t->id);
	rm_tree(path);
}
