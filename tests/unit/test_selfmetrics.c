/*
 * Unit tests for common/selfmetrics.c: counters written as metric lines to
 * the stream self-<proc>, the latest snapshot read back for status, and
 * when a snapshot of the declared values is due.
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
#include "spoolread.h"
#include "spoolseg.h"

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


/* The latest value of one name, read back as ferryctl status would. */
struct one {
	const char	*name;
	uint64_t	 value;
	int		 found;
};

static void
find_one(const char *name, uint64_t value, void *arg)
{
	struct one	*o = arg;

	if (strcmp(name, o->name) == 0) {
		o->value = value;
		o->found = 1;
	}
}

static int
read_one(const struct fixture *f, const char *proc, const char *name,
    uint64_t *v)
{
	struct one	o = { name, 0, 0 };

	(void)selfmetrics_read(f->dir, NULL, proc, find_one, &o);
	*v = o.value;
	return o.found;
}

/* A value behind a function, like the spool's torn bytes. */
static int
read_fn(const void *arg, uint64_t *v)
{
	*v = *(const uint64_t *)arg;
	return 1;
}

/*
 * The receiver wrote torn_bytes but left it out of the sum it watched, so
 * a torn tail cut at start reached status only when something else moved.
 * With one declaration that cannot happen: each value alone, through a
 * pointer or a function, makes the next publish write.
 */
static void
test_each_declared_value_alone_writes_a_snapshot(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 v[5] = { 0 }, torn = 0, got, now = 1000000;
	const char		*names[] = { "accepted", "dropped", "refused",
				    "rejected.bad_name", "unfinished" };
	size_t			 i;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "receiver"));
	for (i = 0; i < 5; i++)
		assert_int_equal(selfmetrics_declare(sm, names[i], &v[i], 0), 0);
	assert_int_equal(selfmetrics_declare_fn(sm, "torn_bytes", read_fn,
	    &torn, 0), 0);
	/* The first publish writes; then nothing moved, nothing is due. */
	assert_int_equal(selfmetrics_publish(sm, now, 0), 1);
	assert_int_equal(selfmetrics_publish(sm, ++now, 0), 0);
	for (i = 0; i < 5; i++) {
		v[i] = 10 + i;
		assert_int_equal(selfmetrics_publish(sm, ++now, 0), 1);
		assert_true(read_one(f, "receiver", names[i], &got));
		assert_int_equal(got, 10 + i);
		assert_int_equal(selfmetrics_publish(sm, ++now, 0), 0);
	}
	torn = 37;
	assert_int_equal(selfmetrics_publish(sm, ++now, 0), 1);
	assert_true(read_one(f, "receiver", "torn_bytes", &got));
	assert_int_equal(got, 37);
	selfmetrics_close(sm);
}

/* A level rides along with a snapshot but does not make one. */
static void
test_quiet_value_rides_along(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 sent = 0, bytes = 0, got, now = 1000000;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "forwarder"));
	selfmetrics_pace(sm, 0, 60000);
	(void)selfmetrics_declare(sm, "output.a.sent", &sent, 0);
	(void)selfmetrics_declare(sm, "spool.bytes", &bytes, SELFMETRICS_QUIET);
	assert_int_equal(selfmetrics_publish(sm, now, 0), 1);
	bytes = 4096;
	assert_int_equal(selfmetrics_publish(sm, now + 1, 0), 0);
	sent = 1;
	assert_int_equal(selfmetrics_publish(sm, now + 2, 0), 1);
	assert_true(read_one(f, "forwarder", "spool.bytes", &got));
	assert_int_equal(got, 4096);
	/* Unmoved, it is written again a minute after the last. */
	bytes = 8192;
	assert_int_equal(selfmetrics_due(sm), now + 2 + 60000);
	assert_int_equal(selfmetrics_publish(sm, now + 60001, 0), 0);
	assert_int_equal(selfmetrics_publish(sm, now + 60002, 0), 1);
	assert_true(read_one(f, "forwarder", "spool.bytes", &got));
	assert_int_equal(got, 8192);
	selfmetrics_close(sm);
}

static int
read_if_set(const void *arg, uint64_t *v)
{
	*v = (uint64_t)*(const int64_t *)arg;
	return *(const int64_t *)arg >= 0;
}

/* Left out while zero, or while it has none; hidden ones only watched. */
static void
test_nonzero_absent_and_hidden_values(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 cut = 0, since = 0, got, now = 1000000;
	int64_t			 duration = -1;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "collectors"));
	(void)selfmetrics_declare(sm, "cpu.cut", &cut, SELFMETRICS_NONZERO);
	(void)selfmetrics_declare_fn(sm, "cpu.duration_ms", read_if_set,
	    &duration, 0);
	(void)selfmetrics_declare(sm, "since", &since, SELFMETRICS_HIDDEN);
	assert_int_equal(selfmetrics_publish(sm, now, 0), 1);
	assert_false(read_one(f, "collectors", "cpu.cut", &got));
	assert_false(read_one(f, "collectors", "cpu.duration_ms", &got));
	/* A value that comes, even 0, is a move. */
	duration = 0;
	assert_int_equal(selfmetrics_publish(sm, now + 1, 0), 1);
	assert_true(read_one(f, "collectors", "cpu.duration_ms", &got));
	assert_int_equal(got, 0);
	cut = 2;
	assert_int_equal(selfmetrics_publish(sm, now + 2, 0), 1);
	assert_true(read_one(f, "collectors", "cpu.cut", &got));
	assert_int_equal(got, 2);
	since = 1700000000;
	assert_int_equal(selfmetrics_publish(sm, now + 3, 0), 1);
	assert_false(read_one(f, "collectors", "since", &got));
	selfmetrics_close(sm);
}

/* A moved value waits min_ms after the last snapshot; max 0: never unmoved. */
static void
test_pace(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 n = 0, now = 1000000;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "sink"));
	selfmetrics_pace(sm, 1000, 0);
	(void)selfmetrics_declare(sm, "stored", &n, 0);
	/* Nothing moved from 0 and no minute rule: nothing yet. */
	assert_int_equal(selfmetrics_due(sm), UINT64_MAX);
	assert_int_equal(selfmetrics_publish(sm, now, 0), 0);
	n = 1;
	assert_int_equal(selfmetrics_publish(sm, now, 0), 1);
	n = 2;
	assert_int_equal(selfmetrics_due(sm), now + 1000);
	assert_int_equal(selfmetrics_publish(sm, now + 999, 0), 0);
	assert_int_equal(selfmetrics_publish(sm, now + 1000, 0), 1);
	assert_int_equal(selfmetrics_due(sm), UINT64_MAX);
	/* Forced (a process that stops) it writes whatever moved. */
	assert_int_equal(selfmetrics_publish(sm, now + 1001, 1), 1);
	selfmetrics_close(sm);
}

/* Held, the first snapshot waits for a move or the minute. */
static void
test_hold(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 n = 0, now = 1000000;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "periodic"));
	(void)selfmetrics_declare(sm, "rows.pruned", &n, 0);
	selfmetrics_hold(sm, now);
	assert_int_equal(selfmetrics_publish(sm, now + 1, 0), 0);
	assert_int_equal(selfmetrics_due(sm), now + 60000);
	n = 3;
	assert_int_equal(selfmetrics_publish(sm, now + 2, 0), 1);
	selfmetrics_close(sm);
}

/* A set declared again (a collector came or went) is news. */
static void
test_declared_again_is_a_move(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	uint64_t		 a = 5, b = 0, got, now = 1000000;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "collectors"));
	(void)selfmetrics_declare(sm, "a.runs", &a, 0);
	assert_int_equal(selfmetrics_publish(sm, now, 0), 1);
	selfmetrics_forget(sm);
	(void)selfmetrics_declare(sm, "a.runs", &a, 0);
	(void)selfmetrics_declare(sm, "b.runs", &b, 0);
	assert_int_equal(selfmetrics_publish(sm, now + 1, 0), 1);
	assert_true(read_one(f, "collectors", "b.runs", &got));
	assert_int_equal(got, 0);
	assert_int_equal(selfmetrics_publish(sm, now + 2, 0), 0);
	selfmetrics_forget(sm);
	assert_int_equal(selfmetrics_publish(sm, now + 3, 0), 1);
	selfmetrics_close(sm);
}

/* More values than one write holds: written in pieces, none lost. */
static void
test_large_snapshot_written_whole(void **state)
{
	struct fixture		*f = *state;
	struct selfmetrics	*sm;
	static uint64_t		 v[150];
	char			 name[64];
	uint64_t		 got;
	size_t			 i;

	assert_non_null(sm = selfmetrics_open(&f->conf, f->dir, "collectors"));
	for (i = 0; i < 150; i++) {
		v[i] = 1000 + i;
		snprintf(name, sizeof(name), "collector_%03zu.runs", i);
		assert_int_equal(selfmetrics_declare(sm, name, &v[i], 0), 0);
	}
	assert_int_equal(selfmetrics_publish(sm, 1000000, 0), 1);
	for (i = 0; i < 150; i += 7) {
		snprintf(name, sizeof(name), "collector_%03zu.runs", i);
		assert_true(read_one(f, "collectors", name, &got));
		assert_int_equal(got, 1000 + i);
	}
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
		cmocka_unit_test_setup_teardown(test_each_declared_value_alone_writes_a_snapshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_value_rides_along, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nonzero_absent_and_hidden_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_declared_again_is_a_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_snapshot_written_whole, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
