/*
 * check_wsup: the RFC 6455 opening handshake, server side: the accept
 * value of RFC 6455's example, each check of the request head with its
 * status, heads cut short, bytes pipelined after the head, the size limit
 * and the Origin list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_main.h"
#include "wsup.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define MAX 8192

/* RFC 6455 1.3's request, lines in the order of section 1.2. */
#define L_GET "GET /chat HTTP/1.1\r\n"
#define L_HOST "Host: server.example.com\r\n"
#define L_UPGRADE "Upgrade: websocket\r\n"
#define L_CONN "Connection: Upgrade\r\n"
#define L_KEY "Sec-WebSocket-Key: " KEY "\r\n"
#define L_ORIGIN "Origin: http://example.com\r\n"
#define L_VERSION "Sec-WebSocket-Version: 13\r\n"
#define SAMPLE L_GET L_HOST L_UPGRADE L_CONN L_KEY L_ORIGIN \
	"Sec-WebSocket-Protocol: chat, superchat\r\n" L_VERSION "\r\n"

static const char ok_resp[] =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: " ACCEPT "\r\n"
    "\r\n";

struct res {
	enum wsup_result r;
	size_t consumed;
	char resp[WSUP_RESP_MAX];
	char why[128];
};

static enum wsup_result
parse(const char *buf, size_t len, const char *origins, struct res *o)
{
	memset(o, 0, sizeof(*o));
	o->consumed = (size_t)-1;
	o->r = wsup_parse(buf, len, MAX, origins, o->resp, sizeof(o->resp),
	    &o->consumed, o->why, sizeof(o->why));
	return o->r;
}

static enum wsup_result
parse_str(const char *s, const char *origins, struct res *o)
{
	return parse(s, strlen(s), origins, o);
}

/* A refusal is a whole HTTP response with the status, Connection: close,
 * and a Content-Length that matches its body. */
static void
check_refusal(const struct res *o, const char *status)
{
	const char *body;
	char line[64];
	int clen;

	snprintf(line, sizeof(line), "HTTP/1.1 %s\r\n", status);
	ck_assert_msg(strncmp(o->resp, line, strlen(line)) == 0,
	    "response %s, want %s", o->resp, status);
	ck_assert_ptr_nonnull(strstr(o->resp, "\r\nConnection: close\r\n"));
	ck_assert_ptr_null(strstr(o->resp, "Sec-WebSocket-Accept"));
	ck_assert_ptr_nonnull(body = strstr(o->resp, "\r\n\r\n"));
	body += 4;
	ck_assert_ptr_nonnull(strstr(o->resp, "Content-Length: "));
	clen = atoi(strstr(o->resp, "Content-Length: ") + 16);
	ck_assert_int_eq(clen, (int)strlen(body));
	ck_assert_int_gt(clen, 0);
	ck_assert_str_ne(o->why, "");
}

START_TEST(test_accept_value)
{
	char out[29];

	ck_assert_int_eq(wsup_accept_value(KEY, strlen(KEY), out), 0);
	ck_assert_str_eq(out, ACCEPT);
}
END_TEST

START_TEST(test_rfc_sample)
{
	struct res o;

	ck_assert_int_eq(parse_str(SAMPLE, NULL, &o), WSUP_OK);
	ck_assert_uint_eq(o.consumed, strlen(SAMPLE));
	/* No subprotocol echoed, nothing but the four lines. */
	ck_assert_str_eq(o.resp, ok_resp);
	ck_assert_str_eq(o.why, "");
}
END_TEST

START_TEST(test_pipelined)
{
	static const char frames[] = "\x82\x85\x37\xfa\x21\x3d\x7f\x9f\x4d"
	    "\x51\x58\r\n\r\n";
	char buf[1024];
	size_t n = strlen(SAMPLE);
	struct res o;

	memcpy(buf, SAMPLE, n);
	memcpy(buf + n, frames, sizeof(frames) - 1);
	ck_assert_int_eq(parse(buf, n + sizeof(frames) - 1, NULL, &o),
	    WSUP_OK);
	ck_assert_uint_eq(o.consumed, n);
	/* And a refused head says where it ended too. */
	memcpy(buf, "POST", 4);
	ck_assert_int_eq(parse(buf, n + sizeof(frames) - 1, NULL, &o),
	    WSUP_BAD);
	ck_assert_uint_eq(o.consumed, n);
}
END_TEST

START_TEST(test_need_more)
{
	size_t n = strlen(SAMPLE), i;
	struct res o;

	for (i = 0; i < n; i++) {
		ck_assert_msg(parse(SAMPLE, i, NULL, &o) == WSUP_NEED_MORE,
		    "%zu bytes", i);
		ck_assert_uint_eq(o.consumed, (size_t)-1);
		ck_assert_str_eq(o.resp, "");
	}
	ck_assert_int_eq(parse(SAMPLE, n, NULL, &o), WSUP_OK);
	/* Something that is no HTTP at all waits for the limit too. */
	ck_assert_int_eq(parse_str("GET", NULL, &o), WSUP_NEED_MORE);
}
END_TEST

/* A valid head of exactly total bytes: SAMPLE with a padding header. */
static void
make_head(char *buf, size_t total)
{
	size_t n = strlen(SAMPLE) - 2;

	memcpy(buf, SAMPLE, n);
	memcpy(buf + n, "X-Pad: ", 7);
	memset(buf + n + 7, 'a', total - n - 7 - 4);
	memcpy(buf + total - 4, "\r\n\r\n", 4);
}

START_TEST(test_too_big)
{
	char *buf = malloc(MAX + 100);
	struct res o;

	ck_assert_ptr_nonnull(buf);
	make_head(buf, MAX);
	ck_assert_int_eq(parse(buf, MAX, NULL, &o), WSUP_OK);
	ck_assert_uint_eq(o.consumed, MAX);
	/* One more byte: refused, whether its end is there or not. */
	make_head(buf, MAX + 1);
	ck_assert_int_eq(parse(buf, MAX + 1, NULL, &o), WSUP_TOO_BIG);
	ck_assert_uint_eq(o.consumed, MAX + 1);
	check_refusal(&o, "431 Request Header Fields Too Large");
	ck_assert_int_eq(parse(buf, MAX, NULL, &o), WSUP_TOO_BIG);
	ck_assert_uint_eq(o.consumed, MAX);
	ck_assert_int_eq(parse(buf, MAX - 1, NULL, &o), WSUP_NEED_MORE);
	memset(buf, 'x', MAX + 100);
	ck_assert_int_eq(parse(buf, MAX + 100, NULL, &o), WSUP_TOO_BIG);
	ck_assert_uint_eq(o.consumed, MAX + 100);
	free(buf);
}
END_TEST

/* One request head and what it must get. */
struct wsup_case {
	const char *req;
	enum wsup_result want;
};

#define HEADERS L_HOST L_UPGRADE L_CONN L_KEY L_VERSION
static const struct wsup_case cases[] = {
	/* The request line. */
	{ "POST /chat HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "get /chat HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET  /chat HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat  HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat HTTP/1.1 \r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat HTTP/1.0\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat HTTP/2.0\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat HTTP/1.\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat HTTP/1.11\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat http/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /chat\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /c\x01hat HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "GET /c\x7fhat HTTP/1.1\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "\r\n" HEADERS "\r\n", WSUP_BAD },
	{ "\r\n\r\n", WSUP_BAD },
	{ "GET /chat HTTP/1.2\r\n" HEADERS "\r\n", WSUP_OK },
	{ "GET / HTTP/1.1\r\n" HEADERS "\r\n", WSUP_OK },
	{ "GET ws://server.example.com/chat?a=b HTTP/1.1\r\n" HEADERS "\r\n",
	    WSUP_OK },
	/* Header lines. */
	{ L_GET HEADERS " folded\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "\tfolded\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "no colon\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS ": no name\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Name : space before the colon\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X(Name): separator in the name\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Ctl: a\x01z\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Del: a\x7fz\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Cr: a\rz\r\n\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Lf: a\nz\r\n\r\n", WSUP_BAD },
	{ L_GET "X-Lf: a\n" HEADERS "\r\n", WSUP_BAD },
	{ L_GET HEADERS "X-Empty:\r\n\r\n", WSUP_OK },
	{ L_GET HEADERS "X-Tab:\tvalue\t\r\n\r\n", WSUP_OK },
	{ L_GET HEADERS "X-Utf8: caf\xc3\xa9\r\n\r\n", WSUP_OK },
	{ L_GET HEADERS "X-Token!#$%&'*+-.^_`|~: tchar\r\n\r\n", WSUP_OK },
	/* Host. */
	{ L_GET L_UPGRADE L_CONN L_KEY L_VERSION "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_HOST L_UPGRADE L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET "Host:\r\n" L_UPGRADE L_CONN L_KEY L_VERSION "\r\n", WSUP_BAD },
	{ L_GET "host: [::1]:8080\r\n" L_UPGRADE L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_OK },
	/* Upgrade. */
	{ L_GET L_HOST L_CONN L_KEY L_VERSION "\r\n", WSUP_BAD },
	{ L_GET L_HOST "Upgrade: h2c\r\n" L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST "Upgrade: websockets\r\n" L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST "Upgrade: web socket\r\n" L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST "Upgrade: WebSocket\r\n" L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_OK },
	{ L_GET L_HOST "UPGRADE:WEBSOCKET\r\n" L_CONN L_KEY L_VERSION "\r\n",
	    WSUP_OK },
	{ L_GET L_HOST "Upgrade: h2c ,  websocket , x\r\n" L_CONN L_KEY
	    L_VERSION "\r\n", WSUP_OK },
	{ L_GET L_HOST "Upgrade: h2c\r\nUpgrade: websocket\r\n" L_CONN L_KEY
	    L_VERSION "\r\n", WSUP_OK },
	/* Connection. */
	{ L_GET L_HOST L_UPGRADE L_KEY L_VERSION "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE "Connection: keep-alive\r\n" L_KEY L_VERSION
	    "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE "Connection: Upgrades\r\n" L_KEY L_VERSION
	    "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE "Connection: keep-alive, Upgrade\r\n" L_KEY
	    L_VERSION "\r\n", WSUP_OK },
	{ L_GET L_HOST L_UPGRADE "connection: upgrade\r\n" L_KEY L_VERSION
	    "\r\n", WSUP_OK },
	{ L_GET L_HOST L_UPGRADE "Connection: keep-alive\r\nConnection: "
	    "Upgrade\r\n" L_KEY L_VERSION "\r\n", WSUP_OK },
	{ L_GET L_HOST L_UPGRADE "Connection: ,,Upgrade,\r\n" L_KEY L_VERSION
	    "\r\n", WSUP_OK },
	/* Sec-WebSocket-Version. */
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY "Sec-WebSocket-Version: 8\r\n"
	    "\r\n", WSUP_BAD_VERSION },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY "Sec-WebSocket-Version: 13, 8\r\n"
	    "\r\n", WSUP_BAD_VERSION },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY "Sec-WebSocket-Version:\r\n"
	    "\r\n", WSUP_BAD_VERSION },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY L_VERSION L_VERSION "\r\n",
	    WSUP_BAD_VERSION },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY "sec-websocket-version:13 \r\n"
	    "\r\n", WSUP_OK },
	/* Sec-WebSocket-Key. */
	{ L_GET L_HOST L_UPGRADE L_CONN L_VERSION "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY L_KEY L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN L_KEY
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN "Sec-WebSocket-Key:\r\n" L_VERSION
	    "\r\n", WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN           /* 17 bytes */
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQAA\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN           /* 15 bytes */
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2-jZQ==\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub 5jZQ==\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: =GhlIHNhbXBsZSBub25jZQ==\r\n" L_VERSION "\r\n",
	    WSUP_BAD },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "sec-websocket-key:   " KEY "  \r\n" L_VERSION "\r\n", WSUP_OK },
	{ L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n" L_VERSION "\r\n",
	    WSUP_OK },
	/* Offers that are ignored. */
	{ L_GET HEADERS "Sec-WebSocket-Extensions: permessage-deflate; "
	    "client_max_window_bits\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
	    WSUP_OK },
	/* A NUL anywhere. */
	{ L_GET HEADERS "X-Nul: a\0b\r\n\r\n", WSUP_BAD },
};

/* Length of a case's head: to its first CRLFCRLF, NULs included. */
static size_t
case_len(const char *s)
{
	size_t n = 0;

	while (memcmp(s + n, "\r\n\r\n", 4) != 0)
		n++;
	return n + 4;
}

START_TEST(test_cases)
{
	const struct wsup_case *c = &cases[_i];
	size_t n = case_len(c->req);
	struct res o;

	ck_assert_msg(parse(c->req, n, NULL, &o) == c->want,
	    "case %d: %d, want %d (%s)", _i, o.r, c->want, o.why);
	ck_assert_uint_eq(o.consumed, n);
	switch (c->want) {
	case WSUP_OK:
		ck_assert_ptr_nonnull(strstr(o.resp,
		    "HTTP/1.1 101 Switching Protocols\r\n"));
		ck_assert_ptr_null(strstr(o.resp, "Protocol:"));
		ck_assert_ptr_null(strstr(o.resp, "Extensions"));
		break;
	case WSUP_BAD:
		check_refusal(&o, "400 Bad Request");
		ck_assert_ptr_null(strstr(o.resp,
		    "\r\nSec-WebSocket-Version: 13\r\n"));
		break;
	case WSUP_BAD_VERSION:
		check_refusal(&o, "426 Upgrade Required");
		ck_assert_ptr_nonnull(strstr(o.resp,
		    "\r\nSec-WebSocket-Version: 13\r\n"));
		break;
	default:
		ck_abort_msg("case %d: unexpected want", _i);
	}
}
END_TEST

START_TEST(test_key_value)
{
	const char *req = L_GET L_HOST L_UPGRADE L_CONN
	    "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n" L_VERSION "\r\n";
	char want[29], line[64];
	struct res o;

	ck_assert_int_eq(parse_str(req, NULL, &o), WSUP_OK);
	wsup_accept_value("+/+/+/+/+/+/+/+/+/+/+w==", 24, want);
	snprintf(line, sizeof(line), "\r\nSec-WebSocket-Accept: %s\r\n", want);
	ck_assert_ptr_nonnull(strstr(o.resp, line));
}
END_TEST

#define ORIGINS "https://a.example, HTTP://localhost:8080 ,https://b.example/"
#define WITH_ORIGIN(o) L_GET HEADERS "Origin: " o "\r\n\r\n"

START_TEST(test_origins)
{
	struct res o;

	/* Not configured: anything goes, and nothing. */
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://evil.example"), NULL,
	    &o), WSUP_OK);
	ck_assert_int_eq(parse_str(L_GET HEADERS "\r\n", NULL, &o), WSUP_OK);
	/* Configured. */
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://a.example"), ORIGINS,
	    &o), WSUP_OK);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("http://localhost:8080"),
	    ORIGINS, &o), WSUP_OK);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("HTTPS://A.EXAMPLE"), ORIGINS,
	    &o), WSUP_OK);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://b.example"), ORIGINS,
	    &o), WSUP_OK);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://a.example"),
	    "https://a.example", &o), WSUP_OK);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("null"), "null", &o), WSUP_OK);

	ck_assert_int_eq(parse_str(L_GET HEADERS "\r\n", ORIGINS, &o),
	    WSUP_FORBIDDEN);
	check_refusal(&o, "403 Forbidden");
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://evil.example"),
	    ORIGINS, &o), WSUP_FORBIDDEN);
	check_refusal(&o, "403 Forbidden");
	ck_assert_ptr_nonnull(strstr(o.why, "https://evil.example"));
	ck_assert_int_eq(parse_str(WITH_ORIGIN("http://localhost:8081"),
	    ORIGINS, &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("http://localhost"), ORIGINS,
	    &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://a.example.evil"),
	    ORIGINS, &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("https://a.exampl"), ORIGINS,
	    &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("http://a.example"), ORIGINS,
	    &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN("null"), ORIGINS, &o),
	    WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN(""), ORIGINS, &o),
	    WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(WITH_ORIGIN(""), "", &o), WSUP_FORBIDDEN);
	ck_assert_int_eq(parse_str(L_GET HEADERS "Origin: https://a.example\r\n"
	    "Origin: https://evil.example\r\n\r\n", ORIGINS, &o),
	    WSUP_FORBIDDEN);
	/* A bad request stays a 400 whatever its Origin. */
	ck_assert_int_eq(parse_str(L_GET L_HOST L_UPGRADE L_CONN L_VERSION
	    "Origin: https://evil.example\r\n\r\n", ORIGINS, &o), WSUP_BAD);
}
END_TEST

/* Small buffers are never overrun (under ASan) and stay terminated. */
START_TEST(test_small_buffers)
{
	static const char *bad = "POST / HTTP/1.1\r\n\r\n";
	char resp[16], why[8];
	size_t consumed, n = strlen(bad);

	ck_assert_int_eq(wsup_parse(bad, n, MAX, NULL, resp, sizeof(resp),
	    &consumed, why, sizeof(why)), WSUP_BAD);
	ck_assert_uint_eq(strlen(resp), sizeof(resp) - 1);
	ck_assert_uint_eq(strlen(why), sizeof(why) - 1);
	ck_assert_int_eq(wsup_parse(SAMPLE, strlen(SAMPLE), MAX, NULL, resp,
	    sizeof(resp), &consumed, why, 0), WSUP_OK);
	ck_assert_int_eq(wsup_parse(bad, n, MAX, NULL, resp, sizeof(resp),
	    &consumed, why, 0), WSUP_BAD);
}
END_TEST

static Suite *
wsup_suite(void)
{
	Suite *s = suite_create("wsup");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_accept_value);
	tcase_add_test(tc, test_rfc_sample);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_need_more);
	tcase_add_test(tc, test_too_big);
	tcase_add_loop_test(tc, test_cases, 0,
	    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_key_value);
	tcase_add_test(tc, test_origins);
	tcase_add_test(tc, test_small_buffers);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(wsup_suite)
