/*
 * status_logs: the log sections in `ferryctl status`. One entry per
 * configured log "NAME" section, with what ferry-tail last published of it
 * in its self-metrics (common/logstats.c): files followed, lines and bytes
 * read, how far behind the files' ends it is, lines cut, sampled out,
 * rotations seen, bytes lost and errors. A section ferry-tail has not
 * published (it is not running, or has only just started) says so rather
 * than show zeros that were never counted.
 *
 * Self-metrics are numbers, so an error is a count here; which file and
 * why is in ferry-tail's own log, where tfile_open() says it once per
 * file, and status points there.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "logstats.h"
#include "path.h"
#include "ctl.h"
#include "status.h"

static int		 tail_running(const struct snapshot *);
static const char	*tail_log(char *, size_t);
static void		 print_rules(const struct snapshot *);

void
status_logs_read(struct snapshot *snap)
{
	size_t	i;

	if (snap->conf == NULL || snap->conf->nlogs == 0)
		return;
	if ((snap->logs = calloc(snap->conf->nlogs,
	    sizeof(*snap->logs))) == NULL) {
		snap->failed = 1;
		return;
	}
	/* The counters read for the rest of status, so the two agree. */
	for (i = 0; i < snap->ncounters; i++)
		if (strcmp(snap->counters[i].proc, "tail") == 0)
			logstats_note(snap->conf, snap->logs,
			    snap->counters[i].name,
			    (uint64_t)snap->counters[i].value);
}

/*
 * Errors and lost bytes are totals since ferry-tail started, like the
 * receiver's drops: a restart of ferry-tail clears them.
 */
void
status_logs_health(struct snapshot *snap)
{
	const struct log_stats	*v;
	char			 b[32], where[PATH_MAX];
	size_t			 i;

	for (i = 0; snap->logs != NULL && i < snap->conf->nlogs; i++) {
		v = &snap->logs[i];
		if (v->errors > 0)
			status_reason(snap, "log %s: %" PRIu64 " error%s "
			    "reading its files (see %s)", snap->conf->logs[i].name,
			    v->errors, v->errors == 1 ? "" : "s",
			    tail_log(where, sizeof(where)));
		if (v->lost_bytes > 0)
			status_reason(snap, "log %s: %s of its files went unread",
			    snap->conf->logs[i].name, ctl_bytes(v->lost_bytes, b,
			    sizeof(b)));
	}
}

/*
 * A row per section; "-" where ferry-tail has not published it, and a
 * line under the table that says why, and where errors are explained.
 */
void
status_logs_print(const struct snapshot *snap)
{
	const struct log_stats	*v;
	char			 bytes[32], lag[32], lost[32], where[PATH_MAX];
	size_t			 i;
	int			 w = 3, published = 0, unpublished = 0;
	int			 errors = 0;

	if (snap->logs == NULL)
		return;
	for (i = 0; i < snap->conf->nlogs; i++)
		if ((int)strlen(snap->conf->logs[i].name) > w)
			w = strlen(snap->conf->logs[i].name);
	printf("\n%-*s  %5s  %9s  %10s  %10s  %6s  %7s  %9s  %10s  %6s  %s\n",
	    w, "LOG", "FILES", "LINES", "BYTES", "LAG", "CUT", "SAMPLED",
	    "ROTATIONS", "LOST", "ERRORS", "PATH");
	for (i = 0; i < snap->conf->nlogs; i++) {
		v = &snap->logs[i];
		if (!v->published) {
			unpublished = 1;
			printf("%-*s  %5s  %9s  %10s  %10s  %6s  %7s  %9s  %10s  "
			    "%6s  %s\n", w, snap->conf->logs[i].name, "-", "-",
			    "-", "-", "-", "-", "-", "-", "-",
			    snap->conf->logs[i].path);
			continue;
		}
		published = 1;
		errors |= v->errors > 0;
		printf("%-*s  %5" PRIu64 "  %9" PRIu64 "  %10s  %10s  %6" PRIu64
		    "  %7" PRIu64 "  %9" PRIu64 "  %10s  %6" PRIu64 "  %s\n", w,
		    snap->conf->logs[i].name, v->files, v->lines,
		    ctl_bytes(v->bytes, bytes, sizeof(bytes)),
		    ctl_bytes(v->lag_bytes, lag, sizeof(lag)), v->cut,
		    v->sampled_out, v->rotations,
		    ctl_bytes(v->lost_bytes, lost, sizeof(lost)), v->errors,
		    snap->conf->logs[i].path);
	}
	if (!tail_running(snap))
		printf("ferry-tail is not running: %s\n",
		    published == 0 ? "it has published no counters" :
		    unpublished ? "the counters are the last it published "
		    "(-: none)" : "the counters are the last it published");
	else if (unpublished)
		printf("-: ferry-tail has not published its counters yet\n");
	if (errors)
		printf("errors: ferry-tail's log says which file and why: %s\n",
		    tail_log(where, sizeof(where)));
	print_rules(snap);
}

/* ferry-tail's counter "<kind>.<name>.<what>"; -1 when not published. */
static int64_t
rule_counter(const struct snapshot *snap, const char *kind, const char *name,
    const char *what)
{
	char	full[sizeof(snap->counters->name)];
	size_t	i;

	(void)snprintf(full, sizeof(full), "%s.%s.%s", kind, name, what);
	for (i = 0; i < snap->ncounters; i++)
		if (strcmp(snap->counters[i].proc, "tail") == 0 &&
		    strcmp(snap->counters[i].name, full) == 0)
			return snap->counters[i].value;
	return -1;
}

static void
print_count(int64_t v, int width)
{
	if (v < 0)
		printf("  %*s", width, "-");
	else
		printf("  %*" PRId64, width, v);
}

/*
 * The derive rules (tail/derive.c): the records each matched (events
 * written, lines a logmetric counted), and for a logmetric the split
 * values it holds, the records past max_split counted under COUNTER._other
 * (CAPPED) and the values of gauge and summary fields that were no number.
 */
static void
print_rules(const struct snapshot *snap)
{
	const struct ferry_conf	*c = snap->conf;
	size_t			 i;
	int			 w = 4;

	if (c->nevents + c->nlogmetrics == 0)
		return;
	for (i = 0; i < c->nevents; i++)
		if ((int)strlen(c->events[i].name) > w)
			w = strlen(c->events[i].name);
	for (i = 0; i < c->nlogmetrics; i++)
		if ((int)strlen(c->logmetrics[i].name) > w)
			w = strlen(c->logmetrics[i].name);
	printf("\n%-*s  %-9s  %9s  %6s  %9s  %9s\n", w, "RULE", "KIND",
	    "MATCHED", "SPLIT", "CAPPED", "SKIPPED");
	for (i = 0; i < c->nevents; i++) {
		printf("%-*s  %-9s", w, c->events[i].name, "event");
		print_count(rule_counter(snap, "event", c->events[i].name,
		    "records"), 9);
		printf("  %6s  %9s  %9s\n", "-", "-", "-");
	}
	for (i = 0; i < c->nlogmetrics; i++) {
		printf("%-*s  %-9s", w, c->logmetrics[i].name, "logmetric");
		print_count(rule_counter(snap, "logmetric",
		    c->logmetrics[i].name, "lines"), 9);
		print_count(rule_counter(snap, "logmetric",
		    c->logmetrics[i].name, "split_values"), 6);
		print_count(rule_counter(snap, "logmetric",
		    c->logmetrics[i].name, "capped"), 9);
		print_count(rule_counter(snap, "logmetric",
		    c->logmetrics[i].name, "skipped"), 9);
		printf("\n");
	}
}

void
status_logs_json(const struct snapshot *snap)
{
	size_t	i;

	printf(",\"logs\":");
	if (snap->conf == NULL) {
		printf("null");
		return;
	}
	printf("[");
	for (i = 0; snap->logs != NULL && i < snap->conf->nlogs; i++) {
		printf("%s", i ? "," : "");
		logstats_json(stdout, &snap->conf->logs[i], &snap->logs[i]);
	}
	printf("]");
}

/*
 * Whether ferry-tail runs now, as the supervisor recorded it; with the
 * supervisor gone, nothing it recorded can be trusted to still run.
 */
static int
tail_running(const struct snapshot *snap)
{
	size_t	i;

	if (!snap->sup_up)
		return 0;
	for (i = 0; i < snap->nprocs; i++)
		if (strcmp(snap->procs[i].name, "tail") == 0)
			return strcmp(snap->procs[i].state, "running") == 0 &&
			    snap->procs[i].pid > 0;
	return 0;
}

/* ferry-tail's log file, where the supervisor writes what it says. */
static const char *
tail_log(char *buf, size_t size)
{
	if (path_get(buf, size, PATH_LOG "/tail.log") == NULL)
		(void)strlcpy(buf, PATH_LOG "/tail.log", size);
	return buf;
}
