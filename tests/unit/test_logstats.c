/*
 * Unit tests for common/logstats.c: ferry-tail's self-metrics matched to the
 * configured log sections (names with dots included), read back from the
 * spool, and written as the one JSON object status and the heartbeat share.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "conf.h"
#include "logstats.h"
#include "selfmetrics.h"

static struct log_conf	logs[] = {
	{ .name = "app", .path = "/var/log/app/*.log" },
	{ .name = "app.web", .path = "/var/log/web/*.log" },
};

static void
conf_init(struct ferry_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->prefix = "servers";
	conf->hostname = "web1";
	conf->spool.segment_size = 1 << 20;
	conf->spool.max_size = 1 << 24;
	conf->logs = logs;
	conf->nlogs = 2;
}

static void
test_note_matches_whole_section_names(void **state)
{
	struct ferry_conf	conf;
	struct log_stats	v[2];

	(void)state;
	conf_init(&conf);
	memset(v, 0, sizeof(v));
	logstats_note(&conf, v, "log.app.lines", 7);
	logstats_note(&conf, v, "log.app.web.lines", 9);
	logstats_note(&conf, v, "log.app.web.errors", 2);
	/* Not a counter of either section, nor of one configured. */
	logstats_note(&conf, v, "log.app.webx.lines", 1);
	logstats_note(&conf, v, "log.gone.lines", 1);
	logstats_note(&conf, v, "log.app.unknown", 1);
	logstats_note(&conf, v, "open_files", 3);
	assert_true(v[0].published);
	assert_int_equal(v[0].lines, 7);
	assert_int_equal(v[0].errors, 0);
	assert_true(v[1].published);
	assert_int_equal(v[1].lines, 9);
	assert_int_equal(v[1].errors, 2);
}

static void
test_read_takes_the_latest_snapshot(void **state)
{
	struct ferry_conf	 conf;
	struct selfmetrics	*sm;
	struct log_stats	 v[2];
	char			 dir[] = "/tmp/ferry-test-logstats-XXXXXX";

	(void)state;
	conf_init(&conf);
	assert_non_null(mkdtemp(dir));
	assert_int_equal(logstats_read(&conf, dir, NULL, v), 0);
	assert_false(v[0].published);
	assert_non_null(sm = selfmetrics_open(&conf, dir, "tail"));
	selfmetrics_add(sm, "log.app.files", 1);
	selfmetrics_add(sm, "log.app.lag_bytes", 4096);
	assert_int_equal(selfmetrics_write(sm, 1700000000), 0);
	selfmetrics_add(sm, "log.app.files", 2);
	selfmetrics_add(sm, "log.app.lag_bytes", 0);
	assert_int_equal(selfmetrics_write(sm, 1700000001), 0);
	selfmetrics_close(sm);
	assert_int_equal(logstats_read(&conf, dir, NULL, v), 1);
	assert_true(v[0].published);
	assert_int_equal(v[0].files, 2);
	assert_int_equal(v[0].lag_bytes, 0);
	assert_false(v[1].published);
	test_rmtree(dir);
}

static void
test_json_is_null_until_published(void **state)
{
	struct log_stats	 v;
	char			*buf = NULL;
	size_t			 len;
	FILE			*fp;

	(void)state;
	memset(&v, 0, sizeof(v));
	assert_non_null(fp = open_memstream(&buf, &len));
	logstats_json(fp, &logs[1], &v);
	v.published = 1;
	v.lines = 5;
	v.sampled_out = 2;
	logstats_json(fp, &logs[0], &v);
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(buf,
	    "{\"name\":\"app.web\",\"path\":\"/var/log/web/*.log\","
	    "\"published\":false,\"files\":null,\"lines\":null,"
	    "\"bytes\":null,\"records\":null,\"cut\":null,"
	    "\"sampled_out\":null,\"rotations\":null,\"lost_bytes\":null,"
	    "\"errors\":null,\"lag_bytes\":null}"
	    "{\"name\":\"app\",\"path\":\"/var/log/app/*.log\","
	    "\"published\":true,\"files\":0,\"lines\":5,\"bytes\":0,"
	    "\"records\":0,\"cut\":0,\"sampled_out\":2,\"rotations\":0,"
	    "\"lost_bytes\":0,\"errors\":0,\"lag_bytes\":0}");
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_matches_whole_section_names),
		cmocka_unit_test(test_read_takes_the_latest_snapshot),
		cmocka_unit_test(test_json_is_null_until_published),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
