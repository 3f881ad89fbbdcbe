/*
 * dnsfallback: when a fallback resolver's answer is used and for how long,
 * and the syntax of its servers. No I/O here: see dnsfallback.h.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dnsfallback.h"

int
dnsfallback_server_parse(const char *s, char *buf, size_t size)
{
	char		 addr[INET6_ADDRSTRLEN], bin[sizeof(struct in6_addr)];
	const char	*port = NULL, *end, *errstr = NULL;
	long long	 p = 53;
	size_t		 len;
	int		 af, n;

	if (s == NULL || *s == '\0')
		return -1;
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		af = AF_INET6;
		len = (size_t)(end - s - 1);
		s++;
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return -1;
	} else if ((end = strchr(s, ':')) != NULL && strchr(end + 1, ':') != NULL) {
		af = AF_INET6;		/* a bare IPv6 address: no port */
		len = strlen(s);
	} else {
		af = AF_INET;
		len = end != NULL ? (size_t)(end - s) : strlen(s);
		if (end != NULL)
			port = end + 1;
	}
	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, s, len);
	addr[len] = '\0';
	if (inet_pton(af, addr, bin) != 1)
		return -1;
	if (port != NULL) {
		/* strtonum would take a sign and spaces; a port is digits. */
		if (*port == '\0' || strspn(port, "0123456789") != strlen(port))
			return -1;
		p = strtonum(port, 1, 65535, &errstr);
		if (errstr != NULL)
			return -1;
	}
	if (buf == NULL)
		return 0;
	n = snprintf(buf, size, af == AF_INET6 ? "[%s]:%lld" : "%s:%lld",
	    addr, p);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

uint64_t
dnsfallback_expiry(uint64_t now_ms, long ttl)
{
	if (ttl < DNSFB_MIN_TTL)
		ttl = DNSFB_MIN_TTL;
	if (ttl > DNSFB_MAX_TTL)
		ttl = DNSFB_MAX_TTL;
	return now_ms + (uint64_t)ttl * 1000;
}

int
dnsfallback_pin(struct dnsfb_state *st, uint64_t now_ms, long ttl)
{
	int	started = !st->active;

	st->active = 1;
	st->pinned = 1;
	st->expires_ms = dnsfallback_expiry(now_ms, ttl);
	return started;
}

int
dnsfallback_expired(struct dnsfb_state *st, uint64_t now_ms)
{
	if (!st->pinned || now_ms < st->expires_ms)
		return 0;
	st->pinned = 0;
	return 1;
}

int
dnsfallback_system_ok(struct dnsfb_state *st)
{
	if (st->pinned || !st->active)
		return 0;
	st->active = 0;
	return 1;
}

int
dnsfallback_resolve_entry(char *buf, size_t size, const char *host, int port,
    const char addrs[][DNSFB_ADDR_LEN], int naddrs)
{
	size_t	len;
	int	i, n;

	if (naddrs <= 0 || size == 0)
		return -1;
	n = snprintf(buf, size, "%s:%d:", host, port);
	if (n < 0 || (size_t)n >= size)
		return -1;
	len = (size_t)n;
	for (i = 0; i < naddrs; i++) {
		n = snprintf(buf + len, size - len, "%s%s", i > 0 ? "," : "",
		    addrs[i]);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
		len += (size_t)n;
	}
	return 0;
}
