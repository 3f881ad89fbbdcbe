/*
 * spool: append-only segment files of text lines, one record a line.
 *
 * Each writer owns a stream (its name: "receiver", "collectors", ...) and
 * writes segments "<stream>.<seq>" (seq: 16 decimal digits) in the spool
 * directory, only ever appending runs of whole lines. A segment is finished
 * once a segment of the same stream with a higher seq exists: a writer opens
 * a new segment at every start and at every rotation, so the reader never
 * needs a lock to know a segment will not grow again. At start a writer cuts
 * its previous segment's torn last line (a crash mid-write) and counts it.
 *
 * The reader side never returns a line without its newline.
 *
 * A spool has two places: its directory on disk and a memory-backed one
 * (memdir, "" or NULL for none). When the disk is full (ENOSPC, EDQUOT) a
 * writer continues its stream in memdir with the next seq, and comes back
 * to disk, again with the next seq, once a write there succeeds; so each
 * stream stays one ordered sequence, wherever its segments lie.
 */
#ifndef FERRY_SPOOL_H
#define FERRY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_STREAM_MAX	32

struct spool_conf;
struct spool;
struct spool_reader;

struct spool_seg {
	char		stream[SPOOL_STREAM_MAX];
	uint64_t	seq;
	uint64_t	size;
	int64_t		mtime;		/* last write, seconds */
	int		finished;	/* a later seq of the stream exists */
	int		inmem;		/* in memdir, not on disk */
};

/* Writer: spool_open(dir, memdir, stream, conf). */
struct spool	*spool_open(const char *, const char *, const char *,
		    const struct spool_conf *);
/* Append complete lines; buffered until spool_flush() or the buffer fills. */
int		 spool_append(struct spool *, const char *, size_t);
/* Room left in the write buffer before an append would write. */
size_t		 spool_room(const struct spool *);
int		 spool_flush(struct spool *);		/* write(2) the buffer */
int		 spool_sync(struct spool *);		/* flush, then fdatasync */
void		 spool_close(struct spool *);		/* flush, sync, close */
uint64_t	 spool_torn_bytes(const struct spool *);/* cut at open */
uint64_t	 spool_pending(const struct spool *);	/* bytes buffered */
int		 spool_in_memory(const struct spool *);	/* writing to memdir */
/* Where what was written so far ends: the open segment and its size. */
void		 spool_tell(const struct spool *, uint64_t *, uint64_t *);

/* Listing: every segment in dir and memdir, sorted by stream then seq. */
int		 spool_list(const char *, const char *, struct spool_seg **, size_t *);
int		 spool_seg_path(char *, size_t, const char *, const char *, uint64_t);
int		 spool_name_parse(const char *, char *, size_t, uint64_t *);

/* Reader of one stream from (seq, offset) on: (dir, memdir, stream, seq, off). */
struct spool_reader *spool_reader_open(const char *, const char *, const char *,
		    uint64_t, uint64_t);
/*
 * Next whole line (without its newline): 1 and line/len set, 0 when nothing
 * more is there now, -1 on error. Crossing into the next segment happens
 * here, once the current one is finished and read to its end; a torn tail of
 * a finished segment is skipped and counted.
 */
int		 spool_reader_next(struct spool_reader *, const char **, size_t *);
/* Position just past the last line returned. */
void		 spool_reader_tell(const struct spool_reader *, uint64_t *, uint64_t *);
/* Go back to a position returned earlier by spool_reader_tell(). */
int		 spool_reader_seek(struct spool_reader *, uint64_t, uint64_t);
uint64_t	 spool_reader_torn(const struct spool_reader *);
/* If the reader is in segment seq, give it up and move to the next one. */
void		 spool_reader_skip(struct spool_reader *, uint64_t);
/*
 * For a caller told of new segments another way (inotify): at the end of
 * its segment the reader trusts a look that found no later one for ms
 * (instead of 20), until spool_reader_recheck() says one may have come.
 */
void		 spool_reader_trust(struct spool_reader *, unsigned);
void		 spool_reader_recheck(struct spool_reader *);
void		 spool_reader_close(struct spool_reader *);

#endif
