/*
 * diskio: I/O per block device from /proc/diskstats, under the names of
 * Diamond's disk usage collector (its "iostat" path) so existing
 * dashboards keep working. Per device, over the time since the previous
 * sample:
 *
 *	iostat.<dev>.reads reads_merged reads_byte reads_milliseconds
 *	iostat.<dev>.writes writes_merged writes_byte writes_milliseconds
 *	iostat.<dev>.io io_milliseconds io_milliseconds_weighted
 *		counts during the interval (not per second), as Diamond has them
 *	iostat.<dev>.io_in_progress		requests in flight now
 *	iostat.<dev>.reads_per_second writes_per_second iops
 *	iostat.<dev>.read_byte_per_second write_byte_per_second
 *	iostat.<dev>.read_requests_merged_per_second
 *	iostat.<dev>.write_requests_merged_per_second
 *	iostat.<dev>.average_request_size_byte average_queue_length
 *	iostat.<dev>.util_percentage		time busy, 0..100
 *	iostat.<dev>.await read_await write_await service_time  (ms per request)
 *	iostat.<dev>.concurrent_io
 *
 * Every device but ram* and loop* is reported, partitions included; like
 * Diamond, a device with no I/O in the interval is left out unless -z is
 * given. "/" in a device name (cciss/c0d0) becomes "_". The first run of
 * a one-shot collector (no state yet) prints nothing.
 */
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"
#include "rate.h"

#define DISKSTATS_PATH	"/proc/diskstats"
#define SECTOR		512	/* /proc/diskstats counts 512-byte sectors on every device */
#define NFIELDS		11	/* the fields every kernel since 2.6.25 has */

enum { READS, READS_MERGED, READS_SECTORS, READS_MS, WRITES, WRITES_MERGED,
	WRITES_SECTORS, WRITES_MS, IN_PROGRESS, IO_MS, IO_MS_WEIGHTED };

static const char *const fields[NFIELDS] = {
	"reads", "reads_merged", "reads_byte", "reads_milliseconds",
	"writes", "writes_merged", "writes_byte", "writes_milliseconds",
	"io_in_progress", "io_milliseconds", "io_milliseconds_weighted",
};

struct diskio {
	struct collect	*c;
	int		 zeros;		/* -z: report idle devices too */
};

static int
option(int ch, const char *arg, void *p)
{
	struct diskio	*dio = p;

	(void)arg;
	if (ch != 'z')
		return -1;
	dio->zeros = 1;
	return 0;
}

static void
report(struct diskio *dio, const char *dev, const double *d, uint64_t in_progress)
{
	struct collect	*c = dio->c;
	double		 dt = collect_elapsed(c), io;
	int		 i;

	io = d[READS] + d[WRITES];
	for (i = 0; i < NFIELDS; i++) {
		if (i == IN_PROGRESS)
			collect_u64(c, in_progress, "iostat.%s.%s", dev, fields[i]);
		else
			collect_f(c, d[i], "iostat.%s.%s", dev, fields[i]);
	}
	collect_f(c, io, "iostat.%s.io", dev);
	collect_f(c, d[READS] / dt, "iostat.%s.reads_per_second", dev);
	collect_f(c, d[WRITES] / dt, "iostat.%s.writes_per_second", dev);
	collect_f(c, io / dt, "iostat.%s.iops", dev);
	collect_f(c, d[READS_SECTORS] / dt, "iostat.%s.read_byte_per_second", dev);
	collect_f(c, d[WRITES_SECTORS] / dt, "iostat.%s.write_byte_per_second",
	    dev);
	collect_f(c, d[READS_MERGED] / dt,
	    "iostat.%s.read_requests_merged_per_second", dev);
	collect_f(c, d[WRITES_MERGED] / dt,
	    "iostat.%s.write_requests_merged_per_second", dev);
	collect_f(c, io > 0 ? (d[READS_SECTORS] + d[WRITES_SECTORS]) / io : 0,
	    "iostat.%s.average_request_size_byte", dev);
	collect_f(c, d[IO_MS_WEIGHTED] / dt / 1000.0,
	    "iostat.%s.average_queue_length", dev);
	collect_f(c, d[IO_MS] / dt / 10.0, "iostat.%s.util_percentage", dev);
	collect_f(c, io > 0 ? (d[READS_MS] + d[WRITES_MS]) / io : 0,
	    "iostat.%s.await", dev);
	collect_f(c, d[READS] > 0 ? d[READS_MS] / d[READS] : 0,
	    "iostat.%s.read_await", dev);
	collect_f(c, d[WRITES] > 0 ? d[WRITES_MS] / d[WRITES] : 0,
	    "iostat.%s.write_await", dev);
	collect_f(c, io > 0 ? d[IO_MS] / io : 0, "iostat.%s.service_time", dev);
	/* Requests in service at once: arrival rate x service time (Little). */
	collect_f(c, io > 0 ? io / dt * (d[IO_MS] / io / 1000.0) : 0,
	    "iostat.%s.concurrent_io", dev);
}

static int
line(char *l, void *p)
{
	struct diskio	*dio = p;
	char		*f[3 + NFIELDS], dev[40], key[RATE_KEY_MAX];
	uint64_t	 v, in_progress = 0;
	double		 d[NFIELDS];
	int		 i, known = 1;

	if (procfs_split(l, f, 3 + NFIELDS) < 3 + NFIELDS)
		return 0;
	if (strncmp(f[2], "ram", 3) == 0 || strncmp(f[2], "loop", 4) == 0 ||
	    procfs_name(dev, sizeof(dev), f[2]) >= sizeof(dev))
		return 0;
	for (i = 0; i < NFIELDS; i++) {
		if (procfs_u64(f[3 + i], &v) == -1)
			return 0;
		if (i == IN_PROGRESS) {
			in_progress = v;	/* a gauge, not a counter */
			continue;
		}
		snprintf(key, sizeof(key), "%s.%s", dev, fields[i]);
		if (rate_delta(collect_rate(dio->c), key, v, &v) != 1)
			known = 0;
		d[i] = (double)v;
		if (i == READS_SECTORS || i == WRITES_SECTORS)
			d[i] *= SECTOR;
	}
	if (!known || collect_elapsed(dio->c) <= 0)
		return 0;
	if (d[READS] + d[WRITES] == 0 && !dio->zeros)
		return 0;
	report(dio, dev, d, in_progress);
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct diskio	*dio = arg;

	dio->c = c;
	if (procfs_lines(DISKSTATS_PATH, line, dio) == -1)
		collect_warn(dio->c, "%s", DISKSTATS_PATH);
}

static struct diskio	diskio_state;

const struct collect_def builtin_diskio = {
	.name = "diskio",
	.counters = 1,
	.opts = "z",
	.usage = "[-z]",
	.option = option,
	.sample = sample,
	.arg = &diskio_state,
};
