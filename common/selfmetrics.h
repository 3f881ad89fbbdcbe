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

struct selfmetrics *selfmetrics_open(const struct ferry_conf *, const char *,
		    const char *);
/* Queue one value for the next selfmetrics_write(). */
void		 selfmetrics_add(struct selfmetrics *, const char *, uint64_t);
/* Append what was queued, stamped now, and write it out; 0 or -1. */
int		 selfmetrics_write(struct selfmetrics *, int64_t);
void		 selfmetrics_close(struct selfmetrics *);

/*
 * The latest values a process wrote (its newest self segment's tail), as
 * (name without the prefix, value) pairs; 1 when some were found, 0 none.
 * Arguments: spool dir, memory dir (or NULL), process name, callback, arg.
 */
int		 selfmetrics_read(const char *, const char *, const char *,
		    void (*)(const char *, uint64_t, void *), void *);

#endif
