/*
 * fuzz_peer: bytes from a hostile aiomsg peer into a real peer of a real
 * smart socket (daemon/peer.c, ssock.c, local.c, wire.c): the handshake
 * state machine, the frame decoder (in place, across chains, and frames
 * over 64 KiB moved out whole), and routing both ways: what it sends goes
 * to an attached application (ACKs for confirmed DATA_REQs, the receive
 * queue's back-pressure), and the application's at-least-once messages
 * go round-robin to it and to a well-behaved peer, and back to the send
 * queue when it leaves without ACKing them.
 *
 * Set up once: an event base, a socket "f" (round-robin, at-least-once,
 * receive buffer of 16 messages), a keeper peer already through its HELLO
 * (identity 11..11, so duplicate identities are reachable) that ACKs
 * every DATA_REQ, and an application that takes and confirms everything
 * it is given.  Per input: byte 0 says how to feed the rest (bits 0-5:
 * chunk length, 0 = all at once; bit 6: complete a last frame the input
 * leaves unfinished with zero bytes, so that short inputs make frames over
 * 64 KiB; bit 7: end with an abrupt close instead of an orderly end of
 * stream).  A new peer on a socketpair gets the bytes chunk by chunk, with
 * the loop run and the others served in between, and the application
 * sends a message before each of the first four chunks; then the peer's
 * stream ends, and the loop runs until the peer is gone, everything it
 * sent was delivered and confirmed, and every message sent was ACKed by
 * the keeper.  Checked: the daemon always closes the peer, sends only
 * well-formed frames to the application and the keeper, and nothing leaks.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bev.h"
#include "fuzz_app.h"
#include "lproto.h"
#include "peer.h"
#include "ssock.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_MESSAGE (1u << 20)
#define APP_CREDIT 64
#define APP_SENDS 4             /* messages the application sends per input */
/* Loop passes a peer may take to go away after its end of stream. */
#define MAX_PASSES 10000

static struct event_base *base;
static struct socket_conf sc;
static struct ssock *ss;

/* What its core holds now. */
static struct core_queues
Q(void)
{
	struct core_queues q;

	core_queues(ss->core, &q);
	return q;
}
static char dir[64], sock_path[96];
static int keeper_fd = -1;
static struct evbuffer *keeper_in;

/* The application: takes everything, confirms every DELIVER_REQ. */
static struct fuzz_app app = { .fd = -1 };

/* Take what the daemon sent the application, confirm and give credit
 * back.  1 if anything came. */
static int
app_poll(void)
{
	uint8_t body[8];
	uint32_t before = app.taken;
	int any = fuzz_app_read(&app, MAX_MESSAGE, 0);

	if (app.unconfirmed) {
		lproto_put_u64(body, app.seq);
		fuzz_put_frame(app.fd, LPROTO_CONFIRM, body, 8);
		app.unconfirmed = 0;
	}
	if (app.taken > before) {
		lproto_put_u32(body, app.taken - before);
		fuzz_put_frame(app.fd, LPROTO_CREDIT, body, 4);
	}
	return any;
}

/* The keeper ACKs every DATA_REQ it reads.  1 if anything came. */
static int
keeper_poll(void)
{
	uint8_t f[WIRE_LEN_PREFIX + WIRE_ACK_ENV] = {
		0, 0, 0, WIRE_ACK_ENV, WIRE_ACK,
	};
	enum wire_peek_result r;
	struct wire_frame fr;
	const uint8_t *env;
	int any = 0;

	while (evbuffer_read(keeper_in, keeper_fd, 65536) > 0)
		any = 1;
	for (;;) {
		r = wire_peek(keeper_in, MAX_MESSAGE + WIRE_DATA_REQ_MIN_ENV,
		    &fr);
		CHECK(r != WIRE_TOO_BIG);
		if (r == WIRE_NEED_MORE)
			break;
		env = evbuffer_pullup(keeper_in, WIRE_LEN_PREFIX +
		    (ev_ssize_t)fr.env_len) + WIRE_LEN_PREFIX;
		CHECK(fr.type == WIRE_HELLO || fr.type == WIRE_HEARTBEAT ||
		    fr.type == WIRE_DATA_REQ);
		if (fr.type == WIRE_DATA_REQ) {
			CHECK(fr.env_len >= WIRE_DATA_REQ_MIN_ENV);
			memcpy(f + WIRE_LEN_PREFIX + 1, env + 1, WIRE_ID_LEN);
			CHECK(fuzz_put(keeper_fd, f, sizeof(f)) == 0);
		}
		evbuffer_drain(keeper_in, WIRE_LEN_PREFIX + (size_t)fr.env_len);
	}
	return any;
}

/* Bytes missing from the last frame of s[0..n), if it is unfinished and
 * within the socket's limit. */
static size_t
missing(const uint8_t *s, size_t n)
{
	size_t off = 0, env;

	while (n - off >= WIRE_LEN_PREFIX) {
		env = ((size_t)s[off] << 24) | ((size_t)s[off + 1] << 16) |
		    ((size_t)s[off + 2] << 8) | s[off + 3];
		if (env > MAX_MESSAGE + WIRE_DATA_REQ_MIN_ENV)
			return 0;
		if (n - off - WIRE_LEN_PREFIX < env)
			return WIRE_LEN_PREFIX + env - (n - off);
		off += WIRE_LEN_PREFIX + env;
	}
	return 0;
}

static size_t
npeers(void)
{
	return core_npeers(ss->core);
}

/* A peer of the socket on a socketpair; returns our end, or -1. */
static int
new_peer(const char *addr)
{
	struct bufferevent *bev;
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	if ((bev = bev_new(base, sv[0])) == NULL) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (peer_new(core_home(ss->core), bev, NULL, addr, sc.heartbeat_timeout_ms) == NULL) {
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

static void
cleanup(void)
{
	if (app.fd != -1)
		close(app.fd);
	if (keeper_fd != -1)
		close(keeper_fd);
	if (keeper_in != NULL)
		evbuffer_free(keeper_in);
	if (ss != NULL)
		ssock_free(ss);
	if (app.in != NULL)
		evbuffer_free(app.in);
	if (base != NULL)
		event_base_free(base);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t hello[WIRE_LEN_PREFIX + WIRE_HELLO_ENV] = {
		0, 0, 0, WIRE_HELLO_ENV, WIRE_HELLO, WIRE_VERSION,
	};
	uint8_t body[4];
	struct sockaddr_un sun;
	const char *tmp = getenv("TMPDIR");
	int i;

	(void)argc;
	(void)argv;
	/* The daemon's log lines go nowhere unless asked for; libFuzzer and
	 * the sanitizers keep the real stderr (they hold their own). */
	if (getenv("FUZZ_LOG") == NULL)
		CHECK((stderr = fopen("/dev/null", "w")) != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_peer.XXXXXX", tmp);
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);

	fuzz_socket_conf(&sc, "f");
	sc.delivery = DELIVERY_AT_LEAST_ONCE;
	sc.recv_buffer = 16;
	CHECK((base = event_base_new()) != NULL);
	fuzz_app_init(base);
	CHECK((ss = ssock_new(base, NULL, &sc, NULL, dir, MAX_MESSAGE)) !=
	    NULL);

	/* The application, attached and with credit. */
	CHECK((app.in = evbuffer_new()) != NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sock_path, sizeof(sock_path), "%s/f.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	CHECK((app.fd = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	CHECK(connect(app.fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	evutil_make_socket_nonblocking(app.fd);
	lproto_put_u16(body, LPROTO_VERSION);
	fuzz_put_frame(app.fd, LPROTO_HELLO, body, 2);
	lproto_put_u32(body, APP_CREDIT);
	fuzz_put_frame(app.fd, LPROTO_CREDIT, body, 4);
	for (i = 0; i < 1000 && !app.welcomed; i++) {
		fuzz_pump();
		app_poll();
	}
	CHECK(app.welcomed);

	/* The keeper: active all along, identity 11..11. */
	CHECK((keeper_in = evbuffer_new()) != NULL);
	CHECK((keeper_fd = new_peer("keeper")) != -1);
	memset(hello + 6, 0x11, WIRE_ID_LEN);
	CHECK(fuzz_put(keeper_fd, hello, sizeof(hello)) == 0);
	for (i = 0; i < 1000 && Q().active == 0; i++)
		fuzz_pump();
	CHECK(Q().active == 1);
	return 0;
}

/* One pass of the loop, and the harness's ends of the connections
 * answered; 1 if the daemon had written anything to them. */
static int
service(int fd)
{
	int busy;

	fuzz_pump();
	busy = app_poll();
	if (fd != -1)
		busy |= fuzz_discard(fd);
	busy |= keeper_poll();
	return busy;
}

/* Write to the peer under test with the loop and the others served in
 * between (the daemon may read it only once the application took
 * something).  0, or -1 when the daemon closed it. */
static int
feed(int fd, const uint8_t *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		service(fd);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t zeros[65536];
	size_t chunk, off = 0, n, pad;
	int fd, abrupt, quiet = 0, busy, i, sent = 0;

	if (size < 1)
		return 0;
	chunk = data[0] & 0x3f;
	abrupt = (data[0] & 0x80) != 0;
	pad = (data[0] & 0x40) ? missing(data + 1, size - 1) : 0;
	data++;
	size--;
	if ((fd = new_peer("fuzz")) == -1)
		return 0;
	while (off < size) {
		n = chunk == 0 || size - off < chunk ? size - off : chunk;
		if (sent < APP_SENDS) {
			fuzz_put_frame(app.fd, LPROTO_SEND, "m", 1);
			sent++;
		}
		if (feed(fd, data + off, n) == -1)
			break;          /* the daemon closed it */
		off += n;
	}
	for (; off == size && pad > 0; pad -= n) {
		n = pad < sizeof(zeros) ? pad : sizeof(zeros);
		if (feed(fd, zeros, n) == -1)
			break;
	}
	if (abrupt)
		close(fd);      /* a reset if the daemon's bytes are unread */
	else
		shutdown(fd, SHUT_WR);
	for (i = 0; quiet < 3; i++) {
		CHECK(i < MAX_PASSES);  /* else the peer never went away */
		busy = service(abrupt ? -1 : fd);
		if (!busy && npeers() == 1 && Q().recv == 0 &&
		    !app.unconfirmed && Q().send == 0 &&
		    Q().pending == 0)
			quiet++;
		else
			quiet = 0;
	}
	if (!abrupt)
		close(fd);
	CHECK(Q().active == 1);
	return 0;
}
