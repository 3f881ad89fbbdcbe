/*
 * line: what one line of a collector becomes. The name gets the prefix
 * "<prefix>.<hostname>." and the whole line is then checked by the
 * receiver's own parser (common/metric.c), so a collector's metric is
 * valid under exactly the rules a client's is, and rejected with the same
 * reasons. A valid line is normalised to "name value ts\n", stamped with
 * now when it carries no timestamp.
 */
#include <string.h>

#include "collectors.h"

size_t
line_prefix(char *buf, size_t size, const char *prefix, const char *host)
{
	size_t	n = 0, i;

	/* A hostname's dots would split the path: web1.example.com is one part. */
	for (i = 0; prefix[i] != '\0' && n + 1 < size; i++)
		buf[n++] = prefix[i];
	if (n + 1 < size && n > 0)
		buf[n++] = '.';
	for (i = 0; host[i] != '\0' && n + 1 < size; i++) {
		unsigned char c = (unsigned char)host[i];
		buf[n++] = (c == '.' || c < 0x21 || c > 0x7e) ? '_' : (char)c;
	}
	if (n + 1 >= size)
		return 0;
	buf[n++] = '.';
	buf[n] = '\0';
	return n;
}

/* Validate and normalise text (already prefixed, or not) into out. */
static int
finish(const char *text, size_t len, int64_t now, char *out, size_t outsize,
    size_t *outlen)
{
	struct metric	m;
	size_t		n;
	int		status;

	if ((status = metric_parse(text, len, &m)) != METRIC_OK)
		return status;
	if ((n = metric_format(&m, now, out, outsize)) == 0)
		return METRIC_TOO_LONG;
	*outlen = n;
	return METRIC_OK;
}

int
line_collector(const char *prefix, size_t prefixlen, const char *line,
    size_t len, size_t max_line, int64_t now, char *out, size_t outsize,
    size_t *outlen)
{
	struct metric	m;
	char		buf[LINE_MAX_BYTES + 512];

	if (len > max_line)
		return METRIC_TOO_LONG;
	/* Blank lines are skipped, not counted, as the receiver does. */
	if (metric_parse(line, len, &m) == METRIC_EMPTY)
		return METRIC_EMPTY;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	if (prefixlen + len > sizeof(buf))
		return METRIC_TOO_LONG;
	memcpy(buf, prefix, prefixlen);
	memcpy(buf + prefixlen, line, len);
	return finish(buf, prefixlen + len, now, out, outsize, outlen);
}

int
line_plain(const char *line, size_t len, size_t max_line, int64_t now,
    char *out, size_t outsize, size_t *outlen)
{
	if (len > max_line)
		return METRIC_TOO_LONG;
	return finish(line, len, now, out, outsize, outlen);
}

void
line_sanitize(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[n] = '\0';
}
