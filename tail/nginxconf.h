/*
 * nginxconf: what an nginx configuration says of its access logs, read
 * from its files as nginx reads them: its tokens (quotes, escapes,
 * comments, "${var}" inside a word), its blocks, the files it includes
 * (globs, relative to the main file's directory), every log_format of the
 * http block and every access_log of http, server and location (with if
 * and limit_except), with nginx's defaults: "combined", and the compiled-in
 * log file for a server that names none.
 *
 * What cannot be followed is a note, not a failure: an access_log to
 * syslog, one whose path has variables, one written gzip'd, stream { }'s
 * logs (another protocol, other variables), a file that cannot be read.
 */
#ifndef FERRY_NGINXCONF_H
#define FERRY_NGINXCONF_H

#include <stddef.h>

struct found;

/*
 * Read the configuration conf (an absolute path) of an nginx whose prefix
 * is prefix (relative access_log paths are under it), whose compiled-in
 * access log is default_log (absolute). Each access log it writes is
 * added to out (discover.h: its path, its log_format's name and string,
 * and "FILE:LINE" of its access_log, or "default"), with a note for each
 * thing skipped. 0, or -1 with the reason in err when conf itself cannot
 * be read (nothing is added then).
 */
int	nginxconf_read(const char *, const char *, const char *,
	    struct found *, char *, size_t);

#endif
