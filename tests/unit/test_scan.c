/*
 * test_scan: which files of a collectors directory may run
 * (collectors/scan.c). The safety check is tested on stat structs made up
 * here; the directory scan on a real temporary directory, with stderr
 * captured to check that a refusal names the file and is logged once.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../collectors/scan.c"

static struct stat
file_stat(mode_t mode, uid_t uid)
{
	struct stat	st;

	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_uid = uid;
	return st;
}

static struct scan_owners
owners(uid_t user)
{
	struct scan_owners	o;

	memset(&o, 0, sizeof(o));
	o.uid[o.n++] = 0;
	o.uid[o.n++] = user;
	strlcpy(o.user, "ferry", sizeof(o.user));
	o.resolved = 1;
	return o;
}

static void
test_check_accepts_root_and_user(void **state)
{
	struct scan_owners	o = owners(998);
	struct stat		st;
	char			why[160];

	(void)state;
	st = file_stat(S_IFREG | 0755, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
	st = file_stat(S_IFREG | 0700, 998);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
	/* Group-writable is the operator's choice; only "anyone" is refused. */
	st = file_stat(S_IFREG | 0775, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
	st = file_stat(S_IFREG | 0100, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
}

static void
test_check_refuses_world_writable(void **state)
{
	struct scan_owners	o = owners(998);
	struct stat		st;
	char			why[160];

	(void)state;
	st = file_stat(S_IFREG | 0777, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "world-writable"));
	assert_non_null(strstr(why, "0777"));
	st = file_stat(S_IFREG | 0702, 998);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), -1);
}

static void
test_check_refuses_other_owners(void **state)
{
	struct scan_owners	o = owners(998);
	struct stat		st;
	char			why[160];

	(void)state;
	st = file_stat(S_IFREG | 0755, 1000);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "uid 1000"));
	assert_non_null(strstr(why, "ferry"));
}

static void
test_check_skips_what_is_no_collector(void **state)
{
	struct scan_owners	o = owners(998);
	struct stat		st;
	char			why[160];

	(void)state;
	st = file_stat(S_IFREG | 0644, 0);		/* a README */
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 1);
	st = file_stat(S_IFDIR | 0755, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 1);
	st = file_stat(S_IFIFO | 0777, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 1);
}

static void
test_owners_init(void **state)
{
	struct scan_owners	o;
	int			i, self = 0;

	(void)state;
	scan_owners_init(&o, "no-such-user-here");
	assert_int_equal(o.uid[0], 0);
	for (i = 0; i < o.n; i++)
		self |= o.uid[i] == geteuid();
	assert_true(self);
	assert_string_equal(o.user, "no-such-user-here");
	scan_owners_init(&o, "");
	assert_true(o.n >= 1 && o.n <= 2);
}

/* The configured user is looked up when a file of someone else's shows up. */
static void
test_owners_lookup_when_needed(void **state)
{
	struct scan_owners	o;
	struct passwd		*pw;
	struct stat		 st;
	char			 why[160];

	(void)state;
	if ((pw = getpwnam("nobody")) == NULL || pw->pw_uid == geteuid())
		skip();
	scan_owners_init(&o, "nobody");
	assert_false(o.resolved);
	st = file_stat(S_IFREG | 0755, 0);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
	assert_false(o.resolved);
	st = file_stat(S_IFREG | 0755, pw->pw_uid);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), 0);
	assert_true(o.resolved);

	scan_owners_init(&o, "no-such-user-here");
	st = file_stat(S_IFREG | 0755, pw->pw_uid);
	assert_int_equal(scan_check(&st, &o, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no-such-user-here"));
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(scan_name_ok("cpu"));
	assert_true(scan_name_ok("my-check.sh"));
	assert_false(scan_name_ok(".hidden"));
	assert_false(scan_name_ok(".cpu.swp"));
	assert_false(scan_name_ok("cpu~"));
	assert_false(scan_name_ok("cpu.dpkg-old"));
	assert_false(scan_name_ok("cpu.rpmnew"));
	assert_false(scan_name_ok(""));
}

/* The directory scan, for real. */

struct found_set {
	char	names[16][64];
	int	n;
};

static void
collect_found(const char *name, const char *path, const struct stat *st,
    void *arg)
{
	struct found_set	*f = arg;

	assert_true(S_ISREG(st->st_mode));
	assert_non_null(strstr(path, name));
	strlcpy(f->names[f->n++], name, sizeof(f->names[0]));
}

static int
has(const struct found_set *f, const char *name)
{
	int	i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->names[i], name) == 0)
			return 1;
	return 0;
}

static void
make_file(const char *dir, const char *name, mode_t mode)
{
	char	path[512];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_true(write(fd, "#!/bin/sh\n", 10) == 10);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

/* Scan dir with stderr going to a file; what was logged, in log. */
static void
scan_capture(const char *dir, struct scan_owners *o,
    struct found_set *f, char *log, size_t size)
{
	char	path[] = "/tmp/test_scan_log.XXXXXX";
	int	fd, saved;
	ssize_t	n;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	memset(f, 0, sizeof(*f));
	scan_begin();
	assert_int_equal(scan_dir(dir, o, collect_found, f), 0);
	scan_end();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, log, size - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	close(fd);
}

static unsigned
count(const char *hay, const char *needle)
{
	unsigned	n = 0;

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay++;
	}
	return n;
}

static void
test_scan_dir(void **state)
{
	struct scan_owners	o;
	struct found_set	f;
	char			dir[] = "/tmp/test_scan.XXXXXX", log[8192];
	char			path[512], cmd[600];

	(void)state;
	assert_non_null(mkdtemp(dir));
	scan_owners_init(&o, "");
	make_file(dir, "good", 0755);
	make_file(dir, "open", 0777);
	make_file(dir, "README", 0644);
	make_file(dir, ".hidden", 0755);
	make_file(dir, "backup~", 0755);
	snprintf(path, sizeof(path), "%s/subdir", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/link", dir);
	assert_int_equal(symlink("good", path), 0);
	snprintf(path, sizeof(path), "%s/dangling", dir);
	assert_int_equal(symlink("nothing", path), 0);

	scan_capture(dir, &o, &f, log, sizeof(log));
	assert_int_equal(f.n, 2);
	assert_true(has(&f, "good"));
	assert_true(has(&f, "link"));		/* judged by its target */
	snprintf(path, sizeof(path), "%s/open", dir);
	assert_non_null(strstr(log, path));
	assert_non_null(strstr(log, "world-writable"));
	assert_int_equal(count(log, "refusing"), 1);

	/* Once per state: the next scan is quiet about it. */
	scan_capture(dir, &o, &f, log, sizeof(log));
	assert_int_equal(count(log, "refusing"), 0);

	/* Fixed, it runs; broken again, it is logged again. */
	snprintf(path, sizeof(path), "%s/open", dir);
	assert_int_equal(chmod(path, 0755), 0);
	scan_capture(dir, &o, &f, log, sizeof(log));
	assert_true(has(&f, "open"));
	assert_int_equal(count(log, "refusing"), 0);
	assert_int_equal(chmod(path, 0757), 0);
	scan_capture(dir, &o, &f, log, sizeof(log));
	assert_false(has(&f, "open"));
	assert_int_equal(count(log, "refusing"), 1);

	/* Someone else's file, when we can make one (as root). */
	if (geteuid() == 0) {
		make_file(dir, "theirs", 0755);
		snprintf(path, sizeof(path), "%s/theirs", dir);
		assert_int_equal(chown(path, 54321, 54321), 0);
		scan_capture(dir, &o, &f, log, sizeof(log));
		assert_false(has(&f, "theirs"));
		assert_non_null(strstr(log, "uid 54321"));
	}

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
test_scan_missing_dir(void **state)
{
	struct scan_owners	o;
	struct found_set	f;

	(void)state;
	scan_owners_init(&o, "");
	memset(&f, 0, sizeof(f));
	assert_int_equal(scan_dir("/nonexistent/collectors.d", &o,
	    collect_found, &f), -1);
	assert_int_equal(f.n, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_accepts_root_and_user),
		cmocka_unit_test(test_check_refuses_world_writable),
		cmocka_unit_test(test_check_refuses_other_owners),
		cmocka_unit_test(test_check_skips_what_is_no_collector),
		cmocka_unit_test(test_owners_init),
		cmocka_unit_test(test_owners_lookup_when_needed),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_scan_dir),
		cmocka_unit_test(test_scan_missing_dir),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
