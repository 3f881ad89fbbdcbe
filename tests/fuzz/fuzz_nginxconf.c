/*
 * Fuzz target for reading an nginx configuration (tail/nginxconf.c): the
 * main file up to the first 0x1f byte, then a file it may include as
 * "inc.conf" (or "*.conf"). An operator writes these, but ferry-tail reads
 * whatever a running nginx was given, so a file nginx itself would refuse
 * must not hurt it. Invariants on every input:
 *  - no crash, leak or read out of bounds; the read is bounded (files,
 *    depth, includes of itself);
 *  - every log found has an absolute path and a format text;
 *  - notes and files stay within their bounds.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../tail/found.c"
#include "../../tail/nginxconf.c"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct found		 c;
	const uint8_t		*p = data, *piece;
	size_t			 len = size, plen, i;
	char			 conf[512], inc[512], err[256];

	fuzz_quiet();
	snprintf(conf, sizeof(conf), "%s/nginx.conf", fuzz_dir());
	snprintf(inc, sizeof(inc), "%s/inc.conf", fuzz_dir());
	if (!fuzz_piece(&p, &len, 0x1f, &piece, &plen))
		return 0;
	fuzz_write(conf, piece, plen);
	if (p != NULL && fuzz_piece(&p, &len, 0x1f, &piece, &plen))
		fuzz_write(inc, piece, plen);
	else
		fuzz_write(inc, "", 0);
	memset(&c, 0, sizeof(c));
	assert(nginxconf_read(conf, "/prefix/", "/var/log/nginx/access.log",
	    &c, err, sizeof(err)) == 0);
	assert(c.nnotes <= FOUND_NOTES_MAX);
	for (i = 0; i < c.nlogs; i++) {
		assert(c.logs[i].path[0] == '/');
		assert(c.logs[i].text != NULL && c.logs[i].format != NULL);
		assert(c.logs[i].origin != NULL);
	}
	found_free(&c);
	return 0;
}
