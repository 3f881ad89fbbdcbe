/*
 * listen: the receiver's sockets. One TCP listener, one UDP socket and the
 * accepted connections, all in the caller's epoll set.
 *
 * Memory stays flat whatever the clients do: one shared read buffer, and per
 * connection only the unfinished last line, at most max_line bytes, kept
 * until its newline arrives. A line longer than max_line is refused and its
 * connection closed, as carbon does; a silent connection is closed after
 * idle_timeout.
 *
 * At max_connections a new client is not turned away: the connection idle
 * the longest makes room for it (evicted). Refusing instead let anyone who
 * opens that many idle connections shut every other client out for up to
 * idle_timeout, each new one accepted and closed at once, its lines lost
 * while it believed them sent. Connections are kept in the order of their
 * last byte, so the one to evict is the first. An evicted connection is
 * read to the end of what the kernel holds for it before it is closed, so
 * every line it sent before that is taken; an unfinished last line is
 * counted (unfinished), never passed on cut. Evictions are counted and
 * logged when they start, then at most once a minute.
 *
 * A connection is not evicted within EVICT_GRACE_MS of its last byte (or
 * of its accept): otherwise a client reconnecting as fast as it can would
 * evict every newcomer before its lines were read. When even the one idle
 * the longest is that fresh, accepting pauses (the listener leaves the
 * epoll set's events) and new clients wait in the listen backlog, in
 * order, until a connection closes or the grace has passed: held, never
 * accepted and dropped.
 *
 * Reads go in step with the spool's flush, not with the clients' writes.
 * The connections and the UDP socket are in the epoll set one-shot: on
 * readiness a socket is read until the kernel holds no more for it, then
 * it stays out of the wait (parked) and the loop's next flush tick reads it
 * again, just before the write. A client writing a line a millisecond then
 * costs a read per tick, not a wake-up per line; its lines still reach the
 * spool at that tick, as soon as they would have. A socket with nothing at
 * the tick goes back into the wait, so the next byte wakes us at once; one
 * still full after a turn of reads goes back too, so the busiest client
 * does not keep the others waiting. A parked connection still wakes us
 * when its peer shuts down (park()).
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "receiver.h"
#include "sock.h"

#define RBUF_SIZE	(64 * 1024)
#define READS_PER_EVENT	8	/* then let other sockets have a turn */
#define UDP_PER_EVENT	256
#define UDP_VLEN	32	/* datagrams per recvmmsg() */
#define UDP_MAX		65536	/* more than any datagram's payload */
#define UDP_RCVBUF	(8 * 1024 * 1024)
#define LISTEN_BACKLOG	512
#define DRAIN_READS	16	/* an evicted connection: at most 1 MiB more */
#define NOTICE_MS	60000	/* evictions and refusals: one line a minute */
#define EVICT_GRACE_MS	100	/* a connection this fresh is not evicted */

enum sock_kind { SOCK_TCP_LISTEN, SOCK_UDP, SOCK_CONN, SOCK_CLOSED };

/* What a turn of reads found. */
enum got { GOT_NOTHING, GOT_ALL, GOT_MORE, GOT_CLOSED };

struct sock {
	enum sock_kind		 kind;
	int			 fd;
	int			 parked;	/* out of the wait until the tick */
	uint64_t		 last_ms;	/* last byte received */
	size_t			 plen;		/* bytes of the unfinished line */
	char			*partial;
	TAILQ_ENTRY(sock)	 entry;		/* idle longest first */
	TAILQ_ENTRY(sock)	 park;
};

static TAILQ_HEAD(, sock)	 conns = TAILQ_HEAD_INITIALIZER(conns);
/*
 * Closed connections, freed only by listen_reap() after the loop's batch
 * of events: an eviction closes a connection whose event may come later
 * in the same batch.
 */
static TAILQ_HEAD(, sock)	 closed = TAILQ_HEAD_INITIALIZER(closed);
static TAILQ_HEAD(, sock)	 parked = TAILQ_HEAD_INITIALIZER(parked);
static struct sock		 tcp_listener = { .kind = SOCK_TCP_LISTEN, .fd = -1 };
static struct sock		 udp_sock = { .kind = SOCK_UDP, .fd = -1 };
static int			 epfd = -1;
static uint64_t			 paused_until;	/* accepting paused; 0: not */
static int			 nconns;
static int			 max_conns;
static size_t			 max_line;
static uint64_t			 idle_ms;
static char			 rbuf[RBUF_SIZE];
/* Pages of it are touched only by datagrams that long. */
static char			 ubuf[UDP_VLEN][UDP_MAX];

/* Into the epoll set: the listener level-triggered, the others one-shot. */
static int
epoll_add(struct sock *s)
{
	struct epoll_event	ev = { .events = EPOLLIN, .data.ptr = s };

	if (s->kind != SOCK_TCP_LISTEN)
		ev.events |= EPOLLONESHOT;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) == -1) {
		log_warn("epoll_ctl");
		return -1;
	}
	return 0;
}

/* Back into the wait: its next byte wakes the loop. */
static void
rearm(struct sock *s)
{
	struct epoll_event	ev = { .events = EPOLLIN | EPOLLONESHOT,
				    .data.ptr = s };

	if (s->parked) {
		TAILQ_REMOVE(&parked, s, park);
		s->parked = 0;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) == -1)
		log_warn("epoll_ctl");
}

/*
 * Out of the wait for data until the next tick reads it. A connection
 * stays in it for its peer's shutdown alone: a client that sent its lines,
 * shut down its side and waits for our close (as a sender that wants its
 * lines taken does) is closed at once, not a tick later, even when its FIN
 * came just after the read that emptied the socket. The UDP socket has no
 * peer to wait for: its one-shot already took it out.
 */
static void
park(struct sock *s)
{
	struct epoll_event	ev = { .events = EPOLLRDHUP | EPOLLONESHOT,
				    .data.ptr = s };

	if (s->parked)
		return;
	if (s->kind == SOCK_CONN &&
	    epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev) == -1)
		log_warn("epoll_ctl");
	s->parked = 1;
	TAILQ_INSERT_TAIL(&parked, s, park);
}

/*
 * A socket of type bound (and, for TCP, listening) on bind:port; -1
 * (logged) on failure.
 */
static int
bind_socket(const char *bind_addr, int port, int type)
{
	struct addrinfo	*res;
	int		 fd, rc;

	if ((rc = sock_addrs(bind_addr, port, type, 1, &res)) != 0) {
		log_warnx("receiver.bind %s: %s", bind_addr, gai_strerror(rc));
		return -1;
	}
	if ((fd = sock_listen(res, LISTEN_BACKLOG)) == -1)
		log_warn("bind %s:%d/%s", bind_addr, port,
		    type == SOCK_STREAM ? "tcp" : "udp");
	freeaddrinfo(res);
	return fd;
}

static int
open_tcp(const struct ferry_conf *conf)
{
	if ((tcp_listener.fd = bind_socket(conf->receiver.bind,
	    conf->receiver.tcp_port, SOCK_STREAM)) == -1)
		return -1;
	return epoll_add(&tcp_listener);
}

static int
open_udp(const struct ferry_conf *conf)
{
	if ((udp_sock.fd = bind_socket(conf->receiver.bind,
	    conf->receiver.udp_port, SOCK_DGRAM)) == -1)
		return -1;
	/* A burst must wait in the kernel, not be dropped by it. */
	sock_rcvbuf(udp_sock.fd, UDP_RCVBUF);
	return epoll_add(&udp_sock);
}

int
listen_init(const struct ferry_conf *conf, int fd)
{
	epfd = fd;
	max_conns = conf->receiver.max_connections;
	max_line = conf->receiver.max_line;
	idle_ms = (uint64_t)(conf->receiver.idle_timeout * 1000);
	if (conf->receiver.tcp_port != 0 && open_tcp(conf) == -1)
		return -1;
	if (conf->receiver.udp_port != 0 && open_udp(conf) == -1)
		return -1;
	log_info("listening on %s tcp:%d udp:%d", conf->receiver.bind,
	    conf->receiver.tcp_port, conf->receiver.udp_port);
	return 0;
}

static void
conn_close(struct sock *c)
{
	if (c->parked) {
		TAILQ_REMOVE(&parked, c, park);
		c->parked = 0;
	}
	TAILQ_REMOVE(&conns, c, entry);
	close(c->fd);	/* also leaves the epoll set */
	c->fd = -1;
	c->kind = SOCK_CLOSED;
	free(c->partial);
	c->partial = NULL;
	TAILQ_INSERT_TAIL(&closed, c, entry);
	nconns--;
}

/* Free what was closed; the loop calls it after each batch of events. */
void
listen_reap(void)
{
	struct sock	*c;

	while ((c = TAILQ_FIRST(&closed)) != NULL) {
		TAILQ_REMOVE(&closed, c, entry);
		free(c);
	}
}

/* A byte arrived: c is now the connection idle the shortest. */
static void
conn_touch(struct sock *c, uint64_t now_ms)
{
	c->last_ms = now_ms;
	TAILQ_REMOVE(&conns, c, entry);
	TAILQ_INSERT_TAIL(&conns, c, entry);
}

static int	conn_lines(struct sock *, const char *, size_t, int64_t);

/*
 * Close c to make room: first take what the kernel already holds for it
 * (its client counts those lines as sent), then count an unfinished line.
 */
static void
conn_evict(struct sock *c)
{
	int64_t	now = clock_wall();
	ssize_t	n = -1;
	int	i, toolong = 0;

	for (i = 0; i < DRAIN_READS; i++) {
		if ((n = read(c->fd, rbuf, sizeof(rbuf))) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (conn_lines(c, rbuf, n, now) == -1) {
			toolong = 1;	/* rejected and counted already */
			break;
		}
	}
	if (!toolong && n == 0 && c->plen > 0)
		ingest_client_line(c->partial, c->plen, now);
	else if (!toolong && c->plen > 0)
		ingest_stats()->unfinished++;
	ingest_stats()->evicted++;
	conn_close(c);
}

/* Evictions and refusals: said when they start, then once a minute. */
static void
pressure_notice(uint64_t now_ms)
{
	static uint64_t	 logged_ms, evicted, refused;
	struct ingest_stats *st = ingest_stats();

	if (logged_ms != 0 && now_ms - logged_ms < NOTICE_MS)
		return;
	if (st->evicted == evicted && st->refused == refused)
		return;
	log_warnx("receiver.max_connections (%d) reached: %llu idle "
	    "connections closed to make room, %llu clients refused, since "
	    "the last notice", max_conns,
	    (unsigned long long)(st->evicted - evicted),
	    (unsigned long long)(st->refused - refused));
	evicted = st->evicted;
	refused = st->refused;
	logged_ms = now_ms;
}

/* Stop or start being told of new clients; they wait in the backlog. */
static void
listener_events(uint32_t events)
{
	struct epoll_event	ev = { .events = events, .data.ptr = &tcp_listener };

	if (epoll_ctl(epfd, EPOLL_CTL_MOD, tcp_listener.fd, &ev) == -1)
		log_warn("epoll_ctl listener");
}

/*
 * At max_connections: make room by evicting the connection idle the
 * longest; when it is within its grace, pause accepting until it is not
 * (the client just accepted is kept: one over the limit, for a while).
 */
static void
make_room(uint64_t now_ms)
{
	struct sock	*c;

	if (nconns < max_conns || (c = TAILQ_FIRST(&conns)) == NULL)
		return;
	if (now_ms - c->last_ms >= EVICT_GRACE_MS) {
		conn_evict(c);
		return;
	}
	paused_until = c->last_ms + EVICT_GRACE_MS;
	listener_events(0);
}

/* Accept again once a connection closed or the first one's grace is over. */
void
listen_resume(uint64_t now_ms)
{
	if (paused_until == 0 ||
	    (nconns >= max_conns && now_ms < paused_until))
		return;
	paused_until = 0;
	listener_events(EPOLLIN);
}

/* When listen_resume() may have something to do; 0: never. */
uint64_t
listen_due(void)
{
	return paused_until;
}

static void
accept_conns(uint64_t now_ms)
{
	struct sock	*c;
	int		 fd, i;

	for (i = 0; i < 64 && paused_until == 0; i++) {
		fd = accept4(tcp_listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("accept");
			break;
		}
		make_room(now_ms);
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			log_warn("calloc");
			ingest_stats()->refused++;
			close(fd);
			break;
		}
		c->kind = SOCK_CONN;
		c->fd = fd;
		c->last_ms = now_ms;
		if (epoll_add(c) == -1) {
			ingest_stats()->refused++;
			close(fd);
			free(c);
			continue;
		}
		TAILQ_INSERT_TAIL(&conns, c, entry);
		nconns++;
		ingest_stats()->connections++;
	}
	pressure_notice(now_ms);
}

/* Keep the unfinished tail of a read; -1 when it is already too long. */
static int
keep_partial(struct sock *c, const char *p, size_t n)
{
	if (c->plen + n > max_line) {
		ingest_reject(METRIC_TOO_LONG, c->plen ? c->partial : p,
		    c->plen ? c->plen : n);
		return -1;
	}
	if (c->partial == NULL && (c->partial = malloc(max_line + 1)) == NULL) {
		log_warn("malloc");
		return -1;
	}
	memcpy(c->partial + c->plen, p, n);
	c->plen += n;
	return 0;
}

/* The lines of one read; -1 when the connection must close. */
static int
conn_lines(struct sock *c, const char *buf, size_t n, int64_t now)
{
	const char	*p = buf, *end = buf + n, *nl;

	if (c->plen > 0) {
		if ((nl = memchr(p, '\n', n)) == NULL)
			return keep_partial(c, p, n);
		if (keep_partial(c, p, nl - p) == -1)
			return -1;
		if (ingest_client_line(c->partial, c->plen, now) ==
		    METRIC_TOO_LONG)
			return -1;
		c->plen = 0;
		p = nl + 1;
	}
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if (ingest_client_line(p, nl - p, now) == METRIC_TOO_LONG)
			return -1;
		p = nl + 1;
	}
	if (p < end)
		return keep_partial(c, p, end - p);
	return 0;
}

/*
 * A turn of reads of a connection: until the kernel holds no more for it.
 * Woken by epoll (to_end), it reads on to EAGAIN, so a client that sent
 * its lines and closed is closed now, not at the tick (one that waits for
 * our close, as a sender that wants its lines taken does, would wait a
 * tick per connection); at the tick, a short read is the end of the turn.
 */
static enum got
conn_read(struct sock *c, uint64_t now_ms, int to_end)
{
	int64_t	now = clock_wall();
	ssize_t	n;
	int	i;

	for (i = 0; i < READS_PER_EVENT; i++) {
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return i == 0 ? GOT_NOTHING : GOT_ALL;
		if (n <= 0) {
			/* The client is done: its last line may lack a newline. */
			if (n == 0 && c->plen > 0)
				ingest_client_line(c->partial, c->plen, now);
			conn_close(c);
			return GOT_CLOSED;
		}
		conn_touch(c, now_ms);
		if (conn_lines(c, rbuf, n, now) == -1) {
			conn_close(c);
			return GOT_CLOSED;
		}
		if ((size_t)n < sizeof(rbuf) && !to_end)
			return GOT_ALL;
	}
	return GOT_MORE;
}

/* A turn of reads of the UDP socket, UDP_VLEN datagrams a call. */
static enum got
udp_read(void)
{
	static struct mmsghdr	 msgs[UDP_VLEN];
	static struct iovec	 iov[UDP_VLEN];
	int64_t			 now = clock_wall();
	int			 i, k, n, got = 0;

	for (i = 0; i < UDP_VLEN; i++) {
		iov[i].iov_base = ubuf[i];
		iov[i].iov_len = sizeof(ubuf[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (got < UDP_PER_EVENT) {
		n = recvmmsg(udp_sock.fd, msgs, UDP_VLEN, MSG_DONTWAIT, NULL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			if (errno != EAGAIN)
				log_warn("recv udp");
			return got == 0 ? GOT_NOTHING : GOT_ALL;
		}
		for (k = 0; k < n; k++) {
			if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC)
				ingest_reject(METRIC_TOO_LONG, ubuf[k],
				    msgs[k].msg_len);
			else
				ingest_datagram(ubuf[k], msgs[k].msg_len, now);
		}
		got += n;
		if (n < UDP_VLEN)
			return GOT_ALL;
	}
	return GOT_MORE;
}

/*
 * After a turn of reads: what it read all of waits for the tick, what it
 * could not finish and what had nothing goes back into the wait.
 */
static void
after_reads(struct sock *s, enum got got)
{
	if (got == GOT_ALL)
		park(s);
	else if (got != GOT_CLOSED)
		rearm(s);
}

/* One epoll event; ptr is the event's data.ptr, one of our socks. */
void
listen_dispatch(void *ptr, uint64_t now_ms)
{
	struct sock	*s = ptr;

	switch (s->kind) {
	case SOCK_TCP_LISTEN:
		accept_conns(now_ms);
		break;
	case SOCK_UDP:
		after_reads(s, udp_read());
		break;
	case SOCK_CONN:
		after_reads(s, conn_read(s, now_ms, 1));
		break;
	case SOCK_CLOSED:
		break;		/* evicted earlier in this batch */
	}
}

/*
 * The flush tick: read every parked socket once more, just before the
 * spool's write. One that had nothing goes back into the wait.
 */
void
listen_tick(uint64_t now_ms)
{
	struct sock	*s, *next;
	enum got	 got;

	/* The tail now: one parked during this pass waits for the next. */
	for (s = TAILQ_FIRST(&parked); s != NULL; s = next) {
		next = TAILQ_NEXT(s, park);
		got = s->kind == SOCK_UDP ? udp_read() : conn_read(s, now_ms, 0);
		if (got != GOT_ALL && got != GOT_CLOSED)
			rearm(s);
	}
}

/* Parked sockets: the loop must tick while there are. */
int
listen_parked(void)
{
	return !TAILQ_EMPTY(&parked);
}

void
listen_expire(uint64_t now_ms)
{
	struct sock	*c;

	/* Idle longest first: stop at the first that is not expired. */
	while ((c = TAILQ_FIRST(&conns)) != NULL &&
	    now_ms - c->last_ms >= idle_ms) {
		log_debug("closing a connection idle for %llu ms",
		    (unsigned long long)(now_ms - c->last_ms));
		if (c->plen > 0)
			ingest_stats()->unfinished++;
		conn_close(c);
	}
	pressure_notice(now_ms);
}

int
listen_nconns(void)
{
	return nconns;
}

/*
 * At shutdown: take what the kernel already holds for us (the clients
 * count it as sent), then close. An unfinished line is dropped: it may be
 * cut mid-value, and the client sees its connection reset.
 */
void
listen_close(void)
{
	struct sock	*c;
	int64_t		 now = clock_wall();
	ssize_t		 n;
	int		 i;

	if (tcp_listener.fd != -1)
		close(tcp_listener.fd);
	if (udp_sock.fd != -1) {
		udp_read();
		close(udp_sock.fd);
	}
	while ((c = TAILQ_FIRST(&conns)) != NULL) {
		for (i = 0; i < 64; i++) {
			if ((n = read(c->fd, rbuf, sizeof(rbuf))) <= 0 ||
			    conn_lines(c, rbuf, n, now) == -1)
				break;
		}
		if (n == 0 && c->plen > 0)
			ingest_client_line(c->partial, c->plen, now);
		else if (c->plen > 0)
			ingest_stats()->unfinished++;
		conn_close(c);
	}
	listen_reap();
}
