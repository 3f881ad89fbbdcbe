/*
 * test_progress: the progress database of common/progress.c (cursors,
 * process rows, transactions).
 *
 * Each test gets its own database in a temporary directory (mkdtemp under
 * /tmp, removed afterwards). The schema test opens the file with SQLite
 * directly, read-only, to see what progress_open() left on disk; every
 * other test goes through the API only.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include <sqlite3.h>

#include "progress.h"

struct fixture {
	char	dir[64];
	char	db[128];
};

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-progress-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/ferry.db", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	int		 rc;

	rc = test_rmtree(f->dir);
	free(f);
	return rc;
}

static struct progress *
open_db(const struct fixture *f)
{
	struct progress	*p = progress_open(f->db);

	assert_non_null(p);
	return p;
}

static void
assert_cursor(struct progress *p, const char *output, const char *stream,
    uint64_t want_seq, uint64_t want_off)
{
	uint64_t	seq = 0, off = 0;

	assert_int_equal(progress_cursor_get(p, output, stream, &seq, &off), 1);
	assert_int_equal(seq, want_seq);
	assert_int_equal(off, want_off);
}

static void
assert_no_cursor(struct progress *p, const char *output, const char *stream)
{
	uint64_t	seq = 77, off = 77;

	assert_int_equal(progress_cursor_get(p, output, stream, &seq, &off), 0);
}

/* One string column of a query on a read-only connection to the file. */
static void
query_text(const char *db, const char *sql, char *out, size_t size)
{
	sqlite3		*h;
	sqlite3_stmt	*st;

	assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (out[0] != '\0')
			strlcat(out, ",", size);
		strlcat(out, (const char *)sqlite3_column_text(st, 0), size);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static void
test_open_creates_schema(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p;
	char		 buf[256];

	assert_int_equal(access(f->db, F_OK), -1);
	p = open_db(f);
	assert_int_equal(access(f->db, F_OK), 0);
	query_text(f->db, "SELECT name FROM sqlite_master WHERE type = 'table' "
	    "ORDER BY name", buf, sizeof(buf));
	assert_string_equal(buf, "cursor,discovered,output,output_end,process,"
	    "spool_hold,tail,tail_path");
	query_text(f->db, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");
	progress_close(p);

	/* Opening an existing database keeps it as it is. */
	p = open_db(f);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 1, 2), 0);
	progress_close(p);
	p = open_db(f);
	assert_cursor(p, "hg", "receiver", 1, 2);
	progress_close(p);
}

static void
test_open_fails_without_directory(void **state)
{
	struct fixture	*f = *state;
	char		 path[192];

	snprintf(path, sizeof(path), "%s/missing/ferry.db", f->dir);
	assert_null(progress_open(path));
	assert_int_equal(access(path, F_OK), -1);
}

static void
test_cursor_get_set(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f);

	assert_no_cursor(p, "hg", "receiver");
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 3, 4096), 0);
	assert_cursor(p, "hg", "receiver", 3, 4096);
	/* Set again: replaced, not added. */
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 4, 17), 0);
	assert_cursor(p, "hg", "receiver", 4, 17);
	/* Each (output, stream) has its own cursor. */
	assert_no_cursor(p, "hg", "collectors");
	assert_no_cursor(p, "carbon", "receiver");
	assert_int_equal(progress_cursor_set(p, "carbon", "receiver", 1, 0), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "collectors", 9, 99), 0);
	assert_cursor(p, "hg", "receiver", 4, 17);
	assert_cursor(p, "carbon", "receiver", 1, 0);
	assert_cursor(p, "hg", "collectors", 9, 99);
	progress_close(p);
}

static void
test_cursor_large_values(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f);
	uint64_t	 seq = 9999999999999999ULL, off = (1ULL << 40) + 12345;

	/* The largest seq a segment name holds, and an offset past 4 GiB. */
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", seq, off), 0);
	assert_cursor(p, "hg", "receiver", seq, off);
	progress_close(p);
}

static void
test_cursor_survives_reopen(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f);

	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 12, 345), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "collectors", 6, 78), 0);
	progress_close(p);
	p = open_db(f);
	assert_cursor(p, "hg", "receiver", 12, 345);
	assert_cursor(p, "hg", "collectors", 6, 78);
	assert_no_cursor(p, "carbon", "receiver");
	progress_close(p);
}

static void
test_cursor_seen_by_other_handle(void **state)
{
	struct fixture	*f = *state;
	struct progress	*a = open_db(f), *b = open_db(f);

	/* Another process (ferryctl, the supervisor) sees a committed cursor. */
	assert_no_cursor(b, "hg", "receiver");
	assert_int_equal(progress_cursor_set(a, "hg", "receiver", 2, 50), 0);
	assert_cursor(b, "hg", "receiver", 2, 50);
	progress_close(a);
	progress_close(b);
}

static void
test_cursor_min(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	const char *const	 three[] = { "a", "b", "c" };
	const char *const	 with_new[] = { "a", "b", "new" };
	const char *const	 new_first[] = { "new", "a" };
	uint64_t		 min;

	assert_int_equal(progress_cursor_set(p, "a", "receiver", 7, 100), 0);
	assert_int_equal(progress_cursor_set(p, "b", "receiver", 5, 999), 0);
	assert_int_equal(progress_cursor_set(p, "c", "receiver", 9, 0), 0);
	/* A lower cursor in another stream does not count. */
	assert_int_equal(progress_cursor_set(p, "a", "collectors", 1, 0), 0);

	min = 0;
	assert_int_equal(progress_cursor_min(p, "receiver", three, 3, &min), 1);
	assert_int_equal(min, 5);
	min = 0;
	assert_int_equal(progress_cursor_min(p, "receiver", three, 1, &min), 1);
	assert_int_equal(min, 7);
	min = 0;
	assert_int_equal(progress_cursor_min(p, "receiver", three + 2, 1, &min), 1);
	assert_int_equal(min, 9);

	/* An output without a cursor still needs everything: none found. */
	assert_int_equal(progress_cursor_min(p, "receiver", with_new, 3, &min), 0);
	assert_int_equal(progress_cursor_min(p, "receiver", new_first, 2, &min), 0);
	assert_int_equal(progress_cursor_min(p, "other", three, 3, &min), 0);
	/* No outputs at all: none found either. */
	assert_int_equal(progress_cursor_min(p, "receiver", three, 0, &min), 0);

	/* Once the new output has a cursor, it counts like the rest. */
	assert_int_equal(progress_cursor_set(p, "new", "receiver", 2, 0), 0);
	assert_int_equal(progress_cursor_min(p, "receiver", with_new, 3, &min), 1);
	assert_int_equal(min, 2);
	progress_close(p);
}

struct procs {
	struct proc_state	ps[8];
	int			n;
};

static void
collect_proc(const struct proc_state *ps, void *arg)
{
	struct procs	*c = arg;

	assert_true(c->n < 8);
	c->ps[c->n++] = *ps;
}

static struct proc_state
proc(const char *name, int pid, const char *st, int restarts)
{
	struct proc_state	ps;

	memset(&ps, 0, sizeof(ps));
	strlcpy(ps.name, name, sizeof(ps.name));
	ps.pid = pid;
	strlcpy(ps.state, st, sizeof(ps.state));
	ps.restarts = restarts;
	ps.started = 1700000000 + pid;
	ps.last_exit = restarts ? 256 : 0;
	snprintf(ps.last_exit_str, sizeof(ps.last_exit_str), "%s",
	    restarts ? "exit 1" : "");
	ps.last_exit_at = restarts ? 1700000100 : 0;
	return ps;
}

static void
assert_proc(const struct proc_state *got, const struct proc_state *want)
{
	assert_string_equal(got->name, want->name);
	assert_int_equal(got->pid, want->pid);
	assert_string_equal(got->state, want->state);
	assert_int_equal(got->restarts, want->restarts);
	assert_int_equal(got->started, want->started);
	assert_int_equal(got->last_exit, want->last_exit);
	assert_string_equal(got->last_exit_str, want->last_exit_str);
	assert_int_equal(got->last_exit_at, want->last_exit_at);
}

static void
test_proc_set_each(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	struct proc_state	 r = proc("receiver", 101, "running", 0);
	struct proc_state	 fw = proc("forwarder", 102, "backoff", 3);
	struct proc_state	 c = proc("collectors", 103, "starting", 0);
	struct procs		 got;

	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_proc_each(p, collect_proc, &got), 0);
	assert_int_equal(got.n, 0);

	assert_int_equal(progress_proc_set(p, &r), 0);
	assert_int_equal(progress_proc_set(p, &fw), 0);
	assert_int_equal(progress_proc_set(p, &c), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_proc_each(p, collect_proc, &got), 0);
	assert_int_equal(got.n, 3);
	/* In name order, whatever the order they were set in. */
	assert_proc(&got.ps[0], &c);
	assert_proc(&got.ps[1], &fw);
	assert_proc(&got.ps[2], &r);

	/* Setting a process again replaces its row. */
	r = proc("receiver", 201, "fatal", 7);
	assert_int_equal(progress_proc_set(p, &r), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_proc_each(p, collect_proc, &got), 0);
	assert_int_equal(got.n, 3);
	assert_proc(&got.ps[2], &r);

	/* And the rows are there for the next process that opens the file. */
	progress_close(p);
	p = open_db(f);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_proc_each(p, collect_proc, &got), 0);
	assert_int_equal(got.n, 3);
	assert_proc(&got.ps[0], &c);
	assert_proc(&got.ps[2], &r);
	progress_close(p);
}

static void
test_open_ro_reads_without_writing(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p, *ro;
	uint64_t	 seq = 0, off = 0;

	/* Nothing there: a reader must not create the database. */
	assert_null(progress_open_ro(f->db));
	assert_int_equal(access(f->db, F_OK), -1);

	p = open_db(f);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 3, 30), 0);
	assert_non_null(ro = progress_open_ro(f->db));
	assert_int_equal(progress_cursor_get(ro, "hg", "receiver", &seq, &off), 1);
	assert_int_equal(seq, 3);
	assert_int_equal(off, 30);
	/* And it cannot write. */
	assert_int_equal(progress_cursor_set(ro, "hg", "receiver", 4, 40), -1);
	progress_close(ro);
	progress_close(p);
}

static void
test_rollback_hides_cursor(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f);

	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 1, 10), 0);
	assert_int_equal(progress_begin(p), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 2, 20), 0);
	assert_int_equal(progress_cursor_set(p, "carbon", "receiver", 3, 30), 0);
	assert_cursor(p, "hg", "receiver", 2, 20);
	assert_int_equal(progress_rollback(p), 0);
	assert_cursor(p, "hg", "receiver", 1, 10);
	assert_no_cursor(p, "carbon", "receiver");
	progress_close(p);
	p = open_db(f);
	assert_cursor(p, "hg", "receiver", 1, 10);
	assert_no_cursor(p, "carbon", "receiver");
	progress_close(p);
}

static void
test_commit_publishes_cursor(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f), *other = open_db(f);

	assert_int_equal(progress_begin(p), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 2, 20), 0);
	/* Not visible to another connection until committed. */
	assert_no_cursor(other, "hg", "receiver");
	assert_int_equal(progress_commit(p), 0);
	assert_cursor(other, "hg", "receiver", 2, 20);
	assert_cursor(p, "hg", "receiver", 2, 20);
	progress_close(other);
	progress_close(p);
	p = open_db(f);
	assert_cursor(p, "hg", "receiver", 2, 20);
	progress_close(p);
}

static void
test_commit_without_begin_fails(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f);

	/* A COMMIT or ROLLBACK with no transaction open is an error... */
	assert_int_equal(progress_commit(p), -1);
	assert_int_equal(progress_rollback(p), -1);
	/* ... and leaves the handle usable. */
	assert_int_equal(progress_begin(p), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 5, 6), 0);
	assert_int_equal(progress_commit(p), 0);
	assert_cursor(p, "hg", "receiver", 5, 6);
	progress_close(p);
}

static void
test_corrupt_database_is_moved_aside(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p;
	char		 path[256];
	FILE		*fp;
	DIR		*d;
	struct dirent	*de;
	int		 aside = 0;

	p = open_db(f);
	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 9, 90), 0);
	progress_close(p);
	/* Overwritten from the start: no longer a database. */
	assert_non_null(fp = fopen(f->db, "r+"));
	fputs("this is not an SQLite database, it is a text file now........", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s-wal", f->db);
	unlink(path);

	assert_non_null(p = progress_open(f->db));
	/* Started anew: no cursor, so outputs re-send from the oldest segment. */
	assert_no_cursor(p, "hg", "receiver");
	progress_close(p);
	assert_non_null(d = opendir(f->dir));
	while ((de = readdir(d)) != NULL)
		aside += strstr(de->d_name, "ferry.db.corrupt-") == de->d_name;
	closedir(d);
	assert_true(aside >= 1);
	/* A reader never repairs: it just fails. */
	assert_non_null(fp = fopen(f->db, "w"));
	fputs("garbage garbage garbage garbage garbage garbage garbage garbage", fp);
	fclose(fp);
	assert_null(progress_open_ro(f->db));
}

static void
collect_output(const struct output_state *os, void *arg)
{
	struct output_state	*got = arg;

	/* Keep the second row: rows come in name order. */
	if (strcmp(os->name, "hg") == 0)
		*got = *os;
}

static void
test_output_set_each(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	struct output_state	 os, got;

	memset(&os, 0, sizeof(os));
	strlcpy(os.name, "carbon", sizeof(os.name));
	strlcpy(os.state, "sending", sizeof(os.state));
	assert_int_equal(progress_output_set(p, &os), 0);
	strlcpy(os.name, "hg", sizeof(os.name));
	strlcpy(os.state, "retrying", sizeof(os.state));
	strlcpy(os.last_error, "HTTP 503", sizeof(os.last_error));
	os.since = 1700000000;
	os.sent = 5000000000ULL;
	os.dropped = 7;
	assert_int_equal(progress_output_set(p, &os), 0);
	/* Replaced, not added. */
	os.retries = 3;
	assert_int_equal(progress_output_set(p, &os), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_output_each(p, collect_output, &got), 0);
	assert_string_equal(got.state, "retrying");
	assert_string_equal(got.last_error, "HTTP 503");
	assert_int_equal(got.since, 1700000000);
	assert_true(got.sent == 5000000000ULL);
	assert_int_equal(got.dropped, 7);
	assert_int_equal(got.retries, 3);
	progress_close(p);
}

/* The rows as an array, found by name: what periodic and ferry-fleet read. */
static void
test_outputs_as_array(void **state)
{
	struct fixture			*f = *state;
	struct progress			*p = open_db(f);
	struct output_state		 os, *v;
	const struct output_state	*got;
	size_t				 n;

	assert_int_equal(progress_outputs(p, &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(output_state_find(v, n, "hg"));
	free(v);
	memset(&os, 0, sizeof(os));
	strlcpy(os.name, "carbon", sizeof(os.name));
	strlcpy(os.state, "sending", sizeof(os.state));
	assert_int_equal(progress_output_set(p, &os), 0);
	strlcpy(os.name, "hg", sizeof(os.name));
	strlcpy(os.state, "retrying", sizeof(os.state));
	os.sent = 42;
	assert_int_equal(progress_output_set(p, &os), 0);
	assert_int_equal(progress_outputs(p, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_non_null(got = output_state_find(v, n, "hg"));
	assert_string_equal(got->state, "retrying");
	assert_int_equal(got->sent, 42);
	assert_non_null(output_state_find(v, n, "carbon"));
	assert_null(output_state_find(v, n, "carbo"));
	free(v);
	progress_close(p);
}

static void
count_output(const struct output_state *os, void *arg)
{
	(void)os;
	(*(int *)arg)++;
}

static void
set_output(struct progress *p, const char *name)
{
	struct output_state	os;

	memset(&os, 0, sizeof(os));
	strlcpy(os.name, name, sizeof(os.name));
	strlcpy(os.state, "sending", sizeof(os.state));
	assert_int_equal(progress_output_set(p, &os), 0);
}

static void
test_prune_outputs(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	const char *const	 keep[] = { "hg", "carbon" };
	uint64_t		 seq, off;
	int			 n = 0;

	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 3, 10), 0);
	assert_int_equal(progress_cursor_set(p, "old", "receiver", 2, 5), 0);
	assert_int_equal(progress_cursor_set(p, "old", "self-forwarder", 1, 0), 0);
	set_output(p, "hg");
	set_output(p, "gone");
	/* Two cursor rows of "old", the output row of "gone". */
	assert_int_equal(progress_prune_outputs(p, keep, 2), 3);
	assert_int_equal(progress_cursor_get(p, "hg", "receiver", &seq, &off), 1);
	assert_int_equal(progress_cursor_get(p, "old", "receiver", &seq, &off), 0);
	assert_int_equal(progress_cursor_get(p, "old", "self-forwarder", &seq,
	    &off), 0);
	assert_int_equal(progress_output_each(p, count_output, &n), 0);
	assert_int_equal(n, 1);
	/* Nothing left to prune; no output configured prunes them all. */
	assert_int_equal(progress_prune_outputs(p, keep, 2), 0);
	assert_int_equal(progress_prune_outputs(p, NULL, 0), 2);
	assert_int_equal(progress_cursor_get(p, "hg", "receiver", &seq, &off), 0);
	progress_close(p);
}

/* An output's end: replaced whole, read back, pruned with the output. */
static void
test_output_end(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	const char *const	 keep[] = { "copy" };
	struct output_end	 e = { 8, 1234, 4096 }, got;

	assert_int_equal(progress_end_get(p, "copy", &got), 0);
	assert_int_equal(progress_end_set(p, "copy", &e), 0);
	e.size = 8192;
	assert_int_equal(progress_end_set(p, "copy", &e), 0);
	assert_int_equal(progress_end_set(p, "gone", &e), 0);
	assert_int_equal(progress_end_get(p, "copy", &got), 1);
	assert_true(got.dev == 8 && got.ino == 1234 && got.size == 8192);
	assert_int_equal(progress_prune_outputs(p, keep, 1), 1);
	assert_int_equal(progress_end_get(p, "gone", &got), 0);
	assert_int_equal(progress_end_get(p, "copy", &got), 1);
	progress_close(p);
}

/* A stream's hold: none, set, moved on, and seen by another handle. */
static void
test_spool_hold(void **state)
{
	struct fixture	*f = *state;
	struct progress	*p = open_db(f), *q;
	uint64_t	 seq = 99;

	assert_int_equal(progress_hold_get(p, "tail", &seq), 0);
	assert_true(seq == 99);
	assert_int_equal(progress_hold_set(p, "tail", 7), 0);
	assert_int_equal(progress_hold_set(p, "tail", 12), 0);
	q = open_db(f);
	assert_int_equal(progress_hold_get(q, "tail", &seq), 1);
	assert_true(seq == 12);
	assert_int_equal(progress_hold_get(q, "receiver", &seq), 0);
	progress_close(q);
	progress_close(p);
}

static void
test_prune_streams(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	const char *const	 live[] = { "receiver" };
	uint64_t		 seq, off;

	assert_int_equal(progress_cursor_set(p, "hg", "receiver", 3, 10), 0);
	assert_int_equal(progress_cursor_set(p, "carbon", "receiver", 4, 0), 0);
	assert_int_equal(progress_cursor_set(p, "hg", "self-old", 9, 0), 0);
	assert_int_equal(progress_cursor_set(p, "carbon", "self-old", 9, 0), 0);
	assert_int_equal(progress_prune_streams(p, live, 1), 2);
	assert_int_equal(progress_cursor_get(p, "hg", "receiver", &seq, &off), 1);
	assert_true(seq == 3 && off == 10);
	assert_int_equal(progress_cursor_get(p, "carbon", "receiver", &seq,
	    &off), 1);
	assert_int_equal(progress_cursor_get(p, "hg", "self-old", &seq, &off), 0);
	assert_int_equal(progress_prune_streams(p, live, 1), 0);
	progress_close(p);
}

static void
test_prune_in_a_transaction_fails(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	uint64_t		 seq, off;

	/* A transaction of the caller's is not nested into. */
	assert_int_equal(progress_cursor_set(p, "old", "receiver", 2, 5), 0);
	assert_int_equal(progress_begin(p), 0);
	assert_int_equal(progress_prune_outputs(p, NULL, 0), -1);
	assert_int_equal(progress_rollback(p), 0);
	assert_int_equal(progress_cursor_get(p, "old", "receiver", &seq, &off), 1);
	progress_close(p);
}

static void
test_old_database_gains_new_columns(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p;
	struct output_state	 os, got;
	sqlite3			*h;

	/* The output table as the first version made it. */
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "CREATE TABLE output (name TEXT PRIMARY "
	    "KEY, state TEXT, since INTEGER, last_success INTEGER, last_error TEXT, "
	    "last_error_at INTEGER, sent INTEGER, dropped INTEGER, deadlettered "
	    "INTEGER, retries INTEGER, updated INTEGER)", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(h);

	assert_non_null(p = progress_open(f->db));
	memset(&os, 0, sizeof(os));
	strlcpy(os.name, "hg", sizeof(os.name));
	strlcpy(os.state, "sending", sizeof(os.state));
	os.last_drop_at = 1700000123;
	assert_int_equal(progress_output_set(p, &os), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_output_each(p, collect_output, &got), 0);
	assert_int_equal(got.last_drop_at, 1700000123);
	progress_close(p);
	/* Opening it again finds the column there. */
	assert_non_null(p = progress_open(f->db));
	progress_close(p);
}

static void
collect_path(const struct tail_path *tp, void *arg)
{
	struct tail_path	*got = arg;

	if (strcmp(tp->path, "/var/log/app.log") == 0)
		*got = *tp;
}

/* A path's next line number only rises; rows not updated for long go. */
static void
test_tail_path_rises_and_prunes(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f);
	struct tail_path	 tp, got;

	memset(&tp, 0, sizeof(tp));
	strlcpy(tp.log, "app", sizeof(tp.log));
	strlcpy(tp.path, "/var/log/app.log", sizeof(tp.path));
	tp.next = 501;
	tp.updated = 1000;
	assert_int_equal(progress_tail_path_set(p, &tp), 0);
	tp.next = 301;
	tp.updated = 2000;
	assert_int_equal(progress_tail_path_set(p, &tp), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_tail_path_each(p, collect_path, &got), 0);
	assert_int_equal(got.next, 501);
	assert_int_equal(got.updated, 2000);
	assert_string_equal(got.log, "app");
	assert_int_equal(progress_tail_path_prune(p, 2000), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_tail_path_each(p, collect_path, &got), 0);
	assert_int_equal(got.next, 501);
	assert_int_equal(progress_tail_path_prune(p, 2001), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(progress_tail_path_each(p, collect_path, &got), 0);
	assert_int_equal(got.next, 0);
	progress_close(p);
}

struct disc_seen {
	char	text[1024];
	int	n;
};

static void
collect_disc(const struct discovered_row *r, void *arg)
{
	struct disc_seen	*s = arg;
	char			 one[3000];

	snprintf(one, sizeof(one), "%s|%s|%s|%s|%s|%lld;", r->service, r->path,
	    r->format, r->origin, r->note, (long long)r->updated);
	strlcat(s->text, one, sizeof(s->text));
	s->n++;
}

/*
 * What ferry-tail discovered: a service's rows replaced whole, another's
 * kept; read in order; a database made before the table reads as empty.
 */
static void
test_discovered_set_each(void **state)
{
	struct fixture		*f = *state;
	struct progress		*p = open_db(f), *ro;
	struct discovered_row	 rows[2];
	struct disc_seen	 seen;
	sqlite3			*h;

	memset(rows, 0, sizeof(rows));
	strlcpy(rows[0].service, "nginx", sizeof(rows[0].service));
	strlcpy(rows[0].path, "/var/log/nginx/access.log", sizeof(rows[0].path));
	strlcpy(rows[0].format, "combined", sizeof(rows[0].format));
	strlcpy(rows[0].origin, "nginx[7] /etc/nginx/nginx.conf:40",
	    sizeof(rows[0].origin));
	rows[0].updated = 100;
	strlcpy(rows[1].service, "nginx", sizeof(rows[1].service));
	strlcpy(rows[1].note, "syslog, not a file", sizeof(rows[1].note));
	rows[1].updated = 100;
	assert_int_equal(progress_discovered_set(p, "nginx", rows, 2), 0);
	strlcpy(rows[0].service, "apache", sizeof(rows[0].service));
	assert_int_equal(progress_discovered_set(p, "apache", rows, 1), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(progress_discovered_each(p, collect_disc, &seen), 0);
	assert_string_equal(seen.text, "apache|/var/log/nginx/access.log|"
	    "combined|nginx[7] /etc/nginx/nginx.conf:40||100;"
	    "nginx|/var/log/nginx/access.log|combined|nginx[7] "
	    "/etc/nginx/nginx.conf:40||100;nginx||||syslog, not a file|100;");
	/* Replaced whole: nginx gone, apache stays. */
	assert_int_equal(progress_discovered_set(p, "nginx", NULL, 0), 0);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(progress_discovered_each(p, collect_disc, &seen), 0);
	assert_int_equal(seen.n, 1);
	progress_close(p);

	/* A database without the table (an older ferry's): no rows. */
	assert_int_equal(sqlite3_open(f->db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DROP TABLE discovered", NULL, NULL,
	    NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_non_null(ro = progress_open_ro(f->db));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(progress_discovered_each(ro, collect_disc, &seen), 0);
	assert_int_equal(seen.n, 0);
	progress_close(ro);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails_without_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_get_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_large_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_seen_by_other_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cursor_min, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_set_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_ro_reads_without_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_database_is_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_set_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_database_gains_new_columns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_hides_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_publishes_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_without_begin_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_outputs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_streams, setup, teardown),
		cmocka_unit_test_setup_teardown(test_output_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prune_in_a_transaction_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail_path_rises_and_prunes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discovered_set_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outputs_as_array, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spool_hold, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
