/*
 * progress: the one SQLite database the processes share.
 *
 * WAL mode lets the forwarder commit cursors while ferryctl and the
 * supervisor read and write their own rows; a busy timeout turns the rare
 * writer collision into a short wait instead of an error. synchronous=NORMAL
 * is enough: in WAL mode it survives any process crash, and a power loss can
 * only roll a cursor back, which re-sends (at-least-once), never skips.
 * Statements are prepared once and kept for the life of the handle.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "progress.h"

enum stmt_id {
	ST_CURSOR_GET,
	ST_CURSOR_SET,
	ST_PROC_SET,
	ST_PROC_EACH,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *stmt_sql[ST_COUNT] = {
	[ST_CURSOR_GET] = "SELECT seq, off FROM cursor WHERE output = ? AND stream = ?",
	[ST_CURSOR_SET] = "INSERT INTO cursor (output, stream, seq, off) VALUES (?, ?, ?, ?) "
	    "ON CONFLICT (output, stream) DO UPDATE SET seq = excluded.seq, off = excluded.off",
	[ST_PROC_SET] = "INSERT OR REPLACE INTO process (name, pid, state, restarts, "
	    "started, last_exit, last_exit_str, last_exit_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
	[ST_PROC_EACH] = "SELECT name, pid, state, restarts, started, last_exit, "
	    "last_exit_str, last_exit_at FROM process ORDER BY name",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS cursor (output TEXT NOT NULL, stream TEXT NOT NULL, "
	"  seq INTEGER NOT NULL, off INTEGER NOT NULL, PRIMARY KEY (output, stream)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS process (name TEXT PRIMARY KEY, pid INTEGER, state TEXT, "
	"  restarts INTEGER, started INTEGER, last_exit INTEGER, last_exit_str TEXT, "
	"  last_exit_at INTEGER);";

struct progress {
	sqlite3		*db;
	sqlite3_stmt	*st[ST_COUNT];
	char		*path;
};

static int
progress_exec(struct progress *p, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(p->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("%s: %s", p->path, err ? err : "error");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static struct progress *
progress_open_flags(const char *path, int readonly)
{
	struct progress	*p;
	int		 i;

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
	if (!readonly && (progress_exec(p, "PRAGMA journal_mode=WAL; "
	    "PRAGMA synchronous=NORMAL;") == -1 || progress_exec(p, schema) == -1))
		goto fail;
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v2(p->db, stmt_sql[i], -1, &p->st[i], NULL) != SQLITE_OK) {
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
	return progress_open_flags(path, 0);
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

int
progress_cursor_get(struct progress *p, const char *output, const char *stream,
    uint64_t *seq, uint64_t *off)
{
	sqlite3_stmt	*st = p->st[ST_CURSOR_GET];
	int		 rc, found = 0;

	sqlite3_bind_text(st, 1, output, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, stream, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		*off = (uint64_t)sqlite3_column_int64(st, 1);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		log_warnx("%s: %s", p->path, sqlite3_errmsg(p->db));
		found = -1;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
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
