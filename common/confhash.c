/*
 * confhash: FNV-1a (64 bits, common/hash.c) over each file's name, bytes
 * and length, in the order common/conf.c reads them. A collision would hide one edit until
 * the next; at 64 bits that is not a worry. A file that cannot be read
 * hashes as a mark of its own, so it reads as a change (and conf_load()
 * says why).
 */
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "confhash.h"
#include "hash.h"

/* The name, then the bytes and their count (or a mark: unreadable). */
static uint64_t
hash_file(uint64_t h, const char *path)
{
	static const char	 unreadable[] = "\0unreadable";
	char			 buf[65536];
	ssize_t			 n;
	uint64_t		 len = 0;
	int			 fd;

	h = hash_bytes(h, path, strlen(path) + 1);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return hash_bytes(h, unreadable, sizeof(unreadable));
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		h = hash_bytes(h, buf, n);
		len += n;
	}
	close(fd);
	if (n == -1)
		return hash_bytes(h, unreadable, sizeof(unreadable));
	/* The length ends the file: "ab" + "c" never equals "a" + "bc". */
	return hash_bytes(h, &len, sizeof(len));
}

/* Each fragment of dir in name order; ENOENT is a valid state. */
static uint64_t
hash_dir(uint64_t h, const char *dir)
{
	char		**names;
	char		  frag[PATH_MAX];
	int		  i;

	/* The fragments common/conf.c reads, in its order. */
	if ((names = conf_fragments(dir)) == NULL) {
		/* No conf.d is a valid state; an unreadable one is not. */
		return errno == ENOENT ? h : hash_bytes(h, "\0noconfd", 8);
	}
	for (i = 0; names[i] != NULL; i++)
		if ((size_t)snprintf(frag, sizeof(frag), "%s/%s", dir,
		    names[i]) < sizeof(frag))
			h = hash_file(h, frag);
	conf_strings_free(names);
	return h;
}

/* ferry.conf, conf.d, then conf.d/fleet: as conf_load() reads them. */
uint64_t
confhash(const char *path)
{
	char		 dir[PATH_MAX], *slash;
	uint64_t	 h = HASH_INIT;

	h = hash_file(h, path);
	(void)snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	else
		(void)snprintf(dir, sizeof(dir), ".");
	if (strlen(dir) + sizeof("/conf.d/fleet") > sizeof(dir))
		return hash_bytes(h, "\0toolong", 8);
	(void)strlcat(dir, "/conf.d", sizeof(dir));
	h = hash_dir(h, dir);
	(void)strlcat(dir, "/fleet", sizeof(dir));
	return hash_dir(h, dir);
}

int
confhash_parse(const char *s, uint64_t *h)
{
	char	*end;

	if (s == NULL || strlen(s) != 16)
		return -1;
	errno = 0;
	*h = strtoull(s, &end, 16);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

char *
confhash_str(uint64_t h, char *buf, size_t size)
{
	(void)snprintf(buf, size, "%016" PRIx64, h);
	return buf;
}
