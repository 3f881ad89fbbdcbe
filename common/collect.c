/*
 * collect: the shared frame of the built-in collectors (see collect.h):
 * options, the one-shot and daemon loops, the state file, and the lines it
 * prints. A collector's own file keeps only what it reads and what it names.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "clock.h"
#include "collect.h"
#include "log.h"
#include "path.h"
#include "procfs.h"
#include "rate.h"
#include "version.h"

#define BOOT_ID_PATH	"/proc/sys/kernel/random/boot_id"
#define NAME_MAX_LEN	256	/* a metric name, before ferry's prefix */
#define EMIT_BUF	8192	/* an inline collector's lines, handed on when full */

struct collect {
	const struct collect_def *def;
	int		 daemon;
	uint64_t	 interval_ms;
	struct rate	*rate;
	char		 state[4096];	/* state file; "" in daemon mode */
	char		 boot_id[64];
	int64_t		 now;		/* wall seconds of this sample */
	uint64_t	 next_ms;	/* monotonic time of the next sample */
	int		 started;
	int		 round_failed;	/* this sample hit a failure */
	int		 failing;	/* and so did the one before */
	int		 failed;	/* the exit status will be 1 */
	collect_emit_fn	 emit;		/* inline: where the lines go */
	void		*emit_arg;	/* the round's, for emit */
	char		*buf;		/* inline: lines not handed on yet */
	size_t		 len;
};

static void
collect_usage(const struct collect_def *def)
{
	fprintf(stderr, "usage: %s [-dV] [-i seconds]%s%s\n", def->name,
	    def->usage[0] != '\0' ? " " : "", def->usage);
}

static int
collect_interval(const char *s, uint64_t *ms)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.05 && v <= 86400))
		return -1;
	*ms = (uint64_t)(v * 1000 + 0.5);
	return 0;
}

/* mkdir -p; only for the state folder, which nothing else creates. */
static int
collect_mkdirs(char *path)
{
	char	*p, c;

	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, 0750) == -1 && errno != EEXIST) {
			*p = c;
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

static int
collect_state_open(struct collect *c)
{
	char		 dir[4096];
	const char	*env;
	int		 len;

	if (procfs_read(BOOT_ID_PATH, c->boot_id, sizeof(c->boot_id)) <= 0)
		snprintf(c->boot_id, sizeof(c->boot_id), "unknown");
	else
		c->boot_id[strcspn(c->boot_id, "\n ")] = '\0';

	env = getenv("FERRY_STATE_DIR");
	if (env != NULL && env[0] != '\0')
		len = snprintf(dir, sizeof(dir), "%s", env);
	else
		len = path_get(dir, sizeof(dir), COLLECT_STATE_DIR) == NULL ? -1 :
		    (int)strlen(dir);
	if (len <= 0 || (size_t)len >= sizeof(dir) ||
	    (size_t)snprintf(c->state, sizeof(c->state), "%s/%s.state", dir,
	    c->def->name) >= sizeof(c->state)) {
		log_warnx("state folder path too long");
		return -1;
	}
	/*
	 * Without its state a one-shot collector still prints its gauges;
	 * only rates are missing. So problems here are logged, not fatal.
	 */
	if (collect_mkdirs(dir) == -1)
		log_warn("mkdir %s: no rates this run", dir);
	else if (rate_load(c->rate, c->state, c->boot_id) == -1)
		log_warn("%s", c->state);
	return 0;
}

struct collect *
collect_open(const struct collect_def *def, int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "daemon",	no_argument,		NULL, 'd' },
		{ "interval",	required_argument,	NULL, 'i' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL,		0,			NULL, 0 }
	};
	struct collect	*c;
	char		 opts[64];
	const char	*env;
	int		 ch;

	if ((c = calloc(1, sizeof(*c))) == NULL || (c->rate = rate_new()) == NULL) {
		log_warn("calloc");
		free(c);
		return NULL;
	}
	c->def = def;
	c->interval_ms = (uint64_t)(COLLECT_INTERVAL_DEFAULT * 1000);
	env = getenv("FERRY_INTERVAL");
	if (env != NULL && env[0] != '\0' &&
	    collect_interval(env, &c->interval_ms) == -1)
		log_warnx("FERRY_INTERVAL=%s is not a number of seconds, using %g",
		    env, COLLECT_INTERVAL_DEFAULT);

	/* ferry-collectors says how it runs us: FERRY_MODE=daemon or interval. */
	env = getenv("FERRY_MODE");
	if (env != NULL && strcmp(env, "daemon") == 0)
		c->daemon = 1;

	snprintf(opts, sizeof(opts), "+dhi:V%s", def->opts);
	while ((ch = getopt_long(argc, argv, opts, longopts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			c->daemon = 1;
			break;
		case 'i':
			if (collect_interval(optarg, &c->interval_ms) == -1) {
				log_warnx("-i %s: not a number of seconds", optarg);
				goto usage;
			}
			break;
		case 'V':
			version_print(def->name);
			exit(0);
		case 'h':
		case '?':
			goto usage;
		default:
			if (def->option == NULL ||
			    def->option(ch, optarg, def->arg) == -1)
				goto usage;
		}
	}
	/* "--daemon 10", the way exec-style daemons are often configured. */
	if (optind == argc - 1 && c->daemon &&
	    collect_interval(argv[optind], &c->interval_ms) == 0)
		optind++;
	if (optind != argc)
		goto usage;

	if (!c->daemon && def->counters && collect_state_open(c) == -1) {
		collect_close(c);
		return NULL;
	}
	return c;
usage:
	collect_usage(def);
	collect_close(c);
	return NULL;
}

/* Sleeps until the next sample is due; ticks missed while stopped are skipped. */
static void
collect_sleep(struct collect *c)
{
	struct timespec	ts;
	uint64_t	now;

	c->next_ms += c->interval_ms;
	while ((now = clock_mono_ms()) < c->next_ms) {
		ts.tv_sec = (time_t)((c->next_ms - now) / 1000);
		ts.tv_nsec = (long)((c->next_ms - now) % 1000) * 1000000;
		nanosleep(&ts, NULL);
	}
	if (now - c->next_ms >= c->interval_ms)
		c->next_ms = now;
}

int
collect_next(struct collect *c)
{
	if (c->started) {
		rate_end(c->rate);
		if (fflush(stdout) == EOF || ferror(stdout)) {
			log_warn("stdout");
			c->failed = 1;
			return 0;
		}
		if (c->round_failed) {
			c->failing = 1;
			if (!c->daemon)
				c->failed = 1;
		} else if (c->failing) {
			log_info("sampling works again");
			c->failing = 0;
		}
		if (!c->daemon) {
			if (c->state[0] != '\0' &&
			    rate_save(c->rate, c->state, c->boot_id) == -1)
				log_warn("%s: no rates next run", c->state);
			return 0;
		}
		collect_sleep(c);
	} else
		c->next_ms = clock_mono_ms();
	c->started = 1;
	c->round_failed = 0;
	c->now = clock_wall();
	rate_begin(c->rate, clock_mono_ms());
	return 1;
}

struct rate *
collect_rate(struct collect *c)
{
	return c->rate;
}

double
collect_elapsed(const struct collect *c)
{
	return rate_elapsed(c->rate);
}

int
collect_daemon(const struct collect *c)
{
	return c->daemon;
}

int
collect_main(const struct collect_def *def, int argc, char *argv[])
{
	struct collect	*c;

	log_init(def->name, 0);
	if ((c = collect_open(def, argc, argv)) == NULL)
		return 1;
	while (collect_next(c))
		def->sample(c, def->arg);
	if (def->done != NULL)
		def->done(def->arg);
	return collect_close(c);
}

struct collect *
collect_inline(const struct collect_def *def, collect_emit_fn emit)
{
	struct collect	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->rate = rate_new()) == NULL ||
	    (c->buf = malloc(EMIT_BUF)) == NULL) {
		log_warn("collector %s: calloc", def->name);
		collect_close(c);
		return NULL;
	}
	c->def = def;
	c->daemon = 1;		/* counters live in memory, as a daemon's */
	c->emit = emit;
	return c;
}

static void
collect_emit_flush(struct collect *c)
{
	if (c->len > 0)
		c->emit(c->emit_arg, c->buf, c->len);
	c->len = 0;
}

int
collect_round(struct collect *c, void *arg)
{
	c->emit_arg = arg;
	c->round_failed = 0;
	c->now = clock_wall();
	rate_begin(c->rate, clock_mono_ms());
	c->def->sample(c, c->def->arg);
	rate_end(c->rate);
	collect_emit_flush(c);
	c->emit_arg = NULL;
	if (c->round_failed)
		c->failing = 1;
	else if (c->failing) {
		log_info("collector %s: sampling works again", c->def->name);
		c->failing = 0;
	}
	return c->round_failed ? -1 : 0;
}

static void
collect_line(struct collect *c, const char *value, const char *fmt, va_list ap)
{
	char	name[NAME_MAX_LEN];
	int	n;

	n = vsnprintf(name, sizeof(name), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		log_debug("metric name too long, skipped: %s...", name);
		return;
	}
	if (c->emit == NULL) {
		printf("%s %s %lld\n", name, value, (long long)c->now);
		return;
	}
	/* A line is at most NAME_MAX_LEN + 64 + 24 bytes: it always fits. */
	if (EMIT_BUF - c->len < NAME_MAX_LEN + 96)
		collect_emit_flush(c);
	n = snprintf(c->buf + c->len, EMIT_BUF - c->len, "%s %s %lld\n", name,
	    value, (long long)c->now);
	if (n > 0 && (size_t)n < EMIT_BUF - c->len)
		c->len += (size_t)n;
}

void
collect_u64(struct collect *c, uint64_t v, const char *fmt, ...)
{
	char	value[32];
	va_list	ap;

	snprintf(value, sizeof(value), "%llu", (unsigned long long)v);
	va_start(ap, fmt);
	collect_line(c, value, fmt, ap);
	va_end(ap);
}

void
collect_f(struct collect *c, double v, const char *fmt, ...)
{
	char	value[64];
	va_list	ap;

	if (!isfinite(v))
		return;
	snprintf(value, sizeof(value), "%.2f", v);
	va_start(ap, fmt);
	collect_line(c, value, fmt, ap);
	va_end(ap);
}

static void
collect_vwarn(struct collect *c, int with_errno, const char *fmt, va_list ap)
{
	char	msg[512], who[96] = "";
	int	saved = errno;

	c->round_failed = 1;
	if (c->failing)
		return;		/* logged when it started */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	errno = saved;
	/* Inline, our log is the runner's: say which collector. */
	if (c->emit != NULL)
		snprintf(who, sizeof(who), "collector %s: ", c->def->name);
	if (with_errno)
		log_warn("%s%s", who, msg);
	else
		log_warnx("%s%s", who, msg);
}

void
collect_warn(struct collect *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	collect_vwarn(c, 1, fmt, ap);
	va_end(ap);
}

void
collect_warnx(struct collect *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	collect_vwarn(c, 0, fmt, ap);
	va_end(ap);
}

int
collect_close(struct collect *c)
{
	int	status;

	if (c == NULL)
		return 1;
	status = c->failed ? 1 : 0;
	rate_free(c->rate);
	free(c->buf);
	free(c);
	return status;
}
