/*
 * conn: ferry-fleet's connection to etcd, on one libcurl multi handle that
 * fleet.c polls with the signal pipe, so no request ever blocks the loop.
 *
 * It holds at most CONN_MAX unary requests and one watch stream, all to
 * the current endpoint. When an endpoint cannot be reached (or answers
 * 5xx, or its stream ends), every transfer is ended, their owners are told
 * (rc -2), and after a backoff (1 s doubling to 10 s, with jitter so a
 * thousand hosts do not come back in step) the next endpoint is tried.
 * Owners (sync.c, health.c) start again from their own state: none of the
 * requests is lost, each is asked again.
 *
 * Going down never happens inside a libcurl callback or inside an owner's
 * callback: conn_fail() marks it, and conn_perform() does it once the
 * callbacks are done. The watch's bytes are gathered by the write callback
 * and handed to its owner, a whole JSON message at a time, only after
 * curl_multi_perform() returned, so the owner may cancel the watch.
 *
 * The failure is logged when etcd is given up on and again when it
 * answers, not at every retry. With fleet.username set, a token is asked
 * for before anything else, and asked again when etcd says it expired.
 */
#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "etcd.h"
#include "etcdhttp.h"
#include "fleet.h"
#include "log.h"

#define CONN_MAX	4

struct xfer {
	CURL			*easy;
	struct curl_slist	*headers;
	struct buf		 body;
	struct buf		 answer;
	conn_done_fn		 done;
	conn_stream_fn		 stream;	/* the watch */
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	int			 auth;		/* the token request */
};

static CURLM		*multi;
static struct xfer	 reqs[CONN_MAX];
static struct xfer	 watch;
static size_t		 endpoint;	/* index into fconf->fleet.etcd */
static char		 token[ETCDHTTP_TOKEN_MAX];
static int		 authing;
static uint64_t		 backoff_until;	/* 0: not backing off */
static uint64_t		 backoff_ms;
static int		 down;		/* given up on; logged */
static uint64_t		 down_since;
static char		 fail_why[512];	/* a failure to act on; "" none */

static void	go_down(void);

int
conn_init(void)
{
	if ((multi = curl_multi_init()) == NULL)
		return -1;
	/* A thousand hosts would otherwise start their retries in step. */
	srandom((unsigned)(clock_mono_ms() ^ (uint64_t)getpid() << 16));
	return 0;
}

static void
xfer_end(struct xfer *x)
{
	if (x->easy != NULL) {
		curl_multi_remove_handle(multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	if (x->body.p != NULL)
		explicit_bzero(x->body.p, x->body.len);	/* a password */
	buf_free(&x->body);
	buf_free(&x->answer);
	memset(x, 0, sizeof(*x));
}

void
conn_free(void)
{
	size_t	i;

	for (i = 0; i < CONN_MAX; i++)
		xfer_end(&reqs[i]);
	xfer_end(&watch);
	curl_multi_cleanup(multi);
	multi = NULL;
	explicit_bzero(token, sizeof(token));
}

const char *
conn_endpoint(void)
{
	return fconf->fleet.etcd[endpoint % fconf->fleet.netcd];
}

int
conn_ready(void)
{
	return backoff_until == 0 && fail_why[0] == '\0' && !authing &&
	    (fconf->fleet.username[0] == '\0' || token[0] != '\0');
}

int
conn_busy(void)
{
	size_t	i;
	int	n = watch.easy != NULL;

	for (i = 0; i < CONN_MAX; i++)
		n += reqs[i].easy != NULL;
	return n;
}

void
conn_fail(const char *why)
{
	if (fail_why[0] == '\0')
		(void)strlcpy(fail_why, why, sizeof(fail_why));
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;

	/* Past the ceiling: 0 ends the transfer with a write error. */
	return buf_add(&x->answer, p, size * n) == -1 ? 0 : size * n;
}

/* A transfer to the current endpoint; 0, or -1 (logged). */
static int
xfer_start(struct xfer *x, const char *path, const struct buf *body,
    long timeout_ms, size_t max)
{
	memset(x, 0, sizeof(*x));
	buf_init(&x->body, 0);
	buf_init(&x->answer, max);
	if ((x->easy = curl_easy_init()) == NULL ||
	    buf_add(&x->body, body->p != NULL ? body->p : "", body->len) == -1 ||
	    etcdhttp_setup(x->easy, &fconf->fleet, conn_endpoint(), path,
	    &x->body, token, &x->headers, timeout_ms) == -1) {
		log_warnx("cannot make a request to etcd (out of memory)");
		xfer_end(x);
		return -1;
	}
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(multi, x->easy) != CURLM_OK) {
		log_warnx("cannot start a request to etcd");
		xfer_end(x);
		return -1;
	}
	return 0;
}

static struct xfer *
free_slot(void)
{
	size_t	i;

	for (i = 0; i < CONN_MAX; i++)
		if (reqs[i].easy == NULL)
			return &reqs[i];
	return NULL;
}

int
conn_request(const char *path, const struct buf *body, conn_done_fn done,
    void *arg)
{
	struct xfer	*x;

	if (!conn_ready() || (x = free_slot()) == NULL)
		return -1;
	if (xfer_start(x, path, body, ETCDHTTP_TIMEOUT_MS,
	    FLEET_ANSWER_MAX) == -1)
		return -1;
	x->done = done;
	x->arg = arg;
	return 0;
}

int
conn_watch(const struct buf *body, conn_stream_fn fn, void *arg)
{
	if (!conn_ready() || watch.easy != NULL)
		return -1;
	/* No total timeout: a quiet watch is a healthy one. */
	if (xfer_start(&watch, "/v3/watch", body, 0, FLEET_STREAM_MAX) == -1)
		return -1;
	watch.stream = fn;
	watch.arg = arg;
	return 0;
}

int
conn_watching(void)
{
	return watch.easy != NULL;
}

void
conn_watch_cancel(void)
{
	xfer_end(&watch);
}

/* The token for fleet.username: asked before any other request. */
static void
auth_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	(void)grpc;
	(void)arg;
	authing = 0;
	if (rc == 0 && etcd_parse_token(p, n, token, sizeof(token)) == 0)
		return;
	if (rc == -1) {
		fleet_error("etcd refused user %s: %s", fconf->fleet.username,
		    msg);
		conn_fail("authentication refused");
	} else if (rc == 0)
		conn_fail("no token in the answer to authenticate");
}

static void
auth_start(void)
{
	struct buf	 body;
	struct xfer	*x;

	if ((x = free_slot()) == NULL)
		return;
	buf_init(&body, 0);
	if (etcd_body_auth(&body, fconf->fleet.username,
	    fconf->fleet.password) == 0 && xfer_start(x,
	    "/v3/auth/authenticate", &body, ETCDHTTP_TIMEOUT_MS, 65536) == 0) {
		x->done = auth_done;
		x->auth = 1;
		authing = 1;
	}
	if (body.p != NULL)
		explicit_bzero(body.p, body.len);
	buf_free(&body);
}

int
conn_timeout(uint64_t now)
{
	if (backoff_until == 0)
		return -1;
	return backoff_until > now ? (int)(backoff_until - now) : 0;
}

void
conn_tick(uint64_t now)
{
	if (backoff_until != 0 && now >= backoff_until) {
		backoff_until = 0;
		endpoint = (endpoint + 1) % fconf->fleet.netcd;
	}
	if (backoff_until == 0 && fail_why[0] == '\0' && !authing &&
	    fconf->fleet.username[0] != '\0' && token[0] == '\0')
		auth_start();
}

/* An answer came: etcd is usable; say so if it was not. */
void
conn_reached(void)
{
	backoff_ms = 0;
	if (!fstats.etcd_up) {
		fstats.etcd_up = 1;
		fleet_dirty();
	}
	if (!down)
		return;
	down = 0;
	log_info("etcd answers again at %s, after %llu s; resuming the watch",
	    conn_endpoint(), (unsigned long long)((clock_mono_ms() -
	    down_since) / 1000));
}

/*
 * A finished unary request: its owner is told. 5xx and unreachable give
 * up on the endpoint; an expired token is dropped, and the owner asks
 * again once a new one came.
 */
static void
unary_done(struct xfer *x, CURLcode res)
{
	struct xfer	 done = *x;
	char		 msg[256] = "";
	long		 code = 0;
	int		 grpc = 0, rc;

	/* The slot is free again before the owner may ask for another. */
	curl_multi_remove_handle(multi, x->easy);
	memset(x, 0, sizeof(*x));
	curl_easy_getinfo(done.easy, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK) {
		(void)snprintf(msg, sizeof(msg), "%s", done.errbuf[0] != '\0' ?
		    done.errbuf : curl_easy_strerror(res));
		rc = -2;
		conn_fail(msg);
	} else if (code >= 200 && code < 300) {
		conn_reached();
		rc = 0;
	} else {
		if (etcd_parse_error(done.answer.p != NULL ? done.answer.p : "",
		    done.answer.len, &grpc, msg, sizeof(msg)) != 1)
			(void)snprintf(msg, sizeof(msg), "HTTP %ld", code);
		rc = -1;
		/* 5xx: a member without a leader is as good as away. */
		if (code >= 500) {
			rc = -2;
			conn_fail(msg);
		} else
			conn_reached();
		if (rc == -1 && grpc == ETCD_CODE_UNAUTHENTICATED && !done.auth) {
			token[0] = '\0';
			rc = -2;
		}
	}
	if (done.done != NULL)
		done.done(rc, done.answer.p != NULL ? done.answer.p : "",
		    done.answer.len, grpc, msg, done.arg);
	curl_easy_cleanup(done.easy);
	done.easy = NULL;
	xfer_end(&done);
}

/* Hand each whole message of the watch to its owner. */
static void
stream_dispatch(void)
{
	struct buf	*b = &watch.answer;
	ssize_t		 n = 0;
	size_t		 off = 0;

	while (watch.easy != NULL && off < b->len &&
	    (n = etcd_stream_next(b->p + off, b->len - off)) > 0) {
		watch.stream(b->p + off, (size_t)n, watch.arg);
		off += (size_t)n;
	}
	if (watch.easy == NULL)
		return;		/* cancelled by its owner: buffer gone */
	if (n == -1) {
		conn_fail("the watch stream is not JSON");
		return;
	}
	memmove(b->p, b->p + off, b->len - off);
	b->len -= off;
	b->p[b->len] = '\0';
}

static void
watch_done(CURLcode res)
{
	char	msg[256];
	long	code = 0;
	int	grpc;

	curl_easy_getinfo(watch.easy, CURLINFO_RESPONSE_CODE, &code);
	if (res == CURLE_OK && code >= 300 && etcd_parse_error(watch.answer.p !=
	    NULL ? watch.answer.p : "", watch.answer.len, &grpc, msg,
	    sizeof(msg)) == 1) {
		if (grpc == ETCD_CODE_UNAUTHENTICATED)
			token[0] = '\0';
	} else if (res != CURLE_OK)
		(void)snprintf(msg, sizeof(msg), "watch: %.240s", watch.errbuf[0] !=
		    '\0' ? watch.errbuf : curl_easy_strerror(res));
	else
		(void)snprintf(msg, sizeof(msg), "watch: etcd ended the stream "
		    "(HTTP %ld)", code);
	conn_fail(msg);
}

void
conn_perform(void)
{
	struct xfer	*x;
	CURLMsg		*m;
	int		 running, left;

	(void)curl_multi_perform(multi, &running);
	if (watch.easy != NULL && watch.answer.len > 0)
		stream_dispatch();
	while ((m = curl_multi_info_read(multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		if (watch.easy != NULL && m->easy_handle == watch.easy) {
			watch_done(m->data.result);
			continue;
		}
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x != NULL)
			unary_done(x, m->data.result);
	}
	if (fail_why[0] != '\0')
		go_down();
}

/*
 * Give up on the current endpoint: end every transfer (owners hear -2, a
 * watch's owner its end), and try the next endpoint after the backoff.
 */
static void
go_down(void)
{
	struct xfer	 x;
	uint64_t	 now = clock_mono_ms();
	char		 why[sizeof(fail_why)];
	size_t		 i;

	(void)strlcpy(why, fail_why, sizeof(why));
	if (!down) {
		down = 1;
		down_since = now;
		fstats.etcd_up = 0;
		fstats.etcd_errors++;
		fleet_dirty();
		log_warnx("etcd at %s: %s; the drains received keep running, "
		    "and etcd is tried again with backoff (saying so here when "
		    "it answers)", conn_endpoint(), why);
	} else
		log_debug("etcd at %s: %s", conn_endpoint(), why);
	fleet_error("etcd at %s: %s", conn_endpoint(), why);
	authing = 0;
	backoff_ms = backoff_ms == 0 ? FLEET_BACKOFF_MIN_MS : backoff_ms * 2;
	if (backoff_ms > FLEET_BACKOFF_MAX_MS)
		backoff_ms = FLEET_BACKOFF_MAX_MS;
	/* Between half the delay and all of it. */
	backoff_until = now + backoff_ms / 2 + (uint64_t)random() %
	    (backoff_ms / 2 + 1);
	if (watch.easy != NULL) {
		x = watch;
		memset(&watch, 0, sizeof(watch));
		x.stream(NULL, 0, x.arg);
		xfer_end(&x);
	}
	for (i = 0; i < CONN_MAX; i++) {
		if (reqs[i].easy == NULL)
			continue;
		x = reqs[i];
		memset(&reqs[i], 0, sizeof(reqs[i]));
		if (x.done != NULL)
			x.done(-2, "", 0, 0, why, x.arg);
		xfer_end(&x);
	}
	/* What the owners' callbacks asked for stays refused until now. */
	fail_why[0] = '\0';
}

int
conn_poll(int fd, int timeout, int *fd_ready)
{
	struct curl_waitfd	w = { .fd = fd, .events = CURL_WAIT_POLLIN };

	*fd_ready = 0;
	if (curl_multi_poll(multi, &w, 1, timeout, NULL) != CURLM_OK)
		return -1;
	*fd_ready = (w.revents & CURL_WAIT_POLLIN) != 0;
	return 0;
}
