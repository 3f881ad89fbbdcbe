/*
 * status_render: the judged snapshot as one screen of text or as one JSON
 * object, the same numbers in both:
 *   processes   state, pid, uptime, restarts, last exit;
 *   outputs     state and since when, records sent and dropped, last
 *               error; the backlog (records, bytes, age of the oldest);
 *   receiver    its self-metrics: accepted, rejected.<reason>, dropped,
 *               and spool.memory (1: writing to the memory fallback);
 *   collectors  the self-metrics of ferry-collectors, grouped by collector
 *               (every "<collector>.runs" names one), with when its last
 *               run started (a daemon: when it last printed) and how long
 *               that run took;
 *   logs        each configured log section (status_logs.c);
 *   discovered  the log files ferry-tail found running services write
 *               (status_discover.c);
 *   spool       its size on disk and in memory, against the caps.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "status.h"

static void	print_processes(const struct snapshot *);
static void	print_outputs(const struct snapshot *);
static void	print_receiver(const struct snapshot *);
static void	print_spool(const struct snapshot *);
static void	print_collectors(const struct snapshot *);
static int	coll_has_column(const char *);
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

void
status_render_text(const struct snapshot *snap)
{
	int	i;

	printf("ferry %s", health_names[snap->health]);
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
		    status_proc_state(snap, ps), ps->pid > 0 ? pid : "-",
		    status_proc_running(ps) ? ctl_duration(snap->now -
		    ps->started, up, sizeof(up)) : "-", ps->restarts, last);
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
	int64_t	ev = status_counter_or0(snap, "receiver", "evicted");
	int64_t	rf = status_counter_or0(snap, "receiver", "refused");
	int64_t	un = status_counter_or0(snap, "receiver", "unfinished");

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

	if (!status_counter(snap, "receiver", "accepted", &v)) {
		printf("\nreceiver: no counters reported yet\n");
		return;
	}
	printf("\nreceiver: %" PRId64 " accepted, %" PRId64 " dropped", v,
	    status_counter_or0(snap, "receiver", "dropped"));
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
	    status_memory_fallback(snap) ? "IN USE" : "not in use");
	printf("; %" PRId64 " dropped by the cap\n",
	    status_counter_or0(snap, "forwarder", "spool.dropped"));
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
		if (status_is_collector(snap, i) && (int)strlen(
		    snap->counters[i].name) - 5 > w)
			w = strlen(snap->counters[i].name) - 5;
	for (i = 0; i < snap->ncounters; i++) {
		if (!status_is_collector(snap, i))
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
			    status_counter_or0(snap, "collectors", name));
		}
		(void)snprintf(name, sizeof(name), "%.*s." COLL_LAST_RUN,
		    (int)len, snap->counters[i].name);
		if (status_counter(snap, "collectors", name, &v) && v > 0) {
			(void)snprintf(last, sizeof(last), "%s ago",
			    ctl_duration(snap->now - v, ago, sizeof(ago)));
		} else
			(void)strlcpy(last, "-", sizeof(last));
		(void)snprintf(name, sizeof(name), "%.*s." COLL_DURATION,
		    (int)len, snap->counters[i].name);
		if (status_counter(snap, "collectors", name, &v))
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
	if (!status_counter(snap, "receiver", "accepted", &v)) {
		printf("null");
		return;
	}
	printf("{\"accepted\":%" PRId64 ",\"dropped\":%" PRId64
	    ",\"evicted\":%" PRId64 ",\"refused\":%" PRId64
	    ",\"unfinished\":%" PRId64 ",\"memory_fallback\":%s,"
	    "\"rejected\":{", v,
	    status_counter_or0(snap, "receiver", "dropped"),
	    status_counter_or0(snap, "receiver", "evicted"),
	    status_counter_or0(snap, "receiver", "refused"),
	    status_counter_or0(snap, "receiver", "unfinished"),
	    status_memory_fallback(snap) ? "true" : "false");
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
		if (!status_is_collector(snap, i))
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
			    status_counter_or0(snap, "collectors", name));
		}
		(void)snprintf(name, sizeof(name), "%.*s." COLL_LAST_RUN,
		    (int)len, snap->counters[i].name);
		if (!status_counter(snap, "collectors", name, &v))
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
		if (status_counter(snap, "collectors", name, &v))
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

void
status_render_json(const struct snapshot *snap)
{
	const struct proc_state	*ps;
	size_t			 i;
	int			 r;

	printf("{\"status\":\"%s\",\"reason\":", health_names[snap->health]);
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
		json_str(stdout, status_proc_state(snap, ps));
		printf(",\"pid\":%d,\"uptime\":", ps->pid);
		if (status_proc_running(ps))
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
	    "}", status_memory_fallback(snap) ? "true" : "false", snap->nsegs,
	    status_counter_or0(snap, "forwarder", "spool.dropped"));
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
