/*
 * conftab: what every configuration key is (section, name, type, range,
 * default, reloadable, help), as one table; the reader in config.c, the
 * commented defaults printed by config_print_defaults() and the reload's
 * difference (confdiff.c) all come from it, and smartsockd.conf(5)
 * documents the same table.  Private to the config library: outside it
 * only tests/man/conftab-dump reads it, to hold the man page to it.
 */
#ifndef SMARTSOCK_CONFTAB_H
#define SMARTSOCK_CONFTAB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SECOND_MS 1000ULL
#define MINUTE_MS (60 * SECOND_MS)
#define HOUR_MS (60 * MINUTE_MS)
#define KIB (1ULL << 10)
#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

/* Enum fields are stored through their offset as an int. */
_Static_assert(sizeof(enum send_mode) == sizeof(int), "enum send_mode");
_Static_assert(sizeof(enum delivery) == sizeof(int), "enum delivery");
_Static_assert(sizeof(enum overflow) == sizeof(int), "enum overflow");
_Static_assert(sizeof(enum tls_version) == sizeof(int), "enum tls_version");
_Static_assert(sizeof(enum log_facility) == sizeof(int), "enum log_facility");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum log_level");

enum opt_section {
	OPT_DAEMON,
	OPT_SOCKET,
};

enum opt_type {
	OPT_DURATION,           /* uint64_t milliseconds */
	OPT_SIZE,               /* uint64_t bytes */
	OPT_COUNT,              /* uint64_t, "unlimited" is CONFIG_UNLIMITED */
	OPT_ENUM,               /* int-sized enum, value = index in choices */
	OPT_IDENTITY,           /* uint8_t[16], aux: int has_identity */
	OPT_ENDPOINTS,          /* struct endpoint_conf *, aux: size_t count */
	OPT_PATH,               /* char *, owned, made absolute */
	OPT_MODE,               /* uint64_t permission bits, octal */
	OPT_USER,               /* char *, owned: an existing user or uid;
	                           OPTF_LIST, aux: struct config_ids */
	OPT_GROUP,              /* char *, owned: an existing group or gid;
	                           OPTF_LIST, aux: struct config_ids */
	OPT_BOOL,               /* int, 0 or 1 */
	OPT_FILE,               /* char *, owned, made absolute; aux: int line */
	OPT_STRING,             /* char *, owned, not empty; aux: int line */
};

#define OPTF_MULTI      0x1     /* may be given more than once */
#define OPTF_EXCLUSIVE  0x2     /* endpoints no two sockets may share */
#define OPTF_WILDCARD   0x4     /* "*" host allowed */
#define OPTF_LIST       0x8     /* users/groups: a comma-separated list */
#define OPTF_INHERIT    0x10    /* socket key: unset, the [daemon] key of
                                   the same name and type */

struct opt {
	enum opt_section section;
	const char *key;
	enum opt_type type;
	uint64_t min;
	uint64_t max;
	const char *def;                /* NULL: none (empty list) */
	int reloadable;                 /* a reload applies a change in place;
	                                   otherwise a socket key restarts its
	                                   socket and a daemon key is refused */
	int flags;
	size_t off;                     /* field in daemon_conf/socket_conf */
	size_t aux;                     /* see enum opt_type */
	const char *const *choices;     /* OPT_ENUM, NULL-terminated */
	const char *example;            /* printed when there is no default */
	const char *help;
};

struct config_unit {
	uint64_t mult;                  /* 0 ends a list */
	const char *suffix;
};

struct config_type {
	const char *name;
	int (*number)(const char *, uint64_t *);
	const struct config_unit *units;
	const char *expect;
};

#define CONFIG_NOPTIONS 48
extern const struct opt config_options[CONFIG_NOPTIONS];
extern const struct config_type config_types[];
extern const struct config_unit config_ms_units[];

/* Largest unit that divides v exactly, e.g. 5000 ms -> "5s". */
void config_format_units(const struct config_unit *, uint64_t v, char *buf,
    size_t len);
/* "a, b or c" */
void config_format_choices(const char *const *choices, char *buf, size_t len);
/* "a user name or uid", or for a list "user names or uids, separated by
 * commas": what a key expects, for messages. */
const char *config_expect(const struct opt *);
/* What values a key takes, as text for messages and the defaults. */
void config_format_range(const struct opt *, char *buf, size_t len);

#endif
