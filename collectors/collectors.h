/*
 * ferry-collectors: runs every executable of the collectors directories on
 * its interval (or once, as a daemon), reads Graphite plaintext from its
 * stdout, prefixes, validates and rate-limits it, and appends it to the
 * spool stream "collectors"; also ingests the files of the drop directory.
 *
 * runner.c	main(), the poll loop, timers, self-metrics
 * scan.c	the two directories: what may run, what is refused and why
 * sched.c	when: a stable offset per name, the daemon restart backoff
 * bucket.c	how much: the token bucket of the rate limits
 * exec.c	spawn (no shell), timeout, process-group kill, reap
 * printed.c	a collector's stdout and stderr: lines, limits, logging
 * line.c	one line: prefix, validate, normalise
 * drop.c	the drop directory: whole files, ingested once
 * archive.c	archive.log: a copy of every collector metric
 * inline.c	the built-ins sampled in this process (builtin_mode inline)
 *
 * sched.c, bucket.c, line.c and scan.c use nothing but libferry, so a unit
 * test can include one of them alone.
 */
#ifndef FERRY_COLLECTORS_H
#define FERRY_COLLECTORS_H

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "metric.h"

struct ferry_conf;
struct collector_conf;
struct collect;
struct collect_def;
struct spool;
struct archive;

#define COLL_NAME_MAX	64	/* longer file names are refused */
#define COLL_MAX	256	/* collectors running at once */
#define LINE_MAX_BYTES	8192	/* the receiver's bound on a formatted line */
#define ERRLINE_MAX	512	/* a stderr line logged; the rest is cut */
#define READ_CHUNK	65536	/* one read per pipe per loop turn */
#define STOP_GRACE_MS	2000	/* SIGTERM, then SIGKILL of the group */

/* bucket.c: a token bucket (Scalyr's rate limit): rate per second, burst. */
struct bucket {
	double		 rate;
	double		 burst;
	double		 tokens;	/* may go below 0: a debt */
	uint64_t	 last_ms;
};

void		 bucket_init(struct bucket *, double, double, uint64_t);
void		 bucket_refill(struct bucket *, uint64_t);
/* Whole tokens available now (0 when in debt). */
uint64_t	 bucket_avail(struct bucket *, uint64_t);
void		 bucket_take(struct bucket *, uint64_t);
/* Milliseconds until at least want tokens are there (0: now). */
uint64_t	 bucket_wait_ms(const struct bucket *, double, uint64_t);

/* sched.c */
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	60000
#define STABLE_MS	60000	/* a daemon that ran this long starts over */

uint64_t	 sched_offset(const char *, uint64_t);
uint64_t	 sched_next(uint64_t, uint64_t, uint64_t);
uint64_t	 sched_backoff(int);

/* line.c */
/*
 * The prefix "<prefix>.<host>." with the dots of the hostname made '_';
 * returns its length, or 0 when it does not fit.
 */
size_t		 line_prefix(char *, size_t, const char *, const char *);
/*
 * One line (no newline) of a collector: prefix, validate with the
 * receiver's parser, normalise into out as "name value ts\n". Returns an
 * enum metric_status; *outlen is set on METRIC_OK.
 */
int		 line_collector(const char *, size_t, const char *, size_t,
		    size_t, int64_t, char *, size_t, size_t *);
/* One line of a drop file: the same without a prefix. */
int		 line_plain(const char *, size_t, size_t, int64_t, char *,
		    size_t, size_t *);
/* A printable, bounded copy of bytes for the log. */
void		 line_sanitize(char *, size_t, const char *, size_t);

/* scan.c */
/* Who may own a collector: root, the configured user, ourselves. */
struct scan_owners {
	uid_t	uid[3];
	int	n;
	int	resolved;	/* the configured user was looked up */
	char	user[64];	/* the configured user's name, for messages */
};

void		 scan_owners_init(struct scan_owners *, const char *);
/*
 * 0 when st describes a file we may execute; -1 with why filled in when
 * it is refused; 1 when it is simply not a collector (not a regular
 * executable file), which is not worth a warning.
 */
int		 scan_check(const struct stat *, struct scan_owners *, char *,
		    size_t);
/* Whether a directory entry's name can be a collector. */
int		 scan_name_ok(const char *);
/*
 * Call found(name, path, st, arg) for each collector in dir that may run.
 * Refusals are logged once per file state. 0, or -1 when dir cannot be
 * read (logged once until it can).
 */
int		 scan_dir(const char *, struct scan_owners *,
		    void (*)(const char *, const char *, const struct stat *,
		    void *), void *);
/* Forget the refusals not seen since the last scan_begin(). */
void		 scan_begin(void);
void		 scan_end(void);

/* The rest is the program's own state. */

enum coll_state {
	COLL_IDLE,		/* waiting for its next run (interval) */
	COLL_RUNNING,		/* a process exists */
	COLL_BACKOFF,		/* daemon: waiting to be restarted */
	COLL_GONE		/* removed, or disabled: free when reaped */
};

struct coll_stats {
	uint64_t	runs;
	uint64_t	lines;		/* accepted */
	uint64_t	rejected[METRIC_NSTATUS];
	uint64_t	cut;		/* over max_lines, or a torn last line */
	uint64_t	timeouts;
	uint64_t	failures;	/* exit != 0, a signal, cannot execute */
	uint64_t	skipped;	/* a run not started: the last one runs */
	uint64_t	dropped;	/* valid, lost to a spool error */
	uint64_t	restarts;	/* daemon */
};

/* At most `burst` log lines of one kind per minute; the rest counted. */
struct loglimit {
	uint64_t	window;		/* mono ms the minute started */
	unsigned	shown;
	unsigned	hidden;
};

/* One pipe of a running collector and its unfinished line. */
struct pipe_in {
	int		 fd;		/* -1: closed */
	char		*buf;
	size_t		 len;
	size_t		 cap;
	int		 toolong;	/* skipping the rest of a long line */
};

struct collector {
	TAILQ_ENTRY(collector)	 entry;
	char			 name[COLL_NAME_MAX + 1];
	char			 mname[COLL_NAME_MAX + 1]; /* for metric names */
	char			 path[PATH_MAX];
	const struct collector_conf *cc;	/* its section, or NULL */
	dev_t			 dev;		/* the file, as last scanned */
	ino_t			 ino;
	struct timespec		 mtime;

	/* Settings, resolved from its section and the collectors section. */
	const struct collect_def *inl;		/* sampled inline (inline.c) */
	struct collect		*sampler;	/* inline: its counters */
	int			 daemon;
	uint64_t		 interval_ms;
	uint64_t		 timeout_ms;
	uint64_t		 max_lines;
	uint64_t		 max_bps;

	enum coll_state		 state;
	int			 gone;		/* removed from disk */
	int			 seen;		/* found by the current scan */
	pid_t			 pid;		/* > 0 while it runs */
	uint64_t		 offset_ms;
	uint64_t		 due;		/* next run, or restart */
	uint64_t		 started;	/* mono ms the run started */
	/* Wall s the last run started (a daemon: last printed); 0 never. */
	int64_t			 last_run;
	int64_t			 duration_ms;	/* last run's; -1: none ended */
	uint64_t		 deadline;	/* timeout; 0 for a daemon */
	uint64_t		 kill_at;	/* SIGKILL after a stop; 0 none */
	int			 killed;	/* we killed it: timeout or stop */
	int			 stopping;	/* SIGTERM sent */
	int			 failing;	/* consecutive failed runs */
	int			 timing_out;	/* consecutive timeouts */
	int			 skipping;	/* consecutive skipped runs */
	int			 refused;	/* logged: not safe to run now */
	int			 restarts;	/* daemon: consecutive, backoff */

	struct pipe_in		 out;
	struct pipe_in		 err;
	struct bucket		 bytes;		/* max_bytes_per_second */
	struct bucket		 lines;		/* daemon: max_lines per interval */
	uint64_t		 run_lines;	/* this run, accepted */
	int			 draining;	/* over max_lines: read, count, drop */

	uint64_t		 run_cut;	/* this run */
	uint64_t		 cut_unlogged;	/* cut since the last notice */
	uint64_t		 cut_logged_at;

	/* Rate-limited logging of rejects and stderr lines. */
	struct loglimit		 rejlog;
	struct loglimit		 errlog;

	struct coll_stats	 st;
};
TAILQ_HEAD(collector_list, collector);

/* The context every part of the runner shares. */
struct runner {
	const struct ferry_conf	*conf;
	struct spool		*spool;
	struct archive		*archive;	/* NULL unless collectors.archive */
	/*
	 * Where a validated, normalised line goes: runner.c's takes it to the
	 * spool and the archive, a fuzz target's checks it. Passed in, so the
	 * modules that read lines never call back into runner.c.
	 */
	int			(*emit)(struct runner *, const char *, size_t);
	struct collector_list	 list;
	int			 ncoll;
	struct scan_owners	 owners;
	char			 prefix[512];	/* "<prefix>.<host>." */
	size_t			 prefixlen;
	size_t			 max_line;
	char			 state_dir[PATH_MAX];
	int			 quit;
	uint64_t		 quit_at;
};

/* exec.c */
/* Whether c's file may run now; logs a refusal once per streak. 0 or -1. */
int		 exec_allowed(struct runner *, struct collector *);
int		 exec_spawn(struct runner *, struct collector *, uint64_t);
void		 exec_timeouts(struct runner *, uint64_t);
/*
 * Reap the exited children up to the next of our collectors and return
 * it, its run over; NULL when none is left. The runner decides what comes
 * next.
 */
struct collector *exec_reap(struct runner *, uint64_t);
void		 exec_stop(struct collector *, uint64_t);
void		 exec_kill_all(struct runner *);
void		 exec_kill_strays(void);

/* printed.c */
int		 printed_open(struct runner *, struct collector *, int, int);
/* Read what one pipe has (one chunk); at_exit: everything left. */
void		 printed_read(struct runner *, struct collector *,
		    struct pipe_in *, uint64_t, int);
/* Whole lines an inline collector printed, taken as its stdout's. */
void		 printed_feed(struct runner *, struct collector *, const char *,
		    size_t, uint64_t);
/* The run is over: drain, take or count the last line, close. */
void		 printed_close(struct runner *, struct collector *, int,
		    uint64_t);
/* Whether the pipe should be polled now; else *wake is when. */
int		 printed_wants(struct collector *, const struct pipe_in *,
		    uint64_t, uint64_t *);
/* Each second: notices of cut lines and hidden log lines, when due. */
void		 printed_housekeep(struct collector *, uint64_t);
/* 1 when a line of this kind may be logged now. */
int		 loglimit_take(struct loglimit *, unsigned, uint64_t);

/* drop.c */
struct drop_stats {
	uint64_t	files;
	uint64_t	lines;
	uint64_t	rejected[METRIC_NSTATUS];
	uint64_t	dropped;
	uint64_t	errors;
};

int		 drop_init(struct runner *, int);
/*
 * An inotify event of drop_watch() (name NULL when it has none): 1 when
 * the directory should be swept now. A file renamed in is queued at once.
 */
int		 drop_event(uint32_t, const char *);
int		 drop_watch(void);
/*
 * Look at the directory and queue what is ready: after an inotify event
 * of the watch, and again in a second while this returns 1 (a file is
 * waiting for a stable size, or there is no watch to tell).
 */
int		 drop_sweep(uint64_t);
/* Ingest a bounded amount; 1 while a file is still in progress. */
int		 drop_work(uint64_t);
void		 drop_close(void);
const struct drop_stats *drop_stats(void);

/* archive.c */
struct archive	*archive_open(const char *);
void		 archive_append(struct archive *, const char *, size_t);
void		 archive_flush(struct archive *);
/* Reopen when the file was moved away (logrotate); each second. */
void		 archive_check(struct archive *);
uint64_t	 archive_dropped(const struct archive *);
void		 archive_close(struct archive *);

/* inline.c */
/* The built-in this process can sample by that name, or NULL. */
const struct collect_def *inline_find(const char *);
/* Sample c now, its lines to the spool as a run's would go. */
void		 inline_run(struct runner *, struct collector *, uint64_t);
void		 inline_free(struct collector *);

#endif
