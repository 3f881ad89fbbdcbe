/*
 * glob: Graphite paths. A pattern is dot-separated components, each matched
 * against the same component of a name: '*' any run of characters, '?' one,
 * '[a-z]' / '[!a-z]' a class, '{web,db}' alternatives. No wildcard crosses a
 * dot.
 *
 * glob_walk() turns a pattern into the nodes /metrics/find lists and the
 * series /render returns, reading names in sorted order through a callback
 * (a loose index scan over the store's primary key). It starts at the
 * pattern's literal prefix and jumps over every subtree whose component
 * cannot match, so a query costs about one index seek per node it visits,
 * not one row per stored point.
 */
#include <stdlib.h>
#include <string.h>

#include "sink.h"

#define GLOB_COMPONENT_MAX	1024
#define GLOB_DEPTH_MAX		64
/*
 * Alternatives are matched by expansion, one pattern each: {a,b}{c,d} is
 * four. A pattern can multiply them past any use ({a,b} fifty times is
 * 2^50, and a request held the sink for good), so one match tries at most
 * this many, and a name that would need more does not match.
 */
#define GLOB_EXPANSIONS_MAX	1024

static int	match(const char *, size_t, const char *, size_t, int *);

int
glob_has_magic(const char *s)
{
	return strpbrk(s, "*?[{") != NULL;
}

/* A class at p (just past '['); its end is stored in *pend. */
static int
glob_class(const char *p, const char *pe, char c, const char **pend)
{
	int	neg = 0, hit = 0;

	if (p < pe && (*p == '!' || *p == '^')) {
		neg = 1;
		p++;
	}
	/* A ']' right after the bracket is a member, as in fnmatch(3). */
	if (p < pe && *p == ']') {
		hit = c == ']';
		p++;
	}
	while (p < pe && *p != ']') {
		if (p + 2 < pe && p[1] == '-' && p[2] != ']') {
			hit |= (unsigned char)c >= (unsigned char)p[0] &&
			    (unsigned char)c <= (unsigned char)p[2];
			p += 3;
		} else
			hit |= *p++ == c;
	}
	if (p >= pe)
		return -1;	/* unterminated: '[' is taken literally */
	*pend = p + 1;
	return hit != neg;
}

/* '*', '?' and classes, with the usual backtracking on the last star. */
static int
glob_plain(const char *p, const char *pe, const char *s, const char *se)
{
	const char	*star_p = NULL, *star_s = NULL, *next;
	int		 r;

	while (s < se) {
		if (p < pe && *p == '*') {
			star_p = ++p;
			star_s = s;
			continue;
		}
		if (p < pe && *p == '[' &&
		    (r = glob_class(p + 1, pe, *s, &next)) != -1) {
			if (r == 1) {
				p = next;
				s++;
				continue;
			}
		} else if (p < pe && (*p == '?' || *p == *s)) {
			p++;
			s++;
			continue;
		}
		if (star_p == NULL)
			return 0;
		p = star_p;
		s = ++star_s;
	}
	while (p < pe && *p == '*')
		p++;
	return p == pe;
}

/* The '}' closing the '{' at p, or NULL. */
static const char *
glob_brace_end(const char *p, const char *pe)
{
	int	depth = 0;

	for (; p < pe; p++) {
		if (*p == '{')
			depth++;
		else if (*p == '}' && --depth == 0)
			return p;
	}
	return NULL;
}

/* Expand the first {a,b} into one pattern per alternative, then match each. */
static int
glob_braces(const char *p, size_t plen, const char *s, size_t slen,
    const char *open, const char *close, int *budget)
{
	char		 tmp[GLOB_COMPONENT_MAX];
	const char	*alt, *q, *pe = p + plen;
	size_t		 head = (size_t)(open - p), tail = (size_t)(pe - close - 1);
	int		 depth = 0;

	alt = open + 1;
	for (q = alt; q <= close; q++) {
		if (*q == '{')
			depth++;
		else if (*q == '}' && q != close)
			depth--;
		if (q != close && (*q != ',' || depth != 0))
			continue;
		if (head + (size_t)(q - alt) + tail > sizeof(tmp))
			return 0;
		memcpy(tmp, p, head);
		memcpy(tmp + head, alt, (size_t)(q - alt));
		memcpy(tmp + head + (size_t)(q - alt), close + 1, tail);
		if (match(tmp, head + (size_t)(q - alt) + tail, s, slen, budget))
			return 1;
		alt = q + 1;
	}
	return 0;
}

static int
match(const char *p, size_t plen, const char *s, size_t slen, int *budget)
{
	const char	*open, *close;

	if (plen > GLOB_COMPONENT_MAX || --*budget < 0)
		return 0;
	if ((open = memchr(p, '{', plen)) != NULL &&
	    (close = glob_brace_end(open, p + plen)) != NULL)
		return glob_braces(p, plen, s, slen, open, close, budget);
	return glob_plain(p, p + plen, s, s + slen);
}

int
glob_match(const char *p, size_t plen, const char *s, size_t slen)
{
	int	budget = GLOB_EXPANSIONS_MAX;

	return match(p, plen, s, slen, &budget);
}

struct comp {
	const char	*p;
	size_t		 len;
};

/* Split at dots, at most max components (the last one keeps the rest). */
static int
glob_split(const char *s, struct comp *c, int max)
{
	const char	*dot;
	int		 n = 0;

	while (n < max) {
		c[n].p = s;
		if ((dot = strchr(s, '.')) == NULL || n == max - 1) {
			c[n++].len = strlen(s);
			break;
		}
		c[n++].len = (size_t)(dot - s);
		s = dot + 1;
	}
	return n;
}

/* The literal head of the pattern: every name that can match begins with it. */
static size_t
glob_prefix(const char *pattern)
{
	return strcspn(pattern, "*?[{");
}

/* The next key after a subtree: "a.b" + "/" sorts after every "a.b.*". */
static int
glob_skip(struct buf *key, const char *name, size_t len)
{
	key->len = 0;
	if (buf_add(key, name, len) == -1 || buf_add(key, "/", 1) == -1)
		return -1;
	return 0;
}

struct walk {
	struct comp	 pat[GLOB_DEPTH_MAX];
	int		 npat;
	glob_node_fn	 node;
	void		*arg;
	struct buf	 key;
	int		 inclusive;
};

/*
 * Look at one name: report it when it matches and set the key to seek
 * next. Returns 0, or -1 when the callback or memory failed.
 */
static int
glob_visit(struct walk *w, const char *name)
{
	struct comp	 c[GLOB_DEPTH_MAX + 1];
	size_t		 end;
	int		 n, k;

	n = glob_split(name, c, w->npat + 1);
	for (k = 0; k < w->npat && k < n; k++)
		if (!glob_match(w->pat[k].p, w->pat[k].len, c[k].p, c[k].len))
			break;
	if (k < n && k < w->npat && k < n - 1) {
		/* Component k cannot match: skip every name below it. */
		end = (size_t)(c[k].p + c[k].len - name);
		w->inclusive = 1;
		return glob_skip(&w->key, name, end);
	}
	if (k == w->npat && k > 0) {	/* npat >= 1: the pattern is not "" */
		end = (size_t)(c[k - 1].p + c[k - 1].len - name);
		if (w->node(w->arg, name, end, n == w->npat) == -1)
			return -1;
		if (n > w->npat) {
			w->inclusive = 1;
			return glob_skip(&w->key, name, end);
		}
	}
	w->inclusive = 0;
	w->key.len = 0;
	return buf_addstr(&w->key, name);
}

int
glob_walk(const char *pattern, glob_next_fn next, void *narg,
    glob_node_fn node, void *arg)
{
	struct walk	 w;
	struct buf	 name;
	size_t		 plen;
	int		 r = 0;

	if (*pattern == '\0')
		return 0;
	w.npat = glob_split(pattern, w.pat, GLOB_DEPTH_MAX);
	w.node = node;
	w.arg = arg;
	w.inclusive = 1;
	plen = glob_prefix(pattern);
	buf_init(&w.key, 0);
	buf_init(&name, 0);
	if (buf_add(&w.key, pattern, plen) == -1)
		r = -1;
	while (r == 0) {
		if ((r = next(narg, w.key.p, w.inclusive, &name)) != 1)
			break;
		r = 0;
		if (strncmp(name.p, pattern, plen) != 0)
			break;
		if (glob_visit(&w, name.p) == -1)
			r = -1;
	}
	buf_free(&w.key);
	buf_free(&name);
	return r == -1 ? -1 : 0;
}
