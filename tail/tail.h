/*
 * ferry-tail: follows log files through every kind of rotation and copies
 * each line, with its origin, into the spool stream "tail"; its event and
 * logmetric rules make events and metrics of those lines, into the same
 * stream.
 *
 * Files: tail.c (main, the loop, flush and sync, the metrics' intervals),
 * source.c (a log section: its glob, finding files, telling rotations
 * apart by identity, the rules that take it), recover.c (at start, the
 * files rotated while ferry-tail was down), file.c (one followed file:
 * reading, lines, truncation), pipeline.c (multiline, redaction,
 * sampling, the record and its events into the spool), derive.c (the
 * event and logmetric rules; derive.h), parser.c (how a rule reads a
 * record: parser.h, fields.h), histo.c (summaries), watch.c (inotify,
 * with stat polling when it is not there), checkpoint.c (where each file
 * stands in ferry.db, and the spool's own tail at start).
 *
 * Discovery (discover.h): discover.c runs the discoverers (one file each:
 * discover_nginx.c, with nginxconf.c reading nginx's configuration) with
 * every rescan, and keeps a source per service found, whose files are the
 * paths found (source->named) rather than a glob's; logformat.c cuts a
 * line of such a file into fields by its format.
 */
#ifndef FERRY_TAIL_H
#define FERRY_TAIL_H

#include <sys/queue.h>
#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "buf.h"
#include "record.h"

struct ferry_conf;
struct log_conf;
struct derive_set;
struct fields;
struct logformat;
struct progress;
struct spool;
struct tail_checkpoint;

#define FP_MAX		256	/* bytes a file's fingerprint covers, at most */
#define READ_QUANTUM	(256 << 10)	/* a file's share of one pass */
#define TAIL_STREAM	"tail"		/* the spool stream of the records */

/* A redact or sample rule: its expression compiled once. */
struct rule {
	pcre2_code	*re;
	const char	*replace;	/* redact */
	double		 rate;		/* sample: the share kept */
};

/* What ferryctl status shows of a log section: totals since start. */
struct source_counters {
	uint64_t	lines, bytes;		/* read (before sampling) */
	uint64_t	records;		/* into the spool */
	uint64_t	cut;			/* lines longer than max_line */
	uint64_t	sampled_out;
	uint64_t	rotations;
	uint64_t	lost_bytes;		/* known lost: let go or cut unread */
	uint64_t	errors;
};

struct tfile;

/*
 * The line numbers of one path, shared by every file that has been at it:
 * the reference sink stores a line under host+file+line, so the file that
 * replaces a rotated one numbers on from where the rotated one ends, and
 * the sink rebuilds the path's whole history in order. Rotated files are
 * read to their end, oldest first, before their successor is read.
 */
struct pathctr {
	LIST_ENTRY(pathctr)	 entry;
	char			*path;
	int64_t			 next;		/* the number of the next line */
	/* After the lines of its files let go; as last committed. */
	int64_t			 gone, gone_ck;
	int			 order;		/* files that have been at it */
	TAILQ_HEAD(, tfile)	 members;
	/* A discovered path's format (discover.c), as of discover_gen. */
	const struct logformat	*format;
	uint64_t		 format_gen;
};

/*
 * One log "NAME" section, or a discovered service's files (discover.c):
 * then lc is made by discovery and named lists the files, which scans
 * look for instead of a glob.
 */
struct source {
	TAILQ_ENTRY(source)	 entry;
	const struct log_conf	*lc;
	int			 discovered;	/* made by discover.c */
	/* Discovered: a record cut by its file's format (discover_parse()). */
	int			(*parse_file)(struct tfile *, const char *,
				    size_t, struct fields *);
	char			**named;	/* discovered: its files */
	size_t			 nnamed;
	char			 key[256];	/* systail.NAME.HOST unless set */
	char			**attrs;
	size_t			 nattrs;
	struct rule		*redact;
	size_t			 nredact;
	struct rule		*sample;
	size_t			 nsample;
	pcre2_code		*ml_start;	/* NULL: one line, one record */
	int			 ml_max_lines;
	uint64_t		 ml_timeout_ms;
	size_t			 max_line;
	int			 from;		/* enum log_from */
	int			 scanned;	/* a scan has run since start */
	int			 overlap_said;	/* another section has a file */
	struct derive_set	*derive;	/* its rules (derive.h); NULL: none */
	TAILQ_HEAD(, tfile)	 files;
	size_t			 nfiles;
	LIST_HEAD(, pathctr)	 paths;
	struct source_counters	 c;
};

/* One followed file, known by its identity, not its name. */
struct tfile {
	TAILQ_ENTRY(tfile)	 entry;
	TAILQ_ENTRY(tfile)	 pcentry;	/* in its path's members */
	struct source		*src;
	struct pathctr		*pc;		/* the path it was found at */
	int			 order;		/* among the path's files */
	char			*path;		/* its name now */
	int			 fd;		/* -1: closed (idle, or not yet) */
	uint64_t		 dev, ino;
	uint64_t		 fp;		/* hash of the first fplen bytes */
	int			 fplen;
	int64_t			 off;		/* bytes consumed */
	int64_t			 size;		/* as last seen: what a loss says */
	int64_t			 done_off, done_line;	/* all before: handled */
	int64_t			 count_to;	/* from = end: counting lines up to this */
	int64_t			 ck_off, ck_line;	/* as last committed; -1 never */
	int			 renamed;	/* its path changed since the commit */
	int			 rotated;	/* its name is gone: drain, let go */
	int			 released;	/* no longer its source's: drain,
						   let go, checkpoint kept */
	int			 drained;	/* rotated, and read to its end since */
	int			 seen;		/* found by the last scan */
	int			 wd;		/* inotify watch; -1 none (polled) */
	int			 dirty;		/* something to read, maybe */
	int			 unreadable;	/* said so once */
	uint64_t		 active_ms;	/* data last came (mono) */
	/* The line being read (no newline yet). */
	struct buf		 part;
	int64_t			 part_off;
	uint64_t		 part_since;	/* mono ms its first byte came */
	int			 part_cut;	/* longer than max_line: the rest skipped */
	/* A multiline record being joined. */
	struct buf		 ml;
	int64_t			 ml_off, ml_end, ml_line;
	int			 ml_lines;
	uint64_t		 ml_since;
	/* Its records' shared pieces, rendered at its first (pipeline.c). */
	struct log_head		 head;
	int			 head_ok;
	uint64_t		 read_wall_ms;	/* when its last bytes were read */
};

/* tail.c */
extern const struct ferry_conf	*tconf;
extern struct spool		*tspool;
extern int			 spool_blocked;	/* an append failed: stop reading */
extern size_t			 tail_max_open;	/* files open at once, at most */
uint64_t	tail_now(void);

/* source.c */
struct source	*source_new(const struct log_conf *, const struct ferry_conf *);
void		 source_free(struct source *);
void		 source_scan(struct source *, int);
int		 source_read(struct source *, uint64_t, int *);
void		 source_expire(struct source *, uint64_t);
struct tfile	*source_find(struct source *, uint64_t, uint64_t);
/* Where a newly found file starts (its checkpoint, its end, its start). */
void		 source_start(struct source *, struct tfile *, int64_t, int);
/* A discovered source's files now (copied); its files no longer there go. */
int		 source_set_paths(struct source *, char *const *, size_t);
/* Is path the source's? A section's glob: any; a discovered source: named. */
int		 source_lists(const struct source *, const char *);

/* recover.c */
void		 source_recover(struct source *);
size_t		 source_open_files(void);
/* Bytes knowingly lost (what, of path): said once, counted. */
void		 source_lost(struct source *, const char *, int64_t,
		    const char *);

/* file.c */
struct tfile	*tfile_new(struct source *, const char *, const char *,
		    uint64_t, uint64_t);
/* May tf be read now? (a rotated file of its path comes first) */
int		 tfile_turn(const struct tfile *);
void		 tfile_rotated(struct tfile *);
void		 tfile_free(struct tfile *);
int		 tfile_open(struct tfile *);
void		 tfile_close(struct tfile *);
int		 tfile_fingerprint(int, int, uint64_t *);
void		 tfile_resume(struct tfile *, const struct tail_checkpoint *);
int		 tfile_same(const struct tfile *, const char *);
/* Read up to quantum bytes; 1 when there may be more, 0 at the end, -1. */
int		 tfile_read(struct tfile *, uint64_t, size_t);
int		 tfile_at_end(const struct tfile *);
/* What was not read of it, from its gzip'd copy at path, at once. */
int		 tfile_read_gz(struct tfile *, const char *, uint64_t);
void		 tfile_flush_partial(struct tfile *, uint64_t, int);

/* pipeline.c */
int		 pipeline_init(struct source *, char *, size_t);
void		 pipeline_free(struct source *);
/* A whole line read from tf: its bytes (at most max_line), where it was. */
int		 pipeline_line(struct tfile *, const char *, size_t, int64_t,
		    int64_t, int);
/* Flush a multiline record that waited long enough (or all, at end). */
int		 pipeline_flush(struct tfile *, uint64_t, int);

/* watch.c */
int		 watch_init(void);
int		 watch_fd(void);
void		 watch_dir(const char *);
void		 watch_link(const char *);
void		 watch_file(struct tfile *);
void		 watch_forget(struct tfile *);
/* Read events: 1 when a directory changed (scan), 0 otherwise. */
int		 watch_events(void);

/* checkpoint.c */
int		 checkpoint_init(struct progress *, const char *, const char *);
const struct tail_checkpoint *checkpoint_find(uint64_t, uint64_t);
int		 checkpoint_commit(void);
void		 checkpoint_forget(const struct tfile *);
/* Has every line of tf handled so far its checkpoint committed? */
int		 checkpoint_settled(const struct tfile *);
/* Keep tf's committed checkpoint in memory, for when its file comes back. */
void		 checkpoint_park(const struct tfile *);
/* A row whose file is gone for good: deleted, its path's number kept. */
void		 checkpoint_drop(const struct tail_checkpoint *);
/* After the first scans; the rows of logs keep() says are kept in memory. */
void		 checkpoint_cleanup(int (*)(const char *));
int		 checkpoint_known_log(const char *);
int64_t		 checkpoint_path_next(const char *);
void		 checkpoint_each(const char *, void (*)(const struct tail_checkpoint *,
		    void *), void *);
uint64_t	 checkpoint_lag(void);

/* Every source, for whoever must walk them all. */
TAILQ_HEAD(sources, source);
extern struct sources	 sources;

#endif
