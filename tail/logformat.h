/*
 * logformat: parsers for the access log formats people run, made from the
 * format's own description: nginx's log_format strings ("$remote_addr -
 * $remote_user [$time_local] ..."), and a few built in (nginx's combined,
 * Apache's common and combined). A line's variables become named fields
 * (tail/fields.h) that point into the line, so the rules that derive events
 * and metrics from lines know no format.
 *
 * Field names are nginx's variable names without the '$'; Apache's
 * directives map onto the same names (%h remote_addr, %>s status, %b
 * body_bytes_sent, ...). Besides its variables a format gives, from
 * $status, status_class ("2xx"), and from $request, request_method,
 * request_uri and server_protocol (those it does not log itself).
 *
 * Every field of a format has a fixed place in struct fields, whatever the
 * line: a rule looks a name up once (logformat_field()) and then reads
 * out->v[i] for every line. A derived field that a line does not allow
 * (a status of "abc", a request without blanks) is there, empty.
 */
#ifndef FERRY_LOGFORMAT_H
#define FERRY_LOGFORMAT_H

#include <stddef.h>

#include "fields.h"

struct logformat;

/*
 * A built-in format by name: nginx_combined (nginx's predefined
 * "combined"), nginx_main (combined and "$http_x_forwarded_for", the main
 * of nginx's sample configuration), apache_common, apache_combined. NULL
 * for any other name. The caller frees it.
 */
struct logformat	*logformat_builtin(const char *);
/*
 * A parser for an nginx log_format string (its quoted parts already
 * joined, as nginx joins them). NULL with the reason in err
 * when nginx itself would refuse it (a '$' without a name, a "${" not
 * closed) or it cannot be parsed apart (two variables with nothing
 * between them, more variables than FIELDS_MAX holds).
 */
struct logformat	*logformat_nginx(const char *, char *, size_t);
void			 logformat_free(struct logformat *);
/* Its text, in nginx's syntax: two formats with the same text are one. */
const char		*logformat_text(const struct logformat *);
/* The place of a field in every parse's out->v, or -1: not in the format. */
int			 logformat_field(const struct logformat *, const char *);
/*
 * Cut one line (without its newline) into fields: 1 when it has the
 * format's shape (out filled, pointing into line), 0 when it does not (out
 * is then undefined). A line may go on past what the format describes:
 * combined is a prefix of many formats. Never reads outside line[0..len).
 */
int			 logformat_parse(const struct logformat *, const char *,
			    size_t, struct fields *);

#endif
