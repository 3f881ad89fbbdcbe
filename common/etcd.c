/*
 * etcd: etcd's v3 messages in the JSON of its gateway (see etcd.h).
 *
 * The gateway is grpc-gateway over etcd's protobuf API, so its JSON follows
 * protobuf's mapping: bytes are base64, int64 are strings, and a field at
 * its zero value is left out (an event's "type" is absent for a PUT, a
 * lease keepalive's "TTL" absent when the lease is gone). Readers here
 * therefore take an absent field as zero and skip every member they do not
 * know, so a newer etcd's extra fields change nothing.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "etcd.h"
#include "json.h"

static const char	b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
etcd_b64_encode(struct buf *b, const void *p, size_t n)
{
	const unsigned char	*s = p;
	char			 q[4];
	size_t			 i;
	unsigned		 v;

	for (i = 0; i < n; i += 3) {
		v = s[i] << 16;
		if (i + 1 < n)
			v |= s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = b64[v >> 18 & 63];
		q[1] = b64[v >> 12 & 63];
		q[2] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? b64[v & 63] : '=';
		if (buf_add(b, q, 4) == -1)
			return -1;
	}
	return 0;
}

static int
b64_value(int c)
{
	const char	*p;

	if (c == '\0' || (p = strchr(b64, c)) == NULL)
		return -1;
	return (int)(p - b64);
}

int
etcd_b64_decode(struct buf *b, const char *s, size_t n)
{
	unsigned char	out[3];
	size_t		i, pad = 0, k;
	unsigned	v;
	int		d, j;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		for (j = 0; j < 4; j++) {
			/* '=' only at the very end, at most two. */
			if (s[i + j] == '=' && i + 4 == n && j >= 2 &&
			    (j == 3 || s[i + 3] == '=')) {
				pad++;
				d = 0;
			} else if (pad > 0 || (d = b64_value(s[i + j])) == -1)
				return -1;
			v = v << 6 | (unsigned)d;
		}
		out[0] = v >> 16;
		out[1] = v >> 8;
		out[2] = v;
		k = i + 4 == n ? 3 - pad : 3;
		if (buf_add(b, out, k) == -1)
			return -1;
	}
	return 0;
}

int
etcd_prefix_end(const char *prefix, char *out, size_t size)
{
	size_t	n = strlen(prefix);

	if (n == 0 || n >= size)
		return -1;
	memcpy(out, prefix, n + 1);
	/* Drop trailing 0xff bytes and bump the last one left. */
	while (n > 0 && (unsigned char)out[n - 1] == 0xff)
		out[--n] = '\0';
	if (n == 0)
		return -1;
	out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
	return 0;
}

/* ,"name":"<base64 of s>" (no comma when first) */
static int
add_b64(struct buf *b, const char *name, const void *s, size_t n, int first)
{
	if (buf_printf(b, "%s\"%s\":\"", first ? "" : ",", name) == -1 ||
	    etcd_b64_encode(b, s, n) == -1)
		return -1;
	return buf_add(b, "\"", 1);
}

int
etcd_body_range(struct buf *b, const char *key, const char *end)
{
	buf_reset(b);
	if (buf_add(b, "{", 1) == -1 ||
	    add_b64(b, "key", key, strlen(key), 1) == -1 ||
	    (end != NULL && add_b64(b, "range_end", end, strlen(end), 0) == -1))
		return -1;
	return buf_add(b, "}", 1);
}

int
etcd_body_put(struct buf *b, const char *key, const void *value, size_t n,
    int64_t lease)
{
	buf_reset(b);
	if (buf_add(b, "{", 1) == -1 ||
	    add_b64(b, "key", key, strlen(key), 1) == -1 ||
	    add_b64(b, "value", value, n, 0) == -1 ||
	    (lease != 0 && buf_printf(b, ",\"lease\":\"%lld\"",
	    (long long)lease) == -1))
		return -1;
	return buf_add(b, "}", 1);
}

int
etcd_body_delete(struct buf *b, const char *key, const char *end)
{
	return etcd_body_range(b, key, end);
}

int
etcd_body_watch(struct buf *b, const char *key, const char *end,
    int64_t revision)
{
	buf_reset(b);
	if (buf_addstr(b, "{\"create_request\":{") == -1 ||
	    add_b64(b, "key", key, strlen(key), 1) == -1 ||
	    (end != NULL && add_b64(b, "range_end", end, strlen(end), 0) == -1) ||
	    (revision > 0 && buf_printf(b, ",\"start_revision\":\"%lld\"",
	    (long long)revision) == -1))
		return -1;
	return buf_addstr(b, "}}");
}

int
etcd_body_lease_grant(struct buf *b, int64_t ttl)
{
	buf_reset(b);
	return buf_printf(b, "{\"TTL\":\"%lld\"}", (long long)ttl);
}

int
etcd_body_lease(struct buf *b, int64_t id)
{
	buf_reset(b);
	return buf_printf(b, "{\"ID\":\"%lld\"}", (long long)id);
}

int
etcd_body_auth(struct buf *b, const char *user, const char *password)
{
	buf_reset(b);
	if (buf_addstr(b, "{\"name\":") == -1 ||
	    json_add_string(b, user, strlen(user)) == -1 ||
	    buf_addstr(b, ",\"password\":") == -1 ||
	    json_add_string(b, password, strlen(password)) == -1)
		return -1;
	return buf_add(b, "}", 1);
}

/* A true or a false (or null: false). */
static int
read_bool(struct json *j, int *v)
{
	const char	*s = j->p;

	if (json_skip(j) == -1)
		return -1;
	*v = memmem(s, j->p - s, "true", 4) != NULL;
	return 0;
}

/* A string value into out (cut to fit); "" for null. */
static int
read_text(struct json *j, struct buf *tmp, char *out, size_t size)
{
	const char	*s = j->p;

	if (json_string(j, tmp) == -1) {
		j->p = s;
		out[0] = '\0';
		return json_skip(j);
	}
	(void)snprintf(out, size, "%.*s", (int)tmp->len, tmp->p);
	return 0;
}

/* A decoded key or value: base64 in a string. */
static int
read_b64(struct json *j, struct buf *tmp, struct buf *out)
{
	buf_reset(out);
	if (json_string(j, tmp) == -1)
		return -1;
	return etcd_b64_decode(out, tmp->p, tmp->len);
}

/* {"key", "value", "mod_revision", "lease", ...}: into kv, bytes in k, v. */
static int
read_kv(struct json *j, struct buf *name, struct buf *tmp, struct buf *k,
    struct buf *v, struct etcd_kv *kv)
{
	int	r;

	memset(kv, 0, sizeof(*kv));
	buf_reset(k);
	buf_reset(v);
	if (json_object_begin(j) == -1)
		return -1;
	while ((r = json_object_next(j, name)) == 1) {
		if (strcmp(name->p, "key") == 0)
			r = read_b64(j, tmp, k);
		else if (strcmp(name->p, "value") == 0)
			r = read_b64(j, tmp, v);
		else if (strcmp(name->p, "mod_revision") == 0)
			r = json_int64(j, &kv->mod_revision);
		else if (strcmp(name->p, "lease") == 0)
			r = json_int64(j, &kv->lease);
		else
			r = json_skip(j);
		if (r == -1)
			return -1;
	}
	if (r == -1 || k->len == 0)
		return -1;
	kv->key = k->p;
	kv->keylen = k->len;
	kv->value = v->p != NULL ? v->p : "";
	kv->valuelen = v->len;
	return 0;
}

/* The scratch buffers of one parse. */
struct scratch {
	struct buf	name, tmp, k, v;
};

static void
scratch_init(struct scratch *s)
{
	buf_init(&s->name, 4096);
	buf_init(&s->tmp, 0);
	buf_init(&s->k, 0);
	buf_init(&s->v, 0);
}

static int
scratch_free(struct scratch *s, int rc)
{
	buf_free(&s->name);
	buf_free(&s->tmp);
	buf_free(&s->k);
	buf_free(&s->v);
	return rc;
}

/* {"revision": ..., ...}: the store's revision. */
static int
read_header(struct json *j, struct buf *name, int64_t *revision)
{
	int	r;

	if (json_object_begin(j) == -1)
		return -1;
	while ((r = json_object_next(j, name)) == 1)
		if ((strcmp(name->p, "revision") == 0 ?
		    json_int64(j, revision) : json_skip(j)) == -1)
			return -1;
	return r;
}

/* The next character that is not white space; -1 at the end. */
static int
peek(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
	return j->p < j->end ? (unsigned char)*j->p : -1;
}

/*
 * The members of an error, at either level: a unary answer's
 * {"error": "text", "message": "text", "code": N} or a stream's
 * {"error": {"grpc_code": N, "message": "text", ...}}.
 */
static int
read_error(struct json *j, struct buf *name, struct buf *tmp, int *found,
    int64_t *code, char *msg, size_t size)
{
	int	r;

	if (json_object_begin(j) == -1)
		return -1;
	while ((r = json_object_next(j, name)) == 1) {
		if (strcmp(name->p, "error") == 0) {
			*found = 1;
			r = peek(j) == '{' ? read_error(j, name, tmp, found, code,
			    msg, size) : msg[0] == '\0' ? read_text(j, tmp, msg,
			    size) : json_skip(j);
		} else if (strcmp(name->p, "message") == 0)
			r = read_text(j, tmp, msg, size);
		else if (strcmp(name->p, "code") == 0 ||
		    strcmp(name->p, "grpc_code") == 0)
			r = json_int64(j, code);
		else
			r = json_skip(j);
		if (r == -1)
			return -1;
	}
	return r;
}

int
etcd_parse_error(const char *p, size_t n, int *code, char *msg, size_t size)
{
	struct json	j;
	struct buf	name, tmp;
	int64_t		c = 0;
	int		r, found = 0;

	buf_init(&name, 4096);
	buf_init(&tmp, 0);
	msg[0] = '\0';
	json_init(&j, p, n);
	r = read_error(&j, &name, &tmp, &found, &c, msg, size);
	buf_free(&name);
	buf_free(&tmp);
	*code = (int)c;
	if (r == -1)
		return -1;
	return found;
}

int
etcd_parse_range(const char *p, size_t n, int64_t *revision, etcd_kv_fn fn,
    void *arg)
{
	struct scratch	s;
	struct etcd_kv	kv;
	struct json	j;
	int		r;

	*revision = 0;
	scratch_init(&s);
	json_init(&j, p, n);
	if (json_object_begin(&j) == -1)
		return scratch_free(&s, -1);
	while ((r = json_object_next(&j, &s.name)) == 1) {
		if (strcmp(s.name.p, "header") == 0)
			r = read_header(&j, &s.name, revision);
		else if (strcmp(s.name.p, "kvs") == 0) {
			if ((r = json_array_begin(&j)) == -1)
				break;
			while ((r = json_array_next(&j)) == 1) {
				if (read_kv(&j, &s.name, &s.tmp, &s.k, &s.v,
				    &kv) == -1) {
					r = -1;
					break;
				}
				fn(ETCD_EVENT_PUT, &kv, arg);
			}
		} else
			r = json_skip(&j);
		if (r == -1)
			break;
	}
	if (r == 0 && *revision == 0)
		r = -1;		/* not an answer to a range */
	return scratch_free(&s, r);
}

int
etcd_parse_deleted(const char *p, size_t n, int64_t *deleted)
{
	struct json	j;
	struct buf	name;
	int		r;

	*deleted = 0;
	buf_init(&name, 4096);
	json_init(&j, p, n);
	if ((r = json_object_begin(&j)) == 0)
		while ((r = json_object_next(&j, &name)) == 1)
			if ((strcmp(name.p, "deleted") == 0 ?
			    json_int64(&j, deleted) : json_skip(&j)) == -1) {
				r = -1;
				break;
			}
	buf_free(&name);
	return r;
}

/* One event: {"type": "DELETE"?, "kv": {...}}. */
static int
read_event(struct json *j, struct scratch *s, etcd_kv_fn fn, void *arg)
{
	struct etcd_kv	kv;
	char		type[32] = "";
	int		r, have = 0;

	if (json_object_begin(j) == -1)
		return -1;
	while ((r = json_object_next(j, &s->name)) == 1) {
		if (strcmp(s->name.p, "type") == 0)
			r = read_text(j, &s->tmp, type, sizeof(type));
		else if (strcmp(s->name.p, "kv") == 0) {
			r = read_kv(j, &s->name, &s->tmp, &s->k, &s->v, &kv);
			have = r == 0;
		} else
			r = json_skip(j);
		if (r == -1)
			return -1;
	}
	if (r == -1 || !have)
		return -1;
	/* The type comes first, but nothing promises it: call at the end. */
	fn(strcmp(type, "DELETE") == 0 ? ETCD_EVENT_DELETE : ETCD_EVENT_PUT,
	    &kv, arg);
	return 0;
}

int
etcd_parse_watch(const char *p, size_t n, struct etcd_watch_msg *m,
    etcd_kv_fn fn, void *arg)
{
	struct scratch	s;
	struct json	j;
	int		r;

	memset(m, 0, sizeof(*m));
	scratch_init(&s);
	json_init(&j, p, n);
	if (json_object_begin(&j) == -1)
		return scratch_free(&s, -1);
	/* {"result": {...}}; anything else is not a watch message. */
	while ((r = json_object_next(&j, &s.name)) == 1) {
		if (strcmp(s.name.p, "result") != 0) {
			if (json_skip(&j) == -1)
				return scratch_free(&s, -1);
			continue;
		}
		if (json_object_begin(&j) == -1)
			return scratch_free(&s, -1);
		while ((r = json_object_next(&j, &s.name)) == 1) {
			if (strcmp(s.name.p, "header") == 0)
				r = read_header(&j, &s.name, &m->revision);
			else if (strcmp(s.name.p, "created") == 0)
				r = read_bool(&j, &m->created);
			else if (strcmp(s.name.p, "canceled") == 0)
				r = read_bool(&j, &m->canceled);
			else if (strcmp(s.name.p, "compact_revision") == 0)
				r = json_int64(&j, &m->compact_revision);
			else if (strcmp(s.name.p, "cancel_reason") == 0)
				r = read_text(&j, &s.tmp, m->reason,
				    sizeof(m->reason));
			else if (strcmp(s.name.p, "events") == 0) {
				if ((r = json_array_begin(&j)) == -1)
					break;
				while ((r = json_array_next(&j)) == 1) {
					if (read_event(&j, &s, fn, arg) == -1) {
						r = -1;
						break;
					}
					m->nevents++;
				}
			} else
				r = json_skip(&j);
			if (r == -1)
				return scratch_free(&s, -1);
		}
		if (r == -1)
			break;
	}
	return scratch_free(&s, r);
}

int
etcd_parse_lease(const char *p, size_t n, int64_t *id, int64_t *ttl)
{
	struct json	j;
	struct buf	name;
	int		r;

	*id = 0;
	*ttl = 0;
	buf_init(&name, 4096);
	json_init(&j, p, n);
	if (json_object_begin(&j) == -1) {
		buf_free(&name);
		return -1;
	}
	while ((r = json_object_next(&j, &name)) == 1) {
		/* A keepalive's answer comes as {"result": {...}}. */
		if (strcmp(name.p, "result") == 0)
			r = json_object_begin(&j);
		else if (strcmp(name.p, "ID") == 0)
			r = json_int64(&j, id);
		else if (strcmp(name.p, "TTL") == 0)
			r = json_int64(&j, ttl);
		else
			r = json_skip(&j);
		if (r == -1)
			break;
	}
	buf_free(&name);
	return r == -1 || *id == 0 ? -1 : 0;
}

int
etcd_parse_token(const char *p, size_t n, char *out, size_t size)
{
	struct json	j;
	struct buf	name, tmp;
	int		r;

	out[0] = '\0';
	buf_init(&name, 4096);
	buf_init(&tmp, 0);
	json_init(&j, p, n);
	if ((r = json_object_begin(&j)) == 0)
		while ((r = json_object_next(&j, &name)) == 1)
			if ((strcmp(name.p, "token") == 0 ? read_text(&j, &tmp,
			    out, size) : json_skip(&j)) == -1) {
				r = -1;
				break;
			}
	buf_free(&name);
	buf_free(&tmp);
	return r == -1 || out[0] == '\0' ? -1 : 0;
}

ssize_t
etcd_stream_next(const char *p, size_t n)
{
	size_t	i;
	int	depth = 0, quote = 0, started = 0;

	for (i = 0; i < n; i++) {
		char c = p[i];

		if (quote) {
			if (c == '\\')
				i++;
			else if (c == '"')
				quote = 0;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '"')
			quote = 1;
		else if (c == '{' || c == '[') {
			depth++;
			started = 1;
		} else if (c == '}' || c == ']') {
			if (--depth < 0)
				return -1;
		} else if (!started)
			return -1;	/* only objects are sent */
		if (started && depth == 0)
			return (ssize_t)(i + 1);
	}
	return 0;
}
