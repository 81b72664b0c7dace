/*
 * wire: the aiomsg v1 frame codec (../shared/spec/wire-v1.md).
 *
 * A frame is a big-endian u32 length N and N bytes of envelope; the first
 * envelope byte is the type.  wire_peek() never consumes: it reports whether
 * a whole frame is at the front of an evbuffer, so the caller can take
 * exactly that frame and leave the rest (a HELLO pipelined with DATA, several
 * frames per read, a frame split over many reads).  The encoders append to
 * an evbuffer.  Nothing here allocates messages or knows about peers.
 */
#ifndef SMARTSOCK_WIRE_H
#define SMARTSOCK_WIRE_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define WIRE_VERSION 1
#define WIRE_ID_LEN 16
#define WIRE_LEN_PREFIX 4

enum wire_type {
	WIRE_HELLO = 0x01,      /* version u8 + identity[16] */
	WIRE_HEARTBEAT = 0x02,  /* empty */
	WIRE_DATA = 0x03,       /* payload */
	WIRE_DATA_REQ = 0x04,   /* msg_id[16] + payload */
	WIRE_ACK = 0x05,        /* msg_id[16] */
};

/* Envelope sizes of the fixed-size types. */
#define WIRE_HELLO_ENV (1 + 1 + WIRE_ID_LEN)
#define WIRE_ACK_ENV (1 + WIRE_ID_LEN)
#define WIRE_DATA_REQ_MIN_ENV (1 + WIRE_ID_LEN)
/* Largest header written before a payload: length + type + msg_id. */
#define WIRE_MAX_HDR (WIRE_LEN_PREFIX + 1 + WIRE_ID_LEN)

enum wire_peek_result {
	WIRE_NEED_MORE,         /* no whole frame buffered yet */
	WIRE_FRAME,             /* a whole frame is at the front */
	WIRE_TOO_BIG,           /* its length exceeds the limit: close */
};

struct wire_frame {
	uint32_t env_len;       /* envelope length N (may be 0) */
	int type;               /* envelope[0], or -1 for an empty envelope */
};

/* The envelope length a frame's 4-byte prefix says. */
static inline uint32_t
wire_get_len(const uint8_t p[WIRE_LEN_PREFIX])
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * The frame at the front of the `have` bytes at buf, pure (no evbuffer,
 * no allocation: what peers and fuzzers share; inline, as it runs once per
 * frame).  WIRE_FRAME when all of it is there; WIRE_TOO_BIG as soon as its
 * length prefix exceeds max_env; WIRE_NEED_MORE otherwise, with f->env_len
 * set once the prefix is there (have >= WIRE_LEN_PREFIX), so a caller
 * knows how much to wait for.  Only the prefix is read, and the type byte
 * when the whole frame is there.
 */
static inline enum wire_peek_result
wire_decode(const uint8_t *buf, size_t have, size_t max_env,
    struct wire_frame *f)
{
	uint32_t n;

	if (have < WIRE_LEN_PREFIX)
		return WIRE_NEED_MORE;
	if ((n = wire_get_len(buf)) > max_env)
		return WIRE_TOO_BIG;
	f->env_len = n;
	f->type = -1;
	if (have - WIRE_LEN_PREFIX < n)
		return WIRE_NEED_MORE;
	if (n > 0)
		f->type = buf[WIRE_LEN_PREFIX];
	return WIRE_FRAME;
}

/* The same at the front of `in`, which need not be contiguous. */
enum wire_peek_result wire_peek(struct evbuffer *in, size_t max_env,
    struct wire_frame *f);

/*
 * Build the header that precedes a payload of `payload_len` bytes for a
 * frame of `type` (DATA, or DATA_REQ with msg_id).  Returns its length.
 */
size_t wire_data_header(uint8_t hdr[WIRE_MAX_HDR], int type,
    const uint8_t *msg_id, size_t payload_len);

/* Append whole frames. 0 on success, -1 on allocation failure. */
int wire_add_hello(struct evbuffer *out, const uint8_t identity[WIRE_ID_LEN]);
int wire_add_heartbeat(struct evbuffer *out);
int wire_add_ack(struct evbuffer *out, const uint8_t msg_id[WIRE_ID_LEN]);

#endif
