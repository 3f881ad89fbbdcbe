/*
 * logstats: what ferry-tail last published of each log "NAME" section, its
 * self-metrics log.NAME.files, .lines, ... read back from the stream
 * self-tail, and written as one JSON object, so that ferryctl status and
 * the heartbeat show a log section alike.
 */
#ifndef FERRY_LOGSTATS_H
#define FERRY_LOGSTATS_H

#include <stdint.h>
#include <stdio.h>

struct ferry_conf;
struct log_conf;

/* Totals since ferry-tail started, but lag_bytes: how far behind it is now. */
struct log_stats {
	int		published;	/* 0: ferry-tail has not published it */
	uint64_t	files;		/* followed now */
	uint64_t	lines, bytes;	/* read */
	uint64_t	records;	/* into the spool */
	uint64_t	cut;		/* longer than max_line */
	uint64_t	sampled_out;
	uint64_t	rotations;
	uint64_t	lost_bytes;	/* let go unread (tail.max_open_files) */
	uint64_t	errors;
	uint64_t	lag_bytes;	/* behind the files' ends */
};

/*
 * One self-metric of ferry-tail (its name without the prefix, as
 * selfmetrics_read() gives it): into v[i] when it is a counter of the
 * section conf->logs[i]. v has conf->nlogs entries.
 */
void	logstats_note(const struct ferry_conf *, struct log_stats *,
	    const char *, uint64_t);
/*
 * Each configured section's counters into v[conf->nlogs] (zeroed first),
 * from the spool dir and the memory dir (or NULL); 1 when ferry-tail has
 * published any, 0 when not.
 */
int	logstats_read(const struct ferry_conf *, const char *, const char *,
	    struct log_stats *);
/*
 * The section as a JSON object: name, path, published and each counter
 * under its self-metric's name (null while not published).
 */
void	logstats_json(FILE *, const struct log_conf *, const struct log_stats *);

#endif
