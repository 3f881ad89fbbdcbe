/*
 * drain: outputs managed by ferryctl, for the operator who wants a copy of
 * everything sent somewhere else without editing ferry.conf by hand.
 *
 *   ferryctl drain add NAME URI [--api-key KEY]
 *   ferryctl drain list
 *   ferryctl drain remove NAME
 *
 * With --fleet (and --group G or --host H) the same three write and read
 * the fleet's drains in etcd instead (ctl/fleet.c).
 *
 * A drain is one file, conf.d/50-drain-NAME.conf, holding one output
 * section and a first line that says ferryctl wrote it. add writes it
 * atomically, checks that the whole configuration still loads (and takes
 * the file back when it does not), then asks the supervisor to reload;
 * remove deletes only such a file, never an output written by hand. list
 * shows every output, drains and hand-written ones, with the file it comes
 * from, its URI with any secret masked, and how it is doing: its state as
 * the forwarder last published it in ferry.db, its backlog (counted from
 * its cursors in the spool, common/backlog.c) and its last error.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atomicfile.h"
#include "backlog.h"
#include "clock.h"
#include "conf.h"
#include "path.h"
#include "progress.h"
#include "ctl.h"
#include "url.h"

#define DRAIN_NAME_MAX	48
#define DRAIN_MARK	"# ferryctl drain:"

struct drain_args {
	const char	*name;
	const char	*uri;
	const char	*api_key;
	int		 fleet;		/* --fleet: in etcd */
	const char	*group;		/* --group G (with --fleet) */
	const char	*host;		/* --host H (with --fleet) */
};

static int	drain_fleet(struct ctl *, const struct drain_args *, char **,
		    int);
static int	drain_add(struct ctl *, const struct drain_args *);
static int	drain_list(struct ctl *);
static int	drain_remove(struct ctl *, const struct drain_args *);
static int	check_name(const struct ctl *, const char *);
static int	check_uri(const struct ctl *, const char *);
static int	check_value(const char *);
static const char *main_path(const struct ctl *);
static int	confd_path(const struct ctl *, char *, size_t);
static int	drain_path(const struct ctl *, const char *, char *, size_t);
static int	is_drain_file(const char *);
static int	write_atomic(const char *, const char *, const char *, int);
static int	output_file(const struct ctl *, const char *, char *, size_t);
static int	is_fleet_file(const struct ctl *, const char *);
static void	reload(const struct ctl *, const char *, const char *,
		    const char *);

int
cmd_drain(struct ctl *ctl, int argc, char **argv)
{
	struct drain_args	 a = { NULL, NULL, NULL, 0, NULL, NULL };
	char			*pos[3];
	int			 i, npos = 0;

	/* Options may come anywhere after the subcommand. */
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (strcmp(argv[i], "--api-key") == 0 && i + 1 < argc)
			a.api_key = argv[++i];
		else if (strncmp(argv[i], "--api-key=", 10) == 0)
			a.api_key = argv[i] + 10;
		else if (strcmp(argv[i], "--fleet") == 0)
			a.fleet = 1;
		else if (strcmp(argv[i], "--group") == 0 && i + 1 < argc)
			a.group = argv[++i];
		else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc)
			a.host = argv[++i];
		else if (argv[i][0] == '-' && argv[i][1] != '\0')
			ctl_usage();
		else if (npos < 3)
			pos[npos++] = argv[i];
		else
			ctl_usage();
	}
	if (npos == 0 || ((a.group != NULL || a.host != NULL) && !a.fleet) ||
	    (a.group != NULL && a.host != NULL))
		ctl_usage();
	if (a.fleet)
		return drain_fleet(ctl, &a, pos, npos);
	if (strcmp(pos[0], "add") == 0 && npos == 3) {
		a.name = pos[1];
		a.uri = pos[2];
		return drain_add(ctl, &a);
	}
	if (a.api_key != NULL)
		ctl_usage();
	if (strcmp(pos[0], "list") == 0 && npos == 1)
		return drain_list(ctl);
	if (strcmp(pos[0], "remove") == 0 && npos == 2) {
		a.name = pos[1];
		return drain_remove(ctl, &a);
	}
	ctl_usage();
}

/* --fleet: the same commands, on etcd (ctl/fleet.c). */
static int
drain_fleet(struct ctl *ctl, const struct drain_args *a, char **pos,
    int npos)
{
	if (strcmp(pos[0], "add") == 0 && npos == 3)
		return ctl_fleet_drain_add(ctl, a->group, a->host, pos[1],
		    pos[2], a->api_key);
	if (a->api_key != NULL)
		ctl_usage();
	if (strcmp(pos[0], "list") == 0 && npos == 1 && a->group == NULL &&
	    a->host == NULL)
		return ctl_fleet_drain_list(ctl);
	if (strcmp(pos[0], "remove") == 0 && npos == 2)
		return ctl_fleet_drain_remove(ctl, a->group, a->host, pos[1]);
	ctl_usage();
}

static int
drain_add(struct ctl *ctl, const struct drain_args *a)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	char			 path[PATH_MAX], dir[PATH_MAX], where[PATH_MAX];
	char			 masked[2048];
	char			*text;
	int			 n;

	if (check_name(ctl, a->name) == -1 || check_uri(ctl, a->uri) == -1)
		return 1;
	if (a->api_key != NULL && check_value(a->api_key) == -1)
		return ctl_fail(ctl, "the API key holds a quote, a backslash or a "
		    "control character");
	/* Only a configuration that loads now can tell us the drain broke it. */
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		if (!ctl->json)
			fprintf(stderr, "ferryctl: the configuration has errors;"
			    " fix them before adding a drain\n");
		return 1;
	}
	conf_free(conf);
	if (output_file(ctl, a->name, where, sizeof(where)) == 1)
		return ctl_fail(ctl, "an output \"%s\" exists already (%s)%s",
		    a->name, where, is_drain_file(where) ? "; remove that "
		    "drain first" : "");
	if (confd_path(ctl, dir, sizeof(dir)) == -1 ||
	    drain_path(ctl, a->name, path, sizeof(path)) == -1)
		return ctl_fail(ctl, "path too long");
	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		return ctl_fail(ctl, "%s: %s", dir, strerror(errno));
	n = asprintf(&text, DRAIN_MARK " written by \"ferryctl drain add\"; "
	    "\"ferryctl drain remove %s\" removes it.\n"
	    "output \"%s\" {\n\turi = \"%s\"\n%s%s%s}\n", a->name, a->name,
	    a->uri, a->api_key != NULL ? "\tapi_key = \"" : "",
	    a->api_key != NULL ? a->api_key : "",
	    a->api_key != NULL ? "\"\n" : "");
	if (n == -1)
		return ctl_fail(ctl, "out of memory");
	/* A password or key in the URI is as secret as an API key. */
	if (write_atomic(ctl->confpath != NULL ? ctl->confpath :
	    conf_default_path(), path, text, a->api_key != NULL ||
	    strcmp(url_mask(a->uri, masked, sizeof(masked)), a->uri) != 0)
	    == -1) {
		free(text);
		return ctl_fail(ctl, "%s: %s", path, strerror(errno));
	}
	free(text);
	/* The whole configuration, with the drain: else take it back. */
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		(void)unlink(path);
		(void)atomicfile_sync_dir(dir);
		if (!ctl->json)
			fprintf(stderr, "ferryctl: with the drain the "
			    "configuration does not load; drain not added\n");
		return 1;
	}
	conf_free(conf);
	reload(ctl, "added", a->name, path);
	return 0;
}

static int
drain_remove(struct ctl *ctl, const struct drain_args *a)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	char			 path[PATH_MAX], dir[PATH_MAX], where[PATH_MAX];
	int			 rc;

	if (check_name(ctl, a->name) == -1)
		return 1;
	if (confd_path(ctl, dir, sizeof(dir)) == -1 ||
	    drain_path(ctl, a->name, path, sizeof(path)) == -1)
		return ctl_fail(ctl, "path too long");
	if (!is_drain_file(path)) {
		rc = output_file(ctl, a->name, where, sizeof(where));
		if (rc == 1 && is_fleet_file(ctl, where))
			return ctl_fail(ctl, "output \"%s\" is a fleet drain (%s): "
			    "ferryctl drain remove --fleet removes it from etcd, "
			    "for every host it is meant for", a->name, where);
		if (rc == 1)
			return ctl_fail(ctl, "output \"%s\" is not a drain: it is "
			    "written in %s, by hand; ferryctl removes only the "
			    "drains it added (edit that file instead)",
			    a->name, where);
		return ctl_fail(ctl, "no drain \"%s\" (ferryctl drain list shows "
		    "them)", a->name);
	}
	if (unlink(path) == -1)
		return ctl_fail(ctl, "%s: %s", path, strerror(errno));
	if (atomicfile_sync_dir(dir) == -1)
		return ctl_fail(ctl, "%s: %s", dir, strerror(errno));
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		/* Removed, but something else is wrong: say so, do not reload. */
		ctl_conf_errors(ctl, &errs);
		if (!ctl->json)
			fprintf(stderr, "ferryctl: drain %s removed, but the "
			    "configuration has errors; not reloading\n", a->name);
		return 1;
	}
	conf_free(conf);
	reload(ctl, "removed", a->name, path);
	return 0;
}

/*
 * What the forwarder last published of one output (its row in ferry.db),
 * and its backlog counted from its cursors in the spool.
 */
struct drain_row {
	struct output_state	st;
	int			recorded;	/* the forwarder wrote a row */
	struct backlog		bl;
	int			bl_ok;
};

struct drain_view {
	const struct ferry_conf	*conf;
	struct drain_row	*rows;		/* one per conf->outputs[] */
	int			 fwd_up;	/* the forwarder is running */
	int			 unread;	/* ferry.db could not be read */
	int64_t			 now;
};

static void
view_output(const struct output_state *os, void *arg)
{
	struct drain_view	*v = arg;
	size_t			 i;

	for (i = 0; i < v->conf->noutputs; i++) {
		if (strcmp(v->conf->outputs[i].name, os->name) == 0) {
			v->rows[i].st = *os;
			v->rows[i].recorded = 1;
		}
	}
}

static void
view_proc(const struct proc_state *ps, void *arg)
{
	struct drain_view	*v = arg;

	if (strcmp(ps->name, "forwarder") == 0 &&
	    strcmp(ps->state, "running") == 0 && ps->pid > 0)
		v->fwd_up = 1;
}

/*
 * Read each output's row and backlog, as ferryctl status does, from the
 * database opened read-only: no database yet leaves every row unrecorded,
 * which is the truth. The forwarder counts as running when the supervisor
 * is alive and records it as running; a row published by a forwarder that
 * has stopped since still shows, as the last word there is.
 */
static int
view_read(struct drain_view *v)
{
	struct progress	*db;
	char		 dbpath[PATH_MAX], spool[PATH_MAX];
	const char	*memdir = v->conf->spool.memory_dir;
	pid_t		 pid;
	size_t		 i;
	int		 rc = 0;

	v->now = clock_wall();
	if (path_get(dbpath, sizeof(dbpath), PATH_DB) == NULL ||
	    path_get(spool, sizeof(spool), PATH_SPOOL) == NULL)
		return -1;
	if (access(dbpath, F_OK) == -1)
		return 0;
	if ((db = progress_open_ro(dbpath)) == NULL)
		return -1;
	if (progress_output_each(db, view_output, v) == -1 ||
	    progress_proc_each(db, view_proc, v) == -1)
		rc = -1;
	if (ctl_supervisor_pid(&pid) != 1)
		v->fwd_up = 0;
	if (rc == 0 && access(spool, F_OK) == 0)
		for (i = 0; i < v->conf->noutputs; i++)
			v->rows[i].bl_ok = backlog_compute(db, spool,
			    memdir[0] != '\0' ? memdir : NULL,
			    v->conf->outputs[i].name, &v->rows[i].bl) == 0;
	progress_close(db);
	return rc;
}

/* The state to show: as published, else why there is none. */
static const char *
view_state(const struct drain_view *v, const struct drain_row *r)
{
	if (r->recorded)
		return r->st.state;
	return v->fwd_up || v->unread ? "unknown" : "not running";
}

/* "2026-01-05T12:00:03Z (42s ago)" */
static const char *
when(const struct drain_view *v, int64_t t, char *buf, size_t size)
{
	struct tm	tm;
	time_t		tt = (time_t)t;
	char		ago[32], at[32];

	if (gmtime_r(&tt, &tm) == NULL ||
	    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(at, sizeof(at), "%lld", (long long)t);
	(void)snprintf(buf, size, "%s (%s ago)", at, ctl_duration(v->now - t,
	    ago, sizeof(ago)));
	return buf;
}

/*
 * The line under an output's row: "sending", "retrying since T (age)",
 * "failed since T (age)", "deadlettering since T (age)", "unknown" or "not
 * running"; the backlog; the last error and when.
 */
static void
print_detail(const struct drain_view *v, const struct drain_row *r, int w)
{
	const char	*state = view_state(v, r);
	char		 t[80], b[32], age[32];

	printf("%-*s  %s", w, "", state);
	if (r->recorded && r->st.since != 0 && strcmp(state, "sending") != 0)
		printf(" since %s", when(v, r->st.since, t, sizeof(t)));
	if (r->bl_ok) {
		printf("; backlog %" PRIu64 " records, %s", r->bl.records,
		    ctl_bytes(r->bl.bytes, b, sizeof(b)));
		if (r->bl.oldest != 0)
			printf(", oldest %s old", ctl_duration(v->now -
			    r->bl.oldest, age, sizeof(age)));
	} else
		printf("; backlog unknown");
	if (r->st.last_error[0] != '\0')
		printf("; last error %s: %s", when(v, r->st.last_error_at, t,
		    sizeof(t)), r->st.last_error);
	else
		printf("; no error");
	printf("\n");
}

static void
print_json_detail(const struct drain_view *v, const struct drain_row *r)
{
	printf(",\"state\":");
	json_str(stdout, view_state(v, r));
	ctl_json_time("since", r->recorded ? r->st.since : 0);
	ctl_json_backlog(r->bl_ok ? &r->bl : NULL, v->now);
	ctl_json_text("last_error", r->st.last_error);
	ctl_json_time("last_error_at", r->st.last_error_at);
	ctl_json_time("updated", r->st.updated);
}

/*
 * Every output, drains and hand-written ones: a row of what the
 * configuration says (name, drain or not, URI with its secrets masked, the
 * file), and under it a line of how it is doing as the forwarder last
 * published it. The row keeps its own line so scripts that read it go on
 * working.
 */
static int
drain_list(struct ctl *ctl)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	struct drain_view	 v;
	char			 where[PATH_MAX], uri[2048];
	size_t			 i;
	int			 w = 4, rc;

	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		return 1;
	}
	memset(&v, 0, sizeof(v));
	v.conf = conf;
	if ((v.rows = calloc(conf->noutputs + 1, sizeof(*v.rows))) == NULL) {
		conf_free(conf);
		return ctl_fail(ctl, "out of memory");
	}
	/* The configuration is still worth showing without the states. */
	if (view_read(&v) == -1) {
		memset(v.rows, 0, (conf->noutputs + 1) * sizeof(*v.rows));
		v.unread = 1;
		fprintf(stderr, "ferryctl: cannot read the outputs' states "
		    "from the progress database\n");
	}
	for (i = 0; i < conf->noutputs; i++)
		if ((int)strlen(conf->outputs[i].name) > w)
			w = strlen(conf->outputs[i].name);
	if (ctl->json)
		printf("{\"forwarder_running\":%s,\"outputs\":[",
		    v.unread ? "null" : v.fwd_up ? "true" : "false");
	else if (conf->noutputs == 0)
		printf("no output is configured\n");
	else
		printf("%-*s  %-5s  %-40s  %s\n", w, "NAME", "DRAIN", "URI",
		    "FILE");
	for (i = 0; i < conf->noutputs; i++) {
		rc = output_file(ctl, conf->outputs[i].name, where, sizeof(where));
		if (rc != 1)
			(void)strlcpy(where, "?", sizeof(where));
		(void)url_mask(conf->outputs[i].uri, uri, sizeof(uri));
		if (ctl->json) {
			printf("%s{\"name\":", i ? "," : "");
			json_str(stdout, conf->outputs[i].name);
			printf(",\"uri\":");
			json_str(stdout, uri);
			printf(",\"file\":");
			json_str(stdout, where);
			printf(",\"drain\":%s,\"fleet\":%s", is_drain_file(where) ?
			    "true" : "false", is_fleet_file(ctl, where) ?
			    "true" : "false");
			print_json_detail(&v, &v.rows[i]);
			printf("}");
		} else {
			printf("%-*s  %-5s  %-40s  %s\n", w,
			    conf->outputs[i].name, is_drain_file(where) ?
			    "yes" : is_fleet_file(ctl, where) ? "fleet" : "no",
			    uri, where);
			print_detail(&v, &v.rows[i], w);
		}
	}
	if (ctl->json)
		printf("]}\n");
	else if (conf->noutputs > 0 && !v.fwd_up && !v.unread)
		printf("(ferry-forwarder is not running: each state is the "
		    "last it published)\n");
	free(v.rows);
	conf_free(conf);
	return 0;
}

/* [A-Za-z0-9_-]+, so it makes a file name and a metric name part. */
static int
check_name(const struct ctl *ctl, const char *name)
{
	const char	*p;

	if (name[0] == '\0' || strlen(name) > DRAIN_NAME_MAX) {
		(void)ctl_fail(ctl, "a drain name has 1 to %d characters",
		    DRAIN_NAME_MAX);
		return -1;
	}
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-') {
			(void)ctl_fail(ctl, "drain name \"%s\": only letters, "
			    "digits, '_' and '-' are allowed", name);
			return -1;
		}
	}
	return 0;
}

/* scheme://host..., with a scheme the forwarder sends to. */
static int
check_uri(const struct ctl *ctl, const char *uri)
{
	struct url	u;
	char		err[256];

	if (check_value(uri) == -1 || strchr(uri, ' ') != NULL) {
		(void)ctl_fail(ctl, "\"%s\": a URI holds no space, quote, "
		    "backslash or control character", uri);
		return -1;
	}
	/* The forwarder's own parser, and its one list of schemes. */
	if (url_parse(uri, &u, err, sizeof(err)) == -1) {
		(void)ctl_fail(ctl, "\"%s\": %s", uri, err);
		return -1;
	}
	return 0;
}

/* A value we write between quotes: none of ", \ or a control character. */
static int
check_value(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || iscntrl((unsigned char)*s))
			return -1;
	return 0;
}

static const char *
main_path(const struct ctl *ctl)
{
	return ctl->confpath != NULL ? ctl->confpath : conf_default_path();
}

/* conf.d beside the main file, as common/conf.c reads it. */
static int
confd_path(const struct ctl *ctl, char *buf, size_t size)
{
	return conf_confd_dir(main_path(ctl), buf, size);
}

static int
drain_path(const struct ctl *ctl, const char *name, char *buf, size_t size)
{
	char	dir[PATH_MAX];
	int	n;

	if (confd_path(ctl, dir, sizeof(dir)) == -1)
		return -1;
	n = snprintf(buf, size, "%s/50-drain-%s.conf", dir, name);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* A file "50-drain-*.conf" whose first line says ferryctl wrote it. */
static int
is_drain_file(const char *path)
{
	const char	*base = strrchr(path, '/');
	char		 line[128];
	FILE		*fp;
	int		 ok;

	base = base != NULL ? base + 1 : path;
	if (strncmp(base, "50-drain-", 9) != 0 ||
	    (fp = fopen(path, "r")) == NULL)
		return 0;
	ok = fgets(line, sizeof(line), fp) != NULL &&
	    strncmp(line, DRAIN_MARK, strlen(DRAIN_MARK)) == 0;
	fclose(fp);
	return ok;
}

/*
 * Write text to path so that a reader (ferry-periodic, a crash) sees the
 * old state or the new one, never half a file (common/atomicfile.c). The
 * file gets the owner and the mode of the main configuration file (the
 * programs read it alike), without any access for others when it holds
 * a secret.
 */
static int
write_atomic(const char *mainpath, const char *path, const char *text,
    int secret)
{
	struct stat	st;
	mode_t		mode = 0644;
	uid_t		uid = (uid_t)-1;
	gid_t		gid = (gid_t)-1;

	if (stat(mainpath, &st) == 0) {
		mode = st.st_mode & 0666;
		if (geteuid() == 0) {
			uid = st.st_uid;
			gid = st.st_gid;
		}
	}
	if (secret)
		mode &= 0660;
	return atomicfile_write(path, text, strlen(text), mode, uid, gid);
}

/*
 * The file that writes output name: the main file or a conf.d fragment,
 * read in the order conf_load() reads them. 1 found, 0 not.
 */
/* The fragment of dir that writes output name, into buf: 1 found, 0 not. */
static int
dir_output_file(const char *dir, const char *name, char *buf, size_t size)
{
	struct conf_errors	  errs;
	char			  path[PATH_MAX], **frags, **names;
	int			  i, j, found = 0;

	if ((frags = conf_fragments(dir)) == NULL)
		return 0;
	for (i = 0; !found && frags[i] != NULL; i++) {
		if (snprintf(path, sizeof(path), "%s/%s", dir, frags[i]) <
		    (int)sizeof(path) &&
		    (names = conf_file_outputs(path, &errs)) != NULL) {
			for (j = 0; names[j] != NULL && !found; j++)
				found = strcmp(names[j], name) == 0;
			conf_strings_free(names);
			if (found)
				(void)strlcpy(buf, path, size);
		}
	}
	conf_strings_free(frags);
	return found;
}

static int
output_file(const struct ctl *ctl, const char *name, char *buf, size_t size)
{
	struct conf_errors	  errs;
	char			  dir[PATH_MAX], **names;
	int			  j, found = 0;

	if ((names = conf_file_outputs(main_path(ctl), &errs)) != NULL) {
		for (j = 0; names[j] != NULL && !found; j++)
			found = strcmp(names[j], name) == 0;
		conf_strings_free(names);
	}
	if (found) {
		(void)strlcpy(buf, main_path(ctl), size);
		return 1;
	}
	if (confd_path(ctl, dir, sizeof(dir)) == 0 &&
	    dir_output_file(dir, name, buf, size))
		return 1;
	/* Then the fleet's fragments, read last as conf_load() does. */
	return conf_fleet_dir(main_path(ctl), dir, sizeof(dir)) == 0 &&
	    dir_output_file(dir, name, buf, size);
}

/* A fragment ferry-fleet wrote: conf.d/fleet/NAME.conf. */
static int
is_fleet_file(const struct ctl *ctl, const char *path)
{
	char	dir[PATH_MAX];
	size_t	n;

	if (conf_fleet_dir(main_path(ctl), dir, sizeof(dir)) == -1)
		return 0;
	n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* Done: say so, and ask the supervisor to reload, as ferryctl reload does. */
static void
reload(const struct ctl *ctl, const char *what, const char *name,
    const char *path)
{
	pid_t	pid;
	int	up, sent = 0;

	if ((up = ctl_supervisor_pid(&pid) == 1) && kill(pid, SIGHUP) == 0)
		sent = 1;
	if (ctl->json) {
		printf("{\"ok\":true,\"%s\":", what);
		json_str(stdout, name);
		printf(",\"file\":");
		json_str(stdout, path);
		printf(",\"reload\":%s,\"pid\":", sent ? "true" : "false");
		if (sent)
			printf("%d}\n", (int)pid);
		else
			printf("null}\n");
		return;
	}
	printf("drain %s %s (%s)\n", name, what, path);
	if (sent)
		printf("reload requested (ferry-supervisor pid %d)\n", (int)pid);
	else if (up)
		printf("could not signal ferry-supervisor (pid %d): %s; run "
		    "ferryctl reload\n", (int)pid, strerror(errno));
	else
		printf("ferry-supervisor is not running: the change applies at "
		    "its next start\n");
}
