/*
 * conf: reads ferry.conf and conf.d/<name>.conf with libconfuse and hands out a
 * typed struct ferry_conf. cfg_t never leaves this file.
 *
 * What the keys are is not here: common/confkeys.c holds one row per key,
 * and this file turns the rows into libconfuse's options at the first
 * load, checks every value through its row, and fills and frees the struct
 * by walking them. What is here is loading, and errors an operator can act
 * on.
 *
 * Each file (ferry.conf, then conf.d fragments in name order, then the
 * fragments ferry-fleet writes in conf.d/fleet, which may hold outputs
 * only) is read into memory, stripped of its comments and parsed into the same cfg_t, so later
 * files add to earlier ones. Comments are stripped here, with their newlines
 * kept, because libconfuse 3.3 miscounts lines after a comment; and each
 * file is parsed on its own rather than through include(), because a parse
 * error inside an include leaks libconfuse's include stack for good. Values
 * are checked in the value parse callbacks: that is the moment libconfuse
 * still knows the line. FERRY_<KEY> and FERRY_<SECTION>_<KEY> environment
 * variables are applied after the files, through the same callbacks, so
 * they are checked by the same rules.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <confuse.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf.h"
#include "confkeys.h"
#include "hash.h"
#include "log.h"
#include "path.h"
#include "sock.h"
#include "url.h"

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

/* libconfuse names the top level "root"; the table, "". */
static const char *
section_name(cfg_t *cfg)
{
	return strcmp(cfg->name, "root") == 0 ? "" : cfg->name;
}

/*
 * Every value of a key with rules (a number, an enum, a checked string or
 * list element) goes through its row, from a file or from FERRY_*.
 */
static int
value_cb(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	const struct conf_key	*k;
	struct conf_value	 v;
	char			 err[256];

	if ((k = conf_key_lookup(section_name(cfg), opt->name)) == NULL)
		fatalx("conf: %s.%s has no row", cfg->name, opt->name);
	if (conf_key_parse(k, value, &v, err, sizeof(err)) == -1) {
		cfg_error(cfg, "%s", err);
		return -1;
	}
	switch (k->type) {
	case CONF_KEY_INT:
	case CONF_KEY_SIZE:
		*(long *)result = v.i;
		break;
	case CONF_KEY_FLOAT:
		*(double *)result = v.f;
		break;
	default:
		*(const char **)result = value;
		break;
	}
	return 0;
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

/*
 * A group a logmetric uses (split, gauge, summary) that its expression
 * does not define: "" when all are there, else the first one missing.
 * A format's fields are ferry-tail's to check, when it makes the parser.
 */
static const char *
missing_group(cfg_t *sec, const pcre2_code *re)
{
	static const char *const keys[] = { "split", "gauge", "summary" };
	const char	*g;
	unsigned int	 i, j;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		for (j = 0; j < cfg_size(sec, keys[i]); j++) {
			g = cfg_getnstr(sec, keys[i], j);
			if (g[0] != '\0' && pcre2_substring_number_from_name(re,
			    (PCRE2_SPTR)g) < 0)
				return g;
		}
	return "";
}

/* A gauge or summary group named as the counter: their metrics would collide. */
static const char *
clashing_group(cfg_t *sec)
{
	const char	*counter = cfg_getstr(sec, "counter"), *g;
	unsigned int	 i;

	for (i = 0; i < cfg_size(sec, "gauge"); i++)
		if (strcmp((g = cfg_getnstr(sec, "gauge", i)), counter) == 0)
			return g;
	for (i = 0; i < cfg_size(sec, "summary"); i++)
		if (strcmp((g = cfg_getnstr(sec, "summary", i)), counter) == 0)
			return g;
	return NULL;
}

/*
 * What an event or logmetric section needs beyond its keys' own checks,
 * as it closes: a name that can be part of a key or a metric name, one
 * way to parse (match or format), and only groups its expression has.
 */
static int
validate_rule(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t		*sec = cfg_opt_getnsec(opt, cfg_opt_size(opt) - 1);
	const char	*kind = opt->name, *name = cfg_title(sec);
	const char	*match = cfg_getstr(sec, "match");
	const char	*format = cfg_getstr(sec, "format"), *g;
	int		 metric = strcmp(kind, "logmetric") == 0, code;
	pcre2_code	*re;
	PCRE2_SIZE	 at;

	if (!conf_name_part(name)) {
		cfg_error(cfg, "%s \"%s\": a name is up to 64 letters, digits, "
		    "'_', '-' or '.', a part of %s", kind, name, metric ?
		    "metric names" : "its key");
		return -1;
	}
	if ((match[0] != '\0') == (format[0] != '\0')) {
		cfg_error(cfg, "%s \"%s\": set %s match (a regular expression) "
		    "or format (a log format)", kind, name, match[0] != '\0' ?
		    "only one of" : "either");
		return -1;
	}
	if (metric && (g = clashing_group(sec)) != NULL) {
		cfg_error(cfg, "logmetric \"%s\": group \"%s\" is also the "
		    "counter's name; set counter to another", name, g);
		return -1;
	}
	if (!metric || match[0] == '\0')
		return 0;
	/* The expression compiled when its key was read. */
	if ((re = pcre2_compile((PCRE2_SPTR)match, PCRE2_ZERO_TERMINATED, 0,
	    &code, &at, NULL)) == NULL)
		return -1;
	g = missing_group(sec, re);
	pcre2_code_free(re);
	if (g[0] != '\0') {
		cfg_error(cfg, "logmetric \"%s\": its match has no group named "
		    "\"%s\" (write it as (?<%s>...))", name, g, g);
		return -1;
	}
	return 0;
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

/* Whether key was written in section s (or set from the environment). */
static int
is_set(cfg_t *s, const char *key)
{
	cfg_opt_t	*opt = cfg_getopt(s, key);

	return opt != NULL && (opt->flags & CFGF_MODIFIED);
}

static int
in_section(const struct conf_key *k, const struct conf_section *sec)
{
	return strcmp(k->section, sec->path) == 0;
}

/* The libconfuse option of one row; its default parsed by its own rules. */
static cfg_opt_t
key_opt(const struct conf_key *k)
{
	struct conf_value	 v;
	char			 err[256];
	char			*def = (char *)k->def;
	cfg_callback_t		 cb = k->check != NULL ? value_cb : NULL;

	memset(&v, 0, sizeof(v));
	if (def != NULL && k->type != CONF_KEY_BOOL &&
	    conf_key_parse(k, def, &v, err, sizeof(err)) == -1)
		fatalx("conf: the default of %s.%s: %s", k->section, k->name, err);
	switch (k->type) {
	case CONF_KEY_STR:
		/* A rooted path is resolved when filled: FERRY_ROOT may change. */
		if (k->flags & CONF_ROOTED)
			return (cfg_opt_t)CFG_STR_CB(k->name, NULL, CFGF_NONE, cb);
		return (cfg_opt_t)CFG_STR_CB(k->name, def, def == NULL ?
		    CFGF_NODEFAULT : CFGF_NONE, cb);
	case CONF_KEY_LIST:
		return (cfg_opt_t)CFG_STR_LIST_CB(k->name, "{}", CFGF_NONE, cb);
	case CONF_KEY_INT:
	case CONF_KEY_SIZE:
		return (cfg_opt_t)CFG_INT_CB(k->name, v.i, CFGF_NONE, value_cb);
	case CONF_KEY_FLOAT:
		return (cfg_opt_t)CFG_FLOAT_CB(k->name, v.f, CFGF_NONE, value_cb);
	case CONF_KEY_BOOL:
		return (cfg_opt_t)CFG_BOOL(k->name, def != NULL &&
		    strcmp(def, "true") == 0 ? cfg_true : cfg_false, CFGF_NONE);
	case CONF_KEY_ENUM:
		return (cfg_opt_t)CFG_STR_CB(k->name, def, CFGF_NONE, value_cb);
	}
	fatalx("conf: %s.%s: no type", k->section, k->name);
}

/* The options of sec: its keys, then the sections in it, in table order. */
static cfg_opt_t *
section_opts(const struct conf_section *sec)
{
	const struct conf_key		*keys;
	const struct conf_section	*secs;
	cfg_opt_t			*opts;
	size_t				 nkeys, nsecs, i, n = 0;
	cfg_flag_t			 flags;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	opts = xcalloc(nkeys + nsecs + 1, sizeof(*opts));
	for (i = 0; i < nkeys; i++)
		if (in_section(&keys[i], sec))
			opts[n++] = key_opt(&keys[i]);
	for (i = 0; i < nsecs; i++) {
		if (conf_section_parent(&secs[i]) != sec)
			continue;
		flags = CFGF_NONE;
		if (secs[i].flags & CONF_MULTI)
			flags |= CFGF_MULTI;
		if (secs[i].flags & CONF_TITLED)
			flags |= CFGF_TITLE | CFGF_NO_TITLE_DUPES;
		opts[n++] = (cfg_opt_t)CFG_SEC(conf_section_name(&secs[i]),
		    section_opts(&secs[i]), flags);
	}
	opts[n] = (cfg_opt_t)CFG_END();
	return opts;
}

/*
 * libconfuse's options, built from the table once and kept for the life of
 * the process (cfg_init() copies them for each load).
 */
static cfg_opt_t *
root_opts(void)
{
	static cfg_opt_t	*root;

	if (root == NULL)
		root = section_opts(conf_section_find(""));
	return root;
}

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

/*
 * The whole file, NUL-terminated; NULL (error recorded) on failure. The
 * buffer grows with what is read, so the config check that ferry-periodic
 * runs every few seconds costs the file's size, not CONF_FILE_MAX.
 */
static char *
read_file(const char *path)
{
	FILE	*f;
	char	*buf = NULL, *nbuf;
	size_t	 n = 0, cap = 0;

	if ((f = fopen(path, "r")) == NULL) {
		conf_error_add(path, 0, "%s", strerror(errno));
		return NULL;
	}
	do {
		if (n == cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			if (cap > CONF_FILE_MAX + 1)
				cap = CONF_FILE_MAX + 1;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				fatal("realloc");
			buf = nbuf;
		}
		n += fread(buf + n, 1, cap - n, f);
	} while (n == cap && n <= CONF_FILE_MAX);
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
/*
 * A hash of the secrets set in cfg so far: every CONF_SECRET key's value
 * and every CONF_URI value that holds a password (url_mask() changes it).
 * parse_file() compares it before and after a file, to know the file set
 * one.
 */
static uint64_t
secrets_hash(cfg_t *cfg, const char *secname, uint64_t h)
{
	const struct conf_key	*k;
	cfg_opt_t		*opt;
	const char		*v;
	char			 masked[4096];
	unsigned int		 i, n;

	for (opt = cfg->opts; opt->name != NULL; opt++) {
		n = cfg_opt_size(opt);
		if (opt->type == CFGT_SEC) {
			for (i = 0; i < n; i++)
				h = secrets_hash(cfg_opt_getnsec(opt, i),
				    opt->name, h);
			continue;
		}
		if (opt->type != CFGT_STR ||
		    (k = conf_key_lookup(secname, opt->name)) == NULL ||
		    (k->flags & (CONF_SECRET | CONF_URI)) == 0)
			continue;
		for (i = 0; i < n; i++) {
			if ((v = cfg_opt_getnstr(opt, i)) == NULL || *v == '\0')
				continue;
			if ((k->flags & CONF_SECRET) == 0 &&
			    strcmp(url_mask(v, masked, sizeof(masked)), v) == 0)
				continue;
			h = hash_bytes(h, v, strlen(v));
			h = hash_bytes(h, "\xff", 1);	/* where one ends */
		}
	}
	return h;
}

/* The files that set a secret and that others may read (conf_load's). */
static char	**exposed;
static size_t	  nexposed;

static void
exposed_clear(void)
{
	size_t	i;

	for (i = 0; i < nexposed; i++)
		free(exposed[i]);
	free(exposed);
	exposed = NULL;
	nexposed = 0;
}

static void
exposed_check(const char *path)
{
	struct stat	  st;
	char		**v;

	if (stat(path, &st) == -1 || (st.st_mode & S_IROTH) == 0)
		return;
	if ((v = reallocarray(exposed, nexposed + 1, sizeof(*v))) == NULL)
		fatal("reallocarray");
	exposed = v;
	if (asprintf(&v[nexposed], "%s (mode %04o)", path,
	    (unsigned)(st.st_mode & 07777)) == -1)
		fatal("asprintf");
	nexposed++;
}

static int
parse_file(cfg_t *cfg, const char *path)
{
	char		*text;
	uint64_t	 secrets = secrets_hash(cfg, "", HASH_INIT);
	int		 rc, before = cur_errs->n;

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
	if (rc == CFG_SUCCESS &&
	    secrets_hash(cfg, "", HASH_INIT) != secrets)
		exposed_check(path);
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

/*
 * Whether anything was set in section cfg (or in a section within it):
 * libconfuse keeps every single section, written or not.
 */
static int
any_set(cfg_t *cfg, const char *const *allowed, char *what, size_t size)
{
	cfg_opt_t	*opt;
	unsigned int	 i;
	size_t		 j;

	for (opt = cfg->opts; opt->name != NULL; opt++) {
		for (j = 0; allowed != NULL && allowed[j] != NULL; j++)
			if (strcmp(opt->name, allowed[j]) == 0)
				break;
		if (allowed != NULL && allowed[j] != NULL)
			continue;
		if (opt->type == CFGT_SEC) {
			for (i = 0; i < cfg_opt_size(opt); i++)
				if (any_set(cfg_opt_getnsec(opt, i), NULL, what,
				    size))
					return 1;
		} else if (opt->type != CFGT_FUNC &&
		    (opt->flags & CFGF_MODIFIED)) {
			strlcpy(what, opt->name, size);
			return 1;
		}
	}
	return 0;
}

/*
 * A fragment of conf.d/fleet, read alone first: ferry-fleet writes them
 * as the unprivileged user, so they may hold output sections with a uri
 * and an api_key and nothing else (not user, not a collector directory),
 * and a file:// output only with fleet.allow_file, which only the
 * operator's own files can set. 0, or -1 with the error recorded.
 */
static int
check_fleet_fragment(const char *path, int allow_file)
{
	static const char *const top[] = { "output", NULL };
	static const char *const out[] = { "uri", "api_key", NULL };
	cfg_t		*cfg, *sec, *saved = cur_root;
	const char	*uri;
	char		 what[64];
	unsigned int	 i;
	int		 rc = 0;

	if ((cfg = cfg_init(root_opts(), CFGF_NONE)) == NULL)
		fatal("cfg_init");
	cfg_set_error_function(cfg, conf_errfunc);
	cur_root = cfg;
	if (parse_file(cfg, path) == -1)
		rc = -1;
	else if (any_set(cfg, top, what, sizeof(what))) {
		conf_error_add(path, 0, "a fleet fragment may hold only output "
		    "sections, and this one sets %s", what);
		rc = -1;
	}
	for (i = 0; rc == 0 && i < cfg_size(cfg, "output"); i++) {
		sec = cfg_getnsec(cfg, "output", i);
		uri = cfg_getstr(sec, "uri");
		if (any_set(sec, out, what, sizeof(what))) {
			conf_error_add(path, 0, "output \"%s\" of a fleet fragment "
			    "may set only uri and api_key, and sets %s",
			    cfg_title(sec), what);
			rc = -1;
		} else if (!allow_file && uri != NULL &&
		    strncasecmp(uri, "file:", 5) == 0) {
			conf_error_add(path, 0, "output \"%s\": a file:// drain "
			    "from the fleet needs fleet.allow_file = true",
			    cfg_title(sec));
			rc = -1;
		}
	}
	cfg_free(cfg);
	cur_root = saved;
	return rc;
}

char **
conf_fragments(const char *dir)
{
	struct dirent	**ents = NULL;
	char		**names;
	int		  n, i, saved;

	if ((n = scandir(dir, &ents, is_fragment, alphasort)) == -1)
		return NULL;
	if ((names = calloc((size_t)n + 1, sizeof(*names))) != NULL)
		for (i = 0; i < n; i++)
			if ((names[i] = strdup(ents[i]->d_name)) == NULL) {
				conf_strings_free(names);
				names = NULL;
				break;
			}
	saved = errno;
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	errno = saved;
	return names;
}

/* The fragments of dir in name order, each parsed into cfg; 0 or -1. */
static int
parse_dir(cfg_t *cfg, const char *dir, int fleet)
{
	char		**names;
	char		  frag[4096];
	int		  i, rc = 0, allow_file;

	allow_file = cfg_getbool(cfg_getsec(cfg, "fleet"), "allow_file");
	if ((names = conf_fragments(dir)) == NULL)
		return 0;
	for (i = 0; rc == 0 && names[i] != NULL; i++) {
		if (strlcpy(frag, dir, sizeof(frag)) >= sizeof(frag) ||
		    strlcat(frag, "/", sizeof(frag)) >= sizeof(frag) ||
		    strlcat(frag, names[i], sizeof(frag)) >= sizeof(frag)) {
			conf_error_add(dir, 0, "%s: path too long", names[i]);
			rc = -1;
		}
		/* Stop at the first broken file: later errors may be echoes. */
		if (rc == 0 && fleet)
			rc = check_fleet_fragment(frag, allow_file);
		if (rc == 0)
			rc = parse_file(cfg, frag);
	}
	conf_strings_free(names);
	return rc;
}

int
conf_confd_dir(const char *path, char *buf, size_t size)
{
	const char	*slash = strrchr(path, '/');
	int		 n;

	if (slash != NULL)
		n = snprintf(buf, size, "%.*s/conf.d", (int)(slash - path), path);
	else
		n = snprintf(buf, size, "./conf.d");
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
conf_fleet_dir(const char *path, char *buf, size_t size)
{
	if (conf_confd_dir(path, buf, size) == -1 ||
	    strlcat(buf, "/fleet", size) >= size)
		return -1;
	return 0;
}

/*
 * Parse path, then the conf.d beside it in name order, then the fleet's
 * fragments in conf.d/fleet, while a fleet is configured (fleet.etcd): an
 * operator who removes the fleet section removes its drains with it, and
 * the fragments wait for ferry-fleet's next reading of etcd. 0 or -1.
 */
static int
parse_all(cfg_t *cfg, const char *path)
{
	char	dir[4096];
	int	rc;

	rc = parse_file(cfg, path);
	if (rc == 0 && conf_confd_dir(path, dir, sizeof(dir)) == 0)
		rc = parse_dir(cfg, dir, 0);
	if (rc == 0 && cfg_size(cfg_getsec(cfg, "fleet"), "etcd") > 0 &&
	    conf_fleet_dir(path, dir, sizeof(dir)) == 0)
		rc = parse_dir(cfg, dir, 1);
	return rc;
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

/* FERRY_<KEY> and FERRY_<SECTION>_<KEY>: each row that has a variable. */
static int
apply_env(cfg_t *cfg)
{
	const struct conf_key	*keys;
	const char		*v;
	char			 name[128];
	cfg_t			*sec;
	size_t			 nkeys, i;
	int			 rc = 0;

	keys = conf_keys(&nkeys);
	for (i = 0; i < nkeys; i++) {
		if (conf_key_env(&keys[i], name, sizeof(name)) == NULL ||
		    (v = getenv(name)) == NULL)
			continue;
		sec = keys[i].section[0] != '\0' ?
		    cfg_getsec(cfg, keys[i].section) : cfg;
		/* A section absent from the files has no error function of its own. */
		cfg_set_error_function(sec, conf_errfunc);
		cur_env = name;
		if (cfg_setopt(sec, cfg_getopt(sec, keys[i].name), v) == NULL)
			rc = -1;
		else
			env_keys_add(keys[i].section[0] != '\0' ?
			    keys[i].section : NULL, keys[i].name);
		cur_env = NULL;
	}
	return rc;
}


static void
store_int(const struct conf_key *k, void *base, long v)
{
	if (k->size == sizeof(uint64_t))
		*CONF_AT(base, k->off, uint64_t *) = (uint64_t)v;
	else
		*CONF_AT(base, k->off, int *) = (int)v;
}

/* k's field in base, a copy of the field of row from in c (strings too). */
static void
copy_key(const struct conf_key *k, void *base, const struct conf_key *from,
    const struct ferry_conf *c)
{
	char	**src, **dst;
	size_t	  i, n;

	switch (k->type) {
	case CONF_KEY_STR:
		*CONF_AT(base, k->off, char **) =
		    xstrdup(*CONF_AT(c, from->off, char **));
		break;
	case CONF_KEY_LIST:
		n = *CONF_AT(c, from->noff, size_t *);
		src = *CONF_AT(c, from->off, char ***);
		dst = xcalloc(n + 1, sizeof(char *));
		for (i = 0; i < n; i++)
			dst[i] = xstrdup(src[i]);
		*CONF_AT(base, k->off, char ***) = dst;
		*CONF_AT(base, k->noff, size_t *) = n;
		break;
	default:
		memcpy(CONF_AT(base, k->off, void *),
		    CONF_AT(c, from->off, const void *), k->size);
		break;
	}
}

/*
 * One key of section s into its field in base. A key that takes another
 * section's value when not set here (output's connection keys, a
 * collector's timings) copies it from c, where it is already filled.
 */
static void
fill_key(cfg_t *s, const struct conf_key *k, void *base,
    const struct ferry_conf *c)
{
	char		 buf[4096];
	const char	*v;

	if (k->from != NULL && !is_set(s, k->name)) {
		copy_key(k, base, conf_key_lookup(k->from, k->name), c);
		return;
	}
	switch (k->type) {
	case CONF_KEY_STR:
		v = cfg_getstr(s, k->name);
		if (k->flags & CONF_ROOTED && (v == NULL || v[0] == '\0'))
			v = path_get(buf, sizeof(buf), k->def);
		*CONF_AT(base, k->off, char **) = xstrdup(v);
		break;
	case CONF_KEY_LIST:
		*CONF_AT(base, k->off, char ***) = strlist(s, k->name,
		    CONF_AT(base, k->noff, size_t *));
		break;
	case CONF_KEY_INT:
	case CONF_KEY_SIZE:
		store_int(k, base, cfg_getint(s, k->name));
		break;
	case CONF_KEY_FLOAT:
		*CONF_AT(base, k->off, double *) = cfg_getfloat(s, k->name);
		break;
	case CONF_KEY_BOOL:
		*CONF_AT(base, k->off, int *) = cfg_getbool(s, k->name);
		break;
	case CONF_KEY_ENUM:
		*CONF_AT(base, k->off, int *) = conf_key_choice(k,
		    cfg_getstr(s, k->name));
		break;
	}
}

/*
 * Section sec, read as s, into base: its keys, then the sections in it.
 * The single sections go first, so that the repeated ones can take their
 * values: the forwarder's before the outputs'.
 */
static void
fill_section(cfg_t *s, const struct conf_section *sec, void *base,
    const struct ferry_conf *c)
{
	const struct conf_key		*keys;
	const struct conf_section	*secs, *sub;
	const char			*name;
	cfg_t				*ss;
	char				*arr, *elem;
	size_t				 nkeys, nsecs, i, j, n;
	int				 multi;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	for (i = 0; i < nkeys; i++)
		if (in_section(&keys[i], sec))
			fill_key(s, &keys[i], base, c);
	for (multi = 0; multi <= 1; multi++) {
		for (i = 0; i < nsecs; i++) {
			sub = &secs[i];
			if (conf_section_parent(sub) != sec ||
			    !(sub->flags & CONF_MULTI) != !multi)
				continue;
			name = conf_section_name(sub);
			if (!multi) {
				fill_section(cfg_getsec(s, name), sub, base, c);
				continue;
			}
			n = cfg_size(s, name);
			arr = xcalloc(n, sub->size);
			*CONF_AT(base, sub->off, char **) = arr;
			*CONF_AT(base, sub->noff, size_t *) = n;
			for (j = 0; j < n; j++) {
				elem = arr + j * sub->size;
				ss = cfg_getnsec(s, name, j);
				if (sub->flags & CONF_TITLED)
					*CONF_AT(elem, sub->titleoff, char **) =
					    xstrdup(cfg_title(ss));
				fill_section(ss, sub, elem, c);
			}
		}
	}
}

static void
fill(cfg_t *cfg, struct ferry_conf *c)
{
	char	host[256];

	fill_section(cfg, conf_section_find(""), c, c);
	/* An empty hostname is the machine's own. */
	if ((c->hostname == NULL || c->hostname[0] == '\0') &&
	    gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		free(c->hostname);
		c->hostname = xstrdup(host);
	}
}

/*
 * Checks that span keys run once everything is parsed, since a section may
 * be written in several files; they name where the section was last seen.
 */
static char	spool_file[256], sink_file[256];
static int	spool_line, sink_line;

static int
note_spool(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)opt;
	strlcpy(spool_file, cur_file ? cur_file : "", sizeof(spool_file));
	spool_line = cfg->line;
	return 0;
}

static int
note_sink(cfg_t *cfg, cfg_opt_t *opt)
{
	(void)opt;
	strlcpy(sink_file, cur_file ? cur_file : "", sizeof(sink_file));
	sink_line = cfg->line;
	return 0;
}

/*
 * What ferry-sink refuses at its start (exit 78), refused here too, so
 * that check-config, ferry-supervisor -n and the reload check say so
 * first: an address that does not resolve, or one beyond loopback with no
 * API key to guard it (SPEC.md, Security). Only when the suite runs the
 * sink; ferry-sink started by hand checks for itself.
 */
static void
validate_sink(const struct ferry_conf *c, const char *path)
{
	const char	*file = sink_file[0] ? sink_file : path;
	const char	*bind = c->sink.bind != NULL ? c->sink.bind : "";
	struct addrinfo	*res;
	int		 rc;

	if (!c->sink.enabled)
		return;
	if ((rc = sock_addrs(bind, c->sink.port, SOCK_STREAM, 1, &res)) != 0) {
		conf_error_add(file, sink_line, "sink.bind \"%s\": %s", bind,
		    gai_strerror(rc));
		return;
	}
	if ((c->sink.api_key == NULL || c->sink.api_key[0] == '\0') &&
	    !sock_loopback_only(res))
		conf_error_add(file, sink_line, "sink.bind \"%s\" listens "
		    "beyond loopback: set sink.api_key, or bind to 127.0.0.1",
		    bind);
	freeaddrinfo(res);
}

/*
 * What ferry-supervisor refuses when started as root (exit 78): a user to
 * run the children as that does not exist. Under FERRY_ROOT it runs them
 * as itself instead, and when not root it never switches.
 */
static void
validate_user(const struct ferry_conf *c, const char *path)
{
	if (geteuid() != 0 || c->user == NULL || c->user[0] == '\0' ||
	    path_root()[0] != '\0')
		return;
	errno = 0;
	if (getpwnam(c->user) == NULL)
		conf_error_add(path, 0, "user \"%s\": %s: create it, or set "
		    "user = \"\" to run as root", c->user,
		    errno != 0 ? strerror(errno) : "no such user");
}

static void
validate(const struct ferry_conf *c, const char *path)
{
	if (c->spool.segment_size > c->spool.max_size)
		conf_error_add(spool_file[0] ? spool_file : path, spool_line,
		    "spool.segment_size (%llu) is larger than spool.max_size (%llu)",
		    (unsigned long long)c->spool.segment_size,
		    (unsigned long long)c->spool.max_size);
	validate_sink(c, path);
	validate_user(c, path);
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
	exposed_clear();
	if (path == NULL)
		path = conf_default_path();
	if (access(path, R_OK) == -1) {
		conf_error_add(path, 0, "%s", strerror(errno));
		cur_errs = NULL;
		return NULL;
	}
	if ((cfg = cfg_init(root_opts(), CFGF_NONE)) == NULL)
		fatal("cfg_init");
	cfg_set_error_function(cfg, conf_errfunc);
	cfg_set_validate_func(cfg, "output", validate_output);
	cfg_set_validate_func(cfg, "event", validate_rule);
	cfg_set_validate_func(cfg, "logmetric", validate_rule);
	cfg_set_validate_func(cfg, "spool", note_spool);
	cfg_set_validate_func(cfg, "sink", note_sink);
	spool_file[0] = sink_file[0] = '\0';
	spool_line = sink_line = 0;
	cur_root = cfg;
	rc = parse_all(cfg, path);
	if (rc == 0)
		rc = apply_env(cfg);
	if (rc != 0 || errs->n > 0) {
		if (errs->n == 0)
			conf_error_add(path, 0, "cannot be parsed");
		env_keys_clear();
		exposed_clear();
		cfg_free(cfg);
		cur_errs = NULL;
		cur_root = NULL;
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	fill(cfg, c);
	env_keys_give(c);
	c->exposed = exposed;
	c->nexposed = nexposed;
	exposed = NULL;
	nexposed = 0;
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

void
conf_warn_exposed(const struct ferry_conf *c)
{
	size_t	i;

	for (i = 0; i < c->nexposed; i++)
		log_warnx("%s sets a secret and others may read it: "
		    "chmod o-rwx it (ferry's programs read it as root or as "
		    "the group ferry)", c->exposed[i]);
}

static void
strlist_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* What fill_section() allocated for section sec in base. */
static void
free_section(const struct conf_section *sec, void *base)
{
	const struct conf_key		*keys;
	const struct conf_section	*secs, *sub;
	char				*arr, *elem;
	size_t				 nkeys, nsecs, i, j, n;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	for (i = 0; i < nkeys; i++) {
		if (!in_section(&keys[i], sec))
			continue;
		if (keys[i].type == CONF_KEY_STR)
			free(*CONF_AT(base, keys[i].off, char **));
		else if (keys[i].type == CONF_KEY_LIST)
			strlist_free(*CONF_AT(base, keys[i].off, char ***),
			    *CONF_AT(base, keys[i].noff, size_t *));
	}
	for (i = 0; i < nsecs; i++) {
		sub = &secs[i];
		if (conf_section_parent(sub) != sec)
			continue;
		if (!(sub->flags & CONF_MULTI)) {
			free_section(sub, base);
			continue;
		}
		arr = *CONF_AT(base, sub->off, char **);
		n = *CONF_AT(base, sub->noff, size_t *);
		for (j = 0; j < n; j++) {
			elem = arr + j * sub->size;
			if (sub->flags & CONF_TITLED)
				free(*CONF_AT(elem, sub->titleoff, char **));
			free_section(sub, elem);
		}
		free(arr);
	}
}

void
conf_free(struct ferry_conf *c)
{
	if (c == NULL)
		return;
	free_section(conf_section_find(""), c);
	free(c->path);
	strlist_free(c->env_keys, c->nenv_keys);
	strlist_free(c->exposed, c->nexposed);
	free(c);
}

/*
 * The forwarder's rows whose fields lie in its struct conn_conf say what a
 * connection is made of: compared in a and b, moved to their offsets there.
 */
int
conf_conn_differ(const struct conn_conf *a, const struct conn_conf *b)
{
	const size_t		 lo = offsetof(struct ferry_conf, forwarder.conn);
	const struct conf_key	*keys;
	struct conf_key		 k;
	size_t			 nkeys, i;

	keys = conf_keys(&nkeys);
	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].section, "forwarder") != 0 ||
		    keys[i].off < lo || keys[i].off >= lo + sizeof(*a))
			continue;
		k = keys[i];
		k.off -= lo;
		if (k.type == CONF_KEY_LIST)
			k.noff -= lo;
		if (conf_key_differ(&k, a, b))
			return 1;
	}
	return 0;
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
	if ((cfg = cfg_init(root_opts(), CFGF_NONE)) == NULL)
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
	exposed_clear();
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

size_t
conf_output_names(const struct ferry_conf *c, const char **names)
{
	size_t	i;

	for (i = 0; i < c->noutputs; i++)
		names[i] = c->outputs[i].name;
	if (c->periodic.heartbeat_url[0] != '\0')
		names[i++] = CONF_HEARTBEAT_OUTPUT;
	return i;
}
