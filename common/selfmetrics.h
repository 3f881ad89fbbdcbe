/*
 * selfmetrics: a process's own counters, written to the spool as ordinary
 * metrics "<prefix>.<hostname>.ferry.<proc>.<name> value ts" in a stream of
 * their own ("self-<proc>"), so they reach the outputs like everything else
 * and ferryctl status can read the latest values from the spool even when
 * the process is down. Values are totals since the process started.
 */
#ifndef FERRY_SELFMETRICS_H
#define FERRY_SELFMETRICS_H

#include <stdint.h>

struct ferry_conf;
struct selfmetrics;

/* selfmetrics_open(conf, spool dir, process name); NULL when it cannot. */
struct selfmetrics *selfmetrics_open(const struct ferry_conf *, const char *,
		    const char *);
void		 selfmetrics_close(struct selfmetrics *);

/*
 * A process declares each of its values once, and selfmetrics_publish()
 * does the rest: it reads every declared value, and writes a snapshot of
 * all of them when one moved (at most every min_ms) and every max_ms
 * anyway. Nothing is summed by hand, so no value can be written and not
 * watched. The pointers and arguments must stay valid until
 * selfmetrics_forget() or selfmetrics_close(); the name is copied.
 */
#define SELFMETRICS_QUIET	0x1	/* in the snapshot, but its moving alone
					   writes none: a level, such as the
					   spool's size, that a snapshot moves */
#define SELFMETRICS_NONZERO	0x2	/* left out of the snapshot while 0 */
#define SELFMETRICS_HIDDEN	0x4	/* watched, never written: its moving
					   writes a snapshot (the caller
					   publishes it elsewhere too) */

/* A value read by a function: 1 and *v set, 0 when it has none (left out). */
typedef int	(*selfmetrics_fn)(const void *, uint64_t *);

/* Functions for a spool writer's values; their argument is the spool. */
int		 selfmetrics_spool_torn(const void *, uint64_t *);
int		 selfmetrics_spool_memory(const void *, uint64_t *);

/* (sm, name, value, flags): a value read through its pointer; 0 or -1. */
int		 selfmetrics_declare(struct selfmetrics *, const char *,
		    const uint64_t *, int);
/* (sm, name, function, its argument, flags); 0 or -1. */
int		 selfmetrics_declare_fn(struct selfmetrics *, const char *,
		    selfmetrics_fn, const void *, int);
/* Forget every declaration (a set that changed is declared again). */
void		 selfmetrics_forget(struct selfmetrics *);
/*
 * (sm, min_ms, max_ms): a moved value is written at most every min_ms; an
 * unmoved snapshot again every max_ms, never when it is 0. By default
 * (0, 60000). A value moves from what it was when declared; the first
 * publish writes, unless max_ms is 0 and nothing moved.
 */
void		 selfmetrics_pace(struct selfmetrics *, uint64_t, uint64_t);
/* Count the values as written now (the first snapshot waits for a move). */
void		 selfmetrics_hold(struct selfmetrics *, uint64_t);
/* When the next snapshot is due (monotonic ms); UINT64_MAX: never. */
uint64_t	 selfmetrics_due(const struct selfmetrics *);
/*
 * (sm, now_ms, force): write a snapshot of the declared values, stamped
 * with the wall clock, when due or forced: 1 written, 0 not due, -1 it
 * could not be written (logged).
 */
int		 selfmetrics_publish(struct selfmetrics *, uint64_t, int);

/*
 * By hand, for a process that writes on events rather than on changes:
 * queue one value for the next selfmetrics_write(), which appends what
 * was queued, stamped with the time given, and writes it out; 0 or -1.
 */
void		 selfmetrics_add(struct selfmetrics *, const char *, uint64_t);
int		 selfmetrics_write(struct selfmetrics *, int64_t);

/*
 * The latest values a process wrote (its newest self segment's tail), as
 * (name without the prefix, value) pairs; 1 when some were found, 0 none.
 * Arguments: spool dir, memory dir (or NULL), process name, callback, arg.
 */
int		 selfmetrics_read(const char *, const char *, const char *,
		    void (*)(const char *, uint64_t, void *), void *);

#endif
