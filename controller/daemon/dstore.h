/* dstore.h — edgesliced's task table on disk: STATE_DIR/state.db (SQLite, WAL,
 * synchronous=FULL), one row per task, written one transaction per acknowledged change. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dstate.h"

#define DSTORE_VERSION 1 /* PRAGMA user_version this build writes */

struct dstore;

/* Opens (creating) PATH: checks it (quick_check), WAL, synchronous=FULL, migrates the schema
 * to DSTORE_VERSION. -EBADMSG when the file is damaged or from a newer version: it is left
 * exactly as it is. err says why. */
int dstore_open(const char *path, struct dstore **ret, char *err, size_t errsz);
void dstore_close(struct dstore *s);
/* Every row, validated (dtask_parse), in id order. -EBADMSG on a row that does not validate.
 * ret_next_id is 0 when the table was never written (a new file). */
int dstore_load(struct dstore *s, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		char *err, size_t errsz);

/* One transaction: begin, put/delete/set_next_id, commit (durable when it returns 0). */
int dstore_begin(struct dstore *s);
int dstore_put(struct dstore *s, const struct dtask *t);
int dstore_delete(struct dstore *s, uint64_t id);
int dstore_set_next_id(struct dstore *s, uint64_t next_id);
int dstore_commit(struct dstore *s);
void dstore_rollback(struct dstore *s);

/* Writes a whole table in one transaction (import of state.json, --recover). */
int dstore_write_all(struct dstore *s, const struct dtask *tasks, size_t n, uint64_t next_id);

/* Best effort on a damaged file, read-only: the rows that still read and validate, scanning
 * from both ends of the table; ret_bad counts the rows seen that did not validate and
 * ret_scan_failed says a scan stopped on damage. ret_next_id is 0 when unreadable. */
int dstore_salvage(const char *path, struct dtask **ret, size_t *ret_n, uint64_t *ret_next_id,
		   size_t *ret_bad, bool *ret_scan_failed);
