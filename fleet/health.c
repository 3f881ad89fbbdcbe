/*
 * health: this host's place in the fleet's view, PREFIXstatus/HOSTNAME,
 * held under a lease so that a host that stops (or is cut off) drops out
 * by itself: the TTL is three heartbeat intervals, the lease is renewed at
 * each one, and revoked when ferry-fleet stops.
 *
 * The value is a small JSON summary:
 *
 *   {"host":"web1","group":"eu","version":"0.1.0","time":1764751234,
 *    "healthy":true,"revision":42,"etcd":"http://10.0.0.5:2379",
 *    "drains":[{"name":"archive","key":"/ferry/drains/archive",
 *               "state":"sending","backlog_bytes":0,"error":null}],
 *    "last_error":null,"last_error_at":null}
 *
 * state is the forwarder's word for the output (sending, retrying,
 * failed, deadlettering), "pending" before it has published one, or
 * "refused" for a value this host would not take (error says why, never
 * with a secret). healthy is false while a drain is refused or failed.
 *
 * A put is a revision of the whole store, kept in its history until etcd
 * compacts it, and a fleet has thousands of hosts: so the value is put
 * when it changed, and never just because time passed (a renewal is not a
 * write). A backlog counts as changed only when it moves to another order
 * of size (under 1 MiB, under 64 MiB, more): the exact bytes at the moment
 * of a look are noise, and "none" apart from "a few" would be worst of
 * all, a host taking metrics all the time having some unsent at one look
 * and none at the next; a drain that falls behind changes its state
 * anyway. The bytes put are the latest. "time" says when it was written.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backlog.h"
#include "buf.h"
#include "clock.h"
#include "conf.h"
#include "etcd.h"
#include "fleet.h"
#include "fleetdrain.h"
#include "json.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "version.h"

static int64_t		 lease;		/* 0: none held */
static int		 busy;		/* a lease or put request is out */
static uint64_t		 beat_due;
static int		 put_needed;	/* a new lease carries no value yet */
static int		 check_due;	/* look whether the summary changed */
static char		*put_core;	/* the last value put, without numbers */
static char		*sending_core;	/* the one in flight */
static char		 key[512];

static uint64_t
interval_ms(void)
{
	return (uint64_t)(fconf->fleet.heartbeat_interval * 1000 + 0.5);
}

int
health_init(void)
{
	if (fleet_status_key(key, sizeof(key), fconf->fleet.prefix,
	    fconf->hostname) == -1) {
		log_warnx("the status key of %s is too long", fconf->hostname);
		return -1;
	}
	beat_due = clock_mono_ms();
	return 0;
}

void
health_free(void)
{
	free(put_core);
	free(sending_core);
	put_core = sending_core = NULL;
}

/* What the forwarder last published of the outputs, and their backlogs. */
struct outputs {
	struct progress		*db;
	struct output_state	*st;
	size_t			 n;
};

struct report {
	struct buf	*core;		/* without time and backlogs */
	struct buf	*full;
	struct outputs	*out;
	int		 healthy;
	int		 n;
};

static void
add_both(struct report *r, const char *s)
{
	(void)buf_addstr(r->core, s);
	(void)buf_addstr(r->full, s);
}

static void
add_string(struct report *r, const char *s)
{
	(void)json_add_string(r->core, s, strlen(s));
	(void)json_add_string(r->full, s, strlen(s));
}

static void
drain_one(const char *name, const char *dkey, const char *error, void *arg)
{
	struct report			*r = arg;
	const struct output_state	*os;
	struct backlog			 bl;
	const char			*state = "refused";
	char				 spool[PATH_MAX];

	memset(&bl, 0, sizeof(bl));
	if (error[0] == '\0') {
		os = output_state_find(r->out->st, r->out->n, name);
		state = os != NULL ? os->state : "pending";
		if (r->out->db != NULL &&
		    path_get(spool, sizeof(spool), PATH_SPOOL) != NULL)
			(void)backlog_bytes(r->out->db, spool,
			    fconf->spool.memory_dir[0] != '\0' ?
			    fconf->spool.memory_dir : NULL, name, &bl);
	}
	if (strcmp(state, "refused") == 0 || strcmp(state, "failed") == 0)
		r->healthy = 0;
	add_both(r, r->n++ > 0 ? ",{\"name\":" : "{\"name\":");
	add_string(r, name);
	add_both(r, ",\"key\":");
	add_string(r, dkey);
	add_both(r, ",\"state\":");
	add_string(r, state);
	(void)buf_printf(r->full, ",\"backlog_bytes\":%" PRIu64, bl.bytes);
	(void)buf_printf(r->core, ",\"backlog\":%d", bl.bytes < (1 << 20) ? 0 :
	    bl.bytes < (64 << 20) ? 1 : 2);
	add_both(r, ",\"error\":");
	if (error[0] != '\0')
		add_string(r, error);
	else
		add_both(r, "null");
	add_both(r, "}");
}

/* The summary, as core (compared for changes) and full (put). */
static void
report_build(struct buf *core, struct buf *full)
{
	struct outputs	 o;
	struct report	 r;
	const char	*err;
	char		 path[PATH_MAX];
	int64_t		 at;

	memset(&o, 0, sizeof(o));
	if (path_get(path, sizeof(path), PATH_DB) != NULL &&
	    access(path, F_OK) == 0 && (o.db = progress_open_ro(path)) != NULL)
		(void)progress_outputs(o.db, &o.st, &o.n);
	r.core = core;
	r.full = full;
	r.out = &o;
	r.healthy = 1;
	r.n = 0;
	buf_reset(core);
	buf_reset(full);
	add_both(&r, "{\"host\":");
	add_string(&r, fconf->hostname);
	add_both(&r, ",\"group\":");
	add_string(&r, fconf->fleet.group);
	add_both(&r, ",\"version\":");
	add_string(&r, version_get());
	(void)buf_printf(full, ",\"time\":%lld", (long long)clock_wall());
	(void)buf_printf(core, ",\"revision\":%lld",
	    (long long)sync_revision());
	(void)buf_printf(full, ",\"revision\":%lld",
	    (long long)sync_revision());
	add_both(&r, ",\"etcd\":");
	add_string(&r, conn_endpoint());
	add_both(&r, ",\"drains\":[");
	drains_each(drain_one, &r);
	add_both(&r, "]");
	if (drains_pending())
		r.healthy = 0;
	err = fleet_last_error(&at);
	add_both(&r, ",\"last_error\":");
	if (err[0] != '\0') {
		add_string(&r, err);
		(void)buf_printf(core, ",\"last_error_at\":%lld", (long long)at);
		(void)buf_printf(full, ",\"last_error_at\":%lld", (long long)at);
	} else
		add_both(&r, "null,\"last_error_at\":null");
	add_both(&r, r.healthy ? ",\"healthy\":true}" : ",\"healthy\":false}");
	progress_close(o.db);
	free(o.st);
}

static void
put_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	(void)p;
	(void)n;
	(void)arg;
	busy = 0;
	if (rc == 0) {
		free(put_core);
		put_core = sending_core;
		sending_core = NULL;
		put_needed = 0;
		fstats.status_puts++;
		fleet_dirty();
		return;
	}
	if (rc == -1 && grpc == ETCD_CODE_NOT_FOUND)
		lease = 0;	/* "requested lease not found": a new one */
	else if (rc == -1)
		fleet_error("etcd refused the status put: %s", msg);
}

static void
keepalive_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	int64_t	id, ttl;

	(void)grpc;
	(void)arg;
	busy = 0;
	if (rc != 0) {
		if (rc == -1)
			fleet_error("etcd refused the lease renewal: %s", msg);
		return;
	}
	/* A lease that ended (we were away longer than its TTL). */
	if (etcd_parse_lease(p, n, &id, &ttl) == -1 || ttl <= 0) {
		log_info("the status lease ended; taking a new one");
		lease = 0;
	}
}

static void
grant_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	int64_t	id, ttl;

	(void)grpc;
	(void)arg;
	busy = 0;
	if (rc == -1)
		fleet_error("etcd refused a lease: %s", msg);
	if (rc != 0 || etcd_parse_lease(p, n, &id, &ttl) == -1)
		return;
	lease = id;
	put_needed = 1;
	log_info("holding %s under lease %llx (TTL %lld s)", key,
	    (unsigned long long)lease, (long long)ttl);
}

static void
grant(void)
{
	struct buf	body;
	int64_t		ttl = (int64_t)(fconf->fleet.heartbeat_interval * 3 +
			    0.999);

	buf_init(&body, 0);
	if (etcd_body_lease_grant(&body, ttl) == 0 &&
	    conn_request("/v3/lease/grant", &body, grant_done, NULL) == 0)
		busy = 1;
	buf_free(&body);
}

static void
keepalive(void)
{
	struct buf	body;

	buf_init(&body, 0);
	if (etcd_body_lease(&body, lease) == 0 &&
	    conn_request("/v3/lease/keepalive", &body, keepalive_done,
	    NULL) == 0)
		busy = 1;
	buf_free(&body);
}

/* Put the summary when it says something new (see the top). */
static void
maybe_put(void)
{
	struct buf	core, full, body;
	size_t		n;

	buf_init(&core, 1 << 20);
	buf_init(&full, 1 << 20);
	report_build(&core, &full);
	if (!put_needed && put_core != NULL && strcmp(put_core, core.p) == 0) {
		buf_free(&core);
		buf_free(&full);
		return;
	}
	buf_init(&body, 0);
	if (etcd_body_put(&body, key, full.p, full.len, lease) == 0 &&
	    conn_request("/v3/kv/put", &body, put_done, NULL) == 0) {
		busy = 1;
		free(sending_core);
		sending_core = buf_take(&core, &n);
	}
	buf_free(&body);
	buf_free(&core);
	buf_free(&full);
}

/*
 * ms until health_tick() has something to do; -1 while a request is out
 * or etcd is being waited for (their ends wake the loop anyway).
 */
int
health_timeout(uint64_t now)
{
	if (busy || !conn_ready())
		return -1;
	if (lease == 0 || put_needed || check_due)
		return 0;
	return beat_due > now ? (int)(beat_due - now) : 0;
}

/*
 * At each beat: renew the lease, then (once renewed, on a later tick)
 * put the summary if it changed. Without a lease: take one first, and put
 * the summary under it. One request at a time, so a slow etcd never piles
 * them up.
 */
void
health_tick(uint64_t now)
{
	if (busy || !conn_ready())
		return;
	if (lease == 0)
		grant();
	else if (put_needed)
		maybe_put();
	else if (now >= beat_due) {
		beat_due = now + interval_ms();
		check_due = 1;
		keepalive();
	} else if (check_due) {
		check_due = 0;
		maybe_put();
	}
}

void
health_poke(void)
{
	check_due = 1;
}

static void
revoke_done(int rc, const char *p, size_t n, int grpc, const char *msg,
    void *arg)
{
	(void)rc;
	(void)p;
	(void)n;
	(void)grpc;
	(void)msg;
	(void)arg;
	busy = 0;
	lease = 0;
}

void
health_stop(void)
{
	struct buf	body;

	if (lease == 0 || !conn_ready())
		return;
	buf_init(&body, 0);
	if (etcd_body_lease(&body, lease) == 0 &&
	    conn_request("/v3/lease/revoke", &body, revoke_done, NULL) == 0)
		busy = 1;
	buf_free(&body);
}
