/*
 * ssock: one smart socket, as configured by a [socket NAME] section.
 *
 * It owns its endpoints (listeners and connectors), its peer connections,
 * and its queues:
 *   sendq    messages from applications that no peer could take yet;
 *   pending  at-least-once messages written to a peer and awaiting ACK,
 *            in deadline order, with one resend timer; a resend on a
 *            connection that is up backs off and never gives up;
 *            sendq and pending together are bounded by send_buffer
 *            (messages) and send_buffer_size (bytes), with the overflow
 *            policy;
 *   recvq    messages from peers that no application has taken yet,
 *            bounded by recv_buffer and recv_buffer_size: when full, the
 *            socket stops reading from its peers (TCP back-pressure)
 *            instead of dropping.
 * Over the daemon's max_memory (budget.h) every limit counts as reached.
 * Publish: with overflow = block a message waits while a subscriber's
 * output is full, and a subscriber that takes nothing for
 * subscriber_timeout while the others wait is disconnected; with drop-new
 * and drop-old a full subscriber gets no copy (counted).  Either way one
 * slow subscriber does not stall the others for long.
 * Its connections are links (link.h): they call in through link.h's
 * events and are commanded through their ops.  Applications and routes
 * call in through the ssock_* functions below.  The socket decides
 * routing (publish, round-robin, send-to-identity) and is the only
 * writer of its lists, queues and id maps; others ask (ssock_npeers(),
 * ssock_foreach_link()).
 */
#ifndef SMARTSOCK_SSOCK_H
#define SMARTSOCK_SSOCK_H

#include <sys/queue.h>
#include <stdint.h>

#include "config.h"
#include "link.h"
#include "log.h"
#include "msg.h"
#include "stats.h"

struct event_base;
struct evdns_base;
struct event;
struct local;
struct endpoints;
struct idmap;
struct tls;
struct msg;

/*
 * Where a socket's received messages go: its applications (local.c's
 * sink, from ssock_open() on), or its routes (route.c sets one on every
 * socket that routes leave, routes_apply).  The core only calls it.
 */
struct ssock_sink {
	/* 1: m taken, with the reference; the sink calls
	 * ssock_app_confirmed() once it is done with it (at once, or when an
	 * application confirms), which acknowledges a DATA_REQ.  0: not now
	 * (m is still the caller's; ssock_deliver_queued() is called when the
	 * sink may take more). */
	int (*take)(void *arg, struct msg *m);
	void *arg;
	const char *what;               /* for log lines: "never taken by" */
	const char *waits_for;          /* "... wait for" */
};

struct ssock {
	struct home home;                       /* name, conf, identity,
	                                           counters: shared with its
	                                           links (home.h) */
	TAILQ_ENTRY(ssock) entry;
	struct tls *tls;                        /* borrowed, of the same
	                                           config; NULL: plain TCP */
	struct evdns_base *dns;                 /* borrowed; for connectors */

	struct link_list links;                 /* every connection */
	size_t nlinks;
	struct link_list active;                /* LINK_UP, in rr order */
	size_t nactive;
	struct idmap *active_by_id;
	struct link *rr_next;                   /* next round-robin candidate */

	struct msg_fifo sendq;
	struct msg_fifo pending;
	struct idmap *pending_by_id;
	struct event *resend_ev;
	struct event *slow_ev;                  /* publish: next subscriber
	                                           to reach subscriber_timeout */
	int all_full;                           /* ... every subscriber was
	                                           full when last looked at */
	struct msg_fifo recvq;
	struct idmap *inbound_by_id;            /* DATA_REQs not yet confirmed */
	int reading_paused;

	struct local *local;                    /* application attachments */
	const struct ssock_sink *app_sink;      /* local's */
	const struct ssock_sink *sink;          /* where received messages
	                                           go: app_sink or a route's;
	                                           NULL: nowhere yet, they
	                                           wait */
	struct endpoints *endpoints;
	struct log_ratelimit rl_drop, rl_giveup, rl_paused, rl_max_peers;
	int closing;
};
TAILQ_HEAD(ssock_list, ssock);

/* The daemon's message memory fell back under max_memory: resume. */
void ssock_budget_relief(struct ssock *);

/*
 * A socket's routing core: its queues and id maps, no connection and no
 * file yet (links may be attached to it, as the tests do).  NULL when out
 * of memory (logged).
 */
struct ssock *ssock_new(struct event_base *, const struct socket_conf *,
    size_t max_message_size);
/*
 * Open it to the world: its Unix socket (the applications become its
 * sink) and its endpoints.  -1 after logging why (a bind that fails, a
 * live daemon on the Unix socket); the caller frees it.  tls is the TLS
 * state loaded with conf (tls.h), NULL without TLS.
 */
int ssock_open(struct ssock *, struct evdns_base *, struct tls *,
    const char *runtime_dir);
/*
 * Reload: take `conf` and `tls` (same name and identity) in place of the
 * old ones, which are about to be freed; new connections use the new TLS
 * state, connections made earlier keep theirs.  ssock_set_conf()
 * repoints the socket, its peers' timers and its endpoints' kept entries;
 * endpoints_reconfigure() then opens new endpoints; ssock_conf_applied()
 * acts on changed limits.
 */
void ssock_set_conf(struct ssock *, const struct socket_conf *conf,
    struct tls *tls);
void ssock_conf_applied(struct ssock *);

/*
 * Log the process's descriptor limit (RLIMIT_NOFILE), and warn when the
 * max_peers and max_clients of cfg's sockets obviously need more.  For
 * the start, and after a reload.
 */
void ssock_check_fd_limit(const struct config *cfg);

/* Stop accepting (TCP and Unix) and remove the Unix socket file. */
void ssock_stop_accepting(struct ssock *);
/* Bytes still waiting in peer output buffers (for shutdown's grace). */
size_t ssock_unflushed(const struct ssock *);
void ssock_free(struct ssock *);

/* --- from links: the link_* events of link.h ---------------------- */

/* --- from routes (route.h) ------------------------------------------ */
/* Received messages go to sink from now on; NULL: to the applications
 * again. */
void ssock_set_sink(struct ssock *, const struct ssock_sink *);
/* Do the socket's applications take what it receives (no route's sink)? */
int ssock_to_applications(const struct ssock *);
/* The socket named `name` in a list of sockets, or NULL. */
struct ssock *ssock_list_find(struct ssock_list *, const char *name);

/* --- for the others: they ask, they never walk or write the lists --- */
/* Connections, handshaking or up (max_peers counts them). */
size_t ssock_npeers(const struct ssock *);
/* fn for each connection, in the order they came. */
void ssock_foreach_link(const struct ssock *,
    void (*fn)(const struct link *, void *), void *arg);

/* --- from applications ---------------------------------------------- */
/* Does the send buffer refuse more for now (overflow = block, full)? */
int ssock_send_blocked(const struct ssock *);
/* Route or queue a message; the socket takes the reference (a borrowed
 * msg is copied only if it must wait).  Returns an
 * lproto status (LPROTO_OK, LPROTO_ST_UNREACHABLE for a targeted message
 * to an identity that is not connected, LPROTO_ST_NO_BUFFER). */
int ssock_app_send(struct ssock *, struct msg *);
/* An application took a delivered message: ACK it if it was a DATA_REQ. */
void ssock_app_confirmed(struct ssock *, struct msg *);
/* Messages delivered to an application that left unconfirmed go back to
 * the front of the receive queue, in order. */
void ssock_app_requeue(struct ssock *, struct msg_queue *);
/* Applications can take more: hand them queued messages. */
void ssock_deliver_queued(struct ssock *);

#endif
