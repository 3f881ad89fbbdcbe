/*
 * collect: the frame every built-in collector (collectors/builtin/NAME.c)
 * shares, so that each of them is only "read this file, print these names".
 *
 * It parses the options they all take, then runs the collector's sampling
 * in one of two modes:
 *
 *   one-shot (default)  one sample, printed, then exit: how ferry-collectors
 *                       runs any executable once per interval. Counter values
 *                       survive in a state file, <name>.state in
 *                       $FERRY_STATE_DIR, else in
 *                       $FERRY_ROOT/var/opt/ferry/collectors-state/.
 *   -d (daemon)         one sample every -i SECONDS (default $FERRY_INTERVAL,
 *                       else 10), stdout flushed after each, counters kept in
 *                       memory; for ferry-collectors' daemon mode, where one
 *                       process lives for good instead of one per interval.
 *                       FERRY_MODE=daemon in the environment (what
 *                       ferry-collectors sets in that mode) means -d too.
 *   inline              no process of its own: ferry-collectors links the
 *                       collector in and calls collect_round() on its
 *                       schedule; the lines go to a callback instead of
 *                       stdout, counters are kept in memory.
 *
 * What it prints is Graphite plaintext, "name value timestamp", the names
 * without the "<prefix>.<hostname>." that ferry-collectors puts in front. A
 * daemon whose reader went away ends at its next write (SIGPIPE or a write
 * error).
 *
 * A failure inside a sample is reported with collect_warn(): in daemon mode
 * it is logged when it starts and when it ends, not every interval; a
 * one-shot run that hit one exits 1.
 */
#ifndef FERRY_COLLECT_H
#define FERRY_COLLECT_H

#include <stddef.h>
#include <stdint.h>

#define COLLECT_INTERVAL_DEFAULT	10.0	/* seconds */
#define COLLECT_STATE_DIR	"/var/opt/ferry/collectors-state"

struct collect;
struct rate;

struct collect_def {
	const char	*name;		/* for logs, the state file and usage */
	int		 counters;	/* keeps counters: needs the state file */
	const char	*opts;		/* its own getopt letters, or "" */
	const char	*usage;		/* those options, for the usage line */
	/* Handles one of those options; 0, or -1 for a usage error. */
	int		(*option)(int, const char *, void *);
	/* One sample: reads its source, prints with collect_u64/_f. */
	void		(*sample)(struct collect *, void *);
	void		(*done)(void *);	/* at the end, or NULL */
	void		*arg;		/* the collector's own state */
};

/* A whole program: options, then samples until done; the exit status. */
int		 collect_main(const struct collect_def *, int, char *[]);

/* The lines of an inline collector: whole lines, each ending in '\n'. */
typedef void	(*collect_emit_fn)(void *, const char *, size_t);

/* An inline collector (no options); NULL when out of memory. */
struct collect	*collect_inline(const struct collect_def *, collect_emit_fn);
/* One inline sample, its lines handed to the callback with arg; 0, or -1
 * when the sample hit a failure (logged as collect_warn() says). */
int		 collect_round(struct collect *, void *);

/* Parses argv (the common -d, -i SECONDS, -h and the collector's own). NULL
 * after printing the usage or logging why it cannot run. */
struct collect	*collect_open(const struct collect_def *, int, char *[]);
/*
 * 1 when a sample is due now (at once the first time; in daemon mode each
 * interval after that, sleeping in between), 0 when the collector is done.
 * Each call ends the previous sample: flushes stdout, forgets counters not
 * seen, saves the state file in one-shot mode.
 */
int		 collect_next(struct collect *);
/* The previous counter values, for rate_delta() and rate_per_sec(). */
struct rate	*collect_rate(struct collect *);
/* Seconds since the previous sample; 0 when there is none. */
double		 collect_elapsed(const struct collect *);
int		 collect_daemon(const struct collect *);

/* One line "<name> <value> <now>"; the name is printf-formatted. */
void		 collect_u64(struct collect *, uint64_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
void		 collect_f(struct collect *, double, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* A failure of this sample, logged as said above; collect_warn() appends
 * strerror(errno) like log_warn(), collect_warnx() does not. */
void		 collect_warn(struct collect *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 collect_warnx(struct collect *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* Frees everything; the exit status for main: 0, or 1 after a failure. */
int		 collect_close(struct collect *);

#endif
