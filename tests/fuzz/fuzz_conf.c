/*
 * Fuzz target for whole configuration files: libconfuse, our comment
 * stripping, every key's check in the table (common/confkeys.c) and the
 * checks across keys (common/conf.c), as `ferryctl check-config`, each
 * program at its start and ferry-periodic's reload check run them.
 *
 * The input is ferry.conf, and after a NUL byte (which ends a file's text
 * anyway) a conf.d fragment. Invariants on every input:
 *  - conf_load() never crashes, leaks or reads out of bounds, and refuses
 *    with at least one error, each with a message;
 *  - a configuration it accepts loads again to the same settings (confdiff
 *    finds no program touched), and conf_free() frees all of it (LSan).
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "confdiff.h"
#include "fuzz.h"

extern char	**environ;

static char	main_path[512], frag_dir[512], frag_path[600];

/* The environment's FERRY_* variables would override the file: none here. */
static void
setup(void)
{
	char	**e, name[256];
	size_t	  n;

	fuzz_quiet();
	for (e = environ; *e != NULL; ) {
		if (strncmp(*e, "FERRY_", 6) != 0) {
			e++;
			continue;
		}
		n = strcspn(*e, "=");
		snprintf(name, sizeof(name), "%.*s", (int)n, *e);
		unsetenv(name);
	}
	/* As under the supervisor's FERRY_ROOT: no lookup of the user. */
	if (setenv("FERRY_ROOT", fuzz_dir(), 1) == -1)
		abort();
	snprintf(main_path, sizeof(main_path), "%s/ferry.conf", fuzz_dir());
	snprintf(frag_dir, sizeof(frag_dir), "%s/conf.d", fuzz_dir());
	snprintf(frag_path, sizeof(frag_path), "%s/10-drain.conf", frag_dir);
	if (mkdir(frag_dir, 0700) == -1) {
		perror(frag_dir);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 ready;
	struct conf_errors	 errs;
	struct ferry_conf	*c, *again;
	const uint8_t		*p = data, *piece;
	char			**names;
	size_t			 len = size, plen;
	int			 i;

	if (!ready) {
		setup();
		ready = 1;
	}
	if (!fuzz_piece(&p, &len, '\0', &piece, &plen))
		piece = (const uint8_t *)"", plen = 0;
	fuzz_write(main_path, piece, plen);
	if (fuzz_piece(&p, &len, '\0', &piece, &plen))
		fuzz_write(frag_path, piece, plen);
	else
		(void)unlink(frag_path);

	if ((c = conf_load(main_path, &errs)) == NULL) {
		assert(errs.n > 0);
		for (i = 0; i < errs.n; i++)
			assert(errs.e[i].msg[0] != '\0');
		return 0;
	}
	assert(errs.n == 0);
	assert(confdiff(c, c) == 0);
	again = conf_load(main_path, &errs);
	assert(again != NULL);
	assert(confdiff(c, again) == 0);
	conf_free(again);
	if ((names = conf_file_outputs(main_path, &errs)) != NULL)
		conf_strings_free(names);
	conf_free(c);
	return 0;
}
