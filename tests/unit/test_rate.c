/*
 * test_rate: counters into deltas and rates (common/rate.c), and the state
 * file that carries them between two runs of a one-shot collector. Time is
 * passed in, so nothing here sleeps.
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

#include "rate.h"

#define BOOT	"3bf07cdb-95af-4a82-a12b-9852d59c9985"

struct fixture {
	char		 dir[64];
	char		 path[128];
	struct rate	*r;
};

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-rate-XXXXXX");
	if (mkdtemp(f->dir) == NULL || (f->r = rate_new()) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/cpu.state", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	unlink(f->path);
	rmdir(f->dir);
	rate_free(f->r);
	free(f);
	return 0;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static void
test_first_sample_has_no_rate(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;
	double		 ps;

	assert_true(rate_begin(f->r, 1000) == 0);
	assert_int_equal(rate_delta(f->r, "a", 10, &d), 0);
	assert_int_equal(rate_per_sec(f->r, "b", 10, &ps), 0);
	rate_end(f->r);
	assert_int_equal(rate_count(f->r), 2);
}

static void
test_delta_and_rate(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;
	double		 ps;

	rate_begin(f->r, 1000);
	rate_delta(f->r, "a", 10, &d);
	rate_per_sec(f->r, "b", 100, &ps);
	rate_end(f->r);

	assert_true(rate_begin(f->r, 3000) == 2.0);
	assert_true(rate_elapsed(f->r) == 2.0);
	assert_int_equal(rate_delta(f->r, "a", 15, &d), 1);
	assert_int_equal(d, 5);
	assert_int_equal(rate_per_sec(f->r, "b", 300, &ps), 1);
	assert_true(ps == 100.0);
	rate_end(f->r);
}

/* A counter that went backwards (a reset, a device re-added) has no delta
 * once, then counts from its new value. */
static void
test_counter_reset(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;

	rate_begin(f->r, 1000);
	rate_delta(f->r, "a", 1000, &d);
	rate_end(f->r);
	rate_begin(f->r, 2000);
	assert_int_equal(rate_delta(f->r, "a", 5, &d), 0);
	rate_end(f->r);
	rate_begin(f->r, 3000);
	assert_int_equal(rate_delta(f->r, "a", 8, &d), 1);
	assert_int_equal(d, 3);
	rate_end(f->r);
}

/* Keys not seen in a sample are forgotten (an interface that went away). */
static void
test_unseen_keys_forgotten(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;

	rate_begin(f->r, 1000);
	rate_delta(f->r, "eth0", 1, &d);
	rate_delta(f->r, "eth1", 1, &d);
	rate_delta(f->r, "eth2", 1, &d);
	rate_end(f->r);
	rate_begin(f->r, 2000);
	rate_delta(f->r, "eth0", 2, &d);
	rate_delta(f->r, "eth2", 2, &d);
	rate_end(f->r);
	assert_int_equal(rate_count(f->r), 2);
	/* eth1 comes back: a first sighting again. */
	rate_begin(f->r, 3000);
	assert_int_equal(rate_delta(f->r, "eth1", 5, &d), 0);
	assert_int_equal(rate_delta(f->r, "eth2", 5, &d), 1);
	assert_int_equal(d, 3);
	rate_end(f->r);
}

/* Lookups keep working when keys come in another order than last time. */
static void
test_order_changes(void **state)
{
	struct fixture	*f = *state;
	char		 key[16];
	uint64_t	 d;
	int		 i;

	rate_begin(f->r, 1000);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		rate_delta(f->r, key, (uint64_t)i, &d);
	}
	rate_end(f->r);
	rate_begin(f->r, 2000);
	for (i = 99; i >= 0; i -= 3) {
		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(rate_delta(f->r, key, (uint64_t)i * 2, &d), 1);
		assert_int_equal(d, i);
	}
	rate_end(f->r);
	assert_int_equal(rate_count(f->r), 34);
}

/* Seen twice in one sample: the second does not move the stored value. */
static void
test_duplicate_key_in_sample(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;

	rate_begin(f->r, 1000);
	rate_delta(f->r, "a", 10, &d);
	rate_end(f->r);
	rate_begin(f->r, 2000);
	assert_int_equal(rate_delta(f->r, "a", 20, &d), 1);
	assert_int_equal(rate_delta(f->r, "a", 99, &d), 0);
	rate_end(f->r);
	rate_begin(f->r, 3000);
	assert_int_equal(rate_delta(f->r, "a", 25, &d), 1);
	assert_int_equal(d, 5);
	rate_end(f->r);
}

static void
test_key_too_long(void **state)
{
	struct fixture	*f = *state;
	char		 key[RATE_KEY_MAX + 1];
	uint64_t	 d;

	memset(key, 'k', RATE_KEY_MAX);
	key[RATE_KEY_MAX] = '\0';
	rate_begin(f->r, 1000);
	assert_int_equal(rate_delta(f->r, key, 1, &d), 0);
	rate_end(f->r);
	rate_begin(f->r, 2000);
	assert_int_equal(rate_delta(f->r, key, 2, &d), 0);
	rate_end(f->r);
	assert_int_equal(rate_count(f->r), 0);
}

static void
test_keys_bounded(void **state)
{
	struct fixture	*f = *state;
	char		 key[32];
	uint64_t	 d;
	int		 i;

	rate_begin(f->r, 1000);
	for (i = 0; i < RATE_KEYS_MAX + 100; i++) {
		snprintf(key, sizeof(key), "key%d", i);
		rate_delta(f->r, key, 1, &d);
	}
	rate_end(f->r);
	assert_int_equal(rate_count(f->r), RATE_KEYS_MAX);
}

/* Save in one "run", load in the next: rates as if the process had lived. */
static void
test_save_and_load(void **state)
{
	struct fixture	*f = *state;
	struct rate	*r2;
	uint64_t	 d;
	double		 ps;

	rate_begin(f->r, 10000);
	rate_delta(f->r, "total.user", 500, &d);
	rate_delta(f->r, "eth0.rx_byte", 1000, &d);
	rate_end(f->r);
	assert_int_equal(rate_save(f->r, f->path, BOOT), 0);

	assert_non_null(r2 = rate_new());
	assert_int_equal(rate_load(r2, f->path, BOOT), 1);
	assert_int_equal(rate_count(r2), 2);
	assert_true(rate_begin(r2, 20000) == 10.0);
	assert_int_equal(rate_delta(r2, "total.user", 600, &d), 1);
	assert_int_equal(d, 100);
	assert_int_equal(rate_per_sec(r2, "eth0.rx_byte", 6000, &ps), 1);
	assert_true(ps == 500.0);
	rate_end(r2);
	rate_free(r2);
}

/* A state file of another boot: counters and the monotonic clock restarted. */
static void
test_load_other_boot(void **state)
{
	struct fixture	*f = *state;
	uint64_t	 d;

	rate_begin(f->r, 10000);
	rate_delta(f->r, "a", 500, &d);
	rate_end(f->r);
	assert_int_equal(rate_save(f->r, f->path, "old-boot"), 0);
	assert_int_equal(rate_load(f->r, f->path, BOOT), 0);
	assert_int_equal(rate_count(f->r), 0);
	assert_true(rate_begin(f->r, 20000) == 0);
	assert_int_equal(rate_delta(f->r, "a", 600, &d), 0);
}

static void
test_load_missing(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(rate_load(f->r, f->path, BOOT), 0);
	assert_int_equal(rate_count(f->r), 0);
}

/* A torn or foreign file is refused whole, never half-used. */
static void
test_load_malformed(void **state)
{
	struct fixture	*f = *state;
	static const char *const bad[] = {
		"",
		"ferry-rate 1\n",
		"ferry-rate 1\nboot " BOOT "\n",
		"ferry-rate 2\nboot " BOOT "\ntime 5\na 1\n",
		"ferry-rate 1\nboot " BOOT "\ntime 0\na 1\n",
		"ferry-rate 1\nboot " BOOT "\ntime 5\na 1\nb x\n",
		"ferry-rate 1\nboot " BOOT "\ntime 5\na 1\nb",
		"ferry-rate 1\nboot " BOOT "\ntime 5\na 1 2\n",
	};
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(f->path, bad[i]);
		assert_int_equal(rate_load(f->r, f->path, BOOT), 0);
		assert_int_equal(rate_count(f->r), 0);
		assert_true(rate_begin(f->r, 10000) == 0);
		rate_end(f->r);
	}
	write_file(f->path, "ferry-rate 1\nboot " BOOT "\ntime 5000\na 1\nb 2\n");
	assert_int_equal(rate_load(f->r, f->path, BOOT), 1);
	assert_int_equal(rate_count(f->r), 2);
	assert_true(rate_begin(f->r, 7000) == 2.0);
}

static void
test_save_unwritable(void **state)
{
	struct fixture	*f = *state;

	(void)f;
	rate_begin(f->r, 1000);
	rate_end(f->r);
	assert_int_equal(rate_save(f->r, "/nonexistent/ferry/x.state", BOOT), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_first_sample_has_no_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delta_and_rate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counter_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unseen_keys_forgotten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key_in_sample, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_and_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_other_boot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_save_unwritable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
