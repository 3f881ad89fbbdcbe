/*
 * ferryctl: main(), the command table, and the small commands
 * (check-config, reload, version) with what every command shares: loading
 * the configuration, finding the supervisor through its pid file, and
 * the way durations, sizes, times and backlogs are written, so status and
 * drain list say them alike.
 *
 *   ferryctl [-c config] [--json] command [args]
 *
 * Options may also follow the command ("ferryctl status --json"); the first
 * other argument ends them, so "ferryctl send x -1" sends -1.
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backlog.h"
#include "conf.h"
#include "log.h"
#include "pidfile.h"
#include "ctl.h"
#include "version.h"

static int	cmd_check_config(struct ctl *, int, char **);
static int	cmd_reload(struct ctl *, int, char **);
static int	cmd_version(struct ctl *, int, char **);
static int	parse_options(struct ctl *, int, char **);

static const struct command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;
	int		 own_options;	/* it parses every argument after its name */
} commands[] = {
	{ "check-config",	cmd_check_config,
	    "check-config [-c file] [--effective]", 0 },
	{ "drain",		cmd_drain,
	    "drain add name uri [--api-key key] | drain list | drain remove name\n"
	    "       ferryctl drain add --fleet [--group g | --host h] name uri "
	    "[--api-key key]\n"
	    "       ferryctl drain list --fleet | drain remove --fleet "
	    "[--group g | --host h] name", 0 },
	{ "fleet",		cmd_fleet,	"fleet status", 0 },
	{ "reload",		cmd_reload,	"reload", 0 },
	{ "send",		cmd_send,	"send name value [timestamp]", 0 },
	{ "status",		cmd_status,	"status", 0 },
	{ "tail",		cmd_tail,
	    "tail [--json] [--self] [-n count] [prefix ...]", 1 },
	{ "version",		cmd_version,	"version", 0 },
};

void
ctl_usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: ferryctl [-V] [-c config] [--json] command\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "       ferryctl %s\n", commands[i].usage);
	exit(CTL_EX_USAGE);
}

int
main(int argc, char *argv[])
{
	struct ctl	 ctl = { NULL, 0, 0 };
	size_t		 i;
	int		 n;

	log_init("ferryctl", 0);
	/* Global options, then the command with its own options. */
	n = parse_options(&ctl, argc, argv);
	argc -= n;
	argv += n;
	if (argc < 1)
		ctl_usage();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		/* A command with options of its own (tail -n) takes them all. */
		n = commands[i].own_options ? 1 :
		    parse_options(&ctl, argc, argv);
		return commands[i].fn(&ctl, argc - n, argv + n);
	}
	fprintf(stderr, "ferryctl: unknown command: %s\n", argv[0]);
	ctl_usage();
}

/*
 * -c FILE and --json (and -V, which prints the version and exits), from argv[1] up to the first other argument. Returns
 * the index of that argument.
 */
static int
parse_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL,	'c' },
		{ "json",	no_argument,		NULL,	'j' },
		{ "effective",	no_argument,		NULL,	'e' },
		{ "help",	no_argument,		NULL,	'h' },
		{ "version",	no_argument,		NULL,	'V' },
		{ NULL,		0,			NULL,	0 }
	};
	int	ch;

	optind = 0;	/* glibc: start over, for the second pass */
	while ((ch = getopt_long(argc, argv, "+c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl->confpath = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		case 'e':
			ctl->effective = 1;
			break;
		case 'V':
			version_print("ferryctl");
			exit(0);
		default:
			ctl_usage();
		}
	}
	return optind;
}

int
ctl_fail(const struct ctl *ctl, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ctl->json) {
		printf("{\"ok\":false,\"error\":");
		json_str(stdout, msg);
		printf("}\n");
	} else
		fprintf(stderr, "ferryctl: %s\n", msg);
	return 1;
}

/*
 * The configuration of -c, or the default one. NULL with errs filled in;
 * ctl_conf_errors() prints them.
 */
struct ferry_conf *
ctl_conf_load(const struct ctl *ctl, struct conf_errors *errs)
{
	return conf_load(ctl->confpath != NULL ? ctl->confpath :
	    conf_default_path(), errs);
}

/* Each error as "file:line: msg" on stderr (or as JSON on stdout). */
void
ctl_conf_errors(const struct ctl *ctl, const struct conf_errors *errs)
{
	char	buf[600];
	int	i;

	if (ctl->json) {
		printf("{\"ok\":false,\"errors\":[");
		for (i = 0; i < errs->n; i++) {
			printf("%s{\"file\":", i ? "," : "");
			json_str(stdout, errs->e[i].file);
			printf(",\"line\":%d,\"msg\":", errs->e[i].line);
			json_str(stdout, errs->e[i].msg);
			printf("}");
		}
		printf("],\"dropped\":%d}\n", errs->dropped);
		return;
	}
	for (i = 0; i < errs->n; i++)
		fprintf(stderr, "%s\n", conf_error_str(&errs->e[i], buf,
		    sizeof(buf)));
	if (errs->dropped > 0)
		fprintf(stderr, "(%d more errors not shown)\n", errs->dropped);
}

/*
 * The supervisor's pid: 1 when it runs, 0 when it does not, -1 when its pid
 * file cannot be read (common/pidfile.c, shared with ferry-periodic).
 */
int
ctl_supervisor_pid(pid_t *pid)
{
	return pidfile_supervisor(pid);
}

static int
cmd_check_config(struct ctl *ctl, int argc, char **argv)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		return 1;
	}
	if (ctl->effective) {
		(void)ctl_effective_print(ctl, conf);
		conf_free(conf);
		return 0;
	}
	if (ctl->json) {
		printf("{\"ok\":true,\"file\":");
		json_str(stdout, conf->path != NULL ? conf->path : "");
		printf("}\n");
	} else
		printf("configuration OK\n");
	conf_free(conf);
	return 0;
}

/*
 * SIGHUP to the supervisor. The configuration is checked first, so the
 * operator sees the errors here rather than in supervisor.log (which would
 * refuse it too, and keep the running one).
 */
static int
cmd_reload(struct ctl *ctl, int argc, char **argv)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;
	pid_t			 pid;
	int			 rc;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if ((conf = ctl_conf_load(ctl, &errs)) == NULL) {
		ctl_conf_errors(ctl, &errs);
		fprintf(stderr, "ferryctl: configuration has errors; not "
		    "reloading\n");
		return 1;
	}
	conf_free(conf);
	if ((rc = ctl_supervisor_pid(&pid)) != 1) {
		if (rc == 0)
			fprintf(stderr, "ferryctl: ferry-supervisor is not "
			    "running\n");
		return 1;
	}
	if (kill(pid, SIGHUP) == -1) {
		fprintf(stderr, "ferryctl: kill %d: %s\n", (int)pid,
		    strerror(errno));
		return 1;
	}
	if (ctl->json)
		printf("{\"reload\":true,\"pid\":%d}\n", (int)pid);
	else
		printf("reload requested (ferry-supervisor pid %d)\n", (int)pid);
	return 0;
}

static int
cmd_version(struct ctl *ctl, int argc, char **argv)
{
	(void)argv;
	if (argc != 0)
		ctl_usage();
	if (ctl->json)
		printf("{\"version\":\"%s\"}\n", version_get());
	else
		printf("%s\n", version_get());
	return 0;
}

const char *
ctl_duration(int64_t s, char *buf, size_t size)
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

const char *
ctl_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double	v = (double)n;
	int	i = -1;

	if (n < 1024) {
		(void)snprintf(buf, size, "%" PRIu64 " B", n);
		return buf;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	(void)snprintf(buf, size, "%.1f %s", v, unit[i]);
	return buf;
}

void
ctl_json_text(const char *key, const char *s)
{
	printf(",\"%s\":", key);
	if (s[0] != '\0')
		json_str(stdout, s);
	else
		printf("null");
}

void
ctl_json_time(const char *key, int64_t t)
{
	if (t != 0)
		printf(",\"%s\":%" PRId64, key, t);
	else
		printf(",\"%s\":null", key);
}

void
ctl_json_backlog(const struct backlog *bl, int64_t now)
{
	printf(",\"backlog\":");
	if (bl == NULL) {
		printf("null");
		return;
	}
	printf("{\"records\":%" PRIu64 ",\"bytes\":%" PRIu64, bl->records,
	    bl->bytes);
	ctl_json_time("oldest", bl->oldest);
	printf(",\"oldest_age\":");
	if (bl->oldest != 0)
		printf("%" PRId64, now - bl->oldest);
	else
		printf("null");
	printf("}");
}
