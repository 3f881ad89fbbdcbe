/*
 * proc: how each of ferry's child programs starts. They share one command
 * line (-c CONFIG, -d, -V), tag their log lines with their name and show it as
 * their process title, and refuse to run on a configuration that is not
 * valid (exit 78: the supervisor waits for a reload before trying again).
 */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

#include <sys/types.h>

struct ferry_conf;

/*
 * Parse -c FILE and -d, start logging as name, set the title. Returns the
 * configuration path (the default one when -c is not given); -V prints
 * "ferry-<name> <version>" and exits 0; a bad command line prints the usage
 * and exits 1.
 */
const char	*proc_init(int, char *[], const char *);
/* The configuration at path; each error logged and exit 78 if invalid. */
struct ferry_conf *proc_conf(const char *);
/*
 * In a child just forked by parent, before exec: deathsig when the parent
 * dies, default signal handling, a session of its own (a group kill reaches
 * its helpers; a terminal's ^C does not), stdin from /dev/null, stdout on
 * out and stderr on err. -1 when the parent is already gone: _exit then.
 * Descriptors from 3 on are the caller's to keep or close.
 */
int		 proc_child_setup(pid_t, int, int, int);

#endif
