/*
 * pipeline: what happens to a line between the file and the spool.
 *
 *   multiline   with multiline.start, a line that does not match it is a
 *               continuation and joins the record before it (a stack
 *               trace), up to multiline.max_lines lines or max_line bytes,
 *               and for at most multiline.timeout seconds
 *   sample      the first sample rule whose expression matches decides:
 *               the record is kept with probability rate, else counted
 *   redact      every redact rule, in order, replaces what it matches
 *   derive      the event and logmetric rules of its source (derive.c):
 *               metrics count every record, sampled out or not; events
 *               of a kept record follow it in the same append
 *   the spool   the record, with its origin, in the "tail" stream
 *
 * Expressions are PCRE2 (a well-kept library: Perl's syntax operators
 * know, a JIT, and substitution with $1 in the replacement), compiled once,
 * on bytes (no UTF-8 check), so a line with invalid UTF-8 is matched and
 * passed on as it is.
 *
 * A file's done position (its checkpoint) is the end of the last line that
 * was handled: sent, sampled out, or joined into a record that was sent; a
 * record still being joined holds it at its first line. When the spool
 * refuses an append (both of its places full), the file is set back to the
 * start of that record and reading stops until the spool takes writes
 * again: nothing is dropped on the way in.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "derive.h"
#include "log.h"
#include "record.h"
#include "spool.h"
#include "tail.h"

static pcre2_match_data	*md;
static struct buf	 rec, red[2];

static pcre2_code *
compile(const char *pattern, char *err, size_t errlen)
{
	pcre2_code	*re;
	PCRE2_UCHAR	 msg[256];
	PCRE2_SIZE	 at;
	int		 code;

	if ((re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
	    &code, &at, NULL)) == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "\"%s\": %s at offset %zu", pattern,
		    (char *)msg, (size_t)at);
		return NULL;
	}
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	return re;
}

static int
matches(pcre2_code *re, const char *s, size_t len)
{
	return pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL) >= 0;
}

int
pipeline_init(struct source *src, char *err, size_t errlen)
{
	const struct log_conf	*lc = src->lc;
	size_t			 i;

	if (md == NULL && (md = pcre2_match_data_create(16, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((src->redact = calloc(lc->nredact + 1, sizeof(*src->redact))) == NULL ||
	    (src->sample = calloc(lc->nsample + 1, sizeof(*src->sample))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < lc->nredact; i++, src->nredact++) {
		if ((src->redact[i].re = compile(lc->redact[i].match, err,
		    errlen)) == NULL)
			return -1;
		src->redact[i].replace = lc->redact[i].replace;
	}
	for (i = 0; i < lc->nsample; i++, src->nsample++) {
		if ((src->sample[i].re = compile(lc->sample[i].match, err,
		    errlen)) == NULL)
			return -1;
		src->sample[i].rate = lc->sample[i].rate;
	}
	if (lc->multiline.start[0] != '\0' &&
	    (src->ml_start = compile(lc->multiline.start, err, errlen)) == NULL)
		return -1;
	src->ml_max_lines = lc->multiline.max_lines;
	src->ml_timeout_ms = (uint64_t)(lc->multiline.timeout * 1000);
	return 0;
}

void
pipeline_free(struct source *src)
{
	size_t	i;

	for (i = 0; i < src->nredact; i++)
		pcre2_code_free(src->redact[i].re);
	for (i = 0; i < src->nsample; i++)
		pcre2_code_free(src->sample[i].re);
	free(src->redact);
	free(src->sample);
	pcre2_code_free(src->ml_start);
}

/* Kept, by the first sample rule that matches (none: kept). */
static int
sampled_in(const struct source *src, const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < src->nsample; i++) {
		if (!matches(src->sample[i].re, s, len))
			continue;
		return arc4random_uniform(1000000) <
		    (uint32_t)(src->sample[i].rate * 1000000);
	}
	return 1;
}

/* One substitution of every match of r into out; -1 when it fails. */
static int
substitute(const struct rule *r, const char *s, size_t len, struct buf *out)
{
	PCRE2_SIZE	n;
	int		rc;

	buf_reset(out);
	if (buf_reserve(out, len + 64) == -1)
		return -1;
	for (;;) {
		n = out->cap;
		rc = pcre2_substitute(r->re, (PCRE2_SPTR)s, len, 0,
		    PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH,
		    md, NULL, (PCRE2_SPTR)r->replace, PCRE2_ZERO_TERMINATED,
		    (PCRE2_UCHAR *)out->p, &n);
		if (rc >= 0) {
			out->len = n;
			return 0;
		}
		if (rc != PCRE2_ERROR_NOMEMORY || buf_reserve(out, n + 1) == -1)
			return -1;
	}
}

/* The text with every redact rule applied, in order. */
static const char *
redacted(const struct source *src, const char *s, size_t *len)
{
	size_t	i;
	int	k = 0;

	for (i = 0; i < src->nredact; i++) {
		if (!matches(src->redact[i].re, s, *len))
			continue;
		if (substitute(&src->redact[i], s, *len, &red[k]) == -1) {
			log_warnx("log %s: a redact rule failed on a line: the "
			    "line is left out", src->lc->name);
			return NULL;
		}
		s = red[k].p;
		*len = red[k].len;
		k ^= 1;
	}
	return s;
}

/* Set the file back to a record the spool did not take, and stop reading. */
static int
refused(struct tfile *tf, int64_t off, int64_t line)
{
	spool_blocked = 1;
	tf->off = off;
	tf->pc->next = line;
	buf_reset(&tf->part);
	tf->part_cut = 0;
	buf_reset(&tf->ml);
	tf->ml_lines = 0;
	return -1;
}

static void
handled(struct tfile *tf, int64_t end, int64_t next_line)
{
	tf->done_off = end;
	tf->done_line = next_line;
}

/*
 * A whole record: sampled, redacted, into the spool. The derive rules of
 * its source (derive.c) see it redacted: log metrics every record, events
 * the ones kept, written in the same append as the record, so the two
 * share its checkpoint: after a crash both are in the spool or neither.
 */
static int
finish(struct tfile *tf, const char *s, size_t len, int64_t off, int64_t end,
    int64_t line, int nlines)
{
	struct source		*src = tf->src;
	struct log_fields	 f;
	int			 kept;

	kept = sampled_in(src, s, len);
	if (!kept && !derive_counts(src->derive)) {
		src->c.sampled_out++;
		handled(tf, end, line + nlines);
		return 0;
	}
	if ((s = redacted(src, s, &len)) == NULL) {
		src->c.errors++;
		handled(tf, end, line + nlines);
		return 0;
	}
	if (src->derive != NULL) {
		derive_begin(src->derive, s, len);
		if (src->parse_file != NULL)	/* a discovered file */
			derive_file(src->derive, src->parse_file, tf);
	}
	if (!kept) {
		src->c.sampled_out++;
		derive_handled(src->derive, 0);
		handled(tf, end, line + nlines);
		return 0;
	}
	memset(&f, 0, sizeof(f));
	f.key = src->key;
	f.name = src->lc->name;
	f.host = tconf->hostname;
	f.file = tf->pc->path;
	f.dev = tf->dev;
	f.ino = tf->ino;
	f.lineno = line;
	f.offset = off;
	f.end = end;
	f.nlines = nlines;
	f.time_ms = tf->read_wall_ms;
	f.attrs = src->attrs;
	f.nattrs = src->nattrs;
	f.text = s;
	f.textlen = len;
	if (!tf->head_ok && record_log_head(&tf->head, &f) == -1)
		return refused(tf, off, line);
	tf->head_ok = 1;
	buf_reset(&rec);
	if (record_log_put(&rec, &tf->head, &f) == -1 ||
	    (src->derive != NULL && derive_events(src->derive, &f, &rec) == -1) ||
	    spool_append(tspool, rec.p, rec.len) == -1)
		return refused(tf, off, line);
	src->c.records++;
	if (src->derive != NULL)
		derive_handled(src->derive, 1);
	handled(tf, end, line + nlines);
	return 0;
}

/* The record being joined, out now. */
static int
flush_joined(struct tfile *tf)
{
	int	rc;

	if (tf->ml_lines == 0)
		return 0;
	rc = finish(tf, tf->ml.p != NULL ? tf->ml.p : "", tf->ml.len,
	    tf->ml_off, tf->ml_end, tf->ml_line, tf->ml_lines);
	buf_reset(&tf->ml);
	tf->ml_lines = 0;
	return rc;
}

/* Begin joining a record at this line. */
static int
begin_joined(struct tfile *tf, const char *s, size_t len, int64_t off,
    int64_t end)
{
	buf_reset(&tf->ml);
	if (buf_add(&tf->ml, s, len) == -1)
		return refused(tf, off, tf->pc->next);
	tf->ml_off = off;
	tf->ml_end = end;
	tf->ml_line = tf->pc->next++;
	tf->ml_lines = 1;
	tf->ml_since = tail_now();
	return 0;
}

int
pipeline_line(struct tfile *tf, const char *s, size_t len, int64_t off,
    int64_t end, int cut)
{
	struct source	*src = tf->src;
	int64_t		 line;

	(void)cut;
	src->c.lines++;
	if (src->ml_start == NULL) {
		line = tf->pc->next++;
		if (finish(tf, s, len, off, end, line, 1) == -1)
			return -1;
		return 0;
	}
	if (tf->ml_lines > 0 && !matches(src->ml_start, s, len) &&
	    tf->ml_lines < src->ml_max_lines &&
	    tf->ml.len + 1 + len <= src->max_line) {
		if (buf_add(&tf->ml, "\n", 1) == -1 ||
		    buf_add(&tf->ml, s, len) == -1)
			return refused(tf, tf->ml_off, tf->ml_line);
		tf->ml_end = end;
		tf->ml_lines++;
		tf->pc->next++;
		return 0;
	}
	if (flush_joined(tf) == -1)
		return -1;
	return begin_joined(tf, s, len, off, end);
}

int
pipeline_flush(struct tfile *tf, uint64_t now, int force)
{
	if (tf->ml_lines == 0)
		return 0;
	if (!force && now - tf->ml_since < tf->src->ml_timeout_ms)
		return 0;
	return flush_joined(tf);
}
