/*
 * version: the one place FERRY_VERSION is read (see version.h). The
 * Makefile defines it for this file only and rebuilds it when the version
 * changes.
 */
#include <stdio.h>

#include "version.h"

#ifndef FERRY_VERSION
#error "FERRY_VERSION is not defined: build with the Makefile"
#endif

const char *
version_get(void)
{
	return FERRY_VERSION;
}

const char *
version_agent(void)
{
	return "ferry/" FERRY_VERSION;
}

void
version_print(const char *program)
{
	printf("%s %s\n", program, FERRY_VERSION);
}
