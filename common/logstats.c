/*
 * logstats: a log section's counters as ferry-tail publishes them (see
 * publish_counters() in tail/tail.c), read back (see logstats.h).
 *
 * The sections are the configured ones: a counter of a section no longer
 * configured is ignored, and a configured section ferry-tail has not
 * published (it is not running, or has just started) stays unpublished,
 * which the callers say rather than show zeros. A section's name may hold
 * dots, so a counter is matched against each configured name in full
 * ("log." NAME "." counter), never split at a dot.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "json.h"
#include "logstats.h"
#include "selfmetrics.h"

/* The counters, by their self-metric name, which is also their JSON key. */
static const struct {
	const char	*name;
	size_t		 off;
} counters[] = {
	{ "files",		offsetof(struct log_stats, files) },
	{ "lines",		offsetof(struct log_stats, lines) },
	{ "bytes",		offsetof(struct log_stats, bytes) },
	{ "records",		offsetof(struct log_stats, records) },
	{ "cut",		offsetof(struct log_stats, cut) },
	{ "sampled_out",	offsetof(struct log_stats, sampled_out) },
	{ "rotations",		offsetof(struct log_stats, rotations) },
	{ "lost_bytes",		offsetof(struct log_stats, lost_bytes) },
	{ "errors",		offsetof(struct log_stats, errors) },
	{ "lag_bytes",		offsetof(struct log_stats, lag_bytes) },
};
#define NCOUNTERS	(sizeof(counters) / sizeof(counters[0]))

static uint64_t *
field(struct log_stats *v, size_t k)
{
	return (uint64_t *)((char *)v + counters[k].off);
}

static uint64_t
value_of(const struct log_stats *v, size_t k)
{
	return *(const uint64_t *)((const char *)v + counters[k].off);
}

void
logstats_note(const struct ferry_conf *conf, struct log_stats *v,
    const char *name, uint64_t value)
{
	const char	*what;
	size_t		 i, k, len;

	if (strncmp(name, "log.", 4) != 0)
		return;
	for (i = 0; i < conf->nlogs; i++) {
		len = strlen(conf->logs[i].name);
		if (strncmp(name + 4, conf->logs[i].name, len) != 0 ||
		    name[4 + len] != '.')
			continue;
		what = name + 4 + len + 1;
		for (k = 0; k < NCOUNTERS; k++) {
			if (strcmp(what, counters[k].name) == 0) {
				*field(&v[i], k) = value;
				v[i].published = 1;
				return;
			}
		}
	}
}

struct read_ctx {
	const struct ferry_conf	*conf;
	struct log_stats	*v;
};

static void
note_one(const char *name, uint64_t value, void *arg)
{
	struct read_ctx	*ctx = arg;

	logstats_note(ctx->conf, ctx->v, name, value);
}

int
logstats_read(const struct ferry_conf *conf, const char *spooldir,
    const char *memdir, struct log_stats *v)
{
	struct read_ctx	ctx = { conf, v };

	memset(v, 0, conf->nlogs * sizeof(*v));
	return selfmetrics_read(spooldir, memdir, "tail", note_one, &ctx);
}

void
logstats_json(FILE *fp, const struct log_conf *lc, const struct log_stats *v)
{
	size_t	k;

	fputs("{\"name\":", fp);
	json_str(fp, lc->name);
	fputs(",\"path\":", fp);
	json_str(fp, lc->path);
	fprintf(fp, ",\"published\":%s", v->published ? "true" : "false");
	for (k = 0; k < NCOUNTERS; k++) {
		fprintf(fp, ",\"%s\":", counters[k].name);
		if (v->published)
			fprintf(fp, "%" PRIu64, value_of(v, k));
		else
			fputs("null", fp);
	}
	fputc('}', fp);
}
