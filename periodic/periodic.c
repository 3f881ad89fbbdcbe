/*
 * ferry-periodic: main() and the one loop.
 *
 * Three timers on the monotonic clock: the config watch (every
 * periodic.config_interval), the heartbeat (every heartbeat_interval, when
 * heartbeat_url is set: a record into the spool, which the forwarder
 * delivers) and housekeeping (every few minutes). The loop waits in poll()
 * on the signal pipe until the next timer is due, so SIGTERM is seen at
 * once; nothing it does waits on the network.
 *
 * A configuration that is invalid when we start does not stop us: we are
 * the one who notices it being fixed. Until then only the watch runs (every
 * 10 s); the first valid configuration it finds is adopted, and the
 * supervisor asked to reload as usual.
 */
#include <poll.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "periodic.h"
#include "progress.h"
#include "selfmetrics.h"
#include "sig.h"
#include "url.h"

#define DB_RETRY_MS	10000

struct periodic_stats	 pstats;

static struct ferry_conf	*conf;		/* running; NULL: none valid yet */
static struct selfmetrics	*self;
static struct progress		*db;
static int			 db_failing;
static uint64_t			 db_retry_at;
static char			 spool_dir[PATH_MAX];
static int			 quit;

static void	loop(void);
static void	publish_counters(uint64_t, int);
static void	declare_counters(void);
static uint64_t	interval_ms(double);

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct conf_errors	 errs;
	struct ferry_conf	*c;
	const char		*confpath;

	/* An invalid configuration is watched, not refused: see below. */
	confpath = proc_init(argc, argv, "periodic");
	if (sig_init(sigs, sizeof(sigs) / sizeof(sigs[0])) == -1)
		fatalx("signals");
	if (path_get(spool_dir, sizeof(spool_dir), PATH_SPOOL) == NULL)
		fatalx("spool path too long");

	if ((c = conf_load(confpath, &errs)) == NULL) {
		conf_log_errors(&errs);
		log_warnx("%s is not valid: watching it until it is, and doing "
		    "nothing else", confpath);
	}
	if (reload_init(confpath, c) == -1)
		fatalx("cannot watch %s", confpath);
	if (c != NULL)
		periodic_adopt(c);

	loop();

	heartbeat_close();
	publish_counters(clock_mono_ms(), 1);
	selfmetrics_close(self);
	progress_close(db);
	reload_free();
	conf_free(conf);
	log_info("stopped");
	return 0;
}

/*
 * Take c (ours from now on) as the running configuration: at start, or
 * when the watch found the first valid one after an invalid start.
 */
void
periodic_adopt(struct ferry_conf *c)
{
	char	shown[1024];

	if (conf != NULL)
		return;
	conf = c;
	if (path_mkdirs(PATH_SPOOL, 0750) == -1 ||
	    (self = selfmetrics_open(conf, spool_dir, "periodic")) == NULL)
		log_warnx("no self-metrics: cannot open the spool in %s",
		    spool_dir);
	else {
		declare_counters();
		/* The first counters when one moves, or a minute from now. */
		selfmetrics_hold(self, clock_mono_ms());
	}
	if (heartbeat_open(conf) == -1)
		log_warnx("no heartbeat: cannot open its spool stream in %s",
		    spool_dir);
	if (conf->periodic.heartbeat_url[0] != '\0')
		log_info("heartbeat every %g s, into the spool for the "
		    "forwarder to PUT to %s; config watch every %g s",
		    conf->periodic.heartbeat_interval,
		    url_mask(conf->periodic.heartbeat_url, shown, sizeof(shown)),
		    conf->periodic.config_interval);
	else
		log_info("no heartbeat_url: no heartbeat; config watch every "
		    "%g s", conf->periodic.config_interval);
}

static uint64_t
interval_ms(double seconds)
{
	return seconds <= 0 ? 1 : (uint64_t)(seconds * 1000 + 0.5);
}

/* Milliseconds from now to due, for a poll timeout. */
static int
until(uint64_t due, uint64_t now)
{
	if (due <= now)
		return 0;
	return due - now > INT_MAX ? INT_MAX : (int)(due - now);
}

static void
loop(void)
{
	uint64_t	now = clock_mono_ms(), check_due, beat_due, keep_due;
	uint64_t	next;
	struct pollfd	pfd = { sig_fd(), POLLIN, 0 };
	int		beat_on;

	check_due = now + (conf != NULL ?
	    interval_ms(conf->periodic.config_interval) : DEFAULT_CONFIG_MS);
	/* The first beat soon: the others' states are recorded by then. */
	beat_due = now + 1000;
	keep_due = now + HOUSEKEEP_FIRST_MS;
	while (!quit) {
		beat_on = conf != NULL && conf->periodic.heartbeat_url[0] != '\0';
		next = check_due;
		if (beat_on && beat_due < next)
			next = beat_due;
		if (conf != NULL && keep_due < next)
			next = keep_due;
		/* Counters change only in the chores below: no timer of their own. */
		if (self != NULL && selfmetrics_due(self) < next)
			next = selfmetrics_due(self);
		if (poll(&pfd, 1, until(next, now)) == -1 && errno != EINTR)
			fatal("poll");
		if (pfd.revents & POLLIN)
			quit |= sig_quit_requested();
		if (quit)
			break;
		now = clock_mono_ms();
		if (now >= check_due) {
			reload_check();
			now = clock_mono_ms();
			check_due = now + (conf != NULL ?
			    interval_ms(conf->periodic.config_interval) :
			    DEFAULT_CONFIG_MS);
		}
		/* conf, once set, stays (periodic_adopt() sets it once). */
		if (beat_on && conf != NULL && now >= beat_due) {
			heartbeat_write(conf, conf->periodic.heartbeat_interval);
			beat_due += interval_ms(conf->periodic.heartbeat_interval);
			if (beat_due <= now)	/* fell behind: no burst */
				beat_due = now +
				    interval_ms(conf->periodic.heartbeat_interval);
		}
		if (conf != NULL && now >= keep_due) {
			housekeep_run();
			now = clock_mono_ms();
			keep_due = now + HOUSEKEEP_MS;
		}
		publish_counters(now, 0);
	}
}

/* Our counters as self-metrics: when they changed, and once a minute. */
static void
declare_counters(void)
{
	(void)selfmetrics_declare(self, "heartbeats.written",
	    &pstats.heartbeats_written, 0);
	(void)selfmetrics_declare(self, "heartbeats.failed",
	    &pstats.heartbeats_failed, 0);
	(void)selfmetrics_declare(self, "reloads.requested",
	    &pstats.reloads_requested, 0);
	(void)selfmetrics_declare(self, "configs.invalid",
	    &pstats.configs_invalid, 0);
	(void)selfmetrics_declare(self, "rows.pruned", &pstats.rows_pruned, 0);
}

static void
publish_counters(uint64_t now, int force)
{
	if (self != NULL)
		(void)selfmetrics_publish(self, now, force);
}

struct progress *
periodic_db(void)
{
	char		path[PATH_MAX];
	uint64_t	now = clock_mono_ms();

	if (db != NULL)
		return db;
	if (db_failing && now < db_retry_at)
		return NULL;
	if (path_get(path, sizeof(path), PATH_DB) != NULL &&
	    (db = progress_open(path)) != NULL) {
		if (db_failing)
			log_info("progress database works again");
		db_failing = 0;
		return db;
	}
	if (!db_failing)
		log_warnx("cannot open the progress database; the heartbeat "
		    "goes without process and output states, and "
		    "housekeeping waits");
	db_failing = 1;
	db_retry_at = now + DB_RETRY_MS;
	return NULL;
}

const char *
periodic_spool_dir(void)
{
	return spool_dir;
}

const char *
periodic_memory_dir(void)
{
	return conf != NULL ? conf->spool.memory_dir : NULL;
}
