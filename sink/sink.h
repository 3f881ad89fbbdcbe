/*
 * ferry-sink: the reference collector endpoint. An HTTP server (libmicrohttpd,
 * one internal polling thread) in front of its own SQLite store, so ferry has
 * a real peer to deliver to and the data can be read back with a small subset
 * of Graphite's read API.
 *
 * Files: sink.c (main: options, config, listen socket, signal loop), http.c
 * (the daemon, routing, request bodies, auth, responses), ingest.c (the write
 * endpoints), query.c (render, find, the log and beat readers), glob.c (the
 * Graphite path matcher and the tree walker), store.c (SQLite), and ui.c
 * (the page at /, whose files, sink/ui/, are compiled in as ui_files.c by
 * tools/embed at build time). The JSON
 * reader and the bounded buffers it fills are common/jsonread.c and
 * common/buf.c, which the forwarder uses too.
 *
 * glob.c uses nothing from the rest of the sink but struct buf, so it can be
 * read and tested alone.
 */
#ifndef FERRY_SINK_H
#define FERRY_SINK_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "json.h"

#define SINK_BODY_MAX		(64UL << 20)	/* one request body: 413 beyond */
#define SINK_INFLIGHT_MAX	(256UL << 20)	/* all bodies together: 503 beyond */
#define SINK_CONN_MAX		256	/* then the one idle longest is closed */
#define SINK_CONN_SLACK		64	/* libmicrohttpd's limit is this above */
#define SINK_REPLY_MAX		(16UL << 20)	/* a reply built in memory */
#define SINK_FIND_MAX		100000		/* nodes one find may list */
#define SINK_SERIES_MAX		10000		/* series one render may return */
#define SINK_TARGETS_MAX	64		/* target= arguments of one render */
#define SINK_CHUNK		(64UL << 10)	/* a streamed reply is built by this much */
#define SINK_LINES_MAX		10000		/* log lines one /store/lines returns */
#define SINK_LINES_BYTES	(1UL << 20)	/* ...and bytes, past the line that crosses it */

/* glob.c: Graphite paths; '*', '?', '[...]' and '{a,b}' match within one component. */
int	glob_has_magic(const char *);
int	glob_match(const char *, size_t, const char *, size_t);
/*
 * Find the next stored name: the first >= key (inclusive) or > key, into out.
 * Returns 1 found, 0 none, -1 error.
 */
typedef int	(*glob_next_fn)(void *, const char *, int, struct buf *);
/* A matching node: its path, and whether a name ends there (leaf) or goes on. */
typedef int	(*glob_node_fn)(void *, const char *, size_t, int);
/*
 * Walk the sorted names that next() yields and report each node that matches
 * pattern, component for component, skipping whole subtrees that cannot
 * match. A node may be reported twice (as a leaf and as a branch). Returns 0,
 * or -1 when next() or node() did.
 */
int	glob_walk(const char *, glob_next_fn, void *, glob_node_fn, void *);

/* store.c: the sink's own SQLite database. Calls are serialised by a mutex. */
struct store;

struct store	*store_open(const char *);
void		 store_close(struct store *);
/* Move the points received into the table that reads see; 0 or -1. */
int		 store_merge(struct store *);
/* Points received and not merged yet; any thread may ask. */
uint64_t	 store_pending(struct store *);
/* A write transaction: the mutex is held from begin to commit or rollback. */
int		 store_begin(struct store *);
int		 store_commit(struct store *);
void		 store_rollback(struct store *);
int		 store_point(struct store *, const char *, size_t, int64_t, double);
int		 store_log_line(struct store *, const char *, size_t,
		    const char *, size_t, int64_t, const char *, size_t);
/* Outside a transaction. */
int		 store_beat(struct store *, const char *, const char *, size_t,
		    int64_t);
int		 store_next_name(struct store *, const char *, int, struct buf *);
typedef int	(*store_point_fn)(void *, int64_t, double);
/* Points of name with from <= ts <= until, at most limit; the count, or -1. */
int		 store_points(struct store *, const char *, int64_t, int64_t,
		    int, store_point_fn, void *);
typedef int	(*store_line_fn)(void *, int64_t, const char *, size_t);
/* Lines of host/file numbered >= first, at most limit; the count, or -1. */
int		 store_log_lines(struct store *, const char *, const char *,
		    int64_t, int, store_line_fn, void *);
typedef int	(*store_beat_fn)(void *, const char *, int64_t, const char *,
		    size_t);
/* Every host's latest beat, or only host's when it is not NULL. */
int		 store_beats(struct store *, const char *, store_beat_fn, void *);
typedef int	(*store_file_fn)(void *, const char *, const char *, int64_t);
/* Each (host, file) that has lines, in order, with its last line number. */
int		 store_log_files(struct store *, store_file_fn, void *);
/* The number of the nth last line of host/file; INT64_MIN when it has fewer. */
int		 store_log_tail(struct store *, const char *, const char *,
		    int64_t, int64_t *);
/* Bumped by every write that stored something: readers poll it for changes. */
uint64_t	 store_gen(struct store *);

/* http.c */
struct http;
struct request;
struct sink_stats;

struct http	*http_start(int, struct store *, const char *);
void		 http_stop(struct http *);
/* Fill in the connection counters of out; any thread may ask. */
void		 http_stats(struct sink_stats *);
struct store	*http_store(const struct request *);
const char	*http_api_key(const struct request *);
const char	*http_body(const struct request *, size_t *);
/* The request's path, as routed. */
const char	*http_path(const struct request *);
/* The first query argument of that name, or NULL. */
const char	*http_arg(const struct request *, const char *);
/* Up to max values of a repeated query argument; their count. */
int		 http_args(const struct request *, const char *, const char **,
		    int);
/*
 * Replies. Each returns 0, or -1 when the reply could not be queued (the
 * connection is then closed). http_reply_buf takes the buffer's memory.
 */
int		 http_reply(struct request *, int, const char *, const char *,
		    size_t);
int		 http_reply_buf(struct request *, int, const char *,
		    struct buf *);
int		 http_reply_text(struct request *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/*
 * A file that lives as long as the process (the page's), with its entity
 * tag: 304 when the client has it already, else 200 with the bytes.
 */
int		 http_reply_static(struct request *, const char *,
		    const unsigned char *, size_t, const char *);
/*
 * A reply produced piece by piece: fill() appends about SINK_CHUNK bytes to
 * out at each call and sets *done after its last piece; done() frees state.
 * fill() is called once before the reply is queued, so a handler can still
 * choose another reply when the first piece says so (see query.c).
 */
struct stream {
	int	(*fill)(void *, struct buf *, int *);
	void	(*done)(void *);
	void	*state;
};
int		 http_reply_stream(struct request *, const char *,
		    struct stream *, struct buf *, int);

/* ingest.c */
/* Totals since start, updated on the HTTP thread, read by the main loop. */
struct sink_stats {
	uint64_t	stored;		/* records stored (points, log lines) */
	uint64_t	invalid;	/* records refused */
	uint64_t	requests;	/* write requests answered */
	uint64_t	refused;	/* write requests answered 400 */
	uint64_t	connections;	/* accepted (http.c) */
	uint64_t	evicted;	/* closed, idle longest, to make room */
};
void	ingest_stats(struct sink_stats *);
int	ingest_points(struct request *);
int	ingest_beat(struct request *);
int	ingest_batch(struct request *);

/* query.c */
int	query_render(struct request *);
int	query_find(struct request *);
int	query_log(struct request *);
int	query_beats(struct request *);
int	query_files(struct request *);
int	query_lines(struct request *);
int	query_changes(struct request *);
/* Graphite's time forms: epoch seconds, "now", "-1h", "now-10min"... */
int	query_parse_time(const char *, int64_t, int64_t *);

/* ui.c: the page; ui_files.c (generated): its files, by base name. */
struct ui_file {
	const char		*name;
	const char		*etag;
	const unsigned char	*data;
	size_t			 len;
};
extern const struct ui_file	ui_files[];
extern const size_t		ui_nfiles;
int	ui_page(struct request *);
int	ui_asset(struct request *);

#endif
