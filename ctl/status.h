/*
 * status: what the parts of `ferryctl status` share. status.c gathers the
 * snapshot, judges its health and shows the processes, outputs, receiver,
 * spool and collectors; status_logs.c does the same for the log sections,
 * status_discover.c for the log sources ferry-tail discovered.
 */
#ifndef FERRY_CTL_STATUS_H
#define FERRY_CTL_STATUS_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "backlog.h"
#include "progress.h"

#define STATUS_HEALTHY	0
#define STATUS_DEGRADED	1
#define STATUS_DOWN	2

#define REASONS_MAX	8

struct ferry_conf;
struct log_stats;

struct counter_row {
	char	proc[32];
	char	name[160];
	int64_t	value;
};

/* One output: configured, recorded by the forwarder, or both. */
struct out_row {
	struct output_state	st;	/* zero but the name when not recorded */
	int			recorded;	/* a row in the output table */
	int			configured;	/* in the configuration */
	struct backlog		bl;
	int			bl_ok;
};

struct snapshot {
	pid_t			 sup_pid;
	int			 sup_up;
	struct ferry_conf	*conf;		/* NULL: it does not load */
	char			 spooldir[PATH_MAX];
	char			 memdir[PATH_MAX];
	struct proc_state	*procs;
	size_t			 nprocs;
	struct out_row		*outs;
	size_t			 nouts;
	struct counter_row	*counters;
	size_t			 ncounters;
	/* One per conf->logs[], from ferry-tail's counters; NULL: none */
	struct log_stats	*logs;
	/* What ferry-tail discovered running, from ferry.db */
	struct discovered_row	*disc;
	size_t			 ndisc;
	uint64_t		 disk_bytes, mem_bytes;
	size_t			 nsegs;
	int			 failed;	/* out of memory while reading */
	int64_t			 now;
	/* health(): each reason to be degraded or down, in words */
	char			 reasons[REASONS_MAX][160];
	int			 nreasons;
};

/* status.c */
/* One more reason to be degraded (or down); past REASONS_MAX, dropped. */
void	status_reason(struct snapshot *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* status_logs.c */
/* snap->logs from the counters already read (snap->failed: no memory). */
void	status_logs_read(struct snapshot *);
/* A reason for each section with errors or lost bytes. */
void	status_logs_health(struct snapshot *);
void	status_logs_print(const struct snapshot *);
/* ,"logs":[...] (null when the configuration does not load). */
void	status_logs_json(const struct snapshot *);

/* status_discover.c */
/* snap->disc from ferry.db: 0, or -1. */
int	status_discover_read(struct snapshot *, struct progress *);
void	status_discover_print(const struct snapshot *);
/* ,"discovered":[...] */
void	status_discover_json(const struct snapshot *);

#endif
