/*
 * test_connconf: the connection keys of http outputs in common/conf.c:
 * their defaults in forwarder { }, an output section overriding them key by
 * key, the FERRY_FORWARDER_* overrides, errors with file and line for
 * values out of range, DNS servers that are not addresses and CA files that
 * are not there, and conf_conn_differ() for reloads.
 *
 * Each test gets its own $FERRY_ROOT (mkdtemp under /tmp, removed after).
 * A refused load runs in a child process, as in test_conf.c, so that no
 * parser state a failed parse leaves behind can reach the next test.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "conf.h"

struct fixture {
	char	root[64];
	char	main[160];	/* ferry.conf */
	char	ca[160];	/* a file that exists, as a CA file */
};

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->root, "/tmp/ferry-test-connconf-XXXXXX");
	if (mkdtemp(f->root) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	unsetenv("FERRY_FORWARDER_CONNECT_TIMEOUT");
	unsetenv("FERRY_FORWARDER_CA_FILE");
	if (setenv("FERRY_ROOT", f->root, 1) == -1)
		return -1;
	snprintf(f->main, sizeof(f->main), "%s/ferry.conf", f->root);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->root);
	write_file(f->ca, "not checked until used\n");
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	int		 rc;

	rc = test_rmtree(f->root);
	unsetenv("FERRY_FORWARDER_CONNECT_TIMEOUT");
	unsetenv("FERRY_FORWARDER_CA_FILE");
	free(f);
	return rc;
}

static void
assert_float(double got, double want)
{
	assert_true(got > want - 1e-9 && got < want + 1e-9);
}

static struct ferry_conf *
load_ok(const struct fixture *f)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c;
	char			 buf[600];
	int			 i;

	if ((c = conf_load(f->main, &errs)) == NULL)
		for (i = 0; i < errs.n; i++)
			print_message("conf error: %s\n",
			    conf_error_str(&errs.e[i], buf, sizeof(buf)));
	assert_non_null(c);
	return c;
}

/* The main file must be refused with an error at line mentioning needle. */
static void
assert_refused(const struct fixture *f, int line, const char *needle)
{
	struct conf_errors	 errs;
	char			 buf[600];
	ssize_t			 n;
	size_t			 got = 0;
	pid_t			 pid;
	int			 fds[2], st, i;

	assert_int_equal(pipe(fds), 0);
	assert_true((pid = fork()) != -1);
	if (pid == 0) {
		close(fds[0]);
		if (conf_load(f->main, &errs) != NULL)
			errs.n = -1;
		_exit(write(fds[1], &errs, sizeof(errs)) == (ssize_t)sizeof(errs) ?
		    0 : 2);
	}
	close(fds[1]);
	while (got < sizeof(errs) &&
	    (n = read(fds[0], (char *)&errs + got, sizeof(errs) - got)) > 0)
		got += n;
	close(fds[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_int_equal(got, sizeof(errs));
	if (errs.n == -1)
		fail_msg("%s was accepted", f->main);
	for (i = 0; i < errs.n; i++)
		if (strcmp(errs.e[i].file, f->main) == 0 &&
		    errs.e[i].line == line && strstr(errs.e[i].msg, needle) != NULL)
			return;
	for (i = 0; i < errs.n; i++)
		print_message("  have: %s\n",
		    conf_error_str(&errs.e[i], buf, sizeof(buf)));
	fail_msg("no error at line %d mentioning \"%s\"", line, needle);
}

static void
test_defaults(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*c;
	const struct conn_conf	*d, *o;

	write_file(f->main, "output \"a\" { uri = \"http://h/\" }\n");
	c = load_ok(f);
	d = &c->forwarder.conn;
	assert_float(d->connect_timeout, 5);
	assert_int_equal(d->keepalive_idle, 1);
	assert_int_equal(d->keepalive_interval, 1);
	assert_int_equal(d->keepalive_probes, 3);
	assert_string_equal(d->ca_file, "");
	assert_int_equal(d->ndns_servers, 0);
	assert_non_null(d->dns_servers);
	o = &c->outputs[0].conn;
	assert_float(o->connect_timeout, 5);
	assert_int_equal(o->keepalive_idle, 1);
	assert_int_equal(o->keepalive_interval, 1);
	assert_int_equal(o->keepalive_probes, 3);
	assert_string_equal(o->ca_file, "");
	assert_int_equal(o->ndns_servers, 0);
	conf_free(c);
}

/* forwarder { } sets the defaults; each output overrides key by key. */
static void
test_inherit_and_override(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*c;
	const struct conn_conf	*a, *b, *e;
	char			 text[1024];

	snprintf(text, sizeof(text),
	    "forwarder {\n"
	    "  connect_timeout = 2.5  keepalive_idle = 7  keepalive_interval = 3\n"
	    "  keepalive_probes = 5  ca_file = \"%s\"\n"
	    "  dns_servers = {\"192.0.2.53\", \"[2001:db8::53]:5353\"}\n"
	    "}\n"
	    "output \"a\" { uri = \"https://a/\" }\n"
	    "output \"b\" { uri = \"https://b/\" keepalive_probes = 9\n"
	    "  connect_timeout = 0.5 dns_servers = {\"127.0.0.1:5300\"} ca_file = \"\" }\n"
	    "output \"e\" { uri = \"https://e/\" dns_servers = {} }\n", f->ca);
	write_file(f->main, text);
	c = load_ok(f);
	assert_int_equal(c->noutputs, 3);
	a = &c->outputs[0].conn;
	assert_float(a->connect_timeout, 2.5);
	assert_int_equal(a->keepalive_idle, 7);
	assert_int_equal(a->keepalive_interval, 3);
	assert_int_equal(a->keepalive_probes, 5);
	assert_string_equal(a->ca_file, f->ca);
	assert_int_equal(a->ndns_servers, 2);
	assert_string_equal(a->dns_servers[0], "192.0.2.53");
	assert_string_equal(a->dns_servers[1], "[2001:db8::53]:5353");
	/* Copies, not the forwarder's strings: each is freed on its own. */
	assert_ptr_not_equal(a->dns_servers[0], c->forwarder.conn.dns_servers[0]);
	assert_ptr_not_equal(a->ca_file, c->forwarder.conn.ca_file);

	b = &c->outputs[1].conn;
	assert_float(b->connect_timeout, 0.5);
	assert_int_equal(b->keepalive_idle, 7);
	assert_int_equal(b->keepalive_probes, 9);
	assert_string_equal(b->ca_file, "");
	assert_int_equal(b->ndns_servers, 1);
	assert_string_equal(b->dns_servers[0], "127.0.0.1:5300");

	/* An empty list written in the output turns the fallback off there. */
	e = &c->outputs[2].conn;
	assert_int_equal(e->ndns_servers, 0);
	assert_int_equal(e->keepalive_probes, 5);
	conf_free(c);
}

static void
test_env_override(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*c;

	write_file(f->main,
	    "forwarder { connect_timeout = 9 }\n"
	    "output \"a\" { uri = \"http://a/\" }\n"
	    "output \"b\" { uri = \"http://b/\" connect_timeout = 1 }\n");
	assert_int_equal(setenv("FERRY_FORWARDER_CONNECT_TIMEOUT", "12", 1), 0);
	assert_int_equal(setenv("FERRY_FORWARDER_CA_FILE", f->ca, 1), 0);
	c = load_ok(f);
	assert_float(c->forwarder.conn.connect_timeout, 12);
	assert_float(c->outputs[0].conn.connect_timeout, 12);
	assert_float(c->outputs[1].conn.connect_timeout, 1);
	assert_string_equal(c->outputs[0].conn.ca_file, f->ca);
	conf_free(c);
}

static void
test_ranges(void **state)
{
	struct fixture	*f = *state;

	write_file(f->main, "\nforwarder {\n  keepalive_probes = 0\n}\n");
	assert_refused(f, 3, "keepalive_probes");
	write_file(f->main, "forwarder { keepalive_probes = 128 }\n");
	assert_refused(f, 1, "out of range");
	write_file(f->main, "forwarder {\n keepalive_idle = 40000 }\n");
	assert_refused(f, 2, "keepalive_idle");
	write_file(f->main, "forwarder { keepalive_interval = 0 }\n");
	assert_refused(f, 1, "keepalive_interval");
	write_file(f->main, "forwarder { connect_timeout = 0 }\n");
	assert_refused(f, 1, "connect_timeout");
	write_file(f->main, "output \"a\" {\n uri = \"http://a/\"\n"
	    " connect_timeout = 601\n}\n");
	assert_refused(f, 3, "output.connect_timeout");
	write_file(f->main, "output \"a\" { uri = \"http://a/\"\n"
	    " keepalive_probes = -1 }\n");
	assert_refused(f, 2, "keepalive_probes");
}

static void
test_bad_dns_server(void **state)
{
	struct fixture	*f = *state;

	write_file(f->main, "forwarder {\n"
	    "  dns_servers = {\"192.0.2.53\", \"dns.example.com\"}\n}\n");
	assert_refused(f, 2, "dns.example.com");
	write_file(f->main, "output \"a\" { uri = \"http://a/\" }\n"
	    "output \"b\" {\n uri = \"http://b/\"\n"
	    " dns_servers = {\"192.0.2.53:0\"}\n}\n");
	assert_refused(f, 4, "not an IP address");
}

static void
test_bad_ca_file(void **state)
{
	struct fixture	*f = *state;
	char		 text[512];

	write_file(f->main, "\n\nforwarder { ca_file = \"/nonexistent/ca.pem\" }\n");
	assert_refused(f, 3, "No such file");
	write_file(f->main, "output \"a\" {\n uri = \"https://a/\"\n"
	    " ca_file = \"ca.pem\"\n}\n");
	assert_refused(f, 3, "absolute");
	snprintf(text, sizeof(text), "output \"a\" {\n uri = \"https://a/\"\n"
	    " ca_file = \"%s\"\n}\n", f->root);
	write_file(f->main, text);
	assert_refused(f, 3, "not a file");
}

/* A reload restarts the forwarder when any connection key changed. */
static void
test_differ(void **state)
{
	char			*one[] = { "192.0.2.1", NULL };
	char			*other[] = { "192.0.2.2", NULL };
	struct conn_conf	 a = { 5, 1, 1, 3, "", one, 1 }, b;

	(void)state;
	b = a;
	assert_int_equal(conf_conn_differ(&a, &b), 0);
	b.connect_timeout = 6;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.keepalive_idle = 2;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.keepalive_interval = 2;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.keepalive_probes = 4;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.ca_file = "/etc/ssl/ca.pem";
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.dns_servers = other;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
	b = a;
	b.ndns_servers = 0;
	assert_int_equal(conf_conn_differ(&a, &b), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inherit_and_override, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ranges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dns_server, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ca_file, setup, teardown),
		cmocka_unit_test(test_differ),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
