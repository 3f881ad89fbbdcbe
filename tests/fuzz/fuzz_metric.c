/*
 * Fuzz target for the Graphite line parser (common/metric.c), the code that
 * every received byte goes through. Invariants checked on every input:
 *  - the parser never reads outside the line (ASan) and never crashes;
 *  - a line it accepts, once normalised by metric_format(), parses again to
 *    the same name, value and timestamp: what the spool holds is always valid.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metric	 m, again;
	char		 out[8192], *line;
	size_t		 n;

	/* An exact-size copy, so ASan sees any read past the end. */
	if ((line = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	if (metric_parse(line, size, &m) == METRIC_OK) {
		metric_strip_key(&m, "key", 3);
		n = metric_format(&m, 1700000000, out, sizeof(out));
		if (n > 0) {
			assert(out[n - 1] == '\n');
			assert(metric_parse(out, n - 1, &again) == METRIC_OK);
			assert(again.namelen == m.namelen &&
			    memcmp(again.name, m.name, m.namelen) == 0);
			assert(again.valuelen == m.valuelen &&
			    memcmp(again.value, m.value, m.valuelen) == 0);
			assert(again.ts == (m.ts == -1 ? 1700000000 : m.ts));
		}
	}
	free(line);
	return 0;
}
