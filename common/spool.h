/*
 * spool: the writer of one stream's segments (spoolseg.h): append-only
 * files of text lines, one record a line.
 *
 * A writer only ever appends runs of whole lines, and opens a new segment
 * at every start and at every rotation, so a reader never needs a lock to
 * know a segment will not grow again (spoolread.h). At start a writer cuts
 * its previous segment's torn last line (a crash mid-write) and counts it.
 *
 * When the disk is full (ENOSPC, EDQUOT) a writer continues its stream in
 * the memory place with the next seq, and comes back to disk, again with
 * the next seq, once a write there succeeds.
 */
#ifndef FERRY_SPOOL_H
#define FERRY_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool_conf;
struct spool;

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

#endif
