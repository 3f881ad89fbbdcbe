/*
 * transport_redis: redis://[:password@]host[:port]/?key=LIST[&limit=N][&db=D]
 * pushes each batch onto a list, as Logyard's drains kept "the recent
 * lines" of an application: LPUSH key rec1 ... recN, then, with a limit,
 * LTRIM key 0 N-1, written together (one pipeline) so the list never
 * holds more than N for longer than a round trip. The newest record ends
 * up first (LRANGE key 0 -1 reads newest to oldest).
 *
 * hiredis makes the commands (redisFormatCommandArgv) and reads the
 * replies (its reply reader, fed with what we read); the connection is
 * ours, non-blocking in the forwarder's poll like every transport's.
 * AUTH and SELECT go first on each new connection, on their own, so a
 * wrong password or database is a retry with Redis's words, never a push
 * into database 0.
 *
 * "Sent" is Redis's reply to every command of the batch. A reply that says
 * the batch can never succeed (WRONGTYPE: the key holds something else; any
 * ERR) refuses it for good: it is dead-lettered. Anything else (no reply,
 * LOADING, READONLY, OOM, a closed connection) is a retry, on a new
 * connection, of the whole batch: Redis may have pushed it already, so a
 * crash or a lost reply can put a batch on the list twice.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis.h>

#include "forwarder.h"
#include "log.h"
#include "netconn.h"
#include "transport.h"

#define STALL_MS	7000	/* no reply this long: dead */

enum phase { PH_IDLE, PH_HANDSHAKE, PH_BATCH };

struct redis {
	struct netconn	 nc;
	redisReader	*reader;
	struct buf	 wire;		/* commands to write */
	size_t		 off;
	enum phase	 phase;
	int		 ready;		/* this connection did AUTH and SELECT */
	int		 busy;		/* a batch is with us */
	int		 expect, got;	/* replies */
	char		 error[256];	/* the first error reply of the round */
	uint64_t	 moved_at;
	char		 password[256];	/* "" none */
	/* The records of a batch, rendered, as LPUSH's arguments. */
	struct buf	 args;
	size_t		*argoff, *arglen;
	size_t		 nargs, argcap;
};

/* The password of redis://:PASSWORD@host or redis://PASSWORD@host. */
static void
password_of(const char *uri, char *pw, size_t size)
{
	const char	*auth = strstr(uri, "://"), *at, *end, *colon;

	pw[0] = '\0';
	if (auth == NULL)
		return;
	auth += 3;
	end = auth + strcspn(auth, "/?");
	if ((at = memchr(auth, '@', (size_t)(end - auth))) == NULL)
		return;
	colon = memchr(auth, ':', (size_t)(at - auth));
	auth = colon != NULL ? colon + 1 : auth;
	snprintf(pw, size, "%.*s", (int)(at - auth), auth);
}

static int
redis_open(struct output *o)
{
	struct redis	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->reader = redisReaderCreate()) == NULL) {
		log_warnx("output %s: out of memory", o->name);
		free(r);
		return -1;
	}
	netconn_init(&r->nc, o, SOCK_STREAM);
	buf_init(&r->wire, 0);
	buf_init(&r->args, 0);
	password_of(o->uri, r->password, sizeof(r->password));
	o->tstate = r;
	return 0;
}

/* Append one command, its arguments as (pointer, length) pairs. */
static int
command(struct redis *r, int argc, const char **argv, const size_t *len)
{
	char	*cmd;
	int	 n;

	if ((n = redisFormatCommandArgv(&cmd, argc, argv, len)) < 0)
		return -1;
	n = buf_add(&r->wire, cmd, (size_t)n);
	redisFreeCommand(cmd);
	r->expect++;
	return n;
}

static int
command_str(struct redis *r, const char *a, const char *b, const char *c,
    const char *d)
{
	const char	*argv[4] = { a, b, c, d };
	size_t		 len[4];
	int		 argc;

	for (argc = 0; argc < 4 && argv[argc] != NULL; argc++)
		len[argc] = strlen(argv[argc]);
	return command(r, argc, argv, len);
}

static int
add_arg(const struct output *o, const struct record *rec, void *arg)
{
	struct redis	*r = arg;
	size_t		*no, *nl, mark = r->args.len, cap;

	if (format_render(o->fmt[rec->kind], &o->fctx, rec, &r->args) == -1)
		return r->args.len == mark ? 0 : -1;
	if (r->nargs == r->argcap) {
		cap = r->argcap ? r->argcap * 2 : 256;
		if ((no = reallocarray(r->argoff, cap, sizeof(*no))) == NULL)
			return -1;
		r->argoff = no;
		if ((nl = reallocarray(r->arglen, cap, sizeof(*nl))) == NULL)
			return -1;
		r->arglen = nl;
		r->argcap = cap;
	}
	r->argoff[r->nargs] = mark;
	r->arglen[r->nargs++] = r->args.len - mark;
	return 0;
}

/* LPUSH key records... [LTRIM key 0 limit-1] into wire. */
static int
batch_commands(const struct output *o, struct redis *r)
{
	const char	**argv;
	size_t		 *len, i;
	char		  stop[24];
	int		  rc;

	r->nargs = 0;
	buf_reset(&r->args);
	if (batch_each(o, add_arg, r) != 0)
		return -1;
	if (r->nargs == 0)
		return 0;
	if ((argv = calloc(r->nargs + 2, sizeof(*argv))) == NULL ||
	    (len = calloc(r->nargs + 2, sizeof(*len))) == NULL) {
		free(argv);
		return -1;
	}
	argv[0] = "LPUSH";
	len[0] = 5;
	argv[1] = o->url.key;
	len[1] = strlen(o->url.key);
	for (i = 0; i < r->nargs; i++) {
		argv[i + 2] = r->args.p + r->argoff[i];
		len[i + 2] = r->arglen[i];
	}
	rc = command(r, (int)r->nargs + 2, argv, len);
	free(argv);
	free(len);
	if (rc == 0 && o->url.limit > 0) {
		snprintf(stop, sizeof(stop), "%ld", o->url.limit - 1);
		rc = command_str(r, "LTRIM", o->url.key, "0", stop);
	}
	return rc;
}

/* Begin a round of commands: the handshake or the batch. */
static int
begin(const struct output *o, struct redis *r, uint64_t now)
{
	char	db[16];

	buf_reset(&r->wire);
	r->off = 0;
	r->expect = r->got = 0;
	r->error[0] = '\0';
	r->moved_at = now;
	if (!r->ready && (r->password[0] != '\0' || o->url.db != 0)) {
		r->phase = PH_HANDSHAKE;
		snprintf(db, sizeof(db), "%d", o->url.db);
		if (r->password[0] != '\0' &&
		    command_str(r, "AUTH", r->password, NULL, NULL) == -1)
			return -1;
		return o->url.db != 0 ?
		    command_str(r, "SELECT", db, NULL, NULL) : 0;
	}
	r->ready = 1;
	r->phase = PH_BATCH;
	return batch_commands(o, r);
}

/* The round failed: drop the connection and let output.c retry. */
static void
broken(struct output *o, struct redis *r, uint64_t now, const char *why)
{
	netconn_close(&r->nc);
	redisReaderFree(r->reader);
	r->reader = redisReaderCreate();
	r->ready = 0;
	r->phase = PH_IDLE;
	if (!r->busy)
		return;
	r->busy = 0;
	tr_retry(o, now, 0, "%s", why);
}

static int
redis_start(struct output *o, uint64_t now)
{
	struct redis	*r = o->tstate;

	if (r->reader == NULL)
		return -1;
	r->busy = 1;
	r->phase = PH_IDLE;
	netconn_start(&r->nc, now);
	if (r->nc.state == NC_DOWN) {
		r->busy = 0;
		tr_retry(o, now, 0, "%s", r->nc.err);
		return 0;
	}
	if (r->nc.state == NC_UP && begin(o, r, now) == -1) {
		r->busy = 0;
		return -1;
	}
	if (r->phase == PH_BATCH && r->expect == 0) {
		r->busy = 0;		/* nothing renderable in it */
		tr_sent(o, now);
	}
	return 0;
}

static int
redis_fds(struct output *o, struct pollfd *pfd, int max, uint64_t *due)
{
	struct redis	*r = o->tstate;

	if (r->nc.state != NC_UP)
		return netconn_fds(&r->nc, pfd, max, due);
	pfd[0].fd = r->nc.fd;
	pfd[0].events = POLLIN;
	if (r->busy && r->off < r->wire.len)
		pfd[0].events |= POLLOUT;
	if (r->busy && r->moved_at + STALL_MS < *due)
		*due = r->moved_at + STALL_MS;
	return 1;
}

/* Read what came and take each reply; -1 with why when the connection ended. */
static int
read_replies(struct redis *r, uint64_t now, char *why, size_t size)
{
	redisReply	*reply;
	char		 buf[16384];
	ssize_t		 n;

	while ((n = read(r->nc.fd, buf, sizeof(buf))) > 0) {
		r->moved_at = now;
		if (redisReaderFeed(r->reader, buf, (size_t)n) != REDIS_OK)
			break;
	}
	if (n == 0) {
		snprintf(why, size, "Redis closed the connection");
		return -1;
	}
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		snprintf(why, size, "read: %s", strerror(errno));
		return -1;
	}
	for (;;) {
		reply = NULL;
		if (redisReaderGetReply(r->reader, (void **)&reply) != REDIS_OK) {
			snprintf(why, size, "a reply Redis should not send");
			return -1;
		}
		if (reply == NULL)
			return 0;
		r->got++;
		if (reply->type == REDIS_REPLY_ERROR && r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error), "%s", reply->str);
		freeReplyObject(reply);
	}
}

/* Every reply of the round is in: what it means. */
static void
round_done(struct output *o, struct redis *r, uint64_t now)
{
	char	code[32], why[300];

	if (r->phase == PH_HANDSHAKE) {
		if (r->error[0] != '\0') {
			snprintf(why, sizeof(why), "Redis: %s", r->error);
			broken(o, r, now, why);
			return;
		}
		r->ready = 1;
		if (begin(o, r, now) == -1)
			broken(o, r, now, "cannot make the commands");
		else if (r->expect == 0) {
			r->busy = 0;
			tr_sent(o, now);
		}
		return;
	}
	r->busy = 0;
	r->phase = PH_IDLE;
	if (r->error[0] == '\0') {
		tr_sent(o, now);
		return;
	}
	/* The error's first word is its kind. */
	snprintf(code, sizeof(code), "%.*s", (int)strcspn(r->error, " "),
	    r->error);
	if (strcmp(code, "WRONGTYPE") == 0 || strcmp(code, "ERR") == 0)
		tr_refused(o, now, code, "Redis: %s", r->error);
	else
		tr_retry(o, now, 0, "Redis: %s", r->error);
}

static void
redis_progress(struct output *o, const struct pollfd *pfd, int n,
    uint64_t now)
{
	struct redis	*r = o->tstate;
	char		 why[300];
	size_t		 before;
	int		 rc;

	if (r->nc.state != NC_UP) {
		if ((rc = netconn_ready(&r->nc, pfd, &n, now)) != 1) {
			if (rc == -1)
				broken(o, r, now, r->nc.err);
			return;
		}
		if (r->busy && begin(o, r, now) == -1) {
			broken(o, r, now, "cannot make the commands");
			return;
		}
	}
	if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    read_replies(r, now, why, sizeof(why)) == -1) {
		broken(o, r, now, why);
		return;
	}
	if (!r->busy)
		return;
	before = r->off;
	if (netconn_send(&r->nc, r->wire.p, r->wire.len, &r->off) == -1) {
		snprintf(why, sizeof(why), "write: %s", strerror(errno));
		broken(o, r, now, why);
		return;
	}
	if (r->off > before)
		r->moved_at = now;
	if (r->off == r->wire.len && r->got >= r->expect) {
		round_done(o, r, now);
		return;
	}
	if (now - r->moved_at >= STALL_MS)
		broken(o, r, now, "Redis went silent: no reply for 7 s");
}

static void
redis_close(struct output *o)
{
	struct redis	*r = o->tstate;

	if (r == NULL)
		return;
	netconn_close(&r->nc);
	if (r->reader != NULL)
		redisReaderFree(r->reader);
	buf_free(&r->wire);
	buf_free(&r->args);
	free(r->argoff);
	free(r->arglen);
	explicit_bzero(r->password, sizeof(r->password));
	free(r);
	o->tstate = NULL;
}

const struct transport transport_redis = {
	.name = "redis",
	.open = redis_open,
	.start = redis_start,
	.fds = redis_fds,
	.progress = redis_progress,
	.close = redis_close,
};
