/*
 * hash: the one hash function of the tree, 64-bit FNV-1a. Small, and the
 * same on every build and host, which matters where a value outlives the
 * process: a collector's phase in its interval (collectors/sched.c) and the
 * configuration digest (common/confhash.c) must come out the same after a
 * restart or an upgrade. Good enough to spread and to notice a change; not
 * for anything an attacker chooses to collide.
 */
#ifndef FERRY_HASH_H
#define FERRY_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Where every hash starts. */
#define HASH_INIT	0xcbf29ce484222325ULL

/* h continued over the n bytes at p: hash(a + b) = hash_bytes(hash(a), b). */
uint64_t	 hash_bytes(uint64_t, const void *, size_t);
/* A C string's hash (its bytes, not the NUL). */
uint64_t	 hash_str(const char *);

#endif
