/*
 * etcd: the messages of etcd's v3 API as its JSON gateway speaks them
 * (POST /v3/kv/range, /v3/kv/put, /v3/kv/deleterange, /v3/watch,
 * /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke,
 * /v3/auth/authenticate): request bodies built into a struct buf, answers
 * read with the pull reader of common/jsonread.c. Keys and values travel in
 * base64; 64-bit numbers as JSON strings. Nothing here does I/O or logs,
 * so every message can be unit-tested from text (common/etcdhttp.c sends
 * them).
 */
#ifndef FERRY_ETCD_H
#define FERRY_ETCD_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define ETCD_EVENT_PUT		0	/* the gateway omits it: the default */
#define ETCD_EVENT_DELETE	1

/* gRPC status codes that change what a client does. */
#define ETCD_CODE_NOT_FOUND		5	/* a lease that is gone */
#define ETCD_CODE_UNAUTHENTICATED	16	/* a token that expired */

/* One key of an answer, decoded; valid during the callback only. */
struct etcd_kv {
	const char	*key;
	size_t		 keylen;
	const char	*value;
	size_t		 valuelen;
	int64_t		 mod_revision;
	int64_t		 lease;
};

typedef void	(*etcd_kv_fn)(int, const struct etcd_kv *, void *);

/* What a watch stream's message says besides its events. */
struct etcd_watch_msg {
	int64_t		 revision;	/* of the store when it was sent */
	int64_t		 compact_revision;	/* canceled: history gone */
	int		 created;
	int		 canceled;
	int		 nevents;
	char		 reason[256];	/* cancel_reason */
};

/* base64 (RFC 4648, padded) of n bytes, appended; 0 or -1. */
int	etcd_b64_encode(struct buf *, const void *, size_t);
/* The bytes of base64 text, appended; -1 when it is not base64. */
int	etcd_b64_decode(struct buf *, const char *, size_t);

/*
 * The end of the range of every key that starts with prefix (the prefix
 * with its last byte plus one), into out; 0, or -1 when it has no end
 * (empty, or all 0xff) or does not fit.
 */
int	etcd_prefix_end(const char *, char *, size_t);

/*
 * Request bodies, each into an emptied buf. A NULL end asks for the one
 * key; lease 0 puts without one.
 */
int	etcd_body_range(struct buf *, const char *, const char *);
int	etcd_body_put(struct buf *, const char *, const void *, size_t,
	    int64_t);
int	etcd_body_delete(struct buf *, const char *, const char *);
/* A watch of [key, end) from revision on (0: from now). */
int	etcd_body_watch(struct buf *, const char *, const char *, int64_t);
int	etcd_body_lease_grant(struct buf *, int64_t);
/* keepalive and revoke: {"ID": id} */
int	etcd_body_lease(struct buf *, int64_t);
int	etcd_body_auth(struct buf *, const char *, const char *);

/*
 * An error answer ({"error": ..., "message": ..., "code": N}, or a watch
 * stream's {"error": {...}}): 1 with code and the message into msg, 0 when
 * the document is not one, -1 when it is not JSON.
 */
int	etcd_parse_error(const char *, size_t, int *, char *, size_t);
/* A range: the store's revision, and fn(ETCD_EVENT_PUT, kv) per key. */
int	etcd_parse_range(const char *, size_t, int64_t *, etcd_kv_fn, void *);
/* A deleterange: how many keys went. */
int	etcd_parse_deleted(const char *, size_t, int64_t *);
/* One message of a watch stream, fn(type, kv) per event in order. */
int	etcd_parse_watch(const char *, size_t, struct etcd_watch_msg *,
	    etcd_kv_fn, void *);
/*
 * A lease grant or keepalive answer: its ID and TTL. A keepalive of a
 * lease that is gone answers TTL 0 (the gateway leaves it out).
 */
int	etcd_parse_lease(const char *, size_t, int64_t *, int64_t *);
/* An authenticate answer: the token, into buf. */
int	etcd_parse_token(const char *, size_t, char *, size_t);

/*
 * Where the next whole JSON value of a stream ends: the gateway writes a
 * watch's messages one after another on one response. Returns its length
 * from the start of p (leading white space included), 0 when it is not
 * complete yet, -1 when the bytes cannot be JSON.
 */
ssize_t	etcd_stream_next(const char *, size_t);

#endif
