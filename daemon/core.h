/*
 * core: a smart socket's routing core.  It routes (publish, round-robin,
 * send-to-identity), queues and acknowledges; it knows no file, no
 * listener and no route.
 *
 * It holds its links (link.h: the connections to remote peers) and its
 * queues:
 *   sendq    messages from applications that no peer could take yet;
 *   pending  at-least-once messages written to a peer and awaiting ACK,
 *            in deadline order, with one resend timer; a resend on a
 *            connection that is up backs off and never gives up;
 *            sendq and pending together are bounded by send_buffer
 *            (messages) and send_buffer_size (bytes), with the overflow
 *            policy;
 *   recvq    messages from peers that its sink has not taken yet,
 *            bounded by recv_buffer and recv_buffer_size: when full, the
 *            core stops reading from its links (TCP back-pressure)
 *            instead of dropping.
 * Over the daemon's max_memory (budget.h) every limit counts as reached.
 * Publish: with overflow = block a message waits while a subscriber's
 * output is full, and a subscriber that takes nothing for
 * subscriber_timeout while the others wait is disconnected; with drop-new
 * and drop-old a full subscriber gets no copy (counted).  Either way one
 * slow subscriber does not stall the others for long.
 *
 * Around it: links report through link.h's events and are commanded
 * through their ops; received messages go to its one sink (the
 * applications', local.h, or a route's, route.h); whoever waits to send
 * more hears `room`; routes see what they must through a tap.  The core
 * is the only writer of its lists, queues and id maps, and its state is
 * its own (core.c): others ask (core_npeers(), core_queues(),
 * core_foreach_link()).  The smart socket (ssock.h) makes one and puts
 * it in the world; the tests drive one through fake links.
 */
#ifndef SMARTSOCK_CORE_H
#define SMARTSOCK_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "home.h"
#include "link.h"
#include "msg.h"

struct event_base;
struct core;

/* Where received messages go: the applications' (local.c) or a route's
 * (route.c). */
struct core_sink {
	/* 1: m taken, with the reference; the sink calls
	 * core_app_confirmed() once it is done with it (at once, or when an
	 * application confirms), which acknowledges a DATA_REQ.  0: not now
	 * (m is still the caller's; core_deliver_queued() is called when the
	 * sink may take more). */
	int (*take)(void *arg, struct msg *m);
	void *arg;
	const char *what;               /* for log lines: "never taken by" */
	const char *waits_for;          /* "... wait for" */
};

/* What routes see of the links of a socket they send to (route.c). */
struct core_tap {
	/* m, sent with route_id set, was just written to l. */
	void (*sent)(struct link *l, const struct msg *m);
	/* m came from l: 1 it was a reply and was handled (the caller still
	 * holds m and confirms it), 0 it is not one. */
	int (*reply)(struct link *l, struct msg *m);
	/* l ends (or the core does): what was kept on it goes. */
	void (*gone)(struct link *l);
};

/* How much it holds, for status and tests. */
struct core_queues {
	size_t links, active;           /* connections; of them, up */
	size_t send, send_bytes;        /* sendq */
	size_t pending, pending_bytes;  /* awaiting their ACK */
	size_t recv, recv_bytes;        /* waiting for the sink */
	int reading_paused;             /* recvq full: links not read */
};

/* NULL when out of memory (logged).  Received messages wait until a sink
 * is set. */
struct core *core_new(struct event_base *, const struct socket_conf *,
    size_t max_message_size);
/* Logs what is lost, frees every link (their `free` op, no events) and
 * every queue. */
void core_free(struct core *);
/* What its links and applications share (name, conf, counters). */
struct home *core_home(struct core *);
const struct home *core_home_c(const struct core *);

/* Reload: conf (same name and identity) in place of the old one, which is
 * about to be freed; every link is told; core_conf_applied() then acts on
 * changed limits. */
void core_set_conf(struct core *, const struct socket_conf *conf);
void core_conf_applied(struct core *);
/* The daemon's message memory fell back under max_memory: resume. */
void core_budget_relief(struct core *);

void core_set_sink(struct core *, const struct core_sink *);
const struct core_sink *core_sink(const struct core *);
void core_set_tap(struct core *, const struct core_tap *);
/* fn(arg) whenever the send buffer has room again (not blocked). */
void core_on_room(struct core *, void (*fn)(void *), void *arg);

/* --- they ask, they never walk or write the lists ------------------- */
/* Connections, handshaking or up (max_peers counts them). */
size_t core_npeers(const struct core *);
void core_queues(const struct core *, struct core_queues *);
/* fn for each link, in the order they came. */
void core_foreach_link(const struct core *,
    void (*fn)(const struct link *, void *), void *arg);
/* Bytes still waiting in links' output (for shutdown's grace). */
size_t core_unflushed(const struct core *);

/* --- from applications and routes ----------------------------------- */
/* Does the send buffer refuse more for now (overflow = block, full)? */
int core_send_blocked(const struct core *);
/* Route or queue a message; the core takes the reference (a borrowed msg
 * is copied only if it must wait).  Returns an lproto status (LPROTO_OK,
 * LPROTO_ST_UNREACHABLE for a targeted message to an identity that is not
 * connected, LPROTO_ST_NO_BUFFER). */
int core_app_send(struct core *, struct msg *);
/* A sink is done with a message it took: ACK it if it was a DATA_REQ. */
void core_app_confirmed(struct core *, struct msg *);
/* Messages taken and not confirmed (an application left) go back to the
 * front of the receive queue, in order. */
void core_app_requeue(struct core *, struct msg_queue *);
/* The sink can take more: hand it queued messages. */
void core_deliver_queued(struct core *);

#endif
