/*
 * Unit tests for tools/json-parse.c, smartsockctl's JSON reader: valid
 * and hostile documents, and everything the daemon's writer (json.c) can
 * produce reads back as it was meant.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <event2/buffer.h>

#include "check_main.h"
#include "json-parse.h"
#include "json.h"

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

static struct jsonp *
parse(const char *s)
{
	char err[128];

	return jsonp_parse(s, strlen(s), err, sizeof(err));
}

START_TEST(test_document)
{
	static const char doc[] =
	    " {\"version\": 1, \"ok\": true, \"no\": false, \"n\": null,\n"
	    "  \"list\": [0, -0.5e+3, 18446744073709551615, \"x\", [], {}],\r\n"
	    "  \"esc\": \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\u20ac"
	    "\\ud83d\\ude00\", \"raw\": \"caf\xc3\xa9\"} ";
	const struct jsonp *v, *l;
	struct jsonp *doc_v;
	uint64_t u;
	double d;
	int b;

	ck_assert_ptr_nonnull(doc_v = parse(doc));
	v = doc_v;
	ck_assert_int_eq(v->type, JSONP_OBJECT);
	ck_assert(jsonp_u64(v, "version", &u) && u == 1);
	ck_assert(jsonp_bool(v, "ok", &b) && b == 1);
	ck_assert(jsonp_bool(v, "no", &b) && b == 0);
	ck_assert_int_eq(jsonp_get(v, "n")->type, JSONP_NULL);
	ck_assert_ptr_null(jsonp_str(v, "n"));
	ck_assert_ptr_null(jsonp_get(v, "missing"));
	ck_assert(!jsonp_bool(v, "version", &b));
	ck_assert(!jsonp_u64(v, "ok", &u));
	ck_assert_str_eq(jsonp_str(v, "esc"),
	    "a\"b\\c/d\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_str_eq(jsonp_str(v, "raw"), "caf\xc3\xa9");

	l = jsonp_get(v, "list");
	ck_assert_int_eq(l->type, JSONP_ARRAY);
	l = l->child;
	ck_assert_str_eq(l->text, "0");
	l = l->next;
	ck_assert_str_eq(l->text, "-0.5e+3");
	l = l->next;
	ck_assert_str_eq(l->text, "18446744073709551615");
	l = l->next;
	ck_assert_str_eq(l->text, "x");
	l = l->next;
	ck_assert_int_eq(l->type, JSONP_ARRAY);
	ck_assert_ptr_null(l->child);
	l = l->next;
	ck_assert_int_eq(l->type, JSONP_OBJECT);
	ck_assert_ptr_null(l->next);
	jsonp_free(doc_v);

	/* getters on numbers */
	ck_assert_ptr_nonnull(doc_v = parse("{\"a\":18446744073709551616,"
	    "\"b\":-1,\"c\":1.5,\"d\":2e3}"));
	ck_assert(!jsonp_u64(doc_v, "a", &u));
	ck_assert(!jsonp_u64(doc_v, "b", &u));
	ck_assert(!jsonp_u64(doc_v, "c", &u));
	ck_assert(!jsonp_u64(doc_v, "d", &u));
	ck_assert(jsonp_double(doc_v, "c", &d) && d == 1.5);
	ck_assert(jsonp_double(doc_v, "d", &d) && d == 2000);
	ck_assert_ptr_null(jsonp_get(doc_v->child, "a"));   /* not an object */
	jsonp_free(doc_v);
	jsonp_free(NULL);
}
END_TEST

static const char *const bad_docs[] = {
	"", " ", "{", "}", "[", "[1,]", "[,1]", "[1 2]", "{\"a\"}", "{\"a\":}",
	"{\"a\":1,}", "{a:1}", "{\"a\" 1}", "{1:2}", "01", "1.", ".5", "-",
	"1e", "1e+", "+1", "0x10", "tru", "nul", "nulll", "True", "1 2",
	"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"\\ud800\"",
	"\"\\ud800\\u0041\"", "\"\\udc00\"", "\"\\u0000\"", "\"a\tb\"",
	"\"a\nb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"",
	"\"\xe2\x82\"", "\"\\", "[\"a\"]x", "{\"a\":1}}",
};

START_TEST(test_bad)
{
	const char *s = bad_docs[_i];
	char err[128];
	struct jsonp *v;

	v = jsonp_parse(s, strlen(s), err, sizeof(err));
	ck_assert_msg(v == NULL, "accepted '%s'", s);
	ck_assert_msg(err[0] != '\0', "no reason for '%s'", s);
}
END_TEST

START_TEST(test_not_nul_terminated)
{
	/* Only len bytes count: a valid prefix followed by garbage. */
	static const char s[] = "[1,2]garbage";
	struct jsonp *v;
	char err[128];

	ck_assert_ptr_nonnull(v = jsonp_parse(s, 5, err, sizeof(err)));
	jsonp_free(v);
	ck_assert_ptr_null(jsonp_parse(s, 4, err, sizeof(err)));
	ck_assert_ptr_null(jsonp_parse("\"ab\"", 3, err, sizeof(err)));
	ck_assert_ptr_null(jsonp_parse("true", 3, err, sizeof(err)));
	ck_assert_ptr_null(jsonp_parse("\"\\u00e9\"", 6, err, sizeof(err)));
	/* no room for the reason is fine */
	ck_assert_ptr_null(jsonp_parse("[", 1, NULL, 0));
}
END_TEST

START_TEST(test_depth)
{
	char s[2 * (JSONP_DEPTH_MAX + 1) + 1];
	struct jsonp *v;
	int i;

	for (i = 0; i < JSONP_DEPTH_MAX; i++) {
		s[i] = '[';
		s[JSONP_DEPTH_MAX + i] = ']';
	}
	s[2 * JSONP_DEPTH_MAX] = '\0';
	ck_assert_ptr_nonnull(v = parse(s));
	jsonp_free(v);
	for (i = 0; i <= JSONP_DEPTH_MAX; i++) {
		s[i] = '[';
		s[JSONP_DEPTH_MAX + 1 + i] = ']';
	}
	s[2 * (JSONP_DEPTH_MAX + 1)] = '\0';
	ck_assert_ptr_null(parse(s));
}
END_TEST

/* What json.c writes for any bytes reads back as those bytes, each byte
 * of invalid UTF-8 replaced with U+FFFD. */
START_TEST(test_round_trip)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "plain", "plain" },
		{ "q\"b\\s/\n\r\t\x01\x1f\x7f", "q\"b\\s/\n\r\t\x01\x1f\x7f" },
		{ "caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
		{ "bad\xff\xc3", "bad\xef\xbf\xbd\xef\xbf\xbd" },
	};
	struct evbuffer *buf;
	struct jsonp *v;
	struct json j;
	char text[256], err[128];
	size_t i, n;
	int c;

	for (i = 0; i < nitems(cases); i++) {
		ck_assert_ptr_nonnull(buf = evbuffer_new());
		json_init(&j, buf);
		json_open_object(&j, NULL);
		json_string(&j, cases[i].in, cases[i].in);
		json_close_object(&j);
		ck_assert_int_eq(json_end(&j), 0);
		n = evbuffer_copyout(buf, text, sizeof(text));
		v = jsonp_parse(text, n, err, sizeof(err));
		ck_assert_msg(v != NULL, "%s: %s", text, err);
		ck_assert_str_eq(jsonp_str(v, cases[i].out), cases[i].out);
		jsonp_free(v);
		evbuffer_free(buf);
	}
	/* every single byte */
	for (c = 1; c < 256; c++) {
		char in[2] = { (char)c, '\0' };

		ck_assert_ptr_nonnull(buf = evbuffer_new());
		json_init(&j, buf);
		json_string(&j, NULL, in);
		n = evbuffer_copyout(buf, text, sizeof(text));
		ck_assert_ptr_nonnull(v = jsonp_parse(text, n, err,
		    sizeof(err)));
		ck_assert_str_eq(v->text, c < 0x80 ? in : "\xef\xbf\xbd");
		jsonp_free(v);
		evbuffer_free(buf);
	}
}
END_TEST

static Suite *
json_parse_suite(void)
{
	Suite *s = suite_create("json-parse");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_document);
	tcase_add_loop_test(tc, test_bad, 0, (int)nitems(bad_docs));
	tcase_add_test(tc, test_not_nul_terminated);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(json_parse_suite)
