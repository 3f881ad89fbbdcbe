/*
 * fields: the named pieces a parser found in one line, as spans into the
 * line (nothing copied). A regular expression's named groups and a log
 * format's variables ($status, $request_time, ...) both land here, so the
 * rules that use them (derive.c: events and log metrics) know no parser.
 */
#ifndef FERRY_FIELDS_H
#define FERRY_FIELDS_H

#include <stddef.h>

#define FIELDS_MAX	48	/* nginx's combined format has 9; room to spare */

struct field {
	const char	*name;		/* the parser's; lives as long as it */
	const char	*p;		/* into the line */
	size_t		 len;
};

struct fields {
	size_t		 n;
	struct field	 v[FIELDS_MAX];
};

#endif
