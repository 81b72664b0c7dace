/* Unit tests for json.c: the control socket's JSON writer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "check_main.h"
#include "json.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static struct evbuffer *buf;
static struct json j;

static void
setup(void)
{
	ck_assert_ptr_nonnull(buf = evbuffer_new());
	json_init(&j, buf);
}

static void
teardown(void)
{
	evbuffer_free(buf);
}

/* What was written, NUL-terminated (valid until the next call). */
static const char *
text(void)
{
	static char out[4096];
	size_t n = evbuffer_get_length(buf);

	ck_assert_uint_lt(n, sizeof(out));
	evbuffer_copyout(buf, out, n);
	out[n] = '\0';
	return out;
}

/* One string value of n bytes, as written. */
static const char *
quoted(const char *s, size_t n)
{
	evbuffer_drain(buf, evbuffer_get_length(buf));
	json_init(&j, buf);
	json_string_n(&j, NULL, s, n);
	ck_assert_int_eq(json_end(&j), 0);
	return text();
}

struct esc {
	const char *in;
	size_t len;
	const char *out;
};

#define E(in, out) { in, sizeof(in) - 1, out }

static const struct esc escapes[] = {
	E("", "\"\""),
	E("plain text 123", "\"plain text 123\""),
	E("say \"hi\"", "\"say \\\"hi\\\"\""),
	E("C:\\dir\\", "\"C:\\\\dir\\\\\""),
	E("a/b", "\"a/b\""),
	E("line\nnext\r\tend", "\"line\\nnext\\r\\tend\""),
	E("\x01\x08\x0c\x1f", "\"\\u0001\\u0008\\u000c\\u001f\""),
	E("nul\0byte", "\"nul\\u0000byte\""),
	E("del\x7f", "\"del\\u007f\""),
	/* valid UTF-8 passes through: é, €, U+1F600 */
	E("caf\xc3\xa9", "\"caf\xc3\xa9\""),
	E("\xe2\x82\xac 5", "\"\xe2\x82\xac 5\""),
	E("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""),
	E("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""),       /* U+10FFFF */
	/* each byte of invalid UTF-8 becomes U+FFFD */
	E("\xff", "\"\\ufffd\""),
	E("a\x80z", "\"a\\ufffdz\""),                        /* stray */
	E("\xc0\xaf", "\"\\ufffd\\ufffd\""),                 /* overlong / */
	E("\xc1\xbf", "\"\\ufffd\\ufffd\""),
	E("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""),      /* overlong */
	E("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""),      /* surrogate */
	E("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""), /* >10FFFF */
	E("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""),
	E("\xe2\x82", "\"\\ufffd\\ufffd\""),                 /* cut short */
	E("\xe2\x82x", "\"\\ufffd\\ufffdx\""),
	E("\xc3", "\"\\ufffd\""),
	E("\xc3\xa9\xc3", "\"\xc3\xa9\\ufffd\""),
};

START_TEST(test_escapes)
{
	const struct esc *e = &escapes[_i];

	ck_assert_str_eq(quoted(e->in, e->len), e->out);
}
END_TEST

START_TEST(test_every_byte)
{
	char in[2];
	const char *out;
	int c;

	/* No byte ever comes out raw where JSON forbids it. */
	for (c = 1; c < 256; c++) {
		in[0] = (char)c;
		out = quoted(in, 1);
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			ck_assert_int_eq(strlen(out), 3);
			ck_assert_int_eq(out[1], c);
		} else
			ck_assert_msg(out[1] == '\\', "byte %02x: %s", c, out);
	}
}
END_TEST

START_TEST(test_document)
{
	json_open_object(&j, NULL);
	json_uint(&j, "version", 1);
	json_bool(&j, "ok", 1);
	json_bool(&j, "no", 0);
	json_string(&j, "none", NULL);
	json_string(&j, "key \"q\"", "v");
	json_open_array(&j, "list");
	json_uint(&j, NULL, 0);
	json_uint(&j, NULL, UINT64_MAX);
	json_open_object(&j, NULL);
	json_close_object(&j);
	json_open_array(&j, NULL);
	json_close_array(&j);
	json_ms_as_s(&j, NULL, 1234);
	json_ms_as_s(&j, NULL, 5);
	json_ms_as_s(&j, NULL, 0);
	json_close_array(&j);
	json_open_object(&j, "empty");
	json_close_object(&j);
	json_close_object(&j);
	ck_assert_int_eq(json_end(&j), 0);
	ck_assert_str_eq(text(), "{\"version\":1,\"ok\":true,\"no\":false,"
	    "\"none\":null,\"key \\\"q\\\"\":\"v\",\"list\":[0,"
	    "18446744073709551615,{},[],1.234,0.005,0.000],\"empty\":{}}");
}
END_TEST

/* A fresh writer on a fresh buffer, within one test. */
static void
reset(void)
{
	teardown();
	setup();
}

START_TEST(test_misuse)
{
	int i;

	/* nothing written */
	ck_assert_int_eq(json_end(&j), -1);

	/* unclosed */
	json_open_object(&j, NULL);
	ck_assert_int_eq(json_end(&j), -1);

	/* no key inside an object */
	reset();
	json_open_object(&j, NULL);
	json_uint(&j, NULL, 1);
	json_close_object(&j);
	ck_assert_int_eq(json_end(&j), -1);

	/* a key inside an array */
	reset();
	json_open_array(&j, NULL);
	json_uint(&j, "k", 1);
	json_close_array(&j);
	ck_assert_int_eq(json_end(&j), -1);

	/* a key at the top, two top-level values */
	reset();
	json_uint(&j, "k", 1);
	ck_assert_int_eq(json_end(&j), -1);
	reset();
	json_uint(&j, NULL, 1);
	json_uint(&j, NULL, 2);
	ck_assert_int_eq(json_end(&j), -1);
	ck_assert_str_eq(text(), "1");

	/* the wrong closer, one closer too many */
	reset();
	json_open_object(&j, NULL);
	json_close_array(&j);
	ck_assert_int_eq(json_end(&j), -1);
	reset();
	json_open_array(&j, NULL);
	json_close_array(&j);
	json_close_array(&j);
	ck_assert_int_eq(json_end(&j), -1);

	/* too deep */
	reset();
	for (i = 0; i <= JSON_DEPTH_MAX; i++)
		json_open_array(&j, NULL);
	for (i = 0; i <= JSON_DEPTH_MAX; i++)
		json_close_array(&j);
	ck_assert_int_eq(json_end(&j), -1);

	/* as deep as allowed is fine */
	reset();
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		json_open_array(&j, NULL);
	for (i = 0; i < JSON_DEPTH_MAX; i++)
		json_close_array(&j);
	ck_assert_int_eq(json_end(&j), 0);
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("write");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_escapes, 0, (int)nitems(escapes));
	tcase_add_test(tc, test_every_byte);
	tcase_add_test(tc, test_document);
	tcase_add_test(tc, test_misuse);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(json_suite)
