/*
 * checkpoint: where each followed file stands, in ferry.db, and what the
 * spool says beyond it.
 *
 * A checkpoint is committed only after the spool was fsynced (tail.c calls
 * checkpoint_commit() right after spool_sync()), so it is never ahead of
 * the spool: a crash can leave records in the spool that the checkpoint
 * does not cover yet, never the other way round. Each row also keeps where
 * the spool's "tail" stream stood at that commit, and every record carries
 * its file's identity and the offset after it; so at start the records
 * written after the last commit are read back (from that position on) and
 * each file resumes after the last line that reached the spool: no line
 * is copied twice, none skipped. Each commit also holds the stream from
 * its segment on (progress_hold_set()): the forwarder deletes none of
 * those segments, so the records after the commit are still there to be
 * read back, however many segments they span.
 *
 * Rows are read once at start, into memory, and let go after the first
 * scans, but for those of discovered sources (discover.c), which may be
 * found again at any time, and which keep the rows of the files they let
 * go (checkpoint_park()); a row whose file is no longer followed is kept
 * a week (a file that comes back, a glob edited back) and then deleted.
 *
 * The row of a file let go (rotated and read, deleted) is deleted with it,
 * so each path also keeps, in a row of its own (tail_path), the number
 * after the lines of its files let go: a file that comes to the path later
 * numbers on from there even after a restart. What is known of each path
 * stays in memory for the whole run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "procfs.h"
#include "progress.h"
#include "record.h"
#include "spool.h"
#include "spoolread.h"
#include "tail.h"

#define KEEP_S	(7 * 86400)	/* a row no file claims, kept this long */
#define GONE	(-1)		/* a row's updated: deleted, in memory still */

static struct progress		*db;
static struct tail_checkpoint	*rows;
static size_t			 nrows;
static uint64_t			*forget;	/* dev, ino pairs */
static size_t			 nforget;
static uint64_t			 committed_seq, committed_off;
/* Each path's next number as ferry.db had it, kept for the whole run. */
static struct tail_path		*paths;
static size_t			 npaths;
static int			 walking;	/* checkpoint_each() runs */

static int	changed(const struct tfile *);
static void	add_path(const struct tail_path *, void *);


static void
add_row(const struct tail_checkpoint *tc, void *arg)
{
	struct tail_checkpoint	*nr;

	(void)arg;
	if ((nr = reallocarray(rows, nrows + 1, sizeof(*rows))) == NULL)
		fatal("reallocarray");
	rows = nr;
	rows[nrows++] = *tc;
}

static struct tail_checkpoint *
row(uint64_t dev, uint64_t ino)
{
	size_t	i;

	for (i = 0; i < nrows; i++)
		if (rows[i].dev == dev && rows[i].ino == ino &&
		    rows[i].updated != GONE)
			return &rows[i];
	return NULL;
}

/* Rows marked GONE out of the array (not while checkpoint_each() runs). */
static void
compact(void)
{
	size_t	i, kept = 0;

	if (walking)
		return;
	for (i = 0; i < nrows; i++)
		if (rows[i].updated != GONE)
			rows[kept++] = rows[i];
	nrows = kept;
}

/* "DEV:INO" of a record. */
static int
parse_fid(struct span s, uint64_t *dev, uint64_t *ino)
{
	char	tmp[64], *colon;

	if (s.len == 0 || s.len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s.p, s.len);
	tmp[s.len] = '\0';
	/* Digits only, each in range: sscanf took "-1" and overflowed. */
	if ((colon = strchr(tmp, ':')) == NULL)
		return -1;
	*colon = '\0';
	return procfs_u64(tmp, dev) == 0 && procfs_u64(colon + 1, ino) == 0 ?
	    0 : -1;
}

/* A record written after the last commit: its file is further on. */
static void
recover_record(const struct record *r)
{
	struct tail_checkpoint	 tc, *t;
	uint64_t		 dev, ino;
	int64_t			 next;

	if (r->kind != RECORD_LOG || parse_fid(r->fid, &dev, &ino) == -1 ||
	    r->end <= 0)
		return;
	next = r->lineno + (r->nlines > 0 ? r->nlines : 1);
	if ((t = row(dev, ino)) == NULL) {
		/* First seen after the commit: its first bytes are unknown. */
		memset(&tc, 0, sizeof(tc));
		tc.dev = dev;
		tc.ino = ino;
		snprintf(tc.log, sizeof(tc.log), "%.*s", (int)r->name.len,
		    r->name.p);
		snprintf(tc.path, sizeof(tc.path), "%.*s", (int)r->file.len,
		    r->file.p);
		tc.updated = clock_wall();
		add_row(&tc, NULL);
		t = &rows[nrows - 1];
	}
	if (r->end > t->offset) {
		t->offset = r->end;
		t->line = next;
	}
}

/*
 * The "tail" stream from the newest commit's position to its end: the
 * records that reached the spool after it.
 */
static void
recover_from_spool(const char *dir, const char *memdir)
{
	struct spool_reader	*rd;
	struct record		 r;
	const char		*line;
	size_t			 len, i, n = 0;
	uint64_t		 seq = 0, off = 0;

	for (i = 0; i < nrows; i++)
		if (rows[i].spool_seq > seq || (rows[i].spool_seq == seq &&
		    rows[i].spool_off > off)) {
			seq = rows[i].spool_seq;
			off = rows[i].spool_off;
		}
	if (seq == 0 && nrows > 0)
		return;		/* rows from before positions were kept */
	if ((rd = spool_reader_open(dir, memdir, TAIL_STREAM, seq, off)) == NULL)
		return;
	while (spool_reader_next(rd, &line, &len) == 1) {
		if (record_parse(line, len, &r) == 0) {
			recover_record(&r);
			n++;
		}
	}
	spool_reader_close(rd);
	if (n > 0)
		log_info("%zu records reached the spool after the last "
		    "checkpoint: their files resume after them", n);
}

/* Keep a path's number (the highest of what is said of it). */
static void
add_path(const struct tail_path *tp, void *arg)
{
	struct tail_path	*np;
	size_t			 i;

	(void)arg;
	for (i = 0; i < npaths; i++)
		if (strcmp(paths[i].path, tp->path) == 0) {
			if (tp->next > paths[i].next)
				paths[i].next = tp->next;
			return;
		}
	if ((np = reallocarray(paths, npaths + 1, sizeof(*paths))) == NULL)
		fatal("reallocarray");
	paths = np;
	paths[npaths++] = *tp;
}

int
checkpoint_init(struct progress *p, const char *dir, const char *memdir)
{
	db = p;
	if (progress_tail_each(db, add_row, NULL) == -1 ||
	    progress_tail_path_each(db, add_path, NULL) == -1)
		return -1;
	recover_from_spool(dir, memdir);
	return 0;
}

const struct tail_checkpoint *
checkpoint_find(uint64_t dev, uint64_t ino)
{
	return row(dev, ino);
}

/* The next line number at a path: after every line its files had. */
int64_t
checkpoint_path_next(const char *path)
{
	int64_t	next = 1;
	size_t	i;

	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].path, path) == 0 && rows[i].line > next)
			next = rows[i].line;
	for (i = 0; i < npaths; i++)
		if (strcmp(paths[i].path, path) == 0 && paths[i].next > next)
			next = paths[i].next;
	return next;
}

/* Has this log section ever been followed? (its first start, if not) */
int
checkpoint_known_log(const char *name)
{
	size_t	i;

	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].log, name) == 0)
			return 1;
	return 0;
}

/* The rows of a log section, for finding files rotated while we were down. */
void
checkpoint_each(const char *name, void (*fn)(const struct tail_checkpoint *,
    void *), void *arg)
{
	size_t	i;

	walking++;
	for (i = 0; i < nrows; i++)
		if (strcmp(rows[i].log, name) == 0 && rows[i].updated != GONE)
			fn(&rows[i], arg);
	walking--;
	compact();
}

void
checkpoint_forget(const struct tfile *tf)
{
	struct tail_checkpoint	*t;
	uint64_t		*nf;

	if ((t = row(tf->dev, tf->ino)) != NULL) {
		t->updated = GONE;
		compact();
	}

	if ((nf = reallocarray(forget, nforget + 2, sizeof(*nf))) == NULL)
		return;
	forget = nf;
	forget[nforget++] = tf->dev;
	forget[nforget++] = tf->ino;
}

void
checkpoint_drop(const struct tail_checkpoint *ck)
{
	struct tail_checkpoint	*t;
	struct tail_path	 tp;

	memset(&tp, 0, sizeof(tp));
	strlcpy(tp.log, ck->log, sizeof(tp.log));
	strlcpy(tp.path, ck->path, sizeof(tp.path));
	tp.next = ck->line;
	tp.updated = clock_wall();
	if (progress_tail_path_set(db, &tp) == -1 ||
	    progress_tail_delete(db, ck->dev, ck->ino) == -1)
		log_warnx("the checkpoint of %s could not be deleted", ck->path);
	add_path(&tp, NULL);
	/* Not looked for again when its source is found again. */
	if ((t = row(ck->dev, ck->ino)) != NULL) {
		t->updated = GONE;
		compact();
	}
}

/* tf's row, at offset and line. */
static void
row_of(const struct tfile *tf, int64_t offset, int64_t line, int64_t now,
    struct tail_checkpoint *tc)
{
	memset(tc, 0, sizeof(*tc));
	tc->dev = tf->dev;
	tc->ino = tf->ino;
	tc->fp = tf->fp;
	tc->fplen = tf->fplen;
	strlcpy(tc->log, tf->src->lc->name, sizeof(tc->log));
	/*
	 * The path its lines are numbered under, not the name it has now: a
	 * file found renamed at a start (app.log.1) would otherwise be
	 * numbered under that name at the next start, its lines filed in the
	 * sink as another file's; and the path's next number is read back
	 * from these rows. At a start, the file is looked for beside it under
	 * a rotated name (app.log.1, app.log-20261203), which works from the
	 * path however often it was renamed since.
	 */
	strlcpy(tc->path, tf->pc->path, sizeof(tc->path));
	tc->offset = offset;
	tc->line = line;
	tc->updated = now;
}

int
checkpoint_settled(const struct tfile *tf)
{
	return tf->count_to < 0 && !changed(tf);
}

void
checkpoint_park(const struct tfile *tf)
{
	struct tail_checkpoint	 tc, *t;

	if (tf->ck_off < 0)
		return;
	row_of(tf, tf->ck_off, tf->ck_line, clock_wall(), &tc);
	if ((t = row(tf->dev, tf->ino)) != NULL)
		*t = tc;
	else
		add_row(&tc, NULL);
}

/* Has tf moved since its row was written? (counting files have no row) */
static int
changed(const struct tfile *tf)
{
	return tf->count_to < 0 && (tf->done_off != tf->ck_off ||
	    tf->done_line != tf->ck_line || tf->renamed);
}

/* Is there anything to commit? An idle ferry-tail opens no transaction. */
static int
anything_new(void)
{
	struct source	*src;
	struct tfile	*tf;

	if (nforget > 0)
		return 1;
	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			if (changed(tf))
				return 1;
	return 0;
}

static int
commit_file(struct tfile *tf, uint64_t seq, uint64_t off, int64_t now)
{
	struct tail_checkpoint	tc;

	if (!changed(tf))
		return 0;	/* nothing new: the row stands */
	row_of(tf, tf->done_off, tf->done_line, now, &tc);
	tc.spool_seq = seq;
	tc.spool_off = off;
	if (progress_tail_set(db, &tc) == -1)
		return -1;
	tf->ck_off = tf->done_off;
	tf->ck_line = tf->done_line;
	tf->renamed = 0;
	return 0;
}

static int
commit_path(const struct source *src, const struct pathctr *pc, int64_t now)
{
	struct tail_path	tp;

	memset(&tp, 0, sizeof(tp));
	strlcpy(tp.log, src->lc->name, sizeof(tp.log));
	strlcpy(tp.path, pc->path, sizeof(tp.path));
	tp.next = pc->gone;
	tp.updated = now;
	return progress_tail_path_set(db, &tp);
}

/*
 * Every file's done position that moved, and the number after the lines
 * of the files let go at each path, in one transaction; call only
 * right after the spool was synced. Files still counting their lines
 * (from = end) have no position to keep yet. A failed commit leaves the
 * positions to the next one (the rows it did write were rolled back, so
 * their files are written again: the committed marks are only advisory).
 */
int
checkpoint_commit(void)
{
	struct source	*src;
	struct tfile	*tf;
	struct pathctr	*pc;
	uint64_t	 seq, off;
	int64_t		 now = clock_wall();
	size_t		 i;

	spool_tell(tspool, &seq, &off);
	/* A new segment of records not from files (metrics) moves the hold. */
	if (!anything_new() && seq == committed_seq)
		return 0;
	if (progress_begin(db) == -1)
		return -1;
	for (i = 0; i + 1 < nforget; i += 2)
		if (progress_tail_delete(db, forget[i], forget[i + 1]) == -1)
			goto fail;
	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			if (commit_file(tf, seq, off, now) == -1)
				goto fail;
	TAILQ_FOREACH(src, &sources, entry)
		LIST_FOREACH(pc, &src->paths, entry)
			if (pc->gone != pc->gone_ck &&
			    commit_path(src, pc, now) == -1)
				goto fail;
	if (progress_hold_set(db, TAIL_STREAM, seq) == -1 ||
	    progress_commit(db) == -1)
		goto fail;
	nforget = 0;
	TAILQ_FOREACH(src, &sources, entry)
		LIST_FOREACH(pc, &src->paths, entry)
			pc->gone_ck = pc->gone;
	committed_seq = seq;
	committed_off = off;
	return 0;
fail:
	(void)progress_rollback(db);
	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			tf->ck_off = -1;	/* none of it stands */
	return -1;
}

/*
 * Bytes in the spool since the last commit: "a segment or more"
 * (UINT64_MAX) once the stream moved on to a new one.
 */
uint64_t
checkpoint_lag(void)
{
	uint64_t	seq, off;

	spool_tell(tspool, &seq, &off);
	if (seq != committed_seq)
		return UINT64_MAX;
	return off < committed_off ? off : off - committed_off;
}

/*
 * After the first scans: rows no file claims and older than KEEP_S go,
 * and the rest are let go from memory, but those of the logs keep()
 * names (discovered sources, found again any time).
 */
void
checkpoint_cleanup(int (*keep)(const char *))
{
	struct source	*src;
	struct tfile	*tf;
	struct tail_path tp;
	int64_t		 now = clock_wall();
	size_t		 i;
	int		 claimed;

	/*
	 * What the rows said of each path stays known for the run: a file
	 * that comes to a path no file is at now numbers on.
	 */
	for (i = 0; i < nrows; i++) {
		memset(&tp, 0, sizeof(tp));
		strlcpy(tp.path, rows[i].path, sizeof(tp.path));
		tp.next = rows[i].line;
		add_path(&tp, NULL);
	}
	for (i = 0; i < nrows; i++) {
		claimed = 0;
		TAILQ_FOREACH(src, &sources, entry)
			TAILQ_FOREACH(tf, &src->files, entry)
				claimed |= tf->dev == rows[i].dev &&
				    tf->ino == rows[i].ino;
		if (!claimed && now - rows[i].updated > KEEP_S) {
			if (progress_tail_delete(db, rows[i].dev,
			    rows[i].ino) == -1)
				break;
			rows[i].updated = GONE;
		}
	}
	(void)progress_tail_path_prune(db, now - KEEP_S);
	for (i = 0; i < nrows; i++)
		if (!keep(rows[i].log))
			rows[i].updated = GONE;
	compact();
	if (nrows == 0) {
		free(rows);
		rows = NULL;
	}
}
