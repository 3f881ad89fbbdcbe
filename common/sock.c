/*
 * sock: sockets made one way everywhere (sock.h).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sock.h"

#define USER_TIMEOUT_MIN_MS	10000

int
sock_addrs(const char *host, int port, int type, int passive,
    struct addrinfo **res)
{
	struct addrinfo	 hints;
	char		 serv[16];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = type;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	(void)snprintf(serv, sizeof(serv), "%d", port);
	if (passive && host != NULL && host[0] == '\0')
		host = NULL;
	return getaddrinfo(host, serv, &hints, res);
}

static int
is_loopback(const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*a;

	if (sa->sa_family == AF_INET) {
		sin = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	sin6 = (const struct sockaddr_in6 *)(const void *)sa;
	if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
		return 1;
	a = sin6->sin6_addr.s6_addr;
	return IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) && a[12] == 127;
}

int
sock_loopback_only(const struct addrinfo *res)
{
	for (; res != NULL; res = res->ai_next)
		if (!is_loopback(res->ai_addr))
			return 0;
	return 1;
}

int
sock_listen(const struct addrinfo *res, int backlog)
{
	const struct addrinfo	*ai;
	int			 fd = -1, on = 1, saved = EADDRNOTAVAIL;

	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)) == -1) {
			saved = errno;
			continue;
		}
		/* A restart must not wait out the old sockets' TIME_WAIT. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
		    sizeof(on)) == -1 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    (ai->ai_socktype == SOCK_STREAM &&
		    listen(fd, backlog) == -1)) {
			saved = errno;
			close(fd);
			fd = -1;
		}
	}
	if (fd == -1)
		errno = saved;
	return fd;
}

void
sock_rcvbuf(int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
	    sizeof(size)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
}

int
sock_connect(const struct sockaddr *sa, socklen_t len, int type, int *fdp)
{
	int	fd, saved;

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
	saved = errno;
	close(fd);
	errno = saved;
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

int
sock_established(int fd)
{
	struct tcp_info	ti;
	socklen_t	len = sizeof(ti);
	int		err = 0;
	socklen_t	elen = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 || err != 0)
		return 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return 0;
	return ti.tcpi_state == TCP_ESTABLISHED;
}

int
sock_source_addr(const char *to, char *out, size_t size)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct sockaddr_storage	 me;
	struct sockaddr		*sa;
	socklen_t		 salen, melen = sizeof(me);
	const void		*src;
	int			 fd, rc = -1;

	memset(&sin, 0, sizeof(sin));
	memset(&sin6, 0, sizeof(sin6));
	memset(&me, 0, sizeof(me));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);	/* any port: nothing is sent */
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(9);
	if (inet_pton(AF_INET, to, &sin.sin_addr) == 1) {
		sa = (struct sockaddr *)&sin;
		salen = sizeof(sin);
	} else if (inet_pton(AF_INET6, to, &sin6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&sin6;
		salen = sizeof(sin6);
	} else
		return -1;
	/*
	 * connect() on a UDP socket only picks the route and with it the
	 * source address, which getsockname() then tells.
	 */
	if ((fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, sa, salen) == 0 &&
	    getsockname(fd, (struct sockaddr *)&me, &melen) == 0) {
		src = me.ss_family == AF_INET ?
		    (const void *)&((struct sockaddr_in *)&me)->sin_addr :
		    (const void *)&((struct sockaddr_in6 *)&me)->sin6_addr;
		if (inet_ntop(me.ss_family, src, out, size) != NULL)
			rc = 0;
	}
	close(fd);
	return rc;
}
