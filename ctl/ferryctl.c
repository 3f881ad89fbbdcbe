/*
 * ferryctl: main(), the command table, and the small commands
 * (check-config, reload, version) with what every command shares: loading
 * the configuration, finding the supervisor through its pid file, and
 * writing JSON strings.
 *
 *   ferryctl [-c config] [--json] command [args]
 *
 * Options may also follow the command ("ferryctl status --json"); the first
 * other argument ends them, so "ferryctl send x -1" sends -1.
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "path.h"
#include "ctl.h"

static int	cmd_check_config(struct ctl *, int, char **);
static int	cmd_reload(struct ctl *, int, char **);
static int	cmd_version(struct ctl *, int, char **);
static int	parse_options(struct ctl *, int, char **);
static int	supervisor_is_ours(pid_t);

static const struct command {
	const char	*name;
	int		(*fn)(struct ctl *, int, char **);
	const char	*usage;
} commands[] = {
	{ "check-config",	cmd_check_config, "check-config [-c file]" },
	{ "reload",		cmd_reload,	"reload" },
	{ "send",		cmd_send,	"send name value [timestamp]" },
	{ "status",		cmd_status,	"status" },
	{ "version",		cmd_version,	"version" },
};

void
ctl_usage(void)
{
	size_t	i;

	fprintf(stderr, "usage: ferryctl [-c config] [--json] command\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(stderr, "       ferryctl %s\n", commands[i].usage);
	exit(CTL_EX_USAGE);
}

int
main(int argc, char *argv[])
{
	struct ctl	 ctl = { NULL, 0 };
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
		n = parse_options(&ctl, argc, argv);
		return commands[i].fn(&ctl, argc - n, argv + n);
	}
	fprintf(stderr, "ferryctl: unknown command: %s\n", argv[0]);
	ctl_usage();
}

/*
 * -c FILE and --json, from argv[1] up to the first other argument. Returns
 * the index of that argument.
 */
static int
parse_options(struct ctl *ctl, int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL,	'c' },
		{ "json",	no_argument,		NULL,	'j' },
		{ "help",	no_argument,		NULL,	'h' },
		{ NULL,		0,			NULL,	0 }
	};
	int	ch;

	optind = 0;	/* glibc: start over, for the second pass */
	while ((ch = getopt_long(argc, argv, "+c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl->confpath = optarg;
			break;
		case 'j':
			ctl->json = 1;
			break;
		default:
			ctl_usage();
		}
	}
	return optind;
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
			ctl_json_str(stdout, errs->e[i].file);
			printf(",\"line\":%d,\"msg\":", errs->e[i].line);
			ctl_json_str(stdout, errs->e[i].msg);
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
 * The supervisor's pid from its pid file: 1 and *pid set when that process
 * is alive, 0 when the supervisor is not running (no pid file, or a stale
 * one), -1 when the pid file cannot be read for another reason (logged).
 */
int
ctl_supervisor_pid(pid_t *pid)
{
	char		 path[PATH_MAX], buf[32];
	const char	*errstr;
	ssize_t		 n;
	int		 fd;

	*pid = -1;
	if (path_get(path, sizeof(path), PATH_PIDFILE) == NULL) {
		log_warnx("path too long: %s", PATH_PIDFILE);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;
		log_warn("%s", path);
		return -1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;	/* being written, or left empty: not running */
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	*pid = strtonum(buf, 1, INT_MAX, &errstr);
	if (errstr != NULL) {
		*pid = -1;
		return 0;
	}
	if (kill(*pid, 0) == -1 && errno != EPERM)
		return 0;
	return supervisor_is_ours(*pid);
}

/*
 * A pid file left by a supervisor killed with -9 may name a pid that now
 * belongs to another program, or to a zombie nobody reaped yet. Where /proc
 * tells, check the program name and that it is not a zombie.
 */
static int
supervisor_is_ours(pid_t pid)
{
	char	 path[64], stat[256], *lp, *rp;
	ssize_t	 n;
	int	 fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	/* "pid (comm) S ...": comm keeps 15 characters, "ferry-superviso". */
	if ((lp = strchr(stat, '(')) == NULL ||
	    (rp = strrchr(stat, ')')) == NULL || rp[1] == '\0')
		return 1;
	if (strncmp(lp + 1, "ferry-supervis", 14) != 0)
		return 0;
	return rp[2] != 'Z' && rp[2] != 'X';
}

/* s as a JSON string, quotes included. */
void
ctl_json_str(FILE *fp, const char *s)
{
	const unsigned char	*p;

	fputc('"', fp);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
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
	if (ctl->json) {
		printf("{\"ok\":true,\"file\":");
		ctl_json_str(stdout, conf->path != NULL ? conf->path : "");
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
		printf("{\"version\":\"%s\"}\n", FERRY_VERSION);
	else
		printf("%s\n", FERRY_VERSION);
	return 0;
}
