/*
 * send: one Graphite plaintext line to the local receiver over TCP, the
 * way any program would send it, to check the path end to end by hand.
 *
 * The line is validated with the receiver's own parser first, so a typo is
 * refused here with the reason rather than counted as a reject over there.
 * Success means the line was written and the receiver then closed the
 * connection cleanly after our half-close: a reset, a refusal or a timeout
 * is a failure, reported with its cause.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "metric.h"
#include "ctl.h"
#include "sock.h"

#define SEND_TIMEOUT_MS	5000	/* for the connect, and again for the close */
#define SEND_LINE_MAX	8192

static const char *connect_host(const char *);
static int	dial(const char *, int, char *, size_t);
static int	wait_fd(int, short, uint64_t);
static int	send_line(int, const char *, size_t, char *, size_t);

int
cmd_send(struct ctl *ctl, int argc, char **argv)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	struct metric		 m;
	char			 line[SEND_LINE_MAX], err[256];
	int			 n, rc, fd;

	if (argc < 2 || argc > 3)
		ctl_usage();
	n = snprintf(line, sizeof(line), "%s %s%s%s", argv[0], argv[1],
	    argc == 3 ? " " : "", argc == 3 ? argv[2] : "");
	if (n < 0 || (size_t)n >= sizeof(line) - 1)
		rc = METRIC_TOO_LONG;
	else
		rc = metric_parse(line, n, &m);
	if (rc != METRIC_OK) {
		fprintf(stderr, "ferryctl: not a valid metric line (%s): %s\n",
		    metric_status_name(rc), line);
		return 1;
	}
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		return 1;
	}
	if (conf->receiver.tcp_port == 0) {
		fprintf(stderr, "ferryctl: the receiver's TCP port is disabled "
		    "(receiver.tcp_port = 0)\n");
		conf_free(conf);
		return 1;
	}
	line[n++] = '\n';
	fd = dial(connect_host(conf->receiver.bind), conf->receiver.tcp_port,
	    err, sizeof(err));
	if (fd == -1 || send_line(fd, line, n, err, sizeof(err)) == -1) {
		fprintf(stderr, "ferryctl: send to %s port %d: %s\n",
		    conf->receiver.bind, conf->receiver.tcp_port, err);
		if (fd != -1)
			close(fd);
		conf_free(conf);
		return 1;
	}
	close(fd);
	if (ctl->json)
		printf("{\"sent\":true}\n");
	conf_free(conf);
	return 0;
}

/* A receiver bound to every address is reached on loopback. */
static const char *
connect_host(const char *bind)
{
	if (bind == NULL || bind[0] == '\0' || strcmp(bind, "*") == 0 ||
	    strcmp(bind, "0.0.0.0") == 0)
		return "127.0.0.1";
	if (strcmp(bind, "::") == 0)
		return "::1";
	return bind;
}

/* A connected TCP socket, each address tried in turn; -1 and err set. */
static int
dial(const char *host, int port, char *err, size_t errsize)
{
	struct addrinfo	*res, *ai;
	int		 fd = -1, gai, rc;

	if ((gai = sock_addrs(host, port, SOCK_STREAM, 0, &res)) != 0) {
		(void)snprintf(err, errsize, "%s: %s", host, gai_strerror(gai));
		return -1;
	}
	(void)snprintf(err, errsize, "no address");
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((rc = sock_connect(ai->ai_addr, ai->ai_addrlen, SOCK_STREAM,
		    &fd)) == 0)
			break;
		if (rc == 1) {
			if (wait_fd(fd, POLLOUT, clock_mono_ms() +
			    SEND_TIMEOUT_MS) == -1)
				rc = ETIMEDOUT;
			else if ((rc = sock_connect_result(fd)) == 0)
				break;
			close(fd);
		} else
			rc = errno;
		(void)snprintf(err, errsize, "connect: %s", strerror(rc));
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Wait until fd is ready for events or the deadline passes (-1). */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd	pfd;
	uint64_t	now;
	int		n;

	pfd.fd = fd;
	pfd.events = events;
	for (;;) {
		now = clock_mono_ms();
		if (now >= deadline)
			return -1;
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

/*
 * Write the line, half-close, and read until the receiver closes too: only
 * then do we know it read our line rather than reset the connection.
 */
static int
send_line(int fd, const char *line, size_t len, char *err, size_t errsize)
{
	uint64_t	deadline = clock_mono_ms() + SEND_TIMEOUT_MS;
	char		buf[512];
	ssize_t		n;

	while (len > 0) {
		if (wait_fd(fd, POLLOUT, deadline) == -1) {
			(void)snprintf(err, errsize, "write: timed out");
			return -1;
		}
		if ((n = write(fd, line, len)) == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			(void)snprintf(err, errsize, "write: %s",
			    strerror(errno));
			return -1;
		}
		line += n;
		len -= n;
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		(void)snprintf(err, errsize, "shutdown: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		if (wait_fd(fd, POLLIN, deadline) == -1) {
			(void)snprintf(err, errsize, "the receiver did not close "
			    "the connection within %d s", SEND_TIMEOUT_MS / 1000);
			return -1;
		}
		if ((n = read(fd, buf, sizeof(buf))) == 0)
			return 0;
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			(void)snprintf(err, errsize, "%s", strerror(errno));
			return -1;
		}
	}
}
