/*
 * linesink: a TCP peer that takes Graphite plaintext and throws it away,
 * noting how late each line of a prefix arrived. Such a line's value is
 * the time it was sent, in microseconds of CLOCK_MONOTONIC (bench/steady's
 * sender writes it so); its latency is the time the line was read here
 * minus that, kept in a histogram of 1 ms buckets.
 *
 *	linesink [-p PORT] [-m PREFIX]
 *
 * Port 0 (the default) takes a free one; it prints "port=N" once
 * listening, on 127.0.0.1 only, and ends on SIGTERM. A connection whose
 * first line is "?" is answered "lines= matched= p50_ms= p99_ms= max_ms="
 * (nearest rank) and closed: how the bench asks, on the same port. One
 * whose first line is "!" sets every figure back to 0 (after a warm-up).
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NBUCKETS	60000	/* 1 ms each: a minute */
#define LINE_MAX_LEN	4096

struct conn {
	int	fd;
	size_t	plen;
	char	partial[LINE_MAX_LEN];
};

static uint64_t	 hist[NBUCKETS + 1];	/* the last: a minute or more */
static uint64_t	 lines, matched;
static uint64_t	 max_us;
static const char *prefix = "steady.";
static size_t	 prefix_len;
static volatile sig_atomic_t quit;

static uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
}

/* The latency at rank q (0..1) in ms, nearest rank. */
static double
rank_ms(double q)
{
	uint64_t	want, seen = 0;
	size_t		i;

	if (matched == 0)
		return 0;
	want = (uint64_t)(q * (double)matched + 0.999999);
	if (want == 0)
		want = 1;
	for (i = 0; i <= NBUCKETS; i++) {
		seen += hist[i];
		if (seen >= want)
			return (double)i + 1;	/* the bucket's upper edge */
	}
	return NBUCKETS;
}

static void
answer(int fd)
{
	char	msg[256];
	int	n;

	n = snprintf(msg, sizeof(msg), "lines=%llu matched=%llu p50_ms=%.0f "
	    "p99_ms=%.0f max_ms=%.1f\n", (unsigned long long)lines,
	    (unsigned long long)matched, rank_ms(0.50), rank_ms(0.99),
	    (double)max_us / 1000);
	if (write(fd, msg, (size_t)n) != n)
		perror("linesink: write");
}

static void
reset(void)
{
	memset(hist, 0, sizeof(hist));
	lines = matched = max_us = 0;
}

/* A question ("?" or "!"): answered, and the connection is done. */
static int
command(int fd, const char *p, size_t n)
{
	if (n != 1 || (*p != '?' && *p != '!'))
		return 0;
	if (*p == '!')
		reset();
	answer(fd);
	return 1;
}

static void
take_line(const char *p, size_t n, uint64_t now)
{
	const char	*v, *end = p + n;
	uint64_t	 sent = 0, lat;

	lines++;
	if (n < prefix_len || memcmp(p, prefix, prefix_len) != 0)
		return;
	if ((v = memchr(p, ' ', n)) == NULL)
		return;
	for (v++; v < end && *v >= '0' && *v <= '9'; v++)
		sent = sent * 10 + (uint64_t)(*v - '0');
	matched++;
	lat = now > sent ? now - sent : 0;
	if (lat > max_us)
		max_us = lat;
	hist[lat / 1000 < NBUCKETS ? lat / 1000 : NBUCKETS]++;
}

/* 0 to keep the connection, -1 to close it. */
static int
conn_read(struct conn *c)
{
	char		 buf[65536];
	const char	*p, *end, *nl;
	ssize_t		 n;
	uint64_t	 now;

	if ((n = read(c->fd, buf, sizeof(buf))) <= 0)
		return n == -1 && errno == EAGAIN ? 0 : -1;
	now = mono_us();
	p = buf;
	end = buf + n;
	while (p < end && (nl = memchr(p, '\n', end - p)) != NULL) {
		if (c->plen > 0) {
			if (c->plen + (nl - p) < sizeof(c->partial)) {
				memcpy(c->partial + c->plen, p, nl - p);
				c->plen += nl - p;
			}
			if (command(c->fd, c->partial, c->plen))
				return -1;
			take_line(c->partial, c->plen, now);
			c->plen = 0;
		} else if (command(c->fd, p, nl - p))
			return -1;
		else
			take_line(p, nl - p, now);
		p = nl + 1;
	}
	if (p < end && c->plen + (end - p) < sizeof(c->partial)) {
		memcpy(c->partial + c->plen, p, end - p);
		c->plen += end - p;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_in	 sin;
	struct epoll_event	 ev, evs[64];
	struct conn		*c;
	socklen_t		 slen = sizeof(sin);
	int			 ch, lfd, ep, fd, i, n, port = 0, one = 1;

	while ((ch = getopt(argc, argv, "p:m:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'm':
			prefix = optarg;
			break;
		default:
			fprintf(stderr, "usage: linesink [-p PORT] [-m PREFIX]\n");
			return 2;
		}
	}
	prefix_len = strlen(prefix);
	signal(SIGTERM, on_term);
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(lfd, 64) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1) {
		perror("linesink: listen");
		return 1;
	}
	printf("port=%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	if ((ep = epoll_create1(0)) == -1) {
		perror("linesink: epoll");
		return 1;
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!quit) {
		if ((n = epoll_wait(ep, evs, 64, 1000)) == -1 && errno != EINTR) {
			perror("linesink: epoll_wait");
			return 1;
		}
		for (i = 0; i < n; i++) {
			if ((c = evs[i].data.ptr) == NULL) {
				while ((fd = accept4(lfd, NULL, NULL,
				    SOCK_NONBLOCK)) != -1) {
					if ((c = calloc(1, sizeof(*c))) == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (conn_read(c) == -1) {
				close(c->fd);
				free(c);
			}
		}
	}
	return 0;
}
