/*
 * Unit tests for common/url.c: output URIs, ferry's options taken out of
 * the query, the peer's left in, and filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

static void
parse_ok(const char *uri, struct url *u)
{
	char	err[256] = "";

	if (url_parse(uri, u, err, sizeof(err)) != 0)
		fail_msg("%s: %s", uri, err);
}

static void
parse_fails(const char *uri, const char *want)
{
	struct url	u;
	char		err[256] = "";

	assert_int_equal(url_parse(uri, &u, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("%s: error \"%s\" lacks \"%s\"", uri, err, want);
}

static void
test_plain_http(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("https://agentapi.hostedgraphite.com/api/v1/sink", &u);
	assert_string_equal(u.scheme_name, "https");
	assert_string_equal(u.scheme->transport, "http");
	assert_string_equal(u.host, "agentapi.hostedgraphite.com");
	assert_int_equal(u.port, 443);	/* the scheme's default */
	assert_string_equal(u.path, "/api/v1/sink");
	assert_string_equal(u.target_logs, "https://agentapi.hostedgraphite.com/store/batch");
	assert_string_equal(u.target, "https://agentapi.hostedgraphite.com/api/v1/sink");
	assert_int_equal(u.nfilter, 0);
}

static void
test_ferry_options_leave_the_url(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("HTTP://127.0.0.1:8080/api/v1/sink?filter=servers.&token=abc"
	    "&filter=app%2Eweb&format=raw", &u);
	assert_string_equal(u.scheme_name, "http");
	assert_int_equal(u.port, 8080);
	assert_int_equal(u.nfilter, 2);
	assert_string_equal(u.filter[0], "servers.");
	assert_string_equal(u.filter[1], "app.web");
	assert_string_equal(u.format, "raw");
	/* The peer's own parameter stays. */
	assert_string_equal(u.target, "HTTP://127.0.0.1:8080/api/v1/sink?token=abc");
	assert_string_equal(u.target_logs, "HTTP://127.0.0.1:8080/store/batch?token=abc");
}

static void
test_every_scheme_and_its_defaults(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("carbon://relay", &u);
	assert_int_equal(u.port, 2003);
	assert_string_equal(u.scheme->transport, "stream");
	assert_true(u.scheme->logs_by_filter);
	parse_ok("syslog://logs:601", &u);
	assert_true(u.scheme->octet_framing);
	assert_string_equal(u.scheme->format[RECORD_LOG], "syslog");
	parse_ok("syslog+udp://logs/?datagram=8192", &u);
	assert_int_equal(u.port, 514);
	assert_int_equal(u.datagram, 8192);
	parse_ok("udp://h:2003", &u);
	assert_int_equal(u.datagram, 1400);
	parse_ok("redis://h/", &u);
	assert_string_equal(u.key, "ferry");
	parse_ok("redis://h/?key=k&db=3&fail_after=600", &u);
	assert_int_equal(u.port, 6379);
	assert_int_equal(u.db, 3);
	assert_true(u.fail_after == 600);
	parse_ok("http://h:8080/api/v1/sink?logs_path=/logs", &u);
	assert_string_equal(u.target_logs, "http://h:8080/logs");
	assert_non_null(strstr(scheme_names(), "clickhouse"));
}

static void
test_clickhouse_inserts_each_kind_into_its_table(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("clickhouse://127.0.0.1:8123/?database=obs&logs_table=lines"
	    "&user=ferry&filter=systail.", &u);
	assert_string_equal(u.target, "http://127.0.0.1:8123/?query=INSERT%20"
	    "INTO%20obs.ferry_metrics%20FORMAT%20JSONEachRow&user=ferry");
	assert_string_equal(u.target_logs, "http://127.0.0.1:8123/?query=INSERT"
	    "%20INTO%20obs.lines%20FORMAT%20JSONEachRow&user=ferry");
	parse_fails("clickhouse://h/?metrics_table=a;drop", "letters, digits");
}

static void
test_redis_and_file(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("redis://127.0.0.1:6379/?key=recent_logs&limit=400&filter=systail", &u);
	assert_string_equal(u.key, "recent_logs");
	assert_int_equal(u.limit, 400);
	assert_string_equal(u.target, "redis://127.0.0.1:6379/");
	parse_ok("file:///var/log/ferry/archive.log", &u);
	assert_string_equal(u.path, "/var/log/ferry/archive.log");
	parse_ok("udp://[::1]:514/?format=syslog", &u);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 514);
}

static void
test_bad_uris(void **state)
{
	(void)state;
	parse_fails("127.0.0.1:2003", "not a URI");
	parse_fails("gopher://x/", "unknown scheme");
	parse_fails("http://:80/", "no host");
	parse_fails("http://h:99999/", "bad port");
	parse_fails("http://h:x/", "bad port");
	parse_fails("redis://h/?limit=0", "limit");
	parse_fails("file://relative/path", "absolute");
	parse_fails("http://[::1/", "unclosed");
	parse_fails("tcp://h/", "needs a port");
	parse_fails("udp://h:1/?datagram=10", "from 64 to 65507");
	parse_fails("http://h/?logs_path=x", "must start with /");
	parse_fails("tcp://h:1/?format=%7Bname%7D%20%7Bbogus%7D",
	    "unknown field {bogus}");
}

static void
test_filters_match_prefixes(void **state)
{
	struct url	u;

	(void)state;
	parse_ok("carbon://h:2003/", &u);
	assert_true(url_matches(&u, "anything", 8));
	parse_ok("carbon://h:2003/?filter=servers.&filter=app.", &u);
	assert_true(url_matches(&u, "servers.web1.cpu", 16));
	assert_true(url_matches(&u, "app.x", 5));
	assert_false(url_matches(&u, "servers", 7));
	assert_false(url_matches(&u, "other.servers.x", 15));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_http),
		cmocka_unit_test(test_ferry_options_leave_the_url),
		cmocka_unit_test(test_redis_and_file),
		cmocka_unit_test(test_every_scheme_and_its_defaults),
		cmocka_unit_test(test_clickhouse_inserts_each_kind_into_its_table),
		cmocka_unit_test(test_bad_uris),
		cmocka_unit_test(test_filters_match_prefixes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
