/*
 * heartbeat: the output that delivers ferry-periodic's heartbeats. Periodic
 * writes each heartbeat as a record into the spool stream "heartbeat"
 * (record.h); this output reads that stream alone and PUTs each record's
 * JSON object to periodic.heartbeat_url, with the retry, keepalive and
 * timeouts of any http output (forwarder { } keys). So a heartbeat that
 * arrives proves the whole path works: the spool, the forwarder and the
 * network to the endpoint.
 *
 * A heartbeat says how things are now, so only the newest counts: the
 * batch keeps only the newest record it read (newest_only), and a retry
 * first takes any newer one. A backlog (the forwarder was stopped, the
 * endpoint down) is therefore collapsed to its newest heartbeat, sent
 * once, not replayed. One refused for good (a 4xx) is dropped, not
 * dead-lettered: the next one is tried in its turn.
 *
 * Its name, CONF_HEARTBEAT_OUTPUT, is not a name an output section can
 * take in the cursor table (ferryctl status and the heartbeat's "outputs"
 * list only configured outputs); its counters are self-metrics like any
 * output's (output.@heartbeat.sent, ...).
 */
#include <string.h>

#include "conf.h"
#include "forwarder.h"
#include "log.h"

int
heartbeat_output_init(struct output *o, const struct ferry_conf *conf)
{
	static struct output_conf	 oc;
	char				 err[256];
	int				 kind;

	if (conf->periodic.heartbeat_url[0] == '\0')
		return 1;
	oc.name = (char *)CONF_HEARTBEAT_OUTPUT;
	oc.uri = conf->periodic.heartbeat_url;
	oc.api_key = (char *)"";	/* the top-level api_key */
	oc.conn = conf->forwarder.conn;
	memset(o, 0, sizeof(*o));
	o->stream = RECORD_BEAT_STREAM;
	o->newest_only = 1;
	o->method = "PUT";
	o->content_type = "application/json";
	if (output_open(o, &oc, conf) == -1)
		return -1;
	/* Heartbeats only, as they are: the body of the PUT. */
	for (kind = 0; kind < RECORD_KINDS; kind++) {
		format_free(o->fmt[kind]);
		o->fmt[kind] = NULL;
	}
	if ((o->fmt[RECORD_BEAT] = format_new("heartbeat", err,
	    sizeof(err))) == NULL) {
		log_warnx("heartbeat: %s", err);
		return -1;
	}
	return 0;
}
