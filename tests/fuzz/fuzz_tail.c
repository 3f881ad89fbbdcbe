/*
 * Fuzz target for a followed log file's way into the spool (tail/file.c,
 * tail/pipeline.c, common/record.c): what an application, or whoever can
 * write its log, puts in a file ferry-tail reads, in any chunks, cut by
 * max_line, joined by multiline rules, redacted, and set back when the
 * spool refuses a record. ferry-tail's loop (tail.c, source.c: scans,
 * inotify, checkpoints) is not in here; this file stands in for it.
 *
 * The first byte picks multiline or not, max_line, multiline.max_lines,
 * the read quantum, a spool that now and then refuses an append, and a
 * sample rule; the second the waits between chunks. Then, up to 0x1f, the
 * replacement of a redact rule (fuzzed: "$1", "${name}", "$9" and worse);
 * the rest is the file's bytes, in chunks split at 0x1e, each appended and
 * read (a chunk starting with 0x1d truncates the file first, as
 * "> file" does). The log has an event rule and a logmetric rule
 * (tail/derive.c), whose metrics are rendered as time goes on. Invariants
 * on every input:
 *  - no crash, leak or read out of bounds;
 *  - every record the spool takes is one line that parses back as a log
 *    record of this file, with no newline in its text unless multiline
 *    joined it (or the fuzzed replacement has one), and no text longer than the rules can make it;
 *  - redaction holds: no "hunter2" in any text, and "token=" is followed
 *    by "XXX" and a non-word byte wherever a word follows it;
 *  - an append is the record, then its events: each under the event's
 *    key, with the record's line, offsets and text, and the fields its
 *    expression finds; metrics rendered are valid metric lines, their
 *    counts add up to the records the rule counted, no more split
 *    series than max_split and the overflow counter, quantiles in order
 *    between min and max;
 *  - records come in order: line numbers and offsets only grow (offsets
 *    start over after a truncation) and, with nothing sampled out or left
 *    out, each record starts where the one before it ended, and the last
 *    ends at the file's end: no line lost, none twice, even after the
 *    spool refused some.
 */
#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "fuzz.h"
#include "metric.h"
#include "record.h"
#include "spool.h"
#include "../../tail/derive.h"
#include "../../tail/tail.h"

/* What tail.c, checkpoint.c and watch.c give file.c and pipeline.c. */
const struct ferry_conf	*tconf;
struct spool		*tspool;
int			 spool_blocked;
size_t			 tail_max_open = 64;
static uint64_t		 now_ms;

uint64_t
tail_now(void)
{
	return now_ms;
}

int64_t
checkpoint_path_next(const char *path)
{
	(void)path;
	return 1;
}

void
watch_forget(struct tfile *tf)
{
	(void)tf;
}

/* tail/source.c's, without its log line: counted as it counts them. */
void
source_lost(struct source *src, const char *p, int64_t bytes, const char *what)
{
	(void)p;
	(void)what;
	if (bytes > 0)
		src->c.lost_bytes += (uint64_t)bytes;
}

#define RECS_MAX	4096

static struct {
	int64_t	lineno, nlines, offset, end;
} recs[RECS_MAX];
static size_t	nrecs, appends;
static int	refuse_every, multiline, repl_nl;
static size_t	max_line, repl_len;
static char	path[512];

/*
 * The derive rules of log "app": an event for lines that start with a
 * word, a logmetric split by a word before '=', summing the value after.
 */
#define EV_MATCH	"^(?<word>[a-z]+)(?: (?<num>[0-9.]+))?"
#define LM_MATCH	"(?<w>[a-z]+)=(?<v>\\S*)"
#define LM_MAX_SPLIT	5
static char		*app_filter[] = { "systail.app" };
static char		*lm_groups[] = { "v" };
static struct event_conf	ev_conf = { "ev", app_filter, 1, EV_MATCH, "",
			    "" };
static struct logmetric_conf	lm_conf = { "lm", app_filter, 1, LM_MATCH, "",
			    1, "hits", "w", LM_MAX_SPLIT, lm_groups, 1, lm_groups,
			    1 };
static uint64_t		counted;	/* the hits rendered, this input */

/* The events after a record (rlen bytes at rec): each its event. */
static void
check_events(const char *rec, size_t rlen, const char *p, size_t len)
{
	struct record	 r, e;
	struct span	 w;
	const char	*nl;

	if (len == 0)
		return;
	assert(record_parse(rec, rlen, &r) == 0);
	for (; len > 0; len -= (size_t)(nl + 1 - p), p = nl + 1) {
		assert((nl = memchr(p, '\n', len)) != NULL);
		assert(record_parse(p, (size_t)(nl - p), &e) == 0);
		assert(e.kind == RECORD_LOG);
		assert(e.key.len == 8 && memcmp(e.key.p, "event.ev", 8) == 0);
		assert(e.lineno == r.lineno && e.end == r.end &&
		    e.offset == r.offset && e.nlines == r.nlines);
		assert(e.text.len == r.text.len &&
		    memcmp(e.text.p, r.text.p, r.text.len) == 0);
		/* The word the line starts with, in its text. */
		assert(record_field(&e, "word", 4, &w) == 1 && w.len > 0);
		assert(e.text.len >= w.len && memcmp(e.text.p, w.p, w.len) == 0);
	}
}

/* Metrics rendered now (or all, at the end): each line checked. */
static void
render_metrics(int all)
{
	static struct buf	 b;
	static int64_t		 ts = 1000000000;
	struct metric		 m;
	const char		*p, *nl;
	double			 q[3] = { 0, 0, 0 }, lo = 0, hi = 0;
	size_t			 splits = 0, nq = 0;
	char			 name[256];

	buf_reset(&b);
	if (derive_render(now_ms, ++ts, all, &b) == 0) {
		derive_emitted(1);
		return;
	}
	derive_emitted(1);
	for (p = b.p; p < b.p + b.len; p = nl + 1) {
		assert((nl = memchr(p, '\n', (size_t)(b.p + b.len - p))) != NULL);
		assert(metric_parse(p, (size_t)(nl - p), &m) == METRIC_OK);
		assert(m.ts == ts);
		snprintf(name, sizeof(name), "%.*s", (int)m.namelen, m.name);
		assert(strncmp(name, "servers.web1.example.com.lm.", 28) == 0);
		if (strcmp(name + 28, "hits") == 0)
			counted += strtoull(m.value, NULL, 10);
		else if (strncmp(name + 28, "hits.", 5) == 0)
			splits++;
		else if (strcmp(name + 28, "v.min") == 0)
			lo = strtod(m.value, NULL);
		else if (strcmp(name + 28, "v.max") == 0)
			hi = strtod(m.value, NULL);
		else if (strncmp(name + 28, "v.p", 3) == 0 && nq < 3)
			q[nq++] = strtod(m.value, NULL);
	}
	assert(splits <= LM_MAX_SPLIT + 1);
	/* p50, p90, p99 in order, between min and max. */
	assert(nq == 0 || nq == 3);
	if (nq == 3)
		assert(lo <= q[0] && q[0] <= q[1] && q[1] <= q[2] && q[2] <= hi);
}

static uint64_t	lines_counter;

static void
take_lines(const char *name, const uint64_t *v, void *arg)
{
	(void)arg;
	if (strcmp(name, "logmetric.lm.lines") == 0)
		lines_counter = *v;
}

/* The spool: each record checked, then kept or (now and then) refused. */
int
spool_append(struct spool *sp, const char *line, size_t len)
{
	struct record	 r;
	struct buf	 text;
	const char	*t, *e;
	size_t		 i;

	const char	*nl;

	(void)sp;
	if (refuse_every > 0 && ++appends % (size_t)refuse_every == 0)
		return -1;
	assert(len > 0 && line[len - 1] == '\n');
	nl = memchr(line, '\n', len);
	/* The record's events follow it, in the same append. */
	check_events(line, (size_t)(nl - line), nl + 1,
	    (size_t)(line + len - nl - 1));
	len = (size_t)(nl + 1 - line);
	assert(record_parse(line, len - 1, &r) == 0 && r.kind == RECORD_LOG);
	assert(r.nlines >= 1 && r.lineno >= 1);
	assert(r.offset >= 0 && r.offset < r.end);
	buf_init(&text, 0);
	assert(record_unescape(&text, r.text) == 0);
	t = text.p != NULL ? text.p : "";
	/*
	 * max_line each line, joined by a newline; redaction grows a byte
	 * at most by the fuzzed replacement's length (once per "$0" in it)
	 * and "hunter2" by 3 bytes.
	 */
	assert(text.len <= (max_line + 1) * (size_t)r.nlines * (repl_len + 2) * 2);
	assert(multiline || repl_nl || memchr(t, '\n', text.len) == NULL);
	assert(memmem(t, text.len, "hunter2", 7) == NULL);
	for (e = t; (e = memmem(e, text.len - (size_t)(e - t), "token=", 6)) !=
	    NULL; e += 6) {
		i = (size_t)(e - t) + 6;
		if (i < text.len && (isalnum((unsigned char)t[i]) || t[i] == '_'))
			assert(i + 3 <= text.len && memcmp(t + i, "XXX", 3) == 0 &&
			    (i + 3 == text.len || !(isalnum((unsigned char)t[i + 3]) ||
			    t[i + 3] == '_')));
	}
	buf_free(&text);
	if (nrecs < RECS_MAX) {
		recs[nrecs].lineno = r.lineno;
		recs[nrecs].nlines = r.nlines;
		recs[nrecs].offset = r.offset;
		recs[nrecs].end = r.end;
	}
	nrecs++;
	return 0;
}

/* Read what there is, as source_read() and the loop do: retry when refused. */
static void
read_all(struct tfile *tf, size_t quantum)
{
	int	rc, spins = 0;

	do {
		spool_blocked = 0;	/* the spool takes writes again */
		rc = tfile_read(tf, now_ms, quantum);
		assert(rc >= 0);
		assert(++spins < 1 << 20);
	} while (rc == 1 || spool_blocked);
	tfile_flush_partial(tf, now_ms, 0);
	(void)pipeline_flush(tf, now_ms, 0);
	/* A refusal there is read again at the next pass, as in the loop. */
	while (spool_blocked) {
		spool_blocked = 0;
		while (tfile_read(tf, now_ms, quantum) == 1 || spool_blocked)
			spool_blocked = 0;
	}
}

static void
append(int fd, const uint8_t *p, size_t len)
{
	if (len > 0 && write(fd, p, len) != (ssize_t)len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ferry_conf	 conf;
	static const size_t		 max_lines[] = { 16, 64, 300, 4096 };
	static int			 derive_ready;
	uint64_t			 lines_before;
	struct redact_conf		 redact[3];
	struct sample_conf		 sample[1];
	struct log_conf			 lc;
	struct source			 src;
	struct tfile			*tf;
	struct stat			 st;
	const uint8_t			*p, *piece;
	size_t				 len, plen, quantum, i;
	char				 err[256], *repl;
	uint8_t				 mode, waits;
	int				 fd, truncs = 0;

	if (size < 2)
		return 0;
	fuzz_quiet();
	if (path[0] == '\0')
		snprintf(path, sizeof(path), "%s/app.log", fuzz_dir());
	mode = data[0];
	waits = data[1];
	p = data + 2;
	len = size - 2;
	if (!fuzz_piece(&p, &len, 0x1f, &piece, &plen))
		return 0;
	repl = fuzz_str(piece, plen);
	repl_len = plen;
	repl_nl = memchr(repl, '\n', plen) != NULL;

	conf.hostname = "web1.example.com";
	conf.prefix = "servers";
	conf.tail.partial_line_wait = 0.5;
	conf.events = &ev_conf;
	conf.nevents = 1;
	conf.logmetrics = &lm_conf;
	conf.nlogmetrics = 1;
	tconf = &conf;
	/* The rules live on from input to input, as in ferry-tail. */
	if (!derive_ready) {
		assert(derive_init(&conf, 0, 0, err, sizeof(err)) == 0);
		derive_ready = 1;
	}
	counted = 0;
	derive_counters(take_lines, NULL);
	lines_before = lines_counter;
	multiline = mode & 1;
	max_line = max_lines[(mode >> 1) & 3];
	quantum = mode & 8 ? 7 : 4096;
	refuse_every = mode & 16 ? 3 : 0;
	nrecs = appends = 0;
	spool_blocked = 0;
	now_ms = 1000;

	memset(&lc, 0, sizeof(lc));
	lc.name = "app";
	lc.path = path;
	lc.max_line = max_line;
	redact[0].match = "([0-9]{4})[0-9]{8,}";
	redact[0].replace = repl;
	redact[1].match = "hunter2";
	redact[1].replace = "[redacted]";
	redact[2].match = "(token=)\\w+";
	redact[2].replace = "$1XXX";
	lc.redact = redact;
	lc.nredact = 3;
	sample[0].match = "^DEBUG";
	sample[0].rate = 0;
	lc.sample = sample;
	lc.nsample = mode & 32 ? 1 : 0;
	lc.multiline.start = multiline ? "^[^ \\t]" : "";
	lc.multiline.max_lines = mode & 64 ? 3 : 100;
	lc.multiline.timeout = 2;

	memset(&src, 0, sizeof(src));
	src.lc = &lc;
	snprintf(src.key, sizeof(src.key), "systail.app.web1");
	src.max_line = max_line;
	TAILQ_INIT(&src.files);
	LIST_INIT(&src.paths);
	assert(pipeline_init(&src, err, sizeof(err)) == 0);
	assert((src.derive = derive_set_for(src.key)) != NULL);

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    fstat(fd, &st) == -1)
		abort();
	tf = tfile_new(&src, path, path, (uint64_t)st.st_dev,
	    (uint64_t)st.st_ino);
	assert(tf != NULL && tfile_open(tf) == 0);

	for (i = 0; fuzz_piece(&p, &len, 0x1e, &piece, &plen); i++) {
		if (plen > 0 && piece[0] == 0x1d) {
			if (ftruncate(fd, 0) == -1 || lseek(fd, 0, SEEK_SET) == -1)
				abort();
			piece++;
			plen--;
			truncs++;
		}
		append(fd, piece, plen);
		read_all(tf, quantum);
		/* Time goes on: sometimes past the waits for a line's end. */
		now_ms += (waits >> (i % 8)) & 1 ? 2500 : 10;
		read_all(tf, quantum);
		render_metrics(0);
	}
	/* The end (ferry-tail stopping, or the file let go): all of it out. */
	do {
		spool_blocked = 0;
		tfile_flush_partial(tf, now_ms, 1);
		(void)pipeline_flush(tf, now_ms, 1);
		if (spool_blocked) {
			spool_blocked = 0;
			read_all(tf, quantum);
		}
	} while (tf->part.len > 0 || tf->part_cut || tf->ml_lines > 0);
	if (fstat(fd, &st) == -1)
		abort();
	/* Every record the rule counted, rendered once. */
	render_metrics(1);
	derive_counters(take_lines, NULL);
	assert(counted == lines_counter - lines_before);

	for (i = 1; i < nrecs && i < RECS_MAX; i++) {
		assert(recs[i].lineno >= recs[i - 1].lineno + recs[i - 1].nlines);
		assert(truncs > 0 || recs[i].offset >= recs[i - 1].end);
	}
	if (src.c.sampled_out == 0 && src.c.errors == 0 && truncs == 0 &&
	    nrecs < RECS_MAX) {
		for (i = 1; i < nrecs; i++) {
			assert(recs[i].lineno == recs[i - 1].lineno +
			    recs[i - 1].nlines);
			assert(recs[i].offset == recs[i - 1].end);
		}
		assert(nrecs == 0 || recs[0].offset == 0);
		assert(nrecs == 0 || recs[nrecs - 1].end == st.st_size);
		assert(nrecs > 0 || st.st_size == 0);
	}

	close(fd);
	tfile_free(tf);
	while (!LIST_EMPTY(&src.paths)) {
		struct pathctr	*pc = LIST_FIRST(&src.paths);

		LIST_REMOVE(pc, entry);
		free(pc->path);
		free(pc);
	}
	pipeline_free(&src);
	derive_set_free(src.derive);
	free(repl);
	return 0;
}
