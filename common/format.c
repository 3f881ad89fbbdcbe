/*
 * format: the record formats of format.h, one row each in formats[] (a
 * name, the kinds it takes, a renderer, the envelope of a batch), and the
 * templates, compiled once into literal and field parts.
 *
 * Strings of a log record arrive JSON-escaped from the spool (record.h), so
 * JSON renderers copy them as they are, escaping only bytes that are not
 * UTF-8; text renderers (syslog, templates) decode them.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "format.h"
#include "json.h"

enum field {
	F_NAME, F_VALUE, F_TIMESTAMP, F_HOST, F_FILE, F_LINE, F_OFFSET,
	F_TIME, F_TEXT, F_KEY, F_ATTR, F_FIELD, F_LITERAL
};

static const char *const field_names[] = {
	"name", "value", "timestamp", "host", "file", "line", "offset",
	"time", "text", "key"
};
#define NFIELDS	(sizeof(field_names) / sizeof(field_names[0]))

struct part {
	enum field	 field;
	char		*text;		/* a literal, or an attribute's name */
	size_t		 len;
};

struct format_ops {
	const char		*name;
	int			 takes[RECORD_KINDS];	/* metric, log */
	int			(*render)(const struct format *,
				    const struct format_ctx *,
				    const struct record *, struct buf *);
	struct format_envelope	 envelope;
};

struct format {
	const struct format_ops	*ops;
	struct part		*parts;		/* a template's */
	size_t			 nparts;
};

#define LINES	{ "", "\n", "\n" }

int
format_json_number(struct buf *b, struct span v)
{
	const char	*p = v.p, *end = v.p + v.len, *digits;
	size_t		 n;

	if (p < end && *p == '-' && buf_add(b, "-", 1) == -1)
		return -1;
	if (p < end && (*p == '-' || *p == '+'))
		p++;
	while (p + 1 < end && *p == '0' && isdigit((unsigned char)p[1]))
		p++;		/* JSON has no leading zeros */
	for (digits = p; p < end && isdigit((unsigned char)*p); p++)
		;
	if (p == digits && buf_add(b, "0", 1) == -1)
		return -1;
	if (buf_add(b, digits, (size_t)(p - digits)) == -1)
		return -1;
	if (p < end && *p == '.') {
		for (digits = ++p; p < end && isdigit((unsigned char)*p); p++)
			;
		n = (size_t)(p - digits);
		if (n > 0 && (buf_add(b, ".", 1) == -1 ||
		    buf_add(b, digits, n) == -1))
			return -1;
	}
	return buf_add(b, p, (size_t)(end - p));	/* the exponent */
}

/* A JSON string member from an escaped span: "name":"...". */
static int
json_member(struct buf *b, const char *name, struct span s)
{
	return buf_printf(b, "\"%s\":\"", name) == -1 ||
	    json_add_escaped(b, s.p, s.len) == -1 ||
	    buf_add(b, "\"", 1) == -1 ? -1 : 0;
}

/*
 * A JSON string member from raw bytes: a record's key (a metric name may
 * hold '"' and '\\'), or this machine's name. Escaped here, since unlike a
 * log record's strings they were never escaped in the spool.
 */
static int
json_member_raw(struct buf *b, const char *name, struct span s)
{
	return buf_printf(b, "\"%s\":", name) == -1 ||
	    json_add_string(b, s.p, s.len) == -1 ? -1 : 0;
}

static struct span
span_of(const char *s)
{
	struct span	sp = { s, strlen(s) };

	return sp;
}

static int
render_graphite(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	(void)f;
	(void)ctx;
	return buf_add(b, r->line.p, r->line.len);
}

static int
json_metric(const struct format_ctx *ctx, const struct record *r,
    struct buf *b)
{
	return buf_add(b, "{", 1) == -1 ||
	    json_member_raw(b, "name", r->key) == -1 ||
	    buf_addstr(b, ",\"value\":") == -1 ||
	    format_json_number(b, r->value) == -1 ||
	    buf_printf(b, ",\"timestamp\":%" PRId64 ",", r->ts) == -1 ||
	    json_member_raw(b, "host", span_of(ctx->hostname)) == -1 ||
	    buf_add(b, "}", 1) == -1 ? -1 : 0;
}

/* The attributes object as the value of a member: the object itself. */
static int
attrs_object(struct buf *b, struct span attrs)
{
	return json_add_escaped(b, attrs.p, attrs.len);
}

/*
 * ClickHouse (18.16, Debian's) cannot put an object into a column, so for
 * it the attributes are a string holding their JSON text, which its
 * JSONExtract functions read back.
 */
static int
attrs_string(struct buf *b, struct span attrs)
{
	struct buf	tmp;
	int		rc;

	buf_init(&tmp, 0);
	rc = json_add_escaped(&tmp, attrs.p, attrs.len) == -1 ||
	    json_add_string(b, tmp.p, tmp.len) == -1 ? -1 : 0;
	buf_free(&tmp);
	return rc;
}

/*
 * An event's fields as a member, when it has them: the object as the
 * spool holds it, its strings already escaped.
 */
static int
fields_member(struct buf *b, const struct record *r)
{
	if (r->fields.len == 0)
		return 0;
	return buf_addstr(b, ",\"fields\":") == -1 ||
	    json_add_escaped(b, r->fields.p, r->fields.len) == -1 ? -1 : 0;
}

/*
 * A log record as one JSON object; with_fields: an event's fields too
 * (ClickHouse's rows have no column for them).
 */
static int
json_log(const struct record *r, struct buf *b,
    int (*attrs_value)(struct buf *, struct span), int with_fields)
{
	struct span	attrs = r->attrs;

	if (attrs.len == 0)
		attrs = span_of("{}");
	return buf_add(b, "{", 1) == -1 ||
	    json_member_raw(b, "key", r->key) == -1 ||
	    buf_add(b, ",", 1) == -1 ||
	    json_member(b, "name", r->name) == -1 ||
	    buf_add(b, ",", 1) == -1 ||
	    json_member(b, "host", r->host) == -1 ||
	    buf_add(b, ",", 1) == -1 ||
	    json_member(b, "file", r->file) == -1 ||
	    buf_printf(b, ",\"line\":%" PRId64 ",\"offset\":%" PRId64
	    ",\"time\":%.*s,\"attributes\":", r->lineno, r->offset,
	    r->time.len > 0 ? (int)r->time.len : 1,
	    r->time.len > 0 ? r->time.p : "0") == -1 ||
	    attrs_value(b, attrs) == -1 ||
	    buf_add(b, ",", 1) == -1 ||
	    json_member(b, "text", r->text) == -1 ||
	    (with_fields && fields_member(b, r) == -1) ||
	    buf_add(b, "}", 1) == -1 ? -1 : 0;
}

static int
render_json(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	(void)f;
	return r->kind == RECORD_METRIC ? json_metric(ctx, r, b) :
	    json_log(r, b, attrs_object, 1);
}

/* JSONEachRow rows for ClickHouse: json, with attributes as a string. */
static int
render_clickhouse(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	(void)f;
	return r->kind == RECORD_METRIC ? json_metric(ctx, r, b) :
	    json_log(r, b, attrs_string, 0);
}

/* "<key> <json>": a log record is that already, as the spool holds it. */
static int
render_raw(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	(void)f;
	if (r->kind == RECORD_LOG)
		return buf_add(b, r->line.p, r->line.len);
	return buf_add(b, r->key.p, r->key.len) == -1 ||
	    buf_add(b, " ", 1) == -1 || json_metric(ctx, r, b) == -1 ? -1 : 0;
}

/* A heartbeat is its JSON object already: the body of its PUT. */
static int
render_beat(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	(void)f;
	(void)ctx;
	return buf_add(b, r->text.p, r->text.len);
}

/*
 * The log-aggregator item the reference sink's /store/batch takes. The
 * sink keeps a line under host+file+line, where an event would replace
 * the line it came from: an event's file is "FILE#KEY", a file of its
 * own beside the log's, and its fields come along.
 */
static int
render_sink(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	struct buf	key;
	int		rc;

	(void)f;
	(void)ctx;
	buf_init(&key, 0);
	/* The key, never escaped in the spool: quoted, then its quotes left. */
	rc = buf_add(b, "{", 1) == -1 ||
	    json_member(b, "host", r->host) == -1 ||
	    buf_addstr(b, ",\"file\":\"") == -1 ||
	    json_add_escaped(b, r->file.p, r->file.len) == -1 ||
	    (r->fields.len > 0 && (json_add_string(&key, r->key.p,
	    r->key.len) == -1 || buf_add(b, "#", 1) == -1 ||
	    buf_add(b, key.p + 1, key.len - 2) == -1)) ||
	    buf_add(b, "\"", 1) == -1 ? -1 : 0;
	buf_free(&key);
	if (rc == -1)
		return -1;
	return buf_printf(b, ",\"line-num\":%" PRId64 ",", r->lineno) == -1 ||
	    json_member(b, "content", r->text) == -1 ||
	    fields_member(b, r) == -1 ||
	    buf_add(b, "}", 1) == -1 ? -1 : 0;
}

/* RFC 5424 TIMESTAMP: "2026-12-03T08:40:34.125Z" (the fraction when known). */
static int
syslog_time(struct buf *b, const struct record *r)
{
	struct tm	 tm;
	time_t		 t = (time_t)record_seconds(r);
	const char	*dot = NULL;
	char		 when[32];
	size_t		 n = 0;

	if (r->kind == RECORD_LOG && r->time.len > 0 &&
	    (dot = memchr(r->time.p, '.', r->time.len)) != NULL) {
		n = r->time.len - (size_t)(dot + 1 - r->time.p);
		if (n > 6)
			n = 6;		/* RFC 5424: at most microseconds */
	}
	if (gmtime_r(&t, &tm) == NULL)
		return buf_add(b, "-", 1);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (n > 0)
		return buf_printf(b, "%s.%.*sZ", when, (int)n, dot + 1);
	return buf_printf(b, "%sZ", when);
}

/*
 * A header field of RFC 5424 (HOSTNAME, APP-NAME): printable US-ASCII
 * without spaces, at most max characters; anything else becomes '_', and
 * an empty one is the NILVALUE "-".
 */
static int
syslog_token(struct buf *b, struct span s, size_t max, int escaped)
{
	struct buf	tmp;
	size_t		i, n;
	int		rc;

	buf_init(&tmp, 4096);
	if (escaped ? record_unescape(&tmp, s) == -1 :
	    buf_add(&tmp, s.p, s.len) == -1) {
		buf_free(&tmp);
		return -1;
	}
	n = tmp.len < max ? tmp.len : max;
	for (i = 0; i < n; i++)
		if (tmp.p[i] <= ' ' || tmp.p[i] > '~')
			tmp.p[i] = '_';
	rc = n == 0 ? buf_add(b, "-", 1) : buf_add(b, tmp.p, n);
	buf_free(&tmp);
	return rc;
}

/* An SD-PARAM value: '"', '\' and ']' escaped with a backslash. */
static int
syslog_param(struct buf *b, const char *name, struct span s)
{
	struct buf	tmp;
	size_t		i;
	int		rc = 0;

	buf_init(&tmp, 0);
	if (record_unescape(&tmp, s) == -1 ||
	    buf_printf(b, " %s=\"", name) == -1)
		rc = -1;
	for (i = 0; rc == 0 && i < tmp.len; i++)
		if ((strchr("\"\\]", tmp.p[i]) != NULL &&
		    buf_add(b, "\\", 1) == -1) || buf_add(b, &tmp.p[i], 1) == -1)
			rc = -1;
	buf_free(&tmp);
	return rc == -1 ? -1 : buf_add(b, "\"", 1);
}

/*
 * <14>1 TIMESTAMP HOSTNAME APP-NAME - - SD MSG: facility user, severity
 * info; a log line's origin as structured data (32473 is the enterprise
 * number RFC 5612 sets aside for examples and documentation).
 */
static int
render_syslog(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	char	line[32];

	(void)f;
	if (buf_addstr(b, "<14>1 ") == -1 || syslog_time(b, r) == -1 ||
	    buf_add(b, " ", 1) == -1)
		return -1;
	if (r->kind == RECORD_METRIC)
		return syslog_token(b, span_of(ctx->hostname), 255, 0) == -1 ||
		    buf_printf(b, " %s - - - ", ctx->app) == -1 ||
		    buf_add(b, r->line.p, r->line.len) == -1 ? -1 : 0;
	snprintf(line, sizeof(line), "%" PRId64, r->lineno);
	return syslog_token(b, r->host, 255, 1) == -1 ||
	    buf_add(b, " ", 1) == -1 ||
	    syslog_token(b, r->name, 48, 1) == -1 ||
	    buf_addstr(b, " - - [ferry@32473") == -1 ||
	    syslog_param(b, "file", r->file) == -1 ||
	    syslog_param(b, "line", span_of(line)) == -1 ||
	    buf_addstr(b, "] ") == -1 ||
	    record_unescape(b, r->text) == -1 ? -1 : 0;
}

/* One field of a template, as text. */
static int
render_field(const struct part *pt, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	struct span	s;
	int		metric = r->kind == RECORD_METRIC;

	switch (pt->field) {
	case F_LITERAL:
		return buf_add(b, pt->text, pt->len);
	case F_KEY:
		return buf_add(b, r->key.p, r->key.len);
	case F_NAME:
		return metric ? buf_add(b, r->key.p, r->key.len) :
		    record_unescape(b, r->name);
	case F_VALUE:
		return buf_add(b, r->value.p, r->value.len);
	case F_TIMESTAMP:
		return buf_printf(b, "%" PRId64, record_seconds(r));
	case F_TIME:
		return metric ? buf_printf(b, "%" PRId64, r->ts) :
		    buf_add(b, r->time.p, r->time.len);
	case F_HOST:
		return metric ? buf_addstr(b, ctx->hostname) :
		    record_unescape(b, r->host);
	case F_FILE:
		return record_unescape(b, r->file);
	case F_LINE:
		return metric ? 0 : buf_printf(b, "%" PRId64, r->lineno);
	case F_OFFSET:
		return metric ? 0 : buf_printf(b, "%" PRId64, r->offset);
	case F_TEXT:
		return metric ? buf_add(b, r->line.p, r->line.len) :
		    record_unescape(b, r->text);
	case F_ATTR:
		return record_attr(r, pt->text, pt->len, &s) ?
		    record_unescape(b, s) : 0;
	case F_FIELD:
		return record_field(r, pt->text, pt->len, &s) ?
		    record_unescape(b, s) : 0;
	}
	return 0;
}

static int
render_template(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	size_t	i;

	for (i = 0; i < f->nparts; i++)
		if (render_field(&f->parts[i], ctx, r, b) == -1)
			return -1;
	return 0;
}

static const struct format_ops formats[] = {
	{ "graphite", { 1, 0 }, render_graphite, LINES },
	{ "json", { 1, 1 }, render_json, LINES },
	{ "raw", { 1, 1 }, render_raw, LINES },
	{ "syslog", { 1, 1 }, render_syslog, LINES },
	{ "sink", { 0, 1 }, render_sink, { "{\"batch\":[", ",", "]}\n" } },
	{ "clickhouse", { 1, 1 }, render_clickhouse, LINES },
	/* One object a body: its output sends only the newest (heartbeat.c). */
	{ "heartbeat", { 0, 0, 1 }, render_beat, { "", "", "" } },
};
static const struct format_ops template_ops =
    { "template", { 1, 1 }, render_template, LINES };

static int
add_part(struct format *f, enum field field, const char *text, size_t len)
{
	struct part	*np;

	if ((np = reallocarray(f->parts, f->nparts + 1, sizeof(*np))) == NULL)
		return -1;
	f->parts = np;
	np = &f->parts[f->nparts];
	np->field = field;
	np->len = len;
	if ((np->text = strndup(text, len)) == NULL)
		return -1;
	f->nparts++;
	return 0;
}

/* "{name}", "{attr.NAME}" or "{field.NAME}" at p (after the '{'), len bytes up to the '}'. */
static int
add_field(struct format *f, const char *p, size_t len, char *err,
    size_t errlen)
{
	size_t	i;

	if (len > 5 && strncmp(p, "attr.", 5) == 0)
		return add_part(f, F_ATTR, p + 5, len - 5);
	if (len > 6 && strncmp(p, "field.", 6) == 0)
		return add_part(f, F_FIELD, p + 6, len - 6);
	for (i = 0; i < NFIELDS; i++)
		if (strlen(field_names[i]) == len &&
		    strncmp(field_names[i], p, len) == 0)
			return add_part(f, (enum field)i, "", 0);
	snprintf(err, errlen, "format: unknown field {%.*s} (fields: name "
	    "value timestamp host file line offset time text key attr.NAME "
	    "field.NAME)",
	    (int)(len > 64 ? 64 : len), p);
	return -1;
}

/* Literal runs and {field}s; "{{" and "}}" are a literal brace. */
static int
compile_template(struct format *f, const char *s, char *err, size_t errlen)
{
	const char	*p = s, *close;
	struct buf	 lit;
	int		 rc = 0;

	buf_init(&lit, 0);
	while (*p != '\0' && rc == 0) {
		if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}')) {
			rc = buf_add(&lit, p, 1);
			p += 2;
			continue;
		}
		if (*p != '{') {
			rc = buf_add(&lit, p++, 1);
			continue;
		}
		if ((close = strchr(p, '}')) == NULL) {
			snprintf(err, errlen, "format: a '{' without its '}'");
			rc = -1;
			break;
		}
		if (lit.len > 0 && add_part(f, F_LITERAL, lit.p, lit.len) == -1)
			rc = -1;
		buf_reset(&lit);
		if (rc == 0)
			rc = add_field(f, p + 1, (size_t)(close - p - 1), err,
			    errlen);
		p = close + 1;
	}
	if (rc == 0 && lit.len > 0)
		rc = add_part(f, F_LITERAL, lit.p, lit.len);
	if (rc == -1 && err[0] == '\0')
		snprintf(err, errlen, "format: out of memory");
	buf_free(&lit);
	return rc;
}

struct format *
format_new(const char *spec, char *err, size_t errlen)
{
	struct format	*f;
	size_t		 i;

	err[0] = '\0';
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		snprintf(err, errlen, "format: out of memory");
		return NULL;
	}
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(spec, formats[i].name) == 0) {
			f->ops = &formats[i];
			return f;
		}
	if (strchr(spec, '{') == NULL) {
		snprintf(err, errlen, "format \"%.64s\" is not one of graphite, "
		    "json, raw, syslog, sink, clickhouse, nor a template with "
		    "{fields}", spec);
		free(f);
		return NULL;
	}
	f->ops = &template_ops;
	if (compile_template(f, spec, err, errlen) == -1) {
		format_free(f);
		return NULL;
	}
	return f;
}

void
format_free(struct format *f)
{
	size_t	i;

	if (f == NULL)
		return;
	for (i = 0; i < f->nparts; i++)
		free(f->parts[i].text);
	free(f->parts);
	free(f);
}

const char *
format_name(const struct format *f)
{
	return f->ops->name;
}

int
format_takes(const struct format *f, enum record_kind kind)
{
	return f->ops->takes[kind];
}

int
format_render(const struct format *f, const struct format_ctx *ctx,
    const struct record *r, struct buf *b)
{
	size_t	mark = b->len;

	if (!f->ops->takes[r->kind] || f->ops->render(f, ctx, r, b) == -1) {
		b->len = mark;
		if (b->p != NULL)
			b->p[mark] = '\0';
		return -1;
	}
	return 0;
}

const struct format_envelope *
format_envelope(const struct format *f)
{
	return &f->ops->envelope;
}
