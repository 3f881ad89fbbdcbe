/*
 * inline: the built-in collectors sampled inside ferry-collectors
 * (collectors.builtin_mode = "inline", the default), with no process of
 * their own. A built-in only reads /proc and prints a few hundred bytes;
 * as a process of its own, each sample costs a wakeup, a pipe write and
 * our read of it, and each process maps the C library again. Inline, a
 * sample is a function call on the runner's schedule.
 *
 * The contract stays the one every collector has: the sample prints
 * "name value timestamp"  lines, which go through printed.c exactly as a
 * pipe's would (prefix, validation, max_lines, counters), and the file in
 * /opt/ferry/collectors is what switches it on: removed, or refused by the
 * safety checks, it is not sampled. What inline gives up is the process
 * boundary, so only our own collectors that cannot block run this way:
 * not self (it opens ferry.db, and the runner links no SQLite), and not a
 * built-in given args (diskspace -t nfs4 may call statvfs() on a dead
 * server), which run as daemons instead.
 */
#include <string.h>

#include "builtin/builtin.h"
#include "clock.h"
#include "collect.h"
#include "collectors.h"
#include "log.h"

static const struct collect_def *const hosted[] = {
	&builtin_cpu, &builtin_memory, &builtin_loadavg, &builtin_diskspace,
	&builtin_diskio, &builtin_network, &builtin_vmstat, &builtin_sockstat,
};

/* Where the lines of a sample go. */
struct dest {
	struct runner		*r;
	struct collector	*c;
	uint64_t		 now;
};

const struct collect_def *
inline_find(const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof(hosted) / sizeof(hosted[0]); i++)
		if (strcmp(hosted[i]->name, name) == 0)
			return hosted[i];
	return NULL;
}

static void
inline_emit(void *arg, const char *lines, size_t len)
{
	struct dest	*to = arg;

	printed_feed(to->r, to->c, lines, len, to->now);
}

/* One sample of c, now; counted and timed like an interval run. */
void
inline_run(struct runner *r, struct collector *c, uint64_t now)
{
	struct dest	to = { r, c, now };
	uint64_t	start, took;

	if (exec_allowed(r, c) == -1)
		return;
	if (c->sampler == NULL &&
	    (c->sampler = collect_inline(c->inl, inline_emit)) == NULL) {
		c->st.failures++;
		return;
	}
	c->st.runs++;
	c->last_run = clock_wall();
	c->run_lines = 0;
	c->run_cut = 0;
	c->draining = 0;
	start = clock_mono_ms();
	if (collect_round(c->sampler, &to) == -1)
		c->st.failures++;	/* logged by collect.c, once a streak */

	took = clock_mono_ms() - start;
	c->duration_ms = (int64_t)took;
	if (took > c->timeout_ms) {
		c->st.timeouts++;
		if (c->timing_out++ == 0)
			log_warnx("collector %s took %g s, more than its timeout "
			    "(%g s); as it runs inline it was waited for",
			    c->name, (double)took / 1000.0,
			    (double)c->timeout_ms / 1000.0);
	} else if (c->timing_out > 0) {
		log_info("collector %s finishes in time again after %d slow "
		    "samples", c->name, c->timing_out);
		c->timing_out = 0;
	}
	printed_housekeep(c, now);
}

void
inline_free(struct collector *c)
{
	(void)collect_close(c->sampler);
	c->sampler = NULL;
}
