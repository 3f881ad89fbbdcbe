/*
 * clock: the one place that reads clocks, so tests have a single seam.
 */
#include <time.h>

#include "clock.h"

static uint64_t	mono_offset_ms;

uint64_t
clock_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 +
	    mono_offset_ms;
}

void
clock_advance_ms(uint64_t ms)
{
	mono_offset_ms += ms;
}

int64_t
clock_wall(void)
{
	return (int64_t)time(NULL);
}

uint64_t
clock_wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
