/*
 * test_histo: the summaries of ferry-tail's log metrics (tail/histo.c).
 * Quantiles within 1% of the value at their rank, whatever the spread
 * (uniform, heavy-tailed, negative, zero, one value), exact count, sum,
 * min and max, and a reset that leaves nothing of the interval before.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>

#include <cmocka.h>

#include "../../tail/histo.h"

static int
cmp(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The nearest-rank value of sorted v (n values) at q. */
static double
exact(const double *v, size_t n, double q)
{
	size_t	rank = (size_t)ceil(q * (double)n);

	if (rank < 1)
		rank = 1;
	return v[rank - 1];
}

static void
check(double *v, size_t n)
{
	static const double	qs[] = { 0.01, 0.5, 0.9, 0.99, 1 };
	struct histo		*h = malloc(sizeof(*h));
	double			 sum = 0, want, got;
	size_t			 i;

	assert_non_null(h);
	histo_init(h);
	for (i = 0; i < n; i++) {
		histo_add(h, v[i]);
		sum += v[i];
	}
	qsort(v, n, sizeof(v[0]), cmp);
	assert_int_equal(h->count, n);
	assert_true(h->min == v[0]);
	assert_true(h->max == v[n - 1]);
	assert_true(fabs(h->sum - sum) <= 1e-9 * fabs(sum));
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		want = exact(v, n, qs[i]);
		got = histo_quantile(h, qs[i]);
		if (fabs(got - want) > 0.01 * fabs(want) + 1e-12)
			fail_msg("q %g: %.9g, the value of its rank %.9g", qs[i],
			    got, want);
	}
	free(h);
}

static void
test_uniform(void **state)
{
	double	v[10000];
	size_t	i;

	(void)state;
	srandom(1);
	for (i = 0; i < 10000; i++)
		v[i] = 0.001 + (double)(random() % 100000) / 10000;
	check(v, 10000);
}

static void
test_heavy_tail_and_signs(void **state)
{
	double	v[5000];
	size_t	i;

	(void)state;
	srandom(2);
	for (i = 0; i < 5000; i++)
		v[i] = exp((double)(random() % 4000) / 100 - 15) *
		    (i % 3 == 0 ? -1 : 1) * (i % 97 == 0 ? 0 : 1);
	check(v, 5000);
}

static void
test_one_value_and_extremes(void **state)
{
	double	one[] = { 0.125, 0.125, 0.125 };
	double	big[] = { 1e-20, 3, 1e30 };
	struct histo *h = malloc(sizeof(*h));

	(void)state;
	check(one, 3);
	/* Beyond the buckets: counted at an edge; the top one is min or max. */
	assert_non_null(h);
	histo_init(h);
	histo_add(h, big[0]);
	histo_add(h, big[1]);
	histo_add(h, big[2]);
	assert_true(fabs(histo_quantile(h, 0.01)) < 2e-9);
	assert_true(histo_quantile(h, 1) == 1e30);
	assert_true(fabs(histo_quantile(h, 0.5) - 3) < 0.03);
	histo_reset(h);
	histo_add(h, -1e30);
	histo_add(h, -1e31);
	assert_true(histo_quantile(h, 0.01) == -1e31);
	free(h);
}

static void
test_reset(void **state)
{
	struct histo	*h = malloc(sizeof(*h));
	size_t		 i, j;

	(void)state;
	assert_non_null(h);
	histo_init(h);
	assert_true(histo_quantile(h, 0.5) == 0);
	for (i = 0; i < 1000; i++)
		histo_add(h, (double)i - 300);
	histo_reset(h);
	assert_int_equal(h->count, 0);
	assert_true(h->sum == 0);
	for (j = 0; j < 2; j++)
		for (i = 0; i < HISTO_BUCKETS; i++)
			assert_int_equal(h->b[j][i], 0);
	histo_add(h, 7);
	assert_true(histo_quantile(h, 0.99) == 7);
	assert_true(h->min == 7 && h->max == 7);
	free(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_heavy_tail_and_signs),
		cmocka_unit_test(test_one_value_and_extremes),
		cmocka_unit_test(test_reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
