/*
 * drop: the drop directory (collectors.drop_dir). A program that cannot
 * speak TCP writes a file of metric lines there; each file is ingested
 * once, then removed. Names are taken as written, without the collectors'
 * prefix (like lines sent to the receiver), and every line is validated.
 *
 * A file still being written must not be taken. The contract for writers
 * is "write under a name starting with '.', then rename into place":
 * dotfiles are never touched, and a file renamed into place (inotify
 * IN_MOVED_TO) is taken at once. Any other file is taken once its size and
 * mtime have not changed for a second of the monotonic clock, which covers
 * a plain `cp` or a file left there while ferry was down.
 *
 * The directory is read when inotify says a file arrived (created, written
 * and closed, renamed in), then each second while a file waits to be
 * stable; an idle directory costs nothing but a look now and then in case
 * an event was missed (drop_sweep() says when). Without a watch (no
 * inotify, or the directory is missing) it is read each second.
 *
 * A file taken is first renamed to ".ferry-taking.<name>", so a new file
 * renamed in under the same name meanwhile is a file of its own, never
 * removed unread. Removal comes after the spool holds the lines and was
 * synced; a crash in between leaves the ".ferry-taking." file, which the
 * next start ingests again (at least once, never lost).
 * Work is bounded per loop turn (DROP_BUDGET bytes), so a huge file never
 * delays a collector's run; symlinks and other non-regular files are
 * skipped, so the directory cannot be used to read files elsewhere.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "collectors.h"
#include "conf.h"
#include "hash.h"
#include "log.h"
#include "metric.h"
#include "spool.h"

#define DROP_STABLE_MS	1000
#define DROP_BUDGET	(256 * 1024)	/* bytes read per loop turn */
#define DROP_CHUNK	(64 * 1024)
#define CAND_MAX	128	/* files being watched for a stable size */
#define QUEUE_MAX	32	/* files ready to take */
#define SKIP_MAX	16	/* files that cannot be removed */
#define REJECT_LOG_BURST 5
#define TAKING		".ferry-taking."

struct cand {
	uint64_t	h;
	off_t		size;
	struct timespec	mtime;
	uint64_t	since;
	int		seen;
};

struct skip {
	uint64_t	h;
	ino_t		ino;
	off_t		size;
	struct timespec	mtime;
};

static struct {
	struct runner	*r;
	char		 dir[PATH_MAX];
	int		 ifd;		/* inotify, or -1 */
	int		 wd;		/* our watch, or -1 */
	int		 failing;	/* the directory: logged once */
	int		 overflow;	/* a ready file found no room in the queue */

	struct cand	 cand[CAND_MAX];
	int		 ncand;
	char		 queue[QUEUE_MAX][NAME_MAX + 1];
	int		 nqueue;
	struct skip	 skip[SKIP_MAX];
	int		 nskip;

	/* The file being ingested. */
	int		 fd;
	char		 name[NAME_MAX + 1];	/* as it was dropped */
	char		 path[PATH_MAX];	/* as we read it */
	uint64_t	 lines;
	char		*buf;		/* the unfinished line */
	size_t		 len;
	int		 toolong;

	struct loglimit	 rejlog;
	struct drop_stats st;
} drop = { .ifd = -1, .wd = -1, .fd = -1 };

static int	enqueue(const char *, int);

static void
add_watch(void)
{
	if (drop.ifd == -1 || drop.wd != -1)
		return;
	drop.wd = inotify_add_watch(drop.ifd, drop.dir, IN_MOVED_TO | IN_CREATE |
	    IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
}

/* Files a crash left half taken: they go first, whole, again. */
static void
take_leftovers(void)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(drop.dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, TAKING, strlen(TAKING)) == 0 &&
		    de->d_type == DT_REG)
			(void)enqueue(de->d_name, 1);
	closedir(d);
}

int
drop_init(struct runner *r, int ifd)
{
	drop.r = r;
	drop.ifd = ifd;
	if (strlcpy(drop.dir, r->conf->collectors.drop_dir, sizeof(drop.dir)) >=
	    sizeof(drop.dir)) {
		log_warnx("drop_dir too long: %s", r->conf->collectors.drop_dir);
		return -1;
	}
	if ((drop.buf = malloc(r->max_line)) == NULL) {
		log_warn("malloc");
		return -1;
	}
	if (mkdir(drop.dir, 0750) == -1 && errno != EEXIST)
		log_warn("drop directory %s", drop.dir);
	add_watch();
	take_leftovers();
	return 0;
}

int
drop_watch(void)
{
	return drop.wd;
}

static int
queued(const char *name)
{
	int	i;

	for (i = 0; i < drop.nqueue; i++)
		if (strcmp(drop.queue[i], name) == 0)
			return 1;
	return strcmp(drop.name, name) == 0 && drop.fd != -1;
}

/*
 * Queue name to be taken; a dotfile only when it is our leftover. -1 when
 * the queue is full: the file is found again by a sweep once there is room.
 */
static int
enqueue(const char *name, int leftover)
{
	if ((name[0] == '.' && !leftover) || queued(name) ||
	    strlen(name) > NAME_MAX)
		return 0;
	if (drop.nqueue == QUEUE_MAX) {
		drop.overflow = 1;
		return -1;
	}
	(void)strlcpy(drop.queue[drop.nqueue++], name, NAME_MAX + 1);
	return 0;
}

int
drop_event(uint32_t mask, const char *name)
{
	if (mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* The directory went away: watched again once one is back. */
		if (!(mask & IN_IGNORED) && drop.wd != -1)
			(void)inotify_rm_watch(drop.ifd, drop.wd);
		drop.wd = -1;
		return 1;
	}
	/* Our own renames to TAKING show up here too: dotfiles are skipped. */
	if (name == NULL || name[0] == '.')
		return 0;
	if (mask & IN_MOVED_TO)
		return enqueue(name, 0) == -1;
	return 1;
}

static int
skipped(const char *name, const struct stat *st)
{
	uint64_t	h = hash_str(name);
	int		i;

	for (i = 0; i < drop.nskip; i++)
		if (drop.skip[i].h == h && drop.skip[i].ino == st->st_ino &&
		    drop.skip[i].size == st->st_size &&
		    drop.skip[i].mtime.tv_sec == st->st_mtim.tv_sec &&
		    drop.skip[i].mtime.tv_nsec == st->st_mtim.tv_nsec)
			return 1;
	return 0;
}

/* Remember a file we cannot take or remove, so it is not taken again. */
static void
skip_add(const char *name, const struct stat *st)
{
	struct skip	*s;

	s = &drop.skip[drop.nskip < SKIP_MAX ? drop.nskip++ : SKIP_MAX - 1];
	s->h = hash_str(name);
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
}

/* A file seen with the same size and mtime for a second is ready. */
static int
stable(const char *name, const struct stat *st, uint64_t now)
{
	uint64_t	 h = hash_str(name);
	struct cand	*c;
	int		 i;

	for (i = 0; i < drop.ncand; i++)
		if (drop.cand[i].h == h)
			break;
	if (i == drop.ncand) {
		if (drop.ncand == CAND_MAX)
			return 0;	/* watched once others are gone */
		drop.ncand++;
		c = &drop.cand[i];
		c->h = h;
		c->size = st->st_size;
		c->mtime = st->st_mtim;
		c->since = now;
		c->seen = 1;
		return 0;
	}
	c = &drop.cand[i];
	c->seen = 1;
	if (c->size != st->st_size || c->mtime.tv_sec != st->st_mtim.tv_sec ||
	    c->mtime.tv_nsec != st->st_mtim.tv_nsec) {
		c->size = st->st_size;
		c->mtime = st->st_mtim;
		c->since = now;
		return 0;
	}
	return now - c->since >= DROP_STABLE_MS;
}

int
drop_sweep(uint64_t now)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	int		 i, j;

	if ((d = opendir(drop.dir)) == NULL) {
		if (!drop.failing)
			log_warn("drop directory %s", drop.dir);
		drop.failing = 1;
		return 1;
	}
	if (drop.failing)
		log_info("drop directory %s is readable again", drop.dir);
	drop.failing = 0;
	drop.overflow = 0;
	add_watch();
	for (i = 0; i < drop.ncand; i++)
		drop.cand[i].seen = 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || queued(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || skipped(de->d_name, &st))
			continue;
		if (stable(de->d_name, &st, now))
			(void)enqueue(de->d_name, 0);
	}
	closedir(d);
	for (i = j = 0; i < drop.ncand; i++)
		if (drop.cand[i].seen)
			drop.cand[j++] = drop.cand[i];
	drop.ncand = j;
	return drop.ncand > 0 || drop.wd == -1 || drop.overflow;
}

static void
ingest_drop_line(const char *line, size_t len, int toolong, uint64_t now)
{
	struct runner	*r = drop.r;
	char		 out[LINE_MAX_BYTES], shown[81];
	size_t		 outlen;
	int		 status;

	if (toolong)
		status = METRIC_TOO_LONG;
	else
		status = line_plain(line, len, r->max_line, clock_wall(), out,
		    sizeof(out), &outlen);
	if (status == METRIC_EMPTY)
		return;
	if (status == METRIC_OK) {
		if (r->emit(r, out, outlen) == -1)
			drop.st.dropped++;
		else {
			drop.st.lines++;
			drop.lines++;
		}
		return;
	}
	drop.st.rejected[status]++;
	if (!loglimit_take(&drop.rejlog, REJECT_LOG_BURST, now))
		return;
	line_sanitize(shown, sizeof(shown), line, len);
	log_warnx("drop file %s: rejected (%s): \"%s%s\"", drop.name,
	    metric_status_name(status), shown,
	    toolong || len > sizeof(shown) - 1 ? "..." : "");
}

static void
ingest(const char *data, size_t n, uint64_t now)
{
	const char	*end = data + n, *nl;
	size_t		 seg;

	while (data < end) {
		nl = memchr(data, '\n', end - data);
		seg = (nl != NULL ? nl : end) - data;
		if (drop.toolong) {
			/* the rest of a long line */
		} else if (drop.len == 0 && nl != NULL) {
			ingest_drop_line(data, seg, 0, now);
		} else if (drop.len + seg <= drop.r->max_line) {
			memcpy(drop.buf + drop.len, data, seg);
			drop.len += seg;
			if (nl != NULL) {
				ingest_drop_line(drop.buf, drop.len, 0, now);
				drop.len = 0;
			}
		} else {
			ingest_drop_line(drop.buf, drop.len, 1, now);
			drop.len = 0;
			drop.toolong = 1;
		}
		if (nl == NULL)
			break;
		drop.toolong = 0;
		data = nl + 1;
	}
}

/*
 * Open the next queued file, renamed out of the way first; 0, or -1 when
 * there is none to take.
 */
static int
take_next(void)
{
	struct stat	st;
	char		from[PATH_MAX];
	int		n;

	while (drop.nqueue > 0) {
		(void)strlcpy(drop.name, drop.queue[0], sizeof(drop.name));
		memmove(drop.queue[0], drop.queue[1],
		    (size_t)(drop.nqueue - 1) * sizeof(drop.queue[0]));
		drop.nqueue--;
		n = snprintf(from, sizeof(from), "%s/%s", drop.dir, drop.name);
		if (n < 0 || (size_t)n >= sizeof(from))
			continue;
		if (strncmp(drop.name, TAKING, strlen(TAKING)) == 0 ||
		    strlen(drop.name) + strlen(TAKING) > NAME_MAX)
			(void)strlcpy(drop.path, from, sizeof(drop.path));
		else {
			n = snprintf(drop.path, sizeof(drop.path), "%s/%s%s",
			    drop.dir, TAKING, drop.name);
			if (n < 0 || (size_t)n >= sizeof(drop.path))
				continue;
			if (rename(from, drop.path) == -1) {
				if (errno != ENOENT && lstat(from, &st) == 0 &&
				    !skipped(drop.name, &st)) {
					log_warn("drop file %s", from);
					skip_add(drop.name, &st);
				}
				continue;
			}
		}
		drop.fd = open(drop.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (drop.fd == -1) {
			log_warn("drop file %s", drop.path);
			continue;
		}
		if (fstat(drop.fd, &st) == -1 || !S_ISREG(st.st_mode)) {
			close(drop.fd);
			drop.fd = -1;
			continue;
		}
		drop.len = 0;
		drop.toolong = 0;
		drop.lines = 0;
		return 0;
	}
	drop.name[0] = '\0';
	return -1;
}

/* The whole file is in the spool: make that durable, then remove it. */
static void
finish(uint64_t now)
{
	if (drop.len > 0 && !drop.toolong)
		ingest_drop_line(drop.buf, drop.len, 0, now);
	drop.len = 0;
	if (spool_sync(drop.r->spool) == -1) {
		/* Kept: a later start takes it again, once the spool works. */
		log_warnx("drop file %s: the spool could not be synced; "
		    "keeping %s", drop.name, drop.path);
	} else if (unlink(drop.path) == -1 && errno != ENOENT) {
		log_warn("drop file %s ingested, but %s cannot be removed",
		    drop.name, drop.path);
		drop.st.errors++;
	} else {
		log_debug("drop file %s: %llu lines", drop.name,
		    (unsigned long long)drop.lines);
		drop.st.files++;
	}
	close(drop.fd);
	drop.fd = -1;
	drop.name[0] = '\0';
}

int
drop_work(uint64_t now)
{
	static char	chunk[DROP_CHUNK];
	size_t		done = 0;
	ssize_t		n;

	while (done < DROP_BUDGET) {
		if (drop.fd == -1 && take_next() == -1)
			return 0;
		if ((n = read(drop.fd, chunk, sizeof(chunk))) == -1) {
			if (errno == EINTR)
				continue;
			log_warn("drop file %s", drop.path);
			drop.st.errors++;
			close(drop.fd);
			drop.fd = -1;
			continue;
		}
		if (n == 0) {
			finish(now);
			continue;
		}
		ingest(chunk, (size_t)n, now);
		done += (size_t)n;
	}
	return 1;
}

void
drop_close(void)
{
	if (drop.fd != -1)
		close(drop.fd);
	drop.fd = -1;
	free(drop.buf);
	drop.buf = NULL;
}

const struct drop_stats *
drop_stats(void)
{
	return &drop.st;
}
