/*
 * recover: at start, the files of a log section that were rotated while
 * ferry-tail was down. Each checkpoint row the first scan did not claim
 * is looked for beside its old name, by identity, and read on from its
 * checkpoint; the files rotated in there since are read whole, oldest
 * first. A row whose file is found only compressed (logrotate's compress
 * without delaycompress), or not at all, is said lost, with the bytes it
 * had unread when they can be known (gzip keeps the size in its trailer),
 * counted, and deleted: it would be looked for again at every start.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "progress.h"
#include "tail.h"

#define ROT_PLAIN	1
#define ROT_COMPRESSED	2

/*
 * A file name logrotate may have made of base: base.1, base-20261203, ...
 * (ROT_PLAIN), or a compressed one (ROT_COMPRESSED), which cannot be read
 * as text; 0: another name.
 */
static int
rotated_name(const char *name, const char *base)
{
	size_t		 n = strlen(base);
	const char	*ext;

	if (strncmp(name, base, n) != 0 ||
	    (name[n] != '.' && name[n] != '-' && name[n] != '_'))
		return 0;
	if ((ext = strrchr(name + n, '.')) != NULL &&
	    (strcmp(ext, ".gz") == 0 || strcmp(ext, ".bz2") == 0 ||
	    strcmp(ext, ".xz") == 0 || strcmp(ext, ".zst") == 0))
		return ROT_COMPRESSED;
	return ROT_PLAIN;
}

/* The size of what a gzip file holds (its trailer's ISIZE); -1: unknown. */
static int64_t
gzip_size(const char *path)
{
	unsigned char	b[4];
	struct stat	st;
	int64_t		n = -1;
	int		fd;

	if (strcmp(path + strlen(path) - 3, ".gz") != 0 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return -1;
	/* Modulo 4 GiB, as gzip keeps it: a rotated log is smaller. */
	if (fstat(fd, &st) == 0 && st.st_size >= 18 &&
	    pread(fd, b, sizeof(b), st.st_size - 4) == (ssize_t)sizeof(b))
		n = (int64_t)b[0] | (int64_t)b[1] << 8 | (int64_t)b[2] << 16 |
		    (int64_t)b[3] << 24;
	close(fd);
	return n;
}

/* A file found under its rotated name, to be read to its end. */
static struct tfile *
follow_rotated(struct source *src, const char *path, const char *logical,
    const struct stat *st)
{
	struct tfile	*tf;

	if ((tf = tfile_new(src, path, logical, st->st_dev, st->st_ino)) == NULL)
		return NULL;
	tfile_rotated(tf);
	tf->dirty = 1;
	tf->active_ms = tail_now();
	TAILQ_INSERT_TAIL(&src->files, tf, entry);
	src->nfiles++;
	src->c.rotations++;
	return tf;
}

/*
 * The checkpoint rows of this section whose files the first scan did not
 * find: rotated while we were down. Each is looked for beside its old name
 * by identity and read from its checkpoint; and every file rotated there
 * since (a newer name of the same base, unknown to us, changed after the
 * checkpoint) is read whole: a file rotated twice while we were down.
 *
 * All the rows of the section are looked at before any file is followed,
 * and the files are then followed oldest first: a file that has a row of
 * its own is never taken for one rotated in while we were down (it would
 * be read whole again, copying every line it had already given), and
 * two rows of one path (a file rotated, its successor rotated too) give
 * their lines in the order they were written, not in the rows' order.
 */
struct found_file {
	char		*path;
	char		*logical;	/* the path its lines are numbered under */
	struct stat	 st;
	int		 ours;		/* a checkpoint's own file */
};

struct recovery {
	struct source		*src;
	struct found_file	*ff;
	size_t			 n;
};

static int
older_first(const void *a, const void *b)
{
	const struct found_file	*x = a, *y = b;

	if (x->ours != y->ours)
		return y->ours - x->ours;	/* checkpointed files first */
	if (x->st.st_mtim.tv_sec != y->st.st_mtim.tv_sec)
		return x->st.st_mtim.tv_sec < y->st.st_mtim.tv_sec ? -1 : 1;
	if (x->st.st_mtim.tv_nsec != y->st.st_mtim.tv_nsec)
		return x->st.st_mtim.tv_nsec < y->st.st_mtim.tv_nsec ? -1 : 1;
	return 0;
}

static int
listed(const struct recovery *rc, const struct stat *st)
{
	size_t	i;

	for (i = 0; i < rc->n; i++)
		if (rc->ff[i].st.st_dev == st->st_dev &&
		    rc->ff[i].st.st_ino == st->st_ino)
			return 1;
	return 0;
}

/*
 * What was compressed beside a checkpointed file since its checkpoint,
 * when the file itself is not found: its bytes, and whether each size was
 * known (gzip says; bzip2, xz and zstd do not).
 */
struct compressed {
	char		 path[1100];	/* the oldest: the checkpointed file */
	const char	*name;		/* its base name */
	time_t		 oldest;
	int64_t		 oldest_size;	/* -1: not known */
	int64_t		 bytes;
	int		 n, unknown;
};

static void
note_compressed(struct compressed *cz, const char *path, const struct stat *st)
{
	int64_t	n = gzip_size(path);

	if (cz->n++ == 0 || st->st_mtime < cz->oldest) {
		cz->oldest = st->st_mtime;
		cz->oldest_size = n;
		strlcpy(cz->path, path, sizeof(cz->path));
		cz->name = strrchr(cz->path, '/') + 1;
	}
	if (n < 0)
		cz->unknown++;
	else
		cz->bytes += n;
}

/* Is the file of the row anywhere in dir (renamed to another base)? */
static int
in_dir(const char *dir, const struct tail_checkpoint *ck)
{
	char		 pat[1100];
	struct stat	 st;
	glob_t		 g;
	size_t		 i;
	int		 found = 0;

	snprintf(pat, sizeof(pat), "%s/*", dir);
	if (glob(pat, GLOB_NOSORT, NULL, &g) != 0)
		return 0;
	for (i = 0; i < g.gl_pathc && !found; i++)
		found = stat(g.gl_pathv[i], &st) == 0 &&
		    (uint64_t)st.st_dev == ck->dev &&
		    (uint64_t)st.st_ino == ck->ino;
	globfree(&g);
	return found;
}

/*
 * The file of a row is nowhere beside its name (its directory is there
 * and readable: not a file system that is not mounted yet). Compressed: its unread
 * bytes are counted lost; gone: what it held past the checkpoint, if
 * anything, is lost. Either way its row goes, its path's line number
 * kept, or every start would look for it again.
 */
/*
 * The checkpointed file, found gzip'd: what it had unread is read from
 * there now, before anything else is read, so its lines keep their
 * place. It is then a rotated file read to its end, let go like one (its
 * row deleted at the next commit, after the spool's fsync: a crash before
 * that finds its records in the spool and reads on after them). 0: read.
 */
static int
read_compressed(struct source *src, const struct tail_checkpoint *ck,
    const struct compressed *cz)
{
	struct tfile	*tf;

	if (cz->oldest_size <= ck->offset || ck->fplen <= 0 ||
	    (tf = tfile_new(src, cz->path, ck->path, ck->dev, ck->ino)) == NULL)
		return -1;
	tfile_rotated(tf);
	tfile_resume(tf, ck);
	tf->active_ms = tail_now();
	if (tfile_read_gz(tf, cz->path, tail_now()) == -1 &&
	    tf->off == ck->offset) {
		tfile_free(tf);		/* not ours: nothing was read */
		return -1;
	}
	TAILQ_INSERT_TAIL(&src->files, tf, entry);
	src->nfiles++;
	src->c.rotations++;
	tf->drained = 1;
	log_info("log %s: %s was compressed to %s while ferry-tail was down: "
	    "its %lld unread bytes read from there", src->lc->name, ck->path,
	    cz->name, (long long)(tf->off - ck->offset));
	source_lost(src, ck->path, cz->oldest_size - tf->off, "was compressed "
	    "while ferry-tail was down, and its copy could not be read whole");
	if (cz->n > 1)
		source_lost(src, ck->path, cz->bytes - cz->oldest_size,
		    "had files rotated in and compressed after it while "
		    "ferry-tail was down, which are not read");
	return 0;
}

static void
gone(struct source *src, const struct tail_checkpoint *ck, const char *dir,
    const struct compressed *cz)
{
	char	what[512];

	/* A directory we cannot look into says nothing of the file. */
	if (access(dir, R_OK | X_OK) == -1 || in_dir(dir, ck))
		return;
	if (cz->n > 0 && read_compressed(src, ck, cz) == 0)
		return;
	if (cz->n > 0 && cz->unknown == 0) {
		snprintf(what, sizeof(what), "(read to byte %lld) is not found: "
		    "compressed to %s while ferry-tail was down",
		    (long long)ck->offset, cz->name);
		if (cz->bytes > ck->offset)
			source_lost(src, ck->path, cz->bytes - ck->offset, what);
		else
			log_info("log %s: %s %s, read to its end before",
			    src->lc->name, ck->path, what);
	} else if (cz->n > 0)
		log_warnx("log %s: %s (read to byte %lld) is not found: "
		    "compressed to %s while ferry-tail was down; what it held "
		    "past that is lost", src->lc->name, ck->path,
		    (long long)ck->offset, cz->name);
	else
		log_warnx("log %s: %s (read to byte %lld) is not found beside "
		    "its name: deleted or moved away while ferry-tail was "
		    "down; what it held past that, if anything, is lost",
		    src->lc->name, ck->path, (long long)ck->offset);
	checkpoint_drop(ck);
}

static void
recover_row(const struct tail_checkpoint *ck, void *arg)
{
	struct recovery		*rc = arg;
	struct source		*src = rc->src;
	struct found_file	*nf;
	char			 dirbuf[1024], basebuf[1024], pat[2100];
	char			*dir, *base;
	struct stat		 st;
	glob_t			 g;
	struct compressed	 cz;
	size_t			 i;
	int			 ours, kind, found = 0, rc_glob;

	/*
	 * A discovered source's row of a path the service does not log to
	 * now (its files released, their rows kept) waits for the path to
	 * be found again: its file is not rotated, only not followed.
	 */
	if (source_find(src, ck->dev, ck->ino) != NULL ||
	    !source_lists(src, ck->path))
		return;
	memset(&cz, 0, sizeof(cz));
	strlcpy(dirbuf, ck->path, sizeof(dirbuf));
	strlcpy(basebuf, ck->path, sizeof(basebuf));
	dir = dirname(dirbuf);
	base = basename(basebuf);
	snprintf(pat, sizeof(pat), "%s/%s*", dir, base);
	if ((rc_glob = glob(pat, GLOB_NOSORT, NULL, &g)) == GLOB_NOMATCH)
		gone(src, ck, dir, &cz);
	if (rc_glob != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		if (stat(g.gl_pathv[i], &st) == -1 || !S_ISREG(st.st_mode))
			continue;
		ours = (uint64_t)st.st_dev == ck->dev &&
		    (uint64_t)st.st_ino == ck->ino;
		found |= ours;
		kind = rotated_name(strrchr(g.gl_pathv[i], '/') + 1, base);
		if (kind == ROT_COMPRESSED && st.st_mtime >= ck->updated)
			note_compressed(&cz, g.gl_pathv[i], &st);
		if (source_find(src, st.st_dev, st.st_ino) != NULL ||
		    listed(rc, &st))
			continue;
		/* A file with a row of its own is recovered from that row. */
		if (!ours && (kind != ROT_PLAIN || st.st_mtime < ck->updated ||
		    checkpoint_find(st.st_dev, st.st_ino) != NULL))
			continue;
		if ((nf = reallocarray(rc->ff, rc->n + 1, sizeof(*nf))) == NULL)
			break;
		rc->ff = nf;
		nf += rc->n;
		if ((nf->path = strdup(g.gl_pathv[i])) == NULL ||
		    (nf->logical = strdup(ck->path)) == NULL) {
			free(nf->path);
			break;
		}
		nf->st = st;
		nf->ours = ours;
		rc->n++;
	}
	globfree(&g);
	if (!found)
		gone(src, ck, dir, &cz);
}

void
source_recover(struct source *src)
{
	struct recovery		 rc = { src, NULL, 0 };
	struct found_file	*ff;
	struct tfile		*tf;
	size_t			 i;

	checkpoint_each(src->lc->name, recover_row, &rc);
	/*
	 * Oldest first: the lines of a path are numbered in that order. With
	 * nothing found ff is NULL, which qsort() must not be given.
	 */
	if (rc.n > 0)
		qsort(rc.ff, rc.n, sizeof(*rc.ff), older_first);
	for (i = 0; i < rc.n; i++) {
		ff = &rc.ff[i];
		if ((tf = follow_rotated(src, ff->path, ff->logical,
		    &ff->st)) != NULL) {
			if (ff->ours) {
				source_start(src, tf, ff->st.st_size, 0);
				log_info("log %s: %s was rotated to %s while "
				    "ferry-tail was down: reading it on from "
				    "line %lld", src->lc->name, ff->logical,
				    tf->path, (long long)tf->done_line);
			} else
				log_info("log %s: %s was rotated in while "
				    "ferry-tail was down: reading it whole",
				    src->lc->name, tf->path);
			watch_file(tf);
		}
		free(ff->path);
		free(ff->logical);
	}
	free(rc.ff);
}
