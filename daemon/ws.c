/* ws: WebSocket framing, server side, as a filter bufferevent (see ws.h). */
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "utf8.h"
#include "ws.h"

/* Queued bytes ws_flush() still hands to OpenSSL at the end: a close
 * frame behind a little data, not a backlog. */
#define WS_FLUSH_TLS_MAX (16 * 1024)

#define WS_CLOSE_INTERNAL 1011
/* The underlying output's write watermarks. */
#define WS_UNDER_HIGH WS_OUT_FRAME_MAX
#define WS_UNDER_LOW (WS_OUT_FRAME_MAX / 2)

void
ws_decoder_init(struct ws_decoder *d, size_t max_payload)
{
	memset(d, 0, sizeof(*d));
	d->max_payload = max_payload;
	d->state = WS_DEC_OK;
}

size_t
ws_frame_header(uint8_t hdr[WS_MAX_HDR], int opcode, uint64_t len)
{
	int i;

	hdr[0] = (uint8_t)(0x80 | (opcode & 0x0f));
	if (len < 126) {
		hdr[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		hdr[1] = 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		return 4;
	}
	hdr[1] = 127;
	for (i = 0; i < 8; i++)
		hdr[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

int
ws_add_frame(struct evbuffer *out, int opcode, const void *payload,
    size_t len)
{
	uint8_t f[WS_MAX_HDR + WS_CONTROL_MAX];
	size_t n;

	n = ws_frame_header(f, opcode, len);
	if (len <= WS_CONTROL_MAX) {
		/* One add: the frame is never half in the buffer. */
		if (len > 0)
			memcpy(f + n, payload, len);
		return evbuffer_add(out, f, n + len);
	}
	if (evbuffer_expand(out, n + len) == -1 ||
	    evbuffer_add(out, f, n) == -1)
		return -1;
	return evbuffer_add(out, payload, len);
}

int
ws_add_close(struct evbuffer *out, int code)
{
	uint8_t c[2];

	if (code == 0)
		return ws_add_frame(out, WS_OP_CLOSE, NULL, 0);
	c[0] = (uint8_t)(code >> 8);
	c[1] = (uint8_t)code;
	return ws_add_frame(out, WS_OP_CLOSE, c, 2);
}

int
ws_add_binary_from(struct evbuffer *out, struct evbuffer *src, size_t n)
{
	uint8_t hdr[WS_MAX_HDR];
	size_t h;

	h = ws_frame_header(hdr, WS_OP_BINARY, n);
	if (evbuffer_add(out, hdr, h) == -1)
		return -1;
	if (evbuffer_remove_buffer(src, out, n) != (int)n)
		return -1;
	return 0;
}

static void
ws_unmask(struct ws_decoder *d, uint8_t *p, size_t n)
{
	size_t i;
	unsigned m = d->mask_at;

	for (i = 0; i < n; i++) {
		p[i] ^= d->mask[m];
		m = (m + 1) & 3;
	}
	d->mask_at = m;
}

static enum ws_decode_result
ws_fail(struct ws_decoder *d, struct evbuffer *reply, int code,
    const char *what)
{
	d->state = WS_DEC_FAILED;
	d->close_code = code;
	snprintf(d->reason, sizeof(d->reason), "%s (WebSocket close %d)",
	    what, code);
	(void)ws_add_close(reply, code);
	return d->state;
}

/* Is code one a client may send (RFC 6455 7.4)? */
static int
ws_close_code_ok(int code)
{
	if (code >= 3000 && code <= 4999)
		return 1;
	return code >= 1000 && code <= 1014 && code != 1004 &&
	    code != 1005 && code != 1006;
}

/* Is p[0..n) valid UTF-8?  For close reasons (RFC 6455 7.1.6). */
static int
ws_utf8_ok(const uint8_t *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (p[i] < 0x80)
			k = 1;
		else if ((k = utf8_seq_len(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* Take the payload bytes of the current data frame that are in `in`. */
static int
ws_take_payload(struct ws_decoder *d, struct evbuffer *in,
    struct evbuffer *payload)
{
	struct evbuffer_iovec v[2];
	size_t n = evbuffer_get_length(in), got;
	int i, nv;

	if ((uint64_t)n > d->left)
		n = (size_t)d->left;
	if (n == 0)
		return 0;
	if ((nv = evbuffer_reserve_space(payload, (ev_ssize_t)n, v, 2)) < 1)
		return -1;
	got = 0;
	for (i = 0; i < nv && got < n; i++) {
		if (v[i].iov_len > n - got)
			v[i].iov_len = n - got;
		evbuffer_remove(in, v[i].iov_base, v[i].iov_len);
		ws_unmask(d, v[i].iov_base, v[i].iov_len);
		got += v[i].iov_len;
	}
	if (evbuffer_commit_space(payload, v, i) == -1)
		return -1;
	d->left -= n;
	if (d->left == 0)
		d->in_frame = 0;
	return 0;
}

/* A whole control frame (header of hlen bytes, then len) is in `in`. */
static enum ws_decode_result
ws_control(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *reply,
    int op, size_t hlen, size_t len)
{
	uint8_t p[WS_CONTROL_MAX];
	int code;

	evbuffer_drain(in, hlen);
	evbuffer_remove(in, p, len);
	d->mask_at = 0;
	ws_unmask(d, p, len);
	switch (op) {
	case WS_OP_PING:
		if (ws_add_frame(reply, WS_OP_PONG, p, len) == -1)
			return ws_fail(d, reply, WS_CLOSE_INTERNAL,
			    "out of memory");
		return WS_DEC_OK;
	case WS_OP_PONG:
		return WS_DEC_OK;
	}
	/* Close. */
	if (len == 1)
		return ws_fail(d, reply, WS_CLOSE_PROTOCOL,
		    "close frame of 1 byte");
	code = len >= 2 ? (p[0] << 8) | p[1] : 0;
	if (len >= 2 && !ws_close_code_ok(code)) {
		char what[48];

		snprintf(what, sizeof(what), "close frame with code %d",
		    code);
		return ws_fail(d, reply, WS_CLOSE_PROTOCOL, what);
	}
	if (len > 2 && !ws_utf8_ok(p + 2, len - 2))
		return ws_fail(d, reply, WS_CLOSE_INVALID_DATA,
		    "close reason not UTF-8");
	d->state = WS_DEC_CLOSED;
	d->close_code = code;
	if (code != 0)
		snprintf(d->reason, sizeof(d->reason),
		    "closed by the peer (WebSocket close %d)", code);
	else
		snprintf(d->reason, sizeof(d->reason),
		    "closed by the peer (WebSocket close without a code)");
	(void)ws_add_close(reply, code != 0 ? code : WS_CLOSE_NORMAL);
	return d->state;
}

/* Decode the frame header at the front of `in`: 1 to go on, 0 when it is
 * not all there yet, -1 when it failed the stream. */
static int
ws_header(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *reply)
{
	uint8_t h[WS_MAX_HDR];
	size_t have = evbuffer_get_length(in), need, i;
	uint64_t len;
	int fin, op, masked, len7;

	if (have < 2)
		return 0;
	evbuffer_copyout(in, h, have < sizeof(h) ? have : sizeof(h));
	fin = h[0] & 0x80;
	op = h[0] & 0x0f;
	masked = h[1] & 0x80;
	len7 = h[1] & 0x7f;
	if (h[0] & 0x70) {
		ws_fail(d, reply, WS_CLOSE_PROTOCOL, "reserved bits set");
		return -1;
	}
	switch (op) {
	case WS_OP_TEXT:
		ws_fail(d, reply, WS_CLOSE_UNSUPPORTED, "text frame");
		return -1;
	case WS_OP_CONT:
		if (!d->in_message) {
			ws_fail(d, reply, WS_CLOSE_PROTOCOL,
			    "continuation frame with no message open");
			return -1;
		}
		break;
	case WS_OP_BINARY:
		if (d->in_message) {
			ws_fail(d, reply, WS_CLOSE_PROTOCOL,
			    "new message inside a fragmented one");
			return -1;
		}
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!fin) {
			ws_fail(d, reply, WS_CLOSE_PROTOCOL,
			    "fragmented control frame");
			return -1;
		}
		if (len7 > WS_CONTROL_MAX) {
			ws_fail(d, reply, WS_CLOSE_PROTOCOL,
			    "control frame over 125 bytes");
			return -1;
		}
		break;
	default:
		ws_fail(d, reply, WS_CLOSE_PROTOCOL, "unknown opcode");
		return -1;
	}
	if (!masked) {
		ws_fail(d, reply, WS_CLOSE_PROTOCOL, "unmasked frame");
		return -1;
	}
	need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	if (have < need)
		return 0;
	if (len7 == 126)
		len = ((uint64_t)h[2] << 8) | h[3];
	else if (len7 == 127) {
		if (h[2] & 0x80) {
			ws_fail(d, reply, WS_CLOSE_PROTOCOL,
			    "64-bit length with the top bit set");
			return -1;
		}
		len = 0;
		for (i = 0; i < 8; i++)
			len = (len << 8) | h[2 + i];
	} else
		len = (uint64_t)len7;
	memcpy(d->mask, h + need - 4, 4);
	if (op >= WS_OP_CLOSE) {
		if (have - need < len)
			return 0;
		return ws_control(d, in, reply, op, need, (size_t)len) ==
		    WS_DEC_OK ? 1 : -1;
	}
	if (len > d->max_payload) {
		char what[80];

		snprintf(what, sizeof(what), "frame of %llu bytes over %zu",
		    (unsigned long long)len, d->max_payload);
		ws_fail(d, reply, WS_CLOSE_TOO_BIG, what);
		return -1;
	}
	evbuffer_drain(in, need);
	d->in_message = !fin;
	d->left = len;
	d->mask_at = 0;
	d->in_frame = len > 0;
	return 1;
}

enum ws_decode_result
ws_decode(struct ws_decoder *d, struct evbuffer *in, struct evbuffer *payload,
    struct evbuffer *reply)
{
	int r;

	while (d->state == WS_DEC_OK) {
		if (d->in_frame) {
			if (evbuffer_get_length(in) == 0)
				break;
			if (ws_take_payload(d, in, payload) == -1)
				return ws_fail(d, reply, WS_CLOSE_INTERNAL,
				    "out of memory");
			continue;
		}
		if ((r = ws_header(d, in, reply)) <= 0)
			break;
	}
	return d->state;
}

/* --- the filter bufferevent ---------------------------------------------- */

struct ws {
	struct ws_decoder dec;
	struct bufferevent *bev;        /* the filter */
	struct bufferevent *under;
	int ended;
	LIST_ENTRY(ws) entry;
};

/* Every filter, to answer ws_underlying() and ws_reason(). */
static LIST_HEAD(, ws) ws_all = LIST_HEAD_INITIALIZER(ws_all);

static struct ws *
ws_find(struct bufferevent *bev)
{
	struct ws *w;

	if (bev == NULL || bufferevent_get_underlying(bev) == NULL)
		return NULL;
	LIST_FOREACH(w, &ws_all, entry)
		if (w->bev == bev)
			return w;
	return NULL;
}

static enum bufferevent_filter_result
ws_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct ws *w = ctx;
	size_t before = evbuffer_get_length(src);
	size_t had = evbuffer_get_length(dst);
	enum ws_decode_result r;

	(void)limit;
	(void)mode;
	if (w->ended) {
		evbuffer_drain(src, before);
		return BEV_NEED_MORE;
	}
	r = ws_decode(&w->dec, src, dst, bufferevent_get_output(w->under));
	if (r != WS_DEC_OK) {
		w->ended = 1;
		evbuffer_drain(src, evbuffer_get_length(src));
		bufferevent_disable(w->under, EV_READ);
		/* From the loop: the callback may free the filter. */
		bufferevent_trigger_event(w->bev, BEV_EVENT_READING |
		    (r == WS_DEC_CLOSED ? BEV_EVENT_EOF : BEV_EVENT_ERROR),
		    BEV_TRIG_DEFER_CALLBACKS);
	}
	/* BEV_OK only when there is new payload: libevent runs the read
	 * callback after BEV_OK, and calls again while src holds bytes
	 * (ws_decode() took all it could). */
	return evbuffer_get_length(dst) > had ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result
ws_filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct ws *w = ctx;
	size_t n = evbuffer_get_length(src);

	(void)mode;
	if (w->ended) {
		/* Nothing goes out after the close frame. */
		evbuffer_drain(src, n);
		return BEV_OK;
	}
	if (n == 0)
		return BEV_NEED_MORE;
	if (n > WS_OUT_FRAME_MAX)
		n = WS_OUT_FRAME_MAX;
	/* Up to the underlying output's high-water mark (see ws_wrap()). */
	if (limit > 0 && (size_t)limit < n)
		n = (size_t)limit;
	if (ws_add_binary_from(dst, src, n) == -1)
		return BEV_ERROR;
	return BEV_OK;
}

static void
ws_free_ctx(void *ctx)
{
	struct ws *w = ctx;

	LIST_REMOVE(w, entry);
	free(w);
}

struct bufferevent *
ws_wrap(struct bufferevent *bev, size_t max_payload)
{
	struct ws *w;
	struct bufferevent *f;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	ws_decoder_init(&w->dec, max_payload);
	f = bufferevent_filter_new(bev, ws_filter_in, ws_filter_out,
	    BEV_OPT_CLOSE_ON_FREE, ws_free_ctx, w);
	if (f == NULL) {
		free(w);
		bufferevent_free(bev);
		return NULL;
	}
	w->bev = f;
	w->under = bev;
	LIST_INSERT_HEAD(&ws_all, w, entry);
	/*
	 * What waits to be sent stays in the filter's output, where the
	 * owner's back-pressure (its output length, its write watermarks)
	 * sees it: the filter moves no more than WS_UNDER_HIGH bytes ahead
	 * into the underlying output, and tops it up below WS_UNDER_LOW.
	 */
	bufferevent_setwatermark(bev, EV_WRITE, WS_UNDER_LOW, WS_UNDER_HIGH);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS |
		    BEV_TRIG_DEFER_CALLBACKS);
	return f;
}

struct bufferevent *
ws_underlying(struct bufferevent *bev)
{
	struct ws *w = ws_find(bev);

	return w != NULL ? w->under : NULL;
}

const char *
ws_reason(struct bufferevent *bev)
{
	struct ws *w = ws_find(bev);

	return w != NULL && w->ended ? w->dec.reason : NULL;
}

void
ws_flush(struct bufferevent *bev)
{
	struct ws *w = ws_find(bev);
	struct evbuffer *out;
	evutil_socket_t fd;
	const uint8_t *data;
	size_t n;
	SSL *ssl;

	if (w == NULL)
		return;
	/* Over TLS the close frame waits as plaintext in the OpenSSL
	 * bufferevent: hand a short tail like it to OpenSSL directly (the
	 * connection is freed next, so libevent's view of it no longer
	 * matters). */
	if ((ssl = bufferevent_openssl_get_ssl(w->under)) != NULL) {
		out = bufferevent_get_output(w->under);
		n = evbuffer_get_length(out);
		if (n > 0 && n <= WS_FLUSH_TLS_MAX &&
		    (data = evbuffer_pullup(out, (ev_ssize_t)n)) != NULL)
			(void)SSL_write(ssl, data, (int)n);
		return;
	}
	if ((fd = bufferevent_getfd(w->under)) < 0)
		return;
	/* A socket bufferevent keeps the start of its output frozen
	 * outside its own writes. */
	out = bufferevent_get_output(w->under);
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write(out, fd);
	evbuffer_freeze(out, 1);
}
