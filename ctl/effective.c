/*
 * effective: `ferryctl check-config --effective` prints the configuration
 * that the programs would run with: every key with its value, defaults
 * included, from the typed struct ferry_conf that conf_load() fills (never
 * from libconfuse, which stays inside common/conf.c).
 *
 * It walks the table of keys (common/confkeys.h), the one conf_load()
 * fills the struct by, so every key is shown: sections nested as in the
 * file, each row's field read at its offset. Secrets are masked (an
 * api_key that is set prints as "***", and so do a URI's password and
 * secret query parameters: url_mask() of common/url.c), and
 * keys set by FERRY_* environment variables say so. The text form is
 * itself valid configuration syntax.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "confkeys.h"
#include "ctl.h"
#include "url.h"

struct printer {
	const struct ferry_conf	*conf;
	int			 json;
};

static void	print_section(const struct printer *,
		    const struct conf_section *, const void *, int);
static void	print_value(const struct printer *, const struct conf_key *,
		    const void *);
static void	print_conf_str(const char *);
static const char *env_of(const struct ferry_conf *, const char *,
		    const char *, char *, size_t);

int
ctl_effective_print(const struct ctl *ctl, const struct ferry_conf *conf)
{
	struct printer	p;
	char		name[192];
	size_t		i;

	p.conf = conf;
	p.json = ctl->json;
	if (p.json) {
		printf("{\"ok\":true,\"file\":");
		json_str(stdout, conf->path != NULL ? conf->path : "");
		printf(",\"config\":");
		print_section(&p, conf_section_find(""), conf, 0);
		printf(",\"env\":{");
		for (i = 0; i < conf->nenv_keys; i++) {
			printf("%s", i ? "," : "");
			json_str(stdout, conf->env_keys[i]);
			printf(":");
			json_str(stdout, env_of(conf, NULL, conf->env_keys[i],
			    name, sizeof(name)));
		}
		/* Kept for scripts: the table leaves no key unknown to ferryctl. */
		printf("},\"not_shown\":[]}\n");
		return 0;
	}
	printf("# The effective configuration of %s\n# (with conf.d/, "
	    "defaults and FERRY_* overrides; secrets masked)\n",
	    conf->path != NULL ? conf->path : "?");
	print_section(&p, conf_section_find(""), conf, 0);
	return 0;
}

/*
 * One section (base points at the struct its keys are in): its keys, then
 * the sections inside it.
 */
static void
print_section(const struct printer *p, const struct conf_section *sec,
    const void *base, int depth)
{
	const struct conf_key		*keys, *k;
	const struct conf_section	*secs, *sub;
	const char			*name;
	const void			*elem;
	char				 env[128];
	size_t				 nkeys, nsecs, i, j, n;
	int				 first = 1;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	if (p->json)
		printf("{");
	if (sec->flags & CONF_TITLED && p->json) {
		printf("\"name\":");
		json_str(stdout, *CONF_AT(base, sec->titleoff, char *const *));
		first = 0;
	}
	for (i = 0; i < nkeys; i++) {
		k = &keys[i];
		if (strcmp(k->section, sec->path) != 0)
			continue;
		if (p->json) {
			printf("%s\"%s\":", first ? "" : ",", k->name);
			print_value(p, k, base);
			first = 0;
			continue;
		}
		if (k->type == CONF_KEY_ENUM && conf_key_int(k, base) == 0) {
			/* Not set, and no default: what that means. */
			printf("%*s# %s not set: %s\n", depth * 4, "", k->name,
			    k->unset != NULL ? k->unset : "no value");
			continue;
		}
		printf("%*s%s = ", depth * 4, "", k->name);
		print_value(p, k, base);
		if (conf_key_env(k, env, sizeof(env)) != NULL &&
		    env_of(p->conf, sec->path[0] != '\0' ? sec->path : NULL,
		    k->name, env, sizeof(env)) != NULL)
			printf("\t# from %s", env);
		printf("\n");
	}
	for (i = 0; i < nsecs; i++) {
		sub = &secs[i];
		if (conf_section_parent(sub) != sec)
			continue;
		name = conf_section_name(sub);
		if (p->json)
			printf("%s\"%s\":", first ? "" : ",", name);
		first = 0;
		if (!(sub->flags & CONF_MULTI)) {
			if (!p->json)
				printf("\n%*s%s {\n", depth * 4, "", name);
			print_section(p, sub, base, depth + 1);
			if (!p->json)
				printf("%*s}\n", depth * 4, "");
			continue;
		}
		n = *CONF_AT(base, sub->noff, const size_t *);
		if (p->json)
			printf("[");
		for (j = 0; j < n; j++) {
			elem = *CONF_AT(base, sub->off, const char *const *) +
			    j * sub->size;
			if (p->json)
				printf("%s", j ? "," : "");
			else if (sub->flags & CONF_TITLED) {
				printf("\n%*s%s ", depth * 4, "", name);
				print_conf_str(*CONF_AT(elem, sub->titleoff,
				    char *const *));
				printf(" {\n");
			} else
				printf("%*s%s {\n", depth * 4, "", name);
			print_section(p, sub, elem, depth + 1);
			if (!p->json)
				printf("%*s}\n", depth * 4, "");
		}
		if (p->json)
			printf("]");
	}
	if (p->json)
		printf("}");
}

static void
print_value(const struct printer *p, const struct conf_key *k,
    const void *base)
{
	const char	*s;
	char		 buf[4096];
	char *const	*list;
	size_t		 i, n;

	switch (k->type) {
	case CONF_KEY_STR:
		s = *CONF_AT(base, k->off, const char *const *);
		if (s == NULL)
			s = "";
		if (k->flags & CONF_SECRET && s[0] != '\0')
			s = "***";
		else if (k->flags & CONF_URI)
			s = url_mask(s, buf, sizeof(buf));
		if (p->json)
			json_str(stdout, s);
		else
			print_conf_str(s);
		break;
	case CONF_KEY_INT:
		printf("%lld", conf_key_int(k, base));
		break;
	case CONF_KEY_SIZE:
		if (p->json)
			printf("%lld", conf_key_int(k, base));
		else
			printf("%s", conf_size_str(conf_key_int(k, base), buf,
			    sizeof(buf)));
		break;
	case CONF_KEY_FLOAT:
		printf("%.15g", *CONF_AT(base, k->off, const double *));
		break;
	case CONF_KEY_BOOL:
		printf("%s", conf_key_int(k, base) ? "true" : "false");
		break;
	case CONF_KEY_ENUM:
		s = NULL;
		for (i = 0; k->choices[i].name != NULL; i++)
			if (k->choices[i].value == conf_key_int(k, base))
				s = k->choices[i].name;
		if (s == NULL)
			printf("null");	/* JSON only: the text notes it */
		else if (p->json)
			json_str(stdout, s);
		else
			print_conf_str(s);
		break;
	case CONF_KEY_LIST:
		list = *CONF_AT(base, k->off, char **const *);
		n = *CONF_AT(base, k->noff, const size_t *);
		printf(p->json ? "[" : "{");
		for (i = 0; i < n; i++) {
			printf("%s", i ? ", " : "");
			if (p->json)
				json_str(stdout, list[i]);
			else
				print_conf_str(list[i]);
		}
		printf(p->json ? "]" : "}");
		break;
	}
}

/* A string in libconfuse's syntax: quoted, with " and \ escaped. */
static void
print_conf_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * The FERRY_* variable that set key of section (NULL: the top level; or
 * key is already "section.key" when section is NULL and it has a dot),
 * into buf; NULL when no variable set it.
 */
static const char *
env_of(const struct ferry_conf *conf, const char *section, const char *key,
    char *buf, size_t size)
{
	char	full[128], *q;
	size_t	i;

	if (section != NULL)
		(void)snprintf(full, sizeof(full), "%s.%s", section, key);
	else
		(void)strlcpy(full, key, sizeof(full));
	for (i = 0; i < conf->nenv_keys; i++)
		if (strcmp(conf->env_keys[i], full) == 0)
			break;
	if (i == conf->nenv_keys)
		return NULL;
	(void)snprintf(buf, size, "FERRY_%s", full);
	for (q = buf; *q != '\0'; q++)
		*q = *q == '.' ? '_' : (char)toupper((unsigned char)*q);
	return buf;
}
