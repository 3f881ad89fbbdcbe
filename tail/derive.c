/*
 * derive: the event and logmetric rules (derive.h).
 *
 * Where rules sit in a record's way (pipeline.c): after multiline joins
 * and redaction, so a rule sees a record as it is shipped: a stack trace
 * whole, and never a secret a redact rule took out (an event's fields and
 * a metric's split values leave the host too). Log metrics count every
 * record, sampled out or not, since sampling exists to save shipping, not
 * to change what the metrics say; events come only from the records kept,
 * so an operator who samples a log out ships no events of it either.
 *
 * A logmetric's split values are a table made with the rule (max_split
 * entries, open addressing), so memory does not grow with what a log
 * holds: past max_split distinct values, a record is counted under
 * COUNTER._other, and in the rule's "capped" counter. A value seen stays
 * while records have it: each interval renders every one of them, 0 when
 * no record had it, so a rate never has a hole for "no requests"; one no
 * record had for SPLIT_IDLE_MAX intervals in a row is let go, so a burst
 * of junk values does not fill the table for good. The overflow counter
 * is rendered too once it has been used. Values are cut at
 * SPLIT_VALUE_MAX - 1 bytes (values that differ only beyond are one), and
 * a value that reads "_other" is counted as "-other": the overflow's name
 * is never a value's.
 *
 * A discovered service's standard metrics (discover.h) are one more rule,
 * made at run time in a place derive_init() kept for it: it has no parser
 * of its own, since each of its files has its own format; its records are
 * cut by the function pipeline.c gives with each (derive_file()), and its
 * fields found by name in what that gives (the place of each remembered,
 * checked with one comparison).
 *
 * Counters and summaries start again at each interval. A metric is
 * stamped with the end of its interval, in wall-clock seconds; two
 * intervals never share a second (the sink keeps one point a name and a
 * second), so a late one takes the next second.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "discover.h"
#include "hash.h"
#include "log.h"
#include "record.h"
#include "derive.h"
#include "histo.h"
#include "parser.h"

#define SPLIT_VALUE_MAX	65	/* a split value's bytes, and a NUL */
#define OTHER		"_other"	/* where the values past max_split go */
#define SPLIT_IDLE_MAX	60	/* intervals a split value may go unseen */
#define RETRY_MS	1000	/* metrics the spool refused: tried again */

/* A parser rules share: the same match or format. */
struct slot {
	struct parser	*p;
	const char	*match, *format;
	uint64_t	 serial;	/* the record last parsed */
	int		 matched;
	struct fields	 f;
};

struct event_rule {
	const struct event_conf	*ec;
	char			 key[256];
	struct slot		*slot;
	uint64_t		 records;	/* events into the spool */
	uint64_t		 pending;	/* of the record under way */
};

struct split_value {
	uint64_t	hash;
	uint64_t	count;		/* this interval */
	uint32_t	idle;		/* intervals in a row without it */
	uint8_t		len;		/* 0: a free entry */
	char		v[SPLIT_VALUE_MAX];
};

struct gauge {
	int	field;
	int	set;		/* a value came this interval */
	double	v;
};

struct summary {
	int		 field;
	int		 hint;		/* by file: where it was last found */
	struct histo	*h;
};

struct metric_rule {
	const struct logmetric_conf	*mc;
	char				 base[512];	/* PREFIX.HOST.NAME. */
	struct slot			*slot;
	uint64_t			 interval_ms, due;
	int64_t				 last_ts, stamp;
	int				 rendered;
	uint64_t			 count, other;	/* this interval */
	int				 other_seen;
	int				 split;		/* its field, -1 none */
	int				 split_hint;	/* by file: as summary's */
	int				 by_file;	/* no slot: discovered */
	struct split_value		*tab;
	size_t				 tabsize;
	uint64_t			 nsplit;	/* a counter: see derive_counters() */
	struct gauge			*gauge;
	struct summary			*summary;
	/* Totals since start, ferry-tail's counters. */
	uint64_t			 lines, capped, skipped;
};

struct derive_set {
	struct event_rule	**ev;
	size_t			  nev;
	struct metric_rule	**mr;
	size_t			  nmr;
	const char		 *text;
	size_t			  len;
	uint64_t		  serial;
	/* A discovered file's record, cut by its format (derive_file()). */
	derive_file_parse	  parse;
	struct tfile		 *tf;
	uint64_t		  fserial;
	int			  fmatched;
	struct fields		  ff;
};

/* The rules of discovered services: room kept, and their configuration. */
#define DISCOVERED_MAX	4
static struct logmetric_conf	 dconf[DISCOVERED_MAX];
static size_t			 ndconf, dconf_room;
static const struct ferry_conf	*cur_conf;
static uint64_t			 init_now, init_wall;

static struct slot		*slots;
static size_t			 nslots;
static struct event_rule	*events;
static size_t			 nevents;
static struct metric_rule	*metrics;
static size_t			 nmetrics;
static uint64_t			 serial;
static struct log_head		 ev_head;

/* The slot of a rule's match or format: found, or made. */
static struct slot *
slot_for(const char *match, const char *format, char *err, size_t errlen)
{
	size_t	i;

	/*
	 * The first nslots slots are made, match set; the analyzer loses
	 * nslots (0 at derive_init) across the calls that set it.
	 */
	for (i = 0; i < nslots; i++)
		/* NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker) */
		if (strcmp(slots[i].match, match) == 0 &&
		    strcmp(slots[i].format, format) == 0)
			return &slots[i];
	/* slots has room for every rule: made so by derive_init. */
	if ((slots[nslots].p = parser_new(match, format, err, errlen)) == NULL)
		return NULL;
	slots[nslots].match = match;
	slots[nslots].format = format;
	return &slots[nslots++];
}

static int
event_init(struct event_rule *r, const struct event_conf *ec,
    char *err, size_t errlen)
{
	char	why[256];

	r->ec = ec;
	if (ec->key[0] != '\0')
		strlcpy(r->key, ec->key, sizeof(r->key));
	else
		snprintf(r->key, sizeof(r->key), "event.%s", ec->name);
	if ((r->slot = slot_for(ec->match, ec->format, why, sizeof(why))) ==
	    NULL) {
		snprintf(err, errlen, "event \"%s\": %s", ec->name, why);
		return -1;
	}
	return 0;
}

/* A group the rule uses, as its parser numbers it; -1 with err. */
static int
field_of(const struct metric_rule *r, const char *name, char *err,
    size_t errlen)
{
	int	i;

	if ((i = parser_field(r->slot->p, name)) == -1)
		snprintf(err, errlen, "logmetric \"%s\": its %s has no field "
		    "named \"%s\"", r->mc->name, r->slot->match[0] != '\0' ?
		    "match" : "format", name);
	return i;
}

static int
metric_fields(struct metric_rule *r, char *err, size_t errlen)
{
	const struct logmetric_conf	*mc = r->mc;
	size_t				 i;

	r->split = -1;
	if (mc->split[0] != '\0' &&
	    (r->split = field_of(r, mc->split, err, errlen)) == -1)
		return -1;
	if ((r->gauge = calloc(mc->ngauge + 1, sizeof(*r->gauge))) == NULL ||
	    (r->summary = calloc(mc->nsummary + 1, sizeof(*r->summary))) ==
	    NULL)
		goto nomem;
	for (i = 0; i < mc->ngauge; i++)
		if ((r->gauge[i].field = field_of(r, mc->gauge[i], err,
		    errlen)) == -1)
			return -1;
	for (i = 0; i < mc->nsummary; i++) {
		if ((r->summary[i].field = field_of(r, mc->summary[i], err,
		    errlen)) == -1)
			return -1;
		if ((r->summary[i].h = malloc(sizeof(struct histo))) == NULL)
			goto nomem;
		histo_init(r->summary[i].h);
	}
	return 0;
nomem:
	snprintf(err, errlen, "logmetric \"%s\": out of memory", mc->name);
	return -1;
}

static int
metric_init(struct metric_rule *r, const struct logmetric_conf *mc,
    const struct ferry_conf *conf, uint64_t now, uint64_t wall_ms,
    char *err, size_t errlen)
{
	char	why[256];

	r->mc = mc;
	snprintf(r->base, sizeof(r->base), "%s.%s.%s.", conf->prefix,
	    conf->hostname, mc->name);
	if ((r->slot = slot_for(mc->match, mc->format, why, sizeof(why))) ==
	    NULL) {
		snprintf(err, errlen, "logmetric \"%s\": %s", mc->name, why);
		return -1;
	}
	if (metric_fields(r, err, errlen) == -1)
		return -1;
	/* Twice the entries it may hold: probes stay short. */
	for (r->tabsize = 2; r->tabsize < 2 * (size_t)mc->max_split;)
		r->tabsize *= 2;
	if ((r->tab = calloc(r->tabsize, sizeof(*r->tab))) == NULL) {
		snprintf(err, errlen, "logmetric \"%s\": out of memory",
		    mc->name);
		return -1;
	}
	/* Intervals end on multiples of it in wall-clock time: 10:00:10, ... */
	r->interval_ms = (uint64_t)(mc->interval * 1000);
	r->due = now + r->interval_ms - wall_ms % r->interval_ms;
	return 0;
}

int
derive_init(const struct ferry_conf *conf, uint64_t now, uint64_t wall_ms,
    char *err, size_t errlen)
{
	size_t	i, n = conf->nevents + conf->nlogmetrics;

	nslots = nevents = nmetrics = ndconf = 0;
	/* Room for the standard metrics of each discoverer enabled. */
	dconf_room = conf->discover.nginx ? 1 : 0;
	cur_conf = conf;
	init_now = now;
	init_wall = wall_ms;
	buf_init(&ev_head.text, 0);
	if ((slots = calloc(n + 1, sizeof(*slots))) == NULL ||
	    (events = calloc(conf->nevents + 1, sizeof(*events))) == NULL ||
	    (metrics = calloc(conf->nlogmetrics + dconf_room + 1,
	    sizeof(*metrics))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < conf->nevents; i++, nevents++)
		if (event_init(&events[i], &conf->events[i], err, errlen) == -1)
			return -1;
	for (i = 0; i < conf->nlogmetrics; i++, nmetrics++)
		if (metric_init(&metrics[i], &conf->logmetrics[i], conf, now,
		    wall_ms, err, errlen) == -1)
			return -1;
	return 0;
}

void
derive_free(void)
{
	size_t	i, j;

	for (i = 0; i < nslots; i++)
		parser_free(slots[i].p);
	/* The one past nmetrics: made in part when its making failed. */
	for (i = 0; metrics != NULL && i <= nmetrics; i++) {
		for (j = 0; metrics[i].summary != NULL &&
		    metrics[i].summary[j].h != NULL; j++)
			free(metrics[i].summary[j].h);
		free(metrics[i].summary);
		free(metrics[i].gauge);
		free(metrics[i].tab);
	}
	free(slots);
	free(events);
	free(metrics);
	for (i = 0; i < ndconf; i++)
		free(dconf[i].summary);
	ndconf = dconf_room = 0;
	buf_free(&ev_head.text);
	slots = NULL;
	events = NULL;
	metrics = NULL;
	nslots = nevents = nmetrics = 0;
}

struct derive_set *
derive_set_for(const char *key)
{
	struct derive_set	*s;
	size_t			 i, klen = strlen(key);

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->ev = calloc(nevents + 1, sizeof(struct event_rule *))) ==
	    NULL ||
	    (s->mr = calloc(nmetrics + 1, sizeof(struct metric_rule *))) ==
	    NULL)
		fatal("calloc");
	for (i = 0; i < nevents; i++)
		if (record_key_matches(key, klen,
		    (const char *const *)events[i].ec->filter,
		    events[i].ec->nfilter))
			s->ev[s->nev++] = &events[i];
	for (i = 0; i < nmetrics; i++)
		if (record_key_matches(key, klen,
		    (const char *const *)metrics[i].mc->filter,
		    metrics[i].mc->nfilter))
			s->mr[s->nmr++] = &metrics[i];
	if (s->nev == 0 && s->nmr == 0) {
		derive_set_free(s);
		return NULL;
	}
	return s;
}

void
derive_set_free(struct derive_set *s)
{
	if (s == NULL)
		return;
	free(s->ev);
	free(s->mr);
	free(s);
}

int
derive_counts(const struct derive_set *s)
{
	return s != NULL && s->nmr > 0;
}

/* The rule of a discovered service: its configuration, its tables. */
static struct metric_rule *
discovered_rule(const char *service, const struct discover_metrics *dm)
{
	struct logmetric_conf	*mc;
	struct metric_rule	*r;
	size_t			 i, n = 0;

	for (i = 0; i < nmetrics; i++)
		if (metrics[i].by_file &&
		    strcmp(metrics[i].mc->name, service) == 0)
			return &metrics[i];
	if (ndconf == dconf_room)
		return NULL;
	while (dm->summary[n] != NULL)
		n++;
	mc = &dconf[ndconf];
	memset(mc, 0, sizeof(*mc));
	mc->name = (char *)service;
	mc->counter = (char *)dm->counter;
	mc->split = (char *)(dm->split != NULL ? dm->split : "");
	mc->max_split = 16;		/* status classes, and a few odd ones */
	mc->interval = cur_conf->discover.interval;
	if ((mc->summary = calloc(n + 1, sizeof(*mc->summary))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		mc->summary[i] = (char *)dm->summary[i];
	mc->nsummary = n;
	ndconf++;
	r = &metrics[nmetrics];
	memset(r, 0, sizeof(*r));
	r->mc = mc;
	r->by_file = 1;
	r->split = r->split_hint = -1;
	snprintf(r->base, sizeof(r->base), "%s.%s.%s.", cur_conf->prefix,
	    cur_conf->hostname, service);
	for (r->tabsize = 2; r->tabsize < 2 * (size_t)mc->max_split;)
		r->tabsize *= 2;
	if ((r->tab = calloc(r->tabsize, sizeof(*r->tab))) == NULL ||
	    (r->gauge = calloc(1, sizeof(*r->gauge))) == NULL ||
	    (r->summary = calloc(n + 1, sizeof(*r->summary))) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		r->summary[i].field = r->summary[i].hint = -1;
		if ((r->summary[i].h = malloc(sizeof(struct histo))) == NULL)
			return NULL;
		histo_init(r->summary[i].h);
	}
	r->interval_ms = (uint64_t)(mc->interval * 1000);
	r->due = init_now + r->interval_ms - init_wall % r->interval_ms;
	nmetrics++;
	return r;
}

int
derive_discovered(struct derive_set **sp, const char *service,
    const struct discover_metrics *dm)
{
	struct derive_set	*s = *sp;
	struct metric_rule	*r, **nr;
	size_t			 i;

	if ((r = discovered_rule(service, dm)) == NULL)
		return -1;
	if (s == NULL) {
		if ((s = calloc(1, sizeof(*s))) == NULL ||
		    (s->ev = calloc(1, sizeof(struct event_rule *))) == NULL) {
			derive_set_free(s);
			return -1;
		}
		*sp = s;
	}
	for (i = 0; i < s->nmr; i++)
		if (s->mr[i] == r)
			return 0;
	if ((nr = reallocarray(s->mr, s->nmr + 2, sizeof(struct metric_rule *))) == NULL)
		return -1;
	s->mr = nr;
	s->mr[s->nmr++] = r;
	return 0;
}

void
derive_file(struct derive_set *s, derive_file_parse parse, struct tfile *tf)
{
	s->parse = parse;
	s->tf = tf;
}

void
derive_begin(struct derive_set *s, const char *text, size_t len)
{
	size_t	i;

	s->text = text;
	s->len = len;
	s->serial = ++serial;
	for (i = 0; i < s->nev; i++)
		s->ev[i]->pending = 0;
}

/* The record under way cut by its file's format: once, whoever asks. */
static const struct fields *
file_parsed(struct derive_set *s)
{
	if (s->fserial != s->serial) {
		s->fserial = s->serial;
		s->fmatched = s->parse != NULL &&
		    s->parse(s->tf, s->text, s->len, &s->ff) == 1;
	}
	return s->fmatched ? &s->ff : NULL;
}

/* The place of a field in fl, looked for where it was last (*hint). */
static int
field_at(const struct fields *fl, const char *name, int *hint)
{
	size_t	i;

	if (*hint >= 0 && (size_t)*hint < fl->n &&
	    strcmp(fl->v[*hint].name, name) == 0)
		return *hint;
	for (i = 0; i < fl->n; i++)
		if (strcmp(fl->v[i].name, name) == 0)
			return *hint = (int)i;
	return -1;
}

/* A discovered rule's fields, in the format of the record under way. */
static void
file_fields(struct metric_rule *r, const struct fields *fl)
{
	size_t	i;

	if (r->mc->split[0] != '\0')
		r->split = field_at(fl, r->mc->split, &r->split_hint);
	for (i = 0; i < r->mc->nsummary; i++)
		r->summary[i].field = field_at(fl, r->mc->summary[i],
		    &r->summary[i].hint);
}

/* The record under way parsed by slot: once, whoever asks first. */
static const struct fields *
parsed(const struct derive_set *s, struct slot *sl)
{
	if (sl->serial != s->serial) {
		sl->serial = s->serial;
		sl->matched = parser_parse(sl->p, s->text, s->len, &sl->f);
	}
	return sl->matched ? &sl->f : NULL;
}

int
derive_events(struct derive_set *s, const struct log_fields *line,
    struct buf *rec)
{
	struct log_field	 lf[FIELDS_MAX];
	struct log_fields	 f;
	const struct fields	*fl;
	struct event_rule	*r;
	size_t			 i, j, n;

	for (i = 0; i < s->nev; i++) {
		r = s->ev[i];
		if ((fl = parsed(s, r->slot)) == NULL)
			continue;
		for (j = n = 0; j < fl->n; j++) {
			if (fl->v[j].p == NULL)
				continue;	/* a group that took no part */
			lf[n].name = fl->v[j].name;
			lf[n].p = fl->v[j].p;
			lf[n++].len = fl->v[j].len;
		}
		f = *line;
		f.key = r->key;
		f.fields = lf;
		f.nfields = n;
		if (record_log_head(&ev_head, &f) == -1 ||
		    record_log_put(rec, &ev_head, &f) == -1)
			return -1;
		r->pending++;
	}
	return 0;
}

size_t
derive_name_part(const char *p, size_t len, char *out, size_t size)
{
	size_t	i;

	if (p == NULL || len == 0) {
		strlcpy(out, "none", size);
		return strlen(out);
	}
	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++)
		out[i] = isalnum((unsigned char)p[i]) || p[i] == '-' ||
		    p[i] == '_' ? p[i] : '_';
	out[len] = '\0';
	return len;
}

/* Count the record under the value of its split field. */
static void
split_count(struct metric_rule *r, const struct field *fv)
{
	struct split_value	*e;
	char			 v[SPLIT_VALUE_MAX];
	size_t			 n, i, mask = r->tabsize - 1;
	uint64_t		 h;

	n = derive_name_part(fv->p, fv->len, v, sizeof(v));
	if (n == sizeof(OTHER) - 1 && memcmp(v, OTHER, n) == 0)
		v[0] = '-';
	h = hash_bytes(HASH_INIT, v, n);
	for (i = h & mask;; i = (i + 1) & mask) {
		e = &r->tab[i];
		if (e->len == 0)
			break;
		if (e->hash == h && e->len == n && memcmp(e->v, v, n) == 0) {
			e->count++;
			return;
		}
	}
	if (r->nsplit == (uint64_t)r->mc->max_split) {
		r->other++;
		r->other_seen = 1;
		r->capped++;
		return;
	}
	e->hash = h;
	e->len = (uint8_t)n;
	memcpy(e->v, v, n);
	e->count = 1;
	r->nsplit++;
}

/* A field's value as a finite number; -1 when it is not one. */
static int
number(const struct field *fv, double *v)
{
	char	 tmp[64], *end;

	if (fv->p == NULL || fv->len == 0 || fv->len >= sizeof(tmp))
		return -1;
	memcpy(tmp, fv->p, fv->len);
	tmp[fv->len] = '\0';
	/* strtod() would skip blanks and read "inf", "nan" and "0x1p3". */
	if (!isdigit((unsigned char)tmp[0]) && tmp[0] != '-' &&
	    tmp[0] != '+' && tmp[0] != '.')
		return -1;
	errno = 0;
	*v = strtod(tmp, &end);
	return end == tmp + fv->len && errno == 0 && isfinite(*v) &&
	    strpbrk(tmp, "xXnN") == NULL ? 0 : -1;
}

static void
metric_count(struct metric_rule *r, const struct fields *fl)
{
	size_t	i;
	double	v;

	r->count++;
	r->lines++;
	if (r->split >= 0)
		split_count(r, &fl->v[r->split]);
	for (i = 0; i < r->mc->ngauge; i++) {
		if (number(&fl->v[r->gauge[i].field], &v) == -1) {
			r->skipped++;
			continue;
		}
		r->gauge[i].v = v;
		r->gauge[i].set = 1;
	}
	for (i = 0; i < r->mc->nsummary; i++) {
		if (r->summary[i].field < 0)
			continue;	/* a discovered file's format lacks it */
		if (number(&fl->v[r->summary[i].field], &v) == -1) {
			r->skipped++;
			continue;
		}
		histo_add(r->summary[i].h, v);
	}
}

void
derive_handled(struct derive_set *s, int kept)
{
	const struct fields	*fl;
	size_t			 i;

	for (i = 0; kept && i < s->nev; i++) {
		s->ev[i]->records += s->ev[i]->pending;
		s->ev[i]->pending = 0;
	}
	for (i = 0; i < s->nmr; i++) {
		if (s->mr[i]->by_file) {
			if ((fl = file_parsed(s)) != NULL) {
				file_fields(s->mr[i], fl);
				metric_count(s->mr[i], fl);
			}
		} else if ((fl = parsed(s, s->mr[i]->slot)) != NULL)
			metric_count(s->mr[i], fl);
	}
	s->parse = NULL;
	s->tf = NULL;
}

/* "BASE<what> <value> <ts>\n"; a value that is not finite is left out. */
static int
put_double(struct buf *out, const struct metric_rule *r, const char *what,
    const char *sub, double v, int64_t ts)
{
	if (!isfinite(v))
		return 0;
	return buf_printf(out, "%s%s%s %.12g %" PRId64 "\n", r->base, what, sub,
	    v, ts);
}

static int
put_count(struct buf *out, const struct metric_rule *r, const char *what,
    const char *sub, uint64_t v, int64_t ts)
{
	return buf_printf(out, "%s%s%s %" PRIu64 " %" PRId64 "\n", r->base,
	    what, sub, v, ts);
}

static int
render_summary(struct buf *out, const struct metric_rule *r,
    const char *group, const struct histo *h, int64_t ts)
{
	static const struct {
		const char	*name;
		double		 q;
	} qs[] = { { ".p50", 0.5 }, { ".p90", 0.9 }, { ".p99", 0.99 } };
	size_t	i;

	if (put_count(out, r, group, ".count", h->count, ts) == -1 ||
	    put_double(out, r, group, ".sum", h->sum, ts) == -1)
		return -1;
	if (h->count == 0)
		return 0;	/* no min, max or quantile of nothing */
	if (put_double(out, r, group, ".min", h->min, ts) == -1 ||
	    put_double(out, r, group, ".max", h->max, ts) == -1)
		return -1;
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		if (put_double(out, r, group, qs[i].name,
		    histo_quantile(h, qs[i].q), ts) == -1)
			return -1;
	return 0;
}

static int
render_rule(struct buf *out, const struct metric_rule *r, int64_t ts)
{
	const struct logmetric_conf	*mc = r->mc;
	char				 sub[SPLIT_VALUE_MAX + 2];
	size_t				 i;

	if (put_count(out, r, mc->counter, "", r->count, ts) == -1)
		return -1;
	for (i = 0; i < r->tabsize; i++) {
		if (r->tab[i].len == 0)
			continue;
		snprintf(sub, sizeof(sub), ".%.*s", (int)r->tab[i].len,
		    r->tab[i].v);
		if (put_count(out, r, mc->counter, sub, r->tab[i].count,
		    ts) == -1)
			return -1;
	}
	if (r->other_seen && put_count(out, r, mc->counter, "." OTHER,
	    r->other, ts) == -1)
		return -1;
	for (i = 0; i < mc->ngauge; i++)
		if (r->gauge[i].set && put_double(out, r, mc->gauge[i], "",
		    r->gauge[i].v, ts) == -1)
			return -1;
	for (i = 0; i < mc->nsummary; i++)
		if (render_summary(out, r, mc->summary[i], r->summary[i].h,
		    ts) == -1)
			return -1;
	return 0;
}

/*
 * The split values some record had in the last SPLIT_IDLE_MAX intervals,
 * into a new table (open addressing: an entry cannot simply be freed).
 * Without memory for it, they all stay until the next interval.
 */
static void
split_expire(struct metric_rule *r)
{
	struct split_value	*tab, *e;
	size_t			 i, k, mask = r->tabsize - 1;

	if ((tab = calloc(r->tabsize, sizeof(*tab))) == NULL)
		return;
	r->nsplit = 0;
	for (i = 0; i < r->tabsize; i++) {
		e = &r->tab[i];
		if (e->len == 0 || e->idle >= SPLIT_IDLE_MAX)
			continue;
		for (k = e->hash & mask; tab[k].len != 0; k = (k + 1) & mask)
			;
		tab[k] = *e;
		r->nsplit++;
	}
	free(r->tab);
	r->tab = tab;
}

/* The next interval: counters, gauges and summaries start again. */
static void
rule_restart(struct metric_rule *r, uint64_t now)
{
	size_t	i;
	int	expired = 0;

	r->count = r->other = 0;
	for (i = 0; i < r->tabsize; i++) {
		if (r->tab[i].len == 0)
			continue;
		r->tab[i].idle = r->tab[i].count > 0 ? 0 : r->tab[i].idle + 1;
		expired |= r->tab[i].idle >= SPLIT_IDLE_MAX;
		r->tab[i].count = 0;
	}
	if (expired)
		split_expire(r);
	for (i = 0; i < r->mc->ngauge; i++)
		r->gauge[i].set = 0;
	for (i = 0; i < r->mc->nsummary; i++)
		histo_reset(r->summary[i].h);
	r->due += r->interval_ms;
	/* Behind by more than one (ferry-tail was stopped): from now on. */
	if (r->due <= now)
		r->due = now + r->interval_ms;
}

static uint64_t	rendered_at;

int
derive_render(uint64_t now, int64_t ts, int all, struct buf *out)
{
	struct metric_rule	*r;
	size_t			 i, mark;
	int			 n = 0;

	rendered_at = now;
	for (i = 0; i < nmetrics; i++) {
		r = &metrics[i];
		r->rendered = 0;
		if (!all && now < r->due)
			continue;
		mark = out->len;
		r->stamp = ts > r->last_ts ? ts : r->last_ts + 1;
		if (render_rule(out, r, r->stamp) == -1) {
			out->len = mark;	/* out of memory: next time */
			continue;
		}
		r->rendered = 1;
		n++;
	}
	return n;
}

void
derive_emitted(int ok)
{
	size_t	i;

	for (i = 0; i < nmetrics; i++) {
		if (!metrics[i].rendered)
			continue;
		metrics[i].rendered = 0;
		if (!ok) {
			metrics[i].due = rendered_at + RETRY_MS;
			continue;
		}
		metrics[i].last_ts = metrics[i].stamp;
		rule_restart(&metrics[i], rendered_at);
	}
}

uint64_t
derive_next_due(void)
{
	uint64_t	due = UINT64_MAX;
	size_t		i;

	for (i = 0; i < nmetrics; i++)
		if (metrics[i].due < due)
			due = metrics[i].due;
	return due;
}

void
derive_counters(void (*fn)(const char *, const uint64_t *, void *), void *arg)
{
	char	name[160];
	size_t	i, j;

	for (i = 0; i < nevents; i++) {
		snprintf(name, sizeof(name), "event.%s.records",
		    events[i].ec->name);
		fn(name, &events[i].records, arg);
	}
	for (i = 0; i < nmetrics; i++) {
		const struct metric_rule	*r = &metrics[i];
		const struct {
			const char	*what;
			const uint64_t	*v;
		} c[] = {
			{ "lines", &r->lines },		/* records counted */
			{ "split_values", &r->nsplit },	/* held, at most max_split */
			{ "capped", &r->capped },	/* counted under _other */
			{ "skipped", &r->skipped },	/* values not numbers */
		};

		for (j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
			snprintf(name, sizeof(name), "logmetric.%s.%s",
			    r->mc->name, c[j].what);
			fn(name, c[j].v, arg);
		}
	}
}
