/*
 * loadavg: the load averages and process counts of /proc/loadavg, under
 * Diamond's names so existing dashboards keep working:
 *
 *	loadavg.01 loadavg.05 loadavg.15	load over 1, 5, 15 minutes
 *	loadavg.processes_running		runnable now
 *	loadavg.processes_total			threads in the system
 *
 * All gauges: nothing to remember between two samples.
 */
#include <stdlib.h>
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"

#define LOADAVG_PATH	"/proc/loadavg"

static int
parse_load(const char *s, double *v)
{
	char	*end;

	*v = strtod(s, &end);
	return end != s && *end == '\0' && *v >= 0 ? 0 : -1;
}

static void
sample(struct collect *c, void *arg)
{
	char		 buf[256], *f[5], *slash;
	double		 load[3];
	uint64_t	 running, total;
	int		 i;

	(void)arg;
	if (procfs_read(LOADAVG_PATH, buf, sizeof(buf)) == -1) {
		collect_warn(c, "%s", LOADAVG_PATH);
		return;
	}
	/* "0.52 0.58 0.59 2/345 12345" */
	if (procfs_split(buf, f, 5) != 5 || (slash = strchr(f[3], '/')) == NULL)
		goto bad;
	*slash = '\0';
	for (i = 0; i < 3; i++)
		if (parse_load(f[i], &load[i]) == -1)
			goto bad;
	if (procfs_u64(f[3], &running) == -1 ||
	    procfs_u64(slash + 1, &total) == -1)
		goto bad;
	collect_f(c, load[0], "loadavg.01");
	collect_f(c, load[1], "loadavg.05");
	collect_f(c, load[2], "loadavg.15");
	collect_u64(c, running, "loadavg.processes_running");
	collect_u64(c, total, "loadavg.processes_total");
	return;
bad:
	collect_warnx(c, "%s: unexpected format", LOADAVG_PATH);
}

const struct collect_def builtin_loadavg = {
	.name = "loadavg",
	.counters = 0,
	.opts = "",
	.usage = "",
	.sample = sample,
};
