/*
 * discover_nginx: every running nginx, and the access logs of the
 * configuration it runs.
 *
 * A master is a process whose name (comm, as stat has it) is "nginx" and
 * whose parent's is not (workers, the cache processes and a binary upgrade's new master are
 * its children). Its command line is in its title, "nginx: master process
 * /usr/sbin/nginx -p PREFIX -c CONF" (argv joined by blanks; or argv
 * itself when nginx runs without a master); -c and -p say what it runs,
 * and what they leave out is the binary's own (`nginx -V`: --prefix,
 * --conf-path, --http-log-path, nginx's defaults when it does not say, and
 * Debian's paths when it cannot be asked). Its configuration is read by
 * nginxconf.c.
 *
 * Only an nginx run by root or by ferry-tail's own user is followed, and
 * only a binary owned by one of them and writable by no one else is run:
 * any user can start a process called nginx, and its configuration would
 * otherwise make ferry-tail read and ship a file of the user's choosing
 * that ferry can read (its own configuration, with the API keys) or run
 * a program as ferry.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "discover.h"
#include "nginxconf.h"
#include "procfs.h"

#define TITLE		"nginx: master process "
#define VERSION_MS	2000	/* nginx -V answers within this, or is killed */
#define VERSION_MAX	16384	/* bytes of its answer read */
#define BUILDS_MAX	8	/* binaries whose answers are kept */
#define ARGV_MAX	64

/* Where a build of nginx puts things when it is not told. */
struct build {
	char	prefix[PATH_MAX];
	char	conf[PATH_MAX];
	char	log[PATH_MAX];
};

/* A binary's answer to -V, kept while the binary stays the same. */
static struct cached {
	char		bin[PATH_MAX];
	dev_t		dev;
	ino_t		ino;
	struct timespec	mtime;
	struct build	b;
} builds[BUILDS_MAX];
static size_t	nbuilds;

struct master {
	int	pid;
	char	bin[PATH_MAX];		/* "": unknown */
	char	conf[PATH_MAX];		/* -c, "" when not given */
	char	prefix[PATH_MAX];	/* -p, "" when not given */
};

/* nginx.requests (.2xx, ...), and its times and sizes when logged. */
static const char *const summary[] = {
	"request_time", "upstream_response_time", "body_bytes_sent", NULL
};
static const struct discover_metrics metrics = {
	"requests", "status_class", summary
};

static int	nginx_scan(const char *, struct found *);

const struct discoverer discoverer_nginx = {
	"nginx", nginx_scan, &metrics
};

/* procroot/pid/what into buf (NUL-terminated); its length, or -1. */
static ssize_t
proc_file(const char *procroot, int pid, const char *what, char *buf,
    size_t size)
{
	char	path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%d/%s", procroot, pid, what);
	return procfs_read(path, buf, size);
}

/*
 * Is pid an nginx (its name in stat, between the parentheses; a name may
 * hold blanks and parentheses, so up to the last ')'), and its parent's
 * pid: one read of one file per process, whatever runs.
 */
static int
nginx_proc(const char *procroot, int pid, int *ppid)
{
	char		 stat[1024], *open, *close, *f[3];
	uint64_t	 v;

	if (proc_file(procroot, pid, "stat", stat, sizeof(stat)) <= 0 ||
	    (open = strchr(stat, '(')) == NULL ||
	    (close = strrchr(stat, ')')) == NULL || close < open ||
	    close - open - 1 != 5 || strncmp(open + 1, "nginx", 5) != 0 ||
	    procfs_split(close + 1, f, 3) < 2 || procfs_u64(f[1], &v) == -1 ||
	    v > INT_MAX)
		return 0;
	*ppid = (int)v;
	return 1;
}

/* The real user id from status; -1 when it cannot be read. */
static long
uid_of(const char *procroot, int pid)
{
	char		 status[4096], *p, *f[2];
	uint64_t	 uid;

	if (proc_file(procroot, pid, "status", status, sizeof(status)) <= 0 ||
	    (p = strstr(status, "\nUid:")) == NULL ||
	    procfs_split(p + 5, f, 2) < 1 || procfs_u64(f[0], &uid) == -1 ||
	    uid > INT_MAX)
		return -1;
	return (long)uid;
}

/* Split the title's command line on blanks, in place. */
static int
split_title(char *s, char **argv)
{
	int	n = 0;

	while (*s != '\0' && n < ARGV_MAX) {
		while (*s == ' ')
			*s++ = '\0';
		if (*s == '\0')
			break;
		argv[n++] = s;
		while (*s != '\0' && *s != ' ')
			s++;
	}
	return n;
}

/* An option's value: attached (-c/x) or the next argument. */
static const char *
opt_value(char **argv, int argc, int *i)
{
	if (argv[*i][2] != '\0')
		return argv[*i] + 2;
	return *i + 1 < argc ? argv[++*i] : "";
}

/*
 * The master's command line: 0, or -1 when it is no server (nginx -s
 * reload, -t and the like run as nginx too, for a moment).
 */
static int
parse_cmdline(char *buf, ssize_t len, struct master *m)
{
	char		*argv[ARGV_MAX];
	const char	*v;
	int		 argc = 0, i;
	ssize_t		 k;

	if (len <= 0)
		return -1;
	buf[len] = '\0';
	if (strncmp(buf, TITLE, strlen(TITLE)) == 0)
		argc = split_title(buf + strlen(TITLE), argv);
	else if (strncmp(buf, "nginx: ", 7) == 0)
		return -1;	/* a worker whose master went */
	else
		for (k = 0; k < len && argc < ARGV_MAX; k += (ssize_t)strlen(
		    buf + k) + 1)
			argv[argc++] = buf + k;
	if (argc == 0)
		return -1;
	if (argv[0][0] == '/')
		strlcpy(m->bin, argv[0], sizeof(m->bin));
	for (i = 1; i < argc; i++) {
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			continue;
		switch (argv[i][1]) {
		case 'c':
			v = opt_value(argv, argc, &i);
			strlcpy(m->conf, v, sizeof(m->conf));
			break;
		case 'p':
			v = opt_value(argv, argc, &i);
			strlcpy(m->prefix, v, sizeof(m->prefix));
			break;
		case 'g':
		case 'e':
			(void)opt_value(argv, argc, &i);
			break;
		case 's':
		case 't':
		case 'T':
		case 'v':
		case 'V':
		case 'h':
		case '?':
			return -1;
		default:
			break;
		}
	}
	return 0;
}

/* Owned by root or by us, and writable by no one else. */
static int
trusted(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == getuid()) &&
	    (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/*
 * Run bin -V and read what it prints (on stderr) into out: 0, or -1 when
 * it could not be run or did not answer in VERSION_MS.
 */
static int
run_version(const char *bin, char *out, size_t size)
{
	posix_spawn_file_actions_t	 fa;
	char				*argv[] = { (char *)bin, (char *)"-V",
					    NULL };
	char				*envp[] = { NULL };
	struct pollfd			 pfd;
	uint64_t			 until = clock_mono_ms() + VERSION_MS;
	uint64_t			 now;
	size_t				 len = 0;
	ssize_t				 n = -1;
	pid_t				 pid;
	int				 p[2], rc, status, late = 0;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return -1;
	}
	pfd.fd = p[0];
	pfd.events = POLLIN;
	for (;;) {
		now = clock_mono_ms();
		if (now >= until || poll(&pfd, 1, (int)(until - now)) <= 0) {
			late = 1;
			break;
		}
		if ((n = read(p[0], out + len, size - 1 - len)) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* its end, or an error */
		if ((len += (size_t)n) == size - 1) {
			late = 1;	/* more than an answer: not nginx */
			break;
		}
	}
	close(p[0]);
	out[len] = '\0';
	if (late)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	return !late && n == 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* "--name=value" of configure's arguments into v; 1 when found. */
static int
configure_arg(const char *out, const char *name, char *v, size_t size)
{
	const char	*p, *e;
	char		 key[64];

	snprintf(key, sizeof(key), " --%s=", name);
	if ((p = strstr(out, key)) == NULL)
		return 0;
	p += strlen(key);
	for (e = p; *e != '\0' && !isspace((unsigned char)*e); e++)
		;
	snprintf(v, size, "%.*s", (int)(e - p), p);
	return 1;
}

/*
 * What the binary says of itself, asked once per binary (the same path,
 * inode and time), as long as it can be trusted; Debian's paths when it
 * cannot be asked.
 */
static void
build_of(const char *bin, struct build *b)
{
	char		 out[VERSION_MAX];
	struct stat	 st;
	struct cached	*c;
	size_t		 i;

	strlcpy(b->prefix, "/usr/share/nginx/", sizeof(b->prefix));
	strlcpy(b->conf, "/etc/nginx/nginx.conf", sizeof(b->conf));
	strlcpy(b->log, "/var/log/nginx/access.log", sizeof(b->log));
	if (bin[0] == '\0' || stat(bin, &st) == -1 || !trusted(&st))
		return;
	for (i = 0; i < nbuilds; i++) {
		c = &builds[i];
		if (strcmp(c->bin, bin) == 0 && c->dev == st.st_dev &&
		    c->ino == st.st_ino &&
		    c->mtime.tv_sec == st.st_mtim.tv_sec &&
		    c->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			*b = c->b;
			return;
		}
	}
	if (run_version(bin, out, sizeof(out)) == -1)
		return;
	/* nginx's own defaults, where configure was not told. */
	if (!configure_arg(out, "prefix", b->prefix, sizeof(b->prefix)))
		strlcpy(b->prefix, "/usr/local/nginx/", sizeof(b->prefix));
	if (!configure_arg(out, "conf-path", b->conf, sizeof(b->conf)))
		strlcpy(b->conf, "conf/nginx.conf", sizeof(b->conf));
	if (!configure_arg(out, "http-log-path", b->log, sizeof(b->log)))
		strlcpy(b->log, "logs/access.log", sizeof(b->log));
	c = &builds[nbuilds < BUILDS_MAX ? nbuilds++ : 0];
	strlcpy(c->bin, bin, sizeof(c->bin));
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->mtime = st.st_mtim;
	c->b = *b;
}

/* dir + name unless name is absolute; dir ends with '/' (or is ""). */
static void
under(char *out, size_t size, const char *dir, const char *name)
{
	if (name[0] == '/')
		strlcpy(out, name, size);
	else
		snprintf(out, size, "%s%s", dir, name);
}

/* The prefix as nginx has it: absolute (from its directory), ending in '/'. */
static void
fix_prefix(const char *procroot, int pid, char *prefix, size_t size)
{
	char	cwd[PATH_MAX], link[PATH_MAX];
	ssize_t	n;

	if (prefix[0] != '/') {
		snprintf(link, sizeof(link), "%s/%d/cwd", procroot, pid);
		if ((n = readlink(link, cwd, sizeof(cwd) - 1)) > 0) {
			cwd[n] = '\0';
			if (strlcat(cwd, "/", sizeof(cwd)) < sizeof(cwd) &&
			    strlcat(cwd, prefix, sizeof(cwd)) < sizeof(cwd))
				strlcpy(prefix, cwd, size);
		}
	}
	if (prefix[0] != '\0' && prefix[strlen(prefix) - 1] != '/')
		strlcat(prefix, "/", size);
}

static void
read_master(const char *procroot, struct master *m, struct found *out)
{
	struct build	 b;
	struct found	 f;
	char		 exe[PATH_MAX], link[PATH_MAX], err[PATH_MAX + 64];
	char		 prefix[PATH_MAX], conf[PATH_MAX], log[PATH_MAX];
	char		 origin[PATH_MAX + 32];
	ssize_t		 n;
	size_t		 i;

	snprintf(link, sizeof(link), "%s/%d/exe", procroot, m->pid);
	if ((n = readlink(link, exe, sizeof(exe) - 1)) > 0) {
		exe[n] = '\0';
		/* Upgraded since it started: the binary now at its path. */
		if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
			exe[n - 10] = '\0';
		strlcpy(m->bin, exe, sizeof(m->bin));
	}
	build_of(m->bin, &b);
	strlcpy(prefix, m->prefix[0] != '\0' ? m->prefix : b.prefix,
	    sizeof(prefix));
	fix_prefix(procroot, m->pid, prefix, sizeof(prefix));
	under(conf, sizeof(conf), prefix, m->conf[0] != '\0' ? m->conf : b.conf);
	under(log, sizeof(log), prefix, b.log);
	memset(&f, 0, sizeof(f));
	if (nginxconf_read(conf, prefix, log, &f, err, sizeof(err)) == -1) {
		found_note(out, "nginx[%d]: its configuration %s", m->pid, err);
		return;
	}
	for (i = 0; i < f.nlogs; i++) {
		snprintf(origin, sizeof(origin), "nginx[%d] %s", m->pid,
		    f.logs[i].origin);
		(void)found_add(out, f.logs[i].path, f.logs[i].format,
		    f.logs[i].text, origin);
	}
	for (i = 0; i < f.nnotes; i++)
		found_note(out, "nginx[%d]: %s", m->pid, f.notes[i]);
	found_free(&f);
}

static int
nginx_scan(const char *procroot, struct found *out)
{
	struct dirent	*de;
	struct master	 m;
	DIR		*d;
	char		 cmdline[4096];
	uint64_t	 pid;
	long		 uid;
	int		 ppid, pppid;

	if ((d = opendir(procroot)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (procfs_u64(de->d_name, &pid) == -1 || pid > INT_MAX ||
		    !nginx_proc(procroot, (int)pid, &ppid) ||
		    nginx_proc(procroot, ppid, &pppid))
			continue;
		memset(&m, 0, sizeof(m));
		m.pid = (int)pid;
		if (parse_cmdline(cmdline, proc_file(procroot, m.pid, "cmdline",
		    cmdline, sizeof(cmdline)), &m) == -1)
			continue;
		if ((uid = uid_of(procroot, m.pid)) != 0 && uid != getuid()) {
			found_note(out, "nginx[%d] runs as uid %ld: only an "
			    "nginx of root's or of ferry's own user is "
			    "followed", m.pid, uid);
			continue;
		}
		read_master(procroot, &m, out);
	}
	closedir(d);
	return 0;
}
