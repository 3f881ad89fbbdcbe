/*
 * test_confdiff: which programs a configuration change touches
 * (common/confdiff.c), the table a reload restarts children by.
 *
 * Each test writes a base configuration and an edited one into a temporary
 * directory (mkdtemp under /tmp, removed afterwards), loads both with the
 * real parser, and checks the CONFDIFF_* bits of the difference: so
 * defaults, conf.d fragments and comments count exactly as they do in a
 * running ferry.
 */
#include <sys/stat.h>

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
#include "confdiff.h"

#define ALL_WRITERS	(CONFDIFF_RECEIVER | CONFDIFF_FORWARDER | \
			    CONFDIFF_COLLECTORS | CONFDIFF_PERIODIC | \
			    CONFDIFF_TAIL | CONFDIFF_FLEET)

static const char base[] =
	"hostname = \"h1\"\n"
	"user = \"\"\n"
	"receiver { tcp_port = 12003 udp_port = 12003 }\n"
	"output \"a\" { uri = \"http://127.0.0.1:9/api/v1/sink\" }\n"
	"log \"nginx\" { path = \"/tmp/x/*.log\"\n"
	"  redact { match = \"pw=[^ ]*\" replace = \"pw=***\" } }\n"
	"collector \"cpu\" { interval = 5 }\n"
	"periodic { heartbeat_url = \"http://127.0.0.1:9/beat\" }\n";

struct fixture {
	char	dir[64];
	char	main[128];
	char	confd[128];
};

static int
setup(void **state)
{
	struct fixture	*f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->dir, "/tmp/ferry-test-confdiff-XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->main, sizeof(f->main), "%s/ferry.conf", f->dir);
	snprintf(f->confd, sizeof(f->confd), "%s/conf.d", f->dir);
	if (mkdir(f->confd, 0755) == -1) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	int		 rc;

	rc = test_rmtree(f->dir);
	free(f);
	return rc;
}

static void
write_file(const char *path, const char *text)
{
	FILE	*fp;

	assert_non_null(fp = fopen(path, "w"));
	assert_true(fputs(text, fp) >= 0);
	assert_int_equal(fclose(fp), 0);
}

static struct ferry_conf *
load(const struct fixture *f, const char *text)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c;
	char			 buf[600];
	int			 i;

	write_file(f->main, text);
	if ((c = conf_load(f->main, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			print_message("conf error: %s\n",
			    conf_error_str(&errs.e[i], buf, sizeof(buf)));
		fail_msg("%s was refused", f->main);
	}
	return c;
}

/* The bits of the change from base to base + extra (appended). */
static unsigned
diff_extra(const struct fixture *f, const char *extra)
{
	struct ferry_conf	*a, *b;
	char			 text[4096];
	unsigned		 bits;

	a = load(f, base);
	snprintf(text, sizeof(text), "%s%s", base, extra);
	b = load(f, text);
	bits = confdiff(a, b);
	/* The difference is symmetric: an edit undone touches the same. */
	assert_int_equal(confdiff(b, a), bits);
	conf_free(a);
	conf_free(b);
	return bits;
}

/* The bits of the change from base to text. */
static unsigned
diff_text(const struct fixture *f, const char *text)
{
	struct ferry_conf	*a, *b;
	unsigned		 bits;

	a = load(f, base);
	b = load(f, text);
	bits = confdiff(a, b);
	conf_free(a);
	conf_free(b);
	return bits;
}

/* text with the first occurrence of from replaced by to. */
static const char *
edit(const char *from, const char *to)
{
	static char	 out[4096];
	const char	*p;

	assert_non_null(p = strstr(base, from));
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - base), base, to,
	    p + strlen(from));
	return out;
}

static void
test_same_config_touches_nothing(void **state)
{
	assert_int_equal(diff_extra(*state, ""), 0);
}

static void
test_comments_and_layout_touch_nothing(void **state)
{
	assert_int_equal(diff_extra(*state, "# a comment\n\n\n"), 0);
	assert_int_equal(diff_text(*state, edit("tcp_port = 12003",
	    "tcp_port   =   12003  # same\n")), 0);
}

static void
test_default_spelled_out_touches_nothing(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "forwarder { batch_size = 250 }\nprefix = \"servers\"\n"), 0);
}

static void
test_user_touches_no_child(void **state)
{
	/* Only a restart of the supervisor applies it (it says so). */
	assert_int_equal(diff_text(*state, edit("user = \"\"",
	    "user = \"nobody\"")), 0);
}

static void
test_output_added_restarts_forwarder_only(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "output \"b\" { uri = \"http://127.0.0.1:10/api/v1/sink\" }\n"),
	    CONFDIFF_FORWARDER);
}

static void
test_output_uri_restarts_forwarder_only(void **state)
{
	assert_int_equal(diff_text(*state, edit("127.0.0.1:9/api",
	    "127.0.0.1:9/api")), 0);
	assert_int_equal(diff_text(*state, edit("127.0.0.1:9/api",
	    "127.0.0.1:19/api")), CONFDIFF_FORWARDER);
	assert_int_equal(diff_text(*state, edit("/api/v1/sink\"",
	    "/api/v1/sink?filter=servers.\"")), CONFDIFF_FORWARDER);
}

static void
test_output_api_key_restarts_forwarder_only(void **state)
{
	assert_int_equal(diff_text(*state, edit("/api/v1/sink\" }",
	    "/api/v1/sink\" api_key = \"k\" }")), CONFDIFF_FORWARDER);
}

static void
test_output_renamed_restarts_forwarder(void **state)
{
	assert_int_equal(diff_text(*state, edit("output \"a\"",
	    "output \"b\"")), CONFDIFF_FORWARDER);
}

static void
test_output_in_fragment_restarts_forwarder(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*a, *b;
	char			 path[256];

	a = load(f, base);
	snprintf(path, sizeof(path), "%s/10-out.conf", f->confd);
	write_file(path,
	    "output \"c\" { uri = \"http://127.0.0.1:11/api/v1/sink\" }\n");
	b = load(f, base);
	assert_int_equal(confdiff(a, b), CONFDIFF_FORWARDER);
	conf_free(a);
	conf_free(b);
}

/*
 * A fragment ferry-fleet writes (conf.d/fleet) is an output like any:
 * only the forwarder restarts, not ferry-fleet that wrote it.
 */
static void
test_fleet_fragment_restarts_forwarder_only(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*a, *b;
	char			 path[256], fleet[4096];

	snprintf(fleet, sizeof(fleet), "%sfleet { etcd = "
	    "{\"http://127.0.0.1:2379\"} }\n", base);
	a = load(f, fleet);
	snprintf(path, sizeof(path), "%s/fleet", f->confd);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/fleet/d.conf", f->confd);
	write_file(path,
	    "output \"d\" { uri = \"http://127.0.0.1:11/api/v1/sink\" }\n");
	b = load(f, fleet);
	assert_int_equal(b->noutputs, a->noutputs + 1);
	assert_int_equal(confdiff(a, b), CONFDIFF_FORWARDER);
	conf_free(a);
	conf_free(b);
}

static void
test_fleet_settings_restart_fleet_only(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "fleet { etcd = {\"http://127.0.0.1:2379\"} }\n"), CONFDIFF_FLEET);
	assert_int_equal(diff_extra(*state, "fleet { group = \"eu\" }\n"),
	    CONFDIFF_FLEET);
	assert_int_equal(diff_extra(*state, "fleet { password = \"pw\" }\n"),
	    CONFDIFF_FLEET);
}

static void
test_connection_keys_restart_forwarder_only(void **state)
{
	/* The forwarder's defaults, and one output's own. */
	assert_int_equal(diff_extra(*state,
	    "forwarder { connect_timeout = 2 }\n"), CONFDIFF_FORWARDER);
	assert_int_equal(diff_text(*state, edit("/api/v1/sink\" }",
	    "/api/v1/sink\" keepalive_probes = 5 }")), CONFDIFF_FORWARDER);
	assert_int_equal(diff_text(*state, edit("/api/v1/sink\" }",
	    "/api/v1/sink\" dns_servers = {\"192.0.2.53\"} }")),
	    CONFDIFF_FORWARDER);
}

static void
test_forwarder_section_restarts_forwarder_only(void **state)
{
	assert_int_equal(diff_extra(*state, "forwarder { batch_size = 100 }\n"),
	    CONFDIFF_FORWARDER);
	assert_int_equal(diff_extra(*state, "forwarder { retry_max = 5 }\n"),
	    CONFDIFF_FORWARDER);
}

static void
test_log_changes_restart_tail_only(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "log \"app\" { path = \"/tmp/y.log\" }\n"), CONFDIFF_TAIL);
	assert_int_equal(diff_text(*state, edit("pw=***", "pw=xxx")),
	    CONFDIFF_TAIL);
	assert_int_equal(diff_text(*state, edit("/tmp/x/*.log\"",
	    "/tmp/x/*.log\" attributes = {\"service=web\"}")),
	    CONFDIFF_TAIL);
	assert_int_equal(diff_text(*state, edit("/tmp/x/*.log\"",
	    "/tmp/x/*.log\" sample { match = \"GET\" rate = 0.5 }")),
	    CONFDIFF_TAIL);
	assert_int_equal(diff_text(*state, edit("/tmp/x/*.log\"",
	    "/tmp/x/*.log\" multiline { start = \"^2\" }")), CONFDIFF_TAIL);
	assert_int_equal(diff_extra(*state, "tail { max_open_files = 9 }\n"),
	    CONFDIFF_TAIL);
}

static void
test_derive_rules_restart_tail_only(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "event \"e\" { match = \"ERR\" }\n"), CONFDIFF_TAIL);
	assert_int_equal(diff_extra(*state,
	    "logmetric \"m\" { match = \"(?<s>x)\" split = \"s\" }\n"),
	    CONFDIFF_TAIL);
}

static void
test_discover_restarts_tail_only(void **state)
{
	assert_int_equal(diff_extra(*state, "discover { nginx = true }\n"),
	    CONFDIFF_TAIL);
	assert_int_equal(diff_extra(*state, "discover { interval = 5 }\n"),
	    CONFDIFF_TAIL);
}

static void
test_receiver_port_restarts_receiver_only(void **state)
{
	assert_int_equal(diff_text(*state, edit("tcp_port = 12003",
	    "tcp_port = 12004")), CONFDIFF_RECEIVER);
	assert_int_equal(diff_text(*state, edit("udp_port = 12003",
	    "udp_port = 0")), CONFDIFF_RECEIVER);
	assert_int_equal(diff_extra(*state,
	    "receiver { flush_interval = 2 }\n"), CONFDIFF_RECEIVER);
}

static void
test_receiver_max_line_sizes_forwarder_batches(void **state)
{
	assert_int_equal(diff_extra(*state, "receiver { max_line = 8192 }\n"),
	    CONFDIFF_RECEIVER | CONFDIFF_FORWARDER);
}

static void
test_api_key_touches_its_readers(void **state)
{
	assert_int_equal(diff_extra(*state, "api_key = \"secret\"\n"),
	    CONFDIFF_RECEIVER | CONFDIFF_FORWARDER | CONFDIFF_PERIODIC);
}

static void
test_names_and_spool_touch_every_writer(void **state)
{
	assert_int_equal(diff_text(*state, edit("hostname = \"h1\"",
	    "hostname = \"h2\"")), ALL_WRITERS);
	assert_int_equal(diff_extra(*state, "prefix = \"hosts\"\n"),
	    ALL_WRITERS);
	assert_int_equal(diff_extra(*state, "spool { max_size = 50M }\n"),
	    ALL_WRITERS);
	assert_int_equal(diff_extra(*state, "spool { fsync = false }\n"),
	    ALL_WRITERS);
	assert_int_equal(diff_extra(*state,
	    "spool { memory_dir = \"/dev/shm/other\" }\n"), ALL_WRITERS);
}

static void
test_collector_settings_restart_collectors_only(void **state)
{
	assert_int_equal(diff_extra(*state, "collectors { interval = 30 }\n"),
	    CONFDIFF_COLLECTORS);
	assert_int_equal(diff_extra(*state,
	    "collectors { drop_dir = \"/tmp/drop2\" }\n"), CONFDIFF_COLLECTORS);
	assert_int_equal(diff_text(*state, edit("interval = 5",
	    "interval = 6")), CONFDIFF_COLLECTORS);
	assert_int_equal(diff_text(*state, edit("interval = 5",
	    "interval = 5 enabled = false")), CONFDIFF_COLLECTORS);
	assert_int_equal(diff_text(*state, edit("interval = 5",
	    "interval = 5 args = {\"-v\"}")), CONFDIFF_COLLECTORS);
	assert_int_equal(diff_extra(*state, "collector \"memory\" {}\n"),
	    CONFDIFF_COLLECTORS);
}

static void
test_periodic_settings_restart_periodic_only(void **state)
{
	/* The heartbeat's URL is the forwarder's too: it sends the beats. */
	assert_int_equal(diff_text(*state, edit("9/beat", "10/beat")),
	    CONFDIFF_PERIODIC | CONFDIFF_FORWARDER);
	assert_int_equal(diff_extra(*state,
	    "periodic { heartbeat_interval = 5 }\n"), CONFDIFF_PERIODIC);
	assert_int_equal(diff_extra(*state,
	    "periodic { config_interval = 0.5 }\n"), CONFDIFF_PERIODIC);
}

static void
test_sink_settings_restart_sink_only(void **state)
{
	assert_int_equal(diff_extra(*state, "sink { port = 18080 }\n"),
	    CONFDIFF_SINK);
	assert_int_equal(diff_extra(*state, "sink { enabled = true }\n"),
	    CONFDIFF_SINK);
	assert_int_equal(diff_extra(*state, "sink { api_key = \"k\" }\n"),
	    CONFDIFF_SINK);
}

static void
test_one_edit_of_two_sections(void **state)
{
	assert_int_equal(diff_extra(*state,
	    "sink { port = 18080 }\nforwarder { batch_size = 10 }\n"),
	    CONFDIFF_SINK | CONFDIFF_FORWARDER);
}

static void
test_per_program_functions_agree(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*a, *b;
	char			 text[4096];

	a = load(f, base);
	snprintf(text, sizeof(text), "%s%s", base,
	    "receiver { bind = \"0.0.0.0\" }\n");
	b = load(f, text);
	assert_int_equal(confdiff_receiver(a, b), 1);
	assert_int_equal(confdiff_forwarder(a, b), 0);
	assert_int_equal(confdiff_sink(a, b), 0);
	assert_int_equal(confdiff_collectors(a, b), 0);
	assert_int_equal(confdiff_periodic(a, b), 0);
	assert_int_equal(confdiff(a, a), 0);
	conf_free(a);
	conf_free(b);
}

static void
test_bits_by_name(void **state)
{
	(void)state;
	assert_int_equal(confdiff_bit("receiver"), CONFDIFF_RECEIVER);
	assert_int_equal(confdiff_bit("forwarder"), CONFDIFF_FORWARDER);
	assert_int_equal(confdiff_bit("sink"), CONFDIFF_SINK);
	assert_int_equal(confdiff_bit("collectors"), CONFDIFF_COLLECTORS);
	assert_int_equal(confdiff_bit("periodic"), CONFDIFF_PERIODIC);
	assert_int_equal(confdiff_bit("fleet"), CONFDIFF_FLEET);
	/* Unknown: the supervisor then restarts it on every reload. */
	assert_int_equal(confdiff_bit("supervisor"), 0);
	assert_int_equal(confdiff_bit(""), 0);
}

/*
 * A tripwire, not a test of behaviour: confdiff.c compares the fields that
 * have a row in the table of keys, so a field added to conf.h restarts
 * nothing on change until its row says who reads it. When a size below no
 * longer matches, give the new fields their rows in common/confkeys.c
 * (the readers column), add a case above, then update the size here.
 * (ferry_conf's env_keys, the FERRY_* variables that were applied, is not
 * a setting: the values they set are what is compared; nor is exposed, the
 * files that set a secret others may read.)
 */
static void
test_conf_structs_unchanged_since_classified(void **state)
{
	(void)state;
#define SIZE_IS(type, n) do {						\
	if (sizeof(type) != (n))					\
		fail_msg("%s is %zu bytes, was %d: give its new "	\
		    "fields rows in common/confkeys.c", #type,		\
		    sizeof(type), (n));					\
} while (0)
	SIZE_IS(struct ferry_conf, 568);
	SIZE_IS(struct receiver_conf, 48);
	SIZE_IS(struct spool_conf, 40);
	SIZE_IS(struct forwarder_conf, 72);
	SIZE_IS(struct output_conf, 72);
	SIZE_IS(struct conn_conf, 48);
	SIZE_IS(struct log_conf, 112);
	SIZE_IS(struct redact_conf, 16);
	SIZE_IS(struct sample_conf, 16);
	SIZE_IS(struct event_conf, 48);
	SIZE_IS(struct logmetric_conf, 104);
	SIZE_IS(struct collectors_conf, 72);
	SIZE_IS(struct collector_conf, 72);
	SIZE_IS(struct periodic_conf, 24);
	SIZE_IS(struct sink_conf, 32);
	SIZE_IS(struct fleet_conf, 88);
	SIZE_IS(struct discover_conf, 16);
#undef SIZE_IS
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_same_config_touches_nothing),
		T(test_comments_and_layout_touch_nothing),
		T(test_default_spelled_out_touches_nothing),
		T(test_user_touches_no_child),
		T(test_output_added_restarts_forwarder_only),
		T(test_output_uri_restarts_forwarder_only),
		T(test_output_api_key_restarts_forwarder_only),
		T(test_output_renamed_restarts_forwarder),
		T(test_output_in_fragment_restarts_forwarder),
		T(test_fleet_fragment_restarts_forwarder_only),
		T(test_fleet_settings_restart_fleet_only),
		T(test_connection_keys_restart_forwarder_only),
		T(test_forwarder_section_restarts_forwarder_only),
		T(test_log_changes_restart_tail_only),
		T(test_derive_rules_restart_tail_only),
		T(test_discover_restarts_tail_only),
		T(test_receiver_port_restarts_receiver_only),
		T(test_receiver_max_line_sizes_forwarder_batches),
		T(test_api_key_touches_its_readers),
		T(test_names_and_spool_touch_every_writer),
		T(test_collector_settings_restart_collectors_only),
		T(test_periodic_settings_restart_periodic_only),
		T(test_sink_settings_restart_sink_only),
		T(test_one_edit_of_two_sections),
		T(test_per_program_functions_agree),
		T(test_bits_by_name),
		T(test_conf_structs_unchanged_since_classified),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
