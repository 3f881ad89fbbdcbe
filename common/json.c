/*
 * json: a JSON string writer (see json.h). Bytes >= 0x80 pass through:
 * what ferry prints is UTF-8 or ASCII, and JSON takes UTF-8 as it is.
 */
#include <string.h>

#include "json.h"

void
json_str(FILE *fp, const char *s)
{
	json_strn(fp, s, strlen(s));
}

void
json_strn(FILE *fp, const char *s, size_t len)
{
	const unsigned char	*p, *end;

	fputc('"', fp);
	end = (const unsigned char *)s + len;
	for (p = (const unsigned char *)s; p < end; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}
