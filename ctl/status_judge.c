/*
 * status_judge: is ferry working? The snapshot's health, and each reason
 * for it in words, for both renderings and for the exit status that sums
 * it up for monitoring: 0 healthy, 1 degraded, 2 down (man/ferryctl.8).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "status.h"

#define DROP_RECENT	600	/* seconds a drop keeps an output "degraded" */

static int	judge(struct snapshot *);

int
status_judge(struct snapshot *snap)
{
	snap->health = judge(snap);
	return snap->health;
}

void
status_reason(struct snapshot *snap, const char *fmt, ...)
{
	va_list	ap;

	if (snap->nreasons == REASONS_MAX)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(snap->reasons[snap->nreasons++], sizeof(snap->reasons[0]),
	    fmt, ap);
	va_end(ap);
}

/*
 * Down without a live supervisor. Degraded when any of these holds, each
 * named in snap->reasons:
 *   - a child the supervisor wants running is not ("stopped" is what it
 *     records for a child the configuration does not enable);
 *   - a configured output is retrying, dead-lettering, or failed (failing
 *     longer than its fail_after: its records are being dropped);
 *   - the receiver writes to the memory fallback (the disk is full);
 *   - an output dropped records in the last DROP_RECENT seconds (its
 *     count is kept across restarts, so the time of the last drop says
 *     whether it still matters);
 *   - records were dropped since the process that counts them started
 *     (the receiver's, the spool cap's with no output, a collector's);
 *   - a log section had errors or lost bytes since ferry-tail started
 *     (status_logs_health()).
 */
static int
judge(struct snapshot *snap)
{
	const struct out_row	*o;
	size_t			 i, len;
	int64_t			 v;
	char			 ago[32], name[sizeof(snap->counters->name)];

	if (!snap->sup_up) {
		status_reason(snap, "ferry-supervisor is not running");
		return STATUS_DOWN;
	}
	for (i = 0; i < snap->nprocs; i++) {
		if (strcmp(snap->procs[i].name, "supervisor") == 0 ||
		    strcmp(snap->procs[i].state, "running") == 0 ||
		    strcmp(snap->procs[i].state, "stopped") == 0)
			continue;
		status_reason(snap, "%s is %s", snap->procs[i].name,
		    snap->procs[i].state);
	}
	for (i = 0; i < snap->nouts; i++) {
		o = &snap->outs[i];
		if (!o->configured || !o->recorded)
			continue;
		if (strcmp(o->st.state, "retrying") == 0 ||
		    strcmp(o->st.state, "deadlettering") == 0)
			status_reason(snap, "output %s is %s for %s",
			    o->st.name, o->st.state, ctl_duration(snap->now -
			    o->st.since, ago, sizeof(ago)));
		else if (strcmp(o->st.state, "failed") == 0)
			status_reason(snap, "output %s has failed for %s "
			    "(fail_after): what the other outputs sent is "
			    "dropped for it",
			    o->st.name, ctl_duration(snap->now - o->st.since, ago,
			    sizeof(ago)));
		if (o->st.dropped > 0 && o->st.last_drop_at != 0 &&
		    snap->now - o->st.last_drop_at < DROP_RECENT)
			status_reason(snap, "output %s dropped records %s ago "
			    "(%" PRIu64 " in all)", o->st.name,
			    ctl_duration(snap->now - o->st.last_drop_at, ago,
			    sizeof(ago)), o->st.dropped);
	}
	if (status_memory_fallback(snap))
		status_reason(snap, "the spool is in the memory fallback "
		    "(disk full?)");
	if ((v = status_counter_or0(snap, "receiver", "dropped")) > 0)
		status_reason(snap, "the receiver dropped %" PRId64 " records",
		    v);
	if ((v = status_counter_or0(snap, "forwarder", "spool.dropped")) > 0)
		status_reason(snap, "the spool cap dropped %" PRId64
		    " records", v);
	for (i = 0; i < snap->ncounters; i++) {
		if (!status_is_collector(snap, i))
			continue;
		/* "<collector>.runs": its ".dropped" says what it lost. */
		len = strlen(snap->counters[i].name) - 5;
		(void)snprintf(name, sizeof(name), "%.*s.dropped", (int)len,
		    snap->counters[i].name);
		if ((v = status_counter_or0(snap, "collectors", name)) > 0)
			status_reason(snap, "collector %.*s dropped %" PRId64
			    " lines", (int)len, snap->counters[i].name, v);
	}
	status_logs_health(snap);
	return snap->nreasons > 0 ? STATUS_DEGRADED : STATUS_HEALTHY;
}

int
status_memory_fallback(const struct snapshot *snap)
{
	return status_counter_or0(snap, "receiver", "spool.memory") != 0;
}

int
status_proc_running(const struct proc_state *ps)
{
	return strcmp(ps->state, "running") == 0 && ps->pid > 0;
}

/*
 * The state to show. With the supervisor gone, its own row says so whatever
 * it last recorded (a kill -9 leaves "running" behind).
 */
const char *
status_proc_state(const struct snapshot *snap, const struct proc_state *ps)
{
	if (!snap->sup_up && strcmp(ps->name, "supervisor") == 0 &&
	    strcmp(ps->state, "stopped") != 0)
		return "dead";
	return ps->state;
}
