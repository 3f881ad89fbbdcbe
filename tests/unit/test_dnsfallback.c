/*
 * test_dnsfallback: the fallback resolver's policy (common/dnsfallback.c):
 * the syntax of dns_servers, how long an answer is used, when the fallback
 * starts and stops being used (each logged once), and the CURLOPT_RESOLVE
 * entry. Time is passed in, so nothing sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dnsfallback.h"

static void
test_server_parse_valid(void **state)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "192.0.2.1", "192.0.2.1:53" },
		{ "127.0.0.1:5353", "127.0.0.1:5353" },
		{ "2001:db8::1", "[2001:db8::1]:53" },
		{ "::1", "[::1]:53" },
		{ "[::1]", "[::1]:53" },
		{ "[2001:db8::1]:5300", "[2001:db8::1]:5300" },
		{ "10.0.0.1:1", "10.0.0.1:1" },
		{ "10.0.0.1:65535", "10.0.0.1:65535" },
	};
	char	buf[DNSFB_SERVER_LEN];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(buf, 0, sizeof(buf));
		assert_int_equal(dnsfallback_server_parse(ok[i].in, buf,
		    sizeof(buf)), 0);
		assert_string_equal(buf, ok[i].out);
		assert_int_equal(dnsfallback_server_parse(ok[i].in, NULL, 0), 0);
	}
}

static void
test_server_parse_invalid(void **state)
{
	static const char *const bad[] = {
		"", "dns.example.com", "dns.example.com:53", "192.0.2.1:",
		"192.0.2.1:0", "192.0.2.1:65536", "192.0.2.1:+53",
		"192.0.2.1: 53", "192.0.2.1:53x", "192.0.2", "256.0.0.1",
		"[::1", "[::1]53", "[::1]:", "[192.0.2.1]:53", "[]:53",
		"::1:53:zz", " 192.0.2.1", "192.0.2.1:99999999999999999999",
	};
	char	buf[DNSFB_SERVER_LEN];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dnsfallback_server_parse(bad[i], buf, sizeof(buf)) != -1)
			fail_msg("\"%s\" was accepted as a DNS server", bad[i]);
	assert_int_equal(dnsfallback_server_parse(NULL, NULL, 0), -1);
}

static void
test_server_parse_small_buffer(void **state)
{
	char	buf[8];

	(void)state;
	assert_int_equal(dnsfallback_server_parse("192.0.2.100", buf,
	    sizeof(buf)), -1);
}

static void
test_expiry_bounds(void **state)
{
	(void)state;
	/* Below the floor (and nonsense) is the floor. */
	assert_int_equal(dnsfallback_expiry(1000, 0), 1000 + DNSFB_MIN_TTL * 1000);
	assert_int_equal(dnsfallback_expiry(1000, 5), 1000 + DNSFB_MIN_TTL * 1000);
	assert_int_equal(dnsfallback_expiry(1000, -7), 1000 + DNSFB_MIN_TTL * 1000);
	assert_int_equal(dnsfallback_expiry(0, 30), 30000);
	assert_int_equal(dnsfallback_expiry(500, 300), 300500);
	assert_int_equal(dnsfallback_expiry(0, 10L * DNSFB_MAX_TTL),
	    (uint64_t)DNSFB_MAX_TTL * 1000);
}

/* A whole episode: system fails, fallback used, expires, system back. */
static void
test_episode(void **state)
{
	struct dnsfb_state	st;
	uint64_t		t = 1000000;

	(void)state;
	memset(&st, 0, sizeof(st));
	/* Nothing pinned: nothing to expire, nothing to end. */
	assert_int_equal(dnsfallback_expired(&st, t), 0);
	assert_int_equal(dnsfallback_system_ok(&st), 0);

	/* The first answer starts the fallback: logged once. */
	assert_int_equal(dnsfallback_pin(&st, t, 60), 1);
	assert_true(st.pinned && st.active);
	assert_int_equal(st.expires_ms, t + 60000);
	/* While pinned a success proves nothing about the system resolver. */
	assert_int_equal(dnsfallback_system_ok(&st), 0);
	assert_int_equal(dnsfallback_expired(&st, t + 59999), 0);
	assert_true(st.pinned);

	/* Expired: dropped once; the fallback is still "in use". */
	assert_int_equal(dnsfallback_expired(&st, t + 60000), 1);
	assert_false(st.pinned);
	assert_true(st.active);
	assert_int_equal(dnsfallback_expired(&st, t + 60001), 0);

	/* The system still fails: a new answer, not logged again. */
	assert_int_equal(dnsfallback_pin(&st, t + 60010, 10), 0);
	assert_int_equal(st.expires_ms, t + 60010 + DNSFB_MIN_TTL * 1000);
	assert_int_equal(dnsfallback_expired(&st, st.expires_ms), 1);

	/* The system resolves again: logged once, back to the start. */
	assert_int_equal(dnsfallback_system_ok(&st), 1);
	assert_int_equal(dnsfallback_system_ok(&st), 0);
	assert_false(st.active);
	assert_false(st.pinned);

	/* A later failure starts a new episode, logged again. */
	assert_int_equal(dnsfallback_pin(&st, t + 200000, 3600), 1);
	assert_int_equal(st.expires_ms, t + 200000 + 3600000);
}

static void
test_resolve_entry(void **state)
{
	static const char addrs[DNSFB_ADDRS_MAX][DNSFB_ADDR_LEN] = {
		"192.0.2.7", "[2001:db8::7]", "192.0.2.8" };
	char	buf[128], tiny[24];

	(void)state;
	assert_int_equal(dnsfallback_resolve_entry(buf, sizeof(buf),
	    "collector.example", 443, addrs,
	    1), 0);
	assert_string_equal(buf, "collector.example:443:192.0.2.7");
	assert_int_equal(dnsfallback_resolve_entry(buf, sizeof(buf),
	    "collector.example", 8080, addrs,
	    3), 0);
	assert_string_equal(buf,
	    "collector.example:8080:192.0.2.7,[2001:db8::7],192.0.2.8");
	/* No address, or no room: no entry, never a cut one. */
	assert_int_equal(dnsfallback_resolve_entry(buf, sizeof(buf),
	    "collector.example", 443, addrs,
	    0), -1);
	assert_int_equal(dnsfallback_resolve_entry(tiny, sizeof(tiny),
	    "collector.example", 443, addrs,
	    1), -1);
	assert_int_equal(dnsfallback_resolve_entry(tiny, sizeof(tiny),
	    "a.example", 443, addrs, 2), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_parse_valid),
		cmocka_unit_test(test_server_parse_invalid),
		cmocka_unit_test(test_server_parse_small_buffer),
		cmocka_unit_test(test_expiry_bounds),
		cmocka_unit_test(test_episode),
		cmocka_unit_test(test_resolve_entry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
