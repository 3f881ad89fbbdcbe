/*
 * output_http: the http/https transport, on libcurl's multi interface, so
 * every output's request runs in the forwarder's one poll loop and none can
 * block another. Each output keeps one easy handle for its life, which keeps
 * its connection (and TLS session) alive between batches.
 *
 * A batch is POSTed as Hosted Graphite expects: HTTP Basic with the API key
 * as the user, a body of plaintext lines. A dead peer is found in seconds:
 * TCP keepalive (1 s idle, 1 s interval, 3 probes) for an idle connection,
 * TCP_USER_TIMEOUT for one with unacknowledged data, and a low-speed limit
 * for a peer that accepted the request but never answers. There is no
 * whole-request timeout, so a large batch over a slow link still succeeds.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "forwarder.h"
#include "log.h"

#define CONNECT_TIMEOUT_MS	5000
#define STALL_SECONDS		10	/* below 1 byte/s this long: dead */
#define USER_TIMEOUT_MS		10000

struct http {
	CURL			*easy;
	struct curl_slist	*headers;
	char			 errbuf[CURL_ERROR_SIZE];
};

static CURLM	*multi;

int
http_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (multi = curl_multi_init()) == NULL) {
		log_warnx("libcurl initialisation failed");
		return -1;
	}
	return 0;
}

static int
set_sockopts(void *unused, curl_socket_t fd, curlsocktype purpose)
{
	int	probes = 3, timeout = USER_TIMEOUT_MS;

	(void)unused;
	if (purpose == CURLSOCKTYPE_IPCXN) {
		setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
		    sizeof(timeout));
	}
	return CURL_SOCKOPT_OK;
}

/* The response body is not needed; only its status. */
static size_t
discard(char *ptr, size_t size, size_t nmemb, void *unused)
{
	(void)ptr;
	(void)unused;
	return size * nmemb;
}

int
http_open(struct output *o)
{
	struct http	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL || (h->easy = curl_easy_init()) == NULL) {
		log_warnx("output %s: cannot make a curl handle", o->name);
		free(h);
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
	curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_TIME, (long)STALL_SECONDS);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPIDLE, 1L);
	curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPINTVL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_SOCKOPTFUNCTION, set_sockopts);
	curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, h->errbuf);
	curl_easy_setopt(h->easy, CURLOPT_PRIVATE, o);
	o->transport = h;
	return 0;
}

int
http_start(struct output *o)
{
	struct http	*h = o->transport;

	h->errbuf[0] = '\0';
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
	struct curl_waitfd	extra[4];
	int			i, numfds;

	for (i = 0; i < nfds && i < 4; i++) {
		extra[i].fd = fds[i];
		extra[i].events = CURL_WAIT_POLLIN;
		extra[i].revents = 0;
	}
	curl_multi_poll(multi, extra, i, timeout_ms, &numfds);
}

static void
finished(CURLMsg *msg, uint64_t now)
{
	struct output	*o = NULL;
	struct http	*h;
	long		 code = 0;
	curl_off_t	 retry_after = 0;

	curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&o);
	h = o->transport;
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(msg->easy_handle, CURLINFO_RETRY_AFTER, &retry_after);
	curl_multi_remove_handle(multi, msg->easy_handle);
	output_done(o, msg->data.result == CURLE_OK, code, (long)retry_after,
	    h->errbuf[0] ? h->errbuf : curl_easy_strerror(msg->data.result), now);
}

void
http_perform(uint64_t now)
{
	CURLMsg	*msg;
	int	 running, left;

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
	curl_multi_remove_handle(multi, h->easy);
	curl_easy_cleanup(h->easy);
	curl_slist_free_all(h->headers);
	free(h);
	o->transport = NULL;
}

void
http_cleanup(void)
{
	curl_multi_cleanup(multi);
	curl_global_cleanup();
}
