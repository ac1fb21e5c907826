/* dstore.c — the task table in SQLite: one row per task (its dtask_format record plus the
 * columns a query needs), next_id in meta, schema versioned by PRAGMA user_version. */
#include "dstore.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct dstore {
	sqlite3 *db;
	sqlite3_stmt *put, *del, *next;
	bool in_tx;
};

/* Schema steps: migrations[v] takes a file from user_version v to v + 1. */
static const char *const migrations[DSTORE_VERSION] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
    "CREATE TABLE tasks (id INTEGER PRIMARY KEY, queue TEXT NOT NULL, state TEXT NOT NULL,"
    "                    app INTEGER NOT NULL DEFAULT 0, record TEXT NOT NULL);",
};

/* SQLite result codes as -errno (the boundary: nothing above sees SQLITE_*). */
static int sq_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return -EBADMSG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int fail(sqlite3 *db, int rc, char *err, size_t errsz, const char *what)
{
	if (err && errsz)
		snprintf(err, errsz, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	return sq_errno(rc) ?: -EIO;
}

static int exec(sqlite3 *db, const char *sql)
{
	return sq_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

/* The first column of a one-row query as an integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENODATA : sq_errno(rc);
}

static int check(sqlite3 *db, char *err, size_t errsz)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	const unsigned char *v;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = fail(db, rc, err, errsz, "quick_check");
		sqlite3_finalize(st);
		return rc;
	}
	v = sqlite3_column_text(st, 0);
	if (!v || strcmp((const char *)v, "ok")) {
		snprintf(err, errsz, "quick_check: %s", v ? (const char *)v : "no answer");
		for (char *c = err; *c; c++) /* one log line */
			*c = *c == '\n' ? ' ' : *c;
		sqlite3_finalize(st);
		return -EBADMSG;
	}
	sqlite3_finalize(st);
	return 0;
}

static int migrate(sqlite3 *db, char *err, size_t errsz)
{
	int64_t v;
	int r = query_int(db, "PRAGMA user_version", &v);
	char sql[64];

	if (r < 0)
		return fail(db, SQLITE_CORRUPT, err, errsz, "user_version");
	if (v > DSTORE_VERSION) {
		snprintf(err, errsz,
			 "schema version %" PRId64 " is newer than this edgesliced's %d", v,
			 DSTORE_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (v == DSTORE_VERSION)
		return 0;
	r = exec(db, "BEGIN IMMEDIATE");
	for (; r >= 0 && v < DSTORE_VERSION; v++)
		r = exec(db, migrations[v]);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", DSTORE_VERSION);
	if (r >= 0)
		r = exec(db, sql);
	if (r >= 0)
		r = exec(db, "COMMIT");
	if (r < 0) {
		(void)exec(db, "ROLLBACK");
		return fail(db, SQLITE_ERROR, err, errsz, "schema");
	}
	return 0;
}

static int prepare(struct dstore *s)
{
	int rc = sqlite3_prepare_v3(
	    s->db,
	    "INSERT OR REPLACE INTO tasks (id, queue, state, app, record) VALUES (?,?,?,?,?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &s->put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(s->db, "DELETE FROM tasks WHERE id = ?", -1,
					SQLITE_PREPARE_PERSISTENT, &s->del, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(s->db,
					"INSERT OR REPLACE INTO meta (key, value) VALUES "
					"('next_id', ?)",
					-1, SQLITE_PREPARE_PERSISTENT, &s->next, NULL);
	return sq_errno(rc);
}

void dstore_close(struct dstore *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->put);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->next);
	sqlite3_close(s->db);
	free(s);
}

int dstore_open(const char *path, struct dstore **ret, char *err, size_t errsz)
{
	struct dstore *s = calloc(1, sizeof(*s));
	int rc, r;

	if (!s)
		return -ENOMEM;
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = fail(s->db, rc, err, errsz, "open");
		goto out;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* Nothing is written back into a file that turns out damaged: no checkpoint on close
	 * until the checks passed. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	r = check(s->db, err, errsz);
	if (r < 0)
		goto out;
	r = exec(s->db, "PRAGMA journal_mode = WAL");
	if (r >= 0)
		r = exec(s->db, "PRAGMA synchronous = FULL");
	if (r < 0) {
		r = fail(s->db, SQLITE_IOERR, err, errsz, "journal_mode");
		goto out;
	}
	r = migrate(s->db, err, errsz);
	if (r < 0)
		goto out;
	r = prepare(s);
	if (r < 0) {
		r = fail(s->db, SQLITE_ERROR, err, errsz, "prepare");
		goto out;
	}
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	*ret = s;
	return 0;
out:
	dstore_close(s);
	return r;
}

/* Rows of SQL (id, record) appended to *tasks; a row that does not validate is counted in
 * *bad (or, strict, ends the scan with -EBADMSG). */
static int scan(sqlite3 *db, const char *sql, bool strict, struct dtask **tasks, size_t *n,
		size_t *cap, size_t *bad, char *err, size_t errsz)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL), r = 0;

	if (rc == SQLITE_OK)
		rc = SQLITE_ROW;
	while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);
		const char *rec = (const char *)sqlite3_column_text(st, 1);
		struct dtask t;
		char e[200];

		if (dtask_parse(rec, &t, e, sizeof(e)) < 0 || t.id != (uint64_t)id) {
			if (strict) {
				snprintf(err, errsz, "task %" PRId64 ": %s", id,
					 rec ? e : "no record");
				r = -EBADMSG;
				break;
			}
			(*bad)++;
			continue;
		}
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct dtask *nt = realloc(*tasks, nc * sizeof(*nt));
			if (!nt) {
				dtask_free_fields(&t);
				r = -ENOMEM;
				break;
			}
			*tasks = nt;
			*cap = nc;
		}
		(*tasks)[(*n)++] = t;
	}
	if (!r && rc != SQLITE_DONE)
		r = fail(db, rc, err, errsz, "tasks");
	sqlite3_finalize(st);
	return r;
}

int dstore_load(struct dstore *s, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		char *err, size_t errsz)
{
	struct dtask *tasks = NULL;
	size_t n = 0, cap = 0, bad = 0;
	int64_t next = 0;
	int r = query_int(s->db, "SELECT value FROM meta WHERE key = 'next_id'", &next);

	if (r < 0 && r != -ENODATA)
		return fail(s->db, SQLITE_CORRUPT, err, errsz, "meta");
	if (r == 0 && next < 1) {
		snprintf(err, errsz, "next_id: %" PRId64 " is not positive", next);
		return -EBADMSG;
	}
	r = scan(s->db, "SELECT id, record FROM tasks ORDER BY id", true, &tasks, &n, &cap, &bad,
		 err, errsz);
	if (r >= 0 && n && (uint64_t)next <= tasks[n - 1].id) {
		snprintf(err, errsz, "task %" PRIu64 ": not below next_id %" PRId64,
			 tasks[n - 1].id, next);
		r = -EBADMSG;
	}
	if (r < 0) {
		/* the file stays as it is for --recover: no checkpoint into it on close */
		sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		dstate_free(tasks, n);
		return r == -ENOMEM ? r : -EBADMSG;
	}
	*ret = tasks;
	*ret_n = n;
	*ret_next_id = (uint64_t)next;
	return 0;
}

int dstore_begin(struct dstore *s)
{
	int r = exec(s->db, "BEGIN IMMEDIATE");
	s->in_tx = r >= 0;
	return r;
}

static int step_reset(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? 0 : sq_errno(rc) ?: -EIO;
}

int dstore_put(struct dstore *s, const struct dtask *t)
{
	_cleanup_free_ char *rec = NULL;
	int r = dtask_format(t, &rec);

	if (r < 0)
		return r;
	sqlite3_bind_int64(s->put, 1, (int64_t)t->id);
	sqlite3_bind_text(s->put, 2, t->queue, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->put, 3, dtask_state_name(t->state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s->put, 4, (int64_t)t->app);
	sqlite3_bind_text(s->put, 5, rec, -1, SQLITE_STATIC);
	return step_reset(s->put);
}

int dstore_delete(struct dstore *s, uint64_t id)
{
	sqlite3_bind_int64(s->del, 1, (int64_t)id);
	return step_reset(s->del);
}

int dstore_set_next_id(struct dstore *s, uint64_t next_id)
{
	sqlite3_bind_int64(s->next, 1, (int64_t)next_id);
	return step_reset(s->next);
}

int dstore_commit(struct dstore *s)
{
	int r = exec(s->db, "COMMIT");
	if (r < 0)
		dstore_rollback(s);
	s->in_tx = false;
	return r;
}

void dstore_rollback(struct dstore *s)
{
	if (s->in_tx || !sqlite3_get_autocommit(s->db))
		(void)exec(s->db, "ROLLBACK");
	s->in_tx = false;
}

int dstore_write_all(struct dstore *s, const struct dtask *tasks, size_t n, uint64_t next_id)
{
	int r = dstore_begin(s);

	if (r >= 0)
		r = exec(s->db, "DELETE FROM tasks");
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = dstore_put(s, &tasks[i]);
	if (r >= 0)
		r = dstore_set_next_id(s, next_id);
	if (r >= 0)
		return dstore_commit(s);
	dstore_rollback(s);
	return r;
}

static int copy_file(const char *from, const char *to)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r = read_file_at(AT_FDCWD, from, &data, &len);

	if (r < 0)
		return r;
	return write_file_atomic_at(AT_FDCWD, to, data, len, 0600);
}

int dstore_salvage(const char *path, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		   size_t *ret_bad, bool *ret_scan_failed)
{
	char copy[4096], from[4096 + 8], to[4096 + 8], err[256];
	struct dtask *tasks = NULL;
	size_t n = 0, cap = 0, bad = 0;
	int64_t next = 0;
	sqlite3 *db = NULL;
	bool failed = false;
	int r;

	/* Read a copy: opening the file itself could replay its WAL into it. */
	snprintf(copy, sizeof(copy), "%s.salvage", path);
	r = copy_file(path, copy);
	if (r < 0)
		return r;
	snprintf(from, sizeof(from), "%s-wal", path);
	snprintf(to, sizeof(to), "%s-wal", copy);
	(void)unlink(to);
	(void)copy_file(from, to); /* no WAL: nothing after the last checkpoint */
	if (sqlite3_open_v2(copy, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
		if (query_int(db, "SELECT value FROM meta WHERE key = 'next_id'", &next) < 0)
			next = 0;
		r = scan(db, "SELECT id, record FROM tasks ORDER BY id", false, &tasks, &n, &cap,
			 &bad, err, sizeof(err));
		failed |= r < 0 && r != -ENOMEM;
		/* From the other end, for the rows past a damaged page. */
		if (r != -ENOMEM) {
			char sql[128];
			snprintf(sql, sizeof(sql),
				 "SELECT id, record FROM tasks WHERE id > %" PRIu64
				 " ORDER BY id DESC",
				 n ? tasks[n - 1].id : 0);
			r = scan(db, sql, false, &tasks, &n, &cap, &bad, err, sizeof(err));
			failed |= r < 0 && r != -ENOMEM;
		}
	} else
		failed = true;
	sqlite3_close(db);
	(void)unlink(copy);
	(void)unlink(to);
	snprintf(to, sizeof(to), "%s-shm", copy);
	(void)unlink(to);
	if (r == -ENOMEM) {
		dstate_free(tasks, n);
		return r;
	}
	*ret = tasks;
	*ret_n = n;
	*ret_next_id = next > 0 ? (uint64_t)next : 0;
	*ret_bad = bad;
	*ret_scan_failed = failed;
	return 0;
}
