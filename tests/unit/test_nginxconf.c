/*
 * test_nginxconf: the access logs an nginx configuration names
 * (tail/nginxconf.c), from configuration trees written to a temporary
 * folder: Debian's layout (conf.d, sites-enabled, mime.types), includes by
 * glob and relative to the main file, log_format strings in parts with
 * quotes, escapes and ${var}, the contexts access_log counts in, nginx's
 * defaults, and what is skipped with a note (syslog, variables, gzip,
 * stream), and files that would loop or do not parse.
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
#include "testutil.h"

static char	dir[64];
static char	conf[128];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/ferry-test-nginxconf-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return test_rmtree(dir);
}

/* Write name (under dir, folders made) with text. */
static void
put(const char *name, const char *text)
{
	assert_int_equal(test_put(dir, name, text, strlen(text), 0644), 0);
}

static struct found	nc;

static void
read_conf(void)
{
	char	err[256];

	found_free(&nc);
	assert_int_equal(nginxconf_read(conf, "/srv/nginx/",
	    "/var/log/nginx/access.log", &nc, err, sizeof(err)), 0);
}

/* The log at path, or NULL. */
static const struct found_log *
log_at(const char *path)
{
	size_t	i;

	for (i = 0; i < nc.nlogs; i++)
		if (strcmp(nc.logs[i].path, path) == 0)
			return &nc.logs[i];
	return NULL;
}

/* Is there a note containing s? */
static int
noted(const char *s)
{
	size_t	i;

	for (i = 0; i < nc.nnotes; i++)
		if (strstr(nc.notes[i], s) != NULL)
			return 1;
	return 0;
}

static void
test_debian_layout(void **state)
{
	const struct found_log	*l;
	char			 origin[256];

	(void)state;
	put("nginx.conf",
	    "user www-data;\n"
	    "worker_processes auto;\n"
	    "pid /run/nginx.pid;\n"
	    "include /nonexistent-ferry/modules-enabled/*.conf;\n"
	    "events {\n\tworker_connections 768;\n}\n"
	    "http {\n"
	    "\tinclude mime.types;\n"
	    "\tdefault_type application/octet-stream;\n"
	    "\tlog_format main '$remote_addr - $remote_user [$time_local] "
	    "\"$request\" '\n"
	    "\t                '$status $body_bytes_sent \"$http_referer\" '\n"
	    "\t                '\"$http_user_agent\" \"$http_x_forwarded_for\"';\n"
	    "\taccess_log /var/log/nginx/access.log;\n"
	    "\tinclude conf.d/*.conf;\n"
	    "\tinclude sites-enabled/*;\n"
	    "}\n");
	put("mime.types", "types {\n    text/html  html htm shtml;\n}\n");
	put("conf.d/timing.conf",
	    "log_format timing escape=json '{\"rt\":$request_time,'\n"
	    "    '\"s\":\"$status\"}';\n");
	put("sites-enabled/default",
	    "server {\n"
	    "\tlisten 80 default_server;\n"
	    "\taccess_log logs/site.log main buffer=32k flush=5s;\n"
	    "\tlocation /api/ {\n"
	    "\t\taccess_log /var/log/nginx/api.log timing if=$loggable;\n"
	    "\t}\n"
	    "\tlocation /health { access_log off; return 200; }\n"
	    "}\n");
	read_conf();
	assert_int_equal(nc.nlogs, 3);
	assert_non_null(l = log_at("/var/log/nginx/access.log"));
	assert_string_equal(l->format, "combined");
	assert_string_equal(l->text, COMBINED);
	snprintf(origin, sizeof(origin), "%s:14", conf);
	assert_string_equal(l->origin, origin);
	/* Relative to the prefix, not to the file. */
	assert_non_null(l = log_at("/srv/nginx/logs/site.log"));
	assert_string_equal(l->format, "main");
	assert_string_equal(l->text, "$remote_addr - $remote_user "
	    "[$time_local] \"$request\" $status $body_bytes_sent "
	    "\"$http_referer\" \"$http_user_agent\" \"$http_x_forwarded_for\"");
	snprintf(origin, sizeof(origin), "%s/sites-enabled/default:3", dir);
	assert_string_equal(l->origin, origin);
	/* A format from an include, escape= taken off. */
	assert_non_null(l = log_at("/var/log/nginx/api.log"));
	assert_string_equal(l->text, "{\"rt\":$request_time,\"s\":\"$status\"}");
	/* The modules include matched nothing here: no note for a glob. */
	assert_int_equal(nc.nnotes, 0);
	found_free(&nc);
}

/* Tokens as nginx reads them. */
static void
test_tokens(void **state)
{
	(void)state;
	put("nginx.conf",
	    "# a comment { with braces };\n"
	    "http { # trailing comment\n"
	    "  log_format a \"$status \\\"x\\\" #not-a-comment\" "
	    "'${request_time}s\\t'\n"
	    "     $host\\;x;\n"
	    "  log_format b ${status}:$request_time;\n"
	    "  server {\n"
	    "    access_log \"/var/log/with space.log\" a;\n"
	    "    access_log /var/log/b.log b;\n"
	    "    access_log /var/log/c#d.log;\n"
	    "  }\n"
	    "}\n");
	read_conf();
	assert_int_equal(nc.nlogs, 3);
	assert_non_null(log_at("/var/log/with space.log"));
	assert_string_equal(log_at("/var/log/with space.log")->text,
	    "$status \"x\" #not-a-comment${request_time}s\t$host\\;x");
	assert_string_equal(log_at("/var/log/b.log")->text,
	    "${status}:$request_time");
	assert_non_null(log_at("/var/log/c#d.log"));
	assert_int_equal(nc.nnotes, 0);
	found_free(&nc);
}

/* What cannot be followed is said, and the rest still read. */
static void
test_skipped(void **state)
{
	(void)state;
	put("nginx.conf",
	    "stream {\n"
	    "  log_format proxy '$remote_addr $protocol $status';\n"
	    "  server { listen 12345; access_log /var/log/stream.log proxy; }\n"
	    "}\n"
	    "http {\n"
	    "  map $status $loggable { ~^[23] 0; default 1; access_log 2; }\n"
	    "  access_log syslog:server=unix:/dev/log,tag=nginx;\n"
	    "  server {\n"
	    "    access_log /var/log/$host.log;\n"
	    "    access_log /var/log/z.log combined gzip=9 flush=1m;\n"
	    "    access_log /var/log/u.log nosuchformat;\n"
	    "    access_log /var/log/ok.log;\n"
	    "  }\n"
	    "}\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	assert_non_null(log_at("/var/log/ok.log"));
	assert_true(noted("stream { } logs"));
	assert_true(noted("access_log syslog:server=unix:/dev/log,tag=nginx: "
	    "to syslog, not a file"));
	assert_true(noted("access_log /var/log/$host.log: a path made of "
	    "variables"));
	assert_true(noted("access_log /var/log/z.log: written gzip'd"));
	assert_true(noted("access_log /var/log/u.log: log_format "
	    "\"nosuchformat\" is not defined"));
	assert_int_equal(nc.nnotes, 5);
	found_free(&nc);
}

/* nginx's compiled-in log, for servers that name none. */
static void
test_defaults(void **state)
{
	(void)state;
	/* No access_log anywhere: the default, in combined. */
	put("nginx.conf", "http { server { listen 80; } }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	assert_string_equal(nc.logs[0].path, "/var/log/nginx/access.log");
	assert_string_equal(nc.logs[0].format, "combined");
	assert_string_equal(nc.logs[0].origin, "default");
	/* http without servers still has nginx's own default server. */
	put("nginx.conf", "http { }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	/* off at http: nothing. */
	put("nginx.conf", "http { access_log off; server { } }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 0);
	/* One server with its own log, one without: both files. */
	put("nginx.conf", "http { server { access_log /a.log; } server { "
	    "location / { access_log /b.log; } } }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 3);
	assert_non_null(log_at("/a.log"));
	assert_non_null(log_at("/b.log"));
	assert_non_null(log_at("/var/log/nginx/access.log"));
	/* Every server with its own: no default. */
	put("nginx.conf", "http { server { access_log /a.log; } server { "
	    "access_log /a.log; } }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	/* No http block at all: no access log. */
	put("nginx.conf", "events { }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 0);
	found_free(&nc);
}

/* One file, two formats: said, read with the first. */
static void
test_one_file_two_formats(void **state)
{
	(void)state;
	put("nginx.conf", "http { log_format m '$status'; "
	    "server { access_log /x.log; } server { access_log /x.log m; } "
	    "server { access_log /x.log; } }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	assert_string_equal(nc.logs[0].format, "combined");
	assert_true(noted("/x.log is written with log_format \"m\" here"));
	assert_int_equal(nc.nnotes, 1);
	found_free(&nc);
}

/* Files that loop, do not parse, or are not there. */
static void
test_bad_files(void **state)
{
	char	err[256];

	(void)state;
	put("nginx.conf", "http { include nginx.conf; access_log /l.log; }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	assert_true(noted("includes deep, not read"));

	put("nginx.conf", "http { include missing.conf; include none/*.conf; "
	    "server { access_log /l.log; }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 1);
	assert_true(noted("include "));
	assert_true(noted("missing.conf: No such file or directory"));
	assert_true(noted("unexpected end of file"));

	put("nginx.conf", "} http { access_log \"/l.log; }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 0);
	assert_true(noted("nginx.conf:1: unexpected \"}\""));
	assert_true(noted("a quoted string is not closed"));

	/* An include that closes a block it did not open. */
	put("inc.conf", "}\n");
	put("nginx.conf", "http { server { include inc.conf; access_log "
	    "/good.log; } access_log /http.log; }\n");
	read_conf();
	assert_int_equal(nc.nlogs, 2);
	assert_non_null(log_at("/good.log"));
	assert_non_null(log_at("/http.log"));
	assert_true(noted("inc.conf:1: unexpected \"}\""));
	assert_false(noted("end of file"));

	/* Blocks deeper than the stack: still balanced after. */
	put("nginx.conf", "http { server { location / { if ($a) { if ($b) "
	    "{ if ($c) { if ($d) { if ($e) { if ($f) { if ($g) { if ($h) { "
	    "if ($i) { if ($j) { if ($k) { if ($l) { if ($m) { if ($n) { "
	    "if ($o) { if ($p) { if ($q) { if ($r) { if ($s) { if ($t) { "
	    "if ($u) { if ($v) { if ($w) { if ($x) { if ($y) { if ($z) { "
	    "if ($a) { if ($b) { if ($c) { if ($d) { access_log /deep.log; "
	    "} } } } } } } } } } } } } } } } } } } } } } } } } } } } } } } } "
	    "access_log /after.log; } }\n");
	read_conf();
	assert_null(log_at("/deep.log"));
	assert_non_null(log_at("/after.log"));
	found_free(&nc);

	snprintf(conf, sizeof(conf), "%s/none.conf", dir);
	assert_int_equal(nginxconf_read(conf, "/", "/a.log", &nc, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "none.conf: No such file or directory"));
	assert_int_equal(nc.nlogs, 0);
	snprintf(conf, sizeof(conf), "%s/nginx.conf", dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_debian_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_file_two_formats,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_files, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
