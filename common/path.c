/*
 * path: every FHS path of SPEC.md goes through path_get(), which puts
 * $FERRY_ROOT in front when it is set. That one seam is what lets tests,
 * benchmarks and `make run` relocate the whole tree.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "path.h"

const char *
path_root(void)
{
	const char	*root = getenv("FERRY_ROOT");

	return root != NULL ? root : "";
}

char *
path_get(char *buf, size_t size, const char *fhs)
{
	const char	*root = path_root();
	size_t		 rlen = strlen(root);
	int		 n;

	/* "/x/" + "/var" must not become "/x//var": harmless but ugly in logs. */
	while (rlen > 0 && root[rlen - 1] == '/')
		rlen--;
	n = snprintf(buf, size, "%.*s%s", (int)rlen, root, fhs);
	if (n < 0 || (size_t)n >= size)
		return NULL;
	return buf;
}

int
path_mkdirs(const char *fhs, int mode)
{
	char	 path[4096], *p;

	if (path_get(path, sizeof(path), fhs) == NULL) {
		log_warnx("path too long: %s%s", path_root(), fhs);
		return -1;
	}
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		/* Parents must stay traversable by whoever the mode is for. */
		if (mkdir(path, c == '\0' ? mode : 0755) == -1 && errno != EEXIST) {
			log_warn("mkdir %s", path);
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}
