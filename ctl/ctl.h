/*
 * ferryctl: the operator's command. One file per command that has more to
 * it than a few lines; ferryctl.c holds main(), the command table and what
 * the commands share (the configuration, the supervisor's pid, JSON).
 *
 * Exit codes: 0 success, 1 failure (or "degraded" for status), 2 "down"
 * for status, 64 a usage error.
 */
#ifndef FERRY_CTL_H
#define FERRY_CTL_H

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>

#include "json.h"

#define CTL_EX_USAGE	64

struct backlog;
struct conf_errors;
struct ferry_conf;

/* What every command gets: the global options, and its own on top. */
struct ctl {
	const char	*confpath;	/* -c FILE; NULL: the default */
	int		 json;		/* --json */
	int		 effective;	/* check-config --effective */
};

/* ferryctl.c */
void		 ctl_usage(void) __attribute__((noreturn));
/* The message on stderr (or as JSON on stdout, with --json); returns 1. */
int		 ctl_fail(const struct ctl *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
struct ferry_conf *ctl_conf_load(const struct ctl *, struct conf_errors *);
void		 ctl_conf_errors(const struct ctl *, const struct conf_errors *);
int		 ctl_supervisor_pid(pid_t *);
/* Seconds as "42s", "5m12s", "3h04m", "2d03h". */
const char	*ctl_duration(int64_t, char *, size_t);
/* Bytes as "812 B", "4.1 KiB", "12.3 MiB", "1.0 GiB". */
const char	*ctl_bytes(uint64_t, char *, size_t);
/* ,"key":"s", or null for "" (none). */
void		 ctl_json_text(const char *, const char *);
/* ,"key":T with T in epoch seconds, or null for 0 (never). */
void		 ctl_json_time(const char *, int64_t);
/* ,"backlog":{records, bytes, oldest, oldest_age}, or null for NULL. */
void		 ctl_json_backlog(const struct backlog *, int64_t);

/* status.c */
int		 cmd_status(struct ctl *, int, char **);

/* send.c */
int		 cmd_send(struct ctl *, int, char **);

/* effective.c */
int		 ctl_effective_print(const struct ctl *, const struct ferry_conf *);

/* drain.c */
int		 cmd_drain(struct ctl *, int, char **);

/* fleet.c */
int		 cmd_fleet(struct ctl *, int, char **);
int		 ctl_fleet_drain_add(struct ctl *, const char *, const char *,
		    const char *, const char *, const char *);
int		 ctl_fleet_drain_list(struct ctl *);
int		 ctl_fleet_drain_remove(struct ctl *, const char *,
		    const char *, const char *);

/* tail.c */
int		 cmd_tail(struct ctl *, int, char **);

#endif
