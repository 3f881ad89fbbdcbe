/*
 * resolver: c-ares against the operator's DNS servers, run from the
 * caller's poll loop. See resolver.h for the contract.
 *
 * A resolver is one c-ares channel with at most one lookup under way. After
 * every poll each of its sockets is handed to c-ares for reading whether or
 * not the poll reported it readable, because the poll may be libcurl's,
 * which reports only POLLIN, POLLPRI and POLLOUT back: a DNS server whose
 * port is closed leaves an error (POLLERR) on the connected UDP socket that
 * only a read clears, and without that read every poll would return at once
 * until the lookup timed out. A read with nothing to read costs one EAGAIN,
 * and only while a lookup is under way.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ares.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "resolver.h"

#define TRY_TIMEOUT_MS	1000	/* per server; c-ares doubles it each round */
#define TRIES		2

struct resolver {
	ares_channel		 channel;
	int			 busy;		/* a lookup is under way */
	int			 in_lookup;	/* inside ares_getaddrinfo() */
	int			 freeing;	/* answers go nowhere */
	int			 has_early;	/* answered inside that call */
	struct resolver_answer	 early;
	resolver_cb		*cb;
	void			*arg;
};

int
resolver_init(void)
{
	int	rc;

	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		log_warnx("c-ares: %s", ares_strerror(rc));
		return -1;
	}
	return 0;
}

void
resolver_cleanup(void)
{
	ares_library_cleanup();
}

struct resolver *
resolver_new(char *const *servers, size_t n)
{
	struct resolver		*r;
	struct ares_options	 opts;
	char			*csv, one[DNSFB_SERVER_LEN];
	size_t			 i, cap = n * (sizeof(one) + 1) + 1;
	int			 rc;

	if (n == 0)
		return NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL || (csv = calloc(1, cap)) == NULL) {
		log_warn("calloc");
		free(r);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		if (dnsfallback_server_parse(servers[i], one, sizeof(one)) == -1) {
			log_warnx("DNS server \"%s\" is not an address", servers[i]);
			goto fail;
		}
		if (i > 0)
			strlcat(csv, ",", cap);
		strlcat(csv, one, cap);
	}
	memset(&opts, 0, sizeof(opts));
	/* The names are the outputs' own, as written: no search list. */
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.timeout = TRY_TIMEOUT_MS;
	opts.tries = TRIES;
	/* DNS only: the system resolver has read the hosts file already. */
	opts.lookups = (char *)"b";
	if ((rc = ares_init_options(&r->channel, &opts, ARES_OPT_FLAGS |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS)) !=
	    ARES_SUCCESS) {
		log_warnx("c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	if ((rc = ares_set_servers_ports_csv(r->channel, csv)) != ARES_SUCCESS) {
		log_warnx("c-ares: DNS servers %s: %s", csv, ares_strerror(rc));
		ares_destroy(r->channel);
		goto fail;
	}
	free(csv);
	return r;
fail:
	free(csv);
	free(r);
	return NULL;
}

static void
answered(void *arg, int status, int timeouts, struct ares_addrinfo *ai)
{
	struct resolver			*r = arg;
	struct resolver_answer		 a;
	const struct ares_addrinfo_node	*n;
	char				 text[INET6_ADDRSTRLEN];
	const void			*src;

	(void)timeouts;
	if (r->freeing) {
		r->busy = 0;
		if (ai != NULL)
			ares_freeaddrinfo(ai);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.ttl = DNSFB_MAX_TTL;
	if (status != ARES_SUCCESS)
		snprintf(a.error, sizeof(a.error), "%s", ares_strerror(status));
	for (n = ai != NULL ? ai->nodes : NULL; n != NULL &&
	    a.naddrs < DNSFB_ADDRS_MAX; n = n->ai_next) {
		if (n->ai_family == AF_INET)
			src = &((const struct sockaddr_in *)(const void *)
			    n->ai_addr)->sin_addr;
		else if (n->ai_family == AF_INET6)
			src = &((const struct sockaddr_in6 *)(const void *)
			    n->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(n->ai_family, src, text, sizeof(text)) == NULL)
			continue;
		snprintf(a.addrs[a.naddrs++], DNSFB_ADDR_LEN,
		    n->ai_family == AF_INET6 ? "[%s]" : "%s", text);
		if (n->ai_ttl < a.ttl)
			a.ttl = n->ai_ttl;
	}
	if (ai != NULL)
		ares_freeaddrinfo(ai);
	a.ok = a.naddrs > 0;
	if (status == ARES_SUCCESS && !a.ok)
		snprintf(a.error, sizeof(a.error), "no IPv4 or IPv6 address");
	if (r->in_lookup) {
		/* Answered without asking anyone: deliver from the loop. */
		r->early = a;
		r->has_early = 1;
		return;
	}
	r->busy = 0;
	r->cb(r->arg, &a);
}

int
resolver_lookup(struct resolver *r, const char *host, resolver_cb *cb,
    void *arg)
{
	struct ares_addrinfo_hints	hints;

	if (r->busy)
		return -1;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	r->cb = cb;
	r->arg = arg;
	r->busy = 1;
	r->in_lookup = 1;
	ares_getaddrinfo(r->channel, host, NULL, &hints, answered, r);
	r->in_lookup = 0;
	return 0;
}

int
resolver_busy(const struct resolver *r)
{
	return r->busy;
}

int
resolver_fds(struct resolver *r, struct pollfd *pfd, int max)
{
	ares_socket_t	socks[ARES_GETSOCK_MAXNUM];
	int		bits, i, n = 0;

	if (!r->busy || r->has_early)
		return 0;
	bits = ares_getsock(r->channel, socks, ARES_GETSOCK_MAXNUM);
	for (i = 0; i < ARES_GETSOCK_MAXNUM && n < max; i++) {
		if (!ARES_GETSOCK_READABLE(bits, i) &&
		    !ARES_GETSOCK_WRITABLE(bits, i))
			break;
		pfd[n].fd = socks[i];
		pfd[n].events = (ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
		    (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0);
		pfd[n].revents = 0;
		n++;
	}
	return n;
}

int
resolver_timeout(struct resolver *r, int timeout_ms)
{
	struct timeval	 max, tv, *t;
	long long	 ms;

	if (!r->busy)
		return timeout_ms;
	if (r->has_early)
		return 0;
	if (timeout_ms >= 0) {
		max.tv_sec = timeout_ms / 1000;
		max.tv_usec = (timeout_ms % 1000) * 1000;
	}
	if ((t = ares_timeout(r->channel, timeout_ms >= 0 ? &max : NULL,
	    &tv)) == NULL)
		return timeout_ms;
	/* Rounded up, or the poll would wake just before it, for nothing. */
	ms = (long long)t->tv_sec * 1000 + (t->tv_usec + 999) / 1000;
	return timeout_ms >= 0 && ms > timeout_ms ? timeout_ms : (int)ms;
}

void
resolver_process(struct resolver *r, const struct pollfd *pfd, int n)
{
	struct resolver_answer	a;
	int			i;

	if (r->has_early) {
		a = r->early;
		r->has_early = 0;
		r->busy = 0;
		r->cb(r->arg, &a);
		return;
	}
	for (i = 0; i < n && r->busy; i++)
		ares_process_fd(r->channel,
		    pfd[i].events & POLLIN ? pfd[i].fd : ARES_SOCKET_BAD,
		    pfd[i].revents & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
	/* Timeouts: an unanswered try moves on to the next server. */
	if (r->busy)
		ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	r->freeing = 1;
	ares_destroy(r->channel);
	free(r);
}
