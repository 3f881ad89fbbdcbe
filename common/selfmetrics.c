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
 */
#include <fcntl.h>
#include <inttypes.h>
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

#define SELF_TAIL	16384	/* bytes of the newest segment read back */
#define SELF_SYNC_MS	60000	/* snapshots reach the disk this often */

struct selfmetrics {
	struct spool	*spool;
	char		 prefix[512];	/* "<prefix>.<hostname>.ferry.<proc>." */
	char		 buf[8192];
	size_t		 len;
	uint64_t	 synced_ms;	/* the last fdatasync, monotonic */
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

void
selfmetrics_add(struct selfmetrics *sm, const char *name, uint64_t value)
{
	int	n;

	n = snprintf(sm->buf + sm->len, sizeof(sm->buf) - sm->len,
	    "%s%s %" PRIu64 " ", sm->prefix, name, value);
	if (n < 0 || (size_t)n >= sizeof(sm->buf) - sm->len - 24)
		return;		/* bounded: a full snapshot drops the rest */
	sm->len += n;
	/* The timestamp is filled in by selfmetrics_write(). */
	sm->buf[sm->len++] = '\0';
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
	spool_close(sm->spool);
	free(sm);
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
