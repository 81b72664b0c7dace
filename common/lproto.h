/*
 * lproto: the local protocol between libsmartsock and smartsockd.
 *
 * One Unix-domain stream connection per attached application.  Every message
 * either way is a frame:
 *
 *     u32 length (big-endian, counts type + body) | u8 type | body
 *
 * The client speaks first with HELLO carrying LPROTO_VERSION; the daemon
 * answers WELCOME (same version) or REFUSE (with a status and a text) and
 * closes.  After WELCOME the client may send SEND / SEND_TO / CONFIRM /
 * CREDIT and the daemon sends DELIVER / DELIVER_REQ / SEND_RESULT.  The
 * daemon delivers only against credit: a client that never grants any (one
 * that only sends) never receives, so nothing is stranded in it.  Integers
 * are big-endian.
 *
 * A daemon that stops (SIGTERM) sends CLOSING: the client then sends no new
 * frame (it finishes one it has begun, and may CONFIRM what it took) and
 * shuts its write side down.  The daemon reads and handles everything up to
 * that end of stream, and until it exits delivers what it still holds to
 * clients that have ever granted credit, credit or not; then it closes.
 *
 * Bodies (fixed fields first, payload is the rest of the frame):
 *   HELLO        u16 version
 *   SEND         payload
 *   SEND_TO      identity[16] payload          -> answered by one SEND_RESULT
 *   CONFIRM      u64 seq: every DELIVER_REQ with seq <= this one was taken
 *   CREDIT       u32 n: the client can take n more DELIVER/DELIVER_REQ
 *   WELCOME      u16 version, u32 max_message_size, identity[16] of the socket
 *   REFUSE       u16 version, u32 status, text (not NUL-terminated)
 *   DELIVER      identity[16] of the sender, payload
 *   DELIVER_REQ  u64 seq, identity[16], payload  (at-least-once: CONFIRM it)
 *   SEND_RESULT  u32 status for the oldest unanswered SEND_TO
 *   CLOSING      (empty) the daemon is stopping: shut your write side
 *
 * Both sides treat the other as untrusted: lproto_frame_check() bounds the
 * length and the fixed part of every body before anything is read from it.
 */
#ifndef SMARTSOCK_LPROTO_H
#define SMARTSOCK_LPROTO_H

#include <stddef.h>
#include <stdint.h>

#define LPROTO_VERSION 1
#define LPROTO_HDR_LEN 5        /* u32 length + u8 type */
#define LPROTO_ID_LEN 16
/* Largest fixed part of any body: DELIVER_REQ's seq + identity. */
#define LPROTO_MAX_FIXED 24

enum lproto_type {
	/* client -> daemon */
	LPROTO_HELLO = 1,
	LPROTO_SEND = 2,
	LPROTO_SEND_TO = 3,
	LPROTO_CONFIRM = 4,
	LPROTO_CREDIT = 5,
	/* daemon -> client */
	LPROTO_WELCOME = 64,
	LPROTO_REFUSE = 65,
	LPROTO_DELIVER = 66,
	LPROTO_DELIVER_REQ = 67,
	LPROTO_SEND_RESULT = 68,
	LPROTO_CLOSING = 69,
};

/* Status codes carried by REFUSE and SEND_RESULT (not errno values). */
enum lproto_status {
	LPROTO_OK = 0,
	LPROTO_ST_UNREACHABLE = 1,      /* send_to: no such identity connected */
	LPROTO_ST_TOO_BIG = 2,          /* payload over max_message_size */
	LPROTO_ST_BAD_VERSION = 3,      /* hello with another version */
	LPROTO_ST_NO_BUFFER = 4,        /* send buffer full (drop-new policy) */
	LPROTO_ST_REFUSED = 5,          /* attach refused (access, stopping) */
	LPROTO_ST_TOO_MANY = 6,         /* attach refused: max_clients */
};

/* Outcome of lproto_frame_check(). */
enum lproto_check {
	LPROTO_NEED_MORE = 0,   /* fewer than LPROTO_HDR_LEN bytes */
	LPROTO_FRAME_OK = 1,    /* header valid: *type and *body_len are set */
	LPROTO_FRAME_BAD = -1,  /* unknown type, bad or oversized length */
};

/*
 * Validate a frame header.  hdr holds `have` bytes (only the first
 * LPROTO_HDR_LEN are read).  max_payload bounds the payload part; the body
 * must also be long enough for the type's fixed fields, and exactly that
 * long for fixed-size types.
 */
enum lproto_check lproto_frame_check(const uint8_t *hdr, size_t have,
    size_t max_payload, uint8_t *type, uint32_t *body_len);

/* Size of the fixed fields that precede the payload for `type`, or -1. */
int lproto_fixed_len(uint8_t type);

/* Write a header for a frame whose body is body_len bytes; returns
 * LPROTO_HDR_LEN.  body_len must fit in u32 minus one. */
size_t lproto_put_header(uint8_t *dst, uint8_t type, size_t body_len);

static inline void lproto_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void lproto_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void lproto_put_u64(uint8_t *p, uint64_t v)
{
	lproto_put_u32(p, (uint32_t)(v >> 32));
	lproto_put_u32(p + 4, (uint32_t)v);
}

static inline uint16_t lproto_get_u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t lproto_get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t lproto_get_u64(const uint8_t *p)
{
	return ((uint64_t)lproto_get_u32(p) << 32) | lproto_get_u32(p + 4);
}

#endif
