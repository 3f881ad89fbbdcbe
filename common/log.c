/*
 * log: one logging API for every ferry program.
 *
 * A line is written with a single write(2) so lines from one process never
 * interleave with each other's halves. errno is preserved across every call,
 * so a caller may log and then still look at it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char	 log_name[32] = "ferry";
static int	 log_flags;
static int	 log_file_fd = -1;
static char	 log_file_path[4096];

void
log_init(const char *name, int flags)
{
	const char	*sup;

	log_procinit(name);
	log_flags = flags;
	sup = getenv("FERRY_SUPERVISED");
	if (sup == NULL || strcmp(sup, "1") != 0)
		log_flags |= LOG_TIMESTAMP;
	if (getenv("FERRY_DEBUG") != NULL)
		log_flags |= LOG_DEBUG;
}

void
log_procinit(const char *name)
{
	snprintf(log_name, sizeof(log_name), "%s", name);
}

int
log_open_file(const char *path)
{
	snprintf(log_file_path, sizeof(log_file_path), "%s", path);
	return log_reopen();
}

int
log_reopen(void)
{
	int	fd;

	if (log_file_path[0] == '\0')
		return 0;
	fd = open(log_file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_warn("open %s", log_file_path);
		return -1;
	}
	if (log_file_fd != -1)
		close(log_file_fd);
	log_file_fd = fd;
	return 0;
}

size_t
log_timestamp(char *buf, size_t size)
{
	struct timeval	tv;
	struct tm	tm;
	size_t		n;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	n += snprintf(buf + n, size - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	return n < size ? n : size - 1;
}

static void
log_emit(const char *level, int with_errno, const char *fmt, va_list ap)
{
	char	 line[2048], ts[40];
	int	 saved = errno, n = 0, m;

	ts[0] = '\0';
	if (log_flags & LOG_TIMESTAMP || log_file_fd != -1)
		log_timestamp(ts, sizeof(ts));
	n = snprintf(line, sizeof(line), "%s[%d]: %s%s", log_name, (int)getpid(),
	    level, level[0] ? ": " : "");
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = (m < 0 || (size_t)n + (size_t)m >= sizeof(line) - 64) ?
	    (int)sizeof(line) - 64 : n + m;
	if (with_errno)
		n += snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
	line[n++] = '\n';

	if (log_file_fd != -1)
		dprintf(log_file_fd, "%s %.*s", ts, n, line);
	if (log_file_fd == -1 || isatty(STDERR_FILENO) || log_flags & LOG_TIMESTAMP) {
		if (log_flags & LOG_TIMESTAMP)
			dprintf(STDERR_FILENO, "%s %.*s", ts, n, line);
		else
			(void)!write(STDERR_FILENO, line, n);
	}
	errno = saved;
}

#define LOG_BODY(level, with_errno) do {		\
	va_list ap;					\
	va_start(ap, fmt);				\
	log_emit(level, with_errno, fmt, ap);		\
	va_end(ap);					\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY("warning", 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY("warning", 0);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY("", 0);
}

void
log_debug(const char *fmt, ...)
{
	if (!(log_flags & LOG_DEBUG))
		return;
	LOG_BODY("debug", 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY("fatal", 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY("fatal", 0);
	exit(1);
}

void
fatalx_config(const char *fmt, ...)
{
	LOG_BODY("fatal", 0);
	exit(EX_CONFIG_ERROR);
}
