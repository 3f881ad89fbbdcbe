/*
 * test_metric: the Graphite plaintext line parser of common/metric.c.
 *
 * The parser decides, for every program, what a metric is; these tests pin
 * the contract of metric.h: what is accepted (and what the fields then point
 * at), what is refused and with which status, and what metric_format writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metric.h"

/* Parse a NUL-terminated line. */
static int
parse(const char *line, struct metric *m)
{
	memset(m, 0x5a, sizeof(*m));	/* nothing left over from a last call */
	return metric_parse(line, strlen(line), m);
}

static void
assert_field(const char *got, size_t gotlen, const char *want)
{
	assert_int_equal(gotlen, strlen(want));
	assert_memory_equal(got, want, gotlen);
}

static void
assert_metric(const char *line, const char *name, const char *value, int64_t ts)
{
	struct metric	m;

	assert_int_equal(parse(line, &m), METRIC_OK);
	assert_field(m.name, m.namelen, name);
	assert_field(m.value, m.valuelen, value);
	assert_int_equal(m.ts, ts);
}

static void
assert_status(const char *line, int status)
{
	struct metric	m;

	assert_string_equal(metric_status_name(parse(line, &m)),
	    metric_status_name(status));
}

static void
test_valid_basic(void **state)
{
	(void)state;
	assert_metric("a.b.c 42 1700000000", "a.b.c", "42", 1700000000);
	assert_metric("x 1 1", "x", "1", 1);
}

static void
test_valid_points_into_line(void **state)
{
	const char	*line = "servers.web1.cpu 3.5 1700000000";
	struct metric	 m;

	(void)state;
	assert_int_equal(metric_parse(line, strlen(line), &m), METRIC_OK);
	/* The parser does not copy: the fields are pointers into the line. */
	assert_ptr_equal(m.name, line);
	assert_ptr_equal(m.value, line + 17);
}

static void
test_valid_tabs_and_spaces(void **state)
{
	(void)state;
	assert_metric("a.b\t42\t1700000000", "a.b", "42", 1700000000);
	assert_metric("a.b   42    1700000000", "a.b", "42", 1700000000);
	assert_metric(" \t a.b \t 42 \t 1700000000 \t ", "a.b", "42", 1700000000);
}

static void
test_valid_crlf(void **state)
{
	(void)state;
	assert_metric("a.b 42 1700000000\r", "a.b", "42", 1700000000);
	assert_metric("a.b 42\r", "a.b", "42", -1);
}

static void
test_valid_no_timestamp(void **state)
{
	(void)state;
	assert_metric("a.b 42", "a.b", "42", -1);
	assert_metric("a.b 42   ", "a.b", "42", -1);
}

static void
test_valid_minus_one_timestamp(void **state)
{
	(void)state;
	assert_metric("a.b 42 -1", "a.b", "42", -1);
}

static void
test_valid_fractional_timestamp(void **state)
{
	(void)state;
	assert_metric("a.b 42 1700000000.75", "a.b", "42", 1700000000);
	assert_metric("a.b 42 1700000000.", "a.b", "42", 1700000000);
	assert_metric("a.b 42 9999999999", "a.b", "42", METRIC_TS_MAX);
}

static void
test_valid_values(void **state)
{
	(void)state;
	assert_metric("a 1.5e3", "a", "1.5e3", -1);
	assert_metric("a 1E-3", "a", "1E-3", -1);
	assert_metric("a -2.5e+10", "a", "-2.5e+10", -1);
	assert_metric("a +7", "a", "+7", -1);
	assert_metric("a .5", "a", ".5", -1);
	assert_metric("a 5.", "a", "5.", -1);
	assert_metric("a -0", "a", "-0", -1);
}

static void
test_valid_tags(void **state)
{
	(void)state;
	assert_metric("a.b;t=v 1 1700000000", "a.b;t=v", "1", 1700000000);
	assert_metric("cpu.user;host=web1;dc=eu 0.25", "cpu.user;host=web1;dc=eu",
	    "0.25", -1);
}

static void
test_bad_names(void **state)
{
	struct metric	m;

	(void)state;
	assert_status("a..b 1", METRIC_BAD_NAME);
	assert_status(".a.b 1", METRIC_BAD_NAME);
	assert_status("a.b. 1", METRIC_BAD_NAME);
	assert_status(". 1", METRIC_BAD_NAME);
	assert_status("a\001b 1", METRIC_BAD_NAME);
	assert_status("a\033b 1", METRIC_BAD_NAME);
	assert_status("a\177b 1", METRIC_BAD_NAME);
	assert_status("a\rb 1", METRIC_BAD_NAME);
	assert_status("caf\xc3\xa9 1", METRIC_BAD_NAME);
	assert_status("a\x80 1", METRIC_BAD_NAME);
	assert_status("\xff 1", METRIC_BAD_NAME);
	/* A NUL byte inside the name is a control character too. */
	assert_int_equal(metric_parse("a\0b 1", 5, &m), METRIC_BAD_NAME);
}

static void
test_bad_values(void **state)
{
	(void)state;
	assert_status("a abc", METRIC_BAD_VALUE);
	assert_status("a nan", METRIC_BAD_VALUE);
	assert_status("a NaN 1700000000", METRIC_BAD_VALUE);
	assert_status("a inf", METRIC_BAD_VALUE);
	assert_status("a -inf", METRIC_BAD_VALUE);
	assert_status("a 1e", METRIC_BAD_VALUE);
	assert_status("a 1e+", METRIC_BAD_VALUE);
	assert_status("a --1", METRIC_BAD_VALUE);
	assert_status("a +-1", METRIC_BAD_VALUE);
	assert_status("a .", METRIC_BAD_VALUE);
	assert_status("a -", METRIC_BAD_VALUE);
	assert_status("a 1.2.3", METRIC_BAD_VALUE);
	assert_status("a 0x10", METRIC_BAD_VALUE);
	assert_status("a 12abc", METRIC_BAD_VALUE);
	assert_status("a 1e1000", METRIC_BAD_VALUE);
}

static void
test_value_overflowing_to_inf(void **state)
{
	(void)state;
	/*
	 * Regression (fixed): metric.c value_valid() accepts exponents of up to 3 digits, so
	 * "1e999" (and anything past ~1.8e308) passes, yet every store reads
	 * it as Inf, which the parser means to refuse. Expected BAD_VALUE,
	 * got OK. Re-enable once fixed.
	 */
	assert_status("a 1e999", METRIC_BAD_VALUE);
	assert_status("a 1e309", METRIC_BAD_VALUE);
	assert_status("a 2e308", METRIC_BAD_VALUE);
	assert_metric("a 1e308", "a", "1e308", -1);
}

static void
test_empty_value(void **state)
{
	/*
	 * A value can only be empty as "no second field": the name alone is
	 * a format error, with or without trailing blanks or a CR.
	 */
	(void)state;
	assert_status("a", METRIC_BAD_FORMAT);
	assert_status("a  \t ", METRIC_BAD_FORMAT);
	assert_status("a \r", METRIC_BAD_FORMAT);
}

static void
test_bad_timestamps(void **state)
{
	(void)state;
	assert_status("a 1 0", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 -5", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 abc", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 17e8", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 1700000000x", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 .5", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 10000000000", METRIC_BAD_TIMESTAMP);
	assert_status("a 1 99999999999999999999999", METRIC_BAD_TIMESTAMP);
}

static void
test_bad_format(void **state)
{
	(void)state;
	assert_status("a.b", METRIC_BAD_FORMAT);
	assert_status("a.b 1 1700000000 extra", METRIC_BAD_FORMAT);
	assert_status("a.b 1 1700000000 x y", METRIC_BAD_FORMAT);
}

static void
test_blank_lines(void **state)
{
	struct metric	m;

	(void)state;
	assert_int_equal(metric_parse("", 0, &m), METRIC_EMPTY);
	assert_status("   ", METRIC_EMPTY);
	assert_status(" \t\t ", METRIC_EMPTY);
	assert_status("\r", METRIC_EMPTY);
	assert_status("  \r", METRIC_EMPTY);
}

static void
test_len_is_honoured(void **state)
{
	const char	*line = "a.b 42 1700000000 trailing garbage";
	struct metric	 m;

	(void)state;
	/* Only len bytes count: what follows them is not part of the line. */
	assert_int_equal(metric_parse(line, 17, &m), METRIC_OK);
	assert_field(m.name, m.namelen, "a.b");
	assert_int_equal(m.ts, 1700000000);
	assert_int_equal(metric_parse(line, 6, &m), METRIC_OK);
	assert_field(m.value, m.valuelen, "42");
	assert_int_equal(m.ts, -1);
}

static void
test_status_names(void **state)
{
	(void)state;
	assert_string_equal(metric_status_name(METRIC_OK), "ok");
	assert_string_equal(metric_status_name(METRIC_EMPTY), "empty");
	assert_string_equal(metric_status_name(METRIC_BAD_NAME), "bad_name");
	assert_string_equal(metric_status_name(METRIC_BAD_VALUE), "bad_value");
	assert_string_equal(metric_status_name(METRIC_BAD_TIMESTAMP),
	    "bad_timestamp");
	assert_string_equal(metric_status_name(METRIC_BAD_FORMAT), "bad_format");
	assert_string_equal(metric_status_name(METRIC_TOO_LONG), "too_long");
	assert_string_equal(metric_status_name(METRIC_NSTATUS), "unknown");
	assert_string_equal(metric_status_name(-1), "unknown");
}

static void
strip(const char *line, const char *key, const char *want)
{
	struct metric	m;

	assert_int_equal(parse(line, &m), METRIC_OK);
	metric_strip_key(&m, key, strlen(key));
	assert_field(m.name, m.namelen, want);
	assert_field(m.value, m.valuelen, "1");
}

static void
test_strip_key(void **state)
{
	(void)state;
	strip("abc123.servers.web1.cpu 1", "abc123", "servers.web1.cpu");
	strip("abc123.x 1", "abc123", "x");
	/* Not the key, or the key without its dot: left alone. */
	strip("other.servers.cpu 1", "abc123", "other.servers.cpu");
	strip("abc1234.x 1", "abc123", "abc1234.x");
	strip("abc12.x 1", "abc123", "abc12.x");
	strip("abc123 1", "abc123", "abc123");
	strip("x.abc123.y 1", "abc123", "x.abc123.y");
	/* An empty key strips nothing. */
	strip("abc123.x 1", "", "abc123.x");
	/* Only the leading key, once. */
	strip("k.k.x 1", "k", "k.x");
}

static void
test_format_with_timestamp(void **state)
{
	struct metric	m;
	char		buf[64];
	size_t		n;

	(void)state;
	assert_int_equal(parse("a.b  42\t1700000000.9\r", &m), METRIC_OK);
	n = metric_format(&m, 1234, buf, sizeof(buf));
	assert_int_equal(n, strlen("a.b 42 1700000000\n"));
	assert_memory_equal(buf, "a.b 42 1700000000\n", n);
}

static void
test_format_now(void **state)
{
	struct metric	m;
	char		buf[64];
	size_t		n;

	(void)state;
	assert_int_equal(parse("a.b 42", &m), METRIC_OK);
	n = metric_format(&m, 1700000123, buf, sizeof(buf));
	assert_int_equal(n, strlen("a.b 42 1700000123\n"));
	assert_memory_equal(buf, "a.b 42 1700000123\n", n);

	assert_int_equal(parse("a.b 42 -1", &m), METRIC_OK);
	n = metric_format(&m, 1700000456, buf, sizeof(buf));
	assert_int_equal(n, strlen("a.b 42 1700000456\n"));
	assert_memory_equal(buf, "a.b 42 1700000456\n", n);
}

static void
test_format_stripped(void **state)
{
	struct metric	m;
	char		buf[64];
	size_t		n;

	(void)state;
	assert_int_equal(parse("key.a.b;t=v -1.5e3 7", &m), METRIC_OK);
	metric_strip_key(&m, "key", 3);
	n = metric_format(&m, 99, buf, sizeof(buf));
	assert_int_equal(n, strlen("a.b;t=v -1.5e3 7\n"));
	assert_memory_equal(buf, "a.b;t=v -1.5e3 7\n", n);
}

static void
test_format_too_small(void **state)
{
	const char	*want = "a.b 42 1700000000\n";
	size_t		 need = strlen(want), size;
	struct metric	 m;
	char		 buf[64];

	(void)state;
	assert_int_equal(parse("a.b 42 1700000000", &m), METRIC_OK);
	/* Exactly the room it needs is enough ... */
	memset(buf, '#', sizeof(buf));
	assert_int_equal(metric_format(&m, 0, buf, need), need);
	assert_memory_equal(buf, want, need);
	assert_int_equal(buf[need], '#');
	/* ... one byte less, or anything smaller, is not, and writes nothing. */
	for (size = 0; size < need; size++) {
		memset(buf, '#', sizeof(buf));
		assert_int_equal(metric_format(&m, 0, buf, size), 0);
		assert_int_equal(buf[0], '#');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_basic),
		cmocka_unit_test(test_valid_points_into_line),
		cmocka_unit_test(test_valid_tabs_and_spaces),
		cmocka_unit_test(test_valid_crlf),
		cmocka_unit_test(test_valid_no_timestamp),
		cmocka_unit_test(test_valid_minus_one_timestamp),
		cmocka_unit_test(test_valid_fractional_timestamp),
		cmocka_unit_test(test_valid_values),
		cmocka_unit_test(test_valid_tags),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_value_overflowing_to_inf),
		cmocka_unit_test(test_empty_value),
		cmocka_unit_test(test_bad_timestamps),
		cmocka_unit_test(test_bad_format),
		cmocka_unit_test(test_blank_lines),
		cmocka_unit_test(test_len_is_honoured),
		cmocka_unit_test(test_status_names),
		cmocka_unit_test(test_strip_key),
		cmocka_unit_test(test_format_with_timestamp),
		cmocka_unit_test(test_format_now),
		cmocka_unit_test(test_format_stripped),
		cmocka_unit_test(test_format_too_small),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
