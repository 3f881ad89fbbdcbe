/*
 * testutil: what the unit tests share. Each test file is its own program
 * linked with libferry.a only, so this is a header of static functions.
 */
#ifndef FERRY_TESTUTIL_H
#define FERRY_TESTUTIL_H

#include <sys/stat.h>

#include <ftw.h>
#include <stdio.h>
#include <string.h>

static int
testutil_rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* rm -rf dir: a test's temporary directory, at teardown. */
static inline int
test_rmtree(const char *dir)
{
	return nftw(dir, testutil_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * dir/name, its folders made, holding len bytes of text, with mode: a
 * fixture file (a configuration tree, a fake /proc). 0, or -1.
 */
static inline int
test_put(const char *dir, const char *name, const void *text, size_t len,
    mode_t mode)
{
	char	path[512], *slash;
	FILE	*f;
	int	rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
	    sizeof(path))
		return -1;
	for (slash = path + strlen(dir) + 1; (slash = strchr(slash, '/')) !=
	    NULL; slash++) {
		*slash = '\0';
		(void)mkdir(path, 0755);
		*slash = '/';
	}
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	rc = fwrite(text, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0 || chmod(path, mode) != 0)
		rc = -1;
	return rc;
}

#endif
