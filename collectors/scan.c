/*
 * scan: which files of the collectors directories may run.
 *
 * A collector is a regular file with an execute bit whose name does not
 * start with '.' (an editor's or a packager's temporary file) nor end in
 * '~' or a package manager's leftover suffix. It is refused, with an error
 * that names the file, when anyone may write it (world-writable) or when
 * it belongs to someone other than root, the configured user or ourselves:
 * whoever can change it can run code as the ferry user. A refusal is
 * logged once per state of the file (owner, mode, inode, mtime), so a
 * rescan every 30 s does not repeat it, and a fixed file is taken at the
 * next scan. Files without an execute bit (a README) are skipped quietly.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collectors.h"
#include "hash.h"
#include "log.h"

#define REFUSED_MAX	64	/* refusals remembered; more may repeat */
#define DIRS_MAX	4

/* A refused file's state, by the hash of its path. */
struct refusal {
	uint64_t	pathhash;
	dev_t		dev;
	ino_t		ino;
	mode_t		mode;
	uid_t		uid;
	time_t		mtime;
	int		seen;
};

static struct refusal	refused[REFUSED_MAX];
static int		nrefused;

/* A directory that could not be read: logged once until it can. */
static struct {
	uint64_t	pathhash;
	int		err;
} dir_failing[DIRS_MAX];

void
scan_owners_init(struct scan_owners *o, const char *user)
{
	memset(o, 0, sizeof(*o));
	o->uid[o->n++] = 0;
	if (geteuid() != 0)
		o->uid[o->n++] = geteuid();
	/*
	 * The configured user is looked up only when a file owned by someone
	 * else turns up: under the supervisor we already are that user, and
	 * getpwnam() loads the NSS modules into a process that lives for good.
	 */
	o->resolved = user == NULL || user[0] == '\0';
	if (!o->resolved)
		(void)strlcpy(o->user, user, sizeof(o->user));
}

static int
owner_ok(const struct scan_owners *o, uid_t uid)
{
	int	i;

	for (i = 0; i < o->n; i++)
		if (uid == o->uid[i])
			return 1;
	return 0;
}

int
scan_check(const struct stat *st, struct scan_owners *o, char *why,
    size_t size)
{
	struct passwd	*pw;

	if (!S_ISREG(st->st_mode) || (st->st_mode & 0111) == 0)
		return 1;
	if (st->st_mode & S_IWOTH) {
		snprintf(why, size, "is world-writable (mode %04o); "
		    "chmod o-w it", (unsigned)(st->st_mode & 07777));
		return -1;
	}
	if (owner_ok(o, st->st_uid))
		return 0;
	if (!o->resolved) {
		o->resolved = 1;
		if ((pw = getpwnam(o->user)) != NULL && !owner_ok(o, pw->pw_uid))
			o->uid[o->n++] = pw->pw_uid;
		if (owner_ok(o, st->st_uid))
			return 0;
	}
	snprintf(why, size, "is owned by uid %u, which is neither root nor "
	    "the %s user", (unsigned)st->st_uid,
	    o->user[0] != '\0' ? o->user : "ferry");
	return -1;
}

int
scan_name_ok(const char *name)
{
	static const char *const junk[] = { ".dpkg-", ".rpmsave", ".rpmnew",
	    ".rpmorig", ".swp", ".disabled" };
	size_t	n = strlen(name), i;

	if (n == 0 || name[0] == '.' || name[n - 1] == '~')
		return 0;
	for (i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		if (strstr(name, junk[i]) != NULL)
			return 0;
	return 1;
}

void
scan_begin(void)
{
	int	i;

	for (i = 0; i < nrefused; i++)
		refused[i].seen = 0;
}

void
scan_end(void)
{
	int	i, j;

	for (i = j = 0; i < nrefused; i++)
		if (refused[i].seen)
			refused[j++] = refused[i];
	nrefused = j;
}

/* 1 when this exact state of path was refused (and logged) before. */
static int
refusal_known(const char *path, const struct stat *st)
{
	uint64_t	 h = hash_str(path);
	struct refusal	*r;
	int		 i;

	for (i = 0; i < nrefused; i++) {
		r = &refused[i];
		if (r->pathhash != h)
			continue;
		r->seen = 1;
		if (r->dev == st->st_dev && r->ino == st->st_ino &&
		    r->mode == st->st_mode && r->uid == st->st_uid &&
		    r->mtime == st->st_mtime)
			return 1;
		break;
	}
	if (i == nrefused) {
		if (nrefused == REFUSED_MAX)
			return 0;
		nrefused++;
	}
	r = &refused[i];
	r->pathhash = h;
	r->dev = st->st_dev;
	r->ino = st->st_ino;
	r->mode = st->st_mode;
	r->uid = st->st_uid;
	r->mtime = st->st_mtime;
	r->seen = 1;
	return 0;
}

/* Log a directory's read error once, and its recovery. */
static void
dir_status(const char *dir, int err)
{
	uint64_t	h = hash_str(dir);
	int		i, free_slot = -1;

	for (i = 0; i < DIRS_MAX; i++) {
		if (dir_failing[i].pathhash == h)
			break;
		if (dir_failing[i].pathhash == 0 && free_slot == -1)
			free_slot = i;
	}
	if (i == DIRS_MAX) {
		if (err == 0)
			return;
		if (free_slot == -1)
			free_slot = 0;
		i = free_slot;
		dir_failing[i].pathhash = h;
		dir_failing[i].err = 0;
	}
	if (err == dir_failing[i].err)
		return;
	if (err == ENOENT)
		log_info("collectors directory %s does not exist (yet)", dir);
	else if (err != 0)
		log_warnx("cannot read collectors directory %s: %s", dir,
		    strerror(err));
	else if (dir_failing[i].err != ENOENT)
		log_info("collectors directory %s is readable again", dir);
	dir_failing[i].err = err;
}

int
scan_dir(const char *dir, struct scan_owners *o,
    void (*found)(const char *, const char *, const struct stat *, void *),
    void *arg)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 path[PATH_MAX], why[160];
	int		 n, rc;

	if ((d = opendir(dir)) == NULL) {
		dir_status(dir, errno);
		return -1;
	}
	dir_status(dir, 0);
	while ((de = readdir(d)) != NULL) {
		if (!scan_name_ok(de->d_name))
			continue;
		n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		/* A symlink is judged by what it points to: that is what runs. */
		if (stat(path, &st) == -1)
			continue;	/* gone meanwhile, or a dangling link */
		if ((rc = scan_check(&st, o, why, sizeof(why))) == 0 &&
		    strlen(de->d_name) > COLL_NAME_MAX) {
			snprintf(why, sizeof(why), "has a name longer than %d "
			    "characters", COLL_NAME_MAX);
			rc = -1;
		}
		if (rc == 1)
			continue;
		if (rc == -1) {
			if (!refusal_known(path, &st))
				log_warnx("refusing to run collector %s: it %s",
				    path, why);
			continue;
		}
		found(de->d_name, path, &st, arg);
	}
	closedir(d);
	return 0;
}
