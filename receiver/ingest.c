/*
 * ingest: what the receiver does with a line. It validates it with the
 * shared parser, normalises it to "name value ts\n" and appends it to the
 * spool's write buffer; the loop in receiver.c decides when that buffer
 * reaches the file. Rejects are counted by reason and logged with a rate
 * limit, so a client sending garbage cannot flood receiver.log.
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "metric.h"
#include "receiver.h"
#include "spool.h"

#define REJECT_LOG_BURST	10	/* lines logged per window */
#define REJECT_LOG_WINDOW_MS	60000

static struct spool		*spool;
static const char		*api_key;
static size_t			 api_key_len;
static size_t			 max_line;
static struct ingest_stats	 stats;
static uint64_t			 reject_window_start;
static unsigned			 reject_logged, reject_suppressed;

void
ingest_init(const struct ferry_conf *conf, struct spool *s)
{
	spool = s;
	api_key = conf->api_key;
	api_key_len = strlen(conf->api_key);
	max_line = conf->receiver.max_line;
	/* The first window starts now: not at 0, which ended it at once. */
	reject_window_start = clock_mono_ms();
}

struct ingest_stats *
ingest_stats(void)
{
	return &stats;
}

/* A printable, bounded copy of a rejected line for the log. */
static void
sanitize(char *dst, size_t size, const char *src, size_t len)
{
	size_t	i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[n] = '\0';
}

void
ingest_reject(int status, const char *line, size_t len)
{
	char	shown[81];

	stats.rejected[status]++;
	if (reject_logged >= REJECT_LOG_BURST) {
		reject_suppressed++;
		return;
	}
	reject_logged++;
	sanitize(shown, sizeof(shown), line, len);
	log_warnx("rejected (%s): \"%s%s\"", metric_status_name(status), shown,
	    len > sizeof(shown) - 1 ? "..." : "");
}

/* Called about once a second: closes the reject log window when due. */
void
ingest_log_summary(uint64_t now_ms)
{
	if (now_ms - reject_window_start < REJECT_LOG_WINDOW_MS)
		return;
	if (reject_suppressed > 0)
		log_warnx("%u more lines rejected in the last %d s (not shown)",
		    reject_suppressed, REJECT_LOG_WINDOW_MS / 1000);
	reject_window_start = now_ms;
	reject_logged = reject_suppressed = 0;
}

/* Returns the line's enum metric_status (METRIC_OK when spooled). */
int
ingest_client_line(const char *line, size_t len, int64_t now)
{
	struct metric	 m;
	char		 out[8192];
	size_t		 n;
	int		 status;

	if (len > max_line) {
		ingest_reject(METRIC_TOO_LONG, line, len);
		return METRIC_TOO_LONG;
	}
	if ((status = metric_parse(line, len, &m)) != METRIC_OK) {
		if (status != METRIC_EMPTY)
			ingest_reject(status, line, len);
		return status;
	}
	metric_strip_key(&m, api_key, api_key_len);
	if ((n = metric_format(&m, now, out, sizeof(out))) == 0) {
		ingest_reject(METRIC_TOO_LONG, line, len);
		return METRIC_TOO_LONG;
	}
	if (spool_append(spool, out, n) == -1)
		stats.dropped++;
	else
		stats.accepted++;
	return METRIC_OK;
}

void
ingest_datagram(const char *buf, size_t len, int64_t now)
{
	const char	*p = buf, *end = buf + len, *nl;

	while (p < end) {
		if ((nl = memchr(p, '\n', end - p)) == NULL)
			nl = end;
		ingest_client_line(p, nl - p, now);
		p = nl + 1;
	}
}
