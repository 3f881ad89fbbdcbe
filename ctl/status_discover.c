/*
 * status_discover: what ferry-tail found running (discover { }) in
 * `ferryctl status`: each log it follows for a service, in which format
 * and from where it read that (the process and the configuration file and
 * line), and what it skipped and why. ferry-tail writes these rows to
 * ferry.db whenever they change (tail/discover.c); its counters for the
 * service's source (log.NAME.files, .lines, ...) are among the others.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "status.h"

static void
add_row(const struct discovered_row *r, void *arg)
{
	struct snapshot		*snap = arg;
	struct discovered_row	*nd;

	if ((nd = reallocarray(snap->disc, snap->ndisc + 1,
	    sizeof(*nd))) == NULL) {
		snap->failed = 1;
		return;
	}
	snap->disc = nd;
	nd[snap->ndisc++] = *r;
}

int
status_discover_read(struct snapshot *snap, struct progress *db)
{
	return progress_discovered_each(db, add_row, snap);
}

/* A service's counter from ferry-tail's self-metrics; -1: not published. */
static int64_t
counter(const struct snapshot *snap, const char *service, const char *what)
{
	char	name[160];
	size_t	i;

	snprintf(name, sizeof(name), "log.%s.%s", service, what);
	for (i = 0; i < snap->ncounters; i++)
		if (strcmp(snap->counters[i].proc, "tail") == 0 &&
		    strcmp(snap->counters[i].name, name) == 0)
			return snap->counters[i].value;
	return -1;
}

void
status_discover_print(const struct snapshot *snap)
{
	const struct discovered_row	*r;
	const char			*last = "";
	size_t				 i;
	int				 w = 10, fw = 6;

	if (snap->ndisc == 0)
		return;
	for (i = 0; i < snap->ndisc; i++) {
		if ((int)strlen(snap->disc[i].service) > w)
			w = (int)strlen(snap->disc[i].service);
		if ((int)strlen(snap->disc[i].format) > fw)
			fw = (int)strlen(snap->disc[i].format);
	}
	printf("\n%-*s  %-*s  %s\n", w, "DISCOVERED", fw, "FORMAT",
	    "PATH  (FROM)");
	for (i = 0; i < snap->ndisc; i++) {
		r = &snap->disc[i];
		if (r->path[0] != '\0')
			printf("%-*s  %-*s  %s  (%s)%s%s\n", w, r->service, fw,
			    r->format, r->path, r->origin, r->note[0] != '\0' ?
			    ": " : "", r->note);
	}
	for (i = 0; i < snap->ndisc; i++) {
		r = &snap->disc[i];
		if (strcmp(r->service, last) != 0 && counter(snap, r->service,
		    "files") >= 0)
			printf("%s: %" PRId64 " files followed, %" PRId64
			    " lines read, %" PRId64 " errors\n", r->service,
			    counter(snap, r->service, "files"),
			    counter(snap, r->service, "lines"),
			    counter(snap, r->service, "errors"));
		last = r->service;
		if (r->path[0] == '\0')
			printf("%s: not followed: %s\n", r->service, r->note);
	}
}

void
status_discover_json(const struct snapshot *snap)
{
	const struct discovered_row	*r;
	size_t				 i;

	printf(",\"discovered\":[");
	for (i = 0; i < snap->ndisc; i++) {
		r = &snap->disc[i];
		printf("%s{\"service\":", i ? "," : "");
		json_str(stdout, r->service);
		printf(",\"path\":");
		if (r->path[0] != '\0') {
			json_str(stdout, r->path);
			printf(",\"format\":");
			json_str(stdout, r->format);
			printf(",\"origin\":");
			json_str(stdout, r->origin);
		} else
			printf("null,\"format\":null,\"origin\":null");
		printf(",\"note\":");
		if (r->note[0] != '\0')
			json_str(stdout, r->note);
		else
			printf("null");
		printf(",\"updated\":%" PRId64 "}", r->updated);
	}
	printf("]");
}
