/*
 * version: ferry's one version, the same in every program's -V, in
 * `ferryctl version`, in the heartbeat and in the User-Agent of what it
 * sends. It is compiled into this module alone (tools/version.sh says it,
 * the Makefile passes it), so a new commit rebuilds one object, not all.
 */
#ifndef FERRY_VERSION_H
#define FERRY_VERSION_H

/* "0.1.0", or "0.1.0+166.gd8b0500" between releases. */
const char	*version_get(void);
/* "ferry/<version>", for the User-Agent header. */
const char	*version_agent(void);
/* Print "<program> <version>" on stdout (the -V of every program). */
void		 version_print(const char *);

#endif
