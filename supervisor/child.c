/*
 * child: the table of ferry programs the supervisor runs, and each one's
 * lifecycle (stopped, starting, running, backoff, fatal; see supervisor.h).
 *
 * A child is fork() then execv() of ferry-<name> from the supervisor's own
 * directory, in a session of its own, with its stdout and stderr on a pipe
 * the supervisor copies into <name>.log. A child that exits is restarted
 * after a delay that starts at 1 s, doubles with each consecutive failure up
 * to 60 s, and starts over once a child has run for 60 s; it never gives up.
 * Exit status 78 (bad configuration) parks a child in "fatal" until a
 * reload changes the settings it reads. Every timer runs on the monotonic
 * clock; the main loop sleeps in poll() until child_timeout() says the next
 * one is due.
 *
 * To run one more program, add a row to the table and, if it is optional,
 * a function that reads from the configuration whether it is enabled; and
 * say in common/confdiff.c which settings it reads.
 */
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "confdiff.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "supervisor.h"

#define EXEC_FAILED	127	/* the shell's convention for "could not run" */

static int	enabled_always(const struct ferry_conf *);
static int	enabled_sink(const struct ferry_conf *);
static int	enabled_tail(const struct ferry_conf *);
static int	enabled_fleet(const struct ferry_conf *);

/* In start order. */
static struct child	children[] = {
	{ .name = "receiver",	.enabled = enabled_always },
	{ .name = "collectors",	.enabled = enabled_always },
	{ .name = "forwarder",	.enabled = enabled_always },
	{ .name = "tail",	.enabled = enabled_tail },
	{ .name = "sink",	.enabled = enabled_sink },
	{ .name = "periodic",	.enabled = enabled_always },
	{ .name = "fleet",	.enabled = enabled_fleet },
};
#define NCHILDREN	(sizeof(children) / sizeof(children[0]))
_Static_assert(NCHILDREN <= SUP_CHILD_MAX, "the poll loop has room for each");

static int	child_spawn(struct sup *, struct child *);
static void	child_exec(const char *, const char *, const char *, int, int,
		    pid_t)
		    __attribute__((noreturn));
static int	child_exec_status(int);
static void	child_exited(struct sup *, struct child *, int);
static void	child_backoff(struct sup *, struct child *, const char *);
static void	child_stop(struct child *, uint64_t);
static void	child_set(struct sup *, struct child *, enum child_state);
static struct child *child_by_pid(pid_t);
static void	status_str(int, char *, size_t);

static int
enabled_always(const struct ferry_conf *conf)
{
	(void)conf;
	return 1;
}

/* ferry-tail runs when there is a log section to follow, or to find. */
static int
enabled_tail(const struct ferry_conf *conf)
{
	return conf->nlogs > 0 || conf->discover.nginx;
}

/* ferry-fleet runs when a fleet section names etcd. */
static int
enabled_fleet(const struct ferry_conf *conf)
{
	return conf->fleet.netcd > 0;
}

static int
enabled_sink(const struct ferry_conf *conf)
{
	return conf->sink.enabled;
}

/* Open each child's log file; 0, or -1 when memory ran out (logged). */
int
child_init(void)
{
	size_t	i;

	for (i = 0; i < NCHILDREN; i++) {
		children[i].last_status = -1;
		if ((children[i].log = logpipe_new(children[i].name)) == NULL)
			return -1;
	}
	return 0;
}

size_t
child_count(void)
{
	return NCHILDREN;
}

struct child *
child_at(size_t i)
{
	return i < NCHILDREN ? &children[i] : NULL;
}

const char *
child_state_name(enum child_state state)
{
	static const char *const names[] = {
		[CHILD_STOPPED] = "stopped",
		[CHILD_STARTING] = "starting",
		[CHILD_RUNNING] = "running",
		[CHILD_BACKOFF] = "backoff",
		[CHILD_FATAL] = "fatal",
	};

	return names[state];
}

/* Start every child the running configuration enables; record the rest. */
void
child_start_all(struct sup *s)
{
	struct child	*c;
	size_t		 i;

	for (i = 0; i < NCHILDREN; i++) {
		c = &children[i];
		c->want = c->enabled(s->conf);
		if (c->want)
			(void)child_spawn(s, c);
		else
			child_set(s, c, CHILD_STOPPED);
	}
}

/* The graceful stop: SIGTERM to each child; nothing is respawned after. */
void
child_stop_all(struct sup *s)
{
	uint64_t	 now = clock_mono_ms();
	struct child	*c;
	size_t		 i;

	for (i = 0; i < NCHILDREN; i++) {
		c = &children[i];
		c->want = 0;
		if (c->pid > 0)
			child_stop(c, now);
		else if (c->state != CHILD_STOPPED)
			child_set(s, c, CHILD_STOPPED);
	}
}

/* The impatient stop (a second SIGTERM): SIGKILL now, whole groups. */
void
child_kill_all(struct sup *s)
{
	uint64_t	now = clock_mono_ms();
	size_t		i;

	for (i = 0; i < NCHILDREN; i++)
		if (children[i].pid > 0)
			children[i].kill_at = now;
	child_timers(s, now);
}

/* 1 while any child process exists. */
int
child_alive(void)
{
	size_t	i;

	for (i = 0; i < NCHILDREN; i++)
		if (children[i].pid > 0)
			return 1;
	return 0;
}

/* SIGCHLD: collect every exited child, ours or a stray. */
void
child_reap(struct sup *s)
{
	struct child	*c;
	pid_t		 pid;
	int		 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0)
		if ((c = child_by_pid(pid)) != NULL)
			child_exited(s, c, st);
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

/* Milliseconds until the next timer of any child is due; -1 when none. */
int
child_timeout(const struct sup *s, uint64_t now)
{
	const struct child	*c;
	uint64_t		 next = UINT64_MAX;
	size_t			 i;

	for (i = 0; i < NCHILDREN; i++) {
		c = &children[i];
		if (c->state == CHILD_BACKOFF && c->want && !s->quit &&
		    c->due < next)
			next = c->due;
		if (c->pid > 0 && c->kill_at != 0 && c->kill_at < next)
			next = c->kill_at;
	}
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
}

/* Run what is due: restarts at the end of a backoff, SIGKILL after a stop. */
void
child_timers(struct sup *s, uint64_t now)
{
	struct child	*c;
	size_t		 i;

	for (i = 0; i < NCHILDREN; i++) {
		c = &children[i];
		if (c->state == CHILD_BACKOFF && c->want && !s->quit &&
		    now >= c->due)
			(void)child_spawn(s, c);
		if (c->pid > 0 && c->kill_at != 0 && now >= c->kill_at) {
			log_warnx("%s (pid %d) did not stop; killing its process "
			    "group", c->name, (int)c->pid);
			/* The group goes too: a collector's own children. */
			if (kill(-c->pid, SIGKILL) == -1)
				(void)kill(c->pid, SIGKILL);
			c->kill_at = 0;
		}
	}
}

/*
 * SIGHUP with a valid new configuration: stop what it disables, start what
 * it enables, restart what it changed (only that: see child_conf_changed),
 * and give a "fatal" child its retry when its settings changed. A restart
 * is a stop whose reap spawns again (child_exited); the child flushes what
 * it holds on SIGTERM, so a reload loses no record.
 */
void
child_reload(struct sup *s, const struct ferry_conf *old,
    const struct ferry_conf *new)
{
	uint64_t	 now = clock_mono_ms();
	struct child	*c;
	size_t		 i;
	int		 acted = 0;

	for (i = 0; i < NCHILDREN; i++) {
		c = &children[i];
		c->want = c->enabled(new);
		if (!c->want) {
			if (c->pid > 0) {
				log_info("%s is disabled now; stopping it",
				    c->name);
				child_stop(c, now);
				acted = 1;
			} else if (c->state != CHILD_STOPPED)
				child_set(s, c, CHILD_STOPPED);
			continue;
		}
		switch (c->state) {
		case CHILD_STOPPED:
			c->failures = 0;
			(void)child_spawn(s, c);
			acted = 1;
			break;
		case CHILD_FATAL:
			/*
			 * It refused these very settings: only a change of
			 * them is worth a try, or each reload would spin it.
			 */
			if (child_conf_changed(old, new, c)) {
				c->failures = 0;
				(void)child_spawn(s, c);
				acted = 1;
			}
			break;
		case CHILD_BACKOFF:
			/* A new configuration may be the fix: try it now. */
			if (child_conf_changed(old, new, c)) {
				(void)child_spawn(s, c);
				acted = 1;
			}
			break;
		case CHILD_STARTING:
		case CHILD_RUNNING:
			if (c->pid > 0 && child_conf_changed(old, new, c)) {
				log_info("%s: its settings changed; restarting "
				    "it", c->name);
				child_stop(c, now);
				acted = 1;
			}
			break;
		}
	}
	if (!acted)
		log_info("no program's settings changed; nothing restarted");
}

/*
 * Whether the settings child c reads differ between old and new: the
 * comparison lives in common/confdiff.c, where it is unit-tested. A child
 * confdiff does not know counts as changed, so it restarts rather than
 * keeps settings that are gone.
 */
int
child_conf_changed(const struct ferry_conf *old, const struct ferry_conf *new,
    const struct child *c)
{
	unsigned	bit;

	if ((bit = confdiff_bit(c->name)) == 0)
		return 1;
	return (confdiff(old, new) & bit) != 0;
}

/* SIGUSR1: logrotate moved the files away; open them again by name. */
void
child_reopen_logs(void)
{
	size_t	i;

	for (i = 0; i < NCHILDREN; i++)
		(void)logpipe_reopen(children[i].log);
}

/*
 * Fill pfd (room for max) with the output pipe of each child that has
 * one, and owner with the child each belongs to. Returns how many.
 */
int
child_pollfds(struct pollfd *pfd, struct child **owner, int max)
{
	size_t	i;
	int	n = 0, fd;

	for (i = 0; i < NCHILDREN && n < max; i++) {
		if ((fd = logpipe_fd(children[i].log)) == -1)
			continue;
		pfd[n].fd = fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		owner[n++] = &children[i];
	}
	return n;
}

/* The output pipe of c is readable (or hung up). */
void
child_output(struct child *c)
{
	if (logpipe_read(c->log) == -1)
		logpipe_detach(c->log);
}

/*
 * fork() and exec ferry-<name>. The child reports a failed exec through a
 * close-on-exec pipe, so "cannot run" is logged here, where it is
 * understood, and the child turns "running" only once exec succeeded.
 * Signals are blocked across fork() so that none reaches the child while it
 * still has the supervisor's handlers (they write to our self-pipe).
 */
static int
child_spawn(struct sup *s, struct child *c)
{
	char		 path[PATH_MAX], argv0[64];
	sigset_t	 all, old;
	int		 out[2], ep[2], n, err;
	pid_t		 pid, self = getpid();

	n = snprintf(path, sizeof(path), "%s/ferry-%s", s->bindir, c->name);
	(void)snprintf(argv0, sizeof(argv0), "ferry-%s", c->name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("%s: program path too long", c->name);
		child_backoff(s, c, "could not start");
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", c->name);
		child_backoff(s, c, "could not start");
		return -1;
	}
	if (pipe2(ep, O_CLOEXEC) == -1) {
		log_warn("%s: pipe", c->name);
		close(out[0]);
		close(out[1]);
		child_backoff(s, c, "could not start");
		return -1;
	}

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		close(out[0]);
		close(ep[0]);
		child_exec(path, argv0, s->confpath, out[1], ep[1], self);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(out[1]);
	close(ep[1]);
	if (pid == -1) {
		log_warn("%s: fork", c->name);
		close(out[0]);
		close(ep[0]);
		child_backoff(s, c, "could not start");
		return -1;
	}

	c->pid = pid;
	c->stopping = 0;
	c->kill_at = 0;
	c->started = clock_mono_ms();
	c->started_wall = clock_wall();
	c->spawns++;
	logpipe_attach(c->log, out[0]);
	child_set(s, c, CHILD_STARTING);

	if ((err = child_exec_status(ep[0])) != 0) {
		/* The reap of its exit 127 moves it to backoff. */
		log_warnx("cannot run %s: %s", path, strerror(err));
		return -1;
	}
	log_info("started %s (pid %d)", c->name, (int)pid);
	child_set(s, c, CHILD_RUNNING);
	return 0;
}

/*
 * Wait for the child's exec: the pipe closes on success, or carries the
 * errno of a failed exec. Returns that errno, or 0.
 */
static int
child_exec_status(int fd)
{
	ssize_t	n;
	int	err = 0;

	do
		n = read(fd, &err, sizeof(err));
	while (n == -1 && errno == EINTR);
	close(fd);
	return n == (ssize_t)sizeof(err) ? err : 0;
}

/*
 * In the forked child: default signal handling and an empty mask, a
 * session of its own (so a group kill reaches its helpers, and a terminal's
 * ^C reaches only the supervisor), stdin from /dev/null, stdout and stderr
 * on the log pipe, fd 3 the exec-status pipe, nothing else open; and
 * SIGTERM when the supervisor dies.
 */
static void
child_exec(const char *path, const char *argv0, const char *confpath,
    int out, int ep, pid_t parent)
{
	char	*argv[] = { (char *)argv0, "-c", (char *)confpath, NULL };
	int	 err;

	/*
	 * A supervisor killed with -9 cannot stop its children: let the
	 * kernel send them SIGTERM, so a new supervisor never finds the old
	 * receiver still holding its port.
	 */
	if (proc_child_setup(parent, SIGTERM, out, out) == -1)
		_exit(EXEC_FAILED);
	if (ep != 3)
		(void)dup2(ep, 3);
	(void)fcntl(3, F_SETFD, FD_CLOEXEC);
	closefrom(4);
	(void)setenv("FERRY_SUPERVISED", "1", 1);

	execv(path, argv);
	err = errno;
	(void)!write(3, &err, sizeof(err));
	_exit(EXEC_FAILED);
}

/* A reaped child: decide between stopped, a respawn, backoff and fatal. */
static void
child_exited(struct sup *s, struct child *c, int st)
{
	char	why[64];
	int	stopping = c->stopping;

	logpipe_detach(c->log);
	c->pid = 0;
	c->stopping = 0;
	c->kill_at = 0;
	c->last_status = st;
	c->last_exit_at = clock_wall();
	status_str(st, c->last_exit, sizeof(c->last_exit));

	if (!c->want || s->quit) {
		log_info("%s stopped (%s)", c->name, c->last_exit);
		child_set(s, c, CHILD_STOPPED);
	} else if (stopping) {
		log_info("%s stopped (%s); restarting", c->name, c->last_exit);
		(void)child_spawn(s, c);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == EX_CONFIG_ERROR) {
		log_warnx("%s exited (%s): configuration error; not restarted "
		    "until a reload", c->name, c->last_exit);
		child_set(s, c, CHILD_FATAL);
	} else {
		(void)snprintf(why, sizeof(why), "exited (%s)", c->last_exit);
		child_backoff(s, c, why);
	}
}

/*
 * Schedule the restart of a child that failed: 1 s, doubling per
 * consecutive failure up to 60 s; a child that ran 60 s starts over at 1 s.
 */
static void
child_backoff(struct sup *s, struct child *c, const char *why)
{
	uint64_t	now = clock_mono_ms(), delay = SUP_BACKOFF_MIN_MS;
	int		i;

	if (c->started != 0 && now - c->started >= SUP_STABLE_MS)
		c->failures = 0;
	for (i = 0; i < c->failures && delay < SUP_BACKOFF_MAX_MS; i++)
		delay *= 2;
	if (delay > SUP_BACKOFF_MAX_MS)
		delay = SUP_BACKOFF_MAX_MS;
	c->failures++;
	c->due = now + delay;
	log_warnx("%s %s; restarting in %llu.%03llu s", c->name, why,
	    (unsigned long long)(delay / 1000),
	    (unsigned long long)(delay % 1000));
	child_set(s, c, CHILD_BACKOFF);
}

/* SIGTERM now; SIGKILL of the group when the stop timeout passes. */
static void
child_stop(struct child *c, uint64_t now)
{
	if (c->pid <= 0 || c->stopping)
		return;
	if (kill(c->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("kill %s (pid %d)", c->name, (int)c->pid);
	c->stopping = 1;
	c->kill_at = now + SUP_STOP_TIMEOUT_MS;
}

static void
child_set(struct sup *s, struct child *c, enum child_state state)
{
	c->state = state;
	sup_record(s, c);
}

static struct child *
child_by_pid(pid_t pid)
{
	size_t	i;

	for (i = 0; i < NCHILDREN; i++)
		if (children[i].pid == pid)
			return &children[i];
	return NULL;
}

/* A wait status as an operator reads it: "exit 1", "signal 9". */
static void
status_str(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		(void)snprintf(buf, size, "exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		(void)snprintf(buf, size, "signal %d%s", WTERMSIG(st),
		    WCOREDUMP(st) ? " (core dumped)" : "");
	else
		(void)snprintf(buf, size, "status %#x", st);
}
