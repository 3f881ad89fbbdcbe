/*
 * Fuzz target for access log formats (tail/logformat.c): an nginx
 * log_format string, which a discovered nginx's configuration gives us,
 * and the lines of its log, which whoever can make a request writes into
 * (a user agent, a URI, a referer). The input is the format up to the
 * first 0x1f byte (a first byte of 0x01 to 0x04 picks a built-in format
 * instead), then lines split at '\n'. Invariants on every input:
 *  - no crash, leak or read out of bounds (each line is its own exact
 *    allocation, so ASan sees a read past its end);
 *  - a format nginx would refuse says why, one that compiles parses;
 *  - a line that matches is the format's literals and the fields' values
 *    laid end to end from its first byte (a value is where the walk stood,
 *    or "0" for a "-" of body_bytes_sent): nothing skipped, nothing
 *    overlapping, nothing outside the line;
 *  - every field has its name at its place (logformat_field()), and the
 *    derived ones agree with their sources: status_class with $status,
 *    method, URI and protocol rebuild $request.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "../../tail/logformat.c"

static const char	*builtin_names[] = {
	"nginx_combined", "nginx_main", "apache_common", "apache_combined"
};

static int
is(const struct field *v, const char *s)
{
	return v->len == strlen(s) && memcmp(v->p, s, v->len) == 0;
}

static void
check_derived(const struct logformat *lf, const struct fields *f)
{
	const struct field	*s, *r, *m, *u, *p;
	char			 class[4];

	if (lf->status_class >= 0) {
		s = &f->v[lf->status];
		if (f->v[lf->status_class].len > 0) {
			assert(s->len == 3);
			snprintf(class, sizeof(class), "%cxx", s->p[0]);
			assert(is(&f->v[lf->status_class], class));
		}
	}
	if (lf->request < 0 || lf->method < 0 || lf->uri < 0 || lf->protocol < 0)
		return;
	r = &f->v[lf->request];
	m = &f->v[lf->method];
	u = &f->v[lf->uri];
	p = &f->v[lf->protocol];
	if (m->len == 0 && u->len == 0 && p->len == 0 &&
	    (r->len == 0 || memchr(r->p, ' ', r->len) == NULL))
		return;
	/* method ' ' uri [' ' protocol], in place in the request. */
	assert(m->p == r->p);
	assert(u->p == m->p + m->len + 1);
	if (p->len > 0)
		assert(p->p == u->p + u->len + 1 && p->p + p->len == r->p + r->len);
	else
		assert(u->p + u->len == r->p + r->len ||
		    u->p + u->len + 1 == r->p + r->len);
}

static void
check_line(const struct logformat *lf, const char *line, size_t len)
{
	const struct item	*it;
	struct fields		 f;
	size_t			 i, pos = 0;

	if (logformat_parse(lf, line, len, &f) == 0)
		return;
	assert(f.n == lf->nfields);
	for (i = 0; i < f.n; i++)
		assert(logformat_field(lf, f.v[i].name) <= (int)i);
	for (i = 0; i < lf->nitems; i++) {
		it = &lf->items[i];
		if (it->lit != NULL) {
			assert(pos + it->len <= len);
			assert(memcmp(line + pos, it->lit, it->len) == 0);
			pos += it->len;
			continue;
		}
		if (f.v[it->field].p != line + pos) {
			assert(it->dash0 && is(&f.v[it->field], "0"));
			assert(pos < len && line[pos] == '-');
			pos++;
			continue;
		}
		assert(f.v[it->field].p == line + pos);
		pos += f.v[it->field].len;
		assert(pos <= len);
		/* The last variable takes the rest of the line. */
		if (i + 1 == lf->nitems)
			assert(pos == len);
	}
	check_derived(lf, &f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct logformat	*lf;
	const uint8_t		*p = data, *piece;
	size_t			 len = size, plen;
	char			*fmt, *line, err[256];

	fuzz_quiet();
	if (!fuzz_piece(&p, &len, 0x1f, &piece, &plen))
		return 0;
	if (plen == 1 && piece[0] >= 1 && piece[0] <= 4) {
		lf = logformat_builtin(builtin_names[piece[0] - 1]);
		assert(lf != NULL);
	} else {
		fmt = fuzz_str(piece, plen);
		err[0] = '\0';
		lf = logformat_nginx(fmt, err, sizeof(err));
		/* A NUL in the format ends it, as nginx's strings do. */
		assert(lf != NULL || err[0] != '\0');
		free(fmt);
		if (lf == NULL)
			return 0;
	}
	while (p != NULL && fuzz_piece(&p, &len, '\n', &piece, &plen)) {
		if ((line = malloc(plen > 0 ? plen : 1)) == NULL)
			abort();
		memcpy(line, piece, plen);
		check_line(lf, line, plen);
		free(line);
	}
	logformat_free(lf);
	return 0;
}
