/*
 * log: the one logging API of every ferry program.
 *
 * Lines go to stderr as "name[pid]: level: message". Under the supervisor
 * (FERRY_SUPERVISED=1) the supervisor timestamps each line as it copies it
 * into /var/log/ferry/<name>.log; anywhere else log_init() turns timestamps
 * on so a program run by hand still logs usable lines. log_warn() appends
 * strerror(errno), log_warnx() does not; fatal()/fatalx() end the process
 * with status 1, fatalx_config() with 78 (EX_CONFIG: do not restart).
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_TIMESTAMP	0x01	/* prefix lines with an ISO-8601 UTC time */
#define LOG_DEBUG	0x02	/* emit log_debug() lines */

void	log_init(const char *, int);
void	log_procinit(const char *);
int	log_open_file(const char *);	/* also append to this file; -1 on error */
int	log_reopen(void);		/* reopen that file (logrotate) */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx_config(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
size_t	log_timestamp(char *, size_t);	/* "2026-11-21T06:15:02.123Z" */

#define EX_CONFIG_ERROR	78

#endif
