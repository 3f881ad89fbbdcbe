/*
 * resolver: asynchronous lookups against a given list of DNS servers, with
 * c-ares, for the fallback of dnsfallback.h. The caller polls the
 * resolver's sockets in its own loop, so a lookup never blocks anything
 * else. c-ares is used nowhere else.
 */
#ifndef FERRY_RESOLVER_H
#define FERRY_RESOLVER_H

#include <poll.h>
#include <stddef.h>

#include "dnsfallback.h"

#define RESOLVER_FDS_MAX	16	/* sockets one resolver may need polled */

/* The answer to one lookup. */
struct resolver_answer {
	int	 ok;		/* 1: naddrs addresses; 0: error says why */
	char	 error[128];
	char	 addrs[DNSFB_ADDRS_MAX][DNSFB_ADDR_LEN];
	int	 naddrs;
	long	 ttl;		/* seconds: the smallest of the records' */
};
typedef void resolver_cb(void *, const struct resolver_answer *);

struct resolver;

/* Once per process, before any resolver_new(); 0 or -1 (logged). */
int	resolver_init(void);
void	resolver_cleanup(void);
/*
 * A resolver that asks these servers (each valid for
 * dnsfallback_server_parse()) and nothing else: no hosts file, no search
 * list. Each server gets 1 s per try, then 2 s in the second and last try.
 * NULL on failure, logged.
 */
struct resolver *resolver_new(char *const *, size_t);
/*
 * Start looking up host's IPv4 and IPv6 addresses. cb(arg, answer) is called
 * exactly once, from a later resolver_process(), never from here and never
 * after resolver_free(); cb must not free the resolver. 0, or -1 when a
 * lookup is under way already.
 */
int	resolver_lookup(struct resolver *, const char *, resolver_cb *, void *);
int	resolver_busy(const struct resolver *);
/* The sockets to poll (at most max): fd and events set, revents zeroed. */
int	resolver_fds(struct resolver *, struct pollfd *, int);
/* timeout_ms (-1: none), lowered to when the resolver next needs to act. */
int	resolver_timeout(struct resolver *, int);
/*
 * After the poll: the sockets resolver_fds() gave, with revents, and the
 * resolver's timeouts. Answers are delivered from here.
 */
void	resolver_process(struct resolver *, const struct pollfd *, int);
/* Ends a lookup under way without calling its callback. */
void	resolver_free(struct resolver *);

#endif
