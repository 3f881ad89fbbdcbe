/*
 * network: traffic per interface from /proc/net/dev as per-second rates,
 * under Diamond's names so existing dashboards keep working:
 *
 *	network.<iface>.rx_byte rx_bit tx_byte tx_bit
 *	network.<iface>.rx_packets rx_errors rx_drop rx_fifo rx_frame rx_multicast
 *	network.<iface>.tx_packets tx_errors tx_drop tx_fifo tx_colls tx_carrier
 *
 * Diamond labels the last transmit columns frame/compressed/multicast,
 * which the kernel's header calls colls/carrier/compressed; the kernel's
 * names are used here. "." in an interface name (VLAN "eth0.100") becomes
 * "_", so it stays one component of the metric name.
 *
 * Every interface but lo and the veth* pairs of containers is reported;
 * -I PREFIX (repeatable) reports only interfaces whose name starts with
 * one of the prefixes (and then lo too, if asked). The first run of a
 * one-shot collector (no state yet) prints nothing.
 */
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"
#include "rate.h"

#define NETDEV_PATH	"/proc/net/dev"
#define NCOLS		16
#define MAXPREFIX	16

/* The kernel's columns, in order; NULL: not reported. */
static const char *const cols[NCOLS] = {
	"rx_byte", "rx_packets", "rx_errors", "rx_drop", "rx_fifo", "rx_frame",
	NULL, "rx_multicast",
	"tx_byte", "tx_packets", "tx_errors", "tx_drop", "tx_fifo", "tx_colls",
	"tx_carrier", NULL,
};

struct network {
	struct collect	*c;
	const char	*prefix[MAXPREFIX];
	int		 nprefix;
};

static int
option(int ch, const char *arg, void *p)
{
	struct network	*net = p;

	if (ch != 'I' || net->nprefix == MAXPREFIX) {
		if (ch == 'I')
			log_warnx("at most %d -I prefixes", MAXPREFIX);
		return -1;
	}
	net->prefix[net->nprefix++] = arg;
	return 0;
}

static int
wanted(const struct network *net, const char *iface)
{
	int	i;

	if (net->nprefix == 0)
		return strcmp(iface, "lo") != 0 && strncmp(iface, "veth", 4) != 0;
	for (i = 0; i < net->nprefix; i++)
		if (strncmp(iface, net->prefix[i], strlen(net->prefix[i])) == 0)
			return 1;
	return 0;
}

static int
line(char *l, void *p)
{
	struct network	*net = p;
	char		*colon, *iface, *f[NCOLS + 1], name[48], key[RATE_KEY_MAX];
	uint64_t	 v;
	double		 per_sec;
	int		 i;

	/* "  eth0: 1234 ..." or, with large counters on old kernels, "eth0:1234". */
	if ((colon = strchr(l, ':')) == NULL)
		return 0;
	*colon = '\0';
	iface = l + strspn(l, " \t");
	if (*iface == '\0' || !wanted(net, iface) ||
	    procfs_name(name, sizeof(name), iface) >= sizeof(name))
		return 0;
	if (procfs_split(colon + 1, f, NCOLS + 1) < NCOLS)
		return 0;
	for (i = 0; i < NCOLS; i++) {
		if (cols[i] == NULL || procfs_u64(f[i], &v) == -1)
			continue;
		snprintf(key, sizeof(key), "%s.%s", name, cols[i]);
		if (!rate_per_sec(collect_rate(net->c), key, v, &per_sec))
			continue;
		collect_f(net->c, per_sec, "network.%s.%s", name, cols[i]);
		if (i == 0)
			collect_f(net->c, per_sec * 8, "network.%s.rx_bit", name);
		else if (i == 8)
			collect_f(net->c, per_sec * 8, "network.%s.tx_bit", name);
	}
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct network	*net = arg;

	net->c = c;
	if (procfs_lines(NETDEV_PATH, line, net) == -1)
		collect_warn(net->c, "%s", NETDEV_PATH);
}

static struct network	network_state;

const struct collect_def builtin_network = {
	.name = "network",
	.counters = 1,
	.opts = "I:",
	.usage = "[-I prefix]...",
	.option = option,
	.sample = sample,
	.arg = &network_state,
};
