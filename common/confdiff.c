/*
 * confdiff: compares two configurations program by program (see
 * confdiff.h). It promises to err on the side of a restart: a value that
 * may matter to a program counts, and a list whose order changed counts as
 * changed, since a restart costs a moment while a missed change leaves a
 * program running with settings the operator no longer has.
 *
 * What each program reads is the readers column of common/confkeys.c. In
 * short:
 *
 *   receiver	 receiver, spool, api_key (stripped from names), hostname, prefix
 *   forwarder	 outputs (with their connection keys), log files,
 *		 forwarder, spool, api_key (the outputs' default), hostname,
 *		 prefix, receiver.max_line (sizes a batch)
 *   collectors	 collectors, every collector "NAME", spool, hostname, prefix
 *   periodic	 periodic, api_key (heartbeat auth), spool, hostname, prefix
 *   sink	 sink
 *   fleet	 fleet, spool, hostname (its etcd keys), prefix
 *
 * hostname, prefix and spool reach every program that writes its own
 * self-metrics (all but the sink). ferry-periodic also reads the outputs,
 * for the heartbeat and housekeeping, but it follows their changes from its
 * own config watch instead of restarting, so an output edit restarts only
 * the forwarder. ferry-fleet reads the outputs too, to validate what it
 * writes and to report their states, and likewise is not restarted by
 * them: the fragments it writes would otherwise restart it each time. user is the supervisor's, read at its own start only.
 *
 * A section that may appear many times touches a program that reads any
 * key of it when one is added, removed, renamed or reordered.
 */
#include <stddef.h>
#include <string.h>

#include "conf.h"
#include "confdiff.h"
#include "confkeys.h"

/* 1 when a key of sec (at bases a and b) that one of bits reads differs. */
static int
section_differ(const struct conf_section *sec, const void *a, const void *b,
    unsigned bits)
{
	const struct conf_key		*keys;
	const struct conf_section	*secs, *sub;
	const char			*x, *y;
	size_t				 nkeys, nsecs, i, j, n;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	for (i = 0; i < nkeys; i++)
		if (keys[i].readers & bits &&
		    strcmp(keys[i].section, sec->path) == 0 &&
		    conf_key_differ(&keys[i], a, b))
			return 1;
	for (i = 0; i < nsecs; i++) {
		sub = &secs[i];
		if (conf_section_parent(sub) != sec ||
		    !(conf_section_readers(sub) & bits))
			continue;
		if (!(sub->flags & CONF_MULTI)) {
			if (section_differ(sub, a, b, bits))
				return 1;
			continue;
		}
		if ((n = *CONF_AT(a, sub->noff, const size_t *)) !=
		    *CONF_AT(b, sub->noff, const size_t *))
			return 1;
		x = *CONF_AT(a, sub->off, const char *const *);
		y = *CONF_AT(b, sub->off, const char *const *);
		for (j = 0; j < n; j++, x += sub->size, y += sub->size) {
			if (sub->flags & CONF_TITLED &&
			    strcmp(*CONF_AT(x, sub->titleoff, char *const *),
			    *CONF_AT(y, sub->titleoff, char *const *)) != 0)
				return 1;
			if (section_differ(sub, x, y, bits))
				return 1;
		}
	}
	return 0;
}

static int
differ(const struct ferry_conf *a, const struct ferry_conf *b, unsigned bit)
{
	return section_differ(conf_section_find(""), a, b, bit);
}

int
confdiff_receiver(const struct ferry_conf *a, const struct ferry_conf *b)
{
	return differ(a, b, CONFDIFF_RECEIVER);
}

int
confdiff_forwarder(const struct ferry_conf *a, const struct ferry_conf *b)
{
	return differ(a, b, CONFDIFF_FORWARDER);
}

int
confdiff_sink(const struct ferry_conf *a, const struct ferry_conf *b)
{
	return differ(a, b, CONFDIFF_SINK);
}

int
confdiff_collectors(const struct ferry_conf *a, const struct ferry_conf *b)
{
	return differ(a, b, CONFDIFF_COLLECTORS);
}

int
confdiff_periodic(const struct ferry_conf *a, const struct ferry_conf *b)
{
	return differ(a, b, CONFDIFF_PERIODIC);
}

static const struct {
	const char	*name;
	unsigned	 bit;
} programs[] = {
	{ "receiver",	CONFDIFF_RECEIVER },
	{ "forwarder",	CONFDIFF_FORWARDER },
	{ "sink",	CONFDIFF_SINK },
	{ "collectors",	CONFDIFF_COLLECTORS },
	{ "periodic",	CONFDIFF_PERIODIC },
	{ "tail",	CONFDIFF_TAIL },
	{ "fleet",	CONFDIFF_FLEET },
};

unsigned
confdiff(const struct ferry_conf *a, const struct ferry_conf *b)
{
	unsigned	bits = 0;
	size_t		i;

	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		if (differ(a, b, programs[i].bit))
			bits |= programs[i].bit;
	return bits;
}

unsigned
confdiff_bit(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		if (strcmp(programs[i].name, name) == 0)
			return programs[i].bit;
	return 0;
}

const char *
confdiff_name(unsigned bit)
{
	size_t	i;

	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		if (programs[i].bit == bit)
			return programs[i].name;
	return NULL;
}
