/*
 * status: what the parts of `ferryctl status` share. It runs in three
 * steps over one snapshot: gather it (status_gather.c: the rows, the
 * self-metrics, the spool), judge its health (status_judge.c: each reason
 * to be degraded or down), then render it as text or JSON
 * (status_render.c), so both show the same numbers and the same verdict.
 *
 * A section is added the same way: read what it needs in the gathering,
 * name its reasons in the judging, and print it in both renderings. The
 * log sections are one such section of their own (status_logs.c), the log
 * sources ferry-tail discovered another (status_discover.c).
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

struct ctl;
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
	/* Gathered (status_gather.c) */
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
	int64_t			 now;		/* once everything was read */
	/* Judged (status_judge.c): STATUS_*, and each reason, in words */
	int			 health;
	char			 reasons[REASONS_MAX][160];
	int			 nreasons;
};

/* status_gather.c */
/* Fill snap (free it with status_free() whatever this returns); 0 or -1. */
int		 status_gather(const struct ctl *, struct snapshot *);
void		 status_free(struct snapshot *);
/* 1 and *v set when proc published name, 0 when it did not. */
int		 status_counter(const struct snapshot *, const char *,
		    const char *, int64_t *);
int64_t		 status_counter_or0(const struct snapshot *, const char *,
		    const char *);
/* Counter i is "<collector>.runs" of ferry-collectors: it names one. */
int		 status_is_collector(const struct snapshot *, size_t);

/* status_judge.c */
/* snap->health and snap->reasons; returns snap->health. */
int		 status_judge(struct snapshot *);
/* One more reason to be degraded (or down); past REASONS_MAX, dropped. */
void		 status_reason(struct snapshot *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* The receiver writes to the memory fallback (the disk is full). */
int		 status_memory_fallback(const struct snapshot *);
/* A process's state to show: "dead" for a supervisor that is gone. */
const char	*status_proc_state(const struct snapshot *,
		    const struct proc_state *);
int		 status_proc_running(const struct proc_state *);

/* status_render.c */
void		 status_render_text(const struct snapshot *);
void		 status_render_json(const struct snapshot *);

/* status_logs.c: the log sections */
/* snap->logs from the counters already read (snap->failed: no memory). */
void		 status_logs_read(struct snapshot *);
/* A reason for each section with errors or lost bytes. */
void		 status_logs_health(struct snapshot *);
void		 status_logs_print(const struct snapshot *);
/* ,"logs":[...] (null when the configuration does not load). */
void		 status_logs_json(const struct snapshot *);

/* status_discover.c: the log sources ferry-tail discovered */
/* snap->disc from ferry.db: 0, or -1. */
int		 status_discover_read(struct snapshot *, struct progress *);
void		 status_discover_print(const struct snapshot *);
/* ,"discovered":[...] */
void		 status_discover_json(const struct snapshot *);

#endif
