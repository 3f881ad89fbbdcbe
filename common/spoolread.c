/*
 * spoolread: a reader of one stream's segments (see spoolread.h), written
 * by a writer (spool.c) it shares no lock with.
 *
 * What makes that safe, on this side: a segment is finished once a later
 * one of its stream exists, and a reader checks "finished" before it reads
 * to the end, never after, or it could miss what was appended between its
 * last read and the check. An unterminated tail of a segment that may
 * still grow is not kept: the writer may cut it back and write other bytes
 * there.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "spoolread.h"
#include "spoolseg.h"

/*
 * A reader's buffer: one per (output, stream) in the forwarder, so it is
 * kept small (an idle stream's reader holds its last bytes); it doubles
 * for a longer line.
 */
#define SPOOL_RBUF_MIN	(16 * 1024)
#define SPOOL_RBUF_MAX	(4 * 1024 * 1024) /* a longer line is skipped, counted */
#define NEXT_CHECK_MS	20	/* reader: a miss of the next segment holds */

struct spool_reader {
	char		 dir[4096];
	char		 memdir[4096];
	char		 stream[SPOOL_STREAM_MAX];
	uint64_t	 next_check;	/* mono ms: no later segment before this */
	unsigned	 trust_ms;	/* how long a miss holds (NEXT_CHECK_MS) */
	uint64_t	 listed_seq;	/* a listing found nothing after this seq */
	struct timespec	 listed_disk;	/* ... while the places had these mtimes */
	struct timespec	 listed_mem;
	uint64_t	 listed_at;	/* mono ms; mtimes are coarse, so it expires */
	int		 listed_settled;/* ... unless both were older than it */
	uint64_t	 seq;
	uint64_t	 off;		/* file offset just past the last line */
	int		 fd;
	int		 finished;
	uint64_t	 torn;
	uint64_t	 bufoff;	/* file offset of buf[0] */
	size_t		 start, end, cap;
	char		*buf;
};

struct spool_reader *
spool_reader_open(const char *dir, const char *memdir, const char *stream,
    uint64_t seq, uint64_t off)
{
	struct spool_reader	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->buf = malloc(SPOOL_RBUF_MIN)) == NULL) {
		log_warn("calloc");
		free(r);
		return NULL;
	}
	r->cap = SPOOL_RBUF_MIN;
	r->fd = -1;
	r->trust_ms = NEXT_CHECK_MS;
	strlcpy(r->dir, dir, sizeof(r->dir));
	strlcpy(r->memdir, memdir ? memdir : "", sizeof(r->memdir));
	strlcpy(r->stream, stream, sizeof(r->stream));
	r->seq = seq;
	r->off = r->bufoff = off;
	return r;
}

void
spool_reader_close(struct spool_reader *r)
{
	if (r == NULL)
		return;
	if (r->fd != -1)
		close(r->fd);
	free(r->buf);
	free(r);
}

void
spool_reader_tell(const struct spool_reader *r, uint64_t *seq, uint64_t *off)
{
	*seq = r->seq;
	*off = r->off;
}

int
spool_reader_seek(struct spool_reader *r, uint64_t seq, uint64_t off)
{
	if (seq != r->seq) {
		if (r->fd != -1)
			close(r->fd);
		r->fd = -1;
		r->finished = 0;
		r->next_check = 0;	/* a miss was about another place */
	}
	r->seq = seq;
	r->off = r->bufoff = off;
	r->start = r->end = 0;
	return 0;
}

uint64_t
spool_reader_torn(const struct spool_reader *r)
{
	return r->torn;
}

/* Open segment seq from the disk or the memory place; -1 with errno. */
static int
seg_open(const struct spool_reader *r, uint64_t seq)
{
	char	path[4096];
	int	fd;

	if (spool_seg_path(path, sizeof(path), r->dir, r->stream, seq) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 || errno != ENOENT ||
	    r->memdir[0] == '\0')
		return fd;
	if (spool_seg_path(path, sizeof(path), r->memdir, r->stream, seq) == -1)
		return -1;
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int
seg_exists(const struct spool_reader *r, uint64_t seq)
{
	char	path[4096];

	if (spool_seg_path(path, sizeof(path), r->dir, r->stream, seq) == 0 &&
	    access(path, F_OK) == 0)
		return 1;
	return r->memdir[0] != '\0' &&
	    spool_seg_path(path, sizeof(path), r->memdir, r->stream, seq) == 0 &&
	    access(path, F_OK) == 0;
}

/* The modification times of both places: any create or delete moves one. */
static void
places_mtime(const struct spool_reader *r, struct timespec *disk,
    struct timespec *mem)
{
	struct stat	st;

	memset(disk, 0, sizeof(*disk));
	memset(mem, 0, sizeof(*mem));
	if (stat(r->dir, &st) == 0)
		*disk = st.st_mtim;
	if (r->memdir[0] != '\0' && stat(r->memdir, &st) == 0)
		*mem = st.st_mtim;
}

/*
 * The segment after ours: seq + 1 normally; after the caps deleted some, or
 * when the stream moved between places, the lowest existing one above
 * ours, wherever it is. 0 when there is none yet. Finding a gap takes a
 * listing, so a miss is remembered until either place changes. Directory
 * times tick coarsely (the kernel stamps them with its coarse clock), so a
 * create in the same tick as the listing would not show: a miss is trusted
 * for good only when both places were last changed in an earlier tick than
 * the listing ("settled"), otherwise for a second. An idle stream's reader
 * then costs two stat()s, not a listing of the spool each second.
 */
/* Is a earlier than b by more than a millisecond (so in an earlier tick)? */
static int
ts_before(const struct timespec *a, const struct timespec *b)
{
	int64_t	am = (int64_t)a->tv_sec * 1000 + a->tv_nsec / 1000000;
	int64_t	bm = (int64_t)b->tv_sec * 1000 + b->tv_nsec / 1000000;

	return am + 1 < bm;
}

static uint64_t
next_seq(struct spool_reader *r)
{
	struct spool_seg	*segs;
	struct timespec		 disk, mem, tick;
	size_t			 n, i;
	uint64_t		 next = 0;

	/* Nothing created or deleted since a settled miss: still none. */
	places_mtime(r, &disk, &mem);
	if (r->listed_seq == r->seq && r->listed_settled &&
	    memcmp(&disk, &r->listed_disk, sizeof(disk)) == 0 &&
	    memcmp(&mem, &r->listed_mem, sizeof(mem)) == 0)
		return 0;
	if (seg_exists(r, r->seq + 1))
		return r->seq + 1;
	if (r->listed_seq == r->seq && clock_mono_ms() < r->listed_at + 1000 &&
	    memcmp(&disk, &r->listed_disk, sizeof(disk)) == 0 &&
	    memcmp(&mem, &r->listed_mem, sizeof(mem)) == 0)
		return 0;
	(void)clock_gettime(CLOCK_REALTIME_COARSE, &tick);
	if (spool_list(r->dir, r->memdir, &segs, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		if (strcmp(segs[i].stream, r->stream) == 0 && segs[i].seq > r->seq) {
			next = segs[i].seq;
			break;
		}
	free(segs);
	if (next == 0) {
		r->listed_seq = r->seq;
		r->listed_at = clock_mono_ms();
		r->listed_disk = disk;
		r->listed_mem = mem;
		r->listed_settled = ts_before(&disk, &tick) &&
		    ts_before(&mem, &tick);
	}
	return next;
}

/*
 * An idle stream's reader is asked for lines on every batch; looking for a
 * later segment each time costs path lookups for nothing. A miss is
 * trusted for NEXT_CHECK_MS, which is all it can add to the moment a
 * reader moves on after a rotation; longer for a caller that is told of
 * new segments (spool_reader_trust()).
 */

static uint64_t
next_seq_throttled(struct spool_reader *r)
{
	uint64_t	now = clock_mono_ms(), next;

	if (now < r->next_check)
		return 0;
	if ((next = next_seq(r)) == 0)
		r->next_check = now + r->trust_ms;
	return next;
}

void
spool_reader_trust(struct spool_reader *r, unsigned ms)
{
	r->trust_ms = ms;
	r->next_check = 0;
}

void
spool_reader_recheck(struct spool_reader *r)
{
	r->next_check = 0;
}

static int
reader_open_fd(struct spool_reader *r)
{
	if ((r->fd = seg_open(r, r->seq)) == -1) {
		if (errno != ENOENT)
			log_warn("open spool %s.%" PRIu64, r->stream, r->seq);
		return -1;
	}
	return 0;
}

/* Read more bytes after what is buffered: >0 read, 0 at end, -1 error. */
static ssize_t
reader_fill(struct spool_reader *r)
{
	ssize_t	n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->bufoff += r->start;
		r->end -= r->start;
		r->start = 0;
	}
	if (r->end == r->cap) {
		char *nbuf;

		if (r->cap >= SPOOL_RBUF_MAX) {
			/* No writer writes such a line; skip it rather than stall. */
			log_warnx("spool %s.%" PRIu64 ": a line longer than %d "
			    "bytes at offset %" PRIu64 " skipped", r->stream,
			    r->seq, SPOOL_RBUF_MAX, r->bufoff);
			r->torn += r->end;
			r->bufoff += r->end;
			r->end = 0;
		/* cap >= SPOOL_RBUF_MIN since the open, never 0: */
		/* NOLINTNEXTLINE(clang-analyzer-optin.portability.UnixAPI) */
		} else if ((nbuf = realloc(r->buf, r->cap * 2)) == NULL) {
			log_warn("realloc");
			return -1;
		} else {
			r->buf = nbuf;
			r->cap *= 2;
		}
	}
	do {
		n = pread(r->fd, r->buf + r->end, r->cap - r->end, r->bufoff + r->end);
	} while (n == -1 && errno == EINTR);
	if (n == -1) {
		log_warn("read spool %s.%" PRIu64, r->stream, r->seq);
		return -1;
	}
	r->end += n;
	return n;
}

/* Move on to the next segment; what is left unterminated is a torn tail. */
static void
reader_advance(struct spool_reader *r, uint64_t next)
{
	if (r->end > r->start) {
		r->torn += r->end - r->start;
		log_warnx("spool %s.%" PRIu64 ": skipped a torn last line of %zu "
		    "bytes", r->stream, r->seq, r->end - r->start);
	}
	close(r->fd);
	r->fd = -1;
	r->finished = 0;
	r->seq = next;
	r->off = r->bufoff = 0;
	r->start = r->end = 0;
}

void
spool_reader_skip(struct spool_reader *r, uint64_t seq)
{
	if (r->seq != seq)
		return;
	if (r->fd != -1)
		close(r->fd);
	r->fd = -1;
	r->finished = 0;
	r->seq = seq + 1;
	r->off = r->bufoff = 0;
	r->start = r->end = 0;
	r->next_check = 0;	/* a miss was about another place */
}

int
spool_reader_next(struct spool_reader *r, const char **line, size_t *len)
{
	char		*nl;
	uint64_t	 next;
	ssize_t		 n;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = nl - *line;
			r->start = nl + 1 - r->buf;
			r->off = r->bufoff + r->start;
			return 1;
		}
		if (r->fd == -1 && reader_open_fd(r) == -1) {
			/* Gone (deleted by the cap) or not there yet. */
			if ((next = next_seq_throttled(r)) == 0)
				return 0;
			r->seq = next;
			r->off = r->bufoff = 0;
			r->start = r->end = 0;
			continue;
		}
		if ((n = reader_fill(r)) == -1)
			return -1;
		if (n > 0)
			continue;
		if (r->finished) {
			/* Read to the end of a finished segment: move on. */
			if ((next = next_seq(r)) == 0)
				return 0;
			reader_advance(r, next);
			continue;
		}
		/*
		 * At the end of a segment that may still grow. Its unterminated
		 * tail is not kept: the writer may yet cut it back and write
		 * other bytes there, so it is read afresh next time. Finished?
		 * Check first, then read to the end once more: bytes appended
		 * between our last read and the check must not be skipped.
		 */
		r->end = r->start;
		if (next_seq_throttled(r) == 0)
			return 0;
		r->finished = 1;
	}
}
