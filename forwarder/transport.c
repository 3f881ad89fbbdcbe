/*
 * transport: the table of transports and the forwarder's one wait over all
 * of them (transport.h). Which scheme rides which transport is
 * common/url.c's scheme table; this file only knows the transports.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "forwarder.h"
#include "log.h"
#include "transport.h"

extern const struct transport	transport_http, transport_stream,
				transport_udp, transport_redis,
				transport_file;

static const struct transport *const transports[] = {
	&transport_http, &transport_stream, &transport_udp, &transport_redis,
	&transport_file
};
#define NTRANSPORTS	(sizeof(transports) / sizeof(transports[0]))

static int		 started[NTRANSPORTS];	/* init() done */
static struct pollfd	*pfd;
static size_t		 pfdcap;

const struct transport *
transport_find(const char *name)
{
	size_t	i;

	for (i = 0; i < NTRANSPORTS; i++) {
		if (strcmp(transports[i]->name, name) != 0)
			continue;
		if (!started[i] && transports[i]->init != NULL &&
		    transports[i]->init() == -1)
			return NULL;
		started[i] = 1;
		return transports[i];
	}
	return NULL;
}

void
transport_cleanup(void)
{
	size_t	i;

	for (i = 0; i < NTRANSPORTS; i++)
		if (started[i] && transports[i]->cleanup != NULL)
			transports[i]->cleanup();
	memset(started, 0, sizeof(started));
	free(pfd);
	pfd = NULL;
	pfdcap = 0;
}

/* Room for TR_FDS_MAX more after n. */
static void
room(size_t n)
{
	struct pollfd	*p;
	size_t		 cap = pfdcap ? pfdcap : 64;

	while (cap < n + TR_FDS_MAX)
		cap *= 2;
	if (cap == pfdcap)
		return;
	if ((p = reallocarray(pfd, cap, sizeof(*p))) == NULL)
		fatal("reallocarray");
	pfd = p;
	pfdcap = cap;
}

/* What a transport says it added, kept within what it was allowed. */
static size_t
clamp(int n)
{
	return n < 0 ? 0 : n > TR_FDS_MAX ? TR_FDS_MAX : (size_t)n;
}

/* Where each output's descriptors start in pfd, and how many: 2 per output. */
static size_t *
output_slots(size_t nouts)
{
	static size_t	*slots;
	static size_t	 cap;
	size_t		*p;

	if (nouts * 2 > cap) {
		if ((p = reallocarray(slots, nouts * 2, sizeof(*p))) == NULL)
			fatal("reallocarray");
		slots = p;
		cap = nouts * 2;
	}
	if (slots != NULL)	/* none yet, with no output: memset(NULL) */
		memset(slots, 0, cap * sizeof(*slots));
	return slots;
}

void
transport_wait(struct pollfd *mine, int nmine, struct output *outs,
    size_t nouts, int timeout_ms)
{
	size_t		 i, n, first[NTRANSPORTS], count[NTRANSPORTS];
	size_t		*ofirst, *ocount;
	uint64_t	 now = clock_mono_ms(), due = UINT64_MAX;
	int		 k;

	ofirst = output_slots(nouts + 1);
	ocount = ofirst + nouts + 1;
	room((size_t)nmine);
	memcpy(pfd, mine, nmine * sizeof(*pfd));
	n = (size_t)nmine;
	for (i = 0; i < NTRANSPORTS; i++) {
		first[i] = n;
		count[i] = 0;
		if (!started[i] || transports[i]->shared_fds == NULL)
			continue;
		room(n);
		count[i] = clamp(transports[i]->shared_fds(pfd + n,
		    TR_FDS_MAX, &due));
		n += count[i];
	}
	for (i = 0; i < nouts; i++) {
		ofirst[i] = n;
		if (outs[i].tr == NULL || outs[i].tr->fds == NULL)
			continue;
		room(n);
		ocount[i] = clamp(outs[i].tr->fds(&outs[i], pfd + n,
		    TR_FDS_MAX, &due));
		n += ocount[i];
	}
	for (i = 0; i < n; i++)
		pfd[i].revents = 0;
	if (due != UINT64_MAX && (timeout_ms < 0 ||
	    due < now + (uint64_t)timeout_ms))
		timeout_ms = due > now ? (int)(due - now) : 0;
	if (poll(pfd, n, timeout_ms) == -1 && errno != EINTR)
		log_warn("poll");
	for (k = 0; k < nmine; k++)
		mine[k].revents = pfd[k].revents;
	now = clock_mono_ms();
	for (i = 0; i < NTRANSPORTS; i++)
		if (started[i] && transports[i]->shared_progress != NULL)
			transports[i]->shared_progress(pfd + first[i],
			    (int)count[i], now);
	for (i = 0; i < nouts; i++)
		if (outs[i].tr != NULL && outs[i].tr->progress != NULL)
			outs[i].tr->progress(&outs[i], pfd + ofirst[i],
			    (int)ocount[i], now);
}

void
tr_sent(struct output *o, uint64_t now)
{
	struct tr_result	r = { TR_SENT, 0, "", "" };

	output_done(o, &r, now);
}

void
tr_retry(struct output *o, uint64_t now, uint64_t after_ms, const char *fmt,
    ...)
{
	struct tr_result	r = { TR_RETRY, after_ms, "", "" };
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	output_done(o, &r, now);
}

void
tr_refused(struct output *o, uint64_t now, const char *code, const char *fmt,
    ...)
{
	struct tr_result	r = { TR_REFUSED, 0, "", "" };
	va_list			ap;

	strlcpy(r.code, code, sizeof(r.code));
	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	output_done(o, &r, now);
}
