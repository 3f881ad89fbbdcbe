/*
 * rate: kernel counters (bytes sent, sectors read, CPU jiffies) turned into
 * deltas and per-second rates between two samples.
 *
 * A collector brackets each sample with rate_begin() and rate_end() and
 * hands every counter to rate_delta() or rate_per_sec() under a key of its
 * own. The previous values live in memory (a long-lived collector) or in a
 * state file between two runs (rate_load() / rate_save()), so a collector
 * run once per interval still reports rates. No rate is given for the first
 * sighting of a key, after a counter went backwards (a reset, a device that
 * came back), or across a reboot (the state file records the boot id).
 *
 * Memory is bounded: at most RATE_KEYS_MAX keys of RATE_KEY_MAX bytes; a
 * key past either limit simply never has a rate.
 */
#ifndef FERRY_RATE_H
#define FERRY_RATE_H

#include <stddef.h>
#include <stdint.h>

#define RATE_KEY_MAX	64	/* with its NUL */
#define RATE_KEYS_MAX	16384

struct rate;

struct rate	*rate_new(void);	/* NULL when out of memory */
void		 rate_free(struct rate *);

/*
 * Starts a sample taken at now_ms (monotonic milliseconds). Returns the
 * seconds since the previous sample, or 0 when there is none (then only
 * deltas of keys seen before are known, and no per-second rate).
 */
double		 rate_begin(struct rate *, uint64_t);
double		 rate_elapsed(const struct rate *);	/* what rate_begin() said */
/* Records value under key; 1 with *delta set when the increase is known. */
int		 rate_delta(struct rate *, const char *, uint64_t, uint64_t *);
/* The same as a per-second rate; 1 with *per_sec set, else 0. */
int		 rate_per_sec(struct rate *, const char *, uint64_t, double *);
/* Ends the sample: keys not seen in it are forgotten. */
void		 rate_end(struct rate *);

/*
 * The previous sample from path, if it was written in this boot (boot_id,
 * from /proc/sys/kernel/random/boot_id): 1 loaded, 0 nothing usable (no
 * file, another boot, a malformed file), -1 on a read error (errno set).
 */
int		 rate_load(struct rate *, const char *, const char *);
/* Writes the last ended sample to path (temporary file, then rename): 0 or
 * -1 with errno set. */
int		 rate_save(const struct rate *, const char *, const char *);
size_t		 rate_count(const struct rate *);	/* keys held */

#endif
