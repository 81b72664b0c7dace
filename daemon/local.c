/* local: application attachments over a Unix socket (see local.h). */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "accept.h"
#include "bev.h"
#include "core.h"
#include "frames.h"
#include "local.h"
#include "log.h"
#include "lproto.h"
#include "msg.h"
#include "share.h"
#include "unixsock.h"

/* Output above this: the client is busy, deliver to another one. */
#define CLIENT_HWM (256 * 1024)
/* Unconfirmed at-least-once messages one client may hold. */
#define CLIENT_MAX_INFLIGHT 4096
/* Credit beyond this is clamped: more is no use and could overflow. */
#define CLIENT_MAX_CREDIT (1u << 30)
#define LOCAL_BACKLOG 128
/* A connection that has not sent its HELLO by then is closed. */
#define LOCAL_HELLO_MS 5000
/* Supplementary groups read without a malloc; more take one. */
#define LOCAL_GROUPS_INLINE 64

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59        /* Linux 4.13 */
#endif

/*
 * A client's life; client_enter() alone changes it:
 *
 *   HELLO --WELCOME--> ATTACHED --its stream ends after CLOSING--> FINISHED
 *     \
 *      --REFUSE--> REFUSED
 *
 * HELLO: accepted, its HELLO awaited (LOCAL_HELLO_MS).  REFUSED: its
 * REFUSE is being written; nothing more is read, and it is freed once
 * written.  ATTACHED: sends and receives.  FINISHED: it ended while the
 * daemon stops; kept only to take what the socket still delivers.  Any
 * state ends in client_free().  Beside the state: `ended` (its stream's
 * end was seen, frames before it still being taken), `blocked` (not read
 * while the send buffer is full, ATTACHED only), `receiving` (it granted
 * credit), `greeted` (its HELLO was answered: share.h's count).
 */
enum client_state {
	CLIENT_HELLO,
	CLIENT_REFUSED,
	CLIENT_ATTACHED,
	CLIENT_FINISHED,
};

struct client {
	TAILQ_ENTRY(client) entry;
	struct local *local;
	struct bufferevent *bev;
	struct event *hello_ev;         /* LOCAL_HELLO_MS after the accept */
	uint64_t id;                    /* for log lines */
	pid_t pid;                      /* SO_PEERCRED at accept; -1 unknown */
	uid_t uid;
	gid_t gid;
	enum client_state state;
	int ended;                      /* its stream ended: -1 EOF, or errno */
	int blocked;                    /* not read: send buffer full */
	int receiving;                  /* has granted credit */
	int greeted;                    /* its HELLO was answered (share.h) */
	uint64_t last_seq;              /* of the last DELIVER_REQ */
	uint64_t credit;                /* messages it asked for, not sent */
	struct msg_queue inflight;
	size_t ninflight;
};

struct local {
	struct core *core;
	struct home *home;              /* the core's */
	struct core_sink sink;         /* the socket's, while it has no
	                                   routes: local_take() */
	char *path;
	struct evconnlistener *lev;
	struct accept_pause pause;      /* out of descriptors: wait */
	TAILQ_HEAD(, client) clients;
	struct client *rr_next;
	size_t nclients;
	size_t nattached;               /* of them, welcomed */
	size_t nblocked;
	uint64_t next_id;
	mode_t mode;                    /* what the file has now */
	gid_t gid;                      /* (gid_t)-1: not set yet */
	struct log_ratelimit rl_refused;        /* refusals */
	struct log_ratelimit rl_hello;          /* no HELLO in time */
	struct log_ratelimit rl_dropped;        /* protocol errors */
	int stopping;                   /* local_closing() was called */
};

static void client_free(struct client *, const char *why);
static void client_finish(struct client *);
static void client_readcb(struct bufferevent *, void *);
static int client_end_cause(int);
static int local_take(void *, struct msg *);

static void
client_write_frame(struct client *c, uint8_t type, const void *fixed,
    size_t fixed_len, struct msg *m)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	uint8_t hdr[LPROTO_HDR_LEN + 512];	/* fixed parts and REFUSE text */
	size_t n;

	n = lproto_put_header(hdr, type, fixed_len + (m ? m->len : 0));
	if (fixed_len > 0)
		memcpy(hdr + n, fixed, fixed_len);
	if (m != NULL)
		msg_add_framed(m, out, hdr, n + fixed_len);
	else
		evbuffer_add(out, hdr, n + fixed_len);
}

/* Has it been welcomed (ATTACHED, or FINISHED since)? */
static int
client_welcomed(const struct client *c)
{
	return c->state >= CLIENT_ATTACHED;
}

/* The one place a client's state changes, with what each state begins
 * with (see enum client_state). */
static void
client_enter(struct client *c, enum client_state to)
{
	struct home *h = c->local->home;

	switch (to) {
	case CLIENT_HELLO:
		fatalx("client_enter: back to HELLO");
	case CLIENT_REFUSED:
	case CLIENT_ATTACHED:
		if (c->state != CLIENT_HELLO)
			fatalx("client_enter: answered twice");
		/* Its HELLO is answered: no deadline any more. */
		c->greeted = 1;
		share_greeted(c->uid);
		evtimer_del(c->hello_ev);
		break;
	case CLIENT_FINISHED:
		if (c->state != CLIENT_ATTACHED)
			fatalx("client_enter: finished before attached");
		break;
	}
	c->state = to;
	switch (to) {
	case CLIENT_HELLO:
		break;
	case CLIENT_REFUSED:
		bufferevent_disable(c->bev, EV_READ);
		break;
	case CLIENT_ATTACHED:
		c->local->nattached++;
		STATS_INC(&h->stats, apps_attached);
		log_info("socket %s: application %" PRIu64 " attached (pid "
		    "%ld, uid %ld)", h->name, c->id, (long)c->pid,
		    (long)c->uid);
		break;
	case CLIENT_FINISHED:
		bufferevent_disable(c->bev, EV_READ);
		log_debug("socket %s: application %" PRIu64 " finished",
		    h->name, c->id);
		break;
	}
}

static void
client_refuse(struct client *c, uint32_t status, const char *text)
{
	uint8_t body[6 + 256];
	size_t tlen = strlen(text);

	if (tlen > 256)
		tlen = 256;
	lproto_put_u16(body, LPROTO_VERSION);
	lproto_put_u32(body + 2, status);
	memcpy(body + 6, text, tlen);
	client_write_frame(c, LPROTO_REFUSE, body, 6 + tlen, NULL);
	client_enter(c, CLIENT_REFUSED);
}

static void
client_welcome(struct client *c)
{
	struct home *h = c->local->home;
	uint8_t body[2 + 4 + LPROTO_ID_LEN];

	lproto_put_u16(body, LPROTO_VERSION);
	lproto_put_u32(body + 2, (uint32_t)h->max_message_size);
	memcpy(body + 6, h->identity, LPROTO_ID_LEN);
	client_write_frame(c, LPROTO_WELCOME, body, sizeof(body), NULL);
	client_enter(c, CLIENT_ATTACHED);
}

static int
ids_have(const struct config_ids *list, id_t id)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (list->ids[i] == id)
			return 1;
	return 0;
}

/*
 * Is one of the client's supplementary groups in `allow`?  They are the
 * groups of the process that connected, as the kernel recorded them at
 * connect(2) (SO_PEERGROUPS): the same groups the file's permissions were
 * checked against, race-free, with no look-up in the group database.
 * 1 yes, 0 no, -1 unknown (errno set).
 */
static int
client_in_groups(struct client *c, const struct config_ids *allow)
{
	gid_t inline_groups[LOCAL_GROUPS_INLINE], *groups = inline_groups;
	socklen_t len = sizeof(inline_groups);
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	size_t i;
	int found = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		/* ERANGE: len is now the size needed */
		if (errno != ERANGE || (groups = malloc(len)) == NULL)
			return -1;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1) {
			free(groups);
			return -1;
		}
	}
	for (i = 0; i < len / sizeof(gid_t) && !found; i++)
		found = ids_have(allow, (id_t)groups[i]);
	if (groups != inline_groups)
		free(groups);
	return found;
}

/*
 * allow_users and allow_groups: 1 when the client may attach, else 0 with
 * the reason in why.  Root and the daemon's own user always may: they can
 * stop or trace the daemon anyway, as they may reload it.
 */
static int
client_allowed(struct client *c, char *why, size_t len)
{
	const struct socket_conf *sc = c->local->home->conf;
	const struct config_ids *users = &sc->allow_uids;
	const struct config_ids *groups = &sc->allow_gids;
	int in;

	if (users->n == 0 && groups->n == 0)
		return 1;
	if (c->uid == (uid_t)-1) {
		snprintf(why, len, "access denied: its user is unknown "
		    "(SO_PEERCRED failed)");
		return 0;
	}
	if (unixsock_uid_privileged(c->uid) || ids_have(users, (id_t)c->uid))
		return 1;
	if (groups->n > 0) {
		if (ids_have(groups, (id_t)c->gid))
			return 1;
		if ((in = client_in_groups(c, groups)) == 1)
			return 1;
		if (in == -1) {
			snprintf(why, len, "access denied: uid %ld is not in "
			    "allow_users and its groups cannot be read "
			    "(SO_PEERGROUPS: %s)", (long)c->uid,
			    strerror(errno));
			return 0;
		}
	}
	snprintf(why, len, "access denied: uid %ld %s%s%s of socket %s",
	    (long)c->uid, users->n > 0 ? "is not in allow_users" : "",
	    users->n > 0 && groups->n > 0 ? " and " : "",
	    groups->n > 0 ? "has no group in allow_groups" : "",
	    c->local->home->name);
	return 0;
}

/* An attach refused for access or a limit: counted, logged (at most a few
 * lines per LOG_RATELIMIT_MS), answered. */
static void
client_refuse_attach(struct client *c, uint32_t status, const char *why)
{
	struct local *l = c->local;
	struct home *h = l->home;
	char more[LOG_MORE_LEN];
	int64_t k;

	if (status == LPROTO_ST_TOO_MANY)
		STATS_INC(&h->stats, apps_refused_max_clients);
	else
		STATS_INC(&h->stats, apps_refused);
	if ((k = log_ratelimit_pass(&l->rl_refused, now_ms())) >= 0)
		log_warnx("socket %s: application %" PRIu64 " (pid %ld, uid "
		    "%ld) refused: %s%s", h->name, c->id, (long)c->pid,
		    (long)c->uid, why, log_more(more, k));
	client_refuse(c, status, why);
}

/* HELLO of our version: WELCOME, or REFUSE for access or max_clients. */
static void
client_hello(struct client *c)
{
	struct local *l = c->local;
	const struct socket_conf *sc = l->home->conf;
	char why[256];

	if (l->stopping) {
		/* Not an access refusal: it tries again, and a new daemon
		 * answers. */
		client_refuse(c, LPROTO_ST_REFUSED, "smartsockd is stopping");
		return;
	}
	if (!client_allowed(c, why, sizeof(why))) {
		client_refuse_attach(c, LPROTO_ST_REFUSED, why);
		return;
	}
	if (sc->max_clients != CONFIG_UNLIMITED &&
	    l->nattached >= sc->max_clients) {
		snprintf(why, sizeof(why), "too many applications: socket %s "
		    "has its max_clients of %" PRIu64 " attached", l->home->name,
		    sc->max_clients);
		client_refuse_attach(c, LPROTO_ST_TOO_MANY, why);
		return;
	}
	client_welcome(c);
}

static void
client_send_result(struct client *c, int status)
{
	uint8_t body[4];

	lproto_put_u32(body, (uint32_t)status);
	client_write_frame(c, LPROTO_SEND_RESULT, body, sizeof(body), NULL);
}

static void
client_block(struct client *c)
{
	c->blocked = 1;
	c->local->nblocked++;
	bufferevent_disable(c->bev, EV_READ);
}

static void
client_confirm(struct client *c, uint64_t seq)
{
	struct core *core = c->local->core;
	struct msg *m;

	while ((m = TAILQ_FIRST(&c->inflight)) != NULL && m->seq <= seq) {
		TAILQ_REMOVE(&c->inflight, m, entry);
		c->ninflight--;
		core_app_confirmed(core, m);
	}
}

/* The message of a SEND or SEND_TO, routed or queued by the socket. */
static void
client_send(struct client *c, uint8_t type, struct msg *m)
{
	int status;

	if (type == LPROTO_SEND_TO)
		m->flags |= MSG_TARGETED;
	status = core_app_send(c->local->core, m);
	if (type == LPROTO_SEND_TO)
		client_send_result(c, status);
}

/*
 * One whole frame whose header is checked, its body (blen bytes) in
 * memory that stays valid until this returns.  0, or -1 when the client
 * was freed.
 */
static int
client_take_frame(struct client *c, uint8_t type, const uint8_t *body,
    size_t blen)
{
	struct core *core = c->local->core;
	size_t idlen = type == LPROTO_SEND_TO ? LPROTO_ID_LEN : 0;
	struct msg view;
	char why[96];

	if (!client_welcomed(c) && type != LPROTO_HELLO) {
		client_free(c, "first frame is not a HELLO");
		return -1;
	}
	switch (type) {
	case LPROTO_HELLO:
		if (client_welcomed(c)) {
			client_free(c, "second HELLO");
			return -1;
		}
		if (lproto_get_u16(body) != LPROTO_VERSION) {
			snprintf(why, sizeof(why), "this daemon speaks local "
			    "protocol version %d only", LPROTO_VERSION);
			client_refuse_attach(c, LPROTO_ST_BAD_VERSION, why);
			return 0;
		}
		client_hello(c);
		return 0;
	case LPROTO_SEND:
	case LPROTO_SEND_TO:
		msg_borrow(&view, body + idlen, blen - idlen);
		memcpy(view.peer_id, body, idlen);
		client_send(c, type, &view);
		return 0;
	case LPROTO_CONFIRM:
		client_confirm(c, lproto_get_u64(body));
		core_deliver_queued(core);
		return 0;
	case LPROTO_CREDIT:
		c->receiving = 1;
		c->credit += lproto_get_u32(body);
		if (c->credit > CLIENT_MAX_CREDIT)
			c->credit = CLIENT_MAX_CREDIT;
		core_deliver_queued(core);
		return 0;
	default:
		snprintf(why, sizeof(why), "unexpected frame type %u", type);
		client_free(c, why);
		return -1;
	}
}

/* A SEND or SEND_TO over MSG_BORROW_MAX, whole at the front of the input:
 * moved into a message of its own.  0, or -1 when the client was freed. */
static int
client_take_large(struct client *c, uint8_t type, uint32_t blen)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t idlen = type == LPROTO_SEND_TO ? LPROTO_ID_LEN : 0;
	struct msg *m;

	if (!client_welcomed(c) ||
	    (type != LPROTO_SEND && type != LPROTO_SEND_TO)) {
		client_free(c, "unexpected large frame");
		return -1;
	}
	if ((m = msg_new(blen - idlen)) == NULL) {
		client_free(c, "out of memory");
		return -1;
	}
	evbuffer_drain(in, LPROTO_HDR_LEN);
	evbuffer_remove(in, m->peer_id, idlen);
	evbuffer_remove(in, m->data, m->len);
	client_send(c, type, m);
	return 0;
}

/* A SEND must wait while the send buffer is full (overflow = block). */
static int
client_must_wait(struct client *c, uint8_t type)
{
	if ((type == LPROTO_SEND || type == LPROTO_SEND_TO) &&
	    client_welcomed(c) && core_send_blocked(c->local->core)) {
		client_block(c);
		return 1;
	}
	return 0;
}

/*
 * frames_walk()'s questions about an application's input.  A SEND while
 * the send buffer is full (overflow = block) is left where it is and the
 * client is not read (client_must_wait()) until there is room.
 */
static int
client_frame_length(void *arg, const uint8_t *hdr, size_t have, size_t *len)
{
	struct client *c = arg;
	uint8_t type;
	uint32_t blen;

	switch (lproto_frame_check(hdr, have, c->local->home->max_message_size,
	    &type, &blen)) {
	case LPROTO_FRAME_BAD:
		client_free(c, "malformed or oversized frame");
		return -1;
	case LPROTO_NEED_MORE:
		return 0;
	case LPROTO_FRAME_OK:
		break;
	}
	if (client_must_wait(c, type))
		return 0;
	*len = LPROTO_HDR_LEN + (size_t)blen;
	return 1;
}

static int
client_frame_take(void *arg, const uint8_t *frame, size_t len)
{
	return client_take_frame(arg, frame[4], frame + LPROTO_HDR_LEN,
	    len - LPROTO_HDR_LEN);
}

static int
client_frame_take_large(void *arg, struct evbuffer *in, size_t len)
{
	uint8_t hdr[LPROTO_HDR_LEN];

	evbuffer_copyout(in, hdr, sizeof(hdr));
	return client_take_large(arg, hdr[4], (uint32_t)(len - LPROTO_HDR_LEN));
}

static int
client_frame_stop(void *arg, int chain)
{
	struct client *c = arg;

	(void)chain;
	return c->state == CLIENT_REFUSED || c->blocked;
}

static const struct frames_ops client_frames = {
	.hdr_len = LPROTO_HDR_LEN,
	.length = client_frame_length,
	.take = client_frame_take,
	.take_large = client_frame_take_large,
	.stop = client_frame_stop,
};

/* Read, take every whole frame (frames.h), then see to the end of the
 * stream. */
static void
client_readcb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->state == CLIENT_FINISHED)
		return;
	if (c->state != CLIENT_REFUSED && !c->blocked && !c->ended &&
	    bev_read_more(bev) == -1)
		c->ended = client_end_cause(errno);
	switch (frames_walk(in, &client_frames, c)) {
	case FRAMES_CLOSED:
		return;
	case FRAMES_NOMEM:
		client_free(c, "out of memory");
		return;
	case FRAMES_DONE:
		break;
	}
	/* The end of its stream, once what came before it is taken. */
	if (c->ended != 0 && !c->blocked && c->state != CLIENT_REFUSED) {
		if (c->local->stopping && client_welcomed(c) && c->ended == -1)
			client_finish(c);
		else
			client_free(c, c->ended > 0 ? strerror(c->ended) : NULL);
	}
}

static void
client_writecb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;

	if (c->state == CLIENT_REFUSED) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			client_free(c, NULL);
		return;
	}
	core_deliver_queued(c->local->core);
}

/*
 * c->ended for a connection that ended with errno err: -1 for a normal end
 * (an application that exits with bytes from us unread resets its
 * connection), else the error.
 */
static int
client_end_cause(int err)
{
	return err == 0 || err == ECONNRESET || err == EPIPE ? -1 : err;
}

static void
client_eventcb(struct bufferevent *bev, short what, void *arg)
{
	struct client *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (c->state == CLIENT_REFUSED || c->state == CLIENT_FINISHED) {
		client_free(c, NULL);
		return;
	}
	/* Frames it sent before the end still count: readcb takes them,
	 * then frees the client. */
	c->ended = (what & BEV_EVENT_EOF) ? -1 : client_end_cause(err);
	client_readcb(bev, c);
}

/* why == NULL: a normal detach; otherwise the client broke the protocol or
 * its connection failed, which is logged as a drop. */
static void
client_free(struct client *c, const char *why)
{
	struct local *l = c->local;
	struct core *core = l->core;
	struct home *h = l->home;
	size_t requeued = c->ninflight;
	char more[LOG_MORE_LEN];
	int64_t k;

	if (why != NULL) {
		STATS_INC(&h->stats, apps_dropped);
		if ((k = log_ratelimit_pass(&l->rl_dropped, now_ms())) >= 0)
			log_warnx("socket %s: application %" PRIu64 " (pid %ld, "
			    "uid %ld) dropped: %s%s", h->name, c->id,
			    (long)c->pid, (long)c->uid, why, log_more(more, k));
	} else if (client_welcomed(c))
		log_info("socket %s: application %" PRIu64 " detached%s",
		    h->name, c->id, requeued ? " with unconfirmed messages" :
		    "");
	if (l->rr_next == c)
		l->rr_next = TAILQ_NEXT(c, entry);
	TAILQ_REMOVE(&l->clients, c, entry);
	l->nclients--;
	if (client_welcomed(c))
		l->nattached--;
	if (c->blocked)
		l->nblocked--;
	share_release(c->uid, c->greeted);
	event_free(c->hello_ev);
	bufferevent_free(c->bev);
	if (!TAILQ_EMPTY(&c->inflight))
		core_app_requeue(core, &c->inflight);
	free(c);
	if (requeued > 0)
		core_deliver_queued(core);
}

/*
 * Its stream ended after CLOSING: every frame it sent is handled.  Until
 * the daemon exits it only takes what the socket still holds; a write
 * error (it left) frees it.
 */
static void
client_finish(struct client *c)
{
	client_enter(c, CLIENT_FINISHED);
}

/* No HELLO within LOCAL_HELLO_MS: closed, logged (a few lines a period). */
static void
client_hello_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	struct local *l = c->local;
	char more[LOG_MORE_LEN];
	int64_t k;

	(void)fd;
	(void)what;
	STATS_INC(&l->home->stats, apps_refused);
	if ((k = log_ratelimit_pass(&l->rl_hello, now_ms())) >= 0)
		log_warnx("socket %s: application %" PRIu64 " (pid %ld, uid "
		    "%ld) closed: no HELLO within %d ms%s", l->home->name, c->id,
		    (long)c->pid, (long)c->uid, LOCAL_HELLO_MS,
		    log_more(more, k));
	client_free(c, NULL);
}

static void
local_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct local *l = arg;
	struct timeval tv = { LOCAL_HELLO_MS / 1000,
	    LOCAL_HELLO_MS % 1000 * 1000 };
	struct client *c;
	char why[128], more[LOG_MORE_LEN];
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int64_t k;

	(void)lev;
	(void)sa;
	(void)salen;
	/* Who connected: for its share, allow_users, allow_groups and log
	 * lines. */
	unixsock_peer_cred(fd, &pid, &uid, &gid);
	if (share_admit(uid, why, sizeof(why)) == -1) {
		STATS_INC(&l->home->stats, apps_refused);
		if ((k = log_ratelimit_pass(&l->rl_refused, now_ms())) >= 0)
			log_warnx("socket %s: refused a connection of pid %ld, "
			    "uid %ld: %s%s", l->home->name, (long)pid, (long)uid,
			    why, log_more(more, k));
		evutil_closesocket(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->hello_ev = evtimer_new(l->home->base, client_hello_timeout,
	    c)) == NULL ||
	    (c->bev = bev_new(l->home->base, fd)) == NULL) {
		log_warnx("socket %s: refused an application: out of memory",
		    l->home->name);
		share_release(uid, 0);
		if (c != NULL && c->hello_ev != NULL)
			event_free(c->hello_ev);
		free(c);
		evutil_closesocket(fd);
		return;
	}
	c->local = l;
	c->id = ++l->next_id;
	c->pid = pid;
	c->uid = uid;
	c->gid = gid;
	TAILQ_INIT(&c->inflight);
	bufferevent_setwatermark(c->bev, EV_WRITE, CLIENT_HWM / 2, 0);
	bufferevent_setcb(c->bev, client_readcb, client_writecb,
	    client_eventcb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->hello_ev, &tv);
	TAILQ_INSERT_TAIL(&l->clients, c, entry);
	l->nclients++;
}

static void
local_accept_error(struct evconnlistener *lev, void *arg)
{
	struct local *l = arg;

	(void)lev;
	accept_pause_error(&l->pause);
}

/*
 * socket_group and socket_mode on the file, at start and after a reload.
 * While the group changes, the file has only the permissions the old and
 * the new setting both give, so that neither group ever gets more than
 * one of them says.  0, or -1 after logging why.
 */
static int
local_set_access(struct local *l)
{
	const struct socket_conf *sc = l->home->conf;
	mode_t mode = (mode_t)sc->socket_mode;
	gid_t gid = getegid();
	char who[16 + CONFIG_NAME_MAX];
	int changed;

	if (sc->socket_group != NULL &&
	    !config_group_id(sc->socket_group, &gid)) {
		log_warnx("socket %s: socket_group: no such group '%s'",
		    l->home->name, sc->socket_group);
		return -1;
	}
	changed = l->gid != (gid_t)-1 && (gid != l->gid || mode != l->mode);
	snprintf(who, sizeof(who), "socket %s", l->home->name);
	if (gid != l->gid) {
		if (unixsock_chmod(l->path, l->mode & mode, who) == -1)
			return -1;
		l->mode &= mode;
		if (unixsock_chown(l->path, (uid_t)-1, gid, who) == -1)
			return -1;
		l->gid = gid;
	}
	if (mode != l->mode) {
		if (unixsock_chmod(l->path, mode, who) == -1)
			return -1;
		l->mode = mode;
	}
	if (changed)
		log_info("socket %s: %s now has group %s (%ld), mode %04o",
		    l->home->name, l->path, sc->socket_group != NULL ?
		    sc->socket_group : "the daemon's", (long)gid,
		    (unsigned)mode);
	return 0;
}

void
local_reconfigure(struct local *l)
{
	if (l != NULL && l->lev != NULL)
		local_set_access(l);
}

struct local *
local_new(struct core *core, const char *path)
{
	struct home *h = core_home(core);
	struct local *l;
	char who[16 + CONFIG_NAME_MAX], what[96];
	mode_t mode = (mode_t)h->conf->socket_mode & 0700;
	int fd;

	/* The owner's bits only until group and mode are in place. */
	snprintf(who, sizeof(who), "socket %s", h->name);
	if ((fd = unixsock_bind(path, mode, who)) == -1)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->path = strdup(path)) == NULL) {
		free(l);
		close(fd);
		unlink(path);
		return NULL;
	}
	l->core = core;
	l->home = h;
	l->sink.take = local_take;
	l->sink.arg = l;
	l->sink.what = "an application";
	l->sink.waits_for = "an application";
	l->mode = mode;
	l->gid = (gid_t)-1;
	l->rl_refused.burst = 5;
	l->rl_dropped.burst = 5;
	l->rl_hello.burst = 5;
	TAILQ_INIT(&l->clients);
	if (local_set_access(l) == -1) {
		close(fd);
		unlink(path);
		free(l->path);
		free(l);
		return NULL;
	}
	l->lev = evconnlistener_new(h->base, local_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, LOCAL_BACKLOG, fd);
	snprintf(what, sizeof(what), "socket %s: application socket %s",
	    h->name, path);
	if (l->lev == NULL ||
	    accept_pause_init(&l->pause, h->base, l->lev, what) == -1) {
		log_warn("socket %s: listen %s", h->name, path);
		if (l->lev == NULL)
			close(fd);
		else
			evconnlistener_free(l->lev);
		accept_pause_clear(&l->pause);
		unlink(path);
		free(l->path);
		free(l);
		return NULL;
	}
	evconnlistener_set_error_cb(l->lev, local_accept_error);
	return l;
}

void
local_stop_accepting(struct local *l)
{
	if (l->lev == NULL)
		return;
	evconnlistener_free(l->lev);
	l->lev = NULL;
	accept_pause_clear(&l->pause);
	unlink(l->path);
}

void
local_free(struct local *l)
{
	struct evbuffer *out;
	struct client *c;

	if (l == NULL)
		return;
	local_stop_accepting(l);
	while ((c = TAILQ_FIRST(&l->clients)) != NULL) {
		TAILQ_REMOVE(&l->clients, c, entry);
		/* What was delivered last goes out if it fits without a
		 * wait (a stopping daemon delivers until the end). */
		out = bufferevent_get_output(c->bev);
		while (evbuffer_get_length(out) > 0 &&
		    evbuffer_write(out, bufferevent_getfd(c->bev)) > 0)
			;
		share_release(c->uid, c->greeted);
		event_free(c->hello_ev);
		bufferevent_free(c->bev);
		msg_queue_clear(&c->inflight);
		free(c);
	}
	free(l->path);
	free(l);
}

static int
client_has_room(const struct client *c)
{
	if (!client_welcomed(c) ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >= CLIENT_HWM)
		return 0;
	/* Stopping: what is left goes to whoever receives, or is lost. */
	if (c->local->stopping)
		return c->receiving;
	return c->credit > 0 && c->ninflight < CLIENT_MAX_INFLIGHT;
}

const struct core_sink *
local_sink(const struct local *l)
{
	return &l->sink;
}

/*
 * The socket's sink: the next application that has room takes m, 1 (with
 * the reference: a DELIVER_REQ is confirmed by the application later, a
 * DELIVER is done once written), or 0 when none can now.
 */
static int
local_take(void *arg, struct msg *m)
{
	struct local *l = arg;
	struct client *c;
	uint8_t fixed[8 + LPROTO_ID_LEN];
	size_t i;

	if (l->nclients == 0)
		return 0;
	c = l->rr_next != NULL ? l->rr_next : TAILQ_FIRST(&l->clients);
	for (i = 0; i < l->nclients; i++) {
		if (client_has_room(c))
			break;
		if ((c = TAILQ_NEXT(c, entry)) == NULL)
			c = TAILQ_FIRST(&l->clients);
	}
	if (i == l->nclients)
		return 0;
	l->rr_next = TAILQ_NEXT(c, entry);
	if (c->credit > 0)
		c->credit--;
	if (m->flags & MSG_HAS_ID) {
		m->seq = ++c->last_seq;
		lproto_put_u64(fixed, m->seq);
		memcpy(fixed + 8, m->peer_id, LPROTO_ID_LEN);
		client_write_frame(c, LPROTO_DELIVER_REQ, fixed, sizeof(fixed),
		    m);
		TAILQ_INSERT_TAIL(&c->inflight, m, entry);
		c->ninflight++;
	} else {
		client_write_frame(c, LPROTO_DELIVER, m->peer_id,
		    LPROTO_ID_LEN, m);
		msg_unref(m);
	}
	return 1;
}

void
local_resume_reading(struct local *l)
{
	struct client *c;

	if (l->nblocked == 0)
		return;
	TAILQ_FOREACH(c, &l->clients, entry) {
		if (!c->blocked)
			continue;
		c->blocked = 0;
		bufferevent_enable(c->bev, EV_READ);
		bufferevent_trigger(c->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	}
	l->nblocked = 0;
}

size_t
local_count(const struct local *l)
{
	return l->nclients;
}

void
local_closing(struct local *l)
{
	struct client *c;

	if (l == NULL || l->stopping)
		return;
	l->stopping = 1;
	TAILQ_FOREACH(c, &l->clients, entry)
		if (client_welcomed(c))
			client_write_frame(c, LPROTO_CLOSING, NULL, 0, NULL);
	/* Credit no longer holds anything back. */
	core_deliver_queued(l->core);
}

size_t
local_unfinished(const struct local *l)
{
	const struct client *c;
	struct core_queues q;
	size_t n = 0;
	int room = 0;

	if (l == NULL)
		return 0;
	TAILQ_FOREACH(c, &l->clients, entry) {
		if (c->state != CLIENT_FINISHED)
			n++;
		else if (client_has_room(c))
			room = 1;
	}
	/* Only applications take from a socket without routes. */
	if (room && core_sink(l->core) == &l->sink) {
		core_queues(l->core, &q);
		if (q.recv > 0)
			n++;
	}
	return n;
}
