/*
 * test_confkeys: the table of configuration keys itself (common/confkeys.c):
 * that every row is well formed and its default lies in its range, that
 * the rows cover every field of the structs of conf.h and each is filled
 * from its own key, and that the list of keys in man/ferry.conf.5 is the
 * table's (`make man` rewrites it).
 *
 * The behaviour of loading (messages, conf.d, FERRY_*) is test_conf.c's;
 * this file is about the table being complete and right, so that adding
 * a key cannot go half done.
 *
 * It reads man/ferry.conf.5 from the current directory: `make unit` runs
 * the tests from the top of the tree.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#include "conf.h"
#include "confkeys.h"

#define MAN_PAGE	"man/ferry.conf.5"

struct fixture {
	char	root[64];
	char	main[128];
	char	ca[128];	/* a file that exists: a valid ca_file */
};

static int
setup(void **state)
{
	const struct conf_key	*keys;
	struct fixture		*f;
	char			 env[128];
	FILE			*fp;
	size_t			 n, i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	strcpy(f->root, "/tmp/ferry-test-confkeys-XXXXXX");
	if (mkdtemp(f->root) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	snprintf(f->main, sizeof(f->main), "%s/ferry.conf", f->root);
	snprintf(f->ca, sizeof(f->ca), "%s/ca.pem", f->root);
	if ((fp = fopen(f->ca, "w")) == NULL || fclose(fp) != 0)
		return -1;
	/* No variable of the caller's may set a key here. */
	keys = conf_keys(&n);
	for (i = 0; i < n; i++)
		if (conf_key_env(&keys[i], env, sizeof(env)) != NULL)
			unsetenv(env);
	return setenv("FERRY_ROOT", f->root, 1);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	int		 rc;

	rc = test_rmtree(f->root);
	unsetenv("FERRY_ROOT");
	free(f);
	return rc;
}

static const struct conf_section *
section_of(const struct conf_key *k)
{
	const struct conf_section	*sec = conf_section_find(k->section);

	if (sec == NULL)
		fail_msg("%s.%s: no section \"%s\"", k->section, k->name,
		    k->section);
	return sec;
}

static void
test_sections_well_formed(void **state)
{
	const struct conf_section	*secs, *up;
	size_t				 n, i, j;

	(void)state;
	secs = conf_sections(&n);
	assert_true(n > 1);
	assert_string_equal(secs[0].path, "");
	for (i = 1; i < n; i++) {
		/* A parent exists, and comes first (the file's order). */
		if ((up = conf_section_parent(&secs[i])) == NULL || up >= &secs[i])
			fail_msg("section %s: no parent before it", secs[i].path);
		if (secs[i].flags & CONF_TITLED)
			assert_true(secs[i].flags & CONF_MULTI);
		if (secs[i].flags & CONF_MULTI)
			assert_true(secs[i].size > 0);
		assert_non_null(secs[i].help);
		/*
		 * libconfuse tells a section by its last name only, so a
		 * value's row is found by (last name, key): they must differ.
		 */
		for (j = 0; j < i; j++)
			if (strcmp(conf_section_name(&secs[i]),
			    conf_section_name(&secs[j])) == 0)
				fail_msg("sections %s and %s share a name",
				    secs[i].path, secs[j].path);
	}
}

static void
test_rows_well_formed(void **state)
{
	const struct conf_key		*keys, *k, *from;
	const struct conf_section	*fsec;
	size_t				 n, i, j;
	unsigned			 bit;

	(void)state;
	keys = conf_keys(&n);
	assert_true(n >= 60);
	for (i = 0; i < n; i++) {
		k = &keys[i];
		(void)section_of(k);
		for (j = 0; j < i; j++)
			if (strcmp(keys[j].section, k->section) == 0 &&
			    strcmp(keys[j].name, k->name) == 0)
				fail_msg("%s.%s: two rows", k->section, k->name);
		if (k->help == NULL || k->help[0] == '\0')
			fail_msg("%s.%s: no help", k->section, k->name);
		/* Each reader a program confdiff knows. */
		for (bit = 1; bit != 0; bit <<= 1)
			if (k->readers & bit && confdiff_name(bit) == NULL)
				fail_msg("%s.%s: reader 0x%x is no program",
				    k->section, k->name, bit);
		switch (k->type) {
		case CONF_KEY_STR:
			assert_int_equal(k->size, sizeof(char *));
			break;
		case CONF_KEY_LIST:
			assert_int_equal(k->size, sizeof(char **));
			assert_true(k->noff != 0 || k->off != 0);
			break;
		case CONF_KEY_INT:
			assert_true(k->size == sizeof(int) ||
			    k->size == sizeof(uint64_t));
			break;
		case CONF_KEY_SIZE:
			assert_int_equal(k->size, sizeof(uint64_t));
			break;
		case CONF_KEY_FLOAT:
			assert_int_equal(k->size, sizeof(double));
			break;
		case CONF_KEY_BOOL:
			assert_int_equal(k->size, sizeof(int));
			break;
		case CONF_KEY_ENUM:
			assert_int_equal(k->size, sizeof(int));
			assert_non_null(k->choices);
			/* 0 is "not set": no choice may be it. */
			for (j = 0; k->choices[j].name != NULL; j++)
				assert_int_not_equal(k->choices[j].value, 0);
			break;
		}
		if (k->from == NULL)
			continue;
		/* It takes a value filled before it, from a single section. */
		if ((fsec = conf_section_find(k->from)) == NULL ||
		    conf_section_parent(fsec) != conf_section_find("") ||
		    fsec->flags & CONF_MULTI)
			fail_msg("%s.%s: from %s, not a single top-level "
			    "section", k->section, k->name, k->from);
		assert_non_null(from = conf_key_lookup(k->from, k->name));
		assert_null(from->from);
		assert_int_equal(from->type, k->type);
		assert_int_equal(from->size, k->size);
	}
}

static void
test_defaults_in_range(void **state)
{
	const struct conf_key	*keys, *k;
	struct conf_value	 v;
	char			 err[256];
	size_t			 n, i;

	(void)state;
	keys = conf_keys(&n);
	for (i = 0; i < n; i++) {
		k = &keys[i];
		switch (k->type) {
		case CONF_KEY_INT:
		case CONF_KEY_SIZE:
		case CONF_KEY_FLOAT:
			if (k->def == NULL)
				fail_msg("%s.%s: a number without a default",
				    k->section, k->name);
			assert_true(k->min <= k->max);
			break;
		case CONF_KEY_BOOL:
			if (k->def == NULL || (strcmp(k->def, "true") != 0 &&
			    strcmp(k->def, "false") != 0))
				fail_msg("%s.%s: default not true or false",
				    k->section, k->name);
			continue;
		case CONF_KEY_LIST:
			assert_null(k->def);	/* {}: lists start empty */
			continue;
		default:
			break;
		}
		if (k->def != NULL &&
		    conf_key_parse(k, k->def, &v, err, sizeof(err)) == -1)
			fail_msg("%s.%s: default \"%s\" refused: %s", k->section,
			    k->name, k->def, err);
	}
}

/* The struct a section's keys are in: the nearest repeated one, or the top. */
static const struct conf_section *
owner(const struct conf_section *sec)
{
	while (sec->path[0] != '\0' && !(sec->flags & CONF_MULTI))
		sec = conf_section_parent(sec);
	return sec;
}

static void
mark(unsigned char *used, size_t size, size_t off, size_t len,
    const char *what)
{
	size_t	i;

	if (off + len > size)
		fail_msg("%s: past the end of its struct", what);
	for (i = off; i < off + len; i++) {
		if (used[i])
			fail_msg("%s: a byte at %zu is another row's too", what,
			    i);
		used[i] = 1;
	}
}

static void
test_every_field_has_a_row(void **state)
{
	const struct conf_section	*secs, *o;
	const struct conf_key		*keys;
	unsigned char			 used[1024];
	size_t				 nsecs, nkeys, size, i, j, g;

	(void)state;
	secs = conf_sections(&nsecs);
	keys = conf_keys(&nkeys);
	/* Each struct: the top one, and each repeated section's element. */
	for (i = 0; i < nsecs; i++) {
		o = &secs[i];
		if (o != owner(o))
			continue;
		size = o->path[0] == '\0' ? sizeof(struct ferry_conf) : o->size;
		assert_true(size <= sizeof(used));
		memset(used, 0, sizeof(used));
		for (j = 0; j < nkeys; j++) {
			if (owner(section_of(&keys[j])) != o)
				continue;
			mark(used, size, keys[j].off, keys[j].size, keys[j].name);
			if (keys[j].type == CONF_KEY_LIST)
				mark(used, size, keys[j].noff, sizeof(size_t),
				    keys[j].name);
		}
		if (o->flags & CONF_TITLED)
			mark(used, size, o->titleoff, sizeof(char *), "name");
		for (j = 0; j < nsecs; j++) {
			if (!(secs[j].flags & CONF_MULTI) || j == i ||
			    owner(conf_section_parent(&secs[j])) != o)
				continue;
			mark(used, size, secs[j].off, sizeof(void *), secs[j].path);
			mark(used, size, secs[j].noff, sizeof(size_t),
			    secs[j].path);
		}
		/* What conf_load() adds that no key sets. */
		if (o->path[0] == '\0') {
			mark(used, size, offsetof(struct ferry_conf, path),
			    sizeof(char *), "path");
			mark(used, size, offsetof(struct ferry_conf, env_keys),
			    sizeof(char **), "env_keys");
			mark(used, size, offsetof(struct ferry_conf, nenv_keys),
			    sizeof(size_t), "nenv_keys");
			mark(used, size, offsetof(struct ferry_conf, exposed),
			    sizeof(char **), "exposed");
			mark(used, size, offsetof(struct ferry_conf, nexposed),
			    sizeof(size_t), "nexposed");
		}
		/*
		 * What is left must be padding: short of 8 bytes and up to an
		 * 8-byte boundary. (An int beside another int is not caught
		 * here; test_confdiff.c's sizes trip on most such fields.)
		 */
		for (j = 0; j < size; j = g) {
			if (used[j]) {
				g = j + 1;
				continue;
			}
			for (g = j; g < size && !used[g]; g++)
				;
			if (g - j >= 8 || g % 8 != 0)
				fail_msg("%s: bytes %zu to %zu of its struct have "
				    "no row", o->path[0] ? o->path : "ferry_conf",
				    j, g);
		}
	}
}

/*
 * A valid value of k unlike its default and unlike "a" (which a key
 * without a default gets in the base file), into buf as written in a file.
 */
static const char *
other_value(const struct fixture *f, const struct conf_key *k, char *buf,
    size_t size)
{
	const char	*cand[] = { "b", f->ca, "192.0.2.1", "/b/",
			    "http://b:2379", NULL };
	double		 v;
	size_t		 i;

	switch (k->type) {
	case CONF_KEY_INT:
	case CONF_KEY_SIZE:
	case CONF_KEY_FLOAT:
		v = atof(k->def) == k->max ? k->min : k->max;
		if (k->type == CONF_KEY_FLOAT)
			snprintf(buf, size, "%.15g", v);
		else
			snprintf(buf, size, "%.0f", v);
		return buf;
	case CONF_KEY_BOOL:
		return strcmp(k->def, "true") == 0 ? "false" : "true";
	case CONF_KEY_ENUM:
		for (i = 0; k->choices[i].name != NULL; i++)
			if (k->def == NULL || strcmp(k->choices[i].name, k->def))
				break;
		snprintf(buf, size, "\"%s\"", k->choices[i].name);
		return buf;
	default:
		break;
	}
	if (k->flags & CONF_URI)
		cand[0] = "http://b/";
	/* The check of an enabled sink resolves its address, as it does. */
	if (strcmp(k->section, "sink") == 0 && strcmp(k->name, "bind") == 0)
		cand[0] = "127.0.0.2";
	for (i = 0; cand[i] != NULL; i++)
		if (conf_key_parse(k, cand[i], NULL, buf, size) == 0)
			break;
	if (cand[i] == NULL)
		fail_msg("%s.%s: no value to try", k->section, k->name);
	snprintf(buf, size, k->type == CONF_KEY_LIST ? "{\"%s\"}" : "\"%s\"",
	    cand[i]);
	return buf;
}

/*
 * Keys that rules across keys tie to others (conf.c's validate_rule): a
 * derive rule parses by match or by format, never both nor neither, and
 * no group is named as its counter. Written as given here, in the base
 * file (NULL: as the other rows) and in the full one.
 */
static const struct {
	const char	*section, *name, *base, *full;
} tied[] = {
	{ "event", "match", "\"a\"", "\"\"" },
	{ "logmetric", "match", "\"a\"", "\"\"" },
	{ "logmetric", "counter", NULL, "\"c\"" },
};

static const char *
tied_value(const struct conf_key *k, int all)
{
	size_t	i;

	for (i = 0; i < sizeof(tied) / sizeof(tied[0]); i++)
		if (strcmp(tied[i].section, k->section) == 0 &&
		    strcmp(tied[i].name, k->name) == 0)
			return all ? tied[i].full : tied[i].base;
	return NULL;
}

/*
 * Section sec into f: every key set to another value when all, else only
 * those without a default; a section that may repeat, once.
 */
static void
write_section(FILE *fp, const struct fixture *f,
    const struct conf_section *sec, int all)
{
	const struct conf_section	*secs;
	const struct conf_key		*keys, *k;
	char				 buf[256];
	size_t				 nsecs, nkeys, i;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	for (i = 0; i < nkeys; i++) {
		k = &keys[i];
		if (strcmp(k->section, sec->path) != 0)
			continue;
		if (tied_value(k, all) != NULL)
			fprintf(fp, "%s = %s\n", k->name, tied_value(k, all));
		else if (all)
			fprintf(fp, "%s = %s\n", k->name,
			    other_value(f, k, buf, sizeof(buf)));
		else if (k->type == CONF_KEY_STR && k->def == NULL &&
		    !(k->flags & CONF_ROOTED))
			fprintf(fp, "%s = \"%s\"\n", k->name,
			    k->flags & CONF_URI ? "http://a/" : "a");
	}
	for (i = 0; i < nsecs; i++) {
		if (conf_section_parent(&secs[i]) != sec)
			continue;
		fprintf(fp, "%s%s {\n", conf_section_name(&secs[i]),
		    secs[i].flags & CONF_TITLED ? " \"t\"" : "");
		write_section(fp, f, &secs[i], all);
		fprintf(fp, "}\n");
	}
}

static struct ferry_conf *
load_written(const struct fixture *f, int all)
{
	struct conf_errors	 errs;
	struct ferry_conf	*c;
	char			 buf[600];
	FILE			*fp;
	int			 i;

	assert_non_null(fp = fopen(f->main, "w"));
	write_section(fp, f, conf_section_find(""), all);
	assert_int_equal(fclose(fp), 0);
	if ((c = conf_load(f->main, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			print_message("conf error: %s\n",
			    conf_error_str(&errs.e[i], buf, sizeof(buf)));
		fail_msg("the %s file was refused", all ? "full" : "base");
	}
	return c;
}

/* Every row of sec (and below) holds a different value in a and b. */
static void
assert_section_differs(const struct conf_section *sec, const void *a,
    const void *b)
{
	const struct conf_section	*secs, *sub;
	const struct conf_key		*keys;
	size_t				 nsecs, nkeys, i;

	keys = conf_keys(&nkeys);
	secs = conf_sections(&nsecs);
	for (i = 0; i < nkeys; i++)
		if (strcmp(keys[i].section, sec->path) == 0 &&
		    !conf_key_differ(&keys[i], a, b))
			fail_msg("%s.%s: set in the file, not in its field",
			    keys[i].section, keys[i].name);
	for (i = 0; i < nsecs; i++) {
		sub = &secs[i];
		if (conf_section_parent(sub) != sec)
			continue;
		if (!(sub->flags & CONF_MULTI)) {
			assert_section_differs(sub, a, b);
			continue;
		}
		assert_int_equal(*(const size_t *)((const char *)a + sub->noff), 1);
		assert_int_equal(*(const size_t *)((const char *)b + sub->noff), 1);
		assert_section_differs(sub,
		    *(const char *const *)((const char *)a + sub->off),
		    *(const char *const *)((const char *)b + sub->off));
	}
}

static void
test_every_key_fills_its_field(void **state)
{
	struct fixture		*f = *state;
	struct ferry_conf	*a, *b;

	/*
	 * One file with every section once and only the keys without a
	 * default, one with every key set to some other valid value: each
	 * row's field must tell them apart.
	 */
	a = load_written(f, 0);
	b = load_written(f, 1);
	assert_section_differs(conf_section_find(""), a, b);
	conf_free(a);
	conf_free(b);
}

static void
test_env_names(void **state)
{
	char	buf[128];

	(void)state;
	assert_string_equal(conf_key_env(conf_key_lookup("", "api_key"), buf,
	    sizeof(buf)), "FERRY_API_KEY");
	assert_string_equal(conf_key_env(conf_key_lookup("receiver",
	    "tcp_port"), buf, sizeof(buf)), "FERRY_RECEIVER_TCP_PORT");
	/* Lists, and the sections that take a name, have none. */
	assert_null(conf_key_env(conf_key_lookup("forwarder", "dns_servers"),
	    buf, sizeof(buf)));
	assert_null(conf_key_env(conf_key_lookup("output", "uri"), buf,
	    sizeof(buf)));
	assert_null(conf_key_env(conf_key_lookup("sample", "rate"), buf,
	    sizeof(buf)));
}

static void
count_key(const char *section, const char *name, enum conf_key_type type,
    void *arg)
{
	size_t	*count = arg;

	assert_non_null(conf_section_find(section));
	assert_true(type <= CONF_KEY_ENUM);
	assert_true(name[0] != '\0');
	(*count)++;
}

static void
test_each_walks_the_table(void **state)
{
	size_t	n, count = 0;

	(void)state;
	(void)conf_keys(&n);
	conf_key_each(count_key, &count);
	assert_int_equal(count, n);
}

static void
test_man_page_is_current(void **state)
{
	(void)state;
	if (access(MAN_PAGE, R_OK) == -1)
		fail_msg("%s: not found (run from the top of the tree)",
		    MAN_PAGE);
	if (conf_man_update(MAN_PAGE, 0) != 0)
		fail_msg("%s does not list the keys of common/confkeys.c: "
		    "run make man", MAN_PAGE);
}

static void
test_man_page_lists_every_key(void **state)
{
	const struct conf_section	*secs;
	const struct conf_key		*keys;
	FILE				*fp;
	char				 line[1024];
	const char			*want[256];
	size_t				 nsecs, nkeys, i, j, nwant = 0, nseen = 0;
	size_t				 nss = 0;
	int				 in = 0;

	(void)state;
	secs = conf_sections(&nsecs);
	keys = conf_keys(&nkeys);
	/* The keys, section by section, in the table's order. */
	for (i = 0; i < nsecs; i++)
		for (j = 0; j < nkeys; j++)
			if (strcmp(keys[j].section, secs[i].path) == 0) {
				assert_true(nwant < 256);
				want[nwant++] = keys[j].name;
			}
	assert_int_equal(nwant, nkeys);
	assert_non_null(fp = fopen(MAN_PAGE, "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strcmp(line, ".\\\" BEGIN KEYS\n") == 0)
			in = 1;
		else if (strcmp(line, ".\\\" END KEYS\n") == 0)
			in = 0;
		if (!in)
			continue;
		if (strncmp(line, ".SS ", 4) == 0)
			nss++;
		if (strncmp(line, ".B ", 3) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (nseen >= nwant || strcmp(line + 3, want[nseen]) != 0)
			fail_msg("%s: key %zu is \"%s\", the table's is \"%s\"",
			    MAN_PAGE, nseen, line + 3, nseen < nwant ?
			    want[nseen] : "(none)");
		nseen++;
	}
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(nseen, nwant);
	assert_int_equal(nss, nsecs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sections_well_formed),
		cmocka_unit_test(test_rows_well_formed),
		cmocka_unit_test(test_defaults_in_range),
		cmocka_unit_test(test_every_field_has_a_row),
		cmocka_unit_test_setup_teardown(test_every_key_fills_its_field,
		    setup, teardown),
		cmocka_unit_test(test_env_names),
		cmocka_unit_test(test_each_walks_the_table),
		cmocka_unit_test(test_man_page_is_current),
		cmocka_unit_test(test_man_page_lists_every_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
