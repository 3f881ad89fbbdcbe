/*
 * testutil: what the unit tests share. Each test file is its own program
 * linked with libferry.a only, so this is a header of static functions.
 */
#ifndef FERRY_TESTUTIL_H
#define FERRY_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>

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

#endif
