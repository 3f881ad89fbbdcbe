/*
 * selfmetrics: counters as metrics in the spool (see selfmetrics.h).
 *
 * A snapshot is a run of lines with one timestamp, written with one
 * write(2). The reader takes the tail of the newest segment of the stream
 * and lets later lines win, so it always shows the latest snapshot without
 * having to find where one starts.
 *
 * A snapshot is written at once but fsynced at most once a minute (and at
 * close): they are totals, so one lost to a power cut is replaced by the
 * next, and a process that publishes when its counters change would
 * otherwise pay a disk flush for each.
 *
 * When to write is decided here, from the values a process declared: each
 * keeps what the last snapshot wrote of it, and a snapshot is due when one
 * of them moved. A program used to sum its counters by hand to see one
 * move, and a counter left out of the sum was written but never watched
 * (the receiver's torn_bytes): the declaration is now the only list.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metric.h"
#include "selfmetrics.h"
#include "spool.h"
#include "spoolseg.h"

#define SELF_TAIL	16384	/* bytes of the newest segment read back */
#define SELF_SYNC_MS	60000	/* snapshots reach the disk this often */

#define SELF_MAX_MS	60000	/* an unmoved snapshot, by default */

/* One declared value, and what the last snapshot wrote of it. */
struct self_value {
	char		*name;
	const uint64_t	*p;		/* read through p, or by fn(arg) */
	selfmetrics_fn	 fn;
	const void	*arg;
	int		 flags;
	uint64_t	 last;
	int		 last_had;	/* fn gave a value last time */
};

struct selfmetrics {
	struct spool	*spool;
	char		 prefix[512];	/* "<prefix>.<hostname>.ferry.<proc>." */
	char		 buf[8192];
	size_t		 len;
	uint64_t	 synced_ms;	/* the last fdatasync, monotonic */
	struct self_value *values;
	size_t		 nvalues;
	int		 moved;		/* declared or forgotten since */
	int		 written;	/* a snapshot was written (or held) */
	uint64_t	 written_ms;	/* ... then, monotonic */
	uint64_t	 min_ms, max_ms;
};

/* Hostnames may hold dots; in a metric name they would split the path. */
static void
name_part(char *dst, size_t size, const char *src)
{
	size_t	i;

	for (i = 0; src[i] != '\0' && i + 1 < size; i++)
		dst[i] = (src[i] == '.' || src[i] == ' ') ? '_' : src[i];
	dst[i] = '\0';
}

struct selfmetrics *
selfmetrics_open(const struct ferry_conf *conf, const char *spool_dir,
    const char *proc)
{
	struct selfmetrics	*sm;
	char			 stream[SPOOL_STREAM_MAX], host[256];

	if ((sm = calloc(1, sizeof(*sm))) == NULL) {
		log_warn("calloc");
		return NULL;
	}
	sm->max_ms = SELF_MAX_MS;
	snprintf(stream, sizeof(stream), "self-%s", proc);
	name_part(host, sizeof(host), conf->hostname);
	snprintf(sm->prefix, sizeof(sm->prefix), "%s.%s.ferry.%s.", conf->prefix,
	    host, proc);
	if ((sm->spool = spool_open(spool_dir, conf->spool.memory_dir, stream,
	    &conf->spool)) == NULL) {
		free(sm);
		return NULL;
	}
	return sm;
}

/* Queue one line; -1 when the buffer has no room for it. */
static int
queue(struct selfmetrics *sm, const char *name, uint64_t value)
{
	int	n;

	n = snprintf(sm->buf + sm->len, sizeof(sm->buf) - sm->len,
	    "%s%s %" PRIu64 " ", sm->prefix, name, value);
	if (n < 0 || (size_t)n >= sizeof(sm->buf) - sm->len - 24)
		return -1;
	sm->len += n;
	/* The timestamp is filled in by selfmetrics_write(). */
	sm->buf[sm->len++] = '\0';
	return 0;
}

void
selfmetrics_add(struct selfmetrics *sm, const char *name, uint64_t value)
{
	(void)queue(sm, name, value);	/* bounded: a full one drops the rest */
}

int
selfmetrics_write(struct selfmetrics *sm, int64_t now)
{
	char	 out[sizeof(sm->buf) + 4096], *p = out;
	size_t	 i = 0, n;
	int	 rc;

	while (i < sm->len) {
		n = strlen(sm->buf + i);
		p += snprintf(p, out + sizeof(out) - p, "%.*s%" PRId64 "\n",
		    (int)n, sm->buf + i, now);
		i += n + 1;
	}
	sm->len = 0;
	if (p == out)
		return 0;
	rc = spool_append(sm->spool, out, p - out);
	if (rc == 0 && clock_mono_ms() >= sm->synced_ms + SELF_SYNC_MS) {
		rc = spool_sync(sm->spool);
		sm->synced_ms = clock_mono_ms();
	} else if (rc == 0)
		rc = spool_flush(sm->spool);
	return rc;
}

void
selfmetrics_close(struct selfmetrics *sm)
{
	if (sm == NULL)
		return;
	selfmetrics_forget(sm);
	spool_close(sm->spool);
	free(sm);
}

/* A declared value now: 1 and *out, or 0 when it has none. */
static int
value_read(const struct self_value *v, uint64_t *out)
{
	if (v->p != NULL) {
		*out = *v->p;
		return 1;
	}
	return v->fn != NULL && v->fn(v->arg, out) ? 1 : 0;
}

static int
declare(struct selfmetrics *sm, const char *name, const uint64_t *p,
    selfmetrics_fn fn, const void *arg, int flags)
{
	struct self_value	*v;

	if ((v = reallocarray(sm->values, sm->nvalues + 1,
	    sizeof(*v))) == NULL) {
		log_warn("self-metrics: %s", name);
		return -1;
	}
	sm->values = v;
	v = &sm->values[sm->nvalues];
	memset(v, 0, sizeof(*v));
	if ((v->name = strdup(name)) == NULL) {
		log_warn("self-metrics: %s", name);
		return -1;
	}
	v->p = p;
	v->fn = fn;
	v->arg = arg;
	v->flags = flags;
	/* It moves from here; a value that comes (a collector found) is news. */
	v->last_had = value_read(v, &v->last);
	sm->nvalues++;
	sm->moved = sm->written;
	return 0;
}

int
selfmetrics_declare(struct selfmetrics *sm, const char *name,
    const uint64_t *p, int flags)
{
	return declare(sm, name, p, NULL, NULL, flags);
}

int
selfmetrics_declare_fn(struct selfmetrics *sm, const char *name,
    selfmetrics_fn fn, const void *arg, int flags)
{
	return declare(sm, name, NULL, fn, arg, flags);
}

int
selfmetrics_spool_torn(const void *spool, uint64_t *v)
{
	*v = spool_torn_bytes(spool);
	return 1;
}

int
selfmetrics_spool_memory(const void *spool, uint64_t *v)
{
	*v = (uint64_t)spool_in_memory(spool);
	return 1;
}

void
selfmetrics_forget(struct selfmetrics *sm)
{
	size_t	i;

	for (i = 0; i < sm->nvalues; i++)
		free(sm->values[i].name);
	free(sm->values);
	sm->values = NULL;
	if (sm->nvalues > 0)
		sm->moved = sm->written;
	sm->nvalues = 0;
}

void
selfmetrics_pace(struct selfmetrics *sm, uint64_t min_ms, uint64_t max_ms)
{
	sm->min_ms = min_ms;
	sm->max_ms = max_ms;
}

void
selfmetrics_hold(struct selfmetrics *sm, uint64_t now_ms)
{
	sm->written = 1;
	sm->written_ms = now_ms;
}

/* Whether a watched value moved since the last snapshot. */
static int
moved(const struct selfmetrics *sm)
{
	const struct self_value	*v;
	uint64_t		 now;
	size_t			 i;
	int			 had;

	if (sm->moved)
		return 1;
	for (i = 0; i < sm->nvalues; i++) {
		v = &sm->values[i];
		if (v->flags & SELFMETRICS_QUIET)
			continue;
		had = value_read(v, &now);
		if (had != v->last_had || (had && now != v->last))
			return 1;
	}
	return 0;
}

uint64_t
selfmetrics_due(const struct selfmetrics *sm)
{
	if (moved(sm))
		return sm->written_ms + sm->min_ms;
	if (sm->max_ms == 0)
		return UINT64_MAX;
	if (!sm->written)
		return 0;
	return sm->written_ms + sm->max_ms;
}

/* Every value into the snapshot, written out as the buffer fills. */
static int
snapshot(struct selfmetrics *sm)
{
	struct self_value	*v;
	int64_t			 now = clock_wall();
	size_t			 i;
	int			 rc = 0;

	for (i = 0; i < sm->nvalues; i++) {
		v = &sm->values[i];
		/* Values without one (yet) count as 0 against the next. */
		v->last = 0;
		v->last_had = value_read(v, &v->last);
		if (!v->last_had || (v->flags & SELFMETRICS_HIDDEN) ||
		    ((v->flags & SELFMETRICS_NONZERO) && v->last == 0))
			continue;
		if (queue(sm, v->name, v->last) == 0)
			continue;
		if (selfmetrics_write(sm, now) == -1)
			rc = -1;
		(void)queue(sm, v->name, v->last);
	}
	if (selfmetrics_write(sm, now) == -1)
		rc = -1;
	return rc;
}

int
selfmetrics_publish(struct selfmetrics *sm, uint64_t now_ms, int force)
{
	if (!force && now_ms < selfmetrics_due(sm))
		return 0;
	sm->moved = 0;
	sm->written = 1;
	sm->written_ms = now_ms;
	if (snapshot(sm) == -1) {
		log_warn("self-metrics write");
		return -1;
	}
	return 1;
}

/* Parse the complete lines of buf; later lines overwrite earlier ones. */
static void
parse_tail(const char *buf, size_t len, int cut, void (*fn)(const char *,
    uint64_t, void *), void *arg)
{
	const char	*p = buf, *end = buf + len, *nl, *dot;
	struct metric	 m;
	char		 name[256];
	int		 dots;

	/* A tail that starts mid-file starts mid-line: skip that part line. */
	if (cut && (nl = memchr(p, '\n', end - p)) != NULL)
		p = nl + 1;
	for (; p < end && (nl = memchr(p, '\n', end - p)) != NULL; p = nl + 1) {
		if (metric_parse(p, nl - p, &m) != METRIC_OK)
			continue;
		/* Skip "<prefix>.<host>.ferry.<proc>.": four dots. */
		for (dot = m.name, dots = 0; dots < 4 && dot < m.name + m.namelen; dot++)
			if (*dot == '.')
				dots++;
		if (dots < 4 || (size_t)(m.name + m.namelen - dot) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int)(m.name + m.namelen - dot), dot);
		fn(name, strtoull(m.value, NULL, 10), arg);
	}
}

int
selfmetrics_read(const char *spool_dir, const char *memdir, const char *proc,
    void (*fn)(const char *, uint64_t, void *), void *arg)
{
	struct spool_seg	*segs;
	size_t			 n, i;
	char			 stream[SPOOL_STREAM_MAX], path[4096], buf[SELF_TAIL];
	ssize_t			 got;
	int			 fd, found = 0;

	snprintf(stream, sizeof(stream), "self-%s", proc);
	if (spool_list(spool_dir, memdir, &segs, &n) == -1)
		return 0;
	/* Newest first; a segment just opened at a restart may be empty. */
	for (i = n; i-- > 0 && !found;) {
		if (strcmp(segs[i].stream, stream) != 0 || segs[i].size == 0)
			continue;
		if (spool_seg_path(path, sizeof(path), segs[i].inmem ? memdir :
		    spool_dir, stream, segs[i].seq) == -1 ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		got = pread(fd, buf, sizeof(buf), segs[i].size > sizeof(buf) ?
		    (off_t)(segs[i].size - sizeof(buf)) : 0);
		close(fd);
		if (got > 0) {
			parse_tail(buf, got, segs[i].size > sizeof(buf), fn, arg);
			found = 1;
		}
	}
	free(segs);
	return found;
}
