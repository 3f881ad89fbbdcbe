/*
 * transport_stream: carbon://, tcp:// and syslog:// (RFC 5424 over TCP):
 * one persistent connection per output, each batch written as records in
 * the output's format, one a line, or for syslog with RFC 6587 octet
 * counting ("LEN MSG"), which needs no escaping of newlines in a message.
 *
 * "Sent" is the peer's TCP acknowledgement of every byte of the batch: once
 * write() took it all, the socket's send queue is watched (SIOCOUTQ) until
 * it is empty, first at once, then after 1, 2, 4 ... up to 50 ms. While it
 * waits, records that came meanwhile join the batch and are written too
 * (output_extend(), a batch's worth a piece, each piece committed as soon
 * as the peer has it): a peer that delays its ACK by 40 ms (any idle Linux
 * receiver does) then costs 40 ms a run of pieces, not 40 ms a 250-record
 * batch; WINDOW_BYTES bounds what a crash can send twice. A peer
 * that goes quiet with bytes unacknowledged for STALL_MS, or closes, or
 * resets, fails the batch: the connection is dropped (so no half record is
 * ever followed by the retry's first) and the whole batch is sent again on
 * a new one. What a crash can do is in ARCHITECTURE.md: records the peer
 * acknowledged but whose cursor was not yet committed are sent twice; a
 * peer that acknowledged and then lost them (a relay that crashed with them
 * queued) loses them, since TCP says nothing about what it did next.
 *
 * The connection is read, always, and what comes is thrown away: carbon
 * says nothing, and a read of 0 is how a closed connection is noticed
 * while idle, before the next batch is written into it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forwarder.h"
#include "log.h"
#include "netconn.h"
#include "sock.h"
#include "transport.h"

#define STALL_MS	7000	/* nothing acknowledged this long: dead */
#define ACK_POLL_MAX_MS	50
#define CHUNKS_MAX	64
/*
 * Bytes written and not yet acknowledged, at most, before more records
 * join the batch. A killed forwarder's socket is closed by the kernel,
 * which still delivers what it holds: without a bound, a peer slower than
 * us let a crash send twice all that the socket buffers had taken (several
 * megabytes on loopback). 64 KiB (a loopback segment, 44 of a LAN) keeps
 * a peer streaming and bounds that: a crash sends twice at most the piece
 * the peer had in part, the window, and the piece written after it.
 */
#define WINDOW_BYTES	(64 * 1024)

/* A piece of the batch written: where it ends on the wire and in the batch. */
struct chunk {
	uint64_t	wire;		/* bytes written this batch, up to its end */
	uint64_t	body;		/* its output_mark() */
};

struct stream {
	struct netconn	 nc;
	struct buf	 wire;		/* the batch, rendered (the unwritten part) */
	size_t		 off;		/* bytes of it written */
	uint64_t	 wire_base;	/* bytes of the batch written before wire */
	struct chunk	 chunks[CHUNKS_MAX];	/* written, not yet acknowledged */
	int		 nchunks;
	int		 busy;		/* a batch is being sent */
	long		 unacked;	/* send queue at the last look */
	uint64_t	 moved_at;	/* when a byte last went or was acked */
	uint64_t	 check_at;	/* next look at the send queue */
	int		 check_ms;
};

static int
stream_open(struct output *o)
{
	struct stream	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	netconn_init(&s->nc, o, SOCK_STREAM);
	buf_init(&s->wire, 0);
	o->tstate = s;
	return 0;
}

/* The batch failed: drop the connection and let output.c retry it. */
static void
broken(struct output *o, struct stream *s, uint64_t now, const char *why)
{
	netconn_close(&s->nc);
	if (!s->busy)
		return;
	s->busy = 0;
	tr_retry(o, now, 0, "%s", why);
}

/* What was just rendered into wire is a chunk, ending at a mark. */
static void
add_chunk(struct output *o, struct stream *s)
{
	struct chunk	*c;

	if (s->nchunks == CHUNKS_MAX)
		c = &s->chunks[s->nchunks - 1];	/* a coarser last step */
	else
		c = &s->chunks[s->nchunks++];
	c->wire = s->wire_base + s->wire.len;
	c->body = output_mark(o);
}

/*
 * The peer acknowledged acked bytes of the batch: commit the chunks wholly
 * inside them (output_acked() drops them from the batch).
 */
static void
chunks_acked(struct output *o, struct stream *s, uint64_t acked)
{
	int	k;

	for (k = 0; k < s->nchunks && s->chunks[k].wire <= acked; k++)
		;
	if (k == 0)
		return;
	output_acked(o, s->chunks[k - 1].body);
	memmove(s->chunks, s->chunks + k, (s->nchunks - k) * sizeof(*s->chunks));
	s->nchunks -= k;
}

static int
stream_start(struct output *o, uint64_t now)
{
	struct stream	*s = o->tstate;

	buf_reset(&s->wire);
	if (batch_render(o, &s->wire, o->url.scheme->octet_framing ? NULL :
	    "\n") == -1)
		return -1;
	s->off = 0;
	s->wire_base = 0;
	s->nchunks = 0;
	add_chunk(o, s);
	s->busy = 1;
	s->moved_at = now;
	s->unacked = -1;
	netconn_start(&s->nc, now);
	if (s->nc.state == NC_DOWN) {
		s->busy = 0;
		tr_retry(o, now, 0, "%s", s->nc.err);
	}
	return 0;
}

static int
stream_fds(struct output *o, struct pollfd *pfd, int max, uint64_t *due)
{
	struct stream	*s = o->tstate;
	uint64_t	 when;

	if (s->nc.state != NC_UP)
		return netconn_fds(&s->nc, pfd, max, due);
	pfd[0].fd = s->nc.fd;
	pfd[0].events = POLLIN;
	if (s->busy && s->off < s->wire.len)
		pfd[0].events |= POLLOUT;
	if (s->busy) {
		when = s->off < s->wire.len ? s->moved_at + STALL_MS :
		    s->check_at;
		if (when < *due)
			*due = when;
	}
	return 1;
}

/* Read and discard; 0 while open, -1 when the peer closed or failed. */
static int
drain_input(struct stream *s, char *why, size_t size)
{
	char	buf[4096];
	ssize_t	n;

	while ((n = read(s->nc.fd, buf, sizeof(buf))) > 0)
		;
	if (n == 0) {
		snprintf(why, size, "the peer closed the connection");
		return -1;
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	snprintf(why, size, "read: %s", strerror(errno));
	return -1;
}

/* Write what the socket takes; -1 with why on an error. */
static int
write_some(struct stream *s, uint64_t now, char *why, size_t size)
{
	size_t	before = s->off;
	int	rc;

	if ((rc = netconn_send(&s->nc, s->wire.p, s->wire.len, &s->off)) == -1) {
		snprintf(why, size, "write: %s", strerror(errno));
		return -1;
	}
	if (s->off > before)
		s->moved_at = now;
	if (rc == 1) {
		s->check_at = now;	/* look at the send queue at once */
		s->check_ms = 1;
	}
	return 0;
}

/*
 * All written: how much has the peer acknowledged? What it has is
 * committed at once (chunks_acked()); the batch is sent when nothing is
 * left unacknowledged.
 */
static void
check_acked(struct output *o, struct stream *s, uint64_t now)
{
	long	q;

	if (now < s->check_at)
		return;
	if ((q = sock_unacked(s->nc.fd)) == -1) {
		broken(o, s, now, "cannot read the socket's send queue");
		return;
	}
	/*
	 * A reset empties the send queue too: an empty queue on a connection
	 * that is no longer established acknowledges nothing (a peer that
	 * stopped, e.g. a relay restarted while we wrote).
	 */
	if (!sock_established(s->nc.fd)) {
		broken(o, s, now, "the peer closed or reset the connection");
		return;
	}
	if (s->unacked == -1 || q < s->unacked)
		s->moved_at = now;
	s->unacked = q;
	chunks_acked(o, s, s->wire_base + s->off - (uint64_t)q);
	if (q == 0) {
		s->busy = 0;
		tr_sent(o, now);
		return;
	}
	if (now - s->moved_at >= STALL_MS) {
		broken(o, s, now, "the peer stopped acknowledging: nothing "
		    "acknowledged for 7 s");
		return;
	}
	s->check_at = now + (uint64_t)s->check_ms;
	if (s->check_ms < ACK_POLL_MAX_MS)
		s->check_ms *= 2;
}

static void
stream_progress(struct output *o, const struct pollfd *pfd, int n,
    uint64_t now)
{
	struct stream	*s = o->tstate;
	char		 why[300];
	size_t		 from;
	long		 q;
	int		 rc;

	if ((rc = netconn_ready(&s->nc, pfd, &n, now)) != 1) {
		if (rc == -1)
			broken(o, s, now, s->nc.err);
		return;
	}
	if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    drain_input(s, why, sizeof(why)) == -1) {
		broken(o, s, now, why);
		return;
	}
	if (!s->busy)
		return;
	for (;;) {
		if (write_some(s, now, why, sizeof(why)) == -1) {
			broken(o, s, now, why);
			return;
		}
		if (s->off < s->wire.len) {
			if (now - s->moved_at >= STALL_MS)
				broken(o, s, now, "the peer stopped reading: "
				    "nothing written for 7 s");
			return;
		}
		/*
		 * All written: what came meanwhile goes too, in the same
		 * batch, while the peer's acknowledgement is on its way; what
		 * it acknowledged already is committed first, which makes
		 * room.
		 */
		if ((q = sock_unacked(s->nc.fd)) >= 0 &&
		    sock_established(s->nc.fd))
			chunks_acked(o, s, s->wire_base + s->off - (uint64_t)q);
		if (q < 0 || q > WINDOW_BYTES || output_extend(o, &from, 1) <= 0)
			break;
		s->wire_base += s->wire.len;
		buf_reset(&s->wire);
		s->off = 0;
		if (batch_render_from(o, from, &s->wire,
		    o->url.scheme->octet_framing ? NULL : "\n") == -1) {
			broken(o, s, now, "cannot render records");
			return;
		}
		add_chunk(o, s);
	}
	check_acked(o, s, now);
}

static void
stream_close(struct output *o)
{
	struct stream	*s = o->tstate;

	if (s == NULL)
		return;
	netconn_close(&s->nc);
	buf_free(&s->wire);
	free(s);
	o->tstate = NULL;
}

const struct transport transport_stream = {
	.name = "stream",
	.open = stream_open,
	.start = stream_start,
	.fds = stream_fds,
	.progress = stream_progress,
	.close = stream_close,
};
