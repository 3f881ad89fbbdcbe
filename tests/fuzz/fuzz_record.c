/*
 * Fuzz target for spool lines and the formats that render them
 * (common/record.c, common/format.c): what the forwarder does with every
 * record it sends, for every format an output may name, templates too.
 *
 * The first byte picks a mode:
 *  - any spool line (even): record_parse() of arbitrary bytes, then every
 *    format and a fuzzed template render whatever it accepted. Memory
 *    safety is asked of these, and that a render either succeeds or leaves
 *    nothing behind: a line no writer wrote may not render.
 *  - a log record ferry-tail would write (odd): fields made of the input
 *    go through record_log_append(); the line must have one newline, at
 *    its end, parse back to the same fields, and render to valid JSON in
 *    the json, raw, sink and clickhouse formats. A metric line the
 *    receiver accepts must likewise parse and render to valid JSON.
 * The rest of the input is pieces split at 0x1f: a template, then the
 * line (or key, name, host, file, text, attributes).
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "format.h"
#include "fuzz.h"
#include "json.h"
#include "metric.h"
#include "record.h"

static const char *const names[] = {
	"graphite", "json", "raw", "syslog", "sink", "clickhouse"
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

static struct format	*named[NNAMES];
static const struct format_ctx ctx = { "web1.example.com", "ferry" };

/* The bytes make one JSON value and nothing else. */
static int
json_valid(const char *p, size_t len)
{
	struct json	j;

	json_init(&j, p, len);
	return json_skip(&j) == 0 && json_end(&j) == 0;
}

/* Render r in every format that takes it, and in the template t. */
static void
render_all(const struct record *r, const struct format *t, int strict)
{
	struct buf	b;
	size_t		i, skip;

	buf_init(&b, 1 << 20);
	for (i = 0; i < NNAMES; i++) {
		if (!format_takes(named[i], r->kind))
			continue;
		buf_reset(&b);
		if (format_render(named[i], &ctx, r, &b) == -1) {
			/*
			 * A line no writer wrote (a bad escape): refused whole,
			 * so a batch never holds half of it.
			 */
			assert(!strict && b.len == 0);
			continue;
		}
		assert(b.p != NULL && b.p[b.len] == '\0');
		if (!strict)
			continue;
		if (strcmp(names[i], "graphite") == 0)
			assert(b.len == r->line.len &&
			    memcmp(b.p, r->line.p, b.len) == 0);
		if (strcmp(names[i], "syslog") == 0 || strcmp(names[i],
		    "graphite") == 0)
			continue;
		/* raw: "<key> <json>" */
		skip = strcmp(names[i], "raw") == 0 ? r->key.len + 1 : 0;
		assert(json_valid(b.p + skip, b.len - skip));
	}
	if (t != NULL && format_takes(t, r->kind)) {
		buf_reset(&b);
		if (format_render(t, &ctx, r, &b) == -1)
			assert(!strict && b.len == 0);
	}
	buf_free(&b);
}

/* The span, unescaped, is these bytes. */
static void
same(struct span s, const char *want, size_t len)
{
	struct buf	b;

	buf_init(&b, 0);
	assert(record_unescape(&b, s) == 0);
	assert(b.len == len && (len == 0 || memcmp(b.p, want, len) == 0));
	buf_free(&b);
}

static void
any_line(const uint8_t *p, size_t len, const struct format *t)
{
	struct record	 r;
	char		*line;

	line = fuzz_str(p, len);
	if (record_parse(line, len, &r) == 0) {
		(void)record_seconds(&r);
		render_all(&r, t, 0);
	}
	free(line);
}

static void
metric_line(const uint8_t *p, size_t len, const struct format *t)
{
	struct metric	 m;
	struct record	 r;
	char		 out[8192], *line;
	size_t		 n;

	line = fuzz_str(p, len);
	if (metric_parse(line, len, &m) == METRIC_OK &&
	    (n = metric_format(&m, 1700000000, out, sizeof(out))) > 0) {
		assert(record_parse(out, n - 1, &r) == 0);
		assert(r.kind == RECORD_METRIC);
		assert(r.key.len == m.namelen &&
		    memcmp(r.key.p, m.name, m.namelen) == 0);
		render_all(&r, t, 1);
	}
	free(line);
}

/* A blank in a key would end it: ferry-tail's keys have none. */
static char *
key_of(const uint8_t *p, size_t len)
{
	char	*k = fuzz_str(p, len);
	size_t	 i;

	for (i = 0; i < len; i++)
		if (k[i] == ' ' || k[i] == '\t' || k[i] == '\n' || k[i] == '\0')
			k[i] = '_';
	if (len == 0) {
		free(k);
		k = fuzz_str((const uint8_t *)"k", 1);
	}
	/* '@' marks ferry's own records (@heartbeat): no log key has it. */
	if (k[0] == '@')
		k[0] = '_';
	return k;
}

static void
log_line(const uint8_t *p, size_t len, const struct format *t, uint8_t bits)
{
	struct log_fields	 f;
	struct record		 r;
	struct buf		 b;
	const uint8_t		*piece;
	size_t			 plen, i, nattrs = 0;
	char			*s[5] = { NULL }, *attrs[8], *nl;

	memset(&f, 0, sizeof(f));
	for (i = 0; i < 5; i++) {
		if (!fuzz_piece(&p, &len, 0x1f, &piece, &plen))
			piece = (const uint8_t *)"", plen = 0;
		s[i] = i == 0 ? key_of(piece, plen) : fuzz_str(piece, plen);
	}
	while (nattrs < 8 && fuzz_piece(&p, &len, 0x1f, &piece, &plen))
		attrs[nattrs++] = fuzz_str(piece, plen);
	f.key = s[0];
	f.name = s[1];
	f.host = s[2];
	f.file = s[3];
	f.text = s[4];
	f.textlen = strlen(s[4]);
	f.dev = bits;
	f.ino = 77;
	f.lineno = (int64_t)bits * 1000003;
	f.offset = bits & 1 ? INT64_MAX : 0;
	f.end = f.offset;
	f.nlines = bits >> 4;
	f.time_ms = bits & 2 ? UINT64_MAX : 1764751234125ULL;
	f.attrs = attrs;
	f.nattrs = nattrs;

	buf_init(&b, 1 << 20);
	assert(record_log_append(&b, &f) == 0);
	/* One line: its only newline ends it. */
	nl = memchr(b.p, '\n', b.len);
	assert(nl == b.p + b.len - 1);
	assert(record_parse(b.p, b.len - 1, &r) == 0);
	assert(r.kind == RECORD_LOG);
	assert(r.key.len == strlen(f.key) &&
	    memcmp(r.key.p, f.key, r.key.len) == 0);
	same(r.name, f.name, strlen(f.name));
	same(r.host, f.host, strlen(f.host));
	same(r.file, f.file, strlen(f.file));
	same(r.text, f.text, f.textlen);
	assert(r.lineno == f.lineno && r.offset == f.offset && r.end == f.end);
	assert(r.nlines == (f.nlines > 1 ? f.nlines : 1));
	render_all(&r, t, 1);
	buf_free(&b);
	for (i = 0; i < 5; i++)
		free(s[i]);
	for (i = 0; i < nattrs; i++)
		free(attrs[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct format	*t = NULL;
	const uint8_t	*p, *piece;
	char		 err[256], *spec;
	size_t		 len, plen, i;
	uint8_t		 mode;

	fuzz_quiet();
	if (named[0] == NULL)
		for (i = 0; i < NNAMES; i++)
			assert((named[i] = format_new(names[i], err,
			    sizeof(err))) != NULL);
	if (size < 1)
		return 0;
	mode = data[0];
	p = data + 1;
	len = size - 1;
	if (fuzz_piece(&p, &len, 0x1f, &piece, &plen) && plen > 0) {
		spec = fuzz_str(piece, plen);
		t = format_new(spec, err, sizeof(err));
		assert(t != NULL || err[0] != '\0');
		free(spec);
	}
	if (p == NULL)
		p = (const uint8_t *)"", len = 0;
	if ((mode & 1) == 0)
		any_line(p, len, t);
	else if (mode & 2)
		metric_line(p, len, t);
	else
		log_line(p, len, t, mode);
	format_free(t);
	return 0;
}
