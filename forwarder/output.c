/*
 * output: one destination's state machine: idle (building a batch),
 * sending (one batch with its transport), backoff (waiting to resend the
 * same batch). Each output has its own batch, cursors and retry state, and
 * the transports never block, so a dead destination only ever delays
 * itself. Nothing here knows a scheme: the transport (transport.h) says
 * sent, retry or refused, and the formats (common/format.c) write records.
 *
 * Retries use capped exponential backoff with full jitter (a random delay
 * up to min(retry_max, 0.5 s * 2^failures)) so that many agents recovering
 * from the same outage do not hit the collector in lockstep; a delay the
 * peer asked for (Retry-After) is a floor. A batch the peer refuses for
 * good (for HTTP any 4xx but 408 and 429; for Redis a type error) is
 * written to the output's dead-letter file and counted, so it never blocks
 * what comes after it; an operator who fixed, say, a wrong API key can
 * replay it from there.
 *
 * An output with fail_after that has failed that long is marked failed:
 * it keeps retrying, but stops holding spool segments (source.c deletes
 * them once the others passed, counting what it loses), so one drain that
 * never comes back cannot fill the spool for everyone.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "forwarder.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "transport.h"

#define BACKOFF_BASE_MS	500
/*
 * A streaming transport's batch grows while it waits for the peer's
 * acknowledgement, up to these not yet acknowledged: the wait (a TCP
 * delayed ACK is 40 ms, an fdatasync a few) is then paid per megabyte, not
 * per 250 records; and with marks the acknowledged part is committed and
 * dropped as acknowledgements come, so the stream need not stop at all.
 */
#define EXTEND_RECORDS	32768
#define EXTEND_BYTES	(1 << 20)
#define MARKS_MAX	64	/* more: the newest mark moves instead */

int	forwarder_stopping;
#define RETRY_AFTER_MAX_MS	3600000	/* a peer cannot park us longer */

int	cleanup_wanted;

/*
 * How long a batch waits for company: batch_timeout, but a batch of only
 * ferry's own self-metrics waits SELF_WAIT_MS. Every process publishes its
 * counters a moment after it did something (the forwarder after each
 * delivery), so at rest each batch of metrics would otherwise be followed
 * by a request of counters alone; waiting, they go with the next batch.
 */
#define SELF_WAIT_MS	5000

static uint64_t
batch_wait_ms(const struct output *o)
{
	if (o->batch.n > 0 && o->batch.nself == o->batch.n)
		return SELF_WAIT_MS;
	return (uint64_t)(fconf->forwarder.batch_timeout * 1000);
}

/*
 * o's format for records of a kind: the URI's when it can write that kind,
 * else the scheme's default (so format=graphite on a tcp drain still sends
 * log lines, as JSON). 0, or -1 when a format cannot be made; a kind the
 * scheme has no default for (heartbeats) gets none, and is never taken.
 */
static int
format_for(struct output *o, enum record_kind kind)
{
	struct format	*f = NULL;
	char		 err[256];

	o->fmt[kind] = NULL;
	if (o->url.format[0] != '\0' &&
	    (f = format_new(o->url.format, err, sizeof(err))) == NULL)
		log_warnx("output \"%s\": %s", o->name, err);
	if (f != NULL && format_takes(f, kind)) {
		o->fmt[kind] = f;
		return 0;
	}
	format_free(f);
	if (o->url.scheme->format[kind] == NULL)
		return 0;
	if ((f = format_new(o->url.scheme->format[kind], err,
	    sizeof(err))) == NULL) {
		log_warnx("output \"%s\": %s", o->name, err);
		return -1;
	}
	o->fmt[kind] = f;
	return 0;
}

int
output_init(struct output *o, const struct output_conf *oc,
    const struct ferry_conf *conf)
{
	memset(o, 0, sizeof(*o));
	return output_open(o, oc, conf);
}

int
output_open(struct output *o, const struct output_conf *oc,
    const struct ferry_conf *conf)
{
	char	err[256];
	int	kind;

	o->name = oc->name;
	o->uri = oc->uri;
	o->conn = &oc->conn;
	if (url_parse(oc->uri, &o->url, err, sizeof(err)) == -1) {
		log_warnx("output \"%s\": %s", o->name, err);
		return -1;
	}
	o->api_key = oc->api_key[0] != '\0' ? oc->api_key : conf->api_key;
	o->fctx.hostname = conf->hostname;
	o->fctx.app = "ferry";
	for (kind = 0; kind < RECORD_KINDS; kind++)
		if (format_for(o, kind) == -1)
			return -1;
	o->state = OUT_IDLE;
	o->ok_since = clock_wall();
	if ((o->tr = transport_find(o->url.scheme->transport)) == NULL) {
		log_warnx("output \"%s\": no transport %s", o->name,
		    o->url.scheme->transport);
		return -1;
	}
	return o->tr->open(o);
}

static void
restore_row(const struct output_state *os, void *arg)
{
	struct output	*o = arg;

	if (strcmp(os->name, o->name) != 0)
		return;
	o->sent = os->sent;
	o->dropped = os->dropped;
	o->deadlettered = os->deadlettered;
	o->retries = os->retries;
	o->last_success = os->last_success;
	strlcpy(o->last_error, os->last_error, sizeof(o->last_error));
	o->last_error_at = os->last_error_at;
	o->last_drop_at = os->last_drop_at;
}

/*
 * Counts go on from where the last forwarder left them: a restart (any
 * output edit reloads us) must not make a drop or a dead-letter vanish
 * from ferryctl status.
 */
void
output_restore(struct output *o, struct progress *db)
{
	if (progress_output_each(db, restore_row, o) == -1)
		log_warnx("output %s: its counts start again from 0", o->name);
}

static size_t
batch_cap(void)
{
	return (size_t)fconf->forwarder.batch_size * (fconf->receiver.max_line + 1);
}

static void
marks_clear(struct output *o)
{
	size_t	i;

	for (i = 0; i < o->nmarks; i++) {
		free(o->marks[i].seq);
		free(o->marks[i].off);
	}
	o->nmarks = 0;
}

static void
send_batch(struct output *o, uint64_t now)
{
	o->state = OUT_SENDING;
	if (o->tr->start(o, now) == -1)
		tr_retry(o, now, 0, "cannot start sending");
}

void
output_tick(struct output *o, uint64_t now, int quitting)
{
	uint64_t	timeout;
	/* A newest-only batch holds one record, however many it read. */
	int		want = o->newest_only ? INT_MAX :
			    fconf->forwarder.batch_size;

	if (o->state == OUT_SENDING)
		return;
	if (o->state == OUT_BACKOFF) {
		if (now < o->retry_at || quitting)
			return;
		o->retries++;
		/* A retry takes the newest: one written meanwhile replaces it. */
		if (o->newest_only)
			(void)source_fill(o, want, batch_cap());
		send_batch(o, now);
		return;
	}
	if (quitting)
		return;
	if (o->batch.n < want &&
	    source_fill(o, want - o->batch.n, batch_cap()) > 0 &&
	    o->batch.first_ms == 0)
		o->batch.first_ms = now;
	if (o->batch.n == 0) {
		/* Passed an empty finished segment: let cleanup have it. */
		o->draining = 0;
		if (source_moved(o) && source_commit(o) == 1)
			cleanup_wanted = 1;
		return;
	}
	timeout = batch_wait_ms(o);
	if (o->batch.n >= want || o->batch.full ||
	    o->batch.len >= batch_cap() - fconf->receiver.max_line) {
		o->draining = 1;	/* full: there may be more behind it */
		send_batch(o, now);
	} else if (o->draining || now - o->batch.first_ms >= timeout) {
		/*
		 * Not full: the readers are at the end. The tail of a backlog
		 * goes at once; live records wait batch_timeout for company.
		 */
		o->draining = 0;
		send_batch(o, now);
	}
}

int
output_extend(struct output *o, size_t *from, int piece)
{
	size_t	cap = EXTEND_BYTES > batch_cap() ? EXTEND_BYTES : batch_cap();
	int	want = EXTEND_RECORDS - o->batch.n;

	*from = o->batch.len;
	if (o->batch.full || want <= 0 || forwarder_stopping)
		return 0;
	if (piece && want > fconf->forwarder.batch_size)
		want = fconf->forwarder.batch_size;
	return source_fill(o, want, cap);
}

void
output_release(struct output *o)
{
	o->batch.len = 0;
	o->batch.full = 0;	/* room again; another kind still ends it */
}

uint64_t
output_mark(struct output *o)
{
	struct mark	*m, *nm;

	if (o->nmarks == MARKS_MAX) {
		m = &o->marks[o->nmarks - 1];	/* a coarser last step */
		free(m->seq);
		free(m->off);
	} else {
		if ((nm = reallocarray(o->marks, o->nmarks + 1,
		    sizeof(*nm))) == NULL)
			fatal("reallocarray");
		o->marks = nm;
		m = &o->marks[o->nmarks++];
	}
	m->body = o->body_base + o->batch.len;
	m->n = o->batch.n;
	m->nself = o->batch.nself;
	m->npos = o->npos;
	if ((m->seq = calloc(o->npos + 1, sizeof(*m->seq))) == NULL ||
	    (m->off = calloc(o->npos + 1, sizeof(*m->off))) == NULL)
		fatal("calloc");
	source_tell(o, m->seq, m->off);
	return m->body;
}

/*
 * The peer acknowledged the batch up to body: commit the newest mark at or
 * before it, count its records as sent, and drop them from the batch (the
 * marks after it now count from there).
 */
void
output_acked(struct output *o, uint64_t body)
{
	struct mark	*m;
	size_t		 i, k, cut;
	int		 rc;

	for (k = 0; k < o->nmarks && o->marks[k].body <= body; k++)
		;
	if (k == 0)
		return;
	m = &o->marks[k - 1];
	if ((rc = source_commit_at(o, m->seq, m->off, m->npos)) == -1)
		return;		/* the batch's end commits it, or a retry resends */
	if (rc == 1)
		cleanup_wanted = 1;
	cut = (size_t)(m->body - o->body_base);
	o->sent += m->n - m->nself;
	o->last_success = clock_wall();
	memmove(o->batch.body, o->batch.body + cut, o->batch.len - cut);
	o->batch.len -= cut;
	o->batch.n -= m->n;
	o->batch.nself -= m->nself;
	o->body_base = m->body;
	for (i = k; i < o->nmarks; i++) {
		o->marks[i].n -= m->n;
		o->marks[i].nself -= m->nself;
	}
	for (i = 0; i < k; i++) {
		free(o->marks[i].seq);
		free(o->marks[i].off);
	}
	memmove(o->marks, o->marks + k, (o->nmarks - k) * sizeof(*o->marks));
	o->nmarks -= k;
}

uint64_t
output_next_due(const struct output *o, uint64_t now)
{
	uint64_t	timeout = batch_wait_ms(o);

	if (o->state == OUT_BACKOFF)
		return o->retry_at;
	/* A backlog: the next batch at once (a transport may answer inline). */
	if (o->state == OUT_IDLE && o->draining)
		return now;
	if (o->state == OUT_IDLE && o->batch.n > 0)
		return o->batch.first_ms + timeout;
	return UINT64_MAX;
}

static uint64_t
backoff_ms(int failures)
{
	uint64_t	cap = (uint64_t)(fconf->forwarder.retry_max * 1000);
	uint64_t	ceil = BACKOFF_BASE_MS;
	int		i;

	for (i = 1; i < failures && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	/* Full jitter, with a small floor so a failure never spins. */
	return 50 + (uint64_t)arc4random_uniform((uint32_t)ceil);
}

/* Append the refused batch to deadletter/<output>.log, with why. */
static int
deadletter(struct output *o, const struct tr_result *res)
{
	char	dir[4096], path[4096], ts[40];
	int	fd, n;

	if (path_get(dir, sizeof(dir), PATH_DEADLETTER) == NULL ||
	    path_mkdirs(PATH_DEADLETTER, 0750) == -1)
		return -1;
	n = snprintf(path, sizeof(path), "%s/%s.log", dir, o->name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) == -1) {
		log_warn("open %s", path);
		return -1;
	}
	log_timestamp(ts, sizeof(ts));
	dprintf(fd, "# %s output=%s status=%s records=%d why=%s\n", ts, o->name,
	    res->code[0] != '\0' ? res->code : "-", o->batch.n, res->why);
	if (write(fd, o->batch.body, o->batch.len) != (ssize_t)o->batch.len ||
	    fsync(fd) == -1) {
		log_warn("write %s", path);
		close(fd);
		return -1;
	}
	close(fd);
	log_warnx("output %s: a batch of %d records refused (%s) was set aside "
	    "in %s", o->name, o->batch.n, res->why, path);
	return 0;
}

/* The batch is done with: delivered, or set aside. Move the cursor. */
static void
batch_settled(struct output *o)
{
	int	rc = source_commit(o);

	if (rc == -1) {
		/* Not committed: resend; the receiver drops the duplicate. */
		o->state = OUT_BACKOFF;
		o->retry_at = clock_mono_ms() + 1000;
		return;
	}
	if (rc == 1)
		cleanup_wanted = 1;
	batch_clear(&o->batch);
	marks_clear(o);
	o->body_base = 0;
	o->orphans = 0;
	o->state = OUT_IDLE;
}

/*
 * Stopping with a batch not acknowledged: it is re-read at the next start,
 * except its records whose segment the cap deleted. Those are lost now.
 */
void
output_orphans_lost(struct output *o)
{
	if (o->orphans == 0)
		return;
	log_warnx("output %s: %" PRIu64 " records of a batch not yet "
	    "acknowledged came from segments the spool cap deleted: dropped",
	    o->name, o->orphans);
	o->dropped += o->orphans;
	o->last_drop_at = clock_wall();
	o->orphans = 0;
}

static void
delivered(struct output *o)
{
	if (o->failures > 0)
		log_info("output %s: delivering again after %d failed attempts",
		    o->name, o->failures);
	if (o->failed)
		log_warnx("output %s: no longer failed; it holds spool again",
		    o->name);
	if (o->failures > 0 || o->dead_since != 0)
		o->ok_since = clock_wall();
	o->failures = 0;
	o->failed = 0;
	o->fail_since = o->dead_since = 0;
	o->last_success = clock_wall();
	o->sent += o->batch.n - o->batch.nself;
	o->batches++;
	batch_settled(o);
}

static void
set_aside(struct output *o, const struct tr_result *res)
{
	o->deadlettered += o->batch.n;
	snprintf(o->last_error, sizeof(o->last_error), "%s", res->why);
	o->last_error_at = clock_wall();
	if (o->dead_since == 0)
		o->dead_since = o->last_error_at;
	o->failures = 0;
	o->fail_since = 0;
	batch_settled(o);
}

/* Patience: failing longer than fail_after marks the output failed. */
static void
check_patience(struct output *o)
{
	if (o->failed || o->url.fail_after <= 0 ||
	    (double)(clock_wall() - o->fail_since) < o->url.fail_after)
		return;
	o->failed = 1;
	/*
	 * What the others passed can go now: cleanup otherwise waits for a
	 * cursor to cross into a new segment, minutes away on a quiet host.
	 */
	cleanup_wanted = 1;
	log_warnx("output %s: failing for %.0f s (fail_after): marked failed; "
	    "it keeps retrying, but no longer holds spool segments, and what "
	    "they hold for it is dropped and counted", o->name,
	    o->url.fail_after);
}

void
output_done(struct output *o, const struct tr_result *res, uint64_t now)
{
	uint64_t	delay;

	if (res->status == TR_SENT) {
		delivered(o);
		return;
	}
	/* A refused newest-only record is let go: the next one replaces it. */
	if (res->status == TR_REFUSED && o->newest_only) {
		if (o->dead_since == 0)
			log_warnx("output %s: refused (%s): dropped, and each "
			    "newer one tried in its turn", o->name, res->why);
		set_aside(o, res);
		return;
	}
	if (res->status == TR_REFUSED && deadletter(o, res) == 0) {
		set_aside(o, res);
		return;
	}
	snprintf(o->last_error, sizeof(o->last_error), "%s", res->why);
	o->last_error_at = clock_wall();
	if (o->fail_since == 0)
		o->fail_since = o->last_error_at;
	/* Logged when failing starts, not on every retry. */
	if (o->failures++ == 0)
		log_warnx("output %s: %s; retrying with backoff", o->name,
		    o->last_error);
	check_patience(o);
	delay = backoff_ms(o->failures);
	if (res->retry_after_ms > delay)
		delay = res->retry_after_ms > RETRY_AFTER_MAX_MS ?
		    RETRY_AFTER_MAX_MS : res->retry_after_ms;
	o->retry_at = now + delay;
	o->state = OUT_BACKOFF;
}

void
output_reopen(struct output *o)
{
	if (o->tr->reopen != NULL)
		o->tr->reopen(o);
}

const char *
output_health(const struct output *o, int64_t *since)
{
	if (o->fail_since != 0) {
		*since = o->fail_since;
		return o->failed ? "failed" : "retrying";
	}
	if (o->dead_since != 0) {
		*since = o->dead_since;
		return "deadlettering";
	}
	*since = o->ok_since;
	return "sending";
}

void
output_free(struct output *o)
{
	int	kind;

	if (o->tr != NULL)
		o->tr->close(o);
	marks_clear(o);
	free(o->marks);
	source_close(o);
	batch_free(&o->batch);
	for (kind = 0; kind < RECORD_KINDS; kind++)
		format_free(o->fmt[kind]);
}
