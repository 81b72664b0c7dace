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

enum wire_peek_result
wire_peek(struct evbuffer *in, size_t max_env, struct wire_frame *f)
{
	uint8_t hdr[WIRE_LEN_PREFIX + 1];
	size_t have = evbuffer_get_length(in);

	if (have < WIRE_LEN_PREFIX)
		return WIRE_NEED_MORE;
	/* The type byte is read only when the whole frame is there, and
	 * then it is among the bytes copied. */
	evbuffer_copyout(in, hdr, have > sizeof(hdr) ? sizeof(hdr) : have);
	return wire_decode(hdr, have, max_env, f);
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
