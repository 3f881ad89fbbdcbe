/*
 * batch: the records an output will send in one request, as the request
 * body itself (newline-terminated lines), so sending costs no second copy.
 * The buffer grows to the largest batch seen and is reused after that.
 */
#include <stdlib.h>
#include <string.h>

#include "forwarder.h"
#include "log.h"

/* Append line plus '\n'; cap bounds the body. 0, or -1 when it won't fit. */
int
batch_add(struct batch *b, const char *line, size_t len, size_t cap)
{
	size_t	 need = b->len + len + 1, ncap;
	char	*nbody;

	if (need > b->cap) {
		if (need > cap)
			return -1;
		ncap = b->cap ? b->cap : 16384;
		while (ncap < need)
			ncap *= 2;
		if (ncap > cap)
			ncap = cap;
		if ((nbody = realloc(b->body, ncap)) == NULL) {
			log_warn("realloc");
			return -1;
		}
		b->body = nbody;
		b->cap = ncap;
	}
	memcpy(b->body + b->len, line, len);
	b->body[b->len + len] = '\n';
	b->len = need;
	b->n++;
	return 0;
}

void
batch_clear(struct batch *b)
{
	b->len = 0;
	b->n = 0;
	b->nself = 0;
	b->first_ms = 0;
}

void
batch_free(struct batch *b)
{
	free(b->body);
	memset(b, 0, sizeof(*b));
}
