/*
 * Fuzz target for what a collector prints (collectors/printed.c and
 * collectors/line.c): anything an operator's executable writes to its
 * stdout and stderr pipes, in any chunks, cut off at any point by its exit
 * or a kill, or handed over whole lines by an inline built-in.
 *
 * The first byte picks the line limit, daemon or interval run, a clean or
 * killed end, and pipe or inline; the rest is stdout's bytes in chunks
 * split at 0x1e, then after 0x1f stderr's. Invariants on every input:
 *  - no crash, no read out of bounds, no leak;
 *  - every line reaching the spool is "<prefix>.<host>.name value ts\n",
 *    one line, that the receiver's parser accepts;
 *  - what is counted as accepted is what reached the spool, and no more
 *    lines are accepted than the collector printed (plus a last one
 *    without its newline, after a clean exit).
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../collectors/collectors.h"
#include "fuzz.h"
#include "metric.h"

static uint64_t	emitted;

static int
check_emit(struct runner *r, const char *line, size_t len)
{
	struct metric	m;

	assert(len > r->prefixlen + 1 && line[len - 1] == '\n');
	assert(memchr(line, '\n', len) == line + len - 1);
	assert(memcmp(line, r->prefix, r->prefixlen) == 0);
	assert(metric_parse(line, len - 1, &m) == METRIC_OK);
	emitted++;
	return 0;
}

static void
pipe_nb(int fd[2])
{
	if (pipe2(fd, O_NONBLOCK | O_CLOEXEC) == -1)
		abort();
}

static void
put(int fd, const uint8_t *p, size_t len)
{
	if (len > 0 && write(fd, p, len) != (ssize_t)len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 limits[] = { 1, 16, 64, 4096, 8192 };
	struct runner		 r;
	struct collector	 c;
	const uint8_t		*p, *out, *err, *piece;
	size_t			 len, outlen, errlen, plen, nl = 0, i;
	int			 o[2], e[2], clean, inl;
	uint64_t		 now = 1000;
	uint8_t			 mode;

	fuzz_quiet();
	if (size < 1)
		return 0;
	mode = data[0];
	p = data + 1;
	len = size - 1;
	out = err = (const uint8_t *)"";
	outlen = errlen = 0;
	if (fuzz_piece(&p, &len, 0x1f, &piece, &plen)) {
		out = piece;
		outlen = plen;
	}
	if (fuzz_piece(&p, &len, 0x1f, &piece, &plen)) {
		err = piece;
		errlen = plen;
	}

	memset(&r, 0, sizeof(r));
	r.emit = check_emit;
	r.prefixlen = line_prefix(r.prefix, sizeof(r.prefix), "servers",
	    "web1.example.com");
	r.max_line = limits[mode % 5];
	memset(&c, 0, sizeof(c));
	strlcpy(c.name, "fuzz", sizeof(c.name));
	c.daemon = (mode >> 3) & 1;
	clean = (mode >> 4) & 1;
	inl = (mode >> 5) & 1;
	c.max_lines = mode & 0x40 ? 3 : 100000;
	bucket_init(&c.bytes, 1 << 20, 1 << 20, now);
	bucket_init(&c.lines, (double)c.max_lines, (double)c.max_lines, now);
	emitted = 0;

	for (i = 0; i < outlen; i++)
		nl += out[i] == '\n';
	if (inl) {
		/* An inline built-in hands over what it printed, whole lines. */
		c.out.cap = r.max_line;
		c.out.fd = -1;
		if ((c.out.buf = malloc(c.out.cap)) == NULL)
			abort();
		printed_feed(&r, &c, (const char *)out, outlen, now);
		free(c.out.buf);
		c.out.buf = NULL;
	} else {
		pipe_nb(o);
		pipe_nb(e);
		assert(printed_open(&r, &c, o[0], e[0]) == 0);
		put(e[1], err, errlen);
		close(e[1]);
		/* stdout in chunks, each read before the next is written */
		while (fuzz_piece(&out, &outlen, 0x1e, &piece, &plen)) {
			put(o[1], piece, plen);
			printed_read(&r, &c, &c.out, now, 0);
			printed_read(&r, &c, &c.err, now, 0);
			now += 10;
		}
		close(o[1]);
		printed_close(&r, &c, clean, now);
		nl++;	/* a last line without its newline, after a clean exit */
	}
	printed_housekeep(&c, now + 120000);
	assert(c.st.lines == emitted);
	assert(emitted <= nl);
	return 0;
}
