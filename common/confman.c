/*
 * confman: the list of keys in ferry.conf(5), written from the table of
 * keys (common/confkeys.c): each section, then each key with what it is
 * for, its type and range, its default, its FERRY_* variable and what a
 * change of it restarts.
 *
 * The page is hand-written around that list, which sits between two
 * marker lines; `make man` (tools/mankeys) rewrites what is between them,
 * and tests/unit/test_confkeys.c fails while the page in the tree is not
 * what the table says, so the page cannot drift from the code.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confdiff.h"
#include "confkeys.h"
#include "log.h"

#define BEGIN_MARK	".\\\" BEGIN KEYS\n"
#define END_MARK	".\\\" END KEYS\n"
#define MAN_MAX		(1024 * 1024)

/* Text on a roff text line: backslashes escaped, a leading dot kept. */
static void
roff(FILE *f, const char *s)
{
	if (*s == '.' || *s == '\'')
		fputs("\\&", f);
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", f);
		else
			fputc(*s, f);
	}
}

/* "the TCP port; 0: no TCP" as a sentence, on a line of its own. */
static void
sentence(FILE *f, const char *s)
{
	char	buf[512];
	size_t	len;

	(void)snprintf(buf, sizeof(buf), "%s", s);
	if (buf[0] >= 'a' && buf[0] <= 'z')
		buf[0] -= 'a' - 'A';
	roff(f, buf);
	len = strlen(buf);
	fputs(len > 0 && buf[len - 1] == '.' ? "\n" : ".\n", f);
}

/* How a section is written: log "NAME" { redact { } }. */
static void
section_form(FILE *f, const struct conf_section *sec, const char *inner)
{
	const struct conf_section	*up = conf_section_parent(sec);
	char				 buf[256];

	(void)snprintf(buf, sizeof(buf), "%s%s { %s%s}",
	    conf_section_name(sec), sec->flags & CONF_TITLED ?
	    " \\(dqNAME\\(dq" : "", inner, inner[0] != '\0' ? " " : "");
	if (up != NULL && up->path[0] != '\0')
		section_form(f, up, buf);
	else
		fputs(buf, f);
}

static void
bound(FILE *f, const struct conf_key *k, double v)
{
	char	buf[32];

	if (k->type == CONF_KEY_SIZE)
		fputs(conf_size_str((uint64_t)v, buf, sizeof(buf)), f);
	else
		fprintf(f, "%.15g", v);
}

/* What values a key takes. */
static void
key_type(FILE *f, const struct conf_key *k)
{
	size_t	i;

	switch (k->type) {
	case CONF_KEY_STR:
		fputs(k->flags & CONF_URI ? "A URI" : k->flags & CONF_ROOTED ?
		    "A path" : "A string", f);
		break;
	case CONF_KEY_LIST:
		fputs("A list of strings", f);
		break;
	case CONF_KEY_INT:
		fputs("A whole number", f);
		break;
	case CONF_KEY_SIZE:
		fputs("A size (K, M or G may follow)", f);
		break;
	case CONF_KEY_FLOAT:
		fputs("A number", f);
		break;
	case CONF_KEY_BOOL:
		fputs("A boolean, true or false", f);
		break;
	case CONF_KEY_ENUM:
		fputs("One of", f);
		for (i = 0; k->choices[i].name != NULL; i++)
			fprintf(f, "%s \\(dq%s\\(dq", i > 0 ? "," : "",
			    k->choices[i].name);
		break;
	}
	if (k->type == CONF_KEY_INT || k->type == CONF_KEY_SIZE ||
	    k->type == CONF_KEY_FLOAT) {
		fputs(" from ", f);
		bound(f, k, k->min);
		fputs(" to ", f);
		bound(f, k, k->max);
	}
	fputs(".\n", f);
}

static void
key_default(FILE *f, const struct conf_key *k)
{
	if (k->from != NULL) {
		fprintf(f, "Default: %s.%s.\n", k->from, k->name);
		return;
	}
	if (k->type == CONF_KEY_LIST) {
		fputs("Default: {}.\n", f);
		return;
	}
	if (k->def == NULL && k->unset != NULL) {
		fputs("Not set: ", f);
		roff(f, k->unset);
		fputs(".\n", f);
		return;
	}
	if (k->def == NULL) {
		fputs("No default.\n", f);
		return;
	}
	fputs("Default: ", f);
	if (k->type == CONF_KEY_STR || k->type == CONF_KEY_ENUM) {
		fputs("\\(dq", f);
		roff(f, k->def);
		fputs("\\(dq", f);
	} else
		roff(f, k->def);
	fputs(k->flags & CONF_ROOTED ? ", under $FERRY_ROOT when it is set.\n" :
	    ".\n", f);
}

/* "A change restarts ferry-receiver and ferry-forwarder." */
static void
key_readers(FILE *f, const struct conf_key *k)
{
	const char	*names[8];
	unsigned	 bit;
	size_t		 i, n = 0;

	for (bit = 1; bit != 0 && n < 8; bit <<= 1)
		if (k->readers & bit)
			names[n++] = confdiff_name(bit);
	if (n == 0) {
		fputs("A reload restarts no program: it takes a restart of "
		    "ferry-supervisor.\n", f);
		return;
	}
	fputs("A change restarts", f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s ferry-%s", i == 0 ? "" : i == n - 1 ? " and" : ",",
		    names[i] != NULL ? names[i] : "?");
	fputs(".\n", f);
}

void
conf_man_keys(FILE *f)
{
	const struct conf_section	*secs;
	const struct conf_key		*keys, *k;
	char				 env[128];
	size_t				 nsecs, nkeys, i, j;

	secs = conf_sections(&nsecs);
	keys = conf_keys(&nkeys);
	for (i = 0; i < nsecs; i++) {
		fputs(".SS \"", f);
		if (secs[i].path[0] == '\0')
			fputs("The top level", f);
		else
			section_form(f, &secs[i], "");
		fputs("\"\n", f);
		sentence(f, secs[i].help);
		for (j = 0; j < nkeys; j++) {
			k = &keys[j];
			if (strcmp(k->section, secs[i].path) != 0)
				continue;
			fprintf(f, ".TP\n.B %s\n", k->name);
			sentence(f, k->help);
			key_type(f, k);
			key_default(f, k);
			if (conf_key_env(k, env, sizeof(env)) != NULL)
				fprintf(f, "Environment: %s.\n", env);
			key_readers(f, k);
		}
	}
}

/* The whole file at path, NUL-terminated, or NULL (logged). */
static char *
slurp(const char *path)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("%s", path);
		return NULL;
	}
	if ((buf = malloc(MAN_MAX + 1)) == NULL)
		fatal("malloc");
	n = fread(buf, 1, MAN_MAX + 1, f);
	(void)fclose(f);
	if (n > MAN_MAX) {
		log_warnx("%s: larger than %d bytes", path, MAN_MAX);
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Write text to path through a temporary file, so no reader sees half. */
static int
replace(const char *path, const char *text, size_t len)
{
	FILE	*f;
	char	 tmp[4096];
	size_t	 n;

	(void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		return -1;
	}
	/* Closed whatever fwrite() did: a short write leaked the FILE. */
	n = fwrite(text, 1, len, f);
	if (fclose(f) == EOF || n != len) {
		log_warn("%s", tmp);
		(void)unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) == -1) {
		log_warn("rename %s", path);
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
conf_man_update(const char *path, int write)
{
	FILE	*mem;
	char	*page, *begin, *end, *keys = NULL, *out = NULL;
	size_t	 nkeys = 0, nout = 0;
	int	 rc = -1;

	if ((page = slurp(path)) == NULL)
		return -1;
	if ((begin = strstr(page, BEGIN_MARK)) == NULL ||
	    (end = strstr(begin, END_MARK)) == NULL) {
		log_warnx("%s: no \"%.*s\" and \"%.*s\" lines", path,
		    (int)strlen(BEGIN_MARK) - 1, BEGIN_MARK,
		    (int)strlen(END_MARK) - 1, END_MARK);
		goto done;
	}
	begin += strlen(BEGIN_MARK);
	if ((mem = open_memstream(&keys, &nkeys)) == NULL)
		fatal("open_memstream");
	conf_man_keys(mem);
	if (fclose(mem) == EOF)
		fatal("open_memstream");
	if ((size_t)(end - begin) == nkeys && memcmp(begin, keys, nkeys) == 0) {
		rc = 0;
		goto done;
	}
	if (!write) {
		rc = 1;
		goto done;
	}
	if ((mem = open_memstream(&out, &nout)) == NULL)
		fatal("open_memstream");
	fprintf(mem, "%.*s%s%s", (int)(begin - page), page, keys, end);
	if (fclose(mem) == EOF)
		fatal("open_memstream");
	rc = replace(path, out, nout);
done:
	free(out);
	free(keys);
	free(page);
	return rc;
}
