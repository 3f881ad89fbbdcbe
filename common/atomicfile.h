/*
 * atomicfile: a file replaced so that a reader (or a crash) sees the old
 * content or the new, never half of either; for configuration fragments
 * written by ferryctl drain and ferry-fleet.
 */
#ifndef FERRY_ATOMICFILE_H
#define FERRY_ATOMICFILE_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Write len bytes of text to path with mode (and owner uid:gid unless uid
 * is (uid_t)-1): a dot file beside it, fsync, rename over path, fsync of
 * the directory. 0, or -1 with errno set and nothing left behind.
 */
int	atomicfile_write(const char *, const char *, size_t, mode_t, uid_t,
	    gid_t);
/* fsync of a directory, so a rename or an unlink in it survives a crash. */
int	atomicfile_sync_dir(const char *);

#endif
