/*
 * fuzz_core: a smart socket's routing core (daemon/ssock.c) driven by
 * fake links (tests/core/fake_link.h) and a fake application sink, with
 * no socket, no file and no peer: every input is a script of what links
 * and applications do, and after every step the core's promises are
 * checked.
 *
 * Byte 0 configures a fresh socket: bit 0 publish (else round-robin),
 * bit 1 at-least-once, bits 2-3 overflow (0 block, 1 drop-new, 2 and 3
 * drop-old), bits 4-5 send_buffer 1-4, bit 6 recv_buffer 2 (else 8), bit 7
 * routes: a second core, "back", that the socket forwards to with
 * replies (links 6 and 7 are back's, and back's applications take and
 * confirm everything at once).
 * resend_timeout and subscriber_timeout are 1 ms (the least the
 * configuration allows), so that letting time pass fires every resend and
 * slow-subscriber check that is due.  Then every
 * two bytes are one step: the low nibble of the first is what happens,
 * its high nibble which of 8 links (bit 3 ignored), the second an
 * argument:
 *   0 a link connects (identity 1-4 from arg: duplicates happen)
 *   1 its handshake ends (link_up(); refused: it closes)
 *   2 it ends                     3 the application sends
 *   4 ... to identity 1-4         5 the link receives a DATA
 *   6 ... a DATA_REQ (id from arg: resends happen)
 *   7 it ACKs one of its last 8 DATA_REQs
 *   8 its output fills            9 it drains
 *  10 the application has room for arg % 8 more
 *  11 it confirms all it holds
 *  12 2 ms pass and the loop runs (timers due; the first 4 times only,
 *     so that an input stays fast)
 *  13 the application leaves: what it holds unconfirmed is requeued
 *  14 a reload with the same settings
 *  15 every link asked to close closes
 * Checked after each step: the core's counts of links and active links;
 * reading paused on every link that is up exactly while the socket's
 * receive queue is full; nothing written to a link that is closing;
 * drop-new and drop-old keep send_buffer; every message an application
 * handed over (round-robin) is written (at-most-once), acknowledged
 * (at-least-once), still queued, or counted as dropped or given up; every
 * message received is taken by the application or waits, except counted
 * duplicates (without routes: with them, what is forwarded and what
 * comes back as replies is the routes' to count).  At the end every link
 * ends, the routes are forgotten, and nothing leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "fake_link.h"
#include "log.h"
#include "lproto.h"
#include "msg.h"
#include "core.h"
#include "route.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define NLINKS 8
#define HELD_MAX 64

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "fuzz_core: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

struct app {
	struct core_sink sink;
	struct core *ss;
	size_t room;
	struct msg *held[HELD_MAX];     /* taken, not confirmed yet */
	size_t nheld;
	uint64_t taken;                 /* taken and not given back */
};

static struct event_base *base;

static int
app_take(void *arg, struct msg *m)
{
	struct app *a = arg;

	if (a->room == 0 || a->nheld == HELD_MAX)
		return 0;
	CHECK((m = msg_keep(m)) != NULL);
	a->room--;
	a->taken++;
	a->held[a->nheld++] = m;
	return 1;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_to_stderr();
	log_set_level(LOG_CRIT);        /* drops and give-ups are expected */
	CHECK((base = event_base_new()) != NULL);
	return 0;
}

struct run {
	struct socket_conf sc, bsc;
	struct core *ss;
	struct core *back;              /* routes: the target, else NULL */
	struct core_pair { struct core *c[2]; } pair;
	struct app app;
	struct fake_link links[NLINKS];
	size_t sent_before_close[NLINKS];       /* nsent when asked to close */
	uint64_t accepted, refused_overflow, acked, received;
	uint64_t written;                       /* by links that ended */
	uint8_t inbound[256];                   /* DATA_REQ ids (all bytes
	                                           alike) taken by the socket
	                                           and not confirmed */
	unsigned seq;
	unsigned waits;                         /* steps 12 so far */
};

/* The core link i belongs to. */
static struct core *
core_of(struct run *r, size_t i)
{
	return r->back != NULL && i >= NLINKS - 2 ? r->back : r->ss;
}

/* back's applications: take and confirm everything at once. */
static int
back_take(void *arg, struct msg *m)
{
	core_app_confirmed(arg, m);
	return 1;
}

static struct core *
find_core(void *arg, const char *name)
{
	struct core_pair *p = arg;
	int i;

	for (i = 0; i < 2; i++)
		if (p->c[i] != NULL &&
		    strcmp(core_home(p->c[i])->name, name) == 0)
			return p->c[i];
	return NULL;
}

static struct core_queues
queues(const struct core *core)
{
	struct core_queues q;

	core_queues(core, &q);
	return q;
}

static void
check_invariants(struct run *r)
{
	struct core *ss = r->ss;
	struct core_queues q = queues(ss);
	size_t i, nattached[2] = { 0, 0 }, nup[2] = { 0, 0 };
	uint64_t written = r->written;
	const struct stats *st = &core_home(ss)->stats;
	int k;

	for (i = 0; i < NLINKS; i++) {
		struct fake_link *f = &r->links[i];

		if (!f->attached)
			continue;
		k = core_of(r, i) != ss;
		nattached[k]++;
		written += f->nsent;
		if (f->link.state == LINK_UP) {
			nup[k]++;
			CHECK(f->paused ==
			    queues(core_of(r, i)).reading_paused);
		} else
			CHECK(f->nsent == 0);
		if (f->closing_asked != NULL)
			CHECK(f->nsent == r->sent_before_close[i]);
	}
	CHECK(core_npeers(ss) == nattached[0]);
	CHECK(q.active == nup[0]);
	if (r->back != NULL) {
		CHECK(core_npeers(r->back) == nattached[1]);
		CHECK(queues(r->back).active == nup[1]);
	}
	if (r->sc.overflow != OVERFLOW_BLOCK)
		CHECK(q.send + q.pending <= r->sc.send_buffer);
	if (r->back != NULL)
		return;
	CHECK(r->received == r->app.taken + q.recv);
	if (r->sc.send_mode != SEND_ROUNDROBIN)
		return;
	if (r->sc.delivery == DELIVERY_AT_MOST_ONCE)
		CHECK(r->accepted == written + q.send +
		    (st->drops_overflow - r->refused_overflow) +
		    st->drops_unroutable);
	else
		CHECK(r->accepted == r->acked + q.pending +
		    q.send + (st->drops_overflow -
		    r->refused_overflow) + st->drops_unroutable +
		    st->giveups);
}

static void
link_end(struct run *r, struct fake_link *f)
{
	r->written += f->nsent;
	fake_link_down(f);
}

static void
app_send(struct run *r, const uint8_t *target)
{
	char text[16];
	struct msg *m;
	int st;

	snprintf(text, sizeof(text), "m%u", r->seq++);
	CHECK((m = msg_new_copy(text, strlen(text))) != NULL);
	if (target != NULL) {
		memcpy(m->peer_id, target, 16);
		m->flags |= MSG_TARGETED;
	}
	switch (st = core_app_send(r->ss, m)) {
	case LPROTO_OK:
		r->accepted++;
		break;
	case LPROTO_ST_NO_BUFFER:
		r->refused_overflow++;
		break;
	default:
		CHECK(st == LPROTO_ST_UNREACHABLE && target != NULL);
	}
}

static void
step(struct run *r, uint8_t what, uint8_t arg)
{
	size_t li = (what >> 4) & (NLINKS - 1);
	struct fake_link *f = &r->links[li];
	struct core *ss = r->ss, *lc = core_of(r, li);
	const struct stats *st = &core_home(ss)->stats;
	struct core_queues q;
	uint8_t id[16];
	uint64_t dups, held;
	size_t i, k;

	switch (what & 0x0f) {
	case 0:
		if (!f->attached)
			fake_link_attach(f, core_home(lc), (uint8_t)(1 + arg % 4));
		break;
	case 1:
		if (f->attached && f->link.state == LINK_HANDSHAKE &&
		    fake_link_up(f) == -1)
			link_end(r, f);
		break;
	case 2:
		if (f->attached)
			link_end(r, f);
		break;
	case 3:
		app_send(r, NULL);
		break;
	case 4:
		memset(id, 1 + arg % 4, sizeof(id));
		app_send(r, id);
		break;
	case 5:
	case 6:
		if (!f->attached || f->link.state != LINK_UP)
			break;
		memset(id, arg, sizeof(id));
		dups = core_home(lc)->stats.duplicates;
		if ((what & 0x0f) == 6 && r->inbound[arg])
			dups++;         /* still here unconfirmed: a resend */
		else
			r->received++;
		if ((what & 0x0f) == 6)
			r->inbound[arg] = 1;
		fake_link_receive(f, (what & 0x0f) == 6 ? id : NULL, "r", 1);
		/* With routes, when a message is done is the routes' business:
		 * the model of unconfirmed ids is for applications. */
		if (r->back == NULL)
			CHECK(core_home(lc)->stats.duplicates == dups);
		break;
	case 7:
		if (!f->attached || f->nids == 0)
			break;
		k = f->nids - 1 - arg % (f->nids < 8 ? f->nids : 8);
		/* What leaves the socket's hands besides a drop is what the
		 * ACK took (a flush only moves messages into pending). */
		core_queues(ss, &q);
		held = q.send + q.pending + st->drops_unroutable;
		fake_link_ack(f, k);
		core_queues(ss, &q);
		if (r->back == NULL)
			CHECK(held - (q.send + q.pending +
			    st->drops_unroutable) <= 1);
		r->acked += held - (q.send + q.pending + st->drops_unroutable);
		break;
	case 8:
		if (f->attached)
			f->unflushed = r->sc.peer_buffer;
		break;
	case 9:
		if (f->attached && f->link.state == LINK_UP)
			fake_link_drain(f);
		break;
	case 10:
		r->app.room += arg % 8;
		core_deliver_queued(ss);
		break;
	case 11:
		for (i = 0; i < r->app.nheld; i++) {
			if (r->app.held[i]->flags & MSG_HAS_ID)
				r->inbound[r->app.held[i]->msg_id[0]] = 0;
			core_app_confirmed(ss, r->app.held[i]);
		}
		r->app.nheld = 0;
		break;
	case 12:
		if (r->waits++ < 4) {
			usleep(2000);
			event_base_loop(base, EVLOOP_NONBLOCK);
		}
		break;
	case 13: {
		struct msg_queue back;

		TAILQ_INIT(&back);
		for (i = 0; i < r->app.nheld; i++)
			TAILQ_INSERT_TAIL(&back, r->app.held[i], entry);
		r->app.taken -= r->app.nheld;
		r->app.nheld = 0;
		r->app.room = 0;
		core_app_requeue(ss, &back);
		break;
	}
	case 14:
		core_set_conf(ss, &r->sc);
		core_conf_applied(ss);
		break;
	case 15:
		for (i = 0; i < NLINKS; i++)
			if (r->links[i].attached &&
			    r->links[i].closing_asked != NULL)
				link_end(r, &r->links[i]);
		break;
	}
	/* What is written to a link from the moment it is asked to close. */
	for (i = 0; i < NLINKS; i++)
		if (r->links[i].attached && r->links[i].closing_asked == NULL)
			r->sent_before_close[i] = r->links[i].nsent;
}

/* back's send buffer has room: routes into it go on (as ssock.c's). */
static void
back_room(void *arg)
{
	route_target_ready(arg);
}

/* A route from the socket to a second core, replies back (ssock.c's
 * wiring, by hand). */
static void
routes_up(struct run *r)
{
	static struct core_sink back_apps = {
		.take = back_take,
		.what = "back's applications",
		.waits_for = "back's applications",
	};
	static size_t target = 1;
	struct socket_conf confs[2];
	struct config cfg;

	r->bsc = r->sc;
	snprintf(r->bsc.name, sizeof(r->bsc.name), "back");
	r->bsc.send_mode = SEND_ROUNDROBIN;
	r->bsc.overflow = OVERFLOW_BLOCK;
	CHECK((r->back = core_new(base, &r->bsc, 1 << 20)) != NULL);
	back_apps.arg = r->back;
	core_set_sink(r->back, &back_apps);
	core_set_tap(r->ss, &route_tap);
	core_set_tap(r->back, &route_tap);
	core_on_room(r->back, back_room, r->back);
	confs[0] = r->sc;
	confs[0].forward_to = &target;
	confs[0].nforward = 1;
	confs[0].forward_replies = 1;
	confs[1] = r->bsc;
	memset(&cfg, 0, sizeof(cfg));
	cfg.sockets = confs;
	cfg.nsockets = 2;
	r->pair.c[0] = r->ss;
	r->pair.c[1] = r->back;
	routes_apply(&cfg, find_core, &r->pair);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	size_t i;

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	snprintf(r.sc.name, sizeof(r.sc.name), "core");
	r.sc.send_mode = data[0] & 1 ? SEND_PUBLISH : SEND_ROUNDROBIN;
	r.sc.delivery = data[0] & 2 ? DELIVERY_AT_LEAST_ONCE :
	    DELIVERY_AT_MOST_ONCE;
	r.sc.overflow = (data[0] >> 2 & 3) == 0 ? OVERFLOW_BLOCK :
	    (data[0] >> 2 & 3) == 1 ? OVERFLOW_DROP_NEW : OVERFLOW_DROP_OLD;
	r.sc.send_buffer = 1 + (data[0] >> 4 & 3);
	r.sc.recv_buffer = data[0] & 0x40 ? 2 : 8;
	r.sc.send_buffer_size = 1 << 20;
	r.sc.recv_buffer_size = 1 << 20;
	r.sc.peer_buffer = 4096;
	r.sc.max_retries = 2;
	r.sc.resend_timeout_ms = 1;
	r.sc.subscriber_timeout_ms = 1;
	r.sc.heartbeat_interval_ms = 5000;
	r.sc.heartbeat_timeout_ms = 15000;
	r.sc.max_peers = CONFIG_UNLIMITED;
	r.sc.max_clients = CONFIG_UNLIMITED;
	CHECK((r.ss = core_new(base, &r.sc, 1 << 20)) != NULL);
	r.app.sink.take = app_take;
	r.app.sink.arg = &r.app;
	r.app.sink.what = r.app.sink.waits_for = "the fuzzer";
	r.app.ss = r.ss;
	core_set_sink(r.ss, &r.app.sink);
	if (data[0] & 0x80)
		routes_up(&r);
	for (i = 1; i + 1 < size; i += 2) {
		step(&r, data[i], data[i + 1]);
		check_invariants(&r);
	}
	for (i = 0; i < NLINKS; i++)
		if (r.links[i].attached)
			link_end(&r, &r.links[i]);
	for (i = 0; i < r.app.nheld; i++)
		core_app_confirmed(r.ss, r.app.held[i]);
	r.app.nheld = 0;
	check_invariants(&r);
	if (r.back != NULL) {
		routes_forget(r.ss);
		routes_forget(r.back);
		core_free(r.back);
	}
	core_free(r.ss);
	routes_free();
	event_base_loop(base, EVLOOP_NONBLOCK);
	return 0;
}
