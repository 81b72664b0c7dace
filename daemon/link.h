/*
 * link: one connection to a remote peer, as a smart socket's routing core
 * (core.h) sees it.
 *
 * The core routes, queues and acknowledges; a link carries frames.  A link
 * is embedded in the object of its kind of connection (peer.h: aiomsg over
 * TCP, TLS or WebSocket; tests/core/fake_link.h in the tests), which
 * fills in `ops`.
 *
 * Downwards the core commands a link through its ops.  Upwards a link
 * reports through the link_* events below, which go to the events table
 * of the home (home.h) it was attached to: it knows nothing else of its
 * socket, and includes neither core.h nor ssock.h.
 *
 * Who writes what:
 *   the core: which list a link is on, `state` (link_up() makes it
 *             LINK_UP), `full_since_ms`, `drops`;
 *   route.c:  `replies`;
 *   the link: everything else; it counts into home->stats and reads
 *             the rest of home.
 *
 * Life: link_attach() once it exists, link_up() when its handshake is
 * done, link_down() once as it ends (before it is freed; not from inside
 * an op).  The core calls no op that frees the link except `free`, at the
 * socket's own end; a link that must close from inside an op or a walk
 * over the socket's links uses close_soon.  An event may reenter the
 * link's ops (a message taken may be acknowledged on the same link), so
 * a link calls events only where it may be written to.
 */
#ifndef SMARTSOCK_LINK_H
#define SMARTSOCK_LINK_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

#include "home.h"

struct json;
struct msg;
struct link;

enum link_state {
	LINK_HANDSHAKE,         /* connected, the peer's HELLO not yet here */
	LINK_UP,                /* routed to (on the socket's active list) */
};

struct link_ops {
	/* Bytes written to the link and not yet on the wire. */
	size_t (*unflushed)(const struct link *);
	/* Write one payload (DATA, or DATA_REQ when it has an id); -1 when
	 * it could not be queued.  The message stays the caller's. */
	int (*send)(struct link *, struct msg *);
	int (*ack)(struct link *, const uint8_t msg_id[16]);
	/* Stop and resume reading for the socket (its receive queue is
	 * full); a link may pause for its own reasons too. */
	void (*pause)(struct link *);
	void (*resume)(struct link *);
	/* Close from the event loop, soon, with a logged reason; meanwhile
	 * `closing` is set and nothing is routed to it. */
	void (*close_soon)(struct link *, const char *why);
	/* The socket's settings changed (reload). */
	void (*reconfigure)(struct link *);
	/* The socket ends: close without events and without a log line. */
	void (*free)(struct link *);
	/* Its kind's fields in a status entry (smartsockctl peers). */
	void (*describe)(const struct link *, struct json *);
};

struct link {
	const struct link_ops *ops;
	struct home *home;
	TAILQ_ENTRY(link) entry;                /* every link of the socket */
	TAILQ_ENTRY(link) active_entry;         /* LINK_UP, in rr order */
	enum link_state state;
	const char *closing;                    /* non-NULL: ending, why */
	uint8_t identity[16];                   /* the peer's, once known */
	char identity_hex[33];
	char addr[64];                          /* "host:port" of the other end */
	uint64_t since;                         /* wall clock, s: connected */
	uint64_t last_sent_ms;
	uint64_t last_recv_ms;                  /* 0: nothing read yet */
	uint64_t msgs_in, msgs_out;
	uint64_t bytes_in, bytes_out;           /* payload bytes, as stats.h */
	uint64_t drops;                         /* publish copies dropped */
	uint64_t full_since_ms;                 /* publish: its output full
	                                           since (0: it has room) */
	void *replies;                          /* route.c's: replies awaited
	                                           on this link */
};
TAILQ_HEAD(link_list, link);

/* Room below peer_buffer in the link's output? */
static inline int
link_has_room(const struct link *l)
{
	return l->ops->unflushed(l) < l->home->conf->peer_buffer;
}

/*
 * --- events: a link reports to its home's core -------------------------
 * link_attach(): a new connection of the socket behind home, before its
 * handshake.  link_up(): its handshake is done (identity set): 0 and it
 * is LINK_UP, or -1 (that identity is already here; the link closes
 * itself).  link_down(): it is going away (once, before it is freed).
 * link_received(): a DATA (no MSG_HAS_ID) or DATA_REQ arrived, peer_id
 * set to the sender's identity; the core takes the reference (or copies
 * a borrowed message if it must keep it).  link_acked(): the peer
 * acknowledged msg_id.  link_drained(): its output fell below its
 * low-water mark.
 */
struct link_events {
	void (*attach)(struct home *, struct link *);
	int (*up)(struct link *);
	void (*down)(struct link *);
	void (*received)(struct link *, struct msg *);
	void (*acked)(struct link *, const uint8_t msg_id[16]);
	void (*drained)(struct link *);
};

static inline void
link_attach(struct home *home, struct link *l)
{
	home->events->attach(home, l);
}

static inline int
link_up(struct link *l)
{
	return l->home->events->up(l);
}

static inline void
link_down(struct link *l)
{
	l->home->events->down(l);
}

static inline void
link_received(struct link *l, struct msg *m)
{
	l->home->events->received(l, m);
}

static inline void
link_acked(struct link *l, const uint8_t msg_id[16])
{
	l->home->events->acked(l, msg_id);
}

static inline void
link_drained(struct link *l)
{
	l->home->events->drained(l);
}

#endif
