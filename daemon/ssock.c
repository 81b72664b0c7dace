/* ssock: routing, queues and acknowledgements of a smart socket (ssock.h). */
#include <sys/time.h>
#include <sys/resource.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/util.h>

#include "budget.h"
#include "endpoint.h"
#include "idmap.h"
#include "local.h"
#include "log.h"
#include "lproto.h"
#include "parse.h"
#include "route.h"
#include "ssock.h"

enum route_result {
	ROUTE_SENT,             /* written; the reference was consumed */
	ROUTE_WAIT,             /* no peer can take it now; still ours */
	ROUTE_UNREACHABLE,      /* targeted at an identity that is not here */
};

/* Longest wait between resends of a message on a connection that is up. */
#define SSOCK_RESEND_MAX_MS (60 * 1000)

static void ssock_link_attach(struct home *, struct link *);
static int ssock_link_up(struct link *);
static void ssock_link_down(struct link *);
static void ssock_link_received(struct link *, struct msg *);
static void ssock_link_acked(struct link *, const uint8_t[16]);
static void ssock_link_drained(struct link *);

/* What its links report (link.h). */
static const struct link_events ssock_link_events = {
	.attach = ssock_link_attach,
	.up = ssock_link_up,
	.down = ssock_link_down,
	.received = ssock_link_received,
	.acked = ssock_link_acked,
	.drained = ssock_link_drained,
};

/* The socket whose home h is. */
static struct ssock *
ssock_of(const struct home *h)
{
	return (struct ssock *)(void *)((char *)(uintptr_t)h -
	    offsetof(struct ssock, home));
}

static void ssock_resend(evutil_socket_t, short, void *);
static void ssock_flush_sendq(struct ssock *);
static void ssock_slow_check(evutil_socket_t, short, void *);
static void ssock_pause_reading(struct ssock *);
static int ssock_recv_full(const struct ssock *);

static int
ssock_at_least_once(const struct ssock *ss)
{
	return ss->home.conf->delivery == DELIVERY_AT_LEAST_ONCE;
}

static void
ssock_new_identity(uint8_t id[16])
{
	evutil_secure_rng_get_bytes(id, 16);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);      /* UUID version 4 */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);      /* RFC 4122 variant */
}

struct ssock *
ssock_new(struct event_base *base, const struct socket_conf *conf,
    size_t max_message_size)
{
	struct ssock *ss = calloc(1, sizeof(*ss));

	if (ss == NULL)
		return NULL;
	ss->home.events = &ssock_link_events;
	ss->home.conf = conf;
	ss->home.name = conf->name;
	ss->home.base = base;
	ss->home.max_message_size = max_message_size;
	ss->home.rl_tls.burst = 10;          /* each failed handshake is news */
	ss->home.rl_peers.burst = 100;       /* churn past that is one storm */
	if (conf->has_identity)
		memcpy(ss->home.identity, conf->identity, sizeof(ss->home.identity));
	else
		ssock_new_identity(ss->home.identity);
	format_identity(ss->home.identity, ss->home.identity_hex);
	TAILQ_INIT(&ss->links);
	TAILQ_INIT(&ss->active);
	msg_fifo_init(&ss->sendq);
	msg_fifo_init(&ss->pending);
	msg_fifo_init(&ss->recvq);
	ss->active_by_id = idmap_new();
	ss->pending_by_id = idmap_new();
	ss->inbound_by_id = idmap_new();
	ss->resend_ev = evtimer_new(base, ssock_resend, ss);
	ss->slow_ev = evtimer_new(base, ssock_slow_check, ss);
	if (ss->active_by_id == NULL || ss->pending_by_id == NULL ||
	    ss->inbound_by_id == NULL || ss->resend_ev == NULL ||
	    ss->slow_ev == NULL) {
		log_warnx("socket %s: out of memory", ss->home.name);
		ssock_free(ss);
		return NULL;
	}
	return ss;
}

int
ssock_open(struct ssock *ss, struct evdns_base *dns, struct tls *tls,
    const char *runtime_dir)
{
	const struct socket_conf *conf = ss->home.conf;
	char path[4096];

	ss->tls = tls;
	ss->dns = dns;
	snprintf(path, sizeof(path), "%s/%s.sock", runtime_dir, conf->name);
	if ((ss->local = local_new(ss, path)) == NULL)
		return -1;
	ss->app_sink = local_sink(ss->local);
	if (ss->sink == NULL)
		ss->sink = ss->app_sink;
	if ((ss->endpoints = endpoints_start(ss)) == NULL)
		return -1;
	log_info("socket %s: identity %s, %s, %s%s, application socket %s",
	    ss->home.name, ss->home.identity_hex,
	    conf->send_mode == SEND_PUBLISH ? "publish" : "roundrobin",
	    ssock_at_least_once(ss) ? "at-least-once" : "at-most-once",
	    tls != NULL ? ", TLS" : "", path);
	return 0;
}

void
ssock_set_conf(struct ssock *ss, const struct socket_conf *conf,
    struct tls *tls)
{
	struct link *p;

	ss->home.conf = conf;
	ss->tls = tls;
	ss->home.name = conf->name;
	TAILQ_FOREACH(p, &ss->links, entry)
		p->ops->reconfigure(p);
	if (ss->endpoints != NULL)
		endpoints_reconfigure(ss->endpoints, conf, ENDPOINTS_DROP);
}

void
ssock_conf_applied(struct ssock *ss)
{
	local_reconfigure(ss->local);
	/* A larger send buffer may unblock senders, a larger receive
	 * buffer may resume reading, a smaller one may pause it. */
	ssock_flush_sendq(ss);
	ssock_deliver_queued(ss);
	if (!ss->reading_paused && ssock_recv_full(ss))
		ssock_pause_reading(ss);
}

void
ssock_budget_relief(struct ssock *ss)
{
	ssock_flush_sendq(ss);
	ssock_deliver_queued(ss);
}

/* Descriptors besides the sockets' own: standard streams, the event loop,
 * the resolver, syslog, control.sock and its clients (at most 32). */
#define SSOCK_FD_DAEMON 48

static void
ssock_format_rlim(rlim_t v, char *buf, size_t len)
{
	if (v == RLIM_INFINITY)
		snprintf(buf, len, "unlimited");
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

static uint64_t
ssock_add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

void
ssock_check_fd_limit(const struct config *cfg)
{
	const struct socket_conf *sc;
	struct rlimit rl;
	char soft[32], hard[32];
	uint64_t need = SSOCK_FD_DAEMON, finite = 0;
	size_t i;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1) {
		log_warn("getrlimit RLIMIT_NOFILE");
		return;
	}
	ssock_format_rlim(rl.rlim_cur, soft, sizeof(soft));
	ssock_format_rlim(rl.rlim_max, hard, sizeof(hard));
	log_info("descriptor limit (RLIMIT_NOFILE): soft %s, hard %s", soft,
	    hard);
	/* A "*" bind may listen on two addresses; unlimited adds nothing. */
	for (i = 0; i < cfg->nsockets; i++) {
		sc = &cfg->sockets[i];
		need = ssock_add_sat(need, 1 + 2 * sc->nbinds);
		if (sc->max_peers != CONFIG_UNLIMITED) {
			need = ssock_add_sat(need, sc->max_peers);
			finite = 1;
		} else
			need = ssock_add_sat(need, sc->nconnects);
		if (sc->max_clients != CONFIG_UNLIMITED) {
			need = ssock_add_sat(need, sc->max_clients);
			finite = 1;
		}
	}
	if (finite && rl.rlim_cur != RLIM_INFINITY && need > rl.rlim_cur)
		log_warnx("max_peers and max_clients allow about %" PRIu64
		    " descriptors, more than the soft limit of %s: past it, "
		    "accepting pauses until descriptors are free (raise "
		    "LimitNOFILE= or ulimit -n)", need, soft);
}

void
ssock_stop_accepting(struct ssock *ss)
{
	if (ss->endpoints != NULL)
		endpoints_stop_accepting(ss->endpoints);
	if (ss->local != NULL)
		local_stop_accepting(ss->local);
}

size_t
ssock_unflushed(const struct ssock *ss)
{
	const struct link *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &ss->active, active_entry)
		n += p->ops->unflushed(p);
	return n;
}

/* --- the queues and their limits --------------------------------------- */

/* Into pending, in deadline order (nearly always at the end). */
static void
pending_insert(struct ssock *ss, struct msg *m)
{
	struct msg *at = TAILQ_LAST(&ss->pending.q, msg_queue);

	while (at != NULL && at->deadline_ms > m->deadline_ms)
		at = TAILQ_PREV(at, msg_queue, entry);
	msg_fifo_insert_after(&ss->pending, at, m);
}

/* Out of pending (and its index); the reference stays the caller's. */
static void
pending_remove(struct ssock *ss, struct msg *m)
{
	msg_fifo_remove(&ss->pending, m);
	idmap_del(ss->pending_by_id, m->msg_id);
}

/* What the socket holds for peers has reached send_buffer(_size), or the
 * daemon its max_memory. */
static int
ssock_send_full(const struct ssock *ss)
{
	const struct socket_conf *c = ss->home.conf;

	return (c->send_buffer != CONFIG_UNLIMITED &&
	    ss->sendq.len + ss->pending.len >= c->send_buffer) ||
	    ss->sendq.bytes + ss->pending.bytes >= c->send_buffer_size ||
	    budget_over();
}

/* What waits for applications has reached recv_buffer(_size), or the
 * daemon its max_memory. */
static int
ssock_recv_full(const struct ssock *ss)
{
	const struct socket_conf *c = ss->home.conf;

	return (c->recv_buffer != CONFIG_UNLIMITED &&
	    ss->recvq.len >= c->recv_buffer) ||
	    ss->recvq.bytes >= c->recv_buffer_size || budget_over();
}

/* ... and is back to 3/4 of both limits (so reading does not flap). */
static int
ssock_recv_roomy(const struct ssock *ss)
{
	const struct socket_conf *c = ss->home.conf;

	return (c->recv_buffer == CONFIG_UNLIMITED ||
	    ss->recvq.len <= c->recv_buffer / 4 * 3) &&
	    ss->recvq.bytes <= c->recv_buffer_size / 4 * 3 && !budget_over();
}

void
ssock_free(struct ssock *ss)
{
	struct link *p;
	size_t lost, unacked;

	if (ss == NULL)
		return;
	ss->closing = 1;
	routes_forget(ss);
	lost = ss->sendq.len;
	if (lost > 0) {
		STATS_ADD(&ss->home.stats, drops_shutdown, lost);
		log_warnx("socket %s: %zu messages not delivered to any peer "
		    "at shutdown", ss->home.name, lost);
	}
	if ((unacked = ss->pending.len) > 0)
		log_info("socket %s: %zu messages sent to a peer and not "
		    "acknowledged yet at shutdown (the peer may have them)",
		    ss->home.name, unacked);
	if (ss->recvq.len > 0)
		log_warnx("socket %s: %zu received messages never taken by %s",
		    ss->home.name, ss->recvq.len, ss->sink != NULL ?
		    ss->sink->what : "anything");
	endpoints_free(ss->endpoints);
	while ((p = TAILQ_FIRST(&ss->links)) != NULL) {
		TAILQ_REMOVE(&ss->links, p, entry);
		ss->nlinks--;
		route_link_gone(p);
		p->ops->free(p);
	}
	local_free(ss->local);
	msg_fifo_clear(&ss->sendq);
	msg_fifo_clear(&ss->pending);
	msg_fifo_clear(&ss->recvq);
	idmap_free(ss->active_by_id);
	idmap_free(ss->pending_by_id);
	idmap_free(ss->inbound_by_id);
	if (ss->resend_ev != NULL)
		event_free(ss->resend_ev);
	if (ss->slow_ev != NULL)
		event_free(ss->slow_ev);
	free(ss);
}

/* --- sending ----------------------------------------------------------- */

static void
ssock_log_drop(struct ssock *ss, const char *what)
{
	char more[LOG_MORE_LEN];
	int64_t n;

	if ((n = log_ratelimit_pass(&ss->rl_drop, now_ms())) >= 0)
		log_warnx("socket %s: dropped a message: %s%s", ss->home.name, what,
		    log_more(more, n));
}

/* A copy of m the socket may keep (m itself unless borrowed); NULL after
 * counting and logging the drop when there is no memory for it. */
static struct msg *
ssock_keep(struct ssock *ss, struct msg *m)
{
	struct msg *kept;

	if ((kept = msg_keep(m)) == NULL) {
		STATS_INC(&ss->home.stats, drops_overflow);
		ssock_log_drop(ss, "out of memory");
	}
	return kept;
}

/* At the tail of the send queue, as a copy the socket keeps: an lproto
 * status. */
static int
ssock_queue(struct ssock *ss, struct msg *m)
{
	if ((m = ssock_keep(ss, m)) == NULL)
		return LPROTO_ST_NO_BUFFER;
	msg_fifo_push(&ss->sendq, m, 0);
	return LPROTO_OK;
}

static void
ssock_arm_resend(struct ssock *ss)
{
	struct msg *m = TAILQ_FIRST(&ss->pending.q);
	uint64_t now, ms;
	struct timeval tv;

	if (m == NULL || evtimer_pending(ss->resend_ev, NULL))
		return;
	now = now_ms();
	ms = m->deadline_ms > now ? m->deadline_ms - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ss->resend_ev, &tv);
}

/*
 * How long a message just written waits for its ACK before it goes out
 * again: resend_timeout, doubled by each resend since it last went out, up
 * to SSOCK_RESEND_MAX_MS (or resend_timeout, if longer).  A receiver that
 * is slow to take what it has is asked again ever more rarely.
 */
static uint64_t
ssock_resend_after(const struct ssock *ss, const struct msg *m)
{
	uint64_t t = ss->home.conf->resend_timeout_ms;
	uint64_t cap = t > SSOCK_RESEND_MAX_MS ? t : SSOCK_RESEND_MAX_MS;
	unsigned k;

	for (k = 0; k < m->resends && t < cap; k++)
		t *= 2;
	return t < cap ? t : cap;
}

/* Write to one peer; at-least-once keeps the message pending. */
static void
ssock_write(struct ssock *ss, struct link *p, struct msg *m)
{
	struct msg *kept;

	if (m->route_id != 0)
		route_sent(p, m);
	if (!ssock_at_least_once(ss)) {
		p->ops->send(p, m);
		msg_unref(m);
		return;
	}
	if ((kept = msg_keep(m)) == NULL) {
		/* Cannot track it: it goes out once, at most once. */
		p->ops->send(p, m);
		msg_unref(m);
		return;
	}
	m = kept;
	if (!(m->flags & MSG_HAS_ID)) {
		evutil_secure_rng_get_bytes(m->msg_id, sizeof(m->msg_id));
		m->flags |= MSG_HAS_ID;
	}
	p->ops->send(p, m);
	m->sent_to = p;
	m->deadline_ms = now_ms() + ssock_resend_after(ss, m);
	if (idmap_put(ss->pending_by_id, m->msg_id, m) == -1) {
		/* Cannot track it: it was sent once, at most once. */
		msg_unref(m);
		return;
	}
	pending_insert(ss, m);
	ssock_arm_resend(ss);
}

/* The next active peer with room, round-robin. */
static struct link *
ssock_pick(struct ssock *ss)
{
	struct link *p;
	size_t i;

	if (ss->nactive == 0)
		return NULL;
	p = ss->rr_next != NULL ? ss->rr_next : TAILQ_FIRST(&ss->active);
	for (i = 0; i < ss->nactive; i++) {
		if (link_has_room(p)) {
			ss->rr_next = TAILQ_NEXT(p, active_entry);
			return p;
		}
		if ((p = TAILQ_NEXT(p, active_entry)) == NULL)
			p = TAILQ_FIRST(&ss->active);
	}
	return NULL;
}

/*
 * Publish with overflow = block: a message waits while any subscriber's
 * queue is full.  A full subscriber that holds the others back (one of
 * them has room) and has taken nothing (its output not drained to half)
 * for subscriber_timeout is disconnected.  Returns how many subscribers
 * are full and stay; arms slow_ev for the first of them to reach the
 * timeout.  When every subscriber is full nobody is held back by another:
 * that is back-pressure, and no clock runs.
 */
static size_t
ssock_slow_subscribers(struct ssock *ss)
{
	uint64_t now = now_ms(), limit = ss->home.conf->subscriber_timeout_ms;
	uint64_t next = 0;
	struct link *p;
	struct timeval tv;
	size_t full = 0, room = 0;
	char why[160];

	TAILQ_FOREACH(p, &ss->active, active_entry)
		if (p->closing == NULL && link_has_room(p))
			room++;
	TAILQ_FOREACH(p, &ss->active, active_entry) {
		if (p->closing != NULL || link_has_room(p))
			continue;
		/* Its clock starts when another has room, not before. */
		if (room == 0 || p->full_since_ms == 0 || ss->all_full)
			p->full_since_ms = now;
		if (now - p->full_since_ms >= limit) {
			STATS_INC(&ss->home.stats, slow_peers_closed);
			snprintf(why, sizeof(why), "a subscriber that does not "
			    "read: %zu bytes queued, nothing taken for %" PRIu64
			    " ms while others waited", p->ops->unflushed(p),
			    now - p->full_since_ms);
			p->ops->close_soon(p, why);
			continue;
		}
		full++;
		if (next == 0 || p->full_since_ms + limit < next)
			next = p->full_since_ms + limit;
	}
	ss->all_full = room == 0;
	if (room > 0 && next != 0) {
		tv.tv_sec = (next - now) / 1000;
		tv.tv_usec = (next - now) % 1000 * 1000;
		evtimer_add(ss->slow_ev, &tv);
	}
	return full;
}

/* A subscriber may have reached subscriber_timeout: look, and go on. */
static void
ssock_slow_check(evutil_socket_t fd, short what, void *arg)
{
	struct ssock *ss = arg;

	(void)fd;
	(void)what;
	if (!TAILQ_EMPTY(&ss->sendq.q) && ssock_slow_subscribers(ss) == 0)
		ssock_flush_sendq(ss);
}

/*
 * A copy for every subscriber.  With overflow = block the message waits
 * while a subscriber is full, so none that reads loses anything, and one
 * that does not is disconnected after subscriber_timeout (above).  With
 * drop-new and drop-old a full subscriber loses its copy instead
 * (counted), so it never holds back the others.
 */
static enum route_result
ssock_publish(struct ssock *ss, struct msg *m)
{
	struct link *p;
	size_t subscribers = 0;

	if (ss->home.conf->overflow == OVERFLOW_BLOCK &&
	    ssock_slow_subscribers(ss) > 0)
		return ROUTE_WAIT;
	TAILQ_FOREACH(p, &ss->active, active_entry) {
		if (p->closing != NULL)
			continue;
		subscribers++;
		if (link_has_room(p)) {
			if (m->route_id != 0)
				route_sent(p, m);
			p->ops->send(p, m);
			continue;
		}
		STATS_INC(&ss->home.stats, drops_slow_peer);
		p->drops++;
		ssock_log_drop(ss, "a subscriber's queue is full");
	}
	if (subscribers == 0)
		return ROUTE_WAIT;      /* none, or every one is closing */
	msg_unref(m);
	return ROUTE_SENT;
}

static enum route_result
ssock_route(struct ssock *ss, struct msg *m)
{
	struct link *p;

	if (m->flags & MSG_TARGETED) {
		if ((p = idmap_get(ss->active_by_id, m->peer_id)) == NULL)
			return ROUTE_UNREACHABLE;
		if (!link_has_room(p))
			return ROUTE_WAIT;
	} else if (ss->home.conf->send_mode == SEND_PUBLISH)
		return ssock_publish(ss, m);
	else if ((p = ssock_pick(ss)) == NULL)
		return ROUTE_WAIT;
	ssock_write(ss, p, m);
	return ROUTE_SENT;
}

int
ssock_send_blocked(const struct ssock *ss)
{
	return ss->home.conf->overflow == OVERFLOW_BLOCK && ssock_send_full(ss);
}

/* Send what waits in the send queue, in order, while peers take it. */
static void
ssock_flush_sendq(struct ssock *ss)
{
	struct msg *m;

	while ((m = msg_fifo_pop(&ss->sendq)) != NULL) {
		switch (ssock_route(ss, m)) {
		case ROUTE_SENT:
			continue;
		case ROUTE_UNREACHABLE:
			STATS_INC(&ss->home.stats, drops_unroutable);
			ssock_log_drop(ss, "its target identity left");
			msg_unref(m);
			continue;
		case ROUTE_WAIT:
			msg_fifo_push(&ss->sendq, m, 1);
			break;
		}
		break;
	}
	if (!ssock_send_blocked(ss)) {
		if (ss->local != NULL)
			local_resume_reading(ss->local);
		route_target_ready(ss);
	}
}

/*
 * The socket holds all it may (ssock_send_full()): the overflow policy.
 * drop-old drops the oldest message still waiting for a peer (those
 * awaiting an ACK are out already); block keeps the message, since
 * applications are not read again until there is room.  Returns an
 * lproto status.
 */
static int
ssock_overflow(struct ssock *ss, struct msg *m)
{
	struct msg *old;

	switch (ss->home.conf->overflow) {
	case OVERFLOW_DROP_OLD:
		if ((old = msg_fifo_pop(&ss->sendq)) != NULL) {
			msg_unref(old);
			STATS_INC(&ss->home.stats, drops_overflow);
			ssock_log_drop(ss, "send buffer full (drop-old)");
			break;
		}
		/* Nothing older is still here: drop the new one. */
		/* FALLTHROUGH */
	case OVERFLOW_DROP_NEW:
		STATS_INC(&ss->home.stats, drops_overflow);
		ssock_log_drop(ss, ss->home.conf->overflow == OVERFLOW_DROP_NEW ?
		    "send buffer full (drop-new)" : "send buffer full of "
		    "messages awaiting their ACK (drop-old)");
		msg_unref(m);
		return LPROTO_ST_NO_BUFFER;
	case OVERFLOW_BLOCK:
		break;
	}
	return ssock_queue(ss, m);
}

int
ssock_app_send(struct ssock *ss, struct msg *m)
{
	if ((m->flags & MSG_TARGETED) &&
	    idmap_get(ss->active_by_id, m->peer_id) == NULL) {
		msg_unref(m);
		return LPROTO_ST_UNREACHABLE;
	}
	if (ssock_send_full(ss))
		return ssock_overflow(ss, m);
	/* Behind queued messages it must wait its turn, to keep order. */
	if (TAILQ_EMPTY(&ss->sendq.q) && ssock_route(ss, m) == ROUTE_SENT)
		return LPROTO_OK;
	return ssock_queue(ss, m);
}

/*
 * Messages whose ACK is overdue go out again, to any peer with room (a
 * resend may go to another peer), with the next wait doubled.  With no
 * peer that has room they stay where they are, on a connection that is
 * up: a slow receiver is back-pressure, never a reason to give up.
 */
static void
ssock_resend(evutil_socket_t fd, short what, void *arg)
{
	struct ssock *ss = arg;
	uint64_t now = now_ms();
	struct msg *m;

	(void)fd;
	(void)what;
	while ((m = TAILQ_FIRST(&ss->pending.q)) != NULL &&
	    m->deadline_ms <= now) {
		pending_remove(ss, m);
		m->resends++;
		switch (ssock_route(ss, m)) {
		case ROUTE_SENT:
			STATS_INC(&ss->home.stats, resends);
			break;
		case ROUTE_WAIT:
			/* Still on its connection: ask again later. */
			m->deadline_ms = now + ssock_resend_after(ss, m);
			if (idmap_put(ss->pending_by_id, m->msg_id, m) == -1) {
				msg_fifo_push(&ss->sendq, m, 1);
				break;
			}
			pending_insert(ss, m);
			break;
		case ROUTE_UNREACHABLE:
			STATS_INC(&ss->home.stats, drops_unroutable);
			ssock_log_drop(ss, "its target identity left");
			msg_unref(m);
			break;
		}
	}
	ssock_arm_resend(ss);
}

/* --- peers --------------------------------------------------------------- */

/* A message no receiver survived: counted, and logged with the total. */
static void
ssock_give_up(struct ssock *ss, struct msg *m)
{
	char more[LOG_MORE_LEN];
	int64_t n;

	STATS_INC(&ss->home.stats, giveups);
	if ((n = log_ratelimit_pass(&ss->rl_giveup, now_ms())) >= 0)
		log_warnx("socket %s: gave up on a message: %u connections "
		    "closed while it was on them without its ACK (max_retries "
		    "%" PRIu64 "); %" PRIu64 " given up in all%s", ss->home.name,
		    m->lost, ss->home.conf->max_retries, ss->home.stats.giveups,
		    log_more(more, n));
	msg_unref(m);
}

static void
ssock_link_attach(struct home *home, struct link *l)
{
	struct ssock *ss = ssock_of(home);

	l->home = home;
	l->state = LINK_HANDSHAKE;
	TAILQ_INSERT_TAIL(&ss->links, l, entry);
	ss->nlinks++;
}

struct ssock *
ssock_list_find(struct ssock_list *list, const char *name)
{
	struct ssock *ss;

	TAILQ_FOREACH(ss, list, entry)
		if (strcmp(ss->home.name, name) == 0)
			return ss;
	return NULL;
}

size_t
ssock_npeers(const struct ssock *ss)
{
	return ss->nlinks;
}

void
ssock_foreach_link(const struct ssock *ss,
    void (*fn)(const struct link *, void *), void *arg)
{
	const struct link *p;

	TAILQ_FOREACH(p, &ss->links, entry)
		fn(p, arg);
}

static int
ssock_link_up(struct link *p)
{
	struct ssock *ss = ssock_of(p->home);

	if (idmap_get(ss->active_by_id, p->identity) != NULL ||
	    idmap_put(ss->active_by_id, p->identity, p) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&ss->active, p, active_entry);
	ss->nactive++;
	p->state = LINK_UP;
	if (ss->reading_paused)
		p->ops->pause(p);
	ssock_flush_sendq(ss);
	return 0;
}

static void
ssock_link_down(struct link *p)
{
	struct ssock *ss = ssock_of(p->home);
	struct msg_queue back;
	struct msg *m, *next;
	size_t n = 0;

	TAILQ_REMOVE(&ss->links, p, entry);
	ss->nlinks--;
	if (p->state != LINK_UP)
		return;
	route_link_gone(p);
	idmap_del(ss->active_by_id, p->identity);
	if (ss->rr_next == p)
		ss->rr_next = TAILQ_NEXT(p, active_entry);
	TAILQ_REMOVE(&ss->active, p, active_entry);
	ss->nactive--;
	if (ss->closing)
		return;
	/* What it never acknowledged goes out again first, in order, unless
	 * it has now been on max_retries connections that all closed. */
	TAILQ_INIT(&back);
	for (m = TAILQ_FIRST(&ss->pending.q); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->sent_to != p)
			continue;
		pending_remove(ss, m);
		m->sent_to = NULL;
		m->resends = 0;
		if (ss->home.conf->max_retries != CONFIG_UNLIMITED &&
		    ++m->lost > ss->home.conf->max_retries) {
			ssock_give_up(ss, m);
			continue;
		}
		TAILQ_INSERT_TAIL(&back, m, entry);
		n++;
	}
	if (n == 0)
		return;
	msg_fifo_prepend(&ss->sendq, &back);
	log_debug("socket %s: %zu unacknowledged messages of %s queued again",
	    ss->home.name, n, p->identity_hex);
	ssock_flush_sendq(ss);
}

static void
ssock_link_drained(struct link *p)
{
	struct ssock *ss = ssock_of(p->home);

	p->full_since_ms = 0;
	if (!TAILQ_EMPTY(&ss->sendq.q))
		ssock_flush_sendq(ss);
}

static void
ssock_link_acked(struct link *l, const uint8_t msg_id[16])
{
	struct ssock *ss = ssock_of(l->home);
	struct msg *m = idmap_get(ss->pending_by_id, msg_id);
	int was_full;

	if (m == NULL)
		return;         /* late or duplicate ACK */
	was_full = ssock_send_full(ss);
	pending_remove(ss, m);
	msg_unref(m);
	/* Awaiting an ACK counts in send_buffer: room for what waits. */
	if (was_full && !ssock_send_full(ss))
		ssock_flush_sendq(ss);
}

static void
ssock_pause_reading(struct ssock *ss)
{
	struct link *p;
	char more[LOG_MORE_LEN];
	int64_t n;

	ss->reading_paused = 1;
	/* Under a steady overload this flaps: one line per period is news. */
	if ((n = log_ratelimit_pass(&ss->rl_paused, now_ms())) >= 0)
		log_info("socket %s: %zu received messages wait for %s; "
		    "not reading from peers until they are taken%s",
		    ss->home.name, ss->recvq.len, ss->sink != NULL ?
		    ss->sink->waits_for : "a receiver", log_more(more, n));
	TAILQ_FOREACH(p, &ss->active, active_entry)
		p->ops->pause(p);
}

static void
ssock_resume_reading(struct ssock *ss)
{
	struct link *p;

	ss->reading_paused = 0;
	log_debug("socket %s: reading from peers again", ss->home.name);
	TAILQ_FOREACH(p, &ss->active, active_entry)
		p->ops->resume(p);
}

/* A received message to the socket's sink: 1 taken (the reference is
 * the sink's), 0 not now. */
static int
ssock_take(struct ssock *ss, struct msg *m)
{
	return ss->sink != NULL && ss->sink->take(ss->sink->arg, m);
}

void
ssock_set_sink(struct ssock *ss, const struct ssock_sink *sink)
{
	ss->sink = sink != NULL ? sink : ss->app_sink;
}

int
ssock_to_applications(const struct ssock *ss)
{
	return ss->sink == ss->app_sink;
}

static void
ssock_link_received(struct link *p, struct msg *m)
{
	struct ssock *ss = ssock_of(p->home);
	struct msg *kept;

	if (m->flags & MSG_HAS_ID) {
		if (idmap_get(ss->inbound_by_id, m->msg_id) != NULL) {
			/* A resend of what still waits here: keep one copy. */
			STATS_INC(&ss->home.stats, duplicates);
			msg_unref(m);
			return;
		}
		/* Tracked until confirmed: never borrowed.  Without memory it
		 * is not acknowledged, so the sender will send it again. */
		if ((m = msg_keep(m)) == NULL)
			return;
		if (idmap_put(ss->inbound_by_id, m->msg_id, m) == -1) {
			/* Unacknowledged, so the sender will resend it. */
			msg_unref(m);
			return;
		}
	}
	if (route_reply(p, m)) {
		ssock_app_confirmed(ss, m);
		return;
	}
	if (TAILQ_EMPTY(&ss->recvq.q) && ssock_take(ss, m))
		return;
	if ((kept = ssock_keep(ss, m)) == NULL)
		return;
	msg_fifo_push(&ss->recvq, kept, 0);
	if (!ss->reading_paused && ssock_recv_full(ss))
		ssock_pause_reading(ss);
}

/* --- applications ------------------------------------------------------ */

void
ssock_app_confirmed(struct ssock *ss, struct msg *m)
{
	struct link *p;

	if (!(m->flags & MSG_HAS_ID)) {
		msg_unref(m);           /* at most once: nothing to confirm */
		return;
	}
	if (idmap_get(ss->inbound_by_id, m->msg_id) == m)
		idmap_del(ss->inbound_by_id, m->msg_id);
	/* On the sender's current connection: it may have reconnected. */
	if ((p = idmap_get(ss->active_by_id, m->peer_id)) != NULL)
		p->ops->ack(p, m->msg_id);
	msg_unref(m);
}

void
ssock_app_requeue(struct ssock *ss, struct msg_queue *q)
{
	msg_fifo_prepend(&ss->recvq, q);
}

void
ssock_deliver_queued(struct ssock *ss)
{
	struct msg *m;

	while ((m = msg_fifo_pop(&ss->recvq)) != NULL) {
		if (!ssock_take(ss, m)) {
			msg_fifo_push(&ss->recvq, m, 1);
			break;
		}
	}
	if (ss->reading_paused && ssock_recv_roomy(ss))
		ssock_resume_reading(ss);
}
