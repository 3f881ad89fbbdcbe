/*
 * clock: the time seam. Intervals and timeouts use the monotonic clock so a
 * step of the wall clock never fires or stalls every timer at once; records
 * carry wall-clock seconds since the epoch (UTC).
 */
#ifndef FERRY_CLOCK_H
#define FERRY_CLOCK_H

#include <stdint.h>

uint64_t	clock_mono_ms(void);	/* monotonic milliseconds */
int64_t		clock_wall(void);	/* seconds since the epoch, UTC */
uint64_t	clock_wall_ms(void);
/* Tests only: move the monotonic clock forward instead of sleeping. */
void		clock_advance_ms(uint64_t);

#endif
