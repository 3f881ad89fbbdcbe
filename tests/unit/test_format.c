/*
 * Unit tests for common/record.c and common/format.c: the two kinds of
 * spool line read back, and every format written from each of them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "format.h"
#include "record.h"

static const struct format_ctx ctx = { "web1", "ferry" };

/* A log record's spool line, as ferry-tail writes it. */
static char *
log_line(const char *text, size_t textlen)
{
	static char	*attrs[] = { "service=web", "dc=eu \"1\"" };
	struct log_fields f = {
		.key = "systail.nginx.web1", .name = "nginx", .host = "web1",
		.file = "/var/log/nginx/access.log", .lineno = 12,
		.offset = 3456, .end = 3470, .dev = 2049, .ino = 77,
		.nlines = 1, .time_ms = 1764751234125ULL, .attrs = attrs,
		.nattrs = 2, .text = text, .textlen = textlen
	};
	struct buf	b;
	size_t		len;

	buf_init(&b, 0);
	assert_int_equal(record_log_append(&b, &f), 0);
	assert_true(b.len > 0 && b.p[b.len - 1] == '\n');
	b.p[--b.len] = '\0';
	return buf_take(&b, &len);
}

static char *
render(const char *spec, const char *line)
{
	struct format	*f;
	struct record	 r;
	struct buf	 b;
	char		 err[256];
	size_t		 len;

	if ((f = format_new(spec, err, sizeof(err))) == NULL)
		fail_msg("%s: %s", spec, err);
	assert_int_equal(record_parse(line, strlen(line), &r), 0);
	buf_init(&b, 0);
	if (format_render(f, &ctx, &r, &b) == -1) {
		format_free(f);
		buf_free(&b);
		return NULL;
	}
	format_free(f);
	return buf_take(&b, &len);
}

static void
expect(const char *spec, const char *line, const char *want)
{
	char	*got = render(spec, line);

	if (got == NULL)
		fail_msg("%s: not rendered", spec);
	assert_string_equal(got, want);
	free(got);
}

static void
test_log_record_round_trip(void **state)
{
	char		*line = log_line("GET /a \"q\"\ttab", 14);
	struct record	 r;
	struct span	 s;
	struct buf	 b;

	(void)state;
	assert_string_equal(line, "systail.nginx.web1 {\"name\":\"nginx\","
	    "\"host\":\"web1\",\"file\":\"/var/log/nginx/access.log\","
	    "\"line\":12,\"offset\":3456,\"end\":3470,\"fid\":\"2049:77\","
	    "\"time\":1764751234.125,"
	    "\"attrs\":{\"service\":\"web\",\"dc\":\"eu \\\"1\\\"\"},"
	    "\"text\":\"GET /a \\\"q\\\"\\ttab\"}");
	assert_int_equal(record_parse(line, strlen(line), &r), 0);
	assert_int_equal(r.kind, RECORD_LOG);
	assert_int_equal(r.key.len, strlen("systail.nginx.web1"));
	assert_int_equal(r.lineno, 12);
	assert_int_equal(r.offset, 3456);
	assert_int_equal(r.end, 3470);
	assert_int_equal(r.nlines, 1);
	assert_int_equal(r.fid.len, 7);
	assert_int_equal(record_seconds(&r), 1764751234);
	buf_init(&b, 0);
	assert_int_equal(record_unescape(&b, r.text), 0);
	assert_string_equal(b.p, "GET /a \"q\"\ttab");
	assert_int_equal(record_attr(&r, "dc", 2, &s), 1);
	buf_reset(&b);
	assert_int_equal(record_unescape(&b, s), 0);
	assert_string_equal(b.p, "eu \"1\"");
	assert_int_equal(record_attr(&r, "nope", 4, &s), 0);
	buf_free(&b);
	free(line);
}

static void
test_metric_record(void **state)
{
	struct record	r;
	const char	*line = "servers.web1.cpu.total.user 12.5 1764751234";

	(void)state;
	assert_int_equal(record_parse(line, strlen(line), &r), 0);
	assert_int_equal(r.kind, RECORD_METRIC);
	assert_int_equal(r.key.len, strlen("servers.web1.cpu.total.user"));
	assert_int_equal(r.ts, 1764751234);
	assert_int_equal(record_parse("x", 1, &r), -1);
	assert_int_equal(record_parse("k {\"text\":", 10, &r), -1);
	assert_int_equal(record_parse("k {\"text\":\"a\"} junk", 19, &r), -1);
}

/* Unknown members are skipped, so a newer writer's records still read. */
static void
test_log_record_tolerates_new_members(void **state)
{
	const char	*line = "k {\"v\":2,\"extra\":{\"a\":\"b\"},\"flag\":true,"
	    "\"text\":\"hi\",\"line\":3}";
	struct record	 r;

	(void)state;
	assert_int_equal(record_parse(line, strlen(line), &r), 0);
	assert_int_equal(r.lineno, 3);
	assert_int_equal(r.text.len, 2);
}

static void
test_graphite_and_json_of_a_metric(void **state)
{
	(void)state;
	expect("graphite", "a.b 42 1700000000", "a.b 42 1700000000");
	expect("json", "a.b +.5 1700000000", "{\"name\":\"a.b\",\"value\":0.5,"
	    "\"timestamp\":1700000000,\"host\":\"web1\"}");
	expect("raw", "a.b 007.e3 1700000000", "a.b {\"name\":\"a.b\","
	    "\"value\":7e3,\"timestamp\":1700000000,\"host\":\"web1\"}");
	assert_null(render("graphite", "k {\"text\":\"x\"}"));
	assert_null(render("sink", "a.b 1 1700000000"));
}

/*
 * Regression (found by tests/fuzz/fuzz_record.c): a metric name may hold
 * '"' and '\\' (printable ASCII), and the receiver accepts it; copied
 * into JSON unescaped it made the batch invalid, and a peer that refuses
 * it for good (ClickHouse, 400) dead-lettered every other record with it.
 */
static void
test_json_escapes_a_key(void **state)
{
	static const struct format_ctx odd = { "we\"b1", "ferry" };
	struct format	*f;
	struct record	 r;
	struct buf	 b;
	char		 err[256];
	const char	*line = "a\"b\\c 1 1700000000";

	(void)state;
	expect("json", line, "{\"name\":\"a\\\"b\\\\c\",\"value\":1,"
	    "\"timestamp\":1700000000,\"host\":\"web1\"}");
	expect("clickhouse", line, "{\"name\":\"a\\\"b\\\\c\",\"value\":1,"
	    "\"timestamp\":1700000000,\"host\":\"web1\"}");
	expect("json", "k\"ey {\"text\":\"x\"}", "{\"key\":\"k\\\"ey\","
	    "\"name\":\"\",\"host\":\"\",\"file\":\"\",\"line\":0,\"offset\":0,"
	    "\"time\":0,\"attributes\":{},\"text\":\"x\"}");
	/* The machine's name is the operator's text: escaped too. */
	assert_non_null(f = format_new("json", err, sizeof(err)));
	assert_int_equal(record_parse("a 1 2", 5, &r), 0);
	buf_init(&b, 0);
	assert_int_equal(format_render(f, &odd, &r, &b), 0);
	assert_string_equal(b.p, "{\"name\":\"a\",\"value\":1,"
	    "\"timestamp\":2,\"host\":\"we\\\"b1\"}");
	buf_free(&b);
	format_free(f);
}

static void
test_json_of_a_log_escapes_bad_utf8(void **state)
{
	char	*line = log_line("caf\xc3\xa9 \xff end", 11);

	(void)state;
	expect("json", line, "{\"key\":\"systail.nginx.web1\",\"name\":"
	    "\"nginx\",\"host\":\"web1\",\"file\":\"/var/log/nginx/access.log\","
	    "\"line\":12,\"offset\":3456,\"time\":1764751234.125,\"attributes\":"
	    "{\"service\":\"web\",\"dc\":\"eu \\\"1\\\"\"},\"text\":"
	    "\"caf\xc3\xa9 \\u00ff end\"}");
	expect("clickhouse", line, "{\"key\":\"systail.nginx.web1\",\"name\":"
	    "\"nginx\",\"host\":\"web1\",\"file\":\"/var/log/nginx/access.log\","
	    "\"line\":12,\"offset\":3456,\"time\":1764751234.125,\"attributes\":"
	    "\"{\\\"service\\\":\\\"web\\\",\\\"dc\\\":\\\"eu \\\\\\\"1\\\\\\\"\\\"}\","
	    "\"text\":\"caf\xc3\xa9 \\u00ff end\"}");
	/* raw passes the bytes through unchanged. */
	expect("raw", line, line);
	free(line);
}

static void
test_sink_item(void **state)
{
	char	*line = log_line("hello", 5);

	(void)state;
	expect("sink", line, "{\"host\":\"web1\",\"file\":"
	    "\"/var/log/nginx/access.log\",\"line-num\":12,\"content\":\"hello\"}");
	free(line);
}

/* An event's spool line: a log record with fields, under its own key. */
static char *
event_line(void)
{
	static const struct log_field fields[] = {
		{ "status", "404", 3 }, { "path", "/a\"b", 4 }, { "none", NULL, 0 }
	};
	struct log_fields f = {
		.key = "event.notfound", .name = "nginx", .host = "web1",
		.file = "/var/log/nginx/access.log", .lineno = 12,
		.offset = 3456, .end = 3470, .dev = 2049, .ino = 77,
		.nlines = 1, .time_ms = 1764751234125ULL,
		.text = "GET /a 404", .textlen = 10, .fields = fields,
		.nfields = 3
	};
	struct buf	b;
	size_t		len;

	buf_init(&b, 0);
	assert_int_equal(record_log_append(&b, &f), 0);
	b.p[--b.len] = '\0';
	return buf_take(&b, &len);
}

static void
test_event_record(void **state)
{
	char		*line = event_line(), *plain = log_line("x", 1), *ch;
	struct record	 r;
	struct span	 s;
	struct buf	 b;

	(void)state;
	assert_string_equal(line, "event.notfound {\"name\":\"nginx\","
	    "\"host\":\"web1\",\"file\":\"/var/log/nginx/access.log\","
	    "\"line\":12,\"offset\":3456,\"end\":3470,\"fid\":\"2049:77\","
	    "\"time\":1764751234.125,\"attrs\":{},\"text\":\"GET /a 404\","
	    "\"fields\":{\"status\":\"404\",\"path\":\"/a\\\"b\",\"none\":\"\"}}");
	assert_int_equal(record_parse(line, strlen(line), &r), 0);
	assert_int_equal(r.kind, RECORD_LOG);
	assert_true(r.fields.len > 2);
	assert_int_equal(record_field(&r, "path", 4, &s), 1);
	buf_init(&b, 0);
	assert_int_equal(record_unescape(&b, s), 0);
	assert_string_equal(b.p, "/a\"b");
	buf_free(&b);
	assert_int_equal(record_field(&r, "nope", 4, &s), 0);
	/* A plain line has none. */
	assert_int_equal(record_parse(plain, strlen(plain), &r), 0);
	assert_int_equal(r.fields.len, 0);
	assert_int_equal(record_field(&r, "path", 4, &s), 0);
	expect("json", line, "{\"key\":\"event.notfound\",\"name\":\"nginx\","
	    "\"host\":\"web1\",\"file\":\"/var/log/nginx/access.log\","
	    "\"line\":12,\"offset\":3456,\"time\":1764751234.125,"
	    "\"attributes\":{},\"text\":\"GET /a 404\",\"fields\":"
	    "{\"status\":\"404\",\"path\":\"/a\\\"b\",\"none\":\"\"}}");
	expect("raw", line, line);
	/* In the sink, a file of its own: the line it came from stays. */
	expect("sink", line, "{\"host\":\"web1\",\"file\":"
	    "\"/var/log/nginx/access.log#event.notfound\",\"line-num\":12,"
	    "\"content\":\"GET /a 404\",\"fields\":{\"status\":\"404\","
	    "\"path\":\"/a\\\"b\",\"none\":\"\"}}");
	expect("{key} {field.status} {field.path}{field.nope}", line,
	    "event.notfound 404 /a\"b");
	/* ClickHouse's table has no column for them. */
	assert_non_null(ch = render("clickhouse", line));
	assert_null(strstr(ch, "fields"));
	free(ch);
	free(plain);
	free(line);
}

static void
test_syslog(void **state)
{
	char	*line = log_line("a \"quoted\" line", 15);

	(void)state;
	expect("syslog", line, "<14>1 2025-12-03T08:40:34.125Z web1 nginx - - "
	    "[ferry@32473 file=\"/var/log/nginx/access.log\" line=\"12\"] "
	    "a \"quoted\" line");
	expect("syslog", "a.b 1 1700000000", "<14>1 2023-11-14T22:13:20Z web1 "
	    "ferry - - - a.b 1 1700000000");
	free(line);
}

static void
test_templates(void **state)
{
	char	*line = log_line("boom", 4);

	(void)state;
	expect("{name}@{host}: {text}", line, "nginx@web1: boom");
	expect("{{{key}}} {attr.service} {attr.none}|{line}:{offset}", line,
	    "{systail.nginx.web1} web |12:3456");
	expect("{name}={value} at {timestamp} on {host}", "a.b 3 1700000000",
	    "a.b=3 at 1700000000 on web1");
	free(line);
}

static void
test_bad_formats(void **state)
{
	char	err[256];

	(void)state;
	assert_null(format_new("{name} {nope}", err, sizeof(err)));
	assert_non_null(strstr(err, "unknown field {nope}"));
	assert_null(format_new("{name", err, sizeof(err)));
	assert_non_null(strstr(err, "without its '}'"));
	assert_null(format_new("xml", err, sizeof(err)));
	assert_non_null(strstr(err, "\"xml\" is not one of"));
}

static void
test_envelopes(void **state)
{
	struct format	*f;
	char		 err[256];

	(void)state;
	f = format_new("sink", err, sizeof(err));
	assert_string_equal(format_envelope(f)->head, "{\"batch\":[");
	assert_false(format_takes(f, RECORD_METRIC));
	format_free(f);
	f = format_new("graphite", err, sizeof(err));
	assert_string_equal(format_envelope(f)->sep, "\n");
	assert_false(format_takes(f, RECORD_LOG));
	format_free(f);
}

/*
 * A heartbeat record: its own kind, written by record_beat_append() only,
 * rendered as its object by the heartbeat format and by no other.
 */
static void
test_heartbeat_record(void **state)
{
	static const char obj[] = "{\"hostname\":\"web1\",\"ok\":true}";
	struct record	 r;
	struct buf	 b;
	char		*line, *got;
	size_t		 len;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(record_beat_append(&b, "{\"a\":\n1}", 9), -1);
	assert_int_equal(record_beat_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 0);
	assert_int_equal(record_beat_append(&b, obj, strlen(obj)), 0);
	assert_true(b.p[b.len - 1] == '\n');
	b.p[--b.len] = '\0';
	line = buf_take(&b, &len);
	assert_string_equal(line, "@heartbeat {\"hostname\":\"web1\",\"ok\":true}");
	assert_int_equal(record_kind_of(line, len, record_key_len(line, len)),
	    RECORD_BEAT);
	assert_int_equal(record_parse(line, len, &r), 0);
	assert_int_equal(r.kind, RECORD_BEAT);
	assert_int_equal(r.text.len, strlen(obj));
	expect("heartbeat", line, obj);
	assert_null(got = render("json", line));
	assert_null(got = render("graphite", line));
	/* A log record under another key is still a log record. */
	assert_int_equal(record_kind_of("k {}", 4, 1), RECORD_LOG);
	assert_int_equal(record_kind_of("k 1 2", 5, 1), RECORD_METRIC);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_record_round_trip),
		cmocka_unit_test(test_metric_record),
		cmocka_unit_test(test_event_record),
		cmocka_unit_test(test_log_record_tolerates_new_members),
		cmocka_unit_test(test_graphite_and_json_of_a_metric),
		cmocka_unit_test(test_json_escapes_a_key),
		cmocka_unit_test(test_json_of_a_log_escapes_bad_utf8),
		cmocka_unit_test(test_sink_item),
		cmocka_unit_test(test_syslog),
		cmocka_unit_test(test_templates),
		cmocka_unit_test(test_bad_formats),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_heartbeat_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
