/*
 * ferry-supervisor: starts every enabled ferry program as a child, copies
 * each child's output into its own log file with timestamps, restarts a
 * child that exits (with a backoff), reloads on SIGHUP, stops them all on
 * SIGTERM, and records each child's state in the progress database.
 *
 * supervisor.c	main(), the setup before the first child, the poll loop
 * child.c	the child table: spawn, reap, backoff, stop, reload
 * logpipe.c	a child's stdout+stderr into /var/log/ferry/<name>.log
 * setup.c	directories, pid file, user: the ground before any child
 */
#ifndef FERRY_SUPERVISOR_H
#define FERRY_SUPERVISOR_H

#include <sys/types.h>

#include <limits.h>
#include <poll.h>
#include <stdint.h>

struct ferry_conf;
struct logpipe;
struct pidfh;
struct progress;

#define SUP_STOP_TIMEOUT_MS	10000	/* SIGTERM, then SIGKILL of the group */
#define SUP_BACKOFF_MIN_MS	1000	/* first restart delay after an exit */
#define SUP_BACKOFF_MAX_MS	60000	/* the delay doubles up to this */
#define SUP_STABLE_MS		60000	/* running this long resets the delay */
#define SUP_GIVEUP_MS		5000	/* after SIGKILL, stop waiting for a reap */
#define SUP_CHILD_MAX		16
#define SUP_DB_RETRY_MS		10000	/* reopen a failing progress database */

/* The context every part of the supervisor shares. */
struct selfmetrics;

struct sup {
	struct ferry_conf	*conf;		/* the running configuration */
	char			 confpath[PATH_MAX];
	char			 bindir[PATH_MAX];	/* where ferry-<name> live */
	struct progress		*db;		/* NULL while it cannot be opened */
	int			 db_failing;	/* logged once, until it works */
	uint64_t		 db_retry_at;	/* mono ms of the next open */
	struct selfmetrics	*self;		/* restarts as metrics; may be NULL */
	int			 quit;		/* stopping: no more spawns */
	uint64_t		 quit_at;	/* mono ms of the stop request */
};

/* Whom the children run as: drop is set when root switches to uid/gid. */
struct sup_user {
	int	drop;
	uid_t	uid;
	gid_t	gid;
	char	name[64];
};

/* The lifecycle of one child, as s6 and runit draw it. */
enum child_state {
	CHILD_STOPPED,		/* not wanted, or the supervisor is stopping */
	CHILD_STARTING,		/* forked, exec not yet confirmed */
	CHILD_RUNNING,
	CHILD_BACKOFF,		/* exited; waiting for its restart delay */
	CHILD_FATAL		/* exited 78 (bad configuration): wait for a reload */
};

struct child {
	const char	*name;		/* runs ferry-<name>, logs to <name>.log */
	int		(*enabled)(const struct ferry_conf *);

	enum child_state state;
	pid_t		 pid;		/* > 0 while a process exists */
	int		 want;		/* should run under the running config */
	int		 stopping;	/* SIGTERM sent; respawn on reap if want */
	uint64_t	 kill_at;	/* mono ms: SIGKILL the group; 0 none */
	uint64_t	 due;		/* mono ms: the end of the backoff */
	uint64_t	 started;	/* mono ms of the last spawn */
	int64_t		 started_wall;
	int		 spawns;
	int		 failures;	/* consecutive, for the backoff */
	int		 last_status;	/* wait status; -1 none yet */
	char		 last_exit[32];	/* "exit 1", "signal 9" */
	int64_t		 last_exit_at;
	struct logpipe	*log;
};

/* child.c */
int		 child_init(void);
size_t		 child_count(void);
struct child	*child_at(size_t);
void		 child_start_all(struct sup *);
void		 child_stop_all(struct sup *);
void		 child_kill_all(struct sup *);
int		 child_alive(void);
void		 child_reap(struct sup *);
int		 child_timeout(const struct sup *, uint64_t);
void		 child_timers(struct sup *, uint64_t);
void		 child_reload(struct sup *, const struct ferry_conf *,
		    const struct ferry_conf *);
int		 child_conf_changed(const struct ferry_conf *,
		    const struct ferry_conf *, const struct child *);
void		 child_reopen_logs(void);
int		 child_pollfds(struct pollfd *, struct child **, int);
void		 child_output(struct child *);
const char	*child_state_name(enum child_state);

/* setup.c */
void		 setup_stdio(void);
int		 setup_root(void);
int		 setup_confpath(const char *, char *, size_t);
int		 setup_bindir(char *, size_t);
int		 setup_user(const char *, struct sup_user *);
int		 setup_dirs(const struct sup_user *);
int		 setup_fleet_dir(const char *, const struct sup_user *);
struct pidfh	*setup_pidfile(void);
int		 setup_drop(const struct sup_user *);
int		 setup_check_dirs(const struct sup_user *);

/* supervisor.c */
void		 sup_record(struct sup *, const struct child *);

/* logpipe.c */
#define LOGPIPE_LINE_MAX	4096	/* longer lines are written in pieces */

struct logpipe	*logpipe_new(const char *);
void		 logpipe_free(struct logpipe *);
void		 logpipe_attach(struct logpipe *, int);
int		 logpipe_fd(const struct logpipe *);
int		 logpipe_read(struct logpipe *);
void		 logpipe_detach(struct logpipe *);
int		 logpipe_reopen(struct logpipe *);

#endif
