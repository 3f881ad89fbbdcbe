/*
 * spoolseg: the spool's segments as its writers (spool.h) and its readers
 * (spoolread.h) both see them: their names, their paths and the listing.
 *
 * Each writer owns a stream (its name: "receiver", "collectors", ...) and
 * writes segments "<stream>.<seq>" (seq: 16 decimal digits). A segment is
 * finished once a segment of the same stream with a higher seq exists.
 *
 * A spool has two places: its directory on disk and a memory-backed one
 * (memdir, "" or NULL for none). A stream is one ordered sequence of seqs,
 * wherever its segments lie.
 */
#ifndef FERRY_SPOOLSEG_H
#define FERRY_SPOOLSEG_H

#include <stddef.h>
#include <stdint.h>

#define SPOOL_STREAM_MAX	32

struct spool_seg {
	char		stream[SPOOL_STREAM_MAX];
	uint64_t	seq;
	uint64_t	size;
	int64_t		mtime;		/* last write, seconds */
	int		finished;	/* a later seq of the stream exists */
	int		inmem;		/* in memdir, not on disk */
};

/*
 * Every segment in dir and memdir (which may be NULL, "" or missing),
 * sorted by stream then seq: spool_list(dir, memdir, &segs, &n); 0, or -1
 * (logged). The caller frees segs.
 */
int		 spool_list(const char *, const char *, struct spool_seg **, size_t *);
/* A segment's path: (buf, size, dir, stream, seq); -1 when it does not fit. */
int		 spool_seg_path(char *, size_t, const char *, const char *, uint64_t);
/* A file name as (stream, its size, seq); -1 when it names no segment. */
int		 spool_name_parse(const char *, char *, size_t, uint64_t *);

#endif
