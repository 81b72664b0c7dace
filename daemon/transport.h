/*
 * transport: how a peer's bytes travel, private to the peer's files
 * (peer.c, transport.c, wspeer.c).
 *
 * A connection's carrier is chosen once, when peer_new() takes its
 * bufferevent: plain TCP or TLS (transport.c).  The aiomsg session
 * (peer.c) calls its carrier only through these ops, at the few places
 * where the two differ: where frames are written, what a bufferevent
 * event means, what a late handshake means, what status shows, how the
 * connection ends.  On a bind port with websocket = on, the WebSocket
 * framing (wspeer.c) may come between the carrier and the session; it is
 * decided by the first byte and then holds for the connection's life.
 */
#ifndef SMARTSOCK_TRANSPORT_H
#define SMARTSOCK_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct evbuffer;
struct json;
struct peer;

struct transport {
	/* Set up what the carrier keeps on p: 0, or -1 out of memory. */
	int (*init)(struct peer *p);
	/* Where frames are written; NULL: the bufferevent's output. */
	struct evbuffer *(*out)(struct peer *p);
	/* Bytes written that the bufferevent's output does not count. */
	size_t (*held)(const struct peer *p);
	/* BEV_EVENT_CONNECTED came (the carrier's handshake, if any, is
	 * done). */
	void (*connected)(struct peer *p);
	/*
	 * The bufferevent reports the end (*what: BEV_EVENT_EOF or _ERROR,
	 * with errno err), before what arrived is decoded.  The carrier may
	 * correct *what; -1 when it closed the peer itself (a handshake that
	 * failed: counted, logged), else 0.
	 */
	int (*failed)(struct peer *p, short *what, int err);
	/* ... and after: the carrier's words for why, or "" (why[0]). */
	void (*reason)(struct peer *p, char *why, size_t len);
	/* At the handshake deadline: the carrier's cause (counted), or NULL
	 * when it is not the carrier's fault. */
	const char *(*late)(struct peer *p);
	/* Its fields of a status entry: "tls", "peer_certificate". */
	void (*describe)(const struct peer *p, struct json *j);
	/* The peer is being freed: before its bufferevent goes. */
	void (*end)(struct peer *p);
};

extern const struct transport transport_tcp, transport_tls;

/* For the carriers and the WebSocket framing (peer.c). */
/* Close; `logged`: the reason was logged already (or rate-limited). */
void peer_end(struct peer *, const char *why, int logged);
/* The connection's own bufferevent, under the WebSocket filter if any. */
struct bufferevent *peer_carrier(const struct peer *);
/* Where frames are written (the carrier's out, or the bufferevent's). */
struct evbuffer *peer_out(struct peer *);
/* Is its TCP connection established (not still connecting, not reset)? */
int peer_tcp_connected(const struct peer *);
/* Read and write through bev from now on (a new filter over the old). */
void peer_set_bev(struct peer *, struct bufferevent *bev);
/* The one place a peer's state changes (peer.h), with what each state
 * begins with; why: CLOSING's reason (copied).  -1 when HELLO could not
 * be written (out of memory). */
int peer_enter(struct peer *, enum peer_state, const char *why);

/* wspeer.c: the WebSocket framing of a bind port. */
/* The first byte on a WebSocket port: 0 a raw peer, 'G' a browser. */
void wspeer_sniff(struct peer *, uint8_t first);
/* The HTTP request head of the upgrade is coming: 0 (wait, or upgraded),
 * -1 (closed). */
int wspeer_upgrade(struct peer *);
/* The filter's words for why the connection ended (counted as a
 * WebSocket error when `what` is one), or NULL. */
const char *wspeer_reason(struct peer *, short what);
/* At the handshake deadline: an upgrade request not finished (counted),
 * or NULL. */
const char *wspeer_late(struct peer *);
/* "websocket" or "tcp", for status. */
const char *wspeer_framing(const struct peer *);
/* Before the bufferevent goes: what the filter holds is written. */
void wspeer_end(struct peer *);

#endif
