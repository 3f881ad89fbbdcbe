/*
 * parser: how a derive rule reads a log record's text into named fields
 * (fields.h), a seam of one small table of operations per kind, so the
 * rules (derive.c) know no kind:
 *
 *   match = "RE"      a PCRE2 expression; its named groups (?<name>...)
 *                     are the fields (parser.c)
 *   format = "NAME"   a log format by name (nginx's, Apache's), whose
 *                     variables are the fields; one more kind of parser
 *
 * A parser numbers its fields once, when made: parser_field() gives a
 * name's index, and every successful parse fills out->v[0 .. n) with the
 * fields at those places, each with the parser's name, so a rule finds its
 * groups by index and never compares names per line. A field the line did
 * not set (an optional group that did not take part) has p == NULL; one
 * that is there but empty has p set and len 0.
 *
 * parser_parse() allocates nothing: what it needs per line is made with
 * the parser.
 */
#ifndef FERRY_PARSER_H
#define FERRY_PARSER_H

#include <stddef.h>

#include "fields.h"

struct parser;

struct parser_ops {
	const char	*kind;		/* "match", "format" */
	/* 1 when the line matched (out filled), 0 when not. */
	int		(*parse)(const struct parser *, const char *, size_t,
			    struct fields *);
	/* The place of a field in out->v, or -1: the parser has none. */
	int		(*field)(const struct parser *, const char *);
	void		(*free)(struct parser *);
};

/* What every kind's parser starts with; the rest is the kind's. */
struct parser {
	const struct parser_ops	*ops;
};

/*
 * A parser for a rule that sets match or format (exactly one non-empty):
 * NULL with a message for the operator in err.
 */
struct parser	*parser_new(const char *, const char *, char *, size_t);
void		 parser_free(struct parser *);
/* 1 matched (out filled), 0 not. */
int		 parser_parse(const struct parser *, const char *, size_t,
		    struct fields *);
/* The index of the field called name, or -1 when the parser has none. */
int		 parser_field(const struct parser *, const char *);

#endif
