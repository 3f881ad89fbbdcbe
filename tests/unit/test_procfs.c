/*
 * test_procfs: the /proc readers and parsers of common/procfs.c that every
 * built-in collector stands on. Files are written to a temporary folder so
 * each case controls exactly what the "kernel" printed: lines without a
 * last newline, lines longer than the buffer, odd spacing, overflowing
 * numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "procfs.h"

struct fixture {
	char	dir[64];
	char	path[128];
};

/* What procfs_lines() handed over: the lines joined with '|'. */
struct seen {
	char	text[16384];
	int	n;
	int	stop_after;	/* 0: never stop */
};

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-procfs-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/file", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(const struct fixture *f, const char *text, size_t len)
{
	FILE	*fp;

	assert_non_null(fp = fopen(f->path, "w"));
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static int
collect_line(char *line, void *arg)
{
	struct seen	*s = arg;
	size_t		 len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "%s%s", s->n ? "|" : "", line);
	s->n++;
	return s->stop_after != 0 && s->n >= s->stop_after ? -1 : 0;
}

static void
test_lines_basic(void **state)
{
	struct fixture	*f = *state;
	struct seen	 s = { "", 0, 0 };

	write_file(f, "a 1\nb 2\n\nc 3\n", 13);
	assert_int_equal(procfs_lines(f->path, collect_line, &s), 0);
	assert_string_equal(s.text, "a 1|b 2||c 3");
	assert_int_equal(s.n, 4);
}

static void
test_lines_last_without_newline(void **state)
{
	struct fixture	*f = *state;
	struct seen	 s = { "", 0, 0 };

	write_file(f, "a\nlast", 6);
	assert_int_equal(procfs_lines(f->path, collect_line, &s), 0);
	assert_string_equal(s.text, "a|last");
}

static void
test_lines_stop_early(void **state)
{
	struct fixture	*f = *state;
	struct seen	 s = { "", 0, 2 };

	write_file(f, "1\n2\n3\n4\n", 8);
	assert_int_equal(procfs_lines(f->path, collect_line, &s), 0);
	assert_string_equal(s.text, "1|2");
}

/* A line longer than the buffer is skipped whole, and the next one is intact. */
static void
test_lines_overlong_skipped(void **state)
{
	struct fixture	*f = *state;
	struct seen	 s = { "", 0, 0 };
	size_t		 big = PROCFS_LINE_MAX * 3 + 17, len;
	char		*text;

	assert_non_null(text = malloc(big + 64));
	len = (size_t)sprintf(text, "cpu 1 2\nintr ");
	memset(text + len, '7', big);
	len += big;
	len += (size_t)sprintf(text + len, "\nctxt 42\n");
	write_file(f, text, len);
	free(text);
	assert_int_equal(procfs_lines(f->path, collect_line, &s), 0);
	assert_string_equal(s.text, "cpu 1 2|ctxt 42");
}

/* Exactly as long as the buffer allows (PROCFS_LINE_MAX - 1 bytes) still fits. */
static void
test_lines_longest_fitting(void **state)
{
	struct fixture	*f = *state;
	struct seen	*s;
	char		 text[PROCFS_LINE_MAX + 8];

	assert_non_null(s = calloc(1, sizeof(*s)));
	memset(text, 'x', PROCFS_LINE_MAX - 2);
	text[PROCFS_LINE_MAX - 2] = '\n';
	memcpy(text + PROCFS_LINE_MAX - 1, "y\n", 2);
	write_file(f, text, PROCFS_LINE_MAX + 1);
	assert_int_equal(procfs_lines(f->path, collect_line, s), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(strlen(s->text), PROCFS_LINE_MAX - 2 + 2);
	free(s);
}

static void
test_lines_missing_file(void **state)
{
	struct seen	s = { "", 0, 0 };

	(void)state;
	assert_int_equal(procfs_lines("/nonexistent/ferry", collect_line, &s), -1);
	assert_int_equal(s.n, 0);
}

static void
test_read(void **state)
{
	struct fixture	*f = *state;
	char		 buf[8];

	write_file(f, "0.52 0.58", 9);
	assert_int_equal(procfs_read(f->path, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "0.52 0.");
	assert_int_equal(procfs_read("/nonexistent/ferry", buf, sizeof(buf)), -1);
}

static void
test_split(void **state)
{
	char	line[] = "  cpu0 \t 10  20\t30 ";
	char	*f[8];

	(void)state;
	assert_int_equal(procfs_split(line, f, 8), 4);
	assert_string_equal(f[0], "cpu0");
	assert_string_equal(f[1], "10");
	assert_string_equal(f[2], "20");
	assert_string_equal(f[3], "30");
}

static void
test_split_max(void **state)
{
	char	line[] = "a b c d";
	char	*f[2];
	char	empty[] = "   ";

	(void)state;
	assert_int_equal(procfs_split(line, f, 2), 2);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "b");
	assert_int_equal(procfs_split(empty, f, 2), 0);
}

static void
test_u64(void **state)
{
	uint64_t	v;

	(void)state;
	assert_int_equal(procfs_u64("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(procfs_u64("18446744073709551615", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(procfs_u64("18446744073709551616", &v), -1);
	assert_int_equal(procfs_u64("", &v), -1);
	assert_int_equal(procfs_u64("-1", &v), -1);
	assert_int_equal(procfs_u64("12a", &v), -1);
	assert_int_equal(procfs_u64(" 1", &v), -1);
}

static void
test_keyval(void **state)
{
	char		 mem[] = "MemFree:        24190008 kB";
	char		 vm[] = "pgpgin 123";
	char		 huge[] = "HugePages_Total:       0";
	char		 bad1[] = "MemFree: x kB";
	char		 bad2[] = "Foo: 1 MB";
	char		 bad3[] = "lonely";
	char		 bad4[] = "a 1 kB extra";
	char		*key;
	uint64_t	 v;

	(void)state;
	assert_int_equal(procfs_keyval(mem, &key, &v), 0);
	assert_string_equal(key, "MemFree");
	assert_true(v == 24190008ULL * 1024);
	assert_int_equal(procfs_keyval(vm, &key, &v), 0);
	assert_string_equal(key, "pgpgin");
	assert_int_equal(v, 123);
	assert_int_equal(procfs_keyval(huge, &key, &v), 0);
	assert_string_equal(key, "HugePages_Total");
	assert_int_equal(v, 0);
	assert_int_equal(procfs_keyval(bad1, &key, &v), -1);
	assert_int_equal(procfs_keyval(bad2, &key, &v), -1);
	assert_int_equal(procfs_keyval(bad3, &key, &v), -1);
	assert_int_equal(procfs_keyval(bad4, &key, &v), -1);
}

static void
test_unescape(void **state)
{
	char	a[] = "/mnt/my\\040disk";
	char	b[] = "/a\\134b\\011c";
	char	c[] = "/plain\\9x\\";

	(void)state;
	procfs_unescape(a);
	assert_string_equal(a, "/mnt/my disk");
	procfs_unescape(b);
	assert_string_equal(b, "/a\\b\tc");
	procfs_unescape(c);		/* not an escape: left alone */
	assert_string_equal(c, "/plain\\9x\\");
}

static void
test_name(void **state)
{
	char	buf[16];

	(void)state;
	assert_int_equal(procfs_name(buf, sizeof(buf), "eth0.100"), 8);
	assert_string_equal(buf, "eth0_100");
	procfs_name(buf, sizeof(buf), "/var/log");
	assert_string_equal(buf, "_var_log");
	procfs_name(buf, sizeof(buf), "Active(anon)");
	assert_string_equal(buf, "Active_anon_");
	procfs_name(buf, sizeof(buf), "dm-0 x\xc3\xa9");
	assert_string_equal(buf, "dm-0_x__");
	/* Cut like snprintf: the length it needed comes back. */
	assert_int_equal(procfs_name(buf, sizeof(buf), "0123456789abcdefXYZ"), 19);
	assert_string_equal(buf, "0123456789abcde");
	/* In place is allowed. */
	strcpy(buf, "a.b/c");
	procfs_name(buf, sizeof(buf), buf);
	assert_string_equal(buf, "a_b_c");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_last_without_newline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_stop_early, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_overlong_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_longest_fitting, setup, teardown),
		cmocka_unit_test(test_lines_missing_file),
		cmocka_unit_test_setup_teardown(test_read, setup, teardown),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_max),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_keyval),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
