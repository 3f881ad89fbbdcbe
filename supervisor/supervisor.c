/*
 * ferry-supervisor: main() and the one poll() loop.
 *
 * main() reads as the outline: options, the configuration (-n stops there),
 * directories, the pid file, daemon, privileges, then the children and the
 * loop. The loop waits on the signal self-pipe and on every child's output
 * pipe, with a timeout that is the time to the next due restart or kill; it
 * never sleeps to poll. Signals are events read from sig_fd(): SIGCHLD
 * reaps, SIGHUP reloads, SIGUSR1 re-opens log files, SIGTERM and SIGINT
 * stop everything gracefully.
 */
#include <sys/types.h>

#include <errno.h>
#include <libutil.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "confhash.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "selfmetrics.h"
#include "sig.h"
#include "supervisor.h"
#include "version.h"

static void	usage(void) __attribute__((noreturn));
static void	print_conf_errors(const struct conf_errors *);
static int	open_log(void);
static void	loop(struct sup *);
static int	loop_timeout(const struct sup *, uint64_t);
static void	handle_signals(struct sup *);
static void	shutdown_start(struct sup *);
static void	reload(struct sup *);
static void	publish_digest(uint64_t);
static void	reopen_logs(void);
static void	record_self(struct sup *, const char *);
static void	db_put(struct sup *, const struct proc_state *);
static void	publish_child(struct sup *, const char *, int, int);
static void	open_self_metrics(struct sup *);

static const int	signals[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGCHLD };
static int64_t		self_started;

static void
usage(void)
{
	fprintf(stderr, "usage: ferry-supervisor [-dfnV] [-c config]\n");
	exit(64);
}

int
main(int argc, char *argv[])
{
	struct conf_errors	 errs;
	struct sup_user		 user;
	struct pidfh		*pfh;
	struct sup		 s;
	const char		*confarg = NULL;
	uint64_t		 digest;
	int			 ch, check = 0, debug = 0, foreground = 0;

	/* Before anything reads argv: the title reuses its memory. */
	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "c:dfnV")) != -1) {
		switch (ch) {
		case 'c':
			confarg = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			version_print("ferry-supervisor");
			exit(0);
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	setup_stdio();
	/* Our own lines carry timestamps; only children are "supervised". */
	(void)unsetenv("FERRY_SUPERVISED");
	if (debug)
		(void)setenv("FERRY_DEBUG", "1", 1);
	log_init("supervisor", debug ? LOG_DEBUG : 0);
	memset(&s, 0, sizeof(s));
	if (setup_root() == -1 ||
	    setup_confpath(confarg, s.confpath, sizeof(s.confpath)) == -1)
		exit(1);

	if (check) {
		if ((s.conf = conf_load(s.confpath, &errs)) == NULL) {
			print_conf_errors(&errs);
			exit(1);
		}
		printf("configuration OK\n");
		exit(0);
	}

	if (open_log() == -1)
		exit(1);
	digest = confhash(s.confpath);
	if ((s.conf = conf_load(s.confpath, &errs)) == NULL) {
		conf_log_errors(&errs);
		fatalx_config("%s: invalid configuration", s.confpath);
	}
	publish_digest(digest);
	if (setup_bindir(s.bindir, sizeof(s.bindir)) == -1)
		exit(1);
	if (setup_user(s.conf->user, &user) == -1)
		exit(EX_CONFIG_ERROR);
	if (setup_dirs(&user) == -1 || (s.conf->fleet.netcd > 0 &&
	    setup_fleet_dir(s.confpath, &user) == -1))
		exit(1);
	if ((pfh = setup_pidfile()) == NULL)
		exit(1);
	/* Still attached to the terminal: a failure here is seen there. */
	if (setup_drop(&user) == -1 || setup_check_dirs(&user) == -1) {
		(void)pidfile_remove(pfh);
		exit(1);
	}
	if (!foreground && daemon(0, 0) == -1)
		fatal("daemon");
	if (pidfile_write(pfh) == -1)
		log_warn("pid file");

	self_started = clock_wall();
	if (child_init() == -1)
		exit(1);
	if (sig_init(signals, sizeof(signals) / sizeof(signals[0])) == -1)
		exit(1);
	open_self_metrics(&s);
	record_self(&s, "running");
	setproctitle("running");
	log_info("ferry-supervisor %s started (pid %d, programs in %s)",
	    version_get(), (int)getpid(), s.bindir);

	child_start_all(&s);
	loop(&s);

	record_self(&s, "stopped");
	selfmetrics_close(s.self);
	progress_close(s.db);
	(void)pidfile_remove(pfh);
	conf_free(s.conf);
	log_info("stopped");
	return 0;
}

/* -n prints errors plainly, one "file:line: msg" a line, for the operator. */
static void
print_conf_errors(const struct conf_errors *errs)
{
	char	buf[600];
	int	i;

	for (i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", conf_error_str(&errs->e[i], buf,
		    sizeof(buf)));
	if (errs->dropped > 0)
		fprintf(stderr, "(%d more errors not shown)\n", errs->dropped);
}

/* supervisor.log, in a directory that may not exist yet. */
static int
open_log(void)
{
	char	path[PATH_MAX], dir[PATH_MAX];
	int	n;

	/* 0755: it may create $FERRY_ROOT/var, which the children cross. */
	if (path_mkdirs(PATH_LOG, 0755) == -1)
		return -1;
	if (path_get(dir, sizeof(dir), PATH_LOG) == NULL)
		return -1;
	n = snprintf(path, sizeof(path), "%s/supervisor.log", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("log path too long");
		return -1;
	}
	return log_open_file(path);
}

/* Until stopped and every child reaped (or given up on after SIGKILL). */
static void
loop(struct sup *s)
{
	struct pollfd	 pfd[1 + SUP_CHILD_MAX];
	struct child	*owner[1 + SUP_CHILD_MAX];
	uint64_t	 now;
	int		 i, n;

	while (!s->quit || child_alive()) {
		now = clock_mono_ms();
		if (s->quit && now - s->quit_at >=
		    SUP_STOP_TIMEOUT_MS + SUP_GIVEUP_MS) {
			log_warnx("children survived SIGKILL; exiting anyway");
			break;
		}
		pfd[0].fd = sig_fd();
		pfd[0].events = POLLIN;
		pfd[0].revents = 0;
		owner[0] = NULL;
		n = 1 + child_pollfds(pfd + 1, owner + 1, SUP_CHILD_MAX);
		if (poll(pfd, n, loop_timeout(s, now)) == -1) {
			if (errno == EINTR)
				continue;
			fatal("poll");
		}
		/* Output first: lines written before a death precede its log. */
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0)
				child_output(owner[i]);
		if (pfd[0].revents != 0)
			handle_signals(s);
		child_timers(s, clock_mono_ms());
	}
}

static int
loop_timeout(const struct sup *s, uint64_t now)
{
	uint64_t	giveup;
	int		t, left;

	t = child_timeout(s, now);
	if (!s->quit)
		return t;
	giveup = s->quit_at + SUP_STOP_TIMEOUT_MS + SUP_GIVEUP_MS;
	left = giveup > now ? (int)(giveup - now) : 0;
	return t == -1 || left < t ? left : t;
}

static void
handle_signals(struct sup *s)
{
	int	signo;

	while ((signo = sig_next()) != 0) {
		switch (signo) {
		case SIGCHLD:
			child_reap(s);
			break;
		case SIGHUP:
			if (!s->quit)
				reload(s);
			break;
		case SIGUSR1:
			reopen_logs();
			break;
		case SIGTERM:
		case SIGINT:
			if (!s->quit)
				shutdown_start(s);
			else {
				/* Asked twice: stop waiting. */
				log_info("stop requested again; killing now");
				child_kill_all(s);
			}
			break;
		}
	}
}

static void
shutdown_start(struct sup *s)
{
	log_info("stopping");
	setproctitle("stopping");
	s->quit = 1;
	s->quit_at = clock_mono_ms();
	record_self(s, "stopping");
	child_stop_all(s);
}

/*
 * SIGHUP: a configuration with errors is logged and refused, and the
 * running one stays; a valid one replaces it and the children follow.
 */
static void
reload(struct sup *s)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	uint64_t		 digest;

	log_info("reloading %s", s->confpath);
	digest = confhash(s->confpath);
	if ((conf = conf_load(s->confpath, &errs)) == NULL) {
		conf_log_errors(&errs);
		log_warnx("%s has errors; keeping the running configuration",
		    s->confpath);
		return;
	}
	publish_digest(digest);
	if (strcmp(conf->user, s->conf->user) != 0)
		log_warnx("user changed to \"%s\"; that takes a restart of "
		    "ferry-supervisor", conf->user);
	child_reload(s, s->conf, conf);
	conf_free(s->conf);
	s->conf = conf;
}

/*
 * The digest of the configuration now running, in the environment every
 * child inherits: ferry-periodic watches for edits from there. Taken before
 * the load, so an edit in between shows as a change (one reload too many,
 * which restarts nothing) rather than being missed.
 */
static void
publish_digest(uint64_t digest)
{
	char	buf[32];

	if (setenv(CONFHASH_ENV, confhash_str(digest, buf, sizeof(buf)),
	    1) == -1)
		log_warn("setenv %s", CONFHASH_ENV);
}

/* SIGUSR1, from logrotate: every file we write, by name again. */
static void
reopen_logs(void)
{
	(void)log_reopen();
	child_reopen_logs();
	log_info("log files re-opened");
}

/* A child's restarts and whether it runs, as self-metrics in the spool. */
static void
publish_child(struct sup *s, const char *name, int restarts, int running)
{
	char	key[64];

	if (s->self == NULL)
		return;
	snprintf(key, sizeof(key), "%s.restarts", name);
	selfmetrics_add(s->self, key, restarts);
	snprintf(key, sizeof(key), "%s.running", name);
	selfmetrics_add(s->self, key, running);
	if (selfmetrics_write(s->self, clock_wall()) == -1)
		log_warn("self-metrics write");
}

static void
open_self_metrics(struct sup *s)
{
	char	dir[PATH_MAX];

	if (path_get(dir, sizeof(dir), PATH_SPOOL) != NULL)
		s->self = selfmetrics_open(s->conf, dir, "supervisor");
}

/* Record the state of child c for ferryctl status. */
void
sup_record(struct sup *s, const struct child *c)
{
	struct proc_state	ps;

	memset(&ps, 0, sizeof(ps));
	(void)strlcpy(ps.name, c->name, sizeof(ps.name));
	(void)strlcpy(ps.state, child_state_name(c->state), sizeof(ps.state));
	ps.pid = c->pid;
	ps.restarts = c->spawns > 1 ? c->spawns - 1 : 0;
	ps.started = c->started_wall;
	ps.last_exit = c->last_status;
	(void)strlcpy(ps.last_exit_str, c->last_exit, sizeof(ps.last_exit_str));
	ps.last_exit_at = c->last_exit_at;
	db_put(s, &ps);
	publish_child(s, c->name, ps.restarts, c->state == CHILD_RUNNING);
}

static void
record_self(struct sup *s, const char *state)
{
	struct proc_state	ps;

	memset(&ps, 0, sizeof(ps));
	(void)strlcpy(ps.name, "supervisor", sizeof(ps.name));
	(void)strlcpy(ps.state, state, sizeof(ps.state));
	ps.pid = getpid();
	ps.started = self_started;
	ps.last_exit = -1;
	db_put(s, &ps);
}

/*
 * Write one process row. The database is opened on first use and again
 * after a failure, at most every SUP_DB_RETRY_MS: ferry keeps supervising
 * without it, and says so when it fails and when it works again.
 */
static void
db_put(struct sup *s, const struct proc_state *ps)
{
	char		path[PATH_MAX];
	uint64_t	now = clock_mono_ms();

	if (s->db == NULL && s->db_failing && now < s->db_retry_at)
		return;
	if (s->db == NULL && path_get(path, sizeof(path), PATH_DB) != NULL)
		s->db = progress_open(path);
	if (s->db != NULL && progress_proc_set(s->db, ps) == 0) {
		if (s->db_failing)
			log_info("progress database works again");
		s->db_failing = 0;
		return;
	}
	if (!s->db_failing)
		log_warnx("cannot record process states in the progress "
		    "database; ferryctl status will be stale");
	s->db_failing = 1;
	s->db_retry_at = now + SUP_DB_RETRY_MS;
	if (s->db != NULL) {
		progress_close(s->db);
		s->db = NULL;
	}
}
