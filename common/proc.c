/*
 * proc: the start every child program shares (see proc.h). The process
 * title is written over argv's memory, so the configuration path is copied
 * out of argv before the title is set.
 */
#include <sys/prctl.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "proc.h"
#include "sig.h"
#include "version.h"

extern char **environ;

static void	proc_usage(const char *) __attribute__((noreturn));

static void
proc_usage(const char *name)
{
	fprintf(stderr, "usage: ferry-%s [-dV] [-c config]\n", name);
	exit(1);
}

const char *
proc_init(int argc, char *argv[], const char *name)
{
	static char	 copy[4096];	/* the path lives as long as we do */
	const char	*config = NULL;
	int		 ch, debug = 0;

	setproctitle_init(argc, argv, environ);
	while ((ch = getopt(argc, argv, "c:dV")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'V':
			(void)snprintf(copy, sizeof(copy), "ferry-%s", name);
			version_print(copy);
			exit(0);
		default:
			proc_usage(name);
		}
	}
	if (optind != argc)
		proc_usage(name);
	if (strlcpy(copy, config != NULL ? config : conf_default_path(),
	    sizeof(copy)) >= sizeof(copy)) {
		fprintf(stderr, "ferry-%s: configuration path too long\n", name);
		exit(1);
	}
	log_init(name, debug ? LOG_DEBUG : 0);
	setproctitle("%s", name);
	return copy;
}

struct ferry_conf *
proc_conf(const char *path)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;

	if ((conf = conf_load(path, &errs)) == NULL) {
		conf_log_errors(&errs);
		fatalx_config("%s: configuration not valid, not starting", path);
	}
	return conf;
}

int
proc_child_setup(pid_t parent, int deathsig, int out, int err)
{
	int	devnull;

	/* The parent may have died between fork and prctl: check after. */
	if (prctl(PR_SET_PDEATHSIG, deathsig) == -1 || getppid() != parent)
		return -1;
	sig_reset_child();
	(void)setsid();
	if ((devnull = open("/dev/null", O_RDONLY)) != -1)
		(void)dup2(devnull, STDIN_FILENO);
	(void)dup2(out, STDOUT_FILENO);
	(void)dup2(err, STDERR_FILENO);
	return 0;
}
