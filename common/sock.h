/*
 * sock: the one place that knows how ferry makes its sockets, as Redis's
 * anet.c does: bound listeners (receiver, sink), non-blocking connects
 * (the forwarder's transports, ferryctl send), the source address toward
 * a peer (the heartbeat's report), and the keepalive and user-timeout
 * settings that find a dead peer in seconds instead of the kernel's two
 * hours. Nothing here logs: errors come back in errno or as getaddrinfo()'s
 * code, and the caller, who knows what the socket was for, says so.
 */
#ifndef FERRY_SOCK_H
#define FERRY_SOCK_H

#include <sys/socket.h>

#include <stddef.h>

struct addrinfo;

/*
 * The addresses of host:port for type (SOCK_STREAM, SOCK_DGRAM), to
 * connect to, or with passive to listen on, where host "" or NULL means
 * every address. Blocks in the system's resolver for a name. 0 with *res
 * set (the caller frees it with freeaddrinfo()), or getaddrinfo()'s error,
 * for gai_strerror().
 */
int	sock_addrs(const char *, int, int, int, struct addrinfo **);
/*
 * 1 when every address of the list is a loopback one (127.0.0.0/8, ::1,
 * ::ffff:127.0.0.0/104), else 0: a listener there reaches no one outside.
 */
int	sock_loopback_only(const struct addrinfo *);
/*
 * A non-blocking, close-on-exec socket with SO_REUSEADDR bound to the first
 * address of the list that takes it; a stream socket also listens with
 * backlog. -1 with errno of the last address's failure.
 */
int	sock_listen(const struct addrinfo *, int);
/*
 * SO_RCVBUF of size bytes, past the system's rmem_max when we may
 * (SO_RCVBUFFORCE needs CAP_NET_ADMIN), else as much as it allows.
 */
void	sock_rcvbuf(int, int);
/*
 * A non-blocking, close-on-exec socket of type for sa with a connect()
 * begun: 0 when it connected at once, 1 when it is under way (poll for
 * POLLOUT, then sock_connect_result()), -1 with errno.
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
/*
 * Is the TCP connection still open both ways, with no error pending? A
 * reset purges the send queue, so an empty SIOCOUTQ proves delivery only
 * while this holds; a peer that closed (FIN) reads nothing sent after.
 * SO_ERROR is read, and so cleared.
 */
int	sock_established(int);
/*
 * The numeric address this host sends from toward the numeric address to
 * (the routing table's choice, nothing is sent): 0 with out filled, -1.
 */
int	sock_source_addr(const char *, char *, size_t);

#endif
