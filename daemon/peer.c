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
#include "transport.h"
#include "wire.h"
#include "ws.h"

static void peer_readcb(struct bufferevent *, void *);
static void peer_writecb(struct bufferevent *, void *);
static void peer_eventcb(struct bufferevent *, short, void *);
static void peer_hello_timeout(evutil_socket_t, short, void *);
static void peer_heartbeat(evutil_socket_t, short, void *);
static void peer_silence(evutil_socket_t, short, void *);
static void peer_pause(struct peer *, unsigned);
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

	if (p == NULL) {
		bufferevent_free(bev);
		return NULL;
	}
	p->link.ops = &peer_link_ops;
	p->owner = owner;
	p->carrier = tls_is_tls(bev) ? &transport_tls : &transport_tcp;
	p->link.state = LINK_HANDSHAKE;
	p->link.since = (uint64_t)time(NULL);
	snprintf(p->link.addr, sizeof(p->link.addr), "%s", addr);
	p->hello_ev = evtimer_new(h->base, peer_hello_timeout, p);
	p->heartbeat_ev = evtimer_new(h->base, peer_heartbeat, p);
	p->silence_ev = evtimer_new(h->base, peer_silence, p);
	p->link.home = h;               /* for the carrier, until attached */
	if (p->carrier->init(p) == -1) {
		bufferevent_free(bev);
		peer_free(p);
		return NULL;
	}
	p->bev = bev;
	/* A WebSocket port answers in kind: its HELLO waits for the first
	 * byte, which says whether a raw peer or a browser is there. */
	if (p->hello_ev == NULL || p->heartbeat_ev == NULL ||
	    p->silence_ev == NULL ||
	    peer_enter(p, owner == NULL && h->conf->websocket ? PEER_SNIFF :
	    PEER_HELLO, NULL) == -1) {
		peer_free(p);
		return NULL;
	}
	p->link.last_sent_ms = now_ms();
	evtimer_add(p->hello_ev, &tv);
	peer_set_bev(p, bev);
	link_attach(h, &p->link);
	return p;
}

void
peer_set_bev(struct peer *p, struct bufferevent *bev)
{
	p->bev = bev;
	/* The write callback means "room again": below half the limit. */
	bufferevent_setwatermark(bev, EV_WRITE,
	    p->link.home->conf->peer_buffer / 2, 0);
	bufferevent_setcb(bev, peer_readcb, peer_writecb, peer_eventcb, p);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
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
	wspeer_end(p);
	p->carrier->end(p);
	if (p->bev != NULL)
		bufferevent_free(p->bev);
	free(p);
}

static void
peer_free_link(struct link *l)
{
	peer_free((struct peer *)l);
}

struct bufferevent *
peer_carrier(const struct peer *p)
{
	struct bufferevent *u = p->ws ? ws_underlying(p->bev) : NULL;

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

void
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

	if (p->state == PEER_CLOSING)
		return;
	peer_enter(p, PEER_CLOSING, why);
	/* The handshake timer's callback closes a peer marked closing. */
	event_active(p->hello_ev, EV_TIMEOUT, 0);
}

struct evbuffer *
peer_out(struct peer *p)
{
	if (p->carrier->out == NULL)
		return bufferevent_get_output(p->bev);
	return p->carrier->out(p);
}

static size_t
peer_unflushed(const struct link *l)
{
	const struct peer *p = (const struct peer *)l;

	return evbuffer_get_length(bufferevent_get_output(p->bev)) +
	    (p->carrier->held != NULL ? p->carrier->held(p) : 0);
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

/* Which transitions peer_enter() takes (see enum peer_state). */
static int
peer_may_enter(enum peer_state from, enum peer_state to)
{
	switch (to) {
	case PEER_NEW:
		return 0;
	case PEER_SNIFF:
		return from == PEER_NEW;
	case PEER_UPGRADE:
		return from == PEER_SNIFF;
	case PEER_HELLO:
		return from == PEER_NEW || from == PEER_SNIFF ||
		    from == PEER_UPGRADE;
	case PEER_UP:
		return from == PEER_HELLO;
	case PEER_CLOSING:
		return from != PEER_NEW && from != PEER_CLOSING;
	}
	return 0;
}

int
peer_enter(struct peer *p, enum peer_state to, const char *why)
{
	struct home *h = p->link.home;
	char more[LOG_MORE_LEN];
	int64_t k;

	if (!peer_may_enter(p->state, to))
		fatalx("peer %s: state %d to %d", p->link.addr, p->state, to);
	p->state = to;
	switch (to) {
	case PEER_NEW:
	case PEER_SNIFF:
	case PEER_UPGRADE:
		break;
	case PEER_HELLO:
		if (wire_add_hello(peer_out(p), h->identity) == -1)
			return -1;
		p->link.last_sent_ms = now_ms();
		break;
	case PEER_UP:
		evtimer_del(p->hello_ev);
		p->last_frame_ms = now_ms();
		peer_arm_silence(p, h->conf->heartbeat_timeout_ms);
		peer_arm_heartbeat(p, h->conf->heartbeat_interval_ms);
		if ((k = peer_log_pass(h)) >= 0)
			log_info("socket %s: peer %s (%s, %s) up%s", h->name,
			    p->link.identity_hex, p->link.addr,
			    peer_direction(p), log_more(more, k));
		break;
	case PEER_CLOSING:
		snprintf(p->closing_why, sizeof(p->closing_why), "%s", why);
		p->link.closing = p->closing_why;
		peer_pause(p, PEER_PAUSE_SOCKET | PEER_PAUSE_OUTPUT);
		break;
	}
	return 0;
}

/* The peer's HELLO (env, n bytes): -1 when the peer was closed. */
static int
peer_take_hello(struct peer *p, int type, const uint8_t *env, size_t n)
{
	struct home *h = p->link.home;
	char why[96];

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
	/* Bringing it up may have made the core close it already (a
	 * publish that found it full): its close is on its way. */
	if (p->state != PEER_CLOSING)
		peer_enter(p, PEER_UP, NULL);
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
	if (p->state == PEER_SNIFF && evbuffer_peek(in, -1, NULL, &v, 1) >= 1 &&
	    v.iov_len > 0)
		wspeer_sniff(p, ((const uint8_t *)v.iov_base)[0]);
	if (p->state == PEER_UPGRADE)
		return wspeer_upgrade(p);
	/* Refused before its handshake: nothing it sends counts. */
	if (p->state == PEER_CLOSING && p->link.state != LINK_UP)
		return 0;
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

/*
 * The connection's events: the carrier says what it makes of them (a
 * failed handshake closes at once); whole frames that arrived before the
 * end are still delivered; then the peer closes with the most telling
 * cause.
 */
static void
peer_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct peer *p = arg;
	char why[300], reason[256];
	const char *framing;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		p->carrier->connected(p);
		return;
	}
	if (p->carrier->failed(p, &what, err) == -1)
		return;
	if (peer_decode(p, 1) == -1)
		return;
	p->carrier->reason(p, reason, sizeof(reason));
	if (p->link.closing != NULL) {
		peer_close(p, p->link.closing);
		return;
	}
	if ((framing = wspeer_reason(p, what)) != NULL)
		snprintf(why, sizeof(why), "WebSocket: %s", framing);
	else if (what & BEV_EVENT_EOF)
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
	const char *late;

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
	if ((late = p->carrier->late(p)) != NULL ||
	    (late = wspeer_late(p)) != NULL) {
		peer_close(p, late);
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

	json_string(j, "direction", peer_direction(p));
	json_string(j, "transport", wspeer_framing(p));
	p->carrier->describe(p, j);
}
