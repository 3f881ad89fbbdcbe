/*
 * transport: the seam between an output's state machine (output.c), which
 * knows no scheme, and the code that moves its bytes to a peer. A transport
 * is a table of operations, as carbon-c-relay's server.c keeps a stream's
 * write, flush and close: output.c hands it a batch with start(), and the
 * transport answers once, later or at once, through output_done() with one
 * neutral result: sent, retry (after at least some time), or refused for
 * good (the batch is dead-lettered and never blocks what follows).
 *
 * No transport blocks and none owns a loop. The forwarder's loop asks each
 * for the descriptors it waits on and when it next needs the time
 * (fds()), polls them all at once, and gives each its descriptors back with
 * what happened (progress()). A transport whose connections are shared by
 * its outputs (libcurl's multi handle) reports those once, through
 * shared_fds()/shared_progress(), and its outputs' own (a resolver's) per
 * output.
 *
 * What "sent" means is each transport's nearest thing to an
 * acknowledgement; ARCHITECTURE.md lists them.
 */
#ifndef FERRY_TRANSPORT_H
#define FERRY_TRANSPORT_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct output;

enum tr_status {
	TR_SENT,		/* acknowledged: move the cursor */
	TR_RETRY,		/* not delivered: send the same batch again */
	TR_REFUSED		/* the peer will never take it: set it aside */
};

struct tr_result {
	enum tr_status	 status;
	uint64_t	 retry_after_ms;	/* RETRY: no sooner than this */
	char		 code[32];		/* the peer's word: "400", "WRONGTYPE" */
	char		 why[256];		/* RETRY, REFUSED: for log and status */
};

/* The most descriptors one call of fds() or shared_fds() may add. */
#define TR_FDS_MAX	24

struct transport {
	const char	*name;
	/* Once per process, when an output first uses it; NULL: nothing. */
	int		(*init)(void);
	void		(*cleanup)(void);
	int		(*shared_fds)(struct pollfd *, int, uint64_t *);
	void		(*shared_progress)(const struct pollfd *, int, uint64_t);
	/* Make o's state (o->tstate); no I/O yet. 0 or -1 (logged). */
	int		(*open)(struct output *);
	/*
	 * Begin sending o->batch. The answer comes through output_done(),
	 * possibly before start() returns. -1: could not even begin (then
	 * output.c retries; output_done() must not have been called).
	 */
	int		(*start)(struct output *, uint64_t);
	/* o's descriptors to poll (at most max) and, lowered, when it is next due. */
	int		(*fds)(struct output *, struct pollfd *, int, uint64_t *);
	/* After the poll: the descriptors fds() gave, with revents. */
	void		(*progress)(struct output *, const struct pollfd *, int,
			    uint64_t);
	/* SIGUSR1: files by name again (logrotate); NULL: nothing to do. */
	void		(*reopen)(struct output *);
	void		(*close)(struct output *);
};

const struct transport *transport_find(const char *);

/*
 * The forwarder's wait: poll the caller's descriptors (readable), every
 * transport's and every output's, for up to timeout_ms or until one is due,
 * then hand each transport and output its descriptors back. The caller's
 * revents are set in place.
 */
void	transport_wait(struct pollfd *, int, struct output *, size_t, int);
void	transport_cleanup(void);

/* Shorthands for transports answering output_done(). */
void	tr_sent(struct output *, uint64_t);
void	tr_retry(struct output *, uint64_t, uint64_t, const char *, ...)
	    __attribute__((format(printf, 4, 5)));
/* Refused with the peer's code (a word, for the dead-letter header), and why. */
void	tr_refused(struct output *, uint64_t, const char *, const char *, ...)
	    __attribute__((format(printf, 4, 5)));

#endif
