/*
 * netconn: a non-blocking connection for the socket transports (netconn.h).
 *
 * A name is looked up with glibc's getaddrinfo_a(), which runs the system
 * resolver (hosts file, DNS, search list) in a thread of its own; the loop
 * only asks, every LOOKUP_POLL_MS, whether it is done. An address is taken
 * as it is, with no thread. A lookup that outlives the connect timeout is
 * cancelled; one glibc cannot cancel any more (its thread is inside the
 * resolver) is left to finish and its memory let go, so nothing the thread
 * still writes to is ever freed.
 */
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "forwarder.h"
#include "netconn.h"
#include "sock.h"

#define LOOKUP_POLL_MS	10

/* A lookup and the strings it points to, freed together. */
struct lookup {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	char		 serv[8];
};

void
netconn_init(struct netconn *nc, const struct output *o, int type)
{
	memset(nc, 0, sizeof(*nc));
	nc->o = o;
	nc->type = type;
	nc->fd = -1;
}

static uint64_t
timeout_ms(const struct netconn *nc)
{
	return (uint64_t)(nc->o->conn->connect_timeout * 1000);
}

static void
fail(struct netconn *nc, const char *what, int err)
{
	snprintf(nc->err, sizeof(nc->err), "%s %s:%d: %s", what,
	    nc->o->url.host, nc->o->url.port, err ? strerror(err) :
	    "timed out");
	netconn_close(nc);
}

/* Try the next address; 1 up, 0 under way, -1 none left (err set). */
static int
try_next(struct netconn *nc)
{
	int	rc, saved = ECONNREFUSED;

	for (; nc->next != NULL; nc->next = nc->next->ai_next) {
		rc = sock_connect(nc->next->ai_addr, nc->next->ai_addrlen,
		    nc->type, &nc->fd);
		if (rc == -1) {
			saved = errno;
			continue;
		}
		nc->next = nc->next->ai_next;
		if (rc == 1) {
			nc->state = NC_CONNECTING;
			return 0;
		}
		nc->state = NC_UP;
		return 1;
	}
	fail(nc, "connect", saved);
	return -1;
}

static void
keepalive(struct netconn *nc)
{
	const struct conn_conf	*c = nc->o->conn;

	if (nc->type == SOCK_STREAM)
		sock_keepalive(nc->fd, c->keepalive_idle, c->keepalive_interval,
		    c->keepalive_probes);
}

/* Start the lookup of the output's host; numeric hosts answer at once. */
static int
resolve(struct netconn *nc)
{
	struct addrinfo	 hints;
	struct lookup	*l;
	struct sigevent	 sev;
	struct gaicb	*list[1];
	char		 serv[8];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = nc->type;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", nc->o->url.port);
	if (getaddrinfo(nc->o->url.host, serv, &hints, &nc->ai) == 0) {
		nc->next = nc->ai;
		return 1;
	}
	if ((l = calloc(1, sizeof(*l))) == NULL) {
		fail(nc, "resolve", errno);
		return -1;
	}
	l->hints = hints;
	l->hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
	strlcpy(l->serv, serv, sizeof(l->serv));
	l->cb.ar_name = nc->o->url.host;
	l->cb.ar_service = l->serv;
	l->cb.ar_request = &l->hints;
	list[0] = &l->cb;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_NONE;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev)) != 0) {
		snprintf(nc->err, sizeof(nc->err), "resolve %s: %s",
		    nc->o->url.host, gai_strerror(rc));
		free(l);
		return -1;
	}
	nc->gai = &l->cb;
	nc->state = NC_RESOLVING;
	return 0;
}

void
netconn_start(struct netconn *nc, uint64_t now)
{
	if (nc->state != NC_DOWN)
		return;
	nc->err[0] = '\0';
	nc->deadline = now + timeout_ms(nc);
	if (resolve(nc) == 1 && try_next(nc) == 1)
		keepalive(nc);
}

int
netconn_fds(struct netconn *nc, struct pollfd *pfd, int max, uint64_t *due)
{
	uint64_t	when = nc->deadline, soon;

	if (nc->state == NC_RESOLVING) {
		/* getaddrinfo_a() has no descriptor to poll: look again soon. */
		soon = clock_mono_ms() + LOOKUP_POLL_MS;
		if (soon < when)
			when = soon;
	}
	if ((nc->state == NC_RESOLVING || nc->state == NC_CONNECTING) &&
	    when < *due)
		*due = when;
	if (nc->state != NC_CONNECTING || max < 1)
		return 0;
	pfd[0].fd = nc->fd;
	pfd[0].events = POLLOUT;
	return 1;
}

/* The lookup finished: its answer (or error) in nc; 1, 0 pending, -1. */
static int
lookup_done(struct netconn *nc)
{
	struct lookup	*l = (struct lookup *)nc->gai;
	int		 rc = gai_error(nc->gai);

	if (rc == EAI_INPROGRESS)
		return 0;
	nc->gai = NULL;
	if (rc != 0) {
		snprintf(nc->err, sizeof(nc->err), "resolve %s: %s",
		    nc->o->url.host, gai_strerror(rc));
		free(l);
		netconn_close(nc);
		return -1;
	}
	nc->ai = nc->next = l->cb.ar_result;
	free(l);
	return 1;
}

int
netconn_progress(struct netconn *nc, const struct pollfd *pfd, int n,
    uint64_t now)
{
	int	rc;

	if (nc->state == NC_RESOLVING) {
		if ((rc = lookup_done(nc)) == -1)
			return -1;
		if (rc == 0) {
			if (now < nc->deadline)
				return 0;
			fail(nc, "resolve", 0);
			return -1;
		}
		if ((rc = try_next(nc)) != 0) {
			if (rc == 1)
				keepalive(nc);
			return rc;
		}
		return 0;
	}
	if (nc->state != NC_CONNECTING)
		return nc->state == NC_UP ? 1 : -1;
	if (n > 0 && pfd[0].fd == nc->fd && pfd[0].revents != 0) {
		if ((rc = sock_connect_result(nc->fd)) == 0) {
			nc->state = NC_UP;
			keepalive(nc);
			return 1;
		}
		close(nc->fd);
		nc->fd = -1;
		if (nc->next == NULL) {
			fail(nc, "connect", rc);
			return -1;
		}
		if ((rc = try_next(nc)) == 1)
			keepalive(nc);
		return rc;
	}
	if (now >= nc->deadline) {
		fail(nc, "connect", 0);
		return -1;
	}
	return 0;
}

int
netconn_ready(struct netconn *nc, const struct pollfd *pfd, int *n,
    uint64_t now)
{
	int	rc;

	if (nc->state == NC_UP)
		return 1;
	if (nc->state == NC_DOWN)
		return 0;
	if ((rc = netconn_progress(nc, pfd, *n, now)) == 1)
		*n = 0;
	return rc;
}

int
netconn_send(struct netconn *nc, const char *p, size_t len, size_t *off)
{
	ssize_t	n;

	while (*off < len) {
		n = send(nc->fd, p + *off, len - *off, MSG_NOSIGNAL);
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		*off += (size_t)n;
	}
	return 1;
}

void
netconn_close(struct netconn *nc)
{
	if (nc->gai != NULL) {
		switch (gai_cancel(nc->gai)) {
		case EAI_ALLDONE:
			if (nc->gai->ar_result != NULL)
				freeaddrinfo(nc->gai->ar_result);
			/* FALLTHROUGH */
		case EAI_CANCELED:
			free(nc->gai);
			break;
		default:
			break;	/* glibc's thread still owns it */
		}
	}
	nc->gai = NULL;
	if (nc->fd != -1)
		close(nc->fd);
	nc->fd = -1;
	if (nc->ai != NULL)
		freeaddrinfo(nc->ai);
	nc->ai = nc->next = NULL;
	nc->state = NC_DOWN;
}
