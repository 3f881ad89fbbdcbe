/*
 * hash: 64-bit FNV-1a (see hash.h for why this one and where it is stored).
 */
#include <string.h>

#include "hash.h"

#define HASH_PRIME	0x100000001b3ULL

uint64_t
hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= HASH_PRIME;
	}
	return h;
}

uint64_t
hash_str(const char *s)
{
	return hash_bytes(HASH_INIT, s, strlen(s));
}
