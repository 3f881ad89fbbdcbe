/*
 * confdiff: which ferry programs a configuration change touches, so that a
 * reload (SIGHUP to ferry-supervisor) restarts only those.
 *
 * Each program's "effective settings" are the keys it reads, directly or
 * through what it shares: every program that writes to the spool (its own
 * self-metrics included) reads the spool section, hostname and prefix.
 * Who reads what is the readers column of the table of keys
 * (common/confkeys.c), whose bits are these: a key added there says its
 * readers in the same row, so no key can be forgotten here.
 */
#ifndef FERRY_CONFDIFF_H
#define FERRY_CONFDIFF_H

struct ferry_conf;

#define CONFDIFF_RECEIVER	0x01
#define CONFDIFF_FORWARDER	0x02
#define CONFDIFF_SINK		0x04
#define CONFDIFF_COLLECTORS	0x08
#define CONFDIFF_PERIODIC	0x10
#define CONFDIFF_TAIL		0x20
#define CONFDIFF_FLEET		0x40
/* Every program that writes its own self-metrics to the spool. */
#define CONFDIFF_WRITERS	(CONFDIFF_RECEIVER | CONFDIFF_FORWARDER | \
				    CONFDIFF_COLLECTORS | CONFDIFF_PERIODIC | \
				    CONFDIFF_TAIL | CONFDIFF_FLEET)

/* The CONFDIFF_* bits of the programs whose settings differ in a and b. */
unsigned	 confdiff(const struct ferry_conf *, const struct ferry_conf *);
/* The bit of program name ("receiver", "forwarder", ...); 0 if unknown. */
unsigned	 confdiff_bit(const char *);
/* The name of the program of one bit ("receiver"); NULL if none. */
const char	*confdiff_name(unsigned);

/* One program each: 1 when its settings differ in a and b, else 0. */
int		 confdiff_receiver(const struct ferry_conf *,
		    const struct ferry_conf *);
int		 confdiff_forwarder(const struct ferry_conf *,
		    const struct ferry_conf *);
int		 confdiff_sink(const struct ferry_conf *,
		    const struct ferry_conf *);
int		 confdiff_collectors(const struct ferry_conf *,
		    const struct ferry_conf *);
int		 confdiff_periodic(const struct ferry_conf *,
		    const struct ferry_conf *);

#endif
