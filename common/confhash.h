/*
 * confhash: a digest of a configuration's content, for noticing edits.
 *
 * The files are those common/conf.c reads: the main file, then conf.d/
 * beside it, every *.conf not starting with a dot, in name order. Names and
 * bytes go in together, so an edit, a file added, removed or renamed all
 * change the digest, and a touch or a copy with the old mtime does not.
 *
 * ferry-supervisor publishes the digest of the configuration it runs in
 * its children's environment (CONFHASH_ENV), so ferry-periodic starts from
 * what is running, not from what is on disk when it starts: an edit made
 * while it restarts is not missed.
 */
#ifndef FERRY_CONFHASH_H
#define FERRY_CONFHASH_H

#include <stddef.h>
#include <stdint.h>

#define CONFHASH_ENV	"FERRY_CONF_DIGEST"

/* The digest of the configuration whose main file is path. */
uint64_t	confhash(const char *);
/* Parse a digest as confhash_str() writes it; 0, or -1. */
int		confhash_parse(const char *, uint64_t *);
/* The digest as 16 hex digits into buf (at least 17 bytes); buf. */
char		*confhash_str(uint64_t, char *, size_t);

#endif
