/*
 * exec: a collector's process. No shell is involved: the file is run with
 * execve() and its configured args, in a small fixed environment, with
 * stdin on /dev/null and stdout and stderr on two pipes the loop reads.
 *
 * Each run gets a session (and so a process group) of its own, so a
 * timeout can kill the group, helpers included, and nothing the collector
 * starts can outlive its run: when the leader exits, the rest of its group
 * is killed before the leader is reaped (its zombie keeps the group id from
 * being reused meanwhile). PR_SET_PDEATHSIG kills a collector whose runner
 * died, and the runner is a child subreaper, so the orphans of a collector
 * that escaped its group are reaped here and killed at shutdown.
 *
 * The file is checked again just before each run (world-writable, owner),
 * because the scan that admitted it may be 30 s old.
 */
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "collectors.h"
#include "conf.h"
#include "log.h"
#include "proc.h"
#include "path.h"
#include "sig.h"

#define EXEC_FAILED	127	/* the shell's convention for "could not run" */
#define ENV_MAX		12

static void	exec_child(const char *, char *const [], char *const [], int,
		    int, pid_t, const char *) __attribute__((noreturn));
static void	status_str(int, char *, size_t);

int
exec_allowed(struct runner *r, struct collector *c)
{
	struct stat	st;
	char		why[160];
	int		rc;

	if (stat(c->path, &st) == -1) {
		/* Removed: the next scan says goodbye. */
		return -1;
	}
	if ((rc = scan_check(&st, &r->owners, why, sizeof(why))) != 0) {
		if (!c->refused) {
			if (rc == 1)
				log_warnx("not running collector %s: it is no "
				    "longer an executable file", c->path);
			else
				log_warnx("refusing to run collector %s: it %s",
				    c->path, why);
		}
		c->refused = 1;
		return -1;
	}
	if (c->refused)
		log_info("collector %s may run again", c->path);
	c->refused = 0;
	return 0;
}

/*
 * Start a run of c (or its daemon). The pipes are non-blocking on our
 * side; the loop polls them. Returns 0, or -1 (logged) when nothing runs.
 */
int
exec_spawn(struct runner *r, struct collector *c, uint64_t now)
{
	const struct ferry_conf	*conf = r->conf;
	char			 e_host[300], e_prefix[300], e_interval[48];
	char			 e_timeout[48], e_state[PATH_MAX + 32];
	char			 e_root[PATH_MAX + 16], e_name[COLL_NAME_MAX + 24];
	char			*envp[ENV_MAX + 1], **argv;
	size_t			 nargs = c->cc != NULL ? c->cc->nargs : 0, i;
	sigset_t		 all, old;
	int			 out[2], err[2], ne = 0;
	pid_t			 pid, self = getpid();

	if (exec_allowed(r, c) == -1)
		return -1;
	if ((argv = calloc(nargs + 2, sizeof(*argv))) == NULL) {
		log_warn("calloc");
		return -1;
	}
	argv[0] = c->path;
	for (i = 0; i < nargs; i++)
		argv[i + 1] = c->cc->args[i];

	/* What a collector may rely on; nothing of ours leaks through. */
	envp[ne++] = "PATH=/usr/bin:/bin";
	envp[ne++] = "LC_ALL=C";
	/* Their stderr is timestamped on its way to the log (log.h). */
	envp[ne++] = "FERRY_SUPERVISED=1";
	snprintf(e_host, sizeof(e_host), "FERRY_HOSTNAME=%s", conf->hostname);
	envp[ne++] = e_host;
	snprintf(e_prefix, sizeof(e_prefix), "FERRY_PREFIX=%s", conf->prefix);
	envp[ne++] = e_prefix;
	snprintf(e_interval, sizeof(e_interval), "FERRY_INTERVAL=%g",
	    (double)c->interval_ms / 1000.0);
	envp[ne++] = e_interval;
	snprintf(e_timeout, sizeof(e_timeout), "FERRY_TIMEOUT=%g",
	    (double)c->timeout_ms / 1000.0);
	envp[ne++] = e_timeout;
	envp[ne++] = c->daemon ? "FERRY_MODE=daemon" : "FERRY_MODE=interval";
	snprintf(e_name, sizeof(e_name), "FERRY_COLLECTOR=%s", c->name);
	envp[ne++] = e_name;
	snprintf(e_state, sizeof(e_state), "FERRY_STATE_DIR=%s", r->state_dir);
	envp[ne++] = e_state;
	if (path_root()[0] != '\0') {
		snprintf(e_root, sizeof(e_root), "FERRY_ROOT=%s", path_root());
		envp[ne++] = e_root;
	}
	envp[ne] = NULL;

	if (pipe2(out, O_CLOEXEC) == -1) {
		log_warn("collector %s: pipe", c->name);
		free(argv);
		return -1;
	}
	if (pipe2(err, O_CLOEXEC) == -1) {
		log_warn("collector %s: pipe", c->name);
		close(out[0]);
		close(out[1]);
		free(argv);
		return -1;
	}

	/* No signal may reach the child while it still has our handlers. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((pid = fork()) == 0) {
		close(out[0]);
		close(err[0]);
		exec_child(c->path, argv, envp, out[1], err[1], self,
		    r->state_dir);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(argv);
	close(out[1]);
	close(err[1]);
	if (pid == -1) {
		log_warn("collector %s: fork", c->name);
		close(out[0]);
		close(err[0]);
		return -1;
	}
	(void)fcntl(out[0], F_SETFL, O_NONBLOCK);
	(void)fcntl(err[0], F_SETFL, O_NONBLOCK);
	if (printed_open(r, c, out[0], err[0]) == -1) {
		/* Out of memory: do not leave a process nobody reads. */
		(void)kill(-pid, SIGKILL);
		c->pid = pid;
		c->killed = 1;
		c->state = COLL_RUNNING;
		c->started = now;
		return -1;
	}
	c->pid = pid;
	c->state = COLL_RUNNING;
	c->started = now;
	/* A daemon's last run is its last batch (printed.c), not its start. */
	if (!c->daemon)
		c->last_run = clock_wall();
	c->deadline = c->daemon ? 0 : now + c->timeout_ms;
	c->killed = 0;
	c->stopping = 0;
	c->kill_at = 0;
	c->run_lines = 0;
	c->run_cut = 0;
	c->draining = 0;
	c->st.runs++;
	if (c->daemon)
		log_info("collector %s started as a daemon (pid %d)", c->name,
		    (int)pid);
	else
		log_debug("collector %s started (pid %d)", c->name, (int)pid);
	return 0;
}

/*
 * In the forked child: a session of its own, default signals and an
 * empty mask, stdin from /dev/null, the two pipes, nothing else open, and
 * SIGKILL should the runner die. A failed exec is reported on stderr,
 * which the runner logs under the collector's name.
 */
static void
exec_child(const char *path, char *const argv[], char *const envp[], int out,
    int err, pid_t parent, const char *dir)
{
	int	e;

	if (proc_child_setup(parent, SIGKILL, out, err) == -1)
		_exit(EXEC_FAILED);
	closefrom(3);
	/* "/" cannot fail; should it, the run fails rather than run anywhere. */
	if (chdir(dir) == -1 && chdir("/") == -1)
		_exit(EXEC_FAILED);

	execve(path, argv, envp);
	e = errno;
	dprintf(STDERR_FILENO, "cannot execute %s: %s\n", path, strerror(e));
	_exit(EXEC_FAILED);
}

/* Kill the runs past their timeout and the stops past their grace. */
void
exec_timeouts(struct runner *r, uint64_t now)
{
	struct collector	*c;

	TAILQ_FOREACH(c, &r->list, entry) {
		if (c->pid <= 0)
			continue;
		if (c->deadline != 0 && now >= c->deadline && !c->killed) {
			(void)kill(-c->pid, SIGKILL);
			c->killed = 1;
			c->st.timeouts++;
			if (c->timing_out++ == 0)
				log_warnx("collector %s timed out after %g s; "
				    "killed its process group (pid %d)", c->name,
				    (double)c->timeout_ms / 1000.0, (int)c->pid);
		}
		if (c->kill_at != 0 && now >= c->kill_at) {
			log_warnx("collector %s (pid %d) did not stop on SIGTERM; "
			    "killing its process group", c->name, (int)c->pid);
			(void)kill(-c->pid, SIGKILL);
			c->kill_at = 0;
		}
	}
}

/* Ask c's process group to stop: SIGTERM now, SIGKILL after a grace. */
void
exec_stop(struct collector *c, uint64_t now)
{
	if (c->pid <= 0 || c->stopping)
		return;
	(void)kill(-c->pid, SIGTERM);
	c->stopping = 1;
	c->killed = 1;
	c->kill_at = now + STOP_GRACE_MS;
}

/* The last resort at shutdown: SIGKILL every group still there. */
void
exec_kill_all(struct runner *r)
{
	struct collector	*c;

	TAILQ_FOREACH(c, &r->list, entry)
		if (c->pid > 0) {
			(void)kill(-c->pid, SIGKILL);
			c->killed = 1;
		}
}

/*
 * Kill our remaining children that are no collector's leader: orphans a
 * collector left outside its group, handed to us as the subreaper.
 */
void
exec_kill_strays(void)
{
	char		 path[320], buf[4096], *p, *end;
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	long		 pid;

	if ((d = opendir("/proc/self/task")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
		    de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(buf, sizeof(buf), f) != NULL) {
			for (p = buf; *p != '\0'; p = end) {
				pid = strtol(p, &end, 10);
				if (end == p)
					break;
				if (pid > 1)
					(void)kill((pid_t)pid, SIGKILL);
			}
		}
		fclose(f);
	}
	closedir(d);
}

static struct collector *
find_pid(struct runner *r, pid_t pid)
{
	struct collector	*c;

	TAILQ_FOREACH(c, &r->list, entry)
		if (c->pid == pid)
			return c;
	return NULL;
}

/*
 * SIGCHLD: collect the exited children. For one of our collectors, kill
 * what is left of its process group first, while its zombie still holds
 * the group id, then reap it and return it: the runner decides what comes
 * next.
 */
struct collector *
exec_reap(struct runner *r, uint64_t now)
{
	struct collector	*c;
	siginfo_t		 si;
	pid_t			 pid;
	char			 how[64];
	int			 st;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1) {
			if (errno == EINTR)
				continue;
			if (errno != ECHILD)
				log_warn("waitid");
			return NULL;
		}
		if ((pid = si.si_pid) == 0)
			return NULL;
		if ((c = find_pid(r, pid)) != NULL)
			(void)kill(-pid, SIGKILL);
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
		if (c == NULL)
			continue;	/* an orphan we adopted */

		printed_close(r, c, !c->killed && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0, now);
		c->pid = 0;
		c->kill_at = 0;
		if (!c->daemon)
			c->duration_ms = (int64_t)(now - c->started);
		status_str(st, how, sizeof(how));
		if (c->killed) {
			/* A timeout (counted) or our stop: not a failure. */
		} else if (c->daemon) {
			c->st.failures++;
			if (now - c->started >= STABLE_MS)
				c->restarts = 0;
			if (!r->quit && !c->gone)
				log_warnx("collector %s (daemon, pid %d) %s; "
				    "restarting in %g s", c->name, (int)pid, how,
				    (double)sched_backoff(c->restarts) / 1000.0);
		} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			if (c->failing > 0)
				log_info("collector %s runs cleanly again after "
				    "%d failed runs", c->name, c->failing);
			c->failing = 0;
		} else {
			c->st.failures++;
			if (c->failing++ == 0)
				log_warnx("collector %s %s (further failures "
				    "are counted, not logged)", c->name, how);
		}
		if (!c->killed && c->timing_out > 0) {
			log_info("collector %s finishes in time again after %d "
			    "timeouts", c->name, c->timing_out);
			c->timing_out = 0;
		}
		return c;
	}
}

/* A wait status as an operator reads it. */
static void
status_str(int st, char *buf, size_t size)
{
	if (WIFEXITED(st))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, size, "was killed by signal %d (%s)", WTERMSIG(st),
		    strsignal(WTERMSIG(st)));
	else
		snprintf(buf, size, "ended with wait status %#x", st);
}
