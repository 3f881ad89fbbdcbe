/*
 * tail: the records flowing through ferry, printed live as they are
 * spooled, until Ctrl-C: what `kato log tail` was for Logyard.
 *
 *   ferryctl tail [--json] [--self] [-n count] [prefix ...]
 *
 * It is one more reader of the spool, and a stateless one. It lists the
 * spool (its directory and the memory fallback), opens a reader
 * (common/spoolread.c) at the end of each stream's newest segment, so that only
 * what is spooled from then on is shown, and reads on whenever inotify says
 * a writer wrote or a segment appeared. A stream that appears later (a
 * process started) is read from its first segment: all of it is new. Each
 * reader crosses into a stream's next segment by itself once the current
 * one is finished, on disk or in memory alike.
 *
 * It writes nothing: no cursor in ferry.db, no file in the spool. So the
 * writers do not know it is there, and the forwarder neither waits for it
 * nor keeps a segment for it: a segment the forwarder deletes while tail
 * reads it stays readable through the open descriptor, and the reader then
 * moves on to the next one. It can fall behind only its own output; what
 * it has not read when the forwarder deletes a segment it never opened is
 * simply not shown (the reader skips to the next segment that exists).
 * Ending it (SIGINT, SIGTERM, the reader of its output going away, or -n
 * records printed) leaves nothing behind, and exits 0.
 *
 * A record is printed when its key (common/record.h: a metric's name, a log
 * record's key) starts with one of the prefixes, the test an output's
 * filter= makes, so `ferryctl tail servers.` shows what an output with
 * filter=servers. is given. No prefix: every record. ferry's own
 * self-metrics (the self-* streams) are left out unless --self asks for
 * them: every process writes them every few seconds, and they would drown
 * what the operator came to watch.
 *
 * Records are printed as they are spooled, one a line (or one JSON object a
 * line with --json), and stdout is flushed after every wake-up, so a pipe
 * (ferryctl tail | grep x) sees each record as it comes. Records of
 * different streams come in the order they were read, not in time order.
 * Messages, and the line that says it is ready ("ferryctl: tailing N
 * streams ..."), go to stderr, even with --json: stdout is only records.
 */
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "path.h"
#include "record.h"
#include "sig.h"
#include "spoolread.h"
#include "spoolseg.h"
#include "ctl.h"

/* Without inotify, or a place not watched yet: read the spool this often. */
#define TAIL_RESCAN_MS	1000
/*
 * After a wake-up the streams are read once more this much later: a reader
 * looks for a stream's next segment at most every 20 ms (spoolread.c,
 * NEXT_CHECK_MS), so records written to a new segment within 20 ms of a
 * look would otherwise wait for the next write, or for TAIL_RESCAN_MS.
 */
#define TAIL_SETTLE_MS	25
/* Records read from one stream in one pass, so a signal is not kept waiting. */
#define TAIL_BURST	4096

struct tail_stream {
	char			 name[SPOOL_STREAM_MAX];
	struct spool_reader	*r;
	/*
	 * Started at a segment's size while a write was being made (the size
	 * was not at a line's end): the first line read from that segment is
	 * the rest of a record already spooled, and is not shown.
	 */
	int			 resync;
	uint64_t		 resync_seq;
};

struct tail {
	const struct ctl	*ctl;
	char			 dir[PATH_MAX];
	char			 memdir[PATH_MAX];	/* "": none */
	const char *const	*prefixes;
	size_t			 nprefixes;
	int			 self;		/* --self */
	uint64_t		 count;		/* -n; 0: no end */
	uint64_t		 printed;
	int			 done;		/* -n reached, or stdout gone */
	int			 werr;		/* errno of a failed write */
	struct tail_stream	*streams;
	size_t			 nstreams;
	int			 ifd;		/* inotify, or -1 */
	int			 wd_disk;	/* watches, or -1 */
	int			 wd_mem;
};

#define EV_WROTE	0x01	/* something changed: read the streams */
#define EV_NEW		0x02	/* maybe a new stream: list the spool */

static int	tail_args(struct ctl *, struct tail *, int, char **);
static int	tail_places(const struct ctl *, struct tail *);
static int	tail_watch(struct tail *);
static int	tail_scan(struct tail *, int);
static int	tail_wanted(const struct tail *, const char *);
static struct tail_stream *stream_find(const struct tail *, const char *);
static int	stream_add(struct tail *, const char *, uint64_t, uint64_t,
		    int);
static int	ends_mid_line(const struct tail *, const struct spool_seg *);
static int	tail_pass(struct tail *);
static void	tail_print(struct tail *, const struct tail_stream *,
		    const char *, size_t);
static void	tail_flush(struct tail *);
static int	tail_events(struct tail *);
static int	tail_loop(struct tail *);
static void	tail_free(struct tail *);

int
cmd_tail(struct ctl *ctl, int argc, char **argv)
{
	static const int	 signals[] = { SIGINT, SIGTERM };
	struct tail		 t;
	int			 rc;

	memset(&t, 0, sizeof(t));
	t.ctl = ctl;
	t.ifd = t.wd_disk = t.wd_mem = -1;
	if (tail_args(ctl, &t, argc, argv) == -1)
		return CTL_EX_USAGE;
	if (tail_places(ctl, &t) == -1 || sig_init(signals, 2) == -1)
		return 1;
	/*
	 * Watch first, then list: a segment created in between is seen by the
	 * listing or announced by inotify, never neither.
	 */
	(void)tail_watch(&t);
	if (tail_scan(&t, 1) == -1) {
		tail_free(&t);
		return 1;
	}
	/* A first pass opens every segment: a deletion cannot take one now. */
	(void)tail_pass(&t);
	if (t.memdir[0] != '\0')
		fprintf(stderr, "ferryctl: tailing %zu streams in %s and %s "
		    "(Ctrl-C to stop)\n", t.nstreams, t.dir, t.memdir);
	else
		fprintf(stderr, "ferryctl: tailing %zu streams in %s "
		    "(Ctrl-C to stop)\n", t.nstreams, t.dir);
	rc = tail_loop(&t);
	tail_flush(&t);
	if (t.werr != 0 && t.werr != EPIPE) {
		fprintf(stderr, "ferryctl: write: %s\n", strerror(t.werr));
		rc = 1;
	}
	tail_free(&t);
	return rc;
}

/*
 * Every argument after "tail": its options anywhere (the global ones too,
 * as other commands take them after their name), "--" before a prefix that
 * starts with '-', and the prefixes, kept in argv. 0, or -1 (usage said).
 */
static int
tail_args(struct ctl *ctl, struct tail *t, int argc, char **argv)
{
	const char	*a, *v, *err;
	int		 i, np = 0, opts = 1;

	for (i = 0; i < argc; i++) {
		a = argv[i];
		v = NULL;
		if (!opts || a[0] != '-' || a[1] == '\0') {
			argv[np++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0)
			opts = 0;
		else if (strcmp(a, "--json") == 0)
			ctl->json = 1;
		else if (strcmp(a, "--self") == 0)
			t->self = 1;
		else if ((strcmp(a, "-n") == 0 || strcmp(a, "--count") == 0) &&
		    i + 1 < argc)
			v = argv[++i];
		else if (strncmp(a, "--count=", 8) == 0)
			v = a + 8;
		else if (strncmp(a, "-n", 2) == 0 && a[2] != '\0')
			v = a + 2;
		else if ((strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) &&
		    i + 1 < argc)
			ctl->confpath = argv[++i];
		else if (strncmp(a, "--config=", 9) == 0)
			ctl->confpath = a + 9;
		else
			ctl_usage();
		if (v != NULL) {
			t->count = strtonum(v, 1, LLONG_MAX, &err);
			if (err != NULL) {
				fprintf(stderr, "ferryctl: tail: count %s: "
				    "%s\n", v, err);
				return -1;
			}
		}
	}
	t->prefixes = (const char *const *)argv;
	t->nprefixes = np;
	return 0;
}

/*
 * The spool's two places. A configuration with errors does not stop tail
 * (it reads no other setting), but then the memory place is the default
 * one, which may not be the running ferry's: say so.
 */
static int
tail_places(const struct ctl *ctl, struct tail *t)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;

	if ((conf = ctl_conf_load(ctl, &errs)) != NULL) {
		(void)strlcpy(t->memdir, conf->spool.memory_dir != NULL ?
		    conf->spool.memory_dir : "", sizeof(t->memdir));
		conf_free(conf);
	} else {
		fprintf(stderr, "ferryctl: the configuration has errors (see "
		    "ferryctl check-config): the memory spool is taken to be "
		    "the default one\n");
		if (path_get(t->memdir, sizeof(t->memdir),
		    PATH_MEMSPOOL) == NULL)
			t->memdir[0] = '\0';
	}
	if (path_get(t->dir, sizeof(t->dir), PATH_SPOOL) == NULL) {
		fprintf(stderr, "ferryctl: path too long: %s\n", PATH_SPOOL);
		return -1;
	}
	if (access(t->dir, R_OK | X_OK) == -1) {
		fprintf(stderr, "ferryctl: spool %s: %s\n", t->dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * Watch each place that is not watched yet; 1 when a watch was added (the
 * place may hold what we have not listed), 0 otherwise. Without inotify
 * the places are read every TAIL_RESCAN_MS instead; that costs latency
 * only. The memory place usually appears only once a disk fills up.
 */
static int
tail_watch(struct tail *t)
{
	const uint32_t	mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO;
	int		added = 0;

	if (t->ifd == -1 &&
	    (t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return 0;
	if (t->wd_disk == -1 &&
	    (t->wd_disk = inotify_add_watch(t->ifd, t->dir, mask)) != -1)
		added = 1;
	if (t->memdir[0] != '\0' && t->wd_mem == -1 &&
	    (t->wd_mem = inotify_add_watch(t->ifd, t->memdir, mask)) != -1)
		added = 1;
	return added;
}

/*
 * Readers for the streams we do not follow yet: at start (at_end) from
 * the end of each stream's newest segment; later, a stream that appeared
 * since, from its first segment. 0, or -1 (said).
 */
static int
tail_scan(struct tail *t, int at_end)
{
	struct spool_seg	*segs;
	const struct spool_seg	*s;
	size_t			 n, i, j;
	int			 rc = 0;

	if (spool_list(t->dir, t->memdir, &segs, &n) == -1)
		return at_end ? -1 : 0;	/* later: the next look may do */
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && strcmp(segs[j].stream,
		    segs[i].stream) == 0; j++)
			;
		if (!tail_wanted(t, segs[i].stream) ||
		    stream_find(t, segs[i].stream) != NULL)
			continue;
		s = at_end ? &segs[j - 1] : &segs[i];
		rc = stream_add(t, s->stream, s->seq, at_end ? s->size : 0,
		    at_end && ends_mid_line(t, s));
	}
	free(segs);
	return rc;
}

static int
tail_wanted(const struct tail *t, const char *stream)
{
	return t->self || strncmp(stream, "self-", 5) != 0;
}

static struct tail_stream *
stream_find(const struct tail *t, const char *stream)
{
	size_t	i;

	for (i = 0; i < t->nstreams; i++)
		if (strcmp(t->streams[i].name, stream) == 0)
			return &t->streams[i];
	return NULL;
}

static int
stream_add(struct tail *t, const char *stream, uint64_t seq, uint64_t off,
    int resync)
{
	struct tail_stream	*v, *s;

	if ((v = reallocarray(t->streams, t->nstreams + 1,
	    sizeof(*v))) == NULL) {
		fprintf(stderr, "ferryctl: %s\n", strerror(errno));
		return -1;
	}
	t->streams = v;
	s = &v[t->nstreams];
	memset(s, 0, sizeof(*s));
	(void)strlcpy(s->name, stream, sizeof(s->name));
	if ((s->r = spool_reader_open(t->dir, t->memdir, stream, seq,
	    off)) == NULL)
		return -1;
	s->resync = resync;
	s->resync_seq = seq;
	t->nstreams++;
	return 0;
}

/*
 * Does the segment's listed size fall inside a line? A writer appends whole
 * lines, but a large write(2) becomes visible in pieces, so the size seen
 * by a listing may be mid-way through one.
 */
static int
ends_mid_line(const struct tail *t, const struct spool_seg *seg)
{
	char	path[PATH_MAX], c;
	int	fd, mid;

	if (seg->size == 0 || spool_seg_path(path, sizeof(path),
	    seg->inmem ? t->memdir : t->dir, seg->stream, seg->seq) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	mid = pread(fd, &c, 1, seg->size - 1) == 1 && c != '\n';
	close(fd);
	return mid;
}

/*
 * Read every stream as far as it goes now (at most TAIL_BURST records
 * each) and print what matches. 1 when a stream has more to read at once.
 */
static int
tail_pass(struct tail *t)
{
	struct tail_stream	*s;
	const char		*line;
	size_t			 len, i, k;
	uint64_t		 seq, off;
	int			 rc, more = 0;

	for (i = 0; i < t->nstreams && !t->done; i++) {
		s = &t->streams[i];
		for (k = 0; k < TAIL_BURST && !t->done; k++) {
			if ((rc = spool_reader_next(s->r, &line, &len)) == 0)
				break;
			spool_reader_tell(s->r, &seq, &off);
			if (rc == -1) {
				/* Said by the reader; give that segment up. */
				spool_reader_skip(s->r, seq);
				break;
			}
			if (s->resync) {
				s->resync = 0;
				if (seq == s->resync_seq)
					continue;
			}
			if (record_key_matches(line, record_key_len(line, len),
			    t->prefixes, t->nprefixes))
				tail_print(t, s, line, len);
		}
		if (k == TAIL_BURST)
			more = 1;
	}
	return more;
}

static void
tail_print(struct tail *t, const struct tail_stream *s, const char *line,
    size_t len)
{
	if (t->ctl->json) {
		fputs("{\"stream\":", stdout);
		json_str(stdout, s->name);
		fputs(",\"key\":", stdout);
		json_strn(stdout, line, record_key_len(line, len));
		fputs(",\"line\":", stdout);
		json_strn(stdout, line, len);
		fputs("}\n", stdout);
	} else {
		(void)fwrite(line, 1, len, stdout);
		(void)putchar('\n');
	}
	if (ferror(stdout)) {
		t->werr = errno;
		t->done = 1;
		return;
	}
	if (t->count != 0 && ++t->printed >= t->count)
		t->done = 1;
}

/* A failed write ends tail: EPIPE quietly (the reader went away). */
static void
tail_flush(struct tail *t)
{
	if (t->werr == 0 && (fflush(stdout) == EOF || ferror(stdout))) {
		t->werr = errno != 0 ? errno : EIO;
		t->done = 1;
	}
}

/*
 * Read what inotify has: EV_WROTE when anything happened, with EV_NEW when
 * a segment of a stream we do not follow (and want) appeared, or events
 * were lost. A place that went away is watched again when it is back.
 */
static int
tail_events(struct tail *t)
{
	char				 buf[4096]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event	*ev;
	char				 stream[SPOOL_STREAM_MAX];
	uint64_t			 seq;
	ssize_t				 n;
	char				*p;
	int				 what = 0;

	while ((n = read(t->ifd, buf, sizeof(buf))) > 0) {
		for (p = buf; p < buf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)p;
			what |= EV_WROTE;
			if (ev->mask & IN_Q_OVERFLOW)
				what |= EV_NEW;
			else if (ev->mask & IN_IGNORED) {
				if (ev->wd == t->wd_disk)
					t->wd_disk = -1;
				if (ev->wd == t->wd_mem)
					t->wd_mem = -1;
			} else if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
			    ev->len > 0 && spool_name_parse(ev->name, stream,
			    sizeof(stream), &seq) == 0 &&
			    tail_wanted(t, stream) &&
			    stream_find(t, stream) == NULL)
				what |= EV_NEW;
		}
	}
	return what;
}

/*
 * Read, print, flush, wait; until a signal, -n records, or stdout is gone.
 * stdout is polled too when it is a pipe or a socket, so a reader that went
 * away (ferryctl tail | head -1) ends tail even while nothing matches.
 * Once every TAIL_RESCAN_MS, busy or not, a place not watched yet (the
 * memory place, made when a disk fills up) is watched, and without a watch
 * on the disk place the spool is listed for new streams.
 */
static int
tail_loop(struct tail *t)
{
	struct pollfd	pfd[3];
	struct stat	st;
	uint64_t	now, next_look;
	int		more, settle = 0, timeout, ev, i;

	pfd[0].fd = sig_fd();
	pfd[1].fd = t->ifd;		/* poll() passes over a negative fd */
	pfd[2].fd = fstat(STDOUT_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) ? STDOUT_FILENO : -1;
	pfd[0].events = pfd[1].events = POLLIN;
	pfd[2].events = 0;		/* POLLERR and POLLHUP come anyway */
	next_look = clock_mono_ms() + TAIL_RESCAN_MS;
	for (;;) {
		if ((now = clock_mono_ms()) >= next_look) {
			next_look = now + TAIL_RESCAN_MS;
			if (tail_watch(t) || t->wd_disk == -1)
				(void)tail_scan(t, 0);
			pfd[1].fd = t->ifd;
		}
		more = tail_pass(t);
		tail_flush(t);
		if (t->done)
			return 0;
		now = clock_mono_ms();
		timeout = more ? 0 : settle ? TAIL_SETTLE_MS :
		    (int)(next_look > now ? next_look - now : 0);
		settle = 0;
		for (i = 0; i < 3; i++)
			pfd[i].revents = 0;
		if (poll(pfd, 3, timeout) == -1 && errno != EINTR) {
			fprintf(stderr, "ferryctl: poll: %s\n",
			    strerror(errno));
			return 1;
		}
		if (sig_quit_requested())
			return 0;
		if (pfd[2].revents & (POLLERR | POLLHUP))
			return 0;
		if (pfd[1].revents & POLLIN) {
			if ((ev = tail_events(t)) & EV_NEW)
				(void)tail_scan(t, 0);
			settle = ev != 0;
		}
	}
}

static void
tail_free(struct tail *t)
{
	size_t	i;

	for (i = 0; i < t->nstreams; i++)
		spool_reader_close(t->streams[i].r);
	free(t->streams);
	if (t->ifd != -1)
		close(t->ifd);
}
