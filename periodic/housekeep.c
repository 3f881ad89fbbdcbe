/*
 * housekeep: every few minutes, the progress database loses the rows
 * nobody will read again: the cursors and state of outputs no longer
 * configured, and the cursors in spool streams that have no segment left.
 *
 * Both are safe against the forwarder running at the same time. It writes
 * each cursor it owns again at its next commit, so a row pruned under an
 * output it still runs (its configuration is older than ours for a moment)
 * comes back; and while the row is missing, "no cursor" means "needs
 * everything" to the segment cleanup, which then deletes nothing. A stream
 * with no segment at all is gone: a writer that starts it again numbers it
 * from 1 again, which an old cursor further on would skip.
 */
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "periodic.h"
#include "progress.h"
#include "spoolseg.h"

static int	prune_outputs(struct progress *, const struct ferry_conf *);
static int	prune_streams(struct progress *);

void
housekeep_run(void)
{
	const struct ferry_conf	*latest = reload_latest();
	struct progress		*db;
	int			 outs, streams;

	if (latest == NULL || (db = periodic_db()) == NULL)
		return;
	outs = prune_outputs(db, latest);
	streams = prune_streams(db);
	if (outs > 0)
		pstats.rows_pruned += outs;
	if (streams > 0)
		pstats.rows_pruned += streams;
	if (outs > 0 || streams > 0)
		log_info("housekeeping: removed %d rows of outputs no longer "
		    "configured and %d cursors in streams that are gone",
		    outs > 0 ? outs : 0, streams > 0 ? streams : 0);
}

static int
prune_outputs(struct progress *db, const struct ferry_conf *conf)
{
	const char	**names;
	int		  rc;

	if ((names = calloc(conf->noutputs + 1, sizeof(*names))) == NULL) {
		log_warn("housekeeping");
		return -1;
	}
	rc = progress_prune_outputs(db, names, conf_output_names(conf, names));
	free(names);
	return rc;
}

static int
prune_streams(struct progress *db)
{
	struct spool_seg	 *segs;
	const char		**live;
	size_t			  n, i, nlive = 0;
	int			  rc;

	/* A spool we cannot list tells nothing about what is gone. */
	if (spool_list(periodic_spool_dir(), periodic_memory_dir(), &segs,
	    &n) == -1)
		return -1;
	if ((live = calloc(n + 1, sizeof(*live))) == NULL) {
		log_warn("housekeeping");
		free(segs);
		return -1;
	}
	/* Sorted by stream: each stream once. */
	for (i = 0; i < n; i++)
		if (nlive == 0 || strcmp(live[nlive - 1], segs[i].stream) != 0)
			live[nlive++] = segs[i].stream;
	rc = progress_prune_streams(db, live, nlive);
	free(live);
	free(segs);
	return rc;
}
