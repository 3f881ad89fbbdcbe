/*
 * ferry-fleet: main() and the one loop.
 *
 * The supervisor starts it when fleet.etcd lists an endpoint. It reads the
 * drains meant for this host from etcd and keeps them as fragments of
 * conf.d/fleet (sync.c, drains.c), and keeps this host's health under a
 * lease in etcd (health.c). Every transfer to etcd runs on one libcurl
 * multi handle (conn.c), which the loop waits on in curl_multi_poll() with
 * the signal pipe; the loop's timeout is the nearest of the connection's
 * backoff, the heartbeat and the counters' publication, so at rest, with
 * the watch quiet, it wakes once a heartbeat.
 *
 * On SIGTERM the lease is revoked (waiting at most STOP_MS for etcd), so
 * the host leaves the fleet's view at once rather than at the TTL; the
 * fragments stay, and run, until the next start reads etcd again.
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "conf.h"
#include "fleet.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "selfmetrics.h"
#include "sig.h"

#define STOP_MS		2000	/* for the lease's revocation at exit */
#define RETRY_MS	10000	/* drains held back by the configuration */
#define PUBLISH_MS	1000	/* counters that changed, at most this often */
#define PUBLISH_MAX_MS	60000	/* unchanged counters: written this often */

struct fleet_stats		 fstats;
const struct ferry_conf		*fconf;
const char			*fconfpath;

static struct selfmetrics	*self;
static int			 dirty;
static uint64_t			 publish_due;
static char			 last_error[512];
static int64_t			 last_error_at;

static void	open_self_metrics(void);
static void	loop(void);
static void	stop(void);
static void	publish_counters(uint64_t, int);
static void	declare_counters(void);

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct ferry_conf	*conf;

	fconfpath = proc_init(argc, argv, "fleet");
	conf = proc_conf(fconfpath);
	fconf = conf;
	if (conf->fleet.netcd == 0)
		fatalx_config("fleet.etcd lists no endpoint: nothing to do");
	if (sig_init(sigs, sizeof(sigs) / sizeof(sigs[0])) == -1)
		fatalx("signals");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || conn_init() == -1)
		fatalx("cannot initialise libcurl");
	open_self_metrics();
	if (drains_init() == -1 || health_init() == -1)
		exit(1);
	log_info("host %s%s%s: drains from %s (first of %zu endpoints) under "
	    "%s", conf->hostname, conf->fleet.group[0] != '\0' ? ", group " :
	    "", conf->fleet.group, conf->fleet.etcd[0], conf->fleet.netcd,
	    conf->fleet.prefix);

	loop();

	stop();
	publish_counters(clock_mono_ms(), 1);
	selfmetrics_close(self);
	health_free();
	drains_free();
	conn_free();
	curl_global_cleanup();
	conf_free(conf);
	log_info("stopped");
	return 0;
}

static void
open_self_metrics(void)
{
	char	dir[PATH_MAX];

	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1 ||
	    (self = selfmetrics_open(fconf, dir, "fleet")) == NULL)
		log_warnx("no self-metrics: cannot open the spool");
	else
		declare_counters();
	publish_due = clock_mono_ms();
}

/* The nearest of two timeouts, -1 being none. */
static int
nearer(int a, int b)
{
	if (a == -1)
		return b;
	if (b == -1)
		return a;
	return a < b ? a : b;
}

static void
loop(void)
{
	uint64_t	now, retry_due = 0;
	int		quit = 0, sig_ready, timeout;

	while (!quit) {
		now = clock_mono_ms();
		timeout = nearer(conn_timeout(now), health_timeout(now));
		if (self != NULL)
			timeout = nearer(timeout, publish_due > now ?
			    (int)(publish_due - now) : 0);
		if (drains_pending())
			timeout = nearer(timeout, retry_due > now ?
			    (int)(retry_due - now) : 0);
		if (conn_poll(sig_fd(), timeout, &sig_ready) == -1)
			fatalx("curl_multi_poll");
		if (sig_ready)
			quit = sig_quit_requested();
		conn_perform();
		now = clock_mono_ms();
		conn_tick(now);
		sync_tick();
		health_tick(now);
		if (drains_pending() && now >= retry_due) {
			retry_due = now + RETRY_MS;
			drains_apply();
		}
		if (self != NULL && now >= publish_due)
			publish_counters(now, 0);
	}
}

/* Revoke the lease, giving etcd STOP_MS to answer. */
static void
stop(void)
{
	uint64_t	until = clock_mono_ms() + STOP_MS, now;
	int		sig_ready;

	health_stop();
	while (conn_busy() > (conn_watching() ? 1 : 0) &&
	    (now = clock_mono_ms()) < until) {
		if (conn_poll(sig_fd(), (int)(until - now), &sig_ready) == -1)
			break;
		conn_perform();
	}
}

void
fleet_dirty(void)
{
	uint64_t	now = clock_mono_ms();

	dirty = 1;
	/* Soon, but not for every event of a burst. */
	if (publish_due > now + PUBLISH_MS)
		publish_due = now + PUBLISH_MS;
}

/*
 * The counters: called when due, which is a second after they changed
 * (fleet_dirty()), and a minute after the last time anyway.
 */
static void
publish_counters(uint64_t now, int force)
{
	publish_due = now + PUBLISH_MAX_MS;
	(void)force;
	if (self == NULL)
		return;
	dirty = 0;
	(void)selfmetrics_publish(self, now, 1);
}

/* The counters, written when due (above) whether they moved or not. */
static void
declare_counters(void)
{
	(void)selfmetrics_declare(self, "drains", &fstats.drains, 0);
	(void)selfmetrics_declare(self, "refused", &fstats.refused, 0);
	(void)selfmetrics_declare(self, "reloads", &fstats.reloads, 0);
	(void)selfmetrics_declare(self, "events", &fstats.events, 0);
	(void)selfmetrics_declare(self, "resyncs", &fstats.resyncs, 0);
	(void)selfmetrics_declare(self, "etcd.errors", &fstats.etcd_errors, 0);
	(void)selfmetrics_declare(self, "etcd.up", &fstats.etcd_up, 0);
	(void)selfmetrics_declare(self, "status.puts", &fstats.status_puts, 0);
}

void
fleet_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	last_error_at = clock_wall();
	health_poke();
}

const char *
fleet_last_error(int64_t *at)
{
	*at = last_error_at;
	return last_error;
}
