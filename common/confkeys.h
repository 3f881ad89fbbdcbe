/*
 * confkeys: every configuration key, declared once, as one row of a table
 * (section, name, type, the struct field it fills, default, range, which
 * programs read it, flags, a check, one line of help), in the manner of
 * Redis's standardConfig configs[]. The parser and its range checks, the
 * FERRY_* overrides, the filling of struct ferry_conf, conf_free(),
 * confdiff's reload table, ferryctl check-config --effective and the list
 * of keys in ferry.conf(5) all walk these rows, so adding a key is adding
 * a row (and its field in conf.h).
 *
 * Nothing here knows libconfuse: values are checked as text, so each rule
 * can be read and tested alone; common/conf.c wires the rows into
 * libconfuse.
 */
#ifndef FERRY_CONFKEYS_H
#define FERRY_CONFKEYS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "conf.h"
#include "confdiff.h"

/* A key's flags. */
#define CONF_SECRET	0x01	/* --effective prints "***" when it is set */
#define CONF_URI	0x02	/* --effective masks a password in it */
#define CONF_ROOTED	0x04	/* a path: unset or "" is def under $FERRY_ROOT */

/* One value an enum key may take, and what it is in the struct. */
struct conf_choice {
	const char	*name;
	int		 value;
};

struct conf_key {
	const char		*section;	/* "" top level, "receiver", "log.redact" */
	const char		*name;
	enum conf_key_type	 type;
	/*
	 * The field, in the struct of the section's element for a section
	 * that may appear many times (struct output_conf), else in the
	 * nearest such struct above it (struct ferry_conf for receiver { }).
	 * An INT or SIZE field is an int or a uint64_t, told by its size.
	 */
	size_t			 off;
	size_t			 size;
	size_t			 noff;		/* LIST: its count, a size_t */
	const char		*def;		/* as written in a file; NULL: none */
	double			 min;		/* INT, SIZE, FLOAT */
	double			 max;
	unsigned		 readers;	/* CONFDIFF_*: a change restarts them */
	unsigned		 flags;		/* CONF_SECRET, ... */
	/*
	 * Not set here, the key takes the value of the same key in this
	 * section (a single one at the top level): output "x" { } takes the
	 * forwarder's connection keys. Such a row names only its section,
	 * name, field and from; the rest is the other row's.
	 */
	const char		*from;
	const struct conf_choice *choices;	/* ENUM: NULL-terminated */
	const char		*unset;		/* ENUM without def: what that means */
	/* STR, LIST (each element): -1 with a message into err when refused. */
	int			(*check)(const struct conf_key *, const char *,
				    char *, size_t);
	const char		*help;		/* one line, for ferry.conf(5) */
};

/* A section's flags. */
#define CONF_MULTI	0x01	/* may appear many times: an array in the struct */
#define CONF_TITLED	0x02	/* has a name: output "hg" { } */

struct conf_section {
	const char	*path;		/* "" top level, "receiver", "log.redact" */
	unsigned	 flags;
	size_t		 off;		/* MULTI: of the array, in the parent's struct */
	size_t		 noff;		/* MULTI: of its count (size_t) */
	size_t		 size;		/* MULTI: of one element */
	size_t		 titleoff;	/* TITLED: of the name (char *), in the element */
	const char	*help;		/* one line, for ferry.conf(5) */
};

/* The field at off of the struct at base, as a pointer of type. */
#define CONF_AT(base, off, type) \
	((type)(const void *)((const char *)(base) + (off)))

/* A parsed value: INT and SIZE in i, FLOAT in f. */
struct conf_value {
	long	 i;
	double	 f;
};

/* The rows in the order of the file, inheriting ones completed; n: count. */
const struct conf_key		*conf_keys(size_t *);
const struct conf_section	*conf_sections(size_t *);
const struct conf_section	*conf_section_find(const char *);
/* The last part of the section's path ("redact"), libconfuse's name of it. */
const char	*conf_section_name(const struct conf_section *);
/* The section a section is in; NULL for the top level. */
const struct conf_section *conf_section_parent(const struct conf_section *);
/* The key of section (its last part, "" at the top level) and name; NULL. */
const struct conf_key	*conf_key_lookup(const char *, const char *);
/* The CONFDIFF_* bits of every key in sec and the sections in it. */
unsigned	 conf_section_readers(const struct conf_section *);

/*
 * Whether text is a valid value of k (a default, a file's value, a FERRY_*
 * variable): 0 with v filled (may be NULL), or -1 with the message a
 * configuration error shows into err. BOOL is libconfuse's to parse.
 */
int		 conf_key_parse(const struct conf_key *, const char *,
		    struct conf_value *, char *, size_t);
/* The struct value of an ENUM key's text; 0 (not set) for NULL. */
int		 conf_key_choice(const struct conf_key *, const char *);
/* The FERRY_* variable that sets k, into buf; NULL when none can. */
const char	*conf_key_env(const struct conf_key *, char *, size_t);
/* 1 when k's field differs at bases a and b (a list in order), else 0. */
int		 conf_key_differ(const struct conf_key *, const void *,
		    const void *);
/* k's field at base as a number: INT, SIZE, BOOL, ENUM. */
long long	 conf_key_int(const struct conf_key *, const void *);

/*
 * 1 when s may be a part of the metric names a logmetric rule makes (its
 * name, its counter): up to 64 letters, digits, '_', '-' or '.', with no
 * '.' at either end nor two in a row; else 0.
 */
int		 conf_name_part(const char *);

/* 10485760 as "10M", 4096 as "4K", 1000 as "1000". */
const char	*conf_size_str(uint64_t, char *, size_t);

/*
 * ferry.conf(5) keeps its list of keys between two marker lines and this
 * writes what goes between them, from the table. conf_man_update() puts
 * it into the page at path (write) or only compares: 0 up to date (or
 * written), 1 stale, -1 error (logged).
 */
void		 conf_man_keys(FILE *);
int		 conf_man_update(const char *, int);

#endif
