/*
 * procfs: line-by-line reading of /proc files in one fixed buffer, and the
 * small parsers the built-in collectors share. See procfs.h for the
 * contract; the point of it is that no read allocates, whatever the file.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

int
procfs_lines(const char *path, int (*fn)(char *, void *), void *arg)
{
	char	 buf[PROCFS_LINE_MAX];
	char	*start, *nl;
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, skipping = 0, stop = 0, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (!stop) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0) {
			/* A last line without its newline still counts. */
			if (len > 0 && !skipping) {
				buf[len] = '\0';
				fn(buf, arg);
			}
			break;
		}
		len += (size_t)n;
		start = buf;
		while (!stop && (nl = memchr(start, '\n',
		    (size_t)(buf + len - start))) != NULL) {
			*nl = '\0';
			if (!skipping && fn(start, arg) == -1)
				stop = 1;
			skipping = 0;
			start = nl + 1;
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		/*
		 * A line that fills the buffer is dropped and the rest of it
		 * skipped up to its newline: half a line would be parsed as
		 * a different line (the "intr" line of /proc/stat can be
		 * tens of KiB and no collector wants it).
		 */
		if (len == sizeof(buf) - 1) {
			skipping = 1;
			len = 0;
		}
	}
	close(fd);
	return 0;
}

ssize_t
procfs_read(const char *path, char *buf, size_t size)
{
	size_t	 len = 0;
	ssize_t	 n;
	int	 fd, saved;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

int
procfs_split(char *line, char **field, int max)
{
	int	n = 0;

	while (n < max) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == '\0')
			break;
		field[n++] = line;
		while (*line != ' ' && *line != '\t' && *line != '\0')
			line++;
		if (*line == '\0')
			break;
		*line++ = '\0';
	}
	return n;
}

int
procfs_u64(const char *s, uint64_t *v)
{
	uint64_t	x = 0;
	unsigned	d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

int
procfs_keyval(char *line, char **key, uint64_t *value)
{
	char	*f[4];
	size_t	 klen;
	int	 n;

	n = procfs_split(line, f, 4);
	if (n < 2 || n > 3)
		return -1;
	klen = strlen(f[0]);
	if (klen > 0 && f[0][klen - 1] == ':')
		f[0][--klen] = '\0';
	if (klen == 0 || procfs_u64(f[1], value) == -1)
		return -1;
	if (n == 3) {
		/* /proc/meminfo says "kB" and means KiB. */
		if (strcmp(f[2], "kB") != 0 || *value > UINT64_MAX / 1024)
			return -1;
		*value *= 1024;
	}
	*key = f[0];
	return 0;
}

void
procfs_unescape(char *s)
{
	char	*w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
			    (s[3] - '0'));
			s += 3;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

size_t
procfs_name(char *dst, size_t size, const char *src)
{
	size_t	i;

	for (i = 0; src[i] != '\0'; i++) {
		if (i + 1 >= size)
			continue;	/* keep counting, like snprintf */
		if (isalnum((unsigned char)src[i]) || src[i] == '-' ||
		    src[i] == '_')
			dst[i] = src[i];
		else
			dst[i] = '_';
	}
	if (size > 0)
		dst[i < size ? i : size - 1] = '\0';
	return i;
}
