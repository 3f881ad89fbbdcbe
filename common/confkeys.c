/*
 * confkeys: the table of every configuration key (see confkeys.h), and
 * what a key's row alone can answer: whether a text is a valid value of
 * it, its FERRY_* variable, whether two configurations differ in it.
 *
 * To add a key: add its field to struct ferry_conf (conf.h) and one row
 * below, in the order it should appear in ferry.conf(5) and in ferryctl
 * check-config --effective, then run `make man`. The row says everything
 * else: its default, its range, which programs a change of it restarts on
 * reload, whether it is a secret. A section is one row of sections[] (a
 * single one is a struct member of the struct it is in, a repeated one an
 * array and its count). tests/unit/test_confkeys.c fails on a field
 * without a row, a row that fills the wrong field, a default out of its
 * range and a stale man page.
 *
 * Messages stay those of the parser's old callbacks, word for word:
 * tests and operators' scripts match them.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "confkeys.h"
#include "dnsfallback.h"
#include "log.h"
#include "metric.h"
#include "path.h"
#include "url.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The checks some string keys have beyond their type. Each gets the key
 * and one value (one element of a list), and words its own refusal.
 */

/* A prefix is the first part of metric names: no blanks, no empty part. */
static int
check_prefix(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	struct metric	m;
	char		line[600];

	(void)snprintf(line, sizeof(line), "%s.x 1", value);
	if (value[0] == '\0' || strlen(value) > 255 ||
	    metric_parse(line, strlen(line), &m) != METRIC_OK) {
		(void)snprintf(err, size, "%s = \"%s\" is not a metric name part",
		    k->name, value);
		return -1;
	}
	return 0;
}

/*
 * A host name as DNS has them, at most 253 bytes: with the longest prefix
 * it still fits the "<prefix>.<host>." ferry-collectors puts before every
 * collector metric, which would otherwise refuse to start (exit 78).
 */
static int
check_hostname(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	if (strlen(value) > 253) {
		(void)snprintf(err, size, "%s is %zu bytes long; a host name "
		    "has at most 253", k->name, strlen(value));
		return -1;
	}
	return 0;
}

/*
 * The heartbeat's URL: an http or https URI the forwarder's heartbeat
 * output can send to, refused now rather than by the forwarder at start.
 */
static int
check_heartbeat_url(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	struct url	u;
	char		why[256];

	if (value[0] == '\0')
		return 0;
	if (url_parse(value, &u, why, sizeof(why)) == -1) {
		(void)snprintf(err, size, "%s: %s", k->name, why);
		return -1;
	}
	if (strcmp(u.scheme->transport, "http") != 0 ||
	    strcmp(u.scheme->name, "clickhouse") == 0) {
		(void)snprintf(err, size, "%s: an http:// or https:// URI, not "
		    "%s://", k->name, u.scheme->name);
		return -1;
	}
	return 0;
}

/* A regular expression ferry-tail will compile: it must compile now. */
static int
check_regex(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	pcre2_code	*re;
	PCRE2_UCHAR	 msg[160];
	PCRE2_SIZE	 at;
	int		 code;

	if (value[0] == '\0' && strcmp(k->name, "start") == 0)
		return 0;
	if ((re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED, 0,
	    &code, &at, NULL)) == NULL) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		(void)snprintf(err, size, "%s = \"%s\": %s at offset %zu",
		    k->name, value, (char *)msg, (size_t)at);
		return -1;
	}
	pcre2_code_free(re);
	return 0;
}

/*
 * A filter of a derive rule: the prefix of the keys of the log records it
 * takes, as an output's filter= is (no blank in a key).
 */
static int
check_filter(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	const char	*p;

	for (p = value; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			break;
	if (value[0] == '\0' || *p != '\0' || strlen(value) > 255) {
		(void)snprintf(err, size, "%s: \"%s\" is not a record key prefix "
		    "(1 to 255 bytes, no blank or control byte)", k->name, value);
		return -1;
	}
	return 0;
}

/*
 * The key of a log section's or an event's records: printable ASCII, no
 * blank (the spool's first field), and not '@', the mark of ferry's own
 * records (@heartbeat: a log key with it would go to the heartbeat's output
 * alone). "": the default, systail.NAME.HOST or event.NAME.
 */
static int
check_record_key(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	const char	*p;

	for (p = value; *p != '\0'; p++)
		if (*p < 0x21 || *p > 0x7e)
			break;
	if (*p != '\0' || value[0] == '@' || strlen(value) > 255) {
		(void)snprintf(err, size, "%s = \"%s\": a record key is up to 255 "
		    "printable characters without blanks, not starting with @",
		    k->name, value);
		return -1;
	}
	return 0;
}

int
conf_name_part(const char *value)
{
	size_t	i, n = strlen(value);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)value[i]) && value[i] != '_' &&
		    value[i] != '-' && value[i] != '.')
			break;
	return n > 0 && n <= 64 && i == n && value[0] != '.' &&
	    value[n - 1] != '.' && strstr(value, "..") == NULL;
}

/* A part of a metric name a rule makes (conf_name_part()). */
static int
check_metric_part(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	if (!conf_name_part(value)) {
		(void)snprintf(err, size, "%s = \"%s\": up to 64 letters, digits, "
		    "'_', '-' or '.' (not at either end), a part of metric names",
		    k->name, value);
		return -1;
	}
	return 0;
}

/* A group's name, as PCRE2 spells a named group: (?<name>...). */
static int
check_group(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	size_t	i, n = strlen(value);

	if (n == 0 && k->type == CONF_KEY_STR)
		return 0;	/* split = "": no split */
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)value[i]) && value[i] != '_')
			break;
	if (n == 0 || n > 32 || i < n || isdigit((unsigned char)value[0])) {
		(void)snprintf(err, size, "%s: \"%s\" is not a group name (up "
		    "to 32 letters, digits or '_', not starting with a digit)",
		    k->name, value);
		return -1;
	}
	return 0;
}

/* A CA file must be there now: a typo would fail every request, forever. */
static int
check_ca_file(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	struct stat	st;

	if (value[0] == '\0')
		return 0;
	if (value[0] != '/') {
		(void)snprintf(err, size, "%s = \"%s\": not an absolute path",
		    k->name, value);
		return -1;
	}
	if (stat(value, &st) == -1) {
		(void)snprintf(err, size, "%s = \"%s\": %s", k->name, value,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, size, "%s = \"%s\": not a file", k->name,
		    value);
		return -1;
	}
	return 0;
}

/* One entry of dns_servers: an address, not a name, with an optional port. */
static int
check_dns_server(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	if (dnsfallback_server_parse(value, NULL, 0) == -1) {
		(void)snprintf(err, size, "%s: \"%s\" is not an IP address with "
		    "an optional port (\"192.0.2.1\", \"192.0.2.1:5353\", "
		    "\"[2001:db8::1]:53\")", k->name, value);
		return -1;
	}
	return 0;
}

/*
 * One etcd endpoint: http:// or https://, a host, an optional port, and
 * nothing else. Credentials have keys of their own (username, password),
 * which are secrets; a URL is logged.
 */
static int
check_etcd_endpoint(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	const char	*p = value;
	size_t		 n;

	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	else if (strncmp(p, "https://", 8) == 0)
		p += 8;
	else {
		(void)snprintf(err, size, "%s: \"%s\" is not an http:// or "
		    "https:// URL", k->name, value);
		return -1;
	}
	/* Not echoed: what stands before '@' is likely a password. */
	if (strchr(p, '@') != NULL) {
		(void)snprintf(err, size, "%s: an endpoint holds no credentials; "
		    "set username and password instead", k->name);
		return -1;
	}
	n = strcspn(p, "/?# \"\\");
	if (n == 0 || (p[n] != '\0' && strcmp(p + n, "/") != 0)) {
		(void)snprintf(err, size, "%s: \"%s\": only a scheme, a host and "
		    "a port", k->name, value);
		return -1;
	}
	return 0;
}

/*
 * The fleet's prefix in etcd: a path that starts and ends with '/', so
 * "/ferry/" never also matches "/ferry-test/".
 */
static int
check_fleet_prefix(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	size_t	n = strlen(value), i;

	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)value[i]) || value[i] == '"' ||
		    value[i] == '\\')
			break;
	if (n < 2 || n > 128 || value[0] != '/' || value[n - 1] != '/' ||
	    i < n) {
		(void)snprintf(err, size, "%s = \"%s\": a path of up to 128 "
		    "printable characters that starts and ends with /",
		    k->name, value);
		return -1;
	}
	return 0;
}

/* A group is one part of an etcd key: letters, digits, '.', '_', '-'. */
static int
check_fleet_group(const struct conf_key *k, const char *value, char *err,
    size_t size)
{
	size_t	i, n = strlen(value);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)value[i]) && value[i] != '.' &&
		    value[i] != '_' && value[i] != '-')
			break;
	if (n > 64 || i < n) {
		(void)snprintf(err, size, "%s = \"%s\": up to 64 letters, "
		    "digits, '.', '_' or '-'", k->name, value);
		return -1;
	}
	return 0;
}

/* How a collector runs (enum collector_mode), as messages list them. */
static const struct conf_choice collector_modes[] = {
	{ "inline", COLLECTOR_MODE_INLINE },
	{ "daemon", COLLECTOR_MODE_DAEMON },
	{ "interval", COLLECTOR_MODE_INTERVAL },
	{ NULL, 0 }
};

/* Where ferry-tail starts a file it does not know (enum log_from). */
static const struct conf_choice log_froms[] = {
	{ "auto", LOG_FROM_AUTO },
	{ "start", LOG_FROM_START },
	{ "end", LOG_FROM_END },
	{ NULL, 0 }
};

/*
 * The sections, in the order of the file. A single section's keys are
 * fields of the struct it is in (receiver { } of struct ferry_conf); a
 * section that may appear many times is an array of its own structs.
 */
#define SINGLE(p, h)	{ .path = p, .help = h }
#define REPEATED(p, T, in, arr, cnt, h) \
	{ .path = p, .flags = CONF_MULTI, .off = offsetof(in, arr), \
	    .noff = offsetof(in, cnt), .size = sizeof(T), .help = h }
#define TITLED(p, T, in, arr, cnt, h) \
	{ .path = p, .flags = CONF_MULTI | CONF_TITLED, \
	    .off = offsetof(in, arr), .noff = offsetof(in, cnt), \
	    .size = sizeof(T), .titleoff = offsetof(T, name), .help = h }

static const struct conf_section sections[] = {
	SINGLE("", "The top level: this machine's names and the account."),
	SINGLE("receiver", "The Graphite plaintext listener, ferry-receiver."),
	SINGLE("spool", "The spool, where every program's records wait for "
	    "the forwarder."),
	SINGLE("forwarder", "Sending the spool to the outputs, "
	    "ferry-forwarder. Its connection keys are every output's "
	    "defaults."),
	TITLED("output", struct output_conf, struct ferry_conf, outputs,
	    noutputs, "A destination of records: output \"NAME\" { uri = ... }; "
	    "it may set any connection key of the forwarder again."),
	TITLED("log", struct log_conf, struct ferry_conf, logs, nlogs,
	    "Log files to follow: log \"NAME\" { path = \"GLOB\" }."),
	REPEATED("log.redact", struct redact_conf, struct log_conf, redact,
	    nredact, "A rewrite of a log's lines; rules apply in order."),
	REPEATED("log.sample", struct sample_conf, struct log_conf, sample,
	    nsample, "Keeps a fraction of a log's matching lines; the first "
	    "rule that matches applies."),
	SINGLE("log.multiline", "Joins continuation lines (a stack trace) to "
	    "the line that starts a record."),
	TITLED("event", struct event_conf, struct ferry_conf, events, nevents,
	    "Records derived from log records: event \"NAME\" { filter = "
	    "\"systail.app\" match = \"RE\" } publishes each matching "
	    "record's named groups under a key of its own."),
	TITLED("logmetric", struct logmetric_conf, struct ferry_conf,
	    logmetrics, nlogmetrics, "Metrics derived from log records: "
	    "logmetric \"NAME\" { match = \"RE\" } counts the matching "
	    "records every interval, PREFIX.HOSTNAME.NAME.COUNTER, with "
	    "splits, gauges and summaries of its named groups."),
	SINGLE("tail", "Following log files, ferry-tail."),
	SINGLE("discover", "Log files found from the services running here: "
	    "ferry-tail looks every tail.rescan_interval."),
	SINGLE("collectors", "Collectors and the drop directory, "
	    "ferry-collectors; the defaults of every collector."),
	TITLED("collector", struct collector_conf, struct ferry_conf,
	    collector, ncollector, "One collector: collector \"NAME\" { }; "
	    "what it leaves out is the collectors section's."),
	SINGLE("periodic", "The config watch and the heartbeat, "
	    "ferry-periodic."),
	SINGLE("sink", "The reference endpoint, ferry-sink, for local use."),
	SINGLE("fleet", "Drains shared by many hosts through etcd, "
	    "ferry-fleet; it runs when etcd lists an endpoint."),
};

/* Where a key's value goes: its field, in the struct its section fills. */
#define FIELD(T, m)	.off = offsetof(T, m), .size = sizeof(((T *)NULL)->m)
#define COUNT(T, m)	.noff = offsetof(T, m)
#define TOP(m)		FIELD(struct ferry_conf, m)
#define OUTPUT(m)	FIELD(struct output_conf, m)
#define LOGF(m)		FIELD(struct log_conf, m)
#define REDACT(m)	FIELD(struct redact_conf, m)
#define SAMPLE(m)	FIELD(struct sample_conf, m)
#define COLLECTOR(m)	FIELD(struct collector_conf, m)
#define EVENT(m)	FIELD(struct event_conf, m)
#define LOGMETRIC(m)	FIELD(struct logmetric_conf, m)

/* One row per key, a macro per type: section, name, field, default, ... */
#define STR(s, k, f, d, rd, fl, chk, h) \
	{ .section = s, .name = k, .type = CONF_KEY_STR, f, .def = d, \
	    .readers = rd, .flags = fl, .check = chk, .help = h }
#define LIST(s, k, f, n, rd, chk, h) \
	{ .section = s, .name = k, .type = CONF_KEY_LIST, f, n, \
	    .readers = rd, .check = chk, .help = h }
/*
 * Each macro is spelt out: passed on to a common one, a field's two
 * designators would count as two arguments.
 */
#define INT(s, k, f, d, lo, hi, rd, h) \
	{ .section = s, .name = k, .type = CONF_KEY_INT, f, .def = d, \
	    .min = lo, .max = hi, .readers = rd, .help = h }
#define SIZE(s, k, f, d, lo, hi, rd, h) \
	{ .section = s, .name = k, .type = CONF_KEY_SIZE, f, .def = d, \
	    .min = lo, .max = hi, .readers = rd, .help = h }
#define SECONDS(s, k, f, d, lo, hi, rd, h) \
	{ .section = s, .name = k, .type = CONF_KEY_FLOAT, f, .def = d, \
	    .min = lo, .max = hi, .readers = rd, .help = h }
#define BOOL(s, k, f, d, rd, h) \
	{ .section = s, .name = k, .type = CONF_KEY_BOOL, f, .def = d, \
	    .readers = rd, .help = h }
#define ENUM(s, k, f, d, ch, un, rd, h) \
	{ .section = s, .name = k, .type = CONF_KEY_ENUM, f, .def = d, \
	    .choices = ch, .unset = un, .readers = rd, .help = h }
/* The same key of section fr, when not set here; completed by conf_keys(). */
#define INHERIT(s, k, f, fr) \
	{ .section = s, .name = k, f, .from = fr }
#define INHERIT_LIST(s, k, f, n, fr) \
	{ .section = s, .name = k, f, n, .from = fr }

/*
 * The readers column: the programs that read the key when they start, so
 * a reload restarts them when it changes (confdiff.c). WRITERS are the
 * programs that write their own self-metrics to the spool: all of them
 * read spool { }, hostname and prefix. A new program is a new CONFDIFF_*
 * bit and a line of confdiff.c's programs[].
 */
#define WRITERS	CONFDIFF_WRITERS
#define RECV	CONFDIFF_RECEIVER
#define FWD	CONFDIFF_FORWARDER
#define COLL	CONFDIFF_COLLECTORS
#define PERIOD	CONFDIFF_PERIODIC
#define SINK	CONFDIFF_SINK
#define TAIL	CONFDIFF_TAIL
#define FLEET	CONFDIFF_FLEET

#define GIB	((double)(1ULL << 30))

static const struct conf_key table[] = {
	STR("", "hostname", TOP(hostname), "", WRITERS, 0, check_hostname,
	    "this machine's name in metric names; empty: the system's"),
	STR("", "prefix", TOP(prefix), "servers", WRITERS, 0, check_prefix,
	    "the first part of collector metric names: "
	    "PREFIX.HOSTNAME.COLLECTOR..."),
	STR("", "api_key", TOP(api_key), "", RECV | FWD | PERIOD, CONF_SECRET,
	    NULL, "the HTTP Basic user of outputs and heartbeats; stripped "
	    "from received metric names"),
	STR("", "user", TOP(user), "ferry", 0, 0, NULL,
	    "the children run as this user when ferry starts as root; "
	    "empty: the current user"),

	STR("receiver", "bind", TOP(receiver.bind), "127.0.0.1", RECV, 0, NULL,
	    "the address to listen on, TCP and UDP"),
	INT("receiver", "tcp_port", TOP(receiver.tcp_port), "2003", 0, 65535,
	    RECV, "the TCP port; 0: no TCP"),
	INT("receiver", "udp_port", TOP(receiver.udp_port), "2003", 0, 65535,
	    RECV, "the UDP port; 0: no UDP"),
	SECONDS("receiver", "flush_interval", TOP(receiver.flush_interval),
	    "1", 0.01, 3600, RECV, "seconds between syncs of the spool"),
	SIZE("receiver", "max_line", TOP(receiver.max_line), "4096", 64,
	    1048576, RECV | FWD, "the longest line; a longer one closes its "
	    "connection (it also sizes the forwarder's batches)"),
	SECONDS("receiver", "idle_timeout", TOP(receiver.idle_timeout), "60",
	    0.1, 86400, RECV, "seconds before an idle connection is closed"),
	INT("receiver", "max_connections", TOP(receiver.max_connections),
	    "1024", 1, 65536, RECV, "connections at once; a new one past it "
	    "closes the connection idle the longest"),

	SIZE("spool", "segment_size", TOP(spool.segment_size), "10M", 4096,
	    1024 * GIB, WRITERS, "a segment file ends at this size"),
	SIZE("spool", "max_size", TOP(spool.max_size), "100M", 65536,
	    1024 * 1024 * GIB, WRITERS, "the spool's cap on disk: beyond it "
	    "the oldest finished segments are deleted"),
	BOOL("spool", "fsync", TOP(spool.fsync), "true", WRITERS,
	    "sync segments to disk; false is faster but a power loss may "
	    "lose the last records"),
	STR("spool", "memory_dir", TOP(spool.memory_dir), PATH_MEMSPOOL,
	    WRITERS, CONF_ROOTED, NULL,
	    "where the spool goes on while the disk is full"),
	SIZE("spool", "memory_max_size", TOP(spool.memory_max_size), "64M", 0,
	    1024 * GIB, WRITERS, "the cap of the spool in memory_dir"),

	INT("forwarder", "batch_size", TOP(forwarder.batch_size), "250", 1,
	    100000, FWD, "records in one request, at most"),
	SECONDS("forwarder", "batch_timeout", TOP(forwarder.batch_timeout),
	    "0.5", 0.001, 3600, FWD, "seconds a batch may wait to fill"),
	SECONDS("forwarder", "retry_max", TOP(forwarder.retry_max), "30",
	    0.1, 86400, FWD, "seconds: the cap of the retry backoff"),
	SECONDS("forwarder", "connect_timeout",
	    TOP(forwarder.conn.connect_timeout), "5", 0.1, 600, FWD,
	    "seconds to connect, name resolution included"),
	INT("forwarder", "keepalive_idle", TOP(forwarder.conn.keepalive_idle),
	    "1", 1, 32767, FWD,		/* Linux's bounds */
	    "TCP keepalive: seconds idle before the first probe"),
	INT("forwarder", "keepalive_interval",
	    TOP(forwarder.conn.keepalive_interval), "1", 1, 32767, FWD,
	    "TCP keepalive: seconds between probes"),
	INT("forwarder", "keepalive_probes",
	    TOP(forwarder.conn.keepalive_probes), "3", 1, 127, FWD,
	    "TCP keepalive: unanswered probes before the peer counts as dead"),
	STR("forwarder", "ca_file", TOP(forwarder.conn.ca_file), "", FWD, 0,
	    check_ca_file, "PEM CAs to verify TLS peers with instead of the "
	    "system's; verification is always on"),
	LIST("forwarder", "dns_servers", TOP(forwarder.conn.dns_servers),
	    COUNT(struct ferry_conf, forwarder.conn.ndns_servers), FWD,
	    check_dns_server, "resolvers to ask when the system's fails: "
	    "{\"192.0.2.53\", \"[2001:db8::53]:5353\"}"),

	STR("output", "uri", OUTPUT(uri), NULL, FWD, CONF_URI, NULL,
	    "where to send (http, https, carbon, tcp, udp, redis, file), "
	    "ferry's options in its query"),
	STR("output", "api_key", OUTPUT(api_key), "", FWD, CONF_SECRET, NULL,
	    "this output's key; empty: the top-level api_key"),
	INHERIT("output", "connect_timeout", OUTPUT(conn.connect_timeout),
	    "forwarder"),
	INHERIT("output", "keepalive_idle", OUTPUT(conn.keepalive_idle),
	    "forwarder"),
	INHERIT("output", "keepalive_interval", OUTPUT(conn.keepalive_interval),
	    "forwarder"),
	INHERIT("output", "keepalive_probes", OUTPUT(conn.keepalive_probes),
	    "forwarder"),
	INHERIT("output", "ca_file", OUTPUT(conn.ca_file), "forwarder"),
	INHERIT_LIST("output", "dns_servers", OUTPUT(conn.dns_servers),
	    COUNT(struct output_conf, conn.ndns_servers), "forwarder"),

	STR("log", "path", LOGF(path), NULL, TAIL, 0, NULL,
	    "a glob of the files to follow"),
	STR("log", "key", LOGF(key), "", TAIL, 0, check_record_key,
	    "the key of its records; empty: systail.NAME.HOSTNAME"),
	SIZE("log", "max_line", LOGF(max_line), "64K", 256, 16 << 20, TAIL,
	    "a longer line is cut"),
	LIST("log", "attributes", LOGF(attributes),
	    COUNT(struct log_conf, nattributes), TAIL, NULL,
	    "\"name=value\" pairs added to each record"),
	ENUM("log", "from", LOGF(from), "auto", log_froms, NULL, TAIL,
	    "where a file without a checkpoint starts: auto (its end at the "
	    "section's first start, else its beginning), start or end"),
	STR("log.redact", "match", REDACT(match), NULL, TAIL, 0, check_regex,
	    "a regular expression (PCRE2)"),
	STR("log.redact", "replace", REDACT(replace), "", TAIL, 0, NULL,
	    "what replaces each match ($1 for a group)"),
	STR("log.sample", "match", SAMPLE(match), NULL, TAIL, 0, check_regex,
	    "a regular expression (PCRE2)"),
	SECONDS("log.sample", "rate", SAMPLE(rate), "1", 0, 1, TAIL,
	    "the fraction of the matching lines kept"),
	STR("log.multiline", "start", LOGF(multiline.start), "", TAIL, 0,
	    check_regex, "a line matching it starts a record; empty: every "
	    "line is one"),
	INT("log.multiline", "max_lines", LOGF(multiline.max_lines), "500", 1,
	    100000, TAIL, "lines a record may join"),
	SECONDS("log.multiline", "timeout", LOGF(multiline.timeout), "1", 0.01,
	    3600, TAIL, "seconds a record waits for more lines"),

	LIST("event", "filter", EVENT(filter), COUNT(struct event_conf,
	    nfilter), TAIL, check_filter, "the log records it takes, by key "
	    "prefix: \"systail.nginx\" or {\"a\", \"b\"}; none: every log"),
	STR("event", "match", EVENT(match), "", TAIL, 0, check_regex,
	    "a regular expression (PCRE2) a record's text must match; its "
	    "named groups (?<name>...) are the event's fields"),
	STR("event", "format", EVENT(format), "", TAIL, 0, NULL,
	    "instead of match: a log format by name, whose fields it takes"),
	STR("event", "key", EVENT(key), "", TAIL, 0, check_record_key,
	    "the key of its records; empty: event.NAME"),

	LIST("logmetric", "filter", LOGMETRIC(filter),
	    COUNT(struct logmetric_conf, nfilter), TAIL, check_filter,
	    "the log records it takes, by key prefix; none: every log"),
	STR("logmetric", "match", LOGMETRIC(match), "", TAIL, 0, check_regex,
	    "a regular expression (PCRE2) a record's text must match, with "
	    "named groups for split, gauge and summary"),
	STR("logmetric", "format", LOGMETRIC(format), "", TAIL, 0, NULL,
	    "instead of match: a log format by name, whose fields it takes"),
	SECONDS("logmetric", "interval", LOGMETRIC(interval), "10", 1, 86400,
	    TAIL, "seconds between two emissions of its metrics"),
	STR("logmetric", "counter", LOGMETRIC(counter), "count", TAIL, 0,
	    check_metric_part, "the name of the counter of matching records"),
	STR("logmetric", "split", LOGMETRIC(split), "", TAIL, 0, check_group,
	    "a group: also a counter for each of its values, COUNTER.VALUE; "
	    "empty: none"),
	INT("logmetric", "max_split", LOGMETRIC(max_split), "100", 1, 10000,
	    TAIL, "distinct split values kept (one unseen for 60 intervals "
	    "is let go); records with others are counted under "
	    "COUNTER._other"),
	LIST("logmetric", "gauge", LOGMETRIC(gauge),
	    COUNT(struct logmetric_conf, ngauge), TAIL, check_group,
	    "groups whose last value in an interval is a metric, NAME.GROUP"),
	LIST("logmetric", "summary", LOGMETRIC(summary),
	    COUNT(struct logmetric_conf, nsummary), TAIL, check_group,
	    "numeric groups summed up each interval: NAME.GROUP.count, .sum, "
	    ".min, .max, .p50, .p90, .p99"),

	SECONDS("tail", "rescan_interval", TOP(tail.rescan_interval), "30", 0.1,
	    86400, TAIL, "seconds between expansions of the globs (inotify "
	    "also wakes it)"),
	INT("tail", "max_open_files", TOP(tail.max_open_files), "1024", 1,
	    1048576, TAIL, "files held open at once; the idle are closed first"),
	SECONDS("tail", "partial_line_wait", TOP(tail.partial_line_wait), "5",
	    0, 3600, TAIL, "seconds a last line without a newline waits for "
	    "one"),

	BOOL("discover", "nginx", TOP(discover.nginx), "false", TAIL,
	    "follow the access logs of every running nginx, found in the "
	    "configuration it runs, with their formats' parsers"),
	SECONDS("discover", "interval", TOP(discover.interval), "10", 1, 86400,
	    TAIL, "seconds between two emissions of the discovered logs' "
	    "metrics (SERVICE.requests, by status class, and summaries)"),

	SECONDS("collectors", "interval", TOP(collectors.interval), "10", 0.1,
	    86400, COLL, "seconds between a collector's runs"),
	SECONDS("collectors", "timeout", TOP(collectors.timeout), "10", 0.1,
	    86400, COLL, "seconds a run may take; then its process group is "
	    "killed"),
	STR("collectors", "drop_dir", TOP(collectors.drop_dir), PATH_DROP,
	    COLL, CONF_ROOTED, NULL, "files of metric lines put here are "
	    "taken once, then removed"),
	BOOL("collectors", "archive", TOP(collectors.archive), "false", COLL,
	    "also append every collector metric to /var/log/ferry/archive.log"),
	ENUM("collectors", "builtin_mode", TOP(collectors.builtin_mode),
	    "inline", collector_modes, NULL, COLL, "how built-ins run: sampled "
	    "inside ferry-collectors, a process each, or one per run"),
	INT("collectors", "max_lines", TOP(collectors.max_lines), "10000", 1,
	    10000000, COLL, "lines a collector may print per run (a daemon: "
	    "per interval); the rest are cut"),
	SIZE("collectors", "max_bytes_per_second",
	    TOP(collectors.max_bytes_per_second), "128K", 1024, GIB, COLL,
	    "the rate a collector may print at; beyond it, it waits"),
	SECONDS("collectors", "scan_interval", TOP(collectors.scan_interval),
	    "30", 0.1, 3600, COLL,
	    "seconds between looks for added or removed collectors"),
	STR("collectors", "builtin_dir", TOP(collectors.builtin_dir),
	    PATH_COLLECTORS, COLL, CONF_ROOTED, NULL, "the built-in collectors"),
	STR("collectors", "custom_dir", TOP(collectors.custom_dir),
	    PATH_COLLECTORS_D, COLL, CONF_ROOTED, NULL,
	    "the operator's collectors"),

	BOOL("collector", "enabled", COLLECTOR(enabled), "true", COLL,
	    "false: it does not run"),
	INHERIT("collector", "interval", COLLECTOR(interval), "collectors"),
	INHERIT("collector", "timeout", COLLECTOR(timeout), "collectors"),
	LIST("collector", "args", COLLECTOR(args),
	    COUNT(struct collector_conf, nargs), COLL, NULL,
	    "its arguments"),
	ENUM("collector", "mode", COLLECTOR(mode), NULL, collector_modes,
	    "collectors.builtin_mode for a built-in, else \"interval\"", COLL,
	    "how it runs (inline: a built-in only)"),
	INHERIT("collector", "max_lines", COLLECTOR(max_lines), "collectors"),
	INHERIT("collector", "max_bytes_per_second",
	    COLLECTOR(max_bytes_per_second), "collectors"),

	STR("periodic", "heartbeat_url", TOP(periodic.heartbeat_url), "",
	    PERIOD | FWD, CONF_URI, check_heartbeat_url,
	    "PUT a JSON heartbeat here; empty: none"),
	SECONDS("periodic", "heartbeat_interval",
	    TOP(periodic.heartbeat_interval), "60", 1, 86400, PERIOD,
	    "seconds between heartbeats"),
	SECONDS("periodic", "config_interval", TOP(periodic.config_interval),
	    "10", 0.1, 86400, PERIOD,
	    "seconds between looks for an edited configuration"),

	BOOL("sink", "enabled", TOP(sink.enabled), "false", SINK,
	    "run ferry-sink"),
	STR("sink", "bind", TOP(sink.bind), "127.0.0.1", SINK, 0,
	    NULL, "the address to listen on"),
	INT("sink", "port", TOP(sink.port), "8080", 1, 65535, SINK,
	    "the TCP port to listen on"),
	STR("sink", "api_key", TOP(sink.api_key), "", SINK,
	    CONF_SECRET, NULL, "the HTTP Basic user clients must send; "
	    "required beyond loopback"),

	LIST("fleet", "etcd", TOP(fleet.etcd), COUNT(struct ferry_conf,
	    fleet.netcd), FLEET, check_etcd_endpoint, "etcd's client URLs, "
	    "tried in turn: {\"http://127.0.0.1:2379\"}; none: no fleet"),
	STR("fleet", "prefix", TOP(fleet.prefix), "/ferry/", FLEET, 0,
	    check_fleet_prefix, "where the fleet's keys are in etcd: "
	    "PREFIXdrains/NAME, PREFIXgroups/G/drains/NAME, "
	    "PREFIXhosts/H/drains/NAME, PREFIXstatus/H"),
	STR("fleet", "group", TOP(fleet.group), "", FLEET, 0,
	    check_fleet_group, "this host's group: it also takes the drains "
	    "of PREFIXgroups/GROUP/drains/; empty: none"),
	STR("fleet", "username", TOP(fleet.username), "", FLEET, 0, NULL,
	    "the etcd user; empty: no authentication"),
	STR("fleet", "password", TOP(fleet.password), "", FLEET, CONF_SECRET,
	    NULL, "the etcd user's password"),
	BOOL("fleet", "allow_file", TOP(fleet.allow_file), "false", FLEET,
	    "accept file:// drains from etcd; refused by default, so the "
	    "store cannot make every host write where it says"),
	STR("fleet", "ca_file", TOP(fleet.ca_file), "", FLEET, 0,
	    check_ca_file, "PEM CAs to verify etcd's https:// endpoints with; "
	    "empty: the system's"),
	STR("fleet", "cert_file", TOP(fleet.cert_file), "", FLEET, 0,
	    check_ca_file, "a PEM client certificate for etcd (TLS client "
	    "authentication)"),
	STR("fleet", "key_file", TOP(fleet.key_file), "", FLEET, 0,
	    check_ca_file, "the PEM private key of cert_file"),
	SECONDS("fleet", "heartbeat_interval", TOP(fleet.heartbeat_interval),
	    "10", 1, 3600, FLEET, "seconds between renewals of this host's "
	    "status lease (its TTL: three of them)"),
};

/* The table with every INHERIT row completed from the row it names. */
static struct conf_key	keys[NELEM(table)];
static int		keys_ready;

static const struct conf_key *
find_in(const struct conf_key *v, size_t n, const char *section,
    const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].section, section) == 0 &&
		    strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

const struct conf_key *
conf_keys(size_t *n)
{
	const struct conf_key	*from;
	struct conf_key		*k;
	size_t			 i;

	*n = NELEM(table);
	if (keys_ready)
		return keys;
	for (i = 0; i < NELEM(table); i++) {
		k = &keys[i];
		*k = table[i];
		if (k->from == NULL)
			continue;
		if ((from = find_in(table, NELEM(table), k->from, k->name)) ==
		    NULL || from->from != NULL)
			fatalx("confkeys: %s.%s inherits from no %s.%s",
			    k->section, k->name, k->from, k->name);
		k->type = from->type;
		k->def = from->def;
		k->min = from->min;
		k->max = from->max;
		k->readers = from->readers;
		k->flags = from->flags;
		k->choices = from->choices;
		k->unset = from->unset;
		k->check = from->check;
		k->help = from->help;
	}
	keys_ready = 1;
	return keys;
}

/* The completed table, for the loops below that know its length. */
static const struct conf_key *
rows(void)
{
	size_t	n;

	return conf_keys(&n);
}

const struct conf_section *
conf_sections(size_t *n)
{
	*n = NELEM(sections);
	return sections;
}

const struct conf_section *
conf_section_find(const char *path)
{
	size_t	i;

	for (i = 0; i < NELEM(sections); i++)
		if (strcmp(sections[i].path, path) == 0)
			return &sections[i];
	return NULL;
}

const char *
conf_section_name(const struct conf_section *sec)
{
	const char	*dot = strrchr(sec->path, '.');

	return dot != NULL ? dot + 1 : sec->path;
}

const struct conf_section *
conf_section_parent(const struct conf_section *sec)
{
	const char	*dot = strrchr(sec->path, '.');
	size_t		 i, len;

	if (sec->path[0] == '\0')
		return NULL;
	len = dot != NULL ? (size_t)(dot - sec->path) : 0;
	for (i = 0; i < NELEM(sections); i++)
		if (strlen(sections[i].path) == len &&
		    strncmp(sections[i].path, sec->path, len) == 0)
			return &sections[i];
	return NULL;
}

const struct conf_key *
conf_key_lookup(const char *secname, const char *name)
{
	const struct conf_key		*v = rows();
	const struct conf_section	*sec;
	size_t				 i;

	for (i = 0; i < NELEM(table); i++) {
		if (strcmp(v[i].name, name) != 0 ||
		    (sec = conf_section_find(v[i].section)) == NULL)
			continue;
		if (strcmp(conf_section_name(sec), secname) == 0)
			return &v[i];
	}
	return NULL;
}

unsigned
conf_section_readers(const struct conf_section *sec)
{
	const struct conf_key	*v = rows();
	size_t			 i, len = strlen(sec->path);
	unsigned		 bits = 0;

	/* Its own keys and those of the sections under its path. */
	for (i = 0; i < NELEM(table); i++)
		if (len == 0 || (strncmp(v[i].section, sec->path, len) == 0 &&
		    (v[i].section[len] == '\0' || v[i].section[len] == '.')))
			bits |= v[i].readers;
	return bits;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;
	uint64_t		 mult = 1;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	default:
		return -1;
	}
	if (toupper((unsigned char)*end) == 'B')
		end++;
	if (*end != '\0' || v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* "receiver.tcp_port = 70000 is out of range (0 to 65535)", or 0. */
static int
range_check(const struct conf_key *k, double v, const char *text, char *err,
    size_t size)
{
	const struct conf_section	*sec = conf_section_find(k->section);
	const char			*name = sec != NULL ?
					    conf_section_name(sec) : "";

	if (v >= k->min && v <= k->max)
		return 0;
	(void)snprintf(err, size, "%s%s%s = %s is out of range (%g to %g)",
	    name, name[0] != '\0' ? "." : "", k->name, text, k->min, k->max);
	return -1;
}

/* "must be \"inline\", \"daemon\" or \"interval\"" */
static int
choice_check(const struct conf_key *k, const char *text, char *err,
    size_t size)
{
	size_t	i, len;

	if (conf_key_choice(k, text) != 0)
		return 0;
	len = snprintf(err, size, "%s = \"%s\": must be ", k->name, text);
	for (i = 0; k->choices[i].name != NULL && len < size; i++)
		len += snprintf(err + len, size - len, "%s\"%s\"", i == 0 ? "" :
		    k->choices[i + 1].name == NULL ? " or " : ", ",
		    k->choices[i].name);
	return -1;
}

int
conf_key_parse(const struct conf_key *k, const char *text,
    struct conf_value *v, char *err, size_t size)
{
	struct conf_value	 tmp;
	uint64_t		 u;
	char			*end;

	if (v == NULL)
		v = &tmp;
	memset(v, 0, sizeof(*v));
	switch (k->type) {
	case CONF_KEY_STR:
	case CONF_KEY_LIST:
		return k->check != NULL ? k->check(k, text, err, size) : 0;
	case CONF_KEY_ENUM:
		return choice_check(k, text, err, size);
	case CONF_KEY_BOOL:
		return 0;
	case CONF_KEY_INT:
		errno = 0;
		v->i = strtol(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0') {
			(void)snprintf(err, size, "%s = %s: not a whole number",
			    k->name, text);
			return -1;
		}
		return range_check(k, (double)v->i, text, err, size);
	case CONF_KEY_SIZE:
		if (conf_parse_size(text, &u) == -1 || u > LONG_MAX) {
			(void)snprintf(err, size, "%s = %s: not a size (a number, "
			    "optionally followed by K, M or G)", k->name, text);
			return -1;
		}
		v->i = (long)u;
		return range_check(k, (double)u, text, err, size);
	case CONF_KEY_FLOAT:
		errno = 0;
		v->f = strtod(text, &end);
		if (errno != 0 || end == text || *end != '\0' || v->f != v->f) {
			(void)snprintf(err, size, "%s = %s: not a number of "
			    "seconds", k->name, text);
			return -1;
		}
		return range_check(k, v->f, text, err, size);
	}
	return 0;
}

int
conf_key_choice(const struct conf_key *k, const char *text)
{
	size_t	i;

	for (i = 0; text != NULL && k->choices[i].name != NULL; i++)
		if (strcmp(k->choices[i].name, text) == 0)
			return k->choices[i].value;
	return 0;
}

const char *
conf_key_env(const struct conf_key *k, char *buf, size_t size)
{
	const struct conf_section	*sec = conf_section_find(k->section);
	char				*p;

	/* The top level and the single sections in it. */
	if (k->type == CONF_KEY_LIST || sec == NULL || sec->flags & CONF_MULTI ||
	    strchr(k->section, '.') != NULL)
		return NULL;
	if (k->section[0] != '\0')
		(void)snprintf(buf, size, "FERRY_%s_%s", k->section, k->name);
	else
		(void)snprintf(buf, size, "FERRY_%s", k->name);
	for (p = buf; *p != '\0'; p++)
		*p = toupper((unsigned char)*p);
	return buf;
}

long long
conf_key_int(const struct conf_key *k, const void *base)
{
	if (k->size == sizeof(uint64_t))
		return (long long)*CONF_AT(base, k->off, const uint64_t *);
	return *CONF_AT(base, k->off, const int *);
}

static int
str_ne(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

int
conf_key_differ(const struct conf_key *k, const void *a, const void *b)
{
	char *const	*x, *const *y;
	size_t		 i, n;

	switch (k->type) {
	case CONF_KEY_STR:
		return str_ne(*CONF_AT(a, k->off, char *const *),
		    *CONF_AT(b, k->off, char *const *));
	case CONF_KEY_LIST:
		n = *CONF_AT(a, k->noff, const size_t *);
		if (n != *CONF_AT(b, k->noff, const size_t *))
			return 1;
		x = *CONF_AT(a, k->off, char **const *);
		y = *CONF_AT(b, k->off, char **const *);
		for (i = 0; i < n; i++)
			if (str_ne(x[i], y[i]))
				return 1;
		return 0;
	case CONF_KEY_FLOAT:
		return *CONF_AT(a, k->off, const double *) !=
		    *CONF_AT(b, k->off, const double *);
	case CONF_KEY_INT:
	case CONF_KEY_SIZE:
	case CONF_KEY_BOOL:
	case CONF_KEY_ENUM:
		return conf_key_int(k, a) != conf_key_int(k, b);
	}
	return 1;
}

const char *
conf_size_str(uint64_t v, char *buf, size_t size)
{
	static const struct {
		char		suffix;
		uint64_t	mult;
	} units[] = { { 'G', 1ULL << 30 }, { 'M', 1ULL << 20 }, { 'K', 1ULL << 10 } };
	size_t	i;

	for (i = 0; i < NELEM(units); i++) {
		if (v != 0 && v % units[i].mult == 0) {
			(void)snprintf(buf, size, "%llu%c",
			    (unsigned long long)(v / units[i].mult),
			    units[i].suffix);
			return buf;
		}
	}
	(void)snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

/* The keys of sec, then those of the sections in it, as libconfuse has them. */
static void
each_in(const struct conf_section *sec, void (*fn)(const char *,
    const char *, enum conf_key_type, void *), void *arg)
{
	const struct conf_key	*v = rows();
	size_t			 i;

	for (i = 0; i < NELEM(table); i++)
		if (strcmp(v[i].section, sec->path) == 0)
			fn(sec->path, v[i].name, v[i].type, arg);
	for (i = 0; i < NELEM(sections); i++)
		if (conf_section_parent(&sections[i]) == sec)
			each_in(&sections[i], fn, arg);
}

void
conf_key_each(void (*fn)(const char *, const char *, enum conf_key_type,
    void *), void *arg)
{
	each_in(&sections[0], fn, arg);
}
