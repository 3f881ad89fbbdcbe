/*
 * The main() of every built-in collector program, compiled once per
 * collector with -DBUILTIN=builtin_NAME (see the Makefile).
 */
#include "builtin.h"

int
main(int argc, char *argv[])
{
	return collect_main(&BUILTIN, argc, argv);
}
