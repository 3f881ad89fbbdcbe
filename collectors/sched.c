/*
 * sched: when a collector runs. Each name gets a stable offset inside its
 * interval (a hash of the name), so a host with twenty collectors does not
 * fork twenty processes in the same millisecond every ten seconds, and the
 * same collector runs at the same phase after a restart. A daemon that
 * exits comes back after a delay that starts at 1 s and doubles to 60 s.
 */
#include "collectors.h"
#include "hash.h"

/* The phase of name's runs within an interval of interval_ms. */
uint64_t
sched_offset(const char *name, uint64_t interval_ms)
{
	if (interval_ms == 0)
		return 0;
	return hash_str(name) % interval_ms;
}

/*
 * The first time after now (monotonic ms) that falls on offset within the
 * interval: runs happen at offset, offset + interval, ... so missed slots
 * are skipped rather than run in a burst.
 */
uint64_t
sched_next(uint64_t now, uint64_t interval_ms, uint64_t offset_ms)
{
	uint64_t	base;

	if (interval_ms == 0)
		return now + 1;
	offset_ms %= interval_ms;
	base = now - now % interval_ms + offset_ms;
	while (base <= now)
		base += interval_ms;
	return base;
}

/* The restart delay after `failures` consecutive exits (0: the first). */
uint64_t
sched_backoff(int failures)
{
	uint64_t	delay = BACKOFF_MIN_MS;
	int		i;

	for (i = 0; i < failures && delay < BACKOFF_MAX_MS; i++)
		delay *= 2;
	return delay > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay;
}
