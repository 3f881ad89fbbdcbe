/*
 * path: the FHS paths of SPEC.md, relocated under $FERRY_ROOT when it is set,
 * so tests, benchmarks and `make run` never touch the real tree.
 */
#ifndef FERRY_PATH_H
#define FERRY_PATH_H

#include <stddef.h>

#define PATH_BIN	"/opt/ferry/bin"
#define PATH_COLLECTORS	"/opt/ferry/collectors"
#define PATH_CONF	"/etc/opt/ferry/ferry.conf"
#define PATH_CONF_D	"/etc/opt/ferry/conf.d"
#define PATH_COLLECTORS_D "/etc/opt/ferry/collectors.d"
#define PATH_VAR	"/var/opt/ferry"
#define PATH_SPOOL	"/var/opt/ferry/spool"
#define PATH_DROP	"/var/opt/ferry/drop"
#define PATH_DB		"/var/opt/ferry/ferry.db"
#define PATH_SINK_DB	"/var/opt/ferry/sink.db"
#define PATH_DEADLETTER	"/var/opt/ferry/deadletter"
#define PATH_RUN	"/var/opt/ferry/run"
#define PATH_PIDFILE	"/var/opt/ferry/run/ferry-supervisor.pid"
#define PATH_LOG	"/var/log/ferry"
#define PATH_MEMSPOOL	"/dev/shm/ferry"

const char	*path_root(void);
/* Writes root + fhs into buf; returns buf, or NULL when it does not fit. */
char		*path_get(char *, size_t, const char *);
/* mkdir -p of root + fhs with mode; 0 or -1 (logged). */
int		 path_mkdirs(const char *, int);

#endif
