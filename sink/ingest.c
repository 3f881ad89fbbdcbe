/*
 * ingest: the write endpoints. Each request body is stored in one
 * transaction, so a request is stored whole or not at all, and every write
 * replaces a record with the same key, so a resent request changes nothing.
 *
 * POST /api/v1/sink takes Graphite plaintext lines ("name value [ts]", no ts
 * or -1: now), parsed by common/metric.c like everywhere else in ferry, with
 * a leading "<api key>." stripped from names as Hosted Graphite does. Blank
 * lines are skipped. An invalid line is counted and skipped; the reply is
 * 200 {"stored":N,"invalid":M} when at least one line was stored or nothing
 * but blank lines came, and 400 when the body held lines and none was valid,
 * so a sender sets aside a batch that can never succeed (ferry's dead-letter
 * rule) but does not resend a batch whose good lines are already stored.
 *
 * PUT /beat keeps the latest JSON object per host ("hostname", else "host").
 * POST /store/batch takes {"batch":[{"host","file","line-num","content"}]}
 * and follows the same 200/400 rule as the points; malformed JSON is 400 and
 * stores nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metric.h"
#include "sink.h"

#define INGEST_WARN_MS	60000	/* at most one warning a minute about bad input */
#define VALUE_MAX	64

struct counts {
	uint64_t	stored;
	uint64_t	invalid;
	int		first;		/* the first invalid line's metric status */
};

/* One per endpoint, so each says when its own bad input starts. */
struct warn {
	const char	*what;
	uint64_t	 last_ms;
	uint64_t	 pending;
};

static struct warn	warn_points = { "points", 0, 0 };
static struct warn	warn_batch = { "batch", 0, 0 };

/*
 * Invalid input is the sender's bug, not ours: say so when it starts, then
 * at most once a minute with the count since, rather than once a line. Only
 * the HTTP thread calls this.
 */
static void
ingest_warn(struct warn *w, uint64_t n, const char *why)
{
	uint64_t	now = clock_mono_ms();

	w->pending += n;
	if (w->last_ms != 0 && now - w->last_ms < INGEST_WARN_MS)
		return;
	log_warnx("%s: rejected %llu invalid records (latest: %s)", w->what,
	    (unsigned long long)w->pending, why);
	w->pending = 0;
	w->last_ms = now;
}

static struct sink_stats	stats;	/* atomics: two threads touch them */

void
ingest_stats(struct sink_stats *out)
{
	out->stored = __atomic_load_n(&stats.stored, __ATOMIC_RELAXED);
	out->invalid = __atomic_load_n(&stats.invalid, __ATOMIC_RELAXED);
	out->requests = __atomic_load_n(&stats.requests, __ATOMIC_RELAXED);
	out->refused = __atomic_load_n(&stats.refused, __ATOMIC_RELAXED);
}

static void
ingest_count(const struct counts *c)
{
	__atomic_add_fetch(&stats.stored, c->stored, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stats.invalid, c->invalid, __ATOMIC_RELAXED);
	__atomic_add_fetch(&stats.requests, 1, __ATOMIC_RELAXED);
	if (c->stored == 0 && c->invalid > 0)
		__atomic_add_fetch(&stats.refused, 1, __ATOMIC_RELAXED);
}

static int
ingest_reply(struct request *req, struct warn *w, const struct counts *c,
    const char *why)
{
	struct buf	b;

	ingest_count(c);
	if (c->invalid > 0)
		ingest_warn(w, c->invalid, why);
	if (c->stored == 0 && c->invalid > 0)
		return http_reply_text(req, 400,
		    "%s: no valid record; %llu invalid (first: %s)", w->what,
		    (unsigned long long)c->invalid, why);
	buf_init(&b, 0);
	if (buf_printf(&b, "{\"stored\":%llu,\"invalid\":%llu}\n",
	    (unsigned long long)c->stored,
	    (unsigned long long)c->invalid) == -1) {
		buf_free(&b);
		return http_reply_text(req, 500, "out of memory");
	}
	return http_reply_buf(req, 200, "application/json", &b);
}

/* The value as a finite double; metric_parse() has checked its syntax. */
static int
ingest_value(const struct metric *m, double *v)
{
	char	 tmp[VALUE_MAX];
	char	*ep;

	if (m->valuelen == 0 || m->valuelen >= sizeof(tmp))
		return -1;
	memcpy(tmp, m->value, m->valuelen);
	tmp[m->valuelen] = '\0';
	*v = strtod(tmp, &ep);
	return *ep == '\0' && isfinite(*v) ? 0 : -1;
}

/* One line: 1 stored, 0 skipped (blank or invalid, counted), -1 store error. */
static int
ingest_point(struct store *s, const char *line, size_t len, const char *key,
    size_t keylen, int64_t now, struct counts *c)
{
	struct metric	m;
	double		v;
	int		r;

	if ((r = metric_parse(line, len, &m)) == METRIC_EMPTY)
		return 0;
	if (r == METRIC_OK && ingest_value(&m, &v) == -1)
		r = METRIC_BAD_VALUE;
	if (r != METRIC_OK) {
		if (c->invalid++ == 0)
			c->first = r;
		return 0;
	}
	if (keylen > 0)
		metric_strip_key(&m, key, keylen);
	if (store_point(s, m.name, m.namelen, m.ts == -1 ? now : m.ts, v) == -1)
		return -1;
	c->stored++;
	return 1;
}

int
ingest_points(struct request *req)
{
	struct store	*s = http_store(req);
	struct counts	 c = { 0, 0, METRIC_OK };
	const char	*body, *p, *end, *nl, *key = http_api_key(req);
	size_t		 len, keylen = strlen(key);
	int64_t		 now = clock_wall();

	body = http_body(req, &len);
	if (len > 0 && store_begin(s) == -1)
		return http_reply_text(req, 503, "store unavailable");
	for (p = body, end = body + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (ingest_point(s, p, (size_t)(nl - p), key, keylen, now,
		    &c) == -1) {
			store_rollback(s);
			return http_reply_text(req, 503, "store unavailable");
		}
	}
	if (len > 0 && store_commit(s) == -1)
		return http_reply_text(req, 503, "store unavailable");
	return ingest_reply(req, &warn_points, &c, metric_status_name(c.first));
}

/* The "hostname" member of the object, else its "host". */
static int
ingest_beat_host(const char *body, size_t len, struct buf *host)
{
	struct json	j;
	struct buf	key;
	int		r, have = 0;

	buf_init(&key, 0);
	json_init(&j, body, len);
	if ((r = json_object_begin(&j)) == 0) {
		while ((r = json_object_next(&j, &key)) == 1) {
			if (strcmp(key.p, "hostname") == 0 && have < 2) {
				if ((r = json_string(&j, host)) == -1)
					break;
				have = 2;
			} else if (strcmp(key.p, "host") == 0 && have < 1) {
				if ((r = json_string(&j, host)) == -1)
					break;
				have = 1;
			} else if ((r = json_skip(&j)) == -1)
				break;
		}
		if (r == 0)
			r = json_end(&j);
	}
	buf_free(&key);
	if (r == -1)
		return -1;
	return have && host->len > 0 ? 1 : 0;
}

int
ingest_beat(struct request *req)
{
	struct buf	 host;
	const char	*body;
	size_t		 len;
	int		 r;

	body = http_body(req, &len);
	buf_init(&host, 0);
	if ((r = ingest_beat_host(body, len, &host)) != 1) {
		buf_free(&host);
		return http_reply_text(req, 400, r == -1 ?
		    "beat: the body is not a JSON object" :
		    "beat: no \"hostname\" or \"host\" member");
	}
	r = store_beat(http_store(req), host.p, body, len, clock_wall());
	buf_free(&host);
	if (r == -1)
		return http_reply_text(req, 503, "store unavailable");
	return http_reply(req, 200, "application/json", "{\"stored\":1}\n", 13);
}

struct item {
	struct buf	key;
	struct buf	host;
	struct buf	file;
	struct buf	content;
};

/* One member of an item: the bit it sets in "have", or -1 on bad JSON. */
static int
ingest_field(struct json *j, struct item *it, int64_t *line)
{
	const char	*k = it->key.p;

	if (strcmp(k, "host") == 0)
		return json_string(j, &it->host) == 0 ? 1 : -1;
	if (strcmp(k, "file") == 0)
		return json_string(j, &it->file) == 0 ? 2 : -1;
	if (strcmp(k, "line-num") == 0 || strcmp(k, "line") == 0)
		return json_int64(j, line) == 0 ? 4 : -1;
	if (strcmp(k, "content") == 0)
		return json_string(j, &it->content) == 0 ? 8 : -1;
	return json_skip(j) == 0 ? 0 : -1;
}

/* One element of "batch"; 1 stored, 0 invalid, -1 bad JSON, -2 store error. */
static int
ingest_item(struct store *s, struct json *j, struct item *it)
{
	int64_t	line = 0;
	int	r, have = 0;

	if (json_object_begin(j) == -1)
		return -1;
	it->host.len = it->file.len = it->content.len = 0;
	while ((r = json_object_next(j, &it->key)) == 1) {
		if ((r = ingest_field(j, it, &line)) == -1)
			return -1;
		have |= r;
	}
	if (r == -1)
		return -1;
	if (have != 15 || it->host.len == 0 || it->file.len == 0)
		return 0;
	if (store_log_line(s, it->host.p, it->host.len, it->file.p,
	    it->file.len, line, it->content.p, it->content.len) == -1)
		return -2;
	return 1;
}

/* The "batch" array; 0, -1 bad JSON, -2 store error. */
static int
ingest_items(struct store *s, struct json *j, struct item *it,
    struct counts *c)
{
	int	r;

	if (json_array_begin(j) == -1)
		return -1;
	while ((r = json_array_next(j)) == 1) {
		if ((r = ingest_item(s, j, it)) < 0)
			return r;
		if (r == 1)
			c->stored++;
		else
			c->invalid++;
	}
	return r;
}

/* The whole document; 1 with a batch, 0 without one, -1, -2 as above. */
static int
ingest_document(struct store *s, const char *body, size_t len,
    struct item *it, struct counts *c)
{
	struct json	j;
	int		r, seen = 0;

	json_init(&j, body, len);
	if (json_object_begin(&j) == -1)
		return -1;
	while ((r = json_object_next(&j, &it->key)) == 1) {
		if (strcmp(it->key.p, "batch") == 0 && !seen) {
			seen = 1;
			r = ingest_items(s, &j, it, c);
		} else
			r = json_skip(&j);
		if (r < 0)
			return r;
	}
	if (r == -1 || json_end(&j) == -1)
		return -1;
	return seen;
}

int
ingest_batch(struct request *req)
{
	struct store	*s = http_store(req);
	struct counts	 c = { 0, 0, 0 };
	struct item	 it;
	const char	*body;
	size_t		 len;
	int		 r;

	body = http_body(req, &len);
	buf_init(&it.key, 0);
	buf_init(&it.host, 0);
	buf_init(&it.file, 0);
	buf_init(&it.content, 0);
	if (store_begin(s) == -1)
		r = -2;
	else if ((r = ingest_document(s, body, len, &it, &c)) == 1 &&
	    store_commit(s) == -1)
		r = -2;
	else if (r != 1)
		store_rollback(s);
	buf_free(&it.key);
	buf_free(&it.host);
	buf_free(&it.file);
	buf_free(&it.content);
	if (r == -2)
		return http_reply_text(req, 503, "store unavailable");
	if (r == -1)
		return http_reply_text(req, 400, "batch: malformed JSON");
	if (r == 0)
		return http_reply_text(req, 400,
		    "batch: no \"batch\" array in the object");
	return ingest_reply(req, &warn_batch, &c,
	    "an item without host, file, line-num and content");
}
