/*
 * proc: how each of ferry's child programs starts. They share one command
 * line (-c CONFIG, -d), tag their log lines with their name and show it as
 * their process title, and refuse to run on a configuration that is not
 * valid (exit 78: the supervisor waits for a reload before trying again).
 */
#ifndef FERRY_PROC_H
#define FERRY_PROC_H

struct ferry_conf;

/*
 * Parse -c FILE and -d, start logging as name, set the title. Returns the
 * configuration path (the default one when -c is not given); a bad command
 * line prints the usage and exits 1.
 */
const char	*proc_init(int, char *[], const char *);
/* The configuration at path; each error logged and exit 78 if invalid. */
struct ferry_conf *proc_conf(const char *);

#endif
