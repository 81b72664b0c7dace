/*
 * fuzz_lproto: the local protocol's decoders, both ways.
 *
 * Byte 0, bit 0 picks the side; the rest of the input is a byte stream.
 *   0: from a hostile application into smartsockd (daemon/local.c over
 *      common/lproto.c): a real socket "l" with an active keeper peer
 *      (identity 11..11, what SEND and SEND_TO reach) and, per input, one
 *      DATA and one DATA_REQ from it waiting to be delivered; a client
 *      connects to the socket's Unix socket and sends the bytes (bits 1-6:
 *      chunk length, 0 = all at once, a loop pass between chunks; bit 7:
 *      end with an abrupt close instead of an end of stream).  Whatever it
 *      left unconfirmed is then taken and confirmed by a second
 *      application, so every input starts from the same state.  Checked:
 *      the daemon drops the client, sends it only well-formed frames, and
 *      leaks nothing.
 *   1: from a hostile daemon into libsmartsock (libclient/smartsock.c): a
 *      thread plays the daemon, answers the client's HELLO with the bytes
 *      and closes; the client opens, turns re-attaching off (so that the
 *      end of the bytes ends the handle; a CLOSING among them is answered
 *      as always), optionally sends one SEND_TO (bit 1) and receives until
 *      an error, into a 3-byte buffer (bit 2) or a large one, then closes.
 *      Checked: it returns, without leaks.
 * Either way lproto_frame_check() also walks the bytes as a frame stream:
 * what it accepts must have a known type and a body at least the type's
 * fixed fields long.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
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
#include "local.h"
#include "lproto.h"
#include "peer.h"
#include "smartsock.h"
#include "ssock.h"
#include "wire.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define MAX_MESSAGE (1u << 20)
#define MAX_PASSES 10000        /* loop passes for the daemon to settle */

static char dir[64], daemon_path[96], lib_path[96];

/* --- the frame walk ------------------------------------------------------ */

static void
walk(const uint8_t *p, size_t n, size_t max_payload)
{
	uint32_t blen;
	uint8_t type;

	for (;;) {
		switch (lproto_frame_check(p, n, max_payload, &type, &blen)) {
		case LPROTO_NEED_MORE:
			CHECK(n < LPROTO_HDR_LEN);
			return;
		case LPROTO_FRAME_BAD:
			return;
		case LPROTO_FRAME_OK:
			break;
		}
		CHECK(type == p[4]);
		CHECK(lproto_fixed_len(type) >= 0);
		CHECK(blen >= (uint32_t)lproto_fixed_len(type));
		CHECK(blen == lproto_get_u32(p) - 1);
		if (n - LPROTO_HDR_LEN < blen)
			return;
		p += LPROTO_HDR_LEN + blen;
		n -= LPROTO_HDR_LEN + blen;
	}
}

/* --- side 0: smartsockd's decoder ---------------------------------------- */

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
static int keeper_fd = -1;

/* An application the harness plays (fuzz_app.h): the drain, or the fuzzed
 * client's reader of what the daemon answers. */
static struct fuzz_app drain = { -1, NULL, 0, 0, 0, 0, 0 };

/* The drain takes what it is given and confirms it; credit is granted
 * only in cleanup, so deliveries go to the fuzzed client first. */
static int
drain_poll(void)
{
	uint8_t body[8];
	int any = fuzz_app_read(&drain, MAX_MESSAGE, 1);

	if (drain.unconfirmed) {
		lproto_put_u64(body, drain.seq);
		fuzz_put_frame(drain.fd, LPROTO_CONFIRM, body, 8);
		drain.unconfirmed = 0;
	}
	return any;
}

static int
unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	CHECK((fd = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	CHECK(connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	evutil_make_socket_nonblocking(fd);
	return fd;
}

static void
daemon_setup(void)
{
	uint8_t hello[WIRE_LEN_PREFIX + WIRE_HELLO_ENV] = {
		0, 0, 0, WIRE_HELLO_ENV, WIRE_HELLO, WIRE_VERSION,
	};
	uint8_t body[2];
	struct bufferevent *bev;
	int sv[2], i;

	fuzz_socket_conf(&sc, "l");
	CHECK((base = event_base_new()) != NULL);
	fuzz_app_init(base);
	CHECK((ss = ssock_new(base, NULL, &sc, NULL, dir, MAX_MESSAGE)) !=
	    NULL);
	snprintf(daemon_path, sizeof(daemon_path), "%s/l.sock", dir);

	/* The keeper peer, through its HELLO. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	evutil_make_socket_nonblocking(sv[0]);
	evutil_make_socket_nonblocking(sv[1]);
	CHECK((bev = bev_new(base, sv[0])) != NULL);
	CHECK(peer_new(core_home(ss->core), bev, NULL, "keeper", sc.heartbeat_timeout_ms) !=
	    NULL);
	keeper_fd = sv[1];
	memset(hello + 6, 0x11, WIRE_ID_LEN);
	CHECK(fuzz_put(keeper_fd, hello, sizeof(hello)) == 0);
	for (i = 0; i < 1000 && Q().active == 0; i++)
		fuzz_pump();
	CHECK(Q().active == 1);

	/* The drain: attached, no credit yet. */
	CHECK((drain.in = evbuffer_new()) != NULL);
	drain.fd = unix_connect(daemon_path);
	lproto_put_u16(body, LPROTO_VERSION);
	fuzz_put_frame(drain.fd, LPROTO_HELLO, body, 2);
	for (i = 0; i < 1000 && !drain.welcomed; i++) {
		fuzz_pump();
		drain_poll();
	}
	CHECK(drain.welcomed);
}

static void
daemon_side(const uint8_t *data, size_t size, uint8_t flags)
{
	static const uint8_t from_keeper[] = {
		0, 0, 0, 3, WIRE_DATA, 'k', '0',
		0, 0, 0, 19, WIRE_DATA_REQ,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
		0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 'k', '1',
	};
	struct fuzz_app client = { -1, NULL, 0, 0, 0, 0, 0 };
	size_t chunk = (flags >> 1) & 0x3f, off = 0, n;
	ssize_t w;
	int abrupt = (flags & 0x80) != 0, busy, quiet, i;
	uint8_t body[4];

	if (base == NULL)
		daemon_setup();
	CHECK(fuzz_put(keeper_fd, from_keeper, sizeof(from_keeper)) == 0);
	for (i = 0; i < MAX_PASSES && Q().recv < 2; i++)
		fuzz_pump();
	CHECK(Q().recv == 2);

	CHECK((client.in = evbuffer_new()) != NULL);
	client.fd = unix_connect(daemon_path);
	/* Accepted now, or its end could be seen during the next input. */
	for (i = 0; i < MAX_PASSES && local_count(ss->local) < 2; i++)
		fuzz_pump();
	CHECK(local_count(ss->local) == 2);
	while (off < size) {
		n = chunk == 0 || size - off < chunk ? size - off : chunk;
		w = send(client.fd, data + off, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			break;          /* the daemon dropped it */
		if (w > 0)
			off += (size_t)w;
		fuzz_pump();
		fuzz_app_read(&client, MAX_MESSAGE, 1);
		fuzz_discard(keeper_fd);
	}
	if (abrupt)
		close(client.fd);
	else
		shutdown(client.fd, SHUT_WR);
	for (i = 0; local_count(ss->local) > 1; i++) {
		CHECK(i < MAX_PASSES);  /* else the client is never dropped */
		fuzz_pump();
		if (!abrupt)
			fuzz_app_read(&client, MAX_MESSAGE, 1);
		fuzz_discard(keeper_fd);
	}
	if (!abrupt)
		close(client.fd);
	evbuffer_free(client.in);

	/* Whatever it did not take or confirm, the drain does. */
	if (Q().recv > 0) {
		lproto_put_u32(body, (uint32_t)Q().recv);
		drain.taken = 0;
		fuzz_put_frame(drain.fd, LPROTO_CREDIT, body, 4);
	}
	for (i = 0, quiet = 0; quiet < 3; i++) {
		CHECK(i < MAX_PASSES);
		fuzz_pump();
		busy = drain_poll();
		busy |= fuzz_discard(keeper_fd);
		if (!busy && Q().recv == 0)
			quiet++;
		else
			quiet = 0;
	}
	CHECK(Q().active == 1 && Q().send == 0);
}

/* --- side 1: libsmartsock's decoder ------------------------------------- */

static int lib_listen_fd = -1;

struct fake_daemon {
	const uint8_t *data;
	size_t size;
};

/* Take the client's connection, send it the bytes whatever it says,
 * close our side, and read until it closes its own. */
static void *
fake_daemon_run(void *arg)
{
	struct fake_daemon *d = arg;
	uint8_t buf[4096];
	struct pollfd pfd;
	size_t off = 0;
	ssize_t n;
	int fd;

	CHECK((fd = accept(lib_listen_fd, NULL, NULL)) != -1);
	evutil_make_socket_nonblocking(fd);
	pfd.fd = fd;
	while (off < d->size) {
		n = send(fd, d->data + off, d->size - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			break;          /* the client is gone */
		fuzz_discard(fd);
		pfd.events = POLLIN | POLLOUT;
		poll(&pfd, 1, 100);
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0 || (n == -1 && errno == EINTR))
			continue;
		if (n == -1 && errno == EAGAIN) {
			pfd.events = POLLIN;
			poll(&pfd, 1, 100);
			continue;
		}
		break;
	}
	close(fd);
	return NULL;
}

static void
library_setup(void)
{
	struct sockaddr_un sun;

	snprintf(lib_path, sizeof(lib_path), "%s/lib.sock", dir);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", lib_path);
	CHECK((lib_listen_fd = socket(AF_UNIX, SOCK_STREAM, 0)) != -1);
	CHECK(bind(lib_listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(lib_listen_fd, 4) == 0);
}

static void
library_side(const uint8_t *data, size_t size, uint8_t flags)
{
	static uint8_t buf[65536];
	struct fake_daemon d = { data, size };
	uint8_t id[16];
	size_t cap = (flags & 0x04) ? 3 : sizeof(buf);
	pthread_t t;
	smartsock *s;

	if (lib_listen_fd == -1)
		library_setup();
	CHECK(pthread_create(&t, NULL, fake_daemon_run, &d) == 0);
	if ((s = smartsock_open(lib_path)) != NULL) {
		CHECK(smartsock_max_message_size(s) > 0);
		CHECK(smartsock_set_reconnect(s, 0) == 0);
		if (flags & 0x02) {
			memset(id, 0x11, sizeof(id));
			smartsock_send_to(s, id, "x", 1);
		}
		while (smartsock_recv_identity(s, id, buf, cap) >= 0)
			;
		smartsock_close(s);
	}
	CHECK(pthread_join(t, NULL) == 0);
}

/* ------------------------------------------------------------------------ */

static void
cleanup(void)
{
	if (drain.fd != -1)
		close(drain.fd);
	if (keeper_fd != -1)
		close(keeper_fd);
	if (ss != NULL)
		ssock_free(ss);
	if (drain.in != NULL)
		evbuffer_free(drain.in);
	if (base != NULL)
		event_base_free(base);
	if (lib_listen_fd != -1) {
		close(lib_listen_fd);
		unlink(lib_path);
	}
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	/* The daemon's log lines go nowhere unless asked for; libFuzzer and
	 * the sanitizers keep the real stderr (they hold their own). */
	if (getenv("FUZZ_LOG") == NULL)
		CHECK((stderr = fopen("/dev/null", "w")) != NULL);
	signal(SIGPIPE, SIG_IGN);
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/fuzz_lproto.XXXXXX", tmp);
	CHECK(mkdtemp(dir) != NULL);
	atexit(cleanup);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags;

	if (size < 1)
		return 0;
	flags = data[0];
	walk(data + 1, size - 1, 64);
	if (flags & 1)
		library_side(data + 1, size - 1, flags);
	else
		daemon_side(data + 1, size - 1, flags);
	return 0;
}
