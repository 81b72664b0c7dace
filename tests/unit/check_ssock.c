/*
 * check_ssock: a smart socket's routing core driven through fake links
 * (tests/core/fake_link.h), with no socket, no file and no peer: publish,
 * round-robin, send-to-identity, buffering and in-order flush, the
 * overflow policies, slow subscribers, at-least-once ACK/resend/give-up
 * and requeue, receive dedup, back-pressure and ACK on confirm, duplicate
 * identities, routes and their replies, reload and the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/event.h>

#include "check_main.h"
#include "fake_link.h"
#include "lproto.h"
#include "msg.h"
#include "route.h"
#include "core.h"

static struct event_base *base;
static struct socket_conf sc;
static struct core *ss;

static struct core_queues
core_queues_of(const struct core *c)
{
	struct core_queues q;

	core_queues(c, &q);
	return q;
}

/* What the test's core holds now. */
static struct core_queues
Q(void)
{
	return core_queues_of(ss);
}

/* The application side: a sink that takes while it has room and holds
 * what it took until the test confirms it. */
struct app {
	struct core_sink sink;
	struct core *ss;
	size_t room;
	struct msg *held[64];
	size_t nheld;
	char got[1024];
};
static struct app app;

static int
app_take(void *arg, struct msg *m)
{
	struct app *a = arg;
	struct msg *kept;

	if (a->room == 0 || a->nheld == 64 || (kept = msg_keep(m)) == NULL)
		return 0;
	a->room--;
	strncat(a->got, (const char *)kept->data, kept->len);
	strcat(a->got, ",");
	a->held[a->nheld++] = kept;
	return 1;
}

/* The application confirms everything it holds. */
static void
app_confirm_all(struct app *a)
{
	size_t i;

	for (i = 0; i < a->nheld; i++)
		core_app_confirmed(a->ss, a->held[i]);
	a->nheld = 0;
}

static void
conf_defaults(struct socket_conf *c, const char *name)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->send_mode = SEND_ROUNDROBIN;
	c->delivery = DELIVERY_AT_MOST_ONCE;
	c->overflow = OVERFLOW_BLOCK;
	c->heartbeat_interval_ms = 5000;
	c->heartbeat_timeout_ms = 15000;
	c->resend_timeout_ms = 30;
	c->subscriber_timeout_ms = 30;
	c->max_retries = 2;
	c->send_buffer = 10;
	c->recv_buffer = 1000;
	c->send_buffer_size = 64 << 20;
	c->recv_buffer_size = 64 << 20;
	c->peer_buffer = 1 << 20;
	c->max_peers = CONFIG_UNLIMITED;
	c->max_clients = CONFIG_UNLIMITED;
}

static void
setup_with(enum send_mode mode, enum delivery delivery,
    enum overflow overflow, uint64_t send_buffer)
{
	conf_defaults(&sc, "t");
	sc.send_mode = mode;
	sc.delivery = delivery;
	sc.overflow = overflow;
	sc.send_buffer = send_buffer;
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	ss = core_new(base, &sc, 1 << 20);
	ck_assert_ptr_nonnull(ss);
	memset(&app, 0, sizeof(app));
	app.sink.take = app_take;
	app.sink.arg = &app;
	app.sink.what = app.sink.waits_for = "the test";
	app.ss = ss;
	app.room = 1000;
	core_set_sink(ss, &app.sink);
}

static void
teardown(void)
{
	app_confirm_all(&app);
	core_free(ss);
	event_base_free(base);
}

/* A link of ss that has done its handshake. */
static void
link_connect(struct fake_link *f, uint8_t idbyte)
{
	fake_link_attach(f, core_home(ss), idbyte);
	ck_assert_int_eq(fake_link_up(f), 0);
	ck_assert_int_eq(f->link.state, LINK_UP);
}

/* Let the core's timers that are due run. */
static void
wait_ms(unsigned ms)
{
	usleep(ms * 1000);
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static int
app_send(const char *s)
{
	return core_app_send(ss, msg_new_copy(s, strlen(s)));
}

static int
app_send_to(const uint8_t id[16], const char *s)
{
	struct msg *m = msg_new_copy(s, strlen(s));

	memcpy(m->peer_id, id, 16);
	m->flags |= MSG_TARGETED;
	return core_app_send(ss, m);
}

START_TEST(test_roundrobin)
{
	struct fake_link a, b;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	link_connect(&a, 0xaa);
	link_connect(&b, 0xbb);
	ck_assert_uint_eq(core_npeers(ss), 2);
	app_send("m0");
	app_send("m1");
	app_send("m2");
	app_send("m3");
	ck_assert_str_eq(a.sent, "m0,m2,");
	ck_assert_str_eq(b.sent, "m1,m3,");
	/* A full link is passed over, not waited for. */
	b.unflushed = sc.peer_buffer;
	app_send("m4");
	app_send("m5");
	ck_assert_str_eq(a.sent, "m0,m2,m4,m5,");
	/* Nobody with room: it waits, and goes when one drains. */
	a.unflushed = sc.peer_buffer;
	app_send("m6");
	ck_assert_uint_eq(Q().send, 1);
	fake_link_drain(&b);
	ck_assert_str_eq(b.sent, "m1,m3,m6,");
	fake_link_down(&a);
	ck_assert_uint_eq(core_npeers(ss), 1);
	app_send("m7");
	ck_assert_str_eq(b.sent, "m1,m3,m6,m7,");
	fake_link_down(&b);
	ck_assert_uint_eq(core_npeers(ss), 0);
	teardown();
}
END_TEST

START_TEST(test_publish_and_targeted)
{
	struct fake_link a, b, c;
	uint8_t nobody[16];

	setup_with(SEND_PUBLISH, DELIVERY_AT_MOST_ONCE, OVERFLOW_DROP_NEW, 10);
	link_connect(&a, 0xaa);
	link_connect(&b, 0xbb);
	/* Still handshaking: gets nothing. */
	fake_link_attach(&c, core_home(ss), 0xcc);
	app_send("p0");
	app_send("p1");
	ck_assert_int_eq(app_send_to(b.link.identity, "only-b"), LPROTO_OK);
	memset(nobody, 0x11, 16);
	ck_assert_int_eq(app_send_to(nobody, "lost"), LPROTO_ST_UNREACHABLE);
	ck_assert_int_eq(app_send_to(c.link.identity, "not-yet"),
	    LPROTO_ST_UNREACHABLE);
	ck_assert_str_eq(a.sent, "p0,p1,");
	ck_assert_str_eq(b.sent, "p0,p1,only-b,");
	ck_assert_str_eq(c.sent, "");
	/* drop-new: a full subscriber loses its copy, the others do not. */
	b.unflushed = sc.peer_buffer;
	app_send("p2");
	ck_assert_str_eq(a.sent, "p0,p1,p2,");
	ck_assert_str_eq(b.sent, "p0,p1,only-b,");
	ck_assert_uint_eq(core_home(ss)->stats.drops_slow_peer, 1);
	ck_assert_uint_eq(b.link.drops, 1);
	/* A targeted message waits for its own peer's room. */
	ck_assert_int_eq(app_send_to(b.link.identity, "b-later"), LPROTO_OK);
	ck_assert_uint_eq(Q().send, 1);
	fake_link_drain(&b);
	ck_assert_str_eq(b.sent, "p0,p1,only-b,b-later,");
	/* Its peer left while it waited: dropped, counted. */
	b.unflushed = sc.peer_buffer;
	app_send_to(b.link.identity, "b-gone");
	fake_link_down(&b);
	fake_link_drain(&a);
	ck_assert_uint_eq(core_home(ss)->stats.drops_unroutable, 1);
	ck_assert_uint_eq(Q().send, 0);
	fake_link_down(&a);
	fake_link_down(&c);
	teardown();
}
END_TEST

START_TEST(test_publish_block_slow_subscriber)
{
	struct fake_link a, b;

	setup_with(SEND_PUBLISH, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	link_connect(&a, 0xaa);
	link_connect(&b, 0xbb);
	/* Both full: back-pressure, no clock runs. */
	a.unflushed = b.unflushed = sc.peer_buffer;
	app_send("s0");
	ck_assert_uint_eq(Q().send, 1);
	wait_ms(60);
	ck_assert_ptr_null(a.closing_asked);
	ck_assert_ptr_null(b.closing_asked);
	/* a reads again, b does not: b holds a back, and after
	 * subscriber_timeout it is disconnected; a gets everything. */
	fake_link_drain(&a);
	ck_assert_uint_eq(Q().send, 1);
	ck_assert_str_eq(a.sent, "");
	wait_ms(60);
	ck_assert_ptr_nonnull(b.closing_asked);
	ck_assert_uint_eq(core_home(ss)->stats.slow_peers_closed, 1);
	ck_assert_str_eq(a.sent, "s0,");
	ck_assert_str_eq(b.sent, "");
	fake_link_down(&b);
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_buffer_then_flush_in_order)
{
	struct fake_link a;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	app_send("q0");
	app_send("q1");
	app_send("q2");
	ck_assert_uint_eq(Q().send, 3);
	fake_link_attach(&a, core_home(ss), 0xaa);
	ck_assert_uint_eq(Q().send, 3);    /* handshaking */
	ck_assert_int_eq(fake_link_up(&a), 0);
	ck_assert_str_eq(a.sent, "q0,q1,q2,");
	ck_assert_uint_eq(Q().send, 0);
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_borrowed_copied_when_queued)
{
	struct fake_link a;
	char buf[8];
	struct msg view;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	/* A view of an input buffer: no peer yet, so it must be copied. */
	memcpy(buf, "keep-me", 7);
	msg_borrow(&view, buf, 7);
	ck_assert_int_eq(core_app_send(ss, &view), LPROTO_OK);
	memset(buf, 'X', sizeof(buf));          /* the input moves on */
	ck_assert_uint_eq(Q().send, 1);
	link_connect(&a, 0xaa);
	ck_assert_str_eq(a.sent, "keep-me,");
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_overflow_policies)
{
	struct fake_link a;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_DROP_NEW, 2);
	app_send("n0");
	app_send("n1");
	ck_assert_int_eq(app_send("n2"), LPROTO_ST_NO_BUFFER);
	app_send("n3");
	ck_assert_uint_eq(core_home(ss)->stats.drops_overflow, 2);
	link_connect(&a, 0xaa);
	ck_assert_str_eq(a.sent, "n0,n1,");
	fake_link_down(&a);
	teardown();

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_DROP_OLD, 2);
	app_send("o0");
	app_send("o1");
	app_send("o2");
	app_send("o3");
	ck_assert_uint_eq(core_home(ss)->stats.drops_overflow, 2);
	link_connect(&a, 0xaa);
	ck_assert_str_eq(a.sent, "o2,o3,");
	fake_link_down(&a);
	teardown();

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 2);
	app_send("b0");
	ck_assert_int_eq(core_send_blocked(ss), 0);
	app_send("b1");
	ck_assert_int_eq(core_send_blocked(ss), 1);
	link_connect(&a, 0xaa);
	ck_assert_int_eq(core_send_blocked(ss), 0);
	ck_assert_str_eq(a.sent, "b0,b1,");
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_at_least_once_ack_resend_giveup)
{
	struct fake_link a;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_LEAST_ONCE, OVERFLOW_BLOCK, 10);
	link_connect(&a, 0xaa);
	app_send("r0");
	app_send("r1");
	ck_assert_str_eq(a.sent, "r0,r1,");
	ck_assert_uint_eq(a.nids, 2);
	ck_assert_uint_eq(Q().pending, 2);
	/* Awaiting an ACK counts in send_buffer. */
	ck_assert_uint_eq(Q().pending, 2);
	/* ACK the first one only (and again: a late duplicate is nothing). */
	fake_link_ack(&a, 0);
	fake_link_ack(&a, 0);
	ck_assert_uint_eq(Q().pending, 1);
	/* r1 is resent (same msg_id) while the link is up, ever more
	 * rarely, and never given up on it. */
	fake_link_clear(&a);
	wait_ms(45);
	ck_assert_str_eq(a.sent, "r1,");
	ck_assert_mem_eq(a.ids[2], a.ids[1], 16);
	wait_ms(200);
	ck_assert_uint_ge(core_home(ss)->stats.resends, 1);
	/* 30 ms, then 60, 120, ...: at most 3 in 245 ms. */
	ck_assert_uint_le(core_home(ss)->stats.resends, 3);
	ck_assert_uint_eq(core_home(ss)->stats.giveups, 0);
	/* Lost with a link that ends without its ACK: queued again, until
	 * max_retries = 2 links ended with it. */
	fake_link_down(&a);
	ck_assert_uint_eq(Q().send, 1);
	link_connect(&a, 0xaa);
	ck_assert_uint_eq(Q().send, 0);
	ck_assert_uint_eq(Q().pending, 1);
	fake_link_down(&a);
	ck_assert_uint_eq(Q().send, 1);
	ck_assert_uint_eq(core_home(ss)->stats.giveups, 0);
	link_connect(&a, 0xaa);
	fake_link_down(&a);
	ck_assert_uint_eq(Q().send, 0);
	ck_assert_uint_eq(core_home(ss)->stats.giveups, 1);
	ck_assert_uint_eq(Q().pending, 0);
	teardown();
}
END_TEST

START_TEST(test_at_least_once_requeue_on_link_down)
{
	struct fake_link a, b;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_LEAST_ONCE, OVERFLOW_BLOCK, 10);
	link_connect(&a, 0xaa);
	app_send("x0");
	app_send("x1");
	ck_assert_str_eq(a.sent, "x0,x1,");
	fake_link_down(&a);             /* never acknowledged */
	ck_assert_uint_eq(Q().send, 2);
	link_connect(&b, 0xbb);
	ck_assert_str_eq(b.sent, "x0,x1,");
	/* The same ids: the receiver can tell a resend. */
	ck_assert_mem_eq(b.ids[0], a.ids[0], 16);
	ck_assert_mem_eq(b.ids[1], a.ids[1], 16);
	fake_link_down(&b);
	teardown();
}
END_TEST

START_TEST(test_receive_dedup_backpressure_ack)
{
	struct fake_link a;
	uint8_t id[16];

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	sc.recv_buffer = 3;
	app.room = 0;                   /* the application takes nothing */
	link_connect(&a, 0xaa);
	memset(id, 0x42, 16);
	fake_link_receive(&a, id, "hi", 2);
	fake_link_receive(&a, id, "hi", 2);     /* a resend, same msg_id */
	ck_assert_uint_eq(Q().recv, 1);
	ck_assert_uint_eq(core_home(ss)->stats.duplicates, 1);
	fake_link_receive(&a, NULL, "d", 1);
	ck_assert_int_eq(a.paused, 0);
	fake_link_receive(&a, NULL, "d", 1);
	/* Full at 3: reading stops (the link is paused, nothing dropped). */
	ck_assert_uint_eq(Q().recv, 3);
	ck_assert_int_eq(Q().reading_paused, 1);
	ck_assert_int_eq(a.paused, 1);
	/* A link that comes up meanwhile is paused at once. */
	{
		struct fake_link b;

		link_connect(&b, 0xbb);
		ck_assert_int_eq(b.paused, 1);
		fake_link_down(&b);
	}
	/* The application takes them, in order; reading resumes. */
	app.room = 10;
	core_deliver_queued(ss);
	ck_assert_str_eq(app.got, "hi,d,d,");
	ck_assert_int_eq(Q().reading_paused, 0);
	ck_assert_int_eq(a.paused, 0);
	/* A DATA_REQ is acknowledged once the application confirms it, on
	 * the sender's current link (it reconnected meanwhile). */
	ck_assert_uint_eq(a.nacks, 0);
	fake_link_down(&a);
	link_connect(&a, 0xaa);
	app_confirm_all(&app);
	ck_assert_uint_eq(a.nacks, 1);
	ck_assert_mem_eq(a.last_ack, id, 16);
	/* Confirmed: the same id again is new, not a duplicate. */
	fake_link_receive(&a, id, "hi", 2);
	ck_assert_uint_eq(core_home(ss)->stats.duplicates, 1);
	/* Unconfirmed deliveries of an application that left come back
	 * first, in order. */
	{
		struct msg_queue back;
		size_t i;

		TAILQ_INIT(&back);
		for (i = 0; i < app.nheld; i++)
			TAILQ_INSERT_TAIL(&back, app.held[i], entry);
		app.nheld = 0;
		app.room = 0;
		fake_link_receive(&a, NULL, "after", 5);
		core_app_requeue(ss, &back);
		app.room = 10;
		app.got[0] = '\0';
		core_deliver_queued(ss);
		ck_assert_str_eq(app.got, "hi,after,");
	}
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_duplicate_identity)
{
	struct fake_link a, a2;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	link_connect(&a, 0xaa);
	fake_link_attach(&a2, core_home(ss), 0xaa);
	ck_assert_int_eq(fake_link_up(&a2), -1);
	ck_assert_int_eq(a2.link.state, LINK_HANDSHAKE);
	ck_assert_uint_eq(core_npeers(ss), 2);
	fake_link_down(&a2);            /* the refused one closes */
	ck_assert_uint_eq(core_npeers(ss), 1);
	app_send("still-a");
	ck_assert_str_eq(a.sent, "still-a,");
	fake_link_down(&a);
	teardown();
}
END_TEST

START_TEST(test_reload_and_end)
{
	struct fake_link a, b;
	struct socket_conf sc2;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 1);
	link_connect(&a, 0xaa);
	fake_link_attach(&b, core_home(ss), 0xbb);
	a.unflushed = sc.peer_buffer;
	app_send("w0");
	ck_assert_int_eq(core_send_blocked(ss), 1);
	/* A larger send buffer unblocks; every link hears of the change. */
	sc2 = sc;
	sc2.send_buffer = 10;
	core_set_conf(ss, &sc2);
	core_conf_applied(ss);
	ck_assert_int_eq(core_send_blocked(ss), 0);
	ck_assert_int_eq(a.reconfigured, 1);
	ck_assert_int_eq(b.reconfigured, 1);
	/* The socket's end frees its links, without events. */
	core_free(ss);
	ss = NULL;
	ck_assert_int_eq(a.freed, 1);
	ck_assert_int_eq(b.freed, 1);
	event_base_free(base);
}
END_TEST

/* The source's applications, which take nothing in this test. */
static int
refuse_all(void *arg, struct msg *m)
{
	(void)arg;
	(void)m;
	return 0;
}

static const struct core_sink front_apps = {
	.take = refuse_all,
	.what = "an application",
	.waits_for = "an application",
};


/* The target's send buffer has room: its routes go on (as ssock.c's). */
static void
room_to_routes(void *arg)
{
	route_target_ready(arg);
}

/* routes_apply()'s finder over the two cores of arg. */
static struct core *
find_core(void *arg, const char *name)
{
	struct core **pair = arg;
	int i;

	for (i = 0; i < 2; i++)
		if (strcmp(core_home(pair[i])->name, name) == 0)
			return pair[i];
	return NULL;
}

/* Two cores and a route from one to the other, with replies. */
START_TEST(test_route_and_replies)
{
	struct core *pair[2];
	struct socket_conf confs[2];
	struct config cfg;
	struct core *from, *to;
	struct fake_link x, y, y2;
	size_t target = 1;

	base = event_base_new();
	conf_defaults(&confs[0], "front");
	conf_defaults(&confs[1], "back");
	confs[0].forward_to = &target;
	confs[0].nforward = 1;
	confs[0].forward_replies = 1;
	memset(&cfg, 0, sizeof(cfg));
	cfg.sockets = confs;
	cfg.nsockets = 2;
	ck_assert_ptr_nonnull(from = core_new(base, &confs[0], 1 << 20));
	ck_assert_ptr_nonnull(to = core_new(base, &confs[1], 1 << 20));
	pair[0] = from;
	pair[1] = to;
	core_set_tap(from, &route_tap);         /* as ssock.c does */
	core_set_tap(to, &route_tap);
	core_on_room(to, room_to_routes, to);
	core_set_sink(from, &front_apps);       /* its applications' */
	routes_apply(&cfg, find_core, pair);
	ck_assert_ptr_nonnull(core_sink(from));
	ck_assert_ptr_ne(core_sink(from), &front_apps);

	fake_link_attach(&x, core_home(from), 0x0a);
	ck_assert_int_eq(fake_link_up(&x), 0);
	fake_link_attach(&y, core_home(to), 0x0b);
	ck_assert_int_eq(fake_link_up(&y), 0);
	/* x's request goes out of `back` to y; y's answer comes back to x. */
	fake_link_receive(&x, NULL, "req1", 4);
	fake_link_receive(&x, NULL, "req2", 4);
	ck_assert_str_eq(y.sent, "req1,req2,");
	ck_assert_uint_eq(route_awaited(&y.link), 2);
	fake_link_receive(&y, NULL, "resp1", 5);
	ck_assert_str_eq(x.sent, "resp1,");
	ck_assert_uint_eq(route_awaited(&y.link), 1);
	/* y ends with a reply owed: it will not come; a later message from
	 * the new y is not taken for it. */
	fake_link_down(&y);
	fake_link_attach(&y2, core_home(to), 0x0b);
	ck_assert_int_eq(fake_link_up(&y2), 0);
	ck_assert_uint_eq(route_awaited(&y2.link), 0);
	/* With the target full (send buffer 0 free, block), the source
	 * keeps what arrives and stops reading its peers at recv_buffer. */
	confs[1].send_buffer = 1;
	y2.unflushed = confs[1].peer_buffer;
	confs[0].recv_buffer = 2;
	fake_link_receive(&x, NULL, "q1", 2);       /* waits in `back` */
	fake_link_receive(&x, NULL, "q2", 2);       /* waits in `front` */
	fake_link_receive(&x, NULL, "q3", 2);
	ck_assert_int_eq(x.paused, 1);
	fake_link_drain(&y2);
	ck_assert_str_eq(y2.sent, "q1,q2,q3,");
	ck_assert_int_eq(x.paused, 0);
	/* The source goes while messages wait for its full target: the
	 * routes give its sink back before they free theirs, so the core
	 * never calls (or logs with) a freed one. */
	y2.unflushed = confs[1].peer_buffer;
	fake_link_receive(&x, NULL, "q4", 2);
	fake_link_receive(&x, NULL, "q5", 2);
	fake_link_receive(&x, NULL, "q6", 2);
	ck_assert_uint_ge(core_queues_of(from).recv, 1);
	routes_forget(from);
	ck_assert_ptr_eq(core_sink(from), &front_apps);
	fake_link_down(&x);
	fake_link_down(&y2);
	routes_forget(to);
	core_free(from);
	core_free(to);
	routes_free();
	event_base_free(base);
}
END_TEST

static Suite *
core_suite(void)
{
	Suite *s = suite_create("ssock");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_roundrobin);
	tcase_add_test(tc, test_publish_and_targeted);
	tcase_add_test(tc, test_publish_block_slow_subscriber);
	tcase_add_test(tc, test_buffer_then_flush_in_order);
	tcase_add_test(tc, test_borrowed_copied_when_queued);
	tcase_add_test(tc, test_overflow_policies);
	tcase_add_test(tc, test_at_least_once_ack_resend_giveup);
	tcase_add_test(tc, test_at_least_once_requeue_on_link_down);
	tcase_add_test(tc, test_receive_dedup_backpressure_ack);
	tcase_add_test(tc, test_duplicate_identity);
	tcase_add_test(tc, test_reload_and_end);
	tcase_add_test(tc, test_route_and_replies);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(core_suite)
