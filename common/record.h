/*
 * record: what every reader of the spool agrees a record's key is, so that
 * an output's filter= and ferryctl tail's prefixes select the same records.
 *
 * A record is one spool line; its key is its first field, up to the first
 * space or tab: a metric's name, or a log record's key.
 */
#ifndef FERRY_RECORD_H
#define FERRY_RECORD_H

#include <stddef.h>

/* The length of the key at the start of line (len bytes, no newline). */
size_t	record_key_len(const char *, size_t);
/*
 * Does the key (keylen bytes) start with one of the n prefixes? With no
 * prefix every key does. A prefix longer than the key never matches, so a
 * prefix cannot reach past the key into the value.
 */
int	record_key_matches(const char *, size_t, const char *const *, size_t);

#endif
