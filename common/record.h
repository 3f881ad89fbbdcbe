/*
 * record: one line of the spool, seen as what it carries. Three kinds share
 * the spool, told apart by their first two fields:
 *
 *   metric  "<name> <value> <timestamp>"                (Graphite plaintext)
 *   log     "<key> {"name":..,"host":..,"file":..,"line":N,"offset":N,
 *            "end":N,"fid":"DEV:INO","time":T,"attrs":{..},"text":..}"
 *                                                       (one JSON object)
 *            an event (ferry-tail's derive rules) is a log record under
 *            its own key with one member more, "fields":{"name":"value"}:
 *            the named fields its rule found in the text
 *   beat    "@heartbeat {...}"   ferry-periodic's heartbeat, the body of the
 *            PUT as it is, in a stream of its own ("heartbeat"); only the
 *            forwarder's heartbeat output takes it (forwarder/heartbeat.c)
 *
 * so an operator can still cat and grep a segment, and a record's key (the
 * first field: a metric's name, a log line's source key) is what outputs
 * filter on, whatever its kind. The log object is written by
 * record_log_append() only, which escapes just what JSON requires ('"', '\'
 * and control bytes) and leaves every other byte as the file had it, invalid
 * UTF-8 included; a renderer decides what to do with such bytes.
 *
 * record_parse() copies nothing: every field points into the line, string
 * fields still JSON-escaped (spans), decoded on demand.
 */
#ifndef FERRY_RECORD_H
#define FERRY_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct buf;

enum record_kind {
	RECORD_METRIC = 0,
	RECORD_LOG = 1,
	RECORD_BEAT = 2
};
#define RECORD_KINDS	3

/* A heartbeat record's key, and the stream ferry-periodic writes them to. */
#define RECORD_BEAT_KEY		"@heartbeat"
#define RECORD_BEAT_STREAM	"heartbeat"

struct span {
	const char	*p;
	size_t		 len;
};

struct record {
	enum record_kind kind;
	struct span	 line;		/* the whole spool line, no newline */
	struct span	 key;		/* its first field */
	/* metric */
	struct span	 value;
	int64_t		 ts;
	/* log: strings as escaped in the spool, without their quotes */
	struct span	 name, host, file, text;	/* beat: text, the object */
	struct span	 attrs;		/* the attrs object, braces included */
	struct span	 fields;	/* an event's fields object; len 0: none */
	struct span	 time;		/* the number as written: "1764751234.125" */
	struct span	 fid;		/* the file's identity, "DEV:INO" */
	int64_t		 lineno, offset;
	int64_t		 end;		/* the byte after the record's last line */
	int64_t		 nlines;	/* lines it joins (multiline), at least 1 */
};

/* A named value an event carries: len bytes at p, as the line had them. */
struct log_field {
	const char	*name;
	const char	*p;
	size_t		 len;
};

/* What record_log_append() writes for one log line. */
struct log_fields {
	const char	*key;		/* no blank in it */
	const char	*name;		/* the log section's */
	const char	*host;
	const char	*file;
	uint64_t	 dev, ino;	/* the file's identity */
	int64_t		 lineno, offset, end;
	int64_t		 nlines;	/* lines joined into it (1 unless multiline) */
	uint64_t	 time_ms;	/* wall clock, when the line was read */
	char *const	*attrs;		/* "name=value" each */
	size_t		 nattrs;
	const char	*text;
	size_t		 textlen;
	/* An event's fields: NULL for a plain log line (no "fields"). */
	const struct log_field *fields;
	size_t		 nfields;
};

/* 0, or -1 when the line is neither kind (it is then passed over). */
int	record_parse(const char *, size_t, struct record *);
/* The key of a spool line: its first field (cheap; no full parse). */
size_t	record_key_len(const char *, size_t);
/* The kind of a spool line whose key is klen long (cheap; no full parse). */
enum record_kind record_kind_of(const char *, size_t, size_t);
/*
 * Does the key (keylen bytes) start with one of the n prefixes? With no
 * prefix every key does. A prefix longer than the key never matches, so a
 * prefix cannot reach past the key into the value (ferryctl tail's test,
 * the same as an output's filter=).
 */
int	record_key_matches(const char *, size_t, const char *const *, size_t);
/* Append one log record's spool line, newline included; 0 or -1 (buf full). */
int	record_log_append(struct buf *, const struct log_fields *);
/*
 * The same in two steps, for many lines of one file: record_log_head()
 * renders what the lines share (key, name, host, file, dev, ino, attrs),
 * record_log_put() one line with it (lineno, offset, end, nlines,
 * time_ms, text, fields). 0, or -1 (out of memory).
 */
struct log_head {
	struct buf	text;		/* the three shared pieces, in order */
	size_t		start_len;	/* the first; the second: */
	size_t		mid_len;	/* the third is the rest */
};
int	record_log_head(struct log_head *, const struct log_fields *);
int	record_log_put(struct buf *, const struct log_head *,
	    const struct log_fields *);
/*
 * Append one heartbeat's spool line: the key, then the JSON object (one
 * line: -1 if it holds a newline), newline included; 0 or -1.
 */
int	record_beat_append(struct buf *, const char *, size_t);
/*
 * Decode a span of escaped JSON string content into out (appended); bytes
 * that are not escapes pass through as they are. 0, or -1 (buf full).
 */
int	record_unescape(struct buf *, struct span);
/*
 * The value of attribute name in rec's attrs, as an escaped span; 1 found,
 * 0 not.
 */
int	record_attr(const struct record *, const char *, size_t, struct span *);
/*
 * The value of an event's field name in rec's fields, as an escaped span;
 * 1 found, 0 not.
 */
int	record_field(const struct record *, const char *, size_t, struct span *);
/* Seconds since the epoch of a record (a log's time, truncated). */
int64_t	record_seconds(const struct record *);

#endif
