/* route: forward = and forward_replies = between sockets (route.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "lproto.h"
#include "msg.h"
#include "parse.h"
#include "link.h"
#include "route.h"

/* One awaited reply, as stored in a peer's replies buffer. */
struct route_record {
	uint32_t route_id;
	uint8_t origin[MSG_ID_LEN];     /* the request's sender in `from` */
};

/* A socket that routes leave, and its sink (core.h) that forwards. */
struct route_source {
	TAILQ_ENTRY(route_source) entry;
	struct core *core;
	TAILQ_HEAD(, route) routes;     /* from core, in configuration order */
	struct core_sink sink;
	const struct core_sink *before; /* the sink it took over (the
	                                   applications'), given back when
	                                   its last route goes */
};

static TAILQ_HEAD(, route) routes = TAILQ_HEAD_INITIALIZER(routes);
static TAILQ_HEAD(, route_source) sources =
    TAILQ_HEAD_INITIALIZER(sources);
static uint32_t route_last_id;

static int route_forward(void *arg, struct msg *m);
static void route_sent(struct link *, const struct msg *);
static int route_reply(struct link *, struct msg *);
static void route_link_gone(struct link *);

const struct core_tap route_tap = {
	.sent = route_sent,
	.reply = route_reply,
	.gone = route_link_gone,
};

static struct route_source *
route_source_of(const struct core *core)
{
	struct route_source *src;

	TAILQ_FOREACH(src, &sources, entry)
		if (src->core == core)
			return src;
	return NULL;
}

/* The source of core, made if need be; NULL without memory. */
static struct route_source *
route_source_keep(struct core *core)
{
	struct route_source *src;

	if ((src = route_source_of(core)) != NULL)
		return src;
	if ((src = calloc(1, sizeof(*src))) == NULL)
		return NULL;
	src->core = core;
	TAILQ_INIT(&src->routes);
	src->sink.take = route_forward;
	src->sink.arg = src;
	src->sink.what = "its routes' target sockets";
	src->sink.waits_for = "room in its routes' target sockets";
	TAILQ_INSERT_TAIL(&sources, src, entry);
	return src;
}

/* A source without routes any more: its socket's applications take again
 * (also when the socket is going: its core must not keep a sink that is
 * freed here). */
static void
route_source_drop_empty(struct route_source *src)
{
	if (!TAILQ_EMPTY(&src->routes))
		return;
	if (core_sink(src->core) == &src->sink)
		core_set_sink(src->core, src->before);
	TAILQ_REMOVE(&sources, src, entry);
	free(src);
}

static struct route *
route_by_id(uint32_t id)
{
	struct route *r;

	TAILQ_FOREACH(r, &routes, entry)
		if (r->id == id)
			return r;
	return NULL;
}

static void
route_unlink_from(struct route *r)
{
	if (r->source != NULL)
		TAILQ_REMOVE(&r->source->routes, r, source_entry);
	r->source = NULL;
	r->from = NULL;
}

static struct route *
route_find(const char *from, const char *to)
{
	struct route *r;

	TAILQ_FOREACH(r, &routes, entry)
		if (strcmp(r->from_name, from) == 0 &&
		    strcmp(r->to_name, to) == 0)
			return r;
	return NULL;
}

/* Make or keep the route from -> to; NULL without memory. */
static struct route *
route_keep(const char *from, const char *to, int *made)
{
	struct route *r;

	*made = 0;
	if ((r = route_find(from, to)) != NULL)
		return r;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->id = ++route_last_id;
	snprintf(r->from_name, sizeof(r->from_name), "%s", from);
	snprintf(r->to_name, sizeof(r->to_name), "%s", to);
	TAILQ_INSERT_TAIL(&routes, r, entry);
	*made = 1;
	return r;
}

void
routes_apply(const struct config *cfg,
    struct core *(*find)(void *, const char *), void *arg)
{
	const struct socket_conf *sc;
	struct route *r, *next;
	struct route_source *src, *snext;
	struct core *from, *to;
	size_t i, k;
	int made;

	TAILQ_FOREACH(r, &routes, entry)
		r->stale = 1;
	for (i = 0; i < cfg->nsockets; i++) {
		sc = &cfg->sockets[i];
		for (k = 0; k < sc->nforward; k++) {
			const char *tn = cfg->sockets[sc->forward_to[k]].name;

			r = route_keep(sc->name, tn, &made);
			if (r == NULL) {
				log_warnx("route %s -> %s: out of memory",
				    sc->name, tn);
				continue;
			}
			r->stale = 0;
			from = find(arg, sc->name);
			to = find(arg, tn);
			if (r->from != from) {
				route_unlink_from(r);
				if (from != NULL &&
				    (r->source = route_source_keep(from)) ==
				    NULL) {
					log_warnx("route %s -> %s: out of memory",
					    sc->name, tn);
					from = NULL;
				} else if (from != NULL)
					TAILQ_INSERT_TAIL(&r->source->routes, r,
					    source_entry);
				r->from = from;
			}
			r->to = to;
			if (made || r->replies != sc->forward_replies)
				log_info("route %s -> %s%s%s", sc->name, tn,
				    sc->forward_replies ? ", replies back" : "",
				    from == NULL || to == NULL ? " (idle: a "
				    "socket of it did not start)" : "");
			r->replies = sc->forward_replies;
		}
	}
	for (r = TAILQ_FIRST(&routes); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (!r->stale)
			continue;
		log_info("route %s -> %s removed", r->from_name, r->to_name);
		route_unlink_from(r);
		TAILQ_REMOVE(&routes, r, entry);
		free(r);
	}
	/* Each socket with routes forwards; one that lost its last route
	 * hands its messages to applications again. */
	for (src = TAILQ_FIRST(&sources); src != NULL; src = snext) {
		snext = TAILQ_NEXT(src, entry);
		if (TAILQ_EMPTY(&src->routes))
			route_source_drop_empty(src);
		else if (core_sink(src->core) != &src->sink) {
			src->before = core_sink(src->core);
			core_set_sink(src->core, &src->sink);
		}
	}
	/* A target may have room now for what a source holds. */
	TAILQ_FOREACH(r, &routes, entry)
		if (r->to != NULL)
			route_target_ready(r->to);
}

void
routes_forget(struct core *core)
{
	struct route_source *src = route_source_of(core);
	struct route *r;

	TAILQ_FOREACH(r, &routes, entry) {
		if (r->from == core)
			route_unlink_from(r);
		if (r->to == core)
			r->to = NULL;
	}
	if (src != NULL)
		route_source_drop_empty(src);
}

void
routes_free(void)
{
	struct route *r;

	struct route_source *src;

	while ((r = TAILQ_FIRST(&routes)) != NULL) {
		route_unlink_from(r);
		TAILQ_REMOVE(&routes, r, entry);
		free(r);
	}
	while ((src = TAILQ_FIRST(&sources)) != NULL) {
		TAILQ_REMOVE(&sources, src, entry);
		free(src);
	}
}

/*
 * The sink of a socket with routes: every target takes the message or
 * none does yet (a target whose send buffer is full and blocks).
 */
static int
route_forward(void *arg, struct msg *m)
{
	struct route_source *src = arg;
	struct route *r;
	struct msg view;

	TAILQ_FOREACH(r, &src->routes, source_entry)
		if (r->to != NULL && core_send_blocked(r->to))
			return 0;
	TAILQ_FOREACH(r, &src->routes, source_entry) {
		if (r->to == NULL)
			continue;
		/* A fresh outgoing message: the target gives it its own id;
		 * the sender's identity rides along for the reply. */
		msg_borrow(&view, m->data, m->len);
		memcpy(view.peer_id, m->peer_id, sizeof(view.peer_id));
		view.route_id = r->replies ? r->id : 0;
		if (core_app_send(r->to, &view) == LPROTO_OK)
			r->forwarded++;
		else
			r->dropped++;
	}
	core_app_confirmed(src->core, m);        /* forwarded: done with it */
	return 1;
}

void
route_foreach_from(const struct core *from,
    void (*fn)(const struct route *, void *), void *arg)
{
	const struct route_source *src = route_source_of(from);
	const struct route *r;

	if (src != NULL)
		TAILQ_FOREACH(r, &src->routes, source_entry)
			fn(r, arg);
}

void
route_target_ready(struct core *to)
{
	struct route *r;

	TAILQ_FOREACH(r, &routes, entry)
		if (r->to == to && r->from != NULL)
			core_deliver_queued(r->from);
}

static void
route_sent(struct link *p, const struct msg *m)
{
	struct route_record rec;
	struct route *r;
	char more[LOG_MORE_LEN];
	int64_t n;

	/* A resend on the connection that has it already: one reply. */
	if (m->sent_to == p || (r = route_by_id(m->route_id)) == NULL)
		return;
	if (p->replies == NULL && (p->replies = evbuffer_new()) == NULL) {
		r->unanswered++;
		return;
	}
	if (evbuffer_get_length(p->replies) / sizeof(rec) >=
	    ROUTE_RECORDS_MAX) {
		r->unanswered++;
		if ((n = log_ratelimit_pass(&r->rl, now_ms())) >= 0)
			log_warnx("route %s -> %s: %s awaits %d replies; "
			    "its further requests are not matched to "
			    "replies%s", r->from_name, r->to_name, p->addr,
			    ROUTE_RECORDS_MAX, log_more(more, n));
		return;
	}
	memset(&rec, 0, sizeof(rec));
	rec.route_id = r->id;
	memcpy(rec.origin, m->peer_id, sizeof(rec.origin));
	if (evbuffer_add(p->replies, &rec, sizeof(rec)) == -1) {
		r->unanswered++;
		return;
	}
	r->awaiting++;
}

static int
route_reply(struct link *p, struct msg *m)
{
	struct route_record rec;
	struct route *r;
	struct msg view;
	int64_t n;

	if (p->replies == NULL ||
	    evbuffer_remove(p->replies, &rec, sizeof(rec)) != sizeof(rec))
		return 0;
	if ((r = route_by_id(rec.route_id)) == NULL)
		return 1;       /* removed by a reload: nowhere to go */
	r->awaiting--;
	if (r->from != NULL) {
		msg_borrow(&view, m->data, m->len);
		view.flags |= MSG_TARGETED;
		memcpy(view.peer_id, rec.origin, sizeof(view.peer_id));
		if (core_app_send(r->from, &view) == LPROTO_OK) {
			r->replies_sent++;
			return 1;
		}
	}
	r->replies_lost++;
	if ((n = log_ratelimit_pass(&r->rl, now_ms())) >= 0) {
		char hex[33], more[LOG_MORE_LEN];

		format_identity(rec.origin, hex);
		log_warnx("route %s -> %s: a reply from %s could not go back: "
		    "%s is not connected to %s%s", r->from_name, r->to_name,
		    p->addr, hex, r->from_name, log_more(more, n));
	}
	return 1;
}

size_t
route_awaited(const struct link *p)
{
	if (p->replies == NULL)
		return 0;
	return evbuffer_get_length(p->replies) / sizeof(struct route_record);
}

static void
route_link_gone(struct link *p)
{
	struct route_record rec;
	struct route *r;

	if (p->replies == NULL)
		return;
	while (evbuffer_remove(p->replies, &rec, sizeof(rec)) ==
	    sizeof(rec)) {
		if ((r = route_by_id(rec.route_id)) == NULL)
			continue;
		r->awaiting--;
		r->unanswered++;
	}
	evbuffer_free(p->replies);
	p->replies = NULL;
}
