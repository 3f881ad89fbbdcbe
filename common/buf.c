/*
 * buf: a growable byte buffer with a ceiling, so every request body, every
 * reply and every batch rendered for a peer is bounded. The content is always followed
 * by a NUL (not counted in len), so a buffer can be read as a C string.
 * Functions here do not log: the caller knows what the bytes were for.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 need, cap;
	char	*p;

	if (n > SIZE_MAX - b->len - 1) {
		errno = EFBIG;
		return -1;
	}
	need = b->len + n + 1;
	if (b->max != 0 && need > b->max + 1) {
		errno = EFBIG;
		return -1;
	}
	if (need <= b->cap)
		return 0;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (b->max != 0 && cap > b->max + 1)
		cap = b->max + 1;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t n)
{
	if (buf_reserve(b, n) == -1)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

char *
buf_take(struct buf *b, size_t *len)
{
	char	*p;

	if (b->p == NULL && buf_reserve(b, 0) == -1)
		return NULL;
	/* buf_reserve() allocated: p is not NULL here. */
	if (b->len == 0)
		/* NOLINTNEXTLINE(clang-analyzer-core.NullDereference) */
		b->p[0] = '\0';
	p = b->p;
	*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}
