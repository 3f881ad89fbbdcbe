/*
 * ferry-forwarder: spool streams -> batches -> outputs, cursors in SQLite.
 */
#ifndef FERRY_FORWARDER_H
#define FERRY_FORWARDER_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"
#include "url.h"

struct ferry_conf;
struct output_conf;
struct progress;

/* Where one output stands in one spool stream. */
struct stream_pos {
	char			 stream[SPOOL_STREAM_MAX];
	struct spool_reader	*reader;	/* read position: batch end */
	uint64_t		 seq, off;	/* committed: acknowledged */
	int			 read_errors;	/* in a row, in the same segment */
};

/* Records read for an output, sent as one request. */
struct batch {
	char		*body;
	size_t		 len, cap;
	int		 n;		/* records */
	int		 nself;		/* of which ferry's own self-metrics */
	uint64_t	 first_ms;	/* when the first record was read */
};

enum out_state { OUT_IDLE, OUT_SENDING, OUT_BACKOFF };

struct output {
	char			*name;
	char			*uri;
	char			*api_key;
	struct url		 url;		/* options, and the URL to send to */
	enum out_state		 state;
	struct stream_pos	*pos;
	size_t			 npos;
	struct batch		 batch;
	int			 failures;	/* consecutive */
	int			 draining;	/* the last batch went out full */
	uint64_t		 retry_at;	/* monotonic ms */
	void			*transport;	/* output_http.c's handle */
	/* counters, published for ferryctl status; "sent" leaves out our own
	 * self-metrics, or sending them would change it and never let it rest */
	uint64_t		 sent, batches, retries, deadlettered;
	uint64_t		 filtered;	/* records its filters passed over */
	uint64_t		 dropped;	/* deleted by the cap, never sent */
	uint64_t		 orphans;	/* in the batch, their segment gone */
	/* what ferryctl status shows; wall-clock seconds */
	int64_t			 ok_since, fail_since, dead_since;
	int64_t			 last_success, last_error_at;
	int64_t			 last_drop_at;	/* records last dropped, wall s */
	char			 last_error[256];
};

/* batch.c */
int	batch_add(struct batch *, const char *, size_t, size_t);
void	batch_clear(struct batch *);
void	batch_free(struct batch *);

/* source.c: the spool side */
int	source_init(const char *, const char *, struct progress *);
const char *source_dir(int);
struct stream_pos *source_pos(struct output *, const char *);
int	source_rescan(struct output *, size_t);
int	source_fill(struct output *, int, size_t);
int	source_moved(const struct output *);
int	source_commit(struct output *);
void	source_cleanup(struct output *, size_t);
void	source_close(struct output *);

/* cap.c: the spool's size caps */
void	cap_init(const struct ferry_conf *);
void	cap_enforce(struct output *, size_t, uint64_t);
struct cap_totals {
	uint64_t	disk_bytes, memory_bytes;
	uint64_t	dropped;	/* with no output configured */
};
const struct cap_totals *cap_totals(void);

/* output.c: each output's state machine */
extern int	cleanup_wanted;	/* a cursor crossed a segment: try deleting */
int	output_init(struct output *, const struct output_conf *,
	    const struct ferry_conf *);
void	output_tick(struct output *, uint64_t, int);
uint64_t output_next_due(const struct output *, uint64_t);
void	output_done(struct output *, int, long, long, const char *, uint64_t);
void	output_free(struct output *);
void	output_orphans_lost(struct output *);
void	output_restore(struct output *, struct progress *);
/* "sending", "retrying" or "deadlettering", and since when. */
const char *output_health(const struct output *, int64_t *);

/* output_http.c: the libcurl transport */
int	http_init(void);
int	http_open(struct output *);
int	http_start(struct output *);
/*
 * http_poll: wait up to the timeout (ms) on the transfers, on up to 4 fds of
 * the caller's (readable) and on the fallback resolvers' sockets, and let
 * the resolvers read. http_perform: run the transfers and call output_done()
 * for each finished request; one whose host the fallback resolver is
 * looking up finishes only once it has answered.
 */
void	http_poll(const int *, int, int);
void	http_perform(uint64_t);
void	http_close(struct output *);
void	http_cleanup(void);

/* forwarder.c */
extern const struct ferry_conf	*fconf;

#endif
