/*
 * url: output URIs (SPEC.md "Outputs"). Query parameters named like one of
 * ferry's options belong to ferry and are taken out of the URL; any other
 * parameter is the peer's and stays. Percent-escapes in ferry's options are
 * decoded, so a filter can hold any character a metric name can.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

static const char *schemes[] = {
	"http", "https", "carbon", "tcp", "udp", "redis", "file"
};

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decode %XX and '+' of n bytes of src into dst; -1 when it does not fit. */
static int
decode(char *dst, size_t size, const char *src, size_t n)
{
	size_t	i, o = 0;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)src[i];

		if (c == '%' && i + 2 < n && hexval(src[i + 1]) >= 0 &&
		    hexval(src[i + 2]) >= 0) {
			c = hexval(src[i + 1]) * 16 + hexval(src[i + 2]);
			i += 2;
		} else if (c == '+')
			c = ' ';
		if (o + 1 >= size)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

static int
take_option(struct url *u, const char *name, size_t nlen, const char *val,
    size_t vlen, char *err, size_t errlen)
{
	char	buf[256];

	if (decode(buf, sizeof(buf), val, vlen) == -1) {
		snprintf(err, errlen, "option %.*s is too long", (int)nlen, name);
		return -1;
	}
	if (nlen == 6 && strncmp(name, "filter", 6) == 0) {
		if (u->nfilter == URL_FILTERS_MAX) {
			snprintf(err, errlen, "more than %d filters", URL_FILTERS_MAX);
			return -1;
		}
		strlcpy(u->filter[u->nfilter++], buf, sizeof(u->filter[0]));
	} else if (nlen == 6 && strncmp(name, "format", 6) == 0)
		strlcpy(u->format, buf, sizeof(u->format));
	else if (nlen == 3 && strncmp(name, "key", 3) == 0)
		strlcpy(u->key, buf, sizeof(u->key));
	else if (nlen == 5 && strncmp(name, "limit", 5) == 0) {
		char *end;

		u->limit = strtol(buf, &end, 10);
		if (*buf == '\0' || *end != '\0' || u->limit < 1) {
			snprintf(err, errlen, "limit=%s is not a positive number", buf);
			return -1;
		}
	} else
		return 1;	/* not ours: it stays in the URL */
	return 0;
}

/* Split the query: ferry's options out, the rest appended to target. */
static int
parse_query(struct url *u, const char *q, char *err, size_t errlen)
{
	const char	*p = q, *amp, *eq;
	size_t		 len;
	int		 first = 1, rc;

	while (*p != '\0') {
		amp = strchr(p, '&');
		len = amp ? (size_t)(amp - p) : strlen(p);
		eq = memchr(p, '=', len);
		if (len > 0) {
			rc = eq ? take_option(u, p, eq - p, eq + 1, len - (eq - p) - 1,
			    err, errlen) : 1;
			if (rc == -1)
				return -1;
			if (rc == 1) {
				strlcat(u->target, first ? "?" : "&", sizeof(u->target));
				if (strlen(u->target) + len + 1 > sizeof(u->target)) {
					snprintf(err, errlen, "URI too long");
					return -1;
				}
				strncat(u->target, p, len);
				first = 0;
			}
		}
		p += len + (amp ? 1 : 0);
	}
	return 0;
}

static int
parse_authority(struct url *u, const char *a, size_t n, char *err, size_t errlen)
{
	const char	*at, *host = a, *colon = NULL, *end = a + n;
	char		 port[8];
	size_t		 hlen;

	/* user:password@ is allowed; it stays in target, not in host. */
	if ((at = memchr(a, '@', n)) != NULL)
		host = at + 1;
	if (*host == '[') {
		const char *close = memchr(host, ']', end - host);

		if (close == NULL) {
			snprintf(err, errlen, "unclosed [ in the host");
			return -1;
		}
		hlen = close - host - 1;
		if (close + 1 < end && close[1] == ':')
			colon = close + 1;
		host++;
	} else {
		colon = memchr(host, ':', end - host);
		hlen = (colon ? colon : end) - host;
	}
	if (hlen == 0 || hlen >= sizeof(u->host)) {
		snprintf(err, errlen, "no host");
		return -1;
	}
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (colon != NULL) {
		size_t	plen = end - colon - 1;
		char	*pend;

		if (plen == 0 || plen >= sizeof(port)) {
			snprintf(err, errlen, "bad port");
			return -1;
		}
		memcpy(port, colon + 1, plen);
		port[plen] = '\0';
		u->port = (int)strtol(port, &pend, 10);
		if (*pend != '\0' || u->port < 1 || u->port > 65535) {
			snprintf(err, errlen, "bad port %s", port);
			return -1;
		}
	}
	return 0;
}

int
url_parse(const char *uri, struct url *u, char *err, size_t errlen)
{
	const char	*sep, *auth, *rest, *q;
	size_t		 slen, i, known = 0;

	memset(u, 0, sizeof(*u));
	if ((sep = strstr(uri, "://")) == NULL) {
		snprintf(err, errlen, "\"%s\" is not a URI (scheme://host...)", uri);
		return -1;
	}
	slen = sep - uri;
	if (slen == 0 || slen >= sizeof(u->scheme)) {
		snprintf(err, errlen, "\"%s\": no scheme", uri);
		return -1;
	}
	for (i = 0; i < slen; i++)
		u->scheme[i] = (char)tolower((unsigned char)uri[i]);
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		known |= strcmp(u->scheme, schemes[i]) == 0;
	if (!known) {
		snprintf(err, errlen, "unknown scheme \"%s\" (http, https, carbon, "
		    "tcp, udp, redis, file)", u->scheme);
		return -1;
	}
	auth = sep + 3;
	rest = auth + strcspn(auth, "/?");
	if (strcmp(u->scheme, "file") != 0 &&
	    parse_authority(u, auth, rest - auth, err, errlen) == -1)
		return -1;
	q = strchr(rest, '?');
	slen = q ? (size_t)(q - rest) : strlen(rest);
	if (slen >= sizeof(u->path) || (size_t)(rest - uri) + slen >= sizeof(u->target)) {
		snprintf(err, errlen, "URI too long");
		return -1;
	}
	memcpy(u->path, rest, slen);
	u->path[slen] = '\0';
	memcpy(u->target, uri, (rest - uri) + slen);
	u->target[(rest - uri) + slen] = '\0';
	if (strcmp(u->scheme, "file") == 0 && (rest != auth || u->path[0] != '/')) {
		snprintf(err, errlen, "file:// needs an absolute path");
		return -1;
	}
	return q ? parse_query(u, q + 1, err, errlen) : 0;
}

int
url_matches(const struct url *u, const char *key, size_t len)
{
	int	i;
	size_t	flen;

	if (u->nfilter == 0)
		return 1;
	for (i = 0; i < u->nfilter; i++) {
		flen = strlen(u->filter[i]);
		if (flen <= len && memcmp(key, u->filter[i], flen) == 0)
			return 1;
	}
	return 0;
}
