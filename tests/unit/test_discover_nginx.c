/*
 * test_discover_nginx: finding the running nginx masters and their access
 * logs (tail/discover_nginx.c) in a fake /proc written to a temporary
 * folder: a master with -p and -c in its title and its workers, a master
 * without them whose binary (a script standing in for nginx) answers -V,
 * one run without a master process (argv as it was), nginx -s reload run
 * for a moment, a master of another user, which is not followed, and a
 * master whose configuration is gone.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../tail/found.c"
#include "../../tail/nginxconf.c"
#include "../../tail/discover_nginx.c"
#include "testutil.h"

static char	dir[64], procroot[128];

/* Write dir/name (folders made) with len bytes of text (-1: a string). */
static void
put(const char *name, const char *text, long len, mode_t mode)
{
	assert_int_equal(test_put(dir, name, text, len < 0 ? strlen(text) :
	    (size_t)len, mode), 0);
}

/* A process in the fake /proc. */
static void
proc(int pid, const char *comm, int ppid, long uid, const char *cmdline,
    size_t cmdlen)
{
	char	name[128], text[512];

	snprintf(name, sizeof(name), "proc/%d/stat", pid);
	snprintf(text, sizeof(text), "%d (%s) S %d %d %d 0 -1 4194560 151 0 0 "
	    "0 0 0 0 0 20 0 1 0 4242 10809344 367 18446744073709551615\n", pid,
	    comm, ppid, pid, pid);
	put(name, text, -1, 0644);
	snprintf(name, sizeof(name), "proc/%d/status", pid);
	snprintf(text, sizeof(text), "Name:\t%s\nUmask:\t0022\nState:\tS "
	    "(sleeping)\nTgid:\t%d\nPid:\t%d\nPPid:\t%d\nUid:\t%ld\t%ld\t%ld\t"
	    "%ld\nGid:\t0\t0\t0\t0\n", comm, pid, pid, ppid, uid, uid, uid, uid);
	put(name, text, -1, 0644);
	snprintf(name, sizeof(name), "proc/%d/cmdline", pid);
	put(name, cmdline, (long)cmdlen, 0644);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/ferry-test-discover-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(procroot, sizeof(procroot), "%s/proc", dir);
	nbuilds = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return test_rmtree(dir);
}

static const struct found_log *
log_at(const struct found *f, const char *path)
{
	size_t	i;

	for (i = 0; i < f->nlogs; i++)
		if (strcmp(f->logs[i].path, path) == 0)
			return &f->logs[i];
	return NULL;
}

static int
noted(const struct found *f, const char *s)
{
	size_t	i;

	for (i = 0; i < f->nnotes; i++)
		if (strstr(f->notes[i], s) != NULL)
			return 1;
	return 0;
}

/* A master with -p and -c, its workers and cache manager, and init. */
static void
test_master(void **state)
{
	struct found		 f;
	const struct found_log	*l;
	char			 title[512], path[256], origin[512];
	int			 n;

	(void)state;
	put("a/nginx.conf", "worker_processes 2;\nhttp {\n"
	    "  log_format timed '$remote_addr [$time_local] \"$request\" '\n"
	    "      '$status $body_bytes_sent $request_time';\n"
	    "  access_log logs/access.log timed;\n"
	    "  server { listen 127.0.0.1:8080; access_log logs/other.log; }\n"
	    "}\n", -1, 0644);
	n = snprintf(title, sizeof(title), "nginx: master process "
	    "/usr/sbin/nginx -p %s/a -c %s/a/nginx.conf -g daemon off;", dir,
	    dir);
	memset(title + n, 0, 32);
	proc(1, "init", 0, 0, "/sbin/init\0", 11);
	proc(100, "nginx", 1, (long)getuid(), title, (size_t)n + 32);
	proc(101, "nginx", 100, 33, "nginx: worker process\0\0\0\0", 25);
	proc(102, "nginx", 100, 33, "nginx: worker process\0\0\0\0", 25);
	proc(103, "nginx", 100, 33, "nginx: cache manager process\0", 29);
	memset(&f, 0, sizeof(f));
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 2);
	assert_int_equal(f.nnotes, 0);
	snprintf(path, sizeof(path), "%s/a/logs/access.log", dir);
	assert_non_null(l = log_at(&f, path));
	assert_string_equal(l->format, "timed");
	assert_string_equal(l->text, "$remote_addr [$time_local] \"$request\" "
	    "$status $body_bytes_sent $request_time");
	snprintf(origin, sizeof(origin), "nginx[100] %s/a/nginx.conf:5", dir);
	assert_string_equal(l->origin, origin);
	snprintf(path, sizeof(path), "%s/a/logs/other.log", dir);
	assert_non_null(l = log_at(&f, path));
	assert_string_equal(l->format, "combined");
	found_free(&f);
	/* No nginx at all: nothing, and no error. */
	assert_int_equal(test_rmtree(procroot), 0);
	proc(1, "init", 0, 0, "/sbin/init\0", 11);
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 0);
	found_free(&f);
}

/* How many times the fake nginx ran. */
static int
ran_times(void)
{
	char	path[256], ran[64];
	ssize_t	n;

	snprintf(path, sizeof(path), "%s/ran", dir);
	if ((n = procfs_read(path, ran, sizeof(ran))) < 0)
		return 0;
	return (int)n / 4;
}

/* Without -p and -c: the binary's own paths, from nginx -V. */
static void
test_binary_defaults(void **state)
{
	struct found		 f;
	const struct found_log	*l;
	char			 script[1024], title[512], path[256];
	int			 n;

	(void)state;
	snprintf(script, sizeof(script), "#!/bin/sh\n"
	    "[ \"$1\" = -V ] || exit 2\n"
	    "echo 'nginx version: nginx/1.22.1' >&2\n"
	    "echo 'configure arguments: --with-cc-opt=-O2 --prefix=%s/b "
	    "--conf-path=conf/main.conf --http-log-path=%s/b/var/default.log "
	    "--with-threads' >&2\n"
	    "echo ran >> %s/ran\n", dir, dir, dir);
	put("bin/nginx", script, -1, 0755);
	put("b/conf/main.conf", "http { server { listen 80; } server { "
	    "access_log rel.log; } }\n", -1, 0644);
	n = snprintf(title, sizeof(title), "nginx: master process %s/bin/nginx",
	    dir);
	memset(title + n, 0, 8);
	proc(200, "nginx", 1, 0, title, (size_t)n + 8);
	memset(&f, 0, sizeof(f));
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 2);
	/* The compiled-in log, for the server that names none. */
	snprintf(path, sizeof(path), "%s/b/var/default.log", dir);
	assert_non_null(l = log_at(&f, path));
	assert_string_equal(l->origin, "nginx[200] default");
	/* Relative to --prefix, which gained its '/'. */
	snprintf(path, sizeof(path), "%s/b/rel.log", dir);
	assert_non_null(log_at(&f, path));
	found_free(&f);
	/* Asked once: the answer is kept while the binary is the same. */
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 2);
	found_free(&f);
	assert_int_equal(ran_times(), 1);
	/* A binary others may write is not run: Debian's paths then. */
	snprintf(path, sizeof(path), "%s/bin/nginx", dir);
	assert_int_equal(chmod(path, 0777), 0);
	nbuilds = 0;
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(ran_times(), 1);
	snprintf(path, sizeof(path), "%s/b/rel.log", dir);
	assert_null(log_at(&f, path));
	assert_true(noted(&f, "its configuration /etc/nginx/nginx.conf") ||
	    access("/etc/nginx/nginx.conf", R_OK) == 0);
	found_free(&f);
}

/* What is not followed: other users' nginx, signallers, a lost conf. */
static void
test_not_followed(void **state)
{
	struct found	f;
	char		title[512];
	int		n;

	(void)state;
	put("c/nginx.conf", "http { access_log /c.log; }\n", -1, 0644);
	n = snprintf(title, sizeof(title), "nginx: master process "
	    "/usr/sbin/nginx -c %s/c/nginx.conf", dir);
	memset(title + n, 0, 4);
	proc(300, "nginx", 1, 12345, title, (size_t)n + 4);
	/* nginx -s reload, for the moment it runs. */
	n = snprintf(title, sizeof(title), "/usr/sbin/nginx%c-c%c%s/c/nginx.conf"
	    "%c-s%creload", 0, 0, dir, 0, 0);
	proc(301, "nginx", 1, 0, title, (size_t)n + 1);
	/* A worker whose master is gone (reparented to init). */
	proc(302, "nginx", 1, 0, "nginx: worker process\0", 22);
	/* A master whose configuration was removed. */
	n = snprintf(title, sizeof(title), "nginx: master process "
	    "/usr/sbin/nginx -c%s/gone.conf", dir);
	proc(303, "nginx", 1, 0, title, (size_t)n + 1);
	memset(&f, 0, sizeof(f));
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 0);
	assert_true(noted(&f, "nginx[300] runs as uid 12345: only an nginx of "
	    "root's or of ferry's own user is followed"));
	assert_true(noted(&f, "nginx[303]: its configuration "));
	assert_true(noted(&f, "gone.conf: No such file or directory"));
	assert_int_equal(f.nnotes, 2);
	found_free(&f);
	assert_int_equal(discoverer_nginx.scan("/nonexistent-proc", &f), -1);
}

/* nginx run without a master process: its argv as it was, NUL-separated. */
static void
test_no_master_process(void **state)
{
	struct found	f;
	char		cmd[512];
	int		n;

	(void)state;
	put("d/n.conf", "master_process off;\nhttp { access_log /d.log; "
	    "access_log /d.log; }\n", -1, 0644);
	n = snprintf(cmd, sizeof(cmd), "nginx%c-p%c%s/d%c-c%cn.conf", 0, 0, dir,
	    0, 0);
	proc(400, "nginx", 1, 0, cmd, (size_t)n + 1);
	memset(&f, 0, sizeof(f));
	assert_int_equal(discoverer_nginx.scan(procroot, &f), 0);
	assert_int_equal(f.nlogs, 1);
	assert_string_equal(f.logs[0].path, "/d.log");
	found_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_master, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_followed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_master_process, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
