/* core: routing, queues and acknowledgements of a smart socket (core.h). */
#include <sys/queue.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/util.h>

#include "budget.h"
#include "core.h"
#include "idmap.h"
#include "log.h"
#include "lproto.h"
#include "parse.h"

/* A smart socket's routing core (core.h); its state is its own. */
struct core {
	struct home home;                       /* name, conf, identity,
	                                           counters: shared with its
	                                           links and applications */
	struct link_list links;                 /* every connection */
	size_t nlinks;
	struct link_list active;                /* LINK_UP, in rr order */
	size_t nactive;
	struct idmap *active_by_id;
	struct link *rr_next;                   /* next round-robin candidate */

	struct msg_fifo sendq;
	struct msg_fifo pending;
	struct idmap *pending_by_id;
	struct event *resend_ev;
	struct event *slow_ev;                  /* publish: next subscriber
	                                           to reach subscriber_timeout */
	int all_full;                           /* ... every subscriber was
	                                           full when last looked at */
	struct msg_fifo recvq;
	struct idmap *inbound_by_id;            /* DATA_REQs not yet confirmed */
	int reading_paused;

	const struct core_sink *sink;          /* NULL: none yet, they wait */
	const struct core_tap *tap;            /* NULL: no route sends here */
	void (*room)(void *);                   /* the send buffer has room */
	void *room_arg;
	struct log_ratelimit rl_drop, rl_giveup, rl_paused;
	int closing;
};

enum route_result {
	ROUTE_SENT,             /* written; the reference was consumed */
	ROUTE_WAIT,             /* no peer can take it now; still ours */
	ROUTE_UNREACHABLE,      /* targeted at an identity that is not here */
};

/* Longest wait between resends of a message on a connection that is up. */
#define CORE_RESEND_MAX_MS (60 * 1000)

static void core_link_attach(struct home *, struct link *);
static int core_link_up(struct link *);
static void core_link_down(struct link *);
static void core_link_received(struct link *, struct msg *);
static void core_link_acked(struct link *, const uint8_t[16]);
static void core_link_drained(struct link *);

/* What its links report (link.h). */
static const struct link_events core_link_events = {
	.attach = core_link_attach,
	.up = core_link_up,
	.down = core_link_down,
	.received = core_link_received,
	.acked = core_link_acked,
	.drained = core_link_drained,
};

/* The socket whose home h is. */
static struct core *
core_of(const struct home *h)
{
	return (struct core *)(void *)((char *)(uintptr_t)h -
	    offsetof(struct core, home));
}

static void core_resend(evutil_socket_t, short, void *);
static void core_flush_sendq(struct core *);
static void core_slow_check(evutil_socket_t, short, void *);
static void core_pause_reading(struct core *);
static int core_recv_full(const struct core *);

static int
core_at_least_once(const struct core *core)
{
	return core->home.conf->delivery == DELIVERY_AT_LEAST_ONCE;
}

static void
core_new_identity(uint8_t id[16])
{
	evutil_secure_rng_get_bytes(id, 16);
	id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);      /* UUID version 4 */
	id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);      /* RFC 4122 variant */
}

struct core *
core_new(struct event_base *base, const struct socket_conf *conf,
    size_t max_message_size)
{
	struct core *core = calloc(1, sizeof(*core));

	if (core == NULL)
		return NULL;
	core->home.events = &core_link_events;
	core->home.conf = conf;
	core->home.name = conf->name;
	core->home.base = base;
	core->home.max_message_size = max_message_size;
	core->home.rl_tls.burst = 10;          /* each failed handshake is news */
	core->home.rl_peers.burst = 100;       /* churn past that is one storm */
	if (conf->has_identity)
		memcpy(core->home.identity, conf->identity, sizeof(core->home.identity));
	else
		core_new_identity(core->home.identity);
	format_identity(core->home.identity, core->home.identity_hex);
	TAILQ_INIT(&core->links);
	TAILQ_INIT(&core->active);
	msg_fifo_init(&core->sendq);
	msg_fifo_init(&core->pending);
	msg_fifo_init(&core->recvq);
	core->active_by_id = idmap_new();
	core->pending_by_id = idmap_new();
	core->inbound_by_id = idmap_new();
	core->resend_ev = evtimer_new(base, core_resend, core);
	core->slow_ev = evtimer_new(base, core_slow_check, core);
	if (core->active_by_id == NULL || core->pending_by_id == NULL ||
	    core->inbound_by_id == NULL || core->resend_ev == NULL ||
	    core->slow_ev == NULL) {
		log_warnx("socket %s: out of memory", core->home.name);
		core_free(core);
		return NULL;
	}
	return core;
}

void
core_set_conf(struct core *core, const struct socket_conf *conf)
{
	struct link *p;

	core->home.conf = conf;
	core->home.name = conf->name;
	TAILQ_FOREACH(p, &core->links, entry)
		p->ops->reconfigure(p);
}

void
core_conf_applied(struct core *core)
{
	/* A larger send buffer may unblock senders, a larger receive
	 * buffer may resume reading, a smaller one may pause it. */
	core_flush_sendq(core);
	core_deliver_queued(core);
	if (!core->reading_paused && core_recv_full(core))
		core_pause_reading(core);
}

void
core_budget_relief(struct core *core)
{
	core_flush_sendq(core);
	core_deliver_queued(core);
}

size_t
core_unflushed(const struct core *core)
{
	const struct link *p;
	size_t n = 0;

	TAILQ_FOREACH(p, &core->active, active_entry)
		n += p->ops->unflushed(p);
	return n;
}

/* --- the queues and their limits --------------------------------------- */

/* Into pending, in deadline order (nearly always at the end). */
static void
pending_insert(struct core *core, struct msg *m)
{
	struct msg *at = TAILQ_LAST(&core->pending.q, msg_queue);

	while (at != NULL && at->deadline_ms > m->deadline_ms)
		at = TAILQ_PREV(at, msg_queue, entry);
	msg_fifo_insert_after(&core->pending, at, m);
}

/* Out of pending (and its index); the reference stays the caller's. */
static void
pending_remove(struct core *core, struct msg *m)
{
	msg_fifo_remove(&core->pending, m);
	idmap_del(core->pending_by_id, m->msg_id);
}

/* What the socket holds for peers has reached send_buffer(_size), or the
 * daemon its max_memory. */
static int
core_send_full(const struct core *core)
{
	const struct socket_conf *c = core->home.conf;

	return (c->send_buffer != CONFIG_UNLIMITED &&
	    core->sendq.len + core->pending.len >= c->send_buffer) ||
	    core->sendq.bytes + core->pending.bytes >= c->send_buffer_size ||
	    budget_over();
}

/* What waits for applications has reached recv_buffer(_size), or the
 * daemon its max_memory. */
static int
core_recv_full(const struct core *core)
{
	const struct socket_conf *c = core->home.conf;

	return (c->recv_buffer != CONFIG_UNLIMITED &&
	    core->recvq.len >= c->recv_buffer) ||
	    core->recvq.bytes >= c->recv_buffer_size || budget_over();
}

/* ... and is back to 3/4 of both limits (so reading does not flap). */
static int
core_recv_roomy(const struct core *core)
{
	const struct socket_conf *c = core->home.conf;

	return (c->recv_buffer == CONFIG_UNLIMITED ||
	    core->recvq.len <= c->recv_buffer / 4 * 3) &&
	    core->recvq.bytes <= c->recv_buffer_size / 4 * 3 && !budget_over();
}

void
core_free(struct core *core)
{
	struct link *p;
	size_t lost, unacked;

	if (core == NULL)
		return;
	core->closing = 1;
	lost = core->sendq.len;
	if (lost > 0) {
		STATS_ADD(&core->home.stats, drops_shutdown, lost);
		log_warnx("socket %s: %zu messages not delivered to any peer "
		    "at shutdown", core->home.name, lost);
	}
	if ((unacked = core->pending.len) > 0)
		log_info("socket %s: %zu messages sent to a peer and not "
		    "acknowledged yet at shutdown (the peer may have them)",
		    core->home.name, unacked);
	if (core->recvq.len > 0)
		log_warnx("socket %s: %zu received messages never taken by %s",
		    core->home.name, core->recvq.len, core->sink != NULL ?
		    core->sink->what : "anything");
	while ((p = TAILQ_FIRST(&core->links)) != NULL) {
		TAILQ_REMOVE(&core->links, p, entry);
		core->nlinks--;
		if (core->tap != NULL)
			core->tap->gone(p);
		p->ops->free(p);
	}
	msg_fifo_clear(&core->sendq);
	msg_fifo_clear(&core->pending);
	msg_fifo_clear(&core->recvq);
	idmap_free(core->active_by_id);
	idmap_free(core->pending_by_id);
	idmap_free(core->inbound_by_id);
	if (core->resend_ev != NULL)
		event_free(core->resend_ev);
	if (core->slow_ev != NULL)
		event_free(core->slow_ev);
	free(core);
}

/* --- sending ----------------------------------------------------------- */

static void
core_log_drop(struct core *core, const char *what)
{
	char more[LOG_MORE_LEN];
	int64_t n;

	if ((n = log_ratelimit_pass(&core->rl_drop, now_ms())) >= 0)
		log_warnx("socket %s: dropped a message: %s%s", core->home.name, what,
		    log_more(more, n));
}

/* A copy of m the socket may keep (m itself unless borrowed); NULL after
 * counting and logging the drop when there is no memory for it. */
static struct msg *
core_keep(struct core *core, struct msg *m)
{
	struct msg *kept;

	if ((kept = msg_keep(m)) == NULL) {
		STATS_INC(&core->home.stats, drops_overflow);
		core_log_drop(core, "out of memory");
	}
	return kept;
}

/* At the tail of the send queue, as a copy the socket keeps: an lproto
 * status. */
static int
core_queue(struct core *core, struct msg *m)
{
	if ((m = core_keep(core, m)) == NULL)
		return LPROTO_ST_NO_BUFFER;
	msg_fifo_push(&core->sendq, m, 0);
	return LPROTO_OK;
}

static void
core_arm_resend(struct core *core)
{
	struct msg *m = TAILQ_FIRST(&core->pending.q);
	uint64_t now, ms;
	struct timeval tv;

	if (m == NULL || evtimer_pending(core->resend_ev, NULL))
		return;
	now = now_ms();
	ms = m->deadline_ms > now ? m->deadline_ms - now : 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(core->resend_ev, &tv);
}

/*
 * How long a message just written waits for its ACK before it goes out
 * again: resend_timeout, doubled by each resend since it last went out, up
 * to CORE_RESEND_MAX_MS (or resend_timeout, if longer).  A receiver that
 * is slow to take what it has is asked again ever more rarely.
 */
static uint64_t
core_resend_after(const struct core *core, const struct msg *m)
{
	uint64_t t = core->home.conf->resend_timeout_ms;
	uint64_t cap = t > CORE_RESEND_MAX_MS ? t : CORE_RESEND_MAX_MS;
	unsigned k;

	for (k = 0; k < m->resends && t < cap; k++)
		t *= 2;
	return t < cap ? t : cap;
}

/* Write to one peer; at-least-once keeps the message pending. */
static void
core_write(struct core *core, struct link *p, struct msg *m)
{
	struct msg *kept;

	if (m->route_id != 0 && core->tap != NULL)
		core->tap->sent(p, m);
	if (!core_at_least_once(core)) {
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
	m->deadline_ms = now_ms() + core_resend_after(core, m);
	if (idmap_put(core->pending_by_id, m->msg_id, m) == -1) {
		/* Cannot track it: it was sent once, at most once. */
		msg_unref(m);
		return;
	}
	pending_insert(core, m);
	core_arm_resend(core);
}

/* The next active peer with room, round-robin. */
static struct link *
core_pick(struct core *core)
{
	struct link *p;
	size_t i;

	if (core->nactive == 0)
		return NULL;
	p = core->rr_next != NULL ? core->rr_next : TAILQ_FIRST(&core->active);
	for (i = 0; i < core->nactive; i++) {
		if (link_has_room(p)) {
			core->rr_next = TAILQ_NEXT(p, active_entry);
			return p;
		}
		if ((p = TAILQ_NEXT(p, active_entry)) == NULL)
			p = TAILQ_FIRST(&core->active);
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
core_slow_subscribers(struct core *core)
{
	uint64_t now = now_ms(), limit = core->home.conf->subscriber_timeout_ms;
	uint64_t next = 0;
	struct link *p;
	struct timeval tv;
	size_t full = 0, room = 0;
	char why[160];

	TAILQ_FOREACH(p, &core->active, active_entry)
		if (p->closing == NULL && link_has_room(p))
			room++;
	TAILQ_FOREACH(p, &core->active, active_entry) {
		if (p->closing != NULL || link_has_room(p))
			continue;
		/* Its clock starts when another has room, not before. */
		if (room == 0 || p->full_since_ms == 0 || core->all_full)
			p->full_since_ms = now;
		if (now - p->full_since_ms >= limit) {
			STATS_INC(&core->home.stats, slow_peers_closed);
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
	core->all_full = room == 0;
	if (room > 0 && next != 0) {
		tv.tv_sec = (next - now) / 1000;
		tv.tv_usec = (next - now) % 1000 * 1000;
		evtimer_add(core->slow_ev, &tv);
	}
	return full;
}

/* A subscriber may have reached subscriber_timeout: look, and go on. */
static void
core_slow_check(evutil_socket_t fd, short what, void *arg)
{
	struct core *core = arg;

	(void)fd;
	(void)what;
	if (!TAILQ_EMPTY(&core->sendq.q) && core_slow_subscribers(core) == 0)
		core_flush_sendq(core);
}

/*
 * A copy for every subscriber.  With overflow = block the message waits
 * while a subscriber is full, so none that reads loses anything, and one
 * that does not is disconnected after subscriber_timeout (above).  With
 * drop-new and drop-old a full subscriber loses its copy instead
 * (counted), so it never holds back the others.
 */
static enum route_result
core_publish(struct core *core, struct msg *m)
{
	struct link *p;
	size_t subscribers = 0;

	if (core->home.conf->overflow == OVERFLOW_BLOCK &&
	    core_slow_subscribers(core) > 0)
		return ROUTE_WAIT;
	TAILQ_FOREACH(p, &core->active, active_entry) {
		if (p->closing != NULL)
			continue;
		subscribers++;
		if (link_has_room(p)) {
			if (m->route_id != 0 && core->tap != NULL)
				core->tap->sent(p, m);
			p->ops->send(p, m);
			continue;
		}
		STATS_INC(&core->home.stats, drops_slow_peer);
		p->drops++;
		core_log_drop(core, "a subscriber's queue is full");
	}
	if (subscribers == 0)
		return ROUTE_WAIT;      /* none, or every one is closing */
	msg_unref(m);
	return ROUTE_SENT;
}

static enum route_result
core_route(struct core *core, struct msg *m)
{
	struct link *p;

	if (m->flags & MSG_TARGETED) {
		if ((p = idmap_get(core->active_by_id, m->peer_id)) == NULL)
			return ROUTE_UNREACHABLE;
		if (!link_has_room(p))
			return ROUTE_WAIT;
	} else if (core->home.conf->send_mode == SEND_PUBLISH)
		return core_publish(core, m);
	else if ((p = core_pick(core)) == NULL)
		return ROUTE_WAIT;
	core_write(core, p, m);
	return ROUTE_SENT;
}

int
core_send_blocked(const struct core *core)
{
	return core->home.conf->overflow == OVERFLOW_BLOCK && core_send_full(core);
}

/* Send what waits in the send queue, in order, while peers take it. */
static void
core_flush_sendq(struct core *core)
{
	struct msg *m;

	while ((m = msg_fifo_pop(&core->sendq)) != NULL) {
		switch (core_route(core, m)) {
		case ROUTE_SENT:
			continue;
		case ROUTE_UNREACHABLE:
			STATS_INC(&core->home.stats, drops_unroutable);
			core_log_drop(core, "its target identity left");
			msg_unref(m);
			continue;
		case ROUTE_WAIT:
			msg_fifo_push(&core->sendq, m, 1);
			break;
		}
		break;
	}
	if (core->room != NULL && !core_send_blocked(core))
		core->room(core->room_arg);
}

/*
 * The socket holds all it may (core_send_full()): the overflow policy.
 * drop-old drops the oldest message still waiting for a peer (those
 * awaiting an ACK are out already); block keeps the message, since
 * applications are not read again until there is room.  Returns an
 * lproto status.
 */
static int
core_overflow(struct core *core, struct msg *m)
{
	struct msg *old;

	switch (core->home.conf->overflow) {
	case OVERFLOW_DROP_OLD:
		if ((old = msg_fifo_pop(&core->sendq)) != NULL) {
			msg_unref(old);
			STATS_INC(&core->home.stats, drops_overflow);
			core_log_drop(core, "send buffer full (drop-old)");
			break;
		}
		/* Nothing older is still here: drop the new one. */
		/* FALLTHROUGH */
	case OVERFLOW_DROP_NEW:
		STATS_INC(&core->home.stats, drops_overflow);
		core_log_drop(core, core->home.conf->overflow == OVERFLOW_DROP_NEW ?
		    "send buffer full (drop-new)" : "send buffer full of "
		    "messages awaiting their ACK (drop-old)");
		msg_unref(m);
		return LPROTO_ST_NO_BUFFER;
	case OVERFLOW_BLOCK:
		break;
	}
	return core_queue(core, m);
}

int
core_app_send(struct core *core, struct msg *m)
{
	if ((m->flags & MSG_TARGETED) &&
	    idmap_get(core->active_by_id, m->peer_id) == NULL) {
		msg_unref(m);
		return LPROTO_ST_UNREACHABLE;
	}
	if (core_send_full(core))
		return core_overflow(core, m);
	/* Behind queued messages it must wait its turn, to keep order. */
	if (TAILQ_EMPTY(&core->sendq.q) && core_route(core, m) == ROUTE_SENT)
		return LPROTO_OK;
	return core_queue(core, m);
}

/*
 * Messages whose ACK is overdue go out again, to any peer with room (a
 * resend may go to another peer), with the next wait doubled.  With no
 * peer that has room they stay where they are, on a connection that is
 * up: a slow receiver is back-pressure, never a reason to give up.
 */
static void
core_resend(evutil_socket_t fd, short what, void *arg)
{
	struct core *core = arg;
	uint64_t now = now_ms();
	struct msg *m;

	(void)fd;
	(void)what;
	while ((m = TAILQ_FIRST(&core->pending.q)) != NULL &&
	    m->deadline_ms <= now) {
		pending_remove(core, m);
		m->resends++;
		switch (core_route(core, m)) {
		case ROUTE_SENT:
			STATS_INC(&core->home.stats, resends);
			break;
		case ROUTE_WAIT:
			/* Still on its connection: ask again later. */
			m->deadline_ms = now + core_resend_after(core, m);
			if (idmap_put(core->pending_by_id, m->msg_id, m) == -1) {
				msg_fifo_push(&core->sendq, m, 1);
				break;
			}
			pending_insert(core, m);
			break;
		case ROUTE_UNREACHABLE:
			STATS_INC(&core->home.stats, drops_unroutable);
			core_log_drop(core, "its target identity left");
			msg_unref(m);
			break;
		}
	}
	core_arm_resend(core);
}

/* --- peers --------------------------------------------------------------- */

/* A message no receiver survived: counted, and logged with the total. */
static void
core_give_up(struct core *core, struct msg *m)
{
	char more[LOG_MORE_LEN];
	int64_t n;

	STATS_INC(&core->home.stats, giveups);
	if ((n = log_ratelimit_pass(&core->rl_giveup, now_ms())) >= 0)
		log_warnx("socket %s: gave up on a message: %u connections "
		    "closed while it was on them without its ACK (max_retries "
		    "%" PRIu64 "); %" PRIu64 " given up in all%s", core->home.name,
		    m->lost, core->home.conf->max_retries, core->home.stats.giveups,
		    log_more(more, n));
	msg_unref(m);
}

static void
core_link_attach(struct home *home, struct link *l)
{
	struct core *core = core_of(home);

	l->home = home;
	l->state = LINK_HANDSHAKE;
	TAILQ_INSERT_TAIL(&core->links, l, entry);
	core->nlinks++;
}

size_t
core_npeers(const struct core *core)
{
	return core->nlinks;
}

void
core_foreach_link(const struct core *core,
    void (*fn)(const struct link *, void *), void *arg)
{
	const struct link *p;

	TAILQ_FOREACH(p, &core->links, entry)
		fn(p, arg);
}

static int
core_link_up(struct link *p)
{
	struct core *core = core_of(p->home);

	if (idmap_get(core->active_by_id, p->identity) != NULL ||
	    idmap_put(core->active_by_id, p->identity, p) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&core->active, p, active_entry);
	core->nactive++;
	p->state = LINK_UP;
	if (core->reading_paused)
		p->ops->pause(p);
	core_flush_sendq(core);
	return 0;
}

static void
core_link_down(struct link *p)
{
	struct core *core = core_of(p->home);
	struct msg_queue back;
	struct msg *m, *next;
	size_t n = 0;

	TAILQ_REMOVE(&core->links, p, entry);
	core->nlinks--;
	if (p->state != LINK_UP)
		return;
	if (core->tap != NULL)
		core->tap->gone(p);
	idmap_del(core->active_by_id, p->identity);
	if (core->rr_next == p)
		core->rr_next = TAILQ_NEXT(p, active_entry);
	TAILQ_REMOVE(&core->active, p, active_entry);
	core->nactive--;
	if (core->closing)
		return;
	/* What it never acknowledged goes out again first, in order, unless
	 * it has now been on max_retries connections that all closed. */
	TAILQ_INIT(&back);
	for (m = TAILQ_FIRST(&core->pending.q); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->sent_to != p)
			continue;
		pending_remove(core, m);
		m->sent_to = NULL;
		m->resends = 0;
		if (core->home.conf->max_retries != CONFIG_UNLIMITED &&
		    ++m->lost > core->home.conf->max_retries) {
			core_give_up(core, m);
			continue;
		}
		TAILQ_INSERT_TAIL(&back, m, entry);
		n++;
	}
	if (n == 0)
		return;
	msg_fifo_prepend(&core->sendq, &back);
	log_debug("socket %s: %zu unacknowledged messages of %s queued again",
	    core->home.name, n, p->identity_hex);
	core_flush_sendq(core);
}

static void
core_link_drained(struct link *p)
{
	struct core *core = core_of(p->home);

	p->full_since_ms = 0;
	if (!TAILQ_EMPTY(&core->sendq.q))
		core_flush_sendq(core);
}

static void
core_link_acked(struct link *l, const uint8_t msg_id[16])
{
	struct core *core = core_of(l->home);
	struct msg *m = idmap_get(core->pending_by_id, msg_id);
	int was_full;

	if (m == NULL)
		return;         /* late or duplicate ACK */
	was_full = core_send_full(core);
	pending_remove(core, m);
	msg_unref(m);
	/* Awaiting an ACK counts in send_buffer: room for what waits. */
	if (was_full && !core_send_full(core))
		core_flush_sendq(core);
}

static void
core_pause_reading(struct core *core)
{
	struct link *p;
	char more[LOG_MORE_LEN];
	int64_t n;

	core->reading_paused = 1;
	/* Under a steady overload this flaps: one line per period is news. */
	if ((n = log_ratelimit_pass(&core->rl_paused, now_ms())) >= 0)
		log_info("socket %s: %zu received messages wait for %s; "
		    "not reading from peers until they are taken%s",
		    core->home.name, core->recvq.len, core->sink != NULL ?
		    core->sink->waits_for : "a receiver", log_more(more, n));
	TAILQ_FOREACH(p, &core->active, active_entry)
		p->ops->pause(p);
}

static void
core_resume_reading(struct core *core)
{
	struct link *p;

	core->reading_paused = 0;
	log_debug("socket %s: reading from peers again", core->home.name);
	TAILQ_FOREACH(p, &core->active, active_entry)
		p->ops->resume(p);
}

/* A received message to the socket's sink: 1 taken (the reference is
 * the sink's), 0 not now. */
static int
core_take(struct core *core, struct msg *m)
{
	return core->sink != NULL && core->sink->take(core->sink->arg, m);
}

void
core_set_sink(struct core *core, const struct core_sink *sink)
{
	core->sink = sink;
}

const struct core_sink *
core_sink(const struct core *core)
{
	return core->sink;
}

void
core_set_tap(struct core *core, const struct core_tap *tap)
{
	core->tap = tap;
}

void
core_on_room(struct core *core, void (*fn)(void *), void *arg)
{
	core->room = fn;
	core->room_arg = arg;
}

struct home *
core_home(struct core *core)
{
	return &core->home;
}

const struct home *
core_home_c(const struct core *core)
{
	return &core->home;
}

void
core_queues(const struct core *core, struct core_queues *q)
{
	q->links = core->nlinks;
	q->active = core->nactive;
	q->send = core->sendq.len;
	q->send_bytes = core->sendq.bytes;
	q->pending = core->pending.len;
	q->pending_bytes = core->pending.bytes;
	q->recv = core->recvq.len;
	q->recv_bytes = core->recvq.bytes;
	q->reading_paused = core->reading_paused;
}

static void
core_link_received(struct link *p, struct msg *m)
{
	struct core *core = core_of(p->home);
	struct msg *kept;

	if (m->flags & MSG_HAS_ID) {
		if (idmap_get(core->inbound_by_id, m->msg_id) != NULL) {
			/* A resend of what still waits here: keep one copy. */
			STATS_INC(&core->home.stats, duplicates);
			msg_unref(m);
			return;
		}
		/* Tracked until confirmed: never borrowed.  Without memory it
		 * is not acknowledged, so the sender will send it again. */
		if ((m = msg_keep(m)) == NULL)
			return;
		if (idmap_put(core->inbound_by_id, m->msg_id, m) == -1) {
			/* Unacknowledged, so the sender will resend it. */
			msg_unref(m);
			return;
		}
	}
	if (core->tap != NULL && core->tap->reply(p, m)) {
		core_app_confirmed(core, m);
		return;
	}
	if (TAILQ_EMPTY(&core->recvq.q) && core_take(core, m))
		return;
	if ((kept = core_keep(core, m)) == NULL)
		return;
	msg_fifo_push(&core->recvq, kept, 0);
	if (!core->reading_paused && core_recv_full(core))
		core_pause_reading(core);
}

/* --- applications ------------------------------------------------------ */

void
core_app_confirmed(struct core *core, struct msg *m)
{
	struct link *p;

	if (!(m->flags & MSG_HAS_ID)) {
		msg_unref(m);           /* at most once: nothing to confirm */
		return;
	}
	if (idmap_get(core->inbound_by_id, m->msg_id) == m)
		idmap_del(core->inbound_by_id, m->msg_id);
	/* On the sender's current connection: it may have reconnected. */
	if ((p = idmap_get(core->active_by_id, m->peer_id)) != NULL)
		p->ops->ack(p, m->msg_id);
	msg_unref(m);
}

void
core_app_requeue(struct core *core, struct msg_queue *q)
{
	msg_fifo_prepend(&core->recvq, q);
}

void
core_deliver_queued(struct core *core)
{
	struct msg *m;

	while ((m = msg_fifo_pop(&core->recvq)) != NULL) {
		if (!core_take(core, m)) {
			msg_fifo_push(&core->recvq, m, 1);
			break;
		}
	}
	if (core->reading_paused && core_recv_roomy(core))
		core_resume_reading(core);
}
