/*
 * Fuzz target for spool segments read back (common/spoolread.c): what the
 * forwarder and ferryctl tail read after a crash, a power loss or a
 * stranger's bytes left segments torn, truncated or corrupt.
 *
 * The first byte picks a mode; the rest is up to four segments of one
 * stream, split at 0x1e, written as seq 1, 2, ... (mode 4: seq 2 is
 * missing, as after the cap deleted it; mode 8: every other segment lies in
 * the memory place). Invariants on every input:
 *  - the reader returns exactly the complete lines of the segments, in
 *    order, each without its newline; the unterminated tail of a finished
 *    segment is counted as torn, never returned; the open (last) segment's
 *    unterminated tail is neither returned nor counted;
 *  - (mode 2) a writer opening the stream cuts the last segment back to its
 *    last newline, counts what it cut, and starts the next segment.
 */
#include <assert.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"
#include "spool.h"
#include "spoolread.h"
#include "spoolseg.h"

#define SEGS	4

static char	disk[512], mem[512];

static void
empty(const char *dir)
{
	struct dirent	*de;
	DIR		*d;
	char		 p[1024];

	if ((d = opendir(dir)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		(void)unlink(p);
	}
	closedir(d);
}

/* Bytes up to and including the last newline. */
static size_t
whole(const uint8_t *p, size_t len)
{
	while (len > 0 && p[len - 1] != '\n')
		len--;
	return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct spool_conf conf = { 1 << 20, 1 << 30, 0, NULL, 1 << 20 };
	const uint8_t		*p, *piece, *seg[SEGS], *want, *nl;
	struct spool_reader	*r;
	struct spool		*w;
	const char		*line;
	uint64_t		 seq[SEGS], torn = 0, newseq, newsize;
	size_t			 len, plen, slen[SEGS], n = 0, i, llen, wlen;
	char			 path[1024];
	uint8_t			 mode;
	int			 rc;

	fuzz_quiet();
	if (disk[0] == '\0') {
		snprintf(disk, sizeof(disk), "%s/spool", fuzz_dir());
		snprintf(mem, sizeof(mem), "%s/mem", fuzz_dir());
		if (mkdir(disk, 0700) == -1 || mkdir(mem, 0700) == -1)
			abort();
		conf.memory_dir = mem;
	}
	empty(disk);
	empty(mem);
	if (size < 1)
		return 0;
	mode = data[0];
	p = data + 1;
	len = size - 1;
	while (n < SEGS && fuzz_piece(&p, &len, 0x1e, &piece, &plen)) {
		seg[n] = piece;
		slen[n] = plen;
		seq[n] = n + 1 + ((mode & 4) && n > 0);
		if (spool_seg_path(path, sizeof(path), (mode & 8) && n % 2 ?
		    mem : disk, "s", seq[n]) == -1)
			abort();
		fuzz_write(path, seg[n], slen[n]);
		n++;
	}
	if (n == 0)
		return 0;

	/* Read it all: the complete lines, in order. */
	r = spool_reader_open(disk, mem, "s", 1, 0);
	assert(r != NULL);
	for (i = 0; i < n; i++) {
		want = seg[i];
		wlen = whole(seg[i], slen[i]);
		while (wlen > 0) {
			nl = memchr(want, '\n', wlen);
			llen = (size_t)(nl - want);
			rc = spool_reader_next(r, &line, &len);
			assert(rc == 1);
			assert(len == llen && memcmp(line, want, llen) == 0);
			want = nl + 1;
			wlen -= llen + 1;
		}
		if (i + 1 < n)
			torn += slen[i] - whole(seg[i], slen[i]);
	}
	assert(spool_reader_next(r, &line, &len) == 0);
	assert(spool_reader_torn(r) == torn);
	spool_reader_close(r);

	if ((mode & 2) == 0)
		return 0;
	/* A writer starting on this stream repairs its last segment. */
	assert((w = spool_open(disk, mem, "s", &conf)) != NULL);
	assert(spool_torn_bytes(w) == slen[n - 1] - whole(seg[n - 1],
	    slen[n - 1]));
	spool_tell(w, &newseq, &newsize);
	assert(newsize == 0);
	assert(newseq == seq[n - 1] || newseq == seq[n - 1] + 1);
	assert(spool_append(w, "after 1 2\n", 10) == 0);
	spool_close(w);
	/* What it repaired now reads whole, and the new line follows. */
	r = spool_reader_open(disk, mem, "s", seq[n - 1], 0);
	assert(r != NULL);
	for (;;) {
		assert((rc = spool_reader_next(r, &line, &len)) != -1);
		if (rc == 0 || (len == 9 && memcmp(line, "after 1 2", 9) == 0))
			break;
	}
	assert(rc == 1);
	spool_reader_close(r);
	return 0;
}
