/*
 * Unit tests for common/backlog.c: an output's unsent bytes, records and
 * oldest record, from its cursors and the spool.
 */
#include <sys/stat.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "backlog.h"
#include "progress.h"
#include "spoolseg.h"

struct fixture {
	char		 dir[64];
	char		 spool[96];
	char		 db[96];
	struct progress	*p;
};

static void
write_seg(struct fixture *f, const char *stream, uint64_t seq, const char *text)
{
	char	path[256];
	FILE	*fp;

	assert_int_equal(spool_seg_path(path, sizeof(path), f->spool, stream, seq), 0);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-backlog-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->spool, sizeof(f->spool), "%s/spool", f->dir);
	snprintf(f->db, sizeof(f->db), "%s/ferry.db", f->dir);
	if (mkdir(f->spool, 0750) == -1 || (f->p = progress_open(f->db)) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	progress_close(f->p);
	test_rmtree(f->dir);
	free(f);
	return 0;
}

static void
test_empty_spool_has_no_backlog(void **state)
{
	struct fixture	*f = *state;
	struct backlog	 b;

	assert_int_equal(backlog_compute(f->p, f->spool, NULL, "hg", &b), 0);
	assert_int_equal(b.bytes, 0);
	assert_int_equal(b.records, 0);
	assert_int_equal(b.oldest, 0);
}

static void
test_counts_from_the_cursor(void **state)
{
	struct fixture	*f = *state;
	struct backlog	 b;

	/* 3 lines of 8 bytes, then 2 more in the next segment. */
	write_seg(f, "receiver", 1, "a 1 100\nb 2 200\nc 3 300\n");
	write_seg(f, "receiver", 2, "d 4 400\ne 5 500\n");
	/* Sent up to the end of "a": two left in seq 1, two in seq 2. */
	assert_int_equal(progress_cursor_set(f->p, "hg", "receiver", 1, 8), 0);
	assert_int_equal(backlog_compute(f->p, f->spool, NULL, "hg", &b), 0);
	assert_int_equal(b.bytes, 16 + 16);
	assert_int_equal(b.records, 4);
	assert_int_equal(b.oldest, 200);
	/* The cheap walk: the same bytes, nothing read. */
	assert_int_equal(backlog_bytes(f->p, f->spool, NULL, "hg", &b), 0);
	assert_int_equal(b.bytes, 16 + 16);
	assert_int_equal(b.records, 0);
	assert_int_equal(b.oldest, 0);
}

static void
test_no_cursor_counts_everything(void **state)
{
	struct fixture	*f = *state;
	struct backlog	 b;

	write_seg(f, "receiver", 3, "a 1 300\n");
	write_seg(f, "self-receiver", 1, "x 1 100\ny 2 150\n");
	assert_int_equal(backlog_compute(f->p, f->spool, NULL, "new", &b), 0);
	assert_int_equal(b.records, 3);
	assert_int_equal(b.bytes, 24);
	assert_int_equal(b.oldest, 100);
}

static void
test_passed_segments_do_not_count(void **state)
{
	struct fixture	*f = *state;
	struct backlog	 b;

	write_seg(f, "receiver", 1, "a 1 100\n");
	write_seg(f, "receiver", 2, "b 2 200\n");
	assert_int_equal(progress_cursor_set(f->p, "hg", "receiver", 2, 8), 0);
	assert_int_equal(backlog_compute(f->p, f->spool, NULL, "hg", &b), 0);
	assert_int_equal(b.records, 0);
	assert_int_equal(b.bytes, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_spool_has_no_backlog, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counts_from_the_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_cursor_counts_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_passed_segments_do_not_count, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
