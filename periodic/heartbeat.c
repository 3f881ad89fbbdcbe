/*
 * heartbeat: one PUT of the report (report.c) to periodic.heartbeat_url
 * every heartbeat_interval, on libcurl's multi interface so the loop keeps
 * watching the configuration and the signals while it is in flight.
 *
 * No retry storm: a beat that fails is not retried; the next beat is the
 * retry. The failure is logged when failing starts and the recovery when it
 * ends, not at every beat. A beat still in flight when the next is due (the
 * endpoint is slow) makes that one skip, so at most one request is ever out,
 * and none takes longer than HEARTBEAT_TIMEOUT_MS.
 *
 * With an api_key set, the request carries it as the HTTP Basic user (with
 * an empty password), as the outputs do.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "conf.h"
#include "log.h"
#include "periodic.h"
#include "sock.h"
#include "version.h"

static CURLM			*multi;
static CURL			*easy;		/* non-NULL while one is out */
static struct curl_slist	*headers;
static char			*body;
static char			 url[1024];
static char			 errbuf[CURL_ERROR_SIZE];
static char			 remote_ip[64];	/* the endpoint's, last time */
static int			 failing;

static size_t	discard(char *, size_t, size_t, void *);
static void	primary_ip(const char *, char *, size_t);
static void	url_host(const char *, char *, size_t);
static void	finish(CURLcode);

int
heartbeat_init(void)
{
	if ((multi = curl_multi_init()) == NULL)
		return -1;
	if ((headers = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL) {
		curl_multi_cleanup(multi);
		multi = NULL;
		return -1;
	}
	return 0;
}

static void
release(void)
{
	if (easy != NULL) {
		curl_multi_remove_handle(multi, easy);
		curl_easy_cleanup(easy);
		easy = NULL;
	}
	free(body);
	body = NULL;
}

void
heartbeat_cleanup(void)
{
	/* A beat still out at exit is dropped: the next start sends one. */
	release();
	curl_slist_free_all(headers);
	headers = NULL;
	curl_multi_cleanup(multi);
	multi = NULL;
}

/*
 * Wait up to timeout ms for the transfer or for fd (the signal pipe);
 * *fd_ready says whether fd is readable. 0, or -1 on a libcurl error.
 */
int
heartbeat_poll(int fd, int timeout, int *fd_ready)
{
	struct curl_waitfd	w = { .fd = fd, .events = CURL_WAIT_POLLIN };

	*fd_ready = 0;
	if (curl_multi_poll(multi, &w, 1, timeout, NULL) != CURLM_OK)
		return -1;
	*fd_ready = (w.revents & CURL_WAIT_POLLIN) != 0;
	return 0;
}

/* Drive the transfer; a finished one is judged and let go. */
void
heartbeat_perform(void)
{
	CURLMsg	*m;
	int	 running, left;

	if (easy == NULL)
		return;
	(void)curl_multi_perform(multi, &running);
	while ((m = curl_multi_info_read(multi, &left)) != NULL)
		if (m->msg == CURLMSG_DONE && m->easy_handle == easy)
			finish(m->data.result);
}

/*
 * Start one beat: the report over the last window seconds, PUT to the
 * configured URL.
 */
void
heartbeat_send(const struct ferry_conf *conf, double window)
{
	char	ip[64];
	size_t	len;

	if (easy != NULL) {
		log_debug("heartbeat: the previous one is still out; "
		    "skipping this one");
		return;
	}
	(void)strlcpy(url, conf->periodic.heartbeat_url, sizeof(url));
	primary_ip(url, ip, sizeof(ip));
	if ((body = report_build(conf, ip, window, &len)) == NULL)
		return;
	if ((easy = curl_easy_init()) == NULL) {
		log_warnx("heartbeat: curl_easy_init failed");
		release();
		return;
	}
	errbuf[0] = '\0';
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, "PUT");
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, version_agent());
	if (conf->api_key[0] != '\0') {
		curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(easy, CURLOPT_USERNAME, conf->api_key);
		curl_easy_setopt(easy, CURLOPT_PASSWORD, "");
	}
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)HEARTBEAT_TIMEOUT_MS);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)HEARTBEAT_CONNECT_MS);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK) {
		log_warnx("heartbeat: curl_multi_add_handle failed");
		release();
	}
}

/* The answer's body is not needed; the status says it all. */
static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* A beat ended: count it, and log a change between working and failing. */
static void
finish(CURLcode res)
{
	char	 why[CURL_ERROR_SIZE + 32];
	char	*ip = NULL;
	long	 code = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip != NULL && ip[0] != '\0')
		(void)strlcpy(remote_ip, ip, sizeof(remote_ip));
	if (res == CURLE_OK && code >= 200 && code < 300) {
		pstats.heartbeats_sent++;
		if (failing)
			log_info("heartbeat to %s works again", url);
		failing = 0;
	} else {
		pstats.heartbeats_failed++;
		if (res != CURLE_OK)
			(void)snprintf(why, sizeof(why), "%s", errbuf[0] != '\0' ?
			    errbuf : curl_easy_strerror(res));
		else
			(void)snprintf(why, sizeof(why), "HTTP %ld", code);
		if (!failing)
			log_warnx("heartbeat to %s failed: %s; sending the "
			    "next one on time, and saying so here when one "
			    "gets through", url, why);
		failing = 1;
	}
	release();
}

/*
 * The source address this host uses toward the heartbeat's endpoint, as the
 * routing table picks it (sock_source_addr(): nothing is sent). The
 * endpoint is the URL's host when it is an address, else the address curl
 * reached last time: resolving a name here would block the loop. "" when
 * neither is known yet (the first beat to a name).
 */
static void
primary_ip(const char *u, char *out, size_t size)
{
	char	addr[64];

	out[0] = '\0';
	url_host(u, addr, sizeof(addr));
	if (sock_source_addr(addr, out, size) == -1)
		(void)sock_source_addr(remote_ip, out, size);
}

/* The host part of URL u, without an IPv6 literal's brackets; "" if none. */
static void
url_host(const char *u, char *out, size_t size)
{
	CURLU	*h;
	char	*host = NULL;
	size_t	 n;

	out[0] = '\0';
	if ((h = curl_url()) != NULL &&
	    curl_url_set(h, CURLUPART_URL, u, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		n = strlen(host);
		if (host[0] == '[' && n > 2 && host[n - 1] == ']')
			(void)snprintf(out, size, "%.*s", (int)(n - 2),
			    host + 1);
		else
			(void)strlcpy(out, host, size);
	}
	curl_free(host);
	curl_url_cleanup(h);
}
