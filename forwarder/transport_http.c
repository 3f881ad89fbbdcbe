/*
 * transport_http: the http, https and clickhouse transport, on libcurl's
 * multi interface driven by the forwarder's loop: libcurl says which
 * sockets it wants watched and when it next needs the time (its socket and
 * timer callbacks), the loop polls them with every other transport's, and
 * curl_multi_socket_action() is told what happened. So every output's
 * request runs in the one poll and none can block another. Each output
 * keeps one easy handle for its life, which keeps its connection (and TLS
 * session) alive between batches. "Sent" is a 2xx answer.
 *
 * A batch is POSTed as Hosted Graphite expects: HTTP Basic with the API key
 * as the user, a body of plaintext lines; log records go to the log URL
 * (the reference sink's /store/batch, or a ClickHouse INSERT) in the
 * output's format for them. A dead peer is found in seconds:
 * a connect timeout; TCP keepalive for an idle connection (by default 1 s
 * idle, 1 s interval, 3 probes); TCP_USER_TIMEOUT for one with
 * unacknowledged data; and, for a peer that accepted the request but never
 * answers, a request with no byte moving either way for STALL_SECONDS is
 * ended (watch_progress). There is no whole-request timeout, so a large
 * batch over a slow link still succeeds. TLS peers are verified, against
 * the output's ca_file when it has one.
 *
 * When the system resolver cannot resolve an output's host and the output
 * has dns_servers, the host is looked up there (common/resolver.c, polled in
 * this same loop) and the request is sent again with the answer pinned in
 * the output's own DNS cache (CURLOPT_RESOLVE) until its TTL runs out, at
 * least 30 s; then the pin goes and the system resolver is asked first
 * again (common/dnsfallback.c holds that policy). The output stays in
 * "sending" meanwhile, so output.c never sees the detour unless it fails.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "conf.h"
#include "dnsfallback.h"
#include "forwarder.h"
#include "log.h"
#include "resolver.h"
#include "sock.h"
#include "transport.h"
#include "version.h"

#define STALL_SECONDS		7	/* no byte moved this long: dead (the promise: noticed within 10 s) */
#define SOCKS_MAX		TR_FDS_MAX	/* libcurl's sockets we watch */

struct http {
	struct output		*o;
	CURL			*easy;
	CURLSH			*share;		/* the output's own DNS cache */
	struct curl_slist	*headers;
	struct buf		 body;		/* the batch, rendered */
	char			 errbuf[CURL_ERROR_SIZE];
	const struct conn_conf	*conn;

	/* The request in flight: when a byte last moved. */
	curl_off_t		 moved;
	uint64_t		 moved_at;
	int			 stalled;

	/* The fallback resolver, when the output has dns_servers. */
	struct resolver		*resolver;
	struct dnsfb_state	 fb;
	char			 host[256];	/* of the URL, lowercase */
	int			 port;
	struct curl_slist	*resolve;	/* CURLOPT_RESOLVE's list */
	char			 syserr[CURL_ERROR_SIZE]; /* the system's failure */
	int			 answered;	/* answer waits for http_perform */
	struct resolver_answer	 answer;
};

/* A socket libcurl asked us to watch, and for what (CURL_POLL_*). */
struct watched {
	curl_socket_t	fd;
	int		what;
};

static CURLM		*multi;
static struct watched	 socks[SOCKS_MAX];
static int		 nsocks;
static uint64_t		 curl_due = UINT64_MAX;	/* libcurl's timer, mono ms */

static void	perform_done(uint64_t);
static void	fallback_answered(struct http *, uint64_t);

/* libcurl's socket callback: what to watch on s from now on. */
static int
watch_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *sockp)
{
	int	i;

	(void)easy;
	(void)userp;
	(void)sockp;
	for (i = 0; i < nsocks && socks[i].fd != s; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < nsocks)
			socks[i] = socks[--nsocks];
		return 0;
	}
	if (i == nsocks) {
		if (nsocks == SOCKS_MAX) {
			log_warnx("libcurl wants more than %d sockets watched",
			    SOCKS_MAX);
			return -1;
		}
		nsocks++;
	}
	socks[i].fd = s;
	socks[i].what = what;
	return 0;
}

/* libcurl's timer callback: when it next needs socket_action(TIMEOUT). */
static int
set_timer(CURLM *m, long timeout_ms, void *userp)
{
	(void)m;
	(void)userp;
	curl_due = timeout_ms < 0 ? UINT64_MAX :
	    clock_mono_ms() + (uint64_t)timeout_ms;
	return 0;
}

static int
http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("libcurl initialisation failed");
		return -1;
	}
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, set_timer);
	return resolver_init();
}

/* libcurl sets SO_KEEPALIVE, TCP_KEEPIDLE and TCP_KEEPINTVL itself. */
static int
set_sockopts(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	const struct http	*h = arg;

	if (purpose == CURLSOCKTYPE_IPCXN)
		sock_dead_peer_limits(fd, h->conn->keepalive_idle,
		    h->conn->keepalive_interval, h->conn->keepalive_probes);
	return CURL_SOCKOPT_OK;
}

/*
 * A peer that stops answering without closing: once the request has begun
 * (connecting is connect_timeout's business), STALL_SECONDS without a byte
 * moving either way ends it. libcurl's low-speed limit averages over its
 * last five seconds, so alone it takes up to STALL_SECONDS + 5 s to see a
 * silence; it stays, as what wakes the handle each second to call this.
 */
static int
watch_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct http	*h = arg;
	uint64_t	 now = clock_mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow == 0 || dlnow + ulnow != h->moved) {
		h->moved = dlnow + ulnow;
		h->moved_at = now;
		return 0;
	}
	if (now - h->moved_at < STALL_SECONDS * 1000)
		return 0;
	h->stalled = 1;
	return 1;
}

/* The response body is not needed; only its status. */
static size_t
discard(char *ptr, size_t size, size_t nmemb, void *unused)
{
	(void)ptr;
	(void)unused;
	return size * nmemb;
}

/* The host and port libcurl will connect to, for CURLOPT_RESOLVE. */
static int
url_host_port(const char *uri, char *host, size_t size, int *port)
{
	CURLU		*u;
	char		*h = NULL, *p = NULL, *s;
	const char	*bad = NULL;
	int		 rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK && strlcpy(host, h, size) < size) {
		for (s = host; *s != '\0'; s++)
			*s = (char)tolower((unsigned char)*s);
		*port = (int)strtonum(p, 0, 65535, &bad);
		rc = bad == NULL ? 0 : -1;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

static int
open_fallback(struct http *h, const struct output *o)
{
	if (url_host_port(o->uri, h->host, sizeof(h->host), &h->port) == -1) {
		log_warnx("output %s: cannot find the host in %s", o->name,
		    o->uri);
		return -1;
	}
	if ((h->resolver = resolver_new(h->conn->dns_servers,
	    h->conn->ndns_servers)) == NULL)
		return -1;
	return 0;
}

static void	http_close(struct output *);

static int
http_open(struct output *o)
{
	struct http	*h;
	char		 ctype[128];

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->easy = curl_easy_init()) == NULL ||
	    (h->share = curl_share_init()) == NULL) {
		log_warnx("output %s: cannot make a curl handle", o->name);
		if (h != NULL)
			curl_easy_cleanup(h->easy);
		free(h);
		return -1;
	}
	h->o = o;
	h->conn = o->conn;
	buf_init(&h->body, 0);
	o->tstate = h;
	if (h->conn->ndns_servers > 0 && open_fallback(h, o) == -1) {
		http_close(o);
		return -1;
	}
	(void)snprintf(ctype, sizeof(ctype), "Content-Type: %s",
	    o->content_type != NULL ? o->content_type : "text/plain");
	h->headers = curl_slist_append(NULL, ctype);
	/* No 100-continue round trip before each batch. */
	h->headers = curl_slist_append(h->headers, "Expect:");
	curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
	if (o->method != NULL)		/* the heartbeat's PUT, body as a POST's */
		curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, o->method);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->easy, CURLOPT_USERAGENT, version_agent());
	if (o->api_key[0] != '\0') {
		curl_easy_setopt(h->easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h->easy, CURLOPT_USERNAME, o->api_key);
		curl_easy_setopt(h->easy, CURLOPT_PASSWORD, "");
	}
	/* Its own DNS cache, so one output's pinned answer is not another's. */
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_easy_setopt(h->easy, CURLOPT_SHARE, h->share);
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(h->conn->connect_timeout * 1000));
	curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
	curl_easy_setopt(h->easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h->easy, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(h->easy, CURLOPT_XFERINFODATA, h);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPIDLE,
	    (long)h->conn->keepalive_idle);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPINTVL,
	    (long)h->conn->keepalive_interval);
	curl_easy_setopt(h->easy, CURLOPT_SOCKOPTFUNCTION, set_sockopts);
	curl_easy_setopt(h->easy, CURLOPT_SOCKOPTDATA, h);
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->conn->ca_file[0] != '\0') {
		/* These CAs, and not the system's as well. */
		curl_easy_setopt(h->easy, CURLOPT_CAINFO, h->conn->ca_file);
		curl_easy_setopt(h->easy, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->easy, CURLOPT_PRIVATE, o);
	return 0;
}

/* Replace the CURLOPT_RESOLVE list; it is applied at the next request. */
static int
set_resolve(struct http *h, const char *entry)
{
	struct curl_slist	*list;

	if ((list = curl_slist_append(NULL, entry)) == NULL)
		return -1;
	curl_easy_setopt(h->easy, CURLOPT_RESOLVE, list);
	curl_slist_free_all(h->resolve);
	h->resolve = list;
	return 0;
}

static int
http_start(struct output *o, uint64_t now)
{
	struct http	*h = o->tstate;
	char		 entry[300];

	if (h->resolver != NULL && dnsfallback_expired(&h->fb, now)) {
		/* "-host:port" takes the pinned answer out of the cache. */
		snprintf(entry, sizeof(entry), "-%s:%d", h->host, h->port);
		if (set_resolve(h, entry) == -1)
			h->fb.pinned = 1;	/* keep it; try again next time */
		else
			log_debug("output %s: the fallback answer for %s expired; "
			    "asking the system resolver first again", o->name,
			    h->host);
	}
	buf_reset(&h->body);
	if (batch_render_body(o, &h->body) == -1) {
		log_warn("output %s: cannot render a batch", o->name);
		return -1;
	}
	h->errbuf[0] = '\0';
	h->moved = 0;
	h->moved_at = now;
	h->stalled = 0;
	/* Without ferry's own options (filter, format...): those are not the peer's. */
	curl_easy_setopt(h->easy, CURLOPT_URL, o->batch.kind == RECORD_LOG ?
	    o->url.target_logs : o->url.target);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)h->body.len);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, h->body.p);
	if (curl_multi_add_handle(multi, h->easy) != CURLM_OK) {
		log_warnx("output %s: cannot start a request", o->name);
		return -1;
	}
	return 0;
}

static int
http_shared_fds(struct pollfd *pfd, int max, uint64_t *due)
{
	int	i;

	for (i = 0; i < nsocks && i < max; i++) {
		pfd[i].fd = socks[i].fd;
		pfd[i].events = (socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
		    (socks[i].what & CURL_POLL_OUT ? POLLOUT : 0);
	}
	if (curl_due < *due)
		*due = curl_due;
	return i;
}

static void
http_shared_progress(const struct pollfd *pfd, int n, uint64_t now)
{
	int	i, running, flags;

	for (i = 0; i < n; i++) {
		if (pfd[i].revents == 0)
			continue;
		flags = (pfd[i].revents & POLLIN ? CURL_CSELECT_IN : 0) |
		    (pfd[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0) |
		    (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL) ?
		    CURL_CSELECT_ERR : 0);
		curl_multi_socket_action(multi, pfd[i].fd, flags, &running);
	}
	if (now >= curl_due) {
		curl_due = UINT64_MAX;
		curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
	}
	perform_done(now);
}

/* The fallback resolver's sockets, while it looks a name up for o. */
static int
http_fds(struct output *o, struct pollfd *pfd, int max, uint64_t *due)
{
	struct http	*h = o->tstate;
	int		 timeout, n;
	uint64_t	 now;

	if (h->resolver == NULL || !resolver_busy(h->resolver))
		return 0;
	n = resolver_fds(h->resolver, pfd, max);
	if ((timeout = resolver_timeout(h->resolver, -1)) >= 0) {
		now = clock_mono_ms();
		if (now + (uint64_t)timeout < *due)
			*due = now + (uint64_t)timeout;
	}
	return n;
}

static void
http_progress(struct output *o, const struct pollfd *pfd, int n,
    uint64_t now)
{
	struct http	*h = o->tstate;

	/*
	 * Read every resolver socket, ready or not: an ICMP error on its
	 * connected UDP socket would otherwise wake every poll at once until
	 * the lookup timed out. A lookup that has not begun has no sockets.
	 */
	if (h->resolver != NULL && resolver_busy(h->resolver))
		resolver_process(h->resolver, pfd, n);
	if (h->answered) {
		h->answered = 0;
		fallback_answered(h, now);
	}
}

/* Did the system resolver fail, or not answer within the connect timeout? */
static int
resolve_failed(CURLcode rc, const char *errbuf)
{
	return rc == CURLE_COULDNT_RESOLVE_HOST ||
	    (rc == CURLE_OPERATION_TIMEDOUT &&
	    strncmp(errbuf, "Resolving timed out", 19) == 0);
}

static void
answered(void *arg, const struct resolver_answer *a)
{
	struct http	*h = arg;

	h->answer = *a;
	h->answered = 1;
}

/* Pin the fallback's answer and send the request again; or fail it. */
static void
fallback_answered(struct http *h, uint64_t now)
{
	const struct resolver_answer	*a = &h->answer;
	struct output			*o = h->o;
	char				 entry[600];
	const char			*addrs;

	if (!a->ok) {
		tr_retry(o, now, 0, "%s; the fallback resolver: %s", h->syserr,
		    a->error);
		return;
	}
	if (dnsfallback_resolve_entry(entry, sizeof(entry), h->host, h->port,
	    a->addrs, a->naddrs) == -1 || set_resolve(h, entry) == -1) {
		tr_retry(o, now, 0, "%s; the fallback's answer cannot be used",
		    h->syserr);
		return;
	}
	/* "host:port:" comes first; the host has no ':' (it is a name). */
	addrs = strchr(entry + strlen(h->host) + 1, ':') + 1;
	if (dnsfallback_pin(&h->fb, now, a->ttl))
		log_warnx("output %s: %s; using the fallback resolver, which "
		    "says %s (for %ld s, then the system resolver is asked "
		    "again)", o->name, h->syserr, addrs,
		    (long)((h->fb.expires_ms - now) / 1000));
	else
		log_debug("output %s: fallback resolver: %s, TTL %ld s",
		    o->name, entry, a->ttl);
	if (http_start(o, now) == -1)
		tr_retry(o, now, 0, "cannot start a request");
}

/*
 * What an HTTP answer means: 2xx sent; a permanent 4xx (all but 408 Request
 * Timeout and 429 Too Many Requests, which ask us to come back) refused for
 * good; anything else, or no answer, retried.
 */
static void
answer(struct output *o, CURLcode rc, long code, uint64_t retry_after_ms,
    const char *err, uint64_t now)
{
	char	word[16];

	if (rc != CURLE_OK) {
		tr_retry(o, now, 0, "%s", err);
		return;
	}
	if (code >= 200 && code < 300) {
		tr_sent(o, now);
		return;
	}
	if (code >= 400 && code < 500 && code != 408 && code != 429) {
		snprintf(word, sizeof(word), "%ld", code);
		tr_refused(o, now, word, "HTTP %ld", code);
		return;
	}
	tr_retry(o, now, retry_after_ms, "HTTP %ld", code);
}

static void
finished(CURLMsg *msg, uint64_t now)
{
	struct output	*o = NULL;
	struct http	*h;
	long		 code = 0, connects = 0;
	curl_off_t	 retry_after = 0;
	CURLcode	 rc = msg->data.result;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&o);
	h = o->tstate;
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
	curl_easy_getinfo(msg->easy_handle, CURLINFO_NUM_CONNECTS, &connects);
	curl_multi_remove_handle(multi, msg->easy_handle);
	if (h->resolver != NULL && !h->fb.pinned && resolve_failed(rc, h->errbuf)) {
		snprintf(h->syserr, sizeof(h->syserr), "%s",
		    h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc));
		if (resolver_lookup(h->resolver, h->host, answered, h) == 0)
			return;		/* sent again from fallback_answered() */
	}
	/* A connection of its own with no pin: the system resolved the name. */
	if (h->resolver != NULL && rc == CURLE_OK && connects > 0 &&
	    dnsfallback_system_ok(&h->fb))
		log_info("output %s: the system resolver resolves %s again; "
		    "the fallback resolver is no longer used", o->name, h->host);
	if (h->stalled)
		snprintf(h->errbuf, sizeof(h->errbuf), "the peer went silent: "
		    "nothing sent or received for %d s", STALL_SECONDS);
	answer(o, rc, code, (uint64_t)retry_after * 1000,
	    h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc), now);
}

/* Every request libcurl has finished: its answer to its output. */
static void
perform_done(uint64_t now)
{
	CURLMsg	*msg;
	int	 left;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			finished(msg, now);
}

static void
http_close(struct output *o)
{
	struct http	*h = o->tstate;

	if (h == NULL)
		return;
	resolver_free(h->resolver);
	curl_multi_remove_handle(multi, h->easy);
	curl_easy_cleanup(h->easy);
	curl_share_cleanup(h->share);
	curl_slist_free_all(h->headers);
	curl_slist_free_all(h->resolve);
	buf_free(&h->body);
	free(h);
	o->tstate = NULL;
}

static void
http_cleanup(void)
{
	curl_multi_cleanup(multi);
	multi = NULL;
	resolver_cleanup();
	curl_global_cleanup();
}

const struct transport transport_http = {
	.name = "http",
	.init = http_init,
	.cleanup = http_cleanup,
	.shared_fds = http_shared_fds,
	.shared_progress = http_shared_progress,
	.open = http_open,
	.start = http_start,
	.fds = http_fds,
	.progress = http_progress,
	.close = http_close,
};
