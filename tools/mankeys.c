/*
 * mankeys: puts the list of configuration keys, from the table of
 * common/confkeys.c, into ferry.conf(5) between its marker lines
 * (`make man`). With -n it only checks: exit 1 when the page is stale.
 * A build tool, not installed.
 */
#include <stdio.h>
#include <string.h>

#include "confkeys.h"
#include "log.h"

int
main(int argc, char *argv[])
{
	int	check = 0, rc;

	if (argc > 1 && strcmp(argv[1], "-n") == 0) {
		check = 1;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: mankeys [-n] ferry.conf.5\n");
		return 64;
	}
	log_init("mankeys", 0);
	rc = conf_man_update(argv[1], !check);
	if (rc == 1)
		fprintf(stderr, "%s: stale, run make man\n", argv[1]);
	return rc == 0 ? 0 : 1;
}
