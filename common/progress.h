/*
 * progress: the SQLite progress database shared by every process
 * (/var/opt/ferry/ferry.db, WAL mode, busy timeout, prepared statements kept
 * open). It holds each output's cursor in each spool stream and each
 * process's state as the supervisor sees it (counters travel as
 * self-metrics in the spool instead). No other file touches SQLite (the sink
 * has its own store).
 */
#ifndef FERRY_PROGRESS_H
#define FERRY_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

struct progress;

struct proc_state {
	char		name[32];
	int		pid;
	char		state[16];	/* starting running backoff fatal stopped */
	int		restarts;
	int64_t		started;	/* wall seconds */
	int		last_exit;	/* wait status as text in last_exit_str */
	char		last_exit_str[32];
	int64_t		last_exit_at;
};

/* One output as the forwarder last saw it. */
struct output_state {
	char		name[64];
	char		state[16];	/* sending retrying failed deadlettering */
	int64_t		since;		/* wall seconds: in this state since */
	int64_t		last_success;	/* last acknowledged batch, 0 never */
	char		last_error[256];
	int64_t		last_error_at;
	uint64_t	sent, dropped, deadlettered, retries;
	int64_t		last_drop_at;	/* when records were last dropped, 0 never */
	int64_t		updated;
};

/*
 * Where ferry-tail stands in one log file, known by its identity (device,
 * inode, and a hash of its first fplen bytes, which tells a new file from
 * an old one that had the same inode). Everything before offset (line
 * numbers before line) is in the spool, and fsynced there; the spool's
 * "tail" stream was at (spool_seq, spool_off) then, so whatever ferry-tail
 * wrote after the commit is found from there on at the next start.
 */
struct tail_checkpoint {
	uint64_t	dev, ino, fp;
	int		fplen;
	char		log[64];	/* the log section that followed it */
	char		path[1024];	/* the path its lines are numbered under */
	int64_t		offset, line;	/* the next byte, the next line's number */
	uint64_t	spool_seq, spool_off;
	int64_t		updated;	/* wall seconds */
};

/*
 * The next line number at a log path, kept when the files that were at it
 * are let go (their rows deleted), so that a file made there later, after
 * a restart, numbers on instead of from 1 (the sink stores a line under
 * host+file+line: a number given twice overwrites a line).
 */
struct tail_path {
	char		log[64];
	char		path[1024];
	int64_t		next;
	int64_t		updated;	/* wall seconds */
};

struct progress	*progress_open(const char *);
/* ferry.db in its place under $FERRY_ROOT, the folder made first. */
struct progress	*progress_open_db(void);
/* For readers such as ferryctl: never creates or changes anything. */
struct progress	*progress_open_ro(const char *);
void		 progress_close(struct progress *);
/* How long a write waits for another process's lock (default 5000 ms). */
void		 progress_busy_timeout(struct progress *, int);
int		 progress_begin(struct progress *);
int		 progress_commit(struct progress *);
int		 progress_rollback(struct progress *);

/* Cursors: 1 found, 0 none yet, -1 error. */
int		 progress_cursor_get(struct progress *, const char *, const char *,
		    uint64_t *, uint64_t *);
int		 progress_cursor_set(struct progress *, const char *, const char *,
		    uint64_t, uint64_t);
/* Lowest seq any of these outputs still needs in stream; 1 found, 0 none. */
int		 progress_cursor_min(struct progress *, const char *,
		    const char *const *, int, uint64_t *);

/*
 * Where an output's own side ended at its last commit: a file output's
 * file (dev, ino) and size, written in the transaction that moves its
 * cursors, so that bytes past it at the next start are known to be a batch
 * written but never committed (transport_file.c). 1 found, 0 none, -1 error.
 */
struct output_end {
	uint64_t	dev, ino;
	int64_t		size;
};
int		 progress_end_get(struct progress *, const char *,
		    struct output_end *);
int		 progress_end_set(struct progress *, const char *,
		    const struct output_end *);

int		 progress_output_set(struct progress *, const struct output_state *);
int		 progress_output_each(struct progress *,
		    void (*)(const struct output_state *, void *), void *);
/*
 * Every output's state as an array: progress_outputs(p, &v, &n), free(v)
 * after. 0, or -1 when not every row could be read (v holds those that
 * were).
 */
int		 progress_outputs(struct progress *, struct output_state **,
		    size_t *);
/* The state of the output named name among v[0..n), or NULL. */
const struct output_state *output_state_find(const struct output_state *,
		    size_t, const char *);

int		 progress_proc_set(struct progress *, const struct proc_state *);
/* Calls fn for each process row, in name order. */
int		 progress_proc_each(struct progress *,
		    void (*)(const struct proc_state *, void *), void *);

/* ferry-tail's checkpoints: one row per file identity (dev, ino). */
int		 progress_tail_set(struct progress *, const struct tail_checkpoint *);
int		 progress_tail_each(struct progress *,
		    void (*)(const struct tail_checkpoint *, void *), void *);
int		 progress_tail_delete(struct progress *, uint64_t, uint64_t);
/* A path's next number only ever rises; rows updated before a time go. */
int		 progress_tail_path_set(struct progress *, const struct tail_path *);
int		 progress_tail_path_each(struct progress *,
		    void (*)(const struct tail_path *, void *), void *);
int		 progress_tail_path_prune(struct progress *, int64_t);

/*
 * A spool stream's hold: its writer still needs the segments from seq on
 * (ferry-tail reads back, at a start, what it wrote after its last
 * checkpoint), so the forwarder deletes none of them, passed or not.
 * progress_hold_get: 1 and *seq when the stream has one, 0 when not.
 */
int		 progress_hold_set(struct progress *, const char *, uint64_t);
int		 progress_hold_get(struct progress *, const char *, uint64_t *);

/*
 * What ferry-tail found running (tail/discover.c), for ferryctl status:
 * a log it follows (path set), or a note on what it skipped (path "").
 */
struct discovered_row {
	char		service[64];
	char		path[1024];
	char		format[64];
	char		origin[1200];	/* "nginx[PID] FILE:LINE" */
	char		note[512];
	int64_t		updated;	/* wall seconds */
};

/* Replace the rows of service with these n, in one transaction. */
int		 progress_discovered_set(struct progress *, const char *,
		    const struct discovered_row *, size_t);
/* Each row, by service; none when ferry-tail never wrote any. */
int		 progress_discovered_each(struct progress *,
		    void (*)(const struct discovered_row *, void *), void *);

/*
 * Housekeeping (ferry-periodic). Each deletes, in one transaction, the rows
 * of the names its list does not hold, and returns how many rows went, or
 * -1. progress_prune_outputs(keep, n): cursor and output rows of outputs
 * no longer configured. progress_prune_streams(live, n): cursor rows of
 * spool streams that have no segment left (a writer that starts such a
 * stream again numbers it from 1, which an old cursor would skip).
 */
int		 progress_prune_outputs(struct progress *, const char *const *,
		    size_t);
int		 progress_prune_streams(struct progress *, const char *const *,
		    size_t);


#endif
