/*
 * wsup: the server side of the RFC 6455 opening handshake, the HTTP request
 * a browser sends before it speaks WebSocket on a bind port
 * (../shared/spec/wire-v1.md, "WebSocket on a bind port").
 *
 * wsup_parse() is a pure function: it reads the request head at the front
 * of a buffer and writes the whole HTTP response to send, a 101 that
 * completes the upgrade or a 4xx that refuses it (with Connection: close
 * and a one-line text body).  It never negotiates a subprotocol or an
 * extension: Sec-WebSocket-Protocol and Sec-WebSocket-Extensions offered
 * are ignored.  Bytes after the head (frames a client pipelined) are the
 * caller's.
 */
#ifndef SMARTSOCK_WSUP_H
#define SMARTSOCK_WSUP_H

#include <stddef.h>

/* A response buffer this large always holds the whole response. */
#define WSUP_RESP_MAX 512

enum wsup_result {
	WSUP_NEED_MORE,         /* no complete head yet (no CRLFCRLF) */
	WSUP_OK,                /* resp holds the 101 answer */
	WSUP_BAD,               /* 400: malformed or not a WebSocket upgrade */
	WSUP_BAD_VERSION,       /* 426 with Sec-WebSocket-Version: 13 */
	WSUP_FORBIDDEN,         /* 403: Origin not in the allowed list */
	WSUP_TOO_BIG,           /* 431: the head is over max bytes */
};

/*
 * Look at the request head at the start of buf[0..len), at most max bytes
 * long through its CRLFCRLF.
 *
 * origins: NULL accepts any Origin, and none.  Else a comma-separated
 * list of allowed origins ("https://a.example, http://localhost:8080";
 * compared whole and case-insensitively, a trailing '/' in the list
 * ignored), and a request without Origin is refused too.
 *
 * Unless WSUP_NEED_MORE: *consumed is the head's length (through CRLFCRLF;
 * all of len for WSUP_TOO_BIG), resp the NUL-terminated response (give it
 * WSUP_RESP_MAX bytes) and why a short reason for the log ("" for
 * WSUP_OK).  On WSUP_NEED_MORE nothing is written.
 */
enum wsup_result wsup_parse(const char *buf, size_t len, size_t max,
    const char *origins, char *resp, size_t resplen, size_t *consumed,
    char *why, size_t whylen);

/* Sec-WebSocket-Accept for a key (24 base64 characters): 28 characters
 * and a NUL into out.  0, or -1 when OpenSSL failed. */
int wsup_accept_value(const char *key, size_t keylen, char out[29]);

#endif
