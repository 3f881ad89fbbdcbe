/*
 * Fuzz target for what ferry-sink does with a request (sink/ingest.c,
 * sink/query.c, sink/glob.c, common/jsonread.c, over its real SQLite store
 * in memory): the bodies of POST /api/v1/sink, POST /store/batch and
 * PUT /beat, and the query strings of /render, /metrics/find, /store/log,
 * /beat, /store/lines, /store/files and /changes. libmicrohttpd's side (routing, limits, auth) is not in here;
 * the handlers see what it hands them, through a stand-in for http.c.
 *
 * The first byte picks the endpoint (its low 3 bits, and for 7 bits 3-4
 * too; whether an API key is set: bit 7); the
 * rest is the body, or the query string ("a=b&c=d", %XX and '+' decoded as
 * libmicrohttpd does). Invariants on every input:
 *  - each handler answers exactly once, with a status it documents;
 *  - a write answered 200 replies {"stored":N,"invalid":M}, and every 200
 *    reply of type application/json (render, find, beats) is valid JSON;
 *  - no crash, no leak, no read out of bounds, and the store stays usable.
 */
#include <assert.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"
#include "../../sink/sink.h"

#define ARGS_MAX	32
#define RESET_EVERY	20000	/* a fresh store now and then: bounded growth */

struct request {
	struct store	*store;
	const char	*key;
	const char	*body;
	size_t		 bodylen;
	char		*names[ARGS_MAX];
	char		*values[ARGS_MAX];
	int		 nargs;
	int		 replies;
	int		 status;
	int		 json;
	struct buf	 out;
};

struct store *
http_store(const struct request *req)
{
	return req->store;
}

const char *
http_api_key(const struct request *req)
{
	return req->key;
}

const char *
http_body(const struct request *req, size_t *len)
{
	*len = req->bodylen;
	return req->body;
}

const char *
http_arg(const struct request *req, const char *name)
{
	int	i;

	for (i = 0; i < req->nargs; i++)
		if (strcmp(req->names[i], name) == 0)
			return req->values[i];
	return NULL;
}

int
http_args(const struct request *req, const char *name, const char **v,
    int max)
{
	int	i, n = 0;

	for (i = 0; i < req->nargs && n < max; i++)
		if (strcmp(req->names[i], name) == 0)
			v[n++] = req->values[i];
	return n;
}

static void
replied(struct request *req, int status, const char *ctype)
{
	req->replies++;
	req->status = status;
	req->json = ctype != NULL && strcmp(ctype, "application/json") == 0;
}

int
http_reply(struct request *req, int status, const char *ctype,
    const char *body, size_t len)
{
	replied(req, status, ctype);
	assert(buf_add(&req->out, body, len) == 0);
	return 0;
}

int
http_reply_buf(struct request *req, int status, const char *ctype,
    struct buf *b)
{
	replied(req, status, ctype);
	assert(buf_add(&req->out, b->p != NULL ? b->p : "", b->len) == 0);
	buf_free(b);
	return 0;
}

int
http_reply_text(struct request *req, int status, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	replied(req, status, "text/plain");
	assert(buf_addstr(&req->out, msg) == 0);
	return 0;
}

/* The whole stream, piece by piece, as libmicrohttpd would pull it. */
int
http_reply_stream(struct request *req, const char *ctype, struct stream *s,
    struct buf *first, int done)
{
	replied(req, 200, ctype);
	assert(buf_add(&req->out, first->p != NULL ? first->p : "",
	    first->len) == 0);
	buf_free(first);
	while (!done) {
		struct buf	piece;

		buf_init(&piece, 0);
		assert(s->fill(s->state, &piece, &done) == 0);
		assert(buf_add(&req->out, piece.p != NULL ? piece.p : "",
		    piece.len) == 0);
		buf_free(&piece);
	}
	s->done(s->state);
	return 0;
}

static int
hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* %XX and '+' decoded, in place; a NUL ends the value as in MHD's strings. */
static void
unescape(char *s)
{
	char	*o = s;

	for (; *s != '\0'; s++) {
		if (*s == '%' && hexval((unsigned char)s[1]) >= 0 &&
		    hexval((unsigned char)s[2]) >= 0) {
			*o++ = (char)(hexval((unsigned char)s[1]) * 16 +
			    hexval((unsigned char)s[2]));
			s += 2;
		} else
			*o++ = *s == '+' ? ' ' : *s;
	}
	*o = '\0';
}

static void
parse_query(struct request *req, char *q)
{
	char	*pair, *eq;

	while ((pair = strsep(&q, "&")) != NULL && req->nargs < ARGS_MAX) {
		if (*pair == '\0')
			continue;
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		else
			eq = pair + strlen(pair);
		unescape(pair);
		unescape(eq);
		req->names[req->nargs] = pair;
		req->values[req->nargs++] = eq;
	}
}

static int
json_valid(const char *p, size_t len)
{
	struct json	j;

	json_init(&j, p, len);
	return json_skip(&j) == 0 && json_end(&j) == 0;
}

/* Some data for the readers to find. */
static struct store *
store_seeded(void)
{
	struct store	*s;
	static const char line[] = "GET / 200";

	assert((s = store_open(":memory:")) != NULL);
	assert(store_begin(s) == 0);
	assert(store_point(s, "servers.web1.cpu.user", 21, 1700000000, 1.5) == 0);
	assert(store_point(s, "servers.web1.cpu.idle", 21, 1700000060, 98) == 0);
	assert(store_point(s, "servers.web2.load", 17, 1700000000, 0.25) == 0);
	assert(store_log_line(s, "web1", 4, "/var/log/x.log", 14, 1, line,
	    sizeof(line) - 1) == 0);
	assert(store_commit(s) == 0);
	assert(store_beat(s, "web1", "{\"hostname\":\"web1\"}", 19,
	    1700000000) == 0);
	assert(store_merge(s) == 0);
	return s;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct store	*store;
	static unsigned long	 runs;
	struct request		 req;
	char			*text;
	uint8_t			 which;
	int			 rc = 0, status;

	fuzz_quiet();
	if (store == NULL || ++runs % RESET_EVERY == 0) {
		store_close(store);
		store = store_seeded();
	}
	if (size < 1)
		return 0;
	which = data[0];
	memset(&req, 0, sizeof(req));
	req.store = store;
	req.key = which & 0x80 ? "k3y" : "";
	buf_init(&req.out, 0);
	text = fuzz_str(data + 1, size - 1);
	req.body = text;
	req.bodylen = size - 1;

	switch (which & 7) {
	case 0:
		rc = ingest_points(&req);
		break;
	case 1:
		rc = ingest_batch(&req);
		break;
	case 2:
		rc = ingest_beat(&req);
		break;
	default:
		req.body = "";
		req.bodylen = 0;
		parse_query(&req, text);
		switch (which & 7) {
		case 3:
		case 4:
			rc = query_render(&req);
			break;
		case 5:
			rc = query_find(&req);
			break;
		case 6:
			rc = query_log(&req);
			break;
		default:
			switch ((which >> 3) & 3) {
			case 0:
				rc = query_beats(&req);
				break;
			case 1:
				rc = query_lines(&req);
				break;
			case 2:
				rc = query_files(&req);
				break;
			default:
				rc = query_changes(&req);
				break;
			}
			break;
		}
	}
	status = req.status;
	assert(rc == 0 && req.replies == 1);
	assert(status == 200 || status == 400 || status == 404 ||
	    status == 413 || status == 500 || status == 503);
	/* The store refuses nothing it was given: no 500 or 503 here. */
	assert(status != 500 && status != 503);
	if ((which & 7) < 3 && status == 200 && (which & 7) != 2)
		assert(strncmp(req.out.p, "{\"stored\":", 10) == 0);
	if (status == 200 && req.json)
		assert(json_valid(req.out.p, req.out.len));
	buf_free(&req.out);
	free(text);
	return 0;
}
