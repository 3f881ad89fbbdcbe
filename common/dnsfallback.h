/*
 * dnsfallback: the policy of the fallback resolver an http output turns to
 * when the system's cannot resolve the output's host (the lookups themselves
 * are common/resolver.c's). Pure functions over a small state and a time the
 * caller passes in, so tests control time.
 *
 * An answer from the fallback is used for its TTL, at least DNSFB_MIN_TTL
 * seconds; then it is dropped and the system resolver is asked first again.
 * The caller logs when the fallback starts being used and when the system
 * resolver works again, once each, not on every lookup.
 */
#ifndef FERRY_DNSFALLBACK_H
#define FERRY_DNSFALLBACK_H

#include <stddef.h>
#include <stdint.h>

#define DNSFB_MIN_TTL		30	/* seconds an answer is used at least */
#define DNSFB_MAX_TTL		86400	/* and at most */
#define DNSFB_ADDRS_MAX		8	/* addresses kept from one answer */
#define DNSFB_ADDR_LEN		48	/* an address as text, IPv6 with [] */
#define DNSFB_SERVER_LEN	56	/* a server in c-ares form */

/*
 * A DNS server as written in the configuration: "IPv4", "IPv4:PORT", "IPv6"
 * or "[IPv6]:PORT" (port 53 when left out). 0 when valid, and its c-ares
 * form ("192.0.2.1:53", "[2001:db8::1]:53") into buf when buf is not NULL;
 * -1 when not valid or buf is too small.
 */
int	dnsfallback_server_parse(const char *, char *, size_t);

/* Where one output's host stands. Zeroed: with the system resolver. */
struct dnsfb_state {
	int		 active;	/* using the fallback, and logged so */
	int		 pinned;	/* a fallback answer is in force */
	uint64_t	 expires_ms;	/* monotonic: when that answer ends */
};

/* When an answer with this TTL (seconds), got at now_ms, stops being used. */
uint64_t dnsfallback_expiry(uint64_t, long);
/*
 * A fallback answer with a TTL, got at now: it is in force until it
 * expires. 1 when this starts the use of the fallback (log it), 0 when the
 * fallback was in use already.
 */
int	dnsfallback_pin(struct dnsfb_state *, uint64_t, long);
/*
 * Before a request at now: 1 when the answer in force has expired and must
 * be dropped, so the system resolver is asked first again; 0 otherwise.
 */
int	dnsfallback_expired(struct dnsfb_state *, uint64_t);
/*
 * A request succeeded over a connection it opened itself (so it resolved
 * the name) with no fallback answer in force: 1 when this ends the use of
 * the fallback (log it: the system resolver works again), 0 otherwise.
 */
int	dnsfallback_system_ok(struct dnsfb_state *);
/*
 * libcurl's CURLOPT_RESOLVE entry "host:port:addr,addr" (addresses as
 * resolver.c gives them, IPv6 in brackets) into buf; 0, or -1 when there
 * is no address or it does not fit.
 */
int	dnsfallback_resolve_entry(char *, size_t, const char *, int,
	    const char [][DNSFB_ADDR_LEN], int);

#endif
