/*
 * record: a spool record's key, and matching it against prefixes (see
 * record.h). Pure functions over bytes: a line need not be NUL-terminated.
 */
#include <string.h>

#include "record.h"

size_t
record_key_len(const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len && line[i] != ' ' && line[i] != '\t'; i++)
		;
	return i;
}

int
record_key_matches(const char *key, size_t keylen,
    const char *const *prefixes, size_t n)
{
	size_t	i, plen;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++) {
		plen = strlen(prefixes[i]);
		if (plen <= keylen && memcmp(key, prefixes[i], plen) == 0)
			return 1;
	}
	return 0;
}
