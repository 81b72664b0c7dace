/*
 * peer: one aiomsg connection of a smart socket (accepted or connected).
 *
 * It sends its HELLO at once, requires the peer's HELLO first (version 1,
 * 22 bytes), then decodes every complete frame in its input buffer on each
 * read (so a HELLO pipelined with DATA is never left hanging), skips unknown
 * types, answers nothing itself (ACKs are the socket's decision), sends a
 * HEARTBEAT after heartbeat_interval without sending, and closes after
 * heartbeat_timeout without receiving a whole frame (bytes trickling in
 * do not keep it alive; time spent paused by back-pressure does not
 * count).  Its bufferevent's output buffer is its send queue; while that
 * holds peer_buffer or more, the peer is not read either.  Every close is
 * logged with the address, identity and cause, and reported to the socket
 * (as a link: link.h) and to its owner (peer_owner: the connector that
 * made it).  The socket reaches it only through its link's ops.
 */
#ifndef SMARTSOCK_PEER_H
#define SMARTSOCK_PEER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "link.h"

struct bufferevent;
struct evbuffer;
struct event;
struct transport;
struct home;

/*
 * Who made a connected peer and hears how it went (endpoint.c's connector,
 * through these two calls: the peer knows nothing else of it).  An
 * accepted peer has none.
 */
struct peer_owner {
	void (*up)(void *arg);                  /* its HELLO arrived */
	void (*down)(void *arg, const char *why, int was_up);  /* it ended */
	void *arg;
};
struct msg;

/*
 * A peer's session; peer_enter() alone changes it:
 *
 *   NEW --> HELLO --their HELLO--> UP
 *    \        ^
 *     SNIFF --+ (first byte 0: a raw aiomsg peer)
 *       \     |
 *        UPGRADE (first byte 'G') --101--> HELLO, WebSocket framing on
 *                                 --4xx--> CLOSING
 *   HELLO, UP --> CLOSING
 *
 * NEW: being made (peer_new()).  SNIFF, UPGRADE: a bind port with
 * websocket = on, whose first byte says who is there.  HELLO: our HELLO
 * is out, theirs must come first.  UP: its link is up (link_up()).
 * CLOSING: it closes once its output is written, or from the loop
 * (link.closing says why); it is not read and nothing is routed to it;
 * its link keeps the state it had.  Beside the state: `ws` (the
 * WebSocket filter is in place), the carrier's handshake, `paused`.
 */
enum peer_state {
	PEER_NEW,
	PEER_SNIFF,
	PEER_UPGRADE,
	PEER_HELLO,
	PEER_UP,
	PEER_CLOSING,
};

struct peer {
	struct link link;               /* what the socket's core sees:
	                                   identity, address, counters;
	                                   first, so the ops' link is the
	                                   peer */
	const struct peer_owner *owner; /* NULL when accepted (or once its
	                                   connector is gone) */
	struct bufferevent *bev;
	const struct transport *carrier;        /* TCP or TLS (transport.h),
	                                   chosen once */
	enum peer_state state;
	int ws;                         /* bev is a ws.h filter (upgraded) */
	char closing_why[160];          /* CLOSING: why (link.closing) */
	struct event *hello_ev;         /* handshake deadline */
	struct event *heartbeat_ev;
	struct event *silence_ev;       /* heartbeat_timeout without a frame */
	/* The TLS carrier's (transport.c): */
	int tls_done;                   /* its handshake completed */
	struct evbuffer *batch;         /* frames not yet handed to the
	                                   bufferevent */
	struct event *batch_ev;         /* hands them over once per loop */
	int batch_pending;              /* batch_ev is active */
	uint64_t last_frame_ms;         /* last whole frame from it, moved
	                                   on by the time reading was paused */
	unsigned paused;                /* why it is not read: PEER_PAUSE_* */
	uint64_t paused_ms;             /* when reading was paused */
};

/*
 * Take over a bufferevent (connecting or connected) as a link of the
 * socket behind home (link_attach()).  The handshake must finish within
 * hello_ms.  NULL on allocation failure (the bufferevent is freed).
 */
struct peer *peer_new(struct home *home, struct bufferevent *bev,
    const struct peer_owner *owner, const char *addr, uint64_t hello_ms);
/* Close with a logged reason; the peer is freed.  `why` is a short text. */
void peer_close(struct peer *, const char *why);
/* Everything else the socket asks of it goes through its link's ops. */

#endif
