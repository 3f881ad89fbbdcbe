/*
 * record: the kinds of spool line (record.h), read without copying and,
 * for log lines and heartbeats, written in the one form every reader
 * expects.
 *
 * The log object is scanned by hand rather than with the JSON reader: the
 * forwarder parses every log record it sends, and a scan that only finds
 * where each string ends, leaving escapes for whoever renders the field,
 * costs a pass over the line and no allocation. It accepts members in any
 * order and skips ones it does not know, so a later ferry-tail may add
 * fields without older forwarders refusing its records.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "record.h"

size_t
record_key_len(const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len && line[i] != ' ' && line[i] != '\t'; i++)
		;
	return i;
}

static int
is_beat_key(const char *line, size_t klen)
{
	return klen == sizeof(RECORD_BEAT_KEY) - 1 &&
	    memcmp(line, RECORD_BEAT_KEY, klen) == 0;
}

enum record_kind
record_kind_of(const char *line, size_t len, size_t klen)
{
	if (klen + 1 >= len || line[klen + 1] != '{')
		return RECORD_METRIC;
	return is_beat_key(line, klen) ? RECORD_BEAT : RECORD_LOG;
}

int
record_key_matches(const char *key, size_t keylen,
    const char *const *prefixes, size_t n)
{
	size_t	i, plen;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		plen = strlen(prefixes[i]);
		if (plen <= keylen && memcmp(key, prefixes[i], plen) == 0)
			return 1;
	}
	return 0;
}

static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

/*
 * p at '"': the content into s; returns past the closing quote, or NULL.
 * memchr() finds the quote, and a backslash only where there is one: most
 * log text has none, and the forwarder scans every record it sends.
 */
static const char *
scan_string(const char *p, const char *end, struct span *s)
{
	const char	*q, *bs;

	if (p >= end || *p != '"')
		return NULL;
	for (q = ++p;;) {
		if ((q = memchr(q, '"', (size_t)(end - q))) == NULL)
			return NULL;
		/* An escaped quote: an odd run of backslashes before it. */
		for (bs = q; bs > p && bs[-1] == '\\'; bs--)
			;
		if ((q - bs) % 2 == 0)
			break;
		q++;
	}
	s->p = p;
	s->len = (size_t)(q - p);
	return q + 1;
}

/* A JSON number, or true/false/null: the run up to the next ',' or '}'. */
static const char *
scan_scalar(const char *p, const char *end, struct span *s)
{
	const char	*q = p;

	while (q < end && *q != ',' && *q != '}' && *q != ' ')
		q++;
	if (q == p)
		return NULL;
	s->p = p;
	s->len = (size_t)(q - p);
	return q;
}

/* A flat object of strings (attrs): its text, braces included, into s. */
static const char *
scan_flat_object(const char *p, const char *end, struct span *s)
{
	const char	*start = p;
	struct span	 k, v;

	if (p >= end || *p++ != '{')
		return NULL;
	p = skip_ws(p, end);
	if (p < end && *p == '}')
		goto done;
	for (;;) {
		if ((p = scan_string(skip_ws(p, end), end, &k)) == NULL)
			return NULL;
		p = skip_ws(p, end);
		if (p >= end || *p++ != ':')
			return NULL;
		if ((p = scan_string(skip_ws(p, end), end, &v)) == NULL)
			return NULL;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			break;
		return NULL;
	}
done:
	s->p = start;
	s->len = (size_t)(p + 1 - start);
	return p + 1;
}

static int
span_is(struct span s, const char *lit)
{
	size_t	n = strlen(lit);

	return s.len == n && memcmp(s.p, lit, n) == 0;
}

/*
 * The integer at the start of s, as strtoll() reads it (a '-', digits, up
 * to the first other byte; saturated at the ends of int64_t), without its
 * copy and locale: the forwarder reads four of them in every log record.
 */
static int64_t
span_int(struct span s)
{
	const char	*p = s.p, *end;
	uint64_t	 v = 0, lim;
	int		 neg = 0;

	/* A member not there is an empty span, p NULL: NULL + 0 is undefined. */
	if (s.len == 0)
		return 0;
	end = s.p + s.len;
	if (p < end && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (v > (lim - (uint64_t)(*p - '0')) / 10)
			return neg ? INT64_MIN : INT64_MAX;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (neg)
		return v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	return (int64_t)v;
}

/* One member's value, stored in r when its key is one of ours. */
static const char *
scan_member(const char *p, const char *end, struct span k, struct record *r)
{
	struct span	 v;
	struct span	*str = NULL;

	if (p >= end)
		return NULL;
	if (*p == '"') {
		if (span_is(k, "text"))
			str = &r->text;
		else if (span_is(k, "host"))
			str = &r->host;
		else if (span_is(k, "file"))
			str = &r->file;
		else if (span_is(k, "name"))
			str = &r->name;
		else if (span_is(k, "fid"))
			str = &r->fid;
		p = scan_string(p, end, &v);
		if (p != NULL && str != NULL)
			*str = v;
		return p;
	}
	if (*p == '{') {
		p = scan_flat_object(p, end, &v);
		if (p != NULL && span_is(k, "attrs"))
			r->attrs = v;
		else if (p != NULL && span_is(k, "fields"))
			r->fields = v;
		return p;
	}
	if ((p = scan_scalar(p, end, &v)) == NULL)
		return NULL;
	if (span_is(k, "line"))
		r->lineno = span_int(v);
	else if (span_is(k, "offset"))
		r->offset = span_int(v);
	else if (span_is(k, "end"))
		r->end = span_int(v);
	else if (span_is(k, "lines"))
		r->nlines = span_int(v);
	else if (span_is(k, "time"))
		r->time = v;
	return p;
}

static int
parse_log(const char *p, const char *end, struct record *r)
{
	struct span	k;

	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return skip_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		if ((p = scan_string(skip_ws(p, end), end, &k)) == NULL)
			return -1;
		p = skip_ws(p, end);
		if (p >= end || *p++ != ':')
			return -1;
		if ((p = scan_member(skip_ws(p, end), end, k, r)) == NULL)
			return -1;
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		if (p < end && *p == '}')
			return skip_ws(p + 1, end) == end ? 0 : -1;
		return -1;
	}
}

/*
 * "name value ts": the writers validated it (common/metric.c) before it
 * was spooled, so the forwarder, which reads every record it sends, only
 * finds the fields here.
 */
static int
parse_metric(const char *p, const char *end, struct record *r)
{
	const char	*v = p;

	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if (p == v)
		return -1;
	r->value.p = v;
	r->value.len = (size_t)(p - v);
	p = skip_ws(p, end);
	r->ts = 0;
	while (p < end && *p >= '0' && *p <= '9') {
		/* No writer writes such a time: only a corrupt segment has it. */
		if (r->ts > (INT64_MAX - 9) / 10)
			return -1;
		r->ts = r->ts * 10 + (*p++ - '0');
	}
	return 0;
}

int
record_parse(const char *line, size_t len, struct record *r)
{
	const char	*end = line + len, *p;

	memset(r, 0, sizeof(*r));
	r->line.p = line;
	r->line.len = len;
	r->key.p = line;
	r->key.len = record_key_len(line, len);
	if (r->key.len == 0)
		return -1;
	p = skip_ws(line + r->key.len, end);
	if (p < end && *p == '{' && is_beat_key(line, r->key.len)) {
		/* Ours, written whole by record_beat_append(): not scanned. */
		r->kind = RECORD_BEAT;
		r->text.p = p;
		r->text.len = (size_t)(end - p);
		return 0;
	}
	if (p < end && *p == '{') {
		r->kind = RECORD_LOG;
		r->nlines = 1;
		return parse_log(p, end, r);
	}
	r->kind = RECORD_METRIC;
	return parse_metric(p, end, r);
}

int
record_unescape(struct buf *out, struct span s)
{
	return json_unescape(out, s.p, s.len);
}

/* The value of name in a flat object of strings (braces included). */
static int
flat_lookup(struct span obj, const char *name, size_t nlen, struct span *out)
{
	const char	*p, *end;
	struct span	 k, v;

	if (obj.len < 2)
		return 0;
	p = obj.p + 1;
	end = obj.p + obj.len - 1;
	while ((p = scan_string(skip_ws(p, end), end, &k)) != NULL) {
		p = skip_ws(p, end);
		if (p >= end || *p++ != ':' ||
		    (p = scan_string(skip_ws(p, end), end, &v)) == NULL)
			return 0;
		if (k.len == nlen && memcmp(k.p, name, nlen) == 0) {
			*out = v;
			return 1;
		}
		p = skip_ws(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return 0;
}

int
record_attr(const struct record *r, const char *name, size_t nlen,
    struct span *out)
{
	return flat_lookup(r->attrs, name, nlen, out);
}

int
record_field(const struct record *r, const char *name, size_t nlen,
    struct span *out)
{
	return flat_lookup(r->fields, name, nlen, out);
}

int64_t
record_seconds(const struct record *r)
{
	if (r->kind == RECORD_METRIC)
		return r->ts;
	return span_int(r->time);	/* it stops at the '.' */
}

/* How many decimal digits v has. */
static int
digits(uint64_t v)
{
	int	n = 1;

	for (; v >= 10000; v /= 10000)
		n += 4;
	return v < 10 ? n : v < 100 ? n + 1 : v < 1000 ? n + 2 : n + 3;
}

/*
 * Decimal digits of v at p; the end. Two digits a division, written from
 * the end: four numbers a log record, and they were a fifth of
 * ferry-tail's CPU one digit at a time (bench/tail, perf).
 */
static char *
put_u64(char *p, uint64_t v)
{
	static const char	pairs[] =
	    "00010203040506070809101112131415161718192021222324"
	    "25262728293031323334353637383940414243444546474849"
	    "50515253545556575859606162636465666768697071727374"
	    "75767778798081828384858687888990919293949596979899";
	char			*end = p + digits(v), *q = end;
	unsigned		 r;

	while (v >= 100) {
		r = (unsigned)(v % 100) * 2;
		v /= 100;
		*--q = pairs[r + 1];
		*--q = pairs[r];
	}
	if (v >= 10) {
		*--q = pairs[v * 2 + 1];
		*--q = pairs[v * 2];
	} else
		*--q = (char)('0' + v);
	return end;
}

static char *
put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

/*
 * The log record is written without printf: ferry-tail writes one per line
 * read, and formatting them was nearly all of its work (bench/tail).
 */
#define PUT(p, lit)	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* s as a JSON string at p (room for 6 * len + 2); the end. */
static char *
put_json(char *p, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*run, *end = s + len;
	unsigned char		 c;

	*p++ = '"';
	while (s < end) {
		run = s;
		s = json_plain(s, end);
		memcpy(p, run, (size_t)(s - run));
		p += s - run;
		if (s == end)
			break;
		c = (unsigned char)*s++;
		*p++ = '\\';
		if (c == '"' || c == '\\')
			*p++ = (char)c;
		else if (c == '\n')
			*p++ = 'n';
		else if (c == '\t')
			*p++ = 't';
		else if (c == '\r')
			*p++ = 'r';
		else {
			p = PUT(p, "u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p++ = '"';
	return p;
}

/*
 * A log record is three pieces that stay the same for every line of a
 * file (its key, names and identity; then its attributes) around what
 * changes (line, offsets, time, text). ferry-tail renders the pieces once
 * per file: escaping them again for each line was most of its work.
 */
int
record_log_head(struct log_head *h, const struct log_fields *f)
{
	size_t		 klen = strlen(f->key), nlen = strlen(f->name);
	size_t		 hlen = strlen(f->host), flen = strlen(f->file);
	size_t		 need, i, alen;
	const char	*eq;
	char		*p, *base;

	need = klen + 6 * (nlen + hlen + flen) + 200;
	for (i = 0; i < f->nattrs; i++)
		need += 6 * strlen(f->attrs[i]) + 8;
	buf_reset(&h->text);
	if (buf_reserve(&h->text, need) == -1)
		return -1;
	p = base = h->text.p;
	memcpy(p, f->key, klen);
	p += klen;
	p = PUT(p, " {\"name\":");
	p = put_json(p, f->name, nlen);
	p = PUT(p, ",\"host\":");
	p = put_json(p, f->host, hlen);
	p = PUT(p, ",\"file\":");
	p = put_json(p, f->file, flen);
	p = PUT(p, ",\"line\":");
	h->start_len = (size_t)(p - base);
	p = PUT(p, ",\"fid\":\"");
	p = put_u64(p, f->dev);
	*p++ = ':';
	p = put_u64(p, f->ino);
	p = PUT(p, "\",\"time\":");
	h->mid_len = (size_t)(p - base) - h->start_len;
	p = PUT(p, ",\"attrs\":{");
	for (i = 0; i < f->nattrs; i++) {
		alen = strlen(f->attrs[i]);
		eq = memchr(f->attrs[i], '=', alen);
		if (i > 0)
			*p++ = ',';
		p = put_json(p, f->attrs[i], eq != NULL ?
		    (size_t)(eq - f->attrs[i]) : alen);
		*p++ = ':';
		p = eq != NULL ? put_json(p, eq + 1, alen - (size_t)(eq + 1 -
		    f->attrs[i])) : put_json(p, "", 0);
	}
	p = PUT(p, "},\"text\":");
	h->text.len = (size_t)(p - base);
	return 0;
}

int
record_log_put(struct buf *b, const struct log_head *h,
    const struct log_fields *f)
{
	const char	*piece = h->text.p;
	size_t		 end_len = h->text.len - h->start_len - h->mid_len;
	size_t		 need = h->text.len + 6 * f->textlen + 140, i;
	char		*p;

	for (i = 0; i < f->nfields; i++)
		need += 6 * (strlen(f->fields[i].name) + f->fields[i].len) + 8;
	if (buf_reserve(b, need) == -1)
		return -1;
	p = b->p + b->len;
	memcpy(p, piece, h->start_len);
	p += h->start_len;
	p = put_i64(p, f->lineno);
	p = PUT(p, ",\"offset\":");
	p = put_i64(p, f->offset);
	p = PUT(p, ",\"end\":");
	p = put_i64(p, f->end);
	if (f->nlines > 1) {
		p = PUT(p, ",\"lines\":");
		p = put_i64(p, f->nlines);
	}
	memcpy(p, piece + h->start_len, h->mid_len);
	p += h->mid_len;
	p = put_u64(p, f->time_ms / 1000);
	*p++ = '.';
	*p++ = (char)('0' + f->time_ms % 1000 / 100);
	*p++ = (char)('0' + f->time_ms % 100 / 10);
	*p++ = (char)('0' + f->time_ms % 10);
	memcpy(p, piece + h->start_len + h->mid_len, end_len);
	p += end_len;
	p = put_json(p, f->text, f->textlen);
	if (f->fields != NULL) {
		p = PUT(p, ",\"fields\":{");
		for (i = 0; i < f->nfields; i++) {
			if (i > 0)
				*p++ = ',';
			p = put_json(p, f->fields[i].name,
			    strlen(f->fields[i].name));
			*p++ = ':';
			p = put_json(p, f->fields[i].p, f->fields[i].len);
		}
		*p++ = '}';
	}
	p = PUT(p, "}\n");
	b->len = (size_t)(p - b->p);
	b->p[b->len] = '\0';
	return 0;
}

int
record_log_append(struct buf *b, const struct log_fields *f)
{
	struct log_head	h;
	int		rc;

	buf_init(&h.text, 0);
	rc = record_log_head(&h, f) == -1 ? -1 : record_log_put(b, &h, f);
	buf_free(&h.text);
	return rc;
}

int
record_beat_append(struct buf *b, const char *json, size_t len)
{
	if (len == 0 || json[0] != '{' || memchr(json, '\n', len) != NULL)
		return -1;
	return buf_add(b, RECORD_BEAT_KEY " ", sizeof(RECORD_BEAT_KEY)) == -1 ||
	    buf_add(b, json, len) == -1 || buf_add(b, "\n", 1) == -1 ? -1 : 0;
}
