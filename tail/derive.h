/*
 * derive: records made from log records by the event and logmetric rules
 * of the configuration (Logyard's cloud_events, okmeter's log parser).
 *
 * A rule takes the log records of the sources whose key its filter names
 * and parses each one's text through its parser (parser.h; it knows no
 * kind). An event rule writes a matching record again under its own key
 * with the fields found (record.h's "fields"), into the same append as
 * the line, so both share the line's checkpoint. A logmetric rule counts
 * the matching records, per value of a split field (at most max_split of
 * them, the rest under COUNTER._other), keeps the last value of its gauge
 * fields and a histogram (histo.h) of its summary fields, and every
 * interval renders them as metrics PREFIX.HOSTNAME.NAME... .
 *
 * Which rules a source has is resolved once, when the source is made
 * (derive_set_for()): a source that no rule takes has no set, and its
 * lines cost one pointer test. Rules that parse alike (the same match or
 * format) share one parser, and a record is parsed once for all of them.
 * Nothing is allocated per record.
 */
#ifndef FERRY_DERIVE_H
#define FERRY_DERIVE_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct ferry_conf;
struct fields;
struct log_fields;
struct derive_set;
struct discover_metrics;
struct tfile;

/* How a discovered file's record is cut by its own format (discover.h). */
typedef int	(*derive_file_parse)(struct tfile *, const char *, size_t,
		    struct fields *);

/*
 * Every rule of the configuration, its parser made; intervals start at
 * now (monotonic ms), their ends on whole multiples of the interval in
 * wall-clock time (wall_ms). 0, or -1 with the operator's message in err.
 */
int		 derive_init(const struct ferry_conf *, uint64_t, uint64_t,
		    char *, size_t);
void		 derive_free(void);

/* The rules whose filter takes a source's key; NULL when none does. */
struct derive_set *derive_set_for(const char *);
void		 derive_set_free(struct derive_set *);
/* Whether the set counts records (logmetric rules): it sees every one. */
int		 derive_counts(const struct derive_set *);

/*
 * The standard metrics of a discovered service (discover.h), made once as
 * one logmetric rule named after the service, and added to *set (made if
 * NULL): its records are cut by their own file's format, through the
 * parse function derive_file() gives with each. 0, or -1 when no room
 * was kept for it (derive_init: one per discoverer the configuration
 * enables) or memory ran out.
 */
int		 derive_discovered(struct derive_set **, const char *,
		    const struct discover_metrics *);
/* The file of the record about to begin, and how to cut it by its format. */
void		 derive_file(struct derive_set *, derive_file_parse,
		    struct tfile *);

/*
 * One record of the set's source, as it goes to the spool (its text
 * joined and redacted): begin, then events when it is kept, then handled
 * once it is in the spool (kept) or sampled out (not kept). A record the
 * spool refused is begun again when it is read again, and counts once.
 */
void		 derive_begin(struct derive_set *, const char *, size_t);
/* Append the events of the record whose line is f to rec; 0 or -1. */
int		 derive_events(struct derive_set *, const struct log_fields *,
		    struct buf *);
void		 derive_handled(struct derive_set *, int);

/*
 * The metrics of every rule whose interval has ended by now (monotonic
 * ms), or of every rule when all (ferry-tail stopping), stamped ts
 * (seconds; later than the rule's last stamp), appended to out. Then
 * derive_emitted(1) once the spool took them (the rules start their next
 * interval), or 0 when it did not (they are rendered again a second
 * later, with what came since). Returns how many rules were rendered.
 */
int		 derive_render(uint64_t, int64_t, int, struct buf *);
void		 derive_emitted(int);
/* When the next interval ends (monotonic ms); UINT64_MAX: no logmetric. */
uint64_t	 derive_next_due(void);

/*
 * Each rule's counters, for ferry-tail's self-metrics: (name, where it is
 * kept, arg). The places stay valid until derive_free(), so ferry-tail
 * declares them once (common/selfmetrics.c watches them).
 */
void		 derive_counters(void (*)(const char *, const uint64_t *,
		    void *), void *);

/*
 * A field's value as one part of a metric name, into out (size > 5):
 * letters, digits, '-' and '_' kept, every other byte '_', cut at size
 * - 1 bytes; an empty or absent value is "none". Returns its length.
 */
size_t		 derive_name_part(const char *, size_t, char *, size_t);

#endif
