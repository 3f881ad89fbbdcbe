/*
 * transport_file: file:///path appends each batch, in the output's format,
 * one record a line, and fdatasync()s it: "sent" means on disk, so a crash
 * or a power loss after the cursor moved loses nothing.
 *
 * Each record is in the file once, also across a crash: the file's size
 * after each sync is committed with the cursors (progress_end_set()), and
 * at the first open after a start, bytes past it in the same file are a
 * batch written but never committed, which the cursor sends again; they
 * are cut first. A file rotated or emptied meanwhile is left alone.
 *
 * When there is a backlog, one batch goes on past its first records
 * (output_extend()), each part written and let go of as it is rendered,
 * up to EXTEND_RECORDS records or WRITE_MS, under a single fdatasync: the
 * sync, not the writing, is what a file output waits for.
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

#include "clock.h"
#include "forwarder.h"
#include "log.h"
#include "transport.h"

#define WRITE_MS	50	/* a long batch gives the loop back after this */

struct filetr {
	int		fd;
	dev_t		dev;
	ino_t		ino;
	int		checked;	/* its end compared with the committed one */
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
 * At the first open since the start: bytes past the end committed with the
 * cursors are records written but never committed, which the cursor sends
 * again, so they go. Only in the same file, and only when it is longer: a
 * file rotated away or emptied since is left as it is.
 */
static void
cut_uncommitted(struct output *o, struct filetr *f)
{
	struct output_end	e;
	struct stat		st;

	f->checked = 1;
	if (source_end(o, &e) != 1 || e.dev != (uint64_t)f->dev ||
	    e.ino != (uint64_t)f->ino || fstat(f->fd, &st) == -1 ||
	    st.st_size <= e.size)
		return;
	if (ftruncate(f->fd, e.size) == -1) {
		log_warn("output %s: %s: cannot cut what was written after the "
		    "last commit", o->name, o->url.path);
		return;
	}
	log_info("output %s: %s: %lld bytes written after the last commit "
	    "cut; their records are written again", o->name, o->url.path,
	    (long long)(st.st_size - e.size));
}

/*
 * The batch, and what is waiting behind it (output_extend()), each part let
 * go of once written, so one fdatasync covers it all. *safe follows the end
 * of what was written whole: a failure cuts the file back to it, and a
 * retry writes what is still in the batch.
 */
static int
write_batch(struct output *o, struct filetr *f, off_t *safe)
{
	uint64_t	until = clock_mono_ms() + WRITE_MS;
	size_t		from;

	for (;;) {
		if (write_all(f->fd, f->out.p, f->out.len) == -1)
			return -1;
		*safe += (off_t)f->out.len;
		buf_reset(&f->out);
		output_release(o);
		if (clock_mono_ms() >= until || output_extend(o, &from, 0) <= 0)
			return 0;
		if (batch_render_from(o, from, &f->out, "\n") == -1) {
			errno = ENOMEM;
			return -1;
		}
	}
}

/* Done with the descriptor: what was written to it is on disk first. */
static void
let_go(struct output *o, struct filetr *f)
{
	if (f->fd == -1)
		return;
	if (fdatasync(f->fd) == -1)
		log_warn("output %s: fdatasync", o->name);
	close(f->fd);
	f->fd = -1;
}

static int
file_start(struct output *o, uint64_t now)
{
	struct filetr	*f = o->tstate;
	off_t		 safe;

	if (f->fd != -1 && !still_there(o, f))
		let_go(o, f);
	if (f->fd == -1 && open_path(o, f) == -1) {
		tr_retry(o, now, 0, "open %s: %s", o->url.path, strerror(errno));
		return 0;
	}
	if (!f->checked)
		cut_uncommitted(o, f);
	buf_reset(&f->out);
	if (batch_render(o, &f->out, "\n") == -1)
		return -1;
	if ((safe = lseek(f->fd, 0, SEEK_END)) == -1 ||
	    write_batch(o, f, &safe) == -1 || fdatasync(f->fd) == -1) {
		tr_retry(o, now, 0, "write %s: %s", o->url.path, strerror(errno));
		/* Never leave part of a record: a retry writes the rest whole. */
		if (safe != -1 && ftruncate(f->fd, safe) == -1)
			log_warn("%s: cannot cut a half-written batch",
			    o->url.path);
		return 0;
	}
	o->end.dev = (uint64_t)f->dev;
	o->end.ino = (uint64_t)f->ino;
	o->end.size = safe;
	o->end_set = 1;
	tr_sent(o, now);
	return 0;
}

static void
file_reopen(struct output *o)
{
	let_go(o, o->tstate);
}

static void
file_close(struct output *o)
{
	struct filetr	*f = o->tstate;

	if (f == NULL)
		return;
	let_go(o, f);
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
