/*
 * parser: the kinds of parser.h, one table of operations each.
 *
 * match: a PCRE2 expression, compiled once, on bytes (no UTF-8 check, as
 * pipeline.c's redact and sample rules: a line with invalid UTF-8 is
 * matched as it is), with the JIT when the machine has one. Its named
 * groups, in the order of their numbers, are the fields; groups without
 * a name only group. A name given twice ((?J)) is one field, its first
 * group's. The match data is the parser's, made with it, so a line costs
 * no allocation. A match that fails for another reason than "no match"
 * (PCRE2's match or depth limit, on a pathological line) is "no match":
 * a hostile line costs its rule that line, nothing more.
 *
 * format: a log format by name (tail/logformat.c: nginx_combined,
 * nginx_main, apache_common, apache_combined), its variables the fields:
 * its parse is logformat_parse(), its field logformat_field(). A field a
 * line does not allow (status_class of a status "abc") is there, empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "logformat.h"
#include "parser.h"

struct regex_parser {
	struct parser		 p;		/* first: what the seam sees */
	pcre2_code		*re;
	pcre2_match_data	*md;
	size_t			 nfields;
	const char		*names[FIELDS_MAX];	/* in re's name table */
	uint32_t		 group[FIELDS_MAX];	/* each field's group */
};

static int
regex_parse(const struct parser *p, const char *s, size_t len,
    struct fields *out)
{
	const struct regex_parser	*rp = (const struct regex_parser *)p;
	PCRE2_SIZE			*ov;
	uint32_t			 g;
	size_t				 i;
	int				 rc;

	rc = pcre2_match(rp->re, (PCRE2_SPTR)s, len, 0, 0, rp->md, NULL);
	if (rc < 0)
		return 0;
	/* rc 0: the match data is too small, which its making rules out. */
	ov = pcre2_get_ovector_pointer(rp->md);
	out->n = rp->nfields;
	for (i = 0; i < rp->nfields; i++) {
		g = rp->group[i];
		out->v[i].name = rp->names[i];
		/* \K can end a group before it starts: taken as empty. */
		if (rc == 0 || g >= (uint32_t)rc || ov[2 * g] == PCRE2_UNSET ||
		    ov[2 * g + 1] < ov[2 * g]) {
			out->v[i].p = NULL;
			out->v[i].len = 0;
			continue;
		}
		out->v[i].p = s + ov[2 * g];
		out->v[i].len = ov[2 * g + 1] - ov[2 * g];
	}
	return 1;
}

static int
regex_field(const struct parser *p, const char *name)
{
	const struct regex_parser	*rp = (const struct regex_parser *)p;
	size_t				 i;

	for (i = 0; i < rp->nfields; i++)
		if (strcmp(rp->names[i], name) == 0)
			return (int)i;
	return -1;
}

static void
regex_free(struct parser *p)
{
	struct regex_parser	*rp = (struct regex_parser *)p;

	pcre2_match_data_free(rp->md);
	pcre2_code_free(rp->re);
	free(rp);
}

static const struct parser_ops regex_ops = {
	"match", regex_parse, regex_field, regex_free
};

/*
 * The named groups, in the order of their numbers, from the name table
 * (sorted by name: entries of a 2-byte group number, then the name).
 * 0, or -1 when there are more than FIELDS_MAX.
 */
static int
regex_fields(struct regex_parser *rp, char *err, size_t errlen)
{
	PCRE2_SPTR	 table, e;
	uint32_t	 count, size, i, j, g, best;
	uint32_t	 taken[FIELDS_MAX];
	const char	*name;

	if (pcre2_pattern_info(rp->re, PCRE2_INFO_NAMECOUNT, &count) != 0 ||
	    pcre2_pattern_info(rp->re, PCRE2_INFO_NAMEENTRYSIZE, &size) != 0 ||
	    pcre2_pattern_info(rp->re, PCRE2_INFO_NAMETABLE, &table) != 0)
		count = 0;
	memset(taken, 0, sizeof(taken));
	for (;;) {
		/* The unnamed entry of the lowest group number not yet taken. */
		best = UINT32_MAX;
		name = NULL;
		for (i = 0; i < count; i++) {
			e = table + (size_t)i * size;
			g = (uint32_t)e[0] << 8 | e[1];
			for (j = 0; j < rp->nfields; j++)
				if (strcmp(rp->names[j], (const char *)e + 2) == 0)
					break;
			if (j == rp->nfields && g < best) {
				best = g;
				name = (const char *)e + 2;
			}
		}
		if (name == NULL)
			return 0;
		if (rp->nfields == FIELDS_MAX) {
			snprintf(err, errlen, "more than %d named groups",
			    FIELDS_MAX);
			return -1;
		}
		rp->group[rp->nfields] = best;
		rp->names[rp->nfields++] = name;	/* the table's, as re lives */
	}
}

static struct parser *
regex_new(const char *pattern, char *err, size_t errlen)
{
	struct regex_parser	*rp;
	PCRE2_UCHAR		 msg[256];
	PCRE2_SIZE		 at;
	int			 code;

	if ((rp = calloc(1, sizeof(*rp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rp->p.ops = &regex_ops;
	if ((rp->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    0, &code, &at, NULL)) == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "match \"%s\": %s at offset %zu", pattern,
		    (char *)msg, (size_t)at);
		regex_free(&rp->p);
		return NULL;
	}
	(void)pcre2_jit_compile(rp->re, PCRE2_JIT_COMPLETE);
	if ((rp->md = pcre2_match_data_create_from_pattern(rp->re, NULL)) ==
	    NULL) {
		snprintf(err, errlen, "out of memory");
		regex_free(&rp->p);
		return NULL;
	}
	if (regex_fields(rp, err, errlen) == -1) {
		regex_free(&rp->p);
		return NULL;
	}
	return &rp->p;
}

struct format_parser {
	struct parser		 p;		/* first: what the seam sees */
	struct logformat	*lf;
};

static int
format_parse(const struct parser *p, const char *s, size_t len,
    struct fields *out)
{
	return logformat_parse(((const struct format_parser *)p)->lf, s, len,
	    out);
}

static int
format_field(const struct parser *p, const char *name)
{
	return logformat_field(((const struct format_parser *)p)->lf, name);
}

static void
format_free(struct parser *p)
{
	struct format_parser	*fp = (struct format_parser *)p;

	logformat_free(fp->lf);
	free(fp);
}

static const struct parser_ops format_ops = {
	"format", format_parse, format_field, format_free
};

/* A log format by name. */
static struct parser *
format_new(const char *name, char *err, size_t errlen)
{
	struct format_parser	*fp;

	if ((fp = calloc(1, sizeof(*fp))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	fp->p.ops = &format_ops;
	if ((fp->lf = logformat_builtin(name)) == NULL) {
		snprintf(err, errlen, "format \"%s\": unknown format (known: "
		    "nginx_combined, nginx_main, apache_common, "
		    "apache_combined)", name);
		free(fp);
		return NULL;
	}
	return &fp->p;
}

struct parser *
parser_new(const char *match, const char *format, char *err, size_t errlen)
{
	err[0] = '\0';
	if ((match[0] != '\0') == (format[0] != '\0')) {
		snprintf(err, errlen, "set either match or format");
		return NULL;
	}
	return match[0] != '\0' ? regex_new(match, err, errlen) :
	    format_new(format, err, errlen);
}

void
parser_free(struct parser *p)
{
	if (p != NULL)
		p->ops->free(p);
}

int
parser_parse(const struct parser *p, const char *s, size_t len,
    struct fields *out)
{
	return p->ops->parse(p, s, len, out);
}

int
parser_field(const struct parser *p, const char *name)
{
	return p->ops->field(p, name);
}
