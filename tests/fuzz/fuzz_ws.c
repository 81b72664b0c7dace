/*
 * fuzz_ws: the WebSocket layer of a bind port: the frame decoder
 * (daemon/ws.c) and the upgrade request parser (daemon/wsup.c).
 *
 * Input: byte 0 picks the payload limit and the head limit (from tables,
 * so that both edges are reachable with short inputs) and the Origin
 * list, byte 1 the chunking; the rest is what a client sent.
 *
 * Decoder: the bytes are appended to an evbuffer one chunk at a time,
 * each chunk its own chain, with ws_decode() after each.  It must agree
 * with one ws_decode() of the whole stream: the same verdict, payload,
 * reply frames, close code, reason and bytes left over.  The payload is
 * never longer than the input; the reply is whole unmasked server frames,
 * pongs and at most one close, last; once ended, nothing more is taken.
 *
 * Upgrade: wsup_parse() on the same bytes must find the head where a
 * plain search for CRLFCRLF does, give the same verdict on the head alone
 * as with what follows it, say NEED_MORE one byte short, and write a
 * terminated response that is a 101 exactly when it says WSUP_OK.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "fuzz_chunk.h"
#include "ws.h"
#include "wsup.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		dprintf(2, "fuzz_ws: %s:%d: check failed: %s\n",	\
		    __FILE__, __LINE__, #c);				\
		abort();						\
	}								\
} while (0)

static const size_t payload_limits[] = { 0, 1, 125, 126, 1000, 65536,
	1 << 20, SIZE_MAX };
static const size_t head_limits[] = { 4, 64, 256, 8192 };
static const char *const origin_lists[] = { NULL, "http://a", "",
	"https://a.example, http://localhost:8080" };

struct dec {
	struct ws_decoder d;
	struct evbuffer *in, *payload, *reply;
	enum ws_decode_result r;
};

static void
dec_init(struct dec *x, size_t max)
{
	ws_decoder_init(&x->d, max);
	CHECK((x->in = evbuffer_new()) != NULL);
	CHECK((x->payload = evbuffer_new()) != NULL);
	CHECK((x->reply = evbuffer_new()) != NULL);
	x->r = WS_DEC_OK;
}

static void
dec_free(struct dec *x)
{
	evbuffer_free(x->in);
	evbuffer_free(x->payload);
	evbuffer_free(x->reply);
}

static int
same_bytes(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);

	return n == evbuffer_get_length(b) && (n == 0 ||
	    memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), n) == 0);
}

/* The reply: whole unmasked FIN frames, pongs of at most 125 bytes, and
 * a close with a 2-byte code only as the last frame, when ended. */
static void
check_reply(struct evbuffer *reply, enum ws_decode_result r, int code)
{
	const uint8_t *p = evbuffer_pullup(reply, -1);
	size_t n = evbuffer_get_length(reply), at = 0, len;
	int closes = 0;

	while (at < n) {
		CHECK(n - at >= 2);
		CHECK((p[at + 1] & 0x80) == 0);
		len = p[at + 1];
		CHECK(len <= WS_CONTROL_MAX);
		CHECK(n - at - 2 >= len);
		if (p[at] == (0x80 | WS_OP_CLOSE)) {
			CHECK(len == 2);
			CHECK(at + 4 == n);
			if (r == WS_DEC_FAILED)
				CHECK(((p[at + 2] << 8) | p[at + 3]) == code);
			closes++;
		} else
			CHECK(p[at] == (0x80 | WS_OP_PONG));
		at += 2 + len;
	}
	CHECK(closes == (r == WS_DEC_OK ? 0 : 1));
}

static void
fuzz_decoder(const uint8_t *s, size_t len, size_t max, uint8_t mode)
{
	struct dec whole, split;
	struct evbuffer *chunk;
	size_t fed = 0, n, k;
	uint32_t state = mode;

	dec_init(&whole, max);
	dec_init(&split, max);
	CHECK((chunk = evbuffer_new()) != NULL);

	CHECK(evbuffer_add(whole.in, s, len) == 0);
	whole.r = ws_decode(&whole.d, whole.in, whole.payload, whole.reply);

	while (fed < len && split.r == WS_DEC_OK) {
		n = fuzz_next_chunk(mode, &state, len - fed);
		/* Its own chain: moved over whole, not copied into the last. */
		CHECK(evbuffer_add(chunk, s + fed, n) == 0);
		CHECK(evbuffer_add_buffer(split.in, chunk) == 0);
		fed += n;
		split.r = ws_decode(&split.d, split.in, split.payload,
		    split.reply);
		CHECK(evbuffer_get_length(split.payload) <= fed);
	}
	CHECK(split.r == whole.r);
	CHECK(split.r == split.d.state);
	CHECK(same_bytes(split.payload, whole.payload));
	CHECK(same_bytes(split.reply, whole.reply));
	CHECK(split.d.close_code == whole.d.close_code);
	CHECK(strcmp(split.d.reason, whole.d.reason) == 0);
	CHECK(evbuffer_get_length(whole.payload) <= len);
	check_reply(whole.reply, whole.r, whole.d.close_code);
	if (whole.r == WS_DEC_OK) {
		CHECK(whole.d.reason[0] == '\0');
		/* What is left is less than a header, or an unfinished
		 * control frame. */
		CHECK(evbuffer_get_length(whole.in) <
		    WS_MAX_HDR + WS_CONTROL_MAX);
	} else {
		CHECK(whole.d.reason[0] != '\0');
		CHECK(evbuffer_get_length(split.in) + (len - fed) ==
		    evbuffer_get_length(whole.in));
		/* Ended: nothing more is taken or produced. */
		k = evbuffer_get_length(whole.in);
		n = evbuffer_get_length(whole.reply);
		CHECK(evbuffer_add(whole.in, "\x82\x80\0\0\0\0", 6) == 0);
		CHECK(ws_decode(&whole.d, whole.in, whole.payload,
		    whole.reply) == whole.r);
		CHECK(evbuffer_get_length(whole.in) == k + 6);
		CHECK(evbuffer_get_length(whole.reply) == n);
	}
	evbuffer_free(chunk);
	dec_free(&whole);
	dec_free(&split);
}

/* Where a head of at most max bytes ends in s[0..len), or 0. */
static size_t
head_end(const uint8_t *s, size_t len, size_t max)
{
	size_t i, lim = len < max ? len : max;

	for (i = 0; i + 4 <= lim; i++)
		if (memcmp(s + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	return 0;
}

static enum wsup_result
upgrade(const uint8_t *s, size_t len, size_t max, const char *origins,
    char *resp, size_t *consumed)
{
	char why[128];
	enum wsup_result r;

	resp[0] = '\0';
	memset(why, 'x', sizeof(why));
	r = wsup_parse((const char *)s, len, max, origins, resp, WSUP_RESP_MAX,
	    consumed, why, sizeof(why));
	CHECK(memchr(why, '\0', sizeof(why)) != NULL || r == WSUP_NEED_MORE);
	return r;
}

static void
fuzz_upgrade(const uint8_t *s, size_t len, size_t max, const char *origins)
{
	char resp[WSUP_RESP_MAX], resp2[WSUP_RESP_MAX];
	size_t consumed = 0, consumed2 = 0, end;
	enum wsup_result r, r2;

	r = upgrade(s, len, max, origins, resp, &consumed);
	end = head_end(s, len, max);
	if (end == 0) {
		CHECK(r == (len < max ? WSUP_NEED_MORE : WSUP_TOO_BIG));
		if (r == WSUP_TOO_BIG) {
			CHECK(consumed == len);
			CHECK(strncmp(resp, "HTTP/1.1 431 ", 13) == 0);
		}
		return;
	}
	CHECK(r != WSUP_NEED_MORE && r != WSUP_TOO_BIG);
	CHECK(consumed == end);
	CHECK(strlen(resp) < WSUP_RESP_MAX);
	CHECK(strncmp(resp, r == WSUP_OK ? "HTTP/1.1 101 " : "HTTP/1.1 4",
	    r == WSUP_OK ? 13 : 10) == 0);
	CHECK((strstr(resp, "\r\nSec-WebSocket-Accept: ") != NULL) ==
	    (r == WSUP_OK));
	CHECK((strstr(resp, "\r\nSec-WebSocket-Version: 13\r\n") != NULL) ==
	    (r == WSUP_BAD_VERSION));
	CHECK(strstr(resp, "\r\n\r\n") != NULL);
	/* The head alone says the same; one byte short, it waits. */
	r2 = upgrade(s, end, max, origins, resp2, &consumed2);
	CHECK(r2 == r && consumed2 == end && strcmp(resp, resp2) == 0);
	r2 = upgrade(s, end - 1, max, origins, resp2, &consumed2);
	CHECK(r2 == WSUP_NEED_MORE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* libFuzzer's data is an exact-size allocation: ASan sees any read
	 * past its end. */
	fuzz_decoder(data + 2, size - 2, payload_limits[data[0] % 8], data[1]);
	fuzz_upgrade(data + 2, size - 2, head_limits[(data[0] >> 3) % 4],
	    origin_lists[(data[0] >> 5) % 4]);
	return 0;
}
