/*
 * confdiff: compares two configurations program by program (see
 * confdiff.h). It promises to err on the side of a restart: a value that
 * may matter to a program counts, and a list whose order changed counts as
 * changed, since a restart costs a moment while a missed change leaves a
 * program running with settings the operator no longer has.
 *
 * What each program reads, and so what restarts it:
 *
 *   receiver	 receiver, spool, api_key (stripped from names), hostname, prefix
 *   forwarder	 outputs (with their connection keys), log files,
 *		 forwarder, spool, api_key (the outputs' default), hostname,
 *		 prefix, receiver.max_line (sizes a batch)
 *   collectors	 collectors, every collector "NAME", spool, hostname, prefix
 *   periodic	 periodic, api_key (heartbeat auth), spool, hostname, prefix
 *   sink	 sink
 *
 * hostname, prefix and spool reach every program that writes its own
 * self-metrics (all but the sink). ferry-periodic also reads the outputs,
 * for the heartbeat and housekeeping, but it follows their changes from its
 * own config watch instead of restarting, so an output edit restarts only
 * the forwarder.
 */
#include <stddef.h>
#include <string.h>

#include "conf.h"
#include "confdiff.h"

static int
str_ne(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

static int
strv_ne(char *const *a, size_t na, char *const *b, size_t nb)
{
	size_t	i;

	if (na != nb)
		return 1;
	for (i = 0; i < na; i++)
		if (str_ne(a[i], b[i]))
			return 1;
	return 0;
}

/* What every writer of self-metrics reads: the metric names, the spool. */
static int
writer_ne(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct spool_conf	*x = &a->spool, *y = &b->spool;

	return str_ne(a->hostname, b->hostname) ||
	    str_ne(a->prefix, b->prefix) ||
	    x->segment_size != y->segment_size ||
	    x->max_size != y->max_size ||
	    x->fsync != y->fsync ||
	    str_ne(x->memory_dir, y->memory_dir) ||
	    x->memory_max_size != y->memory_max_size;
}

static int
outputs_ne(const struct ferry_conf *a, const struct ferry_conf *b)
{
	size_t	i;

	if (a->noutputs != b->noutputs)
		return 1;
	for (i = 0; i < a->noutputs; i++)
		if (str_ne(a->outputs[i].name, b->outputs[i].name) ||
		    str_ne(a->outputs[i].uri, b->outputs[i].uri) ||
		    str_ne(a->outputs[i].api_key, b->outputs[i].api_key) ||
		    conf_conn_differ(&a->outputs[i].conn, &b->outputs[i].conn))
			return 1;
	return 0;
}

static int
log_ne(const struct log_conf *x, const struct log_conf *y)
{
	size_t	i;

	if (str_ne(x->name, y->name) || str_ne(x->path, y->path) ||
	    str_ne(x->key, y->key) || x->max_line != y->max_line ||
	    strv_ne(x->attributes, x->nattributes, y->attributes,
	    y->nattributes) || x->nredact != y->nredact ||
	    x->nsample != y->nsample)
		return 1;
	for (i = 0; i < x->nredact; i++)
		if (str_ne(x->redact[i].match, y->redact[i].match) ||
		    str_ne(x->redact[i].replace, y->redact[i].replace))
			return 1;
	for (i = 0; i < x->nsample; i++)
		if (str_ne(x->sample[i].match, y->sample[i].match) ||
		    x->sample[i].rate != y->sample[i].rate)
			return 1;
	return 0;
}

static int
logs_ne(const struct ferry_conf *a, const struct ferry_conf *b)
{
	size_t	i;

	if (a->nlogs != b->nlogs)
		return 1;
	for (i = 0; i < a->nlogs; i++)
		if (log_ne(&a->logs[i], &b->logs[i]))
			return 1;
	return 0;
}

static int
collector_ne(const struct collector_conf *x, const struct collector_conf *y)
{
	return str_ne(x->name, y->name) || x->enabled != y->enabled ||
	    x->interval != y->interval || x->timeout != y->timeout ||
	    strv_ne(x->args, x->nargs, y->args, y->nargs) ||
	    x->mode != y->mode || x->max_lines != y->max_lines ||
	    x->max_bytes_per_second != y->max_bytes_per_second;
}

int
confdiff_receiver(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct receiver_conf	*x = &a->receiver, *y = &b->receiver;

	return str_ne(x->bind, y->bind) || x->tcp_port != y->tcp_port ||
	    x->udp_port != y->udp_port ||
	    x->flush_interval != y->flush_interval ||
	    x->max_line != y->max_line ||
	    x->idle_timeout != y->idle_timeout ||
	    x->max_connections != y->max_connections ||
	    str_ne(a->api_key, b->api_key) || writer_ne(a, b);
}

int
confdiff_forwarder(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct forwarder_conf	*x = &a->forwarder, *y = &b->forwarder;

	return x->batch_size != y->batch_size ||
	    x->batch_timeout != y->batch_timeout ||
	    x->retry_max != y->retry_max ||
	    conf_conn_differ(&x->conn, &y->conn) ||
	    a->receiver.max_line != b->receiver.max_line ||
	    outputs_ne(a, b) || logs_ne(a, b) ||
	    str_ne(a->api_key, b->api_key) || writer_ne(a, b);
}

int
confdiff_sink(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct sink_conf	*x = &a->sink, *y = &b->sink;

	return x->enabled != y->enabled || str_ne(x->bind, y->bind) ||
	    x->port != y->port || str_ne(x->api_key, y->api_key);
}

int
confdiff_collectors(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct collectors_conf	*x = &a->collectors, *y = &b->collectors;
	size_t				 i;

	if (x->interval != y->interval || x->timeout != y->timeout ||
	    str_ne(x->drop_dir, y->drop_dir) || x->archive != y->archive ||
	    x->builtin_mode != y->builtin_mode ||
	    x->max_lines != y->max_lines ||
	    x->max_bytes_per_second != y->max_bytes_per_second ||
	    x->scan_interval != y->scan_interval ||
	    str_ne(x->builtin_dir, y->builtin_dir) ||
	    str_ne(x->custom_dir, y->custom_dir) ||
	    a->ncollector != b->ncollector || writer_ne(a, b))
		return 1;
	for (i = 0; i < a->ncollector; i++)
		if (collector_ne(&a->collector[i], &b->collector[i]))
			return 1;
	return 0;
}

int
confdiff_periodic(const struct ferry_conf *a, const struct ferry_conf *b)
{
	const struct periodic_conf	*x = &a->periodic, *y = &b->periodic;

	return str_ne(x->heartbeat_url, y->heartbeat_url) ||
	    x->heartbeat_interval != y->heartbeat_interval ||
	    x->config_interval != y->config_interval ||
	    str_ne(a->api_key, b->api_key) || writer_ne(a, b);
}

static const struct {
	const char	*name;
	unsigned	 bit;
	int		(*changed)(const struct ferry_conf *,
			    const struct ferry_conf *);
} programs[] = {
	{ "receiver",	CONFDIFF_RECEIVER,	confdiff_receiver },
	{ "forwarder",	CONFDIFF_FORWARDER,	confdiff_forwarder },
	{ "sink",	CONFDIFF_SINK,		confdiff_sink },
	{ "collectors",	CONFDIFF_COLLECTORS,	confdiff_collectors },
	{ "periodic",	CONFDIFF_PERIODIC,	confdiff_periodic },
};

unsigned
confdiff(const struct ferry_conf *a, const struct ferry_conf *b)
{
	unsigned	bits = 0;
	size_t		i;

	for (i = 0; i < sizeof(programs) / sizeof(programs[0]); i++)
		if (programs[i].changed(a, b))
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
