/*
 * test_sched: when collectors run (collectors/sched.c): the stable
 * per-name offset that spreads runs across the interval, the next slot,
 * and a daemon's restart backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../collectors/sched.c"

static void
test_offset_is_stable_and_inside(void **state)
{
	static const char *const names[] = { "cpu", "memory", "loadavg",
	    "diskspace", "diskio", "network", "vmstat", "sockstat", "self" };
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_true(sched_offset(names[i], 10000) < 10000);
		assert_int_equal(sched_offset(names[i], 10000),
		    sched_offset(names[i], 10000));
	}
	assert_int_equal(sched_offset("cpu", 0), 0);
	assert_int_equal(sched_offset("cpu", 1), 0);
}

/* A hundred collectors do not all land in one tenth of the interval. */
static void
test_offsets_spread(void **state)
{
	int	bins[10] = { 0 }, i, used = 0;
	char	name[32];

	(void)state;
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "collector%d", i);
		bins[sched_offset(name, 10000) / 1000]++;
	}
	for (i = 0; i < 10; i++) {
		assert_true(bins[i] < 30);
		used += bins[i] > 0;
	}
	assert_true(used >= 8);
}

static void
test_next_slot(void **state)
{
	(void)state;
	/* interval 10 s, offset 3 s: slots at ...3000, 13000, 23000... */
	assert_int_equal(sched_next(0, 10000, 3000), 3000);
	assert_int_equal(sched_next(2999, 10000, 3000), 3000);
	assert_int_equal(sched_next(3000, 10000, 3000), 13000);	/* after now */
	assert_int_equal(sched_next(3001, 10000, 3000), 13000);
	assert_int_equal(sched_next(123456, 10000, 3000), 133000);
	/* An offset past the interval wraps. */
	assert_int_equal(sched_next(0, 10000, 13000), 3000);
	/* Missed slots are skipped, never run in a burst. */
	assert_int_equal(sched_next(95000, 10000, 3000), 103000);
}

static void
test_next_slot_properties(void **state)
{
	uint64_t	now, t, iv, off;

	(void)state;
	for (iv = 100; iv <= 60000; iv *= 3)
		for (off = 0; off < iv; off += iv / 7 + 1)
			for (now = 0; now < 5 * iv; now += iv / 5 + 13) {
				t = sched_next(now, iv, off);
				assert_true(t > now);
				assert_true(t <= now + iv);
				assert_int_equal(t % iv, off);
			}
}

static void
test_backoff_doubles_to_a_minute(void **state)
{
	(void)state;
	assert_int_equal(sched_backoff(0), 1000);
	assert_int_equal(sched_backoff(1), 2000);
	assert_int_equal(sched_backoff(2), 4000);
	assert_int_equal(sched_backoff(5), 32000);
	assert_int_equal(sched_backoff(6), 60000);
	assert_int_equal(sched_backoff(7), 60000);
	assert_int_equal(sched_backoff(1000000), 60000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offset_is_stable_and_inside),
		cmocka_unit_test(test_offsets_spread),
		cmocka_unit_test(test_next_slot),
		cmocka_unit_test(test_next_slot_properties),
		cmocka_unit_test(test_backoff_doubles_to_a_minute),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
