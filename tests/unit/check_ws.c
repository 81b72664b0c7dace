/*
 * check_ws: WebSocket framing, server side.  The decoder on every rule of
 * ws.h, fed whole, byte by byte, split in two at every position and in
 * chunks of every size, checked against the same stream decoded whole;
 * the encoder's exact bytes; and the filter bufferevent over a
 * bufferevent_pair and over a socketpair, with a client that masks.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "ws.h"

#define FIN 0x80

/* --- building client frames -------------------------------------------- */

/* Length forms: the shortest, or forced 16- or 64-bit. */
enum lenform { LEN_MIN, LEN_16, LEN_64 };

/* A client frame: first byte b0 (FIN, RSV, opcode), masked with key
 * unless unmasked. */
static void
cframe_ex(struct evbuffer *out, int b0, const void *payload, size_t len,
    uint32_t key, int masked, enum lenform form)
{
	uint8_t h[WS_MAX_HDR], m[4], *p;
	size_t n = 2, i;

	h[0] = (uint8_t)b0;
	if (form == LEN_MIN && len < 126)
		h[1] = (uint8_t)len;
	else if (form != LEN_64 && len <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		n = 10;
	}
	m[0] = (uint8_t)(key >> 24);
	m[1] = (uint8_t)(key >> 16);
	m[2] = (uint8_t)(key >> 8);
	m[3] = (uint8_t)key;
	if (masked) {
		h[1] |= 0x80;
		memcpy(h + n, m, 4);
		n += 4;
	}
	evbuffer_add(out, h, n);
	if (len == 0)
		return;
	ck_assert_ptr_nonnull(p = malloc(len));
	memcpy(p, payload, len);
	if (masked)
		for (i = 0; i < len; i++)
			p[i] ^= m[i & 3];
	evbuffer_add(out, p, len);
	free(p);
}

static void
cframe(struct evbuffer *out, int b0, const void *payload, size_t len)
{
	static uint32_t key = 0x37fa213d;

	key = key * 1103515245u + 12345u;
	cframe_ex(out, b0, payload, len, key, 1, LEN_MIN);
}

static void
cstr(struct evbuffer *out, int b0, const char *s)
{
	cframe(out, b0, s, strlen(s));
}

/* A client frame with a raw 8-byte length field. */
static void
cframe_len64(struct evbuffer *out, int b0, uint64_t len)
{
	uint8_t h[14] = { (uint8_t)b0, 0x80 | 127 };
	int i;

	for (i = 0; i < 8; i++)
		h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	memcpy(h + 10, "\x01\x02\x03\x04", 4);
	evbuffer_add(out, h, sizeof(h));
}

/* --- running the decoder ------------------------------------------------ */

struct dec_out {
	enum ws_decode_result r;
	int code;
	char reason[128];
	struct evbuffer *payload, *reply;
	size_t left;            /* bytes of the stream not consumed */
};

static void
dec_out_init(struct dec_out *o)
{
	memset(o, 0, sizeof(*o));
	o->payload = evbuffer_new();
	o->reply = evbuffer_new();
}

static void
dec_out_free(struct dec_out *o)
{
	evbuffer_free(o->payload);
	evbuffer_free(o->reply);
}

/* Feed s in chunks of `chunk` bytes (0: whole), each its own evbuffer
 * chain; split > 0 feeds s[0..split) then the rest instead. */
static void
run(const uint8_t *s, size_t n, size_t chunk, size_t split, size_t max,
    struct dec_out *o)
{
	struct ws_decoder d;
	struct evbuffer *in = evbuffer_new(), *c = evbuffer_new();
	size_t fed = 0, k;

	dec_out_init(o);
	ws_decoder_init(&d, max);
	o->r = ws_decode(&d, in, o->payload, o->reply);
	ck_assert_int_eq(o->r, WS_DEC_OK);
	while (fed < n) {
		if (split > 0)
			k = fed == 0 ? split : n - fed;
		else
			k = chunk == 0 || chunk > n - fed ? n - fed : chunk;
		evbuffer_add(c, s + fed, k);
		evbuffer_add_buffer(in, c);
		fed += k;
		o->r = ws_decode(&d, in, o->payload, o->reply);
		if (o->r != WS_DEC_OK)
			break;
	}
	o->left = n - fed + evbuffer_get_length(in);
	/* Once ended, nothing more is taken. */
	if (o->r != WS_DEC_OK) {
		k = evbuffer_get_length(in);
		evbuffer_add(in, "\x82\x80\0\0\0\0", 6);
		ck_assert_int_eq(ws_decode(&d, in, o->payload, o->reply),
		    o->r);
		ck_assert_uint_eq(evbuffer_get_length(in), k + 6);
	}
	o->code = d.close_code;
	snprintf(o->reason, sizeof(o->reason), "%s", d.reason);
	evbuffer_free(in);
	evbuffer_free(c);
}

static int
buf_eq(struct evbuffer *a, struct evbuffer *b)
{
	size_t n = evbuffer_get_length(a);

	return n == evbuffer_get_length(b) &&
	    (n == 0 || memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1),
	    n) == 0);
}

static void
same_out(struct dec_out *a, struct dec_out *b, const char *how, size_t k)
{
	ck_assert_msg(a->r == b->r, "%s %zu: result %d, whole %d", how, k,
	    b->r, a->r);
	ck_assert_msg(buf_eq(a->payload, b->payload), "%s %zu: payload", how,
	    k);
	ck_assert_msg(buf_eq(a->reply, b->reply), "%s %zu: reply", how, k);
	ck_assert_int_eq(a->code, b->code);
	ck_assert_str_eq(a->reason, b->reason);
	if (a->r != WS_DEC_OK)
		ck_assert_uint_eq(a->left, b->left);
}

/* Decode s whole, then every other way, and insist they all agree. */
static void
run_all_ways(struct evbuffer *sb, size_t max, struct dec_out *whole)
{
	const uint8_t *s = evbuffer_pullup(sb, -1);
	size_t n = evbuffer_get_length(sb), k;
	struct dec_out o;

	run(s, n, 0, 0, max, whole);
	for (k = 1; k < n; k++) {
		run(s, n, 0, k, max, &o);
		same_out(whole, &o, "split at", k);
		dec_out_free(&o);
	}
	for (k = 1; k <= 17 && k < n; k++) {
		run(s, n, k, 0, max, &o);
		same_out(whole, &o, "chunks of", k);
		dec_out_free(&o);
	}
}

static void
assert_bytes(struct evbuffer *b, const void *want, size_t n)
{
	ck_assert_uint_eq(evbuffer_get_length(b), n);
	ck_assert(n == 0 || memcmp(evbuffer_pullup(b, -1), want, n) == 0);
}

/* The reply holds exactly a close frame with code. */
static void
assert_close(struct evbuffer *b, int code)
{
	uint8_t want[4] = { 0x88, 2, (uint8_t)(code >> 8), (uint8_t)code };

	assert_bytes(b, want, 4);
}

static uint8_t *
pattern(size_t n, unsigned seed)
{
	uint8_t *p = malloc(n ? n : 1);
	size_t i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
	return p;
}

/* --- the encoder -------------------------------------------------------- */

START_TEST(test_frame_header)
{
	uint8_t h[WS_MAX_HDR];

	ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 0), 2);
	ck_assert_mem_eq(h, "\x82\x00", 2);
	ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 125), 2);
	ck_assert_mem_eq(h, "\x82\x7d", 2);
	ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 126), 4);
	ck_assert_mem_eq(h, "\x82\x7e\x00\x7e", 4);
	ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 65535), 4);
	ck_assert_mem_eq(h, "\x82\x7e\xff\xff", 4);
	ck_assert_uint_eq(ws_frame_header(h, WS_OP_BINARY, 65536), 10);
	ck_assert_mem_eq(h, "\x82\x7f\0\0\0\0\0\x01\0\0", 10);
	ck_assert_uint_eq(ws_frame_header(h, WS_OP_PONG, 0x123456789aULL), 10);
	ck_assert_mem_eq(h, "\x8a\x7f\0\0\0\x12\x34\x56\x78\x9a", 10);
}
END_TEST

START_TEST(test_add_frames)
{
	struct evbuffer *b = evbuffer_new(), *src = evbuffer_new();
	uint8_t *big = pattern(70000, 1), *p;

	ck_assert_int_eq(ws_add_close(b, 0), 0);
	assert_bytes(b, "\x88\x00", 2);
	evbuffer_drain(b, 2);
	ck_assert_int_eq(ws_add_close(b, 1000), 0);
	assert_bytes(b, "\x88\x02\x03\xe8", 4);
	evbuffer_drain(b, 4);
	ck_assert_int_eq(ws_add_close(b, 1009), 0);
	assert_bytes(b, "\x88\x02\x03\xf1", 4);
	evbuffer_drain(b, 4);
	ck_assert_int_eq(ws_add_frame(b, WS_OP_PONG, "Hello", 5), 0);
	assert_bytes(b, "\x8a\x05Hello", 7);
	evbuffer_drain(b, 7);
	ck_assert_int_eq(ws_add_frame(b, WS_OP_BINARY, big, 70000), 0);
	ck_assert_uint_eq(evbuffer_get_length(b), 10 + 70000);
	p = evbuffer_pullup(b, -1);
	ck_assert_mem_eq(p, "\x82\x7f\0\0\0\0\0\x01\x11\x70", 10);
	ck_assert(memcmp(p + 10, big, 70000) == 0);
	evbuffer_drain(b, 70010);

	evbuffer_add(src, big, 300);
	ck_assert_int_eq(ws_add_binary_from(b, src, 200), 0);
	ck_assert_uint_eq(evbuffer_get_length(src), 100);
	p = evbuffer_pullup(b, -1);
	ck_assert_uint_eq(evbuffer_get_length(b), 204);
	ck_assert_mem_eq(p, "\x82\x7e\x00\xc8", 4);
	ck_assert(memcmp(p + 4, big, 200) == 0);
	ck_assert(memcmp(evbuffer_pullup(src, -1), big + 200, 100) == 0);
	evbuffer_free(b);
	evbuffer_free(src);
	free(big);
}
END_TEST

/* --- the decoder --------------------------------------------------------- */

/* RFC 6455 5.7's masked "Hello", as a binary frame. */
START_TEST(test_rfc_sample)
{
	static const uint8_t f[] = { 0x82, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
	    0x9f, 0x4d, 0x51, 0x58 };
	struct evbuffer *s = evbuffer_new();
	struct dec_out o;

	evbuffer_add(s, f, sizeof(f));
	run_all_ways(s, 1 << 20, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	assert_bytes(o.payload, "Hello", 5);
	assert_bytes(o.reply, "", 0);
	ck_assert_uint_eq(o.left, 0);
	dec_out_free(&o);
	evbuffer_free(s);
}
END_TEST

/* Several messages, one fragmented with control frames between its
 * fragments, every length form, empty frames: one byte stream. */
START_TEST(test_stream)
{
	struct evbuffer *s = evbuffer_new(), *want = evbuffer_new(),
	    *pongs = evbuffer_new();
	uint8_t *a = pattern(300, 2), *b = pattern(70000, 3);
	struct dec_out o;

	cstr(s, FIN | WS_OP_BINARY, "one");
	evbuffer_add(want, "one", 3);
	cstr(s, WS_OP_BINARY, "frag-");
	evbuffer_add(want, "frag-", 5);
	cstr(s, FIN | WS_OP_PING, "p1");
	ws_add_frame(pongs, WS_OP_PONG, "p1", 2);
	cframe(s, WS_OP_CONT, NULL, 0);
	cstr(s, FIN | WS_OP_PONG, "ignored");
	cframe(s, WS_OP_CONT, a, 300);                  /* 16-bit length */
	evbuffer_add(want, a, 300);
	cframe(s, FIN | WS_OP_PING, NULL, 0);
	ws_add_frame(pongs, WS_OP_PONG, NULL, 0);
	cstr(s, FIN | WS_OP_CONT, "-end");
	evbuffer_add(want, "-end", 4);
	cframe(s, FIN | WS_OP_BINARY, NULL, 0);
	cframe_ex(s, FIN | WS_OP_BINARY, "x", 1, 0, 1, LEN_64);
	evbuffer_add(want, "x", 1);
	cframe_ex(s, FIN | WS_OP_BINARY, "yz", 2, 0xffffffff, 1, LEN_16);
	evbuffer_add(want, "yz", 2);
	cframe(s, FIN | WS_OP_BINARY, b, 1000);
	evbuffer_add(want, b, 1000);
	run_all_ways(s, 1 << 20, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	ck_assert(buf_eq(o.payload, want));
	ck_assert(buf_eq(o.reply, pongs));
	dec_out_free(&o);

	/* A 64-bit length, byte by byte and whole (not every split). */
	cframe(s, FIN | WS_OP_BINARY, b, 70000);
	evbuffer_add(want, b, 70000);
	run(evbuffer_pullup(s, -1), evbuffer_get_length(s), 0, 0, 70000, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	ck_assert(buf_eq(o.payload, want));
	dec_out_free(&o);
	run(evbuffer_pullup(s, -1), evbuffer_get_length(s), 1, 0, 70000, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	ck_assert(buf_eq(o.payload, want));
	ck_assert(buf_eq(o.reply, pongs));
	dec_out_free(&o);
	evbuffer_free(s);
	evbuffer_free(want);
	evbuffer_free(pongs);
	free(a);
	free(b);
}
END_TEST

/* Payload is passed on as it arrives, not when the frame is whole. */
START_TEST(test_streaming)
{
	struct evbuffer *s = evbuffer_new(), *in = evbuffer_new(),
	    *pl = evbuffer_new(), *rep = evbuffer_new();
	uint8_t *p = pattern(100000, 4);
	struct ws_decoder d;
	size_t hdr = 2 + 8 + 4, n;

	cframe(s, FIN | WS_OP_BINARY, p, 100000);
	ws_decoder_init(&d, 100000);
	/* The header alone, short of one byte, gives nothing and stays. */
	evbuffer_remove_buffer(s, in, hdr - 1);
	ck_assert_int_eq(ws_decode(&d, in, pl, rep), WS_DEC_OK);
	ck_assert_uint_eq(evbuffer_get_length(in), hdr - 1);
	ck_assert_uint_eq(evbuffer_get_length(pl), 0);
	/* Then payload a bit at a time. */
	for (n = 0; n < 100000; n += 777) {
		size_t k = 100000 - n < 777 ? 100000 - n : 777;

		evbuffer_remove_buffer(s, in, k + (n == 0 ? 1 : 0));
		ck_assert_int_eq(ws_decode(&d, in, pl, rep), WS_DEC_OK);
		ck_assert_uint_eq(evbuffer_get_length(in), 0);
		ck_assert_uint_eq(evbuffer_get_length(pl), n + k);
	}
	ck_assert(memcmp(evbuffer_pullup(pl, -1), p, 100000) == 0);
	ck_assert_uint_eq(evbuffer_get_length(rep), 0);
	evbuffer_free(s);
	evbuffer_free(in);
	evbuffer_free(pl);
	evbuffer_free(rep);
	free(p);
}
END_TEST

/* A control frame is acted on only once whole; it stays in `in`. */
START_TEST(test_control_waits)
{
	struct evbuffer *s = evbuffer_new(), *in = evbuffer_new(),
	    *pl = evbuffer_new(), *rep = evbuffer_new();
	uint8_t *p = pattern(WS_CONTROL_MAX, 5);
	struct ws_decoder d;
	size_t n, total;

	cframe(s, FIN | WS_OP_PING, p, WS_CONTROL_MAX);
	total = evbuffer_get_length(s);
	ws_decoder_init(&d, 10);
	for (n = 1; n < total; n++) {
		evbuffer_remove_buffer(s, in, 1);
		ck_assert_int_eq(ws_decode(&d, in, pl, rep), WS_DEC_OK);
		ck_assert_uint_eq(evbuffer_get_length(in), n);
		ck_assert_uint_eq(evbuffer_get_length(rep), 0);
	}
	evbuffer_remove_buffer(s, in, 1);
	ck_assert_int_eq(ws_decode(&d, in, pl, rep), WS_DEC_OK);
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	/* The pong has the ping's payload (over the data limit of 10). */
	ck_assert_uint_eq(evbuffer_get_length(rep), 2 + WS_CONTROL_MAX);
	ck_assert_mem_eq(evbuffer_pullup(rep, -1), "\x8a\x7d", 2);
	ck_assert(memcmp(evbuffer_pullup(rep, -1) + 2, p, WS_CONTROL_MAX) == 0);
	ck_assert_uint_eq(evbuffer_get_length(pl), 0);
	evbuffer_free(s);
	evbuffer_free(in);
	evbuffer_free(pl);
	evbuffer_free(rep);
	free(p);
}
END_TEST

/* One way to fail, after a good frame whose payload must come through. */
struct fail_case {
	const char *name;
	int code;
	const char *reason;
	void (*build)(struct evbuffer *);
};

static void
b_text(struct evbuffer *s)
{
	cstr(s, FIN | WS_OP_TEXT, "hi");
}

static void
b_text_in_message(struct evbuffer *s)
{
	cstr(s, WS_OP_BINARY, "a");
	cstr(s, FIN | WS_OP_TEXT, "hi");
}

static void
b_unmasked(struct evbuffer *s)
{
	cframe_ex(s, FIN | WS_OP_BINARY, "hi", 2, 0, 0, LEN_MIN);
}

static void
b_unmasked_ping(struct evbuffer *s)
{
	cframe_ex(s, FIN | WS_OP_PING, "hi", 2, 0, 0, LEN_MIN);
}

static void
b_rsv1(struct evbuffer *s)
{
	cstr(s, FIN | 0x40 | WS_OP_BINARY, "hi");
}

static void
b_rsv2(struct evbuffer *s)
{
	cstr(s, FIN | 0x20 | WS_OP_BINARY, "hi");
}

static void
b_rsv3(struct evbuffer *s)
{
	cstr(s, FIN | 0x10 | WS_OP_PING, "hi");
}

static void
b_op3(struct evbuffer *s)
{
	cstr(s, FIN | 0x3, "hi");
}

static void
b_op7(struct evbuffer *s)
{
	cstr(s, FIN | 0x7, "hi");
}

static void
b_opb(struct evbuffer *s)
{
	cstr(s, FIN | 0xb, "hi");
}

static void
b_opf(struct evbuffer *s)
{
	cstr(s, FIN | 0xf, "hi");
}

static void
b_cont_first(struct evbuffer *s)
{
	cstr(s, FIN | WS_OP_CONT, "hi");
}

static void
b_cont_after_fin(struct evbuffer *s)
{
	cstr(s, WS_OP_BINARY, "a");
	cstr(s, FIN | WS_OP_CONT, "b");
	cstr(s, WS_OP_CONT, "c");
}

static void
b_binary_in_message(struct evbuffer *s)
{
	cstr(s, WS_OP_BINARY, "a");
	cstr(s, FIN | WS_OP_PONG, "between");
	cstr(s, FIN | WS_OP_BINARY, "b");
}

static void
b_ping_no_fin(struct evbuffer *s)
{
	cstr(s, WS_OP_PING, "hi");
}

static void
b_close_no_fin(struct evbuffer *s)
{
	cframe(s, WS_OP_CLOSE, "\x03\xe8", 2);
}

static void
b_ping_126(struct evbuffer *s)
{
	uint8_t *p = pattern(126, 6);

	cframe(s, FIN | WS_OP_PING, p, 126);
	free(p);
}

static void
b_pong_long_form(struct evbuffer *s)
{
	/* Even a short payload in the 16-bit form is not a control frame. */
	cframe_ex(s, FIN | WS_OP_PONG, "hi", 2, 1, 1, LEN_16);
}

static void
b_len64_top_bit(struct evbuffer *s)
{
	cframe_len64(s, FIN | WS_OP_BINARY, 0x8000000000000000ULL);
}

static void
b_len64_huge(struct evbuffer *s)
{
	cframe_len64(s, FIN | WS_OP_BINARY, 0x7fffffffffffffffULL);
}

static void
b_too_big(struct evbuffer *s)
{
	uint8_t *p = pattern(1001, 7);

	cframe(s, FIN | WS_OP_BINARY, p, 1001);
	free(p);
}

static void
b_too_big_cont(struct evbuffer *s)
{
	uint8_t *p = pattern(1001, 7);

	cframe(s, WS_OP_BINARY, p, 1000);
	cframe(s, FIN | WS_OP_CONT, p, 1001);
	free(p);
}

static void
b_too_big_64(struct evbuffer *s)
{
	cframe_len64(s, FIN | WS_OP_BINARY, 1001);
}

/* A close frame with this body: a bad code or a reason not UTF-8 (after
 * code 1000, \x03\xe8). */
#define B_CLOSE(name, body) \
	static void \
	name(struct evbuffer *s) \
	{ \
		cframe(s, FIN | WS_OP_CLOSE, body, sizeof(body) - 1); \
	}
B_CLOSE(b_close_1_byte, "\x03")
B_CLOSE(b_close_999, "\x03\xe7")
B_CLOSE(b_close_1005, "\x03\xed")
B_CLOSE(b_close_1006, "\x03\xee")
B_CLOSE(b_close_1015, "\x03\xf7")
B_CLOSE(b_close_5000, "\x13\x88")
B_CLOSE(b_reason_cont, "\x03\xe8" "ok\x80")
B_CLOSE(b_reason_overlong, "\x03\xe8" "\xc0\xaf")
B_CLOSE(b_reason_overlong3, "\x03\xe8" "\xe0\x80\xaf")
B_CLOSE(b_reason_surrogate, "\x03\xe8" "\xed\xa0\x80")
B_CLOSE(b_reason_over_max, "\x03\xe8" "\xf4\x90\x80\x80")
B_CLOSE(b_reason_cut, "\x03\xe8" "bye \xe2\x9c")
B_CLOSE(b_reason_ff, "\x03\xe8" "\xff")

static const struct fail_case fails[] = {
	{ "text", 1003, "text frame (WebSocket close 1003)", b_text },
	{ "text in message", 1003, "text frame", b_text_in_message },
	{ "unmasked", 1002, "unmasked frame (WebSocket close 1002)",
	    b_unmasked },
	{ "unmasked ping", 1002, "unmasked frame", b_unmasked_ping },
	{ "rsv1", 1002, "reserved bits", b_rsv1 },
	{ "rsv2", 1002, "reserved bits", b_rsv2 },
	{ "rsv3", 1002, "reserved bits", b_rsv3 },
	{ "opcode 3", 1002, "unknown opcode", b_op3 },
	{ "opcode 7", 1002, "unknown opcode", b_op7 },
	{ "opcode b", 1002, "unknown opcode", b_opb },
	{ "opcode f", 1002, "unknown opcode", b_opf },
	{ "continuation first", 1002, "continuation", b_cont_first },
	{ "continuation after fin", 1002, "continuation", b_cont_after_fin },
	{ "binary in message", 1002, "inside a fragmented",
	    b_binary_in_message },
	{ "ping without fin", 1002, "fragmented control", b_ping_no_fin },
	{ "close without fin", 1002, "fragmented control", b_close_no_fin },
	{ "ping of 126", 1002, "over 125", b_ping_126 },
	{ "pong in 16-bit form", 1002, "over 125", b_pong_long_form },
	{ "64-bit top bit", 1002, "top bit", b_len64_top_bit },
	{ "64-bit huge", 1009, "WebSocket close 1009", b_len64_huge },
	{ "too big", 1009, "frame of 1001 bytes over 1000", b_too_big },
	{ "too big continuation", 1009, "1001", b_too_big_cont },
	{ "too big 64", 1009, "1001", b_too_big_64 },
	{ "close of 1 byte", 1002, "close frame", b_close_1_byte },
	{ "close 999", 1002, "code 999", b_close_999 },
	{ "close 1005", 1002, "code 1005", b_close_1005 },
	{ "close 1006", 1002, "code 1006", b_close_1006 },
	{ "close 1015", 1002, "code 1015", b_close_1015 },
	{ "close 5000", 1002, "code 5000", b_close_5000 },
	{ "reason: stray continuation byte", 1007, "not UTF-8 (WebSocket "
	    "close 1007)", b_reason_cont },
	{ "reason: overlong 2 bytes", 1007, "not UTF-8", b_reason_overlong },
	{ "reason: overlong 3 bytes", 1007, "not UTF-8", b_reason_overlong3 },
	{ "reason: surrogate", 1007, "not UTF-8", b_reason_surrogate },
	{ "reason: over U+10FFFF", 1007, "not UTF-8", b_reason_over_max },
	{ "reason: cut short", 1007, "not UTF-8", b_reason_cut },
	{ "reason: 0xff", 1007, "not UTF-8", b_reason_ff },
};

START_TEST(test_fail)
{
	const struct fail_case *c = &fails[_i];
	struct evbuffer *s = evbuffer_new(), *want_reply = evbuffer_new();
	struct dec_out o;
	size_t before, n;

	/* Before it: a message, and a ping to answer. */
	cstr(s, FIN | WS_OP_BINARY, "before");
	cstr(s, FIN | WS_OP_PING, "p");
	ws_add_frame(want_reply, WS_OP_PONG, "p", 1);
	ws_add_close(want_reply, c->code);
	before = evbuffer_get_length(s);
	c->build(s);
	/* After it: bytes that must not be touched. */
	cstr(s, FIN | WS_OP_BINARY, "after");
	n = evbuffer_get_length(s);
	run_all_ways(s, 1000, &o);
	ck_assert_msg(o.r == WS_DEC_FAILED, "%s: %d", c->name, o.r);
	ck_assert_int_eq(o.code, c->code);
	ck_assert_msg(strstr(o.reason, c->reason) != NULL, "%s: reason %s",
	    c->name, o.reason);
	ck_assert(buf_eq(o.reply, want_reply));
	/* What came before the bad frame went through, nothing after. */
	ck_assert_uint_ge(evbuffer_get_length(o.payload), 6);
	ck_assert_mem_eq(evbuffer_pullup(o.payload, -1), "before", 6);
	ck_assert_uint_le(evbuffer_get_length(o.payload), 6 + 1000);
	ck_assert_int_eq(evbuffer_search(o.payload, "after", 5, NULL).pos, -1);
	ck_assert_uint_gt(o.left, 0);
	ck_assert_uint_le(o.left, n - before);
	dec_out_free(&o);
	evbuffer_free(s);
	evbuffer_free(want_reply);
}
END_TEST

/* Errors seen from the first two bytes do not wait for the rest. */
START_TEST(test_fail_early)
{
	static const uint8_t hdrs[][2] = {
		{ 0x81, 0xfe }, { 0x82, 0x7f }, { 0xc2, 0x80 }, { 0x83, 0x80 },
		{ 0x00, 0x80 }, { 0x09, 0x80 }, { 0x89, 0xfe },
	};
	struct evbuffer *in = evbuffer_new(), *pl = evbuffer_new(),
	    *rep = evbuffer_new();
	struct ws_decoder d;
	size_t i;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		ws_decoder_init(&d, 1000);
		evbuffer_drain(in, evbuffer_get_length(in));
		evbuffer_drain(rep, evbuffer_get_length(rep));
		evbuffer_add(in, hdrs[i], 1);
		ck_assert_int_eq(ws_decode(&d, in, pl, rep), WS_DEC_OK);
		evbuffer_add(in, hdrs[i] + 1, 1);
		ck_assert_msg(ws_decode(&d, in, pl, rep) == WS_DEC_FAILED,
		    "header %zu", i);
		ck_assert_uint_eq(evbuffer_get_length(in), 2);
		ck_assert_uint_eq(evbuffer_get_length(rep), 4);
	}
	ck_assert_uint_eq(evbuffer_get_length(pl), 0);
	evbuffer_free(in);
	evbuffer_free(pl);
	evbuffer_free(rep);
}
END_TEST

/* The limit is on one frame: max itself passes, in any length form, and
 * a message may be longer. */
START_TEST(test_limit)
{
	struct evbuffer *s = evbuffer_new();
	uint8_t *p = pattern(1000, 8);
	struct dec_out o;

	cframe(s, WS_OP_BINARY, p, 1000);
	cframe_ex(s, WS_OP_CONT, p, 1000, 5, 1, LEN_64);
	cframe(s, FIN | WS_OP_CONT, p, 1000);
	run(evbuffer_pullup(s, -1), evbuffer_get_length(s), 1, 0, 1000, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	ck_assert_uint_eq(evbuffer_get_length(o.payload), 3000);
	dec_out_free(&o);
	evbuffer_drain(s, evbuffer_get_length(s));
	/* A limit of 0: empty frames only. */
	cframe(s, FIN | WS_OP_BINARY, NULL, 0);
	cstr(s, FIN | WS_OP_PING, "ok");
	run(evbuffer_pullup(s, -1), evbuffer_get_length(s), 0, 0, 0, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	assert_bytes(o.reply, "\x8a\x02ok", 4);
	dec_out_free(&o);
	cstr(s, FIN | WS_OP_BINARY, "x");
	run(evbuffer_pullup(s, -1), evbuffer_get_length(s), 0, 0, 0, &o);
	ck_assert_int_eq(o.r, WS_DEC_FAILED);
	ck_assert_int_eq(o.code, WS_CLOSE_TOO_BIG);
	dec_out_free(&o);
	evbuffer_free(s);
	free(p);
}
END_TEST

START_TEST(test_close)
{
	static const struct {
		const char *payload;
		size_t len;
		int answer;
		const char *reason;
	} cl[] = {
		{ "\x03\xe8" "bye", 5, 1000,
		    "closed by the peer (WebSocket close 1000)" },
		/* "été ✓ 😀" and U+10FFFF: reasons in UTF-8 */
		{ "\x03\xe8" "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80"
		    "\xf4\x8f\xbf\xbf", 20, 1000, "(WebSocket close 1000)" },
		{ "\x03\xe9", 2, 1001,
		    "closed by the peer (WebSocket close 1001)" },
		{ "\x0b\xb8", 2, 3000, "(WebSocket close 3000)" },
		{ "\x13\x87", 2, 4999, "(WebSocket close 4999)" },
		{ "\x03\xf6", 2, 1014, "(WebSocket close 1014)" },
		{ "", 0, 1000, "closed by the peer (WebSocket close without "
		    "a code)" },
	};
	struct evbuffer *s = evbuffer_new();
	struct dec_out o;
	size_t i, n;

	for (i = 0; i < sizeof(cl) / sizeof(cl[0]); i++) {
		evbuffer_drain(s, evbuffer_get_length(s));
		cstr(s, FIN | WS_OP_BINARY, "data");
		cframe(s, FIN | WS_OP_CLOSE, cl[i].payload, cl[i].len);
		n = evbuffer_get_length(s);
		cstr(s, FIN | WS_OP_BINARY, "after");
		run_all_ways(s, 100, &o);
		ck_assert_int_eq(o.r, WS_DEC_CLOSED);
		assert_bytes(o.payload, "data", 4);
		assert_close(o.reply, cl[i].answer);
		ck_assert_msg(strstr(o.reason, cl[i].reason) != NULL,
		    "close %zu: %s", i, o.reason);
		ck_assert_int_eq(o.code, cl[i].len ? cl[i].answer : 0);
		ck_assert_uint_eq(o.left, evbuffer_get_length(s) - n);
		dec_out_free(&o);
	}
	evbuffer_free(s);
}
END_TEST

/* Many frames of random shapes in one buffer, split everywhere. */
START_TEST(test_merged_random)
{
	struct evbuffer *s = evbuffer_new(), *want = evbuffer_new();
	uint8_t *p = pattern(400, 9);
	uint32_t r = 99;
	struct dec_out o;
	int i, open = 0;
	size_t len;

	for (i = 0; i < 60; i++) {
		r = r * 1103515245u + 12345u;
		len = (r >> 8) % 400;
		switch ((r >> 20) % 4) {
		case 0:
			cframe(s, (open ? WS_OP_CONT : WS_OP_BINARY), p, len);
			open = 1;
			evbuffer_add(want, p, len);
			break;
		case 1:
			cframe(s, FIN | (open ? WS_OP_CONT : WS_OP_BINARY), p,
			    len);
			open = 0;
			evbuffer_add(want, p, len);
			break;
		case 2:
			cframe(s, FIN | WS_OP_PONG, p, len % 126);
			break;
		default:
			if (open)
				cframe(s, FIN | WS_OP_PING, p, len % 126);
			else
				cframe_ex(s, FIN | WS_OP_BINARY, p, 0, r, 1,
				    LEN_64);
			break;
		}
	}
	run_all_ways(s, 400, &o);
	ck_assert_int_eq(o.r, WS_DEC_OK);
	ck_assert(buf_eq(o.payload, want));
	dec_out_free(&o);
	evbuffer_free(s);
	evbuffer_free(want);
	free(p);
}
END_TEST

/* --- the filter ---------------------------------------------------------- */

/* The server side of a connection, as peer.c would hold it. */
struct srv {
	struct bufferevent *f;
	struct evbuffer *got;   /* payload read from the filter */
	short events;
	const char *reason;
	size_t got_at_event;    /* payload read when the event came */
	int reads;
};

static void
srv_readcb(struct bufferevent *bev, void *arg)
{
	struct srv *s = arg;

	s->reads++;
	evbuffer_add_buffer(s->got, bufferevent_get_input(bev));
}

static void
srv_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct srv *s = arg;

	s->events = what;
	s->reason = ws_reason(bev);
	s->got_at_event = evbuffer_get_length(s->got);
}

/* A client's view of what the server sent: the binary payloads, and the
 * other frames in order (opcode byte, length, payload). */
struct cli {
	struct evbuffer *data;
	struct evbuffer *ctl;
	int frames;
	size_t max_frame;
};

static void
cli_init(struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->data = evbuffer_new();
	c->ctl = evbuffer_new();
}

static void
cli_free(struct cli *c)
{
	evbuffer_free(c->data);
	evbuffer_free(c->ctl);
}

/* Take the whole server frames at the front of in; each must be FIN,
 * unmasked, without RSV bits. */
static void
cli_parse(struct cli *c, struct evbuffer *in)
{
	uint8_t h[10];
	size_t have, hl;
	uint64_t len;
	int i;

	for (;;) {
		have = evbuffer_get_length(in);
		if (have < 2)
			return;
		evbuffer_copyout(in, h, have < 10 ? have : 10);
		ck_assert_msg((h[0] & 0xf0) == 0x80, "first byte %02x", h[0]);
		ck_assert_msg((h[1] & 0x80) == 0, "masked server frame");
		len = h[1] & 0x7f;
		hl = 2;
		if (len == 126) {
			if (have < 4)
				return;
			len = ((uint64_t)h[2] << 8) | h[3];
			ck_assert_uint_ge(len, 126);
			hl = 4;
		} else if (len == 127) {
			if (have < 10)
				return;
			for (len = 0, i = 0; i < 8; i++)
				len = (len << 8) | h[2 + i];
			ck_assert_uint_gt(len, 0xffff);
			hl = 10;
		}
		if (have < hl + len)
			return;
		evbuffer_drain(in, hl);
		c->frames++;
		if (len > c->max_frame)
			c->max_frame = (size_t)len;
		if ((h[0] & 0x0f) == WS_OP_BINARY) {
			evbuffer_remove_buffer(in, c->data, (size_t)len);
			continue;
		}
		ck_assert_uint_le(len, WS_CONTROL_MAX);
		evbuffer_add(c->ctl, h, 1);
		evbuffer_add(c->ctl, (uint8_t[]){ (uint8_t)len }, 1);
		evbuffer_remove_buffer(in, c->ctl, (size_t)len);
	}
}

struct pair {
	struct event_base *base;
	struct bufferevent *cl;         /* the client's end, raw */
	struct bufferevent *under;      /* the server's, under the filter */
	struct srv s;
	struct cli c;
};

static void
pump(struct pair *p)
{
	int i;

	for (i = 0; i < 8; i++)
		event_base_loop(p->base, EVLOOP_NONBLOCK);
	cli_parse(&p->c, bufferevent_get_input(p->cl));
}

/* pre: client bytes that reach the server before it wraps. */
static void
pair_open(struct pair *p, size_t max_payload, struct evbuffer *pre)
{
	struct bufferevent *bp[2];

	memset(p, 0, sizeof(*p));
	ck_assert_ptr_nonnull(p->base = event_base_new());
	ck_assert_int_eq(bufferevent_pair_new(p->base, 0, bp), 0);
	p->cl = bp[0];
	p->under = bp[1];
	bufferevent_enable(p->cl, EV_READ | EV_WRITE);
	bufferevent_enable(p->under, EV_READ | EV_WRITE);
	if (pre != NULL) {
		bufferevent_write_buffer(p->cl, pre);
		event_base_loop(p->base, EVLOOP_NONBLOCK);
		ck_assert_uint_gt(evbuffer_get_length(
		    bufferevent_get_input(p->under)), 0);
	}
	ck_assert_ptr_nonnull(p->s.f = ws_wrap(p->under, max_payload));
	p->s.got = evbuffer_new();
	bufferevent_setcb(p->s.f, srv_readcb, NULL, srv_eventcb, &p->s);
	bufferevent_enable(p->s.f, EV_READ | EV_WRITE);
	cli_init(&p->c);
}

static void
pair_close(struct pair *p)
{
	if (p->s.f != NULL)
		bufferevent_free(p->s.f);       /* and p->under */
	bufferevent_free(p->cl);
	evbuffer_free(p->s.got);
	cli_free(&p->c);
	event_base_free(p->base);
}

START_TEST(test_filter_identity)
{
	struct pair p;

	pair_open(&p, 1000, NULL);
	ck_assert_ptr_eq(ws_underlying(p.s.f), p.under);
	ck_assert_ptr_null(ws_underlying(p.cl));
	ck_assert_ptr_null(ws_underlying(p.under));
	ck_assert_ptr_null(ws_underlying(NULL));
	ck_assert_ptr_null(ws_reason(p.s.f));
	ck_assert_ptr_null(ws_reason(p.cl));
	ws_flush(p.cl);                 /* not a filter: nothing */
	ws_flush(p.s.f);                /* a pair: no fd, nothing */
	pair_close(&p);
}
END_TEST

/* Client to server: frames written whole, merged, and a byte at a time;
 * the server reads the payload stream, and gets the pong. */
START_TEST(test_filter_in)
{
	struct evbuffer *s = evbuffer_new(), *want = evbuffer_new();
	uint8_t *a = pattern(5000, 10);
	struct pair p;
	size_t i, n, base;
	const uint8_t *b;

	pair_open(&p, 4096, NULL);
	cstr(s, FIN | WS_OP_BINARY, "hello ");
	cframe(s, WS_OP_BINARY, a, 4000);
	cstr(s, FIN | WS_OP_PING, "are you there");
	cframe(s, FIN | WS_OP_CONT, a + 4000, 1000);
	evbuffer_add(want, "hello ", 6);
	evbuffer_add(want, a, 5000);
	bufferevent_write_buffer(p.cl, s);          /* all merged */
	pump(&p);
	ck_assert(buf_eq(p.s.got, want));
	assert_bytes(p.c.ctl, "\x8a\x0d" "are you there", 15);
	evbuffer_drain(p.c.ctl, 15);

	/* The same a byte per loop turn: payload comes as it arrives. */
	cstr(s, FIN | WS_OP_BINARY, "hello ");
	cframe(s, WS_OP_BINARY, a, 4000);
	cstr(s, FIN | WS_OP_PING, "are you there");
	cframe(s, FIN | WS_OP_CONT, a + 4000, 1000);
	evbuffer_add(want, "hello ", 6);
	evbuffer_add(want, a, 5000);
	n = evbuffer_get_length(s);
	b = evbuffer_pullup(s, -1);
	base = evbuffer_get_length(p.s.got);
	for (i = 0; i < n; i++) {
		size_t had = evbuffer_get_length(p.s.got);

		bufferevent_write(p.cl, b + i, 1);
		pump(&p);
		/* At most the one byte, never held back once in a payload. */
		ck_assert_uint_le(evbuffer_get_length(p.s.got), had + 1);
		/* 100 bytes into the second frame's payload (after 12
		 * bytes of frame and its 8 bytes of header). */
		if (i == 12 + 8 + 99)
			ck_assert_uint_eq(evbuffer_get_length(p.s.got),
			    base + 6 + 100);
	}
	evbuffer_drain(s, n);
	ck_assert(buf_eq(p.s.got, want));
	assert_bytes(p.c.ctl, "\x8a\x0d" "are you there", 15);
	ck_assert_int_eq(p.s.events, 0);
	pair_close(&p);
	evbuffer_free(s);
	evbuffer_free(want);
	free(a);
}
END_TEST

/* Server to client: small writes, a write over WS_OUT_FRAME_MAX. */
START_TEST(test_filter_out)
{
	size_t big = 3 * WS_OUT_FRAME_MAX + 12345;
	uint8_t *a = pattern(big, 11);
	struct evbuffer *want = evbuffer_new();
	struct pair p;

	pair_open(&p, 1000, NULL);
	bufferevent_write(p.s.f, "abc", 3);
	pump(&p);
	assert_bytes(p.c.data, "abc", 3);
	ck_assert_int_eq(p.c.frames, 1);
	evbuffer_drain(p.c.data, 3);
	/* Exact bytes of a small frame. */
	bufferevent_write(p.s.f, "xy", 2);
	event_base_loop(p.base, EVLOOP_NONBLOCK);
	assert_bytes(bufferevent_get_input(p.cl), "\x82\x02xy", 4);
	evbuffer_drain(bufferevent_get_input(p.cl), 4);

	bufferevent_write(p.s.f, a, big);
	evbuffer_add(want, a, big);
	pump(&p);
	ck_assert(buf_eq(p.c.data, want));
	ck_assert_uint_eq(p.c.max_frame, WS_OUT_FRAME_MAX);
	ck_assert_int_ge(p.c.frames, 1 + 4);
	ck_assert_uint_eq(evbuffer_get_length(p.c.ctl), 0);
	pair_close(&p);
	evbuffer_free(want);
	free(a);
}
END_TEST

/* Back-pressure: while the client does not read, what the server wrote
 * waits in the filter's output, not in the underlying one. */
START_TEST(test_filter_backpressure)
{
	size_t big = 4 << 20;
	uint8_t *a = pattern(big, 15);
	struct evbuffer *want = evbuffer_new();
	struct pair p;

	pair_open(&p, 1000, NULL);
	bufferevent_disable(p.cl, EV_READ);
	bufferevent_write(p.s.f, a, big);
	evbuffer_add(want, a, big);
	pump(&p);
	ck_assert_uint_le(evbuffer_get_length(bufferevent_get_output(p.under)),
	    WS_OUT_FRAME_MAX + WS_MAX_HDR);
	ck_assert_uint_ge(evbuffer_get_length(bufferevent_get_output(p.s.f)),
	    big - WS_OUT_FRAME_MAX);
	bufferevent_enable(p.cl, EV_READ);
	pump(&p);
	ck_assert(buf_eq(p.c.data, want));
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(p.s.f)),
	    0);
	pair_close(&p);
	evbuffer_free(want);
	free(a);
}
END_TEST

/* Pings answered while the server streams: a pong never lands inside a
 * data frame (cli_parse would choke on it). */
START_TEST(test_filter_interleave)
{
	uint8_t *a = pattern(WS_OUT_FRAME_MAX + 1000, 12);
	struct evbuffer *s = evbuffer_new(), *want = evbuffer_new();
	struct pair p;
	int i;

	pair_open(&p, 1000, NULL);
	for (i = 0; i < 20; i++) {
		bufferevent_write(p.s.f, a, 100 + (size_t)i * 5000);
		evbuffer_add(want, a, 100 + (size_t)i * 5000);
		cstr(s, FIN | WS_OP_PING, "ping");
		bufferevent_write_buffer(p.cl, s);
		bufferevent_write(p.s.f, a, 7);
		evbuffer_add(want, a, 7);
		event_base_loop(p.base, EVLOOP_NONBLOCK);
	}
	pump(&p);
	ck_assert(buf_eq(p.c.data, want));
	ck_assert_uint_eq(evbuffer_get_length(p.c.ctl), 20 * 6);
	for (i = 0; i < 20; i++)
		ck_assert_mem_eq(evbuffer_pullup(p.c.ctl, -1) + 6 * i,
		    "\x8a\x04ping", 6);
	pair_close(&p);
	evbuffer_free(s);
	evbuffer_free(want);
	free(a);
}
END_TEST

/* Frames the client sent right after the handshake, read by the server
 * with the HTTP request, are decoded once the loop runs. */
START_TEST(test_filter_pipelined)
{
	struct evbuffer *pre = evbuffer_new();
	struct pair p;

	cstr(pre, FIN | WS_OP_BINARY, "early");
	cstr(pre, FIN | WS_OP_PING, "!");
	pair_open(&p, 1000, pre);
	ck_assert_uint_eq(evbuffer_get_length(p.s.got), 0);
	pump(&p);
	assert_bytes(p.s.got, "early", 5);
	assert_bytes(p.c.ctl, "\x8a\x01!", 3);
	pair_close(&p);
	evbuffer_free(pre);
}
END_TEST

/* A protocol error: the payload before it, then the close frame out, an
 * error event from the loop with the reason, and nothing sent after. */
START_TEST(test_filter_error)
{
	struct evbuffer *s = evbuffer_new();
	struct pair p;

	pair_open(&p, 1000, NULL);
	cstr(s, FIN | WS_OP_BINARY, "kept");
	cstr(s, FIN | WS_OP_TEXT, "text");
	cstr(s, FIN | WS_OP_BINARY, "dropped");
	bufferevent_write_buffer(p.cl, s);
	/* The event is deferred: not yet within the read. */
	ck_assert_int_eq(p.s.events, 0);
	pump(&p);
	ck_assert_int_eq(p.s.events, BEV_EVENT_ERROR | BEV_EVENT_READING);
	ck_assert_str_eq(p.s.reason, "text frame (WebSocket close 1003)");
	ck_assert_str_eq(ws_reason(p.s.f), "text frame (WebSocket close 1003)");
	ck_assert_uint_eq(p.s.got_at_event, 4);
	assert_bytes(p.s.got, "kept", 4);
	assert_bytes(p.c.ctl, "\x88\x02\x03\xeb", 4);
	/* Writes after the end go nowhere. */
	bufferevent_write(p.s.f, "late", 4);
	cstr(s, FIN | WS_OP_PING, "x");
	bufferevent_write_buffer(p.cl, s);
	pump(&p);
	ck_assert_uint_eq(evbuffer_get_length(p.c.data), 0);
	ck_assert_uint_eq(evbuffer_get_length(p.c.ctl), 4);
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_input(p.cl)), 0);
	pair_close(&p);
	evbuffer_free(s);
}
END_TEST

START_TEST(test_filter_too_big)
{
	struct evbuffer *s = evbuffer_new();
	uint8_t *a = pattern(1001, 13);
	struct pair p;

	pair_open(&p, 1000, NULL);
	cframe(s, FIN | WS_OP_BINARY, a, 1000);
	cframe(s, FIN | WS_OP_BINARY, a, 1001);
	bufferevent_write_buffer(p.cl, s);
	pump(&p);
	ck_assert_int_eq(p.s.events, BEV_EVENT_ERROR | BEV_EVENT_READING);
	ck_assert_ptr_nonnull(strstr(p.s.reason, "(WebSocket close 1009)"));
	ck_assert_uint_eq(evbuffer_get_length(p.s.got), 1000);
	assert_bytes(p.c.ctl, "\x88\x02\x03\xf1", 4);
	pair_close(&p);
	evbuffer_free(s);
	free(a);
}
END_TEST

START_TEST(test_filter_client_close)
{
	struct evbuffer *s = evbuffer_new();
	struct pair p;

	pair_open(&p, 1000, NULL);
	bufferevent_write(p.s.f, "to client", 9);
	cstr(s, FIN | WS_OP_BINARY, "last words");
	cframe(s, FIN | WS_OP_CLOSE, "\x03\xe9going", 7);
	bufferevent_write_buffer(p.cl, s);
	pump(&p);
	ck_assert_int_eq(p.s.events, BEV_EVENT_EOF | BEV_EVENT_READING);
	ck_assert_str_eq(p.s.reason,
	    "closed by the peer (WebSocket close 1001)");
	assert_bytes(p.s.got, "last words", 10);
	assert_bytes(p.c.data, "to client", 9);
	assert_bytes(p.c.ctl, "\x88\x02\x03\xe9", 4);
	pair_close(&p);
	evbuffer_free(s);
}
END_TEST

/* Events of the underlying bufferevent pass through, without a reason. */
START_TEST(test_filter_underlying_eof)
{
	struct pair p;

	pair_open(&p, 1000, NULL);
	bufferevent_trigger_event(p.under, BEV_EVENT_EOF | BEV_EVENT_READING,
	    0);
	pump(&p);
	ck_assert_int_eq(p.s.events, BEV_EVENT_EOF | BEV_EVENT_READING);
	ck_assert_ptr_null(p.s.reason);
	pair_close(&p);
}
END_TEST

/* Freeing the filter from its own event callback, as peer.c does. */
static void
free_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct srv *s = arg;

	s->events = what;
	bufferevent_free(bev);
	s->f = NULL;
}

START_TEST(test_filter_free_in_callback)
{
	struct evbuffer *s = evbuffer_new();
	struct pair p;

	pair_open(&p, 1000, NULL);
	bufferevent_setcb(p.s.f, srv_readcb, NULL, free_eventcb, &p.s);
	cstr(s, FIN | WS_OP_BINARY, "x");
	cframe_ex(s, FIN | WS_OP_BINARY, "hi", 2, 0, 0, LEN_MIN);
	cstr(s, FIN | WS_OP_BINARY, "y");
	bufferevent_write_buffer(p.cl, s);
	pump(&p);
	ck_assert_int_eq(p.s.events, BEV_EVENT_ERROR | BEV_EVENT_READING);
	ck_assert_ptr_null(p.s.f);
	assert_bytes(p.s.got, "x", 1);
	pair_close(&p);
	/* Freed before the deferred event ran: nothing runs after. */
	pair_open(&p, 1000, NULL);
	bufferevent_write(p.cl, "\x81\x80\0\0\0\0", 6);
	bufferevent_free(p.s.f);
	p.s.f = NULL;
	pump(&p);
	ck_assert_int_eq(p.s.events, 0);
	pair_close(&p);
	evbuffer_free(s);
}
END_TEST

/* Over a real socket, with ws_flush() sending the close frame before the
 * filter is freed. */
START_TEST(test_filter_socket)
{
	struct event_base *base = event_base_new();
	struct bufferevent *bev;
	struct evbuffer *s = evbuffer_new();
	struct srv sv;
	uint8_t *a = pattern(200000, 14), buf[64];
	int fd[2], i;
	ssize_t r;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
	ck_assert_int_eq(evutil_make_socket_nonblocking(fd[1]), 0);
	ck_assert_ptr_nonnull(bev = bufferevent_socket_new(base, fd[1],
	    BEV_OPT_CLOSE_ON_FREE));
	memset(&sv, 0, sizeof(sv));
	sv.got = evbuffer_new();
	ck_assert_ptr_nonnull(sv.f = ws_wrap(bev, 1 << 20));
	ck_assert_ptr_eq(ws_underlying(sv.f), bev);
	bufferevent_setcb(sv.f, srv_readcb, NULL, srv_eventcb, &sv);
	bufferevent_enable(sv.f, EV_READ | EV_WRITE);
	cframe(s, FIN | WS_OP_BINARY, a, 200000);
	/* The client writes it in pieces; the server takes them in. */
	while (evbuffer_get_length(s) > 0) {
		ck_assert_int_gt(evbuffer_write_atmost(s, fd[0], 30000), 0);
		for (i = 0; i < 4; i++)
			event_base_loop(base, EVLOOP_NONBLOCK);
	}
	for (i = 0; i < 50 && evbuffer_get_length(sv.got) < 200000; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(evbuffer_get_length(sv.got), 200000);
	ck_assert(memcmp(evbuffer_pullup(sv.got, -1), a, 200000) == 0);
	/* A text frame: the close frame is queued, flushed, then freed.
	 * The socket is kept from writing it itself: ws_flush() must. */
	bufferevent_disable(bev, EV_WRITE);
	cstr(s, FIN | WS_OP_TEXT, "nope");
	ck_assert_int_gt(evbuffer_write(s, fd[0]), 0);
	for (i = 0; i < 50 && sv.events == 0; i++)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(sv.events, BEV_EVENT_ERROR | BEV_EVENT_READING);
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 4);
	ws_flush(sv.f);
	ck_assert_uint_eq(evbuffer_get_length(bufferevent_get_output(bev)), 0);
	bufferevent_free(sv.f);
	r = read(fd[0], buf, sizeof(buf));
	ck_assert_int_eq(r, 4);
	ck_assert_mem_eq(buf, "\x88\x02\x03\xeb", 4);
	/* libevent finalizes (closes the fd) from the loop. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	r = read(fd[0], buf, sizeof(buf));
	ck_assert_int_eq(r, 0);                 /* closed with the filter */
	close(fd[0]);
	evbuffer_free(sv.got);
	evbuffer_free(s);
	event_base_free(base);
	free(a);
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("codec");
	TCase *tf = tcase_create("filter");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_frame_header);
	tcase_add_test(tc, test_add_frames);
	tcase_add_test(tc, test_rfc_sample);
	tcase_add_test(tc, test_stream);
	tcase_add_test(tc, test_streaming);
	tcase_add_test(tc, test_control_waits);
	tcase_add_loop_test(tc, test_fail, 0,
	    (int)(sizeof(fails) / sizeof(fails[0])));
	tcase_add_test(tc, test_fail_early);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_close);
	tcase_add_test(tc, test_merged_random);
	suite_add_tcase(s, tc);

	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_filter_identity);
	tcase_add_test(tf, test_filter_in);
	tcase_add_test(tf, test_filter_out);
	tcase_add_test(tf, test_filter_backpressure);
	tcase_add_test(tf, test_filter_interleave);
	tcase_add_test(tf, test_filter_pipelined);
	tcase_add_test(tf, test_filter_error);
	tcase_add_test(tf, test_filter_too_big);
	tcase_add_test(tf, test_filter_client_close);
	tcase_add_test(tf, test_filter_underlying_eof);
	tcase_add_test(tf, test_filter_free_in_callback);
	tcase_add_test(tf, test_filter_socket);
	suite_add_tcase(s, tf);
	return s;
}

CHECK_MAIN(ws_suite)
