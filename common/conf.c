/*
 * conf: reads ferry.conf and conf.d/<name>.conf with libconfuse and hands out a
 * typed struct ferry_conf. cfg_t never leaves this file.
 *
 * Each file (ferry.conf, then conf.d fragments in name order) is read into
 * memory, stripped of its comments and parsed into the same cfg_t, so later
 * files add to earlier ones. Comments are stripped here, with their newlines
 * kept, because libconfuse 3.3 miscounts lines after a comment; and each
 * file is parsed on its own rather than through include(), because a parse
 * error inside an include leaks libconfuse's include stack for good. Ranges
 * are checked in the value parse callbacks: that is the moment libconfuse
 * still knows the line. FERRY_<KEY> and FERRY_<SECTION>_<KEY> environment variables are
 * applied after the files, through the same callbacks, so they are checked
 * by the same rules.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "conf.h"
#include "dnsfallback.h"
#include "log.h"
#include "metric.h"
#include "path.h"
#include "url.h"

struct num_range {
	const char	*section;	/* NULL: top level */
	const char	*name;
	double		 min;
	double		 max;
};

/* One row per numeric key: the bounds a value must fall within. */
static const struct num_range ranges[] = {
	{ "receiver", "tcp_port", 0, 65535 },
	{ "receiver", "udp_port", 0, 65535 },
	{ "receiver", "flush_interval", 0.01, 3600 },
	{ "receiver", "max_line", 64, 1048576 },
	{ "receiver", "idle_timeout", 0.1, 86400 },
	{ "receiver", "max_connections", 1, 65536 },
	{ "spool", "segment_size", 4096, 1ULL << 40 },
	{ "spool", "max_size", 65536, 1ULL << 50 },
	{ "spool", "memory_max_size", 0, 1ULL << 40 },
	{ "forwarder", "batch_size", 1, 100000 },
	{ "forwarder", "batch_timeout", 0.001, 3600 },
	{ "forwarder", "retry_max", 0.1, 86400 },
	{ "forwarder", "connect_timeout", 0.1, 600 },
	{ "forwarder", "keepalive_idle", 1, 32767 },	/* Linux's bounds */
	{ "forwarder", "keepalive_interval", 1, 32767 },
	{ "forwarder", "keepalive_probes", 1, 127 },
	{ "output", "connect_timeout", 0.1, 600 },
	{ "output", "keepalive_idle", 1, 32767 },
	{ "output", "keepalive_interval", 1, 32767 },
	{ "output", "keepalive_probes", 1, 127 },
	{ "log", "max_line", 256, 16 << 20 },
	{ "collectors", "interval", 0.1, 86400 },
	{ "collectors", "timeout", 0.1, 86400 },
	{ "collector", "interval", 0.1, 86400 },
	{ "collector", "timeout", 0.1, 86400 },
	{ "collectors", "max_lines", 1, 10000000 },
	{ "collectors", "max_bytes_per_second", 1024, 1ULL << 30 },
	{ "collectors", "scan_interval", 0.1, 3600 },
	{ "collector", "max_lines", 1, 10000000 },
	{ "collector", "max_bytes_per_second", 1024, 1ULL << 30 },
	{ "sample", "rate", 0, 1 },
	{ "periodic", "heartbeat_interval", 1, 86400 },
	{ "periodic", "config_interval", 0.1, 86400 },
	{ "sink", "port", 1, 65535 },
};

static struct conf_errors	*cur_errs;
static const char		*cur_env;	/* set while applying FERRY_* */
static cfg_t			*cur_root;	/* knows the line being read */
static const char		*cur_file;	/* the file being parsed */

static void
conf_error_add(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
conf_error_add(const char *file, int line, const char *fmt, ...)
{
	struct conf_error	*e;
	va_list			 ap;

	if (cur_errs == NULL)
		return;
	if (cur_errs->n == CONF_ERRORS_MAX) {
		cur_errs->dropped++;
		return;
	}
	e = &cur_errs->e[cur_errs->n++];
	snprintf(e->file, sizeof(e->file), "%s", file ? file : "");
	e->line = line;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
}

/*
 * The edit distance of a and b, ignoring case (optimal string alignment:
 * an insertion, a deletion, a substitution or a swap of two neighbours
 * costs 1), for names of up to 63 characters; 99 beyond.
 */
static int
edit_distance(const char *a, const char *b)
{
	int	d[64][64], i, j, la = strlen(a), lb = strlen(b), cost, v;

	if (la >= 64 || lb >= 64)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) ==
			    tolower((unsigned char)b[j - 1]) &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/*
 * The option of section cfg closest to name, or NULL when none is close
 * enough to be the one meant: at most a third of name's length away (at
 * least 1, at most 3), so "hostnme" finds "hostname" and "foo" nothing.
 */
static const char *
closest_option(cfg_t *cfg, const char *name)
{
	cfg_opt_t	*opt;
	const char	*best = NULL;
	int		 d, bestd, maxd = strlen(name) / 3;

	if (maxd < 1)
		maxd = 1;
	if (maxd > 3)
		maxd = 3;
	bestd = maxd + 1;
	for (opt = cfg->opts; opt->name != NULL; opt++) {
		if (opt->type == CFGT_FUNC)
			continue;
		if ((d = edit_distance(name, opt->name)) < bestd) {
			bestd = d;
			best = opt->name;
		}
	}
	return best;
}

/* " in receiver", " in output \"hg\"", or "" at the top level. */
static void
section_words(cfg_t *cfg, char *buf, size_t size)
{
	if (strcmp(cfg->name, "root") == 0)
		buf[0] = '\0';
	else if (cfg->title != NULL)
		snprintf(buf, size, " in %s \"%s\"", cfg->name, cfg->title);
	else
		snprintf(buf, size, " in %s", cfg->name);
}

/*
 * The kind of titled section of cfg that already holds one titled title
 * ("output"), for the message about a second one; NULL when none does.
 */
static const char *
titled_kind(cfg_t *cfg, const char *title)
{
	cfg_opt_t	*opt;
	unsigned int	 i;

	for (opt = cfg->opts; opt->name != NULL; opt++) {
		if (opt->type != CFGT_SEC || !(opt->flags & CFGF_TITLE))
			continue;
		for (i = 0; i < cfg_opt_size(opt); i++)
			if (strcmp(cfg_title(cfg_opt_getnsec(opt, i)), title) == 0)
				return opt->name;
	}
	return NULL;
}

/*
 * libconfuse's messages that an operator would have to puzzle over, in
 * ferry's words: an unknown key is named with the closest valid one of its
 * section, and a duplicate section with its kind. msg is rewritten in place.
 */
static void
rewrite_message(cfg_t *cfg, char *msg, size_t size)
{
	char		 name[128], where[96], keys[160];
	const char	*best, *kind;
	cfg_opt_t	*opt;
	size_t		 len;

	if (sscanf(msg, "no such option '%127[^']'", name) == 1) {
		section_words(cfg, where, sizeof(where));
		if ((best = closest_option(cfg, name)) != NULL) {
			snprintf(msg, size, "unknown key \"%s\"%s; did you mean "
			    "\"%s\"?", name, where, best);
			return;
		}
		keys[0] = '\0';
		for (opt = cfg->opts; opt->name != NULL; opt++)
			if (opt->type != CFGT_FUNC)
				snprintf(keys + strlen(keys), sizeof(keys) -
				    strlen(keys), "%s%s", keys[0] ? ", " : "",
				    opt->name);
		len = snprintf(msg, size, "unknown key \"%s\"%s", name, where);
		/* The valid keys, when they fit. */
		if (len + strlen(keys) + 16 < size && strlen(keys) + 1 <
		    sizeof(keys))
			snprintf(msg + len, size - len, " (valid keys: %s)", keys);
		return;
	}
	if (sscanf(msg, "found duplicate title '%127[^']'", name) == 1 &&
	    (kind = titled_kind(cfg, name)) != NULL) {
		snprintf(msg, size, "%s \"%s\" is defined twice: each %s needs "
		    "a name of its own", kind, name, kind);
		return;
	}
	if (sscanf(msg, "invalid boolean value for option '%127[^']'",
	    name) == 1) {
		section_words(cfg, where, sizeof(where));
		snprintf(msg, size, "%s%s: not a boolean (true or false)", name,
		    where);
	}
}

static void
conf_errfunc(cfg_t *cfg, const char *fmt, va_list ap)
{
	char	msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	rewrite_message(cfg, msg, sizeof(msg));
	if (cur_env != NULL)
		conf_error_add(cur_env, 0, "%s", msg);
	else
		conf_error_add(cur_file, cfg->line ? cfg->line :
		    (cur_root ? cur_root->line : 0), "%s", msg);
}

static const struct num_range *
range_find(const char *section, const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		if (strcmp(ranges[i].name, name) != 0)
			continue;
		if ((ranges[i].section == NULL && section == NULL) ||
		    (ranges[i].section != NULL && section != NULL &&
		    strcmp(ranges[i].section, section) == 0))
			return &ranges[i];
	}
	return NULL;
}

static const char *
section_of(cfg_t *cfg)
{
	return strcmp(cfg->name, "root") == 0 ? NULL : cfg->name;
}

static int
range_check(cfg_t *cfg, cfg_opt_t *opt, double v, const char *text)
{
	const struct num_range	*r = range_find(section_of(cfg), opt->name);

	if (r == NULL || (v >= r->min && v <= r->max))
		return 0;
	cfg_error(cfg, "%s%s%s = %s is out of range (%g to %g)",
	    section_of(cfg) ? section_of(cfg) : "", section_of(cfg) ? "." : "",
	    opt->name, text, r->min, r->max);
	return -1;
}

int
conf_parse_size(const char *s, uint64_t *out)
{
	char		*end;
	unsigned long long v;
	uint64_t	 mult = 1;

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

static int
size_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	uint64_t	v;

	if (conf_parse_size(value, &v) == -1 || v > LONG_MAX) {
		cfg_error(cfg, "%s = %s: not a size (a number, optionally "
		    "followed by K, M or G)", opt->name, value);
		return -1;
	}
	if (range_check(cfg, opt, (double)v, value) == -1)
		return -1;
	*(long *)result = (long)v;
	return 0;
}

static int
int_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0') {
		cfg_error(cfg, "%s = %s: not a whole number", opt->name, value);
		return -1;
	}
	if (range_check(cfg, opt, (double)v, value) == -1)
		return -1;
	*(long *)result = v;
	return 0;
}

static int
float_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(value, &end);
	if (errno != 0 || end == value || *end != '\0' || v != v) {
		cfg_error(cfg, "%s = %s: not a number of seconds", opt->name,
		    value);
		return -1;
	}
	if (range_check(cfg, opt, v, value) == -1)
		return -1;
	*(double *)result = v;
	return 0;
}

/* "inline", "daemon" or "interval": the ways a collector can run. */
static int
mode_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	if (strcmp(value, "interval") != 0 && strcmp(value, "daemon") != 0 &&
	    strcmp(value, "inline") != 0) {
		cfg_error(cfg, "%s = \"%s\": must be \"inline\", \"daemon\" or "
		    "\"interval\"", opt->name, value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

/* A prefix is the first part of metric names: no blanks, no empty part. */
static int
prefix_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct metric	m;
	char		line[600];

	snprintf(line, sizeof(line), "%s.x 1", value);
	if (value[0] == '\0' || strlen(value) > 255 ||
	    metric_parse(line, strlen(line), &m) != METRIC_OK) {
		cfg_error(cfg, "%s = \"%s\" is not a metric name part", opt->name,
		    value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

static int
mode_value(const char *s)
{
	if (s != NULL && strcmp(s, "daemon") == 0)
		return COLLECTOR_MODE_DAEMON;
	if (s != NULL && strcmp(s, "interval") == 0)
		return COLLECTOR_MODE_INTERVAL;
	if (s != NULL && strcmp(s, "inline") == 0)
		return COLLECTOR_MODE_INLINE;
	return COLLECTOR_MODE_DEFAULT;
}

/* Called as an output section closes, while the file and line are known. */
static int
validate_output(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t		*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	const char	*uri = cfg_getstr(sec, "uri");
	struct url	 u;
	char		 err[256];

	if (uri == NULL || uri[0] == '\0') {
		cfg_error(cfg, "output \"%s\": uri is %s", cfg_title(sec),
		    uri == NULL ? "missing" : "empty");
		return -1;
	}
	if (url_parse(uri, &u, err, sizeof(err)) == -1) {
		cfg_error(cfg, "output \"%s\": %s", cfg_title(sec), err);
		return -1;
	}
	return 0;
}

static cfg_opt_t receiver_opts[] = {
	CFG_STR("bind", "127.0.0.1", CFGF_NONE),
	CFG_INT_CB("tcp_port", 2003, CFGF_NONE, int_cb),
	CFG_INT_CB("udp_port", 2003, CFGF_NONE, int_cb),
	CFG_FLOAT_CB("flush_interval", 1.0, CFGF_NONE, float_cb),
	CFG_INT_CB("max_line", 4096, CFGF_NONE, size_cb),
	CFG_FLOAT_CB("idle_timeout", 60.0, CFGF_NONE, float_cb),
	CFG_INT_CB("max_connections", 1024, CFGF_NONE, int_cb),
	CFG_END()
};

static cfg_opt_t spool_opts[] = {
	CFG_INT_CB("segment_size", 10L << 20, CFGF_NONE, size_cb),
	CFG_INT_CB("max_size", 100L << 20, CFGF_NONE, size_cb),
	CFG_BOOL("fsync", cfg_true, CFGF_NONE),
	CFG_STR("memory_dir", NULL, CFGF_NONE),
	CFG_INT_CB("memory_max_size", 64L << 20, CFGF_NONE, size_cb),
	CFG_END()
};

/* A CA file must be there now: a typo would fail every request, forever. */
static int
ca_file_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	struct stat	st;

	if (value[0] != '\0' && value[0] != '/') {
		cfg_error(cfg, "%s = \"%s\": not an absolute path", opt->name,
		    value);
		return -1;
	}
	if (value[0] != '\0' && stat(value, &st) == -1) {
		cfg_error(cfg, "%s = \"%s\": %s", opt->name, value,
		    strerror(errno));
		return -1;
	}
	if (value[0] != '\0' && !S_ISREG(st.st_mode)) {
		cfg_error(cfg, "%s = \"%s\": not a file", opt->name, value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

/* One entry of dns_servers: an address, not a name, with an optional port. */
static int
dns_server_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	if (dnsfallback_server_parse(value, NULL, 0) == -1) {
		cfg_error(cfg, "%s: \"%s\" is not an IP address with an "
		    "optional port (\"192.0.2.1\", \"192.0.2.1:5353\", "
		    "\"[2001:db8::1]:53\")", opt->name, value);
		return -1;
	}
	*(const char **)result = value;
	return 0;
}

/*
 * How an http(s) output connects: the defaults in forwarder { }, and the
 * same keys in an output section override them for that output.
 */
#define CONN_OPTS \
	CFG_FLOAT_CB("connect_timeout", 5.0, CFGF_NONE, float_cb), \
	CFG_INT_CB("keepalive_idle", 1, CFGF_NONE, int_cb), \
	CFG_INT_CB("keepalive_interval", 1, CFGF_NONE, int_cb), \
	CFG_INT_CB("keepalive_probes", 3, CFGF_NONE, int_cb), \
	CFG_STR_CB("ca_file", "", CFGF_NONE, ca_file_cb), \
	CFG_STR_LIST_CB("dns_servers", "{}", CFGF_NONE, dns_server_cb)

static cfg_opt_t forwarder_opts[] = {
	CFG_INT_CB("batch_size", 250, CFGF_NONE, int_cb),
	CFG_FLOAT_CB("batch_timeout", 0.5, CFGF_NONE, float_cb),
	CFG_FLOAT_CB("retry_max", 30.0, CFGF_NONE, float_cb),
	CONN_OPTS,
	CFG_END()
};

static cfg_opt_t output_opts[] = {
	CFG_STR("uri", NULL, CFGF_NODEFAULT),
	CFG_STR("api_key", "", CFGF_NONE),
	CONN_OPTS,
	CFG_END()
};

static cfg_opt_t redact_opts[] = {
	CFG_STR("match", NULL, CFGF_NODEFAULT),
	CFG_STR("replace", "", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t sample_opts[] = {
	CFG_STR("match", NULL, CFGF_NODEFAULT),
	CFG_FLOAT_CB("rate", 1.0, CFGF_NONE, float_cb),
	CFG_END()
};

static cfg_opt_t log_opts[] = {
	CFG_STR("path", NULL, CFGF_NODEFAULT),
	CFG_STR("key", "", CFGF_NONE),
	CFG_INT_CB("max_line", 64L << 10, CFGF_NONE, size_cb),
	CFG_STR_LIST("attributes", "{}", CFGF_NONE),
	CFG_SEC("redact", redact_opts, CFGF_MULTI),
	CFG_SEC("sample", sample_opts, CFGF_MULTI),
	CFG_END()
};

static cfg_opt_t collectors_opts[] = {
	CFG_FLOAT_CB("interval", 10.0, CFGF_NONE, float_cb),
	CFG_FLOAT_CB("timeout", 10.0, CFGF_NONE, float_cb),
	CFG_STR("drop_dir", NULL, CFGF_NONE),
	CFG_BOOL("archive", cfg_false, CFGF_NONE),
	CFG_STR_CB("builtin_mode", "inline", CFGF_NONE, mode_cb),
	CFG_INT_CB("max_lines", 10000, CFGF_NONE, int_cb),
	CFG_INT_CB("max_bytes_per_second", 128L << 10, CFGF_NONE, size_cb),
	CFG_FLOAT_CB("scan_interval", 30.0, CFGF_NONE, float_cb),
	CFG_STR("builtin_dir", NULL, CFGF_NONE),
	CFG_STR("custom_dir", NULL, CFGF_NONE),
	CFG_END()
};

static cfg_opt_t collector_opts[] = {
	CFG_BOOL("enabled", cfg_true, CFGF_NONE),
	CFG_FLOAT_CB("interval", 10.0, CFGF_NONE, float_cb),
	CFG_FLOAT_CB("timeout", 10.0, CFGF_NONE, float_cb),
	CFG_STR_LIST("args", "{}", CFGF_NONE),
	CFG_STR_CB("mode", NULL, CFGF_NONE, mode_cb),
	CFG_INT_CB("max_lines", 10000, CFGF_NONE, int_cb),
	CFG_INT_CB("max_bytes_per_second", 128L << 10, CFGF_NONE, size_cb),
	CFG_END()
};

static cfg_opt_t periodic_opts[] = {
	CFG_STR("heartbeat_url", "", CFGF_NONE),
	CFG_FLOAT_CB("heartbeat_interval", 60.0, CFGF_NONE, float_cb),
	CFG_FLOAT_CB("config_interval", 10.0, CFGF_NONE, float_cb),
	CFG_END()
};

static cfg_opt_t sink_opts[] = {
	CFG_BOOL("enabled", cfg_false, CFGF_NONE),
	CFG_STR("bind", "127.0.0.1", CFGF_NONE),
	CFG_INT_CB("port", 8080, CFGF_NONE, int_cb),
	CFG_STR("api_key", "", CFGF_NONE),
	CFG_END()
};

static cfg_opt_t root_opts[] = {
	CFG_STR("hostname", "", CFGF_NONE),
	CFG_STR_CB("prefix", "servers", CFGF_NONE, prefix_cb),
	CFG_STR("api_key", "", CFGF_NONE),
	CFG_STR("user", "ferry", CFGF_NONE),
	CFG_SEC("receiver", receiver_opts, CFGF_NONE),
	CFG_SEC("spool", spool_opts, CFGF_NONE),
	CFG_SEC("forwarder", forwarder_opts, CFGF_NONE),
	CFG_SEC("output", output_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("log", log_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("collectors", collectors_opts, CFGF_NONE),
	CFG_SEC("collector", collector_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_SEC("periodic", periodic_opts, CFGF_NONE),
	CFG_SEC("sink", sink_opts, CFGF_NONE),
	CFG_END()
};

const char *
conf_default_path(void)
{
	static char	path[4096];

	if (path_get(path, sizeof(path), PATH_CONF) == NULL)
		return PATH_CONF;
	return path;
}

const char *
conf_error_str(const struct conf_error *e, char *buf, size_t size)
{
	if (e->line > 0)
		snprintf(buf, size, "%s:%d: %s", e->file, e->line, e->msg);
	else if (e->file[0] != '\0')
		snprintf(buf, size, "%s: %s", e->file, e->msg);
	else
		snprintf(buf, size, "%s", e->msg);
	return buf;
}

void
conf_log_errors(const struct conf_errors *errs)
{
	char	buf[600];
	int	i;

	for (i = 0; i < errs->n; i++)
		log_warnx("%s", conf_error_str(&errs->e[i], buf, sizeof(buf)));
	if (errs->dropped > 0)
		log_warnx("... and %d more configuration errors", errs->dropped);
}

#define CONF_FILE_MAX	(4 * 1024 * 1024)

/* The whole file, NUL-terminated; NULL (error recorded) on failure. */
static char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		conf_error_add(path, 0, "%s", strerror(errno));
		return NULL;
	}
	if ((buf = malloc(CONF_FILE_MAX + 1)) == NULL)
		fatal("malloc");
	n = fread(buf, 1, CONF_FILE_MAX + 1, f);
	fclose(f);
	if (n > CONF_FILE_MAX) {
		conf_error_add(path, 0, "larger than %d bytes", CONF_FILE_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/*
 * Blank out "#" and "//" comments to the end of the line and C comments,
 * keeping every newline, and leaving quoted strings alone. Also check what
 * libconfuse lets pass at the end of a file: a section never closed, a
 * string never ended. 0, or -1 with the error recorded.
 */
static int
strip_comments(char *p, const char *path)
{
	int	line = 1, quote_line = 0, open_line[16], depth = 0;
	char	quote = 0;

	for (; *p != '\0'; p++) {
		if (*p == '\n')
			line++;
		if (quote) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
			quote_line = line;
		} else if (*p == '{') {
			if (depth < 16)
				open_line[depth] = line;
			depth++;
		} else if (*p == '}') {
			if (depth > 0)
				depth--;
		} else if (*p == '#' || (*p == '/' && p[1] == '/')) {
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
			if (*p == '\0')
				break;
			line++;		/* the loop steps over this newline */
		} else if (*p == '/' && p[1] == '*') {
			while (*p != '\0' && !(*p == '*' && p[1] == '/')) {
				if (*p == '\n')
					line++;
				else
					*p = ' ';
				p++;
			}
			if (*p == '\0')
				break;
			p[0] = p[1] = ' ';
			p++;
		}
	}
	if (quote) {
		conf_error_add(path, quote_line, "a string that starts here is "
		    "never closed");
		return -1;
	}
	if (depth > 0) {
		conf_error_add(path, open_line[depth > 16 ? 15 : depth - 1],
		    "a section that starts here is never closed (missing '}')");
		return -1;
	}
	return 0;
}

/* Parse one file into cfg; 0, or -1 with its errors recorded. */
static int
parse_file(cfg_t *cfg, const char *path)
{
	char	*text;
	int	 rc, before = cur_errs->n;

	if ((text = read_file(path)) == NULL)
		return -1;
	if (strip_comments(text, path) == -1) {
		free(text);
		return -1;
	}
	cur_file = path;
	rc = cfg_parse_buf(cfg, text);
	cur_file = NULL;
	free(text);
	if (rc != CFG_SUCCESS && cur_errs->n == before)
		conf_error_add(path, 0, "cannot be parsed");
	return rc == CFG_SUCCESS && cur_errs->n == before ? 0 : -1;
}

static int
is_fragment(const struct dirent *d)
{
	size_t	n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 5 &&
	    strcmp(d->d_name + n - 5, ".conf") == 0;
}

/* Parse path, then the conf.d beside it in name order; 0 or -1. */
static int
parse_all(cfg_t *cfg, const char *path)
{
	struct dirent	**ents = NULL;
	char		 dir[4096], frag[4096], *slash;
	int		 n, i, rc;

	rc = parse_file(cfg, path);
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	strlcat(dir, "/conf.d", sizeof(dir));
	n = scandir(dir, &ents, is_fragment, alphasort);
	for (i = 0; i < n; i++) {
		if (rc == 0 && (strlcpy(frag, dir, sizeof(frag)) >= sizeof(frag) ||
		    strlcat(frag, "/", sizeof(frag)) >= sizeof(frag) ||
		    strlcat(frag, ents[i]->d_name, sizeof(frag)) >= sizeof(frag))) {
			conf_error_add(dir, 0, "%s: path too long", ents[i]->d_name);
			rc = -1;
		}
		/* Stop at the first broken file: later errors may be echoes. */
		if (rc == 0)
			rc = parse_file(cfg, frag);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static void
env_name(char *buf, size_t size, const char *section, const char *key)
{
	char	*p;

	if (section != NULL)
		snprintf(buf, size, "FERRY_%s_%s", section, key);
	else
		snprintf(buf, size, "FERRY_%s", key);
	for (p = buf; *p; p++)
		*p = toupper((unsigned char)*p);
}

/*
 * The keys FERRY_* variables set in the load under way ("api_key",
 * "receiver.tcp_port"), handed to the struct ferry_conf it makes, so that
 * ferryctl check-config --effective can say where a value came from.
 */
static char	**env_keys;
static size_t	  nenv_keys;

static void
env_keys_clear(void)
{
	size_t	i;

	for (i = 0; i < nenv_keys; i++)
		free(env_keys[i]);
	free(env_keys);
	env_keys = NULL;
	nenv_keys = 0;
}

static void
env_keys_add(const char *section, const char *key)
{
	char	**v;

	if ((v = reallocarray(env_keys, nenv_keys + 1, sizeof(*v))) == NULL)
		fatal("reallocarray");
	env_keys = v;
	if (asprintf(&v[nenv_keys], "%s%s%s", section != NULL ? section : "",
	    section != NULL ? "." : "", key) == -1)
		fatal("asprintf");
	nenv_keys++;
}

/* Hand the keys over to c, which frees them in conf_free(). */
static void
env_keys_give(struct ferry_conf *c)
{
	c->env_keys = env_keys;
	c->nenv_keys = nenv_keys;
	env_keys = NULL;
	nenv_keys = 0;
}

/* FERRY_<KEY> and FERRY_<SECTION>_<KEY> for the scalar keys of one section. */
static int
apply_env_section(cfg_t *cfg, const char *section)
{
	char		 name[128];
	const char	*v;
	cfg_opt_t	*opt;
	int		 rc = 0;

	/* A section absent from the files has no error function of its own. */
	cfg_set_error_function(cfg, conf_errfunc);
	for (opt = cfg->opts; opt->name != NULL; opt++) {
		if (opt->type == CFGT_SEC || opt->type == CFGT_FUNC ||
		    opt->flags & CFGF_LIST)
			continue;
		env_name(name, sizeof(name), section, opt->name);
		if ((v = getenv(name)) == NULL)
			continue;
		cur_env = name;
		if (cfg_setopt(cfg, opt, v) == NULL)
			rc = -1;
		else
			env_keys_add(section, opt->name);
		cur_env = NULL;
	}
	return rc;
}

static int
apply_env(cfg_t *cfg)
{
	static const char *sections[] = { "receiver", "spool", "forwarder",
	    "collectors", "periodic", "sink" };
	size_t	i;
	int	rc = apply_env_section(cfg, NULL);

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (apply_env_section(cfg_getsec(cfg, sections[i]), sections[i]) == -1)
			rc = -1;
	return rc;
}

static char *
xstrdup(const char *s)
{
	char	*p = strdup(s != NULL ? s : "");

	if (p == NULL)
		fatal("strdup");
	return p;
}

static void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size);

	if (p == NULL)
		fatal("calloc");
	return p;
}

static char **
strlist(cfg_t *cfg, const char *name, size_t *n)
{
	char	**v;
	size_t	  i;

	*n = cfg_size(cfg, name);
	v = xcalloc(*n + 1, sizeof(char *));
	for (i = 0; i < *n; i++)
		v[i] = xstrdup(cfg_getnstr(cfg, name, i));
	return v;
}

/* A default path under FERRY_ROOT, or the configured one as written. */
static char *
conf_path(cfg_t *sec, const char *key, const char *fhs)
{
	char		 buf[4096];
	const char	*v = cfg_getstr(sec, key);

	if (v != NULL && v[0] != '\0')
		return xstrdup(v);
	return xstrdup(path_get(buf, sizeof(buf), fhs));
}

static void
fill_logs(cfg_t *cfg, struct ferry_conf *c)
{
	size_t	i, j;

	c->nlogs = cfg_size(cfg, "log");
	c->logs = xcalloc(c->nlogs, sizeof(*c->logs));
	for (i = 0; i < c->nlogs; i++) {
		cfg_t		*s = cfg_getnsec(cfg, "log", i);
		struct log_conf	*l = &c->logs[i];

		l->name = xstrdup(cfg_title(s));
		l->path = xstrdup(cfg_getstr(s, "path"));
		l->key = xstrdup(cfg_getstr(s, "key"));
		l->max_line = cfg_getint(s, "max_line");
		l->attributes = strlist(s, "attributes", &l->nattributes);
		l->nredact = cfg_size(s, "redact");
		l->redact = xcalloc(l->nredact, sizeof(*l->redact));
		for (j = 0; j < l->nredact; j++) {
			cfg_t *r = cfg_getnsec(s, "redact", j);
			l->redact[j].match = xstrdup(cfg_getstr(r, "match"));
			l->redact[j].replace = xstrdup(cfg_getstr(r, "replace"));
		}
		l->nsample = cfg_size(s, "sample");
		l->sample = xcalloc(l->nsample, sizeof(*l->sample));
		for (j = 0; j < l->nsample; j++) {
			cfg_t *r = cfg_getnsec(s, "sample", j);
			l->sample[j].match = xstrdup(cfg_getstr(r, "match"));
			l->sample[j].rate = cfg_getfloat(r, "rate");
		}
	}
}

/* Whether key was written in section s (or set from the environment). */
static int
is_set(cfg_t *s, const char *key)
{
	cfg_opt_t	*opt = cfg_getopt(s, key);

	return opt != NULL && (opt->flags & CFGF_MODIFIED);
}

/*
 * The connection keys of section s; what s leaves out comes from def (the
 * forwarder section's, already filled) unless def is NULL.
 */
static void
fill_conn(cfg_t *s, const struct conn_conf *def, struct conn_conf *cc)
{
	size_t	i;

	cc->connect_timeout = def != NULL && !is_set(s, "connect_timeout") ?
	    def->connect_timeout : cfg_getfloat(s, "connect_timeout");
	cc->keepalive_idle = def != NULL && !is_set(s, "keepalive_idle") ?
	    def->keepalive_idle : cfg_getint(s, "keepalive_idle");
	cc->keepalive_interval = def != NULL && !is_set(s, "keepalive_interval") ?
	    def->keepalive_interval : cfg_getint(s, "keepalive_interval");
	cc->keepalive_probes = def != NULL && !is_set(s, "keepalive_probes") ?
	    def->keepalive_probes : cfg_getint(s, "keepalive_probes");
	cc->ca_file = xstrdup(def != NULL && !is_set(s, "ca_file") ?
	    def->ca_file : cfg_getstr(s, "ca_file"));
	if (def == NULL || is_set(s, "dns_servers")) {
		cc->dns_servers = strlist(s, "dns_servers", &cc->ndns_servers);
		return;
	}
	cc->ndns_servers = def->ndns_servers;
	cc->dns_servers = xcalloc(cc->ndns_servers + 1, sizeof(char *));
	for (i = 0; i < cc->ndns_servers; i++)
		cc->dns_servers[i] = xstrdup(def->dns_servers[i]);
}

/*
 * The collector "NAME" sections. What a section leaves out comes from the
 * collectors section, so `collectors { interval = 1 }` speeds up every
 * collector that does not say otherwise.
 */
static void
fill_collectors(cfg_t *cfg, struct ferry_conf *c)
{
	const struct collectors_conf	*all = &c->collectors;
	struct collector_conf		*cc;
	cfg_t				*s;
	size_t				 i;

	c->ncollector = cfg_size(cfg, "collector");
	c->collector = xcalloc(c->ncollector, sizeof(*c->collector));
	for (i = 0; i < c->ncollector; i++) {
		s = cfg_getnsec(cfg, "collector", i);
		cc = &c->collector[i];
		cc->name = xstrdup(cfg_title(s));
		cc->enabled = cfg_getbool(s, "enabled");
		cc->interval = is_set(s, "interval") ?
		    cfg_getfloat(s, "interval") : all->interval;
		cc->timeout = is_set(s, "timeout") ?
		    cfg_getfloat(s, "timeout") : all->timeout;
		cc->args = strlist(s, "args", &cc->nargs);
		cc->mode = mode_value(cfg_getstr(s, "mode"));
		cc->max_lines = is_set(s, "max_lines") ?
		    (uint64_t)cfg_getint(s, "max_lines") : all->max_lines;
		cc->max_bytes_per_second = is_set(s, "max_bytes_per_second") ?
		    (uint64_t)cfg_getint(s, "max_bytes_per_second") :
		    all->max_bytes_per_second;
	}
}

static void
fill(cfg_t *cfg, struct ferry_conf *c)
{
	cfg_t	*s;
	char	 host[256];
	size_t	 i;

	c->hostname = xstrdup(cfg_getstr(cfg, "hostname"));
	if (c->hostname[0] == '\0' && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		free(c->hostname);
		c->hostname = xstrdup(host);
	}
	c->prefix = xstrdup(cfg_getstr(cfg, "prefix"));
	c->api_key = xstrdup(cfg_getstr(cfg, "api_key"));
	c->user = xstrdup(cfg_getstr(cfg, "user"));

	s = cfg_getsec(cfg, "receiver");
	c->receiver.bind = xstrdup(cfg_getstr(s, "bind"));
	c->receiver.tcp_port = cfg_getint(s, "tcp_port");
	c->receiver.udp_port = cfg_getint(s, "udp_port");
	c->receiver.flush_interval = cfg_getfloat(s, "flush_interval");
	c->receiver.max_line = cfg_getint(s, "max_line");
	c->receiver.idle_timeout = cfg_getfloat(s, "idle_timeout");
	c->receiver.max_connections = cfg_getint(s, "max_connections");

	s = cfg_getsec(cfg, "spool");
	c->spool.segment_size = cfg_getint(s, "segment_size");
	c->spool.max_size = cfg_getint(s, "max_size");
	c->spool.fsync = cfg_getbool(s, "fsync");
	c->spool.memory_dir = conf_path(s, "memory_dir", PATH_MEMSPOOL);
	c->spool.memory_max_size = cfg_getint(s, "memory_max_size");

	s = cfg_getsec(cfg, "forwarder");
	c->forwarder.batch_size = cfg_getint(s, "batch_size");
	c->forwarder.batch_timeout = cfg_getfloat(s, "batch_timeout");
	c->forwarder.retry_max = cfg_getfloat(s, "retry_max");
	fill_conn(s, NULL, &c->forwarder.conn);

	c->noutputs = cfg_size(cfg, "output");
	c->outputs = xcalloc(c->noutputs, sizeof(*c->outputs));
	for (i = 0; i < c->noutputs; i++) {
		s = cfg_getnsec(cfg, "output", i);
		c->outputs[i].name = xstrdup(cfg_title(s));
		c->outputs[i].uri = xstrdup(cfg_getstr(s, "uri"));
		c->outputs[i].api_key = xstrdup(cfg_getstr(s, "api_key"));
		fill_conn(s, &c->forwarder.conn, &c->outputs[i].conn);
	}
	fill_logs(cfg, c);

	s = cfg_getsec(cfg, "collectors");
	c->collectors.interval = cfg_getfloat(s, "interval");
	c->collectors.timeout = cfg_getfloat(s, "timeout");
	c->collectors.drop_dir = conf_path(s, "drop_dir", PATH_DROP);
	c->collectors.archive = cfg_getbool(s, "archive");
	c->collectors.builtin_mode = mode_value(cfg_getstr(s, "builtin_mode"));
	c->collectors.max_lines = cfg_getint(s, "max_lines");
	c->collectors.max_bytes_per_second = cfg_getint(s,
	    "max_bytes_per_second");
	c->collectors.scan_interval = cfg_getfloat(s, "scan_interval");
	c->collectors.builtin_dir = conf_path(s, "builtin_dir", PATH_COLLECTORS);
	c->collectors.custom_dir = conf_path(s, "custom_dir", PATH_COLLECTORS_D);
	fill_collectors(cfg, c);

	s = cfg_getsec(cfg, "periodic");
	c->periodic.heartbeat_url = xstrdup(cfg_getstr(s, "heartbeat_url"));
	c->periodic.heartbeat_interval = cfg_getfloat(s, "heartbeat_interval");
	c->periodic.config_interval = cfg_getfloat(s, "config_interval");

	s = cfg_getsec(cfg, "sink");
	c->sink.enabled = cfg_getbool(s, "enabled");
	c->sink.bind = xstrdup(cfg_getstr(s, "bind"));
	c->sink.port = cfg_getint(s, "port");
	c->sink.api_key = xstrdup(cfg_getstr(s, "api_key"));
}

/*
 * Checks that span keys run once everything is parsed, since a section may
 * be written in several files; they name where the section was last seen.
 */
static char	spool_file[256];
static int	spool_line;

static int
note_spool(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)opt;
	strlcpy(spool_file, cur_file ? cur_file : "", sizeof(spool_file));
	spool_line = cfg->line;
	return 0;
}

static void
validate(const struct ferry_conf *c, const char *path)
{
	if (c->spool.segment_size > c->spool.max_size)
		conf_error_add(spool_file[0] ? spool_file : path, spool_line,
		    "spool.segment_size (%llu) is larger than spool.max_size (%llu)",
		    (unsigned long long)c->spool.segment_size,
		    (unsigned long long)c->spool.max_size);
}


struct ferry_conf *
conf_load(const char *path, struct conf_errors *errs)
{
	struct ferry_conf	*c;
	cfg_t			*cfg;
	int			 rc;

	memset(errs, 0, sizeof(*errs));
	cur_errs = errs;
	env_keys_clear();
	if (path == NULL)
		path = conf_default_path();
	if (access(path, R_OK) == -1) {
		conf_error_add(path, 0, "%s", strerror(errno));
		cur_errs = NULL;
		return NULL;
	}
	if ((cfg = cfg_init(root_opts, CFGF_NONE)) == NULL)
		fatal("cfg_init");
	cfg_set_error_function(cfg, conf_errfunc);
	cfg_set_validate_func(cfg, "output", validate_output);
	cfg_set_validate_func(cfg, "spool", note_spool);
	spool_file[0] = '\0';
	spool_line = 0;
	cur_root = cfg;
	rc = parse_all(cfg, path);
	if (rc == 0)
		rc = apply_env(cfg);
	if (rc != 0 || errs->n > 0) {
		if (errs->n == 0)
			conf_error_add(path, 0, "cannot be parsed");
		env_keys_clear();
		cfg_free(cfg);
		cur_errs = NULL;
		cur_root = NULL;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	fill(cfg, c);
	env_keys_give(c);
	c->path = xstrdup(path);
	cfg_free(cfg);
	cur_root = NULL;
	validate(c, path);
	cur_errs = NULL;
	if (errs->n > 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static void
strlist_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
conn_free(struct conn_conf *cc)
{
	free(cc->ca_file);
	strlist_free(cc->dns_servers, cc->ndns_servers);
}

int
conf_conn_differ(const struct conn_conf *a, const struct conn_conf *b)
{
	size_t	i;

	if (a->connect_timeout != b->connect_timeout ||
	    a->keepalive_idle != b->keepalive_idle ||
	    a->keepalive_interval != b->keepalive_interval ||
	    a->keepalive_probes != b->keepalive_probes ||
	    strcmp(a->ca_file, b->ca_file) != 0 ||
	    a->ndns_servers != b->ndns_servers)
		return 1;
	for (i = 0; i < a->ndns_servers; i++)
		if (strcmp(a->dns_servers[i], b->dns_servers[i]) != 0)
			return 1;
	return 0;
}

void
conf_free(struct ferry_conf *c)
{
	size_t	i, j;

	if (c == NULL)
		return;
	free(c->hostname);
	free(c->prefix);
	free(c->api_key);
	free(c->user);
	free(c->receiver.bind);
	free(c->spool.memory_dir);
	conn_free(&c->forwarder.conn);
	for (i = 0; i < c->noutputs; i++) {
		free(c->outputs[i].name);
		free(c->outputs[i].uri);
		free(c->outputs[i].api_key);
		conn_free(&c->outputs[i].conn);
	}
	free(c->outputs);
	for (i = 0; i < c->nlogs; i++) {
		struct log_conf *l = &c->logs[i];
		free(l->name);
		free(l->path);
		free(l->key);
		strlist_free(l->attributes, l->nattributes);
		for (j = 0; j < l->nredact; j++) {
			free(l->redact[j].match);
			free(l->redact[j].replace);
		}
		free(l->redact);
		for (j = 0; j < l->nsample; j++)
			free(l->sample[j].match);
		free(l->sample);
	}
	free(c->logs);
	free(c->collectors.drop_dir);
	free(c->collectors.builtin_dir);
	free(c->collectors.custom_dir);
	for (i = 0; i < c->ncollector; i++) {
		free(c->collector[i].name);
		strlist_free(c->collector[i].args, c->collector[i].nargs);
	}
	free(c->collector);
	free(c->periodic.heartbeat_url);
	free(c->sink.bind);
	free(c->sink.api_key);
	free(c->path);
	strlist_free(c->env_keys, c->nenv_keys);
	free(c);
}

/* The keys of opts and of the sections in it, under section path. */
static void
key_walk(cfg_opt_t *opts, const char *path,
    void (*fn)(const char *, const char *, enum conf_key_type, void *),
    void *arg)
{
	cfg_opt_t		*opt;
	char			 sub[128];
	enum conf_key_type	 type;

	for (opt = opts; opt->name != NULL; opt++) {
		switch (opt->type) {
		case CFGT_SEC:
			snprintf(sub, sizeof(sub), "%s%s%s", path,
			    path[0] != '\0' ? "." : "", opt->name);
			key_walk(opt->subopts, sub, fn, arg);
			continue;
		case CFGT_INT:
			type = opt->parsecb == size_cb ? CONF_KEY_SIZE :
			    CONF_KEY_INT;
			break;
		case CFGT_FLOAT:
			type = CONF_KEY_FLOAT;
			break;
		case CFGT_BOOL:
			type = CONF_KEY_BOOL;
			break;
		case CFGT_STR:
			type = opt->flags & CFGF_LIST ? CONF_KEY_LIST :
			    CONF_KEY_STR;
			break;
		default:
			continue;
		}
		fn(path, opt->name, type, arg);
	}
}

void
conf_key_each(void (*fn)(const char *, const char *, enum conf_key_type,
    void *), void *arg)
{
	key_walk(root_opts, "", fn, arg);
}

/*
 * The titles of the output sections one file writes, that file read alone:
 * for ferryctl drain list, which says where each output comes from.
 */
char **
conf_file_outputs(const char *path, struct conf_errors *errs)
{
	cfg_t	*cfg;
	char	**v = NULL;
	size_t	 i, n = 0;

	memset(errs, 0, sizeof(*errs));
	cur_errs = errs;
	if ((cfg = cfg_init(root_opts, CFGF_NONE)) == NULL)
		fatal("cfg_init");
	cfg_set_error_function(cfg, conf_errfunc);
	cur_root = cfg;
	if (parse_file(cfg, path) == 0) {
		n = cfg_size(cfg, "output");
		v = xcalloc(n + 1, sizeof(*v));
		for (i = 0; i < n; i++)
			v[i] = xstrdup(cfg_title(cfg_getnsec(cfg, "output", i)));
	}
	cfg_free(cfg);
	cur_root = NULL;
	cur_errs = NULL;
	return v;
}

void
conf_strings_free(char **v)
{
	size_t	i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}
