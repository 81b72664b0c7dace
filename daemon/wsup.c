/* wsup: the RFC 6455 opening handshake, server side (see wsup.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "wsup.h"

#define WSUP_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WSUP_KEY_LEN 24         /* base64 of 16 bytes */

/* A slice of the request head. */
struct wsup_str {
	const char *p;
	size_t n;
};

/* What the header lines said. */
struct wsup_req {
	int hosts, versions, keys, origins;
	int upgrade_ws, connection_upgrade;
	struct wsup_str version, key, origin;
};

static int
wsup_eq(struct wsup_str s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static int
wsup_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static struct wsup_str
wsup_trim(const char *p, size_t n)
{
	struct wsup_str s;

	while (n > 0 && wsup_is_ows(*p)) {
		p++;
		n--;
	}
	while (n > 0 && wsup_is_ows(p[n - 1]))
		n--;
	s.p = p;
	s.n = n;
	return s;
}

/* RFC 7230 tchar. */
static int
wsup_is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Does the comma-separated list s hold token tok (case-insensitive)? */
static int
wsup_has_token(struct wsup_str s, const char *tok)
{
	const char *p = s.p, *end = s.p + s.n, *comma;

	while (p <= end) {
		comma = memchr(p, ',', (size_t)(end - p));
		if (comma == NULL)
			comma = end;
		if (wsup_eq(wsup_trim(p, (size_t)(comma - p)), tok))
			return 1;
		p = comma + 1;
	}
	return 0;
}

static int
wsup_is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Is it 16 bytes in base64: 22 characters and "=="? */
static int
wsup_key_ok(struct wsup_str k)
{
	size_t i;

	if (k.n != WSUP_KEY_LEN || k.p[22] != '=' || k.p[23] != '=')
		return 0;
	for (i = 0; i < 22; i++)
		if (!wsup_is_b64(k.p[i]))
			return 0;
	return 1;
}

/* Is origin o in the comma-separated list? */
static int
wsup_origin_allowed(struct wsup_str o, const char *list)
{
	const char *p = list, *comma;
	struct wsup_str e;

	for (;;) {
		comma = strchr(p, ',');
		e = wsup_trim(p, comma != NULL ? (size_t)(comma - p) :
		    strlen(p));
		if (e.n > 1 && e.p[e.n - 1] == '/')
			e.n--;
		if (e.n > 0 && e.n == o.n && strncasecmp(e.p, o.p, o.n) == 0)
			return 1;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
wsup_accept_value(const char *key, size_t keylen, char out[29])
{
	unsigned char in[64], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	size_t glen = sizeof(WSUP_GUID) - 1;

	if (keylen > sizeof(in) - glen)
		return -1;
	memcpy(in, key, keylen);
	memcpy(in + keylen, WSUP_GUID, glen);
	if (EVP_Digest(in, keylen + glen, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, md, 20);
	out[28] = '\0';
	return 0;
}

/* "GET <target> HTTP/1.x" with x >= 1. */
static int
wsup_request_line(const char *p, size_t n, char *why, size_t whylen)
{
	const char *sp;
	size_t i, tlen;

	if (n < 4 || memcmp(p, "GET ", 4) != 0) {
		snprintf(why, whylen, "not a GET request");
		return -1;
	}
	p += 4;
	n -= 4;
	if ((sp = memchr(p, ' ', n)) == NULL || sp == p) {
		snprintf(why, whylen, "bad request line");
		return -1;
	}
	tlen = (size_t)(sp - p);
	for (i = 0; i < tlen; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f) {
			snprintf(why, whylen, "bad request target");
			return -1;
		}
	p = sp + 1;
	n -= tlen + 1;
	if (n != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '1' ||
	    p[7] > '9') {
		snprintf(why, whylen, "not HTTP/1.1");
		return -1;
	}
	return 0;
}

/* One "Name: value" line into r. */
static int
wsup_header(const char *p, size_t n, struct wsup_req *r, char *why,
    size_t whylen)
{
	const char *colon;
	struct wsup_str name, value;
	size_t i;

	if (n > 0 && wsup_is_ows(p[0])) {
		snprintf(why, whylen, "folded header line");
		return -1;
	}
	if ((colon = memchr(p, ':', n)) == NULL || colon == p) {
		snprintf(why, whylen, "bad header line");
		return -1;
	}
	name.p = p;
	name.n = (size_t)(colon - p);
	for (i = 0; i < name.n; i++)
		if (!wsup_is_tchar((unsigned char)name.p[i])) {
			snprintf(why, whylen, "bad header name");
			return -1;
		}
	value = wsup_trim(colon + 1, n - name.n - 1);
	for (i = 0; i < value.n; i++) {
		unsigned char c = (unsigned char)value.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, whylen, "bad header value");
			return -1;
		}
	}
	if (wsup_eq(name, "Host"))
		r->hosts += value.n > 0 ? 1 : 2;        /* empty: as bad */
	else if (wsup_eq(name, "Upgrade"))
		r->upgrade_ws |= wsup_has_token(value, "websocket");
	else if (wsup_eq(name, "Connection"))
		r->connection_upgrade |= wsup_has_token(value, "Upgrade");
	else if (wsup_eq(name, "Sec-WebSocket-Version")) {
		r->versions++;
		r->version = value;
	} else if (wsup_eq(name, "Sec-WebSocket-Key")) {
		r->keys++;
		r->key = value;
	} else if (wsup_eq(name, "Origin")) {
		r->origins++;
		r->origin = value;
	}
	return 0;
}

static const char *
wsup_status(enum wsup_result res)
{
	switch (res) {
	case WSUP_BAD_VERSION:
		return "426 Upgrade Required";
	case WSUP_FORBIDDEN:
		return "403 Forbidden";
	case WSUP_TOO_BIG:
		return "431 Request Header Fields Too Large";
	default:
		return "400 Bad Request";
	}
}

static enum wsup_result
wsup_refuse(enum wsup_result res, char *resp, size_t resplen,
    const char *why)
{
	char body[160];
	int blen;

	blen = snprintf(body, sizeof(body), "smartsockd: %s\n", why);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = (int)sizeof(body) - 1;
	snprintf(resp, resplen,
	    "HTTP/1.1 %s\r\n"
	    "Connection: close\r\n"
	    "%s"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "\r\n"
	    "%.*s",
	    wsup_status(res),
	    res == WSUP_BAD_VERSION ? "Sec-WebSocket-Version: 13\r\n" : "",
	    blen, blen, body);
	return res;
}

static enum wsup_result
wsup_check(const char *buf, size_t head, const char *origins, char *resp,
    size_t resplen, char *why, size_t whylen)
{
	struct wsup_req r;
	const char *p = buf, *end = buf + head - 2, *eol;
	char accept[29];
	int first = 1;

	memset(&r, 0, sizeof(r));
	/* Each line, the request line first, up to the empty last line. */
	while (p < end) {
		eol = memchr(p, '\r', (size_t)(end - p));
		if (eol == NULL || eol[1] != '\n') {
			snprintf(why, whylen, "bare CR in the head");
			return WSUP_BAD;
		}
		if (memchr(p, '\n', (size_t)(eol - p)) != NULL) {
			snprintf(why, whylen, "bare LF in the head");
			return WSUP_BAD;
		}
		if (first) {
			if (wsup_request_line(p, (size_t)(eol - p), why,
			    whylen) == -1)
				return WSUP_BAD;
			first = 0;
		} else if (wsup_header(p, (size_t)(eol - p), &r, why,
		    whylen) == -1)
			return WSUP_BAD;
		p = eol + 2;
	}
	if (first) {
		snprintf(why, whylen, "no request line");
		return WSUP_BAD;
	}
	if (r.hosts != 1) {
		snprintf(why, whylen, r.hosts == 0 ? "no Host" : "bad Host");
		return WSUP_BAD;
	}
	if (!r.upgrade_ws || !r.connection_upgrade) {
		snprintf(why, whylen, "not a WebSocket upgrade");
		return WSUP_BAD;
	}
	if (r.versions != 1 || !wsup_eq(r.version, "13")) {
		if (r.versions == 0) {
			snprintf(why, whylen, "no Sec-WebSocket-Version");
			return WSUP_BAD;
		}
		snprintf(why, whylen, "unsupported WebSocket version");
		return WSUP_BAD_VERSION;
	}
	if (r.keys != 1 || !wsup_key_ok(r.key)) {
		snprintf(why, whylen, r.keys == 0 ? "no Sec-WebSocket-Key" :
		    r.keys > 1 ? "more than one Sec-WebSocket-Key" :
		    "bad Sec-WebSocket-Key");
		return WSUP_BAD;
	}
	if (origins != NULL) {
		if (r.origins == 0) {
			snprintf(why, whylen, "no Origin");
			return WSUP_FORBIDDEN;
		}
		if (r.origins > 1 ||
		    !wsup_origin_allowed(r.origin, origins)) {
			snprintf(why, whylen, "Origin %.*s not allowed",
			    r.origin.n > 80 ? 80 : (int)r.origin.n,
			    r.origin.p);
			return WSUP_FORBIDDEN;
		}
	}
	if (wsup_accept_value(r.key.p, r.key.n, accept) == -1) {
		snprintf(why, whylen, "SHA-1 failed");
		return WSUP_BAD;
	}
	snprintf(resp, resplen,
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n"
	    "\r\n", accept);
	if (whylen > 0)
		why[0] = '\0';
	return WSUP_OK;
}

/* Where the head ends (just past CRLFCRLF) within buf[0..len), or 0. */
static size_t
wsup_head_end(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;

	while (end - p >= 4 &&
	    (p = memchr(p, '\r', (size_t)(end - p - 3))) != NULL) {
		if (memcmp(p, "\r\n\r\n", 4) == 0)
			return (size_t)(p - buf) + 4;
		p++;
	}
	return 0;
}

enum wsup_result
wsup_parse(const char *buf, size_t len, size_t max, const char *origins,
    char *resp, size_t resplen, size_t *consumed, char *why, size_t whylen)
{
	enum wsup_result res;
	size_t head;

	head = wsup_head_end(buf, len < max ? len : max);
	if (head == 0) {
		if (len < max)
			return WSUP_NEED_MORE;
		*consumed = len;
		snprintf(why, whylen, "request head over %zu bytes", max);
		return wsup_refuse(WSUP_TOO_BIG, resp, resplen, why);
	}
	*consumed = head;
	res = wsup_check(buf, head, origins, resp, resplen, why, whylen);
	if (res != WSUP_OK)
		wsup_refuse(res, resp, resplen, why);
	return res;
}
