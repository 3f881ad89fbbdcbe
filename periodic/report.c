/*
 * report: the heartbeat's body, one JSON object (the shape Hosted
 * Graphite's agent sends, with ferry's own state added):
 *
 *   {"hostname", "timestamp", "version", "platform", "ip" (or null), "ok",
 *    "errors": [the last warning:/fatal: lines of ferry's logs within the
 *               last heartbeat interval, oldest first],
 *    "processes": [{"name", "state", "pid", "restarts", "started",
 *                   "last_exit", "last_exit_at"}],
 *    "outputs": [{"name", "state", "since", "backlog_bytes",
 *                 "backlog_records", "oldest_age" (or null), "last_success",
 *                 "last_error", "last_error_at", "sent", "dropped"}],
 *    "logs": [{"name", "path", "published", "files", "lines", "bytes",
 *              "records", "cut", "sampled_out", "rotations", "lost_bytes",
 *              "errors", "lag_bytes" (null while not published)}]}
 *
 * Processes come from the supervisor's rows in the progress database;
 * outputs are the configured ones (as the config watch last saw them) with
 * the forwarder's row for each, and the backlog counted from the cursors and
 * the spool (common/backlog.c); logs are the configured log sections with
 * ferry-tail's self-metrics for each, as ferryctl status shows them
 * (common/logstats.c). "ok" is false when an error line was logged
 * in the window, a process is in backoff or fatal, or an output is
 * retrying or dead-lettering. Everything here is bounded: at most
 * REPORT_ERRORS_MAX lines, read from the last LOG_TAIL bytes of each log.
 */
#include <sys/stat.h>
#include <sys/utsname.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backlog.h"
#include "clock.h"
#include "conf.h"
#include "json.h"
#include "log.h"
#include "logstats.h"
#include "path.h"
#include "periodic.h"
#include "progress.h"
#include "version.h"

#define LOG_TAIL	32768	/* bytes read back from the end of each log */
#define TS_LEN		24	/* "2026-11-21T06:15:02.123Z" */

struct procs {
	FILE	*fp;
	int	 n;
	int	 bad;		/* one in backoff or fatal */
};

static void
proc_one(const struct proc_state *ps, void *arg)
{
	struct procs	*pr = arg;

	fprintf(pr->fp, "%s{\"name\":", pr->n++ ? "," : "");
	json_str(pr->fp, ps->name);
	fputs(",\"state\":", pr->fp);
	json_str(pr->fp, ps->state);
	fprintf(pr->fp, ",\"pid\":%d,\"restarts\":%d,\"started\":%" PRId64
	    ",\"last_exit\":", ps->pid, ps->restarts, ps->started);
	json_str(pr->fp, ps->last_exit_str);
	fprintf(pr->fp, ",\"last_exit_at\":%" PRId64 "}", ps->last_exit_at);
	if (strcmp(ps->state, "backoff") == 0 || strcmp(ps->state, "fatal") == 0)
		pr->bad = 1;
}

/* Each configured output with its state and backlog; 1 if one is failing. */
static int
report_outputs(FILE *fp, struct progress *db, int64_t now)
{
	const struct ferry_conf		*latest = reload_latest();
	const struct output_state	*os;
	struct output_state		*v = NULL;
	struct backlog			 b;
	size_t				 i, n = 0;
	int				 bad = 0, have_b;

	if (db != NULL)
		(void)progress_outputs(db, &v, &n);
	fputs(",\"outputs\":[", fp);
	for (i = 0; latest != NULL && i < latest->noutputs; i++) {
		os = output_state_find(v, n, latest->outputs[i].name);
		have_b = db != NULL && backlog_compute(db, periodic_spool_dir(),
		    periodic_memory_dir(), latest->outputs[i].name, &b) == 0;
		fprintf(fp, "%s{\"name\":", i ? "," : "");
		json_str(fp, latest->outputs[i].name);
		fputs(",\"state\":", fp);
		json_str(fp, os != NULL ? os->state : "unknown");
		fprintf(fp, ",\"since\":%" PRId64, os != NULL ? os->since : 0);
		if (have_b) {
			fprintf(fp, ",\"backlog_bytes\":%" PRIu64
			    ",\"backlog_records\":%" PRIu64, b.bytes,
			    b.records);
			if (b.oldest != 0)
				fprintf(fp, ",\"oldest_age\":%" PRId64,
				    now > b.oldest ? now - b.oldest : 0);
			else
				fputs(",\"oldest_age\":null", fp);
		} else
			fputs(",\"backlog_bytes\":null,\"backlog_records\":null"
			    ",\"oldest_age\":null", fp);
		fprintf(fp, ",\"last_success\":%" PRId64 ",\"last_error\":",
		    os != NULL ? os->last_success : 0);
		json_str(fp, os != NULL ? os->last_error : "");
		fprintf(fp, ",\"last_error_at\":%" PRId64 ",\"sent\":%" PRIu64
		    ",\"dropped\":%" PRIu64 "}",
		    os != NULL ? os->last_error_at : 0,
		    os != NULL ? os->sent : 0, os != NULL ? os->dropped : 0);
		if (os != NULL && (strcmp(os->state, "retrying") == 0 ||
		    strcmp(os->state, "deadlettering") == 0))
			bad = 1;
	}
	fputc(']', fp);
	free(v);
	return bad;
}

/*
 * Each configured log section with ferry-tail's counters. They do not
 * touch "ok": a file ferry-tail cannot read is a warning line in its log,
 * which makes the beat of that window not ok already, while the counters
 * are totals since ferry-tail started and would keep every later beat not
 * ok until it restarts.
 */
static void
report_logs(FILE *fp)
{
	const struct ferry_conf	*latest = reload_latest();
	struct log_stats	*v = NULL;
	size_t			 i;

	fputs(",\"logs\":[", fp);
	if (latest != NULL && latest->nlogs > 0 &&
	    (v = calloc(latest->nlogs, sizeof(*v))) == NULL)
		log_warn("report");
	if (v != NULL) {
		(void)logstats_read(latest, periodic_spool_dir(),
		    periodic_memory_dir(), v);
		for (i = 0; i < latest->nlogs; i++) {
			if (i > 0)
				fputc(',', fp);
			logstats_json(fp, &latest->logs[i], &v[i]);
		}
	}
	fputc(']', fp);
	free(v);
}

/*
 * The heartbeat for conf, with ip as our primary address ("" unknown) and
 * the errors logged since the last one (the last window seconds, for the
 * first). A malloc'ed NUL-terminated string and its length in *len, or
 * NULL (logged).
 */
char *
report_build(const struct ferry_conf *conf, const char *ip, double window,
    size_t *len)
{
	char			 errors[REPORT_ERRORS_MAX][REPORT_ERROR_LEN];
	char			 logdir[PATH_MAX], platform[3 * 65 + 3];
	char			*buf = NULL;
	struct progress		*db = periodic_db();
	struct procs		 pr;
	struct utsname		 u;
	static uint64_t		 since_ms;
	uint64_t		 now_ms = clock_wall_ms();
	int64_t			 now = (int64_t)(now_ms / 1000);
	FILE			*fp;
	int			 nerr = 0, i, bad;

	if ((fp = open_memstream(&buf, len)) == NULL) {
		log_warn("heartbeat: open_memstream");
		return NULL;
	}
	if (uname(&u) == 0)
		(void)snprintf(platform, sizeof(platform), "%s %s %s",
		    u.sysname, u.release, u.machine);
	else
		(void)strlcpy(platform, "unknown", sizeof(platform));
	/* Since the last beat, so no line falls between two. */
	if (since_ms == 0)
		since_ms = now_ms - (uint64_t)(window * 1000);
	if (path_get(logdir, sizeof(logdir), PATH_LOG) != NULL)
		nerr = report_recent_errors(logdir, since_ms, errors,
		    REPORT_ERRORS_MAX);
	since_ms = now_ms;

	/* "ok" is known only once the rest is written: it comes last. */
	fputs("{\"hostname\":", fp);
	json_str(fp, conf->hostname);
	fprintf(fp, ",\"timestamp\":%" PRId64 ",\"version\":", now);
	json_str(fp, version_get());
	fputs(",\"platform\":", fp);
	json_str(fp, platform);
	fputs(",\"ip\":", fp);
	if (ip[0] != '\0')
		json_str(fp, ip);
	else
		fputs("null", fp);
	fputs(",\"errors\":[", fp);
	for (i = 0; i < nerr; i++) {
		if (i > 0)
			fputc(',', fp);
		json_str(fp, errors[i]);
	}
	fputs("],\"processes\":[", fp);
	memset(&pr, 0, sizeof(pr));
	pr.fp = fp;
	if (db != NULL)
		(void)progress_proc_each(db, proc_one, &pr);
	fputc(']', fp);
	bad = report_outputs(fp, db, now);
	report_logs(fp);
	fprintf(fp, ",\"ok\":%s}\n",
	    nerr == 0 && !pr.bad && !bad ? "true" : "false");
	if (ferror(fp) || fclose(fp) != 0) {
		log_warnx("heartbeat: cannot build the report");
		free(buf);
		return NULL;
	}
	return buf;
}

/* 1 when line (len bytes, no newline) is a warning: or fatal: from since on. */
static int
is_error_line(const char *line, size_t len, const char *since)
{
	const char	*p, *end = line + len;

	/* "<ts> name[pid]: level: message", as logpipe.c and log.c write. */
	if (len < TS_LEN + 4 || line[TS_LEN] != ' ' || line[10] != 'T' ||
	    line[TS_LEN - 1] != 'Z')
		return 0;
	if (memcmp(line, since, TS_LEN) < 0)
		return 0;
	for (p = line + TS_LEN + 1; p + 3 < end; p++) {
		if (p[0] == ']' && p[1] == ':' && p[2] == ' ') {
			p += 3;
			return ((size_t)(end - p) > 9 &&
			    memcmp(p, "warning: ", 9) == 0) ||
			    ((size_t)(end - p) > 7 &&
			    memcmp(p, "fatal: ", 7) == 0);
		}
		if (*p == ' ')
			return 0;	/* the name holds no space */
	}
	return 0;
}

/* Keep the newest max lines: a full set gives up its oldest. */
static void
keep_line(char (*out)[REPORT_ERROR_LEN], int *n, int max, const char *line,
    size_t len)
{
	int	i, oldest = 0;

	if (len >= REPORT_ERROR_LEN)
		len = REPORT_ERROR_LEN - 1;
	if (*n < max)
		i = (*n)++;
	else {
		for (i = 1; i < max; i++)
			if (strcmp(out[i], out[oldest]) < 0)
				oldest = i;
		if (memcmp(line, out[oldest], TS_LEN) <= 0)
			return;
		i = oldest;
	}
	memcpy(out[i], line, len);
	out[i][len] = '\0';
}

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
scan_log(const char *path, const char *since, char (*out)[REPORT_ERROR_LEN],
    int *n, int max)
{
	char		 buf[LOG_TAIL];
	struct stat	 st;
	const char	*p, *nl, *end;
	off_t		 off;
	ssize_t		 got;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return;
	}
	off = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	got = pread(fd, buf, sizeof(buf), off);
	close(fd);
	if (got <= 0)
		return;
	p = buf;
	end = buf + got;
	/* Starting mid-file: the first line is a piece; skip it. */
	if (off > 0 && (p = memchr(p, '\n', end - p)) != NULL)
		p++;
	while (p != NULL && p < end &&
	    (nl = memchr(p, '\n', end - p)) != NULL) {
		if (is_error_line(p, nl - p, since))
			keep_line(out, n, max, p, nl - p);
		p = nl + 1;
	}
}

/*
 * The newest warning: and fatal: lines (at most max) that ferry's logs in
 * logdir hold from since (wall milliseconds) on, oldest first, into out.
 * Returns how many.
 */
int
report_recent_errors(const char *logdir, uint64_t since,
    char (*out)[REPORT_ERROR_LEN], int max)
{
	struct dirent	*de;
	struct tm	 tm;
	char		 ts[TS_LEN + 8], path[PATH_MAX];
	time_t		 t = (time_t)(since / 1000);
	size_t		 len;
	DIR		*d;
	int		 n = 0;

	/* As log_timestamp() writes them, so strings compare as times. */
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm) != TS_LEN - 5)
		return 0;
	(void)snprintf(ts + TS_LEN - 5, sizeof(ts) - (TS_LEN - 5), ".%03dZ",
	    (int)(since % 1000));
	if ((d = opendir(logdir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len < 5 ||
		    strcmp(de->d_name + len - 4, ".log") != 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", logdir,
		    de->d_name) >= sizeof(path))
			continue;
		scan_log(path, ts, out, &n, max);
	}
	closedir(d);
	qsort(out, n, sizeof(out[0]), cmp_line);
	return n;
}
