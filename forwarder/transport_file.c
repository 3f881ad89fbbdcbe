/*
 * transport_file: file:///path appends each batch, in the output's format,
 * one record a line, and fdatasync()s it: "sent" means on disk, so a crash
 * or a power loss after the cursor moved loses nothing, and a crash between
 * the sync and the cursor commit writes that one batch twice.
 *
 * The file is opened by name again when logrotate moved it away: on
 * SIGUSR1 (the forwarder's, e.g. from a postrotate script), and, so that
 * no signal is needed at all, whenever the name no longer leads to the file
 * held open (checked before each batch; a stat() per batch). A rename
 * rotation therefore loses nothing and writes into the new file from the
 * next batch on; copytruncate works as it does for any O_APPEND writer.
 *
 * Writing is synchronous: a local file takes microseconds, and a batch
 * written in pieces between polls would let another writer's lines in
 * between. A disk that fails the write (ENOSPC) is a retry.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "forwarder.h"
#include "log.h"
#include "transport.h"

struct filetr {
	int		fd;
	dev_t		dev;
	ino_t		ino;
	struct buf	out;
};

static int
file_open(struct output *o)
{
	struct filetr	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	f->fd = -1;
	buf_init(&f->out, 0);
	o->tstate = f;
	return 0;
}

/* Is our descriptor still the file the path names? */
static int
still_there(const struct output *o, const struct filetr *f)
{
	struct stat	st;

	return stat(o->url.path, &st) == 0 && st.st_dev == f->dev &&
	    st.st_ino == f->ino;
}

static int
open_path(struct output *o, struct filetr *f)
{
	struct stat	st;

	if ((f->fd = open(o->url.path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0640)) == -1)
		return -1;
	if (fstat(f->fd, &st) == -1) {
		close(f->fd);
		f->fd = -1;
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	return 0;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The batch, and what is waiting behind it (output_extend(), up to a
 * megabyte), so one fdatasync covers it all.
 */
static int
write_batch(struct output *o, struct filetr *f)
{
	size_t	from;

	for (;;) {
		if (write_all(f->fd, f->out.p, f->out.len) == -1)
			return -1;
		buf_reset(&f->out);
		if (output_extend(o, &from) <= 0)
			return 0;
		if (batch_render_from(o, from, &f->out, "\n") == -1) {
			errno = ENOMEM;
			return -1;
		}
	}
}

static int
file_start(struct output *o, uint64_t now)
{
	struct filetr	*f = o->tstate;
	off_t		 end;

	if (f->fd != -1 && !still_there(o, f)) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->fd == -1 && open_path(o, f) == -1) {
		tr_retry(o, now, 0, "open %s: %s", o->url.path, strerror(errno));
		return 0;
	}
	buf_reset(&f->out);
	if (batch_render(o, &f->out, "\n") == -1)
		return -1;
	end = lseek(f->fd, 0, SEEK_END);
	if (write_batch(o, f) == -1 || fdatasync(f->fd) == -1) {
		tr_retry(o, now, 0, "write %s: %s", o->url.path, strerror(errno));
		/* Never leave half a batch: a retry writes it whole. */
		if (end != -1 && ftruncate(f->fd, end) == -1)
			log_warn("%s: cannot cut a half-written batch",
			    o->url.path);
		return 0;
	}
	tr_sent(o, now);
	return 0;
}

static void
file_reopen(struct output *o)
{
	struct filetr	*f = o->tstate;

	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
}

static void
file_close(struct output *o)
{
	struct filetr	*f = o->tstate;

	if (f == NULL)
		return;
	if (f->fd != -1)
		close(f->fd);
	buf_free(&f->out);
	free(f);
	o->tstate = NULL;
}

const struct transport transport_file = {
	.name = "file",
	.open = file_open,
	.start = file_start,
	.reopen = file_reopen,
	.close = file_close,
};
