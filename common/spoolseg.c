/*
 * spoolseg: the spool's segments (see spoolseg.h): a segment's path from
 * its stream and seq, a file name read back as those, and the listing of
 * both places that writers (to find their last segment) and readers (to
 * find the next one past a gap) share.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "spoolseg.h"

#define SEQ_DIGITS	16

int
spool_seg_path(char *buf, size_t size, const char *dir, const char *stream,
    uint64_t seq)
{
	int	n = snprintf(buf, size, "%s/%s.%0*" PRIu64, dir, stream, SEQ_DIGITS, seq);

	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int
spool_name_parse(const char *name, char *stream, size_t size, uint64_t *seq)
{
	const char	*dot = strrchr(name, '.');
	size_t		 slen, i;
	uint64_t	 v = 0;

	if (dot == NULL || strlen(dot + 1) != SEQ_DIGITS)
		return -1;
	slen = dot - name;
	if (slen == 0 || slen >= size || slen >= SPOOL_STREAM_MAX)
		return -1;
	for (i = 0; i < slen; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return -1;
	for (i = 1; i <= SEQ_DIGITS; i++) {
		if (!isdigit((unsigned char)dot[i]))
			return -1;
		v = v * 10 + (dot[i] - '0');
	}
	memcpy(stream, name, slen);
	stream[slen] = '\0';
	*seq = v;
	return 0;
}

static int
seg_cmp(const void *a, const void *b)
{
	const struct spool_seg	*x = a, *y = b;
	int			 c = strcmp(x->stream, y->stream);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Append dir's segments to *segs; 0, or -1 (logged). A missing memdir is empty. */
static int
list_dir(const char *dir, int inmem, struct spool_seg **segs, size_t *n,
    size_t *cap)
{
	DIR		*d;
	struct dirent	*de;
	struct spool_seg *tmp;
	struct stat	 st;
	char		 path[4096];

	if ((d = opendir(dir)) == NULL) {
		if (inmem && errno == ENOENT)
			return 0;
		log_warn("opendir %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct spool_seg s;

		memset(&s, 0, sizeof(s));
		if (spool_name_parse(de->d_name, s.stream, sizeof(s.stream), &s.seq) == -1)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path) ||
		    stat(path, &st) == -1)
			continue;	/* deleted since readdir: nothing to list */
		s.size = st.st_size;
		s.mtime = st.st_mtime;
		s.inmem = inmem;
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			if ((tmp = reallocarray(*segs, *cap, sizeof(**segs))) == NULL) {
				log_warn("reallocarray");
				closedir(d);
				return -1;
			}
			*segs = tmp;
		}
		(*segs)[(*n)++] = s;
	}
	closedir(d);
	return 0;
}

int
spool_list(const char *dir, const char *memdir, struct spool_seg **out,
    size_t *nout)
{
	struct spool_seg *segs = NULL;
	size_t		 n = 0, cap = 0, i;

	*out = NULL;
	*nout = 0;
	if (list_dir(dir, 0, &segs, &n, &cap) == -1 ||
	    (memdir != NULL && memdir[0] != '\0' &&
	    list_dir(memdir, 1, &segs, &n, &cap) == -1)) {
		free(segs);
		return -1;
	}
	if (n > 1)
		qsort(segs, n, sizeof(*segs), seg_cmp);
	for (i = 0; i + 1 < n; i++)
		segs[i].finished = strcmp(segs[i].stream, segs[i + 1].stream) == 0;
	*out = segs;
	*nout = n;
	return 0;
}
