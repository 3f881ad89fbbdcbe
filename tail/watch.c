/*
 * watch: inotify for ferry-tail. Each followed file has a watch of its own
 * (IN_MODIFY: read it now), kept while it is closed for being idle, so a
 * write wakes us at once without a descriptor held; each directory a glob
 * reaches has one too (a file created, moved or deleted: scan again).
 *
 * When inotify is not there, or its watches run out (ENOSPC: the system's
 * max_user_watches), a file without a watch is polled (read whenever the
 * loop passes, at least every POLL_MS) and the glob is expanded every
 * tail.rescan_interval anyway; the log says so once.
 */
#include <sys/inotify.h>

#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "tail.h"

#define DIR_MARK	((struct tfile *)1)	/* a directory's watch */
/* A file created, moved or deleted in a directory: scan again. */
#define DIR_EVENTS	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
			    IN_ONLYDIR)

/* wd -> the file it watches (or DIR_MARK), open addressing. */
struct slot {
	int		 wd;		/* 0: empty; -1: deleted */
	struct tfile	*tf;
};

static int		 ifd = -1;
static struct slot	*slots;
static size_t		 nslots, used, filled;	/* live; live and deleted */
static int		 ran_out;

int
watch_init(void)
{
	if ((ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1) {
		log_warn("inotify: files are polled instead");
		return -1;
	}
	return 0;
}

int
watch_fd(void)
{
	return ifd;
}

/* A watch's slot: the tree's one hash (common/hash.c) of its descriptor. */
static size_t
hash(int wd)
{
	return (size_t)hash_bytes(HASH_INIT, &wd, sizeof(wd)) & (nslots - 1);
}

static struct slot *
find(int wd)
{
	size_t	i;

	if (nslots == 0)
		return NULL;
	for (i = hash(wd); slots[i].wd != 0; i = (i + 1) & (nslots - 1))
		if (slots[i].wd == wd)
			return &slots[i];
	return NULL;
}

static int
grow(void)
{
	struct slot	*old = slots;
	size_t		 oldn = nslots, i, j;

	nslots = 0;
	/* Twice the live ones, at least: the deleted ones go now. */
	while (nslots < 64 || nslots < used * 4)
		nslots = nslots ? nslots * 2 : 64;
	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		fatal("calloc");
	used = filled = 0;
	for (i = 0; i < oldn; i++) {
		if (old[i].wd <= 0)
			continue;
		for (j = hash(old[i].wd); slots[j].wd != 0;
		    j = (j + 1) & (nslots - 1))
			;
		slots[j] = old[i];
		used++;
		filled++;
	}
	free(old);
	return 0;
}

static void
put(int wd, struct tfile *tf)
{
	struct slot	*s;
	size_t		 i;

	if ((s = find(wd)) != NULL) {
		s->tf = tf;
		return;
	}
	if ((filled + 1) * 2 > nslots)
		grow();
	for (i = hash(wd); slots[i].wd > 0; i = (i + 1) & (nslots - 1))
		;
	if (slots[i].wd == 0)
		filled++;
	slots[i].wd = wd;
	slots[i].tf = tf;
	used++;
}

static void
said_out_of_watches(void)
{
	if (ran_out++ == 0)
		log_warnx("inotify watches ran out (fs.inotify.max_user_watches): "
		    "the files without one are polled");
}

/* Watch the directories a glob reaches, for files coming and going. */
void
watch_dir(const char *pattern)
{
	char	 dirbuf[4096], *dir;
	glob_t	 g;
	size_t	 i;
	int	 wd;

	if (ifd == -1)
		return;
	strlcpy(dirbuf, pattern, sizeof(dirbuf));
	dir = dirname(dirbuf);
	if (glob(dir, GLOB_NOSORT | GLOB_BRACE | GLOB_ONLYDIR, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++) {
		wd = inotify_add_watch(ifd, g.gl_pathv[i], DIR_EVENTS);
		if (wd == -1) {
			if (errno == ENOSPC)
				said_out_of_watches();
			continue;
		}
		put(wd, DIR_MARK);
	}
	globfree(&g);
}

/*
 * A symlink the glob matched whose target is in another directory: the
 * target rotated there (renamed, a new file at its name) changes nothing
 * in the link's directory, so that directory is watched too. Its target
 * may be missing for a moment (between a rename and a create): then the
 * directory its link names.
 */
void
watch_link(const char *path)
{
	char	 real[PATH_MAX], link[PATH_MAX], dirbuf[PATH_MAX], *dir;
	ssize_t	 n;
	int	 wd;

	if (ifd == -1)
		return;
	if (realpath(path, real) == NULL) {
		if ((n = readlink(path, link, sizeof(link) - 1)) <= 0)
			return;
		link[n] = '\0';
		if (link[0] == '/')
			strlcpy(real, link, sizeof(real));
		else {
			strlcpy(dirbuf, path, sizeof(dirbuf));
			if (snprintf(real, sizeof(real), "%s/%s",
			    dirname(dirbuf), link) >= (int)sizeof(real))
				return;
		}
	}
	dir = dirname(real);
	if ((wd = inotify_add_watch(ifd, dir, DIR_EVENTS)) == -1) {
		if (errno == ENOSPC)
			said_out_of_watches();
		return;
	}
	put(wd, DIR_MARK);
}

void
watch_file(struct tfile *tf)
{
	if (ifd == -1 || tf->wd != -1)
		return;
	if ((tf->wd = inotify_add_watch(ifd, tf->path, IN_MODIFY)) == -1) {
		if (errno == ENOSPC)
			said_out_of_watches();
		return;
	}
	put(tf->wd, tf);
}

void
watch_forget(struct tfile *tf)
{
	struct slot	*s;

	if (tf->wd == -1)
		return;
	/* The same inode may be watched by another source's file too. */
	if ((s = find(tf->wd)) != NULL && s->tf == tf) {
		(void)inotify_rm_watch(ifd, tf->wd);
		s->wd = -1;
		s->tf = NULL;
		used--;
	}
	tf->wd = -1;
}

int
watch_events(void)
{
	char			 buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct slot		*s;
	ssize_t			 n;
	char			*p;
	int			 scan = 0;

	if (ifd == -1)
		return 0;
	while ((n = read(ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				scan = 1;
				continue;
			}
			if ((s = find(ev->wd)) == NULL)
				continue;
			if (ev->mask & IN_IGNORED) {
				/* Gone (deleted, unmounted): a scan decides. */
				if (s->tf != DIR_MARK && s->tf != NULL)
					s->tf->wd = -1;
				s->wd = -1;
				s->tf = NULL;
				used--;
				scan = 1;
			} else if (s->tf == DIR_MARK)
				scan = 1;
			else if (s->tf != NULL)
				s->tf->dirty = 1;
		}
	}
	return scan;
}
