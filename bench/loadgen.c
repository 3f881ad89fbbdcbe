/*
 * loadgen: a bounded Graphite plaintext load generator for the benchmarks.
 *
 *	loadgen [-q] -h 127.0.0.1 -p PORT -n LINES [-c CONNS] [-f FILE] [-w SECS]
 *
 * It builds every line before it connects (by default LINES distinct lines
 * "bench.m<i> <value> <ts>\n"; with -f, the first LINES lines of FILE, or all
 * of them when -n is 0), so generating the input is never part of what is
 * measured. It then splits the buffer into CONNS runs of whole lines, opens
 * CONNS TCP connections, and sends one run on each from its own thread with
 * large write()s. A connection whose run is sent shuts down its write side;
 * with -w it then waits up to SECS seconds for the peer to close, so the time
 * also covers the peer reading everything.
 *
 * Output, one "key=value" line each, for the scripts that drive it:
 *	start=<CLOCK_MONOTONIC seconds when the first connection began to send>
 *	lines=<N> bytes=<B> conns=<C> elapsed=<seconds> rate=<lines/s>
 * -q prints only the second line. Exit 0 when every byte was written, 1 on
 * any failure (connect, write, a peer that reset), 2 on bad usage.
 *
 * Only loopback addresses are accepted: this is a benchmark, not a flood tool.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONNS_MAX	256
#define WRITE_CHUNK	(1024 * 1024)	/* bytes per write(2) */
#define SNDBUF		(4 * 1024 * 1024)

struct conn {
	pthread_t	 thread;
	const char	*buf;
	size_t		 len;
	int		 fd;
	double		 wait;		/* -w: seconds to wait for the peer's close */
	int		 err;		/* errno of the failure, 0 when all was sent */
	const char	*what;		/* the call that failed */
};

static void	usage(void) __attribute__((noreturn));
static double	now(void);
static char	*put_u64(char *, uint64_t);
static char	*gen_lines(uint64_t, size_t *);
static char	*load_file(const char *, uint64_t *, size_t *);
static int	 conn_open(const struct sockaddr_in *, struct conn *);
static void	*conn_send(void *);

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen [-q] -h 127.0.0.1 -p port -n lines "
	    "[-c conns] [-f file] [-w secs]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Decimal digits of v at p; returns the end. snprintf() would do, ten times slower. */
static char *
put_u64(char *p, uint64_t v)
{
	char	tmp[20];
	int	n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

/*
 * n distinct lines "bench.m<i> <value> <ts>\n" in one buffer the caller
 * frees; the length in *lenp. The value varies so a peer cannot shortcut it.
 */
static char *
gen_lines(uint64_t n, size_t *lenp)
{
	static const char	prefix[] = "bench.m";
	uint64_t		i, ts = (uint64_t)time(NULL);
	size_t			cap;
	char			*buf, *p;

	/* prefix, 20 digits, space, 4 value digits, space, 20 digits, newline */
	if (n > SIZE_MAX / 64)
		return NULL;
	cap = n * (sizeof(prefix) - 1 + 20 + 1 + 4 + 1 + 20 + 1);
	if ((buf = malloc(cap > 0 ? cap : 1)) == NULL)
		return NULL;
	p = buf;
	for (i = 0; i < n; i++) {
		memcpy(p, prefix, sizeof(prefix) - 1);
		p += sizeof(prefix) - 1;
		p = put_u64(p, i);
		*p++ = ' ';
		p = put_u64(p, (i * 7919) % 10000);
		*p++ = ' ';
		p = put_u64(p, ts);
		*p++ = '\n';
	}
	*lenp = p - buf;
	return buf;
}

/*
 * The first *np lines of path (all when *np is 0), read into memory; *np
 * becomes the number of lines. A last line without its newline gets one.
 */
static char *
load_file(const char *path, uint64_t *np, size_t *lenp)
{
	struct stat	 st;
	uint64_t	 lines = 0;
	size_t		 off = 0;
	ssize_t		 r;
	char		*buf, *p;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	while (off < (size_t)st.st_size &&
	    (r = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += r;
	close(fd);
	if (off > 0 && buf[off - 1] != '\n')
		buf[off++] = '\n';
	for (p = buf; p < buf + off; p++) {
		if (*p == '\n' && ++lines == *np) {
			p++;
			break;
		}
	}
	if (*np != 0 && lines < *np) {
		fprintf(stderr, "loadgen: %s has only %llu lines\n", path,
		    (unsigned long long)lines);
		free(buf);
		return NULL;
	}
	*np = lines;
	*lenp = p - buf;
	return buf;
}

static int
conn_open(const struct sockaddr_in *sin, struct conn *c)
{
	int	one = 1, sndbuf = SNDBUF;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		c->what = "socket";
		return -1;
	}
	/* A larger send buffer lets one write(2) hand over more at a time. */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (const struct sockaddr *)sin, sizeof(*sin)) == -1) {
		c->what = "connect";
		return -1;
	}
	return 0;
}

/* Thread body: write the whole run, shut the write side, maybe wait for EOF. */
static void *
conn_send(void *arg)
{
	struct conn	*c = arg;
	struct pollfd	 pfd;
	const char	*p = c->buf, *end = c->buf + c->len;
	char		 sink[4096];
	double		 deadline;
	ssize_t		 w;
	size_t		 chunk;

	while (p < end) {
		chunk = (size_t)(end - p) < WRITE_CHUNK ? (size_t)(end - p) : WRITE_CHUNK;
		if ((w = write(c->fd, p, chunk)) == -1) {
			if (errno == EINTR)
				continue;
			c->err = errno;
			c->what = "write";
			return NULL;
		}
		p += w;
	}
	if (shutdown(c->fd, SHUT_WR) == -1) {
		c->err = errno;
		c->what = "shutdown";
		return NULL;
	}
	if (c->wait <= 0)
		return NULL;
	/* The peer closes once it has read our FIN, so after everything else. */
	deadline = now() + c->wait;
	pfd.fd = c->fd;
	pfd.events = POLLIN;
	for (;;) {
		double	left = deadline - now();

		if (left <= 0) {
			c->err = ETIMEDOUT;
			c->what = "waiting for the peer to close";
			return NULL;
		}
		if (poll(&pfd, 1, (int)(left * 1000) + 1) == -1 && errno != EINTR) {
			c->err = errno;
			c->what = "poll";
			return NULL;
		}
		if ((w = read(c->fd, sink, sizeof(sink))) == 0)
			return NULL;
		if (w == -1 && errno != EINTR && errno != EAGAIN) {
			c->err = errno;
			c->what = "read";
			return NULL;
		}
	}
}

int
main(int argc, char *argv[])
{
	static struct conn	 conns[CONNS_MAX];
	struct sockaddr_in	 sin;
	const char		*host = NULL, *file = NULL;
	char			*buf, *end, *p, *q;
	uint64_t		 nlines = 0;
	size_t			 len = 0;
	double			 t0, t1, wait = 0;
	long			 port = 0, nconns = 1;
	int			 ch, i, quiet = 0, failed = 0;

	while ((ch = getopt(argc, argv, "c:f:h:n:p:qw:")) != -1) {
		switch (ch) {
		case 'c':
			nconns = strtol(optarg, &p, 10);
			if (*p != '\0' || nconns < 1 || nconns > CONNS_MAX)
				usage();
			break;
		case 'f':
			file = optarg;
			break;
		case 'h':
			host = optarg;
			break;
		case 'n':
			nlines = strtoull(optarg, &p, 10);
			if (*p != '\0' || optarg[0] == '-')
				usage();
			break;
		case 'p':
			port = strtol(optarg, &p, 10);
			if (*p != '\0' || port < 1 || port > 65535)
				usage();
			break;
		case 'q':
			quiet = 1;
			break;
		case 'w':
			wait = strtod(optarg, &p);
			if (*p != '\0' || wait < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || host == NULL || port == 0 ||
	    (nlines == 0 && file == NULL))
		usage();

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "loadgen: %s: not an IPv4 address\n", host);
		return 2;
	}
	if ((ntohl(sin.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loadgen: %s: loopback addresses only\n", host);
		return 2;
	}
	/* A peer that goes away must end in an error, not in SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	buf = file != NULL ? load_file(file, &nlines, &len) : gen_lines(nlines, &len);
	if (buf == NULL) {
		fprintf(stderr, "loadgen: cannot build the input\n");
		return 1;
	}
	if ((uint64_t)nconns > nlines)
		nconns = nlines > 0 ? (long)nlines : 1;

	/* Runs of whole lines, about len / nconns bytes each. */
	p = buf;
	end = buf + len;
	for (i = 0; i < nconns; i++) {
		q = i == nconns - 1 ? end : buf + len / nconns * (i + 1);
		if (q < p)
			q = p;
		while (q < end && q > buf && q[-1] != '\n')
			q++;
		conns[i].buf = p;
		conns[i].len = q - p;
		conns[i].fd = -1;
		conns[i].wait = wait;
		p = q;
	}
	for (i = 0; i < nconns; i++) {
		if (conn_open(&sin, &conns[i]) == -1) {
			fprintf(stderr, "loadgen: %s %s:%ld: %s\n", conns[i].what,
			    host, port, strerror(errno));
			return 1;
		}
	}

	t0 = now();
	if (!quiet) {
		printf("start=%.6f\n", t0);
		fflush(stdout);
	}
	for (i = 0; i < nconns; i++) {
		if ((errno = pthread_create(&conns[i].thread, NULL, conn_send,
		    &conns[i])) != 0) {
			fprintf(stderr, "loadgen: pthread_create: %s\n", strerror(errno));
			return 1;
		}
	}
	for (i = 0; i < nconns; i++) {
		pthread_join(conns[i].thread, NULL);
		if (conns[i].err != 0) {
			fprintf(stderr, "loadgen: connection %d: %s: %s\n", i,
			    conns[i].what, strerror(conns[i].err));
			failed = 1;
		}
	}
	t1 = now();
	for (i = 0; i < nconns; i++)
		close(conns[i].fd);
	printf("lines=%llu bytes=%zu conns=%ld elapsed=%.6f rate=%.0f\n",
	    (unsigned long long)nlines, len, nconns, t1 - t0,
	    t1 > t0 ? nlines / (t1 - t0) : 0.0);
	free(buf);
	return failed;
}
