/*
 * test_conf_collectors: the keys ferry-collectors added to common/conf.c:
 * their defaults, a collector section inheriting what it leaves out from
 * the collectors section, the mode values, the ranges, and the FERRY_*
 * overrides. (test_conf.c covers the keys of SPEC.md.)
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

#include "conf.h"
#include "path.h"

static char	root[64];
static char	confpath[160];

static int
setup(void **state)
{
	char	dir[128];

	(void)state;
	unsetenv("FERRY_COLLECTORS_MAX_LINES");
	unsetenv("FERRY_COLLECTORS_BUILTIN_MODE");
	strcpy(root, "/tmp/ferry-test-confc-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/etc", root);
	if (mkdir(dir, 0755) == -1)
		return -1;
	snprintf(confpath, sizeof(confpath), "%s/ferry.conf", dir);
	setenv("FERRY_ROOT", root, 1);
	return 0;
}

static int
teardown(void **state)
{
	char	cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	unsetenv("FERRY_ROOT");
	return system(cmd) == 0 ? 0 : -1;
}

static struct ferry_conf *
load(const char *text, struct conf_errors *errs)
{
	FILE	*f = fopen(confpath, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return conf_load(confpath, errs);
}

static struct ferry_conf *
load_ok(const char *text)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c = load(text, &errs);
	char			 buf[600];

	if (c == NULL)
		fail_msg("%s", errs.n > 0 ?
		    conf_error_str(&errs.e[0], buf, sizeof(buf)) : "?");
	return c;
}

/* The configuration must be refused with an error that mentions want. */
static void
load_bad(const char *text, const char *want)
{
	struct conf_errors	errs;
	char			buf[600];
	int			i, seen = 0;

	assert_null(load(text, &errs));
	for (i = 0; i < errs.n; i++)
		seen |= strstr(conf_error_str(&errs.e[i], buf, sizeof(buf)),
		    want) != NULL;
	if (!seen)
		fail_msg("no error mentions \"%s\" (%d errors, first: %s)", want,
		    errs.n, errs.n > 0 ? conf_error_str(&errs.e[0], buf,
		    sizeof(buf)) : "-");
}

static void
test_defaults(void **state)
{
	struct ferry_conf	*c;
	char			 want[256];

	(void)state;
	c = load_ok("");
	assert_int_equal(c->collectors.builtin_mode, COLLECTOR_MODE_INLINE);
	assert_int_equal(c->collectors.max_lines, 10000);
	assert_int_equal(c->collectors.max_bytes_per_second, 128 * 1024);
	assert_true(c->collectors.scan_interval == 30);
	snprintf(want, sizeof(want), "%s/opt/ferry/collectors", root);
	assert_string_equal(c->collectors.builtin_dir, want);
	snprintf(want, sizeof(want), "%s/etc/opt/ferry/collectors.d", root);
	assert_string_equal(c->collectors.custom_dir, want);
	assert_int_equal(c->ncollector, 0);
	conf_free(c);
}

static void
test_section_inherits(void **state)
{
	struct ferry_conf	*c;

	(void)state;
	c = load_ok("collectors { interval = 2 timeout = 1.5 max_lines = 50\n"
	    "  max_bytes_per_second = 4K }\n"
	    "collector \"a\" { }\n"
	    "collector \"b\" { interval = 30 timeout = 5 max_lines = 7\n"
	    "  max_bytes_per_second = 1M mode = \"daemon\" }\n"
	    "collector \"c\" { mode = \"interval\" }\n");
	assert_int_equal(c->ncollector, 3);
	assert_true(c->collector[0].interval == 2);
	assert_true(c->collector[0].timeout == 1.5);
	assert_int_equal(c->collector[0].max_lines, 50);
	assert_int_equal(c->collector[0].max_bytes_per_second, 4096);
	assert_int_equal(c->collector[0].mode, COLLECTOR_MODE_DEFAULT);
	assert_true(c->collector[1].interval == 30);
	assert_true(c->collector[1].timeout == 5);
	assert_int_equal(c->collector[1].max_lines, 7);
	assert_int_equal(c->collector[1].max_bytes_per_second, 1 << 20);
	assert_int_equal(c->collector[1].mode, COLLECTOR_MODE_DAEMON);
	assert_int_equal(c->collector[2].mode, COLLECTOR_MODE_INTERVAL);
	conf_free(c);
}

static void
test_dirs_and_builtin_mode(void **state)
{
	struct ferry_conf	*c;

	(void)state;
	c = load_ok("collectors { builtin_mode = \"daemon\" scan_interval = 1\n"
	    "  builtin_dir = \"/b\" custom_dir = \"/c\" }\n");
	assert_int_equal(c->collectors.builtin_mode, COLLECTOR_MODE_DAEMON);
	assert_true(c->collectors.scan_interval == 1);
	assert_string_equal(c->collectors.builtin_dir, "/b");
	assert_string_equal(c->collectors.custom_dir, "/c");
	conf_free(c);
	c = load_ok("collectors { builtin_mode = \"interval\" }\n"
	    "collector \"cpu\" { mode = \"inline\" }\n");
	assert_int_equal(c->collectors.builtin_mode, COLLECTOR_MODE_INTERVAL);
	assert_int_equal(c->collector[0].mode, COLLECTOR_MODE_INLINE);
	conf_free(c);
}

static void
test_bad_values(void **state)
{
	(void)state;
	load_bad("collector \"x\" { mode = \"sometimes\" }\n", "sometimes");
	load_bad("collectors { builtin_mode = \"cron\" }\n", "builtin_mode");
	load_bad("collectors { max_lines = 0 }\n", "max_lines");
	load_bad("collector \"x\" { max_bytes_per_second = 10 }\n",
	    "max_bytes_per_second");
	load_bad("collectors { scan_interval = 0 }\n", "scan_interval");
}

static void
test_env_overrides(void **state)
{
	struct ferry_conf	*c;

	(void)state;
	setenv("FERRY_COLLECTORS_MAX_LINES", "123", 1);
	setenv("FERRY_COLLECTORS_BUILTIN_MODE", "daemon", 1);
	c = load_ok("collector \"a\" { }\n");
	assert_int_equal(c->collectors.max_lines, 123);
	assert_int_equal(c->collector[0].max_lines, 123);
	assert_int_equal(c->collectors.builtin_mode, COLLECTOR_MODE_DAEMON);
	conf_free(c);
	unsetenv("FERRY_COLLECTORS_MAX_LINES");
	unsetenv("FERRY_COLLECTORS_BUILTIN_MODE");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_section_inherits, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dirs_and_builtin_mode,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_values, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_overrides, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
