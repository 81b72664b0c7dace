/*
 * check_wire: the aiomsg v1 frame codec against bytes recorded between two
 * aiomsg Python peers (../shared/vectors/aiomsg-python-transcripts.txt),
 * fed in the recorded chunks, byte by byte, and all at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "check_main.h"
#include "wire.h"

#define MAX_ENV (16u << 20)

/* Session A, connect -> bind, one string per recorded chunk. */
static const char *session_a_c2b[] = {
	"000000120101ffeeddccbbaa99887766554433221100",
	"00000018",
	"044de03bddb72944eab3ae80f20bbf903468656c6c6f2d30",
	"00000018",
	"04ae677e1f989947fc95a9aea269dc67f468656c6c6f2d31",
	"00000018",
	"04985b9e61e5464163ae5d80187302f26368656c6c6f2d32",
	"0000000102",
	"0000000102",
};
/* Session A, bind -> connect. */
static const char *session_a_b2c[] = {
	"00000012010100112233445566778899aabbccddeeff",
	("00000011054de03bddb72944eab3ae80f20bbf90340000001105ae677e1f98"
	    "9947fc95a9aea269dc67f4"),
	"0000001105985b9e61e5464163ae5d80187302f263",
	"00000001",
	"02",
	"0000000102",
};
/* Session B: three DATA_REQs in one chunk; a HELLO split in two. */
static const char *session_b_c2b[] = {
	"000000120101ffeeddccbbaa99887766554433221100",
	"000000180464fb40ffc5f4498d9d3d35dad04b854a68656c6c6f2d3000000018"
	    "04a4a2a4aab6fa480eb934c9e5fbcb817f68656c6c6f2d310000001804b2c4"
	    "83aaf4a54e3b97bc54d2a2705d5868656c6c6f2d32",
};
static const char *session_b_b2c[] = {
	"00000012",
	"010100112233445566778899aabbccddeeff",
};

static size_t
unhex(const char *hex, uint8_t *out)
{
	size_t n = strlen(hex) / 2, i;
	unsigned v;

	for (i = 0; i < n; i++) {
		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
	return n;
}

static void
add_hex(struct evbuffer *b, const char *hex)
{
	uint8_t buf[512];

	evbuffer_add(b, buf, unhex(hex, buf));
}

/* A decoded frame, taken off the buffer. */
struct took {
	int type;
	uint8_t env[256];
	size_t env_len;
};

/* Take every whole frame at the front, as peer.c does after each read. */
static size_t
take_all(struct evbuffer *in, struct took *out, size_t max)
{
	struct wire_frame f;
	size_t n = 0;

	while (n < max && wire_peek(in, MAX_ENV, &f) == WIRE_FRAME) {
		out[n].type = f.type;
		out[n].env_len = f.env_len;
		evbuffer_drain(in, WIRE_LEN_PREFIX);
		evbuffer_remove(in, out[n].env, f.env_len);
		n++;
	}
	return n;
}

static size_t
decode_chunks(const char **chunks, size_t nchunks, struct took *out,
    size_t max)
{
	struct evbuffer *in = evbuffer_new();
	size_t i, n = 0;

	for (i = 0; i < nchunks; i++) {
		add_hex(in, chunks[i]);
		n += take_all(in, out + n, max - n);
	}
	ck_assert_uint_eq(evbuffer_get_length(in), 0);
	evbuffer_free(in);
	return n;
}

static size_t
decode_bytewise(const char **chunks, size_t nchunks, struct took *out,
    size_t max)
{
	struct evbuffer *in = evbuffer_new();
	uint8_t buf[512];
	size_t i, j, len, n = 0;

	for (i = 0; i < nchunks; i++) {
		len = unhex(chunks[i], buf);
		for (j = 0; j < len; j++) {
			evbuffer_add(in, buf + j, 1);
			n += take_all(in, out + n, max - n);
		}
	}
	evbuffer_free(in);
	return n;
}

static void
check_session_a_c2b(const struct took *t, size_t n)
{
	static const char *ids[] = {
		"4de03bddb72944eab3ae80f20bbf9034",
		"ae677e1f989947fc95a9aea269dc67f4",
		"985b9e61e5464163ae5d80187302f263",
	};
	uint8_t id[16];
	char payload[16];
	int i;

	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(t[0].type, WIRE_HELLO);
	ck_assert_uint_eq(t[0].env_len, WIRE_HELLO_ENV);
	ck_assert_int_eq(t[0].env[1], WIRE_VERSION);
	unhex("ffeeddccbbaa99887766554433221100", id);
	ck_assert_mem_eq(t[0].env + 2, id, 16);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(t[1 + i].type, WIRE_DATA_REQ);
		ck_assert_uint_eq(t[1 + i].env_len, 1 + 16 + 7);
		unhex(ids[i], id);
		ck_assert_mem_eq(t[1 + i].env + 1, id, 16);
		snprintf(payload, sizeof(payload), "hello-%u", (unsigned)i % 10);
		ck_assert_mem_eq(t[1 + i].env + 17, payload, 7);
	}
	ck_assert_int_eq(t[4].type, WIRE_HEARTBEAT);
	ck_assert_int_eq(t[5].type, WIRE_HEARTBEAT);
}

START_TEST(test_session_a_chunks)
{
	struct took t[16];

	check_session_a_c2b(t, decode_chunks(session_a_c2b, 9, t, 16));
}
END_TEST

START_TEST(test_session_a_bytewise)
{
	struct took t[16];

	check_session_a_c2b(t, decode_bytewise(session_a_c2b, 9, t, 16));
}
END_TEST

START_TEST(test_session_a_merged)
{
	struct evbuffer *in = evbuffer_new();
	struct took t[16];
	size_t i;

	/* The whole stream in one read: a pipelined HELLO + DATA_REQs. */
	for (i = 0; i < 9; i++)
		add_hex(in, session_a_c2b[i]);
	check_session_a_c2b(t, take_all(in, t, 16));
	evbuffer_free(in);
}
END_TEST

START_TEST(test_session_a_acks)
{
	struct took t[16];
	uint8_t id[16];
	size_t n = decode_chunks(session_a_b2c, 6, t, 16);

	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(t[0].type, WIRE_HELLO);
	ck_assert_int_eq(t[1].type, WIRE_ACK);
	ck_assert_uint_eq(t[1].env_len, WIRE_ACK_ENV);
	unhex("4de03bddb72944eab3ae80f20bbf9034", id);
	ck_assert_mem_eq(t[1].env + 1, id, 16);
	ck_assert_int_eq(t[2].type, WIRE_ACK);
	ck_assert_int_eq(t[3].type, WIRE_ACK);
	unhex("985b9e61e5464163ae5d80187302f263", id);
	ck_assert_mem_eq(t[3].env + 1, id, 16);
	/* The heartbeat split as length, then type. */
	ck_assert_int_eq(t[4].type, WIRE_HEARTBEAT);
	ck_assert_uint_eq(t[4].env_len, 1);
	ck_assert_int_eq(t[5].type, WIRE_HEARTBEAT);
}
END_TEST

START_TEST(test_session_b)
{
	struct took t[16];
	size_t n;

	n = decode_chunks(session_b_c2b, 2, t, 16);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(t[0].type, WIRE_HELLO);
	ck_assert_int_eq(t[3].type, WIRE_DATA_REQ);
	ck_assert_mem_eq(t[3].env + 17, "hello-2", 7);
	n = decode_chunks(session_b_b2c, 2, t, 16);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(t[0].type, WIRE_HELLO);
}
END_TEST

START_TEST(test_encode_hello_ack_heartbeat)
{
	struct evbuffer *out = evbuffer_new();
	uint8_t want[64], got[64], id[16];
	size_t n;

	unhex("ffeeddccbbaa99887766554433221100", id);
	ck_assert_int_eq(wire_add_hello(out, id), 0);
	n = unhex(session_a_c2b[0], want);
	ck_assert_uint_eq(evbuffer_get_length(out), n);
	evbuffer_remove(out, got, n);
	ck_assert_mem_eq(got, want, n);

	unhex("985b9e61e5464163ae5d80187302f263", id);
	ck_assert_int_eq(wire_add_ack(out, id), 0);
	n = unhex(session_a_b2c[2], want);
	ck_assert_uint_eq(evbuffer_get_length(out), n);
	evbuffer_remove(out, got, n);
	ck_assert_mem_eq(got, want, n);

	ck_assert_int_eq(wire_add_heartbeat(out), 0);
	n = unhex("0000000102", want);
	evbuffer_remove(out, got, n);
	ck_assert_mem_eq(got, want, n);
	ck_assert_uint_eq(evbuffer_get_length(out), 0);
	evbuffer_free(out);
}
END_TEST

START_TEST(test_encode_data)
{
	uint8_t hdr[WIRE_MAX_HDR], want[64], id[16];
	size_t n;

	/* The spec's example: DATA "hi" is 00 00 00 03 03 68 69. */
	n = wire_data_header(hdr, WIRE_DATA, NULL, 2);
	ck_assert_uint_eq(n, 5);
	unhex("0000000303", want);
	ck_assert_mem_eq(hdr, want, 5);

	unhex("4de03bddb72944eab3ae80f20bbf9034", id);
	n = wire_data_header(hdr, WIRE_DATA_REQ, id, 7);
	ck_assert_uint_eq(n, 21);
	unhex("00000018044de03bddb72944eab3ae80f20bbf9034", want);
	ck_assert_mem_eq(hdr, want, 21);
}
END_TEST

START_TEST(test_too_big_and_edges)
{
	struct evbuffer *in = evbuffer_new();
	struct wire_frame f;
	struct took t[4];

	/* Only the length is known: already too big for a limit of 100. */
	add_hex(in, "00000065");
	ck_assert_int_eq(wire_peek(in, 100, &f), WIRE_TOO_BIG);
	evbuffer_drain(in, 4);
	add_hex(in, "00000064");
	ck_assert_int_eq(wire_peek(in, 100, &f), WIRE_NEED_MORE);
	evbuffer_drain(in, 4);
	add_hex(in, "ffffffff");
	ck_assert_int_eq(wire_peek(in, MAX_ENV, &f), WIRE_TOO_BIG);
	evbuffer_drain(in, 4);

	/* Fewer than four bytes: wait. */
	add_hex(in, "000000");
	ck_assert_int_eq(wire_peek(in, MAX_ENV, &f), WIRE_NEED_MORE);
	evbuffer_drain(in, 3);

	/* An empty envelope, an unknown type, then DATA "hi". */
	add_hex(in, "00000000" "0000000309aabb" "00000003036869");
	ck_assert_uint_eq(take_all(in, t, 4), 3);
	ck_assert_int_eq(t[0].type, -1);
	ck_assert_uint_eq(t[0].env_len, 0);
	ck_assert_int_eq(t[1].type, 9);
	ck_assert_int_eq(t[2].type, WIRE_DATA);
	ck_assert_mem_eq(t[2].env + 1, "hi", 2);
	evbuffer_free(in);
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_session_a_chunks);
	tcase_add_test(tc, test_session_a_bytewise);
	tcase_add_test(tc, test_session_a_merged);
	tcase_add_test(tc, test_session_a_acks);
	tcase_add_test(tc, test_session_b);
	tcase_add_test(tc, test_encode_hello_ack_heartbeat);
	tcase_add_test(tc, test_encode_data);
	tcase_add_test(tc, test_too_big_and_edges);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(wire_suite)
