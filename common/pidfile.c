/*
 * pidfile: the supervisor's pid file, read by those who signal it.
 *
 * A pid file can lie: a supervisor killed with -9 leaves it behind, and its
 * pid may since belong to another program or to a zombie. So the pid is
 * trusted only when the process exists and, where /proc tells, runs
 * ferry-supervisor and is not a zombie.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "path.h"
#include "pidfile.h"

static int	supervisor_is_ours(pid_t);

int
pidfile_supervisor(pid_t *pid)
{
	char		 path[PATH_MAX], buf[32];
	const char	*errstr;
	ssize_t		 n;
	int		 fd;

	*pid = -1;
	if (path_get(path, sizeof(path), PATH_PIDFILE) == NULL) {
		log_warnx("path too long: %s", PATH_PIDFILE);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;	/* being written, or left empty: not running */
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*pid = strtonum(buf, 1, INT_MAX, &errstr);
	if (errstr != NULL) {
		*pid = -1;
		return 0;
	}
	if (kill(*pid, 0) == -1 && errno != EPERM)
		return 0;
	return supervisor_is_ours(*pid);
}

int
pidfile_reload(const char *why, const char *then, int *failing)
{
	pid_t	pid;
	int	rc;

	if ((rc = pidfile_supervisor(&pid)) == 1 && kill(pid, SIGHUP) == 0) {
		if (*failing)
			log_info("ferry-supervisor can be signalled again");
		*failing = 0;
		log_info("%s: asked ferry-supervisor (pid %d) to reload", why,
		    (int)pid);
		return 0;
	}
	if (!*failing) {
		if (rc == 1)
			log_warn("%s, but ferry-supervisor (pid %d) cannot be "
			    "signalled; %s", why, (int)pid, then);
		else
			log_warnx("%s, but ferry-supervisor is not running; %s",
			    why, then);
	}
	*failing = 1;
	return -1;
}

/*
 * Where /proc tells, check the program name and that it is not a zombie;
 * where it does not, the live pid is all there is to go on.
 */
static int
supervisor_is_ours(pid_t pid)
{
	char	 path[64], stat[256], *lp, *rp;
	ssize_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	/* "pid (comm) S ...": comm keeps 15 characters, "ferry-superviso". */
	if ((lp = strchr(stat, '(')) == NULL ||
	    (rp = strrchr(stat, ')')) == NULL || rp[1] == '\0')
		return 1;
	if (strncmp(lp + 1, "ferry-supervis", 14) != 0)
		return 0;
	return rp[2] != 'Z' && rp[2] != 'X';
}
