/*
 * url: an output's URI, "scheme://host[:port][/path][?query]", split into
 * what ferry reads itself (its options: filter, format, key, limit) and
 * what is sent to the peer (the URL without those options).
 */
#ifndef FERRY_URL_H
#define FERRY_URL_H

#include <stddef.h>

#define URL_FILTERS_MAX	16

struct url {
	char	scheme[16];		/* lowercase */
	char	host[256];		/* without [] around an IPv6 address */
	int	port;			/* 0: the scheme's default */
	char	path[1024];		/* from the first '/', "" when none */
	char	target[2048];		/* the URI minus ferry's options */
	char	filter[URL_FILTERS_MAX][256];	/* record-key prefixes */
	int	nfilter;
	char	format[128];		/* "" when not given */
	char	key[256];		/* redis: the list */
	long	limit;			/* redis: LTRIM length; 0 none */
};

/* 0, or -1 with a message for the operator in err. */
int	url_parse(const char *, struct url *, char *, size_t);
/* Does a record with this key go to this output? (no filter: all do) */
int	url_matches(const struct url *, const char *, size_t);

#endif
