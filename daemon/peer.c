/* peer: one aiomsg v1 connection (see peer.h and wire-v1.md). */
#include <sys/socket.h>
#include <sys/time.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bev.h"
#include "frames.h"
#include "json.h"
#include "link.h"
#include "log.h"
#include "msg.h"
#include "parse.h"
#include "peer.h"
#include "tls.h"
#include "wire.h"
#include "ws.h"
#include "wsup.h"

static void peer_readcb(struct bufferevent *, void *);
static void peer_writecb(struct bufferevent *, void *);
static void peer_eventcb(struct bufferevent *, short, void *);
static void peer_hello_timeout(evutil_socket_t, short, void *);
static void peer_heartbeat(evutil_socket_t, short, void *);
static void peer_silence(evutil_socket_t, short, void *);
static void peer_batch_flush(evutil_socket_t, short, void *);
static void peer_pause(struct peer *, unsigned);
static void peer_sniff(struct peer *, uint8_t);
static int peer_upgrade(struct peer *);
static size_t peer_unflushed(const struct link *);
static int peer_send_msg(struct link *, struct msg *);
static int peer_send_ack(struct link *, const uint8_t[16]);
static void peer_pause_reading(struct link *);
static void peer_resume_reading(struct link *);
static void peer_close_soon(struct link *, const char *);
static void peer_reconfigure(struct link *);
static void peer_free_link(struct link *);
static void peer_describe(const struct link *, struct json *);
static void peer_free(struct peer *);
static struct bufferevent *peer_transport(const struct peer *);

/* What the socket's core asks of a peer (link.h). */
static const struct link_ops peer_link_ops = {
	.unflushed = peer_unflushed,
	.send = peer_send_msg,
	.ack = peer_send_ack,
	.pause = peer_pause_reading,
	.resume = peer_resume_reading,
	.close_soon = peer_close_soon,
	.reconfigure = peer_reconfigure,
	.free = peer_free_link,
	.describe = peer_describe,
};

/*
 * Reading stops while any reason holds: the socket's receive queue is full
 * (PEER_PAUSE_SOCKET, set through the link's pause and resume), or the
 * peer's own output is (PEER_PAUSE_OUTPUT, by the peer itself: one that
 * does not read what we send, ACKs included, is not read either, so what
 * it makes us queue stays within peer_buffer).  Time spent paused is not
 * silence.
 */
#define PEER_PAUSE_SOCKET 0x1
#define PEER_PAUSE_OUTPUT 0x2

/* What a TLS peer hands to OpenSSL at a time: four full records. */
#define PEER_TLS_PIECE (64 * 1024)
/* Longest HTTP request head of a WebSocket upgrade. */
#define PEER_WS_HEAD_MAX 8192
/* A WebSocket frame may hold a whole aiomsg frame of the largest message:
 * length, type, msg_id; and then some. */
#define PEER_WS_SLACK 64

static struct timeval
ms_to_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	return tv;
}

struct peer *
peer_new(struct home *h, struct bufferevent *bev,
    const struct peer_owner *owner, const char *addr, uint64_t hello_ms)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct timeval tv = ms_to_tv(hello_ms);
	size_t hwm = h->conf->peer_buffer;

	if (p == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	p->link.ops = &peer_link_ops;
	p->owner = owner;
	p->bev = bev;
	p->tls = tls_is_tls(bev);
	p->link.state = LINK_HANDSHAKE;
	p->link.since = (uint64_t)time(NULL);
	snprintf(p->link.addr, sizeof(p->link.addr), "%s", addr);
	p->hello_ev = evtimer_new(h->base, peer_hello_timeout, p);
	p->heartbeat_ev = evtimer_new(h->base, peer_heartbeat, p);
	p->silence_ev = evtimer_new(h->base, peer_silence, p);
	/* A WebSocket port answers in kind: its HELLO waits for the first
	 * byte, which says whether a raw peer or a browser is there. */
	p->ws = owner == NULL && h->conf->websocket ? PEER_WS_SNIFF :
	    PEER_WS_NONE;
	if (p->tls && ((p->batch = evbuffer_new()) == NULL ||
	    (p->batch_ev = event_new(h->base, -1, 0, peer_batch_flush,
	    p)) == NULL)) {
		peer_free(p);
		return NULL;
	}
	if (p->hello_ev == NULL || p->heartbeat_ev == NULL ||
	    p->silence_ev == NULL || (p->ws == PEER_WS_NONE &&
	    wire_add_hello(bufferevent_get_output(bev), h->identity) == -1)) {
		peer_free(p);
		return NULL;
	}
	p->link.last_sent_ms = now_ms();
	evtimer_add(p->hello_ev, &tv);
	/* The write callback means "room again": below half the limit. */
	bufferevent_setwatermark(bev, EV_WRITE, hwm / 2, 0);
	bufferevent_setcb(bev, peer_readcb, peer_writecb, peer_eventcb, p);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	link_attach(h, &p->link);
	return p;
}

static void
peer_free(struct peer *p)
{
	if (p == NULL)
		return;
	if (p->hello_ev != NULL)
		event_free(p->hello_ev);
	if (p->heartbeat_ev != NULL)
		event_free(p->heartbeat_ev);
	if (p->silence_ev != NULL)
		event_free(p->silence_ev);
	if (p->batch_ev != NULL)
		event_free(p->batch_ev);
	if (p->batch != NULL)
		evbuffer_free(p->batch);
	if (p->bev != NULL) {
		if (p->ws == PEER_WS_ON)
			ws_flush(p->bev);
		if (p->tls)
			tls_close_notify(peer_transport(p));
		bufferevent_free(p->bev);
	}
	free(p);
}

static void
peer_free_link(struct link *l)
{
	peer_free((struct peer *)l);
}

/* The connection's own bufferevent (socket or TLS), under the WebSocket
 * filter if any: for TLS details. */
static struct bufferevent *
peer_transport(const struct peer *p)
{
	struct bufferevent *u = p->ws == PEER_WS_ON ? ws_underlying(p->bev) :
	    NULL;

	return u != NULL ? u : p->bev;
}

static const char *
peer_direction(const struct peer *p)
{
	return p->owner != NULL ? "connected" : "accepted";
}

/*
 * Peer up and down lines: every one with -v (debug), else at most
 * rl_peers' burst a period per socket, so that a storm of new identities
 * cannot flood the log.  -1 to stay quiet, else what was suppressed.
 */
static int64_t
peer_log_pass(struct home *h)
{
	if (log_verbose())
		return 0;
	return log_ratelimit_pass(&h->rl_peers, now_ms());
}

/* Close; `logged`: the reason was logged already (or rate-limited). */
static void
peer_end(struct peer *p, const char *why, int logged)
{
	struct home *h = p->link.home;
	const struct peer_owner *owner = p->owner;
	int was_up = p->link.state == LINK_UP;
	char more[LOG_MORE_LEN];
	int64_t k;

	if ((was_up || (owner == NULL && !logged)) &&
	    (k = peer_log_pass(h)) >= 0) {
		if (was_up)
			log_info("socket %s: peer %s (%s, %s) down: %s%s",
			    h->name, p->link.identity_hex, p->link.addr,
			    peer_direction(p), why, log_more(more, k));
		else
			log_info("socket %s: connection from %s closed before "
			    "handshake: %s%s", h->name, p->link.addr, why,
			    log_more(more, k));
	}
	STATS_INC(&h->stats, conns_closed);
	link_down(&p->link);
	if (owner != NULL)
		owner->down(owner->arg, why, was_up);
	peer_free(p);
}

void
peer_close(struct peer *p, const char *why)
{
	peer_end(p, why, 0);
}

/* For callers that walk the socket's links: it is not routed to
 * meanwhile (link.closing is set); why is copied. */
static void
peer_close_soon(struct link *l, const char *why)
{
	struct peer *p = (struct peer *)l;

	if (p->link.closing != NULL)
		return;
	snprintf(p->closing_why, sizeof(p->closing_why), "%s", why);
	p->link.closing = p->closing_why;
	peer_pause(p, PEER_PAUSE_SOCKET | PEER_PAUSE_OUTPUT);
	/* The handshake timer's callback closes a peer marked closing. */
	event_active(p->hello_ev, EV_TIMEOUT, 0);
}

/*
 * Where frames are written.  A TLS bufferevent encrypts and sends every
 * addition to its output at once, one record and one system call per
 * frame; a TLS peer's frames are gathered in its batch instead and handed
 * over in large contiguous pieces once per pass of the event loop, as a
 * plain socket bufferevent would write them.
 */
static struct evbuffer *
peer_out(struct peer *p)
{
	if (!p->tls)
		return bufferevent_get_output(p->bev);
	if (!p->batch_pending) {
		event_active(p->batch_ev, EV_WRITE, 0);
		p->batch_pending = 1;
	}
	return p->batch;
}

static void
peer_batch_flush(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *out = bufferevent_get_output(p->bev);
	size_t n;

	(void)fd;
	(void)what;
	p->batch_pending = 0;
	while ((n = evbuffer_get_length(p->batch)) > 0) {
		if (n > PEER_TLS_PIECE)
			n = PEER_TLS_PIECE;
		if (evbuffer_pullup(p->batch, (ev_ssize_t)n) == NULL) {
			peer_close(p, "out of memory");
			return;
		}
		/* Moving the whole first chain copies nothing more. */
		n = evbuffer_get_contiguous_space(p->batch);
		if (evbuffer_remove_buffer(p->batch, out, n) != (int)n) {
			peer_close(p, "out of memory");
			return;
		}
	}
}

static size_t
peer_unflushed(const struct link *l)
{
	const struct peer *p = (const struct peer *)l;

	return evbuffer_get_length(bufferevent_get_output(p->bev)) +
	    (p->batch != NULL ? evbuffer_get_length(p->batch) : 0);
}

static int
peer_send_msg(struct link *l, struct msg *m)
{
	struct peer *p = (struct peer *)l;
	struct evbuffer *out = peer_out(p);
	uint8_t hdr[WIRE_MAX_HDR];
	size_t n;

	n = wire_data_header(hdr, (m->flags & MSG_HAS_ID) ? WIRE_DATA_REQ :
	    WIRE_DATA, m->msg_id, m->len);
	if (msg_add_framed(m, out, hdr, n) == -1)
		return -1;
	p->link.last_sent_ms = now_ms();
	p->link.msgs_out++;
	p->link.bytes_out += m->len;
	STATS_INC(&p->link.home->stats, msgs_out);
	STATS_ADD(&p->link.home->stats, bytes_out, m->len);
	return 0;
}

static int
peer_send_ack(struct link *l, const uint8_t msg_id[16])
{
	struct peer *p = (struct peer *)l;

	if (wire_add_ack(peer_out(p), msg_id) == -1)
		return -1;
	p->link.last_sent_ms = now_ms();
	STATS_INC(&p->link.home->stats, acks_out);
	return 0;
}

static void
peer_pause(struct peer *p, unsigned why)
{
	if (p->paused == 0) {
		bufferevent_disable(p->bev, EV_READ);
		p->paused_ms = now_ms();
	}
	p->paused |= why;
}

static void
peer_unpause(struct peer *p, unsigned why)
{
	if (!(p->paused & why))
		return;
	p->paused &= ~why;
	if (p->paused != 0 || p->link.closing != NULL)
		return;
	bufferevent_enable(p->bev, EV_READ);
	/* The pause was ours, not its silence. */
	p->last_frame_ms += now_ms() - p->paused_ms;
	/* Frames already buffered are decoded from the loop, not from here. */
	bufferevent_trigger(p->bev, EV_READ,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void
peer_pause_reading(struct link *l)
{
	peer_pause((struct peer *)l, PEER_PAUSE_SOCKET);
}

static void
peer_resume_reading(struct link *l)
{
	peer_unpause((struct peer *)l, PEER_PAUSE_SOCKET);
}

static void
peer_arm_heartbeat(struct peer *p, uint64_t after_ms)
{
	struct timeval tv = ms_to_tv(after_ms);

	evtimer_add(p->heartbeat_ev, &tv);
}

/*
 * The silence timer is not pushed back at every frame: when it fires it
 * looks at when the last frame came and waits out the rest.
 */
static void
peer_arm_silence(struct peer *p, uint64_t after_ms)
{
	struct timeval tv = ms_to_tv(after_ms);

	evtimer_add(p->silence_ev, &tv);
}

static void
peer_silence(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t timeout = p->link.home->conf->heartbeat_timeout_ms;
	uint64_t now = now_ms(), quiet = now - p->last_frame_ms;
	char why[96];

	(void)fd;
	(void)what;
	/* While we do not read it, its silence is not counted (see
	 * peer_unpause()). */
	if (p->paused != 0)
		quiet = now - p->paused_ms > quiet ? 0 :
		    quiet - (now - p->paused_ms);
	if (quiet < timeout) {
		peer_arm_silence(p, timeout - quiet);
		return;
	}
	STATS_INC(&p->link.home->stats, heartbeat_timeouts);
	snprintf(why, sizeof(why), "nothing received for %" PRIu64 " ms "
	    "(heartbeat_timeout)", quiet);
	peer_close(p, why);
}

static void
peer_reconfigure(struct link *l)
{
	struct peer *p = (struct peer *)l;
	const struct socket_conf *conf = p->link.home->conf;
	uint64_t idle = now_ms() - p->link.last_sent_ms;

	bufferevent_setwatermark(p->bev, EV_WRITE, conf->peer_buffer / 2, 0);
	if (p->link.state != LINK_UP)
		return;
	evtimer_del(p->silence_ev);
	peer_arm_silence(p, conf->heartbeat_timeout_ms);
	evtimer_del(p->heartbeat_ev);
	peer_arm_heartbeat(p, idle < conf->heartbeat_interval_ms ?
	    conf->heartbeat_interval_ms - idle : 0);
}

/* The peer's HELLO (env, n bytes): -1 when the peer was closed. */
static int
peer_take_hello(struct peer *p, int type, const uint8_t *env, size_t n)
{
	struct home *h = p->link.home;
	char why[96], more[LOG_MORE_LEN];
	int64_t k;

	if (type != WIRE_HELLO || n != WIRE_HELLO_ENV) {
		STATS_INC(&h->stats, rejected_bad_hello);
		snprintf(why, sizeof(why), "first frame is not a HELLO "
		    "(type %d, %zu bytes)", type, n);
		peer_close(p, why);
		return -1;
	}
	if (env[1] != WIRE_VERSION) {
		STATS_INC(&h->stats, rejected_version);
		snprintf(why, sizeof(why), "unsupported protocol version %u",
		    env[1]);
		peer_close(p, why);
		return -1;
	}
	memcpy(p->link.identity, env + 2, sizeof(p->link.identity));
	format_identity(p->link.identity, p->link.identity_hex);
	if (link_up(&p->link) == -1) {
		STATS_INC(&h->stats, rejected_duplicate);
		snprintf(why, sizeof(why), "identity %s already has a live "
		    "connection", p->link.identity_hex);
		peer_close(p, why);
		return -1;
	}
	evtimer_del(p->hello_ev);
	p->last_frame_ms = now_ms();
	peer_arm_silence(p, h->conf->heartbeat_timeout_ms);
	peer_arm_heartbeat(p, h->conf->heartbeat_interval_ms);
	if ((k = peer_log_pass(h)) >= 0)
		log_info("socket %s: peer %s (%s, %s) up%s", h->name,
		    p->link.identity_hex, p->link.addr, peer_direction(p),
		    log_more(more, k));
	if (p->owner != NULL)
		p->owner->up(p->owner->arg);
	return 0;
}

/* A frame of unknown type, or of a known type with a bad length. */
static void
peer_skipped(struct peer *p, int type, size_t n, int malformed)
{
	struct home *h = p->link.home;
	char more[LOG_MORE_LEN];
	int64_t k;

	if (!malformed) {
		STATS_INC(&h->stats, frames_unknown);
		return;
	}
	STATS_INC(&h->stats, frames_malformed);
	if ((k = log_ratelimit_pass(&h->rl_malformed, now_ms())) >= 0)
		log_warnx("socket %s: peer %s (%s): skipped a type %d frame of "
		    "%zu bytes with a bad length%s", h->name, p->link.identity_hex,
		    p->link.addr, type, n, log_more(more, k));
}

/* A frame, or a payload, over max_message_size: -1, the peer is closed. */
static int
peer_oversize(struct peer *p)
{
	char why[96];

	STATS_INC(&p->link.home->stats, rejected_oversize);
	snprintf(why, sizeof(why), "frame longer than max_message_size (%zu "
	    "bytes)", p->link.home->max_message_size);
	peer_close(p, why);
	return -1;
}

static void
peer_count_in(struct peer *p, const struct msg *m)
{
	p->link.msgs_in++;
	p->link.bytes_in += m->len;
	STATS_INC(&p->link.home->stats, msgs_in);
	STATS_ADD(&p->link.home->stats, bytes_in, m->len);
}

/*
 * One whole frame whose envelope (n bytes, type first) is contiguous in
 * memory that stays valid until this returns.  -1 when the peer closed.
 */
static int
peer_take_env(struct peer *p, const uint8_t *env, size_t n)
{
	int type = n > 0 ? env[0] : -1;
	struct msg view;

	if (p->link.state == LINK_HANDSHAKE)
		return peer_take_hello(p, type, env, n);
	p->last_frame_ms = p->link.last_recv_ms;
	switch (type) {
	case WIRE_HEARTBEAT:
		return 0;
	case WIRE_DATA:
		/* The frame bound leaves room for a DATA_REQ's msg_id. */
		if (n - 1 > p->link.home->max_message_size)
			return peer_oversize(p);
		msg_borrow(&view, env + 1, n - 1);
		break;
	case WIRE_DATA_REQ:
		if (n < WIRE_DATA_REQ_MIN_ENV) {
			peer_skipped(p, type, n, 1);
			return 0;
		}
		msg_borrow(&view, env + 1 + WIRE_ID_LEN,
		    n - WIRE_DATA_REQ_MIN_ENV);
		memcpy(view.msg_id, env + 1, WIRE_ID_LEN);
		view.flags |= MSG_HAS_ID;
		break;
	case WIRE_ACK:
		if (n != WIRE_ACK_ENV) {
			peer_skipped(p, type, n, 1);
			return 0;
		}
		STATS_INC(&p->link.home->stats, acks_in);
		link_acked(&p->link, env + 1);
		return 0;
	case WIRE_HELLO:
		/* A second HELLO changes nothing; skip it like any frame. */
	default:
		peer_skipped(p, type, n, 0);
		return 0;
	}
	memcpy(view.peer_id, p->link.identity, sizeof(view.peer_id));
	peer_count_in(p, &view);
	link_received(&p->link, &view);
	return 0;
}

/*
 * A frame too large to be viewed in place (over MSG_BORROW_MAX), whole at
 * the front of the input: a DATA or DATA_REQ is moved into a message of
 * its own; anything else that large is skipped.  -1 when the peer closed.
 */
static int
peer_take_large(struct peer *p, const struct wire_frame *f)
{
	struct evbuffer *in = bufferevent_get_input(p->bev);
	struct msg *m;
	size_t fixed;

	if (p->link.state == LINK_HANDSHAKE)
		return peer_take_hello(p, f->type, NULL, f->env_len);
	p->last_frame_ms = p->link.last_recv_ms;
	if (f->type != WIRE_DATA && f->type != WIRE_DATA_REQ) {
		evbuffer_drain(in, WIRE_LEN_PREFIX + (size_t)f->env_len);
		peer_skipped(p, f->type, f->env_len, f->type == WIRE_ACK);
		return 0;
	}
	fixed = f->type == WIRE_DATA_REQ ? WIRE_DATA_REQ_MIN_ENV : 1;
	if (f->env_len - fixed > p->link.home->max_message_size)
		return peer_oversize(p);
	if ((m = msg_new(f->env_len - fixed)) == NULL) {
		peer_close(p, "out of memory");
		return -1;
	}
	evbuffer_drain(in, WIRE_LEN_PREFIX + 1);
	if (f->type == WIRE_DATA_REQ) {
		evbuffer_remove(in, m->msg_id, WIRE_ID_LEN);
		m->flags |= MSG_HAS_ID;
	}
	evbuffer_remove(in, m->data, m->len);
	memcpy(m->peer_id, p->link.identity, sizeof(m->peer_id));
	peer_count_in(p, m);
	link_received(&p->link, m);
	return 0;
}

/*
 * A HELLO is 18 bytes long, so a first byte other than 0 is not aiomsg:
 * close at once rather than wait for a frame that long, saying what it
 * looks like.  Returns -1 (the peer was closed).
 */
static int
peer_not_aiomsg(struct peer *p, uint8_t first)
{
	const char *what = "first frame is not a HELLO";

	if (first == 0x16)
		what = "first bytes look like a TLS handshake, not a HELLO "
		    "(does the other side have tls = on and this one not?)";
	else if (first >= 'A' && first <= 'Z')
		what = "first bytes look like an HTTP request, not a HELLO";
	STATS_INC(&p->link.home->stats, rejected_bad_hello);
	peer_close(p, what);
	return -1;
}

/*
 * Before the handshake only a HELLO may come, whose length is known: a
 * connection whose first length prefix says otherwise is closed at once,
 * before it makes us hold more than those few bytes.  -1 when closed.
 */
static int
peer_hello_prefix(struct peer *p, struct evbuffer *in)
{
	uint8_t b[WIRE_LEN_PREFIX];
	uint32_t n;
	char why[96];

	if (evbuffer_copyout(in, b, 1) < 1)
		return 0;
	if (b[0] != 0)
		return peer_not_aiomsg(p, b[0]);
	if (evbuffer_copyout(in, b, sizeof(b)) < (ev_ssize_t)sizeof(b))
		return 0;
	if ((n = wire_get_len(b)) == WIRE_HELLO_ENV)
		return 0;
	STATS_INC(&p->link.home->stats, rejected_bad_hello);
	snprintf(why, sizeof(why), "first frame is %" PRIu32 " bytes long, "
	    "not a HELLO (%d)", n, WIRE_HELLO_ENV);
	peer_close(p, why);
	return -1;
}

/* The first byte on a WebSocket port: 0 a raw peer, 'G' a browser. */
static void
peer_sniff(struct peer *p, uint8_t first)
{
	if (first == 'G') {
		p->ws = PEER_WS_UPGRADE;
		return;
	}
	p->ws = PEER_WS_NONE;
	if (first == 0 && wire_add_hello(peer_out(p), p->link.home->identity) == 0)
		p->link.last_sent_ms = now_ms();
}

/* Close once what was written is sent (or at the handshake deadline). */
static void
peer_close_when_written(struct peer *p, const char *why)
{
	p->link.closing = why;
	bufferevent_disable(p->bev, EV_READ);
	bufferevent_setwatermark(p->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0)
		peer_close(p, why);
}

/*
 * The HTTP request head of a WebSocket upgrade (wsup.h): answer it, and
 * on success put the WebSocket filter (ws.h) between the connection and
 * the aiomsg decoder, which then sees the binary messages' bytes; our
 * HELLO goes first.  0 (wait, or upgraded), or -1 (closed).
 */
static int
peer_upgrade(struct peer *p)
{
	struct home *h = p->link.home;
	struct evbuffer *in = bufferevent_get_input(p->bev);
	size_t len = evbuffer_get_length(in), used = 0;
	char resp[WSUP_RESP_MAX], why[160];
	struct bufferevent *f;
	enum wsup_result r;
	const char *head;
	char more[LOG_MORE_LEN];
	int64_t k;

	if (len > PEER_WS_HEAD_MAX)
		len = PEER_WS_HEAD_MAX;
	if ((head = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) ==
	    NULL) {
		peer_close(p, "out of memory");
		return -1;
	}
	why[0] = '\0';
	r = wsup_parse(head, len, PEER_WS_HEAD_MAX,
	    h->conf->websocket_origins, resp, sizeof(resp), &used, why,
	    sizeof(why));
	if (r == WSUP_NEED_MORE)
		return 0;
	evbuffer_drain(in, used);
	evbuffer_add(bufferevent_get_output(p->bev), resp, strlen(resp));
	if (r != WSUP_OK) {
		STATS_INC(&h->stats, ws_refused);
		if ((k = log_ratelimit_pass(&h->rl_tls, now_ms())) >= 0)
			log_warnx("socket %s: WebSocket upgrade from %s "
			    "refused: %s%s", h->name, p->link.addr, why,
			    log_more(more, k));
		p->ws = PEER_WS_NONE;
		peer_close_when_written(p, "WebSocket upgrade refused");
		return -1;
	}
	if ((f = ws_wrap(p->bev, h->max_message_size + PEER_WS_SLACK)) ==
	    NULL) {
		p->bev = NULL;
		peer_close(p, "out of memory");
		return -1;
	}
	p->bev = f;
	p->ws = PEER_WS_ON;
	STATS_INC(&h->stats, ws_upgrades);
	log_debug("socket %s: WebSocket client %s upgraded", h->name,
	    p->link.addr);
	bufferevent_setwatermark(f, EV_WRITE, h->conf->peer_buffer / 2, 0);
	bufferevent_setcb(f, peer_readcb, peer_writecb, peer_eventcb, p);
	bufferevent_enable(f, EV_READ | EV_WRITE);
	/* Frames the client sent right behind its request are decoded from
	 * the loop: ws_wrap() schedules it. */
	if (wire_add_hello(peer_out(p), h->identity) == 0)
		p->link.last_sent_ms = now_ms();
	return 0;
}

/*
 * Stop decoding (unless `all`: the peer is closing) while the socket takes
 * nothing, or while this peer's output is full: what it sends makes us
 * queue more for it (ACKs), and it does not read.  The output is looked at
 * once per chain of input (`recheck`), not per frame: a frame queues at
 * most its ACK on the peer's own output (at once only through a route;
 * otherwise when an application confirms it), never more bytes than the
 * frame itself, so the output overshoots peer_buffer by at most one chain
 * (BEV_MAX_SINGLE_IO).
 */
static int
peer_paused(struct peer *p, int all, int recheck)
{
	if (all || p->link.state != LINK_UP)
		return 0;
	if (recheck && !(p->paused & PEER_PAUSE_OUTPUT) && !link_has_room(&p->link))
		peer_pause(p, PEER_PAUSE_OUTPUT);
	return (p->paused & PEER_PAUSE_SOCKET) || (p->paused & PEER_PAUSE_OUTPUT);
}

/* What frames_walk() needs of a peer's decode. */
struct peer_walk {
	struct peer *p;
	int all;
	size_t max_env;
};

static int
peer_frame_length(void *arg, const uint8_t *hdr, size_t have, size_t *len)
{
	struct peer_walk *w = arg;
	struct wire_frame f;

	switch (wire_decode(hdr, have, w->max_env, &f)) {
	case WIRE_TOO_BIG:
		return peer_oversize(w->p);
	case WIRE_NEED_MORE:
		if (have < WIRE_LEN_PREFIX)
			return 0;
		break;
	case WIRE_FRAME:
		break;
	}
	*len = WIRE_LEN_PREFIX + (size_t)f.env_len;
	return 1;
}

static int
peer_frame_take(void *arg, const uint8_t *frame, size_t len)
{
	struct peer_walk *w = arg;

	return peer_take_env(w->p, frame + WIRE_LEN_PREFIX,
	    len - WIRE_LEN_PREFIX);
}

static int
peer_frame_take_large(void *arg, struct evbuffer *in, size_t len)
{
	struct peer_walk *w = arg;
	uint8_t hdr[WIRE_LEN_PREFIX + 1];
	struct wire_frame f;

	evbuffer_copyout(in, hdr, sizeof(hdr));
	f.env_len = (uint32_t)(len - WIRE_LEN_PREFIX);
	f.type = hdr[WIRE_LEN_PREFIX];
	return peer_take_large(w->p, &f);
}

static int
peer_frame_stop(void *arg, int chain)
{
	struct peer_walk *w = arg;

	return peer_paused(w->p, w->all, chain);
}

/*
 * Decode every whole frame in the input buffer (frames.h walks it).
 * While the socket's receive queue is full it stops, leaving the rest
 * buffered, unless `all` (the connection is ending: what arrived is still
 * delivered).  Returns -1 when the peer was closed.
 */
static int
peer_decode(struct peer *p, int all)
{
	static const struct frames_ops ops = {
		.hdr_len = WIRE_LEN_PREFIX + 1,
		.length = peer_frame_length,
		.take = peer_frame_take,
		.take_large = peer_frame_take_large,
		.stop = peer_frame_stop,
	};
	struct evbuffer *in = bufferevent_get_input(p->bev);
	struct peer_walk w = { .p = p, .all = all,
	    .max_env = p->link.home->max_message_size + 1 + WIRE_ID_LEN };
	struct evbuffer_iovec v;

	/* A WebSocket port: the first byte says raw peer or browser. */
	if (p->ws == PEER_WS_SNIFF && evbuffer_peek(in, -1, NULL, &v, 1) >= 1 &&
	    v.iov_len > 0)
		peer_sniff(p, ((const uint8_t *)v.iov_base)[0]);
	if (p->ws == PEER_WS_UPGRADE)
		return peer_upgrade(p);
	if (p->link.state == LINK_HANDSHAKE && peer_hello_prefix(p, in) == -1)
		return -1;
	switch (frames_walk(in, &ops, &w)) {
	case FRAMES_DONE:
		return 0;
	case FRAMES_CLOSED:
		return -1;
	case FRAMES_NOMEM:
		break;
	}
	peer_close(p, "out of memory");
	return -1;
}

static void
peer_readcb(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;

	p->link.last_recv_ms = now_ms();
	if (!peer_paused(p, 0, 1) && bev_read_more(bev) == -1) {
		peer_eventcb(bev, errno == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR,
		    p);
		return;
	}
	peer_decode(p, 0);
}

static void
peer_writecb(struct bufferevent *bev, void *arg)
{
	struct peer *p = arg;

	(void)bev;
	if (p->link.closing != NULL) {
		if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0)
			peer_close(p, p->link.closing);
		return;
	}
	if (p->link.state != LINK_UP)
		return;
	peer_unpause(p, PEER_PAUSE_OUTPUT);
	link_drained(&p->link);
}

/* Is the TCP connection established (not still connecting, not reset)? */
static int
peer_tcp_connected(const struct peer *p)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return getpeername(bufferevent_getfd(p->bev), (struct sockaddr *)&sa,
	    &len) == 0 || errno != ENOTCONN;
}

/*
 * libevent reports a socket error on a TLS connection (a refused connect,
 * a reset) as the end of the stream, leaving the error in errno: tell the
 * two apart by whether the socket is still connected.
 */
static int
peer_socket_failed(const struct peer *p, int err)
{
	if (err == 0 || err == EAGAIN || err == EWOULDBLOCK ||
	    err == EINPROGRESS || err == EINTR)
		return 0;
	return !peer_tcp_connected(p);
}

/*
 * Read what the other side sent before closing a connection whose TLS
 * handshake failed here: closing with unread bytes resets it, and the
 * reset can overtake the alert that tells the other side why.
 */
static void
peer_drain_socket(const struct peer *p)
{
	char buf[4096];
	int fd = bufferevent_getfd(p->bev), i;

	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void
peer_tls_up(struct peer *p)
{
	char session[128], subject[256];

	p->tls_done = 1;
	STATS_INC(&p->link.home->stats, tls_handshakes);
	if (!log_verbose())
		return;
	tls_session(peer_transport(p), session, sizeof(session));
	tls_peer_subject(peer_transport(p), subject, sizeof(subject));
	log_debug("socket %s: TLS with %s: %s, peer certificate %s",
	    p->link.home->name, p->link.addr, session, subject[0] != '\0' ? subject :
	    "none");
}

/*
 * The connection failed before the aiomsg handshake: in the TLS handshake,
 * or just after it when the other side refused our certificate (TLS 1.3
 * tells the client only then).  Counted by cause; for an accepted
 * connection logged here (rate-limited: anyone can connect), for ours by
 * the connector.  -1 when the peer was closed (as everywhere in this
 * file); 0 when TLS is not the cause (its handshake completed and OpenSSL
 * reported nothing) and the caller goes on.
 */
static int
peer_tls_failed(struct peer *p, short what, int err)
{
	struct home *h = p->link.home;
	char reason[256], why[300];
	enum tls_failure cause;
	char more[LOG_MORE_LEN];
	int64_t k;

	cause = tls_failure(peer_transport(p), reason, sizeof(reason));
	/* Nothing from OpenSSL: TCP failed (refused, reset), or TLS is not
	 * the cause of a close after the handshake. */
	if (reason[0] == '\0' && (p->tls_done || (what & BEV_EVENT_ERROR)))
		return 0;
	if (reason[0] == '\0') {
		if ((what & BEV_EVENT_EOF) || err == 0)
			snprintf(reason, sizeof(reason), "closed by the peer%s",
			    p->tls_done ? "" : " (does it speak TLS?)");
		else
			snprintf(reason, sizeof(reason), "%s",
			    evutil_socket_error_to_string(err));
	}
	switch (cause) {
	case TLS_FAIL_NOT_TLS:
		STATS_INC(&h->stats, tls_failed_not_tls);
		break;
	case TLS_FAIL_VERIFY:
		STATS_INC(&h->stats, tls_failed_verify);
		break;
	case TLS_FAIL_NO_CERT:
		STATS_INC(&h->stats, tls_failed_no_cert);
		break;
	case TLS_FAIL_REFUSED:
		STATS_INC(&h->stats, tls_failed_refused);
		break;
	case TLS_FAIL_OTHER:
		STATS_INC(&h->stats, tls_failed_other);
		break;
	}
	snprintf(why, sizeof(why), "TLS handshake: %s", reason);
	if (p->owner != NULL) {
		peer_end(p, why, 0);
		return -1;
	}
	if ((k = log_ratelimit_pass(&h->rl_tls, now_ms())) >= 0)
		log_warnx("socket %s: TLS handshake with %s failed: %s%s",
		    h->name, p->link.addr, reason, log_more(more, k));
	peer_drain_socket(p);
	peer_end(p, why, 1);
	return -1;
}

static void
peer_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct peer *p = arg;
	char why[300], reason[256];
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (p->tls)
			peer_tls_up(p);
		return;
	}
	if (p->tls && (what & BEV_EVENT_EOF) && peer_socket_failed(p, err))
		what = (what & ~BEV_EVENT_EOF) | BEV_EVENT_ERROR;
	if (p->tls && p->link.state == LINK_HANDSHAKE &&
	    peer_tls_failed(p, what, err) == -1)
		return;
	/* Whole frames that arrived before the end are still delivered. */
	if (peer_decode(p, 1) == -1)
		return;
	reason[0] = '\0';
	if (p->tls)
		tls_failure(peer_transport(p), reason, sizeof(reason));
	if (p->link.closing != NULL) {
		peer_close(p, p->link.closing);
		return;
	}
	if (p->ws == PEER_WS_ON && ws_reason(bev) != NULL) {
		if (what & BEV_EVENT_ERROR)
			STATS_INC(&p->link.home->stats, ws_errors);
		snprintf(why, sizeof(why), "WebSocket: %s", ws_reason(bev));
	} else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "closed by the peer%s",
		    evbuffer_get_length(bufferevent_get_input(bev)) > 0 ?
		    " in the middle of a frame" : "");
	else if (reason[0] != '\0')
		snprintf(why, sizeof(why), "TLS: %s", reason);
	else
		snprintf(why, sizeof(why), "%s",
		    evutil_socket_error_to_string(err));
	peer_close(p, why);
}

static void
peer_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;

	(void)fd;
	(void)what;
	if (p->link.closing != NULL) {
		peer_close(p, p->link.closing);
		return;
	}
	if (p->owner != NULL && !peer_tcp_connected(p)) {
		peer_close(p, "TCP connection not established within "
		    "connect_timeout");
		return;
	}
	if (p->tls && !p->tls_done) {
		STATS_INC(&p->link.home->stats, tls_failed_other);
		peer_close(p, "TLS handshake not complete in time (timed out)");
		return;
	}
	if (p->ws == PEER_WS_UPGRADE) {
		STATS_INC(&p->link.home->stats, ws_refused);
		peer_close(p, "WebSocket upgrade request not finished in time "
		    "(timed out)");
		return;
	}
	STATS_INC(&p->link.home->stats, rejected_bad_hello);
	peer_close(p, "no HELLO in time (timed out)");
}

static void
peer_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	uint64_t interval = p->link.home->conf->heartbeat_interval_ms;
	uint64_t idle = now_ms() - p->link.last_sent_ms;

	(void)fd;
	(void)what;
	if (idle >= interval) {
		if (wire_add_heartbeat(peer_out(p)) == 0)
			p->link.last_sent_ms = now_ms();
		idle = 0;
	}
	peer_arm_heartbeat(p, interval - idle);
}

static void
peer_describe(const struct link *l, struct json *j)
{
	const struct peer *p = (const struct peer *)l;
	char text[256];

	json_string(j, "direction", peer_direction(p));
	json_string(j, "transport", p->ws == PEER_WS_ON ? "websocket" :
	    "tcp");
	if (p->tls) {
		tls_session(peer_transport(p), text, sizeof(text));
		json_string(j, "tls", text[0] != '\0' ? text : "handshake");
		tls_peer_subject(peer_transport(p), text, sizeof(text));
		json_string(j, "peer_certificate", text[0] != '\0' ? text :
		    NULL);
	} else {
		json_string(j, "tls", NULL);
		json_string(j, "peer_certificate", NULL);
	}
}
