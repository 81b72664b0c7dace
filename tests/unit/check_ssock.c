/*
 * check_ssock: routing (publish, round-robin, send-to-identity), send buffer
 * policies, at-least-once resend/ack/give-up, receive-side dedup and
 * back-pressure, duplicate identities: a real ssock with peers on
 * socketpairs, driven through its event loop.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "check_main.h"
#include "idmap.h"
#include "lproto.h"
#include "msg.h"
#include "peer.h"
#include "ssock.h"
#include "wire.h"

static struct event_base *base;
static struct socket_conf sc;
static struct ssock *ss;
static char tmpdir[64];

struct fake {
	int fd;                 /* our end; the daemon's end is a peer */
	uint8_t id[16];
	struct evbuffer *in;    /* bytes read from the daemon */
};

static void
pump(void)
{
	int i;

	for (i = 0; i < 50; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
setup_with(enum send_mode mode, enum delivery delivery,
    enum overflow overflow, uint64_t send_buffer)
{
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "t");
	sc.send_mode = mode;
	sc.delivery = delivery;
	sc.overflow = overflow;
	sc.heartbeat_interval_ms = 5000;
	sc.heartbeat_timeout_ms = 15000;
	sc.reconnect_delay_ms = 100;
	sc.reconnect_max_delay_ms = 1000;
	sc.connect_timeout_ms = 1000;
	sc.resend_timeout_ms = 30;
	sc.max_retries = 2;
	sc.send_buffer = send_buffer;
	sc.recv_buffer = 1000;
	sc.send_buffer_size = 64 << 20;
	sc.recv_buffer_size = 64 << 20;
	sc.peer_buffer = 1 << 20;
	sc.max_peers = CONFIG_UNLIMITED;
	sc.max_clients = CONFIG_UNLIMITED;
	sc.socket_mode = 0660;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_ssock.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	base = event_base_new();
	ss = ssock_new(base, &sc, 1 << 20);
	ck_assert_ptr_nonnull(ss);
	ck_assert_int_eq(ssock_open(ss, NULL, NULL, tmpdir), 0);
}

static void
teardown(void)
{
	char path[128];

	ssock_free(ss);
	event_base_free(base);
	snprintf(path, sizeof(path), "%s/t.sock", tmpdir);
	unlink(path);
	rmdir(tmpdir);
}

static void
send_raw(struct fake *f, const void *buf, size_t len)
{
	ck_assert_int_eq(write(f->fd, buf, len), (ssize_t)len);
}

static void
fake_hello(struct fake *f)
{
	uint8_t hello[22] = { 0, 0, 0, 18, WIRE_HELLO, WIRE_VERSION };

	memcpy(hello + 6, f->id, 16);
	send_raw(f, hello, sizeof(hello));
}

/* A connection whose HELLO names identity `idbyte` x16. */
static void
fake_connect(struct fake *f, uint8_t idbyte)
{
	struct bufferevent *bev;
	int sv[2];

	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	f->fd = sv[1];
	memset(f->id, idbyte, 16);
	f->in = evbuffer_new();
	evutil_make_socket_nonblocking(sv[0]);
	bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	ck_assert_ptr_nonnull(peer_new(&ss->home, bev, NULL, "test", 5000));
	fake_hello(f);
	pump();
}

static void
fake_close(struct fake *f)
{
	close(f->fd);
	evbuffer_free(f->in);
	pump();
}

/* Read what the daemon wrote; returns the frames' types in order, and
 * their envelopes in env[] (type byte first). */
static int
fake_read(struct fake *f, int *types, uint8_t env[][64], int max)
{
	struct wire_frame fr;
	uint8_t buf[4096];
	ssize_t n;
	int k = 0;

	pump();
	while ((n = read(f->fd, buf, sizeof(buf))) > 0)
		evbuffer_add(f->in, buf, (size_t)n);
	while (k < max && wire_peek(f->in, 1 << 20, &fr) == WIRE_FRAME) {
		evbuffer_drain(f->in, 4);
		types[k] = fr.type;
		memset(env[k], 0, 64);
		evbuffer_remove(f->in, env[k], fr.env_len < 64 ? fr.env_len : 64);
		if (fr.env_len > 64)
			evbuffer_drain(f->in, fr.env_len - 64);
		k++;
	}
	return k;
}

/* Payloads of DATA/DATA_REQ frames read, joined with ','. */
static void
fake_payloads(struct fake *f, char *out, size_t cap)
{
	int types[64], n, i;
	uint8_t env[64][64];

	out[0] = '\0';
	n = fake_read(f, types, env, 64);
	for (i = 0; i < n; i++) {
		if (types[i] == WIRE_DATA)
			strncat(out, (char *)env[i] + 1, cap - strlen(out) - 2);
		else if (types[i] == WIRE_DATA_REQ)
			strncat(out, (char *)env[i] + 17, cap - strlen(out) - 2);
		else
			continue;
		strcat(out, ",");
	}
}

static int
app_send(const char *s)
{
	return ssock_app_send(ss, msg_new_copy(s, strlen(s)));
}

static int
app_send_to(const uint8_t id[16], const char *s)
{
	struct msg *m = msg_new_copy(s, strlen(s));

	memcpy(m->peer_id, id, 16);
	m->flags |= MSG_TARGETED;
	return ssock_app_send(ss, m);
}

START_TEST(test_roundrobin)
{
	struct fake a, b;
	char pa[256], pb[256];

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	fake_connect(&a, 0xaa);
	fake_connect(&b, 0xbb);
	fake_payloads(&a, pa, sizeof(pa));     /* the daemon's HELLO */
	fake_payloads(&b, pb, sizeof(pb));
	ck_assert_uint_eq(ss->nactive, 2);
	app_send("m0");
	app_send("m1");
	app_send("m2");
	app_send("m3");
	fake_payloads(&a, pa, sizeof(pa));
	fake_payloads(&b, pb, sizeof(pb));
	ck_assert_str_eq(pa, "m0,m2,");
	ck_assert_str_eq(pb, "m1,m3,");
	fake_close(&a);
	ck_assert_uint_eq(ss->nactive, 1);
	app_send("m4");
	fake_payloads(&b, pb, sizeof(pb));
	ck_assert_str_eq(pb, "m4,");
	fake_close(&b);
	teardown();
}
END_TEST

START_TEST(test_publish_and_targeted)
{
	struct fake a, b;
	char pa[256], pb[256];
	uint8_t nobody[16];

	setup_with(SEND_PUBLISH, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	fake_connect(&a, 0xaa);
	fake_connect(&b, 0xbb);
	app_send("p0");
	app_send("p1");
	ck_assert_int_eq(app_send_to(b.id, "only-b"), LPROTO_OK);
	memset(nobody, 0x11, 16);
	ck_assert_int_eq(app_send_to(nobody, "lost"), LPROTO_ST_UNREACHABLE);
	fake_payloads(&a, pa, sizeof(pa));
	fake_payloads(&b, pb, sizeof(pb));
	ck_assert_str_eq(pa, "p0,p1,");
	ck_assert_str_eq(pb, "p0,p1,only-b,");
	fake_close(&a);
	fake_close(&b);
	teardown();
}
END_TEST

START_TEST(test_buffer_then_flush_in_order)
{
	struct fake a;
	char pa[256];

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	app_send("q0");
	app_send("q1");
	app_send("q2");
	ck_assert_uint_eq(ss->sendq.len, 3);
	fake_connect(&a, 0xaa);
	fake_payloads(&a, pa, sizeof(pa));
	ck_assert_str_eq(pa, "q0,q1,q2,");
	ck_assert_uint_eq(ss->sendq.len, 0);
	fake_close(&a);
	teardown();
}
END_TEST

START_TEST(test_borrowed_copied_when_queued)
{
	struct fake a;
	char pa[256], buf[8];
	struct msg view;

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	/* A view of an input buffer: no peer yet, so it must be copied. */
	memcpy(buf, "keep-me", 7);
	msg_borrow(&view, buf, 7);
	ck_assert_int_eq(ssock_app_send(ss, &view), LPROTO_OK);
	memset(buf, 'X', sizeof(buf));          /* the input moves on */
	ck_assert_uint_eq(ss->sendq.len, 1);
	fake_connect(&a, 0xaa);
	fake_payloads(&a, pa, sizeof(pa));
	ck_assert_str_eq(pa, "keep-me,");
	fake_close(&a);
	teardown();
}
END_TEST

START_TEST(test_overflow_policies)
{
	struct fake a;
	char pa[256];

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_DROP_NEW, 2);
	app_send("n0");
	app_send("n1");
	ck_assert_int_eq(app_send("n2"), LPROTO_ST_NO_BUFFER);
	app_send("n3");
	ck_assert_uint_eq(ss->home.stats.drops_overflow, 2);
	fake_connect(&a, 0xaa);
	fake_payloads(&a, pa, sizeof(pa));
	ck_assert_str_eq(pa, "n0,n1,");
	fake_close(&a);
	teardown();

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_DROP_OLD, 2);
	app_send("o0");
	app_send("o1");
	app_send("o2");
	app_send("o3");
	ck_assert_uint_eq(ss->home.stats.drops_overflow, 2);
	fake_connect(&a, 0xaa);
	fake_payloads(&a, pa, sizeof(pa));
	ck_assert_str_eq(pa, "o2,o3,");
	fake_close(&a);
	teardown();

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 2);
	app_send("b0");
	ck_assert_int_eq(ssock_send_blocked(ss), 0);
	app_send("b1");
	ck_assert_int_eq(ssock_send_blocked(ss), 1);
	fake_connect(&a, 0xaa);
	ck_assert_int_eq(ssock_send_blocked(ss), 0);
	fake_payloads(&a, pa, sizeof(pa));
	ck_assert_str_eq(pa, "b0,b1,");
	fake_close(&a);
	teardown();
}
END_TEST

START_TEST(test_at_least_once_ack_resend_giveup)
{
	struct fake a;
	int types[16], n;
	uint8_t env[16][64], ack[21] = { 0, 0, 0, 17, WIRE_ACK };

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_LEAST_ONCE, OVERFLOW_BLOCK, 10);
	fake_connect(&a, 0xaa);
	fake_read(&a, types, env, 16);          /* HELLO */
	app_send("r0");
	app_send("r1");
	n = fake_read(&a, types, env, 16);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(types[0], WIRE_DATA_REQ);
	ck_assert_uint_eq(idmap_count(ss->pending_by_id), 2);
	/* ACK the first one only. */
	memcpy(ack + 5, env[0] + 1, 16);
	send_raw(&a, ack, sizeof(ack));
	pump();
	ck_assert_uint_eq(idmap_count(ss->pending_by_id), 1);
	ck_assert_uint_eq(ss->home.stats.acks_in, 1);
	/* r1 is resent (same msg_id) while the connection is up, ever more
	 * rarely, and never given up on it. */
	usleep(40 * 1000);
	n = fake_read(&a, types, env, 16);
	ck_assert_int_eq(n, 1);
	ck_assert_mem_eq(env[0] + 17, "r1", 2);
	usleep(200 * 1000);
	pump();
	fake_read(&a, types, env, 16);
	ck_assert_uint_ge(ss->home.stats.resends, 1);
	ck_assert_uint_eq(TAILQ_FIRST(&ss->pending.q)->resends, ss->home.stats.resends);
	/* 30 ms, then 60, 120, ...: at most 3 in 240 ms. */
	ck_assert_uint_le(ss->home.stats.resends, 3);
	ck_assert_uint_eq(ss->home.stats.giveups, 0);
	ck_assert_uint_eq(idmap_count(ss->pending_by_id), 1);
	/* Lost with a connection that closes without its ACK: queued again,
	 * until max_retries = 2 connections closed on it. */
	fake_close(&a);
	ck_assert_uint_eq(ss->sendq.len, 1);
	fake_connect(&a, 0xaa);
	ck_assert_uint_eq(ss->sendq.len, 0);
	ck_assert_uint_eq(idmap_count(ss->pending_by_id), 1);
	fake_close(&a);
	ck_assert_uint_eq(ss->sendq.len, 1);
	ck_assert_uint_eq(ss->home.stats.giveups, 0);
	fake_connect(&a, 0xaa);
	fake_close(&a);
	ck_assert_uint_eq(ss->sendq.len, 0);
	ck_assert_uint_eq(ss->home.stats.giveups, 1);
	ck_assert_uint_eq(idmap_count(ss->pending_by_id), 0);
	teardown();
}
END_TEST

START_TEST(test_at_least_once_requeue_on_peer_down)
{
	struct fake a, b;
	char pb[256];
	int types[16];
	uint8_t env[16][64];

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_LEAST_ONCE, OVERFLOW_BLOCK, 10);
	fake_connect(&a, 0xaa);
	app_send("x0");
	app_send("x1");
	ck_assert_int_eq(fake_read(&a, types, env, 16), 3);
	fake_close(&a);                 /* never acknowledged */
	ck_assert_uint_eq(ss->sendq.len, 2);
	fake_connect(&b, 0xbb);
	fake_payloads(&b, pb, sizeof(pb));
	ck_assert_str_eq(pb, "x0,x1,");
	fake_close(&b);
	teardown();
}
END_TEST

START_TEST(test_inbound_dedup_and_backpressure)
{
	struct fake a;
	uint8_t req[4 + 1 + 16 + 2] = { 0, 0, 0, 19, WIRE_DATA_REQ };
	uint8_t data[4 + 1 + 1] = { 0, 0, 0, 2, WIRE_DATA, 'd' };

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	sc.recv_buffer = 3;
	fake_connect(&a, 0xaa);
	memset(req + 5, 0x42, 16);
	memcpy(req + 21, "hi", 2);
	send_raw(&a, req, sizeof(req));
	send_raw(&a, req, sizeof(req));         /* a resend, same msg_id */
	pump();
	ck_assert_uint_eq(ss->recvq.len, 1);
	ck_assert_uint_eq(ss->home.stats.duplicates, 1);
	send_raw(&a, data, sizeof(data));
	send_raw(&a, data, sizeof(data));
	send_raw(&a, data, sizeof(data));
	pump();
	/* Full at 3: reading stops, the rest waits in the kernel/peer. */
	ck_assert_uint_eq(ss->recvq.len, 3);
	ck_assert_int_eq(ss->reading_paused, 1);
	fake_close(&a);
	teardown();
}
END_TEST

START_TEST(test_duplicate_identity_and_bad_hello)
{
	struct fake a, a2, bad;
	uint8_t junk[8] = { 0, 0, 0, 4, WIRE_DATA, 'x', 'y', 'z' };

	setup_with(SEND_ROUNDROBIN, DELIVERY_AT_MOST_ONCE, OVERFLOW_BLOCK, 10);
	fake_connect(&a, 0xaa);
	fake_connect(&a2, 0xaa);
	ck_assert_uint_eq(ss->nactive, 1);
	ck_assert_uint_eq(ss->home.stats.rejected_duplicate, 1);
	memset(&bad, 0, sizeof(bad));
	{
		int sv[2];
		struct bufferevent *bev;

		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		bad.fd = sv[1];
		bad.in = evbuffer_new();
		bev = bufferevent_socket_new(base, sv[0], BEV_OPT_CLOSE_ON_FREE);
		peer_new(&ss->home, bev, NULL, "bad", 5000);
		send_raw(&bad, junk, sizeof(junk));
		pump();
	}
	ck_assert_uint_eq(ss->home.stats.rejected_bad_hello, 1);
	ck_assert_uint_eq(ss->nactive, 1);
	fake_close(&a);
	fake_close(&a2);
	fake_close(&bad);
	teardown();
}
END_TEST

static Suite *
ssock_suite(void)
{
	Suite *s = suite_create("ssock");
	TCase *tc = tcase_create("routing");

	tcase_add_test(tc, test_roundrobin);
	tcase_add_test(tc, test_publish_and_targeted);
	tcase_add_test(tc, test_buffer_then_flush_in_order);
	tcase_add_test(tc, test_borrowed_copied_when_queued);
	tcase_add_test(tc, test_overflow_policies);
	tcase_add_test(tc, test_at_least_once_ack_resend_giveup);
	tcase_add_test(tc, test_at_least_once_requeue_on_peer_down);
	tcase_add_test(tc, test_inbound_dedup_and_backpressure);
	tcase_add_test(tc, test_duplicate_identity_and_bad_hello);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ssock_suite)
