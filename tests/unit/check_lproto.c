/* Unit tests of common/lproto.c: frame header checks and integer helpers. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "lproto.h"

#define MAXP 1000               /* max_payload used by most tests */
#define REFUSE_TEXT_MAX 1024    /* REFUSE's text bound in lproto.c */

/* Every type, its fixed part, and whether the body is exactly that. */
static const struct {
	uint8_t type;
	int fixed;
	int fixed_size;
} types[] = {
	{ LPROTO_HELLO, 2, 1 },
	{ LPROTO_SEND, 0, 0 },
	{ LPROTO_SEND_TO, 16, 0 },
	{ LPROTO_CONFIRM, 8, 1 },
	{ LPROTO_CREDIT, 4, 1 },
	{ LPROTO_WELCOME, 22, 1 },
	{ LPROTO_REFUSE, 6, 0 },
	{ LPROTO_DELIVER, 16, 0 },
	{ LPROTO_DELIVER_REQ, 24, 0 },
	{ LPROTO_SEND_RESULT, 4, 1 },
	{ LPROTO_CLOSING, 0, 1 },
};
#define NTYPES ((int)(sizeof types / sizeof types[0]))

/* A header whose length field says body_len + 1, built by hand. */
static void
hdr(uint8_t h[LPROTO_HDR_LEN], uint32_t len_field, uint8_t type)
{
	h[0] = (uint8_t)(len_field >> 24);
	h[1] = (uint8_t)(len_field >> 16);
	h[2] = (uint8_t)(len_field >> 8);
	h[3] = (uint8_t)len_field;
	h[4] = type;
}

/* Check a body of body_len bytes; *blen gets the reported length. */
static enum lproto_check
check_body(uint8_t type, uint32_t body_len, size_t max_payload,
    uint32_t *blen)
{
	uint8_t h[LPROTO_HDR_LEN], t = 0xee;
	enum lproto_check c;

	hdr(h, body_len + 1, type);
	*blen = 0xdeadbeef;
	c = lproto_frame_check(h, sizeof h, max_payload, &t, blen);
	if (c == LPROTO_FRAME_OK)
		ck_assert_uint_eq(t, type);
	return c;
}

START_TEST(test_fixed_len)
{
	ck_assert_int_eq(lproto_fixed_len(types[_i].type), types[_i].fixed);
	ck_assert_int_le(types[_i].fixed, LPROTO_MAX_FIXED);
}
END_TEST

START_TEST(test_fixed_len_unknown)
{
	static const uint8_t unknown[] = { 0, 6, 7, 63, 70, 71, 128, 255 };
	size_t i;

	for (i = 0; i < sizeof unknown; i++)
		ck_assert_int_eq(lproto_fixed_len(unknown[i]), -1);
}
END_TEST

/* The body exactly the fixed part is accepted for every type. */
START_TEST(test_exact_fixed)
{
	uint32_t blen;

	ck_assert_int_eq(check_body(types[_i].type,
	    (uint32_t)types[_i].fixed, MAXP, &blen), LPROTO_FRAME_OK);
	ck_assert_uint_eq(blen, (uint32_t)types[_i].fixed);
}
END_TEST

/* One byte short of the fixed part is refused, down to an empty body. */
START_TEST(test_too_short)
{
	uint32_t blen, n;

	for (n = 0; n < (uint32_t)types[_i].fixed; n++)
		ck_assert_int_eq(check_body(types[_i].type, n, MAXP, &blen),
		    LPROTO_FRAME_BAD);
}
END_TEST

/* Fixed-size types take no payload, whatever max_payload says. */
START_TEST(test_fixed_size_too_long)
{
	uint32_t blen, fixed = (uint32_t)types[_i].fixed;

	if (!types[_i].fixed_size)
		return;
	ck_assert_int_eq(check_body(types[_i].type, fixed + 1, MAXP, &blen),
	    LPROTO_FRAME_BAD);
	ck_assert_int_eq(check_body(types[_i].type, fixed + MAXP, MAXP, &blen),
	    LPROTO_FRAME_BAD);
	ck_assert_int_eq(check_body(types[_i].type, fixed + 1, SIZE_MAX,
	    &blen), LPROTO_FRAME_BAD);
}
END_TEST

/* Payload types: up to max_payload after the fixed part, not one more. */
START_TEST(test_payload_limit)
{
	uint32_t blen, fixed = (uint32_t)types[_i].fixed;

	if (types[_i].fixed_size || types[_i].type == LPROTO_REFUSE)
		return;
	ck_assert_int_eq(check_body(types[_i].type, fixed + 1, MAXP, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_int_eq(check_body(types[_i].type, fixed + MAXP, MAXP, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_uint_eq(blen, fixed + MAXP);
	ck_assert_int_eq(check_body(types[_i].type, fixed + MAXP + 1, MAXP,
	    &blen), LPROTO_FRAME_BAD);
	/* A zero limit still allows an empty payload. */
	ck_assert_int_eq(check_body(types[_i].type, fixed, 0, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_int_eq(check_body(types[_i].type, fixed + 1, 0, &blen),
	    LPROTO_FRAME_BAD);
}
END_TEST

/* REFUSE's text has its own bound, independent of max_payload. */
START_TEST(test_refuse_text)
{
	uint32_t blen;

	ck_assert_int_eq(check_body(LPROTO_REFUSE, 6 + REFUSE_TEXT_MAX, 0,
	    &blen), LPROTO_FRAME_OK);
	ck_assert_int_eq(check_body(LPROTO_REFUSE, 6 + REFUSE_TEXT_MAX + 1,
	    SIZE_MAX, &blen), LPROTO_FRAME_BAD);
	ck_assert_int_eq(check_body(LPROTO_REFUSE, 6 + 1, 0, &blen),
	    LPROTO_FRAME_OK);
}
END_TEST

/* The largest max_payload: lengths up to the u32 limit. */
START_TEST(test_huge_lengths)
{
	uint8_t h[LPROTO_HDR_LEN], t;
	uint32_t blen;

	hdr(h, UINT32_MAX, LPROTO_SEND);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, MAXP, &t, &blen),
	    LPROTO_FRAME_BAD);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, SIZE_MAX, &t, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_uint_eq(blen, UINT32_MAX - 1);
	hdr(h, UINT32_MAX, LPROTO_DELIVER_REQ);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, UINT32_MAX - 1 - 24,
	    &t, &blen), LPROTO_FRAME_OK);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, UINT32_MAX - 2 - 24,
	    &t, &blen), LPROTO_FRAME_BAD);
	hdr(h, UINT32_MAX, LPROTO_CONFIRM);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, SIZE_MAX, &t, &blen),
	    LPROTO_FRAME_BAD);
}
END_TEST

START_TEST(test_zero_length)
{
	uint8_t h[LPROTO_HDR_LEN], t;
	uint32_t blen;
	int i;

	/* Length 0 cannot even hold the type byte. */
	for (i = 0; i < NTYPES; i++) {
		hdr(h, 0, types[i].type);
		ck_assert_int_eq(lproto_frame_check(h, sizeof h, MAXP, &t,
		    &blen), LPROTO_FRAME_BAD);
	}
	/* Length 1: a type and an empty body, fine only for SEND and
	 * CLOSING. */
	hdr(h, 1, LPROTO_SEND);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, MAXP, &t, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_uint_eq(blen, 0);
	hdr(h, 1, LPROTO_CLOSING);
	ck_assert_int_eq(lproto_frame_check(h, sizeof h, MAXP, &t, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_uint_eq(blen, 0);
}
END_TEST

START_TEST(test_unknown_type)
{
	static const uint8_t unknown[] = { 0, 6, 63, 70, 127, 255 };
	uint8_t h[LPROTO_HDR_LEN], t;
	uint32_t blen, n;
	size_t i;

	for (i = 0; i < sizeof unknown; i++)
		for (n = 1; n < 40; n += 7) {
			hdr(h, n, unknown[i]);
			ck_assert_int_eq(lproto_frame_check(h, sizeof h, MAXP,
			    &t, &blen), LPROTO_FRAME_BAD);
		}
}
END_TEST

/* Fewer than five bytes: no verdict yet, whatever they hold. */
START_TEST(test_need_more)
{
	uint8_t h[LPROTO_HDR_LEN], t = 0x77;
	uint32_t blen = 0x12345678;
	size_t have;

	hdr(h, 0, 0);           /* would be BAD with all five bytes */
	for (have = 0; have < LPROTO_HDR_LEN; have++)
		ck_assert_int_eq(lproto_frame_check(h, have, MAXP, &t, &blen),
		    LPROTO_NEED_MORE);
	ck_assert_int_eq(lproto_frame_check(NULL, 0, MAXP, &t, &blen),
	    LPROTO_NEED_MORE);
	/* Nothing was written through the out-parameters. */
	ck_assert_uint_eq(t, 0x77);
	ck_assert_uint_eq(blen, 0x12345678);
}
END_TEST

/* Only the header is read: a partial body is still checked. */
START_TEST(test_header_only)
{
	uint8_t buf[LPROTO_HDR_LEN + 3], t;
	uint32_t blen;

	hdr(buf, 1 + 16 + 100, LPROTO_DELIVER);
	ck_assert_int_eq(lproto_frame_check(buf, sizeof buf, MAXP, &t, &blen),
	    LPROTO_FRAME_OK);
	ck_assert_uint_eq(t, LPROTO_DELIVER);
	ck_assert_uint_eq(blen, 116);
}
END_TEST

START_TEST(test_header_round_trip)
{
	static const size_t lens[] = { 0, 1, 16, 24, 255, 256, 65535, 65536,
	    MAXP };
	uint8_t h[LPROTO_HDR_LEN], t, type = types[_i].type;
	uint32_t blen;
	size_t i, fixed = (size_t)types[_i].fixed, body;

	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		body = types[_i].fixed_size ? fixed : fixed + lens[i];
		if (type == LPROTO_REFUSE && lens[i] > REFUSE_TEXT_MAX)
			continue;
		memset(h, 0xaa, sizeof h);
		ck_assert_uint_eq(lproto_put_header(h, type, body),
		    LPROTO_HDR_LEN);
		ck_assert_uint_eq(lproto_get_u32(h), body + 1);
		ck_assert_uint_eq(h[4], type);
		ck_assert_int_eq(lproto_frame_check(h, sizeof h, 65536, &t,
		    &blen), LPROTO_FRAME_OK);
		ck_assert_uint_eq(t, type);
		ck_assert_uint_eq(blen, body);
	}
}
END_TEST

START_TEST(test_header_bytes)
{
	uint8_t h[LPROTO_HDR_LEN + 1];
	static const uint8_t want[] = { 0x01, 0x02, 0x03, 0x05, 0x42, 0x99 };

	h[LPROTO_HDR_LEN] = 0x99;
	lproto_put_header(h, 0x42, 0x01020304);
	ck_assert_mem_eq(h, want, sizeof want);
}
END_TEST

START_TEST(test_u16)
{
	uint8_t b[3] = { 0, 0, 0x5a };

	lproto_put_u16(b, 0x1234);
	ck_assert_uint_eq(b[0], 0x12);
	ck_assert_uint_eq(b[1], 0x34);
	ck_assert_uint_eq(b[2], 0x5a);
	ck_assert_uint_eq(lproto_get_u16(b), 0x1234);
	lproto_put_u16(b, 0);
	ck_assert_uint_eq(lproto_get_u16(b), 0);
	lproto_put_u16(b, UINT16_MAX);
	ck_assert_uint_eq(b[0], 0xff);
	ck_assert_uint_eq(b[1], 0xff);
	ck_assert_uint_eq(lproto_get_u16(b), UINT16_MAX);
	b[0] = 0x80;
	b[1] = 0x01;
	ck_assert_uint_eq(lproto_get_u16(b), 0x8001);
}
END_TEST

START_TEST(test_u32)
{
	static const uint8_t want[] = { 0xde, 0xad, 0xbe, 0xef };
	uint8_t b[5] = { 0, 0, 0, 0, 0x5a };

	lproto_put_u32(b, 0xdeadbeef);
	ck_assert_mem_eq(b, want, sizeof want);
	ck_assert_uint_eq(b[4], 0x5a);
	ck_assert_uint_eq(lproto_get_u32(b), 0xdeadbeef);
	lproto_put_u32(b, 0);
	ck_assert_uint_eq(lproto_get_u32(b), 0);
	lproto_put_u32(b, UINT32_MAX);
	ck_assert_uint_eq(lproto_get_u32(b), UINT32_MAX);
	lproto_put_u32(b, 0x80000001);
	ck_assert_uint_eq(b[0], 0x80);
	ck_assert_uint_eq(b[3], 0x01);
	ck_assert_uint_eq(lproto_get_u32(b), 0x80000001);
}
END_TEST

START_TEST(test_u64)
{
	static const uint8_t want[] = { 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
	    0xcd, 0xef };
	uint8_t b[9];

	b[8] = 0x5a;
	lproto_put_u64(b, 0x0123456789abcdefULL);
	ck_assert_mem_eq(b, want, sizeof want);
	ck_assert_uint_eq(b[8], 0x5a);
	ck_assert_uint_eq(lproto_get_u64(b), 0x0123456789abcdefULL);
	lproto_put_u64(b, 0);
	ck_assert_uint_eq(lproto_get_u64(b), 0);
	lproto_put_u64(b, UINT64_MAX);
	ck_assert_uint_eq(lproto_get_u64(b), UINT64_MAX);
	/* The halves do not bleed into each other. */
	lproto_put_u64(b, 0x00000000ffffffffULL);
	ck_assert_uint_eq(lproto_get_u32(b), 0);
	ck_assert_uint_eq(lproto_get_u32(b + 4), UINT32_MAX);
	lproto_put_u64(b, 0xffffffff00000000ULL);
	ck_assert_uint_eq(lproto_get_u64(b), 0xffffffff00000000ULL);
}
END_TEST

static Suite *
lproto_suite(void)
{
	Suite *s = suite_create("lproto");
	TCase *tc;

	tc = tcase_create("types");
	tcase_add_loop_test(tc, test_fixed_len, 0, NTYPES);
	tcase_add_test(tc, test_fixed_len_unknown);
	tcase_add_loop_test(tc, test_exact_fixed, 0, NTYPES);
	tcase_add_loop_test(tc, test_too_short, 0, NTYPES);
	tcase_add_loop_test(tc, test_fixed_size_too_long, 0, NTYPES);
	tcase_add_loop_test(tc, test_payload_limit, 0, NTYPES);
	tcase_add_test(tc, test_refuse_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("lengths");
	tcase_add_test(tc, test_zero_length);
	tcase_add_test(tc, test_huge_lengths);
	tcase_add_test(tc, test_unknown_type);
	tcase_add_test(tc, test_need_more);
	tcase_add_test(tc, test_header_only);
	suite_add_tcase(s, tc);

	tc = tcase_create("encoding");
	tcase_add_loop_test(tc, test_header_round_trip, 0, NTYPES);
	tcase_add_test(tc, test_header_bytes);
	tcase_add_test(tc, test_u16);
	tcase_add_test(tc, test_u32);
	tcase_add_test(tc, test_u64);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(lproto_suite)
