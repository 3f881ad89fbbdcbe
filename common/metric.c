/*
 * metric: what a Graphite plaintext line is, decided once for every program.
 *
 * Accepted: "name value [timestamp]", fields separated by runs of spaces or
 * tabs, surrounding blanks and a trailing CR ignored.
 *   name       printable ASCII without blanks (0x21-0x7e), so graphite tags
 *              ("a.b;tag=v") pass; no leading or trailing dot, no empty
 *              component ("a..b"), which every Graphite store rejects.
 *   value      a decimal float: [+-]digits[.digits][e[+-]digits]; NaN and Inf
 *              are refused because no store can plot them.
 *   timestamp  seconds since the epoch, an optional fraction dropped; -1 or
 *              missing means "now".
 * The parser runs on every received byte, so it is a single pass with no
 * allocation and no strtod(): the value is checked, and copied as text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

static const char *metric_status_names[METRIC_NSTATUS] = {
	"ok", "empty", "bad_name", "bad_value", "bad_timestamp", "bad_format",
	"too_long"
};

static inline int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static inline int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
name_valid(const char *s, size_t n)
{
	size_t	i;

	if (s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e)
			return 0;
		if (c == '.' && s[i + 1] == '.')
			return 0;
	}
	return 1;
}

/* 1e999 is valid syntax but infinite in every store: refuse it. Rare path. */
static int
exponent_finite(const char *s, size_t n)
{
	char	buf[64];

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return isfinite(strtod(buf, NULL));
}

static int
value_valid(const char *s, size_t n)
{
	size_t	i = 0, digits = 0;

	if (s[i] == '+' || s[i] == '-')
		i++;
	while (i < n && is_digit(s[i])) {
		i++;
		digits++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			i++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t expdigits = 0;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && is_digit(s[i]) && expdigits < 4) {
			i++;
			expdigits++;
		}
		if (expdigits == 0 || expdigits > 3)
			return 0;
		if (i == n)
			return exponent_finite(s, n);
	}
	return i == n;
}

/* Seconds since the epoch; a fraction is dropped. -1 on anything else. */
static int
timestamp_parse(const char *s, size_t n, int64_t *ts)
{
	int64_t	v = 0;
	size_t	i = 0;

	if (n == 2 && s[0] == '-' && s[1] == '1') {
		*ts = -1;
		return 0;
	}
	while (i < n && is_digit(s[i])) {
		v = v * 10 + (s[i] - '0');
		if (v > METRIC_TS_MAX)
			return -1;
		i++;
	}
	if (i == 0)
		return -1;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i != n || v == 0)
		return -1;
	*ts = v;
	return 0;
}

/* The next run of non-blanks in [*p, end); NULL when there is none. */
static const char *
next_field(const char **p, const char *end, size_t *len)
{
	const char	*s = *p, *start;

	while (s < end && is_blank(*s))
		s++;
	if (s == end)
		return NULL;
	start = s;
	while (s < end && !is_blank(*s))
		s++;
	*len = s - start;
	*p = s;
	return start;
}

int
metric_parse(const char *line, size_t len, struct metric *m)
{
	const char	*p = line, *end = line + len, *ts;
	size_t		 tslen, extralen;

	if (len > 0 && line[len - 1] == '\r')
		end--;
	m->ts = -1;
	if ((m->name = next_field(&p, end, &m->namelen)) == NULL)
		return METRIC_EMPTY;
	if ((m->value = next_field(&p, end, &m->valuelen)) == NULL)
		return METRIC_BAD_FORMAT;
	ts = next_field(&p, end, &tslen);
	if (ts != NULL && next_field(&p, end, &extralen) != NULL)
		return METRIC_BAD_FORMAT;
	if (!name_valid(m->name, m->namelen))
		return METRIC_BAD_NAME;
	if (!value_valid(m->value, m->valuelen))
		return METRIC_BAD_VALUE;
	if (ts != NULL && timestamp_parse(ts, tslen, &m->ts) == -1)
		return METRIC_BAD_TIMESTAMP;
	return METRIC_OK;
}

void
metric_strip_key(struct metric *m, const char *key, size_t keylen)
{
	if (keylen == 0 || m->namelen <= keylen + 1)
		return;
	if (memcmp(m->name, key, keylen) != 0 || m->name[keylen] != '.')
		return;
	m->name += keylen + 1;
	m->namelen -= keylen + 1;
}

/* Decimal digits of v (v >= 0) written backwards from end; returns start. */
static char *
u64_to_dec(char *end, uint64_t v)
{
	do {
		*--end = '0' + v % 10;
		v /= 10;
	} while (v != 0);
	return end;
}

size_t
metric_format(const struct metric *m, int64_t now, char *buf, size_t size)
{
	char	 tsbuf[24], *tsp;
	size_t	 tslen, need;
	int64_t	 ts = m->ts == -1 ? now : m->ts;

	tsp = u64_to_dec(tsbuf + sizeof(tsbuf), (uint64_t)(ts < 0 ? 0 : ts));
	tslen = tsbuf + sizeof(tsbuf) - tsp;
	need = m->namelen + 1 + m->valuelen + 1 + tslen + 1;
	if (need > size)
		return 0;
	memcpy(buf, m->name, m->namelen);
	buf += m->namelen;
	*buf++ = ' ';
	memcpy(buf, m->value, m->valuelen);
	buf += m->valuelen;
	*buf++ = ' ';
	memcpy(buf, tsp, tslen);
	buf[tslen] = '\n';
	return need;
}

const char *
metric_status_name(int status)
{
	if (status < 0 || status >= METRIC_NSTATUS)
		return "unknown";
	return metric_status_names[status];
}
