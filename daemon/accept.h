/*
 * accept: what every listener of the daemon (peers, applications, the
 * control socket) does when accept(2) fails.  Out of descriptors or memory
 * the listening socket stays readable, and libevent would call accept()
 * again at once, forever: the listener pauses for ACCEPT_PAUSE_MS instead
 * and resumes by itself.  The failure is logged, at most once per
 * LOG_RATELIMIT_MS with a count of the others.
 */
#ifndef SMARTSOCK_ACCEPT_H
#define SMARTSOCK_ACCEPT_H

#include "log.h"

struct event;
struct event_base;
struct evconnlistener;

#define ACCEPT_PAUSE_MS 1000

struct accept_pause {
	struct evconnlistener *lev;     /* borrowed */
	struct event *resume_ev;
	char what[96];                  /* "socket jobs: 127.0.0.1:25000" */
	struct log_ratelimit rl;
	unsigned long pauses;
};

/* 0, or -1 when out of memory. */
int accept_pause_init(struct accept_pause *, struct event_base *,
    struct evconnlistener *, const char *what);
/* Call from the listener's error callback. */
void accept_pause_error(struct accept_pause *);
/* Release; safe on a zeroed struct. */
void accept_pause_clear(struct accept_pause *);

#endif
