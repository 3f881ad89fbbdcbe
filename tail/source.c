/*
 * source: one log "NAME" section: the files its glob matches, each known by
 * its identity (device, inode, and the hash of its first bytes), never by
 * its name, which is what makes every rotation one case:
 *
 *   a name now leads to another file (rename rotation, delete and
 *   recreate, a symlink retargeted, an inode reused)  the file we had is
 *       "rotated": read to its end through the descriptor we hold, and let
 *       go once it has been read to its end and quiet for a while (see
 *       rotated_grace()); the new one is read from its beginning
 *   a file of ours turns up under another name the glob matches  followed
 *       on under that name
 *   a file shrinks (copytruncate)  file.c
 *
 * Where a file found for the first time starts: at its checkpoint when
 * ferry.db knows it (its first bytes must still be the same); at its end
 * when it was there at the section's first start (from = "auto", or at
 * every start with from = "end"); else at its beginning (it appeared
 * later, or from = "start"). Starting at the end still counts the lines
 * before it (in quanta, like any read) so line numbers stay true.
 *
 * Files are closed when idle (IDLE_CLOSE_MS at their end) and reopened by
 * identity when they change, so thousands of matched files cost memory,
 * not descriptors; tail.max_open_files caps the descriptors, and a file
 * waits for one rather than being dropped.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "derive.h"
#include "log.h"
#include "progress.h"
#include "tail.h"

#define IDLE_CLOSE_MS		60000	/* an open file quiet this long is closed */
/* A rotated file read to its end and quiet this long is let go: */
#define ROTATED_GRACE_MS	5000	/* deleted, or when a descriptor is wanted */
#define ROTATED_KEPT_MS		60000	/* still at a name (it costs nothing) */

struct sources	 sources = TAILQ_HEAD_INITIALIZER(sources);
static size_t	 nopen;

size_t
source_open_files(void)
{
	return nopen;
}

void
source_lost(struct source *src, const char *path, int64_t bytes,
    const char *what)
{
	if (bytes <= 0)
		return;
	log_warnx("log %s: %s %s: %lld bytes unread, lost", src->lc->name,
	    path, what, (long long)bytes);
	src->c.lost_bytes += (uint64_t)bytes;
}

struct source *
source_new(const struct log_conf *lc, const struct ferry_conf *conf)
{
	struct source	*src;
	char		 err[512];

	if ((src = calloc(1, sizeof(*src))) == NULL)
		fatal("calloc");
	src->lc = lc;
	if (lc->key[0] != '\0')
		strlcpy(src->key, lc->key, sizeof(src->key));
	else
		snprintf(src->key, sizeof(src->key), "systail.%s.%s", lc->name,
		    conf->hostname);
	src->attrs = lc->attributes;
	src->nattrs = lc->nattributes;
	src->max_line = lc->max_line;
	src->from = lc->from;
	TAILQ_INIT(&src->files);
	LIST_INIT(&src->paths);
	if (pipeline_init(src, err, sizeof(err)) == -1)
		fatalx_config("log \"%s\": %s", lc->name, err);
	/* Which rules take its records: decided once, not for each line. */
	src->derive = derive_set_for(src->key);
	return src;
}

static void
drop_file(struct source *src, struct tfile *tf)
{
	/*
	 * Its row goes; the path keeps the number after its lines, or a
	 * file made there later would, after a restart, number from where
	 * the remaining rows say: from 1 when none is left (deleted, then
	 * recreated), or from where the path stood when a successor that has
	 * read nothing yet appeared.
	 */
	if (tf->count_to < 0 && tf->done_line > tf->pc->gone)
		tf->pc->gone = tf->done_line;
	if (tf->fd != -1)
		nopen--;
	TAILQ_REMOVE(&src->files, tf, entry);
	src->nfiles--;
	checkpoint_forget(tf);
	tfile_free(tf);
}

void
source_free(struct source *src)
{
	struct tfile	*tf;
	struct pathctr	*pc;

	while ((tf = TAILQ_FIRST(&src->files)) != NULL) {
		if (tf->fd != -1)
			nopen--;
		TAILQ_REMOVE(&src->files, tf, entry);
		tfile_free(tf);
	}
	while ((pc = LIST_FIRST(&src->paths)) != NULL) {
		LIST_REMOVE(pc, entry);
		free(pc->path);
		free(pc);
	}
	(void)source_set_paths(src, NULL, 0);
	pipeline_free(src);
	derive_set_free(src->derive);
	free(src);
}

int
source_set_paths(struct source *src, char *const *paths, size_t n)
{
	char	**np = NULL;
	size_t	  i;

	if (n > 0 && (np = calloc(n, sizeof(*np))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((np[i] = strdup(paths[i])) == NULL) {
			while (i > 0)
				free(np[--i]);
			free(np);
			return -1;
		}
	for (i = 0; i < src->nnamed; i++)
		free(src->named[i]);
	free(src->named);
	src->named = np;
	src->nnamed = n;
	return 0;
}

struct tfile *
source_find(struct source *src, uint64_t dev, uint64_t ino)
{
	struct tfile	*tf;

	TAILQ_FOREACH(tf, &src->files, entry)
		if (tf->dev == dev && tf->ino == ino)
			return tf;
	return NULL;
}

static struct tfile *
by_path(struct source *src, const char *path)
{
	struct tfile	*tf;

	TAILQ_FOREACH(tf, &src->files, entry)
		if (!tf->rotated && strcmp(tf->path, path) == 0)
			return tf;
	return NULL;
}

/* Read to its end, nothing held back: closing it loses nothing. */
static int
at_rest(const struct tfile *tf)
{
	return tf->fd != -1 && tf->part.len == 0 && !tf->part_cut &&
	    tf->ml_lines == 0 && tfile_at_end(tf);
}

/*
 * How long a rotated file, read to its end, is kept after its last
 * bytes: an application may write on into it until it is told to reopen
 * (nginx until its USR1, an application whose rotation signal comes
 * later), and a file let go cannot be read again. Kept while it is still
 * at a name, ROTATED_KEPT_MS; deleted (rotate 0, compressed), whose disk
 * space we hold, ROTATED_GRACE_MS. Never while it has unread bytes.
 */
static uint64_t
rotated_grace(const struct tfile *tf)
{
	struct stat	st;

	if (fstat(tf->fd, &st) == 0 && st.st_nlink > 0)
		return ROTATED_KEPT_MS;
	return ROTATED_GRACE_MS;
}

/*
 * Make room for one more descriptor: close the quietest file at its end,
 * or a rotated one read to its end and quiet for ROTATED_GRACE_MS, which
 * source_expire() then lets go (not here: our callers walk the files).
 */
static int
make_room(uint64_t now)
{
	struct source	*src;
	struct tfile	*tf, *best = NULL;

	if (nopen < tail_max_open)
		return 0;
	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			if (at_rest(tf) && (!tf->rotated ||
			    now - tf->active_ms >= ROTATED_GRACE_MS) &&
			    (best == NULL || tf->active_ms < best->active_ms))
				best = tf;
	if (best == NULL)
		return -1;
	tfile_close(best);
	nopen--;
	return 0;
}

static int
open_file(struct tfile *tf, uint64_t now)
{
	if (tf->fd != -1)
		return 0;
	if (make_room(now) == -1 || tfile_open(tf) == -1)
		return -1;
	nopen++;
	if (tf->active_ms == 0)
		tf->active_ms = now;
	return 0;
}

static void
close_file(struct tfile *tf)
{
	if (tf->fd == -1)
		return;
	tfile_close(tf);
	nopen--;
}

/* Where a newly found file starts (see the top of this file). */
void
source_start(struct source *src, struct tfile *tf, int64_t size,
    int first_start)
{
	const struct tail_checkpoint	*ck = checkpoint_find(tf->dev, tf->ino);
	int				 fd;
	uint64_t			 fp;

	if (ck != NULL && ck->offset <= size && ck->fplen <= size &&
	    (fd = open(tf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) != -1) {
		if (tfile_fingerprint(fd, ck->fplen, &fp) == 0 && fp == ck->fp) {
			tfile_resume(tf, ck);
			close(fd);
			log_debug("log %s: %s resumes at byte %lld, line %lld",
			    src->lc->name, tf->path, (long long)tf->off,
			    (long long)ck->line);
			return;
		}
		close(fd);
	}
	if (size > 0 && (src->from == LOG_FROM_END ||
	    (src->from == LOG_FROM_AUTO && first_start))) {
		tf->count_to = size;
		log_debug("log %s: %s starts at its end (%lld bytes)",
		    src->lc->name, tf->path, (long long)size);
	}
}

/* A closed file whose name is gone: renamed beside it? Follow it there. */
static int
find_renamed(struct tfile *tf)
{
	char		 dirbuf[4096], path[4096], *dir;
	glob_t		 g;
	struct stat	 st;
	size_t		 i;
	int		 rc = -1;

	strlcpy(dirbuf, tf->path, sizeof(dirbuf));
	dir = dirname(dirbuf);
	snprintf(path, sizeof(path), "%s/*", dir);
	if (glob(path, GLOB_NOSORT, NULL, &g) != 0)
		return -1;
	for (i = 0; i < g.gl_pathc && rc == -1; i++)
		if (stat(g.gl_pathv[i], &st) == 0 &&
		    (uint64_t)st.st_dev == tf->dev &&
		    (uint64_t)st.st_ino == tf->ino &&
		    tfile_same(tf, g.gl_pathv[i])) {
			free(tf->path);
			if ((tf->path = strdup(g.gl_pathv[i])) == NULL)
				fatal("strdup");
			tf->renamed = 1;
			rc = 0;
		}
	globfree(&g);
	return rc;
}

/*
 * A closed file (idle, or for tail.max_open_files) that no name we know
 * leads to any more, nor any name beside it: deleted, compressed, moved
 * to another directory. It was closed at its end; what it was given
 * since (its watch said so) cannot be read now.
 */
static void
let_go_closed(struct source *src, struct tfile *tf)
{
	if (tf->done_off < tf->off || tf->count_to >= 0 ||
	    tf->active_ms == 0 || tf->dirty) {
		if (tf->size > tf->off)
			source_lost(src, tf->path, tf->size - tf->off,
			    "went away while it was closed "
			    "(tail.max_open_files)");
		else
			log_warnx("log %s: %s went away while it was closed "
			    "(tail.max_open_files), after it was written: "
			    "what it was given since is lost", src->lc->name,
			    tf->path);
		src->c.errors++;
	}
	drop_file(src, tf);
}

/*
 * A file of ours whose name is gone or leads to another file now: read it
 * to its end through its descriptor before its successor. One we had
 * closed must be found first, by identity, beside its old name (a rename
 * rotation): opening the old name would open the successor.
 */
static void
rotated_away(struct source *src, struct tfile *tf, uint64_t now)
{
	if (tf->fd == -1 && find_renamed(tf) == -1) {
		let_go_closed(src, tf);
		return;
	}
	tfile_rotated(tf);
	tf->active_ms = now;
	tf->dirty = 1;
	src->c.rotations++;
	(void)open_file(tf, now);
	log_debug("log %s: %s rotated away; reading it to its end",
	    src->lc->name, tf->path);
}

/*
 * Is the file another section's? A file is followed once: its checkpoint
 * is kept by its identity, and the sink stores its lines under host, file
 * and line, so two sections shipping it would send every line twice and
 * resume from one another's checkpoints.
 */
static struct source *
claimed(const struct source *src, const struct stat *st)
{
	struct source	*o;

	TAILQ_FOREACH(o, &sources, entry)
		if (o != src && source_find(o, st->st_dev, st->st_ino) != NULL)
			return o;
	return NULL;
}

static void
found(struct source *src, const char *path, const struct stat *st,
    int first_start, uint64_t now)
{
	struct tfile	*tf, *old;
	struct source	*other;

	/*
	 * A file we cannot open cannot show its first bytes either: until it
	 * reads again its device and inode are all there is to go by, and
	 * dropping it would say "cannot read" again at every scan, and read
	 * it from its beginning once it can be read.
	 */
	if ((tf = source_find(src, st->st_dev, st->st_ino)) != NULL &&
	    tf->fd == -1 && !tf->unreadable && !tfile_same(tf, path)) {
		/* The inode of a closed file, now another file's. */
		let_go_closed(src, tf);
		tf = NULL;
	}
	if (tf != NULL) {
		if (strcmp(tf->path, path) != 0) {
			free(tf->path);
			if ((tf->path = strdup(path)) == NULL)
				fatal("strdup");
			tf->renamed = 1;
		}
		tf->rotated = 0;
		tf->released = 0;
		tf->seen = 1;
		return;
	}
	if ((other = claimed(src, st)) != NULL) {
		if (!src->overlap_said) {
			src->overlap_said = 1;
			log_warnx("log %s: %s is followed by log \"%s\" already: "
			    "a file matched by two sections is followed by the "
			    "first that finds it, once", src->lc->name, path,
			    other->lc->name);
		}
		return;
	}
	if ((old = by_path(src, path)) != NULL)
		rotated_away(src, old, now);
	if ((tf = tfile_new(src, path, path, st->st_dev, st->st_ino)) == NULL)
		return;
	source_start(src, tf, st->st_size, first_start);
	tf->seen = 1;
	tf->dirty = 1;
	TAILQ_INSERT_TAIL(&src->files, tf, entry);
	src->nfiles++;
	watch_file(tf);
	(void)open_file(tf, now);
}

static int	 glob_short;	/* the last glob could not look everywhere */

/* A directory glob() could not read: note the lack of resources. */
static int
glob_error(const char *path, int error)
{
	(void)path;
	if (error == EMFILE || error == ENFILE || error == ENOMEM)
		glob_short = 1;
	return 0;
}

/* The files a glob matches now, and the directories it reaches watched. */
static void
scan_glob(struct source *src, const char *pattern, int first_start,
    uint64_t now)
{
	struct stat	 st;
	glob_t		 g;
	size_t		 i;
	int		 rc;

	rc = glob(pattern, GLOB_NOSORT | GLOB_BRACE, glob_error, &g);
	if (rc != 0 && rc != GLOB_NOMATCH) {
		glob_short = 1;
		log_warnx("log %s: cannot expand %s", src->lc->name, pattern);
		src->c.errors++;
	}
	for (i = 0; rc == 0 && i < g.gl_pathc; i++) {
		if (lstat(g.gl_pathv[i], &st) == 0 && S_ISLNK(st.st_mode))
			watch_link(g.gl_pathv[i]);
		if (stat(g.gl_pathv[i], &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		found(src, g.gl_pathv[i], &st, first_start && !src->scanned, now);
	}
	if (rc == 0)
		globfree(&g);
	watch_dir(pattern);
}

/* A file's name as a glob that matches it alone. */
static void
glob_quote(const char *path, char *out, size_t size)
{
	size_t	n = 0;

	for (; *path != '\0' && n + 2 < size; path++) {
		if (strchr("*?[]{}\\", *path) != NULL)
			out[n++] = '\\';
		out[n++] = *path;
	}
	out[n] = '\0';
}

/* Is path one of a discovered source's files? (a section's: always) */
int
source_lists(const struct source *src, const char *path)
{
	size_t	i;

	if (!src->discovered)
		return 1;
	for (i = 0; i < src->nnamed; i++)
		if (strcmp(src->named[i], path) == 0)
			return 1;
	return 0;
}

void
source_scan(struct source *src, int first_start)
{
	struct tfile	*tf, *next;
	char		 pattern[8192];
	uint64_t	 now = tail_now();
	size_t		 i;

	TAILQ_FOREACH(tf, &src->files, entry)
		tf->seen = 0;
	glob_short = 0;
	if (!src->discovered)
		scan_glob(src, src->lc->path, first_start, now);
	for (i = 0; i < src->nnamed; i++) {
		glob_quote(src->named[i], pattern, sizeof(pattern));
		scan_glob(src, pattern, first_start, now);
	}
	/*
	 * A glob that could not read a directory for want of resources
	 * (EMFILE: glob() then just finds nothing there) does not mean the
	 * files went: taking them for rotated away would read each again as
	 * a new file when the next scan finds it, numbering its lines twice.
	 * A discovered file whose path the service no longer logs to is not
	 * rotated either: it is read to its end and let go with its
	 * checkpoint kept, so it resumes there if the service comes back.
	 */
	for (tf = TAILQ_FIRST(&src->files); tf != NULL; tf = next) {
		next = TAILQ_NEXT(tf, entry);
		if (tf->seen || tf->rotated || glob_short)
			continue;
		if (!source_lists(src, tf->pc->path))
			tf->released = 1;
		else
			rotated_away(src, tf, now);
	}
	src->scanned = 1;
}

/*
 * One pass over the files: each that may have something gets a quantum.
 * *more is set when some file has more to read at once.
 */
int
source_read(struct source *src, uint64_t now, int *more)
{
	struct tfile	*tf, *next;
	int		 rc;

	for (tf = TAILQ_FIRST(&src->files); tf != NULL; tf = next) {
		next = TAILQ_NEXT(tf, entry);
		if (spool_blocked)
			return 0;
		if ((!tf->dirty && tf->wd != -1) || !tfile_turn(tf))
			continue;
		/*
		 * A rotated file that waited for a descriptor may have gone
		 * meanwhile (compressed, deleted): waiting on would hold its
		 * successor back for ever.
		 */
		if (tf->fd == -1 && tf->rotated && !tfile_same(tf, tf->path) &&
		    find_renamed(tf) == -1) {
			let_go_closed(src, tf);
			continue;
		}
		if (tf->fd == -1 && open_file(tf, now) == -1)
			continue;
		if ((rc = tfile_read(tf, now, READ_QUANTUM)) == 1)
			*more = 1;
		else
			tf->dirty = rc == -1;
	}
	return 0;
}

/*
 * A released file read to its end (or closed there and not written
 * since) whose position is committed: let go, its checkpoint kept in
 * memory and in ferry.db, where it resumes when it is followed again.
 */
static int
release(struct source *src, struct tfile *tf)
{
	if (!(at_rest(tf) || (tf->fd == -1 && !tf->dirty)) ||
	    !checkpoint_settled(tf))
		return 0;
	checkpoint_park(tf);
	if (tf->fd != -1)
		nopen--;
	log_debug("log %s: %s let go at byte %lld: no longer the service's",
	    src->lc->name, tf->path, (long long)tf->off);
	TAILQ_REMOVE(&src->files, tf, entry);
	src->nfiles--;
	tfile_free(tf);
	return 1;
}

/* Timers: partial lines, multiline records, idle and rotated files. */
void
source_expire(struct source *src, uint64_t now)
{
	struct tfile	*tf, *next;
	struct stat	 st;

	for (tf = TAILQ_FIRST(&src->files); tf != NULL; tf = next) {
		next = TAILQ_NEXT(tf, entry);
		tfile_flush_partial(tf, now, 0);
		(void)pipeline_flush(tf, now, 0);
		if (tf->released && release(src, tf))
			continue;
		/* Closed by make_room() at its end, and not written since. */
		if (tf->rotated && tf->fd == -1 && tf->drained && !tf->dirty) {
			if (stat(tf->path, &st) == 0 &&
			    (uint64_t)st.st_ino == tf->ino && st.st_size > tf->off)
				tf->dirty = 1;
			else
				drop_file(src, tf);
			continue;
		}
		if (!at_rest(tf))
			continue;
		if (tf->rotated && now - tf->active_ms >= rotated_grace(tf))
			drop_file(src, tf);
		else if (!tf->rotated && now - tf->active_ms >= IDLE_CLOSE_MS)
			close_file(tf);
	}
}
