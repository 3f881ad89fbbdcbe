/*
 * test_hash: the one hash function (common/hash.c). Its values are kept
 * across versions (a collector's phase, the configuration digest that
 * ferry-supervisor hands to a ferry-periodic of another build), so they are
 * pinned here to FNV-1a's published test vectors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "hash.h"

static void
test_fnv1a_vectors(void **state)
{
	(void)state;
	assert_true(hash_str("") == 0xcbf29ce484222325ULL);
	assert_true(hash_str("a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_str("foobar") == 0x85944171f73967e8ULL);
}

static void
test_bytes_continue(void **state)
{
	(void)state;
	assert_true(hash_bytes(hash_bytes(HASH_INIT, "foo", 3), "bar", 3) ==
	    hash_str("foobar"));
	assert_true(hash_bytes(HASH_INIT, "a\0b", 3) != hash_str("a"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fnv1a_vectors),
		cmocka_unit_test(test_bytes_continue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
