/*
 * test_derive: ferry-tail's event and logmetric rules (tail/derive.c), fed
 * records as pipeline.c feeds them: which sources a rule takes, the event
 * records written after a line, counters split by a field and capped at
 * max_split, zero counters for the values seen, summaries and gauges,
 * values that are not numbers skipped, metric name parts made safe, and
 * the metrics of an interval rendered again when the spool refused them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "conf.h"
#include "record.h"
#include "../../tail/derive.h"
#include "../../tail/discover.h"
#include "../../tail/logformat.h"

static char	*filter_app[] = { "systail.app" };
static char	*groups_t[] = { "t" };

static struct event_conf	ev;
static struct logmetric_conf	lm;
static struct ferry_conf	conf;

/* One event rule and one logmetric rule on log "app", interval 10 s. */
static void
setup_conf(int max_split)
{
	memset(&ev, 0, sizeof(ev));
	ev.name = "err";
	ev.filter = filter_app;
	ev.nfilter = 1;
	ev.match = "^ERR (?<code>\\d+)(?: (?<why>\\w+))?";
	ev.format = "";
	ev.key = "";
	memset(&lm, 0, sizeof(lm));
	lm.name = "req";
	lm.filter = filter_app;
	lm.nfilter = 1;
	lm.match = "^(?<method>\\S+) s=(?<s>\\S*) t=(?<t>\\S+)";
	lm.format = "";
	lm.interval = 10;
	lm.counter = "requests";
	lm.split = "s";
	lm.max_split = max_split;
	lm.gauge = groups_t;
	lm.ngauge = 1;
	lm.summary = groups_t;
	lm.nsummary = 1;
	memset(&conf, 0, sizeof(conf));
	conf.prefix = "servers";
	conf.hostname = "web1";
	conf.events = &ev;
	conf.nevents = 1;
	conf.logmetrics = &lm;
	conf.nlogmetrics = 1;
}

static int
setup(void **state)
{
	char	err[256];

	(void)state;
	setup_conf(3);
	/* Wall clock 1000.000 s: the first interval ends at 1010. */
	if (derive_init(&conf, 50000, 1000000, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	derive_free();
	return 0;
}

/* The line of log "app" that text is, at line 7, bytes 100 to 107. */
static void
line_of(struct log_fields *f, const char *text)
{
	memset(f, 0, sizeof(*f));
	f->key = "systail.app.web1";
	f->name = "app";
	f->host = "web1";
	f->file = "/var/log/app.log";
	f->lineno = 7;
	f->offset = 100;
	f->end = 107;
	f->nlines = 1;
	f->dev = 1;
	f->ino = 2;
	f->text = text;
	f->textlen = strlen(text);
}

/* A record of text through the set, kept or not, as pipeline.c does. */
static void
feed(struct derive_set *s, const char *text, int kept)
{
	struct log_fields	 f;
	struct buf		 b;

	line_of(&f, text);
	buf_init(&b, 0);
	derive_begin(s, text, strlen(text));
	if (kept)
		assert_int_equal(derive_events(s, &f, &b), 0);
	derive_handled(s, kept);
	buf_free(&b);
}

/* The rendered metrics due at now, as "name value" lines (stamp checked). */
static char *
render(uint64_t now, int64_t ts, int ok)
{
	struct buf	 b;
	char		*out, *p, *q, want[32];
	size_t		 len;

	buf_init(&b, 0);
	(void)derive_render(now, ts, 0, &b);
	derive_emitted(ok);
	if (b.len == 0)
		return strdup("");
	out = buf_take(&b, &len);
	/* Every line ends " <ts>\n": strip it, checked. */
	snprintf(want, sizeof(want), " %lld\n", (long long)ts);
	for (p = q = out; *p != '\0';) {
		char	*nl = strchr(p, '\n'), *sp = nl;

		while (sp > p && sp[-1] != ' ')
			sp--;
		assert_memory_equal(sp - 1, want, strlen(want));
		memmove(q, p, (size_t)(sp - 1 - p));
		q += sp - 1 - p;
		*q++ = '\n';
		p = nl + 1;
	}
	*q = '\0';
	return out;
}

static void
test_sets_resolved_by_key(void **state)
{
	struct derive_set	*s;

	(void)state;
	assert_null(derive_set_for("systail.other.web1"));
	assert_null(derive_set_for("systail.ap"));
	assert_non_null(s = derive_set_for("systail.app.web1"));
	assert_true(derive_counts(s));
	derive_set_free(s);
	/* A prefix: systail.app2 is taken too, as an output's filter does. */
	assert_non_null(s = derive_set_for("systail.app2.web1"));
	derive_set_free(s);
}

static void
test_events(void **state)
{
	struct derive_set	*s = derive_set_for("systail.app.web1");
	struct log_fields	 f;
	struct record		 r;
	struct span		 sp;
	struct buf		 b;
	const char		*text = "ERR 42";
	char			*nl;

	(void)state;
	line_of(&f, text);
	buf_init(&b, 0);
	derive_begin(s, text, strlen(text));
	assert_int_equal(derive_events(s, &f, &b), 0);
	assert_non_null(nl = strchr(b.p, '\n'));
	assert_int_equal(record_parse(b.p, (size_t)(nl - b.p), &r), 0);
	assert_int_equal(r.kind, RECORD_LOG);
	assert_memory_equal(r.key.p, "event.err ", 10);
	assert_int_equal(r.lineno, 7);
	assert_int_equal(r.end, 107);
	assert_int_equal(record_field(&r, "code", 4, &sp), 1);
	assert_memory_equal(sp.p, "42", 2);
	/* A group that took no part is left out. */
	assert_int_equal(record_field(&r, "why", 3, &sp), 0);
	assert_int_equal((size_t)(nl + 1 - b.p), b.len);
	derive_handled(s, 1);
	/* A line that does not match: no event. */
	buf_reset(&b);
	derive_begin(s, "OK", 2);
	assert_int_equal(derive_events(s, &f, &b), 0);
	assert_int_equal(b.len, 0);
	derive_handled(s, 1);
	buf_free(&b);
	derive_set_free(s);
}

static uint64_t	counted;

static void
sum_counter(const char *name, const uint64_t *v, void *arg)
{
	if (strcmp(name, arg) == 0)
		counted = *v;
}

static uint64_t
counter(const char *name)
{
	counted = UINT64_MAX;
	derive_counters(sum_counter, (void *)(uintptr_t)name);
	return counted;
}

struct point {
	const char	*name;
	double		 value;
};

/*
 * out (render()'s lines) holds exactly the points of want (name, value;
 * a value within 1%: a quantile), in any order.
 */
static void
assert_points(char *out, const struct point *want, size_t nwant)
{
	char	*p, *save = NULL, *sp;
	size_t	 n = 0, i;
	double	 v;

	for (p = strtok_r(out, "\n", &save); p != NULL;
	    p = strtok_r(NULL, "\n", &save), n++) {
		assert_non_null(sp = strchr(p, ' '));
		*sp = '\0';
		v = strtod(sp + 1, NULL);
		for (i = 0; i < nwant; i++)
			if (strcmp(want[i].name, p) == 0)
				break;
		if (i == nwant)
			fail_msg("%s %g: not expected", p, v);
		if (v < want[i].value - 0.01 * want[i].value - 1e-12 ||
		    v > want[i].value + 0.01 * want[i].value + 1e-12)
			fail_msg("%s = %.9g, want %.9g", p, v, want[i].value);
	}
	assert_int_equal(n, nwant);
}

#define NPOINTS(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_split_capped_and_zeros(void **state)
{
	static const struct point first[] = {
		{ "servers.web1.req.requests", 6 },
		{ "servers.web1.req.requests.200", 2 },
		{ "servers.web1.req.requests.404", 1 },
		{ "servers.web1.req.requests.a_b", 1 },
		{ "servers.web1.req.requests._other", 2 },
		{ "servers.web1.req.t", 1 },
		{ "servers.web1.req.t.count", 5 },
		{ "servers.web1.req.t.sum", 6 },
		{ "servers.web1.req.t.min", 0.5 },
		{ "servers.web1.req.t.max", 2 },
		{ "servers.web1.req.t.p50", 1 },
		{ "servers.web1.req.t.p90", 2 },
		{ "servers.web1.req.t.p99", 2 },
	};
	/* An interval with nothing: zeros for every value seen, no gauge. */
	static const struct point quiet[] = {
		{ "servers.web1.req.requests", 0 },
		{ "servers.web1.req.requests.200", 0 },
		{ "servers.web1.req.requests.404", 0 },
		{ "servers.web1.req.requests.a_b", 0 },
		{ "servers.web1.req.requests._other", 0 },
		{ "servers.web1.req.t.count", 0 },
		{ "servers.web1.req.t.sum", 0 },
	};
	struct derive_set	*s = derive_set_for("systail.app.web1");
	char			*out;

	(void)state;
	assert_int_equal(derive_next_due(), 60000);
	out = render(59999, 1009, 1);
	assert_string_equal(out, "");		/* not due yet */
	free(out);
	feed(s, "GET s=200 t=0.5", 1);
	feed(s, "GET s=200 t=1.5", 0);		/* sampled out: counted */
	feed(s, "GET s=404 t=x", 1);		/* not a number: skipped */
	feed(s, "GET s=a.b t=2", 1);		/* '.' is not in a name part */
	feed(s, "GET s= t=1", 1);		/* past max_split (3) */
	feed(s, "GET s=500 t=1", 1);		/* past max_split */
	feed(s, "ERR 1", 1);			/* not this rule's */
	out = render(60000, 1010, 1);
	assert_points(out, first, NPOINTS(first));
	free(out);
	assert_int_equal(counter("logmetric.req.lines"), 6);
	assert_int_equal(counter("logmetric.req.capped"), 2);
	assert_int_equal(counter("logmetric.req.skipped"), 2);
	assert_int_equal(counter("logmetric.req.split_values"), 3);
	assert_int_equal(counter("event.err.records"), 1);
	/* The next interval, 10 s on, stamped past the first. */
	assert_int_equal(derive_next_due(), 70000);
	out = render(70000, 1020, 1);
	assert_points(out, quiet, NPOINTS(quiet));
	free(out);
	derive_set_free(s);
}

static void
test_refused_metrics_rendered_again(void **state)
{
	static const struct point both[] = {
		{ "servers.web1.req.requests", 2 },
		{ "servers.web1.req.requests.200", 2 },
		{ "servers.web1.req.t", 3 },
		{ "servers.web1.req.t.count", 2 },
		{ "servers.web1.req.t.sum", 4 },
		{ "servers.web1.req.t.min", 1 },
		{ "servers.web1.req.t.max", 3 },
		{ "servers.web1.req.t.p50", 1 },
		{ "servers.web1.req.t.p90", 3 },
		{ "servers.web1.req.t.p99", 3 },
	};
	struct derive_set	*s = derive_set_for("systail.app.web1");
	char			*out;

	(void)state;
	feed(s, "GET s=200 t=1", 1);
	out = render(60000, 1010, 0);		/* the spool refused them */
	free(out);
	/* A second later they are due again, with what came meanwhile. */
	assert_int_equal(derive_next_due(), 61000);
	feed(s, "GET s=200 t=3", 1);
	out = render(61000, 1011, 1);
	assert_points(out, both, NPOINTS(both));
	free(out);
	derive_set_free(s);
}

static void
test_stamps_never_repeat(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(derive_render(60000, 1010, 0, &b), 1);
	derive_emitted(1);
	buf_reset(&b);
	/* At stop, every rule, in the same second: the next one. */
	assert_int_equal(derive_render(60001, 1010, 1, &b), 1);
	derive_emitted(1);
	assert_non_null(strstr(b.p, "servers.web1.req.requests 0 1011\n"));
	buf_free(&b);
}

static void
test_name_part(void **state)
{
	char	out[8];

	(void)state;
	assert_int_equal(derive_name_part("2xx", 3, out, sizeof(out)), 3);
	assert_string_equal(out, "2xx");
	derive_name_part("a.b c\n\x01\xff", 8, out, sizeof(out));
	assert_string_equal(out, "a_b_c__");		/* cut at 7 */
	derive_name_part("", 0, out, sizeof(out));
	assert_string_equal(out, "none");
	derive_name_part(NULL, 0, out, sizeof(out));
	assert_string_equal(out, "none");
	derive_name_part("A-b_9", 5, out, sizeof(out));
	assert_string_equal(out, "A-b_9");
}

/*
 * A split value no record had for 60 intervals in a row is let go (its
 * zeros rendered until then), and its place taken by a new value rather
 * than _other; a value that reads "_other" is not the overflow's.
 */
static void
test_split_values_expire(void **state)
{
	struct derive_set	*s = derive_set_for("systail.app.web1");
	char			*out;
	int			 k;

	(void)state;
	feed(s, "GET s=200 t=1", 1);
	feed(s, "GET s=404 t=1", 1);
	feed(s, "GET s=_other t=1", 1);		/* the third of max_split */
	out = render(60000, 1010, 1);
	assert_non_null(strstr(out, "servers.web1.req.requests.-other 1\n"));
	assert_null(strstr(out, "._other"));
	free(out);
	for (k = 1; k <= 60; k++) {
		feed(s, "GET s=200 t=1", 1);
		out = render(60000 + 10000 * (uint64_t)k, 1010 + 10 * k, 1);
		/* Unseen since interval 0: rendered as 0 up to the 60th. */
		assert_non_null(strstr(out, "servers.web1.req.requests.404 0\n"));
		free(out);
	}
	feed(s, "GET s=418 t=1", 1);
	out = render(670000, 1620, 1);
	assert_null(strstr(out, ".404 "));
	assert_null(strstr(out, ".-other "));
	assert_non_null(strstr(out, "servers.web1.req.requests.200 0\n"));
	assert_non_null(strstr(out, "servers.web1.req.requests.418 1\n"));
	assert_null(strstr(out, "._other"));
	assert_int_equal(counter("logmetric.req.split_values"), 2);
	assert_int_equal(counter("logmetric.req.capped"), 0);
	free(out);
	derive_set_free(s);
}

/* A flood of distinct values: max_split kept, the rest counted apart. */
static void
test_flood_stays_capped(void **state)
{
	struct derive_set	*s;
	struct buf		 b;
	char			 line[64], err[256];
	size_t			 i, n;
	const char		*p;

	(void)state;
	derive_free();
	setup_conf(100);
	assert_int_equal(derive_init(&conf, 0, 0, err, sizeof(err)), 0);
	s = derive_set_for("systail.app.web1");
	for (i = 0; i < 10000; i++) {
		snprintf(line, sizeof(line), "GET s=v%zu t=1", i);
		feed(s, line, 1);
	}
	buf_init(&b, 0);
	assert_int_equal(derive_render(10000, 10, 0, &b), 1);
	derive_emitted(1);
	for (n = 0, p = b.p; (p = strstr(p, "req.requests.")) != NULL; p++)
		n++;
	assert_int_equal(n, 101);		/* 100 values and _other */
	assert_non_null(strstr(b.p, "servers.web1.req.requests 10000 10\n"));
	assert_non_null(strstr(b.p, "servers.web1.req.requests._other 9900 10\n"));
	assert_int_equal(counter("logmetric.req.capped"), 9900);
	buf_free(&b);
	derive_set_free(s);
}

/*
 * A discovered file's format, as discover_parse() would cut its records:
 * tf stands for the file, here the format itself.
 */
static int
parse_by_format(struct tfile *tf, const char *s, size_t len,
    struct fields *out)
{
	return logformat_parse((const struct logformat *)(void *)tf, s, len,
	    out);
}

/*
 * A discovered service's standard metrics: one rule, made at run time,
 * whose records are cut by their own file's format; a field a format
 * lacks is no summary of it, a line of another shape is not counted.
 */
static void
test_discovered(void **state)
{
	static const char *const summary[] = { "request_time",
	    "body_bytes_sent", NULL };
	static const struct discover_metrics dm = { "requests",
	    "status_class", summary };
	static const struct point want[] = {
		{ "servers.web1.nginx.requests", 4 },
		{ "servers.web1.nginx.requests.2xx", 2 },
		{ "servers.web1.nginx.requests.4xx", 1 },
		{ "servers.web1.nginx.requests.5xx", 1 },
		{ "servers.web1.nginx.request_time.count", 2 },
		{ "servers.web1.nginx.request_time.sum", 0.75 },
		{ "servers.web1.nginx.request_time.min", 0.25 },
		{ "servers.web1.nginx.request_time.max", 0.5 },
		{ "servers.web1.nginx.request_time.p50", 0.25 },
		{ "servers.web1.nginx.request_time.p90", 0.5 },
		{ "servers.web1.nginx.request_time.p99", 0.5 },
		{ "servers.web1.nginx.body_bytes_sent.count", 4 },
		{ "servers.web1.nginx.body_bytes_sent.sum", 1110 },
		{ "servers.web1.nginx.body_bytes_sent.min", 0 },
		{ "servers.web1.nginx.body_bytes_sent.max", 1000 },
		{ "servers.web1.nginx.body_bytes_sent.p50", 10 },
		{ "servers.web1.nginx.body_bytes_sent.p90", 1000 },
		{ "servers.web1.nginx.body_bytes_sent.p99", 1000 },
		/* The configured rule, which took none of these. */
		{ "servers.web1.req.requests", 0 },
		{ "servers.web1.req.t.count", 0 },
		{ "servers.web1.req.t.sum", 0 },
	};
	struct logformat	*timed, *comb;
	struct derive_set	*s = NULL;
	char			 err[256], *out;
	const char		*lines[] = {
		"200 10 0.25", "503 1000 0.5", "garbage",
	};
	size_t			 i;

	(void)state;
	derive_free();
	setup_conf(3);
	conf.discover.nginx = 1;
	conf.discover.interval = 10;
	assert_int_equal(derive_init(&conf, 50000, 1000000, err, sizeof(err)),
	    0);
	assert_non_null(timed = logformat_nginx("$status $body_bytes_sent "
	    "$request_time", err, sizeof(err)));
	assert_non_null(comb = logformat_builtin("nginx_combined"));
	assert_int_equal(derive_discovered(&s, "nginx", &dm), 0);
	assert_non_null(s);
	assert_int_equal(derive_discovered(&s, "nginx", &dm), 0);	/* once */
	assert_true(derive_counts(s));
	/* No room for a second service. */
	assert_int_equal(derive_discovered(&s, "apache", &dm), -1);
	for (i = 0; i < 3; i++) {
		derive_begin(s, lines[i], strlen(lines[i]));
		derive_file(s, parse_by_format, (struct tfile *)(void *)timed);
		derive_handled(s, 1);
	}
	/* Another file, in combined: no request_time there. */
	for (i = 0; i < 2; i++) {
		const char	*l = i == 0 ? "::1 - - [03/Dec/2026:10:00:00 "
		    "+0000] \"GET / HTTP/1.1\" 200 100 \"-\" \"-\"" :
		    "::1 - - [03/Dec/2026:10:00:00 +0000] \"GET /x HTTP/1.1\" "
		    "404 0 \"-\" \"-\"";

		derive_begin(s, l, strlen(l));
		derive_file(s, parse_by_format, (struct tfile *)(void *)comb);
		derive_handled(s, i == 0);	/* sampled out: counted too */
	}
	out = render(60000, 1010, 1);
	assert_points(out, want, NPOINTS(want));
	free(out);
	assert_int_equal(counter("logmetric.nginx.lines"), 4);
	derive_set_free(s);
	logformat_free(timed);
	logformat_free(comb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sets_resolved_by_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events, setup, teardown),
		cmocka_unit_test_setup_teardown(test_split_capped_and_zeros,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_refused_metrics_rendered_again, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stamps_never_repeat, setup,
		    teardown),
		cmocka_unit_test(test_name_part),
		cmocka_unit_test_setup_teardown(test_discovered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_split_values_expire, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_flood_stays_capped, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
