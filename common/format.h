/*
 * format: how a record is written for a peer, the second seam of the
 * outputs (transports move bytes, formats make them). An output's `format`
 * option names one:
 *
 *   graphite   "name value timestamp"            (metrics only)
 *   json       one object per record
 *   raw        "<key> <json>"
 *   syslog     an RFC 5424 message
 *   sink       the reference sink's /store/batch item (logs only)
 *   clickhouse json, with a log's attributes as a string (JSONEachRow)
 *   heartbeat  a heartbeat record's object as it is (heartbeats only)
 *   anything with '{' in it: a template, "{name}@{host}: {text}"
 *
 * A template's fields are checked when it is made, so an unknown one is a
 * configuration error, not a blank in every record sent.
 *
 * A rendered record has no terminator: the transport frames it (a newline,
 * an octet count, a Redis argument, a datagram).
 */
#ifndef FERRY_FORMAT_H
#define FERRY_FORMAT_H

#include <stddef.h>

#include "record.h"

struct buf;
struct format;

/* What a record does not say itself: a metric's host is this machine. */
struct format_ctx {
	const char	*hostname;
	const char	*app;		/* syslog APP-NAME for metrics: "ferry" */
};

/*
 * A format from its spec; NULL with a message for the operator in err.
 * The result is freed with format_free().
 */
struct format	*format_new(const char *, char *, size_t);
void		 format_free(struct format *);
const char	*format_name(const struct format *);
/* 1 when records of this kind can be written in this format. */
int		 format_takes(const struct format *, enum record_kind);
/* Append the record rendered; 0, or -1 when it cannot be (buf full). */
int		 format_render(const struct format *, const struct format_ctx *,
		    const struct record *, struct buf *);
/*
 * How a body of several records is put together for a peer that takes a
 * whole batch (HTTP): head, then the records joined by sep, then tail.
 * Line formats give "", "\n", "\n".
 */
struct format_envelope {
	const char	*head, *sep, *tail;
};
const struct format_envelope *format_envelope(const struct format *);
/* The JSON number a Graphite value is, into b ("+5" "5", ".5" "0.5"). */
int		 format_json_number(struct buf *, struct span);

#endif
