/*
 * batch: the records an output will send together, kept as the spool lines
 * themselves (newline-terminated), and their rendering in the output's
 * format for a transport. Graphite to a line peer is the lines as they
 * are, so the common case costs no second copy. The buffer grows to the
 * largest batch seen and is reused after that.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarder.h"
#include "log.h"

/* Append line plus '\n'; cap bounds the body. 0, or -1 when it won't fit. */
int
batch_add(struct batch *b, const char *line, size_t len, size_t cap)
{
	size_t	 need = b->len + len + 1, ncap;
	char	*nbody;

	if (need > b->cap) {
		if (need > cap)
			return -1;
		ncap = b->cap ? b->cap : 16384;
		while (ncap < need)
			ncap *= 2;
		if (ncap > cap)
			ncap = cap;
		if ((nbody = realloc(b->body, ncap)) == NULL) {
			log_warn("realloc");
			return -1;
		}
		b->body = nbody;
		b->cap = ncap;
	}
	memcpy(b->body + b->len, line, len);
	b->body[b->len + len] = '\n';
	b->len = need;
	b->n++;
	return 0;
}

void
batch_clear(struct batch *b)
{
	b->len = 0;
	b->n = 0;
	b->nself = 0;
	b->kind = RECORD_METRIC;
	b->full = 0;
	b->first_ms = 0;
}

void
batch_free(struct batch *b)
{
	free(b->body);
	memset(b, 0, sizeof(*b));
}

/* batch_each() from byte from of the body (a record's start). */
static int
each_from(const struct output *o, size_t from, int (*fn)(const struct output *,
    const struct record *, void *), void *arg)
{
	const char	*p = o->batch.body + from, *end = o->batch.body + o->batch.len;
	const char	*nl;
	struct record	 r;
	int		 rc;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (record_parse(p, (size_t)(nl - p), &r) == -1)
			continue;
		if ((rc = fn(o, &r, arg)) != 0)
			return rc;
	}
	return 0;
}

int
batch_each(const struct output *o, int (*fn)(const struct output *,
    const struct record *, void *), void *arg)
{
	return each_from(o, 0, fn, arg);
}

struct render {
	struct buf	*out;
	const char	*sep;		/* NULL: octet counting */
	int		 first;
};

static int
render_one(const struct output *o, const struct record *r, void *arg)
{
	struct render	*rd = arg;
	size_t		 mark = rd->out->len, len;
	char		 count[24];
	int		 n;

	if (rd->sep == NULL) {
		/* Rendered first, then its length moved in front of it. */
		if (format_render(o->fmt[r->kind], &o->fctx, r, rd->out) == -1)
			return rd->out->len == mark ? 0 : -1;
		len = rd->out->len - mark;
		n = snprintf(count, sizeof(count), "%zu ", len);
		if (buf_reserve(rd->out, (size_t)n) == -1)
			return -1;
		memmove(rd->out->p + mark + n, rd->out->p + mark, len);
		memcpy(rd->out->p + mark, count, (size_t)n);
		rd->out->len += (size_t)n;
		rd->out->p[rd->out->len] = '\0';
		return 0;
	}
	if (!rd->first && buf_addstr(rd->out, rd->sep) == -1)
		return -1;
	if (format_render(o->fmt[r->kind], &o->fctx, r, rd->out) == -1) {
		/* Not renderable (counted when read): leave no separator. */
		rd->out->len = mark;
		rd->out->p[mark] = '\0';
		return 0;
	}
	rd->first = 0;
	return 0;
}

int
batch_render_from(const struct output *o, size_t from, struct buf *out,
    const char *sep)
{
	struct render	rd = { out, sep, 1 };

	if (sep != NULL && strcmp(sep, "\n") == 0 && o->batch.kind ==
	    RECORD_METRIC && strcmp(format_name(o->fmt[RECORD_METRIC]),
	    "graphite") == 0)
		return buf_add(out, o->batch.body + from, o->batch.len - from);
	if (buf_reserve(out, o->batch.len - from) == -1)
		return -1;
	rd.first = 1;
	if (each_from(o, from, render_one, &rd) != 0)
		return -1;
	/* Line framing ends the last record too. */
	if (sep != NULL && !rd.first && strcmp(sep, "\n") == 0)
		return buf_add(out, "\n", 1);
	return 0;
}

int
batch_render(const struct output *o, struct buf *out, const char *sep)
{
	return batch_render_from(o, 0, out, sep);
}

int
batch_render_body(const struct output *o, struct buf *out)
{
	const struct format_envelope *env = format_envelope(o->fmt[o->batch.kind]);

	if (strcmp(env->sep, "\n") == 0)
		return batch_render(o, out, "\n");
	return buf_addstr(out, env->head) == -1 ||
	    batch_render(o, out, env->sep) == -1 ||
	    buf_addstr(out, env->tail) == -1 ? -1 : 0;
}
