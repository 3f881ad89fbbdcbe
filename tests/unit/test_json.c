/*
 * test_json: JSON strings (common/json.c), as ferryctl --json, ferryctl
 * tail --json and the heartbeat print them, and the buffer side of
 * common/jsonread.c.
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
#include "json.h"

/* What json_strn writes for len bytes at s, as a C string (caller frees). */
static char *
render(const char *s, size_t len)
{
	char	*buf = NULL;
	size_t	 size = 0;
	FILE	*fp;

	assert_non_null(fp = open_memstream(&buf, &size));
	json_strn(fp, s, len);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void
assert_renders(const char *s, size_t len, const char *want)
{
	char	*got = render(s, len);

	assert_string_equal(got, want);
	free(got);
}

static void
test_plain_and_escapes(void **state)
{
	(void)state;
	assert_renders("", 0, "\"\"");
	assert_renders("a.b 1 1700000000", 16, "\"a.b 1 1700000000\"");
	assert_renders("q\"b\\", 4, "\"q\\\"b\\\\\"");
	assert_renders("t\tn\n", 4, "\"t\\tn\\n\"");
	assert_renders("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	/* UTF-8 passes through as it is. */
	assert_renders("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
}

static void
test_length_not_nul(void **state)
{
	(void)state;
	/* A NUL inside is escaped, and the bytes after it are kept. */
	assert_renders("a\0b", 3, "\"a\\u0000b\"");
	/* Only len bytes are written. */
	assert_renders("abcdef", 3, "\"abc\"");
}

static void
test_str_is_strn_of_strlen(void **state)
{
	char	*buf = NULL;
	size_t	 size = 0;
	FILE	*fp;

	(void)state;
	assert_non_null(fp = open_memstream(&buf, &size));
	json_str(fp, "x\"y");
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(buf, "\"x\\\"y\"");
	free(buf);
}

/*
 * Regression (found by tests/fuzz/fuzz_record.c under clang's UBSan): an
 * absent member of a log record is an empty span with a NULL pointer, and
 * NULL + 0 is undefined; each function takes it as "".
 */
static void
test_empty_span_may_be_null(void **state)
{
	struct buf	b;
	struct json	j;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(json_add_escaped(&b, NULL, 0), 0);
	assert_int_equal(json_add_string(&b, NULL, 0), 0);
	assert_int_equal(json_unescape(&b, NULL, 0), 0);
	assert_string_equal(b.p, "\"\"");
	json_init(&j, NULL, 0);
	assert_int_equal(json_end(&j), 0);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_escapes),
		cmocka_unit_test(test_length_not_nul),
		cmocka_unit_test(test_str_is_strn_of_strlen),
		cmocka_unit_test(test_empty_span_may_be_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
