/*
 * status: what ferry is doing, read only from the progress database, the
 * spool and the pid file, so it answers the same whether the processes are up or down.
 *
 * Each process row (written by the supervisor on every state change) shows
 * name, state, pid, uptime, restarts and the last exit; the counters that
 * processes publish as self-metrics (accepted, rejects, sent, drops) follow,
 * read back from the tail of each self-<proc> spool stream. The exit status sums it up
 * for scripts: 0 healthy, 1 degraded (a child not running), 2 down (no
 * supervisor).
 */
#include <sys/types.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "progress.h"
#include "selfmetrics.h"
#include "spool.h"
#include "ctl.h"

#define STATUS_HEALTHY	0
#define STATUS_DEGRADED	1
#define STATUS_DOWN	2

struct counter_row {
	char	proc[32];
	char	name[64];
	int64_t	value;
};

struct snapshot {
	pid_t			 sup_pid;
	int			 sup_up;
	struct proc_state	*procs;
	size_t			 nprocs;
	struct counter_row	*counters;
	size_t			 ncounters;
	int			 failed;	/* out of memory while reading */
	int64_t			 now;
};

static int	snapshot_read(const struct ctl *, struct snapshot *);
static void	snapshot_free(struct snapshot *);
static void	add_proc(const struct proc_state *, void *);
static void	add_counter(const char *, const char *, int64_t, void *);
static void	read_self_metrics(const struct ctl *, struct snapshot *);
static void	supervisor_first(struct snapshot *);
static int	health(const struct snapshot *, char *, size_t);
static int	proc_running(const struct proc_state *);
static const char *proc_state(const struct snapshot *,
		    const struct proc_state *);
static void	print_table(const struct snapshot *, int, const char *);
static void	print_json(const struct snapshot *, int, const char *);
static const char *duration(int64_t, char *, size_t);

static const char *const health_names[] = { "healthy", "degraded", "down" };

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct snapshot	 snap;
	char		 why[128];
	int		 h;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if (snapshot_read(ctl, &snap) == -1) {
		snapshot_free(&snap);
		return STATUS_DOWN;
	}
	h = health(&snap, why, sizeof(why));
	if (ctl->json)
		print_json(&snap, h, why);
	else
		print_table(&snap, h, why);
	snapshot_free(&snap);
	return h;
}

/*
 * The pid file, then the rows. A database that does not exist yet is not
 * created here: no rows is the truthful answer.
 */
static int
snapshot_read(const struct ctl *ctl, struct snapshot *snap)
{
	struct progress	*db;
	char		 path[PATH_MAX];

	memset(snap, 0, sizeof(*snap));
	snap->now = clock_wall();
	snap->sup_up = ctl_supervisor_pid(&snap->sup_pid) == 1;
	if (path_get(path, sizeof(path), PATH_DB) == NULL) {
		log_warnx("path too long: %s", PATH_DB);
		return -1;
	}
	read_self_metrics(ctl, snap);
	if (access(path, F_OK) == -1)
		return snap->failed ? -1 : 0;
	if ((db = progress_open_ro(path)) == NULL)
		return -1;
	if (progress_proc_each(db, add_proc, snap) == -1 || snap->failed) {
		progress_close(db);
		return -1;
	}
	progress_close(db);
	supervisor_first(snap);
	return 0;
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

/*
 * The latest self-metrics of every process that wrote some. The memory
 * spool's place comes from the configuration; with a broken one, the
 * default place is read.
 */
static void
read_self_metrics(const struct ctl *ctl, struct snapshot *snap)
{
	struct spool_seg	*segs;
	struct self_ctx		 ctx = { snap, NULL };
	struct ferry_conf	*conf;
	struct conf_errors	 errs;
	char			 dir[4096], memdir[4096];
	size_t			 n, i;

	if ((conf = ctl_conf_load(ctl, &errs)) != NULL) {
		strlcpy(memdir, conf->spool.memory_dir, sizeof(memdir));
		conf_free(conf);
	} else if (path_get(memdir, sizeof(memdir), PATH_MEMSPOOL) == NULL)
		memdir[0] = '\0';
	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    access(dir, F_OK) == -1 || spool_list(dir, memdir, &segs, &n) == -1)
		return;
	for (i = 0; i < n; i++) {
		if (strncmp(segs[i].stream, "self-", 5) != 0 ||
		    (i + 1 < n && strcmp(segs[i].stream, segs[i + 1].stream) == 0))
			continue;	/* once per stream, at its newest segment */
		ctx.proc = segs[i].stream + 5;
		selfmetrics_read(dir, memdir, ctx.proc, add_self, &ctx);
	}
	free(segs);
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
	free(snap->procs);
	free(snap->counters);
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

/*
 * Down without a live supervisor; degraded when a child the supervisor
 * wants running is not ("stopped" is what it records for a child the
 * configuration does not enable). why says it in words, or is empty.
 */
static int
health(const struct snapshot *snap, char *why, size_t size)
{
	size_t	i;

	why[0] = '\0';
	if (!snap->sup_up) {
		(void)strlcpy(why, "ferry-supervisor is not running", size);
		return STATUS_DOWN;
	}
	for (i = 0; i < snap->nprocs; i++) {
		if (strcmp(snap->procs[i].name, "supervisor") == 0 ||
		    strcmp(snap->procs[i].state, "running") == 0 ||
		    strcmp(snap->procs[i].state, "stopped") == 0)
			continue;
		(void)snprintf(why, size, "%s is %s", snap->procs[i].name,
		    snap->procs[i].state);
		return STATUS_DEGRADED;
	}
	return STATUS_HEALTHY;
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
print_table(const struct snapshot *snap, int h, const char *why)
{
	const struct proc_state	*ps;
	char			 up[32], ago[32], last[80], pid[16];
	size_t			 i;
	int			 w = 10;

	printf("ferry %s%s%s", health_names[h], why[0] ? ": " : "", why);
	if (snap->sup_up)
		printf(" (supervisor pid %d)", (int)snap->sup_pid);
	printf("\n");
	if (snap->nprocs == 0) {
		printf("no process has been recorded yet\n");
		return;
	}
	for (i = 0; i < snap->nprocs; i++)
		if ((int)strlen(snap->procs[i].name) > w)
			w = strlen(snap->procs[i].name);
	printf("\n%-*s  %-8s  %7s  %9s  %8s  %s\n", w, "NAME", "STATE", "PID",
	    "UPTIME", "RESTARTS", "LAST EXIT");
	for (i = 0; i < snap->nprocs; i++) {
		ps = &snap->procs[i];
		(void)snprintf(pid, sizeof(pid), "%d", ps->pid);
		if (ps->last_exit_str[0] != '\0')
			(void)snprintf(last, sizeof(last), "%s, %s ago",
			    ps->last_exit_str, duration(snap->now -
			    ps->last_exit_at, ago, sizeof(ago)));
		else
			(void)strlcpy(last, "-", sizeof(last));
		printf("%-*s  %-8s  %7s  %9s  %8d  %s\n", w, ps->name,
		    proc_state(snap, ps), ps->pid > 0 ? pid : "-",
		    proc_running(ps) ? duration(snap->now - ps->started, up,
		    sizeof(up)) : "-", ps->restarts, last);
	}
	if (snap->ncounters == 0)
		return;
	printf("\n%-*s  %-32s  %s\n", w, "PROCESS", "COUNTER", "VALUE");
	for (i = 0; i < snap->ncounters; i++)
		printf("%-*s  %-32s  %" PRId64 "\n", w, snap->counters[i].proc,
		    snap->counters[i].name, snap->counters[i].value);
}

static void
print_json(const struct snapshot *snap, int h, const char *why)
{
	const struct proc_state	*ps;
	size_t			 i;

	printf("{\"status\":\"%s\",\"reason\":", health_names[h]);
	ctl_json_str(stdout, why);
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
		ctl_json_str(stdout, ps->name);
		printf(",\"state\":");
		ctl_json_str(stdout, proc_state(snap, ps));
		printf(",\"pid\":%d,\"uptime\":", ps->pid);
		if (proc_running(ps))
			printf("%" PRId64, snap->now - ps->started);
		else
			printf("null");
		printf(",\"restarts\":%d,\"last_exit\":", ps->restarts);
		if (ps->last_exit_str[0] != '\0') {
			ctl_json_str(stdout, ps->last_exit_str);
			printf(",\"last_exit_at\":%" PRId64, ps->last_exit_at);
		} else
			printf("null,\"last_exit_at\":null");
		printf("}");
	}
	printf("],\"counters\":[");
	for (i = 0; i < snap->ncounters; i++) {
		printf("%s{\"process\":", i ? "," : "");
		ctl_json_str(stdout, snap->counters[i].proc);
		printf(",\"name\":");
		ctl_json_str(stdout, snap->counters[i].name);
		printf(",\"value\":%" PRId64 "}", snap->counters[i].value);
	}
	printf("]}\n");
}

/* Seconds as "42s", "5m12s", "3h04m", "2d03h". */
static const char *
duration(int64_t s, char *buf, size_t size)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		(void)snprintf(buf, size, "%" PRId64 "s", s);
	else if (s < 3600)
		(void)snprintf(buf, size, "%" PRId64 "m%02" PRId64 "s", s / 60,
		    s % 60);
	else if (s < 86400)
		(void)snprintf(buf, size, "%" PRId64 "h%02" PRId64 "m",
		    s / 3600, s % 3600 / 60);
	else
		(void)snprintf(buf, size, "%" PRId64 "d%02" PRId64 "h",
		    s / 86400, s % 86400 / 3600);
	return buf;
}
