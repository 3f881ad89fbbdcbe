/*
 * jsonread: just enough JSON for the sink's request bodies and the log
 * records in the spool. A pull reader walks one document held in memory
 * (objects, arrays, strings with every escape, numbers, literals) without
 * building a tree, so a batch of thousands of log lines is stored as it is
 * read. Nesting is capped at 64 so a hostile body cannot exhaust the
 * stack. The writer half escapes strings and prints numbers for the replies.
 *
 * The caller drives the reader: after json_object_next() or json_array_next()
 * returned 1 it consumes exactly one value (json_string(), json_int64(),
 * json_object_begin(), json_array_begin() or json_skip()). Every function
 * returns -1 on malformed input and leaves the reader unusable; nothing here
 * logs, since only the caller knows whose document it was.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"

#define JSON_DEPTH_MAX	64

static int
json_ws_char(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

void
json_init(struct json *j, const char *p, size_t len)
{
	/* An empty span may come as NULL: NULL + 0 is undefined in C. */
	j->p = p;
	j->end = len > 0 ? p + len : p;
	j->depth = 0;
	j->first = 0;
}

static int
json_peek(struct json *j)
{
	while (j->p < j->end && json_ws_char(*j->p))
		j->p++;
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

static int
json_expect(struct json *j, char c)
{
	if (json_peek(j) != (unsigned char)c)
		return -1;
	j->p++;
	return 0;
}

static int
json_open(struct json *j, char c)
{
	if (j->depth >= JSON_DEPTH_MAX || json_expect(j, c) == -1)
		return -1;
	j->first |= UINT64_C(1) << j->depth;
	j->depth++;
	return 0;
}

/* Shared by objects and arrays: 1 when a member follows, 0 at the close. */
static int
json_next(struct json *j, char close)
{
	uint64_t	 bit;
	int		 c;

	if (j->depth == 0 || (c = json_peek(j)) == -1)
		return -1;
	bit = UINT64_C(1) << (j->depth - 1);
	if (c == (unsigned char)close) {
		j->p++;
		j->depth--;
		return 0;
	}
	if (j->first & bit) {
		j->first &= ~bit;
		return 1;
	}
	if (c != ',')
		return -1;
	j->p++;
	return 1;
}

int
json_object_begin(struct json *j)
{
	return json_open(j, '{');
}

int
json_array_begin(struct json *j)
{
	return json_open(j, '[');
}

int
json_array_next(struct json *j)
{
	return json_next(j, ']');
}

static int
json_hex4(const char *p, unsigned *v)
{
	int	i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		*v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			*v |= (unsigned)(p[i] - '0');
		else if (p[i] >= 'a' && p[i] <= 'f')
			*v |= (unsigned)(p[i] - 'a' + 10);
		else if (p[i] >= 'A' && p[i] <= 'F')
			*v |= (unsigned)(p[i] - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

static int
json_add_utf8(struct buf *out, unsigned cp)
{
	char	u[4];
	size_t	n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return out == NULL ? 0 : buf_add(out, u, n);
}

/* "\uXXXX", with a surrogate pair joined; a lone surrogate becomes U+FFFD. */
static int
json_unicode(struct json *j, struct buf *out)
{
	unsigned	hi, lo;

	if (j->end - j->p < 4 || json_hex4(j->p, &hi) == -1)
		return -1;
	j->p += 4;
	if (hi >= 0xd800 && hi <= 0xdbff && j->end - j->p >= 6 &&
	    j->p[0] == '\\' && j->p[1] == 'u' &&
	    json_hex4(j->p + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
		j->p += 6;
		return json_add_utf8(out,
		    0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00));
	}
	if (hi >= 0xd800 && hi <= 0xdfff)
		hi = 0xfffd;
	return json_add_utf8(out, hi);
}

static int
json_escape(struct json *j, struct buf *out)
{
	char	c;

	if (j->p >= j->end)
		return -1;
	switch ((c = *j->p++)) {
	case '"': case '\\': case '/':
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		return json_unicode(j, out);
	default:
		return -1;
	}
	return out == NULL ? 0 : buf_add(out, &c, 1);
}

/* Read a string; decode it into out unless out is NULL (skipping). */
static int
json_string_to(struct json *j, struct buf *out)
{
	const char	*run;

	if (json_expect(j, '"') == -1)
		return -1;
	if (out != NULL && buf_add(out, "", 0) == -1)
		return -1;
	for (;;) {
		run = j->p;
		while (j->p < j->end && *j->p != '"' && *j->p != '\\' &&
		    (unsigned char)*j->p >= 0x20)
			j->p++;
		if (out != NULL && buf_add(out, run, (size_t)(j->p - run)) == -1)
			return -1;
		if (j->p >= j->end || (unsigned char)*j->p < 0x20)
			return -1;
		if (*j->p++ == '"')
			return 0;
		if (json_escape(j, out) == -1)
			return -1;
	}
}

int
json_string(struct json *j, struct buf *out)
{
	out->len = 0;
	return json_string_to(j, out);
}

int
json_unescape(struct buf *out, const char *p, size_t len)
{
	struct json	 j;
	const char	*run;

	json_init(&j, p, len);
	while (j.p < j.end) {
		run = j.p;
		while (j.p < j.end && *j.p != '\\')
			j.p++;
		if (buf_add(out, run, (size_t)(j.p - run)) == -1)
			return -1;
		if (j.p == j.end)
			break;
		j.p++;
		if (json_escape(&j, out) == -1)
			return -1;
	}
	return 0;
}

int
json_object_next(struct json *j, struct buf *key)
{
	int	r;

	if ((r = json_next(j, '}')) != 1)
		return r;
	if (key != NULL)
		key->len = 0;
	if (json_string_to(j, key) == -1 || json_expect(j, ':') == -1)
		return -1;
	return 1;
}

static int
json_digits(struct json *j)
{
	const char	*start = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start ? 0 : -1;
}

/* The grammar of RFC 8259; the number's text is left at [*s, j->p). */
static int
json_number(struct json *j, const char **s)
{
	json_peek(j);
	*s = j->p;
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (json_digits(j) == -1)
		return -1;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (json_digits(j) == -1)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (json_digits(j) == -1)
			return -1;
	}
	return 0;
}

static int
json_parse_int64(const char *s, size_t len, int64_t *v)
{
	char		 tmp[32];
	char		*ep;
	long long	 ll;

	if (len == 0 || len >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	ll = strtoll(tmp, &ep, 10);
	if (errno != 0 || *ep != '\0' || !(tmp[0] == '-' ||
	    (tmp[0] >= '0' && tmp[0] <= '9')))
		return -1;
	*v = ll;
	return 0;
}

int
json_int64(struct json *j, int64_t *v)
{
	struct buf	 tmp;
	const char	*s;
	int		 r;

	if (json_peek(j) == '"') {
		buf_init(&tmp, 64);
		r = json_string(j, &tmp) == 0 &&
		    json_parse_int64(tmp.p, tmp.len, v) == 0 ? 0 : -1;
		buf_free(&tmp);
		return r;
	}
	if (json_number(j, &s) == -1)
		return -1;
	return json_parse_int64(s, (size_t)(j->p - s), v);
}

static int
json_literal(struct json *j, const char *lit)
{
	size_t	n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static int
json_skip_container(struct json *j, int object)
{
	int	r;

	if ((object ? json_object_begin(j) : json_array_begin(j)) == -1)
		return -1;
	while ((r = object ? json_object_next(j, NULL) : json_array_next(j))
	    == 1)
		if (json_skip(j) == -1)
			return -1;
	return r;
}

int
json_skip(struct json *j)
{
	const char	*s;

	switch (json_peek(j)) {
	case '{':
		return json_skip_container(j, 1);
	case '[':
		return json_skip_container(j, 0);
	case '"':
		return json_string_to(j, NULL);
	case 't':
		return json_literal(j, "true");
	case 'f':
		return json_literal(j, "false");
	case 'n':
		return json_literal(j, "null");
	default:
		return json_number(j, &s);
	}
}

int
json_end(struct json *j)
{
	return json_peek(j) == -1 && j->depth == 0 ? 0 : -1;
}

static int
json_needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

const char *
json_plain(const char *s, const char *end)
{
	uint64_t	w, t, q, k;

	/* Eight bytes at a time while none needs an escape. */
	while (end - s >= 8) {
		memcpy(&w, s, 8);
		q = w ^ 0x2222222222222222ULL;
		k = w ^ 0x5c5c5c5c5c5c5c5cULL;
		t = (((w - 0x2020202020202020ULL) & ~w) |
		    ((q - 0x0101010101010101ULL) & ~q) |
		    ((k - 0x0101010101010101ULL) & ~k)) &
		    0x8080808080808080ULL;
		if (t != 0)
			break;
		s += 8;
	}
	while (s < end && !json_needs_escape((unsigned char)*s))
		s++;
	return s;
}

int
json_add_string(struct buf *b, const char *s, size_t len)
{
	const char	*run, *end = len > 0 ? s + len : s;
	char		 esc[8];

	if (buf_reserve(b, len + 2) == -1 || buf_add(b, "\"", 1) == -1)
		return -1;
	while (s < end) {
		run = s;
		s = json_plain(s, end);
		if (buf_add(b, run, (size_t)(s - run)) == -1)
			return -1;
		if (s == end)
			break;
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = *s;
			esc[2] = '\0';
		} else if (*s == '\n')
			strcpy(esc, "\\n");
		else if (*s == '\t')
			strcpy(esc, "\\t");
		else if (*s == '\r')
			strcpy(esc, "\\r");
		else
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*s);
		if (buf_addstr(b, esc) == -1)
			return -1;
		s++;
	}
	return buf_add(b, "\"", 1);
}

int
json_add_double(struct buf *b, double v)
{
	char	tmp[32];
	int	n;

	if (!isfinite(v))
		return buf_add(b, "null", 4);
	/* The shortest of the two forms that reads back as the same double. */
	n = snprintf(tmp, sizeof(tmp), "%.15g", v);
	if (strtod(tmp, NULL) != v)
		n = snprintf(tmp, sizeof(tmp), "%.17g", v);
	return buf_add(b, tmp, (size_t)n);
}

/*
 * The length of the well-formed UTF-8 sequence at s (at most n bytes), or 0
 * when the byte at s does not start one: overlong forms, surrogates and
 * code points past U+10FFFF are not well formed (RFC 3629).
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t		need, i;
	unsigned	cp, min;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int
json_add_escaped(struct buf *b, const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*end = len > 0 ? p + len : p, *run;
	size_t			 n;
	char			 esc[8];

	while (p < end) {
		run = p;
		while (p < end && (n = utf8_len(p, (size_t)(end - p))) != 0)
			p += n;
		if (buf_add(b, run, (size_t)(p - run)) == -1)
			return -1;
		if (p == end)
			break;
		snprintf(esc, sizeof(esc), "\\u%04x", *p++);
		if (buf_add(b, esc, 6) == -1)
			return -1;
	}
	return 0;
}
