/*
 * ferry-forwarder: spool streams -> batches -> outputs, cursors in SQLite.
 */
#ifndef FERRY_FORWARDER_H
#define FERRY_FORWARDER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "format.h"
#include "progress.h"
#include "spoolread.h"
#include "spoolseg.h"
#include "url.h"

struct conn_conf;
struct ferry_conf;
struct output_conf;
struct progress;
struct transport;
struct tr_result;

/* Where one output stands in one spool stream. */
struct stream_pos {
	char			 stream[SPOOL_STREAM_MAX];
	struct spool_reader	*reader;	/* read position: batch end */
	uint64_t		 seq, off;	/* committed: acknowledged */
	int			 read_errors;	/* in a row, in the same segment */
};

/*
 * Records read for an output and sent together: the spool lines as they
 * are (each with its newline), all of one kind, so a format can render
 * them and a peer that takes a whole batch (HTTP) gets one envelope.
 */
struct batch {
	char		*body;
	size_t		 len, cap;
	int		 n;		/* records */
	int		 nself;		/* of which ferry's own self-metrics */
	enum record_kind kind;		/* of every record in it */
	int		 full;		/* the next record cannot join it */
	uint64_t	 first_ms;	/* when the first record was read */
};

enum out_state { OUT_IDLE, OUT_SENDING, OUT_BACKOFF };

/*
 * A point in a streaming batch (output_mark()): the records up to body
 * (counted in bytes of the batch since it began, dropped prefixes
 * included) and where every reader stood after them, so that the part the
 * peer acknowledged can be committed while the rest is still on its way.
 */
struct mark {
	uint64_t	 body;
	int		 n, nself;	/* records of the batch up to here */
	uint64_t	*seq, *off;	/* per stream_pos, npos of them */
	size_t		 npos;
};

struct output {
	char			*name;
	char			*uri;
	char			*api_key;
	struct url		 url;		/* options, and the URL to send to */
	const struct conn_conf	*conn;		/* timeouts, keepalive, resolvers */
	const struct transport	*tr;		/* how its records travel */
	void			*tstate;	/* the transport's, for this output */
	struct format		*fmt[RECORD_KINDS];	/* NULL: kind not taken */
	/*
	 * The heartbeat output's (heartbeat.c); the others leave them NULL/0:
	 * the one stream it reads (NULL: every stream but the heartbeats'),
	 * a batch that keeps only the newest record read, and its requests'
	 * method and body type (NULL: POST, text/plain).
	 */
	const char		*stream;
	int			 newest_only;
	const char		*method, *content_type;
	struct format_ctx	 fctx;
	enum out_state		 state;
	struct stream_pos	*pos;
	size_t			 npos;
	struct batch		 batch;
	/*
	 * The transport's own end after the batch (a file's size), written
	 * with the cursors when end_set; the batch's records that left the
	 * body before it settled (output_release()) are still counted in it.
	 */
	struct output_end	 end;
	int			 end_set;
	struct mark		*marks;		/* a streaming batch's, oldest first */
	size_t			 nmarks;
	uint64_t		 body_base;	/* batch bytes acknowledged and dropped */
	int			 failures;	/* consecutive */
	int			 draining;	/* the last batch went out full */
	uint64_t		 retry_at;	/* monotonic ms */
	/* counters, published for ferryctl status; "sent" leaves out our own
	 * self-metrics, or sending them would change it and never let it rest */
	uint64_t		 sent, batches, retries, deadlettered;
	uint64_t		 filtered;	/* records its filters passed over */
	uint64_t		 unrenderable;	/* records its formats cannot write */
	uint64_t		 dropped;	/* deleted by the cap, never sent */
	uint64_t		 orphans;	/* in the batch, their segment gone */
	/* what ferryctl status shows; wall-clock seconds */
	int64_t			 ok_since, fail_since, dead_since;
	int			 failed;	/* failing longer than fail_after */
	int64_t			 last_success, last_error_at;
	int64_t			 last_drop_at;	/* records last dropped, wall s */
	char			 last_error[256];
};

/* batch.c */
int	batch_add(struct batch *, const char *, size_t, size_t);
void	batch_clear(struct batch *);
void	batch_free(struct batch *);
/*
 * Call fn for each record of o's batch in order, parsed, with arg; stops at
 * the first non-zero return and gives it. A line that does not parse is
 * skipped (the source counted it when it was read).
 */
int	batch_each(const struct output *, int (*)(const struct output *,
	    const struct record *, void *), void *);
/*
 * The batch rendered in o's format for its kind into out (appended): the
 * records joined by sep, and ended by it too when sep is a newline; or,
 * with sep NULL, framed as RFC 6587 octet counting ("LEN " before each).
 * Records that cannot be rendered are left out. 0, or -1 (out full).
 */
int	batch_render(const struct output *, struct buf *, const char *);
/* The same, of the records from byte from of the batch on (output_extend()). */
int	batch_render_from(const struct output *, size_t, struct buf *,
	    const char *);
/* The same as one body: the format's envelope around the records. */
int	batch_render_body(const struct output *, struct buf *);

/* source.c: the spool side */
int	source_init(const char *, const char *, struct progress *);
/* Does o read this stream? Every output but one reads every stream. */
int	source_reads(const struct output *, const char *);
const char *source_dir(int);
struct stream_pos *source_pos(struct output *, const char *);
int	source_rescan(struct output *, size_t);
void	source_trust(unsigned);
void	source_recheck(struct output *, size_t);
int	source_fill(struct output *, int, size_t);
int	source_moved(const struct output *);
int	source_commit(struct output *);
/* o's end as last committed (progress_end_get()): 1 found, 0 none, -1. */
int	source_end(const struct output *, struct output_end *);
int	source_commit_at(struct output *, const uint64_t *, const uint64_t *,
	    size_t);
void	source_tell(const struct output *, uint64_t *, uint64_t *);
void	source_cleanup(struct output *, size_t);
void	source_close(struct output *);

/* cap.c: the spool's size caps */
void	cap_init(const struct ferry_conf *);
void	cap_enforce(struct output *, size_t, uint64_t);
uint64_t cap_drop(const struct spool_seg *, struct output *, size_t);
struct cap_totals {
	uint64_t	disk_bytes, memory_bytes;
	uint64_t	dropped;	/* with no output configured */
};
const struct cap_totals *cap_totals(void);
int	cap_near(void);

/* output.c: each output's state machine */
extern int	cleanup_wanted;	/* a cursor crossed a segment: try deleting */
int	output_init(struct output *, const struct output_conf *,
	    const struct ferry_conf *);
/* The same, keeping what o holds already (the heartbeat output's role). */
int	output_open(struct output *, const struct output_conf *,
	    const struct ferry_conf *);
void	output_tick(struct output *, uint64_t, int);
uint64_t output_next_due(const struct output *, uint64_t);
/* A transport's word on the batch it was given (transport.h). */
void	output_done(struct output *, const struct tr_result *, uint64_t);
void	output_free(struct output *);
void	output_orphans_lost(struct output *);
void	output_restore(struct output *, struct progress *);
void	output_reopen(struct output *);
/*
 * For a transport that streams (a carbon connection, a file): more records
 * into the batch it was given and has not answered for yet, up to a
 * streaming batch's bounds; with piece, a batch's worth (batch_size) at
 * most this time, for a transport that commits piece by piece, so that
 * what a crash can send twice stays about one batch. The records added;
 * *from is where they start in the body.
 */
int	output_extend(struct output *, size_t *, int);
/*
 * For a transport that has written the batch's body out (a file, before its
 * sync): the body's bytes go, so a long batch holds one extension's worth
 * of memory. Its records stay counted in it and its readers where they are
 * until it settles; a retry sends only what came after.
 */
void	output_release(struct output *);
/*
 * For a streaming transport: a mark at the end of the batch as it is now;
 * returns its position (see struct mark), to give to output_acked() once
 * the peer acknowledged everything up to it. The part acknowledged is
 * committed and dropped from the batch; a retry resends only the rest.
 */
uint64_t output_mark(struct output *);
void	output_acked(struct output *, uint64_t);
extern int	forwarder_stopping;	/* SIGTERM: streaming batches end */
/* "sending", "retrying", "failed" or "deadlettering", and since when. */
const char *output_health(const struct output *, int64_t *);

/*
 * heartbeat.c: the output that PUTs ferry-periodic's heartbeats to
 * periodic.heartbeat_url, when one is set; 0 made, 1 none wanted, -1.
 */
int	heartbeat_output_init(struct output *, const struct ferry_conf *);

/* forwarder.c */
extern const struct ferry_conf	*fconf;

#endif
