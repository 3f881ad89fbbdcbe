/*
 * status: is ferry working? One screen (or one JSON object) in three
 * steps over one snapshot: gather (status_gather.c), judge
 * (status_judge.c), render (status_render.c). Read only from the progress
 * database, the spool, the pid file and the configuration, it answers the
 * same whether the processes are up or down.
 *
 * The exit status sums it up for monitoring: 0 healthy, 1 degraded, 2 down
 * (see status_judge.c and man/ferryctl.8).
 */
#include "ctl.h"
#include "status.h"

int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	struct snapshot	 snap;
	int		 h;

	(void)argv;
	if (argc != 0)
		ctl_usage();
	if (status_gather(ctl, &snap) == -1) {
		status_free(&snap);
		return STATUS_DOWN;
	}
	h = status_judge(&snap);
	if (ctl->json)
		status_render_json(&snap);
	else
		status_render_text(&snap);
	status_free(&snap);
	return h;
}
