/*
 * ctlcmd: the commands of the control socket, one table line and one
 * handler each; smartsockctl(8) documents what each answers.
 */
#ifndef SMARTSOCK_CTLCMD_H
#define SMARTSOCK_CTLCMD_H

#include <stddef.h>

struct daemon;
struct json;

struct ctlcmd {
	const char *name;
	int nargs;                      /* words after the command: 0 or 1 */
	const char *usage;              /* "peers SOCKET" */
	int logged;                     /* changes things: log who asked */
	int privileged;                 /* for root and the daemon's own
	                                   user only; others are refused */
	/*
	 * Write the answer's members into the open top-level object of j and
	 * return 0, or return -1 with the reason in err (what was written is
	 * then thrown away).
	 */
	int (*run)(struct daemon *, const char *arg, struct json *j,
	    char *err, size_t errlen);
};

/* The command named `name`, or NULL. */
const struct ctlcmd *ctlcmd_find(const char *name);
/* "status, peers or reload", for messages. */
const char *ctlcmd_names(void);

#endif
