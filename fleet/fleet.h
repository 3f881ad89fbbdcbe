/*
 * ferry-fleet: drains shared by a fleet of hosts, from etcd.
 *
 * fleet.c	main() and the one loop: signals, timers and every transfer
 *		to etcd in curl_multi_poll()
 * conn.c	the connection to etcd: endpoints in turn, backoff, the
 *		token, unary requests and the watch stream, never blocking
 * sync.c	what etcd holds: a range of the drain keys, then a watch from
 *		its revision; resumed after a partition, re-read after a
 *		compaction
 * drains.c	the drains meant for this host, as fragments of conf.d/fleet,
 *		each checked before it is kept, then a reload
 * health.c	this host's status key: a lease, and a small JSON summary
 *
 * Nothing else in ferry waits on etcd: the other programs see only the
 * fragments and a SIGHUP, and the fragments stay while etcd is away.
 */
#ifndef FERRY_FLEET_H
#define FERRY_FLEET_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct ferry_conf;

#define FLEET_BACKOFF_MIN_MS	1000
#define FLEET_BACKOFF_MAX_MS	10000
#define FLEET_ANSWER_MAX	(64 << 20)	/* a range of every drain */
#define FLEET_STREAM_MAX	(16 << 20)	/* one watch message */

/* What ferry-fleet counts, published as its self-metrics. */
struct fleet_stats {
	uint64_t	drains;		/* fragments in conf.d/fleet */
	uint64_t	refused;	/* drain values refused now */
	uint64_t	reloads;	/* reloads asked for */
	uint64_t	events;		/* watch events applied */
	uint64_t	resyncs;	/* whole re-reads (start, compaction) */
	uint64_t	etcd_errors;	/* times etcd was found unusable */
	uint64_t	etcd_up;	/* 1 while requests get answers */
	uint64_t	status_puts;
};

/* fleet.c */
extern struct fleet_stats	 fstats;
extern const struct ferry_conf	*fconf;
extern const char		*fconfpath;
/* The counters changed: publish them soon. */
void		 fleet_dirty(void);
/* Remember an error for the status key (never a secret): its text, now. */
void		 fleet_error(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
const char	*fleet_last_error(int64_t *);

/*
 * conn.c. A request's end: rc 0 (a 2xx; the answer), -1 (etcd answered
 * with an error: grpc code and message), -2 (not answered: etcd is being
 * given up on, and a retry comes after the backoff).
 */
typedef void	(*conn_done_fn)(int, const char *, size_t, int, const char *,
		    void *);
/* One message of the watch stream; the end of the stream: NULL, 0. */
typedef void	(*conn_stream_fn)(const char *, size_t, void *);

int		 conn_init(void);
void		 conn_free(void);
int		 conn_poll(int, int, int *);
void		 conn_perform(void);
/* ms until the backoff ends, or -1; conn_tick() ends it when due. */
int		 conn_timeout(uint64_t);
void		 conn_tick(uint64_t);
/* 1 when requests may start: no backoff, a token when one is needed. */
int		 conn_ready(void);
const char	*conn_endpoint(void);
/* POST body (copied) to path; 0, or -1 when it cannot start now. */
int		 conn_request(const char *, const struct buf *, conn_done_fn,
		    void *);
int		 conn_watch(const struct buf *, conn_stream_fn, void *);
int		 conn_watching(void);
void		 conn_watch_cancel(void);
/* etcd answered what cannot be used: give up on it for a backoff. */
void		 conn_fail(const char *);
/*
 * etcd answered something usable (unary answers say so themselves; a
 * watch message, its owner once it read it): back, and logged so once.
 */
void		 conn_reached(void);
/* Transfers in flight (to wait for a revoke at exit). */
int		 conn_busy(void);

/* sync.c */
void		 sync_tick(void);
/*
 * The revision of the last change meant for this host: the whole read's,
 * or its last event's (0 before the first read).
 */
int64_t		 sync_revision(void);

/* drains.c */
int		 drains_init(void);
void		 drains_free(void);
/* Forget every key: a whole re-read follows. */
void		 drains_clear(void);
/*
 * A key and its value (NULL: deleted) from etcd: 1 when it is meant for
 * this host (the table changed, or may have), 0 when it is not.
 */
int		 drains_set(const char *, size_t, const char *, size_t);
/* Make the fragments say what the keys say; reload when they changed. */
void		 drains_apply(void);
/* 1 while the configuration's own errors hold the drains back. */
int		 drains_pending(void);
/* Each drain meant for this host: name, key, error ("" when applied). */
void		 drains_each(void (*)(const char *, const char *, const char *,
		    void *), void *);

/* health.c */
int		 health_init(void);
void		 health_free(void);
void		 health_tick(uint64_t);
int		 health_timeout(uint64_t);
/* Something the summary shows changed: look at the next tick. */
void		 health_poke(void);
/* At exit: revoke the lease, so the host leaves the fleet's view now. */
void		 health_stop(void);

#endif
