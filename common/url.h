/*
 * url: an output's URI, "scheme://host[:port][/path][?query]", split into
 * what ferry reads itself (its options: filter, format, key, limit, ...)
 * and what is sent to the peer (the URL without those options); and the one
 * list of schemes ferry speaks, which the configuration check, the
 * forwarder and ferryctl drain all read.
 */
#ifndef FERRY_URL_H
#define FERRY_URL_H

#include <stddef.h>

#include "record.h"

#define URL_FILTERS_MAX	16

/*
 * A scheme: which of the forwarder's transports carries it, its default
 * port (0: the URI must give one), and the format each kind of record
 * takes when the URI names none.
 */
struct scheme {
	const char	*name;
	const char	*transport;	/* http stream udp redis file */
	int		 default_port;
	int		 needs_host;
	int		 octet_framing;	/* RFC 6587 octet counting (syslog) */
	int		 logs_by_filter;/* logs only when a filter names them */
	const char	*format[RECORD_KINDS];	/* metric, log; heartbeats: none */
};

struct url {
	const struct scheme *scheme;
	char	scheme_name[16];	/* lowercase */
	char	host[256];		/* without [] around an IPv6 address */
	int	port;			/* the URI's, else the scheme's default */
	char	path[1024];		/* from the first '/', "" when none */
	/* What the peer gets: the URI minus ferry's options, per kind. */
	char	target[2048];		/* metrics (and every record for most) */
	char	target_logs[2048];	/* http: log records go here */
	char	filter[URL_FILTERS_MAX][256];	/* record-key prefixes */
	int	nfilter;
	char	format[256];		/* "" when not given */
	char	key[256];		/* redis: the list ("ferry" unless set) */
	long	limit;			/* redis: LTRIM length; 0 none */
	int	db;			/* redis: SELECT */
	int	datagram;		/* udp: largest datagram, bytes */
	double	fail_after;		/* seconds failing until "failed"; 0 never */
	char	logs_path[256];		/* http: where log batches go */
	char	database[64];		/* clickhouse */
	char	table[RECORD_LOG + 1][64];/* clickhouse: metrics, logs */
};

/* 0, or -1 with a message for the operator in err. */
int	url_parse(const char *, struct url *, char *, size_t);
/* Does a record with this key go to this output? (no filter: all do) */
int	url_matches(const struct url *, const char *, size_t);
/* Does a filter of u name this key explicitly? (for logs_by_filter) */
int	url_filter_names(const struct url *, const char *, size_t);
const struct scheme *scheme_find(const char *);
/* "http, https, carbon, ...": every scheme, for messages and usage. */
const char *scheme_names(void);
/*
 * uri with its secrets (a password, user information, a query parameter
 * named like a secret) as "***", into buf; returns buf.
 */
const char *url_mask(const char *, char *, size_t);

#endif
