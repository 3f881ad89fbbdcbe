/*
 * etcdhttp: requests to etcd's JSON gateway over libcurl, made one way for
 * ferry-fleet (which drives them on its multi handle, never blocking) and
 * ferryctl (which waits for each, trying every endpoint in turn).
 *
 * Credentials stay here and in the easy handle: the password goes only
 * into the body of /v3/auth/authenticate, the token only into the
 * Authorization header, and neither into a message.
 */
#ifndef FERRY_ETCDHTTP_H
#define FERRY_ETCDHTTP_H

#include <stddef.h>

#include <curl/curl.h>

struct buf;
struct fleet_conf;

#define ETCDHTTP_CONNECT_MS	3000
#define ETCDHTTP_TIMEOUT_MS	10000	/* a unary request, whole */
#define ETCDHTTP_TOKEN_MAX	512

/*
 * Make easy a POST of body (which must outlive the transfer) to endpoint
 * + path, with fleet's TLS files, the token when not NULL, keepalive, and
 * timeout_ms for the whole request (0: none, for a watch). *headers gets
 * the list to free with curl_slist_free_all() after the transfer. 0 or -1.
 */
int	 etcdhttp_setup(CURL *, const struct fleet_conf *, const char *,
	    const char *, const struct buf *, const char *,
	    struct curl_slist **, long);
/* endpoint + path, into buf: "http://h:2379" + "/v3/kv/range". */
int	 etcdhttp_url(char *, size_t, const char *, const char *);

/* A blocking client, for ferryctl. */
struct etcdhttp;

struct etcdhttp	*etcdhttp_open(const struct fleet_conf *);
void		 etcdhttp_close(struct etcdhttp *);
/*
 * POST body to path on the first endpoint that answers (authenticating
 * first when fleet.username is set); the answer's body into out (an
 * initialised buf, whose ceiling bounds the answer). 0 on a
 * 2xx, -1 with the reason in err (an endpoint that answered with an error
 * ends the tries: each would say the same).
 */
int		 etcdhttp_call(struct etcdhttp *, const char *,
		    const struct buf *, struct buf *, char *, size_t);

#endif
