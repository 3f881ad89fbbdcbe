/*
 * metric: the Graphite plaintext line parser and validator, shared by the
 * receiver, the collectors and the sink, so one set of rules decides what a
 * metric is everywhere.
 *
 * A line is "name value [timestamp]" separated by spaces or tabs; a trailing
 * CR is ignored. The parser does not copy: the result points into the line.
 */
#ifndef FERRY_METRIC_H
#define FERRY_METRIC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum metric_status {
	METRIC_OK = 0,
	METRIC_EMPTY,		/* blank line: skipped, not counted */
	METRIC_BAD_NAME,
	METRIC_BAD_VALUE,
	METRIC_BAD_TIMESTAMP,
	METRIC_BAD_FORMAT,	/* missing value, or more than three fields */
	METRIC_TOO_LONG,
	METRIC_NSTATUS
};

#define METRIC_TS_MAX	9999999999LL	/* year 2286: anything later is a bug */

struct metric {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
	int64_t		 ts;		/* -1: none given, or -1 given */
};

/* Parse len bytes (without the newline). Returns an enum metric_status. */
int		 metric_parse(const char *, size_t, struct metric *);
/* Drop a leading "<key>." from the name (Hosted Graphite compatibility). */
void		 metric_strip_key(struct metric *, const char *, size_t);
/*
 * Write "name value ts\n" into buf, using now when the metric has no
 * timestamp. Returns the length, or 0 when buf is too small.
 */
size_t		 metric_format(const struct metric *, int64_t, char *, size_t);
/* A short lowercase name for a status: "bad_name", "too_long", ... */
const char	*metric_status_name(int);

#endif
