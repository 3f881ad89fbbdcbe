/*
 * fleetdrain: fleet drain keys and values (see fleetdrain.h). Values come
 * from a store any of a thousand hosts' operators may write to, so each is
 * read as untrusted input: printable bytes only, no quote or backslash (it
 * goes between quotes in a configuration fragment), a scheme and options
 * ferry's own URI parser accepts, and, for the JSON form, no member but the
 * ones listed here.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "fleetdrain.h"
#include "json.h"
#include "url.h"

int
fleet_name_check(const char *name, char *err, size_t size)
{
	size_t	i, n = strlen(name);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			break;
	if (n == 0 || n > FLEET_NAME_MAX || i < n) {
		(void)snprintf(err, size, "a drain name has 1 to %d letters, "
		    "digits, '_' or '-'", FLEET_NAME_MAX);
		return -1;
	}
	return 0;
}

/* The part of s (n bytes) up to the next '/', into out; its length or -1. */
static int
part(const char *s, size_t n, char *out, size_t size)
{
	const char	*slash = memchr(s, '/', n);
	size_t		 len = slash != NULL ? (size_t)(slash - s) : n;

	if (len == 0 || len >= size || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(out, s, len);
	out[len] = '\0';
	return (int)len;
}

/* s (n bytes) is "drains/NAME": the name into k. */
static int
drains_name(const char *s, size_t n, struct fleet_key *k)
{
	if (n < 8 || memcmp(s, "drains/", 7) != 0 ||
	    part(s + 7, n - 7, k->name, sizeof(k->name)) != (int)(n - 7))
		return 0;
	return 1;
}

int
fleet_key_parse(const char *prefix, const char *key, size_t keylen,
    struct fleet_key *k)
{
	size_t		 plen = strlen(prefix), n;
	const char	*s;
	int		 len;

	memset(k, 0, sizeof(*k));
	if (keylen <= plen || memcmp(key, prefix, plen) != 0)
		return 0;
	s = key + plen;
	n = keylen - plen;
	if (n > 7 && memcmp(s, "groups/", 7) == 0)
		k->scope = FLEET_SCOPE_GROUP;
	else if (n > 6 && memcmp(s, "hosts/", 6) == 0)
		k->scope = FLEET_SCOPE_HOST;
	else
		return drains_name(s, n, k);
	len = k->scope == FLEET_SCOPE_GROUP ? 7 : 6;
	s += len;
	n -= len;
	if ((len = part(s, n, k->who, sizeof(k->who))) == -1 ||
	    (size_t)len + 1 >= n)
		return 0;
	return drains_name(s + len + 1, n - len - 1, k);
}

int
fleet_key_make(char *buf, size_t size, const char *prefix,
    const struct fleet_key *k)
{
	int	n;

	switch (k->scope) {
	case FLEET_SCOPE_GROUP:
		n = snprintf(buf, size, "%sgroups/%s/drains/%s", prefix, k->who,
		    k->name);
		break;
	case FLEET_SCOPE_HOST:
		n = snprintf(buf, size, "%shosts/%s/drains/%s", prefix, k->who,
		    k->name);
		break;
	default:
		n = snprintf(buf, size, "%sdrains/%s", prefix, k->name);
		break;
	}
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
fleet_key_for(const struct fleet_key *k, const char *host, const char *group)
{
	switch (k->scope) {
	case FLEET_SCOPE_GROUP:
		return group[0] != '\0' && strcmp(k->who, group) == 0;
	case FLEET_SCOPE_HOST:
		return strcmp(k->who, host) == 0;
	default:
		return 1;
	}
}

const char *
fleet_scope_str(const struct fleet_key *k, char *buf, size_t size)
{
	switch (k->scope) {
	case FLEET_SCOPE_GROUP:
		(void)snprintf(buf, size, "group %s", k->who);
		break;
	case FLEET_SCOPE_HOST:
		(void)snprintf(buf, size, "host %s", k->who);
		break;
	default:
		(void)snprintf(buf, size, "all");
		break;
	}
	return buf;
}

int
fleet_drain_range(const char *prefix, char *key, size_t ksize, char *end,
    size_t esize)
{
	int	n, m;

	/* "hosts0": '0' follows '/', so every hosts/... key is below it. */
	n = snprintf(key, ksize, "%sdrains/", prefix);
	m = snprintf(end, esize, "%shosts0", prefix);
	return n < 0 || (size_t)n >= ksize || m < 0 || (size_t)m >= esize ?
	    -1 : 0;
}

int
fleet_status_key(char *buf, size_t size, const char *prefix, const char *host)
{
	int	n;

	n = snprintf(buf, size, "%sstatus/%s", prefix, host);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Printable, no blank, no quote, no backslash: fit for "..." in a file. */
static int
plain(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]) || s[i] == '"' ||
		    s[i] == '\\')
			return 0;
	return 1;
}

/* {"uri": "...", "api_key": "..."} into d; -1 with err. */
static int
parse_object(const char *v, size_t n, struct fleet_drain *d, char *err,
    size_t size)
{
	struct json	j;
	struct buf	name, val;
	int		r, rc = -1;

	buf_init(&name, 256);
	buf_init(&val, 4096);
	json_init(&j, v, n);
	if (json_object_begin(&j) == -1) {
		(void)snprintf(err, size, "the value is not a URI nor a JSON "
		    "object");
		goto done;
	}
	while ((r = json_object_next(&j, &name)) == 1) {
		if (strcmp(name.p, "uri") != 0 && strcmp(name.p, "api_key") != 0) {
			(void)snprintf(err, size, "unknown member \"%.64s\" "
			    "(a drain knows uri and api_key)", name.p);
			goto done;
		}
		if (json_string(&j, &val) == -1) {
			(void)snprintf(err, size, "%s is not a string", name.p);
			goto done;
		}
		if (strlen(val.p) != val.len) {
			(void)snprintf(err, size, "%s holds a NUL byte", name.p);
			goto done;
		}
		if (strcmp(name.p, "uri") == 0) {
			if (val.len >= sizeof(d->uri)) {
				(void)snprintf(err, size, "the uri is longer "
				    "than %zu bytes", sizeof(d->uri) - 1);
				goto done;
			}
			(void)strlcpy(d->uri, val.p, sizeof(d->uri));
			continue;
		}
		if (val.len >= sizeof(d->api_key) || !plain(val.p, val.len)) {
			(void)snprintf(err, size, "the api_key is longer than "
			    "%zu bytes or holds a blank, a quote, a backslash or "
			    "a control character", sizeof(d->api_key) - 1);
			goto done;
		}
		(void)strlcpy(d->api_key, val.p, sizeof(d->api_key));
	}
	if (r == -1 || json_end(&j) == -1) {
		(void)snprintf(err, size, "the value is not valid JSON");
		goto done;
	}
	if (d->uri[0] == '\0') {
		(void)snprintf(err, size, "the value has no uri");
		goto done;
	}
	rc = 0;
done:
	buf_free(&name);
	buf_free(&val);
	return rc;
}

int
fleet_value_parse(const char *v, size_t n, int allow_file,
    struct fleet_drain *d, char *err, size_t size)
{
	struct url	u;
	char		why[256], masked[2048];

	memset(d, 0, sizeof(*d));
	/* etcdctl put adds no newline, but an editor or echo may. */
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	while (n > 0 && isspace((unsigned char)*v)) {
		v++;
		n--;
	}
	if (n > 0 && *v == '{') {
		if (parse_object(v, n, d, err, size) == -1)
			return -1;
	} else if (n == 0) {
		(void)snprintf(err, size, "the value is empty");
		return -1;
	} else if (n >= sizeof(d->uri)) {
		(void)snprintf(err, size, "the uri is longer than %zu bytes",
		    sizeof(d->uri) - 1);
		return -1;
	} else {
		memcpy(d->uri, v, n);
		d->uri[n] = '\0';
	}
	if (!plain(d->uri, strlen(d->uri))) {
		(void)snprintf(err, size, "the uri holds a blank, a quote, a "
		    "backslash or a control character");
		return -1;
	}
	(void)url_mask(d->uri, masked, sizeof(masked));
	if (url_parse(d->uri, &u, why, sizeof(why)) == -1) {
		(void)snprintf(err, size, "%.512s: %s", masked, why);
		return -1;
	}
	if (strcmp(u.scheme->name, "file") == 0 && !allow_file) {
		(void)snprintf(err, size, "%.512s: a file:// drain from the fleet "
		    "is refused unless fleet.allow_file = true", masked);
		return -1;
	}
	return 0;
}

int
fleet_value_make(struct buf *b, const char *uri, const char *api_key)
{
	buf_reset(b);
	if (api_key == NULL || api_key[0] == '\0')
		return buf_addstr(b, uri);
	if (buf_addstr(b, "{\"uri\":") == -1 ||
	    json_add_string(b, uri, strlen(uri)) == -1 ||
	    buf_addstr(b, ",\"api_key\":") == -1 ||
	    json_add_string(b, api_key, strlen(api_key)) == -1)
		return -1;
	return buf_add(b, "}", 1);
}
