/*
 * Unit tests for common/selfmetrics.c: counters written as metric lines to
 * the stream self-<proc>, and the latest snapshot read back for status.
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

#include "conf.h"
#include "selfmetrics.h"
#include "spool.h"

struct fixture {
	char			dir[64];
	struct ferry_conf	conf;
};

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-self-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->conf.prefix = "servers";
	f->conf.hostname = "web1.example.com";
	f->conf.spool.segment_size = 1 << 20;
	f->conf.spool.max_size = 1 << 24;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	test_rmtree(f->dir);
	free(f);
	return 0;
}

struct seen {
	char	text[1024];
	int	n;
};

static void
collect(const char *name, uint64_t value, void *arg)
{
	struct seen	*s = arg;
	char		 buf[128];

	snprintf(buf, sizeof(buf), "%s=%llu;", name, (unsigned long long)value);
	strlcat(s->text, buf, sizeof(s->text));
	s->n++;
}

static void
test_lines_are_metrics_under_the_prefix(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	struct spool_reader	*r;
	const char		*line;
	size_t			 len;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "receiver"));
	selfmetrics_add(sm, "accepted", 42);
	assert_int_equal(selfmetrics_write(sm, 1700000000), 0);
	assert_non_null(r = spool_reader_open(f->dir, NULL, "self-receiver", 1, 0));
	assert_int_equal(spool_reader_next(r, &line, &len), 1);
	/* Dots of the hostname would split the Graphite path: they become _. */
	assert_int_equal(len, strlen("servers.web1_example_com.ferry.receiver."
	    "accepted 42 1700000000"));
	assert_memory_equal(line, "servers.web1_example_com.ferry.receiver."
	    "accepted 42 1700000000", len);
	assert_int_equal(spool_reader_next(r, &line, &len), 0);
	spool_reader_close(r);
	selfmetrics_close(sm);
}

struct latest {
	uint64_t	accepted, bad_name;
	int		n, others;
};

static void
keep_latest(const char *name, uint64_t value, void *arg)
{
	struct latest	*l = arg;

	if (strcmp(name, "accepted") == 0)
		l->accepted = value;
	else if (strcmp(name, "rejected.bad_name") == 0)
		l->bad_name = value;
	else
		l->others++;	/* a name cut by where the tail starts */
	l->n++;
}

static void
test_read_returns_latest_snapshot(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	struct seen		 seen;
	struct latest		 latest;
	int			 i;

	memset(&seen, 0, sizeof(seen));
	assert_int_equal(selfmetrics_read(f->dir, NULL, "receiver", collect, &seen), 0);
	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "receiver"));
	/* Enough snapshots that the tail read starts mid-file, mid-line. */
	for (i = 1; i <= 500; i++) {
		selfmetrics_add(sm, "accepted", i);
		selfmetrics_add(sm, "rejected.bad_name", i * 2);
		assert_int_equal(selfmetrics_write(sm, 1700000000 + i), 0);
	}
	selfmetrics_close(sm);
	memset(&latest, 0, sizeof(latest));
	assert_int_equal(selfmetrics_read(f->dir, NULL, "receiver", keep_latest,
	    &latest), 1);
	/* Later lines win, and the part line the tail starts in is skipped. */
	assert_int_equal(latest.accepted, 500);
	assert_int_equal(latest.bad_name, 1000);
	assert_int_equal(latest.others, 0);
	assert_true(latest.n > 2);
}

static void
test_read_skips_empty_newest_segment(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	struct seen		 seen;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "forwarder"));
	selfmetrics_add(sm, "output.hg.sent", 7);
	assert_int_equal(selfmetrics_write(sm, 1700000000), 0);
	selfmetrics_close(sm);
	/* A restart opens a fresh, empty segment before it writes anything. */
	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "forwarder"));
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(selfmetrics_read(f->dir, NULL, "forwarder", collect, &seen), 1);
	assert_string_equal(seen.text, "output.hg.sent=7;");
	selfmetrics_close(sm);
}

static void
test_write_with_nothing_queued_writes_nothing(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	struct spool_seg	*segs;
	size_t			 n;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "sink"));
	assert_int_equal(selfmetrics_write(sm, 1700000000), 0);
	assert_int_equal(spool_list(f->dir, NULL, &segs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(segs[0].size, 0);
	free(segs);
	selfmetrics_close(sm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_are_metrics_under_the_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_returns_latest_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_skips_empty_newest_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_with_nothing_queued_writes_nothing, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
