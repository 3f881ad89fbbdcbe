/*
 * fleetdrain: what a fleet drain is in etcd, for ferry-fleet (which turns
 * them into outputs) and ferryctl (which writes and lists them).
 *
 * Keys, under the configured prefix (fleet.prefix, "/ferry/"):
 *
 *   PREFIXdrains/NAME                 every host
 *   PREFIXgroups/GROUP/drains/NAME    the hosts with fleet.group = GROUP
 *   PREFIXhosts/HOSTNAME/drains/NAME  the host of that hostname
 *   PREFIXstatus/HOSTNAME             a host's health, under its lease
 *
 * When one NAME is meant for a host at more than one level, the most
 * specific wins: its host's, then its group's, then every host's.
 *
 * A value is the drain's URI (as an output's uri, ferry's options in its
 * query), or a JSON object {"uri": "...", "api_key": "..."} when the
 * drain needs an API key. A value may only name a scheme ferry knows and
 * members it knows; file:// only where fleet.allow_file is set.
 */
#ifndef FERRY_FLEETDRAIN_H
#define FERRY_FLEETDRAIN_H

#include <stddef.h>

struct buf;

#define FLEET_NAME_MAX	48

enum fleet_scope {
	FLEET_SCOPE_ALL,
	FLEET_SCOPE_GROUP,
	FLEET_SCOPE_HOST
};

struct fleet_key {
	enum fleet_scope scope;
	char		 who[256];	/* the group or the host; "" for all */
	char		 name[256];	/* as found: check it with fleet_name_check */
};

struct fleet_drain {
	char	uri[2048];
	char	api_key[512];		/* "" when none */
};

/* [A-Za-z0-9_-]{1,48}: a file name and a metric name part. 0 or -1. */
int	 fleet_name_check(const char *, char *, size_t);
/*
 * The key (keylen bytes) under prefix: 1 with k filled when it is a drain
 * key, 0 when it is not one (a status key, anything else).
 */
int	 fleet_key_parse(const char *, const char *, size_t, struct fleet_key *);
/* The key of k under prefix, into buf; 0, or -1 when it does not fit. */
int	 fleet_key_make(char *, size_t, const char *, const struct fleet_key *);
/* 1 when k is meant for this host (hostname, group; "" for none). */
int	 fleet_key_for(const struct fleet_key *, const char *, const char *);
/* "drains", "group G", "host H" */
const char *fleet_scope_str(const struct fleet_key *, char *, size_t);
/*
 * The range of keys that holds every drain key and no status key:
 * [PREFIXdrains/, PREFIXhosts0). 0, or -1 when it does not fit.
 */
int	 fleet_drain_range(const char *, char *, size_t, char *, size_t);
/* PREFIXstatus/HOST (host "" gives the range's start, PREFIXstatus/). */
int	 fleet_status_key(char *, size_t, const char *, const char *);

/*
 * A value as a drain: 0 with d filled, or -1 with the reason in err (which
 * never quotes a secret: a URI shows masked, an API key not at all).
 */
int	 fleet_value_parse(const char *, size_t, int, struct fleet_drain *,
	    char *, size_t);
/* The value for uri and api_key (NULL or "" for none), into b; 0 or -1. */
int	 fleet_value_make(struct buf *, const char *, const char *);

#endif
