/*
 * ferry-tail: follows the configured log files (log "NAME" sections) and
 * copies each line, with its origin, into the spool stream "tail"; the
 * forwarder delivers them like any record. Like Logyard's systail it only
 * tails and publishes.
 *
 * The loop's promises match the receiver's: a line read reaches the spool
 * file within FLUSH_MS (so a crash of ferry-tail re-reads at most that
 * from the files, which still have it), and the spool is fsynced every
 * SYNC_MS, after which the checkpoints are committed (checkpoint.c). Reading
 * goes in passes, a quantum per file that has something, so a file with a
 * gigabyte to catch up on and a file with one new line both advance; a
 * pass stops after PASS_MS so the flush and sync keep their times.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "derive.h"
#include "discover.h"
#include "log.h"
#include "path.h"
#include "proc.h"
#include "progress.h"
#include "selfmetrics.h"
#include "sig.h"
#include "spool.h"
#include "tail.h"

#define FLUSH_MS	50	/* a line in the spool file within 100 ms */
#define SYNC_MS		1000	/* fsync, then commit the checkpoints */
#define BURST_BYTES	(4 << 20) /* a read-up burst this big commits at once */
#define POLL_MS		250	/* files without an inotify watch */
#define PASS_MS		20	/* reading, before the timers get a look */
#define PUBLISH_MS	1000	/* the counters are looked at this often */
/* Descriptors of our own: spool, database, inotify, a glob, a copy. */
#define FD_RESERVE	64

const struct ferry_conf	*tconf;
struct spool		*tspool;
int			 spool_blocked;
size_t			 tail_max_open;

static struct ferry_conf	*conf;
static struct buf		 metrics;	/* the derive rules' (derive.c) */
static struct progress		*db;
static struct selfmetrics	*self;
static int			 quit;
static uint64_t			 now_ms;

uint64_t
tail_now(void)
{
	return now_ms;
}

/*
 * tail.max_open_files (1024 by default) is all that the usual soft limit
 * on descriptors (1024, systemd's default too) allows: with that many log
 * files open, the spool, the database and glob() itself got EMFILE and
 * files past the limit were never read. So the soft limit is raised as far
 * as the hard one lets it, and no more files are open at once than the
 * limit leaves room for beside ours (the rest wait their turn).
 */
static void
fd_limit(void)
{
	struct rlimit	rl;
	rlim_t		want, room;

	tail_max_open = (size_t)conf->tail.max_open_files;
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit");
		return;
	}
	want = (rlim_t)tail_max_open + FD_RESERVE;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	if (want > rl.rlim_cur) {
		rl.rlim_cur = want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1 &&
		    getrlimit(RLIMIT_NOFILE, &rl) == -1)
			return;
	}
	room = rl.rlim_cur > 2 * FD_RESERVE ? rl.rlim_cur - FD_RESERVE :
	    rl.rlim_cur / 2;
	if ((rlim_t)tail_max_open > room) {
		log_warnx("tail.max_open_files = %zu, but the descriptor limit "
		    "(%llu) leaves room for %llu: no more are open at once",
		    tail_max_open, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)room);
		tail_max_open = (size_t)room;
	}
}

static void
open_spool(char *dir, size_t size)
{
	if (path_get(dir, size, PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		fatalx("cannot make the spool directory");
	if ((self = selfmetrics_open(conf, dir, "tail")) == NULL)
		fatalx("cannot open the self-metrics stream in %s", dir);
}

static void
open_sources(void)
{
	struct source	*src;
	size_t		 i;

	for (i = 0; i < conf->nlogs; i++) {
		src = source_new(&conf->logs[i], conf);
		TAILQ_INSERT_TAIL(&sources, src, entry);
	}
	discover_init(conf, db);
	if (conf->nlogs == 0 && !conf->discover.nginx)
		log_warnx("no log section: nothing to follow");
}

/*
 * The first scans, of the sections and of what discovery found running:
 * checkpoints first, then what rotated while we were down. The
 * checkpoints of discovered sources stay known: what was not found now
 * may be found at any time.
 */
static void
first_scan(void)
{
	struct source	*src;

	(void)discover_run(1);
	TAILQ_FOREACH(src, &sources, entry) {
		source_scan(src, !checkpoint_known_log(src->lc->name));
		source_recover(src);
	}
	checkpoint_cleanup(discover_owns);
}

/*
 * Every source's files again; discovery first when it is due, so the
 * files of what it found are scanned with the rest. It is not due at
 * every scan: inotify asks for a scan whenever a watched directory
 * changes, and discovery reads every process's stat (14 us each, 1.4 ms
 * on a quiet machine of 95 processes), and nginx's configuration.
 */
static void
scan_all(int discover)
{
	struct source	*src;

	if (discover)
		(void)discover_run(0);
	TAILQ_FOREACH(src, &sources, entry)
		source_scan(src, 0);
}

/*
 * Read in passes until nothing has more, or PASS_MS is used up; 1 when a
 * file was left with more to read (the loop then comes back at once). A
 * file that could not be opened (unreadable, or no descriptor free) is not
 * "more": it is tried again at the next wake-up, at least every POLL_MS,
 * so it never makes the loop spin.
 */
static int
read_all(void)
{
	struct source	*src;
	uint64_t	 until = clock_mono_ms() + PASS_MS;
	int		 more;

	do {
		more = 0;
		TAILQ_FOREACH(src, &sources, entry)
			(void)source_read(src, now_ms, &more);
	} while (more && !spool_blocked && spool_room(tspool) > 0 &&
	    clock_mono_ms() < until);
	return more;
}

/*
 * Is there a file only polling can move on: one without an inotify watch,
 * or one waiting to be opened (unreadable, or no descriptor free)?
 */
static int
polled(void)
{
	struct source	*src;
	struct tfile	*tf;

	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			if (tf->wd == -1 || (tf->dirty && tf->fd == -1))
				return 1;
	return 0;
}

/*
 * The log metrics whose interval ended (all: every rule's, at stop) into
 * the spool. Stamped with the second the interval ended in; at stop the
 * second under way, so the next start's first interval has a later one.
 */
static void
emit_metrics(int all)
{
	uint64_t	wall = clock_wall_ms();
	int		ok;

	buf_reset(&metrics);
	if (derive_render(now_ms, (int64_t)((all ? wall : wall + 500) / 1000),
	    all, &metrics) == 0)
		return;
	ok = spool_append(tspool, metrics.p, metrics.len) == 0;
	if (!ok) {
		log_warnx("log metrics: the spool refused them; tried again in "
		    "a second");
		spool_blocked = 1;
	}
	derive_emitted(ok);
}

static int
nfiles(const void *arg, uint64_t *v)
{
	*v = ((const struct source *)arg)->nfiles;
	return 1;
}

/* How far behind the ends of its files a section is: a level, not watched. */
static int
lag_bytes(const void *arg, uint64_t *v)
{
	const struct source	*src = arg;
	const struct tfile	*tf;
	struct stat		 st;

	*v = 0;
	TAILQ_FOREACH(tf, &src->files, entry)
		if (stat(tf->path, &st) == 0 &&
		    (uint64_t)st.st_ino == tf->ino && st.st_size > tf->off)
			*v += (uint64_t)(st.st_size - tf->off);
	return 1;
}

static int
open_files(const void *arg, uint64_t *v)
{
	(void)arg;
	*v = source_open_files();
	return 1;
}

static void
declare_derived(const char *name, const uint64_t *p, void *arg)
{
	(void)arg;
	(void)selfmetrics_declare(self, name, p, 0);
}

/* One counter of a log section: log.<NAME>.<what>. */
static void
declare(const struct source *src, const char *what, const uint64_t *p)
{
	char	name[160];

	snprintf(name, sizeof(name), "log.%s.%s", src->lc->name, what);
	(void)selfmetrics_declare(self, name, p, 0);
}

/*
 * Counters as self-metrics: log.<NAME>.<what>, for ferryctl status; when
 * they moved (looked at each second) and once a minute.
 */
static void
declare_counters(void)
{
	struct source	*src;
	char		 name[160];

	TAILQ_FOREACH(src, &sources, entry) {
		snprintf(name, sizeof(name), "log.%s.files", src->lc->name);
		(void)selfmetrics_declare_fn(self, name, nfiles, src, 0);
		declare(src, "lines", &src->c.lines);
		declare(src, "bytes", &src->c.bytes);
		declare(src, "records", &src->c.records);
		declare(src, "cut", &src->c.cut);
		declare(src, "sampled_out", &src->c.sampled_out);
		declare(src, "rotations", &src->c.rotations);
		declare(src, "lost_bytes", &src->c.lost_bytes);
		declare(src, "errors", &src->c.errors);
		snprintf(name, sizeof(name), "log.%s.lag_bytes", src->lc->name);
		(void)selfmetrics_declare_fn(self, name, lag_bytes, src,
		    SELFMETRICS_QUIET);
	}
	derive_counters(declare_derived, NULL);
	(void)selfmetrics_declare_fn(self, "open_files", open_files, NULL,
	    SELFMETRICS_QUIET);
	(void)selfmetrics_declare_fn(self, "spool.memory",
	    selfmetrics_spool_memory, tspool, 0);
}

struct timers {
	uint64_t	flush_due;	/* 0: nothing buffered */
	uint64_t	sync_due;
	uint64_t	scan_due;
	uint64_t	discover_due;	/* with the scan due then, or later */
	uint64_t	poll_due;
	uint64_t	publish_due;
	int		more;		/* a pass was cut short */
};

/* fsync the spool, then commit: a checkpoint never runs ahead of it. */
static void
sync_and_commit(void)
{
	if (spool_sync(tspool) == -1) {
		log_warn("spool sync");
		return;
	}
	spool_blocked = 0;	/* the spool took writes again */
	if (checkpoint_commit() == -1)
		log_warnx("checkpoints not committed; they are tried again");
}

static void
run_timers(struct timers *t)
{
	struct source	*src;

	TAILQ_FOREACH(src, &sources, entry)
		source_expire(src, now_ms);
	if (spool_pending(tspool) > 0 && t->flush_due == 0)
		t->flush_due = now_ms + FLUSH_MS;
	if (t->flush_due != 0 && now_ms >= t->flush_due) {
		if (spool_flush(tspool) == -1)
			log_warn("spool write");
		t->flush_due = 0;
		/*
		 * A burst read up to the ends of its files (a backlog after a
		 * stop, a file found from its start): commit now, so a crash
		 * does not send it all again; a trickle waits SYNC_MS. A new
		 * segment needs no commit: the last one holds the segments
		 * since (checkpoint.c).
		 */
		if (!t->more && checkpoint_lag() >= BURST_BYTES)
			sync_and_commit();
	}
	if (now_ms >= t->sync_due || spool_blocked) {
		sync_and_commit();
		t->sync_due = now_ms + SYNC_MS;
	}
	if (now_ms >= derive_next_due())
		emit_metrics(0);
	if (now_ms >= t->publish_due) {
		(void)selfmetrics_publish(self, now_ms, 0);
		t->publish_due = now_ms + PUBLISH_MS;
	}
}

static int
next_timeout(const struct timers *t)
{
	uint64_t	due = t->sync_due;

	if (t->flush_due != 0 && t->flush_due < due)
		due = t->flush_due;
	if (t->scan_due < due)
		due = t->scan_due;
	if (t->discover_due < due)
		due = t->discover_due;
	if (t->poll_due < due)
		due = t->poll_due;
	if (t->publish_due < due)
		due = t->publish_due;
	if (derive_next_due() < due)
		due = derive_next_due();
	if (t->more && !spool_blocked)
		return 0;
	return due > now_ms ? (int)(due - now_ms) : 0;
}

static void
event_loop(void)
{
	struct pollfd	 pfd[2];
	struct timers	 t;
	uint64_t	 rescan = (uint64_t)(conf->tail.rescan_interval * 1000);
	int		 n;

	memset(&t, 0, sizeof(t));
	now_ms = clock_mono_ms();
	t.sync_due = now_ms + SYNC_MS;
	t.scan_due = now_ms + rescan;
	t.discover_due = t.scan_due;
	t.poll_due = now_ms + POLL_MS;
	t.publish_due = now_ms;
	pfd[0].fd = sig_fd();
	pfd[0].events = POLLIN;
	pfd[1].fd = watch_fd();
	pfd[1].events = POLLIN;
	n = watch_fd() == -1 ? 1 : 2;
	while (!quit) {
		if (poll(pfd, n, next_timeout(&t)) == -1 && errno != EINTR)
			fatal("poll");
		now_ms = clock_mono_ms();
		if (pfd[0].revents)
			quit |= sig_quit_requested();
		if (n > 1 && pfd[1].revents && watch_events())
			t.scan_due = now_ms;
		if (discover_due())
			t.scan_due = t.discover_due = now_ms;
		if (now_ms >= t.scan_due || now_ms >= t.discover_due) {
			scan_all(now_ms >= t.discover_due);
			if (now_ms >= t.discover_due)
				t.discover_due = now_ms + rescan;
			t.scan_due = now_ms + rescan;
		}
		t.more = read_all();
		/* Idle with inotify, ferry-tail sleeps until something happens. */
		t.poll_due = polled() ? now_ms + POLL_MS : UINT64_MAX;
		run_timers(&t);
	}
}

static void
stop(void)
{
	struct source	*src;
	struct tfile	*tf;

	/* Records being joined go now; a partial last line waits for us. */
	TAILQ_FOREACH(src, &sources, entry)
		TAILQ_FOREACH(tf, &src->files, entry)
			(void)pipeline_flush(tf, now_ms, 1);
	/* The interval under way, short: a restart loses none of its counts. */
	emit_metrics(1);
	sync_and_commit();
	(void)selfmetrics_publish(self, now_ms, 1);
	selfmetrics_forget(self);
	while ((src = TAILQ_FIRST(&sources)) != NULL) {
		TAILQ_REMOVE(&sources, src, entry);
		source_free(src);
	}
	discover_free();
}

int
main(int argc, char *argv[])
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	char		 dir[4096], err[512];

	conf = proc_conf(proc_init(argc, argv, "tail"));
	tconf = conf;
	if (sig_init(sigs, 4) == -1)
		fatalx("signals");
	fd_limit();
	open_spool(dir, sizeof(dir));
	if ((db = progress_open_db()) == NULL)
		fatalx("cannot open the progress database");
	/* Before our writer starts a segment: what the last one left. */
	if (checkpoint_init(db, dir, conf->spool.memory_dir) == -1)
		fatalx("cannot read the checkpoints");
	if ((tspool = spool_open(dir, conf->spool.memory_dir, TAIL_STREAM,
	    &conf->spool)) == NULL)
		fatalx("cannot open the spool in %s", dir);
	(void)watch_init();
	if (derive_init(conf, clock_mono_ms(), clock_wall_ms(), err,
	    sizeof(err)) == -1)
		fatalx_config("%s", err);
	buf_init(&metrics, 0);
	open_sources();
	declare_counters();
	now_ms = clock_mono_ms();
	first_scan();

	event_loop();

	stop();
	derive_free();
	buf_free(&metrics);
	spool_close(tspool);
	selfmetrics_close(self);
	progress_close(db);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
