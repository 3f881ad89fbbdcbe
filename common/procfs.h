/*
 * procfs: reading the small text files of /proc (and /sys) line by line in a
 * fixed buffer, and the parsing every built-in collector needs: fields split
 * on blanks, "Key: value kB" pairs, decimal numbers, and kernel names made
 * safe as one component of a Graphite name.
 *
 * Nothing here allocates, so a collector's memory does not grow with the
 * size of the file it reads (a 256-CPU /proc/stat, a host with 10,000
 * mounts): a line longer than PROCFS_LINE_MAX is skipped, never cut.
 */
#ifndef FERRY_PROCFS_H
#define FERRY_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCFS_LINE_MAX	4096	/* longest line handed to a callback, with its NUL */

/*
 * Calls fn(line, arg) for each line of path, its newline removed, NUL-
 * terminated and writable until fn returns. A last line without a newline
 * counts; a line that does not fit PROCFS_LINE_MAX is skipped whole. fn
 * returns 0 to go on or -1 to stop early. Returns 0, or -1 with errno set
 * when path cannot be opened or read (nothing is logged).
 */
int	procfs_lines(const char *, int (*)(char *, void *), void *);

/* The whole of a small file into buf, NUL-terminated (cut at size - 1):
 * its length, or -1 with errno set. */
ssize_t	procfs_read(const char *, char *, size_t);

/* Splits line in place on blanks into at most max fields; their number. */
int	procfs_split(char *, char **, int);

/* A whole unsigned decimal number (no sign, no blank, no overflow): 0 or -1. */
int	procfs_u64(const char *, uint64_t *);

/*
 * "Key: 123 kB" (/proc/meminfo: value in bytes) or "key 123" (/proc/vmstat):
 * *key points into line, which is cut after the key. 0, or -1 when the line
 * is neither.
 */
int	procfs_keyval(char *, char **, uint64_t *);

/* Undoes the octal escapes of /proc/mounts ("\040" for a blank) in place. */
void	procfs_unescape(char *);

/*
 * Writes src into dst (size bytes) as one Graphite name component: letters,
 * digits, '-' and '_' kept, anything else (the '.' of "eth0.100", the '/' of
 * "cciss/c0d0", blanks) turned into '_'. Returns the length that src needed,
 * like snprintf, so a caller can tell that it was cut.
 */
size_t	procfs_name(char *, size_t, const char *);

#endif
