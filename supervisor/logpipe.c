/*
 * logpipe: a child's stdout and stderr, one pipe, copied line by line into
 * /var/log/ferry/<name>.log with a UTC timestamp in front of each line.
 *
 * The log file outlives the pipe: it stays open across restarts of the
 * child and is re-opened on SIGUSR1 (logrotate). A partial line waits in a
 * fixed buffer for its end; a line longer than the buffer is written in
 * pieces, so memory stays bounded whatever a child prints. When the child
 * is gone the pipe is drained and a last partial line is written as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "supervisor.h"

#define LOGPIPE_TS_MAX	40
#define LOGPIPE_OUT_MAX	(2 * LOGPIPE_LINE_MAX)
#define LOGPIPE_DRAIN_READS	64	/* 256 KiB at most, after a child ends */

struct logpipe {
	char	 path[PATH_MAX];
	int	 logfd;		/* -1 while the file cannot be opened */
	int	 fd;		/* read end of the child's output; -1 none */
	int	 failing;	/* a write or open error was logged */
	size_t	 len;		/* bytes of a partial line in buf */
	char	 buf[LOGPIPE_LINE_MAX];
};

static int	logpipe_fill(struct logpipe *);
static int	logpipe_open_file(struct logpipe *);
static void	logpipe_write(struct logpipe *, const char *, size_t);
static void	logpipe_lines(struct logpipe *, int);

/*
 * A new logpipe for the child called name. The log file is opened now; if
 * that fails it is logged and retried at each write, so a child never waits
 * on a full pipe because its log file is missing.
 */
struct logpipe *
logpipe_new(const char *name)
{
	struct logpipe	*lp;
	char		 dir[PATH_MAX];
	int		 n;

	if ((lp = calloc(1, sizeof(*lp))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	lp->fd = lp->logfd = -1;
	n = -1;
	if (path_get(dir, sizeof(dir), PATH_LOG) != NULL)
		n = snprintf(lp->path, sizeof(lp->path), "%s/%s.log", dir, name);
	if (n < 0 || (size_t)n >= sizeof(lp->path)) {
		log_warnx("log path too long for %s", name);
		free(lp);
		return NULL;
	}
	(void)logpipe_open_file(lp);
	return lp;
}

void
logpipe_free(struct logpipe *lp)
{
	if (lp == NULL)
		return;
	logpipe_detach(lp);
	if (lp->logfd != -1)
		close(lp->logfd);
	free(lp);
}

/* Take ownership of fd, the read end of a new child's output pipe. */
void
logpipe_attach(struct logpipe *lp, int fd)
{
	int	fl;

	logpipe_detach(lp);
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	lp->fd = fd;
	lp->len = 0;
}

int
logpipe_fd(const struct logpipe *lp)
{
	return lp->fd;
}

/*
 * Read what the pipe holds now and write its complete lines. Returns 0
 * while the pipe stays open, -1 once it reached its end or failed (the
 * caller then detaches it).
 */
int
logpipe_read(struct logpipe *lp)
{
	return logpipe_fill(lp) == -1 ? -1 : 0;
}

/*
 * The child is gone (or its pipe ended): read what is left in the pipe,
 * write a last partial line as it is, and close the pipe. The reads are
 * bounded: a grandchild that kept the pipe and keeps writing cannot hold
 * the supervisor here.
 */
void
logpipe_detach(struct logpipe *lp)
{
	int	i;

	if (lp->fd == -1)
		return;
	for (i = 0; i < LOGPIPE_DRAIN_READS && logpipe_fill(lp) > 0; i++)
		;
	logpipe_lines(lp, 1);
	close(lp->fd);
	lp->fd = -1;
	lp->len = 0;
}

/*
 * One read(2) into the buffer, then write the complete lines: 1 when
 * something was read, 0 when the pipe is empty for now, -1 at its end.
 */
static int
logpipe_fill(struct logpipe *lp)
{
	ssize_t	n;

	if (lp->fd == -1)
		return -1;
	n = read(lp->fd, lp->buf + lp->len, sizeof(lp->buf) - lp->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return 0;
	if (n == -1) {
		log_warn("read output for %s", lp->path);
		return -1;
	}
	if (n == 0)
		return -1;
	lp->len += n;
	logpipe_lines(lp, 0);
	return 1;
}

/* Re-open the log file by name after logrotate moved it away. */
int
logpipe_reopen(struct logpipe *lp)
{
	if (lp->logfd != -1) {
		close(lp->logfd);
		lp->logfd = -1;
	}
	return logpipe_open_file(lp);
}

static int
logpipe_open_file(struct logpipe *lp)
{
	lp->logfd = open(lp->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640);
	if (lp->logfd == -1) {
		if (!lp->failing)
			log_warn("open %s", lp->path);
		lp->failing = 1;
		return -1;
	}
	return 0;
}

/*
 * Write every complete line of buf with a timestamp in front, then keep the
 * partial rest. A full buffer without a newline is written as one piece;
 * with last set, so is whatever partial line remains.
 */
static void
logpipe_lines(struct logpipe *lp, int last)
{
	char	 out[LOGPIPE_OUT_MAX], ts[LOGPIPE_TS_MAX];
	char	*p, *nl, *end;
	size_t	 tslen, olen = 0, llen;

	tslen = log_timestamp(ts, sizeof(ts));
	p = lp->buf;
	end = lp->buf + lp->len;
	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) != NULL)
			llen = nl - p;
		else if (last || (p == lp->buf && lp->len == sizeof(lp->buf)))
			llen = end - p;
		else
			break;
		/* out always has room for one whole line: flush before. */
		if (olen + tslen + 1 + llen + 1 > sizeof(out)) {
			logpipe_write(lp, out, olen);
			olen = 0;
		}
		memcpy(out + olen, ts, tslen);
		olen += tslen;
		out[olen++] = ' ';
		memcpy(out + olen, p, llen);
		olen += llen;
		out[olen++] = '\n';
		p += llen + (nl != NULL);
	}
	logpipe_write(lp, out, olen);
	lp->len = end - p;
	memmove(lp->buf, p, lp->len);
}

/*
 * Append len bytes to the log file. A failure (a full disk) drops the lines
 * rather than stall the child; it is logged when it starts and when it ends.
 */
static void
logpipe_write(struct logpipe *lp, const char *buf, size_t len)
{
	ssize_t	n;

	if (len == 0)
		return;
	if (lp->logfd == -1 && logpipe_open_file(lp) == -1)
		return;
	while (len > 0) {
		if ((n = write(lp->logfd, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (!lp->failing)
				log_warn("write %s; dropping output", lp->path);
			lp->failing = 1;
			return;
		}
		buf += n;
		len -= n;
	}
	if (lp->failing)
		log_info("writing %s again", lp->path);
	lp->failing = 0;
}
