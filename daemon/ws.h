/*
 * ws: WebSocket framing (RFC 6455, server side) for browsers on a bind
 * port (../shared/spec/wire-v1.md, "WebSocket on a bind port"), after
 * wsup.h's upgrade.
 *
 * The payloads of the client's binary messages are one byte stream, frame
 * and message boundaries meaningless; it is passed on as it arrives (a
 * frame is never waited for whole, and unmasked as it comes).  What the
 * server writes goes out as unmasked binary frames, FIN set.  A text
 * frame fails the connection with close 1003; an unmasked frame, RSV bits,
 * an unknown opcode, a continuation with no message open, a new data frame
 * inside a fragmented message, a control frame without FIN or with over
 * 125 bytes, a 64-bit length with its top bit set, a bad close frame: 1002;
 * a close reason that is not UTF-8: 1007; a frame over the payload limit:
 * 1009.  (Lengths not in their shortest form are accepted.)  Ping gets pong with its payload,
 * pong is ignored, close is answered with its code (1000 when it had
 * none) and ends the stream.
 *
 * Two layers: a pure decoder and encoder over evbuffers, unit-tested and
 * fuzzed without sockets, and ws_wrap(), a libevent filter bufferevent
 * that glues them to a connection.  Written here rather than with Debian's
 * wslay: it has no upgrade handshake (wsup.h is needed anyway) and hands
 * over whole messages, where this stream needs bytes as they come.
 */
#ifndef SMARTSOCK_WS_H
#define SMARTSOCK_WS_H

#include <stddef.h>
#include <stdint.h>

struct bufferevent;
struct evbuffer;

#define WS_OP_CONT 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_UNSUPPORTED 1003       /* a text frame */
#define WS_CLOSE_INVALID_DATA 1007      /* a close reason not UTF-8 */
#define WS_CLOSE_TOO_BIG 1009

#define WS_CONTROL_MAX 125      /* payload of a control frame */
#define WS_MAX_HDR 14           /* 2 + 8 (length) + 4 (mask) */
/* Largest frame the server sends: larger writes become several frames. */
#define WS_OUT_FRAME_MAX (256 * 1024)

/* --- the pure layer ------------------------------------------------------ */

enum ws_decode_result {
	WS_DEC_OK,              /* all that can be decoded yet was */
	WS_DEC_CLOSED,          /* the client closed: answered, stream ended */
	WS_DEC_FAILED,          /* a protocol error: close frame queued */
};

/* The state of one client's byte stream; init with ws_decoder_init(). */
struct ws_decoder {
	size_t max_payload;     /* of one frame */
	uint64_t left;          /* payload bytes of the data frame to come */
	uint8_t mask[4];
	unsigned mask_at;       /* position in mask of the next byte */
	int in_frame;           /* inside a data frame's payload */
	int in_message;         /* a fragmented message is open */
	enum ws_decode_result state;
	int close_code;         /* sent (failed) or received (closed) */
	char reason[128];       /* when not WS_DEC_OK */
};

void ws_decoder_init(struct ws_decoder *, size_t max_payload);

/*
 * Consume what can be decoded from the front of `in`: data payload,
 * unmasked, is appended to `payload`; the frames to send back (pongs, the
 * close frame) to `reply`, whole.  A frame header cut short, or a control
 * frame not yet whole, stays in `in` for the next call.  Once CLOSED or
 * FAILED (reason and close_code in the decoder), further calls return the
 * same and consume nothing; the bytes after the close frame or the error
 * are left in `in`.  Allocation failures fail with code 1011.
 */
enum ws_decode_result ws_decode(struct ws_decoder *, struct evbuffer *in,
    struct evbuffer *payload, struct evbuffer *reply);

/* The header of an unmasked server frame, FIN set; returns its length. */
size_t ws_frame_header(uint8_t hdr[WS_MAX_HDR], int opcode, uint64_t len);
/* Append a whole frame.  0, or -1 on allocation failure. */
int ws_add_frame(struct evbuffer *out, int opcode, const void *payload,
    size_t len);
/* A close frame with code (none when code is 0). */
int ws_add_close(struct evbuffer *out, int code);
/* Move the first n bytes of src into out as one binary frame. */
int ws_add_binary_from(struct evbuffer *out, struct evbuffer *src,
    size_t n);

/* --- the filter bufferevent --------------------------------------------- */

/*
 * Wrap an upgraded connection (plain socket or OpenSSL bufferevent): the
 * returned filter's input is the concatenation of the payloads of the
 * client's binary messages, and what is written to it goes out as binary
 * frames.  max_payload bounds one frame's payload (close 1009 past it).
 * Takes bev (freed with the filter).  Bytes already in bev's input (frames
 * pipelined after the handshake) are decoded from the event loop once it
 * runs.  NULL on allocation failure (bev is then freed).
 *
 * When the client closes or breaks the protocol, the close frame is
 * queued on bev's output and the filter reports BEV_EVENT_EOF (client
 * close) or BEV_EVENT_ERROR, with BEV_EVENT_READING, from the event loop
 * (after any payload that came before it); errno means nothing then: ask
 * ws_reason().  Events of bev itself (its EOF, socket errors, TLS
 * errors) pass through unchanged, ws_reason() NULL.
 *
 * Not for the filter: bev_read_more() (it reads the socket under the
 * framing), bufferevent_getfd(), tls_*() (give them ws_underlying()).
 */
struct bufferevent *ws_wrap(struct bufferevent *bev, size_t max_payload);

/* Is this bufferevent a ws_wrap() filter?  Its underlying one (for TLS
 * details), or NULL. */
struct bufferevent *ws_underlying(struct bufferevent *bev);

/* Why the filter ended, e.g. "text frame (WebSocket close 1003)",
 * "closed by the peer (WebSocket close 1000)", or NULL (not ended by the
 * WebSocket layer, or not a filter). */
const char *ws_reason(struct bufferevent *bev);

/* Before freeing: try to send what is queued on the underlying output (a
 * close frame) without blocking, best effort.  A plain socket only: over
 * TLS it does nothing (then send close_notify with tls_close_notify() on
 * ws_underlying(), which flushes nothing either). */
void ws_flush(struct bufferevent *bev);

#endif
