/*
 * ferry-sink: main. Reads the configuration, refuses to listen beyond
 * loopback without an API key (exit 78: restarting will not help), opens the
 * store, starts the HTTP daemon on its own listening socket and then waits
 * for signals: SIGTERM or SIGINT stop it cleanly (exit 0), SIGUSR1 reopens
 * the log file, SIGHUP is noted and ignored (the supervisor restarts the sink
 * when its section of the configuration changes).
 *
 * The socket is made here (with common/sock.c) rather than by
 * libmicrohttpd so that the bind address may be IPv4, IPv6 or a name, and
 * so that the loopback check looks at the very addresses the sink listens
 * on.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conf.h"
#include "log.h"
#include "path.h"
#include "selfmetrics.h"
#include "sig.h"
#include "sink.h"
#include "sock.h"
#include "version.h"

/* Clients wait here while libmicrohttpd is at its limit (http.c). */
#define LISTEN_BACKLOG	512
#define NOTICE_MS	60000	/* evictions: one line a minute at most */
#define MERGE_MS	1000	/* points reach the points table this soon */

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: ferry-sink [-dnV] [-c config]\n");
	exit(EX_CONFIG_ERROR);
}

/*
 * The addresses of bind:port; an empty bind means every address. Exits 78
 * when they cannot be resolved, or reach beyond loopback and no API key
 * guards them (SPEC.md, Security).
 */
static struct addrinfo *
sink_resolve(const char *baddr, int port, int have_key)
{
	struct addrinfo	*res;
	int		 rc;

	if (port < 1 || port > 65535)
		fatalx_config("sink.port %d: not a TCP port", port);
	if ((rc = sock_addrs(baddr, port, SOCK_STREAM, 1, &res)) != 0)
		fatalx_config("sink.bind \"%s\": %s", baddr, gai_strerror(rc));
	if (!have_key && !sock_loopback_only(res))
		fatalx_config("sink.bind \"%s\" listens beyond loopback: "
		    "set sink.api_key, or bind to 127.0.0.1", baddr);
	return res;
}

/* Listen on the first address that works; exit 1 (retry later) if none does. */
static int
sink_listen(const char *baddr, int port, struct addrinfo *res)
{
	int	fd;

	fd = sock_listen(res, LISTEN_BACKLOG);
	freeaddrinfo(res);
	if (fd == -1)
		fatal("cannot listen on %s:%d", baddr, port);
	return fd;
}

/* Handle one signal; 1 when the sink should stop. */
static int
sink_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
		log_info("SIGTERM: stopping");
		return 1;
	case SIGINT:
		log_info("SIGINT: stopping");
		return 1;
	case SIGUSR1:
		if (log_reopen() == -1)
			log_warnx("cannot reopen the log file");
		return 0;
	case SIGHUP:
		log_info("SIGHUP: the configuration is read at start; "
		    "restart the sink to apply it");
		return 0;
	default:
		return 0;
	}
}

/* Evictions (http.c) are said when they start, then once a minute. */
static void
sink_notice(const struct sink_stats *now)
{
	static uint64_t	logged_ms, evicted;
	uint64_t	t = clock_mono_ms();

	if (now->evicted == evicted ||
	    (logged_ms != 0 && t - logged_ms < NOTICE_MS))
		return;
	log_warnx("%d connections open: %llu idle ones closed to make room "
	    "since the last notice", SINK_CONN_MAX,
	    (unsigned long long)(now->evicted - evicted));
	evicted = now->evicted;
	logged_ms = t;
}

/* The counters as last read: what the self-metrics declared point at. */
static struct sink_stats	counted;

/* Our counters as metrics in ferry's spool, when they changed. */
static void
sink_declare(struct selfmetrics *self)
{
	if (self == NULL)
		return;
	selfmetrics_pace(self, 0, 0);
	(void)selfmetrics_declare(self, "stored", &counted.stored, 0);
	(void)selfmetrics_declare(self, "invalid", &counted.invalid, 0);
	(void)selfmetrics_declare(self, "requests", &counted.requests, 0);
	(void)selfmetrics_declare(self, "refused", &counted.refused, 0);
	(void)selfmetrics_declare(self, "connections", &counted.connections, 0);
	(void)selfmetrics_declare(self, "evicted", &counted.evicted, 0);
}

static void
sink_publish(struct selfmetrics *self, int force)
{
	memset(&counted, 0, sizeof(counted));
	ingest_stats(&counted);
	http_stats(&counted);
	sink_notice(&counted);
	if (self != NULL)
		(void)selfmetrics_publish(self, clock_mono_ms(), force);
}

/*
 * Wait for signals, and once a second merge the points received (see
 * store.c) and publish our counters. The wakeup costs a read of a few
 * counters when nothing arrived; it spares the HTTP thread a way to wake
 * this one.
 */
static void
sink_loop(struct store *store, struct selfmetrics *self)
{
	struct pollfd	pfd;
	uint64_t	now, due;
	int		sig, quit = 0, failing = 0;

	due = clock_mono_ms() + MERGE_MS;
	while (!quit) {
		now = clock_mono_ms();
		pfd.fd = sig_fd();
		pfd.events = POLLIN;
		if (poll(&pfd, 1, due > now ? (int)(due - now) : 0) == -1 &&
		    errno != EINTR)
			fatal("poll");
		while ((sig = sig_next()) != 0)
			quit |= sink_signal(sig);
		if (clock_mono_ms() < due)
			continue;
		due = clock_mono_ms() + MERGE_MS;
		sink_publish(self, 0);
		if (store_pending(store) == 0)
			continue;
		/* store.c has logged the cause; say once that it goes on. */
		if (store_merge(store) == -1) {
			if (!failing)
				log_warnx("points stay unmerged; retrying "
				    "every %d ms", MERGE_MS);
			failing = 1;
		} else if (failing) {
			log_info("points merged again");
			failing = 0;
		}
	}
}

/*
 * The sink is one of ferry's processes: its counters travel like the
 * others'. Without a spool (a sink run on its own) it just keeps quiet.
 */
static struct selfmetrics *
sink_self_metrics(const struct ferry_conf *conf)
{
	char	dir[4096];

	if (path_get(dir, sizeof(dir), PATH_SPOOL) == NULL ||
	    path_mkdirs(PATH_SPOOL, 0750) == -1)
		return NULL;
	return selfmetrics_open(conf, dir, "sink");
}

static struct ferry_conf *
sink_conf(const char *path)
{
	struct conf_errors	 errs;
	struct ferry_conf	*conf;

	memset(&errs, 0, sizeof(errs));
	if ((conf = conf_load(path, &errs)) == NULL) {
		conf_log_errors(&errs);
		fatalx_config("%s: invalid configuration", path);
	}
	return conf;
}

static void
sink_ignore_sigpipe(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		fatal("sigaction");
}

int
main(int argc, char *argv[])
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct ferry_conf	*conf;
	struct addrinfo		*addrs;
	struct store		*store;
	struct http		*http;
	struct selfmetrics	*self;
	const char		*path = NULL, *key, *baddr;
	char			 db[1024];
	int			 ch, debug = 0, check = 0, fd;

	while ((ch = getopt(argc, argv, "c:dnV")) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'V':
			version_print("ferry-sink");
			return 0;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	log_init("ferry-sink", debug ? LOG_DEBUG : 0);

	conf = sink_conf(path != NULL ? path : conf_default_path());
	key = conf->sink.api_key != NULL ? conf->sink.api_key : "";
	baddr = conf->sink.bind != NULL ? conf->sink.bind : "";
	addrs = sink_resolve(baddr, conf->sink.port, *key != '\0');
	if (check) {
		freeaddrinfo(addrs);
		conf_free(conf);
		printf("configuration OK\n");
		return 0;
	}

	if (path_mkdirs(PATH_VAR, 0750) == -1 ||
	    path_get(db, sizeof(db), PATH_SINK_DB) == NULL)
		fatalx("cannot prepare %s", PATH_VAR);
	if (sig_init(sigs, sizeof(sigs) / sizeof(sigs[0])) == -1)
		fatalx("cannot catch signals");
	sink_ignore_sigpipe();
	fd = sink_listen(baddr, conf->sink.port, addrs);
	if ((store = store_open(db)) == NULL)
		fatalx("cannot open the store %s", db);
	if ((http = http_start(fd, store, key)) == NULL)
		fatalx("cannot start the HTTP server");
	log_info("listening on %s:%d, store %s%s", baddr,
	    conf->sink.port, db, *key != '\0' ? ", API key required" : "");
	self = sink_self_metrics(conf);
	sink_declare(self);

	sink_loop(store, self);

	http_stop(http);
	sink_publish(self, 1);
	selfmetrics_close(self);
	store_close(store);
	conf_free(conf);
	log_info("stopped");
	return 0;
}
