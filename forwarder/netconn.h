/*
 * netconn: one output's connection to host:port, made without blocking the
 * loop, for the socket transports (stream, udp, redis): the name resolved
 * in the background (getaddrinfo_a; an address needs no lookup), each
 * address tried in turn with a non-blocking connect, the whole bounded by
 * the output's connect_timeout, and TCP keepalive set as configured.
 */
#ifndef FERRY_NETCONN_H
#define FERRY_NETCONN_H

#include <netdb.h>
#include <poll.h>
#include <stdint.h>

struct output;

enum netconn_state { NC_DOWN, NC_RESOLVING, NC_CONNECTING, NC_UP };

struct netconn {
	const struct output	*o;
	int			 type;		/* SOCK_STREAM, SOCK_DGRAM */
	int			 fd;		/* -1 unless connecting or up */
	enum netconn_state	 state;
	struct gaicb		*gai;		/* a lookup under way */
	struct addrinfo		*ai, *next;	/* the answer; next to try */
	uint64_t		 deadline;	/* connect_timeout, mono ms */
	char			 err[400];	/* why the last attempt failed */
};

void	netconn_init(struct netconn *, const struct output *, int);
/* Begin connecting, unless up or under way already. */
void	netconn_start(struct netconn *, uint64_t);
/* Descriptors while connecting (fd for POLLOUT) and when next due. */
int	netconn_fds(struct netconn *, struct pollfd *, int, uint64_t *);
/*
 * After the poll, while not up: 1 now up, 0 still under way, -1 failed
 * (err says why; the state is NC_DOWN again).
 */
int	netconn_progress(struct netconn *, const struct pollfd *, int,
	    uint64_t);
/*
 * For a transport's progress(): 1 when the connection is up (if it came up
 * just now, *n becomes 0: the descriptors were the connect's), 0 while it
 * is down or coming up, -1 when the attempt failed now (err says why).
 */
int	netconn_ready(struct netconn *, const struct pollfd *, int *, uint64_t);
/*
 * Write what the socket takes of b from *off on; 1 when all is written, 0
 * when the socket is full, -1 with errno on an error.
 */
int	netconn_send(struct netconn *, const char *, size_t, size_t *);
/* Close the connection (or give up the attempt); it can start again. */
void	netconn_close(struct netconn *);

#endif
