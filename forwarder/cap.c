/*
 * cap: keeps the spool within spool.max_size on disk and within
 * spool.memory_max_size in the memory fallback, by deleting the oldest
 * finished segments, and counts for each output the records it had not
 * sent from them: those, and only those, are lost.
 *
 * The forwarder enforces the caps because it is the one process that knows
 * every output's position; it runs whenever a writer rotated (inotify), on
 * every write while the spool is near a cap (cap_near()) and once a
 * second, so a cap is kept with a headroom of about one segment (at least
 * 512 KiB, at most half the cap) for what writers append between two
 * checks. Only
 * finished segments go: a writer's open segment is never pulled from under
 * it. Dropping is logged once when it starts and once when it has stopped
 * for a minute, with the counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "forwarder.h"
#include "log.h"

#define QUIET_MS	60000	/* no drop for this long: dropping stopped */
#define RELIEF_MS	2000	/* > a writer's disk probe interval (1 s) */

static uint64_t		 disk_max, memory_max, disk_headroom, memory_headroom;
static struct cap_totals totals;
static int		 dropping;
static uint64_t		 last_drop_ms, dropped_run;
static uint64_t		 relief_due;	/* next disk segment the memory cap may take */

static uint64_t
headroom(uint64_t cap, uint64_t segment)
{
	uint64_t	h = segment > 512 * 1024 ? segment : 512 * 1024;

	return h < cap / 2 ? h : cap / 2;
}

void
cap_init(const struct ferry_conf *conf)
{
	uint64_t	memseg = conf->spool.memory_max_size / 4;

	if (memseg == 0 || memseg > conf->spool.segment_size)
		memseg = conf->spool.segment_size;
	disk_max = conf->spool.max_size;
	memory_max = conf->spool.memory_max_size;
	disk_headroom = headroom(disk_max, conf->spool.segment_size);
	memory_headroom = headroom(memory_max, memseg);
}

const struct cap_totals *
cap_totals(void)
{
	return &totals;
}

/*
 * Whether the spool was, at the last check, within two headrooms of a
 * cap. Further off, appends alone cannot reach it before a writer rotates
 * (a segment is at most a headroom), and a rotation is a check anyway: the
 * loop then need not list the spool on every write.
 */
int
cap_near(void)
{
	return totals.disk_bytes + 2 * disk_headroom >= disk_max ||
	    totals.memory_bytes > 0;
}

/* Lines in path between byte offsets [off, end). */
static uint64_t
lines_between(const char *path, uint64_t off, uint64_t end)
{
	char		buf[65536];
	uint64_t	lines = 0;
	ssize_t		n, i;
	int		fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while (off < end && (n = pread(fd, buf, end - off < sizeof(buf) ?
	    end - off : sizeof(buf), off)) > 0) {
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
		off += n;
	}
	close(fd);
	return lines;
}

static uint64_t
lines_from(const char *path, uint64_t off)
{
	return lines_between(path, off, UINT64_MAX);
}

/*
 * Records of seg already read into o's batch, not yet acknowledged: they
 * are sent if the forwarder lives to see the batch through, and lost if
 * it stops first (see output_orphans_lost()).
 */
static uint64_t
in_batch(struct output *o, const struct spool_seg *seg, const char *path)
{
	struct stream_pos	*p = source_pos(o, seg->stream);
	uint64_t		 seq, off, start;

	if (p == NULL || p->seq > seg->seq)
		return 0;
	spool_reader_tell(p->reader, &seq, &off);
	if (seq < seg->seq)
		return 0;
	start = p->seq == seg->seq ? p->off : 0;
	return lines_between(path, start, seq == seg->seq ? off : UINT64_MAX);
}

/* Records of seg this output will never send once it is gone. */
static uint64_t
unsent(struct output *o, const struct spool_seg *seg, const char *path)
{
	struct stream_pos	*p = source_pos(o, seg->stream);
	uint64_t		 seq, off;

	if (p == NULL)
		return lines_from(path, 0);
	spool_reader_tell(p->reader, &seq, &off);
	if (seq > seg->seq)
		return 0;
	return lines_from(path, seq == seg->seq ? off : 0);
}

/*
 * Delete seg, counting for each output the records it had not sent, and
 * moving any reader inside it on. Returns the most any output lost.
 */
uint64_t
cap_drop(const struct spool_seg *seg, struct output *outs, size_t nouts)
{
	char		path[4096];
	uint64_t	lost, most = 0;
	size_t		i, readers = 0;

	if (spool_seg_path(path, sizeof(path), source_dir(seg->inmem),
	    seg->stream, seg->seq) == -1)
		return 0;
	for (i = 0; i < nouts; i++) {
		struct stream_pos *p = source_pos(&outs[i], seg->stream);

		if (!source_reads(&outs[i], seg->stream))
			continue;
		readers++;
		lost = unsent(&outs[i], seg, path);
		outs[i].dropped += lost;
		if (lost > 0)
			outs[i].last_drop_at = clock_wall();
		outs[i].orphans += in_batch(&outs[i], seg, path);
		if (lost > most)
			most = lost;
		/* A reader inside it must not go on reading the unlinked file. */
		if (p != NULL)
			spool_reader_skip(p->reader, seg->seq);
	}
	if (readers == 0) {
		most = lines_from(path, 0);
		totals.dropped += most;
	}
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("unlink %s", path);
	return most;
}

static void
drop_segment(const struct spool_seg *seg, struct output *outs, size_t nouts,
    uint64_t now)
{
	char		path[4096];
	uint64_t	most;

	if (spool_seg_path(path, sizeof(path), source_dir(seg->inmem),
	    seg->stream, seg->seq) == -1)
		return;
	most = cap_drop(seg, outs, nouts);
	if (!dropping)
		log_warnx("spool over its cap (%s %" PRIu64 " bytes): deleting "
		    "the oldest segments, first %s (%" PRIu64 " records unsent)",
		    seg->inmem ? "spool.memory_max_size" : "spool.max_size",
		    seg->inmem ? memory_max : disk_max, path, most);
	dropping = 1;
	dropped_run += most;
	last_drop_ms = now;
}

/* The oldest finished segment of the given place, or NULL. */
static const struct spool_seg *
oldest_finished(const struct spool_seg *segs, size_t n, int inmem)
{
	const struct spool_seg	*best = NULL;
	size_t			 i;

	for (i = 0; i < n; i++) {
		if (!segs[i].finished || segs[i].inmem != inmem || segs[i].size == 0)
			continue;
		if (best == NULL || segs[i].mtime < best->mtime ||
		    (segs[i].mtime == best->mtime && segs[i].seq < best->seq))
			best = &segs[i];
	}
	return best;
}

static uint64_t
enforce_place(struct spool_seg *segs, size_t n, int inmem, uint64_t total,
    uint64_t limit, struct output *outs, size_t nouts, uint64_t now)
{
	const struct spool_seg	*s;

	while (total > limit && (s = oldest_finished(segs, n, inmem)) != NULL) {
		drop_segment(s, outs, nouts, now);
		total -= s->size;
		((struct spool_seg *)s)->finished = 0;	/* done with it */
	}
	return total;
}

/*
 * Memory over its cap means the disk is full too ("both caps full"), and
 * then the oldest goes, wherever it is: a disk segment, which also gives
 * the writers room to come back to disk. One at most every RELIEF_MS, so
 * the disk is not emptied before a writer has probed it; in between, and
 * when no disk segment is older, memory's oldest go.
 */
static uint64_t
enforce_memory(struct spool_seg *segs, size_t n, uint64_t total,
    uint64_t limit, struct output *outs, size_t nouts, uint64_t now)
{
	const struct spool_seg	*disk, *mem;

	while (total > limit) {
		disk = oldest_finished(segs, n, 0);
		mem = oldest_finished(segs, n, 1);
		if (disk != NULL && now >= relief_due &&
		    (mem == NULL || disk->mtime <= mem->mtime)) {
			drop_segment(disk, outs, nouts, now);
			((struct spool_seg *)disk)->finished = 0;
			relief_due = now + RELIEF_MS;
			continue;
		}
		if (mem == NULL)
			break;
		drop_segment(mem, outs, nouts, now);
		total -= mem->size;
		((struct spool_seg *)mem)->finished = 0;
	}
	return total;
}

void
cap_enforce(struct output *outs, size_t nouts, uint64_t now)
{
	struct spool_seg	*segs;
	uint64_t		 disk = 0, mem = 0;
	size_t			 n, i;

	if (spool_list(source_dir(0), source_dir(1), &segs, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (segs[i].inmem)
			mem += segs[i].size;
		else
			disk += segs[i].size;
	}
	totals.disk_bytes = enforce_place(segs, n, 0, disk, disk_max -
	    disk_headroom, outs, nouts, now);
	totals.memory_bytes = enforce_memory(segs, n, mem, memory_max -
	    memory_headroom, outs, nouts, now);
	free(segs);
	if (dropping && now - last_drop_ms >= QUIET_MS) {
		log_info("spool back within its caps: %" PRIu64 " records were "
		    "deleted unsent (counted per output in output.<name>.dropped)",
		    dropped_run);
		dropping = 0;
		dropped_run = 0;
	}
}
