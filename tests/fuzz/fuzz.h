/*
 * What the fuzz targets share: the entry point both drivers call
 * (libFuzzer, or driver.c where there is no clang), a quiet log, a private
 * scratch folder for targets that read files, and small helpers that turn
 * the fuzzer's bytes into the pieces a parser takes.
 *
 * Every helper is static: each target is one program, built from its own
 * file, driver.c (or libFuzzer) and libferry.a.
 */
#ifndef FERRY_FUZZ_H
#define FERRY_FUZZ_H

#include <sys/stat.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * ferry logs what it rejects; a fuzzer rejects millions of inputs. Send the
 * lines to /dev/null (log.c then writes only there while stderr is not a
 * terminal); sanitizer reports still reach stderr.
 */
static inline void
fuzz_quiet(void)
{
	static int	done;

	if (!done && log_open_file("/dev/null") == 0)
		done = 1;
}

/* A folder of our own, made once, removed by no one (it is small). */
static inline const char *
fuzz_dir(void)
{
	static char	dir[256];
	const char	*tmp;

	if (dir[0] != '\0')
		return dir;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/ferry-fuzz.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

/* Write len bytes to path, replacing it; aborts on failure (not a finding). */
static inline void
fuzz_write(const char *path, const void *p, size_t len)
{
	int	fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (len > 0 && write(fd, p, len) != (ssize_t)len)) {
		perror(path);
		abort();
	}
	close(fd);
}

/* A NUL-terminated copy of exactly len bytes (ASan sees a read past it). */
static inline char *
fuzz_str(const uint8_t *p, size_t len)
{
	char	*s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return s;
}

/*
 * Take the next piece of the input, up to a separator byte (not included);
 * the rest follows it. Returns 0 when nothing is left.
 */
static inline int
fuzz_piece(const uint8_t **p, size_t *len, uint8_t sep, const uint8_t **piece,
    size_t *plen)
{
	const uint8_t	*q;

	if (*len == 0 && *p == NULL)
		return 0;
	*piece = *p;
	if ((q = memchr(*p, sep, *len)) == NULL) {
		*plen = *len;
		*p = NULL;
		*len = 0;
		return 1;
	}
	*plen = (size_t)(q - *p);
	*len -= *plen + 1;
	*p = q + 1;
	return 1;
}

#endif
