/*
 * ferry-periodic: the sidecar that does ferry's slow, regular chores.
 *
 * periodic.c	main() and the one loop: timers and signals, in poll()
 * reload.c	the config watch: a change of content, validated, becomes a
 *		SIGHUP to ferry-supervisor; an invalid one is logged once
 * heartbeat.c	the heartbeat, a record into the spool for the forwarder
 *		to PUT (forwarder/heartbeat.c)
 * report.c	the heartbeat's JSON: host, processes, outputs, recent errors
 * housekeep.c	pruning the progress database of rows nobody reads again
 *
 * It never waits on the network: the forwarder delivers the heartbeat, so
 * a dead endpoint never holds up the config watch.
 */
#ifndef FERRY_PERIODIC_H
#define FERRY_PERIODIC_H

#include <stddef.h>
#include <stdint.h>

struct ferry_conf;
struct progress;

#define HOUSEKEEP_FIRST_MS	60000	/* after start: let the others settle */
#define HOUSEKEEP_MS		300000
#define DEFAULT_CONFIG_MS	10000	/* the watch without a valid config */
#define REPORT_ERRORS_MAX	10	/* recent log lines in a heartbeat */
#define REPORT_ERROR_LEN	512

/* What ferry-periodic counts, published as its self-metrics. */
struct periodic_stats {
	uint64_t	heartbeats_written;	/* into the spool */
	uint64_t	heartbeats_failed;
	uint64_t	reloads_requested;
	uint64_t	configs_invalid;
	uint64_t	rows_pruned;
};

/* periodic.c */
extern struct periodic_stats	 pstats;
/*
 * The progress database, opened on first use and again after a failure
 * (at most every 10 s); NULL while it cannot be opened (logged once).
 */
struct progress	*periodic_db(void);
const char	*periodic_spool_dir(void);
const char	*periodic_memory_dir(void);
/* A valid configuration the watch found, while we run without one. */
void		 periodic_adopt(struct ferry_conf *);

/* reload.c */
int		 reload_init(const char *, struct ferry_conf *);
void		 reload_check(void);
/* The newest valid configuration seen: what the outputs are now. */
const struct ferry_conf *reload_latest(void);
void		 reload_free(void);

/* heartbeat.c: its spool stream, when heartbeat_url is set; 0 or -1 */
int		 heartbeat_open(const struct ferry_conf *);
void		 heartbeat_write(const struct ferry_conf *, double);
void		 heartbeat_close(void);

/* report.c */
char		*report_build(const struct ferry_conf *, const char *, double,
		    size_t *);
int		 report_recent_errors(const char *, uint64_t,
		    char (*)[REPORT_ERROR_LEN], int);

/* housekeep.c */
void		 housekeep_run(void);

#endif
