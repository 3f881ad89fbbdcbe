/*
 * nullsink: a minimal HTTP endpoint for the benchmarks, the stand-in for a
 * collector that costs nothing, so a benchmark of the forwarder measures the
 * forwarder and not its peer.
 *
 *	nullsink [-p PORT] [-m PREFIX] [-t FILE]
 *
 * It listens on 127.0.0.1:PORT (0, the default: a free port) and prints
 * "port=<N>" once it accepts. Each connection is kept alive; a request's body
 * is taken by Content-Length or chunked encoding, its lines are counted, and
 * it is answered "200 OK" with an empty body. Lines that start with PREFIX
 * (default: every line) are "matched"; with -t, each matched line's name and
 * the CLOCK_MONOTONIC time its request was complete are appended to FILE as
 * "<name> <seconds>\n", flushed after every request, so a benchmark can
 * compute each metric's latency against the time it was sent (same clock).
 *
 * GET /count answers one line for the scripts that drive it:
 *	requests=<R> lines=<L> matched=<M> bytes=<B> last=<T> prev=<T>
 *	last_matched=<K>
 * where last is the CLOCK_MONOTONIC time (s) of the last request that had a
 * matched line, prev that of the one before it (0 before there is one), and
 * last_matched the number of matched lines in that last request: so a
 * benchmark can tell a drain's final, partial batch from the rest.
 * GET /ruok answers "imok". Anything else with a body is counted and answered
 * 200 whatever its method or path: this endpoint accepts everything.
 *
 * One thread and one epoll loop. A request is handled once it is whole in
 * its connection's buffer, which grows to the largest request seen (capped
 * at MAX_REQUEST; a larger one closes the connection). Replies are a few
 * bytes, written at once; a peer that does not read them loses its
 * connection. It ends on SIGTERM or SIGINT, and only listens on 127.0.0.1.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS	64
#define MAX_HEADER	(64 * 1024)
#define MAX_REQUEST	(256 * 1024 * 1024)
#define READ_CHUNK	(256 * 1024)

struct conn {
	int	 fd;
	char	*buf;
	size_t	 len;		/* bytes in buf */
	size_t	 cap;
};

struct stats {
	uint64_t	requests;
	uint64_t	lines;
	uint64_t	matched;
	uint64_t	bytes;
	double		last;		/* the last request with a matched line */
	double		prev;		/* the one before it */
	uint64_t	last_matched;	/* matched lines in the last one */
};

static struct stats		 st;
static const char		*prefix = "";
static size_t			 prefixlen;
static FILE			*trace;
static volatile sig_atomic_t	 quit;

static void	 usage(void) __attribute__((noreturn));
static double	 now(void);
static void	 on_signal(int);
static int	 listen_on(long, long *);
static void	 conn_close(int, struct conn *);
static ssize_t	 find_crlf2(const char *, size_t);
static ssize_t	 dechunk(char *, size_t, size_t, size_t *);
static void	 count_body(const char *, size_t);
static int	 reply(int, const char *, const char *);
static int	 handle(int, struct conn *);
static int	 conn_read(struct conn *);

static void
usage(void)
{
	fprintf(stderr, "usage: nullsink [-p port] [-m prefix] [-t file]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
on_signal(int signo)
{
	(void)signo;
	quit = 1;
}

/* A listening socket on 127.0.0.1:port; the port it got in *got. */
static int
listen_on(long port, long *got)
{
	struct sockaddr_in	sin;
	socklen_t		slen = sizeof(sin);
	int			fd, one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 128) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		close(fd);
		return -1;
	}
	*got = ntohs(sin.sin_port);
	return fd;
}

static void
conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->buf);
	free(c);
}

/* Offset just past the "\r\n\r\n" that ends the header, or -1. */
static ssize_t
find_crlf2(const char *p, size_t len)
{
	const char	*e;

	if ((e = memmem(p, len, "\r\n\r\n", 4)) == NULL)
		return -1;
	return e - p + 4;
}

/*
 * Decode the chunked body that starts at buf + off (buf holds len bytes),
 * in place: the data is moved down to buf + off, its length in *bodylen.
 * Returns the offset just past the whole encoded body (trailers included),
 * 0 when it is not complete yet, -1 when it is malformed. On 0 nothing was
 * changed, so the caller can call again once more bytes arrived.
 */
static ssize_t
dechunk(char *buf, size_t len, size_t off, size_t *bodylen)
{
	size_t		 p = off, out = off, n;
	const char	*e;
	char		*end;

	/* A first pass checks that the body is whole, without changing buf. */
	for (;;) {
		if ((e = memmem(buf + p, len - p, "\r\n", 2)) == NULL)
			return 0;
		errno = 0;
		n = strtoul(buf + p, &end, 16);
		if (end == buf + p || errno != 0 || n > MAX_REQUEST)
			return -1;
		p = e - buf + 2;
		if (n == 0)
			break;
		if (len - p < n + 2)
			return 0;
		p += n + 2;
	}
	/* Trailers, if any, end with an empty line. */
	for (;;) {
		if ((e = memmem(buf + p, len - p, "\r\n", 2)) == NULL)
			return 0;
		if (e == buf + p) {
			p += 2;
			break;
		}
		p = e - buf + 2;
	}
	/* Whole: now move each chunk's data down. */
	for (size_t q = off;;) {
		e = memmem(buf + q, len - q, "\r\n", 2);
		n = strtoul(buf + q, NULL, 16);
		q = e - buf + 2;
		if (n == 0)
			break;
		memmove(buf + out, buf + q, n);
		out += n;
		q += n + 2;
	}
	*bodylen = out - off;
	return (ssize_t)p;
}

/* Count a body's lines; trace the matched ones with the request's time. */
static void
count_body(const char *body, size_t len)
{
	const char	*p = body, *end = body + len, *nl, *sp;
	uint64_t	 matched = 0;
	double		 t = 0;

	st.requests++;
	st.bytes += len;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;	/* a last line without its newline */
		st.lines++;
		if ((size_t)(nl - p) >= prefixlen &&
		    memcmp(p, prefix, prefixlen) == 0) {
			matched++;
			if (trace != NULL) {
				if (t == 0)
					t = now();
				if ((sp = memchr(p, ' ', nl - p)) == NULL)
					sp = nl;
				fprintf(trace, "%.*s %.6f\n", (int)(sp - p), p, t);
			}
		}
		p = nl + 1;
	}
	if (matched > 0) {
		st.matched += matched;
		st.prev = st.last;
		st.last = t != 0 ? t : now();
		st.last_matched = matched;
		if (trace != NULL)
			fflush(trace);
	}
}

/* Write a whole small reply at once; -1 when the socket would not take it. */
static int
reply(int fd, const char *status, const char *body)
{
	char	msg[1024];
	int	n;

	n = snprintf(msg, sizeof(msg), "HTTP/1.1 %s\r\nContent-Type: text/plain"
	    "\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body), body);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	return write(fd, msg, n) == n ? 0 : -1;
}

/*
 * Handle every whole request at the start of c's buffer. Returns 0 to keep
 * the connection, -1 to close it (malformed, "Connection: close", too big).
 */
static int
handle(int fd, struct conn *c)
{
	char		 counts[512], *h, *line, *next;
	ssize_t		 hlen, total;
	size_t		 clen = 0, bodylen = 0;
	int		 chunked, close_after, is_get, rc;

	while (c->len > 0) {
		if ((hlen = find_crlf2(c->buf, c->len)) == -1)
			return c->len > MAX_HEADER ? -1 : 0;
		chunked = close_after = 0;
		clen = 0;
		is_get = strncmp(c->buf, "GET ", 4) == 0;
		/* Header lines after the request line; buf[hlen - 2] is '\r'. */
		h = memchr(c->buf, '\n', hlen);
		for (line = h + 1; line < c->buf + hlen - 2; line = next) {
			next = (char *)memchr(line, '\n', c->buf + hlen - line) + 1;
			if (strncasecmp(line, "Content-Length:", 15) == 0)
				clen = strtoull(line + 15, NULL, 10);
			else if (strncasecmp(line, "Transfer-Encoding:", 18) == 0 &&
			    memmem(line, next - line, "chunked", 7) != NULL)
				chunked = 1;
			else if (strncasecmp(line, "Connection:", 11) == 0 &&
			    memmem(line, next - line, "close", 5) != NULL)
				close_after = 1;
		}
		if (chunked) {
			if ((total = dechunk(c->buf, c->len, hlen, &bodylen)) <= 0)
				return total == 0 && c->len <= MAX_REQUEST ? 0 : -1;
		} else {
			if (clen > MAX_REQUEST)
				return -1;
			if (c->len - hlen < clen)
				return 0;
			bodylen = clen;
			total = hlen + clen;
		}
		if (is_get && strncmp(c->buf + 4, "/count", 6) == 0) {
			snprintf(counts, sizeof(counts), "requests=%llu lines=%llu "
			    "matched=%llu bytes=%llu last=%.6f prev=%.6f "
			    "last_matched=%llu\n",
			    (unsigned long long)st.requests,
			    (unsigned long long)st.lines,
			    (unsigned long long)st.matched,
			    (unsigned long long)st.bytes, st.last, st.prev,
			    (unsigned long long)st.last_matched);
			rc = reply(fd, "200 OK", counts);
		} else if (is_get && strncmp(c->buf + 4, "/ruok", 5) == 0) {
			rc = reply(fd, "200 OK", "imok");
		} else {
			count_body(c->buf + hlen, bodylen);
			rc = reply(fd, "200 OK", "");
		}
		memmove(c->buf, c->buf + total, c->len - total);
		c->len -= total;
		if (rc == -1 || close_after)
			return -1;
	}
	return 0;
}

/* Read what the socket has; 0 to go on, -1 on EOF or error. */
static int
conn_read(struct conn *c)
{
	char	*nbuf;
	size_t	 ncap, want;
	ssize_t	 n;

	for (;;) {
		if (c->cap - c->len < READ_CHUNK) {
			ncap = c->cap ? c->cap * 2 : 2 * READ_CHUNK;
			if (ncap > MAX_REQUEST + READ_CHUNK ||
			    (nbuf = realloc(c->buf, ncap)) == NULL)
				return -1;
			c->buf = nbuf;
			c->cap = ncap;
		}
		/* One spare byte so strtoul() in a header never runs off. */
		want = c->cap - c->len - 1;
		n = read(c->fd, c->buf + c->len, want);
		if (n == 0)
			return -1;
		if (n == -1)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->len += n;
		c->buf[c->len] = '\0';
		if ((size_t)n < want)
			return 0;	/* drained for now */
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, events[MAX_EVENTS];
	struct sigaction	 sa;
	struct conn		*c;
	const char		*tracefile = NULL;
	char			*p;
	long			 port = 0, got;
	int			 ch, ep, lfd, fd, i, n, one = 1;

	while ((ch = getopt(argc, argv, "m:p:t:")) != -1) {
		switch (ch) {
		case 'm':
			prefix = optarg;
			break;
		case 'p':
			port = strtol(optarg, &p, 10);
			if (*p != '\0' || port < 0 || port > 65535)
				usage();
			break;
		case 't':
			tracefile = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	prefixlen = strlen(prefix);
	if (tracefile != NULL && (trace = fopen(tracefile, "w")) == NULL) {
		fprintf(stderr, "nullsink: %s: %s\n", tracefile, strerror(errno));
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((lfd = listen_on(port, &got)) == -1 ||
	    (ep = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		fprintf(stderr, "nullsink: listen on 127.0.0.1:%ld: %s\n", port,
		    strerror(errno));
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
		fprintf(stderr, "nullsink: epoll_ctl: %s\n", strerror(errno));
		return 1;
	}
	printf("port=%ld\n", got);
	fflush(stdout);

	while (!quit) {
		if ((n = epoll_wait(ep, events, MAX_EVENTS, 1000)) == -1) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nullsink: epoll_wait: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if ((c = events[i].data.ptr) != NULL) {
				if (conn_read(c) == -1 || handle(c->fd, c) == -1)
					conn_close(ep, c);
				continue;
			}
			while ((fd = accept4(lfd, NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
				if ((c = calloc(1, sizeof(*c))) == NULL) {
					close(fd);
					continue;
				}
				c->fd = fd;
				(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				    sizeof(one));
				ev.events = EPOLLIN;
				ev.data.ptr = c;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
					close(fd);
					free(c);
				}
			}
		}
	}
	if (trace != NULL)
		fclose(trace);
	return 0;
}
