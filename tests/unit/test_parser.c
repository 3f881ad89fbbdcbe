/*
 * test_parser: the seam between a derive rule and the text it reads
 * (tail/parser.c): a regular expression's named groups become fields in
 * the order parser_field() numbers them, spans into the line; a group
 * that did not take part is NULL; a failed match fills nothing; a format
 * not known is refused by name.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../tail/parser.h"

static void
assert_field(const struct fields *f, int i, const char *name,
    const char *value)
{
	assert_true(i >= 0 && (size_t)i < f->n);
	assert_string_equal(f->v[i].name, name);
	if (value == NULL) {
		assert_null(f->v[i].p);
		assert_int_equal(f->v[i].len, 0);
		return;
	}
	assert_non_null(f->v[i].p);
	assert_int_equal(f->v[i].len, strlen(value));
	assert_memory_equal(f->v[i].p, value, f->v[i].len);
}

static void
test_named_groups(void **state)
{
	const char	*line = "GET /a 404 0.125 x";
	struct parser	*p;
	struct fields	 f;
	char		 err[256];

	(void)state;
	/* Numbered in group order, not in the name table's (by name). */
	p = parser_new("^(?<method>\\S+) (\\S+) (?<status>\\d)(?<rest>\\d\\d) "
	    "(?<t>[0-9.]+)(?: (?<opt>y))?", "", err, sizeof(err));
	assert_non_null(p);
	assert_string_equal(p->ops->kind, "match");
	assert_int_equal(parser_field(p, "method"), 0);
	assert_int_equal(parser_field(p, "status"), 1);
	assert_int_equal(parser_field(p, "rest"), 2);
	assert_int_equal(parser_field(p, "t"), 3);
	assert_int_equal(parser_field(p, "opt"), 4);
	assert_int_equal(parser_field(p, "nope"), -1);
	assert_int_equal(parser_parse(p, line, strlen(line), &f), 1);
	assert_int_equal(f.n, 5);
	assert_field(&f, 0, "method", "GET");
	assert_field(&f, 1, "status", "4");
	assert_field(&f, 2, "rest", "04");
	assert_field(&f, 3, "t", "0.125");
	assert_field(&f, 4, "opt", NULL);	/* did not take part */
	/* Spans point into the line: nothing is copied. */
	assert_ptr_equal(f.v[0].p, line);
	assert_int_equal(parser_parse(p, "nothing", 7, &f), 0);
	/* A length, not a NUL, ends the text. */
	assert_int_equal(parser_parse(p, line, 9, &f), 0);
	parser_free(p);
}

static void
test_no_named_group(void **state)
{
	struct parser	*p;
	struct fields	 f;
	char		 err[256];

	(void)state;
	assert_non_null(p = parser_new("ERROR", "", err, sizeof(err)));
	f.n = 99;
	assert_int_equal(parser_parse(p, "an ERROR here", 13, &f), 1);
	assert_int_equal(f.n, 0);
	assert_int_equal(parser_parse(p, "fine", 4, &f), 0);
	parser_free(p);
}

static void
test_bytes_not_utf8(void **state)
{
	const char	 line[] = "u=\xff\xfe ok";
	struct parser	*p;
	struct fields	 f;
	char		 err[256];

	(void)state;
	assert_non_null(p = parser_new("u=(?<u>\\S+)", "", err, sizeof(err)));
	assert_int_equal(parser_parse(p, line, sizeof(line) - 1, &f), 1);
	assert_field(&f, 0, "u", "\xff\xfe");
	parser_free(p);
}

static void
test_duplicate_names_one_field(void **state)
{
	struct parser	*p;
	struct fields	 f;
	char		 err[256];

	(void)state;
	assert_non_null(p = parser_new("(?J)(?<v>a)|(?<v>b)(?<w>c)", "", err,
	    sizeof(err)));
	assert_int_equal(parser_field(p, "v"), 0);
	assert_int_equal(parser_field(p, "w"), 1);
	assert_int_equal(parser_parse(p, "a", 1, &f), 1);
	assert_field(&f, 0, "v", "a");
	assert_field(&f, 1, "w", NULL);
	parser_free(p);
}

static void
test_refused(void **state)
{
	char	err[256];
	char	many[2048];
	size_t	i, n = 0;

	(void)state;
	assert_null(parser_new("(?<a>x", "", err, sizeof(err)));
	assert_non_null(strstr(err, "missing closing parenthesis"));
	assert_null(parser_new("", "", err, sizeof(err)));
	assert_non_null(strstr(err, "either match or format"));
	assert_null(parser_new("x", "nginx_combined", err, sizeof(err)));
	assert_null(parser_new("", "no_such_format", err, sizeof(err)));
	assert_non_null(strstr(err, "format \"no_such_format\""));
	/* More named groups than struct fields holds. */
	for (i = 0; i <= FIELDS_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "(?<g%zu>x)", i);
	assert_null(parser_new(many, "", err, sizeof(err)));
	assert_non_null(strstr(err, "named groups"));
}

/* A pathological expression on a long line: no match, no crash. */
static void
test_match_limit_is_no_match(void **state)
{
	static char	 line[20000];
	struct parser	*p;
	struct fields	 f;
	char		 err[256];

	(void)state;
	memset(line, 'a', sizeof(line) - 1);
	assert_non_null(p = parser_new("^(?<x>(a+)+)+b", "", err, sizeof(err)));
	assert_int_equal(parser_parse(p, line, sizeof(line) - 1, &f), 0);
	parser_free(p);
}

/* format = NAME: a log format's variables, numbered once, are the fields. */
static void
test_format(void **state)
{
	static const char	 line[] = "192.0.2.4 - - [03/Dec/2026:10:00:00 "
	    "+0000] \"GET /a HTTP/1.1\" 503 12 \"-\" \"curl\"";
	struct parser		*p;
	struct fields		 f;
	char			 err[256];
	int			 st, sc;

	(void)state;
	assert_non_null(p = parser_new("", "nginx_combined", err, sizeof(err)));
	assert_string_equal(p->ops->kind, "format");
	assert_true((st = parser_field(p, "status")) >= 0);
	assert_true((sc = parser_field(p, "status_class")) >= 0);
	assert_int_equal(parser_field(p, "request_time"), -1);
	assert_int_equal(parser_parse(p, line, sizeof(line) - 1, &f), 1);
	assert_string_equal(f.v[st].name, "status");
	assert_memory_equal(f.v[st].p, "503", 3);
	assert_memory_equal(f.v[sc].p, "5xx", 3);
	assert_int_equal(parser_parse(p, "not a line", 10, &f), 0);
	parser_free(p);
	assert_non_null(p = parser_new("", "apache_common", err, sizeof(err)));
	parser_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_named_groups),
		cmocka_unit_test(test_no_named_group),
		cmocka_unit_test(test_bytes_not_utf8),
		cmocka_unit_test(test_duplicate_names_one_field),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_match_limit_is_no_match),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
