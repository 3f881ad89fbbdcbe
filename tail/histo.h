/*
 * histo: the distribution of a numeric field over one interval, in memory
 * that does not depend on what the log holds: exact count, sum, min and
 * max, and log-linear buckets (each 2% wider than the one below it) for
 * the quantiles, so p50, p90 and p99 are within 1% of a value of the
 * interval at their rank (ferry-tail's logmetric summaries).
 *
 * Buckets cover magnitudes from 1e-9 to 1e15, negative values as well as
 * positive; values beyond are counted in the outermost bucket (the
 * quantile is then clamped to min or max, which stay exact). A summary
 * costs HISTO_BUCKETS * 8 bytes, whatever it is fed.
 */
#ifndef FERRY_HISTO_H
#define FERRY_HISTO_H

#include <stdint.h>

#define HISTO_GAMMA	1.02		/* a bucket's upper bound / its lower */
#define HISTO_KMIN	(-1047)		/* log_gamma(1e-9), rounded down */
#define HISTO_KMAX	1745		/* log_gamma(1e15), rounded up */
#define HISTO_BUCKETS	(HISTO_KMAX - HISTO_KMIN + 1)

struct histo {
	uint64_t	count;
	uint64_t	zero;		/* values that are 0 */
	double		sum, min, max;
	int		lo[2], hi[2];	/* buckets touched, per sign: a reset's */
	uint32_t	b[2][HISTO_BUCKETS];	/* [0] positive, [1] negative */
};

void	histo_init(struct histo *);
/* Empty again, for the next interval (only the buckets touched). */
void	histo_reset(struct histo *);
/* Add a finite value. */
void	histo_add(struct histo *, double);
/*
 * The value at rank ceil(q * count) (nearest rank, q in (0, 1]), within
 * 1% and between min and max; 0 when empty.
 */
double	histo_quantile(const struct histo *, double);

#endif
