/*
 * self: what ferry itself costs and how it fares, per process of the suite:
 *
 *	ferry.<proc>.process.cpu_percent	CPU used since the previous sample
 *						(100 = one core)
 *	ferry.<proc>.process.rss_byte		resident memory
 *	ferry.<proc>.process.fds		open file descriptors
 *	ferry.<proc>.process.restarts		restarts since the supervisor started
 *	ferry.spool.byte ferry.spool.segments	what the spool holds on disk
 *	ferry.spool.memory_byte			and in the memory-backed spool
 *	ferry.output.<output>.spool_byte	what that output has still to send
 *
 * <proc> is supervisor, receiver, forwarder, collectors, periodic, sink:
 * the supervisor named by its pid file and each of its children, named by
 * its executable without the "ferry-" prefix. Restarts come from the
 * process table the supervisor keeps in the progress database, and each
 * output's backlog from its cursors there (read only); the other figures
 * from /proc and the spool folders. The names sit beside each process's
 * own counters (ferry.<proc>.*) under a "process" node of their own, so
 * they never collide with them.
 *
 * fds of a process of another user (the supervisor runs as root) cannot be
 * counted and are left out. The memory-backed spool is looked for where
 * the default configuration puts it.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backlog.h"
#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "path.h"
#include "procfs.h"
#include "progress.h"
#include "rate.h"
#include "spoolseg.h"

#define MAXPROCS	64
#define MAXOUTPUTS	64
#define CONF_SAFE_NAME	64

struct proc {
	int		 pid;
	char		 name[32];
	uint64_t	 cpu_ticks;	/* utime + stime */
	uint64_t	 start;		/* start time, ticks after boot */
	uint64_t	 rss_pages;
};

struct self {
	struct collect	*c;
	long		 hz, pagesize;
	struct proc	 procs[MAXPROCS];
	int		 nprocs;
	struct progress	*db;		/* kept open in daemon mode */
	ino_t		 db_ino;
	struct spool_seg *segs;		/* this sample's spool listing */
	size_t		 nsegs;
	char		 outputs[MAXOUTPUTS][64];
	int		 noutputs;
};

/*
 * Fields of /proc/PID/stat after "pid (comm)": the comm may hold blanks and
 * parentheses, so parsing starts after its last ')'.
 */
static int
proc_stat(int pid, struct proc *p, int *ppid)
{
	char		 path[64], buf[1024], *open, *close, *f[24];
	uint64_t	 v[5];

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (procfs_read(path, buf, sizeof(buf)) <= 0 ||
	    (open = strchr(buf, '(')) == NULL ||
	    (close = strrchr(buf, ')')) == NULL || close < open)
		return -1;
	*close = '\0';
	snprintf(p->name, sizeof(p->name), "%s", open + 1);
	/* f[0] is field 3 (state): ppid 4, utime 14, stime 15, start 22, rss 24. */
	if (procfs_split(close + 1, f, 24) < 22 ||
	    procfs_u64(f[1], &v[0]) == -1 || procfs_u64(f[11], &v[1]) == -1 ||
	    procfs_u64(f[12], &v[2]) == -1 || procfs_u64(f[19], &v[3]) == -1 ||
	    procfs_u64(f[21], &v[4]) == -1)
		return -1;
	p->pid = pid;
	*ppid = (int)v[0];
	p->cpu_ticks = v[1] + v[2];
	p->start = v[3];
	p->rss_pages = v[4];
	return 0;
}

/* The name: the executable without "ferry-"; the comm when it is unreadable. */
static void
proc_name(struct proc *p)
{
	char		 path[64], exe[4096], *base, *del;
	ssize_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/exe", p->pid);
	if ((n = readlink(path, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		/* An executable replaced on disk (an upgrade) reads "x (deleted)". */
		if ((del = strstr(exe, " (deleted)")) != NULL)
			*del = '\0';
		base = strrchr(exe, '/');
		snprintf(p->name, sizeof(p->name), "%.31s", base ? base + 1 : exe);
	}
	if (strncmp(p->name, "ferry-", 6) == 0)
		memmove(p->name, p->name + 6, strlen(p->name + 6) + 1);
	procfs_name(p->name, sizeof(p->name), p->name);
}

static void
add_proc(struct self *s, int pid, int want_ppid)
{
	struct proc	*p;
	char		 tmp[32];
	int		 ppid, i;

	if (s->nprocs == MAXPROCS)
		return;
	p = &s->procs[s->nprocs];
	if (proc_stat(pid, p, &ppid) == -1 || (want_ppid != 0 && ppid != want_ppid))
		return;
	if (want_ppid == 0)
		snprintf(p->name, sizeof(p->name), "supervisor");
	else
		proc_name(p);
	/* Two children of one executable: tell them apart by pid. */
	for (i = 0; i < s->nprocs; i++) {
		if (strcmp(s->procs[i].name, p->name) == 0) {
			snprintf(tmp, sizeof(tmp), "%.20s_%d", p->name, pid);
			memcpy(p->name, tmp, sizeof(p->name));
			break;
		}
	}
	s->nprocs++;
}

static int
children_line(char *l, void *p)
{
	struct self	*s = p;
	char		*f[MAXPROCS];
	uint64_t	 pid;
	int		 n, i;

	n = procfs_split(l, f, MAXPROCS);
	for (i = 0; i < n; i++)
		if (procfs_u64(f[i], &pid) == 0 && pid <= INT32_MAX)
			add_proc(s, (int)pid, s->procs[0].pid);
	return 0;
}

/* The supervisor's children: its children file, else a walk of /proc. */
static void
find_children(struct self *s, int sup)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[64];
	uint64_t	 pid;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", sup, sup);
	if (procfs_lines(path, children_line, s) == 0)
		return;
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (procfs_u64(de->d_name, &pid) == 0 && pid <= INT32_MAX &&
		    (int)pid != sup)
			add_proc(s, (int)pid, sup);
	closedir(d);
}

static void
report_proc(struct self *s, const struct proc *p)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[64], key[RATE_KEY_MAX];
	double		 per_sec;
	uint64_t	 fds = 0;

	/* The start time in the key: a restarted process starts from 0. */
	snprintf(key, sizeof(key), "%s.%llu", p->name, (unsigned long long)p->start);
	if (rate_per_sec(collect_rate(s->c), key, p->cpu_ticks, &per_sec))
		collect_f(s->c, per_sec * 100.0 / (double)s->hz,
		    "ferry.%s.process.cpu_percent", p->name);
	collect_u64(s->c, p->rss_pages * (uint64_t)s->pagesize,
	    "ferry.%s.process.rss_byte", p->name);
	snprintf(path, sizeof(path), "/proc/%d/fd", p->pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			fds++;
	closedir(d);
	collect_u64(s->c, fds, "ferry.%s.process.fds", p->name);
}

static void
restarts_row(const struct proc_state *ps, void *arg)
{
	struct self	*s = arg;
	char		 name[32];

	if (procfs_name(name, sizeof(name), ps->name) < sizeof(name))
		collect_u64(s->c, (uint64_t)ps->restarts,
		    "ferry.%s.process.restarts", name);
}

static void
output_row(const struct output_state *os, void *arg)
{
	struct self	*s = arg;

	if (s->noutputs < MAXOUTPUTS)
		snprintf(s->outputs[s->noutputs++], sizeof(s->outputs[0]), "%s",
		    os->name);
}

/*
 * The progress database: restarts from the supervisor's process table, and
 * each output's backlog from its cursors. A daemon keeps it open and opens
 * it again when the file was replaced (a corrupt one is moved aside).
 */
static void
report_db(struct self *s)
{
	struct stat	st;
	char		path[4096], name[CONF_SAFE_NAME];
	struct backlog	b;
	int		i;

	if (path_get(path, sizeof(path), PATH_DB) == NULL)
		return;
	if (stat(path, &st) == -1 || (s->db != NULL && st.st_ino != s->db_ino)) {
		progress_close(s->db);
		s->db = NULL;
	}
	if (access(path, F_OK) == -1)
		return;		/* not created yet: nothing to say */
	if (s->db == NULL) {
		if ((s->db = progress_open_ro(path)) == NULL) {
			collect_warnx(s->c, "%s: restarts and backlogs not reported",
			    path);
			return;
		}
		s->db_ino = st.st_ino;
	}
	s->noutputs = 0;
	if (progress_proc_each(s->db, restarts_row, s) == -1 ||
	    progress_output_each(s->db, output_row, s) == -1)
		goto fail;
	for (i = 0; i < s->noutputs; i++) {
		/* Bytes only: counting records reads every unsent byte. */
		if (backlog_bytes_listed(s->db, s->segs, s->nsegs, s->outputs[i],
		    &b) == -1)
			goto fail;
		if (procfs_name(name, sizeof(name), s->outputs[i]) < sizeof(name))
			collect_u64(s->c, b.bytes, "ferry.output.%s.spool_byte", name);
	}
	if (!collect_daemon(s->c)) {
		progress_close(s->db);
		s->db = NULL;
	}
	return;
fail:
	collect_warnx(s->c, "%s: restarts and backlogs not reported", path);
	progress_close(s->db);
	s->db = NULL;
}

/* The spool's segments, on disk and in memory; totals reported. */
static void
report_spool(struct self *s)
{
	char		dir[4096], memdir[4096];
	uint64_t	disk = 0, mem = 0, n = 0;
	size_t		i;

	free(s->segs);
	s->segs = NULL;
	s->nsegs = 0;
	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_get(memdir, sizeof(memdir), PATH_MEMSPOOL) == NULL)
		return;
	if (access(dir, F_OK) == -1)
		return;		/* nothing spooled yet */
	if (spool_list(dir, memdir, &s->segs, &s->nsegs) == -1) {
		collect_warnx(s->c, "%s: spool not reported", dir);
		return;
	}
	for (i = 0; i < s->nsegs; i++) {
		if (s->segs[i].inmem)
			mem += s->segs[i].size;
		else {
			disk += s->segs[i].size;
			n++;
		}
	}
	collect_u64(s->c, disk, "ferry.spool.byte");
	collect_u64(s->c, n, "ferry.spool.segments");
	collect_u64(s->c, mem, "ferry.spool.memory_byte");
}

static int
read_pidfile(struct self *s)
{
	char		path[4096], buf[32];
	uint64_t	pid;

	if (path_get(path, sizeof(path), PATH_PIDFILE) == NULL)
		return -1;
	if (procfs_read(path, buf, sizeof(buf)) == -1) {
		collect_warn(s->c, "%s: is ferry-supervisor running?", path);
		return -1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (procfs_u64(buf, &pid) == -1 || pid == 0 || pid > INT32_MAX) {
		collect_warnx(s->c, "%s: not a pid", path);
		return -1;
	}
	return (int)pid;
}

static void
sample(struct collect *c, void *arg)
{
	struct self	*s = arg;
	int		 sup, i;

	s->c = c;
	if (s->hz <= 0 || s->pagesize <= 0) {
		s->hz = sysconf(_SC_CLK_TCK);
		s->pagesize = sysconf(_SC_PAGESIZE);
		if (s->hz <= 0 || s->pagesize <= 0) {
			collect_warnx(c, "sysconf: no clock tick or page size");
			return;
		}
	}
	s->nprocs = 0;
	if ((sup = read_pidfile(s)) != -1) {
		add_proc(s, sup, 0);
		if (s->nprocs == 0)
			collect_warnx(s->c, "ferry-supervisor (pid %d) is not running",
			    sup);
		else
			find_children(s, sup);
	}
	for (i = 0; i < s->nprocs; i++)
		report_proc(s, &s->procs[i]);
	report_spool(s);
	report_db(s);
}

static void
done(void *arg)
{
	struct self	*s = arg;

	progress_close(s->db);
	free(s->segs);
}

static struct self	self_state;

const struct collect_def builtin_self = {
	.name = "self",
	.counters = 1,
	.opts = "",
	.usage = "",
	.sample = sample,
	.done = done,
	.arg = &self_state,
};
