/*
 * ferry-collectors: the runner. main() loads the configuration, opens the
 * spool stream "collectors", finds the collectors and then lives in one
 * poll() loop that owns every timer and every pipe:
 *
 *  - the two collectors directories are scanned at start, every
 *    collectors.scan_interval (30 s) and soon after inotify says they
 *    changed, so a dropped-in executable starts and a removed one stops;
 *  - each interval collector runs at its own phase of its interval (a
 *    stable offset per name) and is killed, with its process group, at its
 *    timeout; a daemon is started once and restarted with a backoff;
 *  - their stdout and stderr are read without ever blocking (printed.c),
 *    so one collector can hang, flood, crash or print garbage without
 *    delaying another by more than one chunk's handling;
 *  - the built-ins that can run inline are sampled here, all in one turn
 *    of the loop at one phase of the interval (inline.c);
 *  - the drop directory is looked at when inotify says a file arrived
 *    (drop.c);
 *  - accepted lines reach the spool file within FLUSH_MS and are fsynced
 *    within a second, the receiver's promises.
 * An idle runner sleeps: no timer fires unless something is due, so that
 * what it costs is what its collectors cost.
 *
 * The runner is a child subreaper, so whatever a collector leaves behind
 * is reaped here, and killed when the runner stops.
 */
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "collectors.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "selfmetrics.h"
#include "sig.h"
#include "spool.h"

#define FLUSH_MS	50	/* half the receiver's 100 ms promise */
#define SYNC_MS		1000
#define TICK_MS		1000	/* drop sweep while a file settles */
#define DROP_RESCAN_MS	30000	/* drop sweep in case an event was missed */
#define HOUSEKEEP_MS	10000	/* log notices, archive.log rotation */
#define INLINE_PHASE	"inline built-ins"	/* their one schedule offset */
#define RESCAN_SOON_MS	200	/* after inotify: let a copy finish */
#define SELF_PERIOD_MS	60000	/* counters at least this often */
#define QUIT_GIVEUP_MS	(STOP_GRACE_MS + 3000)
#define NPOLL		(2 * COLL_MAX + 2)

static struct runner		 R;
static struct ferry_conf	*conf;
static struct selfmetrics	*self;
static int			 declared;	/* self's values: R.list's */
static int			 ifd = -1;	/* inotify */
static int			 wd_dir[2] = { -1, -1 };
static const char		*dirs[2];	/* custom first: it wins */

struct timers {
	uint64_t	flush_due;	/* 0: nothing buffered */
	uint64_t	sync_due;	/* 0: nothing happened since the last */
	uint64_t	synced_at;	/* the last sync */
	uint64_t	sweep_due;	/* the drop directory */
	uint64_t	housekeep_due;
	uint64_t	self_due;	/* counters written at least this often */
	uint64_t	scan_due;
	int		drop_busy;	/* a drop file is in progress */
};

static void	setup(void);
static void	scan(uint64_t);
static void	found(const char *, const char *, const struct stat *, void *);
static int	coll_mode(struct collector *, int);
static struct collector *coll_new(const char *, const char *, int, uint64_t);
static void	coll_free(struct collector *);
static void	coll_changed(struct collector *, const struct stat *, uint64_t);
static void	coll_retire(struct collector *, const char *, uint64_t);
static void	ended(struct collector *, uint64_t);
static void	reap(uint64_t);
static int	emit(struct runner *, const char *, size_t);
static int	run_due(uint64_t);
static void	event_loop(void);
static void	handle_signals(uint64_t);
static void	handle_inotify(uint64_t, struct timers *);
static void	watch_dirs(void);
static void	run_timers(struct timers *, uint64_t);
static void	activity(struct timers *, uint64_t);
static int	next_timeout(const struct timers *, uint64_t, uint64_t);
static void	publish_counters(uint64_t, int);
static void	shutdown_collectors(void);
static void	free_all(void);

int
main(int argc, char *argv[])
{
	conf = proc_conf(proc_init(argc, argv, "collectors"));
	setup();

	event_loop();

	shutdown_collectors();
	if (spool_sync(R.spool) == -1)
		log_warnx("lines still buffered at exit could not be written");
	if (R.archive != NULL)
		archive_flush(R.archive);
	publish_counters(clock_mono_ms(), 1);
	free_all();
	drop_close();
	archive_close(R.archive);
	spool_close(R.spool);
	selfmetrics_close(self);
	if (ifd != -1)
		close(ifd);
	log_info("stopped");
	conf_free(conf);
	return 0;
}

/* Everything before the first scan: spool, limits, dirs, signals. */
static void
setup(void)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1,
	    SIGCHLD };
	char			 dir[PATH_MAX], path[PATH_MAX];
	size_t			 i;

	memset(&R, 0, sizeof(R));
	R.conf = conf;
	R.emit = emit;
	TAILQ_INIT(&R.list);
	if (sig_init(sigs, sizeof(sigs) / sizeof(sigs[0])) == -1)
		fatalx("signals");
	/* Orphans of our collectors come to us, to be reaped and killed. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_warn("prctl PR_SET_CHILD_SUBREAPER");

	if ((R.prefixlen = line_prefix(R.prefix, sizeof(R.prefix),
	    conf->prefix, conf->hostname)) == 0)
		fatalx_config("prefix and hostname are too long");
	R.max_line = conf->receiver.max_line < LINE_MAX_BYTES ?
	    conf->receiver.max_line : LINE_MAX_BYTES;
	scan_owners_init(&R.owners, conf->user);

	if (path_get(R.state_dir, sizeof(R.state_dir),
	    PATH_VAR "/collectors-state") == NULL ||
	    path_mkdirs(PATH_VAR "/collectors-state", 0750) == -1)
		log_warnx("no state directory for collectors; they run in /");

	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		fatalx("cannot make the spool directory");
	if ((R.spool = spool_open(dir, conf->spool.memory_dir, "collectors",
	    &conf->spool)) == NULL)
		fatalx("cannot open the spool in %s", dir);
	if ((self = selfmetrics_open(conf, dir, "collectors")) == NULL)
		fatalx("cannot open the self-metrics stream in %s", dir);
	if (conf->collectors.archive) {
		if (path_get(path, sizeof(path), PATH_LOG "/archive.log") == NULL ||
		    (R.archive = archive_open(path)) == NULL)
			log_warnx("collectors.archive is on, but archive.log "
			    "cannot be opened");
	}

	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		log_warn("inotify; directories are only scanned every %g s",
		    conf->collectors.scan_interval);
	dirs[0] = conf->collectors.custom_dir;
	dirs[1] = conf->collectors.builtin_dir;
	if (drop_init(&R, ifd) == -1)
		fatalx("cannot use the drop directory");

	for (i = 0; i < conf->ncollector; i++)
		if (!conf->collector[i].enabled)
			log_info("collector %s is disabled by the configuration",
			    conf->collector[i].name);
	log_info("started: collectors from %s and %s, every %g s unless "
	    "configured otherwise", dirs[1], dirs[0], conf->collectors.interval);
}

/* The collector "NAME" section of name, or NULL. */
static const struct collector_conf *
section_of(const char *name)
{
	size_t	i;

	for (i = 0; i < conf->ncollector; i++)
		if (strcmp(conf->collector[i].name, name) == 0)
			return &conf->collector[i];
	return NULL;
}

static struct collector *
find_name(const char *name)
{
	struct collector	*c;

	TAILQ_FOREACH(c, &R.list, entry)
		if (!c->gone && strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct scan_ctx {
	int		builtin;
	uint64_t	now;
};

/*
 * Both directories, the operator's first: a collector there overrides a
 * built-in of the same name. What was not found again is retired.
 */
static void
scan(uint64_t now)
{
	struct collector	*c, *tmp;
	struct scan_ctx		 ctx;
	int			 i;

	watch_dirs();
	TAILQ_FOREACH(c, &R.list, entry)
		c->seen = 0;
	scan_begin();
	for (i = 0; i < 2; i++) {
		ctx.builtin = i == 1;
		ctx.now = now;
		(void)scan_dir(dirs[i], &R.owners, found, &ctx);
	}
	scan_end();
	for (c = TAILQ_FIRST(&R.list); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (!c->gone && !c->seen)
			coll_retire(c, "its file is gone or may no longer run",
			    now);
	}
}

static void
found(const char *name, const char *path, const struct stat *st, void *arg)
{
	struct scan_ctx			*ctx = arg;
	const struct collector_conf	*cc = section_of(name);
	struct collector		*c;
	static int			 full_logged;

	if (cc != NULL && !cc->enabled)
		return;
	if ((c = find_name(name)) != NULL) {
		if (c->seen)
			return;		/* the operator's overrides a built-in */
		if (strcmp(c->path, path) == 0) {
			c->seen = 1;
			coll_changed(c, st, ctx->now);
			return;
		}
		coll_retire(c, "replaced", ctx->now);
	}
	if (R.ncoll >= COLL_MAX) {
		if (!full_logged)
			log_warnx("more than %d collectors; %s and others are "
			    "not run", COLL_MAX, path);
		full_logged = 1;
		return;
	}
	if ((c = coll_new(name, path, ctx->builtin, ctx->now)) != NULL) {
		c->seen = 1;
		c->dev = st->st_dev;
		c->ino = st->st_ino;
		c->mtime = st->st_mtim;
	}
}

/*
 * A file replaced or rewritten in place (a package upgrade): the next
 * interval run takes the new one anyway; a daemon is restarted now.
 */
static void
coll_changed(struct collector *c, const struct stat *st, uint64_t now)
{
	if (c->dev == st->st_dev && c->ino == st->st_ino &&
	    c->mtime.tv_sec == st->st_mtim.tv_sec &&
	    c->mtime.tv_nsec == st->st_mtim.tv_nsec)
		return;
	c->dev = st->st_dev;
	c->ino = st->st_ino;
	c->mtime = st->st_mtim;
	if (!c->daemon)
		return;
	log_info("collector %s changed on disk; restarting it", c->name);
	c->restarts = 0;
	if (c->pid > 0)
		exec_stop(c, now);
	else if (c->state == COLL_BACKOFF)
		c->due = now;
}

/*
 * How c runs: its section's mode, else builtin_mode for a built-in and
 * interval for the operator's. Inline is only for what inline.c can host
 * (a built-in without args); the rest of the built-ins run as daemons.
 */
static int
coll_mode(struct collector *c, int builtin)
{
	const struct collector_conf	*cc = c->cc;
	int				 mode;

	mode = cc != NULL ? cc->mode : COLLECTOR_MODE_DEFAULT;
	if (mode == COLLECTOR_MODE_DEFAULT)
		mode = builtin ? conf->collectors.builtin_mode :
		    COLLECTOR_MODE_INTERVAL;
	if (mode != COLLECTOR_MODE_INLINE)
		return mode;
	if (builtin && (cc == NULL || cc->nargs == 0) &&
	    (c->inl = inline_find(c->name)) != NULL)
		return COLLECTOR_MODE_INLINE;
	if (cc != NULL && cc->mode == COLLECTOR_MODE_INLINE)
		log_warnx("collector %s cannot run inline (only built-ins "
		    "without args can); it runs as a %s", c->name,
		    builtin ? "daemon" : "program each interval");
	return builtin ? COLLECTOR_MODE_DAEMON : COLLECTOR_MODE_INTERVAL;
}

/*
 * A built-in that would run inline but cannot (self, or one given args)
 * runs as a daemon started at the inline built-ins' phase: it then samples
 * in step with them, and at rest the forwarder sends one request an
 * interval, not one for each.
 */
static int
in_step(const struct collector *c, int builtin)
{
	return builtin && c->daemon &&
	    conf->collectors.builtin_mode == COLLECTOR_MODE_INLINE;
}

static struct collector *
coll_new(const char *name, const char *path, int builtin, uint64_t now)
{
	const struct collector_conf	*cc = section_of(name);
	struct collector		*c;
	double				 interval_s;
	int				 mode;
	size_t				 i;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	(void)strlcpy(c->name, name, sizeof(c->name));
	(void)strlcpy(c->path, path, sizeof(c->path));
	/* In a metric name a dot would make a level of its own. */
	for (i = 0; i < sizeof(c->mname) - 1 && name[i] != '\0'; i++)
		c->mname[i] = (name[i] == '.' || name[i] == ' ') ? '_' : name[i];
	c->cc = cc;
	mode = coll_mode(c, builtin);
	c->daemon = mode == COLLECTOR_MODE_DAEMON;
	interval_s = cc != NULL ? cc->interval : conf->collectors.interval;
	c->interval_ms = (uint64_t)(interval_s * 1000);
	c->timeout_ms = (uint64_t)((cc != NULL ? cc->timeout :
	    conf->collectors.timeout) * 1000);
	c->max_lines = cc != NULL ? cc->max_lines : conf->collectors.max_lines;
	c->max_bps = cc != NULL ? cc->max_bytes_per_second :
	    conf->collectors.max_bytes_per_second;
	c->out.fd = c->err.fd = -1;
	c->duration_ms = -1;
	/* A run may spend a whole interval's bytes at once. */
	bucket_init(&c->bytes, (double)c->max_bps, (double)c->max_bps *
	    (interval_s > 1 ? interval_s : 1), now);
	bucket_init(&c->lines, (double)c->max_lines / interval_s,
	    (double)c->max_lines, now);
	/*
	 * Processes are spread over the interval so that they never start
	 * all at once; inline samples cost no process, and taken together
	 * they cost one wakeup and one write instead of one each.
	 */
	c->offset_ms = sched_offset(c->inl != NULL || in_step(c, builtin) ?
	    INLINE_PHASE : name, c->interval_ms);
	if (c->daemon) {
		c->state = COLL_BACKOFF;
		c->due = in_step(c, builtin) ? sched_next(now, c->interval_ms,
		    c->offset_ms) : now;
	} else {
		c->state = COLL_IDLE;
		c->due = sched_next(now, c->interval_ms, c->offset_ms);
	}
	TAILQ_INSERT_TAIL(&R.list, c, entry);
	R.ncoll++;
	declared = 0;
	log_info("collector %s: %s, %s %g s%s", name, path,
	    c->inl != NULL ? "inline, sampled every" :
	    c->daemon ? "daemon, samples every" : "runs every", interval_s,
	    builtin ? " (built-in)" : "");
	return c;
}

static void
coll_free(struct collector *c)
{
	TAILQ_REMOVE(&R.list, c, entry);
	R.ncoll--;
	/* Its counters were declared: not one more look at them. */
	selfmetrics_forget(self);
	declared = 0;
	inline_free(c);
	free(c->out.buf);
	free(c->err.buf);
	free(c);
}

/*
 * c no longer runs from now on. A daemon is stopped; an interval run in
 * progress may finish (its timeout bounds it); then c is freed.
 */
static void
coll_retire(struct collector *c, const char *why, uint64_t now)
{
	log_info("collector %s: %s; not run any more", c->name, why);
	c->gone = 1;
	if (c->pid <= 0) {
		coll_free(c);
		return;
	}
	c->state = COLL_GONE;
	if (c->daemon)
		exec_stop(c, now);
}

/* A process of c was reaped (exec.c): what comes next. */
static void
ended(struct collector *c, uint64_t now)
{
	if (R.quit) {
		/* Kept for the last counters; freed at the very end. */
		c->state = COLL_GONE;
		return;
	}
	if (c->gone) {
		coll_free(c);
		return;
	}
	if (c->daemon) {
		c->state = COLL_BACKOFF;
		c->due = now + sched_backoff(c->restarts);
		c->restarts++;
		return;
	}
	c->state = COLL_IDLE;
	if (c->due <= now)
		c->due = sched_next(now, c->interval_ms, c->offset_ms);
}

/* SIGCHLD: each collector whose process exited goes on to its next state. */
static void
reap(uint64_t now)
{
	struct collector	*c;

	while ((c = exec_reap(&R, now)) != NULL)
		ended(c, now);
}

/*
 * Start what is due: interval runs at their slot, daemons after backoff,
 * inline samples. Returns how many were started or taken.
 */
static int
run_due(uint64_t now)
{
	struct collector	*c, *tmp;
	int			 started = 0;

	for (c = TAILQ_FIRST(&R.list); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (c->gone || now < c->due)
			continue;
		switch (c->state) {
		case COLL_IDLE:
			c->due = sched_next(now, c->interval_ms, c->offset_ms);
			if (c->skipping > 0) {
				log_info("collector %s ended; %d runs were "
				    "skipped while it ran", c->name, c->skipping);
				c->skipping = 0;
			}
			if (c->inl != NULL)
				inline_run(&R, c, now);
			else
				(void)exec_spawn(&R, c, now);
			started++;
			break;
		case COLL_RUNNING:
			if (c->daemon) {
				c->due = UINT64_MAX;
				break;
			}
			/* Still running at its next slot: one at a time. */
			c->st.skipped++;
			if (c->skipping++ == 0)
				log_warnx("collector %s is still running at its "
				    "next interval; that run is skipped",
				    c->name);
			c->due = sched_next(now, c->interval_ms, c->offset_ms);
			break;
		case COLL_BACKOFF:
			if (c->st.runs > 0)
				c->st.restarts++;
			if (exec_spawn(&R, c, now) == -1) {
				c->due = now + sched_backoff(c->restarts);
				c->restarts++;
			} else
				c->due = UINT64_MAX;
			started++;
			break;
		case COLL_GONE:
			break;
		}
	}
	return started;
}

/* A validated, normalised line: to the spool and the archive. */
static int
emit(struct runner *r, const char *line, size_t len)
{
	if (spool_append(r->spool, line, len) == -1)
		return -1;
	if (r->archive != NULL)
		archive_append(r->archive, line, len);
	return 0;
}

/* (Re)add the inotify watches of the collectors directories. */
static void
watch_dirs(void)
{
	int	i;

	if (ifd == -1)
		return;
	for (i = 0; i < 2; i++)
		if (wd_dir[i] == -1)
			wd_dir[i] = inotify_add_watch(ifd, dirs[i], IN_CREATE |
			    IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB |
			    IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |
			    IN_ONLYDIR);
}

static void
handle_inotify(uint64_t now, struct timers *t)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	ssize_t				 n;
	char				*p;
	int				 i;

	while ((n = read(ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				/* Events were lost: look at everything. */
				t->scan_due = now;
				t->sweep_due = now;
				continue;
			}
			if (ev->wd == drop_watch()) {
				if (drop_event(ev->mask, ev->len > 0 ? ev->name :
				    NULL))
					t->sweep_due = now;
				continue;
			}
			for (i = 0; i < 2; i++) {
				if (ev->wd != wd_dir[i])
					continue;
				if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
				    IN_MOVE_SELF)) {
					if (!(ev->mask & IN_IGNORED))
						(void)inotify_rm_watch(ifd, ev->wd);
					wd_dir[i] = -1;
				}
				if (t->scan_due > now + RESCAN_SOON_MS)
					t->scan_due = now + RESCAN_SOON_MS;
			}
		}
	}
	if (t->drop_busy == 0)
		t->drop_busy = 1;	/* a renamed-in file: look now */
}

static void
handle_signals(uint64_t now)
{
	struct collector	*c;
	int			 signo;

	while ((signo = sig_next()) != 0) {
		switch (signo) {
		case SIGCHLD:
			reap(now);
			break;
		case SIGTERM:
		case SIGINT:
			if (R.quit)
				break;
			log_info("stopping");
			R.quit = 1;
			R.quit_at = now;
			TAILQ_FOREACH(c, &R.list, entry)
				exec_stop(c, now);
			break;
		case SIGUSR1:
			if (R.archive != NULL)
				archive_check(R.archive);
			break;
		case SIGHUP:
			/* The supervisor restarts us on a reload. */
			log_debug("SIGHUP ignored");
			break;
		default:
			break;
		}
	}
}

/* What the drop directory has done so far: it moves when it did anything. */
static uint64_t
drop_progress(void)
{
	const struct drop_stats	*ds = drop_stats();
	uint64_t		 sum = ds->files + ds->lines + ds->dropped +
				    ds->errors;
	int			 i;

	for (i = 0; i < METRIC_NSTATUS; i++)
		sum += ds->rejected[i];
	return sum;
}

/* The spool's promises, the drop directory, housekeeping. */
static void
run_timers(struct timers *t, uint64_t now)
{
	struct collector	*c;
	uint64_t		 done;

	exec_timeouts(&R, now);
	if (!R.quit) {
		if (now >= t->scan_due) {
			scan(now);
			t->scan_due = now +
			    (uint64_t)(conf->collectors.scan_interval * 1000);
		}
		/*
		 * Inline samples are whole batches, but the built-in daemons in
		 * step with them (in_step()) print a moment later: their lines
		 * go in the same write and the same sync.
		 */
		if (run_due(now) > 0) {
			if (t->flush_due == 0)
				t->flush_due = now + FLUSH_MS;
			activity(t, now);
		}
		if (now >= t->sweep_due) {
			t->sweep_due = now +
			    (drop_sweep(now) ? TICK_MS : DROP_RESCAN_MS);
			t->drop_busy = 1;
		}
	}
	if (now >= t->housekeep_due) {
		TAILQ_FOREACH(c, &R.list, entry)
			printed_housekeep(c, now);
		if (R.archive != NULL)
			archive_check(R.archive);
		t->housekeep_due = now + HOUSEKEEP_MS;
	}
	if (t->drop_busy && !R.quit) {
		done = drop_progress();
		t->drop_busy = drop_work(now);
		if (drop_progress() != done)
			activity(t, now);
	}
	if (spool_pending(R.spool) > 0 && t->flush_due == 0)
		t->flush_due = now + FLUSH_MS;
	if (t->flush_due != 0 && now >= t->flush_due) {
		if (spool_flush(R.spool) == -1)
			log_warn("spool write");
		if (R.archive != NULL)
			archive_flush(R.archive);
		t->flush_due = 0;
		activity(t, now);
	}
	/* Lines still buffered are written first: the sync follows the flush. */
	if ((t->sync_due != 0 && now >= t->sync_due && t->flush_due == 0) ||
	    now >= t->self_due) {
		t->sync_due = 0;
		if (spool_sync(R.spool) == -1) {
			log_warn("spool sync");
			t->sync_due = now + SYNC_MS;	/* again, until it works */
		}
		publish_counters(now, 0);
		t->self_due = now + SELF_PERIOD_MS;
		t->synced_at = now;
	}
}

/*
 * Something happened: lines, a run, a reap. Sync and count within SYNC_MS:
 * at once when the last sync is that old (at rest, a collection is written,
 * synced and counted in one wake-up), else a second after the last one (a
 * flood is synced once a second, not at every write).
 */
static void
activity(struct timers *t, uint64_t now)
{
	if (t->sync_due == 0)
		t->sync_due = t->synced_at + SYNC_MS > now ?
		    t->synced_at + SYNC_MS : now;
}

static int
next_timeout(const struct timers *t, uint64_t now, uint64_t wake)
{
	struct collector	*c;
	uint64_t		 due = t->self_due;

	if (t->drop_busy && !R.quit)
		return 0;
	if (t->flush_due != 0 && t->flush_due < due)
		due = t->flush_due;
	if (t->sync_due != 0 && t->flush_due == 0 && t->sync_due < due)
		due = t->sync_due;
	if (t->housekeep_due < due)
		due = t->housekeep_due;
	if (!R.quit && t->sweep_due < due)
		due = t->sweep_due;
	if (!R.quit && t->scan_due < due)
		due = t->scan_due;
	if (wake < due)
		due = wake;
	TAILQ_FOREACH(c, &R.list, entry) {
		if (!R.quit && !c->gone && c->due < due)
			due = c->due;
		if (c->pid > 0 && c->deadline != 0 && !c->killed &&
		    c->deadline < due)
			due = c->deadline;
		if (c->pid > 0 && c->kill_at != 0 && c->kill_at < due)
			due = c->kill_at;
	}
	if (R.quit && R.quit_at + QUIT_GIVEUP_MS < due)
		due = R.quit_at + QUIT_GIVEUP_MS;
	return due > now ? (int)(due - now > 60000 ? 60000 : due - now) : 0;
}

static int
any_running(void)
{
	struct collector	*c;

	TAILQ_FOREACH(c, &R.list, entry)
		if (c->pid > 0)
			return 1;
	return 0;
}

static void
event_loop(void)
{
	static struct pollfd	 pfd[NPOLL];
	static struct collector	*owner[NPOLL];
	static struct pipe_in	*which[NPOLL];
	struct collector	*c;
	struct timers		 t;
	uint64_t		 now = clock_mono_ms(), wake;
	int			 n, i, npipes;

	memset(&t, 0, sizeof(t));
	t.sync_due = now + SYNC_MS;	/* the first counters */
	t.self_due = now + SELF_PERIOD_MS;
	t.housekeep_due = now + HOUSEKEEP_MS;
	t.sweep_due = now;
	t.scan_due = now;
	run_timers(&t, now);
	while (!R.quit || any_running()) {
		if (R.quit && now >= R.quit_at + QUIT_GIVEUP_MS) {
			log_warnx("collectors did not stop in time; leaving");
			break;
		}
		n = 0;
		pfd[n].fd = sig_fd();
		pfd[n++].events = POLLIN;
		pfd[n].fd = ifd;
		pfd[n++].events = POLLIN;
		npipes = n;
		wake = UINT64_MAX;
		TAILQ_FOREACH(c, &R.list, entry) {
			if (c->pid <= 0 || n + 2 > NPOLL)
				continue;
			if (printed_wants(c, &c->out, now, &wake)) {
				pfd[n].fd = c->out.fd;
				pfd[n].events = POLLIN;
				owner[n] = c;
				which[n++] = &c->out;
			}
			if (printed_wants(c, &c->err, now, &wake)) {
				pfd[n].fd = c->err.fd;
				pfd[n].events = POLLIN;
				owner[n] = c;
				which[n++] = &c->err;
			}
		}
		for (i = 0; i < n; i++)
			pfd[i].revents = 0;
		if (poll(pfd, n, next_timeout(&t, now, wake)) == -1 &&
		    errno != EINTR)
			fatal("poll");
		now = clock_mono_ms();
		/* Pipes before signals: a reap may free their collector. */
		for (i = npipes; i < n; i++)
			if (pfd[i].revents != 0) {
				printed_read(&R, owner[i], which[i], now, 0);
				activity(&t, now);
			}
		if (pfd[1].revents != 0)
			handle_inotify(now, &t);
		if (pfd[0].revents != 0) {
			handle_signals(now);
			activity(&t, now);
		}
		run_timers(&t, now);
		if (R.quit && !any_running())
			break;
	}
}

/* The last of the processes: SIGKILL what is left, reap, and strays. */
static void
shutdown_collectors(void)
{
	int	i;

	exec_kill_all(&R);
	exec_kill_strays();
	for (i = 0; i < 50 && any_running(); i++) {
		usleep(20000);
		reap(clock_mono_ms());
	}
}

static void
free_all(void)
{
	struct collector	*c, *tmp;

	for (c = TAILQ_FIRST(&R.list); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		coll_free(c);
	}
}

static int
last_run(const void *arg, uint64_t *v)
{
	const struct collector	*c = arg;

	*v = (uint64_t)c->last_run;
	return c->last_run > 0;
}

static int
duration_ms(const void *arg, uint64_t *v)
{
	const struct collector	*c = arg;

	*v = (uint64_t)c->duration_ms;
	return c->duration_ms >= 0;
}

static int
archive_drops(const void *arg, uint64_t *v)
{
	*v = archive_dropped(arg);
	return 1;
}

/* One counter of collector c (or of the drop directory, c NULL). */
static void
declare_one(const struct collector *c, const char *what, const uint64_t *p,
    int flags)
{
	char	name[COLL_NAME_MAX + 64];

	snprintf(name, sizeof(name), "%s.%s", c != NULL ? c->mname : "dropdir",
	    what);
	(void)selfmetrics_declare(self, name, p, flags);
}

/* Each reason a line was rejected, once it is not zero. */
static void
declare_rejected(const struct collector *c, const uint64_t *rejected)
{
	char	what[32];
	int	i;

	for (i = METRIC_BAD_NAME; i < METRIC_NSTATUS; i++) {
		snprintf(what, sizeof(what), "rejected.%s", metric_status_name(i));
		declare_one(c, what, &rejected[i], SELFMETRICS_NONZERO);
	}
}

/*
 * Our counters, as metrics of the stream self-collectors: per collector
 * <name>.runs and <name>.lines always, the rest (cut, timeouts, failures,
 * rejected.<reason>, ...) once they are not zero; and the drop directory's
 * under dropdir. Two are not totals but the latest values, once there is
 * one: <name>.last_run (epoch seconds the last run started; a daemon's,
 * when it last printed) and <name>.duration_ms (of the last run that
 * ended; never for a daemon). Written when they changed, at most each
 * second, and once a minute anyway (common/selfmetrics.c watches them).
 * Declared again whenever a collector comes or goes.
 */
static void
declare_counters(void)
{
	const struct drop_stats	*ds = drop_stats();
	struct collector	*c;
	char			 name[COLL_NAME_MAX + 64];
	const struct {
		const char	*name;
		size_t		 off;
	} extra[] = {
		{ "cut", offsetof(struct coll_stats, cut) },
		{ "timeouts", offsetof(struct coll_stats, timeouts) },
		{ "failures", offsetof(struct coll_stats, failures) },
		{ "skipped", offsetof(struct coll_stats, skipped) },
		{ "dropped", offsetof(struct coll_stats, dropped) },
		{ "restarts", offsetof(struct coll_stats, restarts) },
	};
	size_t			 k;

	selfmetrics_forget(self);
	selfmetrics_pace(self, 0, SELF_PERIOD_MS);
	TAILQ_FOREACH(c, &R.list, entry) {
		declare_one(c, "runs", &c->st.runs, 0);
		declare_one(c, "lines", &c->st.lines, 0);
		snprintf(name, sizeof(name), "%s.last_run", c->mname);
		(void)selfmetrics_declare_fn(self, name, last_run, c, 0);
		snprintf(name, sizeof(name), "%s.duration_ms", c->mname);
		(void)selfmetrics_declare_fn(self, name, duration_ms, c, 0);
		for (k = 0; k < sizeof(extra) / sizeof(extra[0]); k++)
			declare_one(c, extra[k].name, (const uint64_t *)
			    ((const char *)&c->st + extra[k].off),
			    SELFMETRICS_NONZERO);
		declare_rejected(c, c->st.rejected);
	}
	declare_one(NULL, "files", &ds->files, 0);
	declare_one(NULL, "lines", &ds->lines, 0);
	declare_one(NULL, "dropped", &ds->dropped, SELFMETRICS_NONZERO);
	declare_one(NULL, "errors", &ds->errors, SELFMETRICS_NONZERO);
	declare_rejected(NULL, ds->rejected);
	if (R.archive != NULL)
		(void)selfmetrics_declare_fn(self, "archive.dropped",
		    archive_drops, R.archive, 0);
	(void)selfmetrics_declare_fn(self, "torn_bytes",
	    selfmetrics_spool_torn, R.spool, 0);
	declared = 1;
}

static void
publish_counters(uint64_t now, int force)
{
	if (!declared)
		declare_counters();
	(void)selfmetrics_publish(self, now, force);
}
