/*
 * test_bucket: the token bucket behind a collector's rate limits
 * (collectors/bucket.c), driven by explicit monotonic times, no sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../collectors/bucket.c"

static void
test_starts_full(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 100, 500, 1000);
	assert_int_equal(bucket_avail(&b, 1000), 500);
}

static void
test_refills_at_rate_up_to_burst(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 100, 500, 0);
	bucket_take(&b, 500);
	assert_int_equal(bucket_avail(&b, 0), 0);
	assert_int_equal(bucket_avail(&b, 1000), 100);	/* 1 s at 100/s */
	assert_int_equal(bucket_avail(&b, 2500), 250);
	assert_int_equal(bucket_avail(&b, 60000), 500);	/* capped */
}

static void
test_debt_is_repaid_first(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 1000, 1000, 0);
	bucket_take(&b, 3000);		/* a long line, taken whole */
	assert_int_equal(bucket_avail(&b, 0), 0);
	assert_int_equal(bucket_avail(&b, 1500), 0);	/* -2000 + 1500 */
	assert_int_equal(bucket_avail(&b, 3000), 1000);
}

static void
test_clock_going_nowhere(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 100, 100, 5000);
	bucket_take(&b, 100);
	/* An earlier time than the last refill adds nothing. */
	assert_int_equal(bucket_avail(&b, 4000), 0);
	assert_int_equal(bucket_avail(&b, 5000), 0);
	assert_int_equal(bucket_avail(&b, 5500), 50);
}

static void
test_wait_ms(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 1000, 10000, 0);
	assert_int_equal(bucket_wait_ms(&b, 4096, 0), 0);
	bucket_take(&b, 10000);
	assert_int_equal(bucket_wait_ms(&b, 4096, 0), 4096);
	assert_int_equal(bucket_wait_ms(&b, 4096, 96), 4000);
	/* Never more than the burst is waited for. */
	assert_int_equal(bucket_wait_ms(&b, 1e9, 0), 10000);
	/* After the wait, that much is really there. */
	assert_true(bucket_avail(&b, bucket_wait_ms(&b, 4096, 0)) >= 4096);
}

static void
test_zero_rate_never_wakes(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 0, 10, 0);
	bucket_take(&b, 10);
	assert_int_equal(bucket_wait_ms(&b, 1, 0), UINT64_MAX);
}

static void
test_tiny_burst_is_one(void **state)
{
	struct bucket	b;

	(void)state;
	bucket_init(&b, 0.5, 0, 0);
	assert_int_equal(bucket_avail(&b, 0), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starts_full),
		cmocka_unit_test(test_refills_at_rate_up_to_burst),
		cmocka_unit_test(test_debt_is_repaid_first),
		cmocka_unit_test(test_clock_going_nowhere),
		cmocka_unit_test(test_wait_ms),
		cmocka_unit_test(test_zero_rate_never_wakes),
		cmocka_unit_test(test_tiny_burst_is_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
