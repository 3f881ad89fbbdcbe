/*
 * embed: writes a C file that holds the given files as byte arrays, with
 * the table ferry-sink serves its page from (sink.h, struct ui_file): each
 * file's base name, bytes, length and an entity tag made from its bytes
 * (FNV-1a, 64 bits), so a browser can revalidate without a download. The
 * Makefile runs it on the files of sink/ui at build time, so the sink is
 * one binary and the page it serves cannot drift from the sources. A build
 * tool, not installed.
 *
 * The output is written to a temporary file and renamed, so an interrupted
 * build never leaves a half file that a later make takes as up to date.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

#define EMBED_MAX	(4UL << 20)	/* the page is small; this is a typo guard */

static const char *
base_name(const char *path)
{
	const char	*s;

	return (s = strrchr(path, '/')) != NULL ? s + 1 : path;
}

/* One file as "static const unsigned char ui_data_N[]"; its FNV-1a hash. */
static int
embed_file(FILE *out, const char *path, int n, size_t *len, uint64_t *hash)
{
	FILE		*in;
	int		 c;
	unsigned char	 b;

	if ((in = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "embed: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*len = 0;
	*hash = HASH_INIT;
	fprintf(out, "static const unsigned char ui_data_%d[] = {", n);
	while ((c = getc(in)) != EOF) {
		fprintf(out, "%s0x%02x,", *len % 12 == 0 ? "\n\t" : " ", c);
		b = (unsigned char)c;
		*hash = hash_bytes(*hash, &b, 1);
		if (++*len > EMBED_MAX) {
			fprintf(stderr, "embed: %s: larger than %lu bytes\n",
			    path, EMBED_MAX);
			fclose(in);
			return -1;
		}
	}
	/* An empty array is not C; the length below says 0 all the same. */
	fprintf(out, "%s\n};\n\n", *len == 0 ? "\n\t0x00," : "");
	if (ferror(in)) {
		fprintf(stderr, "embed: %s: read error\n", path);
		fclose(in);
		return -1;
	}
	fclose(in);
	return 0;
}

static int
embed(FILE *out, int nfiles, char **files)
{
	size_t		*lens;
	uint64_t	*hashes;
	int		 i, rc = 0;

	if ((lens = calloc((size_t)nfiles, sizeof(*lens))) == NULL ||
	    (hashes = calloc((size_t)nfiles, sizeof(*hashes))) == NULL) {
		free(lens);
		fprintf(stderr, "embed: out of memory\n");
		return -1;
	}
	fprintf(out, "/* Made by tools/embed from the files below: do not "
	    "edit. */\n#include <stddef.h>\n\n#include \"sink.h\"\n\n");
	for (i = 0; i < nfiles && rc == 0; i++)
		rc = embed_file(out, files[i], i, &lens[i], &hashes[i]);
	if (rc == 0) {
		fprintf(out, "const struct ui_file ui_files[] = {\n");
		for (i = 0; i < nfiles; i++)
			fprintf(out, "\t{ \"%s\", \"\\\"%016llx\\\"\", ui_data_%d, "
			    "%zu },\n", base_name(files[i]),
			    (unsigned long long)hashes[i], i, lens[i]);
		fprintf(out, "};\nconst size_t ui_nfiles = %d;\n", nfiles);
	}
	free(lens);
	free(hashes);
	return rc;
}

int
main(int argc, char *argv[])
{
	FILE	*out;
	char	 tmp[4096];
	int	 i, rc;

	if (argc < 3) {
		fprintf(stderr, "usage: embed out.c file...\n");
		return 64;
	}
	/* Names go into C strings unescaped: keep them plain. */
	for (i = 2; i < argc; i++)
		if (strpbrk(base_name(argv[i]), "\"\\") != NULL) {
			fprintf(stderr, "embed: %s: a quote or backslash in "
			    "the name\n", argv[i]);
			return 1;
		}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", argv[1]) >=
	    sizeof(tmp)) {
		fprintf(stderr, "embed: %s: name too long\n", argv[1]);
		return 1;
	}
	if ((out = fopen(tmp, "w")) == NULL) {
		fprintf(stderr, "embed: %s: %s\n", tmp, strerror(errno));
		return 1;
	}
	rc = embed(out, argc - 2, argv + 2);
	if (fclose(out) != 0 || rc == -1) {
		remove(tmp);
		return 1;
	}
	if (rename(tmp, argv[1]) == -1) {
		fprintf(stderr, "embed: %s: %s\n", argv[1], strerror(errno));
		remove(tmp);
		return 1;
	}
	return 0;
}
