/*
 * spoolread: a reader of one stream's segments (spoolseg.h), from a
 * position on, across its segments in both places, with no lock shared
 * with the writer (spoolread.c says why it needs none). It never returns
 * a line without its newline.
 */
#ifndef FERRY_SPOOLREAD_H
#define FERRY_SPOOLREAD_H

#include <stddef.h>
#include <stdint.h>

struct spool_reader;

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
