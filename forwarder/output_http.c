/*
 * output_http: the http/https transport, on libcurl's multi interface, so
 * every output's request runs in the forwarder's one poll loop and none can
 * block another. Each output keeps one easy handle for its life, which keeps
 * its connection (and TLS session) alive between batches.
 *
 * A batch is POSTed as Hosted Graphite expects: HTTP Basic with the API key
 * as the user, a body of plaintext lines. A dead peer is found in seconds:
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
#include <sys/queue.h>
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

#define STALL_SECONDS		7	/* no byte moved this long: dead (the promise: noticed within 10 s) */
#define USER_TIMEOUT_MS		10000
#define CALLER_FDS_MAX		4	/* the forwarder's own fds in the poll */

struct http {
	LIST_ENTRY(http)	 entry;
	struct output		*o;
	CURL			*easy;
	CURLSH			*share;		/* the output's own DNS cache */
	struct curl_slist	*headers;
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
	struct pollfd		 pfd[RESOLVER_FDS_MAX];
	int			 npfd;
	int			 polled;	/* busy when the poll began */
};

static CURLM			*multi;
static LIST_HEAD(, http)	 handles = LIST_HEAD_INITIALIZER(handles);
static struct curl_waitfd	*waitfds;	/* the forwarder's, then resolvers' */
static size_t			 waitcap;

int
http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("libcurl initialisation failed");
		return -1;
	}
	if (resolver_init() == -1)
		return -1;
	if ((waitfds = calloc(CALLER_FDS_MAX, sizeof(*waitfds))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	waitcap = CALLER_FDS_MAX;
	return 0;
}

/*
 * Linux ends a connection whose keepalive probes go unanswered after
 * TCP_USER_TIMEOUT when that is set, whatever TCP_KEEPCNT says; so it is
 * never shorter than the configured probes take, and never below 10 s, which
 * is also how long unacknowledged data may wait.
 */
static int
user_timeout_ms(const struct conn_conf *c)
{
	long	probes_ms = ((long)c->keepalive_idle +
	    (long)c->keepalive_interval * c->keepalive_probes) * 1000;

	return probes_ms > USER_TIMEOUT_MS ? (int)probes_ms : USER_TIMEOUT_MS;
}

/* libcurl sets SO_KEEPALIVE, TCP_KEEPIDLE and TCP_KEEPINTVL itself. */
static int
set_sockopts(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	const struct http	*h = arg;
	int			 probes = h->conn->keepalive_probes;
	int			 timeout = user_timeout_ms(h->conn);

	if (purpose == CURLSOCKTYPE_IPCXN) {
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
		    sizeof(timeout));
	}
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

/* output_init() keeps the output's name, not its section: find that. */
static const struct conn_conf *
conn_of(const struct output *o)
{
	size_t	i;

	for (i = 0; i < fconf->noutputs; i++)
		if (strcmp(fconf->outputs[i].name, o->name) == 0)
			return &fconf->outputs[i].conn;
	return &fconf->forwarder.conn;
}

/* The host and port libcurl will connect to, for CURLOPT_RESOLVE. */
static int
url_host_port(const char *uri, char *host, size_t size, int *port)
{
	CURLU	*u;
	char	*h = NULL, *p = NULL, *s;
	int	 rc = -1;

	if ((u = curl_url()) == NULL)
		return -1;
	if (curl_url_set(u, CURLUPART_URL, uri, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK && strlcpy(host, h, size) < size) {
		for (s = host; *s != '\0'; s++)
			*s = (char)tolower((unsigned char)*s);
		*port = atoi(p);
		rc = 0;
	}
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return rc;
}

/* Room in the poll set for every resolver's sockets. */
static int
grow_waitfds(void)
{
	struct curl_waitfd	*w;

	if ((w = reallocarray(waitfds, waitcap + RESOLVER_FDS_MAX,
	    sizeof(*w))) == NULL) {
		log_warn("reallocarray");
		return -1;
	}
	waitfds = w;
	waitcap += RESOLVER_FDS_MAX;
	return 0;
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
	    h->conn->ndns_servers)) == NULL || grow_waitfds() == -1)
		return -1;
	return 0;
}

int
http_open(struct output *o)
{
	struct http	*h;

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
	h->conn = conn_of(o);
	LIST_INSERT_HEAD(&handles, h, entry);
	o->transport = h;
	if (h->conn->ndns_servers > 0 && open_fallback(h, o) == -1) {
		http_close(o);
		return -1;
	}
	h->headers = curl_slist_append(NULL, "Content-Type: text/plain");
	/* No 100-continue round trip before each batch. */
	h->headers = curl_slist_append(h->headers, "Expect:");
	/* Without ferry's own options (filter, format...): those are not the peer's. */
	curl_easy_setopt(h->easy, CURLOPT_URL, o->url.target);
	curl_easy_setopt(h->easy, CURLOPT_POST, 1L);
	curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
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

int
http_start(struct output *o)
{
	struct http	*h = o->transport;
	char		 entry[300];

	if (h->resolver != NULL && dnsfallback_expired(&h->fb, clock_mono_ms())) {
		/* "-host:port" takes the pinned answer out of the cache. */
		snprintf(entry, sizeof(entry), "-%s:%d", h->host, h->port);
		if (set_resolve(h, entry) == -1)
			h->fb.pinned = 1;	/* keep it; try again next time */
		else
			log_debug("output %s: the fallback answer for %s expired; "
			    "asking the system resolver first again", o->name,
			    h->host);
	}
	h->errbuf[0] = '\0';
	h->moved = 0;
	h->moved_at = clock_mono_ms();
	h->stalled = 0;
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)o->batch.len);
	curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, o->batch.body);
	if (curl_multi_add_handle(multi, h->easy) != CURLM_OK) {
		log_warnx("output %s: cannot start a request", o->name);
		return -1;
	}
	return 0;
}

void
http_poll(const int *fds, int nfds, int timeout_ms)
{
	struct http	*h;
	int		 i, n = 0, numfds;

	for (i = 0; i < nfds && i < CALLER_FDS_MAX; i++) {
		waitfds[n].fd = fds[i];
		waitfds[n].events = CURL_WAIT_POLLIN;
		waitfds[n++].revents = 0;
	}
	LIST_FOREACH(h, &handles, entry) {
		h->npfd = 0;
		if ((h->polled = h->resolver != NULL && resolver_busy(h->resolver)) == 0)
			continue;
		h->npfd = resolver_fds(h->resolver, h->pfd, RESOLVER_FDS_MAX);
		for (i = 0; i < h->npfd; i++) {
			waitfds[n].fd = h->pfd[i].fd;
			waitfds[n].events =
			    (h->pfd[i].events & POLLIN ? CURL_WAIT_POLLIN : 0) |
			    (h->pfd[i].events & POLLOUT ? CURL_WAIT_POLLOUT : 0);
			waitfds[n++].revents = 0;
		}
		timeout_ms = resolver_timeout(h->resolver, timeout_ms);
	}
	curl_multi_poll(multi, waitfds, (unsigned)n, timeout_ms, &numfds);
	n = nfds < CALLER_FDS_MAX ? nfds : CALLER_FDS_MAX;
	LIST_FOREACH(h, &handles, entry) {
		if (!h->polled)
			continue;
		for (i = 0; i < h->npfd; i++, n++)
			h->pfd[i].revents =
			    (waitfds[n].revents & CURL_WAIT_POLLIN ? POLLIN : 0) |
			    (waitfds[n].revents & CURL_WAIT_POLLOUT ? POLLOUT : 0);
		resolver_process(h->resolver, h->pfd, h->npfd);
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
	char				 entry[600], err[CURL_ERROR_SIZE + 160];
	const char			*addrs;

	if (!a->ok) {
		snprintf(err, sizeof(err), "%s; the fallback resolver: %s",
		    h->syserr, a->error);
		output_done(o, 0, 0, 0, err, now);
		return;
	}
	if (dnsfallback_resolve_entry(entry, sizeof(entry), h->host, h->port,
	    a->addrs, a->naddrs) == -1 || set_resolve(h, entry) == -1) {
		snprintf(err, sizeof(err), "%s; the fallback's answer cannot "
		    "be used", h->syserr);
		output_done(o, 0, 0, 0, err, now);
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
	if (http_start(o) == -1)
		output_done(o, 0, 0, 0, "cannot start a request", now);
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
	h = o->transport;
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
	output_done(o, rc == CURLE_OK, code, (long)retry_after,
	    h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc), now);
}

void
http_perform(uint64_t now)
{
	struct http	*h;
	CURLMsg		*msg;
	int		 running, left;

	LIST_FOREACH(h, &handles, entry) {
		if (h->answered) {
			h->answered = 0;
			fallback_answered(h, now);
		}
	}
	curl_multi_perform(multi, &running);
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			finished(msg, now);
}

void
http_close(struct output *o)
{
	struct http	*h = o->transport;

	if (h == NULL)
		return;
	LIST_REMOVE(h, entry);
	resolver_free(h->resolver);
	curl_multi_remove_handle(multi, h->easy);
	curl_easy_cleanup(h->easy);
	curl_share_cleanup(h->share);
	curl_slist_free_all(h->headers);
	curl_slist_free_all(h->resolve);
	free(h);
	o->transport = NULL;
}

void
http_cleanup(void)
{
	curl_multi_cleanup(multi);
	free(waitfds);
	resolver_cleanup();
	curl_global_cleanup();
}
