/*
 * drains: the drain keys meant for this host, and the fragments of
 * conf.d/fleet that carry them to the forwarder.
 *
 * The table holds every drain key sync.c has seen that is meant for this
 * host (its hostname, its fleet.group, or every host), with its value.
 * drains_apply() makes conf.d/fleet say what the table says: for each
 * name the most specific key wins (host, then group, then all); a name
 * that no key holds any more loses its fragment; a value is checked
 * (fleetdrain.c: a known scheme and options, file:// only with
 * fleet.allow_file) and its fragment written atomically, then the whole
 * configuration is loaded with conf_load(), the parser every program uses,
 * and a fragment it refuses (a name some local output has, say) is taken
 * back at once. A refused value never replaces the fragment that runs:
 * the previous value of that drain keeps going. What changed ends in one
 * SIGHUP to ferry-supervisor, so fleet drains take the same reload,
 * restart table and status as the operator's own.
 *
 * A fragment is owned by ferry-fleet: it is written, rewritten and removed
 * here only, named NAME.conf, and says so in its first line. While the
 * configuration has errors of its own (an edit in progress), nothing is
 * written: drains_pending() says so, and fleet.c tries again later.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "buf.h"
#include "conf.h"
#include "fleet.h"
#include "fleetdrain.h"
#include "log.h"
#include "pidfile.h"

#define FRAGMENT_MARK	"# ferry-fleet:"
#define FRAGMENT_MODE	0640	/* it may hold an API key */
#define FRAGMENT_MAX	8192

struct entry {
	char		*key;
	struct fleet_key k;
	char		*value;
	size_t		 vlen;
};

/* A name meant for this host, as the last apply left it. */
struct view {
	char	 name[FLEET_NAME_MAX + 1];
	char	 key[512];
	char	 error[512];	/* "" when its fragment says its value */
};

static struct entry	*entries;
static size_t		 nentries;
static struct view	*views;
static size_t		 nviews;
static char		 dir[PATH_MAX];
static int		 pending;	/* the configuration had its own errors */
static int		 blocked_logged;
static int		 signal_failing;

int
drains_init(void)
{
	if (conf_fleet_dir(fconfpath, dir, sizeof(dir)) == -1) {
		log_warnx("%s: path too long", fconfpath);
		return -1;
	}
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		log_warn("%s (ferry-supervisor makes it when it starts as root)",
		    dir);
		return -1;
	}
	return 0;
}

void
drains_clear(void)
{
	size_t	i;

	for (i = 0; i < nentries; i++) {
		free(entries[i].key);
		free(entries[i].value);
	}
	free(entries);
	entries = NULL;
	nentries = 0;
}

void
drains_free(void)
{
	drains_clear();
	free(views);
	views = NULL;
	nviews = 0;
}

static struct entry *
find(const char *key, size_t keylen)
{
	size_t	i;

	for (i = 0; i < nentries; i++)
		if (strlen(entries[i].key) == keylen &&
		    memcmp(entries[i].key, key, keylen) == 0)
			return &entries[i];
	return NULL;
}

int
drains_set(const char *key, size_t keylen, const char *value, size_t vlen)
{
	struct fleet_key	 k;
	struct entry		*e, *v;

	if (fleet_key_parse(fconf->fleet.prefix, key, keylen, &k) != 1 ||
	    !fleet_key_for(&k, fconf->hostname, fconf->fleet.group))
		return 0;
	if ((e = find(key, keylen)) != NULL) {
		free(e->value);
		e->value = NULL;
		if (value == NULL) {
			free(e->key);
			*e = entries[--nentries];
			return 1;
		}
	} else {
		if (value == NULL)
			return 1;
		if ((v = reallocarray(entries, nentries + 1,
		    sizeof(*entries))) == NULL)
			fatal("reallocarray");
		entries = v;
		e = &entries[nentries++];
		memset(e, 0, sizeof(*e));
		if ((e->key = strndup(key, keylen)) == NULL)
			fatal("strndup");
	}
	e->k = k;
	if ((e->value = malloc(vlen + 1)) == NULL)
		fatal("malloc");
	memcpy(e->value, value, vlen);
	e->value[vlen] = '\0';
	e->vlen = vlen;
	return 1;
}

/* For each name, the entry that wins: host, then group, then all. */
static struct entry **
chosen(size_t *n)
{
	struct entry	**c;
	size_t		  i, j;

	/* An array of pointers: sizeof(*c) is a pointer's size, as meant. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	if ((c = calloc(nentries + 1, sizeof(*c))) == NULL)
		fatal("calloc");
	*n = 0;
	for (i = 0; i < nentries; i++) {
		for (j = 0; j < *n; j++)
			if (strcmp(c[j]->k.name, entries[i].k.name) == 0)
				break;
		if (j == *n)
			c[(*n)++] = &entries[i];
		else if (entries[i].k.scope > c[j]->k.scope)
			c[j] = &entries[i];
	}
	return c;
}

/* The file of a name: DIR/NAME.conf ("" when it does not fit). */
static void
fragment_path(const char *name, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "%s/%s.conf", dir, name);
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* The content of path, at most FRAGMENT_MAX bytes; NULL when none. */
static char *
read_small(const char *path)
{
	FILE	*fp;
	char	*p;
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	if ((p = malloc(FRAGMENT_MAX + 1)) == NULL)
		fatal("malloc");
	n = fread(p, 1, FRAGMENT_MAX, fp);
	fclose(fp);
	p[n] = '\0';
	return p;
}

/* The fragment of a drain: one output section, and where it came from. */
static int
render(struct buf *b, const struct entry *e, const struct fleet_drain *d)
{
	char	scope[300];

	buf_reset(b);
	if (buf_printf(b, FRAGMENT_MARK " from etcd key %s (%s); ferry-fleet "
	    "rewrites and removes this file.\noutput \"%s\" {\n\turi = \"%s\"\n",
	    e->key, fleet_scope_str(&e->k, scope, sizeof(scope)), e->k.name,
	    d->uri) == -1)
		return -1;
	if (d->api_key[0] != '\0' &&
	    buf_printf(b, "\tapi_key = \"%s\"\n", d->api_key) == -1)
		return -1;
	return buf_addstr(b, "}\n");
}

/* The configuration as it stands loads: 0, or -1 with its first error. */
static int
loads(char *err, size_t size)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c;

	if ((c = conf_load(fconfpath, &errs)) != NULL) {
		conf_free(c);
		return 0;
	}
	if (errs.n > 0)
		(void)conf_error_str(&errs.e[0], err, size);
	else
		(void)snprintf(err, size, "the configuration does not load");
	return -1;
}

/* Remove the fragments of names no key holds; 1 when one went. */
static int
remove_stale(struct entry **c, size_t n)
{
	char		**frags;
	char		  path[PATH_MAX], name[NAME_MAX + 1];
	size_t		  j;
	int		  k, changed = 0;

	/* The fragments conf_load() reads from conf.d/fleet. */
	if ((frags = conf_fragments(dir)) == NULL) {
		log_warn("%s", dir);
		return 0;
	}
	for (k = 0; frags[k] != NULL; k++) {
		(void)snprintf(name, sizeof(name), "%.*s",
		    (int)strlen(frags[k]) - 5, frags[k]);
		for (j = 0; j < n; j++)
			if (strcmp(c[j]->k.name, name) == 0)
				break;
		if (j == n) {
			fragment_path(name, path, sizeof(path));
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("%s", path);
			else {
				log_info("drain %s removed: no key holds it any "
				    "more", name);
				changed = 1;
			}
		}
	}
	conf_strings_free(frags);
	return changed;
}

/*
 * Make the fragment of one chosen entry say its value: 1 when it changed,
 * 0 when it did not (or the value is refused: why into err).
 */
static int
apply_one(const struct entry *e, struct buf *text, char *err, size_t size)
{
	struct fleet_drain	 d;
	char			 path[PATH_MAX], why[512];
	char			*old;
	int			 rc;

	err[0] = '\0';
	if (fleet_name_check(e->k.name, why, sizeof(why)) == -1) {
		(void)snprintf(err, size, "%s", why);
		return 0;
	}
	if (fleet_value_parse(e->value, e->vlen, fconf->fleet.allow_file, &d,
	    why, sizeof(why)) == -1) {
		(void)snprintf(err, size, "%s", why);
		explicit_bzero(&d, sizeof(d));
		return 0;
	}
	rc = render(text, e, &d);
	explicit_bzero(&d, sizeof(d));
	if (rc == -1)
		fatalx("out of memory");
	fragment_path(e->k.name, path, sizeof(path));
	old = read_small(path);
	if (old != NULL && strcmp(old, text->p) == 0) {
		free(old);
		return 0;
	}
	if (atomicfile_write(path, text->p, text->len, FRAGMENT_MODE,
	    (uid_t)-1, (gid_t)-1) == -1) {
		(void)snprintf(err, size, "%.256s: %s", path, strerror(errno));
		free(old);
		return 0;
	}
	if (loads(why, sizeof(why)) == -1) {
		/* Take it back: the previous value, or nothing. */
		if (old != NULL)
			rc = atomicfile_write(path, old, strlen(old),
			    FRAGMENT_MODE, (uid_t)-1, (gid_t)-1);
		else
			rc = unlink(path);
		if (rc == -1)
			log_warn("%s: cannot take it back", path);
		(void)snprintf(err, size, "with it the configuration does not "
		    "load: %.400s", why);
		free(old);
		return 0;
	}
	log_info("drain %s %s from %s", e->k.name, old != NULL ? "changed" :
	    "added", e->key);
	free(old);
	return 1;
}

static void
request_reload(void)
{
	if (pidfile_reload("drains changed", "they apply at its next reload",
	    &signal_failing) == 0)
		fstats.reloads++;
}

/* Remember what the apply decided, and log a refusal once. */
static void
record(struct view *v, const struct entry *e, const char *err)
{
	struct view	*old = NULL;
	char		 path[PATH_MAX];
	size_t		 i;

	for (i = 0; i < nviews; i++)
		if (strcmp(views[i].name, e->k.name) == 0)
			old = &views[i];
	(void)strlcpy(v->name, e->k.name, sizeof(v->name));
	(void)strlcpy(v->key, e->key, sizeof(v->key));
	(void)strlcpy(v->error, err, sizeof(v->error));
	if (err[0] == '\0' || (old != NULL && strcmp(old->error, err) == 0 &&
	    strcmp(old->key, e->key) == 0))
		return;
	fragment_path(e->k.name, path, sizeof(path));
	log_warnx("drain %s from %s refused: %s; %s", e->k.name, e->key, err,
	    access(path, F_OK) == 0 ? "its previous value keeps running" :
	    "it does not run here");
	fleet_error("drain %s from %s refused: %s", e->k.name, e->key, err);
}

void
drains_apply(void)
{
	struct entry	**c;
	struct view	 *nv;
	struct buf	  text;
	char		  err[512];
	size_t		  n, i;
	int		  changed;

	if (loads(err, sizeof(err)) == -1) {
		/* Not ours to judge: wait until the operator fixes it. */
		if (!blocked_logged)
			log_warnx("the configuration has errors of its own "
			    "(%s): fleet drains wait until it loads", err);
		fleet_error("the configuration has errors of its own: %s", err);
		blocked_logged = 1;
		pending = 1;
		return;
	}
	if (blocked_logged)
		log_info("the configuration loads again: applying the fleet's "
		    "drains");
	blocked_logged = 0;
	pending = 0;
	c = chosen(&n);
	changed = remove_stale(c, n);
	if ((nv = calloc(n + 1, sizeof(*nv))) == NULL)
		fatal("calloc");
	buf_init(&text, FRAGMENT_MAX);
	fstats.refused = 0;
	for (i = 0; i < n; i++) {
		changed |= apply_one(c[i], &text, err, sizeof(err));
		record(&nv[i], c[i], err);
		if (err[0] != '\0')
			fstats.refused++;
	}
	if (text.p != NULL)
		explicit_bzero(text.p, text.len);
	buf_free(&text);
	free(views);
	views = nv;
	nviews = n;
	free(c);
	fstats.drains = 0;
	for (i = 0; i < n; i++) {
		char	path[PATH_MAX];

		fragment_path(views[i].name, path, sizeof(path));
		if (access(path, F_OK) == 0)
			fstats.drains++;
	}
	fleet_dirty();
	health_poke();
	if (changed)
		request_reload();
}

int
drains_pending(void)
{
	return pending;
}

void
drains_each(void (*fn)(const char *, const char *, const char *, void *),
    void *arg)
{
	size_t	i;

	for (i = 0; i < nviews; i++)
		fn(views[i].name, views[i].key, views[i].error, arg);
}
