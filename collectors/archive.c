/*
 * archive: with collectors.archive = true, a copy of every metric the
 * runner spools (collectors and drop files alike), appended to
 * /var/log/ferry/archive.log, for an operator who wants a local trail.
 *
 * Lines are gathered in a buffer and written with the spool's flushes, in
 * whole lines. The file is checked each second: when logrotate moved it
 * away, the next write goes to a new file by the same name, without any
 * signal having to reach us. The archive is a convenience, not a promise:
 * when it cannot be written, its lines are counted as dropped, the failure
 * is logged when it starts and when it ends, and the spool is unaffected.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collectors.h"
#include "log.h"

#define ARCHIVE_BUF	(64 * 1024)

struct archive {
	char		 path[PATH_MAX];
	int		 fd;
	dev_t		 dev;
	ino_t		 ino;
	int		 failing;
	uint64_t	 dropped;	/* lines */
	size_t		 len;
	size_t		 lines;		/* in buf */
	char		 buf[ARCHIVE_BUF];
};

static int
archive_reopen(struct archive *a)
{
	struct stat	st;

	if (a->fd != -1)
		close(a->fd);
	a->fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (a->fd == -1 || fstat(a->fd, &st) == -1) {
		if (!a->failing)
			log_warn("archive %s", a->path);
		a->failing = 1;
		if (a->fd != -1)
			close(a->fd);
		a->fd = -1;
		return -1;
	}
	a->dev = st.st_dev;
	a->ino = st.st_ino;
	return 0;
}

struct archive *
archive_open(const char *path)
{
	struct archive	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	a->fd = -1;
	if (strlcpy(a->path, path, sizeof(a->path)) >= sizeof(a->path)) {
		log_warnx("archive path too long: %s", path);
		free(a);
		return NULL;
	}
	(void)archive_reopen(a);
	return a;
}

void
archive_append(struct archive *a, const char *line, size_t len)
{
	if (len > sizeof(a->buf) - a->len)
		archive_flush(a);
	if (len > sizeof(a->buf) - a->len) {
		a->dropped++;
		return;
	}
	memcpy(a->buf + a->len, line, len);
	a->len += len;
	a->lines++;
}

void
archive_flush(struct archive *a)
{
	ssize_t	n;

	if (a->len == 0)
		return;
	if (a->fd == -1 && archive_reopen(a) == -1) {
		a->dropped += a->lines;
		a->len = a->lines = 0;
		return;
	}
	/* One write of whole lines: O_APPEND keeps it in one piece. */
	while ((n = write(a->fd, a->buf, a->len)) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)a->len) {
		if (!a->failing)
			log_warn("archive %s: write", a->path);
		a->failing = 1;
		a->dropped += a->lines;
	} else if (a->failing) {
		log_info("archive %s is written again", a->path);
		a->failing = 0;
	}
	a->len = a->lines = 0;
}

void
archive_check(struct archive *a)
{
	struct stat	st;

	if (a->fd != -1 && stat(a->path, &st) == 0 && st.st_dev == a->dev &&
	    st.st_ino == a->ino)
		return;
	archive_flush(a);
	(void)archive_reopen(a);
}

uint64_t
archive_dropped(const struct archive *a)
{
	return a->dropped;
}

void
archive_close(struct archive *a)
{
	if (a == NULL)
		return;
	archive_flush(a);
	if (a->fd != -1)
		close(a->fd);
	free(a);
}
