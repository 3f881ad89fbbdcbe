/*
 * test_etcd: etcd's v3 messages in the JSON of its gateway
 * (common/etcd.c). The answers below are what etcd 3.4's gateway sent
 * when asked by hand (curl), so the parsers are held to the real shapes:
 * int64 as strings, bytes in base64, zero values left out.
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
#include "etcd.h"

static void
test_base64(void **state)
{
	static const struct {
		const char	*plain, *b64;
	} v[] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "/ferry/drains/x", "L2ZlcnJ5L2RyYWlucy94" },
	};
	struct buf	b;
	size_t		i;

	(void)state;
	buf_init(&b, 0);
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_reset(&b);
		assert_int_equal(etcd_b64_encode(&b, v[i].plain,
		    strlen(v[i].plain)), 0);
		assert_int_equal(b.len, strlen(v[i].b64));
		if (b.len > 0)
			assert_memory_equal(b.p, v[i].b64, b.len);
		buf_reset(&b);
		assert_int_equal(etcd_b64_decode(&b, v[i].b64,
		    strlen(v[i].b64)), 0);
		assert_int_equal(b.len, strlen(v[i].plain));
		if (b.len > 0)
			assert_memory_equal(b.p, v[i].plain, b.len);
	}
	/* Bytes of every value survive the round trip. */
	{
		unsigned char	all[256];

		for (i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		buf_reset(&b);
		assert_int_equal(etcd_b64_encode(&b, all, 256), 0);
		{
			struct buf	d;

			buf_init(&d, 0);
			assert_int_equal(etcd_b64_decode(&d, b.p, b.len), 0);
			assert_int_equal(d.len, 256);
			assert_memory_equal(d.p, all, 256);
			buf_free(&d);
		}
	}
	/* Not base64: a bad length, a bad character, padding inside. */
	assert_int_equal(etcd_b64_decode(&b, "Zg=", 3), -1);
	assert_int_equal(etcd_b64_decode(&b, "Zg!=", 4), -1);
	assert_int_equal(etcd_b64_decode(&b, "Zg==Zg==", 8), -1);
	assert_int_equal(etcd_b64_decode(&b, "Z===", 4), -1);
	buf_free(&b);
}

static void
test_prefix_end(void **state)
{
	char	out[16];

	(void)state;
	assert_int_equal(etcd_prefix_end("/ferry/", out, sizeof(out)), 0);
	assert_string_equal(out, "/ferry0");
	assert_int_equal(etcd_prefix_end("a\xff", out, sizeof(out)), 0);
	assert_string_equal(out, "b");
	assert_int_equal(etcd_prefix_end("\xff\xff", out, sizeof(out)), -1);
	assert_int_equal(etcd_prefix_end("", out, sizeof(out)), -1);
	assert_int_equal(etcd_prefix_end("0123456789abcdefg", out,
	    sizeof(out)), -1);
}

static void
test_bodies(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(etcd_body_range(&b, "/ferry/drains/", "/ferry/hosts0"),
	    0);
	assert_string_equal(b.p, "{\"key\":\"L2ZlcnJ5L2RyYWlucy8=\","
	    "\"range_end\":\"L2ZlcnJ5L2hvc3RzMA==\"}");
	assert_int_equal(etcd_body_range(&b, "k", NULL), 0);
	assert_string_equal(b.p, "{\"key\":\"aw==\"}");
	assert_int_equal(etcd_body_put(&b, "k", "v", 1, 0), 0);
	assert_string_equal(b.p, "{\"key\":\"aw==\",\"value\":\"dg==\"}");
	assert_int_equal(etcd_body_put(&b, "k", "", 0, 7587869843968147051LL),
	    0);
	assert_string_equal(b.p, "{\"key\":\"aw==\",\"value\":\"\","
	    "\"lease\":\"7587869843968147051\"}");
	assert_int_equal(etcd_body_watch(&b, "a", "b", 42), 0);
	assert_string_equal(b.p, "{\"create_request\":{\"key\":\"YQ==\","
	    "\"range_end\":\"Yg==\",\"start_revision\":\"42\"}}");
	assert_int_equal(etcd_body_lease_grant(&b, 30), 0);
	assert_string_equal(b.p, "{\"TTL\":\"30\"}");
	assert_int_equal(etcd_body_lease(&b, 12), 0);
	assert_string_equal(b.p, "{\"ID\":\"12\"}");
	/* A password with a quote is escaped, not cut. */
	assert_int_equal(etcd_body_auth(&b, "ferry", "p\"w"), 0);
	assert_string_equal(b.p, "{\"name\":\"ferry\",\"password\":\"p\\\"w\"}");
	buf_free(&b);
}

struct seen {
	int	n;
	char	keys[8][64];
	char	values[8][64];
	int	types[8];
	int64_t	revs[8];
};

static void
note(int type, const struct etcd_kv *kv, void *arg)
{
	struct seen	*s = arg;

	assert_true(s->n < 8);
	snprintf(s->keys[s->n], 64, "%.*s", (int)kv->keylen, kv->key);
	snprintf(s->values[s->n], 64, "%.*s", (int)kv->valuelen, kv->value);
	s->types[s->n] = type;
	s->revs[s->n] = kv->mod_revision;
	s->n++;
}

static void
test_range(void **state)
{
	const char	*a = "{\"header\":{\"cluster_id\":\"3249525912006437"
	    "19\",\"member_id\":\"3319814642761637952\",\"revision\":\"2\","
	    "\"raft_term\":\"2\"},\"kvs\":[{\"key\":\"L2ZlcnJ5L2RyYWlucy94\","
	    "\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
	    "\"value\":\"aHR0cDovL2Ev\"}],\"count\":\"1\"}";
	const char	*empty = "{\"header\":{\"cluster_id\":\"1\",\"revision\":"
	    "\"4\",\"raft_term\":\"2\"}}";
	struct seen	s;
	int64_t		rev;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(etcd_parse_range(a, strlen(a), &rev, note, &s), 0);
	assert_int_equal(rev, 2);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.keys[0], "/ferry/drains/x");
	assert_string_equal(s.values[0], "http://a/");
	assert_int_equal(s.revs[0], 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(etcd_parse_range(empty, strlen(empty), &rev, note,
	    &s), 0);
	assert_int_equal(rev, 4);
	assert_int_equal(s.n, 0);
	/* An error answer is not a range. */
	assert_int_equal(etcd_parse_range("{\"error\":\"x\",\"code\":3}", 22,
	    &rev, note, &s), -1);
	assert_int_equal(etcd_parse_range("{\"header\":", 10, &rev, note, &s),
	    -1);
}

static void
test_watch(void **state)
{
	const char	*created = "{\"result\":{\"header\":{\"cluster_id\":\"1\","
	    "\"revision\":\"2\",\"raft_term\":\"2\"},\"created\":true}}";
	const char	*events = "{\"result\":{\"header\":{\"revision\":\"3\"},"
	    "\"events\":[{\"kv\":{\"key\":\"L2ZlcnJ5L2RyYWlucy94\","
	    "\"create_revision\":\"2\",\"mod_revision\":\"2\",\"version\":\"1\","
	    "\"value\":\"aHR0cDovL2Ev\"}},{\"type\":\"DELETE\",\"kv\":{\"key\":"
	    "\"L2ZlcnJ5L2RyYWlucy94\",\"mod_revision\":\"3\"}}]}}";
	const char	*compacted = "{\"result\":{\"header\":{\"cluster_id\":"
	    "\"1\",\"raft_term\":\"2\"},\"canceled\":true,\"compact_revision\":"
	    "\"4\"}}";
	struct etcd_watch_msg	m;
	struct seen		s;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(etcd_parse_watch(created, strlen(created), &m, note,
	    &s), 0);
	assert_true(m.created);
	assert_false(m.canceled);
	assert_int_equal(m.revision, 2);
	assert_int_equal(s.n, 0);
	assert_int_equal(etcd_parse_watch(events, strlen(events), &m, note,
	    &s), 0);
	assert_int_equal(m.nevents, 2);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.types[0], ETCD_EVENT_PUT);
	assert_string_equal(s.values[0], "http://a/");
	assert_int_equal(s.types[1], ETCD_EVENT_DELETE);
	assert_string_equal(s.keys[1], "/ferry/drains/x");
	assert_int_equal(s.revs[1], 3);
	assert_int_equal(etcd_parse_watch(compacted, strlen(compacted), &m,
	    note, &s), 0);
	assert_true(m.canceled);
	assert_int_equal(m.compact_revision, 4);
}

static void
test_errors_leases_tokens(void **state)
{
	const char	*unary = "{\"error\":\"etcdserver: requested lease not "
	    "found\",\"message\":\"etcdserver: requested lease not found\","
	    "\"code\":5}";
	const char	*stream = "{\"error\":{\"grpc_code\":14,\"http_code\":503,"
	    "\"message\":\"transport is closing\",\"http_status\":\"Service "
	    "Unavailable\"}}";
	const char	*grant = "{\"header\":{\"revision\":\"4\"},\"ID\":"
	    "\"2324035784884887307\",\"TTL\":\"5\"}";
	const char	*kept = "{\"result\":{\"header\":{\"revision\":\"4\"},"
	    "\"ID\":\"1\",\"TTL\":\"30\"}}";
	const char	*gone = "{\"result\":{\"header\":{\"revision\":\"4\"},"
	    "\"ID\":\"1\"}}";
	const char	*token = "{\"header\":{\"revision\":\"4\"},\"token\":"
	    "\"swcmXsYwudkCXdrH.26\"}";
	char		msg[128], tok[64];
	int64_t		id, ttl, n;
	int		code;

	(void)state;
	assert_int_equal(etcd_parse_error(unary, strlen(unary), &code, msg,
	    sizeof(msg)), 1);
	assert_int_equal(code, ETCD_CODE_NOT_FOUND);
	assert_string_equal(msg, "etcdserver: requested lease not found");
	assert_int_equal(etcd_parse_error(stream, strlen(stream), &code, msg,
	    sizeof(msg)), 1);
	assert_int_equal(code, 14);
	assert_string_equal(msg, "transport is closing");
	assert_int_equal(etcd_parse_error(grant, strlen(grant), &code, msg,
	    sizeof(msg)), 0);
	assert_int_equal(etcd_parse_error("nope", 4, &code, msg, sizeof(msg)),
	    -1);
	assert_int_equal(etcd_parse_lease(grant, strlen(grant), &id, &ttl), 0);
	assert_int_equal(id, 2324035784884887307LL);
	assert_int_equal(ttl, 5);
	assert_int_equal(etcd_parse_lease(kept, strlen(kept), &id, &ttl), 0);
	assert_int_equal(ttl, 30);
	assert_int_equal(etcd_parse_lease(gone, strlen(gone), &id, &ttl), 0);
	assert_int_equal(ttl, 0);
	assert_int_equal(etcd_parse_token(token, strlen(token), tok,
	    sizeof(tok)), 0);
	assert_string_equal(tok, "swcmXsYwudkCXdrH.26");
	assert_int_equal(etcd_parse_deleted("{\"header\":{},\"deleted\":\"1\"}",
	    27, &n), 0);
	assert_int_equal(n, 1);
}

static void
test_stream_split(void **state)
{
	const char	*two = "{\"result\":{\"a\":\"}{\\\"\"}}\n{\"result\":{}}\n";
	size_t		 first;

	(void)state;
	first = (size_t)etcd_stream_next(two, strlen(two));
	assert_int_equal(first, strlen("{\"result\":{\"a\":\"}{\\\"\"}}"));
	assert_int_equal(etcd_stream_next(two + first, strlen(two) - first),
	    strlen("\n{\"result\":{}}"));
	/* Half a message: wait for more. */
	assert_int_equal(etcd_stream_next("{\"result\":{", 11), 0);
	assert_int_equal(etcd_stream_next("  \n", 3), 0);
	assert_int_equal(etcd_stream_next("x{}", 3), -1);
	assert_int_equal(etcd_stream_next("}", 1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_prefix_end),
		cmocka_unit_test(test_bodies),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_errors_leases_tokens),
		cmocka_unit_test(test_stream_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
