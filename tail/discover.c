/*
 * discover: the loop of discovery (see discover.h), run at start and every
 * tail.rescan_interval with the scans of the globs.
 *
 * Each enabled discoverer is a service; what it finds becomes one log
 * source named after it (nginx, or nginx-discovered when a log section
 * has that name), whose files are the paths found, each with its format's
 * parser. A source is made as a log section is, from a log_conf made here
 * (the defaults of a log section), so its files are followed, checkpointed
 * and rotated exactly like a section's; its records are keyed
 * systail.<name>.<host>.
 *
 * As the answer changes, paths are added and dropped: a file whose path
 * is dropped (nginx reloaded without that access_log, or gone) is read to
 * its end and let go with its checkpoint kept (source.c, checkpoint.c), so
 * it resumes where it was when it is found again, in this run or the next.
 * A source with no path left follows nothing, and keeps its name and its
 * counters (totals since ferry-tail started) for when it is found again. A
 * format that changed takes effect at once: a path's format is looked up
 * again by its files when the generation changes. A line that does not
 * match its format asks for a run before the next rescan (at most every
 * MISMATCH_MS): nginx may have been reloaded with another format, and its
 * lines should not go unparsed for a whole rescan interval.
 *
 * What was found, and what was skipped and why, is said in the log when it
 * changes, and written to ferry.db (the discovered table) for ferryctl
 * status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "derive.h"
#include "discover.h"
#include "log.h"
#include "logformat.h"
#include "progress.h"
#include "tail.h"

#define PROCROOT	"/proc"
#define MISMATCH_MS	5000
#define MAX_LINE	65536	/* a log section's default */

/* A file found, as followed now. */
struct dlog {
	char			*path, *format, *text, *origin;
	struct logformat	*lf;	/* NULL: no text, or it does not compile */
};

struct service {
	const struct discoverer	*d;
	char			 name[CONF_NAME_MAX];
	struct log_conf		 lc;
	struct source		*src;
	struct dlog		*logs;
	size_t			 nlogs;
	char			**notes;	/* as last said */
	size_t			 nnotes;
	int			 failing;	/* its scan failed: said */
};

static const struct discoverer *const all[] = { &discoverer_nginx };
#define NALL	(sizeof(all) / sizeof(all[0]))

static struct service		 services[NALL];
static size_t			 nservices;
static struct progress		*db;
static struct discovered_log	*list;
static size_t			 nlist;
static uint64_t			 generation = 1;
static int			 asked;		/* a line asked for a run */
static uint64_t			 asked_ms;
static char			 empty[] = "";

static int
enabled(const struct ferry_conf *conf, const struct discoverer *d)
{
	return strcmp(d->name, "nginx") == 0 && conf->discover.nginx;
}

static int
configured(const struct ferry_conf *conf, const char *name)
{
	size_t	i;

	for (i = 0; i < conf->nlogs; i++)
		if (strcmp(conf->logs[i].name, name) == 0)
			return 1;
	return 0;
}

void
discover_init(const struct ferry_conf *conf, struct progress *p)
{
	struct service	*s;
	size_t		 i;

	db = p;
	for (i = 0; i < NALL; i++) {
		if (!enabled(conf, all[i]))
			continue;
		s = &services[nservices++];
		memset(s, 0, sizeof(*s));
		s->d = all[i];
		snprintf(s->name, sizeof(s->name), configured(conf,
		    all[i]->name) ? "%s-discovered" : "%s", all[i]->name);
		if (strcmp(s->name, all[i]->name) != 0)
			log_warnx("discover %s: a log section is called %s: the "
			    "files found are followed as log %s", all[i]->name,
			    all[i]->name, s->name);
		/* What a log "NAME" { } section with no key set would be. */
		s->lc.name = s->name;
		s->lc.path = empty;
		s->lc.key = empty;
		s->lc.max_line = MAX_LINE;
		s->lc.from = LOG_FROM_AUTO;
		s->lc.multiline.start = empty;
		s->lc.multiline.max_lines = 500;
		s->lc.multiline.timeout = 1;
	}
}

int
discover_owns(const char *name)
{
	size_t	i;

	for (i = 0; i < nservices; i++)
		if (strcmp(services[i].name, name) == 0)
			return 1;
	return 0;
}

static void
dlog_free(struct dlog *l)
{
	free(l->path);
	free(l->format);
	free(l->text);
	free(l->origin);
	logformat_free(l->lf);
}

static int
same_text(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The followed log of s at path, or NULL. */
static struct dlog *
dlog_at(const struct service *s, const char *path)
{
	size_t	i;

	for (i = 0; i < s->nlogs; i++)
		if (strcmp(s->logs[i].path, path) == 0)
			return &s->logs[i];
	return NULL;
}

/* Did the answer change anything we follow or say? */
static int
same_answer(const struct service *s, const struct found *f)
{
	const struct dlog	*l;
	size_t			 i;

	if (f->nlogs != s->nlogs || f->nnotes != s->nnotes)
		return 0;
	for (i = 0; i < f->nlogs; i++)
		if ((l = dlog_at(s, f->logs[i].path)) == NULL ||
		    !same_text(l->text, f->logs[i].text) ||
		    strcmp(l->format, f->logs[i].format) != 0 ||
		    strcmp(l->origin, f->logs[i].origin) != 0)
			return 0;
	for (i = 0; i < f->nnotes; i++)
		if (strcmp(s->notes[i], f->notes[i]) != 0)
			return 0;
	return 1;
}

/* A found log as we follow it: its parser made, or taken from the old. */
static int
make_dlog(const struct service *s, struct dlog *old, const struct found_log *fl,
    struct dlog *l)
{
	char	err[256];

	memset(l, 0, sizeof(*l));
	if ((l->path = strdup(fl->path)) == NULL ||
	    (l->format = strdup(fl->format)) == NULL ||
	    (l->origin = strdup(fl->origin)) == NULL ||
	    (fl->text != NULL && (l->text = strdup(fl->text)) == NULL)) {
		dlog_free(l);
		return -1;
	}
	if (old != NULL && same_text(old->text, fl->text)) {
		l->lf = old->lf;
		old->lf = NULL;
	} else if (fl->text != NULL &&
	    (l->lf = logformat_nginx(fl->text, err, sizeof(err))) == NULL)
		log_warnx("discover %s: %s (%s): its log_format %s cannot be "
		    "parsed (%s): its lines are followed, not parsed",
		    s->name, fl->path, fl->origin, fl->format, err);
	if (old == NULL)
		log_info("discover %s: following %s, log_format %s (%s)",
		    s->name, fl->path, fl->format, fl->origin);
	else if (!same_text(old->text, fl->text) ||
	    strcmp(old->format, fl->format) != 0)
		log_info("discover %s: %s is now in log_format %s (%s)",
		    s->name, fl->path, fl->format, fl->origin);
	return 0;
}

/* The notes that are new since the last answer, said once each. */
static void
say_notes(struct service *s, struct found *f)
{
	size_t	i, k;
	int	known;

	for (i = 0; i < f->nnotes; i++) {
		known = 0;
		for (k = 0; k < s->nnotes && !known; k++)
			known = strcmp(s->notes[k], f->notes[i]) == 0;
		if (!known)
			log_info("discover %s: %s", s->name, f->notes[i]);
	}
	for (k = 0; k < s->nnotes; k++)
		free(s->notes[k]);
	free(s->notes);
	s->notes = f->notes;
	s->nnotes = f->nnotes;
	f->notes = NULL;
	f->nnotes = 0;
}

/*
 * The paths of s into its source, made the first time it has some. A
 * source whose service went keeps its name and counters, following
 * nothing. Paths found (again), here or at a later start, are taken up at
 * once from their checkpoints, with what rotated at them while they were
 * not followed; at start the first scans do that.
 */
static int
set_paths(struct service *s, int first)
{
	char	**paths;
	size_t	  i;
	int	  rc;

	if (s->src == NULL && s->nlogs == 0)
		return 0;
	if ((paths = calloc(s->nlogs + 1, sizeof(*paths))) == NULL)
		return -1;
	for (i = 0; i < s->nlogs; i++)
		paths[i] = s->logs[i].path;
	if (s->src == NULL) {
		s->src = source_new(&s->lc, tconf);
		s->src->discovered = 1;
		s->src->parse_file = discover_parse;
		/* Its standard metrics, of its files' formats' fields. */
		if (derive_discovered(&s->src->derive, s->name,
		    s->d->metrics) == -1)
			log_warnx("discover %s: its metrics cannot be made: out "
			    "of memory", s->name);
		TAILQ_INSERT_TAIL(&sources, s->src, entry);
	}
	rc = source_set_paths(s->src, paths, s->nlogs);
	free(paths);
	if (rc == 0 && !first && s->nlogs > 0) {
		source_scan(s->src, 0);
		source_recover(s->src);
	}
	if (s->nlogs == 0)
		log_info("discover %s: nothing found any more: its files are "
		    "let go once read to their end", s->name);
	return rc;
}

static int
in_found(const struct found *f, const char *path)
{
	size_t	i;

	for (i = 0; i < f->nlogs; i++)
		if (strcmp(f->logs[i].path, path) == 0)
			return 1;
	return 0;
}

/* Bring s in line with the answer f. 1 when anything changed. */
static int
update(struct service *s, struct found *f, int first)
{
	struct dlog	*nl, *old;
	size_t		 i, n = 0;

	if (same_answer(s, f))
		return 0;
	if ((nl = calloc(f->nlogs + 1, sizeof(*nl))) == NULL)
		return 0;
	for (i = 0; i < f->nlogs; i++)
		if (make_dlog(s, dlog_at(s, f->logs[i].path), &f->logs[i],
		    &nl[n]) == 0)
			n++;
	for (i = 0; i < s->nlogs; i++) {
		old = &s->logs[i];
		if (!in_found(f, old->path))
			log_info("discover %s: %s is no longer logged to (%s): "
			    "read to its end, then let go", s->name, old->path,
			    old->origin);
		dlog_free(old);
	}
	free(s->logs);
	s->logs = nl;
	s->nlogs = n;
	say_notes(s, f);
	if (set_paths(s, first) == -1)
		log_warnx("discover %s: out of memory", s->name);
	return 1;
}

/* What discover_logs() gives, made again after a change. */
static void
make_list(void)
{
	struct discovered_log	*dl;
	const struct service	*s;
	size_t			 i, k, n = 0;

	for (i = 0; i < nservices; i++)
		n += services[i].nlogs;
	free(list);
	nlist = 0;
	if ((list = calloc(n + 1, sizeof(*list))) == NULL)
		return;
	for (i = 0; i < nservices; i++) {
		s = &services[i];
		for (k = 0; k < s->nlogs; k++) {
			dl = &list[nlist++];
			dl->service = s->name;
			dl->path = s->logs[k].path;
			dl->format_name = s->logs[k].format;
			dl->format = s->logs[k].lf;
			dl->origin = s->logs[k].origin;
			dl->src = s->src;
			dl->metrics = s->d->metrics;
		}
	}
}

/* What s follows and what it skipped, into ferry.db for ferryctl status. */
static void
record(const struct service *s)
{
	struct discovered_row	*rows;
	int64_t			 now = clock_wall();
	size_t			 i, n = 0;

	if (db == NULL || (rows = calloc(s->nlogs + s->nnotes + 1,
	    sizeof(*rows))) == NULL)
		return;
	for (i = 0; i < s->nlogs; i++, n++) {
		strlcpy(rows[n].service, s->name, sizeof(rows[n].service));
		strlcpy(rows[n].path, s->logs[i].path, sizeof(rows[n].path));
		strlcpy(rows[n].format, s->logs[i].format,
		    sizeof(rows[n].format));
		strlcpy(rows[n].origin, s->logs[i].origin,
		    sizeof(rows[n].origin));
		if (s->logs[i].text != NULL && s->logs[i].lf == NULL)
			strlcpy(rows[n].note, "its format cannot be parsed",
			    sizeof(rows[n].note));
		rows[n].updated = now;
	}
	for (i = 0; i < s->nnotes; i++, n++) {
		strlcpy(rows[n].service, s->name, sizeof(rows[n].service));
		strlcpy(rows[n].note, s->notes[i], sizeof(rows[n].note));
		rows[n].updated = now;
	}
	if (progress_discovered_set(db, s->name, rows, n) == -1)
		log_warnx("discover %s: what was found could not be written "
		    "to ferry.db", s->name);
	free(rows);
}

int
discover_run(int first)
{
	struct service	*s;
	struct found	 f;
	size_t		 i;
	int		 changed = 0, c;

	asked = 0;
	for (i = 0; i < nservices; i++) {
		s = &services[i];
		memset(&f, 0, sizeof(f));
		if (s->d->scan(PROCROOT, &f) == -1) {
			if (!s->failing)
				log_warn("discover %s: cannot list %s", s->name,
				    PROCROOT);
			s->failing = 1;
			found_free(&f);
			continue;
		}
		s->failing = 0;
		c = update(s, &f, first);
		found_free(&f);
		if (c)
			record(s);
		changed |= c;
	}
	if (changed) {
		generation++;
		make_list();
	}
	return changed;
}

int
discover_due(void)
{
	return asked;
}

const struct discovered_log *
discover_logs(size_t *n, uint64_t *gen)
{
	*n = nlist;
	*gen = generation;
	return list;
}

/* The format of a discovered source's path now. */
static const struct logformat *
format_of(const struct source *src, const char *path)
{
	const struct dlog	*l;
	size_t			 i;

	for (i = 0; i < nservices; i++)
		if (services[i].src == src)
			return (l = dlog_at(&services[i], path)) != NULL ?
			    l->lf : NULL;
	return NULL;
}

int
discover_parse(struct tfile *tf, const char *line, size_t len,
    struct fields *out)
{
	struct pathctr	*pc = tf->pc;

	if (!tf->src->discovered)
		return -1;
	if (pc->format_gen != generation) {
		pc->format = format_of(tf->src, pc->path);
		pc->format_gen = generation;
	}
	if (pc->format == NULL)
		return -1;
	if (logformat_parse(pc->format, line, len, out))
		return 1;
	if (!asked && tail_now() - asked_ms >= MISMATCH_MS) {
		asked = 1;
		asked_ms = tail_now();
	}
	return 0;
}

void
discover_free(void)
{
	struct service	*s;
	size_t		 i, k;

	for (i = 0; i < nservices; i++) {
		s = &services[i];
		for (k = 0; k < s->nlogs; k++)
			dlog_free(&s->logs[k]);
		free(s->logs);
		for (k = 0; k < s->nnotes; k++)
			free(s->notes[k]);
		free(s->notes);
	}
	nservices = 0;
	free(list);
	list = NULL;
	nlist = 0;
}
