/*
 * test_logformat: access log lines cut into named fields (tail/logformat.c)
 * by every built-in format and by nginx log_format strings: the fields a
 * real nginx and Apache write, quoted values with the separator and with
 * escaped quotes in them, "-" values, the fields derived from $status and
 * $request, formats nginx would refuse, and lines of another shape, which
 * must give 0, never a half-filled answer read past the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../tail/logformat.c"

#define COMBINED_LINE \
	"203.0.113.7 - alice [03/Dec/2025:10:15:42 +0100] \"GET /index.html?a=1 " \
	"HTTP/1.1\" 200 5120 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux " \
	"x86_64)\""

static struct fields	f;

/* The value of field name in f, as a string (static buffer); NULL: absent. */
static const char *
val(const struct logformat *lf, const char *name)
{
	static char	buf[4096];
	int		i;

	if ((i = logformat_field(lf, name)) < 0)
		return NULL;
	assert_true((size_t)i < f.n);
	assert_string_equal(f.v[i].name, name);
	snprintf(buf, sizeof(buf), "%.*s", (int)f.v[i].len, f.v[i].p);
	return buf;
}

/* Parse a NUL-terminated line with a copy of exactly its bytes (ASan). */
static int
parse(const struct logformat *lf, const char *line)
{
	size_t	len = strlen(line);
	char	*copy = malloc(len > 0 ? len : 1);
	int	rc;

	assert_non_null(copy);
	memcpy(copy, line, len);
	rc = logformat_parse(lf, copy, len, &f);
	if (rc == 1) {
		/* Every field points into the line or is a constant. */
		for (size_t i = 0; i < f.n; i++)
			if (f.v[i].len > 0 && !(f.v[i].p >= copy &&
			    f.v[i].p + f.v[i].len <= copy + len))
				assert_true(f.v[i].p == class_names[0] ||
				    f.v[i].p == class_names[1] ||
				    f.v[i].p == class_names[2] ||
				    f.v[i].p == class_names[3] ||
				    f.v[i].p == class_names[4] ||
				    strcmp(f.v[i].p, "0") == 0);
		/* Values are copied out before the line goes. */
		for (size_t i = 0; i < f.n; i++)
			if (f.v[i].p >= copy && f.v[i].p <= copy + len) {
				static char	keep[FIELDS_MAX][2048];

				snprintf(keep[i], sizeof(keep[i]), "%.*s",
				    (int)f.v[i].len, f.v[i].p);
				f.v[i].p = keep[i];
			}
	}
	free(copy);
	return rc;
}

static void
test_nginx_combined(void **state)
{
	struct logformat	*lf = logformat_builtin("nginx_combined");

	(void)state;
	assert_non_null(lf);
	assert_int_equal(parse(lf, COMBINED_LINE), 1);
	assert_string_equal(val(lf, "remote_addr"), "203.0.113.7");
	assert_string_equal(val(lf, "remote_user"), "alice");
	assert_string_equal(val(lf, "time_local"), "03/Dec/2025:10:15:42 +0100");
	assert_string_equal(val(lf, "request"),
	    "GET /index.html?a=1 HTTP/1.1");
	assert_string_equal(val(lf, "status"), "200");
	assert_string_equal(val(lf, "body_bytes_sent"), "5120");
	assert_string_equal(val(lf, "http_referer"), "https://example.com/");
	assert_string_equal(val(lf, "http_user_agent"),
	    "Mozilla/5.0 (X11; Linux x86_64)");
	assert_string_equal(val(lf, "status_class"), "2xx");
	assert_string_equal(val(lf, "request_method"), "GET");
	assert_string_equal(val(lf, "request_uri"), "/index.html?a=1");
	assert_string_equal(val(lf, "server_protocol"), "HTTP/1.1");
	assert_null(val(lf, "request_time"));
	assert_int_equal(f.n, 12);
	logformat_free(lf);
}

/* "-" is nginx's "no value": kept as the line has it. */
static void
test_dashes(void **state)
{
	struct logformat	*lf = logformat_builtin("nginx_combined");

	(void)state;
	assert_int_equal(parse(lf, "::1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"-\" 400 0 \"-\" \"-\""), 1);
	assert_string_equal(val(lf, "remote_addr"), "::1");
	assert_string_equal(val(lf, "remote_user"), "-");
	assert_string_equal(val(lf, "request"), "-");
	assert_string_equal(val(lf, "http_referer"), "-");
	assert_string_equal(val(lf, "status_class"), "4xx");
	/* No request line: no method, URI or protocol, but their places. */
	assert_string_equal(val(lf, "request_method"), "");
	assert_string_equal(val(lf, "request_uri"), "");
	assert_string_equal(val(lf, "server_protocol"), "");
	logformat_free(lf);
}

/*
 * Quoted values with the separator in them (the request's blanks, a
 * user agent's '"' as nginx's default escape writes it, \x22), and
 * Apache's \" (and escape=json's), which must not end the value.
 */
static void
test_quoting(void **state)
{
	struct logformat	*lf = logformat_builtin("nginx_combined");

	(void)state;
	assert_int_equal(parse(lf, "10.0.0.1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"GET /a\\x22b HTTP/1.1\" 404 153 \"-\" \"curl \\x22quoted\\x22 "
	    "\\\\ ok\""), 1);
	assert_string_equal(val(lf, "request_uri"), "/a\\x22b");
	assert_string_equal(val(lf, "http_user_agent"),
	    "curl \\x22quoted\\x22 \\\\ ok");
	assert_int_equal(parse(lf, "10.0.0.1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"GET /\\\" \\\"x HTTP/1.1\" 200 1 \"a\\\"b\\\\\" \"ua\""), 1);
	assert_string_equal(val(lf, "request"), "GET /\\\" \\\"x HTTP/1.1");
	assert_string_equal(val(lf, "request_uri"), "/\\\" \\\"x");
	/* An escaped backslash before the quote: the quote ends it. */
	assert_string_equal(val(lf, "http_referer"), "a\\\"b\\\\");
	assert_string_equal(val(lf, "http_user_agent"), "ua");
	/* escape=none, a value ending in a backslash: the escaped one does. */
	assert_int_equal(parse(lf, "10.0.0.1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"GET / HTTP/1.1\" 200 1 \"c:\\\" \"ua\""), 1);
	assert_string_equal(val(lf, "http_referer"), "c:\\");
	/* A URI with a blank (nginx logs the request line as it came). */
	assert_int_equal(parse(lf, "10.0.0.1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"GET /a b HTTP/1.0\" 301 0 \"-\" \"-\""), 1);
	assert_string_equal(val(lf, "request_uri"), "/a b");
	assert_string_equal(val(lf, "server_protocol"), "HTTP/1.0");
	assert_string_equal(val(lf, "status_class"), "3xx");
	/* HTTP/0.9: no protocol. */
	assert_int_equal(parse(lf, "10.0.0.1 - - [03/Dec/2025:10:15:42 +0000] "
	    "\"GET /old\" 200 1 \"-\" \"-\""), 1);
	assert_string_equal(val(lf, "request_method"), "GET");
	assert_string_equal(val(lf, "request_uri"), "/old");
	assert_string_equal(val(lf, "server_protocol"), "");
	logformat_free(lf);
}

static void
test_status_class(void **state)
{
	struct logformat	*lf = logformat_nginx("$status $request_time",
				    NULL, 0);
	static const struct {
		const char	*line, *class;
	} cases[] = {
		{ "100 0.000", "1xx" }, { "204 0.001", "2xx" },
		{ "302 0.1", "3xx" }, { "499 1.5", "4xx" }, { "503 30", "5xx" },
		{ "600 0", "" }, { "20 0", "" }, { "2000 0", "" },
		{ "2x0 0", "" }, { "- 0", "" },
	};
	size_t			 i;

	(void)state;
	assert_non_null(lf);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(lf, cases[i].line), 1);
		assert_string_equal(val(lf, "status_class"), cases[i].class);
	}
	/* No $request: nothing derived from it. */
	assert_null(val(lf, "request_method"));
	assert_int_equal(f.n, 3);
	logformat_free(lf);
}

/* nginx's main (combined and X-Forwarded-For); combined reads it too. */
static void
test_nginx_main(void **state)
{
	struct logformat	*main_lf = logformat_builtin("nginx_main");
	struct logformat	*comb = logformat_builtin("nginx_combined");
	const char		*line = COMBINED_LINE " \"198.51.100.9, 10.1.1.1\"";

	(void)state;
	assert_non_null(main_lf);
	assert_int_equal(parse(main_lf, line), 1);
	assert_string_equal(val(main_lf, "http_x_forwarded_for"),
	    "198.51.100.9, 10.1.1.1");
	assert_int_equal(parse(comb, line), 1);
	assert_string_equal(val(comb, "http_user_agent"),
	    "Mozilla/5.0 (X11; Linux x86_64)");
	/* The other way round the line is short of a field. */
	assert_int_equal(parse(main_lf, COMBINED_LINE), 0);
	logformat_free(main_lf);
	logformat_free(comb);
}

static void
test_apache(void **state)
{
	struct logformat	*common = logformat_builtin("apache_common");
	struct logformat	*comb = logformat_builtin("apache_combined");

	(void)state;
	assert_non_null(common);
	assert_non_null(comb);
	/* Apache's own example lines (its log files documentation). */
	assert_int_equal(parse(common, "127.0.0.1 - frank "
	    "[10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" "
	    "200 2326"), 1);
	assert_string_equal(val(common, "remote_addr"), "127.0.0.1");
	assert_string_equal(val(common, "remote_logname"), "-");
	assert_string_equal(val(common, "remote_user"), "frank");
	assert_string_equal(val(common, "time_local"),
	    "10/Oct/2000:13:55:36 -0700");
	assert_string_equal(val(common, "status"), "200");
	assert_string_equal(val(common, "body_bytes_sent"), "2326");
	assert_string_equal(val(common, "request_uri"), "/apache_pb.gif");
	/* %b is "-" for no body: 0 bytes. */
	assert_int_equal(parse(common, "127.0.0.1 - - [10/Oct/2000:13:55:36 "
	    "-0700] \"HEAD / HTTP/1.1\" 304 -"), 1);
	assert_string_equal(val(common, "body_bytes_sent"), "0");
	assert_string_equal(val(common, "status_class"), "3xx");
	assert_int_equal(parse(comb, "127.0.0.1 - frank "
	    "[10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 "
	    "2326 \"http://www.example.com/start.html\" \"Mozilla/4.08 [en] "
	    "(Win98; I ;Nav)\""), 1);
	assert_string_equal(val(comb, "http_referer"),
	    "http://www.example.com/start.html");
	assert_string_equal(val(comb, "http_user_agent"),
	    "Mozilla/4.08 [en] (Win98; I ;Nav)");
	/* A common line is short of combined's two fields. */
	assert_int_equal(parse(comb, "127.0.0.1 - frank [10/Oct/2000:13:55:36 "
	    "-0700] \"GET / HTTP/1.0\" 200 2326"), 0);
	logformat_free(common);
	logformat_free(comb);
}

/* log_format strings as people write them. */
static void
test_custom(void **state)
{
	char			 err[256];
	struct logformat	*lf;

	(void)state;
	lf = logformat_nginx("$remote_addr [$time_local] \"$request\" $status "
	    "rt=$request_time uct=\"$upstream_connect_time\" "
	    "urt=\"$upstream_response_time\" ${host}:$server_port",
	    err, sizeof(err));
	assert_non_null(lf);
	assert_string_equal(logformat_text(lf), "$remote_addr [$time_local] "
	    "\"$request\" $status rt=$request_time uct=\"$upstream_connect_time\" "
	    "urt=\"$upstream_response_time\" ${host}:$server_port");
	assert_int_equal(parse(lf, "10.1.2.3 [03/Dec/2025:10:15:42 +0000] "
	    "\"POST /api HTTP/2.0\" 502 rt=0.250 uct=\"0.001, -\" "
	    "urt=\"0.248 : 0.002\" www.example.com:8443"), 1);
	assert_string_equal(val(lf, "request_time"), "0.250");
	assert_string_equal(val(lf, "upstream_connect_time"), "0.001, -");
	assert_string_equal(val(lf, "upstream_response_time"), "0.248 : 0.002");
	assert_string_equal(val(lf, "host"), "www.example.com");
	/* Last in the format: the rest of the line. */
	assert_string_equal(val(lf, "server_port"), "8443");
	assert_string_equal(val(lf, "status_class"), "5xx");
	assert_string_equal(val(lf, "request_method"), "POST");
	logformat_free(lf);

	/* A format that logs $request_method itself: not derived twice. */
	lf = logformat_nginx("$request_method \"$request\" $status", err,
	    sizeof(err));
	assert_non_null(lf);
	assert_int_equal(parse(lf, "GET \"GET /x HTTP/1.1\" 200"), 1);
	assert_int_equal(logformat_field(lf, "request_method"), 0);
	assert_string_equal(val(lf, "request_uri"), "/x");
	assert_int_equal(f.n, 6);
	logformat_free(lf);

	/* A format that starts and ends with a variable, no quotes. */
	lf = logformat_nginx("$msec|$status|$request_time", err, sizeof(err));
	assert_non_null(lf);
	assert_int_equal(parse(lf, "1764751234.125|200|0.003"), 1);
	assert_string_equal(val(lf, "msec"), "1764751234.125");
	assert_string_equal(val(lf, "request_time"), "0.003");
	assert_int_equal(parse(lf, "1764751234.125|200|"), 1);
	assert_string_equal(val(lf, "request_time"), "");
	assert_int_equal(parse(lf, "1764751234.125 200 0.003"), 0);
	logformat_free(lf);

	/* escape=json, as nginx writes it. */
	lf = logformat_nginx("{\"status\":\"$status\",\"ua\":\"$http_user_agent\"}",
	    err, sizeof(err));
	assert_non_null(lf);
	assert_int_equal(parse(lf, "{\"status\":\"200\",\"ua\":\"a \\\"b\\\" "
	    "c\"}"), 1);
	assert_string_equal(val(lf, "http_user_agent"), "a \\\"b\\\" c");
	logformat_free(lf);
}

/* What nginx refuses, and what cannot be cut apart. */
static void
test_bad_formats(void **state)
{
	static const struct {
		const char	*fmt, *why;
	} cases[] = {
		{ "", "an empty format" },
		{ "$", "a '$' at byte 0 without a variable name" },
		{ "a $ b", "a '$' at byte 2 without a variable name" },
		{ "${}", "a '$' at byte 0 without a variable name" },
		{ "x ${status", "a '$' at byte 2 opens a \"${\" that is not "
		    "closed" },
		{ "$status$request_time", "$status and $request_time have "
		    "nothing between them: a line cannot be cut there" },
		{ "${status}${body_bytes_sent}", "$status and $body_bytes_sent "
		    "have nothing between them: a line cannot be cut there" },
	};
	struct logformat	*lf;
	char		 err[256], fmt[4096];
	size_t		 i, at = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_null(logformat_nginx(cases[i].fmt, err, sizeof(err)));
		assert_string_equal(err, cases[i].why);
	}
	/* More variables than fields hold. */
	for (i = 0; i <= VARS_MAX; i++)
		at += (size_t)snprintf(fmt + at, sizeof(fmt) - at, "$v%zu ", i);
	assert_null(logformat_nginx(fmt, err, sizeof(err)));
	assert_string_equal(err, "more than 44 variables");
	fmt[at - strlen("$v44 ")] = '\0';
	assert_non_null((lf = logformat_nginx(fmt, err, sizeof(err))));
	logformat_free(lf);
	assert_null(logformat_builtin("combined"));
	assert_null(logformat_builtin(""));
}

/* Lines of another shape: 0, whatever is in them. */
static void
test_no_match(void **state)
{
	struct logformat	*lf = logformat_builtin("nginx_combined");
	static const char	*lines[] = {
		"",
		"-",
		"203.0.113.7",
		"203.0.113.7 - alice",
		"203.0.113.7 - alice [03/Dec/2025:10:15:42 +0100",
		"203.0.113.7 - alice [03/Dec/2025:10:15:42 +0100] \"GET / HTTP/1.1",
		"203.0.113.7 - alice [03/Dec/2025:10:15:42 +0100] \"GET / "
		    "HTTP/1.1\" 200 5120 \"https://example.com/\"",
		"203.0.113.7 - alice [03/Dec/2025:10:15:42 +0100] \"GET / "
		    "HTTP/1.1\" 200 5120 \"https://example.com/\" \"ua",
		"2025/12/03 10:15:42 [error] 123#123: *1 open() failed",
		"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] \"GET / "
		    "HTTP/1.0\" 200 2326",
	};
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		assert_int_equal(parse(lf, lines[i]), 0);
	logformat_free(lf);
}

/* A line with NUL bytes and bytes past 0x7f is bytes like any other. */
static void
test_binary(void **state)
{
	struct logformat	*lf = logformat_nginx("$a \"$b\" $c", NULL, 0);
	static const char	 line[] = "x\0y \"\xff\"\0\" z";

	(void)state;
	assert_non_null(lf);
	assert_int_equal(logformat_parse(lf, line, sizeof(line) - 1, &f), 1);
	assert_int_equal(f.v[0].len, 3);
	assert_int_equal(f.v[1].len, 3);
	assert_memory_equal(f.v[1].p, "\xff\"\0", 3);
	assert_int_equal(f.v[2].len, 1);
	logformat_free(lf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nginx_combined),
		cmocka_unit_test(test_dashes),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_status_class),
		cmocka_unit_test(test_nginx_main),
		cmocka_unit_test(test_apache),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_bad_formats),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_binary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
