/* wire: aiomsg v1 frame codec over evbuffers (see wire.h). */
#include <string.h>

#include <event2/buffer.h>

#include "wire.h"

static void
wire_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t
wire_get_len(const uint8_t p[WIRE_LEN_PREFIX])
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/*
 * The decision for a frame of envelope length n, with `have` bytes in all
 * and its type byte (when n > 0 and it is there) at *type_at.
 */
static enum wire_peek_result
wire_judge(uint32_t n, size_t have, const uint8_t *type_at, size_t max_env,
    struct wire_frame *f)
{
	if (n > max_env)
		return WIRE_TOO_BIG;
	f->env_len = n;
	f->type = -1;
	if (have - WIRE_LEN_PREFIX < n)
		return WIRE_NEED_MORE;
	if (n > 0)
		f->type = *type_at;
	return WIRE_FRAME;
}

enum wire_peek_result
wire_decode(const uint8_t *buf, size_t have, size_t max_env,
    struct wire_frame *f)
{
	if (have < WIRE_LEN_PREFIX)
		return WIRE_NEED_MORE;
	return wire_judge(wire_get_len(buf), have, buf + WIRE_LEN_PREFIX,
	    max_env, f);
}

enum wire_peek_result
wire_peek(struct evbuffer *in, size_t max_env, struct wire_frame *f)
{
	uint8_t hdr[WIRE_LEN_PREFIX + 1];
	size_t have = evbuffer_get_length(in);

	if (have < WIRE_LEN_PREFIX)
		return WIRE_NEED_MORE;
	evbuffer_copyout(in, hdr, have > sizeof(hdr) ? sizeof(hdr) : have);
	return wire_judge(wire_get_len(hdr), have, hdr + WIRE_LEN_PREFIX,
	    max_env, f);
}

size_t
wire_data_header(uint8_t hdr[WIRE_MAX_HDR], int type, const uint8_t *msg_id,
    size_t payload_len)
{
	size_t fixed = 1 + (type == WIRE_DATA_REQ ? WIRE_ID_LEN : 0);

	wire_put_u32(hdr, (uint32_t)(fixed + payload_len));
	hdr[WIRE_LEN_PREFIX] = (uint8_t)type;
	if (type == WIRE_DATA_REQ)
		memcpy(hdr + WIRE_LEN_PREFIX + 1, msg_id, WIRE_ID_LEN);
	return WIRE_LEN_PREFIX + fixed;
}

int
wire_add_hello(struct evbuffer *out, const uint8_t identity[WIRE_ID_LEN])
{
	uint8_t f[WIRE_LEN_PREFIX + WIRE_HELLO_ENV];

	wire_put_u32(f, WIRE_HELLO_ENV);
	f[4] = WIRE_HELLO;
	f[5] = WIRE_VERSION;
	memcpy(f + 6, identity, WIRE_ID_LEN);
	return evbuffer_add(out, f, sizeof(f));
}

int
wire_add_heartbeat(struct evbuffer *out)
{
	static const uint8_t f[] = { 0, 0, 0, 1, WIRE_HEARTBEAT };

	return evbuffer_add(out, f, sizeof(f));
}

int
wire_add_ack(struct evbuffer *out, const uint8_t msg_id[WIRE_ID_LEN])
{
	uint8_t f[WIRE_LEN_PREFIX + WIRE_ACK_ENV];

	wire_put_u32(f, WIRE_ACK_ENV);
	f[4] = WIRE_ACK;
	memcpy(f + 5, msg_id, WIRE_ID_LEN);
	return evbuffer_add(out, f, sizeof(f));
}
