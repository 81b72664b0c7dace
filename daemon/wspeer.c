/*
 * wspeer: the WebSocket framing of a peer on a bind port with
 * websocket = on (transport.h): the first byte tells a raw aiomsg peer
 * from a browser, whose HTTP upgrade (wsup.h) puts the WebSocket filter
 * (ws.h) between the carrier and the aiomsg session for the rest of the
 * connection.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "log.h"
#include "peer.h"
#include "stats.h"
#include "transport.h"
#include "wire.h"
#include "ws.h"
#include "wsup.h"

/* Longest HTTP request head of a WebSocket upgrade. */
#define WSPEER_HEAD_MAX 8192
/* A WebSocket frame may hold a whole aiomsg frame of the largest message:
 * length, type, msg_id; and then some. */
#define WSPEER_SLACK 64

void
wspeer_sniff(struct peer *p, uint8_t first)
{
	if (first == 'G')
		peer_enter(p, PEER_UPGRADE, NULL);
	else if (first == 0)
		peer_enter(p, PEER_HELLO, NULL);
	/* Anything else is no aiomsg peer: peer_hello_prefix() says so. */
}

/* Close once what was written is sent (or at the handshake deadline). */
static void
wspeer_close_when_written(struct peer *p, const char *why)
{
	peer_enter(p, PEER_CLOSING, why);
	bufferevent_setwatermark(p->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0)
		peer_close(p, why);
}

/*
 * Answer the request head; on success put the WebSocket filter between
 * the connection and the aiomsg decoder, which then sees the binary
 * messages' bytes; our HELLO goes first.
 */
int
wspeer_upgrade(struct peer *p)
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

	if (len > WSPEER_HEAD_MAX)
		len = WSPEER_HEAD_MAX;
	if ((head = (const char *)evbuffer_pullup(in, (ev_ssize_t)len)) ==
	    NULL) {
		peer_close(p, "out of memory");
		return -1;
	}
	why[0] = '\0';
	r = wsup_parse(head, len, WSPEER_HEAD_MAX,
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
		wspeer_close_when_written(p, "WebSocket upgrade refused");
		return -1;
	}
	if ((f = ws_wrap(p->bev, h->max_message_size + WSPEER_SLACK)) ==
	    NULL) {
		p->bev = NULL;
		peer_close(p, "out of memory");
		return -1;
	}
	p->ws = 1;
	STATS_INC(&h->stats, ws_upgrades);
	log_debug("socket %s: WebSocket client %s upgraded", h->name,
	    p->link.addr);
	peer_set_bev(p, f);
	/* Frames the client sent right behind its request are decoded from
	 * the loop: ws_wrap() schedules it. */
	peer_enter(p, PEER_HELLO, NULL);
	return 0;
}

const char *
wspeer_reason(struct peer *p, short what)
{
	const char *why;

	if (!p->ws || (why = ws_reason(p->bev)) == NULL)
		return NULL;
	if (what & BEV_EVENT_ERROR)
		STATS_INC(&p->link.home->stats, ws_errors);
	return why;
}

const char *
wspeer_late(struct peer *p)
{
	if (p->state != PEER_UPGRADE)
		return NULL;
	STATS_INC(&p->link.home->stats, ws_refused);
	return "WebSocket upgrade request not finished in time (timed out)";
}

const char *
wspeer_framing(const struct peer *p)
{
	return p->ws ? "websocket" : "tcp";
}

void
wspeer_end(struct peer *p)
{
	if (p->ws && p->bev != NULL)
		ws_flush(p->bev);
}
