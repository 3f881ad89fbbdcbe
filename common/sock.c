/*
 * sock: sockets made one way everywhere (sock.h).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

#define USER_TIMEOUT_MIN_MS	10000

int
sock_listen(const char *host, int port, int type, int backlog, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res, *ai;
	char		 serv[16];
	int		 fd = -1, on = 1, rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((rc = getaddrinfo(host != NULL && host[0] != '\0' ? host : NULL,
	    serv, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, type | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			saved = errno;
			continue;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (type == SOCK_STREAM && listen(fd, backlog) == -1)) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd == -1)
		snprintf(err, errlen, "%s:%d/%s: %s", host ? host : "", port,
		    type == SOCK_STREAM ? "tcp" : "udp", strerror(saved));
	return fd;
}

int
sock_connect(const struct sockaddr *sa, socklen_t len, int type, int *fdp)
{
	int	fd;

	if ((fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	if (connect(fd, sa, len) == 0) {
		*fdp = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		*fdp = fd;
		return 1;
	}
	close(fd);
	return -1;
}

int
sock_connect_result(int fd)
{
	socklen_t	len = sizeof(int);
	int		soerr = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == -1)
		return errno;
	return soerr;
}

void
sock_dead_peer_limits(int fd, int idle, int interval, int probes)
{
	long	ms = ((long)idle + (long)interval * probes) * 1000;
	int	timeout = ms > USER_TIMEOUT_MIN_MS ? (int)ms : USER_TIMEOUT_MIN_MS;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof(probes));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout,
	    sizeof(timeout));
}

void
sock_keepalive(int fd, int idle, int interval, int probes)
{
	int	on = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval,
	    sizeof(interval));
	sock_dead_peer_limits(fd, idle, interval, probes);
}

long
sock_unacked(int fd)
{
	int	n;

	if (ioctl(fd, SIOCOUTQ, &n) == -1)
		return -1;
	return n;
}
