/* test_dstore.c — state.db on a temp dir: schema and its version, per-row writes, import of
 * a v1 state.json, damaged files refused with -EBADMSG and left as they were, salvage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dstore.h"
#include "util.h"

#define FIX "tests/fixtures/daemon/state-v1.json"

static char dir[64], path[128];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/es-dstore-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/state.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

static char *argv_a[] = {"/bin/burn", "--ms", "100", NULL};

static struct dtask task(uint64_t id, enum dtask_state st)
{
	struct dtask t = {.id = id,
			  .argv = argv_a,
			  .argc = 3,
			  .cpu = 0.5,
			  .mem = 1 << 20,
			  .state = st,
			  .dev = st == DTASK_QUEUED ? -1 : 0,
			  .submit_us = 7,
			  .exit_code = -1};
	snprintf(t.queue, sizeof(t.queue), "q");
	return t;
}

static int64_t sql_int(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_schema_and_rows(void **state)
{
	struct dstore *s;
	struct dtask t = task(1, DTASK_QUEUED), *back;
	size_t n;
	uint64_t next;
	char err[256];

	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_load(s, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(next, 0); /* never written: the caller imports state.json */
	free(back);
	/* one transaction per change, only the rows that changed */
	assert_int_equal(dstore_begin(s), 0);
	assert_int_equal(dstore_put(s, &t), 0);
	t.id = 2;
	assert_int_equal(dstore_put(s, &t), 0);
	assert_int_equal(dstore_set_next_id(s, 3), 0);
	assert_int_equal(dstore_commit(s), 0);
	t.state = DTASK_RUNNING;
	t.dev = 0;
	t.pid = 99;
	assert_int_equal(dstore_begin(s), 0);
	assert_int_equal(dstore_put(s, &t), 0);
	assert_int_equal(dstore_delete(s, 1), 0);
	assert_int_equal(dstore_commit(s), 0);
	/* a transaction not committed leaves nothing */
	assert_int_equal(dstore_begin(s), 0);
	assert_int_equal(dstore_delete(s, 2), 0);
	dstore_rollback(s);
	dstore_close(s);

	assert_int_equal(sql_int("PRAGMA user_version"), DSTORE_VERSION);
	assert_int_equal(sql_int("SELECT count(*) FROM tasks WHERE state = 'running'"), 1);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_load(s, &back, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(next, 3);
	assert_int_equal(back[0].id, 2);
	assert_int_equal(back[0].state, DTASK_RUNNING);
	assert_int_equal(back[0].pid, 99);
	assert_string_equal(back[0].argv[2], "100");
	dstate_free(back, n);
	dstore_close(s);
}

static void test_versions(void **state)
{
	struct dstore *s;
	char err[256];

	/* version 0 (an empty file) is migrated; a newer version is refused, file untouched */
	sql_exec("PRAGMA user_version = 0");
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	dstore_close(s);
	assert_int_equal(sql_int("PRAGMA user_version"), DSTORE_VERSION);
	assert_int_equal(sql_int("SELECT count(*) FROM meta"), 0);
	sql_exec("PRAGMA user_version = 99");
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "newer"));
	assert_int_equal(sql_int("PRAGMA user_version"), 99);
}

static void test_import_v1_json(void **state)
{
	_cleanup_free_ char *text = NULL;
	struct dtask *tasks, *back;
	size_t n, nb;
	uint64_t next, nextb;
	struct dstore *s;
	char err[256];

	assert_int_equal(read_file_at(AT_FDCWD, FIX, &text, NULL), 0);
	assert_int_equal(dstate_parse(text, &tasks, &n, &next, err, sizeof(err)), 0);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_write_all(s, tasks, n, next), 0);
	dstore_close(s);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_load(s, &back, &nb, &nextb, err, sizeof(err)), 0);
	assert_int_equal(nb, 5);
	assert_int_equal(nextb, 9);
	for (size_t i = 0; i < n; i++) {
		char *a, *b;
		assert_int_equal(dtask_format(&tasks[i], &a), 0);
		assert_int_equal(dtask_format(&back[i], &b), 0);
		assert_string_equal(a, b); /* every field, app membership included */
		free(a);
		free(b);
	}
	assert_int_equal(back[4].state, DTASK_WAITING);
	assert_int_equal(back[4].after[0], 6);
	assert_int_equal(sql_int("SELECT count(*) FROM tasks WHERE app = 6"), 2);
	dstate_free(tasks, n);
	dstate_free(back, nb);
	dstore_close(s);
}

static void fill(size_t n)
{
	struct dstore *s;
	char err[256];
	struct dtask *t = calloc(n, sizeof(*t));

	assert_non_null(t);
	for (size_t i = 0; i < n; i++)
		t[i] = task(i + 1, DTASK_QUEUED);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_write_all(s, t, n, n + 1), 0);
	dstore_close(s);
	free(t);
}

static void test_corrupt(void **state)
{
	_cleanup_free_ char *before = NULL, *after = NULL;
	size_t len, len2, nb = 0, bad = 0;
	struct dtask *back = NULL;
	struct dstore *s = NULL;
	bool failed = false;
	uint64_t next;
	char err[256];
	int fd;

	fill(600);
	/* random bytes over a page in the middle of the file */
	assert_int_equal(read_file_at(AT_FDCWD, path, &before, &len), 0);
	assert_true(len > 8 * 4096);
	srand(1);
	for (size_t i = 0; i < 4096; i++)
		before[(len / 2 / 4096) * 4096 + i] = (char)rand();
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, before, len, 0), (ssize_t)len);
	close(fd);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "quick_check"));
	assert_int_equal(read_file_at(AT_FDCWD, path, &after, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(before, after, len); /* left as it was */
	/* the rows that read still do, from both ends of the table */
	assert_int_equal(dstore_salvage(path, &back, &nb, &next, &bad, &failed), 0);
	assert_true(nb > 400 && nb < 600);
	assert_int_equal(next, 601);
	dstate_free(back, nb);
	/* not a database at all */
	memset(before, 'x', 100);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, path, before, len, 0600), 0);
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), -EBADMSG);
}

static void test_bad_row(void **state)
{
	struct dtask *back = NULL;
	struct dstore *s;
	uint64_t next;
	size_t n;
	char err[256];

	fill(3);
	sql_exec("UPDATE tasks SET record = '{\"id\":2}' WHERE id = 2");
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_load(s, &back, &n, &next, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "task 2:"));
	dstore_close(s);
	fill(3);
	sql_exec("UPDATE meta SET value = 2");
	assert_int_equal(dstore_open(path, &s, err, sizeof(err)), 0);
	assert_int_equal(dstore_load(s, &back, &n, &next, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "next_id"));
	dstore_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_schema_and_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_v1_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_row, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
