/*
 * progress: the one SQLite database the processes share.
 *
 * WAL mode lets the forwarder commit cursors while ferryctl and the
 * supervisor read and write their own rows; a busy timeout turns the rare
 * writer collision into a short wait instead of an error. synchronous=NORMAL
 * is enough: in WAL mode it survives any process crash, and a power loss can
 * only roll a cursor back, which re-sends (at-least-once), never skips.
 * Statements are prepared once and kept for the life of the handle.
 *
 * A database that is not one (corrupt, truncated, overwritten) is moved
 * aside and a new one made, loudly: with no cursors every output starts
 * again from the oldest segment in the spool, which re-sends (duplicates,
 * which receivers drop) rather than skips.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "log.h"
#include "path.h"
#include "progress.h"

enum stmt_id {
	ST_CURSOR_GET,
	ST_CURSOR_SET,
	ST_END_GET,
	ST_END_SET,
	ST_PROC_SET,
	ST_PROC_EACH,
	ST_OUTPUT_SET,
	ST_OUTPUT_EACH,
	ST_TAIL_SET,
	ST_TAIL_EACH,
	ST_TAIL_DELETE,
	ST_TAIL_PATH_SET,
	ST_TAIL_PATH_EACH,
	ST_TAIL_PATH_PRUNE,
	ST_HOLD_SET,
	ST_HOLD_GET,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *stmt_sql[ST_COUNT] = {
	[ST_CURSOR_GET] = "SELECT seq, off FROM cursor WHERE output = ? AND stream = ?",
	[ST_CURSOR_SET] = "INSERT INTO cursor (output, stream, seq, off) VALUES (?, ?, ?, ?) "
	    "ON CONFLICT (output, stream) DO UPDATE SET seq = excluded.seq, off = excluded.off",
	[ST_END_GET] = "SELECT dev, ino, size FROM output_end WHERE output = ?",
	[ST_END_SET] = "INSERT OR REPLACE INTO output_end (output, dev, ino, size) "
	    "VALUES (?, ?, ?, ?)",
	[ST_PROC_SET] = "INSERT OR REPLACE INTO process (name, pid, state, restarts, "
	    "started, last_exit, last_exit_str, last_exit_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_PROC_EACH] = "SELECT name, pid, state, restarts, started, last_exit, "
	    "last_exit_str, last_exit_at FROM process ORDER BY name",
	[ST_OUTPUT_SET] = "INSERT OR REPLACE INTO output (name, state, since, "
	    "last_success, last_error, last_error_at, sent, dropped, deadlettered, "
	    "retries, updated, last_drop_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_OUTPUT_EACH] = "SELECT name, state, since, last_success, last_error, "
	    "last_error_at, sent, dropped, deadlettered, retries, updated, "
	    "last_drop_at FROM output ORDER BY name",
	[ST_TAIL_SET] = "INSERT OR REPLACE INTO tail (dev, ino, fp, fplen, log, "
	    "path, off, line, spool_seq, spool_off, updated) VALUES (?, ?, ?, ?, ?, "
	    "?, ?, ?, ?, ?, ?)",
	[ST_TAIL_EACH] = "SELECT dev, ino, fp, fplen, log, path, off, line, "
	    "spool_seq, spool_off, updated FROM tail",
	[ST_TAIL_DELETE] = "DELETE FROM tail WHERE dev = ? AND ino = ?",
	[ST_TAIL_PATH_SET] = "INSERT INTO tail_path (log, path, next, updated) "
	    "VALUES (?, ?, ?, ?) ON CONFLICT (log, path) DO UPDATE SET "
	    "next = max(next, excluded.next), updated = excluded.updated",
	[ST_TAIL_PATH_EACH] = "SELECT log, path, next, updated FROM tail_path",
	[ST_TAIL_PATH_PRUNE] = "DELETE FROM tail_path WHERE updated < ?",
	[ST_HOLD_SET] = "INSERT OR REPLACE INTO spool_hold (stream, seq) VALUES (?, ?)",
	[ST_HOLD_GET] = "SELECT seq FROM spool_hold WHERE stream = ?",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS cursor (output TEXT NOT NULL, stream TEXT NOT NULL, "
	"  seq INTEGER NOT NULL, off INTEGER NOT NULL, PRIMARY KEY (output, stream)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS output_end (output TEXT PRIMARY KEY, "
	"  dev INTEGER NOT NULL, ino INTEGER NOT NULL, size INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS process (name TEXT PRIMARY KEY, pid INTEGER, state TEXT, "
	"  restarts INTEGER, started INTEGER, last_exit INTEGER, last_exit_str TEXT, "
	"  last_exit_at INTEGER);"
	"CREATE TABLE IF NOT EXISTS output (name TEXT PRIMARY KEY, state TEXT, "
	"  since INTEGER, last_success INTEGER, last_error TEXT, last_error_at INTEGER, "
	"  sent INTEGER, dropped INTEGER, deadlettered INTEGER, retries INTEGER, "
	"  updated INTEGER, last_drop_at INTEGER);"
	"CREATE TABLE IF NOT EXISTS tail (dev INTEGER NOT NULL, ino INTEGER NOT NULL, "
	"  fp INTEGER, fplen INTEGER, log TEXT, path TEXT, off INTEGER, line INTEGER, "
	"  spool_seq INTEGER, spool_off INTEGER, updated INTEGER, "
	"  PRIMARY KEY (dev, ino)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS tail_path (log TEXT NOT NULL, "
	"  path TEXT NOT NULL, next INTEGER NOT NULL, updated INTEGER NOT NULL, "
	"  PRIMARY KEY (log, path)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS spool_hold (stream TEXT PRIMARY KEY, "
	"  seq INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS discovered (service TEXT NOT NULL, "
	"  path TEXT, format TEXT, origin TEXT, note TEXT, updated INTEGER);";

/* Set by a failed open when the file was not a usable database. */
static int	progress_last_corrupt;

static int
is_corrupt(int rc)
{
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

struct progress {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_COUNT];
	char		*path;
};

static int
progress_exec(struct progress *p, const char *sql)
{
	char	*err = NULL;
	int	 rc;

	if ((rc = sqlite3_exec(p->db, sql, NULL, NULL, &err)) != SQLITE_OK) {
		progress_last_corrupt = is_corrupt(rc);
		log_warnx("%s: %s", p->path, err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Move a corrupt database (and its WAL) aside so a new one can be made. */
static int
move_aside(const char *path)
{
	static const char	*suffix[] = { "", "-wal", "-shm" };
	char			 from[4096], to[4096];
	size_t			 i;
	long			 now = (long)time(NULL);

	for (i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(from, sizeof(from), "%s%s", path, suffix[i]);
		snprintf(to, sizeof(to), "%s.corrupt-%ld%s", path, now, suffix[i]);
		if (rename(from, to) == -1 && i == 0) {
			log_warn("rename %s", from);
			return -1;
		}
	}
	log_warnx("%s was corrupt: moved to %s.corrupt-%ld and started anew; "
	    "every output re-sends the spool from its oldest segment", path,
	    path, now);
	return 0;
}

static int
quick_check(struct progress *p)
{
	sqlite3_stmt		*st;
	const unsigned char	*res;
	int			 rc, ok;

	if ((rc = sqlite3_prepare_v2(p->db, "PRAGMA quick_check", -1, &st,
	    NULL)) != SQLITE_OK) {
		progress_last_corrupt = is_corrupt(rc);
		return -1;
	}
	rc = sqlite3_step(st);
	res = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
	ok = res != NULL && strcmp((const char *)res, "ok") == 0;
	if (!ok) {
		progress_last_corrupt = 1;
		log_warnx("%s: quick_check: %s", p->path, res ? (const char *)res :
		    sqlite3_errstr(rc));
	}
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static struct progress *progress_open_flags(const char *, int);

/* Columns added since a database was made: added to it, once. */
static int
migrate(struct progress *p)
{
	sqlite3_stmt	*st;
	int		 found = 0;

	if (sqlite3_prepare_v2(p->db, "SELECT 1 FROM pragma_table_info('output') "
	    "WHERE name = 'last_drop_at'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (found)
		return 0;
	return progress_exec(p, "ALTER TABLE output ADD COLUMN last_drop_at INTEGER");
}

/* Open; a read-write open repairs a corrupt database by starting anew. */
static struct progress *
progress_open_repair(const char *path, int readonly)
{
	struct progress	*p;

	if ((p = progress_open_flags(path, readonly)) != NULL || readonly)
		return p;
	if (!progress_last_corrupt || move_aside(path) == -1)
		return NULL;
	return progress_open_flags(path, 0);
}

static struct progress *
progress_open_flags(const char *path, int readonly)
{
	static int	 configured;
	struct progress	*p;
	int		 i;

	progress_last_corrupt = 0;
	/*
	 * No bulk page cache: SQLite would allocate 20 pages at once for each
	 * connection; pages one by one, as read, suit a database this small.
	 * Only possible before SQLite initialises: the first open does it.
	 */
	if (!configured) {
		(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
		configured = 1;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->path = strdup(path)) == NULL) {
		log_warn("calloc");
		free(p);
		return NULL;
	}
	if (sqlite3_open_v2(path, &p->db, (readonly ? SQLITE_OPEN_READONLY :
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX,
	    NULL) != SQLITE_OK) {
		log_warnx("%s: %s", path, sqlite3_errmsg(p->db));
		goto fail;
	}
	sqlite3_busy_timeout(p->db, 5000);
	/*
	 * A small database, read a few rows at a time: SQLite's defaults (a
	 * lookaside of 100 slots, up to 2 MB of page cache) would keep more
	 * of it in memory in each of the processes that open it than it
	 * holds. 64 KiB of cache keeps the pages of the cursors; the rest is
	 * read again from the OS's page cache when needed.
	 */
	(void)sqlite3_db_config(p->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
	if (progress_exec(p, "PRAGMA cache_size=-64;") == -1)
		goto fail;
	/* quick_check finds damage that opening alone does not. */
	if (!readonly && (progress_exec(p, "PRAGMA journal_mode=WAL; "
	    "PRAGMA synchronous=NORMAL;") == -1 || progress_exec(p, schema) == -1 ||
	    quick_check(p) == -1 || migrate(p) == -1))
		goto fail;
	for (i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v2(p->db, stmt_sql[i], -1, &p->st[i], NULL);

		if (rc != SQLITE_OK) {
			progress_last_corrupt = is_corrupt(rc);
			log_warnx("%s: prepare: %s", path, sqlite3_errmsg(p->db));
			goto fail;
		}
	}
	return p;
fail:
	progress_close(p);
	return NULL;
}

struct progress *
progress_open(const char *path)
{
	return progress_open_repair(path, 0);
}

struct progress *
progress_open_db(void)
{
	char	path[4096];

	if (path_get(path, sizeof(path), PATH_DB) == NULL ||
	    path_mkdirs(PATH_VAR, 0750) == -1)
		return NULL;
	return progress_open(path);
}

struct progress *
progress_open_ro(const char *path)
{
	return progress_open_flags(path, 1);
}

void
progress_close(struct progress *p)
{
	int	i;

	if (p == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(p->st[i]);
	sqlite3_close(p->db);
	free(p->path);
	free(p);
}

void
progress_busy_timeout(struct progress *p, int ms)
{
	sqlite3_busy_timeout(p->db, ms);
}

/* Run a statement that returns no rows; bindings already made. */
static int
progress_step_done(struct progress *p, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

int
progress_begin(struct progress *p)
{
	return progress_step_done(p, p->st[ST_BEGIN]);
}

int
progress_commit(struct progress *p)
{
	return progress_step_done(p, p->st[ST_COMMIT]);
}

int
progress_rollback(struct progress *p)
{
	return progress_step_done(p, p->st[ST_ROLLBACK]);
}

/* A one-row query's step: 1 a row (read it, then row_done()), 0 none, -1. */
static int
step_row(struct progress *p, sqlite3_stmt *st)
{
	int	rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
	return -1;
}

static void
row_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

int
progress_cursor_get(struct progress *p, const char *output, const char *stream,
    uint64_t *seq, uint64_t *off)
{
	sqlite3_stmt	*st = p->st[ST_CURSOR_GET];
	int		 found;

	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	if ((found = step_row(p, st)) == 1) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		*off = (uint64_t)sqlite3_column_int64(st, 1);
	}
	row_done(st);
	return found;
}

int
progress_cursor_set(struct progress *p, const char *output, const char *stream,
    uint64_t seq, uint64_t off)
{
	sqlite3_stmt	*st = p->st[ST_CURSOR_SET];

	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)seq);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)off);
	return progress_step_done(p, st);
}

int
progress_end_get(struct progress *p, const char *output, struct output_end *e)
{
	sqlite3_stmt	*st = p->st[ST_END_GET];
	int		 found;

	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	if ((found = step_row(p, st)) == 1) {
		e->dev = (uint64_t)sqlite3_column_int64(st, 0);
		e->ino = (uint64_t)sqlite3_column_int64(st, 1);
		e->size = sqlite3_column_int64(st, 2);
	}
	row_done(st);
	return found;
}

int
progress_end_set(struct progress *p, const char *output,
    const struct output_end *e)
{
	sqlite3_stmt	*st = p->st[ST_END_SET];

	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)e->dev);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)e->ino);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)e->size);
	return progress_step_done(p, st);
}

int
progress_cursor_min(struct progress *p, const char *stream,
    const char *const *outputs, int n, uint64_t *min)
{
	uint64_t	seq, off;
	int		i, rc;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if ((rc = progress_cursor_get(p, outputs[i], stream, &seq, &off)) != 1)
			return rc;	/* an output with no cursor needs everything */
		if (i == 0 || seq < *min)
			*min = seq;
	}
	return 1;
}

static void
copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char	*t = sqlite3_column_text(st, col);

	strlcpy(dst, t ? (const char *)t : "", size);
}

int
progress_output_set(struct progress *p, const struct output_state *os)
{
	sqlite3_stmt	*st = p->st[ST_OUTPUT_SET];

	sqlite3_bind_text(st, 1, os->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, os->state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, os->since);
	sqlite3_bind_int64(st, 4, os->last_success);
	sqlite3_bind_text(st, 5, os->last_error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, os->last_error_at);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)os->sent);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)os->dropped);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)os->deadlettered);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)os->retries);
	sqlite3_bind_int64(st, 11, os->updated);
	sqlite3_bind_int64(st, 12, os->last_drop_at);
	return progress_step_done(p, st);
}

int
progress_output_each(struct progress *p,
    void (*fn)(const struct output_state *, void *), void *arg)
{
	sqlite3_stmt		*st = p->st[ST_OUTPUT_EACH];
	struct output_state	 os;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&os, 0, sizeof(os));
		copy_text(os.name, sizeof(os.name), st, 0);
		copy_text(os.state, sizeof(os.state), st, 1);
		os.since = sqlite3_column_int64(st, 2);
		os.last_success = sqlite3_column_int64(st, 3);
		copy_text(os.last_error, sizeof(os.last_error), st, 4);
		os.last_error_at = sqlite3_column_int64(st, 5);
		os.sent = (uint64_t)sqlite3_column_int64(st, 6);
		os.dropped = (uint64_t)sqlite3_column_int64(st, 7);
		os.deadlettered = (uint64_t)sqlite3_column_int64(st, 8);
		os.retries = (uint64_t)sqlite3_column_int64(st, 9);
		os.updated = sqlite3_column_int64(st, 10);
		os.last_drop_at = sqlite3_column_int64(st, 11);
		fn(&os, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

struct output_rows {
	struct output_state	*v;
	size_t			 n;
	int			 failed;
};

static void
output_row(const struct output_state *os, void *arg)
{
	struct output_rows	*o = arg;
	struct output_state	*nv;

	if (o->failed)
		return;
	if ((nv = reallocarray(o->v, o->n + 1, sizeof(*nv))) == NULL) {
		log_warn("output states");
		o->failed = 1;
		return;
	}
	o->v = nv;
	o->v[o->n++] = *os;
}

int
progress_outputs(struct progress *p, struct output_state **v, size_t *n)
{
	struct output_rows	o = { NULL, 0, 0 };
	int			rc;

	rc = progress_output_each(p, output_row, &o);
	*v = o.v;
	*n = o.n;
	return rc == -1 || o.failed ? -1 : 0;
}

const struct output_state *
output_state_find(const struct output_state *v, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

int
progress_proc_set(struct progress *p, const struct proc_state *ps)
{
	sqlite3_stmt	*st = p->st[ST_PROC_SET];

	sqlite3_bind_text(st, 1, ps->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, ps->pid);
	sqlite3_bind_text(st, 3, ps->state, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 4, ps->restarts);
	sqlite3_bind_int64(st, 5, ps->started);
	sqlite3_bind_int(st, 6, ps->last_exit);
	sqlite3_bind_text(st, 7, ps->last_exit_str, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, ps->last_exit_at);
	return progress_step_done(p, st);
}

int
progress_proc_each(struct progress *p,
    void (*fn)(const struct proc_state *, void *), void *arg)
{
	sqlite3_stmt		*st = p->st[ST_PROC_EACH];
	struct proc_state	 ps;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&ps, 0, sizeof(ps));
		copy_text(ps.name, sizeof(ps.name), st, 0);
		ps.pid = sqlite3_column_int(st, 1);
		copy_text(ps.state, sizeof(ps.state), st, 2);
		ps.restarts = sqlite3_column_int(st, 3);
		ps.started = sqlite3_column_int64(st, 4);
		ps.last_exit = sqlite3_column_int(st, 5);
		copy_text(ps.last_exit_str, sizeof(ps.last_exit_str), st, 6);
		ps.last_exit_at = sqlite3_column_int64(st, 7);
		fn(&ps, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

int
progress_tail_set(struct progress *p, const struct tail_checkpoint *tc)
{
	sqlite3_stmt	*st = p->st[ST_TAIL_SET];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)tc->dev);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)tc->ino);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)tc->fp);
	sqlite3_bind_int(st, 4, tc->fplen);
	sqlite3_bind_text(st, 5, tc->log, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, tc->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, tc->offset);
	sqlite3_bind_int64(st, 8, tc->line);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)tc->spool_seq);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)tc->spool_off);
	sqlite3_bind_int64(st, 11, tc->updated);
	return progress_step_done(p, st);
}

int
progress_tail_each(struct progress *p,
    void (*fn)(const struct tail_checkpoint *, void *), void *arg)
{
	sqlite3_stmt		*st = p->st[ST_TAIL_EACH];
	struct tail_checkpoint	 tc;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&tc, 0, sizeof(tc));
		tc.dev = (uint64_t)sqlite3_column_int64(st, 0);
		tc.ino = (uint64_t)sqlite3_column_int64(st, 1);
		tc.fp = (uint64_t)sqlite3_column_int64(st, 2);
		tc.fplen = sqlite3_column_int(st, 3);
		copy_text(tc.log, sizeof(tc.log), st, 4);
		copy_text(tc.path, sizeof(tc.path), st, 5);
		tc.offset = sqlite3_column_int64(st, 6);
		tc.line = sqlite3_column_int64(st, 7);
		tc.spool_seq = (uint64_t)sqlite3_column_int64(st, 8);
		tc.spool_off = (uint64_t)sqlite3_column_int64(st, 9);
		tc.updated = sqlite3_column_int64(st, 10);
		fn(&tc, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

int
progress_tail_delete(struct progress *p, uint64_t dev, uint64_t ino)
{
	sqlite3_stmt	*st = p->st[ST_TAIL_DELETE];

	sqlite3_bind_int64(st, 1, (sqlite3_int64)dev);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ino);
	return progress_step_done(p, st);
}

int
progress_tail_path_set(struct progress *p, const struct tail_path *tp)
{
	sqlite3_stmt	*st = p->st[ST_TAIL_PATH_SET];

	sqlite3_bind_text(st, 1, tp->log, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, tp->path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, tp->next);
	sqlite3_bind_int64(st, 4, tp->updated);
	return progress_step_done(p, st);
}

int
progress_tail_path_each(struct progress *p,
    void (*fn)(const struct tail_path *, void *), void *arg)
{
	sqlite3_stmt		*st = p->st[ST_TAIL_PATH_EACH];
	struct tail_path	 tp;
	int			 rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&tp, 0, sizeof(tp));
		copy_text(tp.log, sizeof(tp.log), st, 0);
		copy_text(tp.path, sizeof(tp.path), st, 1);
		tp.next = sqlite3_column_int64(st, 2);
		tp.updated = sqlite3_column_int64(st, 3);
		fn(&tp, arg);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

int
progress_tail_path_prune(struct progress *p, int64_t before)
{
	sqlite3_stmt	*st = p->st[ST_TAIL_PATH_PRUNE];

	sqlite3_bind_int64(st, 1, before);
	return progress_step_done(p, st);
}

int
progress_hold_set(struct progress *p, const char *stream, uint64_t seq)
{
	sqlite3_stmt	*st = p->st[ST_HOLD_SET];

	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
	return progress_step_done(p, st);
}

int
progress_hold_get(struct progress *p, const char *stream, uint64_t *seq)
{
	sqlite3_stmt	*st = p->st[ST_HOLD_GET];
	int		 rc;

	sqlite3_bind_text(st, 1, stream, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return rc == SQLITE_ROW;
}

/*
 * The discovered rows are written when what ferry-tail found changes and
 * read by ferryctl status: rarely, so their statements are prepared per
 * call, and a database that has no such table yet (ferry-tail has not
 * run since the version that makes it) reads as having no rows.
 */
static int
discovered_add(struct progress *p, sqlite3_stmt *st,
    const struct discovered_row *r)
{
	sqlite3_bind_text(st, 1, r->service, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->format, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->origin, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->note, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->updated);
	return progress_step_done(p, st);
}

int
progress_discovered_set(struct progress *p, const char *service,
    const struct discovered_row *rows, size_t n)
{
	sqlite3_stmt	*del = NULL, *ins = NULL;
	size_t		 i;
	int		 rc = -1;

	if (sqlite3_prepare_v2(p->db, "DELETE FROM discovered WHERE "
	    "service = ?", -1, &del, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(p->db, "INSERT INTO discovered (service, path, "
	    "format, origin, note, updated) VALUES (?, ?, ?, ?, ?, ?)", -1,
	    &ins, NULL) != SQLITE_OK) {
		log_warnx("%s: prepare: %s", p->path, sqlite3_errmsg(p->db));
		goto out;
	}
	if (progress_begin(p) == -1)
		goto out;
	sqlite3_bind_text(del, 1, service, -1, SQLITE_STATIC);
	if (progress_step_done(p, del) == -1)
		goto fail;
	for (i = 0; i < n; i++)
		if (discovered_add(p, ins, &rows[i]) == -1)
			goto fail;
	rc = progress_commit(p);
	goto out;
fail:
	(void)progress_rollback(p);
out:
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	return rc;
}

int
progress_discovered_each(struct progress *p,
    void (*fn)(const struct discovered_row *, void *), void *arg)
{
	sqlite3_stmt		*st;
	struct discovered_row	 r;
	int			 rc;

	if (sqlite3_prepare_v2(p->db, "SELECT service, path, format, origin, "
	    "note, updated FROM discovered ORDER BY service, rowid", -1, &st,
	    NULL) != SQLITE_OK)
		return strstr(sqlite3_errmsg(p->db), "no such table") != NULL ?
		    0 : -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		copy_text(r.service, sizeof(r.service), st, 0);
		copy_text(r.path, sizeof(r.path), st, 1);
		copy_text(r.format, sizeof(r.format), st, 2);
		copy_text(r.origin, sizeof(r.origin), st, 3);
		copy_text(r.note, sizeof(r.note), st, 4);
		r.updated = sqlite3_column_int64(st, 5);
		fn(&r, arg);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		return -1;
	}
	return 0;
}

/*
 * Housekeeping, for ferry-periodic: rows nobody will read again. It runs
 * every few minutes, so these statements are prepared per call rather than
 * kept open like the ones above.
 */

/* 1 when name is one of the n strings of set. */
static int
name_in(const char *name, const char *const *set, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(name, set[i]) == 0)
			return 1;
	return 0;
}

/*
 * Delete, in one transaction, the rows of every name that select_sql lists
 * and keep does not hold, with each of the delete_sql statements (one
 * parameter: the name). The names are gathered before anything is deleted:
 * SQLite leaves undefined what a running SELECT sees of rows its own
 * connection deletes. Returns the rows deleted, or -1.
 */
static int
prune_names(struct progress *p, const char *select_sql,
    const char *const *delete_sql, size_t ndelete, const char *const *keep,
    size_t nkeep)
{
	sqlite3_stmt		*st = NULL;
	const unsigned char	*t;
	char			**names = NULL, **nn;
	size_t			 n = 0, i, j;
	int			 rc, deleted = 0;

	if (progress_begin(p) == -1)
		return -1;
	if (sqlite3_prepare_v2(p->db, select_sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((t = sqlite3_column_text(st, 0)) == NULL ||
		    name_in((const char *)t, keep, nkeep))
			continue;
		if ((nn = reallocarray(names, n + 1, sizeof(*names))) == NULL ||
		    (nn[n] = strdup((const char *)t)) == NULL) {
			log_warn("prune");
			if (nn != NULL)
				names = nn;
			goto fail;
		}
		names = nn;
		n++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	for (j = 0; j < ndelete; j++) {
		sqlite3_finalize(st);
		if (sqlite3_prepare_v2(p->db, delete_sql[j], -1, &st, NULL) !=
		    SQLITE_OK)
			goto fail;
		for (i = 0; i < n; i++) {
			sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
			rc = sqlite3_step(st);
			sqlite3_reset(st);
			if (rc != SQLITE_DONE)
				goto fail;
			deleted += sqlite3_changes(p->db);
		}
	}
	sqlite3_finalize(st);
	st = NULL;
	if (progress_commit(p) == -1)
		deleted = -1;
	goto out;
fail:
	log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
	sqlite3_finalize(st);
	st = NULL;
	(void)progress_rollback(p);
	deleted = -1;
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return deleted;
}

int
progress_prune_outputs(struct progress *p, const char *const *keep, size_t n)
{
	static const char *const del[] = {
		"DELETE FROM cursor WHERE output = ?",
		"DELETE FROM output WHERE name = ?",
		"DELETE FROM output_end WHERE output = ?",
	};

	return prune_names(p, "SELECT output FROM cursor UNION "
	    "SELECT name FROM output UNION SELECT output FROM output_end",
	    del, 3, keep, n);
}

int
progress_prune_streams(struct progress *p, const char *const *live, size_t n)
{
	static const char *const del[] = {
		"DELETE FROM cursor WHERE stream = ?",
	};

	return prune_names(p, "SELECT DISTINCT stream FROM cursor", del, 1,
	    live, n);
}
