/*
 * ferry-receiver: accepts Graphite plaintext on TCP and UDP and appends the
 * valid lines to its spool stream "receiver".
 *
 * Its two promises set the shape of the loop: an accepted line reaches the
 * spool file within 100 ms (so kill -9 loses at most that), and the file is
 * fsynced once per receiver.flush_interval (so a power loss loses at most
 * that). Lines are gathered in the spool's write buffer and written in large
 * runs, every FLUSH_MS or when the buffer fills, whichever comes first; the
 * sockets are read in step with that tick (listen.c), not once per line.
 */
#include <sys/epoll.h>

#include <errno.h>
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
#include "receiver.h"
#include "selfmetrics.h"
#include "sig.h"
#include "spool.h"

#define FLUSH_MS	50	/* half the 100 ms promise, for slack */
#define HOUSEKEEP_MS	1000
#define MAX_EVENTS	64

static struct ferry_conf	*conf;
static struct spool		*spool;
static struct selfmetrics	*self;
static int			 quit;

static void
open_spool(void)
{
	char	dir[4096];

	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		fatalx("cannot make the spool directory");
	if ((spool = spool_open(dir, conf->spool.memory_dir, "receiver",
	    &conf->spool)) == NULL)
		fatalx("cannot open the spool in %s", dir);
	if ((self = selfmetrics_open(conf, dir, "receiver")) == NULL)
		fatalx("cannot open the self-metrics stream in %s", dir);
}

/*
 * Our counters, as metrics in the spool: they reach the outputs and
 * ferryctl status reads them back. Written when they changed, and once a
 * minute anyway so a quiet receiver still shows it is alive
 * (common/selfmetrics.c watches what is declared here).
 */
static void
declare_counters(void)
{
	struct ingest_stats	*st = ingest_stats();
	char			 name[64];
	int			 i;

	(void)selfmetrics_declare(self, "accepted", &st->accepted, 0);
	(void)selfmetrics_declare(self, "dropped", &st->dropped, 0);
	(void)selfmetrics_declare(self, "connections", &st->connections, 0);
	(void)selfmetrics_declare(self, "refused", &st->refused, 0);
	(void)selfmetrics_declare(self, "evicted", &st->evicted, 0);
	(void)selfmetrics_declare(self, "unfinished", &st->unfinished, 0);
	(void)selfmetrics_declare_fn(self, "torn_bytes",
	    selfmetrics_spool_torn, spool, 0);
	(void)selfmetrics_declare_fn(self, "spool.memory",
	    selfmetrics_spool_memory, spool, 0);
	for (i = METRIC_BAD_NAME; i < METRIC_NSTATUS; i++) {
		snprintf(name, sizeof(name), "rejected.%s", metric_status_name(i));
		(void)selfmetrics_declare(self, name, &st->rejected[i], 0);
	}
}

struct timers {
	uint64_t	flush_due;	/* 0: nothing buffered */
	uint64_t	sync_due;
	uint64_t	housekeep_due;
};

/*
 * The flush tick: read the sockets parked since the last (listen.c), then
 * write the buffer; fsync when due. Both keep their promise. The tick runs
 * while lines are buffered or sockets parked, so a steady client costs a
 * wake-up per tick, however many lines it writes.
 */
static void
run_timers(struct timers *t, uint64_t now)
{
	if (t->flush_due != 0 && now >= t->flush_due) {
		listen_tick(now);
		if (spool_flush(spool) == -1)
			log_warn("spool write");
		t->flush_due = 0;
	}
	if ((spool_pending(spool) > 0 || listen_parked()) && t->flush_due == 0)
		t->flush_due = now + FLUSH_MS;
	if (now >= t->sync_due) {
		if (spool_sync(spool) == -1)
			log_warn("spool sync");
		(void)selfmetrics_publish(self, now, 0);
		t->sync_due = now + (uint64_t)(conf->receiver.flush_interval * 1000);
	}
	listen_resume(now);
	if (now >= t->housekeep_due) {
		listen_expire(now);
		ingest_log_summary(now);
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
	if (listen_due() != 0 && listen_due() < due)
		due = listen_due();
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
				quit |= sig_quit_requested();
			else
				listen_dispatch(ev[i].data.ptr, now);
		}
		listen_reap();
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
	int	epfd;

	conf = proc_conf(proc_init(argc, argv, "receiver"));
	epfd = setup_events();
	open_spool();
	ingest_init(conf, spool);
	declare_counters();
	if (listen_init(conf, epfd) == -1)
		fatalx("cannot listen");

	event_loop(epfd);

	listen_close();
	if (spool_sync(spool) == -1)
		log_warnx("lines still buffered at exit could not be written");
	(void)selfmetrics_publish(self, clock_mono_ms(), 1);
	spool_close(spool);
	selfmetrics_close(self);
	log_info("stopped: %llu lines accepted",
	    (unsigned long long)ingest_stats()->accepted);
	conf_free(conf);
	return 0;
}
