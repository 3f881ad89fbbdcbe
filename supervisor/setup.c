/*
 * setup: the ground the supervisor prepares before its first child runs.
 *
 * It makes $FERRY_ROOT and the configuration path absolute (a daemon works
 * from /), finds the directory its sibling programs live in, creates the
 * directories of SPEC.md, takes the pid file that keeps a second instance
 * out, and, when started as root with a `user` configured, hands those
 * directories to that user and drops to it for good.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libutil.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "path.h"
#include "supervisor.h"

/* The directories every ferry program writes into; created at each start. */
static const struct {
	const char	*fhs;
	int		 mode;
} dirs[] = {
	{ PATH_VAR,	0755 },
	{ PATH_SPOOL,	0750 },
	{ PATH_DROP,	0750 },
	{ PATH_RUN,	0755 },
	{ PATH_LOG,	0755 },	/* the files in it are 0640 */
};

static int	chown_dir(const char *, uid_t, gid_t);

/* Make sure fds 0, 1 and 2 exist, so no pipe or log file ever lands there. */
void
setup_stdio(void)
{
	int	fd;

	while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= STDERR_FILENO)
		;
	if (fd > STDERR_FILENO)
		close(fd);
}

/*
 * A relative $FERRY_ROOT would point elsewhere once the daemon is in /;
 * make it absolute, for us and for every child (they inherit it).
 */
int
setup_root(void)
{
	char		 abs[PATH_MAX];
	const char	*root = getenv("FERRY_ROOT");

	if (root == NULL || root[0] == '\0' || root[0] == '/')
		return 0;
	if (realpath(root, abs) == NULL) {
		log_warn("FERRY_ROOT %s", root);
		return -1;
	}
	if (setenv("FERRY_ROOT", abs, 1) == -1) {
		log_warn("setenv");
		return -1;
	}
	return 0;
}

/* The configuration path the children get: -c FILE, or the default. */
int
setup_confpath(const char *arg, char *buf, size_t size)
{
	char	abs[PATH_MAX];

	if (arg == NULL)
		arg = conf_default_path();
	/* A missing file is conf_load()'s error to report, with its name. */
	if (realpath(arg, abs) != NULL)
		arg = abs;
	if (strlcpy(buf, arg, size) >= size) {
		log_warnx("configuration path too long: %s", arg);
		return -1;
	}
	return 0;
}

/* The children are our siblings: ferry-<name> beside /proc/self/exe. */
int
setup_bindir(char *buf, size_t size)
{
	ssize_t	 n;
	char	*slash;

	if ((n = readlink("/proc/self/exe", buf, size - 1)) == -1) {
		log_warn("readlink /proc/self/exe");
		return -1;
	}
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL) {
		log_warnx("cannot tell the directory of %s", buf);
		return -1;
	}
	*slash = '\0';
	return 0;
}

/*
 * Whom the children run as. Only root can switch users; anyone else keeps
 * its own identity whatever the configuration says. Returns 0 (u->drop says
 * whether to switch) or -1 when the configured user does not exist.
 *
 * A tree relocated with FERRY_ROOT (a `make install DESTDIR=` tree, a test,
 * `make run`) is nobody's production install: there a missing user is
 * logged and the current one kept, so the installed tree runs as it is.
 */
int
setup_user(const char *name, struct sup_user *u)
{
	struct passwd	*pw;

	memset(u, 0, sizeof(*u));
	if (geteuid() != 0 || name == NULL || name[0] == '\0')
		return 0;
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0) {
			log_warn("getpwnam %s", name);
			return -1;
		}
		if (path_root()[0] != '\0') {
			log_warnx("user \"%s\" does not exist; FERRY_ROOT is "
			    "set, so running as the current user", name);
			return 0;
		}
		log_warnx("user \"%s\" does not exist: create it, or set "
		    "user = \"\" in the configuration to run as root", name);
		return -1;
	}
	u->drop = 1;
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	(void)strlcpy(u->name, name, sizeof(u->name));
	return 0;
}

/*
 * Create each directory; when the children will run as another user, give
 * it the directories and what is directly in them (a database or a log
 * file that an earlier run as root left behind).
 */
int
setup_dirs(const struct sup_user *u)
{
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (path_mkdirs(dirs[i].fhs, dirs[i].mode) == -1)
			return -1;
		if (!u->drop)
			continue;
		if (path_get(path, sizeof(path), dirs[i].fhs) == NULL) {
			log_warnx("path too long: %s", dirs[i].fhs);
			return -1;
		}
		if (chown_dir(path, u->uid, u->gid) == -1)
			return -1;
	}
	return 0;
}

/*
 * conf.d/fleet beside the configuration, for ferry-fleet's fragments: made
 * here because conf.d is root's when ferry starts as root, and given to
 * the children's user, who writes in it. conf.d itself stays as it is: the
 * user may write drains there, not the rest of the configuration.
 */
int
setup_fleet_dir(const char *confpath, const struct sup_user *u)
{
	char	dir[PATH_MAX], *slash;

	if (conf_fleet_dir(confpath, dir, sizeof(dir)) == -1) {
		log_warnx("%s: path too long", confpath);
		return -1;
	}
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	*slash = '/';
	if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
		log_warn("mkdir %s", dir);
		return -1;
	}
	return u->drop ? chown_dir(dir, u->uid, u->gid) : 0;
}

/* chown dir and its entries, not deeper and never through a symlink. */
static int
chown_dir(const char *path, uid_t uid, gid_t gid)
{
	struct dirent	*de;
	DIR		*d;
	int		 rc = 0;

	if (lchown(path, uid, gid) == -1) {
		log_warn("chown %s", path);
		return -1;
	}
	if ((d = opendir(path)) == NULL) {
		log_warn("opendir %s", path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fchownat(dirfd(d), de->d_name, uid, gid,
		    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT) {
			log_warn("chown %s/%s", path, de->d_name);
			rc = -1;
			break;
		}
	}
	closedir(d);
	return rc;
}

/*
 * Take the pid file, locked for as long as we live. Another live instance
 * holding it is reported with its pid. Returns NULL after logging.
 */
struct pidfh *
setup_pidfile(void)
{
	struct pidfh	*pfh;
	char		 path[PATH_MAX];
	pid_t		 other = -1;

	if (path_get(path, sizeof(path), PATH_PIDFILE) == NULL) {
		log_warnx("path too long: %s", PATH_PIDFILE);
		return NULL;
	}
	if ((pfh = pidfile_open(path, 0644, &other)) != NULL)
		return pfh;
	if (errno == EEXIST && other > 0)
		log_warnx("ferry-supervisor is already running (pid %d, pid "
		    "file %s)", (int)other, path);
	else if (errno == EEXIST)
		log_warnx("ferry-supervisor is already running (pid file %s "
		    "is locked)", path);
	else
		log_warn("pid file %s", path);
	return NULL;
}

/*
 * Become the configured user for good: groups, then gid, then uid. The
 * groups are the user's own in /etc/group (initgroups), not root's and not
 * its primary group alone: an operator lets ferry-tail read a log by adding
 * the user to the log's group (the package adds it to adm), as for any
 * daemon.
 */
int
setup_drop(const struct sup_user *u)
{
	if (!u->drop)
		return 0;
	if (initgroups(u->name, u->gid) == -1) {
		log_warn("initgroups %s", u->name);
		return -1;
	}
	if (setresgid(u->gid, u->gid, u->gid) == -1) {
		log_warn("setresgid %d", (int)u->gid);
		return -1;
	}
	if (setresuid(u->uid, u->uid, u->uid) == -1) {
		log_warn("setresuid %d", (int)u->uid);
		return -1;
	}
	log_info("running as user %s", u->name);
	return 0;
}

/*
 * After the drop: every directory must be one we can write in. A tree the
 * user cannot reach (a $FERRY_ROOT under a 0700 home) is said plainly here,
 * rather than as a stream of failed opens later.
 */
int
setup_check_dirs(const struct sup_user *u)
{
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (path_get(path, sizeof(path), dirs[i].fhs) == NULL)
			return -1;
		if (access(path, W_OK | X_OK) == -1) {
			log_warn("%s: not writable by %s", path, u->drop ?
			    u->name : "this user");
			return -1;
		}
	}
	return 0;
}
