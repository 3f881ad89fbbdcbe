/*
 * query: the read endpoints, enough of Graphite's read API to look at and
 * plot what ferry delivered, plus readers for logs and beats.
 *
 * GET /render?target=T[&target=T2][&from=][&until=][&format=json] returns
 * [{"target":NAME,"datapoints":[[value,ts],...]}] for every stored name each
 * target matches (globs per component, see glob.c), points sorted by ts with
 * from <= ts <= until (default: the last 24 hours). Only stored points are
 * listed: there is no fixed step and no null filling.
 * GET /metrics/find?query=Q returns the nodes Q matches, as Graphite's find.
 * GET /store/log?host=H&file=F returns the file rebuilt from its lines in
 * line order (404 when none is stored), and GET /beat[?host=H] the latest
 * beat of each host.
 *
 * For the page (ui.c): GET /store/files lists each host and file that has
 * lines, GET /store/lines returns a file's lines after a number (or its
 * last ones) as JSON, to follow it, and GET /changes a counter of writes,
 * to poll cheaply.
 *
 * Long replies (render, log) are streamed page by page from the store, so a
 * reply of any size costs a page of memory; find and beat replies are built
 * whole, within SINK_REPLY_MAX.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "sink.h"

#define QUERY_PAGE	1024		/* rows read from the store at a time */
#define DAY		86400

static const struct unit {
	const char	*name;
	int64_t		 secs;
} units[] = {
	{ "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 },
	{ "seconds", 1 },
	{ "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
	{ "h", 3600 }, { "hour", 3600 }, { "hours", 3600 },
	{ "d", DAY }, { "day", DAY }, { "days", DAY },
	{ "w", 7 * DAY }, { "week", 7 * DAY }, { "weeks", 7 * DAY },
	{ "mon", 30 * DAY }, { "month", 30 * DAY }, { "months", 30 * DAY },
	{ "y", 365 * DAY }, { "year", 365 * DAY }, { "years", 365 * DAY },
};

static int
query_digits(const char *s, const char **end, int64_t *v)
{
	const char	*p = s;

	*v = 0;
	while (*p >= '0' && *p <= '9' && p - s < 12)
		*v = *v * 10 + (*p++ - '0');
	*end = p;
	return p > s && !(*p >= '0' && *p <= '9') ? 0 : -1;
}

int
query_parse_time(const char *s, int64_t now, int64_t *out)
{
	const char	*p;
	int64_t		 n;
	size_t		 i;
	int		 sign;

	if (query_digits(s, &p, &n) == 0 && *p == '\0') {
		*out = n;
		return 0;
	}
	p = strncmp(s, "now", 3) == 0 ? s + 3 : s;
	if (*p == '\0' && p != s) {
		*out = now;
		return 0;
	}
	if (*p != '-' && *p != '+')
		return -1;
	sign = *p++ == '-' ? -1 : 1;
	if (query_digits(p, &p, &n) == -1)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].name) != 0)
			continue;
		if (__builtin_mul_overflow(n, units[i].secs, &n) ||
		    __builtin_add_overflow(now, sign * n, out))
			return -1;
		return 0;
	}
	return -1;
}

/* A list of names, as a render's series. */
struct names {
	char	**v;
	size_t	  n;
	size_t	  cap;
	size_t	  max;
	int	  full;		/* more matched than max */
};

static void
names_free(struct names *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int
names_add(struct names *l, const char *s, size_t len)
{
	char	**v;
	size_t	  cap;

	if (l->n == l->max) {
		l->full = 1;
		return -1;
	}
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 16 : l->cap * 2;
		if ((v = reallocarray(l->v, cap, sizeof(*v))) == NULL) {
			log_warn("query: names");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n] = strndup(s, len)) == NULL) {
		log_warn("query: names");
		return -1;
	}
	l->n++;
	return 0;
}

static int
query_next_name(void *arg, const char *key, int inclusive, struct buf *out)
{
	return store_next_name(arg, key, inclusive, out);
}

static int
query_add_leaf(void *arg, const char *node, size_t len, int leaf)
{
	return leaf ? names_add(arg, node, len) : 0;
}

struct render {
	struct store	*store;
	struct names	 series;
	size_t		 i;
	int64_t		 from;
	int64_t		 until;
	int64_t		 next;		/* first ts of the next page */
	size_t		 npoints;	/* in the current series */
	int		 started;
	int		 in_series;
	struct buf	*out;
};

static int
render_point(void *arg, int64_t ts, double v)
{
	struct render	*r = arg;
	char		 tmp[32];
	int		 n;

	if ((r->npoints++ > 0 && buf_add(r->out, ",", 1) == -1) ||
	    buf_add(r->out, "[", 1) == -1 || json_add_double(r->out, v) == -1)
		return -1;
	n = snprintf(tmp, sizeof(tmp), ",%lld]", (long long)ts);
	r->next = ts + 1;
	return buf_add(r->out, tmp, (size_t)n);
}

/* One page of the current series, opening and closing it as needed. */
static int
render_page(struct render *r)
{
	const char	*name = r->series.v[r->i];
	int		 n;

	if (!r->in_series) {
		if ((r->i > 0 && buf_add(r->out, ",", 1) == -1) ||
		    buf_addstr(r->out, "{\"target\":") == -1 ||
		    json_add_string(r->out, name, strlen(name)) == -1 ||
		    buf_addstr(r->out, ",\"datapoints\":[") == -1)
			return -1;
		r->in_series = 1;
		r->next = r->from;
		r->npoints = 0;
	}
	if ((n = store_points(r->store, name, r->next, r->until, QUERY_PAGE,
	    render_point, r)) == -1)
		return -1;
	if (n < QUERY_PAGE) {
		r->in_series = 0;
		r->i++;
		return buf_add(r->out, "]}", 2);
	}
	return 0;
}

static int
render_fill(void *arg, struct buf *out, int *done)
{
	struct render	*r = arg;

	r->out = out;
	if (!r->started) {
		r->started = 1;
		if (buf_add(out, "[", 1) == -1)
			return -1;
	}
	while (out->len < SINK_CHUNK) {
		if (r->i == r->series.n) {
			*done = 1;
			return buf_add(out, "]\n", 2);
		}
		if (render_page(r) == -1)
			return -1;
	}
	return 0;
}

static void
render_done(void *arg)
{
	struct render	*r = arg;

	names_free(&r->series);
	free(r);
}

/* from, until and format of a render; 0, or -1 with the reply sent in *rv. */
static int
render_args(struct request *req, struct render *r, int *rv)
{
	const char	*from, *until, *format;
	int64_t		 now = clock_wall();

	from = http_arg(req, "from");
	until = http_arg(req, "until");
	format = http_arg(req, "format");
	r->from = now - DAY;
	r->until = now;
	if (format != NULL && strcmp(format, "json") != 0)
		*rv = http_reply_text(req, 400,
		    "render: format %s is not supported (json is)", format);
	else if ((from != NULL && query_parse_time(from, now, &r->from) == -1)
	    || (until != NULL &&
	    query_parse_time(until, now, &r->until) == -1))
		*rv = http_reply_text(req, 400,
		    "render: from/until: epoch seconds, now, -1h, -10min, -1d...");
	else
		return 0;
	return -1;
}

/* Expand every target into r->series; 0, or -1 with the reply sent. */
static int
render_series(struct request *req, struct render *r, int *rv)
{
	const char	*targets[SINK_TARGETS_MAX];
	int		 i, n;

	if ((n = http_args(req, "target", targets, SINK_TARGETS_MAX)) == 0) {
		*rv = http_reply_text(req, 400, "render: target= is required");
		return -1;
	}
	r->series.max = SINK_SERIES_MAX;
	for (i = 0; i < n; i++) {
		if (glob_walk(targets[i], query_next_name, r->store,
		    query_add_leaf, &r->series) == 0)
			continue;
		if (r->series.full)
			*rv = http_reply_text(req, 400, "render: more than %d "
			    "series match; narrow the target", SINK_SERIES_MAX);
		else
			*rv = http_reply_text(req, 500, "render failed");
		return -1;
	}
	return 0;
}

int
query_render(struct request *req)
{
	struct render	*r;
	struct stream	 s;
	struct buf	 first;
	int		 rv, done = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("render");
		return http_reply_text(req, 500, "out of memory");
	}
	r->store = http_store(req);
	/* Show every point acknowledged so far. */
	if (store_merge(r->store) == -1) {
		render_done(r);
		return http_reply_text(req, 503, "store unavailable");
	}
	if (render_args(req, r, &rv) == -1 || render_series(req, r, &rv) == -1) {
		render_done(r);
		return rv;
	}
	buf_init(&first, 0);
	if (render_fill(r, &first, &done) == -1) {
		buf_free(&first);
		render_done(r);
		return http_reply_text(req, 500, "render failed");
	}
	s.fill = render_fill;
	s.done = render_done;
	s.state = r;
	return http_reply_stream(req, "application/json", &s, &first, done);
}

struct node {
	char	*id;
	int	 leaf;
	int	 branch;
};

struct nodes {
	struct node	*v;
	size_t		 n;
	size_t		 cap;
	int		 full;
};

static int
find_node(void *arg, const char *id, size_t len, int leaf)
{
	struct nodes	*l = arg;
	struct node	*v;
	size_t		 cap;

	if (l->n == SINK_FIND_MAX) {
		l->full = 1;
		return -1;
	}
	if (l->n == l->cap) {
		cap = l->cap == 0 ? 64 : l->cap * 2;
		if ((v = reallocarray(l->v, cap, sizeof(*v))) == NULL) {
			log_warn("find");
			return -1;
		}
		l->v = v;
		l->cap = cap;
	}
	if ((l->v[l->n].id = strndup(id, len)) == NULL) {
		log_warn("find");
		return -1;
	}
	l->v[l->n].leaf = leaf;
	l->v[l->n].branch = !leaf;
	l->n++;
	return 0;
}

static int
find_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->id,
	    ((const struct node *)b)->id);
}

/* Sort, and fold a node seen as a leaf and as a branch into one. */
static void
find_merge(struct nodes *l)
{
	size_t	i, o = 0;

	if (l->n == 0)
		return;
	qsort(l->v, l->n, sizeof(*l->v), find_cmp);
	for (i = 0; i < l->n; i++) {
		if (o > 0 && strcmp(l->v[o - 1].id, l->v[i].id) == 0) {
			l->v[o - 1].leaf |= l->v[i].leaf;
			l->v[o - 1].branch |= l->v[i].branch;
			free(l->v[i].id);
			continue;
		}
		l->v[o++] = l->v[i];
	}
	l->n = o;
}

static int
find_json(const struct nodes *l, struct buf *b)
{
	const struct node	*nd;
	const char		*text;
	size_t			 i;

	if (buf_add(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < l->n; i++) {
		nd = &l->v[i];
		text = strrchr(nd->id, '.');
		text = text != NULL ? text + 1 : nd->id;
		if ((i > 0 && buf_add(b, ",", 1) == -1) ||
		    buf_addstr(b, "{\"text\":") == -1 ||
		    json_add_string(b, text, strlen(text)) == -1 ||
		    buf_addstr(b, ",\"id\":") == -1 ||
		    json_add_string(b, nd->id, strlen(nd->id)) == -1 ||
		    buf_printf(b, ",\"leaf\":%d,\"expandable\":%d,"
		    "\"allowChildren\":%d,\"context\":{}}", nd->leaf,
		    nd->branch, nd->branch) == -1)
			return -1;
	}
	return buf_add(b, "]\n", 2);
}

static void
find_free(struct nodes *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].id);
	free(l->v);
}

int
query_find(struct request *req)
{
	struct nodes	 l = { NULL, 0, 0, 0 };
	struct buf	 b;
	const char	*q;
	int		 r;

	if ((q = http_arg(req, "query")) == NULL)
		return http_reply_text(req, 400, "find: query= is required");
	if (store_merge(http_store(req)) == -1)
		return http_reply_text(req, 503, "store unavailable");
	if (glob_walk(q, query_next_name, http_store(req), find_node, &l) == -1) {
		find_free(&l);
		if (l.full)
			return http_reply_text(req, 400, "find: more than %d "
			    "nodes match; narrow the query", SINK_FIND_MAX);
		return http_reply_text(req, 500, "find failed");
	}
	find_merge(&l);
	buf_init(&b, SINK_REPLY_MAX);
	r = find_json(&l, &b);
	find_free(&l);
	if (r == -1) {
		buf_free(&b);
		return http_reply_text(req, 413, "find: the reply is too large");
	}
	return http_reply_buf(req, 200, "application/json", &b);
}

struct logread {
	struct store	*store;
	char		*host;
	char		*file;
	int64_t		 next;
	struct buf	*out;
};

static int
log_line(void *arg, int64_t line, const char *content, size_t len)
{
	struct logread	*lr = arg;

	lr->next = line + 1;
	if (buf_add(lr->out, content, len) == -1 ||
	    buf_add(lr->out, "\n", 1) == -1)
		return -1;
	return 0;
}

static int
log_fill(void *arg, struct buf *out, int *done)
{
	struct logread	*lr = arg;
	int		 n;

	lr->out = out;
	while (out->len < SINK_CHUNK) {
		if ((n = store_log_lines(lr->store, lr->host, lr->file,
		    lr->next, QUERY_PAGE, log_line, lr)) == -1)
			return -1;
		if (n < QUERY_PAGE) {
			*done = 1;
			break;
		}
	}
	return 0;
}

static void
log_done(void *arg)
{
	struct logread	*lr = arg;

	free(lr->host);
	free(lr->file);
	free(lr);
}

int
query_log(struct request *req)
{
	struct logread	*lr;
	struct stream	 s;
	struct buf	 first;
	const char	*host, *file;
	int		 done = 0;

	host = http_arg(req, "host");
	file = http_arg(req, "file");
	if (host == NULL || file == NULL)
		return http_reply_text(req, 400, "log: host= and file= are "
		    "required");
	if ((lr = calloc(1, sizeof(*lr))) == NULL ||
	    (lr->host = strdup(host)) == NULL ||
	    (lr->file = strdup(file)) == NULL) {
		log_warn("log");
		if (lr != NULL)
			log_done(lr);
		return http_reply_text(req, 500, "out of memory");
	}
	lr->store = http_store(req);
	lr->next = INT64_MIN;
	buf_init(&first, 0);
	if (log_fill(lr, &first, &done) == -1 || (first.len == 0 && done)) {
		buf_free(&first);
		log_done(lr);
		if (done)
			return http_reply_text(req, 404, "log: no line of %s "
			    "from %s", file, host);
		return http_reply_text(req, 500, "log failed");
	}
	s.fill = log_fill;
	s.done = log_done;
	s.state = lr;
	return http_reply_stream(req, "text/plain; charset=utf-8", &s, &first,
	    done);
}

struct beats {
	struct buf	b;
	int		n;
};

static int
beat_one(void *arg, const char *host, int64_t received, const char *json,
    size_t len)
{
	struct beats	*bs = arg;

	if ((bs->n++ > 0 && buf_add(&bs->b, ",", 1) == -1) ||
	    buf_addstr(&bs->b, "{\"host\":") == -1 ||
	    json_add_string(&bs->b, host, strlen(host)) == -1 ||
	    buf_printf(&bs->b, ",\"received\":%lld,\"beat\":",
	    (long long)received) == -1 ||
	    buf_add(&bs->b, json, len) == -1 ||
	    buf_add(&bs->b, "}", 1) == -1)
		return -1;
	return 0;
}

int
query_beats(struct request *req)
{
	struct beats	 bs;
	const char	*host = http_arg(req, "host");

	bs.n = 0;
	buf_init(&bs.b, SINK_REPLY_MAX);
	if (buf_add(&bs.b, "[", 1) == -1 ||
	    store_beats(http_store(req), host, beat_one, &bs) == -1 ||
	    buf_add(&bs.b, "]\n", 2) == -1) {
		buf_free(&bs.b);
		return http_reply_text(req, 500, "beat: the reply failed");
	}
	if (host != NULL && bs.n == 0) {
		buf_free(&bs.b);
		return http_reply_text(req, 404, "beat: none from %s", host);
	}
	return http_reply_buf(req, 200, "application/json", &bs.b);
}

struct files {
	struct buf	b;
	int		n;
};

static int
files_one(void *arg, const char *host, const char *file, int64_t last)
{
	struct files	*fl = arg;

	if (fl->n == SINK_FIND_MAX)
		return -1;
	if ((fl->n++ > 0 && buf_add(&fl->b, ",", 1) == -1) ||
	    buf_addstr(&fl->b, "{\"host\":") == -1 ||
	    json_add_string(&fl->b, host, strlen(host)) == -1 ||
	    buf_addstr(&fl->b, ",\"file\":") == -1 ||
	    json_add_string(&fl->b, file, strlen(file)) == -1 ||
	    buf_printf(&fl->b, ",\"last\":%lld}", (long long)last) == -1)
		return -1;
	return 0;
}

int
query_files(struct request *req)
{
	struct files	fl;

	fl.n = 0;
	buf_init(&fl.b, SINK_REPLY_MAX);
	if (buf_add(&fl.b, "[", 1) == -1 ||
	    store_log_files(http_store(req), files_one, &fl) == -1 ||
	    buf_add(&fl.b, "]\n", 2) == -1) {
		buf_free(&fl.b);
		if (fl.n == SINK_FIND_MAX)
			return http_reply_text(req, 413, "files: more than %d "
			    "host and file pairs", SINK_FIND_MAX);
		return http_reply_text(req, 500, "files: the reply failed");
	}
	return http_reply_buf(req, 200, "application/json", &fl.b);
}

struct lines {
	struct buf	b;
	int64_t		last;
	int		n;
	int		full;		/* stopped at the byte budget */
};

static int
lines_one(void *arg, int64_t line, const char *content, size_t len)
{
	struct lines	*ls = arg;

	/* Past the byte budget the reply ends early and says there is more. */
	if (ls->n > 0 && ls->b.len >= SINK_LINES_BYTES) {
		ls->full = 1;
		return -1;
	}
	/* Bytes that are not UTF-8 pass as they are: a browser decodes them
	 * as U+FFFD, which is what the page should show for them anyway. */
	if (buf_printf(&ls->b, "%s[%lld,", ls->n > 0 ? "," : "",
	    (long long)line) == -1 ||
	    json_add_string(&ls->b, content, len) == -1 ||
	    buf_add(&ls->b, "]", 1) == -1)
		return -1;
	ls->last = line;
	ls->n++;
	return 0;
}

/* A positive count argument, at most max; def when absent, -1 when bad. */
static int64_t
query_count(const char *s, int64_t def, int64_t max)
{
	const char	*end;
	int64_t		 v;

	if (s == NULL)
		return def;
	if (query_digits(s, &end, &v) == -1 || *end != '\0' || v < 1)
		return -1;
	return v > max ? max : v;
}

/*
 * GET /store/lines?host=H&file=F[&after=N | &tail=N][&limit=N]: the lines
 * of host/file numbered after N (default: from the first), or the last N,
 * as {"lines":[[number,"text"],...],"last":L,"more":bool}: at most limit
 * (default and cap SINK_LINES_MAX) and about SINK_LINES_BYTES, "more" when
 * the reply stopped short. A follower asks again with after=L. Built whole
 * (not streamed like /store/log) because it is bounded.
 */
int
query_lines(struct request *req)
{
	struct store	*s = http_store(req);
	struct lines	 ls;
	const char	*host, *file, *after;
	char		*end;
	int64_t		 first = INT64_MIN, tail, limit;
	int		 n;

	host = http_arg(req, "host");
	file = http_arg(req, "file");
	after = http_arg(req, "after");
	tail = query_count(http_arg(req, "tail"), 0, SINK_LINES_MAX);
	limit = query_count(http_arg(req, "limit"), SINK_LINES_MAX,
	    SINK_LINES_MAX);
	if (host == NULL || file == NULL)
		return http_reply_text(req, 400, "lines: host= and file= are "
		    "required");
	if (tail == -1 || limit == -1)
		return http_reply_text(req, 400, "lines: tail= and limit= "
		    "are counts from 1");
	if (after != NULL) {
		errno = 0;
		first = strtoll(after, &end, 10);
		if (errno != 0 || end == after || *end != '\0' ||
		    first == INT64_MAX)
			return http_reply_text(req, 400, "lines: after= is "
			    "a line number");
		first++;
	} else if (tail > 0 && store_log_tail(s, host, file, tail,
	    &first) == -1)
		return http_reply_text(req, 503, "store unavailable");
	memset(&ls, 0, sizeof(ls));
	ls.last = first == INT64_MIN ? 0 : first - 1;
	buf_init(&ls.b, SINK_REPLY_MAX);
	n = -1;
	if (buf_addstr(&ls.b, "{\"lines\":[") == -1 ||
	    ((n = store_log_lines(s, host, file, first, (int)limit, lines_one,
	    &ls)) == -1 && !ls.full) ||
	    buf_printf(&ls.b, "],\"last\":%lld,\"more\":%s}\n",
	    (long long)ls.last, ls.full || n == limit ? "true" : "false")
	    == -1) {
		buf_free(&ls.b);
		return http_reply_text(req, 500, "lines: the reply failed");
	}
	return http_reply_buf(req, 200, "application/json", &ls.b);
}

/*
 * GET /changes: {"gen":G,"now":T}. G goes up with every write the sink
 * stored (points, log lines, beats), so the page polls this and reads the
 * rest only when it moved; T is the sink's clock, for relative windows.
 */
int
query_changes(struct request *req)
{
	char	msg[96];
	int	n;

	n = snprintf(msg, sizeof(msg), "{\"gen\":%llu,\"now\":%lld}\n",
	    (unsigned long long)store_gen(http_store(req)),
	    (long long)clock_wall());
	return http_reply(req, 200, "application/json", msg, (size_t)n);
}
