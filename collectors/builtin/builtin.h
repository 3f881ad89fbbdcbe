/*
 * builtin: the built-in collectors. Each collectors/builtin/NAME.c defines
 * builtin_NAME, the collector's whole description (common/collect.h), and
 * nothing else outside the file. main.c turns one of them into the program
 * installed as /opt/ferry/collectors/NAME; ferry-collectors links the ones
 * it can host in its own process (collectors/inline.c).
 */
#ifndef FERRY_BUILTIN_H
#define FERRY_BUILTIN_H

#include "collect.h"

extern const struct collect_def builtin_cpu;
extern const struct collect_def builtin_memory;
extern const struct collect_def builtin_loadavg;
extern const struct collect_def builtin_diskspace;
extern const struct collect_def builtin_diskio;
extern const struct collect_def builtin_network;
extern const struct collect_def builtin_vmstat;
extern const struct collect_def builtin_sockstat;
extern const struct collect_def builtin_self;

#endif
