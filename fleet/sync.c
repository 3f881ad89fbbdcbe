/*
 * sync: keeps drains.c's table equal to what etcd holds under the drain
 * keys (fleetdrain.h's range: every drain, group drain and host drain, and
 * no status key, so the fleet's heartbeats wake no one).
 *
 * A whole read first (a range, at some revision R), then a watch from R+1.
 * Each message of the watch is applied as it comes, and the revision of
 * its last event remembered. When the watch ends (etcd went away, the
 * member was killed, a partition), the connection backs off and the watch
 * resumes from that revision + 1 on the next endpoint: what changed in
 * between arrives as events, a drain deleted meanwhile included. When etcd
 * no longer has that history (compacted), it cancels the watch and says
 * so, and we read everything again: the table is rebuilt, and drains.c
 * removes the fragments of drains that are gone.
 *
 * Before the first read answers, the fragments already in conf.d/fleet are
 * left alone: the last drains received keep running through a restart of
 * ferry-fleet while etcd is away.
 */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "conf.h"
#include "etcd.h"
#include "fleet.h"
#include "fleetdrain.h"
#include "log.h"

enum sync_state {
	SYNC_RANGE,		/* a whole read is needed */
	SYNC_RANGING,
	SYNC_WATCH,		/* a watch from revision + 1 is needed */
	SYNC_WATCHING
};

static enum sync_state	 state = SYNC_RANGE;
static int64_t		 revision;	/* the drains reflect the store at it */
static int64_t		 ours;		/* the last change meant for us */
static int		 announced;	/* "watching" logged since the last read */

int64_t
sync_revision(void)
{
	return ours;
}

/* What a watch message did: where it ends, and whether it was for us. */
struct applied {
	int64_t	last;		/* the revision of its last event */
	int64_t	ours;		/* of its last event meant for this host */
};

static void
put_one(int type, const struct etcd_kv *kv, void *arg)
{
	struct applied	*a = arg;
	int		 mine;

	mine = drains_set(kv->key, kv->keylen, type == ETCD_EVENT_DELETE ?
	    NULL : kv->value, kv->valuelen);
	if (a == NULL)
		return;
	if (kv->mod_revision > a->last)
		a->last = kv->mod_revision;
	if (mine && kv->mod_revision > a->ours)
		a->ours = kv->mod_revision;
}

static void
range_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	int64_t	rev;

	(void)grpc;
	(void)arg;
	state = SYNC_RANGE;
	if (rc == -2)
		return;		/* asked again after the backoff */
	if (rc == -1) {
		fleet_error("etcd refused to read the drains: %s", msg);
		conn_fail(msg);
		return;
	}
	drains_clear();
	if (etcd_parse_range(p, n, &rev, put_one, NULL) == -1) {
		/* A half-read table must not remove anything. */
		drains_clear();
		conn_fail("the answer to a range is not what etcd sends");
		return;
	}
	if (revision == 0)
		log_info("read the drains from etcd at %s (revision %lld)",
		    conn_endpoint(), (long long)rev);
	else
		log_info("read the drains again from etcd at %s (revision "
		    "%lld)", conn_endpoint(), (long long)rev);
	revision = ours = rev;
	announced = 0;
	fstats.resyncs++;
	fleet_dirty();
	drains_apply();
	state = SYNC_WATCH;
}

static void
watch_msg(const char *p, size_t n, void *arg)
{
	struct etcd_watch_msg	m;
	struct applied		a = { revision, 0 };
	char			msg[256];
	int			code;

	(void)arg;
	if (p == NULL) {
		/* The stream ended: resume from the revision we are at. */
		if (state == SYNC_WATCHING)
			state = SYNC_WATCH;
		return;
	}
	if (etcd_parse_error(p, n, &code, msg, sizeof(msg)) == 1) {
		fleet_error("etcd ended the watch: %s", msg);
		conn_fail(msg);
		return;
	}
	if (etcd_parse_watch(p, n, &m, put_one, &a) == -1) {
		conn_fail("a watch message is not what etcd sends");
		return;
	}
	if (m.canceled) {
		conn_watch_cancel();
		if (m.compact_revision > 0) {
			log_info("etcd compacted its history past revision "
			    "%lld (we are at %lld): reading every drain again",
			    (long long)m.compact_revision, (long long)revision);
			state = SYNC_RANGE;
			return;
		}
		state = SYNC_WATCH;
		conn_fail(m.reason[0] != '\0' ? m.reason :
		    "etcd cancelled the watch");
		return;
	}
	/* A resumed watch may bring the news before any unary answer. */
	conn_reached();
	if (m.created && !announced) {
		announced = 1;
		log_info("watching %s for drains from revision %lld",
		    fconf->fleet.prefix, (long long)revision + 1);
	}
	/*
	 * Every event moves the revision to resume from; only those meant
	 * for this host cost a look at the fragments (and a status put):
	 * another host's drain changing is no work here.
	 */
	revision = a.last;
	if (a.ours > 0) {
		ours = a.ours;
		fstats.events += (uint64_t)m.nevents;
		fleet_dirty();
		drains_apply();
	}
}

void
sync_tick(void)
{
	struct buf	body;
	char		key[512], end[512];

	if ((state != SYNC_RANGE && state != SYNC_WATCH) || !conn_ready())
		return;
	if (fleet_drain_range(fconf->fleet.prefix, key, sizeof(key), end,
	    sizeof(end)) == -1)
		fatalx("fleet.prefix is too long");
	buf_init(&body, 0);
	if (state == SYNC_RANGE) {
		if (etcd_body_range(&body, key, end) == 0 &&
		    conn_request("/v3/kv/range", &body, range_done, NULL) == 0)
			state = SYNC_RANGING;
	} else if (etcd_body_watch(&body, key, end, revision + 1) == 0 &&
	    conn_watch(&body, watch_msg, NULL) == 0)
		state = SYNC_WATCHING;
	buf_free(&body);
}
