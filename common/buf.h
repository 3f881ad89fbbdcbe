/*
 * buf: a growable byte buffer with a ceiling, so whatever is built in memory
 * from outside input (a request body, a reply, a batch rendered for a peer)
 * stays bounded. The content is always followed by a NUL (not counted in
 * len), so a buffer can be read as a C string.
 */
#ifndef FERRY_BUF_H
#define FERRY_BUF_H

#include <stddef.h>

/* A byte buffer that grows up to max (0: no limit). */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

void	buf_init(struct buf *, size_t);
void	buf_free(struct buf *);
/* Make room for n more bytes; -1 with errno EFBIG past max, ENOMEM. */
int	buf_reserve(struct buf *, size_t);
int	buf_add(struct buf *, const void *, size_t);
int	buf_addstr(struct buf *, const char *);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Hand the memory to the caller (who frees it); the buffer is empty after. */
char	*buf_take(struct buf *, size_t *);

/* Empty it, keeping its memory for the next use. */
void	buf_reset(struct buf *);

#endif
