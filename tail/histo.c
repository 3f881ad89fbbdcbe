/*
 * histo: a log-linear histogram (histo.h). A positive value v falls in the
 * bucket k = ceil(log(v) / log(gamma)), which holds (gamma^(k-1),
 * gamma^k]; the bucket stands for 2 gamma^k / (gamma + 1), which is
 * within (gamma - 1) / (gamma + 1), under 1%, of every value in it. A
 * negative value is counted by its magnitude in buckets of its own, and 0
 * apart. The quantile walks the buckets in the order of their values to
 * the rank asked for: the answer is within 1% of the value of that rank,
 * then clamped to the exact min and max, so a quantile of values that are
 * all the same is that value.
 */
#include <math.h>
#include <string.h>

#include "histo.h"

static int
bucket(double magnitude)
{
	double	k = ceil(log(magnitude) / log(HISTO_GAMMA));

	if (k < HISTO_KMIN)
		k = HISTO_KMIN;
	if (k > HISTO_KMAX)
		k = HISTO_KMAX;
	return (int)k - HISTO_KMIN;
}

/*
 * The value bucket i stands for (its magnitude). The top bucket also
 * holds every value beyond it: it stands for infinity, which the clamp
 * makes the max (or the min, negative); the bottom one, below 1e-9, is
 * off by less than that.
 */
static double
middle(int i)
{
	if (i == HISTO_BUCKETS - 1)
		return INFINITY;
	return 2 * pow(HISTO_GAMMA, i + HISTO_KMIN) / (HISTO_GAMMA + 1);
}

void
histo_init(struct histo *h)
{
	memset(h, 0, sizeof(*h));
	h->lo[0] = h->lo[1] = HISTO_BUCKETS;
	h->hi[0] = h->hi[1] = -1;
}

void
histo_reset(struct histo *h)
{
	int	s;

	for (s = 0; s < 2; s++)
		if (h->hi[s] >= h->lo[s])
			memset(&h->b[s][h->lo[s]], 0, (size_t)(h->hi[s] -
			    h->lo[s] + 1) * sizeof(h->b[s][0]));
	h->count = h->zero = 0;
	h->sum = h->min = h->max = 0;
	h->lo[0] = h->lo[1] = HISTO_BUCKETS;
	h->hi[0] = h->hi[1] = -1;
}

void
histo_add(struct histo *h, double v)
{
	int	s = v < 0, i;

	if (h->count == 0 || v < h->min)
		h->min = v;
	if (h->count == 0 || v > h->max)
		h->max = v;
	h->count++;
	h->sum += v;
	if (v == 0) {
		h->zero++;
		return;
	}
	i = bucket(s ? -v : v);
	if (h->b[s][i] < UINT32_MAX)	/* 4e9 values in one bucket: kept there */
		h->b[s][i]++;
	if (i < h->lo[s])
		h->lo[s] = i;
	if (i > h->hi[s])
		h->hi[s] = i;
}

static double
clamp(const struct histo *h, double v)
{
	return v < h->min ? h->min : v > h->max ? h->max : v;
}

double
histo_quantile(const struct histo *h, double q)
{
	uint64_t	rank, seen = 0;
	int		i;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	/* The negative values first, the largest magnitude first. */
	for (i = h->hi[1]; i >= h->lo[1]; i--)
		if ((seen += h->b[1][i]) >= rank)
			return clamp(h, -middle(i));
	if ((seen += h->zero) >= rank)
		return clamp(h, 0);
	for (i = h->lo[0]; i <= h->hi[0]; i++)
		if ((seen += h->b[0][i]) >= rank)
			return clamp(h, middle(i));
	return h->max;		/* a bucket that saturated */
}
