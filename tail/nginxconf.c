/*
 * nginxconf: an nginx configuration's access logs, read from its files.
 *
 * The files are read here rather than asking nginx (`nginx -T`): -T needs
 * the nginx binary run as a user that can read everything the
 * configuration names (certificates and keys included, which the ferry
 * user must not read), tests the whole configuration on every look (a
 * fork and exec, and seconds on a large one, every rescan), and prints
 * the files on disk, not what the master loaded: reading them ourselves
 * gives the same answer for none of those costs, without running anything.
 * Either way an edit not yet reloaded is seen before nginx applies it; the
 * next rescan after the reload agrees with nginx again.
 *
 * Tokens follow ngx_conf_read_token(): blanks, ';', '{' and '}' separate;
 * '#' starts a comment where a token would start; "..." and '...' quote,
 * and \" \' \\ \t \r \n are unescaped everywhere (any other backslash
 * stays); '{' right after '$' is part of a word ("${host}"), and '}' does
 * not end a word. include takes a path or a glob, relative to the main
 * file's directory, read in name order where the include stands.
 *
 * Bounded, whatever the files: FILES_MAX files, FILE_MAX bytes each,
 * DEPTH_MAX blocks deep, INCLUDE_MAX includes deep (an include of itself
 * stops there), FOUND_NOTES_MAX notes.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "discover.h"
#include "nginxconf.h"

#define FILES_MAX	256
#define FILE_MAX	(4 << 20)
#define DEPTH_MAX	32
#define INCLUDE_MAX	16
#define ARGS_MAX	1024

/* nginx's predefined format, which log_format cannot redefine. */
#define COMBINED \
	"$remote_addr - $remote_user [$time_local] \"$request\" $status " \
	"$body_bytes_sent \"$http_referer\" \"$http_user_agent\""

enum ctx_kind {
	CTX_MAIN,
	CTX_HTTP,
	CTX_SERVER,
	CTX_LOCATION,	/* location, if, limit_except: they log like one */
	CTX_STREAM,
	CTX_OTHER	/* events, upstream, map, types, mail, ... */
};

enum token {
	TOK_EOF,
	TOK_WORD,
	TOK_SEMI,
	TOK_OPEN,
	TOK_CLOSE,
	TOK_ERR
};

struct ctx {
	int	kind;		/* enum ctx_kind */
	int	has_log;	/* an access_log (off included) here */
};

struct fmt {
	char	*name, *text;
};

struct lexer {
	const char	*p, *end;
	const char	*file;
	int		 line;
};

struct reader {
	const char		*prefix, *conf_dir;
	struct ctx		 stack[DEPTH_MAX];
	int			 depth;		/* stack[depth] is the block we are in */
	int			 overflow;	/* blocks past DEPTH_MAX */
	int			 includes;	/* includes deep */
	int			 servers;	/* server blocks seen in http */
	int			 need_default;	/* a server logs where nginx's default is */
	int			 stream_said;
	size_t			 files;		/* read */
	struct fmt		*fmts;
	size_t			 nfmts;
	struct found		 raw;		/* the logs, their formats' names */
};

#define note(r, ...)	found_note(&(r)->raw, __VA_ARGS__)

/* The byte a backslash and c stand for, as nginx unescapes them. */
static void
add_escaped(struct buf *w, char c)
{
	switch (c) {
	case '"':
	case '\'':
	case '\\':
		(void)buf_add(w, &c, 1);
		return;
	case 't':
		(void)buf_add(w, "\t", 1);
		return;
	case 'r':
		(void)buf_add(w, "\r", 1);
		return;
	case 'n':
		(void)buf_add(w, "\n", 1);
		return;
	default:
		(void)buf_add(w, "\\", 1);
		(void)buf_add(w, &c, 1);
	}
}

/* Blanks and comments before a token; its first byte, or -1 at the end. */
static int
skip_blanks(struct lexer *lx)
{
	char	c;

	while (lx->p < lx->end) {
		c = *lx->p;
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			return (unsigned char)c;
		lx->line += c == '\n';
		lx->p++;
	}
	return -1;
}

static enum token
next_token(struct lexer *lx, struct buf *w)
{
	int	c, quote = 0, variable = 0;

	buf_reset(w);
	if ((c = skip_blanks(lx)) == -1)
		return TOK_EOF;
	if (c == ';' || c == '{' || c == '}') {
		lx->p++;
		return c == ';' ? TOK_SEMI : c == '{' ? TOK_OPEN : TOK_CLOSE;
	}
	if (c == '"' || c == '\'') {
		quote = c;
		lx->p++;
	}
	while (lx->p < lx->end) {
		c = (unsigned char)*lx->p;
		if (c == '\\' && lx->p + 1 < lx->end) {
			lx->line += lx->p[1] == '\n';
			add_escaped(w, lx->p[1]);
			lx->p += 2;
			variable = 0;
			continue;
		}
		if (quote && c == quote) {
			lx->p++;
			return TOK_WORD;
		}
		if (!quote && !(c == '{' && variable) && (c == ' ' ||
		    c == '\t' || c == '\r' || c == '\n' || c == ';' || c == '{'))
			return TOK_WORD;
		lx->line += c == '\n';
		variable = c == '$';
		(void)buf_add(w, lx->p++, 1);
	}
	return quote ? TOK_ERR : TOK_WORD;
}

/* dir/name, or name when it is absolute; NULL when out of memory. */
static char *
full_name(const char *dir, const char *name)
{
	char	*s;
	size_t	 n = strlen(dir);

	if (name[0] == '/' || n == 0)
		return strdup(name);
	if (asprintf(&s, "%s%s%s", dir, dir[n - 1] == '/' ? "" : "/",
	    name) == -1)
		return NULL;
	return s;
}

static int
chain_has_log(const struct reader *r)
{
	int	i;

	for (i = r->depth; i > 0; i--)
		if (r->stack[i].has_log)
			return 1;
	return 0;
}

static void
open_block(struct reader *r, char **words, size_t n)
{
	const char	*name = n > 0 ? words[0] : "";
	int		 parent = r->stack[r->depth].kind, kind = CTX_OTHER;
	int		 nested = strcmp(name, "location") == 0 ||
			    strcmp(name, "if") == 0 ||
			    strcmp(name, "limit_except") == 0;

	if (parent == CTX_MAIN && strcmp(name, "http") == 0)
		kind = CTX_HTTP;
	else if (parent == CTX_MAIN && strcmp(name, "stream") == 0)
		kind = CTX_STREAM;
	else if (parent == CTX_HTTP && strcmp(name, "server") == 0)
		kind = CTX_SERVER;
	else if ((parent == CTX_SERVER || parent == CTX_LOCATION) && nested)
		kind = CTX_LOCATION;
	else if (parent == CTX_STREAM)
		kind = CTX_STREAM;
	if (r->depth + 1 == DEPTH_MAX) {
		r->overflow++;
		return;
	}
	r->depth++;
	r->stack[r->depth].kind = kind;
	r->stack[r->depth].has_log = 0;
	r->servers += kind == CTX_SERVER;
}

/*
 * A server that names no access log (nor does http) logs to nginx's
 * compiled-in file; so does http without servers (nginx's default one).
 */
static void
close_block(struct reader *r, const struct lexer *lx, int base)
{
	const struct ctx	*c;

	if (r->overflow > 0) {
		r->overflow--;
		return;
	}
	if (r->depth == base) {
		note(r, "%s:%d: unexpected \"}\"", lx->file, lx->line);
		return;
	}
	c = &r->stack[r->depth];
	if (c->kind == CTX_SERVER && !chain_has_log(r))
		r->need_default = 1;
	if (c->kind == CTX_HTTP && !c->has_log && r->servers == 0)
		r->need_default = 1;
	r->depth--;
}

static void
add_format(struct reader *r, char **words, size_t n, const char *origin)
{
	struct fmt	*nf;
	struct buf	 text;
	size_t		 i = 2, k, len;

	if (n > 2 && strncmp(words[2], "escape=", 7) == 0)
		i = 3;
	if (n <= i) {
		note(r, "%s: log_format without a format", origin);
		return;
	}
	if (strcmp(words[1], "combined") == 0)
		return;		/* nginx refuses it: combined is its own */
	for (k = 0; k < r->nfmts; k++)
		if (strcmp(r->fmts[k].name, words[1]) == 0)
			return;	/* nginx refuses a second one too */
	buf_init(&text, 0);
	for (; i < n; i++)
		(void)buf_addstr(&text, words[i]);
	if ((nf = reallocarray(r->fmts, r->nfmts + 1, sizeof(*nf))) == NULL) {
		buf_free(&text);
		return;
	}
	r->fmts = nf;
	nf[r->nfmts].name = strdup(words[1]);
	nf[r->nfmts].text = buf_take(&text, &len);
	if (nf[r->nfmts].name == NULL || nf[r->nfmts].text == NULL) {
		free(nf[r->nfmts].name);
		free(nf[r->nfmts].text);
		return;
	}
	r->nfmts++;
}

/* Add a log; its format's text is looked up once every file is read. */
static void
add_log(struct reader *r, const char *path, const char *format,
    const char *origin)
{
	const struct found_log	*l;
	size_t			 i;

	for (i = 0; i < r->raw.nlogs; i++) {
		l = &r->raw.logs[i];
		if (strcmp(l->path, path) == 0 && strcmp(l->format, format) != 0)
			note(r, "%s: %s is written with log_format \"%s\" here, "
			    "\"%s\" at %s: read with the latter", origin, path,
			    format, l->format, l->origin);
	}
	(void)found_add(&r->raw, path, format, NULL, origin);
}

/* access_log PATH [FORMAT [buffer=] [gzip[=]] [flush=] [if=]] | off */
static void
access_log(struct reader *r, char **words, size_t n, const char *origin)
{
	const char	*format = n > 2 ? words[2] : "combined";
	char		*path;
	size_t		 i;

	r->stack[r->depth].has_log = 1;
	if (n < 2 || strcmp(words[1], "off") == 0)
		return;
	if (strncmp(words[1], "syslog:", 7) == 0) {
		note(r, "%s: access_log %s: to syslog, not a file", origin,
		    words[1]);
		return;
	}
	if (strchr(words[1], '$') != NULL) {
		note(r, "%s: access_log %s: a path made of variables is "
		    "not followed", origin, words[1]);
		return;
	}
	for (i = 3; i < n; i++)
		if (strcmp(words[i], "gzip") == 0 ||
		    strncmp(words[i], "gzip=", 5) == 0) {
			note(r, "%s: access_log %s: written gzip'd, not "
			    "followed", origin, words[1]);
			return;
		}
	if ((path = full_name(r->prefix, words[1])) == NULL)
		return;
	add_log(r, path, format, origin);
	free(path);
}

static int	read_file(struct reader *, const char *, const char *);

static void
include(struct reader *r, const char *pattern, const char *origin)
{
	char	*full;
	glob_t	 g;
	size_t	 i;
	int	 rc;

	if ((full = full_name(r->conf_dir, pattern)) == NULL)
		return;
	if (strpbrk(full, "*?[") == NULL) {
		if (read_file(r, full, origin) == -1)
			note(r, "%s: include %s: %s", origin, full,
			    strerror(errno));
		free(full);
		return;
	}
	if ((rc = glob(full, 0, NULL, &g)) != 0) {
		if (rc != GLOB_NOMATCH)
			note(r, "%s: include %s: cannot be listed", origin,
			    full);
		free(full);
		return;
	}
	for (i = 0; i < g.gl_pathc; i++)
		if (read_file(r, g.gl_pathv[i], origin) == -1)
			note(r, "%s: include %s: %s", origin, g.gl_pathv[i],
			    strerror(errno));
	globfree(&g);
	free(full);
}

static void
directive(struct reader *r, const struct lexer *lx, char **words, size_t n,
    int line)
{
	char	origin[1200];
	int	kind = r->stack[r->depth].kind;

	snprintf(origin, sizeof(origin), "%s:%d", lx->file, line);
	if (strcmp(words[0], "include") == 0 && n == 2) {
		include(r, words[1], origin);
		return;
	}
	if (r->overflow > 0)
		return;
	if (kind == CTX_STREAM && !r->stream_said &&
	    (strcmp(words[0], "access_log") == 0 ||
	    strcmp(words[0], "log_format") == 0)) {
		r->stream_said = 1;
		note(r, "%s: stream { } logs (TCP and UDP sessions) are not "
		    "followed", origin);
	}
	if (kind == CTX_HTTP && strcmp(words[0], "log_format") == 0)
		add_format(r, words, n, origin);
	else if ((kind == CTX_HTTP || kind == CTX_SERVER ||
	    kind == CTX_LOCATION) && strcmp(words[0], "access_log") == 0)
		access_log(r, words, n, origin);
}

static void
free_words(char **words, size_t *n)
{
	while (*n > 0)
		free(words[--*n]);
}

/* The directives of one file, in the block the include stands in. */
static void
parse(struct reader *r, struct lexer *lx)
{
	char		*words[ARGS_MAX];
	struct buf	 w;
	size_t		 n = 0;
	int		 line = 0, base = r->depth, base_over = r->overflow;
	enum token	 t;

	buf_init(&w, 0);
	while ((t = next_token(lx, &w)) != TOK_EOF && t != TOK_ERR) {
		if (t == TOK_WORD) {
			if (n == 0)
				line = lx->line;
			if (n < ARGS_MAX &&
			    (words[n] = strdup(w.p != NULL ? w.p : "")) != NULL)
				n++;
			continue;
		}
		if (t == TOK_SEMI && n > 0)
			directive(r, lx, words, n, line);
		else if (t == TOK_OPEN)
			open_block(r, words, n);
		else if (t == TOK_CLOSE)
			close_block(r, lx, base);
		free_words(words, &n);
	}
	if (t == TOK_ERR)
		note(r, "%s:%d: a quoted string is not closed", lx->file,
		    lx->line);
	else if (n > 0 || r->depth != base || r->overflow != base_over)
		note(r, "%s:%d: unexpected end of file", lx->file, lx->line);
	free_words(words, &n);
	buf_free(&w);
	r->depth = base;
	r->overflow = base_over;
}

/* A whole file, NUL-terminated; NULL with errno set. */
static char *
slurp(const char *path, size_t *len)
{
	struct stat	 st;
	char		*s;
	ssize_t		 got;
	int		 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
		close(fd);
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		return NULL;
	}
	if ((s = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	*len = 0;
	while (*len < (size_t)st.st_size && (got = read(fd, s + *len,
	    (size_t)st.st_size - *len)) > 0)
		*len += (size_t)got;
	close(fd);
	s[*len] = '\0';
	return s;
}

static int
read_file(struct reader *r, const char *path, const char *origin)
{
	struct lexer	 lx;
	char		*text;
	size_t		 len;

	if (r->files >= FILES_MAX || r->includes >= INCLUDE_MAX) {
		note(r, "%s: include %s: past %d files or %d includes deep, "
		    "not read", origin, path, FILES_MAX, INCLUDE_MAX);
		return 0;
	}
	if ((text = slurp(path, &len)) == NULL)
		return -1;
	r->files++;
	memset(&lx, 0, sizeof(lx));
	lx.p = text;
	lx.end = text + len;
	lx.file = path;
	lx.line = 1;
	r->includes++;
	parse(r, &lx);
	r->includes--;
	free(text);
	return 0;
}

static const char *
format_text(const struct reader *r, const char *name)
{
	size_t	i;

	if (strcmp(name, "combined") == 0)
		return COMBINED;
	for (i = 0; i < r->nfmts; i++)
		if (strcmp(r->fmts[i].name, name) == 0)
			return r->fmts[i].text;
	return NULL;
}

/* Each log with its format's text into out; one whose format is not defined goes. */
static void
resolve(struct reader *r, struct found *out)
{
	const struct found_log	*l;
	const char		*text;
	size_t			 i;

	for (i = 0; i < r->raw.nlogs; i++) {
		l = &r->raw.logs[i];
		if ((text = format_text(r, l->format)) == NULL)
			note(r, "%s: access_log %s: log_format \"%s\" is not "
			    "defined", l->origin, l->path, l->format);
		else
			(void)found_add(out, l->path, l->format, text,
			    l->origin);
	}
	for (i = 0; i < r->raw.nnotes; i++)
		found_note(out, "%s", r->raw.notes[i]);
}

int
nginxconf_read(const char *conf, const char *prefix, const char *default_log,
    struct found *out, char *err, size_t errlen)
{
	struct reader	 r;
	char		*dir, *slash;
	size_t		 i;
	int		 rc = 0;

	memset(&r, 0, sizeof(r));
	if ((dir = strdup(conf)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		slash[1] = '\0';
	r.prefix = prefix;
	r.conf_dir = dir;
	r.stack[0].kind = CTX_MAIN;
	if (read_file(&r, conf, conf) == -1) {
		snprintf(err, errlen, "%s: %s", conf, strerror(errno));
		rc = -1;
	} else {
		if (r.need_default)
			add_log(&r, default_log, "combined", "default");
		resolve(&r, out);
	}
	for (i = 0; i < r.nfmts; i++) {
		free(r.fmts[i].name);
		free(r.fmts[i].text);
	}
	free(r.fmts);
	found_free(&r.raw);
	free(dir);
	return rc;
}
