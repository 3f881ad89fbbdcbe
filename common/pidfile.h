/*
 * pidfile: finding the running ferry-supervisor through its pid file
 * ($FERRY_ROOT/var/opt/ferry/run/ferry-supervisor.pid), for the programs
 * that signal it: ferryctl reload and ferry-periodic. Writing the file is
 * the supervisor's own business (libbsd pidfile_open() in setup.c).
 */
#ifndef FERRY_PIDFILE_H
#define FERRY_PIDFILE_H

#include <sys/types.h>

/*
 * The supervisor's pid: 1 and *pid set when that process is alive and is a
 * ferry-supervisor, 0 when the supervisor is not running (no pid file, an
 * empty or stale one), -1 when the pid file cannot be read for another
 * reason (logged).
 */
int	pidfile_supervisor(pid_t *);
/*
 * SIGHUP to the supervisor, for why ("drains changed"): logged as "<why>:
 * asked ferry-supervisor (pid N) to reload"; a failure is logged once, as
 * "<why>, but ferry-supervisor ...; <then>", until a signal goes through
 * again (*failing keeps that). 0 when it was sent, -1 when not.
 */
int	pidfile_reload(const char *, const char *, int *);

#endif
