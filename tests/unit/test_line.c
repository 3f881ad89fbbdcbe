/*
 * test_line: what a collector's line becomes (collectors/line.c): the
 * "<prefix>.<host>." prefix, validation by the receiver's parser with its
 * reject reasons, and the normalised "name value ts\n".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../collectors/line.c"

#define NOW	1700000000

static char	prefix[512];
static size_t	prefixlen;

static int
setup(void **state)
{
	(void)state;
	prefixlen = line_prefix(prefix, sizeof(prefix), "servers", "web1");
	return 0;
}

/* Run one line through the collector path; the output as a string. */
static int
collect(const char *line, char *out, size_t size)
{
	size_t	n = 0;
	int	status;

	memset(out, 0, size);
	status = line_collector(prefix, prefixlen, line, strlen(line), 4096,
	    NOW, out, size - 1, &n);
	if (status == METRIC_OK)
		out[n] = '\0';
	return status;
}

static void
assert_collect(const char *line, const char *want)
{
	char	out[LINE_MAX_BYTES];

	assert_int_equal(collect(line, out, sizeof(out)), METRIC_OK);
	assert_string_equal(out, want);
}

static void
assert_reject(const char *line, int status)
{
	char	out[LINE_MAX_BYTES];

	assert_int_equal(collect(line, out, sizeof(out)), status);
}

static void
test_prefix(void **state)
{
	char	buf[64];

	(void)state;
	assert_string_equal(prefix, "servers.web1.");
	assert_int_equal(prefixlen, strlen("servers.web1."));
	/* A hostname's dots and odd bytes do not split or break the name. */
	assert_int_equal(line_prefix(buf, sizeof(buf), "servers",
	    "web1.example.com"), strlen("servers.web1_example_com."));
	assert_string_equal(buf, "servers.web1_example_com.");
	line_prefix(buf, sizeof(buf), "a", "h o\tst");
	assert_string_equal(buf, "a.h_o_st.");
	/* No prefix: just the host. */
	line_prefix(buf, sizeof(buf), "", "web1");
	assert_string_equal(buf, "web1.");
	/* Too small: 0, never a cut prefix. */
	assert_int_equal(line_prefix(buf, 8, "servers", "web1"), 0);
}

static void
test_prefixed_and_stamped(void **state)
{
	(void)state;
	assert_collect("cpu.total.user 12.5",
	    "servers.web1.cpu.total.user 12.5 1700000000\n");
	assert_collect("loadavg.01 0.25 1699999999",
	    "servers.web1.loadavg.01 0.25 1699999999\n");
	assert_collect("memory.MemFree\t1024\r",
	    "servers.web1.memory.MemFree 1024 1700000000\n");
	/* Leading blanks are not part of the name. */
	assert_collect("  \tx.y 1", "servers.web1.x.y 1 1700000000\n");
}

static void
test_blank_is_not_counted(void **state)
{
	(void)state;
	assert_reject("", METRIC_EMPTY);
	assert_reject("   ", METRIC_EMPTY);
	assert_reject("\r", METRIC_EMPTY);
	assert_reject(" \t ", METRIC_EMPTY);
}

static void
test_rejects_with_receiver_reasons(void **state)
{
	(void)state;
	assert_reject("garbage", METRIC_BAD_FORMAT);
	assert_reject("a b c d", METRIC_BAD_FORMAT);
	assert_reject("x.y notanumber", METRIC_BAD_VALUE);
	assert_reject("x.y 1 yesterday", METRIC_BAD_TIMESTAMP);
	assert_reject("\x01\x02\xff 3", METRIC_BAD_NAME);
	/* The name is checked with the prefix: ".x" makes "web1..x". */
	assert_reject(".x 1", METRIC_BAD_NAME);
	assert_reject("x. 1", METRIC_BAD_NAME);
	assert_reject("x..y 1", METRIC_BAD_NAME);
}

static void
test_too_long(void **state)
{
	char	line[6000], out[LINE_MAX_BYTES];
	size_t	n = 0;

	(void)state;
	memset(line, 'a', sizeof(line));
	memcpy(line + 4000, " 1", 2);
	/* Over max_line: too_long before anything else. */
	assert_int_equal(line_collector(prefix, prefixlen, line, 4002, 4001,
	    NOW, out, sizeof(out), &n), METRIC_TOO_LONG);
	assert_int_equal(line_collector(prefix, prefixlen, line, 4002, 4096,
	    NOW, out, sizeof(out), &n), METRIC_OK);
	/* name, space, "1", space, ten digits, newline */
	assert_int_equal(n, prefixlen + 4000 + 1 + 1 + 1 + 10 + 1);
	/* Fits max_line, but not the output buffer once prefixed. */
	assert_int_equal(line_collector(prefix, prefixlen, line, 4002, 4096,
	    NOW, out, 4010, &n), METRIC_TOO_LONG);
}

static void
test_plain_for_drop_files(void **state)
{
	char	out[256];
	size_t	n = 0;

	(void)state;
	assert_int_equal(line_plain("app.requests 7 1690000000", 25, 4096, NOW,
	    out, sizeof(out), &n), METRIC_OK);
	assert_memory_equal(out, "app.requests 7 1690000000\n", n);
	assert_int_equal(line_plain("app.requests", 12, 4096, NOW, out,
	    sizeof(out), &n), METRIC_BAD_FORMAT);
	assert_int_equal(line_plain("a 1", 3, 2, NOW, out, sizeof(out), &n),
	    METRIC_TOO_LONG);
}

static void
test_sanitize(void **state)
{
	char	buf[8];

	(void)state;
	line_sanitize(buf, sizeof(buf), "a\x01\xff" "bcdefghij", 12);
	assert_string_equal(buf, "a??bcde");
	line_sanitize(buf, sizeof(buf), "xy", 2);
	assert_string_equal(buf, "xy");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefixed_and_stamped),
		cmocka_unit_test(test_blank_is_not_counted),
		cmocka_unit_test(test_rejects_with_receiver_reasons),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_plain_for_drop_files),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
