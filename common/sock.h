/*
 * sock: the one place that knows how ferry makes its sockets, as Redis's
 * anet.c does: bound listeners (receiver, sink), non-blocking connects
 * (the forwarder's transports, ferryctl send), and the keepalive and
 * user-timeout settings that find a dead peer in seconds instead of the
 * kernel's two hours. Nothing here logs: errors come back in errno or err,
 * and the caller, who knows what the socket was for, says so.
 */
#ifndef FERRY_SOCK_H
#define FERRY_SOCK_H

#include <sys/socket.h>

#include <stddef.h>

/*
 * A socket of type (SOCK_STREAM, SOCK_DGRAM) bound to host:port, non-blocking
 * and close-on-exec, with SO_REUSEADDR; a stream socket also listens with
 * backlog. host "" or NULL: every address. -1 with err set.
 */
int	sock_listen(const char *, int, int, int, char *, size_t);
/*
 * A non-blocking, close-on-exec socket for ai with a connect() begun: 0 when
 * it connected at once, 1 when it is under way (poll for POLLOUT, then
 * sock_connect_result()), -1 with errno.
 */
int	sock_connect(const struct sockaddr *, socklen_t, int, int *);
/* After POLLOUT: 0 connected, else the errno the connect ended with. */
int	sock_connect_result(int);
/*
 * SO_KEEPALIVE with idle and interval seconds and probes, plus
 * sock_dead_peer_limits(): a silent peer is found in
 * idle + interval * probes seconds.
 */
void	sock_keepalive(int, int, int, int);
/*
 * TCP_KEEPCNT, and TCP_USER_TIMEOUT set to what the probes take (never
 * below 10 s, which is also how long unacknowledged data may wait): Linux
 * ends a connection after TCP_USER_TIMEOUT when it is set, whatever
 * TCP_KEEPCNT says, so a shorter one would cut the probes short. For
 * libcurl's sockets, which set the rest themselves.
 */
void	sock_dead_peer_limits(int, int, int, int);
/* Bytes written but not yet acknowledged by the peer (SIOCOUTQ); -1 on error. */
long	sock_unacked(int);

#endif
