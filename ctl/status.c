/*
 * status: is ferry working? One screen (or one JSON object) read only from
 * the progress database, the spool, the pid file and the configuration, so
 * it answers the same whether the processes are up or down.
 *
 * What it shows, and where each part comes from:
 *   processes   the process table (written by the supervisor on every
 *               state change): state, pid, uptime, restarts, last exit;
 *   outputs     the output table (written by the forwarder), joined with
 *               the configured outputs: state and since when, records sent
 *               and dropped, last error; the backlog (records, bytes, age
 *               of the oldest) counted from the output's cursors in the
 *               spool itself (common/backlog.c);
 *   receiver    its self-metrics: accepted, rejected.<reason>, dropped,
 *               and spool.memory (1: writing to the memory fallback);
 *   collectors  the self-metrics of ferry-collectors, grouped by collector
 *               (every "<collector>.runs" names one), with when its last
 *               run started (a daemon: when it last printed) and how long
 *               that run took;
 *   logs        ferry-tail's self-metrics for each configured log section
 *               (status_logs.c);
 *   spool       its segments' sizes on disk and in memory, against the
 *               caps of the configuration.
 * Self-metrics are read back from the tail of each self-<proc> stream
 * (common/selfmetrics.c); they are totals since that process started.
 *
 * The exit status sums it up for monitoring: 0 healthy, 1 degraded, 2 down
 * (see health() and man/ferryctl.8).
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backlog.h"
#include "clock.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "selfmetrics.h"
#include "spool.h"
#include "ctl.h"
#include "status.h"

#define DROP_RECENT	600	/* seconds a drop keeps an output "degraded" */

static int	snapshot_read(const struct ctl *, struct snapshot *);
static void	snapshot_free(struct snapshot *);
static void	add_proc(const struct proc_state *, void *);
static void	add_output(const struct output_state *, void *);
static struct out_row *out_find(struct snapshot *, const char *, int);
static void	add_counter(const char *, const char *, int64_t, void *);
static int	counter_get(const struct snapshot *, const char *, const char *,
		    int64_t *);
static int64_t	counter_or0(const struct snapshot *, const char *,
		    const char *);
static void	read_self_metrics(struct snapshot *);
static void	read_spool(struct snapshot *);
static void	read_backlogs(struct snapshot *, struct progress *);
static void	supervisor_first(struct snapshot *);
static int	health(struct snapshot *);
static int	proc_running(const struct proc_state *);
static const char *proc_state(const struct snapshot *,
		    const struct proc_state *);
static int	memory_fallback(const struct snapshot *);
static int	is_collector(const struct snapshot *, size_t);
static int	coll_has_column(const char *);
static void	print_table(const struct snapshot *, int);
static void	print_processes(const struct snapshot *);
static void	print_outputs(const struct snapshot *);
static void	print_receiver(const struct snapshot *);
static void	print_spool(const struct snapshot *);
static void	print_collectors(const struct snapshot *);
static void	print_json(const struct snapshot *, int);
static const char *millis(int64_t, char *, size_t);

static const char *const health_names[] = { "healthy", "degraded", "down" };

/* The collector counters that have a column of their own. */
static const char *const coll_columns[] = {
	"runs", "lines", "failures", "timeouts"
};
#define NCOLL_COLUMNS	(sizeof(coll_columns) / sizeof(coll_columns[0]))

/*
 * Two values of a collector that are not totals, also in columns of their
 * own: when its last run started (epoch seconds; a daemon's, when it last
 * printed) and how long the last run that ended took (never a daemon's).
 */
#define COLL_LAST_RUN	"last_run"
#define COLL_DURATION	"duration_ms"

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct snapshot	 snap;
	int		 h;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if (snapshot_read(ctl, &snap) == -1) {
		snapshot_free(&snap);
		return STATUS_DOWN;
	}
	/*
	 * Ages count from once everything was read: a collector that ran
	 * while we read (slow on a loaded machine) is not "-1 s ago".
	 */
	snap.now = clock_wall();
	h = health(&snap);
	if (ctl->json)
		print_json(&snap, h);
	else
		print_table(&snap, h);
	snapshot_free(&snap);
	return h;
}

/*
 * The configuration (for the spool's places, its caps and the outputs that
 * should exist), the pid file, the spool, then the rows. A database that
 * does not exist yet is not created here: no rows is the truthful answer.
 */
static int
snapshot_read(const struct ctl *ctl, struct snapshot *snap)
{
	struct progress		*db;
	struct conf_errors	 errs;
	char			 path[PATH_MAX];
	size_t			 i;

	memset(snap, 0, sizeof(*snap));
	snap->sup_up = ctl_supervisor_pid(&snap->sup_pid) == 1;
	/* With a broken configuration, the default places are read. */
	if ((snap->conf = ctl_conf_load(ctl, &errs)) != NULL)
		(void)strlcpy(snap->memdir, snap->conf->spool.memory_dir,
		    sizeof(snap->memdir));
	else if (path_get(snap->memdir, sizeof(snap->memdir),
	    PATH_MEMSPOOL) == NULL)
		snap->memdir[0] = '\0';
	if (path_get(snap->spooldir, sizeof(snap->spooldir), PATH_SPOOL) ==
	    NULL || path_get(path, sizeof(path), PATH_DB) == NULL) {
		log_warnx("path too long: %s", PATH_DB);
		return -1;
	}
	if (snap->conf != NULL)
		for (i = 0; i < snap->conf->noutputs; i++)
			if (out_find(snap, snap->conf->outputs[i].name, 1) != NULL)
				snap->outs[snap->nouts - 1].configured = 1;
	read_self_metrics(snap);
	status_logs_read(snap);
	read_spool(snap);
	if (access(path, F_OK) == -1)
		return snap->failed ? -1 : 0;
	if ((db = progress_open_ro(path)) == NULL)
		return -1;
	if (progress_proc_each(db, add_proc, snap) == -1 ||
	    progress_output_each(db, add_output, snap) == -1 ||
	    status_discover_read(snap, db) == -1 || snap->failed) {
		progress_close(db);
		return -1;
	}
	read_backlogs(snap, db);
	progress_close(db);
	supervisor_first(snap);
	return snap->failed ? -1 : 0;
}

struct self_ctx {
	struct snapshot	*snap;
	const char	*proc;
};

static void
add_self(const char *name, uint64_t value, void *arg)
{
	struct self_ctx	*ctx = arg;

	add_counter(ctx->proc, name, (int64_t)value, ctx->snap);
}

/* The latest self-metrics of every process that wrote some. */
static void
read_self_metrics(struct snapshot *snap)
{
	struct spool_seg	*segs;
	struct self_ctx		 ctx = { snap, NULL };
	size_t			 n, i;

	if (access(snap->spooldir, F_OK) == -1 ||
	    spool_list(snap->spooldir, snap->memdir, &segs, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (strncmp(segs[i].stream, "self-", 5) != 0 ||
		    (i + 1 < n && strcmp(segs[i].stream, segs[i + 1].stream) == 0))
			continue;	/* once per stream, at its newest segment */
		ctx.proc = segs[i].stream + 5;
		selfmetrics_read(snap->spooldir, snap->memdir, ctx.proc, add_self,
		    &ctx);
	}
	free(segs);
}

/*
 * The spool's size as it is now, from its segments: what the caps are
 * measured against (the forwarder's own figure is at most a moment old).
 */
static void
read_spool(struct snapshot *snap)
{
	struct spool_seg	*segs;
	size_t			 n, i;

	if (access(snap->spooldir, F_OK) == -1 ||
	    spool_list(snap->spooldir, snap->memdir, &segs, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (segs[i].inmem)
			snap->mem_bytes += segs[i].size;
		else
			snap->disk_bytes += segs[i].size;
	}
	snap->nsegs = n;
	free(segs);
}

/* Each output's backlog, from its cursors; an output never seen has none. */
static void
read_backlogs(struct snapshot *snap, struct progress *db)
{
	size_t	i;

	if (access(snap->spooldir, F_OK) == -1)
		return;
	for (i = 0; i < snap->nouts; i++)
		snap->outs[i].bl_ok = backlog_compute(db, snap->spooldir,
		    snap->memdir[0] != '\0' ? snap->memdir : NULL,
		    snap->outs[i].st.name, &snap->outs[i].bl) == 0;
}

/* The rows come in name order; the supervisor reads best at the top. */
static void
supervisor_first(struct snapshot *snap)
{
	struct proc_state	sup;
	size_t			i;

	for (i = 0; i < snap->nprocs; i++)
		if (strcmp(snap->procs[i].name, "supervisor") == 0)
			break;
	if (i == 0 || i == snap->nprocs)
		return;
	sup = snap->procs[i];
	memmove(&snap->procs[1], &snap->procs[0], i * sizeof(sup));
	snap->procs[0] = sup;
}

static void
snapshot_free(struct snapshot *snap)
{
	conf_free(snap->conf);
	free(snap->procs);
	free(snap->outs);
	free(snap->counters);
	free(snap->logs);
	free(snap->disc);
}

static void
add_proc(const struct proc_state *ps, void *arg)
{
	struct snapshot		*snap = arg;
	struct proc_state	*v;

	if ((v = reallocarray(snap->procs, snap->nprocs + 1,
	    sizeof(*v))) == NULL) {
		snap->failed = 1;
		return;
	}
	v[snap->nprocs++] = *ps;
	snap->procs = v;
}

static void
add_output(const struct output_state *os, void *arg)
{
	struct snapshot	*snap = arg;
	struct out_row	*o;

	if ((o = out_find(snap, os->name, 1)) == NULL)
		return;
	o->st = *os;
	o->recorded = 1;
}

/* The row of output name; with add, a new one when there is none. */
static struct out_row *
out_find(struct snapshot *snap, const char *name, int add)
{
	struct out_row	*v;
	size_t		 i;

	for (i = 0; i < snap->nouts; i++)
		if (strcmp(snap->outs[i].st.name, name) == 0)
			return &snap->outs[i];
	if (!add)
		return NULL;
	if ((v = reallocarray(snap->outs, snap->nouts + 1,
	    sizeof(*v))) == NULL) {
		snap->failed = 1;
		return NULL;
	}
	snap->outs = v;
	v = &snap->outs[snap->nouts++];
	memset(v, 0, sizeof(*v));
	(void)strlcpy(v->st.name, name, sizeof(v->st.name));
	return v;
}

static void
add_counter(const char *proc, const char *name, int64_t value, void *arg)
{
	struct snapshot		*snap = arg;
	struct counter_row	*v;
	size_t			 i;

	/* Self-metric snapshots repeat names: the later value wins. */
	for (i = 0; i < snap->ncounters; i++) {
		if (strcmp(snap->counters[i].proc, proc) == 0 &&
		    strcmp(snap->counters[i].name, name) == 0) {
			snap->counters[i].value = value;
			return;
		}
	}
	if ((v = reallocarray(snap->counters, snap->ncounters + 1,
	    sizeof(*v))) == NULL) {
		snap->failed = 1;
		return;
	}
	(void)strlcpy(v[snap->ncounters].proc, proc, sizeof(v->proc));
	(void)strlcpy(v[snap->ncounters].name, name, sizeof(v->name));
	v[snap->ncounters++].value = value;
	snap->counters = v;
}

/* 1 and *v set when proc published name, 0 when it did not. */
static int
counter_get(const struct snapshot *snap, const char *proc, const char *name,
    int64_t *v)
{
	size_t	i;

	for (i = 0; i < snap->ncounters; i++) {
		if (strcmp(snap->counters[i].proc, proc) == 0 &&
		    strcmp(snap->counters[i].name, name) == 0) {
			*v = snap->counters[i].value;
			return 1;
		}
	}
	return 0;
}

static int64_t
counter_or0(const struct snapshot *snap, const char *proc, const char *name)
{
	int64_t	v;

	return counter_get(snap, proc, name, &v) ? v : 0;
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
health(struct snapshot *snap)
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
	if (memory_fallback(snap))
		status_reason(snap, "the spool is in the memory fallback "
		    "(disk full?)");
	if ((v = counter_or0(snap, "receiver", "dropped")) > 0)
		status_reason(snap, "the receiver dropped %" PRId64 " records",
		    v);
	if ((v = counter_or0(snap, "forwarder", "spool.dropped")) > 0)
		status_reason(snap, "the spool cap dropped %" PRId64
		    " records", v);
	for (i = 0; i < snap->ncounters; i++) {
		if (!is_collector(snap, i))
			continue;
		/* "<collector>.runs": its ".dropped" says what it lost. */
		len = strlen(snap->counters[i].name) - 5;
		(void)snprintf(name, sizeof(name), "%.*s.dropped", (int)len,
		    snap->counters[i].name);
		if ((v = counter_or0(snap, "collectors", name)) > 0)
			status_reason(snap, "collector %.*s dropped %" PRId64
			    " lines", (int)len, snap->counters[i].name, v);
	}
	status_logs_health(snap);
	return snap->nreasons > 0 ? STATUS_DEGRADED : STATUS_HEALTHY;
}

static int
memory_fallback(const struct snapshot *snap)
{
	return counter_or0(snap, "receiver", "spool.memory") != 0;
}

/* Counter i is "<collector>.runs" of ferry-collectors: it names one. */
static int
is_collector(const struct snapshot *snap, size_t i)
{
	const char	*name = snap->counters[i].name;
	size_t		 len = strlen(name);

	return strcmp(snap->counters[i].proc, "collectors") == 0 &&
	    len > 5 && strcmp(name + len - 5, ".runs") == 0 &&
	    memchr(name, '.', len - 5) == NULL;
}

/* Whether a collector's counter (the part after "<name>.") has a column. */
static int
coll_has_column(const char *counter)
{
	size_t	k;

	for (k = 0; k < NCOLL_COLUMNS; k++)
		if (strcmp(counter, coll_columns[k]) == 0)
			return 1;
	return strcmp(counter, COLL_LAST_RUN) == 0 ||
	    strcmp(counter, COLL_DURATION) == 0;
}

static int
proc_running(const struct proc_state *ps)
{
	return strcmp(ps->state, "running") == 0 && ps->pid > 0;
}

/*
 * The state to show. With the supervisor gone, its own row says so whatever
 * it last recorded (a kill -9 leaves "running" behind).
 */
static const char *
proc_state(const struct snapshot *snap, const struct proc_state *ps)
{
	if (!snap->sup_up && strcmp(ps->name, "supervisor") == 0 &&
	    strcmp(ps->state, "stopped") != 0)
		return "dead";
	return ps->state;
}

static void
print_table(const struct snapshot *snap, int h)
{
	int	i;

	printf("ferry %s", health_names[h]);
	if (snap->sup_up)
		printf(" (supervisor pid %d)", (int)snap->sup_pid);
	printf("\n");
	for (i = 0; i < snap->nreasons; i++)
		printf("  - %s\n", snap->reasons[i]);
	if (snap->conf == NULL)
		printf("  (the configuration does not load: see ferryctl "
		    "check-config)\n");
	print_processes(snap);
	print_outputs(snap);
	print_receiver(snap);
	print_spool(snap);
	print_collectors(snap);
	status_logs_print(snap);
	status_discover_print(snap);
}

static void
print_processes(const struct snapshot *snap)
{
	const struct proc_state	*ps;
	char			 up[32], ago[32], last[80], pid[16];
	size_t			 i;
	int			 w = 10;

	if (snap->nprocs == 0) {
		printf("\nno process has been recorded yet\n");
		return;
	}
	for (i = 0; i < snap->nprocs; i++)
		if ((int)strlen(snap->procs[i].name) > w)
			w = strlen(snap->procs[i].name);
	printf("\n%-*s  %-8s  %7s  %9s  %8s  %s\n", w, "PROCESS", "STATE",
	    "PID", "UPTIME", "RESTARTS", "LAST EXIT");
	for (i = 0; i < snap->nprocs; i++) {
		ps = &snap->procs[i];
		(void)snprintf(pid, sizeof(pid), "%d", ps->pid);
		if (ps->last_exit_str[0] != '\0')
			(void)snprintf(last, sizeof(last), "%s, %s ago",
			    ps->last_exit_str, ctl_duration(snap->now -
			    ps->last_exit_at, ago, sizeof(ago)));
		else
			(void)strlcpy(last, "-", sizeof(last));
		printf("%-*s  %-8s  %7s  %9s  %8d  %s\n", w, ps->name,
		    proc_state(snap, ps), ps->pid > 0 ? pid : "-",
		    proc_running(ps) ? ctl_duration(snap->now - ps->started, up,
		    sizeof(up)) : "-", ps->restarts, last);
	}
}

static void
print_outputs(const struct snapshot *snap)
{
	const struct out_row	*o;
	char			 state[64], backlog[64], oldest[32], b[32];
	char			 ago[32], err[80];
	size_t			 i;
	int			 w = 6;

	if (snap->conf != NULL && snap->conf->noutputs == 0)
		printf("\nno output is configured: records stay in the spool, "
		    "within its cap\n");
	if (snap->nouts == 0)
		return;
	for (i = 0; i < snap->nouts; i++)
		if ((int)strlen(snap->outs[i].st.name) > w)
			w = strlen(snap->outs[i].st.name);
	printf("\n%-*s  %-24s  %-22s  %8s  %10s  %8s  %s\n", w, "OUTPUT",
	    "STATE", "BACKLOG", "OLDEST", "SENT", "DROPPED", "LAST ERROR");
	for (i = 0; i < snap->nouts; i++) {
		o = &snap->outs[i];
		if (!o->recorded)
			(void)strlcpy(state, snap->conf != NULL ?
			    "not started yet" : "-", sizeof(state));
		else if (strcmp(o->st.state, "sending") == 0 || o->st.since == 0)
			(void)strlcpy(state, o->st.state, sizeof(state));
		else
			(void)snprintf(state, sizeof(state), "%s for %s",
			    o->st.state, ctl_duration(snap->now - o->st.since, ago,
			    sizeof(ago)));
		if (snap->conf != NULL && !o->configured)
			(void)strlcpy(state, "removed", sizeof(state));
		if (o->bl_ok)
			(void)snprintf(backlog, sizeof(backlog), "%" PRIu64
			    " (%s)", o->bl.records, ctl_bytes(o->bl.bytes, b,
			    sizeof(b)));
		else
			(void)strlcpy(backlog, "-", sizeof(backlog));
		if (o->bl_ok && o->bl.oldest != 0)
			(void)ctl_duration(snap->now - o->bl.oldest, oldest,
			    sizeof(oldest));
		else
			(void)strlcpy(oldest, "-", sizeof(oldest));
		if (o->st.last_error[0] != '\0')
			(void)snprintf(err, sizeof(err), "%s ago: %.60s",
			    ctl_duration(snap->now - o->st.last_error_at, ago,
			    sizeof(ago)), o->st.last_error);
		else
			(void)strlcpy(err, "-", sizeof(err));
		printf("%-*s  %-24s  %-22s  %8s  %10" PRIu64 "  %8" PRIu64
		    "  %s\n", w, o->st.name, state, backlog, oldest, o->st.sent,
		    o->st.dropped, err);
	}
}

/* Clients that pressed on the limits: shown only once some did. */
static void
print_receiver_pressure(const struct snapshot *snap)
{
	int64_t	ev = counter_or0(snap, "receiver", "evicted");
	int64_t	rf = counter_or0(snap, "receiver", "refused");
	int64_t	un = counter_or0(snap, "receiver", "unfinished");

	if (ev == 0 && rf == 0 && un == 0)
		return;
	printf("  connections: %" PRId64 " closed to make room "
	    "(receiver.max_connections), %" PRId64 " refused; %" PRId64
	    " lines left unfinished\n", ev, rf, un);
}

static void
print_receiver(const struct snapshot *snap)
{
	size_t	i;
	int64_t	v;
	int	n = 0;

	if (!counter_get(snap, "receiver", "accepted", &v)) {
		printf("\nreceiver: no counters reported yet\n");
		return;
	}
	printf("\nreceiver: %" PRId64 " accepted, %" PRId64 " dropped", v,
	    counter_or0(snap, "receiver", "dropped"));
	for (i = 0; i < snap->ncounters; i++) {
		if (strcmp(snap->counters[i].proc, "receiver") != 0 ||
		    strncmp(snap->counters[i].name, "rejected.", 9) != 0 ||
		    snap->counters[i].value == 0)
			continue;
		printf("%s %s %" PRId64, n++ ? "," : ", rejected:",
		    snap->counters[i].name + 9, snap->counters[i].value);
	}
	if (n == 0)
		printf(", none rejected");
	printf("\n");
	print_receiver_pressure(snap);
}

static void
print_spool(const struct snapshot *snap)
{
	char	a[32], b[32];

	printf("spool: %s", ctl_bytes(snap->disk_bytes, a, sizeof(a)));
	if (snap->conf != NULL)
		printf(" of %s", ctl_bytes(snap->conf->spool.max_size, b, sizeof(b)));
	printf(" on disk, %s", ctl_bytes(snap->mem_bytes, a, sizeof(a)));
	if (snap->conf != NULL)
		printf(" of %s", ctl_bytes(snap->conf->spool.memory_max_size, b,
		    sizeof(b)));
	printf(" in memory; memory fallback %s",
	    memory_fallback(snap) ? "IN USE" : "not in use");
	printf("; %" PRId64 " dropped by the cap\n",
	    counter_or0(snap, "forwarder", "spool.dropped"));
}

/*
 * One row per collector: runs, lines, failures, timeouts, how long ago its
 * last run started and how long it took, then whatever else it published
 * ("cut 3, rejected.bad_value 2").
 */
static void
print_collectors(const struct snapshot *snap)
{
	const struct counter_row	*c;
	char				 name[160], ago[32], last[48], took[32];
	size_t				 i, j, k, len;
	int64_t				 v;
	int				 w = 9, first = 1, n;

	for (i = 0; i < snap->ncounters; i++)
		if (is_collector(snap, i) && (int)strlen(
		    snap->counters[i].name) - 5 > w)
			w = strlen(snap->counters[i].name) - 5;
	for (i = 0; i < snap->ncounters; i++) {
		if (!is_collector(snap, i))
			continue;
		if (first) {
			printf("\n%-*s  %8s  %10s  %8s  %8s  %10s  %8s  %s\n",
			    w, "COLLECTOR", "RUNS", "LINES", "FAILURES",
			    "TIMEOUTS", "LAST RUN", "DURATION", "OTHER");
			first = 0;
		}
		len = strlen(snap->counters[i].name) - 5;
		printf("%-*.*s", w, (int)len, snap->counters[i].name);
		for (k = 0; k < NCOLL_COLUMNS; k++) {
			(void)snprintf(name, sizeof(name), "%.*s.%s", (int)len,
			    snap->counters[i].name, coll_columns[k]);
			printf("  %*" PRId64, k == 1 ? 10 : 8,
			    counter_or0(snap, "collectors", name));
		}
		(void)snprintf(name, sizeof(name), "%.*s." COLL_LAST_RUN,
		    (int)len, snap->counters[i].name);
		if (counter_get(snap, "collectors", name, &v) && v > 0) {
			(void)snprintf(last, sizeof(last), "%s ago",
			    ctl_duration(snap->now - v, ago, sizeof(ago)));
		} else
			(void)strlcpy(last, "-", sizeof(last));
		(void)snprintf(name, sizeof(name), "%.*s." COLL_DURATION,
		    (int)len, snap->counters[i].name);
		if (counter_get(snap, "collectors", name, &v))
			(void)millis(v, took, sizeof(took));
		else
			(void)strlcpy(took, "-", sizeof(took));
		printf("  %10s  %8s ", last, took);
		for (j = 0, n = 0; j < snap->ncounters; j++) {
			c = &snap->counters[j];
			if (strcmp(c->proc, "collectors") != 0 ||
			    strncmp(c->name, snap->counters[i].name, len + 1) != 0)
				continue;
			if (coll_has_column(c->name + len + 1) || c->value == 0)
				continue;
			printf("%s%s %" PRId64, n++ ? ", " : " ", c->name + len + 1,
			    c->value);
		}
		printf("%s\n", n == 0 ? " -" : "");
	}
}

static void
print_json_outputs(const struct snapshot *snap)
{
	const struct out_row	*o;
	size_t			 i;

	printf(",\"outputs\":[");
	for (i = 0; i < snap->nouts; i++) {
		o = &snap->outs[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, o->st.name);
		printf(",\"configured\":");
		if (snap->conf != NULL)
			printf("%s", o->configured ? "true" : "false");
		else
			printf("null");
		printf(",\"state\":");
		if (o->recorded)
			json_str(stdout, o->st.state);
		else
			printf("null");
		ctl_json_time("since", o->st.since);
		ctl_json_backlog(o->bl_ok ? &o->bl : NULL, snap->now);
		printf(",\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64
		    ",\"deadlettered\":%" PRIu64 ",\"retries\":%" PRIu64,
		    o->st.sent, o->st.dropped, o->st.deadlettered, o->st.retries);
		ctl_json_time("last_success", o->st.last_success);
		ctl_json_text("last_error", o->st.last_error);
		ctl_json_time("last_error_at", o->st.last_error_at);
		ctl_json_time("updated", o->st.updated);
		printf("}");
	}
	printf("]");
}

static void
print_json_receiver(const struct snapshot *snap)
{
	size_t	i;
	int64_t	v;
	int	n = 0;

	printf(",\"receiver\":");
	if (!counter_get(snap, "receiver", "accepted", &v)) {
		printf("null");
		return;
	}
	printf("{\"accepted\":%" PRId64 ",\"dropped\":%" PRId64
	    ",\"evicted\":%" PRId64 ",\"refused\":%" PRId64
	    ",\"unfinished\":%" PRId64 ",\"memory_fallback\":%s,"
	    "\"rejected\":{", v,
	    counter_or0(snap, "receiver", "dropped"),
	    counter_or0(snap, "receiver", "evicted"),
	    counter_or0(snap, "receiver", "refused"),
	    counter_or0(snap, "receiver", "unfinished"),
	    memory_fallback(snap) ? "true" : "false");
	for (i = 0; i < snap->ncounters; i++) {
		if (strcmp(snap->counters[i].proc, "receiver") != 0 ||
		    strncmp(snap->counters[i].name, "rejected.", 9) != 0)
			continue;
		printf("%s", n++ ? "," : "");
		json_str(stdout, snap->counters[i].name + 9);
		printf(":%" PRId64, snap->counters[i].value);
	}
	printf("}}");
}

static void
print_json_collectors(const struct snapshot *snap)
{
	const struct counter_row	*c;
	char				 name[160];
	size_t				 i, j, k, len;
	int64_t				 v;
	int				 n = 0, m;

	printf(",\"collectors\":[");
	for (i = 0; i < snap->ncounters; i++) {
		if (!is_collector(snap, i))
			continue;
		len = strlen(snap->counters[i].name) - 5;
		(void)snprintf(name, sizeof(name), "%.*s", (int)len,
		    snap->counters[i].name);
		printf("%s{\"name\":", n++ ? "," : "");
		json_str(stdout, name);
		for (k = 0; k < NCOLL_COLUMNS; k++) {
			(void)snprintf(name, sizeof(name), "%.*s.%s", (int)len,
			    snap->counters[i].name, coll_columns[k]);
			printf(",\"%s\":%" PRId64, coll_columns[k],
			    counter_or0(snap, "collectors", name));
		}
		(void)snprintf(name, sizeof(name), "%.*s." COLL_LAST_RUN,
		    (int)len, snap->counters[i].name);
		if (!counter_get(snap, "collectors", name, &v))
			v = 0;
		ctl_json_time(COLL_LAST_RUN, v);
		printf(",\"last_run_age\":");
		if (v > 0)
			printf("%" PRId64, snap->now - v);
		else
			printf("null");
		(void)snprintf(name, sizeof(name), "%.*s." COLL_DURATION,
		    (int)len, snap->counters[i].name);
		printf(",\"" COLL_DURATION "\":");
		if (counter_get(snap, "collectors", name, &v))
			printf("%" PRId64, v);
		else
			printf("null");
		printf(",\"counters\":{");
		for (j = 0, m = 0; j < snap->ncounters; j++) {
			c = &snap->counters[j];
			if (strcmp(c->proc, "collectors") != 0 ||
			    strncmp(c->name, snap->counters[i].name, len + 1) != 0)
				continue;
			printf("%s", m++ ? "," : "");
			json_str(stdout, c->name + len + 1);
			printf(":%" PRId64, c->value);
		}
		printf("}}");
	}
	printf("]");
}

static void
print_json(const struct snapshot *snap, int h)
{
	const struct proc_state	*ps;
	size_t			 i;
	int			 r;

	printf("{\"status\":\"%s\",\"reason\":", health_names[h]);
	json_str(stdout, snap->nreasons > 0 ? snap->reasons[0] : "");
	printf(",\"reasons\":[");
	for (r = 0; r < snap->nreasons; r++) {
		printf("%s", r ? "," : "");
		json_str(stdout, snap->reasons[r]);
	}
	printf("],\"config_ok\":%s", snap->conf != NULL ? "true" : "false");
	printf(",\"supervisor\":{\"running\":%s,\"pid\":",
	    snap->sup_up ? "true" : "false");
	if (snap->sup_up)
		printf("%d", (int)snap->sup_pid);
	else
		printf("null");
	printf("},\"processes\":[");
	for (i = 0; i < snap->nprocs; i++) {
		ps = &snap->procs[i];
		printf("%s{\"name\":", i ? "," : "");
		json_str(stdout, ps->name);
		printf(",\"state\":");
		json_str(stdout, proc_state(snap, ps));
		printf(",\"pid\":%d,\"uptime\":", ps->pid);
		if (proc_running(ps))
			printf("%" PRId64, snap->now - ps->started);
		else
			printf("null");
		printf(",\"restarts\":%d,\"last_exit\":", ps->restarts);
		if (ps->last_exit_str[0] != '\0') {
			json_str(stdout, ps->last_exit_str);
			printf(",\"last_exit_at\":%" PRId64, ps->last_exit_at);
		} else
			printf("null,\"last_exit_at\":null");
		printf("}");
	}
	printf("]");
	print_json_outputs(snap);
	print_json_receiver(snap);
	print_json_collectors(snap);
	status_logs_json(snap);
	status_discover_json(snap);
	printf(",\"spool\":{\"bytes\":%" PRIu64 ",\"max_size\":", snap->disk_bytes);
	if (snap->conf != NULL)
		printf("%" PRIu64, snap->conf->spool.max_size);
	else
		printf("null");
	printf(",\"memory_bytes\":%" PRIu64 ",\"memory_max_size\":",
	    snap->mem_bytes);
	if (snap->conf != NULL)
		printf("%" PRIu64, snap->conf->spool.memory_max_size);
	else
		printf("null");
	printf(",\"memory_fallback\":%s,\"segments\":%zu,\"dropped\":%" PRId64
	    "}", memory_fallback(snap) ? "true" : "false", snap->nsegs,
	    counter_or0(snap, "forwarder", "spool.dropped"));
	printf(",\"counters\":[");
	for (i = 0; i < snap->ncounters; i++) {
		printf("%s{\"process\":", i ? "," : "");
		json_str(stdout, snap->counters[i].proc);
		printf(",\"name\":");
		json_str(stdout, snap->counters[i].name);
		printf(",\"value\":%" PRId64 "}", snap->counters[i].value);
	}
	printf("]}\n");
}

/* Milliseconds as "340ms", "12.3s", then as ctl_duration(): "5m12s". */
static const char *
millis(int64_t ms, char *buf, size_t size)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		(void)snprintf(buf, size, "%" PRId64 "ms", ms);
	else if (ms < 60000)
		(void)snprintf(buf, size, "%" PRId64 ".%" PRId64 "s", ms / 1000,
		    ms % 1000 / 100);
	else
		(void)ctl_duration(ms / 1000, buf, size);
	return buf;
}
