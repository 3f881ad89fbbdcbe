/*
 * status_gather: the snapshot `ferryctl status` judges and renders, read
 * once, only from the progress database, the spool, the pid file and the
 * configuration, so it answers the same whether the processes are up or
 * down:
 *   processes   the process table (written by the supervisor on every
 *               state change);
 *   outputs     the output table (written by the forwarder), joined with
 *               the configured outputs; the backlog of each counted from
 *               its cursors in the spool itself (common/backlog.c);
 *   counters    the latest self-metrics of every process that wrote some,
 *               read back from the tail of each self-<proc> stream
 *               (common/selfmetrics.c): totals since that process started;
 *   logs        ferry-tail's counters for each configured log section
 *               (status_logs.c);
 *   spool       its segments' sizes on disk and in memory.
 * A database that does not exist yet is not created here: no rows is the
 * truthful answer.
 */
#include <sys/types.h>

#include <inttypes.h>
#include <limits.h>
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
#include "spoolseg.h"
#include "ctl.h"
#include "status.h"

static int	gather(const struct ctl *, struct snapshot *);
static void	add_proc(const struct proc_state *, void *);
static void	add_output(const struct output_state *, void *);
static struct out_row *out_find(struct snapshot *, const char *, int);
static void	add_counter(const char *, const char *, int64_t, void *);
static void	read_self_metrics(struct snapshot *);
static void	read_spool(struct snapshot *);
static void	read_backlogs(struct snapshot *, struct progress *);
static void	supervisor_first(struct snapshot *);

int
status_gather(const struct ctl *ctl, struct snapshot *snap)
{
	int	rc;

	rc = gather(ctl, snap);
	/*
	 * Ages count from once everything was read: a collector that ran
	 * while we read (slow on a loaded machine) is not "-1 s ago".
	 */
	snap->now = clock_wall();
	return rc;
}

/*
 * The configuration (for the spool's places, its caps and the outputs that
 * should exist), the pid file, the spool, then the rows.
 */
static int
gather(const struct ctl *ctl, struct snapshot *snap)
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

void
status_free(struct snapshot *snap)
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

int
status_counter(const struct snapshot *snap, const char *proc, const char *name,
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

int64_t
status_counter_or0(const struct snapshot *snap, const char *proc,
    const char *name)
{
	int64_t	v;

	return status_counter(snap, proc, name, &v) ? v : 0;
}

int
status_is_collector(const struct snapshot *snap, size_t i)
{
	const char	*name = snap->counters[i].name;
	size_t		 len = strlen(name);

	return strcmp(snap->counters[i].proc, "collectors") == 0 &&
	    len > 5 && strcmp(name + len - 5, ".runs") == 0 &&
	    memchr(name, '.', len - 5) == NULL;
}
