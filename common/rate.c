/*
 * rate: previous counter values by key, and the state file that carries them
 * from one run of a collector to the next.
 *
 * Keys sit in an array in the order a collector reads them. Kernels print
 * their tables in a stable order, so the key wanted next is almost always
 * the one after the last found: lookup checks that slot first and scans
 * only when the table changed (an interface came or went). This keeps the
 * common case O(1) with no hash table to size.
 *
 * State file (text, one sample):
 *	ferry-rate 1
 *	boot <boot id>
 *	time <monotonic ms>
 *	<key> <value>
 *	...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "rate.h"

#define RATE_MAGIC	"ferry-rate 1"

struct rate_entry {
	char		key[RATE_KEY_MAX];
	uint64_t	value;
	int		seen;		/* in the current sample */
};

struct rate {
	struct rate_entry	*e;
	size_t			 n, cap;
	size_t			 next;		/* slot expected for the next key */
	uint64_t		 last_ms;	/* previous sample; 0: none */
	uint64_t		 now_ms;
	double			 elapsed;	/* seconds between the two */
};

struct rate *
rate_new(void)
{
	return calloc(1, sizeof(struct rate));
}

void
rate_free(struct rate *r)
{
	if (r == NULL)
		return;
	free(r->e);
	free(r);
}

size_t
rate_count(const struct rate *r)
{
	return r->n;
}

double
rate_begin(struct rate *r, uint64_t now_ms)
{
	size_t	i;

	for (i = 0; i < r->n; i++)
		r->e[i].seen = 0;
	r->next = 0;
	r->now_ms = now_ms;
	r->elapsed = 0;
	if (r->last_ms != 0 && now_ms > r->last_ms)
		r->elapsed = (double)(now_ms - r->last_ms) / 1000.0;
	return r->elapsed;
}

double
rate_elapsed(const struct rate *r)
{
	return r->elapsed;
}

static struct rate_entry *
rate_find(struct rate *r, const char *key)
{
	size_t	i, j;

	for (j = 0; j < r->n; j++) {
		i = (r->next + j) % r->n;
		if (strcmp(r->e[i].key, key) == 0) {
			r->next = i + 1;
			return &r->e[i];
		}
	}
	return NULL;
}

static struct rate_entry *
rate_add(struct rate *r, const char *key)
{
	struct rate_entry	*ne;
	size_t			 ncap;

	if (strlen(key) >= RATE_KEY_MAX || r->n >= RATE_KEYS_MAX)
		return NULL;
	if (r->n == r->cap) {
		ncap = r->cap == 0 ? 32 : r->cap * 2;
		if (ncap > RATE_KEYS_MAX)
			ncap = RATE_KEYS_MAX;
		/*
		 * realloc, not reallocarray: ncap <= RATE_KEYS_MAX cannot
		 * overflow, and libbsd's reallocarray would make every
		 * collector load two more shared libraries at each start.
		 */
		if ((ne = realloc(r->e, ncap * sizeof(*ne))) == NULL)
			return NULL;
		r->e = ne;
		r->cap = ncap;
	}
	ne = &r->e[r->n++];
	memset(ne, 0, sizeof(*ne));
	memcpy(ne->key, key, strlen(key) + 1);
	r->next = r->n;
	return ne;
}

int
rate_delta(struct rate *r, const char *key, uint64_t value, uint64_t *delta)
{
	struct rate_entry	*e;
	int			 known;

	if ((e = rate_find(r, key)) == NULL) {
		if ((e = rate_add(r, key)) != NULL) {
			e->value = value;
			e->seen = 1;
		}
		return 0;
	}
	/* Seen twice in one sample: the first value stands. */
	if (e->seen)
		return 0;
	known = value >= e->value;
	if (known)
		*delta = value - e->value;
	e->value = value;
	e->seen = 1;
	return known;
}

int
rate_per_sec(struct rate *r, const char *key, uint64_t value, double *per_sec)
{
	uint64_t	d;

	if (rate_delta(r, key, value, &d) != 1 || r->elapsed <= 0)
		return 0;
	*per_sec = (double)d / r->elapsed;
	return 1;
}

void
rate_end(struct rate *r)
{
	size_t	i, w = 0;

	for (i = 0; i < r->n; i++) {
		if (!r->e[i].seen)
			continue;
		if (w != i)
			r->e[w] = r->e[i];
		w++;
	}
	r->n = w;
	r->next = 0;
	r->last_ms = r->now_ms;
}

struct rate_load {
	struct rate	*r;
	const char	*boot_id;
	int		 line;
	int		 ok;		/* header matched so far */
};

static int
rate_load_line(char *line, void *arg)
{
	struct rate_load	*ld = arg;
	struct rate_entry	*e;
	char			*f[3];
	uint64_t		 v;
	int			 n;

	ld->line++;
	if (ld->line == 1) {
		ld->ok = strcmp(line, RATE_MAGIC) == 0;
		return ld->ok ? 0 : -1;
	}
	n = procfs_split(line, f, 3);
	if (ld->line == 2) {
		/* Another boot: counters and the monotonic clock restarted. */
		ld->ok = n == 2 && strcmp(f[0], "boot") == 0 &&
		    strcmp(f[1], ld->boot_id) == 0;
		return ld->ok ? 0 : -1;
	}
	if (n != 2 || procfs_u64(f[1], &v) == -1) {
		ld->ok = 0;
		return -1;
	}
	if (ld->line == 3) {
		ld->ok = strcmp(f[0], "time") == 0 && v != 0;
		ld->r->last_ms = v;
		return ld->ok ? 0 : -1;
	}
	if (rate_find(ld->r, f[0]) == NULL && (e = rate_add(ld->r, f[0])) != NULL)
		e->value = v;
	return 0;
}

int
rate_load(struct rate *r, const char *path, const char *boot_id)
{
	struct rate_load	ld = { r, boot_id, 0, 0 };

	r->n = 0;
	r->last_ms = 0;
	if (procfs_lines(path, rate_load_line, &ld) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!ld.ok || ld.line < 3) {
		r->n = 0;
		r->last_ms = 0;
		return 0;
	}
	r->next = 0;
	return 1;
}

int
rate_save(const struct rate *r, const char *path, const char *boot_id)
{
	char	 tmp[4096];
	FILE	*fp;
	size_t	 i;
	int	 n, saved, failed;

	n = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fp = fopen(tmp, "we")) == NULL)
		return -1;
	fprintf(fp, "%s\nboot %s\ntime %llu\n", RATE_MAGIC, boot_id,
	    (unsigned long long)r->last_ms);
	for (i = 0; i < r->n; i++)
		fprintf(fp, "%s %llu\n", r->e[i].key,
		    (unsigned long long)r->e[i].value);
	/*
	 * No fsync: this file only saves one sample's worth of rates. After
	 * a power loss a torn or empty file is refused by rate_load() and
	 * costs one interval without rates, which is not worth a disk flush
	 * per collector per interval. The rename still keeps readers from
	 * ever seeing half a file while the system runs.
	 */
	failed = ferror(fp);
	if (fclose(fp) == EOF || failed) {
		saved = errno != 0 ? errno : EIO;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}
