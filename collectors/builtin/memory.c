/*
 * memory: /proc/meminfo in bytes, under Diamond's names (memory.MemFree,
 * memory.SwapTotal, ...) so existing dashboards keep working. By default
 * the fields Diamond reports, plus MemAvailable (what a new program can
 * get without swapping, the figure most alerts want); -a reports every
 * field, names made Graphite-safe ("Active(anon)" becomes "Active_anon_").
 *
 * All gauges: nothing to remember between two samples.
 */
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"

#define MEMINFO_PATH	"/proc/meminfo"

struct memory {
	struct collect	*c;
	int		 all;		/* -a: every field */
	int		 found;
};

static const char *const fields[] = {
	"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached",
	"Active", "Inactive", "Dirty", "Shmem", "SwapTotal", "SwapFree",
	"SwapCached", "VmallocTotal", "VmallocUsed", "VmallocChunk",
};

static int
option(int ch, const char *arg, void *p)
{
	struct memory	*m = p;

	(void)arg;
	if (ch != 'a')
		return -1;
	m->all = 1;
	return 0;
}

static int
wanted(const char *key)
{
	size_t	i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i]) == 0)
			return 1;
	return 0;
}

static int
line(char *l, void *p)
{
	struct memory	*m = p;
	char		*key, name[64];
	uint64_t	 v;

	if (procfs_keyval(l, &key, &v) == -1)
		return 0;	/* "HugePages_Total: 0" has no unit: fine as is */
	if (!m->all && !wanted(key))
		return 0;
	if (procfs_name(name, sizeof(name), key) >= sizeof(name))
		return 0;
	collect_u64(m->c, v, "memory.%s", name);
	m->found++;
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct memory	*m = arg;

	m->c = c;
	m->found = 0;
	if (procfs_lines(MEMINFO_PATH, line, m) == -1)
		collect_warn(m->c, "%s", MEMINFO_PATH);
	else if (m->found == 0)
		collect_warnx(m->c, "%s: no field found", MEMINFO_PATH);
}

static struct memory	memory_state;

const struct collect_def builtin_memory = {
	.name = "memory",
	.counters = 0,
	.opts = "a",
	.usage = "[-a]",
	.option = option,
	.sample = sample,
	.arg = &memory_state,
};
