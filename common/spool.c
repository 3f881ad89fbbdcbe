/*
 * spool: segment files of whole text lines, written by one process per
 * stream and read by the forwarder without any lock between them.
 *
 * The rules that make that safe (see spool.h and ARCHITECTURE.md):
 *  - a writer only appends whole lines, and a failed write(2) is cut back
 *    with ftruncate() so a short write never leaves half a line behind;
 *  - a writer never appends to a segment again once a later one of its
 *    stream exists, so "a later segment exists" means "finished";
 *  - a reader checks "finished" before it reads to the end, never after, or
 *    it could miss what was appended between its last read and the check;
 *  - at open a writer cuts the torn last line a crash may have left (power
 *    loss between write and fsync) and counts it;
 *  - on a full disk a writer moves on to the memory directory with the next
 *    seq; it comes back by writing its pending lines to a hidden probe file
 *    on disk and renaming that to the next seq only once the write
 *    succeeded, so no reader ever sees a segment appear and vanish.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "spool.h"

#define SPOOL_WBUF	(128 * 1024)	/* writer: coalesce into large writes */
/*
 * A reader's buffer: one per (output, stream) in the forwarder, so it is
 * kept small (an idle stream's reader holds its last bytes); it doubles
 * for a longer line.
 */
#define SPOOL_RBUF_MIN	(16 * 1024)
#define SPOOL_RBUF_MAX	(4 * 1024 * 1024) /* a longer line is skipped, counted */
#define SEQ_DIGITS	16
#define PROBE_MS	1000	/* in memory: how often to try the disk again */
#define NEXT_CHECK_MS	20	/* reader: a miss of the next segment holds */

struct spool {
	char		 dir[4096];
	char		 memdir[4096];	/* "" when there is no memory fallback */
	char		 stream[SPOOL_STREAM_MAX];
	int		 inmem;		/* the open segment is in memdir */
	uint64_t	 mem_segment_size;
	uint64_t	 probe_due;	/* monotonic ms */
	uint64_t	 seq;
	int		 fd;
	uint64_t	 size;		/* bytes on disk in the open segment */
	uint64_t	 segment_size;
	int		 fsync;
	int		 dirty;		/* written since the last fdatasync */
	uint64_t	 torn;
	size_t		 len;
	char		 buf[SPOOL_WBUF];
};

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

int
spool_seg_path(char *buf, size_t size, const char *dir, const char *stream,
    uint64_t seq)
{
	int	n = snprintf(buf, size, "%s/%s.%0*" PRIu64, dir, stream, SEQ_DIGITS, seq);

	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int
spool_name_parse(const char *name, char *stream, size_t size, uint64_t *seq)
{
	const char	*dot = strrchr(name, '.');
	size_t		 slen, i;
	uint64_t	 v = 0;

	if (dot == NULL || strlen(dot + 1) != SEQ_DIGITS)
		return -1;
	slen = dot - name;
	if (slen == 0 || slen >= size || slen >= SPOOL_STREAM_MAX)
		return -1;
	for (i = 0; i < slen; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return -1;
	for (i = 1; i <= SEQ_DIGITS; i++) {
		if (!isdigit((unsigned char)dot[i]))
			return -1;
		v = v * 10 + (dot[i] - '0');
	}
	memcpy(stream, name, slen);
	stream[slen] = '\0';
	*seq = v;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct spool_seg	*x = a, *y = b;
	int			 c = strcmp(x->stream, y->stream);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Append dir's segments to *segs; 0, or -1 (logged). A missing memdir is empty. */
static int
list_dir(const char *dir, int inmem, struct spool_seg **segs, size_t *n,
    size_t *cap)
{
	DIR		*d;
	struct dirent	*de;
	struct spool_seg *tmp;
	struct stat	 st;
	char		 path[4096];

	if ((d = opendir(dir)) == NULL) {
		if (inmem && errno == ENOENT)
			return 0;
		log_warn("opendir %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct spool_seg s;

		memset(&s, 0, sizeof(s));
		if (spool_name_parse(de->d_name, s.stream, sizeof(s.stream), &s.seq) == -1)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) == -1)
			continue;	/* deleted since readdir: nothing to list */
		s.size = st.st_size;
		s.mtime = st.st_mtime;
		s.inmem = inmem;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			if ((tmp = reallocarray(*segs, *cap, sizeof(**segs))) == NULL) {
				log_warn("reallocarray");
				closedir(d);
				return -1;
			}
			*segs = tmp;
		}
		(*segs)[(*n)++] = s;
	}
	closedir(d);
	return 0;
}

int
spool_list(const char *dir, const char *memdir, struct spool_seg **out,
    size_t *nout)
{
	struct spool_seg *segs = NULL;
	size_t		 n = 0, cap = 0, i;

	*out = NULL;
	*nout = 0;
	if (list_dir(dir, 0, &segs, &n, &cap) == -1 ||
	    (memdir != NULL && memdir[0] != '\0' &&
	    list_dir(memdir, 1, &segs, &n, &cap) == -1)) {
		free(segs);
		return -1;
	}
	if (n > 1)
		qsort(segs, n, sizeof(*segs), seg_cmp);
	for (i = 0; i + 1 < n; i++)
		segs[i].finished = strcmp(segs[i].stream, segs[i + 1].stream) == 0;
	*out = segs;
	*nout = n;
	return 0;
}

/* fsync a directory so a created or removed entry survives a power loss. */
static void
sync_dir(const char *dir)
{
	int	fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	if (fsync(fd) == -1)
		log_warn("fsync %s", dir);
	close(fd);
}

/*
 * Cut everything after the last newline of path; returns the bytes cut, or
 * -1. Reads backwards in blocks, so a large segment costs one block.
 */
static int64_t
cut_torn_tail(const char *path, uint64_t *newsize)
{
	char		 blk[4096];
	struct stat	 st;
	int64_t		 cut = -1;
	off_t		 pos;
	ssize_t		 n, i;
	int		 fd;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	if (fstat(fd, &st) == -1)
		goto done;
	pos = st.st_size;
	while (pos > 0) {
		off_t from = pos > (off_t)sizeof(blk) ? pos - (off_t)sizeof(blk) : 0;

		if ((n = pread(fd, blk, pos - from, from)) <= 0)
			goto done;
		for (i = n - 1; i >= 0 && blk[i] != '\n'; i--)
			;
		if (i >= 0) {
			pos = from + i + 1;
			break;
		}
		pos = from;
	}
	cut = st.st_size - pos;
	*newsize = pos;
	if (cut > 0 && (ftruncate(fd, pos) == -1 || fsync(fd) == -1)) {
		log_warn("truncate %s", path);
		cut = -1;
	}
done:
	if (cut == -1 && errno != 0)
		log_warn("%s", path);
	close(fd);
	return cut;
}

static const char *
spool_place(const struct spool *s)
{
	return s->inmem ? s->memdir : s->dir;
}

static int
spool_create_segment(struct spool *s)
{
	char	path[4096];

	if (spool_seg_path(path, sizeof(path), spool_place(s), s->stream,
	    s->seq) == -1) {
		log_warnx("spool path too long: %s", spool_place(s));
		return -1;
	}
	s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (s->fd == -1) {
		log_warn("open %s", path);
		return -1;
	}
	s->size = lseek(s->fd, 0, SEEK_END);
	if (!s->inmem)
		sync_dir(s->dir);
	return 0;
}

/* The last segment of our stream: repaired, and reused when empty. */
static int
spool_recover(struct spool *s, int *reuse)
{
	struct spool_seg	*segs;
	size_t			 n, i;
	uint64_t		 newsize = 0;
	int64_t			 cut;
	char			 path[4096];

	int			 inmem = 0;

	*reuse = 0;
	s->seq = 0;
	if (spool_list(s->dir, s->memdir, &segs, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (strcmp(segs[i].stream, s->stream) == 0 && segs[i].seq > s->seq) {
			s->seq = segs[i].seq;
			inmem = segs[i].inmem;
		}
	}
	free(segs);
	if (s->seq == 0)
		return 0;
	if (spool_seg_path(path, sizeof(path), inmem ? s->memdir : s->dir,
	    s->stream, s->seq) == -1 || (cut = cut_torn_tail(path, &newsize)) == -1)
		return -1;
	if (cut > 0) {
		s->torn += cut;
		log_warnx("%s: cut a torn last line of %" PRId64 " bytes left by "
		    "a crash", path, cut);
	}
	/* Reuse only an empty disk segment: we always start on disk. */
	*reuse = newsize == 0 && cut == 0 && !inmem;
	return 0;
}

struct spool *
spool_open(const char *dir, const char *memdir, const char *stream,
    const struct spool_conf *conf)
{
	struct spool	*s;
	int		 reuse;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	s->fd = -1;
	strlcpy(s->dir, dir, sizeof(s->dir));
	strlcpy(s->memdir, memdir ? memdir : "", sizeof(s->memdir));
	strlcpy(s->stream, stream, sizeof(s->stream));
	s->segment_size = conf->segment_size;
	/* Small enough that the memory cap can let the oldest go. */
	s->mem_segment_size = conf->memory_max_size / 4;
	if (s->mem_segment_size > s->segment_size || s->mem_segment_size == 0)
		s->mem_segment_size = s->segment_size;
	s->fsync = conf->fsync;
	if (spool_recover(s, &reuse) == -1) {
		free(s);
		return NULL;
	}
	/*
	 * A fresh segment at every start makes the previous one finished, so
	 * the forwarder may delete it once passed. An empty one is reused so a
	 * crash loop does not pile up empty files.
	 */
	if (!reuse)
		s->seq++;
	if (spool_create_segment(s) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

static int
spool_rotate(struct spool *s)
{
	if (s->fsync && !s->inmem && fdatasync(s->fd) == -1)
		log_warn("fdatasync %s/%s", s->dir, s->stream);
	close(s->fd);
	s->fd = -1;
	s->dirty = 0;
	s->seq++;
	return spool_create_segment(s);
}

/* write(2) all of buf, or cut the segment back to its old size and fail. */
static int
write_whole(int fd, uint64_t oldsize, const char *buf, size_t len)
{
	size_t	done = 0;
	ssize_t	n;

	while (done < len) {
		n = write(fd, buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			int saved = n == 0 ? ENOSPC : errno;

			if (done > 0 && ftruncate(fd, oldsize) == -1)
				log_warn("ftruncate");
			errno = saved;
			return -1;
		}
		done += n;
	}
	return 0;
}

static int
disk_full(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/* The disk is full: go on with the next seq in memdir. */
static int
spool_to_memory(struct spool *s)
{
	char	path[4096];
	int	saved = errno;

	if (s->memdir[0] == '\0' || s->inmem) {
		errno = saved;
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s", s->memdir) >= (int)sizeof(path) ||
	    (mkdir(path, 0750) == -1 && errno != EEXIST)) {
		log_warn("mkdir %s", s->memdir);
		errno = saved;
		return -1;
	}
	log_warnx("spool %s: %s is full (%s): writing to %s until it has room",
	    s->stream, s->dir, strerror(saved), s->memdir);
	close(s->fd);
	s->fd = -1;
	s->dirty = 0;
	s->inmem = 1;
	s->seq++;
	s->probe_due = clock_mono_ms() + PROBE_MS;
	return spool_create_segment(s);
}

/*
 * In memory: try the disk with the lines at hand. They go to a hidden probe
 * file that becomes the next segment by rename only once written whole.
 * 0 when the disk took them (we are back on disk), -1 otherwise.
 */
static int
spool_try_disk(struct spool *s, const char *buf, size_t len)
{
	char	probe[4096], path[4096];
	int	fd;

	s->probe_due = clock_mono_ms() + PROBE_MS;
	if (snprintf(probe, sizeof(probe), "%s/.probe-%s", s->dir, s->stream) >=
	    (int)sizeof(probe) ||
	    spool_seg_path(path, sizeof(path), s->dir, s->stream, s->seq + 1) == -1)
		return -1;
	if ((fd = open(probe, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (write_whole(fd, 0, buf, len) == -1 || (s->fsync && fdatasync(fd) == -1) ||
	    rename(probe, path) == -1) {
		close(fd);
		unlink(probe);
		return -1;
	}
	sync_dir(s->dir);
	close(s->fd);
	s->fd = fd;
	s->seq++;
	s->size = len;
	s->inmem = 0;
	s->dirty = 0;
	log_info("spool %s: %s has room again: back to writing there",
	    s->stream, s->dir);
	return 0;
}

static int
spool_write(struct spool *s, const char *buf, size_t len)
{
	uint64_t	limit;

	if (s->inmem && clock_mono_ms() >= s->probe_due &&
	    spool_try_disk(s, buf, len) == 0)
		return 0;
	if (s->fd == -1 && spool_create_segment(s) == -1)
		return -1;
	if (write_whole(s->fd, s->size, buf, len) == -1) {
		if (!disk_full(errno) || spool_to_memory(s) == -1 ||
		    write_whole(s->fd, s->size, buf, len) == -1)
			return -1;
	}
	s->size += len;
	s->dirty = 1;
	limit = s->inmem ? s->mem_segment_size : s->segment_size;
	if (s->size >= limit)
		return spool_rotate(s);
	return 0;
}

int
spool_flush(struct spool *s)
{
	if (s->len == 0)
		return 0;
	if (spool_write(s, s->buf, s->len) == -1)
		return -1;
	s->len = 0;
	return 0;
}

int
spool_append(struct spool *s, const char *data, size_t len)
{
	if (len > sizeof(s->buf) - s->len && spool_flush(s) == -1)
		return -1;
	if (len > sizeof(s->buf))
		return spool_write(s, data, len);
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

size_t
spool_room(const struct spool *s)
{
	return sizeof(s->buf) - s->len;
}

uint64_t
spool_pending(const struct spool *s)
{
	return s->len;
}

void
spool_tell(const struct spool *s, uint64_t *seq, uint64_t *off)
{
	*seq = s->seq;
	*off = s->size;
}

int
spool_in_memory(const struct spool *s)
{
	return s->inmem;
}

uint64_t
spool_torn_bytes(const struct spool *s)
{
	return s->torn;
}

int
spool_sync(struct spool *s)
{
	if (spool_flush(s) == -1)
		return -1;
	if (s->fsync && s->dirty && s->fd != -1 && !s->inmem) {
		if (fdatasync(s->fd) == -1) {
			log_warn("fdatasync %s/%s", s->dir, s->stream);
			return -1;
		}
		s->dirty = 0;
	}
	return 0;
}

void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	if (spool_sync(s) == -1)
		log_warnx("spool %s: %zu bytes could not be written at close",
		    s->stream, s->len);
	if (s->fd != -1)
		close(s->fd);
	free(s);
}

/* Reader. */

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
