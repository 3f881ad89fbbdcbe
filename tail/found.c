/*
 * found: a discoverer's answer (see discover.h), built by the discoverer
 * and read by discover.c: the files a service logs to, each once by path,
 * and the notes on what it skipped, bounded in number.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"

int
found_add(struct found *f, const char *path, const char *format,
    const char *text, const char *origin)
{
	struct found_log	*nl;
	size_t			 i;

	for (i = 0; i < f->nlogs; i++)
		if (strcmp(f->logs[i].path, path) == 0)
			return 0;
	if ((nl = reallocarray(f->logs, f->nlogs + 1, sizeof(*nl))) == NULL)
		return -1;
	f->logs = nl;
	nl += f->nlogs;
	nl->path = strdup(path);
	nl->format = strdup(format);
	nl->text = text != NULL ? strdup(text) : NULL;
	nl->origin = strdup(origin);
	if (nl->path == NULL || nl->format == NULL || nl->origin == NULL ||
	    (text != NULL && nl->text == NULL)) {
		free(nl->path);
		free(nl->format);
		free(nl->text);
		free(nl->origin);
		return -1;
	}
	f->nlogs++;
	return 0;
}

void
found_note(struct found *f, const char *fmt, ...)
{
	va_list	 ap;
	char	*s, **nn;

	if (f->nnotes >= FOUND_NOTES_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s == NULL || (nn = reallocarray(f->notes, f->nnotes + 1,
	    sizeof(*nn))) == NULL) {
		free(s);
		return;
	}
	f->notes = nn;
	nn[f->nnotes++] = s;
}

void
found_free(struct found *f)
{
	size_t	i;

	for (i = 0; i < f->nlogs; i++) {
		free(f->logs[i].path);
		free(f->logs[i].format);
		free(f->logs[i].text);
		free(f->logs[i].origin);
	}
	for (i = 0; i < f->nnotes; i++)
		free(f->notes[i]);
	free(f->logs);
	free(f->notes);
	memset(f, 0, sizeof(*f));
}
