/*
 * spool: the writer of one stream's segment files of whole text lines,
 * read by the forwarder (spoolread.c) without any lock between them.
 *
 * The rules that make that safe (see spool.h and ARCHITECTURE.md):
 *  - a writer only appends whole lines, and a failed write(2) is cut back
 *    with ftruncate() so a short write never leaves half a line behind;
 *  - a writer never appends to a segment again once a later one of its
 *    stream exists, so "a later segment exists" means "finished";
 *  - at open a writer cuts the torn last line a crash may have left (power
 *    loss between write and fsync) and counts it;
 *  - on a full disk a writer moves on to the memory directory with the next
 *    seq; it comes back by writing its pending lines to a hidden probe file
 *    on disk and renaming that to the next seq only once the write
 *    succeeded, so no reader ever sees a segment appear and vanish.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "spool.h"
#include "spoolseg.h"

#define SPOOL_WBUF	(128 * 1024)	/* writer: coalesce into large writes */
#define PROBE_MS	1000	/* in memory: how often to try the disk again */
#define WRITEBACK_BYTES	(1 << 20) /* a burst: writeback started each megabyte */
#define UNSYNCED_MAX	8	/* finished segments awaiting the next sync */

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
	uint64_t	 unkicked;	/* written since writeback was last started */
	uint64_t	 torn;
	int		 unsynced[UNSYNCED_MAX]; /* finished, not fdatasynced */
	int		 nunsynced;
	int		 dir_dirty;	/* a segment created since the last sync */
	size_t		 len;
	char		 buf[SPOOL_WBUF];
};

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
		s->dir_dirty = 1;	/* its name is made durable by spool_sync() */
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

/* A finished segment's data to disk, and its descriptor closed. */
static int
sync_finished(struct spool *s, int fd)
{
	int	rc = 0;

	if (fdatasync(fd) == -1) {
		log_warn("fdatasync %s/%s", s->dir, s->stream);
		rc = -1;
	}
	close(fd);
	return rc;
}

/*
 * A finished segment is fdatasynced with the open one at the next
 * spool_sync(), not now: a burst (a backlog read up, a flood) would
 * otherwise wait for the disk at every segment, and the promise is the
 * same, nothing written is older than the last sync when it is lost. Its
 * writeback is started now; past UNSYNCED_MAX the oldest is synced at
 * once, so the descriptors kept are bounded.
 */
static void
finish_segment(struct spool *s)
{
	if (!s->fsync || s->inmem) {
		close(s->fd);
		return;
	}
	(void)sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (s->nunsynced == UNSYNCED_MAX) {
		(void)sync_finished(s, s->unsynced[0]);
		memmove(s->unsynced, s->unsynced + 1,
		    (UNSYNCED_MAX - 1) * sizeof(s->unsynced[0]));
		s->nunsynced--;
	}
	s->unsynced[s->nunsynced++] = s->fd;
}

static int
spool_rotate(struct spool *s)
{
	finish_segment(s);
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

/*
 * A writer in a burst (a backlog read up, a flood) has the kernel start
 * writing each megabyte out as it goes, without waiting for it: the
 * fdatasync at the next sync or segment then finds little left to write,
 * instead of stopping the writer while a whole segment goes to disk. A
 * trickle never reaches a megabyte between syncs and costs nothing.
 */
static void
kick_writeback(struct spool *s, size_t len)
{
	if (!s->fsync || s->inmem)
		return;
	s->unkicked += len;
	if (s->unkicked < WRITEBACK_BYTES)
		return;
	s->unkicked = 0;
	(void)sync_file_range(s->fd, 0, 0, SYNC_FILE_RANGE_WRITE);
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
	kick_writeback(s, len);
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
	int	i, rc = 0;

	if (spool_flush(s) == -1)
		return -1;
	for (i = 0; i < s->nunsynced; i++)
		if (sync_finished(s, s->unsynced[i]) == -1)
			rc = -1;
	s->nunsynced = 0;
	if (s->fsync && s->dirty && s->fd != -1 && !s->inmem) {
		if (fdatasync(s->fd) == -1) {
			log_warn("fdatasync %s/%s", s->dir, s->stream);
			return -1;
		}
		s->dirty = 0;
	}
	if (s->dir_dirty) {
		sync_dir(s->dir);
		s->dir_dirty = 0;
	}
	return rc;
}

void
spool_close(struct spool *s)
{
	if (s == NULL)
		return;
	if (spool_sync(s) == -1)
		log_warnx("spool %s: %zu bytes could not be written at close",
		    s->stream, s->len);
	while (s->nunsynced > 0)	/* the sync failed before them */
		close(s->unsynced[--s->nunsynced]);
	if (s->fd != -1)
		close(s->fd);
	free(s);
}
