/*
 * store: the sink's own SQLite database (/var/opt/ferry/sink.db). Points are
 * keyed by (name, ts), log lines by (host, file, line), beats by host, all in
 * WITHOUT ROWID tables, and every write is INSERT OR REPLACE: a record sent
 * twice is stored once, which is what makes ferry's at-least-once delivery
 * safe to check against this sink.
 *
 * Points arrive in batches that span many names, and inserting them straight
 * into the (name, ts) tree dirties one page per name per request: with
 * thousands of names that is megabytes of WAL per second and checkpoints
 * that stall. So a request appends its points to "incoming" (a plain rowid
 * table: a few pages per request), and store_merge() moves them into
 * "points" sorted, touching each page of the tree once per merge. The sink
 * merges once a second while points arrive (sink.c), whenever incoming
 * passes STORE_MERGE_ROWS, before every read of points (query.c), at start
 * (what a crash left) and at close; so the HTTP API always shows every
 * acknowledged point, and a reader of the file sees it within a second.
 *
 * WAL mode with synchronous=NORMAL: a commit is not fsynced (a power loss may
 * lose the last transactions, never corrupt the file). Statements are
 * prepared once and kept. One connection, one mutex: a write transaction
 * holds the mutex from store_begin() to store_commit(), each other call for
 * its own duration, so the HTTP thread and the main thread (merges) can share
 * the connection. Errors are logged here, once, with the statement that
 * failed; callers get -1.
 *
 * A generation counter goes up with every committed write and every beat,
 * so the page (ui.c) can ask "anything new?" for the price of a load
 * instead of re-reading what it shows.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "sink.h"

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_PUT_POINT,
	ST_MERGE,
	ST_CLEAR,
	ST_PENDING,
	ST_PUT_LINE,
	ST_PUT_BEAT,
	ST_NAME_GE,
	ST_NAME_GT,
	ST_POINTS,
	ST_LINES,
	ST_BEATS,
	ST_BEAT,
	ST_FILE_FIRST,
	ST_FILE_NEXT,
	ST_LINE_LAST,
	ST_LINE_NTH_LAST,
	ST_COUNT
};

static const char *const store_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_PUT_POINT] =
	    "INSERT INTO incoming(name, ts, value) VALUES(?1, ?2, ?3)",
	/* Sorted, so each page of points is written once per merge; by rowid
	 * last, so the latest copy of a point wins. */
	[ST_MERGE] = "INSERT OR REPLACE INTO points(name, ts, value)"
	    " SELECT name, ts, value FROM incoming ORDER BY name, ts, rowid",
	[ST_CLEAR] = "DELETE FROM incoming",
	[ST_PENDING] = "SELECT count(*) FROM incoming",
	[ST_PUT_LINE] = "INSERT OR REPLACE INTO logs(host, file, line, content)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[ST_PUT_BEAT] = "INSERT OR REPLACE INTO beats(host, json, received)"
	    " VALUES(?1, ?2, ?3)",
	[ST_NAME_GE] =
	    "SELECT name FROM points WHERE name >= ?1 ORDER BY name LIMIT 1",
	[ST_NAME_GT] =
	    "SELECT name FROM points WHERE name > ?1 ORDER BY name LIMIT 1",
	[ST_POINTS] = "SELECT ts, value FROM points WHERE name = ?1"
	    " AND ts >= ?2 AND ts <= ?3 ORDER BY ts LIMIT ?4",
	[ST_LINES] = "SELECT line, content FROM logs WHERE host = ?1"
	    " AND file = ?2 AND line >= ?3 ORDER BY line LIMIT ?4",
	[ST_BEATS] = "SELECT host, received, json FROM beats ORDER BY host",
	[ST_BEAT] = "SELECT host, received, json FROM beats WHERE host = ?1",
	/* A loose index scan: one seek per (host, file), not a row per line. */
	[ST_FILE_FIRST] = "SELECT host, file FROM logs ORDER BY host, file"
	    " LIMIT 1",
	[ST_FILE_NEXT] = "SELECT host, file FROM logs WHERE (host, file) >"
	    " (?1, ?2) ORDER BY host, file LIMIT 1",
	[ST_LINE_LAST] = "SELECT line FROM logs WHERE host = ?1 AND file = ?2"
	    " ORDER BY line DESC LIMIT 1",
	[ST_LINE_NTH_LAST] = "SELECT line FROM logs WHERE host = ?1"
	    " AND file = ?2 ORDER BY line DESC LIMIT 1 OFFSET ?3",
};

static const char store_schema[] =
	"PRAGMA journal_mode = WAL;"
	"PRAGMA synchronous = NORMAL;"
	"PRAGMA cache_size = -8192;"
	"PRAGMA journal_size_limit = 16777216;"
	"CREATE TABLE IF NOT EXISTS points ("
	"  name TEXT NOT NULL, ts INTEGER NOT NULL, value REAL,"
	"  PRIMARY KEY (name, ts)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS incoming ("
	"  name TEXT NOT NULL, ts INTEGER NOT NULL, value REAL);"
	"CREATE TABLE IF NOT EXISTS logs ("
	"  host TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL,"
	"  content TEXT NOT NULL,"
	"  PRIMARY KEY (host, file, line)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS beats ("
	"  host TEXT NOT NULL PRIMARY KEY, json TEXT NOT NULL,"
	"  received INTEGER NOT NULL) WITHOUT ROWID;";

#define STORE_BUSY_MS		5000
#define STORE_MERGE_ROWS	500000

struct store {
	sqlite3			*db;
	sqlite3_stmt		*st[ST_COUNT];
	pthread_mutex_t		 lock;
	char			*path;
	uint64_t		 pending;	/* rows in incoming; atomic */
	uint64_t		 staged;	/* rows added by this transaction */
	uint64_t		 gen;		/* writes stored; atomic */
	int			 ready;		/* every statement prepared */
};

static int	store_count_pending(struct store *);

static void
store_fail(struct store *s, const char *what)
{
	log_warnx("store %s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

/* Run a statement that returns no row (or whose rows do not matter). */
static int
store_exec(struct store *s, int id)
{
	sqlite3_stmt	*st = s->st[id];
	int		 rc;

	rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		store_fail(s, store_sql[id]);
		return -1;
	}
	return 0;
}

static int
store_prepare(struct store *s)
{
	int	i;

	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL) != SQLITE_OK) {
			store_fail(s, store_sql[i]);
			return -1;
		}
	}
	s->ready = 1;
	return 0;
}

struct store *
store_open(const char *path)
{
	struct store	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->path = strdup(path)) == NULL) {
		log_warn("store %s", path);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	/* The sink serialises every call itself, so SQLite need not. */
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		store_fail(s, "open");
		store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	if (sqlite3_exec(s->db, store_schema, NULL, NULL, NULL) != SQLITE_OK) {
		store_fail(s, "schema");
		store_close(s);
		return NULL;
	}
	if (store_prepare(s) == -1 || store_count_pending(s) == -1 ||
	    store_merge(s) == -1) {
		store_close(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
{
	int	i;

	if (s == NULL)
		return;
	if (s->ready)
		(void)store_merge(s);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db != NULL && sqlite3_close(s->db) != SQLITE_OK)
		store_fail(s, "close");
	pthread_mutex_destroy(&s->lock);
	free(s->path);
	free(s);
}

/* At open: what a crash left in incoming. */
static int
store_count_pending(struct store *s)
{
	sqlite3_stmt	*st = s->st[ST_PENDING];
	int		 r;

	if ((r = sqlite3_step(st)) == SQLITE_ROW)
		s->pending = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (r != SQLITE_ROW) {
		store_fail(s, store_sql[ST_PENDING]);
		return -1;
	}
	return 0;
}

uint64_t
store_pending(struct store *s)
{
	return __atomic_load_n(&s->pending, __ATOMIC_RELAXED);
}

uint64_t
store_gen(struct store *s)
{
	return __atomic_load_n(&s->gen, __ATOMIC_RELAXED);
}

static void
store_changed(struct store *s)
{
	__atomic_add_fetch(&s->gen, 1, __ATOMIC_RELAXED);
}

/* With the mutex held. */
static int
store_merge_locked(struct store *s)
{
	if (s->pending == 0)
		return 0;
	if (store_exec(s, ST_BEGIN) == -1)
		return -1;
	if (store_exec(s, ST_MERGE) == -1 || store_exec(s, ST_CLEAR) == -1 ||
	    store_exec(s, ST_COMMIT) == -1) {
		if (!sqlite3_get_autocommit(s->db))
			(void)store_exec(s, ST_ROLLBACK);
		return -1;
	}
	__atomic_store_n(&s->pending, 0, __ATOMIC_RELAXED);
	return 0;
}

int
store_merge(struct store *s)
{
	int	r;

	pthread_mutex_lock(&s->lock);
	r = store_merge_locked(s);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int
store_begin(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	if (store_exec(s, ST_BEGIN) == -1) {
		pthread_mutex_unlock(&s->lock);
		return -1;
	}
	s->staged = 0;
	return 0;
}

int
store_commit(struct store *s)
{
	int	r;

	if ((r = store_exec(s, ST_COMMIT)) == -1)
		(void)store_exec(s, ST_ROLLBACK);
	else
		store_changed(s);
	if (r == 0 && s->staged > 0) {
		__atomic_add_fetch(&s->pending, s->staged, __ATOMIC_RELAXED);
		/* Keep incoming bounded under a sustained flood. */
		if (s->pending >= STORE_MERGE_ROWS)
			(void)store_merge_locked(s);
	}
	s->staged = 0;
	pthread_mutex_unlock(&s->lock);
	return r;
}

void
store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		(void)store_exec(s, ST_ROLLBACK);
	s->staged = 0;
	pthread_mutex_unlock(&s->lock);
}

int
store_point(struct store *s, const char *name, size_t len, int64_t ts,
    double value)
{
	sqlite3_stmt	*st = s->st[ST_PUT_POINT];

	sqlite3_bind_text(st, 1, name, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ts);
	sqlite3_bind_double(st, 3, value);
	if (store_exec(s, ST_PUT_POINT) == -1)
		return -1;
	s->staged++;
	return 0;
}

int
store_log_line(struct store *s, const char *host, size_t hostlen,
    const char *file, size_t filelen, int64_t line, const char *content,
    size_t len)
{
	sqlite3_stmt	*st = s->st[ST_PUT_LINE];

	sqlite3_bind_text(st, 1, host, (int)hostlen, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, file, (int)filelen, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, line);
	sqlite3_bind_text(st, 4, content, (int)len, SQLITE_STATIC);
	return store_exec(s, ST_PUT_LINE);
}

int
store_beat(struct store *s, const char *host, const char *json, size_t len,
    int64_t received)
{
	sqlite3_stmt	*st = s->st[ST_PUT_BEAT];
	int		 r;

	pthread_mutex_lock(&s->lock);
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, json, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, received);
	if ((r = store_exec(s, ST_PUT_BEAT)) == 0)
		store_changed(s);
	pthread_mutex_unlock(&s->lock);
	return r;
}

/* Step a read statement; 1 on a row, 0 at its end, -1 on error (logged). */
static int
store_step(struct store *s, int id)
{
	int	rc;

	if ((rc = sqlite3_step(s->st[id])) == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	store_fail(s, store_sql[id]);
	return -1;
}

static void
store_done(struct store *s, int id)
{
	sqlite3_reset(s->st[id]);
	sqlite3_clear_bindings(s->st[id]);
	pthread_mutex_unlock(&s->lock);
}

int
store_next_name(struct store *s, const char *key, int inclusive,
    struct buf *out)
{
	int		 id = inclusive ? ST_NAME_GE : ST_NAME_GT;
	sqlite3_stmt	*st = s->st[id];
	int		 r;

	pthread_mutex_lock(&s->lock);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if ((r = store_step(s, id)) == 1) {
		out->len = 0;
		if (buf_add(out, sqlite3_column_text(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0)) == -1) {
			log_warn("store: name");
			r = -1;
		}
	}
	store_done(s, id);
	return r;
}

int
store_points(struct store *s, const char *name, int64_t from, int64_t until,
    int limit, store_point_fn fn, void *arg)
{
	sqlite3_stmt	*st = s->st[ST_POINTS];
	int		 r, n = 0;

	pthread_mutex_lock(&s->lock);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, until);
	sqlite3_bind_int(st, 4, limit);
	while ((r = store_step(s, ST_POINTS)) == 1) {
		if (fn(arg, sqlite3_column_int64(st, 0),
		    sqlite3_column_double(st, 1)) == -1) {
			r = -1;
			break;
		}
		n++;
	}
	store_done(s, ST_POINTS);
	return r == -1 ? -1 : n;
}

int
store_log_lines(struct store *s, const char *host, const char *file,
    int64_t first, int limit, store_line_fn fn, void *arg)
{
	sqlite3_stmt	*st = s->st[ST_LINES];
	int		 r, n = 0;

	pthread_mutex_lock(&s->lock);
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, first);
	sqlite3_bind_int(st, 4, limit);
	while ((r = store_step(s, ST_LINES)) == 1) {
		if (fn(arg, sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (size_t)sqlite3_column_bytes(st, 1)) == -1) {
			r = -1;
			break;
		}
		n++;
	}
	store_done(s, ST_LINES);
	return r == -1 ? -1 : n;
}

int
store_beats(struct store *s, const char *host, store_beat_fn fn, void *arg)
{
	int		 id = host != NULL ? ST_BEAT : ST_BEATS;
	sqlite3_stmt	*st = s->st[id];
	int		 r;

	pthread_mutex_lock(&s->lock);
	if (host != NULL)
		sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	while ((r = store_step(s, id)) == 1) {
		if (fn(arg, (const char *)sqlite3_column_text(st, 0),
		    sqlite3_column_int64(st, 1),
		    (const char *)sqlite3_column_text(st, 2),
		    (size_t)sqlite3_column_bytes(st, 2)) == -1) {
			r = -1;
			break;
		}
	}
	store_done(s, id);
	return r == -1 ? -1 : 0;
}

/* The last line number of host/file into *last, with the mutex held. */
static int
store_last_line(struct store *s, const char *host, const char *file,
    int64_t *last)
{
	sqlite3_stmt	*st = s->st[ST_LINE_LAST];
	int		 r;

	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
	*last = 0;
	if ((r = store_step(s, ST_LINE_LAST)) == 1)
		*last = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r == -1 ? -1 : 0;
}

int
store_log_files(struct store *s, store_file_fn fn, void *arg)
{
	sqlite3_stmt	*st;
	struct buf	 host, file;
	int64_t		 last;
	int		 id = ST_FILE_FIRST, r;

	buf_init(&host, 0);
	buf_init(&file, 0);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		st = s->st[id];
		if (id == ST_FILE_NEXT) {
			sqlite3_bind_text(st, 1, host.p, (int)host.len,
			    SQLITE_STATIC);
			sqlite3_bind_text(st, 2, file.p, (int)file.len,
			    SQLITE_STATIC);
		}
		if ((r = store_step(s, id)) == 1) {
			host.len = file.len = 0;
			if (buf_add(&host, sqlite3_column_text(st, 0),
			    (size_t)sqlite3_column_bytes(st, 0)) == -1 ||
			    buf_add(&file, sqlite3_column_text(st, 1),
			    (size_t)sqlite3_column_bytes(st, 1)) == -1) {
				log_warn("store: log files");
				r = -1;
			}
		}
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (r != 1)
			break;
		if (store_last_line(s, host.p, file.p, &last) == -1 ||
		    fn(arg, host.p, file.p, last) == -1) {
			r = -1;
			break;
		}
		id = ST_FILE_NEXT;
	}
	pthread_mutex_unlock(&s->lock);
	buf_free(&host);
	buf_free(&file);
	return r == -1 ? -1 : 0;
}

int
store_log_tail(struct store *s, const char *host, const char *file,
    int64_t n, int64_t *first)
{
	sqlite3_stmt	*st = s->st[ST_LINE_NTH_LAST];
	int		 r;

	*first = INT64_MIN;
	if (n <= 0)
		n = 1;
	pthread_mutex_lock(&s->lock);
	sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, file, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, n - 1);
	if ((r = store_step(s, ST_LINE_NTH_LAST)) == 1)
		*first = sqlite3_column_int64(st, 0);
	store_done(s, ST_LINE_NTH_LAST);
	return r == -1 ? -1 : 0;
}
