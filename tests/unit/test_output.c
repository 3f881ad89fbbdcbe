/*
 * Unit tests for forwarder/output.c: the output state machine driven by a
 * fake transport, with a fake spool behind it. The state machine knows no
 * scheme, so every state is reached here without a socket: sent, retry
 * (with backoff and a peer's delay), refused for good (dead-lettered), a
 * transport that stalls, one that cannot start (a reconnect), and
 * fail_after's patience.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

/* The code under test, and the batch it fills. */
#include "../../forwarder/output.c"
#include "../../forwarder/batch.c"

const struct ferry_conf	*fconf;

/* -- the fake spool ------------------------------------------------------ */

static int	 spool_records;		/* records waiting */
static int	 next_record;
static int	 commits;

int
source_fill(struct output *o, int max, size_t cap)
{
	char	line[64];
	int	added = 0;

	while (added < max && spool_records > 0) {
		snprintf(line, sizeof(line), "m.%d %d 1700000000", next_record,
		    next_record);
		if (batch_add(&o->batch, line, strlen(line), cap) == -1)
			break;
		next_record++;
		spool_records--;
		added++;
	}
	return added;
}

int
source_moved(const struct output *o)
{
	(void)o;
	return 0;
}

int
source_commit(struct output *o)
{
	(void)o;
	commits++;
	return 0;
}

static uint64_t	committed_at;	/* the fake readers' "position": a record count */

int
source_commit_at(struct output *o, const uint64_t *seq, const uint64_t *off,
    size_t n)
{
	(void)o;
	(void)seq;
	(void)n;
	commits++;
	committed_at = off[0];
	return 0;
}

void
source_tell(const struct output *o, uint64_t *seq, uint64_t *off)
{
	(void)o;
	seq[0] = 1;
	off[0] = (uint64_t)next_record;
}

void
source_close(struct output *o)
{
	(void)o;
}

int
progress_output_each(struct progress *p, void (*fn)(const struct output_state *,
    void *), void *arg)
{
	(void)p;
	(void)fn;
	(void)arg;
	return 0;
}

/* -- the fake transport -------------------------------------------------- */

static int	starts;
static int	start_fails;	/* this many starts fail before one works */
static int	sent_records;

static int
fake_open(struct output *o)
{
	(void)o;
	return 0;
}

static int
fake_start(struct output *o, uint64_t now)
{
	(void)now;
	starts++;
	if (start_fails > 0) {
		start_fails--;
		return -1;
	}
	sent_records = o->batch.n;
	return 0;
}

static void
fake_close(struct output *o)
{
	(void)o;
}

static const struct transport fake = {
	.name = "fake", .open = fake_open, .start = fake_start,
	.close = fake_close,
};

const struct transport *
transport_find(const char *name)
{
	(void)name;
	return &fake;
}

void
tr_retry(struct output *o, uint64_t now, uint64_t after, const char *fmt, ...)
{
	struct tr_result	r = { TR_RETRY, after, "", "" };
	va_list			ap;

	va_start(ap, fmt);
	vsnprintf(r.why, sizeof(r.why), fmt, ap);
	va_end(ap);
	output_done(o, &r, now);
}

/* -- the fixture ---------------------------------------------------------- */

struct fixture {
	char			 root[64];
	struct ferry_conf	 conf;
	struct output_conf	 oc;
	struct conn_conf	 conn;
	struct output		 o;
};

static int
setup(void **state)
{
	struct fixture	*f = calloc(1, sizeof(*f));

	strlcpy(f->root, "/tmp/test_output.XXXXXX", sizeof(f->root));
	assert_non_null(mkdtemp(f->root));
	setenv("FERRY_ROOT", f->root, 1);
	f->conf.hostname = "web1";
	f->conf.api_key = "";
	f->conf.forwarder.batch_size = 10;
	f->conf.forwarder.batch_timeout = 0.5;
	f->conf.forwarder.retry_max = 30;
	f->conf.receiver.max_line = 4096;
	f->conn.connect_timeout = 5;
	f->oc.name = "peer";
	f->oc.uri = "tcp://127.0.0.1:2003/?fail_after=60";
	f->oc.api_key = "";
	f->oc.conn = f->conn;
	fconf = &f->conf;
	spool_records = next_record = commits = 0;
	starts = start_fails = sent_records = 0;
	assert_int_equal(output_init(&f->o, &f->oc, &f->conf), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	output_free(&f->o);
	test_rmtree(f->root);
	free(f);
	return 0;
}

static struct tr_result
result(enum tr_status st, uint64_t after, const char *why)
{
	struct tr_result	r = { st, after, "", "" };

	strlcpy(r.why, why, sizeof(r.why));
	if (st == TR_REFUSED)
		strlcpy(r.code, "WRONGTYPE", sizeof(r.code));
	return r;
}

/* A full batch goes at once; a sent one moves the cursor and counts. */
static void
test_sent(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_SENT, 0, "");

	spool_records = 25;
	output_tick(&f->o, 1000, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
	assert_int_equal(sent_records, 10);
	output_done(&f->o, &r, 1001);
	assert_int_equal(f->o.state, OUT_IDLE);
	assert_int_equal(commits, 1);
	assert_int_equal(f->o.sent, 10);
	assert_int_equal(f->o.batch.n, 0);
	/* The tail of a backlog goes at once, not after batch_timeout. */
	output_tick(&f->o, 1002, 0);
	output_done(&f->o, &r, 1003);
	output_tick(&f->o, 1004, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
	assert_int_equal(sent_records, 5);
}

/* Live records wait batch_timeout for company. */
static void
test_partial_batch_waits(void **state)
{
	struct fixture	*f = *state;

	spool_records = 3;
	output_tick(&f->o, 1000, 0);
	assert_int_equal(f->o.state, OUT_IDLE);
	assert_int_equal(output_next_due(&f->o, 1000), 1500);
	output_tick(&f->o, 1499, 0);
	assert_int_equal(starts, 0);
	output_tick(&f->o, 1500, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
}

/* A retry backs off, resends the same batch, and honours the peer's delay. */
static void
test_retry(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_RETRY, 0, "connect: refused");
	struct tr_result	 wait = result(TR_RETRY, 20000, "HTTP 429");
	struct tr_result	 ok = result(TR_SENT, 0, "");

	spool_records = 10;
	output_tick(&f->o, 1000, 0);
	output_done(&f->o, &r, 1000);
	assert_int_equal(f->o.state, OUT_BACKOFF);
	assert_true(f->o.retry_at > 1000 && f->o.retry_at <= 1000 + 50 + 500);
	assert_string_equal(f->o.last_error, "connect: refused");
	assert_int_equal(commits, 0);
	output_tick(&f->o, f->o.retry_at, 0);
	assert_int_equal(starts, 2);
	assert_int_equal(sent_records, 10);	/* the same batch */
	output_done(&f->o, &wait, 5000);
	assert_true(f->o.retry_at >= 25000);
	output_tick(&f->o, f->o.retry_at, 0);
	output_done(&f->o, &ok, f->o.retry_at);
	assert_int_equal(f->o.failures, 0);
	assert_int_equal(f->o.retries, 2);
	assert_int_equal(commits, 1);
	assert_int_equal(f->o.sent, 10);
}

/* Refused for good: dead-lettered, counted, and the next batch goes on. */
static void
test_refused(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_REFUSED, 0, "Redis: WRONGTYPE x");
	char			 path[256], buf[512];
	FILE			*fp;
	int64_t			 since;

	spool_records = 20;
	output_tick(&f->o, 1000, 0);
	output_done(&f->o, &r, 1000);
	assert_int_equal(f->o.state, OUT_IDLE);
	assert_int_equal(f->o.deadlettered, 10);
	assert_int_equal(commits, 1);
	assert_string_equal(output_health(&f->o, &since), "deadlettering");
	snprintf(path, sizeof(path), "%s/var/opt/ferry/deadletter/peer.log",
	    f->root);
	assert_non_null(fp = fopen(path, "r"));
	assert_non_null(fgets(buf, sizeof(buf), fp));
	assert_non_null(strstr(buf, "status=WRONGTYPE records=10"));
	assert_non_null(fgets(buf, sizeof(buf), fp));
	assert_string_equal(buf, "m.0 0 1700000000\n");
	fclose(fp);
	output_tick(&f->o, 1001, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
	assert_int_equal(next_record, 20);
}

/*
 * The heartbeat's output (newest_only): a retry first reads on to the
 * newest record, and a refusal lets the batch go without a dead letter.
 */
static void
test_newest_only(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_RETRY, 0, "HTTP 503");
	struct tr_result	 no = result(TR_REFUSED, 0, "HTTP 404");
	char			 path[256];

	f->o.newest_only = 1;
	spool_records = 1;
	output_tick(&f->o, 1000, 0);
	assert_int_equal(f->o.state, OUT_IDLE);	/* waits batch_timeout */
	output_tick(&f->o, 1500, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
	output_done(&f->o, &r, 1500);
	assert_int_equal(f->o.state, OUT_BACKOFF);
	spool_records = 2;			/* written meanwhile */
	output_tick(&f->o, f->o.retry_at, 0);
	assert_int_equal(next_record, 3);	/* read on before the retry */
	output_done(&f->o, &no, f->o.retry_at);
	assert_int_equal(f->o.state, OUT_IDLE);
	assert_int_equal(commits, 1);
	snprintf(path, sizeof(path), "%s/var/opt/ferry/deadletter/peer.log",
	    f->root);
	assert_int_equal(access(path, F_OK), -1);
}

/* A transport that never answers: no second batch starts meanwhile. */
static void
test_stall(void **state)
{
	struct fixture	*f = *state;
	int		 i;

	spool_records = 100;
	output_tick(&f->o, 1000, 0);
	for (i = 0; i < 50; i++)
		output_tick(&f->o, 1000 + (uint64_t)i * 1000, 0);
	assert_int_equal(starts, 1);
	assert_int_equal(next_record, 10);
	assert_int_equal(output_next_due(&f->o, 60000), UINT64_MAX);
}

/* A transport that cannot start (no connection yet) is retried. */
static void
test_reconnect(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 ok = result(TR_SENT, 0, "");

	spool_records = 10;
	start_fails = 2;
	output_tick(&f->o, 1000, 0);
	assert_int_equal(f->o.state, OUT_BACKOFF);
	output_tick(&f->o, f->o.retry_at, 0);
	assert_int_equal(f->o.state, OUT_BACKOFF);
	output_tick(&f->o, f->o.retry_at, 0);
	assert_int_equal(f->o.state, OUT_SENDING);
	output_done(&f->o, &ok, f->o.retry_at);
	assert_int_equal(starts, 3);
	assert_int_equal(f->o.sent, 10);
}

/* Failing longer than fail_after: "failed", until a batch goes through. */
static void
test_patience(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_RETRY, 0, "connect: refused");
	struct tr_result	 ok = result(TR_SENT, 0, "");
	int64_t			 since;

	spool_records = 10;
	output_tick(&f->o, 1000, 0);
	output_done(&f->o, &r, 1000);
	assert_string_equal(output_health(&f->o, &since), "retrying");
	f->o.fail_since -= 61;		/* a minute ago */
	output_tick(&f->o, f->o.retry_at, 0);
	output_done(&f->o, &r, 2000);
	assert_true(f->o.failed);
	assert_string_equal(output_health(&f->o, &since), "failed");
	output_tick(&f->o, f->o.retry_at, 0);
	output_done(&f->o, &ok, 3000);
	assert_false(f->o.failed);
	assert_string_equal(output_health(&f->o, &since), "sending");
}

/*
 * A streaming transport commits what the peer acknowledged as it comes:
 * marks at the chunks it wrote, acknowledged up to one of them, move the
 * cursor there and drop those records from the batch; a retry then sends
 * only the rest.
 */
/* A stream extends a batch's worth at a time: each piece committed alone. */
static void
test_streaming_extends_a_batch_at_a_time(void **state)
{
	struct fixture	*f = *state;
	size_t		 from;

	f->o.npos = 1;
	spool_records = 35;
	output_tick(&f->o, 1000, 0);
	assert_int_equal(f->o.batch.n, 10);
	assert_int_equal(output_extend(&f->o, &from, 1), 10);
	assert_int_equal(output_extend(&f->o, &from, 1), 10);
	assert_int_equal(output_extend(&f->o, &from, 1), 5);
	assert_int_equal(f->o.batch.n, 35);
}

static void
test_streaming_commits_the_acknowledged_part(void **state)
{
	struct fixture		*f = *state;
	struct tr_result	 r = result(TR_RETRY, 0, "reset");
	struct tr_result	 ok = result(TR_SENT, 0, "");
	uint64_t		 first, second;
	size_t			 from;

	f->o.npos = 1;		/* one stream, for the marks' positions */
	spool_records = 25;
	output_tick(&f->o, 1000, 0);
	first = output_mark(&f->o);
	assert_int_equal(output_extend(&f->o, &from, 0), 15);
	assert_int_equal(from, first);
	second = output_mark(&f->o);
	assert_int_equal(f->o.batch.n, 25);

	output_acked(&f->o, first);	/* the first 10 */
	assert_int_equal(committed_at, 10);
	assert_int_equal(f->o.sent, 10);
	assert_int_equal(f->o.batch.n, 15);
	assert_int_equal(strncmp(f->o.batch.body, "m.10 ", 5), 0);
	output_acked(&f->o, first + 3);	/* within a chunk: nothing more */
	assert_int_equal(f->o.batch.n, 15);

	output_done(&f->o, &r, 1001);	/* the connection broke */
	output_tick(&f->o, f->o.retry_at, 0);
	assert_int_equal(sent_records, 15);	/* only what was not acked */
	output_acked(&f->o, second);
	output_done(&f->o, &ok, f->o.retry_at + 1);
	assert_int_equal(f->o.sent, 25);
	assert_int_equal(committed_at, 25);
	f->o.npos = 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_batch_waits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newest_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patience, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_streaming_extends_a_batch_at_a_time, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_streaming_commits_the_acknowledged_part, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
