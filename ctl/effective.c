/*
 * effective: `ferryctl check-config --effective` prints the configuration
 * that the programs would run with: every key with its value, defaults
 * included, from the typed struct ferry_conf that conf_load() fills (never
 * from libconfuse, which stays inside common/conf.c).
 *
 * It is one table: a row per key (name, type, where it lies in its
 * section's struct) and a row per section, nested as in the file. Secrets
 * are masked (an api_key that is set prints as "***", and so do a URI's
 * password and secret query parameters: ctl_uri_mask()), and keys set by
 * FERRY_* environment variables say so. The text
 * form is itself valid configuration syntax.
 *
 * The table must follow conf.c's option tables: every key conf.c knows
 * (conf_key_each()) and this table lacks is listed at the end as not
 * shown, so a key added there without a row here is seen at once (and
 * tests/system/test_ctl.py fails on it).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "ctl.h"

enum eff_type {
	EFF_STR,
	EFF_SECRET,	/* "***" when not empty */
	EFF_URI,	/* a password in it masked */
	EFF_INT,	/* int */
	EFF_U64,	/* uint64_t */
	EFF_SIZE,	/* uint64_t bytes, printed as 10M when it divides */
	EFF_FLOAT,	/* double */
	EFF_BOOL,	/* int */
	EFF_MODE,	/* int, enum collector_mode */
	EFF_LIST	/* char **, count at noff */
};

struct eff_key {
	const char	*name;
	enum eff_type	 type;
	size_t		 off;	/* of the value in its section's struct */
	size_t		 noff;	/* EFF_LIST: of the count */
};

struct eff_section {
	const char		*name;	/* NULL: the top level */
	const struct eff_key	*keys;
	size_t			 nkeys;
	int			 multi;	/* an array of structs */
	size_t			 off;	/* single: of its struct; multi: of the array */
	size_t			 noff;	/* multi: of the count */
	size_t			 size;	/* multi: of one element */
	int			 titled;	/* multi: its name first, at titleoff */
	size_t			 titleoff;
	const struct eff_section *subs;
	size_t			 nsubs;
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define KEY(t, n, ty, m)	{ n, ty, offsetof(t, m), 0 }
#define LIST(t, n, m, c)	{ n, EFF_LIST, offsetof(t, m), offsetof(t, c) }

/* How an http(s) output connects: in forwarder { } and in each output. */
#define CONN_KEYS(t) \
	KEY(t, "connect_timeout", EFF_FLOAT, conn.connect_timeout), \
	KEY(t, "keepalive_idle", EFF_INT, conn.keepalive_idle), \
	KEY(t, "keepalive_interval", EFF_INT, conn.keepalive_interval), \
	KEY(t, "keepalive_probes", EFF_INT, conn.keepalive_probes), \
	KEY(t, "ca_file", EFF_STR, conn.ca_file), \
	LIST(t, "dns_servers", conn.dns_servers, conn.ndns_servers)

static const struct eff_key root_keys[] = {
	KEY(struct ferry_conf, "hostname", EFF_STR, hostname),
	KEY(struct ferry_conf, "prefix", EFF_STR, prefix),
	KEY(struct ferry_conf, "api_key", EFF_SECRET, api_key),
	KEY(struct ferry_conf, "user", EFF_STR, user),
};

static const struct eff_key receiver_keys[] = {
	KEY(struct receiver_conf, "bind", EFF_STR, bind),
	KEY(struct receiver_conf, "tcp_port", EFF_INT, tcp_port),
	KEY(struct receiver_conf, "udp_port", EFF_INT, udp_port),
	KEY(struct receiver_conf, "flush_interval", EFF_FLOAT, flush_interval),
	KEY(struct receiver_conf, "max_line", EFF_SIZE, max_line),
	KEY(struct receiver_conf, "idle_timeout", EFF_FLOAT, idle_timeout),
	KEY(struct receiver_conf, "max_connections", EFF_INT, max_connections),
};

static const struct eff_key spool_keys[] = {
	KEY(struct spool_conf, "segment_size", EFF_SIZE, segment_size),
	KEY(struct spool_conf, "max_size", EFF_SIZE, max_size),
	KEY(struct spool_conf, "fsync", EFF_BOOL, fsync),
	KEY(struct spool_conf, "memory_dir", EFF_STR, memory_dir),
	KEY(struct spool_conf, "memory_max_size", EFF_SIZE, memory_max_size),
};

static const struct eff_key forwarder_keys[] = {
	KEY(struct forwarder_conf, "batch_size", EFF_INT, batch_size),
	KEY(struct forwarder_conf, "batch_timeout", EFF_FLOAT, batch_timeout),
	KEY(struct forwarder_conf, "retry_max", EFF_FLOAT, retry_max),
	CONN_KEYS(struct forwarder_conf),
};

static const struct eff_key output_keys[] = {
	KEY(struct output_conf, "uri", EFF_URI, uri),
	KEY(struct output_conf, "api_key", EFF_SECRET, api_key),
	CONN_KEYS(struct output_conf),
};

static const struct eff_key redact_keys[] = {
	KEY(struct redact_conf, "match", EFF_STR, match),
	KEY(struct redact_conf, "replace", EFF_STR, replace),
};

static const struct eff_key sample_keys[] = {
	KEY(struct sample_conf, "match", EFF_STR, match),
	KEY(struct sample_conf, "rate", EFF_FLOAT, rate),
};

static const struct eff_section log_subs[] = {
	{ "redact", redact_keys, NELEM(redact_keys), 1,
	    offsetof(struct log_conf, redact), offsetof(struct log_conf, nredact),
	    sizeof(struct redact_conf), 0, 0, NULL, 0 },
	{ "sample", sample_keys, NELEM(sample_keys), 1,
	    offsetof(struct log_conf, sample), offsetof(struct log_conf, nsample),
	    sizeof(struct sample_conf), 0, 0, NULL, 0 },
};

static const struct eff_key log_keys[] = {
	KEY(struct log_conf, "path", EFF_STR, path),
	KEY(struct log_conf, "key", EFF_STR, key),
	KEY(struct log_conf, "max_line", EFF_SIZE, max_line),
	LIST(struct log_conf, "attributes", attributes, nattributes),
};

static const struct eff_key collectors_keys[] = {
	KEY(struct collectors_conf, "interval", EFF_FLOAT, interval),
	KEY(struct collectors_conf, "timeout", EFF_FLOAT, timeout),
	KEY(struct collectors_conf, "drop_dir", EFF_STR, drop_dir),
	KEY(struct collectors_conf, "archive", EFF_BOOL, archive),
	KEY(struct collectors_conf, "builtin_mode", EFF_MODE, builtin_mode),
	KEY(struct collectors_conf, "max_lines", EFF_U64, max_lines),
	KEY(struct collectors_conf, "max_bytes_per_second", EFF_SIZE,
	    max_bytes_per_second),
	KEY(struct collectors_conf, "scan_interval", EFF_FLOAT, scan_interval),
	KEY(struct collectors_conf, "builtin_dir", EFF_STR, builtin_dir),
	KEY(struct collectors_conf, "custom_dir", EFF_STR, custom_dir),
};

static const struct eff_key collector_keys[] = {
	KEY(struct collector_conf, "enabled", EFF_BOOL, enabled),
	KEY(struct collector_conf, "interval", EFF_FLOAT, interval),
	KEY(struct collector_conf, "timeout", EFF_FLOAT, timeout),
	LIST(struct collector_conf, "args", args, nargs),
	KEY(struct collector_conf, "mode", EFF_MODE, mode),
	KEY(struct collector_conf, "max_lines", EFF_U64, max_lines),
	KEY(struct collector_conf, "max_bytes_per_second", EFF_SIZE,
	    max_bytes_per_second),
};

static const struct eff_key periodic_keys[] = {
	KEY(struct periodic_conf, "heartbeat_url", EFF_URI, heartbeat_url),
	KEY(struct periodic_conf, "heartbeat_interval", EFF_FLOAT,
	    heartbeat_interval),
	KEY(struct periodic_conf, "config_interval", EFF_FLOAT, config_interval),
};

static const struct eff_key sink_keys[] = {
	KEY(struct sink_conf, "enabled", EFF_BOOL, enabled),
	KEY(struct sink_conf, "bind", EFF_STR, bind),
	KEY(struct sink_conf, "port", EFF_INT, port),
	KEY(struct sink_conf, "api_key", EFF_SECRET, api_key),
};

#define SINGLE(n, k, m) \
	{ n, k, NELEM(k), 0, offsetof(struct ferry_conf, m), 0, 0, 0, 0, NULL, 0 }
#define MULTI(n, k, t, a, c, subs, nsubs) \
	{ n, k, NELEM(k), 1, offsetof(struct ferry_conf, a), \
	    offsetof(struct ferry_conf, c), sizeof(t), 1, offsetof(t, name), \
	    subs, nsubs }

/* In the order of SPEC.md's "Configuration keys". */
static const struct eff_section root_subs[] = {
	SINGLE("receiver", receiver_keys, receiver),
	SINGLE("spool", spool_keys, spool),
	SINGLE("forwarder", forwarder_keys, forwarder),
	MULTI("output", output_keys, struct output_conf, outputs, noutputs,
	    NULL, 0),
	MULTI("log", log_keys, struct log_conf, logs, nlogs, log_subs,
	    NELEM(log_subs)),
	SINGLE("collectors", collectors_keys, collectors),
	MULTI("collector", collector_keys, struct collector_conf, collector,
	    ncollector, NULL, 0),
	SINGLE("periodic", periodic_keys, periodic),
	SINGLE("sink", sink_keys, sink),
};

static const struct eff_section root = {
	NULL, root_keys, NELEM(root_keys), 0, 0, 0, 0, 0, 0, root_subs,
	NELEM(root_subs)
};

struct printer {
	const struct ferry_conf	*conf;
	int			 json;
	char			 missing[4096];	/* keys conf.c has and we lack */
	size_t			 nmissing;
};

#define AT(base, off, type)	((type)(const void *)((const char *)(base) + (off)))

static void	print_section(struct printer *, const struct eff_section *,
		    const void *, int, const char *);
static void	print_value(struct printer *, const struct eff_key *,
		    const void *);
static void	print_conf_str(const char *);
static const char *env_of(const struct ferry_conf *, const char *,
		    const char *, char *, size_t);
static const char *size_str(uint64_t, char *, size_t);
static const struct eff_section *find_section(const char *);
static void	check_key(const char *, const char *, enum conf_key_type,
		    void *);

/*
 * Query parameters whose value is a secret: ClickHouse takes its password
 * as one, and an HTTP peer may take a key or a token that way.
 */
static const char *const secret_params[] = {
	"password", "passwd", "api_key", "apikey", "token", "secret"
};

/* Append n bytes of s to the string in buf, as many as fit. */
static void
cat(char *buf, size_t size, const char *s, size_t n)
{
	size_t	len = strlen(buf);

	if (len + 1 >= size)
		return;
	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
}

static int
secret_param(const char *name, size_t n)
{
	size_t	i;

	for (i = 0; i < sizeof(secret_params) / sizeof(secret_params[0]); i++)
		if (strlen(secret_params[i]) == n &&
		    strncasecmp(name, secret_params[i], n) == 0)
			return 1;
	return 0;
}

/*
 * uri with its secrets replaced by "***": the password of its user
 * information ("https://u:secret@host/" -> "https://u:***@host/"), all of
 * the user information when it has no ':' (redis://SECRET@host/ is a
 * password alone, and https://KEY@host/ an API key, Hosted Graphite's way),
 * and the value of a query parameter named like a secret
 * ("clickhouse://h/?password=***"). What is cut to fit buf is cut after
 * masking, so a secret never shows.
 */
const char *
ctl_uri_mask(const char *uri, char *buf, size_t size)
{
	const char	*auth, *end, *at, *colon, *rest, *p, *eq;
	size_t		 n;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if ((auth = strstr(uri, "://")) == NULL) {
		cat(buf, size, uri, strlen(uri));
		return buf;
	}
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	/* The last '@' before the path: a password may hold '@' unescaped. */
	for (at = NULL, p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL) {
		colon = memchr(auth, ':', at - auth);
		p = colon != NULL ? colon + 1 : auth;
		cat(buf, size, uri, p - uri);
		cat(buf, size, "***", 3);
		rest = at;
	} else
		rest = uri;
	if ((p = strchr(rest, '?')) == NULL) {
		cat(buf, size, rest, strlen(rest));
		return buf;
	}
	cat(buf, size, rest, p + 1 - rest);
	for (p++; *p != '\0' && *p != '#'; p += n) {
		n = strcspn(p, "&#");
		if ((eq = memchr(p, '=', n)) != NULL && secret_param(p, eq - p)) {
			cat(buf, size, p, eq + 1 - p);
			cat(buf, size, "***", 3);
		} else
			cat(buf, size, p, n);
		if (p[n] == '&')
			cat(buf, size, p + n++, 1);
	}
	cat(buf, size, p, strlen(p));
	return buf;
}

int
ctl_effective_print(const struct ctl *ctl, const struct ferry_conf *conf)
{
	struct printer	p;
	char		name[192];
	size_t		i;

	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.json = ctl->json;
	conf_key_each(check_key, &p);
	if (p.json) {
		printf("{\"ok\":true,\"file\":");
		json_str(stdout, conf->path != NULL ? conf->path : "");
		printf(",\"config\":");
		print_section(&p, &root, conf, 0, NULL);
		printf(",\"env\":{");
		for (i = 0; i < conf->nenv_keys; i++) {
			printf("%s", i ? "," : "");
			json_str(stdout, conf->env_keys[i]);
			printf(":");
			json_str(stdout, env_of(conf, NULL, conf->env_keys[i],
			    name, sizeof(name)));
		}
		printf("},\"not_shown\":[%s]}\n", p.missing);
		return 0;
	}
	printf("# The effective configuration of %s\n# (with conf.d/, "
	    "defaults and FERRY_* overrides; secrets masked)\n",
	    conf->path != NULL ? conf->path : "?");
	print_section(&p, &root, conf, 0, NULL);
	if (p.nmissing > 0)
		printf("\n# not shown, unknown to this ferryctl: %s\n", p.missing);
	return 0;
}

/*
 * One section (base points at its struct): its keys, then the sections
 * inside it. env is the section's name when FERRY_* can set its keys (the
 * top level and the single sections), else NULL.
 */
static void
print_section(struct printer *p, const struct eff_section *sec,
    const void *base, int depth, const char *env)
{
	const struct eff_section	*sub;
	const void			*elem;
	char				 name[128];
	size_t				 i, j, n;
	int				 first = 1;

	if (p->json)
		printf("{");
	if (depth > 0 && sec->multi && sec->titled && p->json) {
		printf("\"name\":");
		json_str(stdout, *AT(base, sec->titleoff, char *const *));
		first = 0;
	}
	for (i = 0; i < sec->nkeys; i++) {
		if (p->json) {
			printf("%s\"%s\":", first ? "" : ",", sec->keys[i].name);
			print_value(p, &sec->keys[i], base);
			first = 0;
			continue;
		}
		if (sec->keys[i].type == EFF_MODE &&
		    *AT(base, sec->keys[i].off, const int *) ==
		    COLLECTOR_MODE_DEFAULT) {
			/* Not set: it depends on whether the collector is built in. */
			printf("%*s# %s not set: collectors.builtin_mode for a "
			    "built-in, else \"interval\"\n", depth * 4, "",
			    sec->keys[i].name);
			continue;
		}
		printf("%*s%s = ", depth * 4, "", sec->keys[i].name);
		print_value(p, &sec->keys[i], base);
		if (depth <= 1 && !sec->multi && env_of(p->conf, env,
		    sec->keys[i].name, name, sizeof(name)) != NULL)
			printf("\t# from %s", name);
		printf("\n");
	}
	for (i = 0; i < sec->nsubs; i++) {
		sub = &sec->subs[i];
		if (p->json)
			printf("%s\"%s\":", first ? "" : ",", sub->name);
		first = 0;
		if (!sub->multi) {
			if (!p->json)
				printf("\n%*s%s {\n", depth * 4, "", sub->name);
			print_section(p, sub, AT(base, sub->off, const char *),
			    depth + 1, sub->name);
			if (!p->json)
				printf("%*s}\n", depth * 4, "");
			continue;
		}
		n = *AT(base, sub->noff, const size_t *);
		if (p->json)
			printf("[");
		for (j = 0; j < n; j++) {
			elem = *AT(base, sub->off, const char *const *) +
			    j * sub->size;
			if (p->json)
				printf("%s", j ? "," : "");
			else if (sub->titled) {
				printf("\n%*s%s ", depth * 4, "", sub->name);
				print_conf_str(*AT(elem, sub->titleoff,
				    char *const *));
				printf(" {\n");
			} else
				printf("%*s%s {\n", depth * 4, "", sub->name);
			print_section(p, sub, elem, depth + 1, NULL);
			if (!p->json)
				printf("%*s}\n", depth * 4, "");
		}
		if (p->json)
			printf("]");
	}
	if (p->json)
		printf("}");
}

static void
print_value(struct printer *p, const struct eff_key *k, const void *base)
{
	const char	*s;
	char		 buf[4096];
	char *const	*list;
	uint64_t	 u;
	size_t		 i, n;
	int		 v;

	switch (k->type) {
	case EFF_STR:
	case EFF_SECRET:
	case EFF_URI:
		s = *AT(base, k->off, const char *const *);
		if (s == NULL)
			s = "";
		if (k->type == EFF_SECRET && s[0] != '\0')
			s = "***";
		else if (k->type == EFF_URI)
			s = ctl_uri_mask(s, buf, sizeof(buf));
		if (p->json)
			json_str(stdout, s);
		else
			print_conf_str(s);
		break;
	case EFF_INT:
		printf("%d", *AT(base, k->off, const int *));
		break;
	case EFF_U64:
		printf("%llu", (unsigned long long)*AT(base, k->off,
		    const uint64_t *));
		break;
	case EFF_SIZE:
		u = *AT(base, k->off, const uint64_t *);
		if (p->json)
			printf("%llu", (unsigned long long)u);
		else
			printf("%s", size_str(u, buf, sizeof(buf)));
		break;
	case EFF_FLOAT:
		printf("%.15g", *AT(base, k->off, const double *));
		break;
	case EFF_BOOL:
		printf("%s", *AT(base, k->off, const int *) ? "true" : "false");
		break;
	case EFF_MODE:
		v = *AT(base, k->off, const int *);
		s = v == COLLECTOR_MODE_DAEMON ? "daemon" :
		    v == COLLECTOR_MODE_INTERVAL ? "interval" :
		    v == COLLECTOR_MODE_INLINE ? "inline" : NULL;
		if (s == NULL)
			printf("null");	/* JSON only: the text notes it */
		else if (p->json)
			json_str(stdout, s);
		else
			print_conf_str(s);
		break;
	case EFF_LIST:
		list = *AT(base, k->off, char **const *);
		n = *AT(base, k->noff, const size_t *);
		printf(p->json ? "[" : "{");
		for (i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			if (p->json)
				json_str(stdout, list[i]);
			else
				print_conf_str(list[i]);
		}
		printf(p->json ? "]" : "}");
		break;
	}
}

/* A string in libconfuse's syntax: quoted, with " and \ escaped. */
static void
print_conf_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * The FERRY_* variable that set key of section (NULL: the top level; or
 * key is already "section.key" when section is NULL and it has a dot),
 * into buf; NULL when no variable set it.
 */
static const char *
env_of(const struct ferry_conf *conf, const char *section, const char *key,
    char *buf, size_t size)
{
	char	full[128], *q;
	size_t	i;

	if (section != NULL)
		(void)snprintf(full, sizeof(full), "%s.%s", section, key);
	else
		(void)strlcpy(full, key, sizeof(full));
	for (i = 0; i < conf->nenv_keys; i++)
		if (strcmp(conf->env_keys[i], full) == 0)
			break;
	if (i == conf->nenv_keys)
		return NULL;
	(void)snprintf(buf, size, "FERRY_%s", full);
	for (q = buf; *q != '\0'; q++)
		*q = *q == '.' ? '_' : (char)toupper((unsigned char)*q);
	return buf;
}

/* 10485760 as "10M", 4096 as "4K", 1000 as "1000". */
static const char *
size_str(uint64_t v, char *buf, size_t size)
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

/* The section of a path such as "", "receiver" or "log.redact"; NULL none. */
static const struct eff_section *
find_section(const char *path)
{
	const struct eff_section	*sec = &root;
	const char			*dot;
	size_t				 i, len;

	while (*path != '\0') {
		dot = strchr(path, '.');
		len = dot != NULL ? (size_t)(dot - path) : strlen(path);
		for (i = 0; i < sec->nsubs; i++)
			if (strlen(sec->subs[i].name) == len &&
			    strncmp(sec->subs[i].name, path, len) == 0)
				break;
		if (i == sec->nsubs)
			return NULL;
		sec = &sec->subs[i];
		path += len + (dot != NULL);
	}
	return sec;
}

/* conf_key_each(): note a key of conf.c that the tables above lack. */
static void
check_key(const char *section, const char *key, enum conf_key_type type,
    void *arg)
{
	struct printer			*p = arg;
	const struct eff_section	*sec;
	char				 full[256];
	size_t				 i;

	(void)type;
	if ((sec = find_section(section)) != NULL)
		for (i = 0; i < sec->nkeys; i++)
			if (strcmp(sec->keys[i].name, key) == 0)
				return;
	(void)snprintf(full, sizeof(full), "%s%s%s", section,
	    section[0] != '\0' ? "." : "", key);
	if (p->json)
		(void)snprintf(p->missing + strlen(p->missing),
		    sizeof(p->missing) - strlen(p->missing), "%s\"%s\"",
		    p->nmissing ? "," : "", full);
	else
		(void)snprintf(p->missing + strlen(p->missing),
		    sizeof(p->missing) - strlen(p->missing), "%s%s",
		    p->nmissing ? ", " : "", full);
	p->nmissing++;
}
