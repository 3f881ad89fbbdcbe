/*
 * json: JSON for everyone who reads or writes it: ferryctl --json and the
 * heartbeat print strings (json.c); the sink reads request bodies and the
 * forwarder reads log records back from the spool (jsonread.c, a pull
 * reader that builds no tree).
 */
#ifndef FERRY_JSON_H
#define FERRY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct buf;

/* json.c: s as a JSON string, quotes included. */
void	json_str(FILE *, const char *);
/* The len bytes at s as a JSON string: a NUL byte is escaped, not an end. */
void	json_strn(FILE *, const char *, size_t);

/* jsonread.c: a pull reader over one document in memory, and string escaping. */
struct json {
	const char	*p;
	const char	*end;
	int		 depth;		/* open containers, at most 64 */
	uint64_t	 first;		/* bit depth-1: no member read yet */
};

void	json_init(struct json *, const char *, size_t);
int	json_object_begin(struct json *);
/* 1: a member, its key decoded into key and the reader at its value; 0: '}'; -1: error. */
int	json_object_next(struct json *, struct buf *);
int	json_array_begin(struct json *);
/* 1: an element follows; 0: ']'; -1: error. */
int	json_array_next(struct json *);
/* Decode a string value into out (replacing its content); -1 when not a string. */
int	json_string(struct json *, struct buf *);
/* A number, or a string holding an integer (some senders quote line numbers). */
int	json_int64(struct json *, int64_t *);
int	json_skip(struct json *);
/* 0 when only white space is left. */
int	json_end(struct json *);
/* Append the decoded content of a JSON string (no quotes around it). */
int	json_unescape(struct buf *, const char *, size_t);
/*
 * Append the content of a JSON string as written, no quotes added, with
 * each byte that is not part of well-formed UTF-8 escaped as \u00XX (its
 * Latin-1 reading), so the result is valid JSON whatever a log file held.
 */
int	json_add_escaped(struct buf *, const char *, size_t);
/* The first byte of [s, end) a JSON string must escape, or end. */
const char *json_plain(const char *, const char *);
/* Append s as a quoted JSON string; bytes >= 0x80 pass as they are. */
int	json_add_string(struct buf *, const char *, size_t);
/* Append a finite double as a JSON number, else null. */
int	json_add_double(struct buf *, double);

#endif
