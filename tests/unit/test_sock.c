/*
 * test_sock: the one place for sockets (common/sock.c), on loopback only:
 * a listener that a connect reaches, a port taken twice refused with the
 * errno a caller reports, a refused connect told by sock_connect_result(),
 * UDP, and the source address toward a peer.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sock.h"

/* A TCP listener on 127.0.0.1 at a port the kernel picks; its port. */
static int
listener(int *portp)
{
	struct addrinfo		*res;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	assert_int_equal(sock_addrs("127.0.0.1", 0, SOCK_STREAM, 1, &res), 0);
	fd = sock_listen(res, 8);
	freeaddrinfo(res);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*portp = ntohs(sin.sin_port);
	return fd;
}

/* Connect to 127.0.0.1:port and wait for the outcome: 0 or an errno. */
static int
connect_to(int port, int *fdp)
{
	struct addrinfo	*res;
	struct pollfd	 pfd;
	int		 rc;

	assert_int_equal(sock_addrs("127.0.0.1", port, SOCK_STREAM, 0, &res),
	    0);
	*fdp = -1;
	rc = sock_connect(res->ai_addr, res->ai_addrlen, SOCK_STREAM, fdp);
	freeaddrinfo(res);
	if (rc == -1)
		return errno;	/* loopback may refuse at once */
	if (rc == 1) {
		pfd.fd = *fdp;
		pfd.events = POLLOUT;
		assert_int_equal(poll(&pfd, 1, 5000), 1);
		rc = sock_connect_result(*fdp);
	}
	return rc;
}

static void
test_listen_connect(void **state)
{
	struct pollfd	pfd;
	int		lfd, fd, afd, port;

	(void)state;
	lfd = listener(&port);
	pfd.fd = lfd;
	pfd.events = POLLIN;
	assert_int_equal(connect_to(port, &fd), 0);
	sock_keepalive(fd, 1, 1, 3);
	assert_int_equal(write(fd, "x\n", 2), 2);
	/* Whatever the peer did not acknowledge yet; loopback is quick. */
	assert_true(sock_unacked(fd) >= 0);
	/* The listener is non-blocking: wait for the connection first. */
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_true((afd = accept(lfd, NULL, NULL)) >= 0);
	close(afd);
	close(fd);
	close(lfd);
}

static void
test_port_taken(void **state)
{
	struct addrinfo	*res;
	int		 lfd, port;

	(void)state;
	lfd = listener(&port);
	assert_int_equal(sock_addrs("127.0.0.1", port, SOCK_STREAM, 1, &res),
	    0);
	errno = 0;
	assert_int_equal(sock_listen(res, 8), -1);
	assert_int_equal(errno, EADDRINUSE);
	freeaddrinfo(res);
	close(lfd);
}

static void
test_refused(void **state)
{
	int	lfd, fd, port;

	(void)state;
	/* A port just freed: nothing listens there any more. */
	lfd = listener(&port);
	close(lfd);
	assert_int_equal(connect_to(port, &fd), ECONNREFUSED);
	if (fd != -1)
		close(fd);
}

static void
test_udp_and_every_address(void **state)
{
	struct addrinfo	*res;
	int		 fd;

	(void)state;
	/* "" is every address, as the sink's bind = "" means. */
	assert_int_equal(sock_addrs("", 0, SOCK_DGRAM, 1, &res), 0);
	assert_non_null(res);
	freeaddrinfo(res);
	assert_int_equal(sock_addrs("127.0.0.1", 0, SOCK_DGRAM, 1, &res), 0);
	fd = sock_listen(res, 8);
	freeaddrinfo(res);
	assert_true(fd >= 0);
	sock_rcvbuf(fd, 1 << 20);
	close(fd);
}

static void
test_source_addr(void **state)
{
	char	out[64];

	(void)state;
	assert_int_equal(sock_source_addr("127.0.0.1", out, sizeof(out)), 0);
	assert_string_equal(out, "127.0.0.1");
	assert_int_equal(sock_source_addr("not an address", out, sizeof(out)),
	    -1);
	assert_int_equal(sock_source_addr("", out, sizeof(out)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listen_connect),
		cmocka_unit_test(test_port_taken),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_udp_and_every_address),
		cmocka_unit_test(test_source_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
