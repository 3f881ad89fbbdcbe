/*
 * json: writing JSON strings. ferryctl --json and the heartbeat both print
 * names and messages that may hold quotes, backslashes or control bytes.
 */
#ifndef FERRY_JSON_H
#define FERRY_JSON_H

#include <stddef.h>
#include <stdio.h>

/* s as a JSON string, quotes included. */
void	json_str(FILE *, const char *);
/* The len bytes at s as a JSON string: a NUL byte is escaped, not an end. */
void	json_strn(FILE *, const char *, size_t);

#endif
