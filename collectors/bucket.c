/*
 * bucket: the token bucket behind a collector's rate limits (the idea of
 * Scalyr's agent). Tokens (bytes, or lines) flow in at `rate` per second
 * up to `burst`; a reader spends them as it takes data. Spending may run
 * the bucket into debt (a line is taken whole), which later refills repay.
 * Time is the monotonic milliseconds the caller passes, so tests need no
 * clock.
 */
#include <math.h>

#include "collectors.h"

void
bucket_init(struct bucket *b, double rate, double burst, uint64_t now)
{
	b->rate = rate;
	b->burst = burst < 1 ? 1 : burst;
	b->tokens = b->burst;
	b->last_ms = now;
}

void
bucket_refill(struct bucket *b, uint64_t now)
{
	if (now <= b->last_ms)
		return;
	b->tokens += b->rate * (double)(now - b->last_ms) / 1000.0;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->last_ms = now;
}

uint64_t
bucket_avail(struct bucket *b, uint64_t now)
{
	bucket_refill(b, now);
	return b->tokens >= 1 ? (uint64_t)b->tokens : 0;
}

void
bucket_take(struct bucket *b, uint64_t n)
{
	b->tokens -= (double)n;
}

uint64_t
bucket_wait_ms(const struct bucket *b, double want, uint64_t now)
{
	double	tokens = b->tokens, ms;

	if (want > b->burst)
		want = b->burst;
	if (now > b->last_ms)
		tokens += b->rate * (double)(now - b->last_ms) / 1000.0;
	if (tokens >= want)
		return 0;
	if (b->rate <= 0)
		return UINT64_MAX;
	ms = ceil((want - tokens) * 1000.0 / b->rate);
	return ms < 1 ? 1 : (uint64_t)ms;
}
