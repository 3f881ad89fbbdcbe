/*
 * ferry-receiver: accepts Graphite plaintext on TCP and UDP and appends the
 * valid lines to its spool stream "receiver".
 *
 * Its two promises set the shape of the loop: an accepted line reaches the
 * spool file within 100 ms (so kill -9 loses at most that), and the file is
 * fsynced once per receiver.flush_interval (so a power loss loses at most
 * that). Lines are gathered in the spool's write buffer and written in large
 * runs, every FLUSH_MS or when the buffer fills, whichever comes first.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "receiver.h"
#include "sig.h"
#include "spool.h"

#define FLUSH_MS	50	/* half the 100 ms promise, for slack */
#define HOUSEKEEP_MS	1000
#define MAX_EVENTS	64

static struct ferry_conf	*conf;
static struct spool		*spool;
static struct progress		*db;
static int			 quit;

static void
usage(void)
{
	fprintf(stderr, "usage: ferry-receiver [-d] [-c config]\n");
	exit(1);
}

static void
load_config(const char *path)
{
	struct conf_errors	errs;

	if ((conf = conf_load(path, &errs)) == NULL) {
		conf_log_errors(&errs);
		fatalx_config("configuration not valid, not starting");
	}
}

static void
open_spool(void)
{
	char	dir[4096];

	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		fatalx("cannot make the spool directory");
	if ((spool = spool_open(dir, "receiver", &conf->spool)) == NULL)
		fatalx("cannot open the spool in %s", dir);
}

/* Counters go to the database for ferryctl status; never wait for it. */
static void
publish_counters(void)
{
	struct ingest_stats	*st = ingest_stats();
	char			 name[64];
	int			 i;

	if (db == NULL || progress_begin(db) == -1)
		return;
	progress_counter_set(db, "receiver", "accepted", st->accepted);
	progress_counter_set(db, "receiver", "dropped", st->dropped);
	progress_counter_set(db, "receiver", "connections", st->connections);
	progress_counter_set(db, "receiver", "refused", st->refused);
	progress_counter_set(db, "receiver", "torn_bytes", spool_torn_bytes(spool));
	for (i = METRIC_BAD_NAME; i < METRIC_NSTATUS; i++) {
		snprintf(name, sizeof(name), "rejected.%s", metric_status_name(i));
		progress_counter_set(db, "receiver", name, st->rejected[i]);
	}
	if (progress_commit(db) == -1)
		progress_rollback(db);
}

static void
open_db(void)
{
	char	path[4096];

	if (path_get(path, sizeof(path), PATH_DB) == NULL ||
	    (db = progress_open(path)) == NULL) {
		log_warnx("progress database unavailable: counters not published");
		return;
	}
	progress_busy_timeout(db, 50);
}

static void
handle_signals(void)
{
	int	signo;

	while ((signo = sig_next()) != 0) {
		switch (signo) {
		case SIGTERM:
		case SIGINT:
			quit = 1;
			break;
		default:
			break;
		}
	}
}

struct timers {
	uint64_t	flush_due;	/* 0: nothing buffered */
	uint64_t	sync_due;
	uint64_t	housekeep_due;
};

/* Write the buffer when due; fsync when due; both keep their promise. */
static void
run_timers(struct timers *t, uint64_t now)
{
	if (spool_pending(spool) > 0 && t->flush_due == 0)
		t->flush_due = now + FLUSH_MS;
	if (t->flush_due != 0 && now >= t->flush_due) {
		if (spool_flush(spool) == -1)
			log_warn("spool write");
		t->flush_due = 0;
	}
	if (now >= t->sync_due) {
		if (spool_sync(spool) == -1)
			log_warn("spool sync");
		t->sync_due = now + (uint64_t)(conf->receiver.flush_interval * 1000);
	}
	if (now >= t->housekeep_due) {
		listen_expire(now);
		ingest_log_summary(now);
		publish_counters();
		t->housekeep_due = now + HOUSEKEEP_MS;
	}
}

static int
next_timeout(const struct timers *t, uint64_t now)
{
	uint64_t	due = t->sync_due;

	if (t->flush_due != 0 && t->flush_due < due)
		due = t->flush_due;
	if (t->housekeep_due < due)
		due = t->housekeep_due;
	return due > now ? (int)(due - now) : 0;
}

static void
event_loop(int epfd)
{
	struct epoll_event	 ev[MAX_EVENTS];
	struct timers		 t;
	uint64_t		 now = clock_mono_ms();
	int			 i, n;

	memset(&t, 0, sizeof(t));
	t.sync_due = now + (uint64_t)(conf->receiver.flush_interval * 1000);
	t.housekeep_due = now + HOUSEKEEP_MS;
	while (!quit) {
		n = epoll_wait(epfd, ev, MAX_EVENTS, next_timeout(&t, now));
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		now = clock_mono_ms();
		for (i = 0; i < n; i++) {
			if (ev[i].data.ptr == NULL)
				handle_signals();
			else
				listen_dispatch(ev[i].data.ptr, now);
		}
		run_timers(&t, now);
	}
}

static int
setup_events(void)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct epoll_event	 ev = { .events = EPOLLIN, .data.ptr = NULL };
	int			 epfd;

	if (sig_init(sigs, 4) == -1)
		fatalx("signals");
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, sig_fd(), &ev) == -1)
		fatal("epoll_ctl");
	return epfd;
}

int
main(int argc, char *argv[])
{
	const char	*config = NULL;
	int		 ch, debug = 0, epfd;

	while ((ch = getopt(argc, argv, "c:d")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		default:
			usage();
		}
	}
	log_init("receiver", debug ? LOG_DEBUG : 0);
	load_config(config);
	setproctitle_init(argc, argv, environ);
	setproctitle("receiver");
	epfd = setup_events();
	open_spool();
	open_db();
	ingest_init(conf, spool);
	if (listen_init(conf, epfd) == -1)
		fatalx("cannot listen");

	event_loop(epfd);

	listen_close();
	if (spool_sync(spool) == -1)
		log_warnx("lines still buffered at exit could not be written");
	publish_counters();
	spool_close(spool);
	progress_close(db);
	log_info("stopped: %llu lines accepted",
	    (unsigned long long)ingest_stats()->accepted);
	conf_free(conf);
	return 0;
}
