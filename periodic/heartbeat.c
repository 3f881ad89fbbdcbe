/*
 * heartbeat: every heartbeat_interval, the report (report.c) as one record
 * into the spool stream "heartbeat" (common/record.h). The forwarder's
 * heartbeat output (forwarder/heartbeat.c) PUTs it to
 * periodic.heartbeat_url with the retry and keepalive of any output, so
 * ferry-periodic itself needs no HTTP client: a heartbeat that arrives has
 * come the whole way a metric comes.
 *
 * Failing to write one is logged when it starts and when it ends, not at
 * every beat; the next beat is the retry.
 *
 * The report's "ip" is the source address this host uses toward the
 * endpoint, as the routing table picks it (sock_source_addr(): nothing is
 * sent). For a host name, the address it resolved to at the last beat:
 * getaddrinfo_a() looks it up in the background, so the loop never blocks
 * on DNS; the first beat to a name has "ip": null.
 */
#include <sys/socket.h>

#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "log.h"
#include "periodic.h"
#include "record.h"
#include "sock.h"
#include "spool.h"
#include "url.h"

static struct spool	*spool;
static int		 failing;

/* The endpoint's host name, looked up in the background. */
static struct gaicb	 gai;
static struct addrinfo	 gai_hints;
static int		 gai_started;
static char		 gai_host[256];
static char		 resolved[INET6_ADDRSTRLEN];	/* its last answer */

int
heartbeat_open(const struct ferry_conf *conf)
{
	if (conf->periodic.heartbeat_url[0] == '\0')
		return 0;
	if ((spool = spool_open(periodic_spool_dir(), conf->spool.memory_dir,
	    RECORD_BEAT_STREAM, &conf->spool)) == NULL)
		return -1;
	return 0;
}

void
heartbeat_close(void)
{
	if (gai_started && (gai_error(&gai) != EAI_INPROGRESS ||
	    gai_cancel(&gai) == EAI_CANCELED))
		freeaddrinfo(gai.ar_result);
	gai_started = 0;
	spool_close(spool);
	spool = NULL;
}

/* The answer of the last lookup, if one came; then the next is started. */
static void
lookup(const char *host)
{
	struct gaicb	*list[1] = { &gai };
	const void	*a;

	if (gai_started) {
		if (gai_error(&gai) == EAI_INPROGRESS)
			return;
		if (gai_error(&gai) == 0 && gai.ar_result != NULL) {
			a = gai.ar_result->ai_family == AF_INET6 ?
			    (const void *)&((struct sockaddr_in6 *)
			    gai.ar_result->ai_addr)->sin6_addr :
			    (const void *)&((struct sockaddr_in *)
			    gai.ar_result->ai_addr)->sin_addr;
			if (inet_ntop(gai.ar_result->ai_family, a, resolved,
			    sizeof(resolved)) == NULL)
				resolved[0] = '\0';
		}
		freeaddrinfo(gai.ar_result);
		gai_started = 0;
	}
	(void)strlcpy(gai_host, host, sizeof(gai_host));
	memset(&gai, 0, sizeof(gai));
	memset(&gai_hints, 0, sizeof(gai_hints));
	gai_hints.ai_socktype = SOCK_STREAM;
	gai.ar_name = gai_host;
	gai.ar_request = &gai_hints;
	if (getaddrinfo_a(GAI_NOWAIT, list, 1, NULL) == 0)
		gai_started = 1;
}

/* This host's source address toward the endpoint of url; "" unknown. */
static void
source_ip(const char *url, char *out, size_t size)
{
	struct url	u;
	char		err[256];

	out[0] = '\0';
	if (url_parse(url, &u, err, sizeof(err)) == -1)
		return;
	if (sock_source_addr(u.host, out, size) == 0)
		return;		/* an address already */
	lookup(u.host);
	if (resolved[0] != '\0')
		(void)sock_source_addr(resolved, out, size);
}

/* Write one beat: the report over the last window seconds. */
void
heartbeat_write(const struct ferry_conf *conf, double window)
{
	struct buf	 line;
	char		 ip[64], *body;
	size_t		 len;

	if (spool == NULL)
		return;
	source_ip(conf->periodic.heartbeat_url, ip, sizeof(ip));
	if ((body = report_build(conf, ip, window, &len)) == NULL)
		return;
	while (len > 0 && body[len - 1] == '\n')
		len--;
	buf_init(&line, 0);
	if (record_beat_append(&line, body, len) == -1 ||
	    spool_append(spool, line.p, line.len) == -1 ||
	    spool_flush(spool) == -1) {
		pstats.heartbeats_failed++;
		if (!failing)
			log_warnx("heartbeat: cannot write it into the spool; "
			    "trying again at the next one, and saying so here "
			    "when one is written");
		failing = 1;
	} else {
		pstats.heartbeats_written++;
		if (failing)
			log_info("heartbeat: written into the spool again");
		failing = 0;
	}
	buf_free(&line);
	free(body);
}
