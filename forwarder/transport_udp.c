/*
 * transport_udp: udp:// and syslog+udp:// send records as datagrams. Lines
 * (Graphite, JSON) are packed, newline-separated, into datagrams of up to
 * the output's datagram size (default 1,400 bytes, within an Ethernet
 * MTU), never splitting a record; syslog puts one message in each, as
 * RFC 5426 says. A record larger than the size goes alone (up to 65,507
 * bytes, the most UDP carries; a larger one is dropped and counted).
 *
 * UDP has no acknowledgement, so "sent" is the kernel taking every datagram
 * of the batch: that, and only that, is counted as sent. A datagram the
 * network or the peer drops is lost without a trace; that is the scheme's
 * nature, and why it is for what can afford it.
 *
 * One message a datagram is rendered with octet counting ("LEN MSG"), as for
 * syslog over TCP, so a message holding newlines (a stack trace) stays
 * whole.
 *
 * Datagrams go out at most BURST per millisecond: a receiver's socket
 * buffer holds a few hundred, and a batch sent all at once into a busy
 * peer would overflow it on loopback itself.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forwarder.h"
#include "log.h"
#include "netconn.h"
#include "transport.h"

#define BURST		16	/* datagrams per PACE_MS */
#define PACE_MS		1
#define UDP_MAX		65507

struct udp {
	struct netconn	 nc;
	struct buf	 wire;		/* the batch, one record a line, or counted */
	size_t		 off;		/* start of the next datagram */
	int		 one_each;	/* one record a datagram (syslog) */
	int		 busy;
	uint64_t	 next_at;	/* pacing: when the next burst may go */
	uint64_t	 toolarge;	/* records larger than UDP takes */
	int		 warned;
};

static int
udp_open(struct output *o)
{
	struct udp	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	netconn_init(&u->nc, o, SOCK_DGRAM);
	buf_init(&u->wire, 0);
	o->tstate = u;
	return 0;
}

static int
udp_start(struct output *o, uint64_t now)
{
	struct udp	*u = o->tstate;

	buf_reset(&u->wire);
	u->one_each = strcmp(format_name(o->fmt[o->batch.kind]), "syslog") == 0;
	if (batch_render(o, &u->wire, u->one_each ? NULL : "\n") == -1)
		return -1;
	u->off = 0;
	u->busy = 1;
	netconn_start(&u->nc, now);
	if (u->nc.state == NC_DOWN) {
		u->busy = 0;
		tr_retry(o, now, 0, "%s", u->nc.err);
	}
	return 0;
}

/* An octet-counted message at u->off: its start and length. */
static size_t
counted(const struct udp *u, size_t *start, size_t *skip)
{
	const char	*p = u->wire.p + u->off, *end = u->wire.p + u->wire.len;
	size_t		 len = 0;

	while (p < end && *p >= '0' && *p <= '9')
		len = len * 10 + (size_t)(*p++ - '0');
	if (p >= end || *p != ' ' || len > (size_t)(end - p - 1)) {
		*start = 0;
		*skip = (size_t)(end - (u->wire.p + u->off));
		return 0;	/* cannot happen: we counted them */
	}
	*start = (size_t)(p + 1 - (u->wire.p + u->off));
	*skip = *start + len;
	return len;
}

/*
 * The next datagram from u->off: whole lines up to max bytes, without the
 * last newline, or one counted message. Its length and where it starts;
 * in *skip what to step over after it.
 */
static size_t
next_datagram(const struct udp *u, size_t max, size_t *start, size_t *skip)
{
	const char	*p = u->wire.p + u->off, *end = u->wire.p + u->wire.len;
	const char	*nl, *cut = NULL;

	if (u->one_each)
		return counted(u, start, skip);
	*start = 0;
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (cut != NULL && (size_t)(nl - (u->wire.p + u->off)) > max)
			break;
		cut = nl;
		p = nl + 1;
	}
	if (cut == NULL) {
		*skip = (size_t)(end - (u->wire.p + u->off));
		return *skip;
	}
	*skip = (size_t)(cut + 1 - (u->wire.p + u->off));
	return (size_t)(cut - (u->wire.p + u->off));
}

/* send(), once more when it only reports an earlier datagram's refusal. */
static ssize_t
send_datagram(int fd, const char *p, size_t len)
{
	ssize_t	n;

	/* ECONNREFUSED is the ICMP answer to an earlier datagram, not this one. */
	if ((n = send(fd, p, len, 0)) == -1 && errno == ECONNREFUSED)
		n = send(fd, p, len, 0);
	return n;
}

static void
too_large(struct output *o, struct udp *u, size_t len)
{
	u->toolarge++;
	o->unrenderable++;
	if (u->warned++ == 0)
		log_warnx("output %s: a record of %zu bytes is larger than a "
		    "UDP datagram can be: dropped (counted as unrenderable; "
		    "said once)", o->name, len);
}

/* Send what pacing allows; 1 when the batch is all sent, -1 on error. */
static int
send_some(struct output *o, struct udp *u, uint64_t now)
{
	size_t	len, start, skip;
	int	i;

	if (now < u->next_at)
		return 0;
	for (i = 0; i < BURST && u->off < u->wire.len; i++) {
		len = next_datagram(u, (size_t)o->url.datagram, &start, &skip);
		if (len > UDP_MAX) {
			too_large(o, u, len);
			u->off += skip;
			continue;
		}
		if (send_datagram(u->nc.fd, u->wire.p + u->off + start,
		    len) == -1)
			return errno == EAGAIN || errno == ENOBUFS ? 0 : -1;
		u->off += skip;
	}
	u->next_at = now + PACE_MS;
	return u->off >= u->wire.len ? 1 : 0;
}

static int
udp_fds(struct output *o, struct pollfd *pfd, int max, uint64_t *due)
{
	struct udp	*u = o->tstate;

	if (u->nc.state != NC_UP)
		return netconn_fds(&u->nc, pfd, max, due);
	if (!u->busy)
		return 0;
	if (u->next_at < *due)
		*due = u->next_at;
	pfd[0].fd = u->nc.fd;
	pfd[0].events = POLLOUT;
	return 1;
}

static void
udp_progress(struct output *o, const struct pollfd *pfd, int n, uint64_t now)
{
	struct udp	*u = o->tstate;
	int		 rc;

	if (!u->busy)
		return;
	if ((rc = netconn_ready(&u->nc, pfd, &n, now)) != 1) {
		if (rc == -1) {
			u->busy = 0;
			tr_retry(o, now, 0, "%s", u->nc.err);
		}
		return;
	}
	if ((rc = send_some(o, u, now)) == 0)
		return;
	u->busy = 0;
	if (rc == 1) {
		tr_sent(o, now);
		return;
	}
	tr_retry(o, now, 0, "send: %s", strerror(errno));
	netconn_close(&u->nc);
}

static void
udp_close(struct output *o)
{
	struct udp	*u = o->tstate;

	if (u == NULL)
		return;
	netconn_close(&u->nc);
	buf_free(&u->wire);
	free(u);
	o->tstate = NULL;
}

const struct transport transport_udp = {
	.name = "udp",
	.open = udp_open,
	.start = udp_start,
	.fds = udp_fds,
	.progress = udp_progress,
	.close = udp_close,
};
