/*
 * url: output URIs (SPEC.md "Outputs") and the table of schemes. Query
 * parameters named like one of ferry's options belong to ferry and are
 * taken out of the URL; any other parameter is the peer's and stays.
 * Percent-escapes in ferry's options are decoded, so a filter can hold any
 * character a metric name can.
 *
 * Adding a scheme is a row in schemes[] (and, when no transport carries it
 * yet, a transport in the forwarder): the configuration check, the
 * forwarder and ferryctl drain know no other list.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format.h"
#include "url.h"

#define DATAGRAM_DEFAULT	1400	/* fits a 1500-byte Ethernet MTU */
#define DATAGRAM_MAX		65507	/* the most a UDP datagram holds (IPv4) */

static const struct scheme schemes[] = {
	/* name, transport, port, host, octets, logs by filter, formats */
	{ "http", "http", 80, 1, 0, 0, { "graphite", "sink" } },
	{ "https", "http", 443, 1, 0, 0, { "graphite", "sink" } },
	{ "carbon", "stream", 2003, 1, 0, 1, { "graphite", "json" } },
	{ "tcp", "stream", 0, 1, 0, 0, { "graphite", "json" } },
	{ "udp", "udp", 0, 1, 0, 0, { "graphite", "json" } },
	{ "syslog", "stream", 514, 1, 1, 0, { "syslog", "syslog" } },
	{ "syslog+udp", "udp", 514, 1, 0, 0, { "syslog", "syslog" } },
	{ "redis", "redis", 6379, 1, 0, 0, { "graphite", "json" } },
	{ "file", "file", 0, 0, 0, 0, { "graphite", "json" } },
	{ "clickhouse", "http", 8123, 1, 0, 0, { "clickhouse", "clickhouse" } },
};
#define NSCHEMES	(sizeof(schemes) / sizeof(schemes[0]))

const struct scheme *
scheme_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NSCHEMES; i++)
		if (strcmp(schemes[i].name, name) == 0)
			return &schemes[i];
	return NULL;
}

const char *
scheme_names(void)
{
	static char	names[256];
	size_t		i;

	if (names[0] == '\0')
		for (i = 0; i < NSCHEMES; i++)
			snprintf(names + strlen(names), sizeof(names) -
			    strlen(names), "%s%s", i > 0 ? ", " : "",
			    schemes[i].name);
	return names;
}

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

/* A whole number in [min, max] from an option's text; -1 with err set. */
static int
option_long(const char *name, const char *v, long min, long max, long *out,
    char *err, size_t errlen)
{
	char	*end;

	errno = 0;
	*out = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || *out < min ||
	    *out > max) {
		snprintf(err, errlen, "%s=%s is not a whole number from %ld to "
		    "%ld", name, v, min, max);
		return -1;
	}
	return 0;
}

/* A ClickHouse database or table name: letters, digits and '_'. */
static int
option_ident(const char *name, const char *v, char *dst, size_t size,
    char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; v[i] != '\0'; i++)
		if (!isalnum((unsigned char)v[i]) && v[i] != '_')
			break;
	if (i == 0 || v[i] != '\0' || i >= size) {
		snprintf(err, errlen, "%s=%s: only letters, digits and _", name, v);
		return -1;
	}
	strlcpy(dst, v, size);
	return 0;
}

/* One of ferry's options: 0, -1 on a bad value, 1 when not ours. */
static int
take_option(struct url *u, const char *name, size_t nlen, const char *val,
    size_t vlen, char *err, size_t errlen)
{
	char	buf[256], opt[32];
	long	v;

	if (nlen >= sizeof(opt))
		return 1;
	memcpy(opt, name, nlen);
	opt[nlen] = '\0';
	if (decode(buf, sizeof(buf), val, vlen) == -1) {
		snprintf(err, errlen, "option %s is too long", opt);
		return -1;
	}
	if (strcmp(opt, "filter") == 0) {
		if (u->nfilter == URL_FILTERS_MAX) {
			snprintf(err, errlen, "more than %d filters", URL_FILTERS_MAX);
			return -1;
		}
		strlcpy(u->filter[u->nfilter++], buf, sizeof(u->filter[0]));
	} else if (strcmp(opt, "format") == 0)
		strlcpy(u->format, buf, sizeof(u->format));
	else if (strcmp(opt, "key") == 0)
		strlcpy(u->key, buf, sizeof(u->key));
	else if (strcmp(opt, "limit") == 0) {
		if (option_long(opt, buf, 1, LONG_MAX, &u->limit, err, errlen) == -1) {
			snprintf(err, errlen, "limit=%s is not a positive number", buf);
			return -1;
		}
	} else if (strcmp(opt, "db") == 0) {
		if (option_long(opt, buf, 0, 1 << 20, &v, err, errlen) == -1)
			return -1;
		u->db = (int)v;
	} else if (strcmp(opt, "datagram") == 0) {
		if (option_long(opt, buf, 64, DATAGRAM_MAX, &v, err, errlen) == -1)
			return -1;
		u->datagram = (int)v;
	} else if (strcmp(opt, "fail_after") == 0) {
		if (option_long(opt, buf, 1, 365L * 86400, &v, err, errlen) == -1)
			return -1;
		u->fail_after = (double)v;
	} else if (strcmp(opt, "logs_path") == 0) {
		if (buf[0] != '/') {
			snprintf(err, errlen, "logs_path=%s must start with /", buf);
			return -1;
		}
		strlcpy(u->logs_path, buf, sizeof(u->logs_path));
	} else if (strcmp(opt, "database") == 0)
		return option_ident(opt, buf, u->database, sizeof(u->database),
		    err, errlen);
	else if (strcmp(opt, "metrics_table") == 0)
		return option_ident(opt, buf, u->table[RECORD_METRIC],
		    sizeof(u->table[0]), err, errlen);
	else if (strcmp(opt, "logs_table") == 0)
		return option_ident(opt, buf, u->table[RECORD_LOG],
		    sizeof(u->table[0]), err, errlen);
	else
		return 1;	/* not ours: it stays in the URL */
	return 0;
}

/* Split the query: ferry's options out, the rest (the peer's) into extra. */
static int
parse_query(struct url *u, const char *q, char *extra, size_t size,
    char *err, size_t errlen)
{
	const char	*p = q, *amp, *eq;
	size_t		 len;
	int		 rc;

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
				if (strlen(extra) + len + 2 > size) {
					snprintf(err, errlen, "URI too long");
					return -1;
				}
				if (extra[0] != '\0')
					strlcat(extra, "&", size);
				strncat(extra, p, len);
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

/* base, then "?" and the query when there is one; -1 when too long. */
static int
join_target(char *dst, size_t size, const char *base, const char *query)
{
	int	n;

	n = snprintf(dst, size, "%s%s%s", base, query[0] ? "?" : "", query);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/*
 * Where each kind of record goes over HTTP. http(s): metrics to the URI,
 * logs to logs_path (default /store/batch, the reference sink's) on the same
 * host. clickhouse: an INSERT of JSONEachRow rows into the kind's table.
 */
static int
http_targets(struct url *u, const char *base, const char *extra)
{
	const char	*auth;
	char		 root[1300], q[2048];
	int		 n, kind;

	n = snprintf(root, sizeof(root), "%.*s", (int)(strlen(base) -
	    strlen(u->path)), base);
	if (n < 0 || (size_t)n >= sizeof(root))
		return -1;
	if (strcmp(u->scheme->name, "clickhouse") != 0) {
		if (u->logs_path[0] == '\0')
			strlcpy(u->logs_path, "/store/batch", sizeof(u->logs_path));
		strlcat(root, u->logs_path, sizeof(root));
		return join_target(u->target, sizeof(u->target), base, extra) == -1 ||
		    join_target(u->target_logs, sizeof(u->target_logs), root,
		    extra) == -1 ? -1 : 0;
	}
	/*
	 * ClickHouse speaks plain HTTP; the query string is the peer's, so
	 * its user= and password= stay beside the INSERT.
	 */
	auth = strstr(base, "://") + 3;
	n = snprintf(root, sizeof(root), "http://%.*s/", (int)(strlen(auth) -
	    strlen(u->path)), auth);
	if (n < 0 || (size_t)n >= sizeof(root))
		return -1;
	for (kind = RECORD_METRIC; kind <= RECORD_LOG; kind++) {
		n = snprintf(q, sizeof(q), "query=INSERT%%20INTO%%20%s.%s%%20"
		    "FORMAT%%20JSONEachRow%s%s", u->database, u->table[kind],
		    extra[0] ? "&" : "", extra);
		if (n < 0 || (size_t)n >= sizeof(q) || join_target(kind ==
		    RECORD_METRIC ? u->target : u->target_logs, sizeof(u->target),
		    root, q) == -1)
			return -1;
	}
	return 0;
}

/* A format (or template) that can be made: checked when the URI is. */
static int
check_format(const char *spec, char *err, size_t errlen)
{
	struct format	*f;

	if ((f = format_new(spec, err, errlen)) == NULL)
		return -1;
	format_free(f);
	return 0;
}

/* The defaults of options that depend on the scheme. */
static void
scheme_defaults(struct url *u)
{
	if (u->port == 0)
		u->port = u->scheme->default_port;
	if (u->key[0] == '\0')
		strlcpy(u->key, "ferry", sizeof(u->key));	/* redis: the list */
	if (u->datagram == 0)
		u->datagram = DATAGRAM_DEFAULT;
	if (u->database[0] == '\0')
		strlcpy(u->database, "default", sizeof(u->database));
	if (u->table[RECORD_METRIC][0] == '\0')
		strlcpy(u->table[RECORD_METRIC], "ferry_metrics", sizeof(u->table[0]));
	if (u->table[RECORD_LOG][0] == '\0')
		strlcpy(u->table[RECORD_LOG], "ferry_logs", sizeof(u->table[0]));
}

int
url_parse(const char *uri, struct url *u, char *err, size_t errlen)
{
	const char	*sep, *auth, *rest, *q;
	char		 base[2048], extra[2048] = "";
	size_t		 slen, i;

	memset(u, 0, sizeof(*u));
	if ((sep = strstr(uri, "://")) == NULL) {
		snprintf(err, errlen, "\"%s\" is not a URI (scheme://host...)", uri);
		return -1;
	}
	slen = sep - uri;
	if (slen == 0 || slen >= sizeof(u->scheme_name)) {
		snprintf(err, errlen, "\"%s\": no scheme", uri);
		return -1;
	}
	for (i = 0; i < slen; i++)
		u->scheme_name[i] = (char)tolower((unsigned char)uri[i]);
	if ((u->scheme = scheme_find(u->scheme_name)) == NULL) {
		snprintf(err, errlen, "unknown scheme \"%s\" (%s)", u->scheme_name,
		    scheme_names());
		return -1;
	}
	auth = sep + 3;
	rest = auth + strcspn(auth, "/?");
	if (u->scheme->needs_host &&
	    parse_authority(u, auth, rest - auth, err, errlen) == -1)
		return -1;
	q = strchr(rest, '?');
	slen = q ? (size_t)(q - rest) : strlen(rest);
	if (slen >= sizeof(u->path) || (size_t)(rest - uri) + slen >= sizeof(base)) {
		snprintf(err, errlen, "URI too long");
		return -1;
	}
	memcpy(u->path, rest, slen);
	u->path[slen] = '\0';
	memcpy(base, uri, (rest - uri) + slen);
	base[(rest - uri) + slen] = '\0';
	if (!u->scheme->needs_host && (rest != auth || u->path[0] != '/')) {
		snprintf(err, errlen, "%s:// needs an absolute path", u->scheme->name);
		return -1;
	}
	if (q != NULL && parse_query(u, q + 1, extra, sizeof(extra), err,
	    errlen) == -1)
		return -1;
	if (u->port == 0 && u->scheme->default_port == 0 && u->scheme->needs_host) {
		snprintf(err, errlen, "%s:// needs a port", u->scheme->name);
		return -1;
	}
	if (u->format[0] != '\0' && check_format(u->format, err, errlen) == -1)
		return -1;
	scheme_defaults(u);
	if (strcmp(u->scheme->transport, "http") == 0) {
		if (http_targets(u, base, extra) == -1) {
			snprintf(err, errlen, "URI too long");
			return -1;
		}
	} else if (join_target(u->target, sizeof(u->target), base, extra) == -1) {
		snprintf(err, errlen, "URI too long");
		return -1;
	}
	return 0;
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

int
url_filter_names(const struct url *u, const char *key, size_t len)
{
	return u->nfilter > 0 && url_matches(u, key, len);
}

/*
 * Query parameters whose value is a secret: ClickHouse takes its password
 * as one, and an HTTP peer may take a key or a token that way.
 */
static const char *const secret_params[] = {
	"password", "passwd", "api_key", "apikey", "token", "secret"
};

/* Append n bytes of s to the string in buf, as many as fit. */
static void
cat(char *buf, size_t size, const char *s, size_t n)
{
	size_t	len = strlen(buf);

	if (len + 1 >= size)
		return;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
}

static int
secret_param(const char *name, size_t n)
{
	size_t	i;

	for (i = 0; i < sizeof(secret_params) / sizeof(secret_params[0]); i++)
		if (strlen(secret_params[i]) == n &&
		    strncasecmp(name, secret_params[i], n) == 0)
			return 1;
	return 0;
}

/*
 * uri with its secrets replaced by "***": the password of its user
 * information ("https://u:secret@host/" -> "https://u:***@host/"), all of
 * the user information when it has no ':' (redis://SECRET@host/ is a
 * password alone, and https://KEY@host/ an API key, Hosted Graphite's way),
 * and the value of a query parameter named like a secret
 * ("clickhouse://h/?password=***"). What is cut to fit buf is cut after
 * masking, so a secret never shows.
 */
const char *
url_mask(const char *uri, char *buf, size_t size)
{
	const char	*auth, *end, *at, *colon, *rest, *p, *eq;
	size_t		 n;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if ((auth = strstr(uri, "://")) == NULL) {
		cat(buf, size, uri, strlen(uri));
		return buf;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' before the path: a password may hold '@' unescaped. */
	for (at = NULL, p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		colon = memchr(auth, ':', at - auth);
		p = colon != NULL ? colon + 1 : auth;
		cat(buf, size, uri, p - uri);
		cat(buf, size, "***", 3);
		rest = at;
	} else
		rest = uri;
	if ((p = strchr(rest, '?')) == NULL) {
		cat(buf, size, rest, strlen(rest));
		return buf;
	}
	cat(buf, size, rest, p + 1 - rest);
	for (p++; *p != '\0' && *p != '#'; p += n) {
		n = strcspn(p, "&#");
		if ((eq = memchr(p, '=', n)) != NULL && secret_param(p, eq - p)) {
			cat(buf, size, p, eq + 1 - p);
			cat(buf, size, "***", 3);
		} else
			cat(buf, size, p, n);
		if (p[n] == '&')
			cat(buf, size, p + n++, 1);
	}
	cat(buf, size, p, strlen(p));
	return buf;
}
