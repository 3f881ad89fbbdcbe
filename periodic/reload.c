/*
 * reload: the config watch. Every periodic.config_interval it takes the
 * digest of the configuration's content (common/confhash.c: ferry.conf and
 * conf.d/NAME.conf, names and bytes): an edit, a file added, removed or
 * renamed all count; a touch does not. Content, not mtime, so an edit
 * within the same second, or a file copied back with its old mtime, is not
 * missed.
 *
 * A changed configuration is loaded with conf_load(), exactly what
 * ferryctl check-config and every program use. Invalid: each error is
 * logged once with its file and line, and the running configuration stays
 * (nothing is signalled); the same content is not judged again, only the
 * next change. Valid: SIGHUP to ferry-supervisor, which compares and
 * restarts only the programs whose settings changed. If the supervisor
 * cannot be signalled, that is logged once and tried again at each check.
 */
#include <sys/types.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confhash.h"
#include "log.h"
#include "periodic.h"
#include "pidfile.h"

static char			 confpath[PATH_MAX];
static uint64_t			 seen;		/* digest of what we last judged */
static const struct ferry_conf	*running;	/* periodic.c's; not ours */
static struct ferry_conf	*latest;	/* a newer valid one; ours */
static int			 signal_failing;

/* Watch path; c is the running configuration (NULL: invalid at start). */
int
reload_init(const char *path, struct ferry_conf *c)
{
	if (strlcpy(confpath, path, sizeof(confpath)) >= sizeof(confpath)) {
		log_warnx("%s: path too long", path);
		return -1;
	}
	running = c;
	/*
	 * The baseline is what the supervisor runs: the digest it loaded,
	 * when it gave us one. What is on disk now may be newer (edited
	 * while we restarted), and then the first check applies it.
	 */
	if (confhash_parse(getenv(CONFHASH_ENV), &seen) == -1)
		seen = confhash(confpath);
	return 0;
}

/* 0 when the supervisor was asked to reload, -1 when it could not be. */
static int
request_reload(void)
{
	if (pidfile_reload("configuration changed and is valid",
	    "trying again at each check", &signal_failing) == -1)
		return -1;
	pstats.reloads_requested++;
	return 0;
}

void
reload_check(void)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c;
	uint64_t		 h, before = seen;

	if ((h = confhash(confpath)) == seen)
		return;
	seen = h;
	if ((c = conf_load(confpath, &errs)) == NULL) {
		conf_log_errors(&errs);
		log_warnx("%s was edited and is not valid: the running "
		    "configuration stays; fix it and it is applied within "
		    "the check interval", confpath);
		pstats.configs_invalid++;
		return;
	}
	if (running == NULL) {
		/* Started without a valid one: this one is ours now. */
		running = c;
		periodic_adopt(c);
	} else {
		conf_free(latest);
		latest = c;
	}
	if (request_reload() == -1)
		seen = before;	/* look again, and signal again, next time */
}

const struct ferry_conf *
reload_latest(void)
{
	return latest != NULL ? latest : running;
}

void
reload_free(void)
{
	conf_free(latest);
	latest = NULL;
}
