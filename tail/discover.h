/*
 * discover: log sources found from the services running here, not
 * configured (discover { nginx = true }). A discoverer is one service: it
 * looks at the processes and the configuration they run, and says which
 * files they log to, in which format, and where it read that. discover.c
 * turns its answer into a log source of ferry-tail's, named after the
 * service (records keyed systail.<service>.<host>, as a log section of
 * that name would be), adds and lets go of files as the answer changes,
 * and lets all of them go when the service goes. Another service (Apache,
 * PostgreSQL) is one more discoverer: a file with a struct discoverer.
 */
#ifndef FERRY_DISCOVER_H
#define FERRY_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

struct ferry_conf;
struct fields;
struct logformat;
struct progress;
struct source;
struct tfile;

/* One file a service logs to, as a discoverer found it. */
struct found_log {
	char	*path;		/* absolute */
	char	*format;	/* its format's name ("combined") */
	char	*text;		/* the format in nginx's syntax; NULL: none */
	char	*origin;	/* where it was read: "nginx[PID] FILE:LINE" */
};

/* A discoverer's answer: the files, and what it skipped, and why. */
struct found {
	struct found_log	*logs;
	size_t			 nlogs;
	char			**notes;
	size_t			 nnotes;
};

/*
 * The metrics every log of a service gets, as a logmetric rule of the
 * rules engine would make them (derive.c): every interval, the lines of
 * its files, <prefix>.<host>.<service>.<counter>, and split by the value
 * of split (<counter>.2xx ...), and a summary (count, sum, min, max, p50,
 * p90, p99) of each numeric field of summary that a file's format has.
 */
struct discover_metrics {
	const char		*counter;	/* "requests" */
	const char		*split;		/* "status_class"; NULL: none */
	const char *const	*summary;	/* field names, NULL-ended */
};

struct discoverer {
	const char			*name;	/* "nginx": the key's, the source's */
	/*
	 * Look at the processes under procroot ("/proc") and fill out (empty
	 * at the call; found_free() empties it). 0; -1 when the
	 * processes cannot be listed.
	 */
	int				 (*scan)(const char *, struct found *);
	const struct discover_metrics	*metrics;
};

/* discover_nginx.c */
extern const struct discoverer	 discoverer_nginx;

/* What the rules engine needs of one discovered log. */
struct discovered_log {
	const char		*service;	/* the discoverer's name */
	const char		*path;
	const char		*format_name;
	const struct logformat	*format;	/* NULL: its format cannot be parsed */
	const char		*origin;
	struct source		*src;
	const struct discover_metrics	*metrics;
};

/* discover.c */
/*
 * The discoverers the configuration enables (none: discovery is off);
 * what they find is written to db (ferry.db) for ferryctl status.
 */
void	discover_init(const struct ferry_conf *, struct progress *);
/*
 * Ask each discoverer and bring the sources in line with what it found:
 * a source made when a service is first found, files added and let go
 * (read to their end first, their checkpoints kept) as its logs change;
 * when the service goes, its source follows nothing until it is back.
 * first: at start, before the first scans (a source found then starts as
 * a configured section does). 1 when anything changed.
 */
int	discover_run(int);
/* Has discovery asked for a run before the next rescan? (a reload seen) */
int	discover_due(void);
void	discover_free(void);
/* Is name a discovered source's? (its checkpoints outlive the first scans) */
int	discover_owns(const char *);
/*
 * The logs discovered now, and a number that changes whenever they (or a
 * format) do: a rules engine rebuilds what it made of them then.
 */
const struct discovered_log *discover_logs(size_t *, uint64_t *);
/*
 * A line of tf cut into fields by its file's format: 1; 0 when it does not
 * have the format's shape (a run is then asked for, at most every few
 * seconds: nginx may have been reloaded with another format); -1 when tf
 * is not a discovered file or its format has no parser.
 */
int	discover_parse(struct tfile *, const char *, size_t, struct fields *);

/* found.c: a discoverer's answer, built and let go. */
#define FOUND_NOTES_MAX	64
/* Add a log (each string copied); one already there by path is kept. */
int	found_add(struct found *, const char *, const char *, const char *,
	    const char *);
/* Add a note (printf-like); at most FOUND_NOTES_MAX are kept. */
void	found_note(struct found *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	found_free(struct found *);

#endif
