/*
 * test_fleetdrain: fleet drain keys and values (common/fleetdrain.c):
 * which keys are drains and for whom, which values ferry takes, and that
 * a refusal never quotes a secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "fleetdrain.h"

static int
parse(const char *key, struct fleet_key *k)
{
	return fleet_key_parse("/ferry/", key, strlen(key), k);
}

static void
test_keys(void **state)
{
	struct fleet_key	k;
	char			buf[256];

	(void)state;
	assert_int_equal(parse("/ferry/drains/archive", &k), 1);
	assert_int_equal(k.scope, FLEET_SCOPE_ALL);
	assert_string_equal(k.name, "archive");
	assert_true(fleet_key_for(&k, "web1", ""));
	assert_int_equal(fleet_key_make(buf, sizeof(buf), "/ferry/", &k), 0);
	assert_string_equal(buf, "/ferry/drains/archive");

	assert_int_equal(parse("/ferry/groups/eu/drains/x", &k), 1);
	assert_int_equal(k.scope, FLEET_SCOPE_GROUP);
	assert_string_equal(k.who, "eu");
	assert_true(fleet_key_for(&k, "web1", "eu"));
	assert_false(fleet_key_for(&k, "web1", "us"));
	assert_false(fleet_key_for(&k, "web1", ""));
	assert_int_equal(fleet_key_make(buf, sizeof(buf), "/ferry/", &k), 0);
	assert_string_equal(buf, "/ferry/groups/eu/drains/x");

	assert_int_equal(parse("/ferry/hosts/web1.example/drains/y", &k), 1);
	assert_int_equal(k.scope, FLEET_SCOPE_HOST);
	assert_string_equal(k.who, "web1.example");
	assert_true(fleet_key_for(&k, "web1.example", "eu"));
	assert_false(fleet_key_for(&k, "web2", "eu"));

	/* Not drains: status keys, other prefixes, extra or missing parts. */
	assert_int_equal(parse("/ferry/status/web1", &k), 0);
	assert_int_equal(parse("/ferry-x/drains/a", &k), 0);
	assert_int_equal(parse("/ferry/drains/", &k), 0);
	assert_int_equal(parse("/ferry/drains/a/b", &k), 0);
	assert_int_equal(parse("/ferry/groups//drains/a", &k), 0);
	assert_int_equal(parse("/ferry/groups/eu/drains", &k), 0);
	assert_int_equal(parse("/ferry/hosts/web1/other/a", &k), 0);
	/* A drain key whose name is not a name: the caller refuses it. */
	assert_int_equal(parse("/ferry/drains/a b", &k), 1);
	assert_int_equal(fleet_name_check(k.name, buf, sizeof(buf)), -1);
	assert_int_equal(fleet_name_check("ok_name-1", buf, sizeof(buf)), 0);
	assert_int_equal(fleet_name_check("", buf, sizeof(buf)), -1);
}

static void
test_ranges(void **state)
{
	char	key[64], end[64];

	(void)state;
	assert_int_equal(fleet_drain_range("/ferry/", key, sizeof(key), end,
	    sizeof(end)), 0);
	assert_string_equal(key, "/ferry/drains/");
	assert_string_equal(end, "/ferry/hosts0");
	/* Every drain key is in the range, no status key is. */
	assert_true(strcmp("/ferry/groups/g/drains/a", key) >= 0 &&
	    strcmp("/ferry/groups/g/drains/a", end) < 0);
	assert_true(strcmp("/ferry/hosts/zzz/drains/a", end) < 0);
	assert_true(strcmp("/ferry/status/web1", end) >= 0);
	assert_int_equal(fleet_status_key(key, sizeof(key), "/ferry/", "web1"),
	    0);
	assert_string_equal(key, "/ferry/status/web1");
}

static int
value(const char *v, int allow_file, struct fleet_drain *d, char *err)
{
	return fleet_value_parse(v, strlen(v), allow_file, d, err, 600);
}

static void
test_values(void **state)
{
	struct fleet_drain	d;
	char			err[600];

	(void)state;
	assert_int_equal(value("http://127.0.0.1:8080/api/v1/sink?filter=a.",
	    0, &d, err), 0);
	assert_string_equal(d.uri, "http://127.0.0.1:8080/api/v1/sink?filter=a.");
	assert_string_equal(d.api_key, "");
	/* A newline from echo is not part of it. */
	assert_int_equal(value("tcp://h:2003/\n", 0, &d, err), 0);
	assert_string_equal(d.uri, "tcp://h:2003/");
	assert_int_equal(value("{\"uri\":\"https://h/x\",\"api_key\":\"K1\"}", 0,
	    &d, err), 0);
	assert_string_equal(d.uri, "https://h/x");
	assert_string_equal(d.api_key, "K1");

	/* Refused: schemes and members ferry does not know, bad options. */
	assert_int_equal(value("gopher://h/", 0, &d, err), -1);
	assert_non_null(strstr(err, "unknown scheme"));
	assert_int_equal(value("{\"uri\":\"http://h/\",\"exec\":\"rm\"}", 0, &d,
	    err), -1);
	assert_non_null(strstr(err, "unknown member"));
	assert_int_equal(value("redis://h/?limit=x", 0, &d, err), -1);
	assert_int_equal(value("{\"api_key\":\"k\"}", 0, &d, err), -1);
	assert_int_equal(value("", 0, &d, err), -1);
	assert_int_equal(value("{\"uri\":1}", 0, &d, err), -1);
	assert_int_equal(value("{\"uri\":\"http://h/\"", 0, &d, err), -1);
	/* What goes between quotes in a fragment cannot close them. */
	assert_int_equal(value("http://h/\"x", 0, &d, err), -1);
	assert_int_equal(value("http://h/ x", 0, &d, err), -1);
	assert_int_equal(value("{\"uri\":\"http://h/\",\"api_key\":\"a\\\"b\"}",
	    0, &d, err), -1);

	/* file:// only where the host allows it. */
	assert_int_equal(value("file:///tmp/x.log", 0, &d, err), -1);
	assert_non_null(strstr(err, "allow_file"));
	assert_int_equal(value("file:///tmp/x.log", 1, &d, err), 0);
}

static void
test_refusals_keep_secrets(void **state)
{
	struct fleet_drain	d;
	char			err[600];

	(void)state;
	assert_int_equal(value("redis://SECRETPW@h/?limit=x", 0, &d, err), -1);
	assert_null(strstr(err, "SECRETPW"));
	assert_int_equal(value("file://u:SECRETPW@/tmp/x", 0, &d, err), -1);
	assert_null(strstr(err, "SECRETPW"));
	assert_int_equal(value("{\"uri\":\"gopher://h/\",\"api_key\":"
	    "\"SECRETKEY\"}", 0, &d, err), -1);
	assert_null(strstr(err, "SECRETKEY"));
	assert_int_equal(value("{\"uri\":\"http://h/\",\"api_key\":"
	    "\"SECRET KEY\"}", 0, &d, err), -1);
	assert_null(strstr(err, "SECRET"));
}

static void
test_make(void **state)
{
	struct fleet_drain	d;
	struct buf		b;
	char			err[600];

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(fleet_value_make(&b, "tcp://h:1/", NULL), 0);
	assert_string_equal(b.p, "tcp://h:1/");
	assert_int_equal(fleet_value_make(&b, "https://h/", "K"), 0);
	assert_string_equal(b.p, "{\"uri\":\"https://h/\",\"api_key\":\"K\"}");
	assert_int_equal(fleet_value_parse(b.p, b.len, 0, &d, err,
	    sizeof(err)), 0);
	assert_string_equal(d.api_key, "K");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_refusals_keep_secrets),
		cmocka_unit_test(test_make),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
