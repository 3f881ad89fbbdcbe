/*
 * conf: ferry.conf plus conf.d/<name>.conf (in name order), FERRY_* environment
 * overrides, defaults and validation, turned into the typed struct below.
 * libconfuse's cfg_t never leaves conf.c.
 *
 * Every key of SPEC.md is a row of common/confkeys.c, with its default and
 * range, and a field below. Errors are collected with the
 * file and line they belong to, so ferryctl check-config and every program
 * report the same messages.
 */
#ifndef FERRY_CONF_H
#define FERRY_CONF_H

#include <stddef.h>
#include <stdint.h>

#define CONF_NAME_MAX	64
#define CONF_ERRORS_MAX	32

struct conf_error {
	char	file[256];
	int	line;		/* 0 when not tied to a line */
	char	msg[256];
};

struct conf_errors {
	struct conf_error	e[CONF_ERRORS_MAX];
	int			n;
	int			dropped;	/* errors past CONF_ERRORS_MAX */
};

/*
 * How an http(s) output connects. forwarder { } holds the defaults and an
 * output "NAME" { } section overrides any of them, key by key.
 */
struct conn_conf {
	double	 connect_timeout;	/* seconds */
	int	 keepalive_idle;	/* seconds idle before the first probe */
	int	 keepalive_interval;	/* seconds between probes */
	int	 keepalive_probes;	/* unanswered probes: the peer is dead */
	char	*ca_file;		/* "": the system's CA store */
	char	**dns_servers;		/* the fallback resolver's; none: off */
	size_t	 ndns_servers;
};

struct output_conf {
	char			*name;
	char			*uri;
	char			*api_key;	/* empty: use the top-level api_key */
	struct conn_conf	 conn;		/* resolved: own keys, else forwarder's */
};

struct redact_conf {
	char	*match;
	char	*replace;
};

struct sample_conf {
	char	*match;
	double	 rate;
};

/* Where ferry-tail starts a file it has no checkpoint for. */
enum log_from {
	LOG_FROM_AUTO = 1,	/* the end at the section's first start, else 0 */
	LOG_FROM_START,
	LOG_FROM_END
};

struct log_conf {
	char			*name;
	char			*path;
	char			*key;
	uint64_t		 max_line;
	char			**attributes;
	size_t			 nattributes;
	int			 from;		/* enum log_from */
	struct redact_conf	*redact;
	size_t			 nredact;
	struct sample_conf	*sample;
	size_t			 nsample;
	struct multiline_conf {
		char		*start;		/* "": one line, one record */
		int		 max_lines;
		double		 timeout;
	} multiline;
};

/*
 * Records derived from log records (ferry-tail's tail/derive.c): a rule
 * takes the log records whose key starts with one of its filter's prefixes
 * (none: every log record) and whose text its parser matches, match (a
 * PCRE2 expression with named groups) or format (a log format by name).
 */
struct event_conf {
	char		*name;
	char		**filter;
	size_t		 nfilter;
	char		*match;
	char		*format;
	char		*key;		/* "": event.NAME */
};

struct logmetric_conf {
	char		*name;
	char		**filter;
	size_t		 nfilter;
	char		*match;
	char		*format;
	double		 interval;	/* seconds */
	char		*counter;	/* the matching records' counter */
	char		*split;		/* "": none; else a group: a counter a value */
	int		 max_split;	/* distinct split values, at most */
	char		**gauge;	/* groups: the last value of an interval */
	size_t		 ngauge;
	char		**summary;	/* groups: count sum min max p50 p90 p99 */
	size_t		 nsummary;
};

/*
 * How a collector runs: started each interval and expected to exit,
 * started once and read for as long as it lives, or (a built-in only)
 * sampled inside ferry-collectors with no process of its own. DEFAULT in a
 * collector section means "not set there": interval, or
 * collectors.builtin_mode for a built-in.
 */
enum collector_mode {
	COLLECTOR_MODE_DEFAULT = 0,
	COLLECTOR_MODE_INTERVAL,
	COLLECTOR_MODE_DAEMON,
	COLLECTOR_MODE_INLINE
};

/*
 * A collector "NAME" section. interval, timeout, max_lines and
 * max_bytes_per_second not set in it are the collectors section's.
 */
struct collector_conf {
	char		*name;
	int		 enabled;
	double		 interval;
	double		 timeout;
	char		**args;
	size_t		 nargs;
	int		 mode;			/* enum collector_mode */
	uint64_t	 max_lines;		/* per run; per interval for a daemon */
	uint64_t	 max_bytes_per_second;
};

struct ferry_conf {
	char	*hostname;	/* never empty after conf_load: the machine's */
	char	*prefix;
	char	*api_key;
	char	*user;

	struct receiver_conf {
		char		*bind;
		int		 tcp_port;	/* 0: disabled */
		int		 udp_port;	/* 0: disabled */
		double		 flush_interval;
		uint64_t	 max_line;
		double		 idle_timeout;
		int		 max_connections;
	} receiver;

	struct spool_conf {
		uint64_t	 segment_size;
		uint64_t	 max_size;
		int		 fsync;
		char		*memory_dir;
		uint64_t	 memory_max_size;
	} spool;

	struct forwarder_conf {
		int		 batch_size;
		double		 batch_timeout;
		double		 retry_max;
		struct conn_conf conn;		/* the outputs' defaults */
	} forwarder;

	struct output_conf	*outputs;
	size_t			 noutputs;
	struct log_conf		*logs;
	size_t			 nlogs;
	struct event_conf	*events;
	size_t			 nevents;
	struct logmetric_conf	*logmetrics;
	size_t			 nlogmetrics;

	struct collectors_conf {
		double		 interval;
		double		 timeout;
		char		*drop_dir;
		int		 archive;
		int		 builtin_mode;	/* enum collector_mode, never DEFAULT */
		uint64_t	 max_lines;
		uint64_t	 max_bytes_per_second;
		double		 scan_interval;
		char		*builtin_dir;	/* resolved: PATH_COLLECTORS */
		char		*custom_dir;	/* resolved: PATH_COLLECTORS_D */
	} collectors;
	struct collector_conf	*collector;
	size_t			 ncollector;

	struct tail_conf {
		double		 rescan_interval;
		int		 max_open_files;
		double		 partial_line_wait;
	} tail;

	/* Log sources ferry-tail finds from running services. */
	struct discover_conf {
		int		 nginx;
		double		 interval;	/* their metrics' */
	} discover;

	struct periodic_conf {
		char		*heartbeat_url;
		double		 heartbeat_interval;
		double		 config_interval;
	} periodic;

	struct sink_conf {
		int		 enabled;
		char		*bind;
		int		 port;
		char		*api_key;
	} sink;

	/*
	 * Drains shared by a fleet, from etcd (ferry-fleet): it runs when
	 * etcd lists at least one endpoint.
	 */
	struct fleet_conf {
		char		**etcd;		/* "http://127.0.0.1:2379", ... */
		size_t		 netcd;
		char		*prefix;	/* "/ferry/": starts and ends with / */
		char		*group;		/* "": in no group */
		char		*username;	/* "": no etcd authentication */
		char		*password;
		int		 allow_file;	/* file:// drains from etcd */
		char		*ca_file;	/* "": the system's CAs */
		char		*cert_file;	/* TLS client certificate */
		char		*key_file;
		double		 heartbeat_interval;
	} fleet;

	char	*path;		/* the main file this was loaded from */
	/*
	 * The keys a FERRY_* environment variable set, as "api_key" or
	 * "receiver.tcp_port", in the order they were applied.
	 */
	char	**env_keys;
	size_t	  nenv_keys;
	/*
	 * The files read that set a secret (a CONF_SECRET key, a URI with a
	 * password) and that others may read: whoever loads the
	 * configuration for an operator to see warns about each.
	 */
	char	**exposed;
	size_t	  nexposed;
};

/* The main configuration file: -c FILE, else $FERRY_ROOT/etc/opt/ferry/ferry.conf. */
const char	*conf_default_path(void);
/*
 * The conf.d beside the main file path, as conf_load() reads it. 0, or -1
 * when it does not fit in size.
 */
int		 conf_confd_dir(const char *, char *, size_t);
/*
 * The directory of the fragments ferry-fleet writes, beside the main file
 * path: conf.d/fleet. 0, or -1 when it does not fit in size.
 */
int		 conf_fleet_dir(const char *, char *, size_t);
/*
 * The fragments of a conf.d (or conf.d/fleet) as conf_load() chooses and
 * orders them: each *.conf not starting with a dot, in name order. Their
 * names (not paths), NULL-terminated, to free with conf_strings_free(); or
 * NULL with errno set when dir cannot be read (ENOENT: there is none).
 */
char		**conf_fragments(const char *);
/*
 * Load path, the conf.d/ beside it, then conf.d/fleet/ (output sections
 * only). Returns a new configuration, or NULL with errs filled in. A
 * missing main file is an error; a missing conf.d is not.
 */
struct ferry_conf *conf_load(const char *, struct conf_errors *);
void		 conf_free(struct ferry_conf *);
/* Warn (log_warnx) about each file that sets a secret others may read. */
void		 conf_warn_exposed(const struct ferry_conf *);
/* Log every error with file and line through log_warnx(). */
void		 conf_log_errors(const struct conf_errors *);
/* "file:line: msg" for one error, into buf. */
const char	*conf_error_str(const struct conf_error *, char *, size_t);
/* Parse "10M", "64K", "1G", "4096" into bytes; -1 on error. */
int		 conf_parse_size(const char *, uint64_t *);
/* 1 when two outputs' connection settings differ in any key, else 0. */
int		 conf_conn_differ(const struct conn_conf *, const struct conn_conf *);
/*
 * The outputs the forwarder runs, by name, into names (room for
 * noutputs + 1): the configured ones, then CONF_HEARTBEAT_OUTPUT when
 * periodic.heartbeat_url is set. Returns how many. Their cursors and state
 * rows are the ones kept in ferry.db.
 */
#define CONF_HEARTBEAT_OUTPUT	"@heartbeat"
size_t		 conf_output_names(const struct ferry_conf *, const char **);

enum conf_key_type {
	CONF_KEY_STR,
	CONF_KEY_LIST,		/* of strings */
	CONF_KEY_INT,
	CONF_KEY_SIZE,		/* bytes, "10M" */
	CONF_KEY_FLOAT,
	CONF_KEY_BOOL,
	CONF_KEY_ENUM		/* one of a few words, an int in the struct */
};

/*
 * Every key conf_load() knows, in the order of the file, as (section path:
 * "" at the top level, "receiver", "log.redact"; key name; type; arg):
 * a section's keys, then the sections in it. The table itself is in
 * confkeys.h; this is the short view the tests of every key walk.
 */
void		 conf_key_each(void (*)(const char *, const char *,
		    enum conf_key_type, void *), void *);
/*
 * The names of the output sections written in one file, read alone (no
 * conf.d, no environment): a NULL-terminated array to free with
 * conf_strings_free(), or NULL with errs filled in.
 */
char		**conf_file_outputs(const char *, struct conf_errors *);
void		 conf_strings_free(char **);

#endif
