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

/* One access log nginx writes. */
struct nginx_log {
	char	*path;		/* absolute */
	char	*format;	/* its log_format's name: "combined", ... */
	char	*text;		/* that format's string, its parts joined */
	char	*origin;	/* "FILE:LINE" of its access_log (or "default") */
};

struct nginx_conf {
	struct nginx_log	*logs;
	size_t			 nlogs;
	char			**notes;	/* what was skipped, and why */
	size_t			 nnotes;
	size_t			 files;		/* configuration files read */
};

/*
 * Read the configuration conf (an absolute path) of an nginx whose prefix
 * is prefix (relative access_log paths are under it), whose compiled-in
 * access log is default_log (absolute), into out. 0, or -1 with the
 * reason in err when conf itself cannot be read; out is then empty.
 */
int	nginxconf_read(const char *, const char *, const char *,
	    struct nginx_conf *, char *, size_t);
void	nginxconf_free(struct nginx_conf *);

#endif
