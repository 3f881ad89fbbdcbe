/*
 * backlog: an output's unsent records, counted from its cursor in each
 * stream to the end of the stream. A stream it has no cursor in counts from
 * its oldest segment, which is where the forwarder would start. Counting
 * reads the unsent bytes once; the spool caps bound that.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backlog.h"
#include "metric.h"
#include "progress.h"
#include "spoolseg.h"

/* Count lines of path from off on; the first line's timestamp into *first. */
static uint64_t
count_lines(const char *path, uint64_t off, int64_t *first)
{
	char		 buf[65536], *nl;
	struct metric	 m;
	uint64_t	 lines = 0;
	ssize_t		 n, i;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		if (lines == 0 && *first == 0 &&
		    (nl = memchr(buf, '\n', n)) != NULL &&
		    metric_parse(buf, nl - buf, &m) == METRIC_OK && m.ts > 0)
			*first = m.ts;
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
		off += n;
	}
	close(fd);
	return lines;
}

/* Walk a listing; count: also read the records (needs dir and memdir). */
static int
backlog_walk(struct progress *db, const struct spool_seg *segs, size_t n,
    const char *dir, const char *memdir, const char *output,
    struct backlog *b, int count)
{
	uint64_t	 seq = 0, off = 0, from;
	int64_t		 first;
	size_t		 i;
	char		 path[4096];
	int		 rc;

	memset(b, 0, sizeof(*b));
	for (i = 0; i < n; i++) {
		/* A new stream: where this output stands in it. */
		if (i == 0 || strcmp(segs[i].stream, segs[i - 1].stream) != 0) {
			rc = progress_cursor_get(db, output, segs[i].stream, &seq, &off);
			if (rc == -1)
				return -1;
			if (rc == 0) {	/* where the forwarder would start */
				seq = segs[i].seq;
				off = 0;
			}
		}
		if (segs[i].seq < seq)
			continue;
		from = segs[i].seq == seq ? off : 0;
		if (from >= segs[i].size)
			continue;
		b->bytes += segs[i].size - from;
		if (!count || spool_seg_path(path, sizeof(path), segs[i].inmem ?
		    memdir : dir, segs[i].stream, segs[i].seq) == -1)
			continue;
		first = 0;
		b->records += count_lines(path, from, &first);
		if (first != 0 && (b->oldest == 0 || first < b->oldest))
			b->oldest = first;
	}
	return 0;
}

static int
backlog_list(struct progress *db, const char *dir, const char *memdir,
    const char *output, struct backlog *b, int count)
{
	struct spool_seg	*segs;
	size_t			 n;
	int			 rc;

	memset(b, 0, sizeof(*b));
	if (spool_list(dir, memdir, &segs, &n) == -1)
		return -1;
	rc = backlog_walk(db, segs, n, dir, memdir, output, b, count);
	free(segs);
	return rc;
}

int
backlog_compute(struct progress *db, const char *dir, const char *memdir,
    const char *output, struct backlog *b)
{
	return backlog_list(db, dir, memdir, output, b, 1);
}

int
backlog_bytes(struct progress *db, const char *dir, const char *memdir,
    const char *output, struct backlog *b)
{
	return backlog_list(db, dir, memdir, output, b, 0);
}

int
backlog_bytes_listed(struct progress *db, const struct spool_seg *segs,
    size_t n, const char *output, struct backlog *b)
{
	return backlog_walk(db, segs, n, NULL, NULL, output, b, 0);
}
