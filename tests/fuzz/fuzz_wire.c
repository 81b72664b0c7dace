/*
 * fuzz_wire: the aiomsg v1 frame codec (daemon/wire.c) over evbuffers.
 *
 * Input: byte 0 picks the envelope limit (from a table, so that a length
 * over it is reachable with short inputs), byte 1 the chunking; the rest
 * is a byte stream from a peer.  It is appended to an evbuffer one chunk
 * at a time, each chunk its own chain, and after every chunk each whole
 * frame is taken off the front as peer.c does: wire_peek(), then pullup
 * and drain; the pure wire_decode() must say the same of the flat bytes.  Checked against a plain decode of the flat stream: the same
 * verdicts and frames in the same order whatever the chunking, a length
 * over the limit seen exactly where it is; and the encoders must rebuild
 * every well-formed HELLO, HEARTBEAT, DATA, DATA_REQ and ACK byte for byte.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz_chunk.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		dprintf(2, "fuzz_wire: %s:%d: check failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

static const size_t limits[] = {
	0, 1, WIRE_ACK_ENV, WIRE_HELLO_ENV, 64, 4096, 16u << 20,
	UINT32_MAX,
};

static uint32_t
get_u32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	    ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

/* What wire_peek() must say about the flat stream s[0..have). */
static enum wire_peek_result
reference_peek(const uint8_t *s, size_t have, size_t max_env, uint32_t *n)
{
	if (have < WIRE_LEN_PREFIX)
		return WIRE_NEED_MORE;
	*n = get_u32(s);
	if (*n > max_env)
		return WIRE_TOO_BIG;
	if (have - WIRE_LEN_PREFIX < *n)
		return WIRE_NEED_MORE;
	return WIRE_FRAME;
}

/* A whole frame f (length prefix first, env_len envelope bytes): the
 * encoders must produce the same bytes for the well-formed fixed types
 * and the same header for DATA and DATA_REQ. */
static void
check_encoders(const uint8_t *f, uint32_t env_len)
{
	const uint8_t *env = f + WIRE_LEN_PREFIX;
	uint8_t hdr[WIRE_MAX_HDR];
	struct evbuffer *b;
	size_t n;

	if (env_len == 0)
		return;
	switch (env[0]) {
	case WIRE_DATA:
		n = wire_data_header(hdr, WIRE_DATA, NULL, env_len - 1);
		CHECK(n == WIRE_LEN_PREFIX + 1);
		CHECK(memcmp(hdr, f, n) == 0);
		return;
	case WIRE_DATA_REQ:
		if (env_len < WIRE_DATA_REQ_MIN_ENV)
			return;
		n = wire_data_header(hdr, WIRE_DATA_REQ, env + 1,
		    env_len - WIRE_DATA_REQ_MIN_ENV);
		CHECK(n == WIRE_MAX_HDR);
		CHECK(memcmp(hdr, f, n) == 0);
		return;
	case WIRE_HELLO:
	case WIRE_HEARTBEAT:
	case WIRE_ACK:
		break;
	default:
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		return;
	if (env[0] == WIRE_HELLO && env_len == WIRE_HELLO_ENV &&
	    env[1] == WIRE_VERSION)
		CHECK(wire_add_hello(b, env + 2) == 0);
	else if (env[0] == WIRE_HEARTBEAT && env_len == 1)
		CHECK(wire_add_heartbeat(b) == 0);
	else if (env[0] == WIRE_ACK && env_len == WIRE_ACK_ENV)
		CHECK(wire_add_ack(b, env + 1) == 0);
	n = evbuffer_get_length(b);
	if (n > 0) {
		CHECK(n == WIRE_LEN_PREFIX + (size_t)env_len);
		CHECK(memcmp(evbuffer_pullup(b, -1), f, n) == 0);
	}
	evbuffer_free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in, *chunk;
	struct wire_frame f, g;
	enum wire_peek_result r, want;
	const uint8_t *s, *p;
	size_t max_env, len, fed = 0, taken = 0, n;
	uint32_t state, env_len = 0;
	uint8_t mode;
	int done = 0;

	if (size < 2)
		return 0;
	max_env = limits[data[0] % (sizeof(limits) / sizeof(limits[0]))];
	mode = data[1];
	state = mode;
	s = data + 2;
	len = size - 2;
	if ((in = evbuffer_new()) == NULL || (chunk = evbuffer_new()) == NULL) {
		evbuffer_free(in);
		return 0;
	}
	while (!done && fed < len) {
		n = fuzz_next_chunk(mode, &state, len - fed);
		/* Its own chain: moved over whole, not copied into the last. */
		CHECK(evbuffer_add(chunk, s + fed, n) == 0);
		CHECK(evbuffer_add_buffer(in, chunk) == 0);
		fed += n;
		for (;;) {
			CHECK(evbuffer_get_length(in) == fed - taken);
			r = wire_peek(in, max_env, &f);
			want = reference_peek(s + taken, fed - taken, max_env,
			    &env_len);
			CHECK(r == want);
			/* The pure decoder on the flat bytes agrees. */
			CHECK(wire_decode(s + taken, fed - taken, max_env, &g) ==
			    want);
			CHECK(want != WIRE_FRAME || (g.env_len == env_len &&
			    g.type == (env_len > 0 ? s[taken + 4] : -1)));
			CHECK(want != WIRE_NEED_MORE ||
			    fed - taken < WIRE_LEN_PREFIX ||
			    g.env_len == get_u32(s + taken));
			if (fed - taken >= WIRE_LEN_PREFIX)
				CHECK(wire_get_len(s + taken) ==
				    get_u32(s + taken));
			if (r == WIRE_NEED_MORE)
				break;
			if (r == WIRE_TOO_BIG) {
				done = 1;       /* the peer is closed here */
				break;
			}
			CHECK(f.env_len == env_len);
			CHECK(f.env_len <= max_env);
			CHECK(f.type == (env_len > 0 ? s[taken + 4] : -1));
			n = WIRE_LEN_PREFIX + (size_t)f.env_len;
			CHECK((p = evbuffer_pullup(in, (ev_ssize_t)n)) != NULL);
			CHECK(memcmp(p, s + taken, n) == 0);
			check_encoders(p, f.env_len);
			CHECK(evbuffer_drain(in, n) == 0);
			taken += n;
		}
	}
	evbuffer_free(chunk);
	evbuffer_free(in);
	return 0;
}
