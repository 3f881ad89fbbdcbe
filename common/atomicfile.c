/*
 * atomicfile: temp file, fsync, rename, fsync of the directory (see
 * atomicfile.h). The temporary file is a dot file, so no reader of conf.d
 * (conf_load() takes "*.conf" that do not start with a dot) ever takes it
 * for a fragment, and it carries the pid, so two writers never share one.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"

int
atomicfile_write(const char *path, const char *text, size_t len, mode_t mode,
    uid_t uid, gid_t gid)
{
	char		 tmp[PATH_MAX], dir[PATH_MAX];
	const char	*base = strrchr(path, '/');
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd, save;

	if (base == NULL) {
		errno = EINVAL;
		return -1;
	}
	(void)snprintf(dir, sizeof(dir), "%.*s", (int)(base - path), path);
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.%d.tmp", dir, base + 1,
	    (int)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) == -1)
		return -1;
	/* The umask is not ours to trust: the mode is what the caller said. */
	if (fchmod(fd, mode) == -1)
		goto fail;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) == -1)
		goto fail;
	while (off < len) {
		if ((n = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		off += n;
	}
	if (fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	return atomicfile_sync_dir(dir);
fail:
	save = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	errno = save;
	return -1;
}

int
atomicfile_sync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}
