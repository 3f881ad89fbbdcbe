/*
 * backlog: what one output still has to send, worked out from its cursors
 * in the progress database and the spool itself, so it can be shown while
 * the forwarder is down (ferryctl status, the heartbeat).
 */
#ifndef FERRY_BACKLOG_H
#define FERRY_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

struct progress;
struct spool_seg;

struct backlog {
	uint64_t	bytes;
	uint64_t	records;
	int64_t		oldest;		/* timestamp of the oldest unsent record; 0 none */
};

/*
 * (db, spool dir, memory dir or NULL, output name, result): 0 or -1.
 * Records and the oldest record take a read of every unsent byte;
 * backlog_bytes() leaves them at 0 and reads nothing, for callers that run
 * often (the self collector, every interval, through an outage).
 */
int	backlog_compute(struct progress *, const char *, const char *,
	    const char *, struct backlog *);
int	backlog_bytes(struct progress *, const char *, const char *,
	    const char *, struct backlog *);
/* backlog_bytes() over a listing the caller has (from spool_list()). */
int	backlog_bytes_listed(struct progress *, const struct spool_seg *,
	    size_t, const char *, struct backlog *);

#endif
