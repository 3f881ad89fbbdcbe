/*
 * Fuzz target for output URIs (common/url.c): what an operator, a drain
 * from the fleet or `ferryctl drain add` writes, checked by the
 * configuration and parsed again by the forwarder. Invariants on every
 * input:
 *  - url_parse() never reads outside the string and never crashes;
 *  - a URI it accepts has a known scheme, a port in range (none only for
 *    file://), NUL-terminated fields, a format that can be made, and the
 *    filters it reports are the ones url_matches() applies.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "fuzz.h"
#include "url.h"

static void
check(const struct url *u)
{
	struct format	*f;
	char		 err[256];
	int		 i;

	assert(u->scheme != NULL && scheme_find(u->scheme_name) == u->scheme);
	assert(u->port >= 0 && u->port <= 65535);
	assert(u->port > 0 || !u->scheme->needs_host);
	assert(memchr(u->host, '\0', sizeof(u->host)) != NULL);
	assert(memchr(u->path, '\0', sizeof(u->path)) != NULL);
	assert(memchr(u->target, '\0', sizeof(u->target)) != NULL);
	assert(memchr(u->target_logs, '\0', sizeof(u->target_logs)) != NULL);
	assert(u->nfilter >= 0 && u->nfilter <= URL_FILTERS_MAX);
	assert(u->datagram > 0 && u->datagram <= 65507);
	assert(u->fail_after >= 0);
	if (u->format[0] != '\0') {
		f = format_new(u->format, err, sizeof(err));
		assert(f != NULL);
		format_free(f);
	}
	for (i = 0; i < u->nfilter; i++) {
		const char	*k = u->filter[i];

		assert(memchr(k, '\0', sizeof(u->filter[i])) != NULL);
		/* A key that starts with a filter goes to the output. */
		if (k[0] != '\0')
			assert(url_matches(u, k, strlen(k)));
	}
	if (u->nfilter == 0)
		assert(url_matches(u, "servers.web1.cpu", 16));
	(void)url_filter_names(u, "systail.app.web1", 16);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url	 u;
	char		 err[256], *uri;

	fuzz_quiet();
	uri = fuzz_str(data, size);
	err[0] = '\0';
	if (url_parse(uri, &u, err, sizeof(err)) == 0)
		check(&u);
	else
		assert(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	free(uri);
	return 0;
}
