/*
 * ferry-forwarder: reads the spool streams and delivers their records to
 * every configured output, moving each output's cursor in the progress
 * database only after that output acknowledged.
 *
 * One loop does everything: one poll waits on the signal pipe, on an
 * inotify watch of the spool directory (so new records are picked up as
 * soon as a writer appends them instead of on a rescan timer), and on
 * whatever every output's transport waits on (transport.h): libcurl's
 * sockets, a carbon stream, a Redis connection, a resolver.
 */
#include <sys/inotify.h>

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
#include "forwarder.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "progress.h"
#include "selfmetrics.h"
#include "sig.h"
#include "transport.h"

/*
 * New streams and the caps are looked at when inotify says a writer created
 * or wrote something; the timer is only a fallback, every minute while
 * inotify watches both places (or the memory place's parent, for it to
 * appear), every second when it cannot.
 */
#define RESCAN_MS	1000
#define RESCAN_IDLE_MS	60000
#define PUBLISH_MS	1000	/* changed counters: written at most this often */
#define PUBLISH_MAX_MS	60000	/* unchanged: this often */
#define CAP_MS		10	/* spool caps checked at most this often */
#define STOP_GRACE_MS	5000	/* SIGTERM: time to finish a request in flight */


const struct ferry_conf	*fconf;
static struct ferry_conf *conf;
static struct progress	*db;
static struct selfmetrics *self;
static struct output	*outputs;
static size_t		 noutputs;
static int		 quit;
static int		 inotify_fd = -1;
static int		 wd_mem = -1;		/* the memory place */
static int		 wd_mem_parent = -1;	/* an ancestor, until it exists */
static int		 mem_parent_moved;	/* something appeared there */
#define WATCH_MASK	(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_DELETE)

static void
load_config(const char *path)
{
	conf = proc_conf(path);
	fconf = conf;
}

/* Watch the spool so appends wake us; a failure only costs latency. */
static void
watch_spool(const char *dir)
{
	if ((inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1 ||
	    inotify_add_watch(inotify_fd, dir, WATCH_MASK) == -1) {
		log_warn("inotify on %s: polling every %d ms instead", dir,
		    RESCAN_MS);
		if (inotify_fd != -1)
			close(inotify_fd);
		inotify_fd = -1;
	}
}

/*
 * The memory place (spool.memory_dir) is watched like the spool once it
 * exists; until then its nearest existing ancestor is, so its creation (a
 * writer whose disk is full makes it) wakes us: each folder of the path
 * that appears is a rescan, which calls this again. Called at start and
 * at every rescan.
 */
static void
watch_memdir(void)
{
	char	parent[4096], *slash;

	if (inotify_fd == -1 || conf->spool.memory_dir[0] == '\0' ||
	    wd_mem != -1)
		return;
	if ((wd_mem = inotify_add_watch(inotify_fd, conf->spool.memory_dir,
	    WATCH_MASK | IN_ONLYDIR)) != -1) {
		if (wd_mem_parent != -1)
			(void)inotify_rm_watch(inotify_fd, wd_mem_parent);
		wd_mem_parent = -1;
		return;
	}
	if (wd_mem_parent != -1 && !mem_parent_moved)
		return;
	if (wd_mem_parent != -1)
		(void)inotify_rm_watch(inotify_fd, wd_mem_parent);
	wd_mem_parent = -1;
	mem_parent_moved = 0;
	(void)strlcpy(parent, conf->spool.memory_dir, sizeof(parent));
	while (wd_mem_parent == -1 && (slash = strrchr(parent, '/')) != NULL &&
	    slash != parent) {
		*slash = '\0';
		wd_mem_parent = inotify_add_watch(inotify_fd, parent,
		    IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	}
}

/* How often the fallback rescan runs: rarely while inotify sees it all. */
static uint64_t
rescan_interval(void)
{
	if (inotify_fd == -1 || (conf->spool.memory_dir[0] != '\0' &&
	    wd_mem == -1 && wd_mem_parent == -1))
		return RESCAN_MS;
	return RESCAN_IDLE_MS;
}

/*
 * Drain inotify: 0 nothing happened, 1 a writer wrote, 2 a segment was
 * created or removed (rescan for streams too, and the readers look for
 * their next segment again). A read that left room for another event took
 * them all; one that came after it wakes the poll again.
 */
static int
drain_inotify(void)
{
	char			 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t			 n;
	char			*p;
	int			 what = 0;

	if (inotify_fd == -1)
		return 0;
	while ((n = read(inotify_fd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->wd == wd_mem && (ev->mask & IN_IGNORED)) {
				wd_mem = -1;	/* removed: watch for it again */
				what = 2;
			}
			if (ev->wd == wd_mem_parent && !(ev->mask & IN_IGNORED))
				mem_parent_moved = 1;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO | IN_DELETE |
			    IN_Q_OVERFLOW))
				what = 2;
			else if (what == 0)
				what = 1;
		}
		if ((size_t)n + sizeof(*ev) + NAME_MAX + 1 <= sizeof(buf))
			break;
	}
	return what;
}

/*
 * A removed output's cursors and counts go at once (ferry-periodic's
 * housekeeping would, later), so a drain added again under the same name
 * starts afresh instead of resuming from a stale position.
 */
static void
forget_removed_outputs(void)
{
	const char	**names;
	int		  n;

	if ((names = calloc(conf->noutputs + 1, sizeof(*names))) == NULL)
		fatal("calloc");
	if ((n = progress_prune_outputs(db, names,
	    conf_output_names(conf, names))) > 0)
		log_info("forgot %d cursor and state rows of outputs no "
		    "longer configured", n);
	free(names);
}

static void
open_outputs(const char *spool)
{
	size_t	i;
	int	rc;

	if (source_init(spool, conf->spool.memory_dir, db) == -1)
		fatalx("cannot start the outputs");
	if ((outputs = calloc(conf->noutputs + 1, sizeof(*outputs))) == NULL)
		fatal("calloc");
	for (i = 0; i < conf->noutputs; i++)
		if (output_init(&outputs[i], &conf->outputs[i], conf) == -1)
			fatalx_config("output %s: cannot start", conf->outputs[i].name);
	noutputs = conf->noutputs;
	if ((rc = heartbeat_output_init(&outputs[noutputs], conf)) == -1)
		fatalx_config("the heartbeat's output cannot start");
	if (rc == 0)
		noutputs++;
	for (i = 0; i < noutputs; i++) {
		output_restore(&outputs[i], db);
		source_rescan(&outputs[i], 0);
	}
	if (conf->noutputs == 0)
		log_warnx("no output configured: records stay in the spool, "
		    "within spool.max_size");
	forget_removed_outputs();
	/* Segments passed before a crash between commit and unlink. */
	source_cleanup(outputs, noutputs);
	/* The caps hold across restarts: count what is on disk now. */
	cap_init(conf);
	cap_enforce(outputs, noutputs, clock_mono_ms());
}

/* Each output's state, for ferryctl status and the heartbeat. */
static void
publish_states(void)
{
	struct output_state	os;
	size_t			i;

	if (noutputs == 0 || progress_begin(db) == -1)
		return;
	for (i = 0; i < noutputs; i++) {
		struct output *o = &outputs[i];

		memset(&os, 0, sizeof(os));
		strlcpy(os.name, o->name, sizeof(os.name));
		strlcpy(os.state, output_health(o, &os.since), sizeof(os.state));
		os.last_success = o->last_success;
		strlcpy(os.last_error, o->last_error, sizeof(os.last_error));
		os.last_error_at = o->last_error_at;
		os.sent = o->sent;
		os.dropped = o->dropped;
		os.deadlettered = o->deadlettered;
		os.retries = o->retries;
		os.last_drop_at = o->last_drop_at;
		os.updated = clock_wall();
		if (progress_output_set(db, &os) == -1)
			break;
	}
	if (i < noutputs || progress_commit(db) == -1)
		progress_rollback(db);
}

static int
failing(const void *arg, uint64_t *v)
{
	*v = (uint64_t)((const struct output *)arg)->failures;
	return 1;
}

/* When an output began to fail, and to dead-letter: its state moved. */
static int
fail_since(const void *arg, uint64_t *v)
{
	*v = (uint64_t)((const struct output *)arg)->fail_since;
	return 1;
}

static int
dead_since(const void *arg, uint64_t *v)
{
	*v = (uint64_t)((const struct output *)arg)->dead_since;
	return 1;
}

/*
 * Our counters as metrics in the spool, when they changed (at most once a
 * second) and once a minute anyway; the outputs' states go to ferry.db
 * with them. The spool's sizes are levels: our own snapshot moves them,
 * and were they watched we would never rest.
 */
static void
declare_counters(void)
{
	const struct cap_totals	*cap = cap_totals();
	struct output		*o;
	char			 name[160];
	size_t			 i;

	selfmetrics_pace(self, PUBLISH_MS, PUBLISH_MAX_MS);
	for (i = 0; i < noutputs; i++) {
		o = &outputs[i];
		snprintf(name, sizeof(name), "output.%s.sent", o->name);
		(void)selfmetrics_declare(self, name, &o->sent, 0);
		snprintf(name, sizeof(name), "output.%s.retries", o->name);
		(void)selfmetrics_declare(self, name, &o->retries, 0);
		snprintf(name, sizeof(name), "output.%s.deadlettered", o->name);
		(void)selfmetrics_declare(self, name, &o->deadlettered, 0);
		snprintf(name, sizeof(name), "output.%s.failing", o->name);
		(void)selfmetrics_declare_fn(self, name, failing, o, 0);
		snprintf(name, sizeof(name), "output.%s.dropped", o->name);
		(void)selfmetrics_declare(self, name, &o->dropped, 0);
		snprintf(name, sizeof(name), "output.%s.fail_since", o->name);
		(void)selfmetrics_declare_fn(self, name, fail_since, o,
		    SELFMETRICS_HIDDEN);
		snprintf(name, sizeof(name), "output.%s.dead_since", o->name);
		(void)selfmetrics_declare_fn(self, name, dead_since, o,
		    SELFMETRICS_HIDDEN);
	}
	(void)selfmetrics_declare(self, "spool.dropped", &cap->dropped, 0);
	(void)selfmetrics_declare(self, "spool.bytes", &cap->disk_bytes,
	    SELFMETRICS_QUIET);
	(void)selfmetrics_declare(self, "spool.memory_bytes",
	    &cap->memory_bytes, SELFMETRICS_QUIET);
}

static void
publish_counters(uint64_t now_ms, int force)
{
	if (!force && now_ms < selfmetrics_due(self))
		return;
	publish_states();
	(void)selfmetrics_publish(self, now_ms, 1);
}

static void
handle_signals(uint64_t now, uint64_t *stop_by)
{
	size_t	i;
	int	signo;

	while ((signo = sig_next()) != 0) {
		if ((signo == SIGTERM || signo == SIGINT) && !quit) {
			quit = 1;
			forwarder_stopping = 1;
			*stop_by = now + STOP_GRACE_MS;
		} else if (signo == SIGUSR1) {
			/* logrotate moved a file output's file away. */
			for (i = 0; i < noutputs; i++)
				output_reopen(&outputs[i]);
		}
	}
}

static int
any_sending(void)
{
	size_t	i;

	for (i = 0; i < noutputs; i++)
		if (outputs[i].state == OUT_SENDING)
			return 1;
	return 0;
}

static int
poll_timeout(uint64_t now, uint64_t rescan_due, uint64_t cap_due)
{
	uint64_t	due = rescan_due, d = selfmetrics_due(self);
	size_t		i;

	if (d < due)
		due = d;
	if (cap_due < due)
		due = cap_due;
	for (i = 0; i < noutputs; i++)
		if ((d = output_next_due(&outputs[i], now)) < due)
			due = d;
	return due > now ? (int)(due - now) : 0;
}

static void
event_loop(void)
{
	struct pollfd	 fds[2] = { { sig_fd(), POLLIN, 0 },
			    { inotify_fd, POLLIN, 0 } };
	uint64_t	 now = clock_mono_ms(), rescan_due = now;
	uint64_t	 stop_by = 0, cap_last = now;
	size_t		 i;
	int		 wrote, cap_wanted = 0;

	for (;;) {
		transport_wait(fds, inotify_fd == -1 ? 1 : 2, outputs, noutputs,
		    poll_timeout(now, rescan_due, cap_wanted ? cap_last + CAP_MS :
		    cap_last + rescan_interval()));
		now = clock_mono_ms();
		/* Only what poll said is readable: a wake-up costs no more. */
		if (fds[0].revents & POLLIN)
			handle_signals(now, &stop_by);
		wrote = fds[1].revents & POLLIN ? drain_inotify() : 0;
		if (wrote == 2) {
			rescan_due = now;
			source_recheck(outputs, noutputs);
		}
		if (now >= rescan_due) {
			watch_memdir();
			for (i = 0; i < noutputs; i++)
				source_rescan(&outputs[i], 0);
			rescan_due = now + rescan_interval();
		}
		/*
		 * After rescan: a new stream's reader must exist to be counted.
		 * A check lists the spool: at a rotation, at a write near a cap
		 * (cap_near()), at most every CAP_MS, and at any write a second
		 * after the last check; no timer wakes us for it at rest but the
		 * fallback rescan's.
		 */
		cap_wanted |= wrote == 2 || (wrote && (cap_near() ||
		    now >= cap_last + RESCAN_MS));
		if ((cap_wanted && now >= cap_last + CAP_MS) ||
		    now >= cap_last + rescan_interval()) {
			cap_enforce(outputs, noutputs, now);
			cap_last = now;
			cap_wanted = 0;
		}
		for (i = 0; i < noutputs; i++)
			output_tick(&outputs[i], now, quit);
		if (cleanup_wanted) {
			cleanup_wanted = 0;
			source_cleanup(outputs, noutputs);
		}
		publish_counters(now, 0);
		if (quit && (!any_sending() || now >= stop_by))
			break;
	}
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	char		 spool[4096];
	size_t		 i;

	load_config(proc_init(argc, argv, "forwarder"));
	if (sig_init(sigs, 4) == -1)
		fatalx("signals");
	if (path_get(spool, sizeof(spool), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		fatalx("cannot make the spool directory");
	if ((db = progress_open_db()) == NULL)
		fatalx("cannot open the progress database");
	if ((self = selfmetrics_open(conf, spool, "forwarder")) == NULL)
		fatalx("cannot open the self-metrics stream");
	watch_spool(spool);
	watch_memdir();
	/* Told of new segments: the readers need not look for them each batch. */
	if (inotify_fd != -1)
		source_trust(RESCAN_MS);
	open_outputs(spool);
	declare_counters();

	event_loop();

	/* A request still in flight is abandoned: its cursor did not move. */
	for (i = 0; i < noutputs; i++)
		output_orphans_lost(&outputs[i]);
	publish_counters(clock_mono_ms(), 1);
	selfmetrics_close(self);
	for (i = 0; i < noutputs; i++)
		output_free(&outputs[i]);
	free(outputs);
	transport_cleanup();
	progress_close(db);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
