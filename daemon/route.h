/*
 * route: messages carried from one smart socket to others with no
 * application in between, as forward = and forward_replies = configure
 * them (smartsockd.conf(5), ROUTES).
 *
 * Forwarding: a socket with routes hands every message its peers send it
 * to the routes' target sockets instead of to applications, and each
 * target sends it with its own send mode, buffering and delivery
 * guarantee.  Every target takes a message or none does yet: a target
 * whose send buffer is full with overflow = block leaves it in the
 * source's receive queue, which stops reading from the source's peers at
 * recv_buffer (back-pressure end to end).  A message the targets took is
 * acknowledged to its sender (at-least-once) as if an application had
 * taken it.
 *
 * Replies (forward_replies = on): each forwarded message written to a
 * peer connection of the target records (route, original sender) on that
 * connection, in order (a resend on the same connection is not recorded
 * twice).  The messages that connection sends back are matched to these
 * records first-in first-out and sent to their original sender through
 * the source socket, as send-to-identity.  Records die with their
 * connection (counted as unanswered).
 *
 * Routes are rebuilt from the configuration at start and after every
 * reload (routes_apply); a route that a reload keeps keeps its counters.
 * The module holds every route, and for each socket that routes leave its
 * list of them, which takes over the socket's sink (core.h) and gives it
 * back when the last route goes: the core knows no route.
 */
#ifndef SMARTSOCK_ROUTE_H
#define SMARTSOCK_ROUTE_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "log.h"
#include "core.h"

struct link;
struct msg;
struct route_source;

/* Requests one connection may await replies for; past it, more are not
 * recorded (and counted unanswered). */
#define ROUTE_RECORDS_MAX 1000000

struct route {
	TAILQ_ENTRY(route) entry;       /* every route */
	TAILQ_ENTRY(route) source_entry;        /* source->routes */
	struct route_source *source;    /* of `from`; NULL with it */
	uint32_t id;                    /* never reused: records name it */
	char from_name[CONFIG_NAME_MAX], to_name[CONFIG_NAME_MAX];
	struct core *from, *to;        /* NULL: that socket is gone */
	int replies;                    /* forward_replies */
	int stale;                      /* routes_apply: not configured */
	uint64_t forwarded;             /* messages the target took */
	uint64_t dropped;               /* ... refused (send buffer full) */
	uint64_t replies_sent;          /* replies sent back */
	uint64_t replies_lost;          /* ... whose sender had left */
	uint64_t awaiting;              /* requests awaiting their reply */
	uint64_t unanswered;            /* ... whose connection closed */
	struct log_ratelimit rl;
};

/* Make the routes those of cfg's sockets (find(arg, name) gives the core
 * of a running socket, or NULL): at start, and after a reload has applied
 * cfg.  Logs each route made or removed. */
void routes_apply(const struct config *cfg,
    struct core *(*find)(void *arg, const char *name), void *arg);
/* A socket's core is about to be freed: routes from or to it go idle
 * until the next routes_apply. */
void routes_forget(struct core *);
/* Free every route (daemon exit). */
void routes_free(void);

/* fn for each route from `from`, in configuration order. */
void route_foreach_from(const struct core *from,
    void (*fn)(const struct route *, void *), void *arg);
/* `to`'s send buffer has room: sources routed to it may go on. */
void route_target_ready(struct core *to);
/* What a target socket's core tells the routes of its links (replies
 * recorded when a request is written, matched when one comes back, given
 * up when a link ends): the smart socket gives it to every core. */
extern const struct core_tap route_tap;
/* Replies awaited on link p (for the control socket). */
size_t route_awaited(const struct link *p);

#endif
