/*
 * test_record: a spool record's key and prefix matching (common/record.c),
 * which an output's filter and ferryctl tail both select records by.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "record.h"

static int
matches(const char *line, const char *const *prefixes, size_t n)
{
	return record_key_matches(line, record_key_len(line, strlen(line)),
	    prefixes, n);
}

static void
test_key_is_the_first_field(void **state)
{
	(void)state;
	assert_int_equal(record_key_len("a.b.c 1 1700000000", 18), 5);
	assert_int_equal(record_key_len("a.b\t1", 5), 3);
	assert_int_equal(record_key_len("nospace", 7), 7);
	assert_int_equal(record_key_len(" leading", 8), 0);
	assert_int_equal(record_key_len("", 0), 0);
	/* Only len bytes are looked at: no NUL needed, none trusted. */
	assert_int_equal(record_key_len("abc def", 2), 2);
	assert_int_equal(record_key_len("a\0b c", 5), 3);
}

static void
test_no_prefix_matches_all(void **state)
{
	(void)state;
	assert_true(matches("anything 1", NULL, 0));
	assert_true(matches("", NULL, 0));
}

static void
test_prefixes_any_matches(void **state)
{
	static const char *const p[] = { "servers.", "app." };
	static const char *const empty[] = { "" };

	(void)state;
	assert_true(matches("servers.web1.cpu 1 2", p, 2));
	assert_true(matches("app.x 1 2", p, 2));
	assert_false(matches("other.servers.x 1 2", p, 2));
	/* The key is shorter than the prefix. */
	assert_false(matches("servers 1 2", p, 2));
	/* A prefix never reaches past the key into the value. */
	assert_false(matches("app 1", (const char *const[]){ "app 1" }, 1));
	/* An empty prefix is a prefix of every key. */
	assert_true(matches("x 1", empty, 1));
	/* Case matters, as it does to an output's filter. */
	assert_false(matches("Servers.a 1", p, 2));
}

/*
 * Regression (found by tests/fuzz/fuzz_record.c): a timestamp of twenty
 * digits, which only a corrupt segment holds, overflowed int64_t as it
 * was read; such a line is now no record at all.
 */
static void
test_timestamp_overflow(void **state)
{
	struct record	r;
	const char	*big = "a.b 1 88888888888888888888";
	const char	*max = "a.b 1 9223372036854775807";
	const char	*fits = "a.b 1 922337203685477580";

	(void)state;
	assert_int_equal(record_parse(big, strlen(big), &r), -1);
	assert_int_equal(record_parse(max, strlen(max), &r), -1);
	assert_int_equal(record_parse(fits, strlen(fits), &r), 0);
	assert_true(r.ts == 922337203685477580LL);
}

/* A log record's numbers read as strtoll() would read them. */
static void
test_log_numbers(void **state)
{
	static const struct { const char *v; int64_t want; } cases[] = {
		{ "0", 0 }, { "42", 42 }, { "-7", -7 }, { "+9", 9 },
		{ "9223372036854775807", INT64_MAX },
		{ "9223372036854775808", INT64_MAX },
		{ "99999999999999999999999", INT64_MAX },
		{ "-9223372036854775808", INT64_MIN },
		{ "-9223372036854775809", INT64_MIN },
		{ "12.5", 12 }, { "1e3", 1 }, { "-", 0 }, { "x", 0 },
	};
	struct record	r;
	char		line[200];
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "k {\"line\":%s,\"offset\":%s,"
		    "\"time\":%s,\"text\":\"t\"}", cases[i].v, cases[i].v,
		    cases[i].v);
		assert_int_equal(record_parse(line, strlen(line), &r), 0);
		assert_true(r.lineno == cases[i].want);
		assert_true(r.offset == cases[i].want);
		assert_true(record_seconds(&r) == cases[i].want);
	}
}

/*
 * ferry-tail renders a file's shared pieces once and each line with them:
 * every line must be what the one-step writer makes, and parse back.
 */
static void
test_log_head_reused_across_lines(void **state)
{
	static char	*attrs[] = { "service=web", "dc=eu \"1\"", "bare" };
	static const char *texts[] = { "first", "", "tab\there \"q\"",
	    "a longer line, with \\ and a control \001 byte" };
	struct log_fields f = {
		.key = "systail.nginx.web1", .name = "nginx", .host = "web1",
		.file = "/var/log/\"x\"/access.log", .dev = 2049, .ino = 77,
		.attrs = attrs, .nattrs = 3
	};
	struct log_head	 h;
	struct buf	 one, two;
	struct record	 r;
	size_t		 i;

	(void)state;
	buf_init(&h.text, 0);
	buf_init(&one, 0);
	buf_init(&two, 0);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		f.lineno = (int64_t)i + 1;
		f.offset = (int64_t)i * 100;
		f.end = f.offset + 100;
		f.nlines = (int64_t)i % 2 + 1;
		f.time_ms = 1764751234005ULL + i;
		f.text = texts[i];
		f.textlen = strlen(texts[i]);
		if (i == 0)
			assert_int_equal(record_log_head(&h, &f), 0);
		buf_reset(&one);
		buf_reset(&two);
		assert_int_equal(record_log_append(&one, &f), 0);
		assert_int_equal(record_log_put(&two, &h, &f), 0);
		assert_string_equal(one.p, two.p);
		assert_int_equal(record_parse(two.p, two.len - 1, &r), 0);
		assert_int_equal(r.kind, RECORD_LOG);
	}
	buf_free(&h.text);
	buf_free(&one);
	buf_free(&two);
}

/* Every width of number, and its edges, written and read back the same. */
static void
test_log_numbers_every_width(void **state)
{
	struct log_fields f = {
		.key = "k", .name = "n", .host = "h", .file = "/f",
		.dev = UINT64_MAX, .ino = 0, .text = "x", .textlen = 1
	};
	struct buf	 b;
	struct record	 r;
	int64_t		 v = 1, cases[3];
	size_t		 i;
	int		 w;
	char		 want[64];

	(void)state;
	buf_init(&b, 0);
	for (w = 1; w <= 19; w++) {
		if (w > 1)
			v *= 10;
		cases[0] = v - 1;
		cases[1] = v;
		cases[2] = w == 19 ? INT64_MAX : v * 10 - 1;
		for (i = 0; i < 3; i++) {
			f.lineno = cases[i];
			f.offset = cases[i];
			f.end = cases[i];
			f.time_ms = (uint64_t)cases[i] / 1000;
			buf_reset(&b);
			assert_int_equal(record_log_append(&b, &f), 0);
			assert_int_equal(record_parse(b.p, b.len - 1, &r), 0);
			assert_true(r.lineno == cases[i]);
			assert_true(r.offset == cases[i]);
			assert_true(r.end == cases[i]);
			snprintf(want, sizeof(want), "\"line\":%" PRId64 ",",
			    cases[i]);
			assert_non_null(strstr(b.p, want));
		}
	}
	assert_non_null(strstr(b.p, "\"fid\":\"18446744073709551615:0\""));
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_is_the_first_field),
		cmocka_unit_test(test_no_prefix_matches_all),
		cmocka_unit_test(test_prefixes_any_matches),
		cmocka_unit_test(test_timestamp_overflow),
		cmocka_unit_test(test_log_head_reused_across_lines),
		cmocka_unit_test(test_log_numbers),
		cmocka_unit_test(test_log_numbers_every_width),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
