/*
 * cpu: CPU time from /proc/stat as percentages, per CPU and in total, under
 * Diamond's names so existing dashboards keep working:
 *
 *	cpu.total.<state>	all CPUs; like Diamond, summed over the CPUs
 *				(0..100 x cpu_count) unless -n divides it
 *				back to 0..100
 *	cpu.cpu<N>.<state>	one CPU, 0..100
 *	cpu.cpu_count		CPUs online
 *
 * <state> is user nice system idle iowait irq softirq steal guest
 * guest_nice. The first eight add up to 100 (per CPU); guest time is
 * already counted inside user and nice, as the kernel does.
 *
 * The jiffy counters become percentages of the time between two samples,
 * so the first run of a one-shot collector (no state yet) prints only
 * cpu_count.
 */
#include <stdio.h>
#include <string.h>

#include "builtin.h"
#include "collect.h"
#include "log.h"
#include "procfs.h"
#include "rate.h"

#define STAT_PATH	"/proc/stat"
#define NSTATES		10
#define NBUSY		8	/* user..steal: the states that add up to the whole */

static const char *const states[NSTATES] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
	"guest", "guest_nice",
};

struct cpu {
	struct collect	*c;
	int		 normalize;	/* -n: cpu.total in 0..100 */
	int		 ncpu;
	int		 have_total;
	double		 total[NSTATES];
	int		 total_n;	/* states the total line had */
};

static int
option(int ch, const char *arg, void *p)
{
	struct cpu	*cpu = p;

	(void)arg;
	if (ch != 'n')
		return -1;
	cpu->normalize = 1;
	return 0;
}

/*
 * The percentages of one "cpu..." line into pct[]; the number of states
 * (0 when the previous sample is unknown or no time passed).
 */
static int
percentages(struct cpu *cpu, const char *name, char **f, int n, double *pct)
{
	struct rate	*r = collect_rate(cpu->c);
	uint64_t	 v, d[NSTATES], sum = 0;
	char		 key[RATE_KEY_MAX];
	int		 i, known = 1;

	if (n > NSTATES)
		n = NSTATES;
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s.%s", name, states[i]);
		if (procfs_u64(f[i], &v) == -1)
			return 0;
		if (rate_delta(r, key, v, &d[i]) != 1)
			known = 0;
		else if (i < NBUSY)
			sum += d[i];
	}
	if (!known || sum == 0)
		return 0;
	for (i = 0; i < n; i++)
		pct[i] = 100.0 * (double)d[i] / (double)sum;
	return n;
}

static int
line(char *l, void *p)
{
	struct cpu	*cpu = p;
	char		*f[NSTATES + 2];
	double		 pct[NSTATES];
	int		 n, i;

	if (strncmp(l, "cpu", 3) != 0)
		return 0;
	n = procfs_split(l, f, NSTATES + 2) - 1;
	if (n < 4)
		return 0;
	if (strcmp(f[0], "cpu") == 0) {
		/* Printed last, once cpu_count is known. */
		cpu->total_n = percentages(cpu, "total", f + 1, n, cpu->total);
		cpu->have_total = 1;
		return 0;
	}
	cpu->ncpu++;
	n = percentages(cpu, f[0], f + 1, n, pct);
	for (i = 0; i < n; i++)
		collect_f(cpu->c, pct[i], "cpu.%s.%s", f[0], states[i]);
	return 0;
}

static void
sample(struct collect *c, void *arg)
{
	struct cpu	*cpu = arg;
	double		 scale;
	int		 i;

	cpu->c = c;
	cpu->ncpu = 0;
	cpu->have_total = 0;
	cpu->total_n = 0;
	if (procfs_lines(STAT_PATH, line, cpu) == -1) {
		collect_warn(cpu->c, "%s", STAT_PATH);
		return;
	}
	if (!cpu->have_total || cpu->ncpu == 0) {
		collect_warnx(cpu->c, "%s: no cpu lines", STAT_PATH);
		return;
	}
	scale = cpu->normalize ? 1 : cpu->ncpu;
	for (i = 0; i < cpu->total_n; i++)
		collect_f(cpu->c, cpu->total[i] * scale, "cpu.total.%s", states[i]);
	collect_u64(cpu->c, (uint64_t)cpu->ncpu, "cpu.cpu_count");
}

static struct cpu	cpu_state;

const struct collect_def builtin_cpu = {
	.name = "cpu",
	.counters = 1,
	.opts = "n",
	.usage = "[-n]",
	.option = option,
	.sample = sample,
	.arg = &cpu_state,
};
