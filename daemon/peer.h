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
 * and to its owner (peer_owner: the connector that made it).
 */
#ifndef SMARTSOCK_PEER_H
#define SMARTSOCK_PEER_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct evbuffer;
struct event;
struct ssock;

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

enum peer_state {
	PEER_HELLO,             /* waiting for the peer's HELLO */
	PEER_ACTIVE,            /* routed to, heartbeated */
};

/* The WebSocket sub-transport of a bind endpoint (websocket = on). */
enum peer_ws {
	PEER_WS_NONE,           /* plain aiomsg (the first byte was 0) */
	PEER_WS_SNIFF,          /* accepted, first byte not seen yet */
	PEER_WS_UPGRADE,        /* an HTTP request head is coming */
	PEER_WS_ON,             /* upgraded: bev is a ws.h filter */
};

struct peer {
	TAILQ_ENTRY(peer) entry;        /* ssock->peers */
	TAILQ_ENTRY(peer) active_entry; /* ssock->active */
	struct ssock *ss;
	const struct peer_owner *owner; /* NULL when accepted (or once its
	                                   connector is gone) */
	struct bufferevent *bev;
	enum peer_state state;
	int tls;                        /* a TLS connection (tls.h) */
	int tls_done;                   /* its TLS handshake completed */
	enum peer_ws ws;
	const char *closing;            /* closes once its output is written,
	                                   for this reason (a refused
	                                   upgrade's answer), or soon
	                                   (peer_close_soon()) */
	char closing_why[160];          /* peer_close_soon()'s reason */
	uint8_t identity[16];
	char identity_hex[33];
	char addr[64];                  /* "host:port" of the other end */
	struct event *hello_ev;         /* handshake deadline */
	struct event *heartbeat_ev;
	struct event *silence_ev;       /* heartbeat_timeout without a frame */
	struct evbuffer *batch;         /* TLS: frames not yet handed to the
	                                   bufferevent (see peer_out()) */
	struct event *batch_ev;         /* hands them over once per loop */
	int batch_pending;              /* batch_ev is active */
	uint64_t last_sent_ms;
	uint64_t last_recv_ms;          /* last read from it, 0: never */
	uint64_t last_frame_ms;         /* last whole frame from it, moved
	                                   on by the time reading was paused */
	unsigned paused;                /* why it is not read: PEER_PAUSE_* */
	uint64_t paused_ms;             /* when reading was paused */
	uint64_t full_since_ms;         /* publish: its output full since
	                                   (0: it has room) */
	uint64_t since;                 /* wall clock, seconds: connected */
	uint64_t msgs_in, msgs_out;
	uint64_t bytes_in, bytes_out;   /* payload bytes, as in stats.h */
	uint64_t drops;                 /* publish copies dropped: queue full */
	struct evbuffer *replies;       /* replies awaited on this connection
	                                   (route.h); NULL: none yet */
};

/*
 * Take over a bufferevent (connecting or connected) for socket ss.  The
 * handshake must finish within hello_ms.  NULL on allocation failure (the
 * bufferevent is freed).
 */
struct peer *peer_new(struct ssock *ss, struct bufferevent *bev,
    const struct peer_owner *owner, const char *addr, uint64_t hello_ms);
/* Close with a logged reason; the peer is freed.  `why` is a short text. */
void peer_close(struct peer *, const char *why);
/* The same from the event loop, soon: for callers that walk the socket's
 * peers.  It is not routed to meanwhile (p->closing is set); why is
 * copied. */
void peer_close_soon(struct peer *, const char *why);
/* Close without logging per peer (daemon shutdown). */
void peer_free(struct peer *);

/* The connection's own bufferevent (socket or TLS), under the WebSocket
 * filter if any: for TLS details. */
struct bufferevent *peer_transport(const struct peer *);
/* Room in its output below peer_buffer? */
int peer_writable(const struct peer *);
/* Write one payload as DATA, or DATA_REQ if the message has an id. */
int peer_send_msg(struct peer *, struct msg *);
int peer_send_ack(struct peer *, const uint8_t msg_id[16]);
size_t peer_unflushed(const struct peer *);

/* The socket's settings changed (reload): apply timeouts and limits. */
void peer_reconfigure(struct peer *);

/*
 * Reading stops while any reason holds: the socket's receive queue is full
 * (PEER_PAUSE_SOCKET, set through these two), or the peer's own output is
 * (PEER_PAUSE_OUTPUT, by the peer itself: one that does not read what we
 * send, ACKs included, is not read either, so what it makes us queue stays
 * within peer_buffer).  Time spent paused is not silence.
 */
#define PEER_PAUSE_SOCKET 0x1
#define PEER_PAUSE_OUTPUT 0x2
void peer_pause_reading(struct peer *);
void peer_resume_reading(struct peer *);

#endif
