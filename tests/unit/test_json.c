/*
 * test_json: JSON strings (common/json.c), as ferryctl --json, ferryctl
 * tail --json and the heartbeat print them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_and_escapes),
		cmocka_unit_test(test_length_not_nul),
		cmocka_unit_test(test_str_is_strn_of_strlen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
