/*
 * http: the sink's HTTP face, on libmicrohttpd with one internal polling
 * thread (epoll on Linux). Every handler, every body chunk and every piece of
 * a streamed reply runs on that one thread, so handlers never race each
 * other; the store still takes its mutex, so this stays safe if the threading
 * mode changes.
 *
 * A request is routed on its first call: an unknown path gets 404, a known
 * path with another method 405 (with Allow), a missing or wrong key 401 when
 * sink.api_key is set (every route but /ruok), and a declared body larger
 * than SINK_BODY_MAX 413 -- all before any body is read. A body is then
 * gathered in memory: one request holds at most SINK_BODY_MAX (413 beyond)
 * and all requests together SINK_INFLIGHT_MAX (503 beyond, retry later), so
 * memory stays bounded however many senders push at once. The handler runs
 * on the last call, with the whole body.
 *
 * Connections. At SINK_CONN_MAX connections a new client is not refused:
 * the connection idle the longest is closed to make room (evicted), so
 * whoever holds many idle connections cannot shut the forwarder and other
 * senders out for the 60 s of HTTP_TIMEOUT. libmicrohttpd has no call to
 * close a connection, so its socket is shut down (shutdown(2), not
 * close(2): the descriptor stays the daemon's until it closes it), which
 * the daemon's next turn reads as the client's end and closes like one.
 * "Idle" is ours: the connections are kept in the order they last got a
 * request or a piece of a body, so a client that trickles header bytes
 * counts as idle. The daemon's own limit is SINK_CONN_SLACK above ours,
 * room for the clients that come while evicted ones close; past it
 * libmicrohttpd stops accepting and new clients wait in the listen
 * backlog rather than being accepted and dropped. Both counts are
 * published (connections, evicted).
 *
 * A connection is only ever evicted before the daemon has told us of its
 * end (MHD_CONNECTION_NOTIFY_CLOSED, which it sends as it closes the
 * socket), so the descriptor shut down is always that connection's.
 */
#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"
#include "sink.h"

#define HTTP_TIMEOUT	60		/* seconds a connection may stay idle */
#define HTTP_CONN_MEM	(64 << 10)	/* per-connection header/read buffer */
#define HTTP_REALM	"ferry-sink"

/* One open connection, in the order of its last request. */
struct conn {
	TAILQ_ENTRY(conn)	 entry;		/* not listed once evicted */
	struct MHD_Connection	*mc;
	int			 evicted;
};

struct http {
	struct MHD_Daemon	*daemon;
	struct store		*store;
	char			*api_key;
	size_t			 keylen;
	size_t			 inflight;	/* body memory held, all requests */
	TAILQ_HEAD(, conn)	 lru;		/* idle longest first */
	unsigned		 nlisted;
};

/* Counters the main thread reads: atomics. */
static uint64_t	conn_count, conn_evicted;

/* A path that ends in '/' (but "/") is a prefix: "/ui/" routes "/ui/app.js". */
struct route {
	const char	*path;
	const char	*method;	/* GET also answers HEAD */
	int		 body;		/* the handler reads a request body */
	int		 open;		/* no API key needed */
	int		(*fn)(struct request *);
};

struct request {
	struct http		*http;
	struct MHD_Connection	*conn;
	const char		*url;		/* MHD's, valid in each call */
	const struct route	*route;
	struct buf		 body;
	size_t			 held;		/* body.cap, as counted in inflight */
	int			 status;	/* set: answer this after the upload */
	int			 replied;
};

static int	http_ruok(struct request *);

static const struct route routes[] = {
	{ "/api/v1/sink",	"POST",	1, 0, ingest_points },
	{ "/beat",		"PUT",	1, 0, ingest_beat },
	{ "/beat",		"GET",	0, 0, query_beats },
	{ "/store/batch",	"POST",	1, 0, ingest_batch },
	{ "/store/log",		"GET",	0, 0, query_log },
	{ "/render",		"GET",	0, 0, query_render },
	{ "/metrics/find",	"GET",	0, 0, query_find },
	{ "/store/files",	"GET",	0, 0, query_files },
	{ "/store/lines",	"GET",	0, 0, query_lines },
	{ "/changes",		"GET",	0, 0, query_changes },
	{ "/",			"GET",	0, 0, ui_page },
	{ "/ui/",		"GET",	0, 0, ui_asset },
	{ "/ruok",		"GET",	0, 1, http_ruok },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

struct store *
http_store(const struct request *req)
{
	return req->http->store;
}

const char *
http_api_key(const struct request *req)
{
	return req->http->api_key;
}

const char *
http_body(const struct request *req, size_t *len)
{
	*len = req->body.len;
	return req->body.p != NULL ? req->body.p : "";
}

const char *
http_path(const struct request *req)
{
	return req->url;
}

const char *
http_arg(const struct request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
	    name);
}

struct args {
	const char	 *name;
	const char	**v;
	int		  n;
	int		  max;
};

static enum MHD_Result
http_args_one(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct args	*a = cls;

	(void)kind;
	if (value != NULL && strcmp(key, a->name) == 0 && a->n < a->max)
		a->v[a->n++] = value;
	return MHD_YES;
}

int
http_args(const struct request *req, const char *name, const char **v,
    int max)
{
	struct args	a = { name, v, 0, max };

	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND,
	    http_args_one, &a);
	return a.n;
}

/* Queue resp (which is consumed) with its content type. */
static int
http_queue(struct request *req, int status, const char *ctype,
    struct MHD_Response *resp)
{
	enum MHD_Result	r;

	if (resp == NULL) {
		log_warnx("http: cannot build a %d reply", status);
		return -1;
	}
	if (ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    ctype);
	if (status == MHD_HTTP_SERVICE_UNAVAILABLE)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	if (status == MHD_HTTP_UNAUTHORIZED)
		r = MHD_queue_basic_auth_fail_response(req->conn, HTTP_REALM,
		    resp);
	else
		r = MHD_queue_response(req->conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	req->replied = 1;
	return r == MHD_YES ? 0 : -1;
}

int
http_reply(struct request *req, int status, const char *ctype,
    const char *body, size_t len)
{
	return http_queue(req, status, ctype, MHD_create_response_from_buffer(
	    len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY));
}

int
http_reply_buf(struct request *req, int status, const char *ctype,
    struct buf *b)
{
	size_t	 len;
	char	*p;

	if ((p = buf_take(b, &len)) == NULL) {
		log_warn("http: reply");
		return -1;
	}
	return http_queue(req, status, ctype, MHD_create_response_from_buffer(
	    len, p, MHD_RESPMEM_MUST_FREE));
}

int
http_reply_text(struct request *req, int status, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	msg[n] = '\0';
	return http_reply(req, status, "text/plain; charset=utf-8", msg,
	    (size_t)n);
}

/*
 * The page's files: revalidated at every load (no-cache) and answered 304
 * when unchanged, so a new sink binary is seen at once and an unchanged
 * one costs no bytes. The policy lets the page load nothing from elsewhere
 * and run no script of a log line's, whatever it holds.
 */
int
http_reply_static(struct request *req, const char *ctype,
    const unsigned char *data, size_t len, const char *etag)
{
	struct MHD_Response	*resp;
	const char		*inm;
	int			 status = MHD_HTTP_OK;

	inm = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL && strcmp(inm, etag) == 0) {
		status = MHD_HTTP_NOT_MODIFIED;
		len = 0;
	}
	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data,
	    MHD_RESPMEM_PERSISTENT);
	if (resp != NULL) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
		    "no-cache");
		MHD_add_response_header(resp, "Content-Security-Policy",
		    "default-src 'self'; img-src 'self' data:; "
		    "frame-ancestors 'none'");
		MHD_add_response_header(resp, "X-Content-Type-Options",
		    "nosniff");
	}
	return http_queue(req, status, status == MHD_HTTP_OK ? ctype : NULL,
	    resp);
}

/* A streamed reply: the pieces fill() made, handed out as MHD asks. */
struct stream_state {
	struct stream	 s;
	struct buf	 out;
	size_t		 off;
	int		 done;
};

static ssize_t
http_stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct stream_state	*st = cls;
	size_t			 n;

	(void)pos;
	while (st->off == st->out.len) {
		if (st->done)
			return MHD_CONTENT_READER_END_OF_STREAM;
		st->out.len = 0;
		st->off = 0;
		if (st->s.fill(st->s.state, &st->out, &st->done) == -1)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = st->out.len - st->off;
	if (n > max)
		n = max;
	memcpy(dst, st->out.p + st->off, n);
	st->off += n;
	return (ssize_t)n;
}

static void
http_stream_free(void *cls)
{
	struct stream_state	*st = cls;

	st->s.done(st->s.state);
	buf_free(&st->out);
	free(st);
}

int
http_reply_stream(struct request *req, const char *ctype, struct stream *s,
    struct buf *first, int done)
{
	struct stream_state	*st;
	struct MHD_Response	*resp;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("http: stream");
		s->done(s->state);
		buf_free(first);
		return -1;
	}
	st->s = *s;
	st->out = *first;
	st->done = done;
	buf_init(first, 0);
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SINK_CHUNK,
	    http_stream_read, st, http_stream_free);
	if (resp == NULL)
		http_stream_free(st);
	return http_queue(req, MHD_HTTP_OK, ctype, resp);
}

static int
http_ruok(struct request *req)
{
	return http_reply(req, MHD_HTTP_OK, "text/plain", "imok", 4);
}

/* Compare without an early exit, so the time taken tells nothing of the key. */
static int
http_key_equal(const char *a, const char *b, size_t len)
{
	unsigned char	diff = 0;
	size_t		i;

	for (i = 0; i < len; i++)
		diff |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return diff == 0;
}

/* Basic auth with the API key as the user name; the password is ignored. */
static int
http_authorized(struct request *req)
{
	struct http	*h = req->http;
	char		*user, *pass = NULL;
	int		 ok;

	if (h->keylen == 0 || req->route->open)
		return 1;
	if ((user = MHD_basic_auth_get_username_password(req->conn, &pass))
	    == NULL)
		return 0;
	ok = strlen(user) == h->keylen &&
	    http_key_equal(user, h->api_key, h->keylen);
	MHD_free(user);
	if (pass != NULL)
		MHD_free(pass);
	return ok;
}

static int
http_method_is(const char *method, const char *want)
{
	if (strcmp(method, want) == 0)
		return 1;
	return strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* Does the route's path take url (len bytes, a trailing '/' dropped)? */
static int
http_path_is(const struct route *r, const char *url, size_t len)
{
	size_t	plen = strlen(r->path);

	if (plen > 1 && r->path[plen - 1] == '/')
		return len >= plen && strncmp(r->path, url, plen) == 0;
	return plen == len && strncmp(r->path, url, len) == 0;
}

/* Find the route; *known tells a known path with another method (405). */
static const struct route *
http_route(const char *url, const char *method, int *known)
{
	size_t	 i, len = strlen(url);

	/* "/render/" is "/render", as Graphite has it. */
	if (len > 1 && url[len - 1] == '/')
		len--;
	*known = 0;
	for (i = 0; i < NROUTES; i++) {
		if (!http_path_is(&routes[i], url, len))
			continue;
		*known = 1;
		if (http_method_is(method, routes[i].method))
			return &routes[i];
	}
	return NULL;
}

static int
http_not_allowed(struct request *req, const char *url)
{
	struct MHD_Response	*resp;
	char			 allow[64] = "", msg[] = "method not allowed\n";
	size_t			 i, len = strlen(url);

	if (len > 1 && url[len - 1] == '/')
		len--;
	for (i = 0; i < NROUTES; i++) {
		if (!http_path_is(&routes[i], url, len))
			continue;
		if (allow[0] != '\0')
			strlcat(allow, ", ", sizeof(allow));
		strlcat(allow, routes[i].method, sizeof(allow));
		if (strcmp(routes[i].method, "GET") == 0)
			strlcat(allow, ", HEAD", sizeof(allow));
	}
	resp = MHD_create_response_from_buffer(strlen(msg), msg,
	    MHD_RESPMEM_MUST_COPY);
	if (resp != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	return http_queue(req, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
	    resp);
}

/* Count the body's memory in the total of all requests. */
static void
http_account(struct request *req)
{
	req->http->inflight = req->http->inflight - req->held + req->body.cap;
	req->held = req->body.cap;
}

/* A declared length past the cap is refused before a byte is read. */
static int
http_too_long(struct request *req)
{
	const char		*cl;
	unsigned long long	 n;
	char			*ep;

	cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl == NULL)
		return 0;
	errno = 0;
	n = strtoull(cl, &ep, 10);
	if (errno != 0 || *ep != '\0' || n > SINK_BODY_MAX)
		return 1;
	/* Read the body into one allocation when its size is known and fits. */
	if (n > 0 && req->http->inflight + n <= SINK_INFLIGHT_MAX &&
	    buf_reserve(&req->body, (size_t)n) == 0)
		http_account(req);
	return 0;
}

static enum MHD_Result
http_first(struct http *h, struct MHD_Connection *conn, const char *url,
    const char *method, void **con_cls)
{
	struct request	*req;
	int		 known, r = 0;

	if ((req = calloc(1, sizeof(*req))) == NULL) {
		log_warn("http: request");
		return MHD_NO;
	}
	req->http = h;
	req->conn = conn;
	req->url = url;
	buf_init(&req->body, SINK_BODY_MAX);
	*con_cls = req;
	if ((req->route = http_route(url, method, &known)) == NULL) {
		if (known)
			r = http_not_allowed(req, url);
		else
			r = http_reply_text(req, MHD_HTTP_NOT_FOUND,
			    "no such endpoint: %s", url);
	} else if (!http_authorized(req))
		r = http_reply_text(req, MHD_HTTP_UNAUTHORIZED,
		    "an API key is required (HTTP Basic, the key as user)");
	else if (req->route->body && http_too_long(req))
		r = http_reply_text(req, MHD_HTTP_CONTENT_TOO_LARGE,
		    "request body larger than %lu bytes", SINK_BODY_MAX);
	return r == 0 ? MHD_YES : MHD_NO;
}

/*
 * Keep a chunk of the body, or decide the answer is 413 or 503. The total
 * may pass SINK_INFLIGHT_MAX by one buffer's growth, never more.
 */
static void
http_upload(struct request *req, const char *data, size_t n)
{
	struct http	*h = req->http;

	if (req->status != 0)
		return;
	if (req->body.len + n > SINK_BODY_MAX)
		req->status = MHD_HTTP_CONTENT_TOO_LARGE;
	else if (req->body.len + n > req->body.cap &&
	    h->inflight + n > SINK_INFLIGHT_MAX)
		req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else if (buf_add(&req->body, data, n) == -1)
		req->status = MHD_HTTP_SERVICE_UNAVAILABLE;
	else {
		http_account(req);
		return;
	}
	buf_free(&req->body);
	http_account(req);
}

static int
http_finish(struct request *req)
{
	switch (req->status) {
	case 0:
		return req->route->fn(req);
	case MHD_HTTP_CONTENT_TOO_LARGE:
		return http_reply_text(req, req->status,
		    "request body larger than %lu bytes", SINK_BODY_MAX);
	default:
		return http_reply_text(req, req->status,
		    "too much data in flight; retry later");
	}
}

/* A request, or a piece of its body: conn is the one idle the shortest. */
static void
http_touch(struct http *h, struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo	*ci;
	struct conn			*c;

	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci == NULL || (c = ci->socket_context) == NULL || c->evicted)
		return;
	TAILQ_REMOVE(&h->lru, c, entry);
	TAILQ_INSERT_TAIL(&h->lru, c, entry);
}

/* Have the daemon close the connection idle the longest, on its next turn. */
static void
http_evict(struct http *h)
{
	const union MHD_ConnectionInfo	*ci;
	struct conn			*c;

	if ((c = TAILQ_FIRST(&h->lru)) == NULL)
		return;
	TAILQ_REMOVE(&h->lru, c, entry);
	h->nlisted--;
	c->evicted = 1;
	ci = MHD_get_connection_info(c->mc, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		(void)shutdown(ci->connect_fd, SHUT_RDWR);
	__atomic_add_fetch(&conn_evicted, 1, __ATOMIC_RELAXED);
}

static void
http_notify(void *cls, struct MHD_Connection *mc, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct http	*h = cls;
	struct conn	*c = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		__atomic_add_fetch(&conn_count, 1, __ATOMIC_RELAXED);
		/* Without memory it is only not listed: never evicted. */
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return;
		c->mc = mc;
		*socket_context = c;
		TAILQ_INSERT_TAIL(&h->lru, c, entry);
		if (++h->nlisted > SINK_CONN_MAX)
			http_evict(h);
		return;
	}
	if (c == NULL)
		return;
	if (!c->evicted) {
		TAILQ_REMOVE(&h->lru, c, entry);
		h->nlisted--;
	}
	free(c);
	*socket_context = NULL;
}

void
http_stats(struct sink_stats *out)
{
	out->connections = __atomic_load_n(&conn_count, __ATOMIC_RELAXED);
	out->evicted = __atomic_load_n(&conn_evicted, __ATOMIC_RELAXED);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct request	*req = *con_cls;

	(void)version;
	http_touch(cls, conn);
	if (req == NULL)
		return http_first(cls, conn, url, method, con_cls);
	req->url = url;
	if (*upload_size != 0) {
		if (!req->replied)
			http_upload(req, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	if (req->replied)
		return MHD_YES;
	return http_finish(req) == 0 ? MHD_YES : MHD_NO;
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode code)
{
	struct http	*h = cls;
	struct request	*req = *con_cls;

	(void)conn;
	(void)code;
	if (req == NULL)
		return;
	h->inflight -= req->held;
	buf_free(&req->body);
	free(req);
	*con_cls = NULL;
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	char	msg[512];
	size_t	len;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	log_warnx("http: %s", msg);
}

struct http *
http_start(int fd, struct store *store, const char *api_key)
{
	struct http	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->api_key = strdup(api_key != NULL ? api_key : "")) == NULL) {
		log_warn("http");
		free(h);
		return NULL;
	}
	h->keylen = strlen(h->api_key);
	h->store = store;
	TAILQ_INIT(&h->lru);
	h->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, http_access, h,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(SINK_CONN_MAX + SINK_CONN_SLACK),
	    MHD_OPTION_NOTIFY_CONNECTION, http_notify, h,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEM,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, h,
	    MHD_OPTION_END);
	if (h->daemon == NULL) {
		log_warnx("http: cannot start the HTTP daemon");
		http_stop(h);
		return NULL;
	}
	return h;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	if (h->daemon != NULL)
		MHD_stop_daemon(h->daemon);
	freezero(h->api_key, h->keylen);
	free(h);
}
