/*
 * sockstat: sockets in use from /proc/net/sockstat and /proc/net/sockstat6,
 * under Diamond's names (its "sockets" path) so existing dashboards keep
 * working:
 *
 *	sockets.used			sockets of every kind
 *	sockets.tcp_inuse tcp_orphan tcp_tw tcp_alloc tcp_mem
 *	sockets.udp_inuse udp_mem	...
 *
 * Every "PROTO: key value key value" pair of those files becomes
 * sockets.<proto>_<key> (lower case): udplite, raw, frag and the IPv6
 * tcp6, udp6, ... as well. tcp_mem and udp_mem are in pages. All gauges.
 */
#include <ctype.h>
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"

#define SOCKSTAT_PATH	"/proc/net/sockstat"
#define SOCKSTAT6_PATH	"/proc/net/sockstat6"
#define MAXFIELDS	16

struct sockstat {
	struct collect	*c;
	int		 found;
};

static int
line(char *l, void *p)
{
	struct sockstat	*ss = p;
	char		*f[MAXFIELDS], proto[32], key[32];
	uint64_t	 v;
	size_t		 len;
	int		 n, i;

	if ((n = procfs_split(l, f, MAXFIELDS)) < 3)
		return 0;
	len = strlen(f[0]);
	if (len < 2 || f[0][len - 1] != ':')
		return 0;
	f[0][len - 1] = '\0';
	if (procfs_name(proto, sizeof(proto), f[0]) >= sizeof(proto))
		return 0;
	for (i = 0; proto[i] != '\0'; i++)
		proto[i] = (char)tolower((unsigned char)proto[i]);
	for (i = 1; i + 1 < n; i += 2) {
		if (procfs_u64(f[i + 1], &v) == -1 ||
		    procfs_name(key, sizeof(key), f[i]) >= sizeof(key))
			continue;
		/* "sockets: used 300" is Diamond's sockets.used. */
		if (strcmp(proto, "sockets") == 0)
			collect_u64(ss->c, v, "sockets.%s", key);
		else
			collect_u64(ss->c, v, "sockets.%s_%s", proto, key);
		ss->found++;
	}
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct sockstat	*ss = arg;

	ss->c = c;
	ss->found = 0;
	if (procfs_lines(SOCKSTAT_PATH, line, ss) == -1) {
		collect_warn(ss->c, "%s", SOCKSTAT_PATH);
		return;
	}
	/* Absent when the kernel has no IPv6: not a failure. */
	procfs_lines(SOCKSTAT6_PATH, line, ss);
	if (ss->found == 0)
		collect_warnx(ss->c, "%s: no field found", SOCKSTAT_PATH);
}

static struct sockstat	sockstat_state;

const struct collect_def builtin_sockstat = {
	.name = "sockstat",
	.counters = 0,
	.opts = "",
	.usage = "",
	.option = NULL,
	.sample = sample,
	.arg = &sockstat_state,
};
