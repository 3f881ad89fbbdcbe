/*
 * file: one followed log file. It is read with pread() at its own offset,
 * so a rotation never moves the position under us and starting over after
 * a failed append is only setting the offset back; a read takes at most a
 * quantum, so a large backlog neither fills memory nor holds up the other
 * files.
 *
 * Lines are cut into the pipeline as they complete. A line longer than
 * max_line is cut there: its first max_line bytes are the line, the rest is
 * skipped up to the next newline and counted, and the offsets stay those of
 * the file. A last line without a newline waits partial_line_wait, then
 * goes as it is.
 *
 * A file that shrinks under us (copytruncate, or "> file") is read again
 * from its start; what we had not read yet of the old content is looked for
 * in logrotate's copy beside it (a file whose first bytes are ours) and
 * read from there first, so copytruncate loses nothing we could still see.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "clock.h"
#include "conf.h"
#include "hash.h"
#include "log.h"
#include "progress.h"
#include "tail.h"

/*
 * The path's line numbers, made the first time a file is found at it and
 * kept while ferry-tail runs: a file recreated there later numbers on.
 */
static struct pathctr *
pathctr_get(struct source *src, const char *path)
{
	struct pathctr	*pc;

	LIST_FOREACH(pc, &src->paths, entry)
		if (strcmp(pc->path, path) == 0)
			return pc;
	if ((pc = calloc(1, sizeof(*pc))) == NULL ||
	    (pc->path = strdup(path)) == NULL) {
		free(pc);
		return NULL;
	}
	pc->next = checkpoint_path_next(path);
	TAILQ_INIT(&pc->members);
	LIST_INSERT_HEAD(&src->paths, pc, entry);
	return pc;
}

/* path: where it is now; logical: the path its lines are numbered under. */
struct tfile *
tfile_new(struct source *src, const char *path, const char *logical,
    uint64_t dev, uint64_t ino)
{
	struct tfile	*tf;

	if ((tf = calloc(1, sizeof(*tf))) == NULL ||
	    (tf->path = strdup(path)) == NULL ||
	    (tf->pc = pathctr_get(src, logical)) == NULL) {
		log_warn("calloc");
		if (tf != NULL)
			free(tf->path);
		free(tf);
		return NULL;
	}
	tf->order = ++tf->pc->order;
	TAILQ_INSERT_TAIL(&tf->pc->members, tf, pcentry);
	tf->src = src;
	tf->fd = -1;
	tf->wd = -1;
	tf->dev = dev;
	tf->ino = ino;
	tf->done_line = tf->pc->next;
	tf->count_to = -1;
	tf->ck_off = tf->ck_line = -1;
	buf_init(&tf->part, 0);
	buf_init(&tf->ml, 0);
	buf_init(&tf->head.text, 0);
	return tf;
}

void
tfile_free(struct tfile *tf)
{
	if (tf == NULL)
		return;
	watch_forget(tf);
	tfile_close(tf);
	TAILQ_REMOVE(&tf->pc->members, tf, pcentry);
	buf_free(&tf->part);
	buf_free(&tf->ml);
	buf_free(&tf->head.text);
	free(tf->path);
	free(tf);
}

/* Read on from a checkpoint: its offset, line and fingerprint. */
void
tfile_resume(struct tfile *tf, const struct tail_checkpoint *ck)
{
	tf->off = tf->done_off = ck->offset;
	tf->done_line = ck->line;
	if (ck->line > tf->pc->next)
		tf->pc->next = ck->line;
	tf->fp = ck->fp;
	tf->fplen = ck->fplen;
}

/* Its name no longer leads to it: read it to its end, before its successor. */
void
tfile_rotated(struct tfile *tf)
{
	tf->rotated = 1;
	tf->drained = 0;
}

/*
 * A file waits while a rotated file of its path, older than it, has not
 * been read to its end: so lines are numbered in the order they were
 * written at the path. Its end includes a last line without a newline
 * (numbered only when it goes, after partial_line_wait: read on, the
 * successor's lines would take the numbers before it) and a record still
 * being joined (so the spool has the path's records in order too).
 */
int
tfile_turn(const struct tfile *tf)
{
	const struct tfile	*o;

	TAILQ_FOREACH(o, &tf->pc->members, pcentry)
		if (o != tf && o->rotated && (!o->drained ||
		    o->part.len > 0 || o->part_cut || o->ml_lines > 0) &&
		    (!tf->rotated || o->order < tf->order))
			return 0;
	return 1;
}

/*
 * The hash (common/hash.c) of the first len bytes of fd: 0 and *fp set, -1
 * if short. Checkpoints keep it, so it must not change between versions.
 */
int
tfile_fingerprint(int fd, int len, uint64_t *fp)
{
	unsigned char	buf[FP_MAX];

	if (len <= 0) {
		*fp = 0;
		return 0;
	}
	if (pread(fd, buf, (size_t)len, 0) != len)
		return -1;
	*fp = hash_bytes(HASH_INIT, buf, (size_t)len);
	return 0;
}

/*
 * Is the file at path the one we follow? The same device and inode, and
 * the same first bytes (an inode reused by a new file starts otherwise).
 */
int
tfile_same(const struct tfile *tf, const char *path)
{
	struct stat	st;
	uint64_t	fp;
	int		fd, same;

	if (stat(path, &st) == -1 || (uint64_t)st.st_dev != tf->dev ||
	    (uint64_t)st.st_ino != tf->ino)
		return 0;
	if (st.st_size < tf->fplen)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return 0;
	same = tfile_fingerprint(fd, tf->fplen, &fp) == 0 && fp == tf->fp;
	close(fd);
	return same;
}

int
tfile_open(struct tfile *tf)
{
	struct stat	st;

	if (tf->fd != -1)
		return 0;
	if ((tf->fd = open(tf->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		/* Said and counted once, until it reads again: it is retried. */
		if (!tf->unreadable) {
			tf->unreadable = 1;
			log_warn("log %s: cannot read %s", tf->src->lc->name,
			    tf->path);
			tf->src->c.errors++;
		}
		return -1;
	}
	if (fstat(tf->fd, &st) == -1 || (uint64_t)st.st_dev != tf->dev ||
	    (uint64_t)st.st_ino != tf->ino) {
		/* Replaced between the scan and now: the next scan sees it. */
		close(tf->fd);
		tf->fd = -1;
		return -1;
	}
	if (tf->unreadable) {
		log_info("log %s: %s is readable again", tf->src->lc->name,
		    tf->path);
		tf->unreadable = 0;
	}
	return 0;
}

void
tfile_close(struct tfile *tf)
{
	if (tf->fd != -1)
		close(tf->fd);
	tf->fd = -1;
}

/* Once there are more bytes than the fingerprint covers, cover them. */
static void
grow_fingerprint(struct tfile *tf, int64_t size)
{
	int	len = size < FP_MAX ? (int)size : FP_MAX;

	if (len > tf->fplen && tfile_fingerprint(tf->fd, len, &tf->fp) == 0)
		tf->fplen = len;
}

/* Counting the lines of what was there at the first start (from = end). */
static void
count_lines(struct tfile *tf, const char *p, size_t n)
{
	const char	*nl, *end = p + n;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		tf->pc->next++;
		p = nl + 1;
	}
	tf->off += (int64_t)n;
	if (tf->off >= tf->count_to) {
		tf->count_to = -1;
		tf->done_off = tf->off;
		tf->done_line = tf->pc->next;
	}
}

/* The line in part (and p[0..n)), complete at end_off, to the pipeline. */
static int
line_done(struct tfile *tf, const char *p, size_t n, int64_t end_off)
{
	size_t	max = tf->src->max_line;
	int64_t	start;
	int	rc;

	start = tf->part.len > 0 || tf->part_cut ? tf->part_off :
	    end_off - (int64_t)n - 1;
	if (!tf->part_cut) {
		if (tf->part.len + n > max) {
			n = max - tf->part.len;
			tf->part_cut = 1;
		}
		if (tf->part.len > 0 && buf_add(&tf->part, p, n) == -1)
			return -1;
	}
	if (tf->part.len > 0)
		rc = pipeline_line(tf, tf->part.p, tf->part.len, start, end_off,
		    tf->part_cut);
	else
		rc = pipeline_line(tf, p, tf->part_cut ? max : n, start, end_off,
		    tf->part_cut);
	if (tf->part_cut)
		tf->src->c.cut++;
	buf_reset(&tf->part);
	tf->part_cut = 0;
	return rc;
}

/* Bytes with no newline yet: keep them (up to max_line) for the line. */
static int
keep_partial(struct tfile *tf, const char *p, size_t n, int64_t at,
    uint64_t now)
{
	size_t	max = tf->src->max_line;

	if (tf->part.len == 0 && !tf->part_cut) {
		tf->part_off = at;
		tf->part_since = now;
	}
	if (tf->part_cut)
		return 0;
	if (tf->part.len + n > max) {
		n = max - tf->part.len;
		tf->part_cut = 1;
	}
	return buf_add(&tf->part, p, n);
}

/* Split what was read into lines; the pipeline gets each whole one. */
static int
split(struct tfile *tf, const char *buf, size_t n, uint64_t now)
{
	const char	*p = buf, *nl, *end = buf + n;
	int64_t		 base = tf->off;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			if (keep_partial(tf, p, (size_t)(end - p),
			    base + (p - buf), now) == -1)
				return -1;
			break;
		}
		tf->off = base + (nl + 1 - buf);
		/* On failure the pipeline has set the file back itself. */
		if (line_done(tf, p, (size_t)(nl - p), tf->off) == -1)
			return -1;
		p = nl + 1;
	}
	tf->off = base + (int64_t)n;
	return 0;
}

/* tf's directory, opened, for the copies beside it; its name in *base. */
static DIR *
open_dir_of(const struct tfile *tf, char *dirbuf, size_t size,
    const char **dir, const char **base)
{
	strlcpy(dirbuf, tf->path, size);
	*dir = dirname(dirbuf);
	*base = strrchr(tf->path, '/') ? strrchr(tf->path, '/') + 1 : tf->path;
	return opendir(*dir);
}

/*
 * The copy logrotate made before truncating (copytruncate): in the same
 * directory, its first bytes ours, at least as long as what we read. Its
 * path into copy, or -1.
 */
static int
find_copy(const struct tfile *tf, char *copy, size_t size)
{
	char		 dirbuf[4096];
	const char	*dir, *base;
	DIR		*d;
	struct dirent	*de;
	struct stat	 st;
	uint64_t	 fp;
	int		 fd, found = -1;

	if ((d = open_dir_of(tf, dirbuf, sizeof(dirbuf), &dir, &base)) == NULL)
		return -1;
	while (found == -1 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, strlen(base)) != 0 ||
		    strcmp(de->d_name, base) == 0)
			continue;
		snprintf(copy, size, "%s/%s", dir, de->d_name);
		if (stat(copy, &st) == -1 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_ino == tf->ino || st.st_size <= tf->off ||
		    (fd = open(copy, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
			continue;
		if (tfile_fingerprint(fd, tf->fplen, &fp) == 0 && fp == tf->fp)
			found = fd;
		else
			close(fd);
	}
	closedir(d);
	return found;
}

/* What we had not read of the old content, from the copy, in quanta. */
static int
read_copy(struct tfile *tf, int fd, uint64_t now)
{
	char	*buf;
	ssize_t	 n;
	int	 rc = 0;

	if ((buf = malloc(READ_QUANTUM)) == NULL)
		return -1;
	while ((n = pread(fd, buf, READ_QUANTUM, tf->off)) > 0)
		if ((rc = split(tf, buf, (size_t)n, now)) == -1)
			break;
	free(buf);
	return rc;
}

/*
 * A file of ours found only gzip'd (logrotate's compress without
 * delaycompress, done while ferry-tail was down): its first bytes must be
 * ours; then what we had not read of it is read from the compressed copy,
 * in quanta, at once (zlib decompresses up to our offset to get there).
 * 0: read to its end; -1: not ours, or unreadable, or the spool refused.
 */
int
tfile_read_gz(struct tfile *tf, const char *path, uint64_t now)
{
	unsigned char	 head[FP_MAX];
	char		*buf = NULL;
	gzFile		 z;
	int		 n, rc = -1;

	if (tf->fplen <= 0 || (z = gzopen(path, "rb")) == NULL)
		return -1;
	if (gzread(z, head, (unsigned)tf->fplen) != tf->fplen ||
	    hash_bytes(HASH_INIT, head, (size_t)tf->fplen) != tf->fp ||
	    gzseek(z, (z_off_t)tf->off, SEEK_SET) != (z_off_t)tf->off ||
	    (buf = malloc(READ_QUANTUM)) == NULL)
		goto out;
	while ((n = gzread(z, buf, READ_QUANTUM)) > 0) {
		tf->src->c.bytes += (uint64_t)n;
		tf->read_wall_ms = clock_wall_ms();
		if (split(tf, buf, (size_t)n, now) == -1)
			goto out;
	}
	if (n == 0) {
		tfile_flush_partial(tf, now, 1);
		(void)pipeline_flush(tf, now, 1);
		rc = 0;
	}
out:
	free(buf);
	gzclose(z);
	return rc;
}

/*
 * Was the file truncated and written again past where we were, before we
 * looked? Its size cannot tell then, but its first bytes can: they are no
 * longer the ones we fingerprinted. Checked only when there is something
 * new to read, so an idle file costs nothing.
 */
static int
rewritten(const struct tfile *tf, int64_t size)
{
	uint64_t	fp;

	if (tf->fplen == 0 || size <= tf->off)
		return 0;
	return tfile_fingerprint(tf->fd, tf->fplen, &fp) == 0 && fp != tf->fp;
}

/*
 * logrotate's copy, gzip'd already (copytruncate with compress and no
 * delaycompress): a .gz beside it whose first bytes are ours; what we had
 * not read is read from it. 0 and its path in copy, or -1.
 */
static int
read_gz_copy(struct tfile *tf, uint64_t now, char *copy, size_t size)
{
	char		 dirbuf[4096];
	const char	*dir, *base, *ext;
	DIR		*d;
	struct dirent	*de;
	int64_t		 off = tf->off;
	int		 rc = -1;

	if ((d = open_dir_of(tf, dirbuf, sizeof(dirbuf), &dir, &base)) == NULL)
		return -1;
	while (rc == -1 && (de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, base, strlen(base)) != 0 ||
		    (ext = strrchr(de->d_name, '.')) == NULL ||
		    strcmp(ext, ".gz") != 0)
			continue;
		snprintf(copy, size, "%s/%s", dir, de->d_name);
		/* Not ours: its first bytes differ, and nothing is read. */
		if (tfile_read_gz(tf, copy, now) == 0 || tf->off != off)
			rc = 0;
	}
	closedir(d);
	return rc;
}

/* The file is shorter than what we read: start it over, after the copy. */
static void
truncated(struct tfile *tf, int64_t size, uint64_t now)
{
	char	copy[4096];
	int	fd;

	/*
	 * Still counting the lines it had at the first start (from = end):
	 * the old content was never to be sent, the new content is new.
	 */
	if (tf->count_to >= 0) {
		log_info("log %s: %s was truncated before its first end was "
		    "reached: reading it from its start", tf->src->lc->name,
		    tf->path);
		tf->count_to = -1;
	} else if ((fd = find_copy(tf, copy, sizeof(copy))) != -1) {
		log_info("log %s: %s was truncated; what was not read yet is "
		    "read from the copy %s", tf->src->lc->name, tf->path, copy);
		(void)read_copy(tf, fd, now);
		close(fd);
	} else if (read_gz_copy(tf, now, copy, sizeof(copy)) == 0) {
		log_info("log %s: %s was truncated; what was not read yet was "
		    "read from the compressed copy %s", tf->src->lc->name,
		    tf->path, copy);
	} else {
		if (tf->off > 0)
			log_info("log %s: %s was truncated (%lld bytes read, "
			    "%lld now, %s): reading it from its start",
			    tf->src->lc->name, tf->path, (long long)tf->off,
			    (long long)size, size < tf->off ? "shorter" :
			    "its first bytes changed");
		/* Seen there, not read yet, and no copy: gone. */
		if (tf->size > tf->off)
			source_lost(tf->src, tf->path, tf->size - tf->off,
			    "was truncated before it was read to its end, "
			    "and no copy of it was found");
	}
	/* Whatever was left of the old content is flushed, not glued on. */
	tfile_flush_partial(tf, now, 1);
	(void)pipeline_flush(tf, now, 1);
	tf->src->c.rotations++;
	/* The same path: its lines number on. */
	tf->off = tf->done_off = 0;
	tf->done_line = tf->pc->next;
	tf->fplen = 0;
	tf->fp = 0;
}

int
tfile_read(struct tfile *tf, uint64_t now, size_t quantum)
{
	static char	*buf;
	struct stat	 st;
	ssize_t		 n;
	size_t		 want;

	if (tf->fd == -1 || spool_blocked)
		return 0;
	if (buf == NULL && (buf = malloc(READ_QUANTUM)) == NULL)
		return -1;
	if (fstat(tf->fd, &st) == -1)
		return -1;
	/*
	 * Shorter than what we read, or (truncated and written again past
	 * it, as "> file; echo ..." can do between two looks) other first
	 * bytes: read from the start. Reading on at the old offset would
	 * skip the new lines before it and cut one in the middle.
	 */
	if (st.st_size < tf->off || rewritten(tf, st.st_size))
		truncated(tf, st.st_size, now);
	tf->size = st.st_size;
	if (st.st_size == tf->off) {
		if (tf->rotated)
			tf->drained = 1;
		return 0;
	}
	want = quantum < READ_QUANTUM ? quantum : READ_QUANTUM;
	if ((n = pread(tf->fd, buf, want, tf->off)) <= 0) {
		if (n == -1 && errno != EINTR && errno != EAGAIN) {
			tf->src->c.errors++;
			return -1;
		}
		return 0;
	}
	tf->active_ms = now;
	/* One clock read for the lines of a read, not one each. */
	tf->read_wall_ms = clock_wall_ms();
	grow_fingerprint(tf, st.st_size);
	if (tf->count_to >= 0) {
		count_lines(tf, buf, (size_t)n);
		return 1;
	}
	tf->src->c.bytes += (uint64_t)n;
	if (split(tf, buf, (size_t)n, now) == -1)
		return spool_blocked ? 0 : -1;
	if (tf->off < st.st_size)
		return 1;
	/*
	 * A rotated file read to its end is drained now: it is not marked
	 * dirty again (the caller clears it on 0), so waiting for a later
	 * call that finds nothing to read held its successor back until the
	 * rotated file was let go, seconds later, with the loop
	 * spinning meanwhile.
	 */
	if (tf->rotated)
		tf->drained = 1;
	return 0;
}

int
tfile_at_end(const struct tfile *tf)
{
	struct stat	st;

	if (tf->fd == -1 || fstat(tf->fd, &st) == -1)
		return 1;
	return st.st_size <= tf->off;
}

/*
 * A last line with no newline: after partial_line_wait (or at once with
 * force: a rotation, a truncation, the end), it goes as it is.
 */
void
tfile_flush_partial(struct tfile *tf, uint64_t now, int force)
{
	uint64_t	wait = (uint64_t)(tconf->tail.partial_line_wait * 1000);

	if (tf->part.len == 0 && !tf->part_cut)
		return;
	if (!force && now - tf->part_since < wait)
		return;
	if (tf->part_cut)
		tf->src->c.cut++;
	tf->read_wall_ms = clock_wall_ms();
	(void)pipeline_line(tf, tf->part.p != NULL ? tf->part.p : "",
	    tf->part.len, tf->part_off, tf->off, tf->part_cut);
	buf_reset(&tf->part);
	tf->part_cut = 0;
}
