/*
 * vmstat: paging and swapping from /proc/vmstat as per-second rates, under
 * Diamond's names so existing dashboards keep working:
 *
 *	vmstat.pgpgin vmstat.pgpgout	KiB paged in / out from disk, per second
 *	vmstat.pswpin vmstat.pswpout	pages swapped in / out, per second
 *	vmstat.pgfault vmstat.pgmajfault page faults (all / needing I/O), per second
 *
 * The first run of a one-shot collector (no state yet) prints nothing.
 */
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"
#include "rate.h"

#define VMSTAT_PATH	"/proc/vmstat"

static const char *const fields[] = {
	"pgpgin", "pgpgout", "pswpin", "pswpout", "pgfault", "pgmajfault",
};
#define NFIELDS	(sizeof(fields) / sizeof(fields[0]))

struct vmstat {
	struct collect	*c;
	uint64_t	 value[NFIELDS];
	int		 have[NFIELDS];
};

static int
line(char *l, void *p)
{
	struct vmstat	*vm = p;
	char		*key;
	uint64_t	 v;
	size_t		 i;

	if (procfs_keyval(l, &key, &v) == -1)
		return 0;
	for (i = 0; i < NFIELDS; i++) {
		if (strcmp(key, fields[i]) == 0) {
			vm->value[i] = v;
			vm->have[i] = 1;
		}
	}
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct vmstat	*vm = arg;
	double		 per_sec;
	size_t		 i;
	int		 found = 0;

	vm->c = c;
	memset(vm->have, 0, sizeof(vm->have));
	if (procfs_lines(VMSTAT_PATH, line, vm) == -1) {
		collect_warn(vm->c, "%s", VMSTAT_PATH);
		return;
	}
	/* In a fixed order, whatever the kernel's: the rate table likes it. */
	for (i = 0; i < NFIELDS; i++) {
		if (!vm->have[i])
			continue;
		found++;
		if (rate_per_sec(collect_rate(vm->c), fields[i], vm->value[i],
		    &per_sec))
			collect_f(vm->c, per_sec, "vmstat.%s", fields[i]);
	}
	if (found == 0)
		collect_warnx(vm->c, "%s: no field found", VMSTAT_PATH);
}

static struct vmstat	vmstat_state;

const struct collect_def builtin_vmstat = {
	.name = "vmstat",
	.counters = 1,
	.opts = "",
	.usage = "",
	.option = NULL,
	.sample = sample,
	.arg = &vmstat_state,
};
