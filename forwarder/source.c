/*
 * source: the spool side of the forwarder. Each output has its own reader
 * in each spool stream, so a slow output never holds back a fast one; they
 * only share the page cache.
 *
 * Two positions per (output, stream): the reader's, which runs ahead to the
 * end of the batch being built or sent, and the committed one, the cursor in
 * the database, which moves only after the output acknowledged the batch.
 * After a crash the reader restarts from the committed position: at most
 * the one batch that was in flight is sent twice (at-least-once).
 *
 * A segment is deleted only when it is finished and every output's
 * committed cursor has moved past it, and only after that cursor is in the
 * database; a crash in between leaves a segment that the next start deletes.
 * A stream's writer may hold its segments from one on: those stay too.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forwarder.h"
#include "log.h"
#include "progress.h"
#include "record.h"

static char		 spool_dir[4096];
static char		 mem_dir[4096];
static struct progress	*db;
static unsigned		 trust_ms;	/* 0: the reader's own */

int
source_init(const char *dir, const char *memdir, struct progress *p)
{
	strlcpy(spool_dir, dir, sizeof(spool_dir));
	strlcpy(mem_dir, memdir, sizeof(mem_dir));
	db = p;
	return 0;
}

const char *
source_dir(int inmem)
{
	return inmem ? mem_dir : spool_dir;
}

struct stream_pos *
source_pos(struct output *o, const char *stream)
{
	size_t	i;

	for (i = 0; i < o->npos; i++)
		if (strcmp(o->pos[i].stream, stream) == 0)
			return &o->pos[i];
	return NULL;
}

int
source_reads(const struct output *o, const char *stream)
{
	if (o->stream != NULL)
		return strcmp(o->stream, stream) == 0;
	return strcmp(stream, RECORD_BEAT_STREAM) != 0;
}

/* Start reading stream for o: from its cursor, or from the oldest segment. */
static int
pos_add(struct output *o, const char *stream, uint64_t oldest,
    uint64_t oldest_size)
{
	struct stream_pos	*np, *p;
	uint64_t		 seq = oldest, off = 0;
	int			 rc;

	if ((rc = progress_cursor_get(db, o->name, stream, &seq, &off)) == -1)
		return -1;
	/*
	 * A new output, or a database lost or rebuilt: everything still
	 * spooled is sent, which may repeat records (receivers drop them) but
	 * never skips one. Said once per stream; a stream that is new is
	 * still empty when we first see it, and needs no word.
	 */
	if (rc == 0 && oldest_size > 0)
		log_info("output %s: no position in stream %s yet: sending it "
		    "from its oldest segment (%" PRIu64 ")", o->name, stream,
		    oldest);
	if ((np = reallocarray(o->pos, o->npos + 1, sizeof(*np))) == NULL) {
		log_warn("reallocarray");
		return -1;
	}
	o->pos = np;
	p = &o->pos[o->npos];
	memset(p, 0, sizeof(*p));
	strlcpy(p->stream, stream, sizeof(p->stream));
	p->seq = seq;
	p->off = off;
	if ((p->reader = spool_reader_open(spool_dir, mem_dir, stream, seq,
	    off)) == NULL)
		return -1;
	if (trust_ms != 0)
		spool_reader_trust(p->reader, trust_ms);
	o->npos++;
	log_debug("output %s: reading %s from %" PRIu64 ":%" PRIu64, o->name,
	    stream, seq, off);
	return 0;
}

/*
 * The loop is told of new segments (inotify): a reader at the end of its
 * segment need not look for the next one on every batch, only after
 * source_recheck(), or ms after its last look.
 */
void
source_trust(unsigned ms)
{
	trust_ms = ms;
}

/* A segment was created or removed: every reader looks again. */
void
source_recheck(struct output *outs, size_t nouts)
{
	size_t	i, k;

	for (i = 0; i < nouts; i++)
		for (k = 0; k < outs[i].npos; k++)
			spool_reader_recheck(outs[i].pos[k].reader);
}

/* Pick up streams that appeared since the last scan. */
int
source_rescan(struct output *o, size_t unused)
{
	struct spool_seg	*segs;
	size_t			 n, i;
	int			 rc = 0;

	(void)unused;
	if (spool_list(spool_dir, mem_dir, &segs, &n) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(segs[i].stream, segs[i - 1].stream) == 0)
			continue;	/* segs[i] is the oldest of its stream */
		if (source_reads(o, segs[i].stream) &&
		    source_pos(o, segs[i].stream) == NULL &&
		    pos_add(o, segs[i].stream, segs[i].seq, segs[i].size) == -1)
			rc = -1;
	}
	free(segs);
	return rc;
}

#define READ_ERRORS_MAX	3	/* a segment failing this often is moved aside */

/*
 * A segment we cannot read (an I/O error, or something that is not a file)
 * would stop this stream for good if retried forever: move it into
 * spool/corrupt/ for the operator, say so, and go on with the next.
 */
static void
quarantine(struct stream_pos *p)
{
	char		 from[4096], dir[4096], to[4096];
	uint64_t	 seq, off;
	int		 inmem, n;

	if (++p->read_errors < READ_ERRORS_MAX)
		return;
	p->read_errors = 0;
	spool_reader_tell(p->reader, &seq, &off);
	for (inmem = 0; inmem <= 1; inmem++) {
		if (spool_seg_path(from, sizeof(from), source_dir(inmem), p->stream,
		    seq) == -1 || access(from, F_OK) == -1)
			continue;
		n = snprintf(dir, sizeof(dir), "%s/corrupt", spool_dir);
		if (n < 0 || (size_t)n >= sizeof(dir) ||
		    spool_seg_path(to, sizeof(to), dir, p->stream, seq) == -1)
			return;
		if ((mkdir(dir, 0750) == -1 && errno != EEXIST) ||
		    rename(from, to) == -1) {
			log_warn("cannot move unreadable %s aside", from);
			return;
		}
		log_warnx("spool segment %s could not be read %d times: moved to "
		    "%s; its records from offset %" PRIu64 " are not sent", from,
		    READ_ERRORS_MAX, to, off);
		break;
	}
	spool_reader_skip(p->reader, seq);
}

/*
 * Whether o takes this record at all: its filters pass the key, a scheme
 * that carries logs only on request (carbon) has a filter naming it, and
 * o's format for the kind can write it. Passed-over records are counted.
 */
static int
takes(struct output *o, const char *line, size_t len, enum record_kind *kind)
{
	size_t	klen = record_key_len(line, len);

	*kind = record_kind_of(line, len, klen);
	if (*kind == RECORD_BEAT && o->fmt[RECORD_BEAT] == NULL)
		return 0;	/* not a record of the operator's: not counted */
	if (!url_matches(&o->url, line, klen) || (*kind == RECORD_LOG &&
	    o->url.scheme->logs_by_filter &&
	    !url_filter_names(&o->url, line, klen))) {
		o->filtered++;
		return 0;
	}
	if (!format_takes(o->fmt[*kind], *kind)) {
		o->unrenderable++;
		return 0;
	}
	return 1;
}

/*
 * Read up to max records into the batch, taking the streams in turn from a
 * rotating start so a busy stream cannot starve a quiet one. A batch holds
 * one kind of record: one of the other kind ends it. Returns the number
 * added.
 */
int
source_fill(struct output *o, int max, size_t cap)
{
	static size_t	 turn;
	const char	*line;
	size_t		 len, i, k;
	uint64_t	 seq, off;
	enum record_kind kind;
	int		 added = 0, rc, more = 1;

	/* Another turn only when a stream was left with lines to read. */
	while (added < max && more) {
		more = 0;
		for (k = 0; k < o->npos && added < max; k++) {
			struct stream_pos *p = &o->pos[(turn + k) % o->npos];
			struct spool_reader *r = p->reader;
			int self = strncmp(p->stream, "self-", 5) == 0;

			for (i = 0; i < 64 && added < max; i++) {
				spool_reader_tell(r, &seq, &off);
				if ((rc = spool_reader_next(r, &line, &len)) != 1) {
					if (rc == -1)
						quarantine(p);
					break;
				}
				p->read_errors = 0;
				if (!takes(o, line, len, &kind))
					continue;	/* not for this output: passed over */
				if (o->newest_only && o->batch.n > 0)
					batch_clear(&o->batch);	/* a newer one */
				if ((o->batch.n > 0 && kind != o->batch.kind) ||
				    batch_add(&o->batch, line, len, cap) == -1) {
					/* This line starts the next batch. */
					spool_reader_seek(r, seq, off);
					o->batch.full = 1;
					turn++;
					return added;
				}
				o->batch.kind = kind;
				added++;
				o->batch.nself += self;
			}
			if (i == 64)
				more = 1;
		}
	}
	turn++;
	return added;
}

int
source_moved(const struct output *o)
{
	uint64_t	seq, off;
	size_t		i;

	for (i = 0; i < o->npos; i++) {
		spool_reader_tell(o->pos[i].reader, &seq, &off);
		if (seq != o->pos[i].seq || off != o->pos[i].off)
			return 1;
	}
	return 0;
}

/*
 * Make these positions (one per stream, in o->pos order; the streams after
 * n keep theirs) the committed cursors, in one transaction. Returns 1 when
 * a stream moved to a later segment (a cleanup may free one), 0
 * otherwise, -1 on error (nothing committed).
 */
int
source_commit_at(struct output *o, const uint64_t *seq, const uint64_t *off,
    size_t n)
{
	size_t	i;
	int	crossed = 0;

	for (i = 0; i < n && i < o->npos; i++)
		if (seq[i] != o->pos[i].seq || off[i] != o->pos[i].off)
			break;
	if ((i == n || i == o->npos) && !o->end_set)
		return 0;	/* nothing moved: no transaction */
	if (progress_begin(db) == -1)
		return -1;
	if (o->end_set && progress_end_set(db, o->name, &o->end) == -1) {
		progress_rollback(db);
		return -1;
	}
	for (i = 0; i < n && i < o->npos; i++) {
		if (seq[i] == o->pos[i].seq && off[i] == o->pos[i].off)
			continue;
		if (progress_cursor_set(db, o->name, o->pos[i].stream, seq[i],
		    off[i]) == -1) {
			progress_rollback(db);
			return -1;
		}
	}
	if (progress_commit(db) == -1) {
		progress_rollback(db);
		return -1;
	}
	o->end_set = 0;
	for (i = 0; i < n && i < o->npos; i++) {
		if (seq[i] != o->pos[i].seq)
			crossed = 1;
		o->pos[i].seq = seq[i];
		o->pos[i].off = off[i];
	}
	return crossed;
}

int
source_end(const struct output *o, struct output_end *e)
{
	return progress_end_get(db, o->name, e);
}

/* Where every reader stands now, into seq[] and off[] (o->npos each). */
void
source_tell(const struct output *o, uint64_t *seq, uint64_t *off)
{
	size_t	i;

	for (i = 0; i < o->npos; i++)
		spool_reader_tell(o->pos[i].reader, &seq[i], &off[i]);
}

/* Make the readers' positions the committed cursors (see source_commit_at). */
int
source_commit(struct output *o)
{
	uint64_t	*seq, *off;
	int		 rc;

	if ((seq = calloc(o->npos + 1, sizeof(*seq))) == NULL ||
	    (off = calloc(o->npos + 1, sizeof(*off))) == NULL) {
		free(seq);
		log_warn("calloc");
		return -1;
	}
	source_tell(o, seq, off);
	rc = source_commit_at(o, seq, off, o->npos);
	free(seq);
	free(off);
	return rc;
}

/*
 * Has every output committed a cursor past this finished segment? An
 * output marked failed (fail_after) does not count: it holds no segment.
 * 1 passed by all, 2 passed by all but failed ones, 0 not.
 */
static int
segment_passed(const struct spool_seg *s, struct output *outs, size_t nouts)
{
	struct stream_pos	*p;
	size_t			 i;
	int			 rc = 1;

	size_t			 readers = 0;

	if (!s->finished)
		return 0;
	for (i = 0; i < nouts; i++) {
		if (!source_reads(&outs[i], s->stream))
			continue;
		readers++;
		if ((p = source_pos(&outs[i], s->stream)) != NULL &&
		    p->seq > s->seq)
			continue;
		if (!outs[i].failed)
			return 0;
		rc = 2;
	}
	return readers > 0 ? rc : 0;
}

/*
 * Does the stream's writer still need this segment? ferry-tail holds its
 * stream from its last checkpoint's segment on, to read back at a start
 * what it wrote after it (progress_hold_set()).
 */
static int
segment_held(const struct spool_seg *s)
{
	uint64_t	seq;

	return progress_hold_get(db, s->stream, &seq) == 1 && s->seq >= seq;
}

void
source_cleanup(struct output *outs, size_t nouts)
{
	struct spool_seg	*segs;
	size_t			 n, i;
	char			 path[4096];
	uint64_t		 lost;
	int			 passed;

	if (spool_list(spool_dir, mem_dir, &segs, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if ((passed = segment_passed(&segs[i], outs, nouts)) == 0 ||
		    segment_held(&segs[i]))
			continue;
		if (passed == 2) {
			/* Counted as dropped for the failed outputs. */
			if ((lost = cap_drop(&segs[i], outs, nouts)) > 0)
				log_info("deleted %s/%s.%" PRIu64 ": only failed "
				    "outputs still needed it (%" PRIu64 " records "
				    "dropped for them)", source_dir(segs[i].inmem),
				    segs[i].stream, segs[i].seq, lost);
			continue;
		}
		if (spool_seg_path(path, sizeof(path), source_dir(segs[i].inmem),
		    segs[i].stream, segs[i].seq) == 0 && unlink(path) == -1 &&
		    errno != ENOENT)
			log_warn("unlink %s", path);
		else
			log_debug("deleted %s: every output passed it", path);
	}
	free(segs);
}

void
source_close(struct output *o)
{
	size_t	i;

	for (i = 0; i < o->npos; i++)
		spool_reader_close(o->pos[i].reader);
	free(o->pos);
	o->pos = NULL;
	o->npos = 0;
}
