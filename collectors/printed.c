/*
 * printed: what a running collector prints. Its stdout is Graphite
 * plaintext: each line is prefixed, validated and appended to the spool
 * (line.c); its stderr is logged line by line under its name.
 *
 * Nothing a collector prints can hurt another collector or the runner:
 * every pipe is non-blocking and read at most one chunk per loop turn, the
 * unfinished line is held in a buffer of bounded size (a longer line is
 * skipped to its end and counted), and two limits apply per collector:
 *  - max_bytes_per_second, a token bucket over every byte read: when it
 *    is empty the pipes are simply not read, the pipe fills and the
 *    collector blocks in write(), so a flood costs neither CPU nor memory
 *    here; an interval run that stays blocked meets its timeout;
 *  - max_lines, per run (or per interval, for a daemon): the lines past it
 *    are cut, counted, never validated. An interval run past it is read
 *    to its end without the byte limit, so that the count is exact and
 *    the run can finish; its timeout bounds what that costs.
 * Rejects and stderr lines are logged at most a few per minute each, with
 * a count of what was not shown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "collectors.h"
#include "log.h"
#include "metric.h"

#define REJECT_LOG_BURST	10	/* per collector per minute */
#define STDERR_LOG_BURST	20
#define LOG_WINDOW_MS		60000
#define CUT_NOTICE_MS		60000
#define DRAIN_CHUNKS		16	/* at exit: at most 1 MiB more */
#define BUCKET_WAKE_BYTES	4096	/* do not wake for a handful of bytes */

static void	feed(struct runner *, struct collector *, struct pipe_in *,
		    const char *, size_t, uint64_t);
static void	stdout_line(struct runner *, struct collector *, const char *,
		    size_t, int, uint64_t);
static void	stderr_line(struct collector *, const char *, size_t, int,
		    uint64_t);
static void	pipe_close(struct pipe_in *);

int
loglimit_take(struct loglimit *l, unsigned burst, uint64_t now)
{
	if (now - l->window >= LOG_WINDOW_MS || l->window == 0) {
		l->window = now;
		l->shown = 0;
	}
	if (l->shown < burst) {
		l->shown++;
		return 1;
	}
	l->hidden++;
	return 0;
}

int
printed_open(struct runner *r, struct collector *c, int outfd, int errfd)
{
	c->out.fd = outfd;
	c->err.fd = errfd;
	c->out.len = c->err.len = 0;
	c->out.toolong = c->err.toolong = 0;
	c->out.cap = r->max_line;
	c->err.cap = ERRLINE_MAX;
	if ((c->out.buf = malloc(c->out.cap)) == NULL ||
	    (c->err.buf = malloc(c->err.cap)) == NULL) {
		log_warn("collector %s: malloc", c->name);
		pipe_close(&c->out);
		pipe_close(&c->err);
		return -1;
	}
	return 0;
}

static void
pipe_close(struct pipe_in *p)
{
	if (p->fd != -1)
		close(p->fd);
	p->fd = -1;
	free(p->buf);
	p->buf = NULL;
	p->len = 0;
	p->toolong = 0;
}

int
printed_wants(struct collector *c, const struct pipe_in *p, uint64_t now,
    uint64_t *wake)
{
	uint64_t	wait;

	if (p->fd == -1)
		return 0;
	if (c->draining || bucket_avail(&c->bytes, now) > 0)
		return 1;
	wait = bucket_wait_ms(&c->bytes, BUCKET_WAKE_BYTES, now);
	if (wait != UINT64_MAX && now + wait < *wake)
		*wake = now + wait;
	return 0;
}

void
printed_read(struct runner *r, struct collector *c, struct pipe_in *p,
    uint64_t now, int at_exit)
{
	static char	chunk[READ_CHUNK];
	uint64_t	avail;
	size_t		want;
	ssize_t		n;
	int		i;

	for (i = 0; p->fd != -1 && i < (at_exit ? DRAIN_CHUNKS : 1); i++) {
		want = sizeof(chunk);
		if (!c->draining && !at_exit) {
			if ((avail = bucket_avail(&c->bytes, now)) == 0)
				return;
			if (avail < want)
				want = avail;
		}
		if ((n = read(p->fd, chunk, want)) == -1) {
			if (errno == EINTR) {
				i--;
				continue;
			}
			if (errno == EAGAIN)
				return;
			log_warn("collector %s: read", c->name);
			n = 0;
		}
		if (n == 0) {
			/* EOF: the unfinished line stays for printed_close(). */
			close(p->fd);
			p->fd = -1;
			return;
		}
		if (!c->draining)
			bucket_take(&c->bytes, (uint64_t)n);
		/* A daemon never ends a run: its last batch is its last run. */
		if (c->daemon && p == &c->out)
			c->last_run = clock_wall();
		feed(r, c, p, chunk, (size_t)n, now);
	}
}

/*
 * Cut data into lines. A line that ends within the chunk and has nothing
 * buffered is handled in place; the rest goes through p->buf, and a line
 * longer than p->cap is handled (stderr: logged cut) or rejected (stdout:
 * too_long) once, then skipped to its newline.
 */
static void
feed(struct runner *r, struct collector *c, struct pipe_in *p,
    const char *data, size_t n, uint64_t now)
{
	const char	*end = data + n, *nl;
	size_t		 seg;
	int		 is_out = p == &c->out;

	while (data < end) {
		nl = memchr(data, '\n', end - data);
		seg = (nl != NULL ? nl : end) - data;
		if (p->toolong) {
			/* Skipping the rest of a long line. */
		} else if (p->len == 0 && nl != NULL) {
			if (is_out)
				stdout_line(r, c, data, seg, 0, now);
			else
				stderr_line(c, data, seg, 0, now);
		} else if (p->len + seg <= p->cap) {
			memcpy(p->buf + p->len, data, seg);
			p->len += seg;
			if (nl != NULL) {
				if (is_out)
					stdout_line(r, c, p->buf, p->len, 0, now);
				else
					stderr_line(c, p->buf, p->len, 0, now);
				p->len = 0;
			}
		} else {
			/* Longer than the buffer: stdout rejects, stderr cuts. */
			memcpy(p->buf + p->len, data, p->cap - p->len);
			if (is_out)
				stdout_line(r, c, p->buf, p->cap, 1, now);
			else
				stderr_line(c, p->buf, p->cap, 1, now);
			p->len = 0;
			p->toolong = 1;
		}
		if (nl == NULL)
			break;
		p->toolong = 0;
		data = nl + 1;
	}
}

void
printed_feed(struct runner *r, struct collector *c, const char *data, size_t n,
    uint64_t now)
{
	const char	*end = memrchr(data, '\n', n);

	/* collect.c hands on whole lines only; anything else is not taken. */
	if (end != NULL)
		feed(r, c, &c->out, data, (size_t)(end - data) + 1, now);
}

/* One stdout line: limits, then prefix and validate, then the spool. */
static void
stdout_line(struct runner *r, struct collector *c, const char *line, size_t len,
    int toolong, uint64_t now)
{
	char	out[LINE_MAX_BYTES], shown[81];
	size_t	outlen;
	int	status;

	if (c->daemon) {
		if (bucket_avail(&c->lines, now) == 0) {
			c->st.cut++;
			c->cut_unlogged++;
			return;
		}
	} else if (c->run_lines >= c->max_lines) {
		c->st.cut++;
		c->run_cut++;
		c->cut_unlogged++;
		c->draining = 1;
		return;
	}
	if (toolong)
		status = METRIC_TOO_LONG;
	else
		status = line_collector(r->prefix, r->prefixlen, line, len,
		    r->max_line, clock_wall(), out, sizeof(out), &outlen);
	if (status == METRIC_EMPTY)
		return;
	if (c->daemon)
		bucket_take(&c->lines, 1);
	else
		c->run_lines++;
	if (status == METRIC_OK) {
		if (r->emit(r, out, outlen) == -1)
			c->st.dropped++;
		else
			c->st.lines++;
		return;
	}
	c->st.rejected[status]++;
	if (!loglimit_take(&c->rejlog, REJECT_LOG_BURST, now))
		return;
	line_sanitize(shown, sizeof(shown), line, len);
	log_warnx("collector %s: rejected (%s): \"%s%s\"", c->name,
	    metric_status_name(status), shown,
	    toolong || len > sizeof(shown) - 1 ? "..." : "");
}

/* One stderr line, logged under the collector's name. */
static void
stderr_line(struct collector *c, const char *line, size_t len, int cut,
    uint64_t now)
{
	char	shown[ERRLINE_MAX + 1];

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || !loglimit_take(&c->errlog, STDERR_LOG_BURST, now))
		return;
	line_sanitize(shown, sizeof(shown), line, len);
	log_warnx("collector %s: %s%s", c->name, shown, cut ? "..." : "");
}

void
printed_close(struct runner *r, struct collector *c, int clean, uint64_t now)
{
	printed_read(r, c, &c->out, now, 1);
	printed_read(r, c, &c->err, now, 1);
	if (c->out.len > 0 && !c->out.toolong && c->out.buf != NULL) {
		/*
		 * A last line without its newline: whole when the collector
		 * exited cleanly, maybe torn ("12" of "1234") when it crashed
		 * or was killed, so then it is cut, not taken.
		 */
		if (clean)
			stdout_line(r, c, c->out.buf, c->out.len, 0, now);
		else {
			c->st.cut++;
			c->cut_unlogged++;
		}
	}
	if (c->err.len > 0 && !c->err.toolong && c->err.buf != NULL)
		stderr_line(c, c->err.buf, c->err.len, 0, now);
	pipe_close(&c->out);
	pipe_close(&c->err);
	c->draining = 0;
	printed_housekeep(c, now);
}

void
printed_housekeep(struct collector *c, uint64_t now)
{
	if (c->rejlog.window != 0 && now - c->rejlog.window >= LOG_WINDOW_MS) {
		if (c->rejlog.hidden > 0)
			log_warnx("collector %s: %u more lines rejected in the "
			    "last minute (not shown)", c->name, c->rejlog.hidden);
		c->rejlog.hidden = 0;
		c->rejlog.window = 0;
	}
	if (c->errlog.window != 0 && now - c->errlog.window >= LOG_WINDOW_MS) {
		if (c->errlog.hidden > 0)
			log_warnx("collector %s: %u more stderr lines in the "
			    "last minute (not shown)", c->name, c->errlog.hidden);
		c->errlog.hidden = 0;
		c->errlog.window = 0;
	}
	if (c->cut_unlogged > 0 && (c->cut_logged_at == 0 ||
	    now - c->cut_logged_at >= CUT_NOTICE_MS)) {
		log_warnx("collector %s: %llu lines cut (max_lines = %llu per "
		    "%s)", c->name, (unsigned long long)c->cut_unlogged,
		    (unsigned long long)c->max_lines,
		    c->daemon ? "interval" : "run");
		c->cut_unlogged = 0;
		c->cut_logged_at = now;
	}
}
