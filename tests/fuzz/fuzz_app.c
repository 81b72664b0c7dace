/* fuzz_app: loop, writes and a checking application (see fuzz_app.h). */
#include <sys/socket.h>
#include <errno.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config.h"
#include "fuzz_app.h"
#include "lproto.h"

static struct event_base *fuzz_base;

void
fuzz_app_init(struct event_base *base)
{
	fuzz_base = base;
}

void
fuzz_socket_conf(struct socket_conf *sc, const char *name)
{
	snprintf(sc->name, sizeof(sc->name), "%s", name);
	sc->send_mode = SEND_ROUNDROBIN;
	sc->delivery = DELIVERY_AT_MOST_ONCE;
	sc->overflow = OVERFLOW_BLOCK;
	sc->heartbeat_interval_ms = 3600 * 1000;
	sc->heartbeat_timeout_ms = 2 * 3600 * 1000;
	sc->reconnect_delay_ms = 100;
	sc->reconnect_max_delay_ms = 1000;
	sc->connect_timeout_ms = 1000;
	sc->resend_timeout_ms = 3600 * 1000;
	sc->max_retries = 2;
	sc->send_buffer = 1000;
	sc->recv_buffer = 1000;
	sc->send_buffer_size = 64 << 20;
	sc->recv_buffer_size = 64 << 20;
	sc->peer_buffer = 1 << 20;
	sc->max_peers = CONFIG_UNLIMITED;
	sc->max_clients = CONFIG_UNLIMITED;
	sc->socket_mode = 0660;
}

void
fuzz_pump(void)
{
	event_base_loop(fuzz_base, EVLOOP_NONBLOCK);
}

int
fuzz_put(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n == -1 && (errno == EAGAIN || errno == EINTR))
			fuzz_pump();
		else
			return -1;
	}
	return 0;
}

void
fuzz_put_frame(int fd, uint8_t type, const void *body, size_t len)
{
	uint8_t hdr[LPROTO_HDR_LEN];

	lproto_put_header(hdr, type, len);
	CHECK(fuzz_put(fd, hdr, sizeof(hdr)) == 0);
	CHECK(fuzz_put(fd, body, len) == 0);
}

int
fuzz_discard(int fd)
{
	uint8_t buf[4096];
	int any = 0;

	while (read(fd, buf, sizeof(buf)) > 0)
		any = 1;
	return any;
}

int
fuzz_app_read(struct fuzz_app *a, size_t max_message,
    int may_refuse_or_answer)
{
	uint8_t type;
	const uint8_t *f;
	uint32_t blen;
	size_t have;
	int any = 0;

	while (evbuffer_read(a->in, a->fd, 65536) > 0)
		any = 1;
	while ((have = evbuffer_get_length(a->in)) >= LPROTO_HDR_LEN) {
		f = evbuffer_pullup(a->in, LPROTO_HDR_LEN);
		CHECK(lproto_frame_check(f, have, max_message, &type, &blen) ==
		    LPROTO_FRAME_OK);
		if (have < LPROTO_HDR_LEN + (size_t)blen)
			break;
		f = evbuffer_pullup(a->in, LPROTO_HDR_LEN + (ev_ssize_t)blen);
		switch (type) {
		case LPROTO_WELCOME:
			CHECK(!a->welcomed);
			a->welcomed = 1;
			break;
		case LPROTO_REFUSE:
			CHECK(may_refuse_or_answer && !a->welcomed);
			break;
		case LPROTO_SEND_RESULT:
			CHECK(may_refuse_or_answer && a->welcomed);
			break;
		case LPROTO_CLOSING:
			/* Once, only to an attached application. */
			CHECK(a->welcomed && !a->closing);
			a->closing = 1;
			break;
		case LPROTO_DELIVER_REQ:
			CHECK(lproto_get_u64(f + LPROTO_HDR_LEN) > a->seq);
			a->seq = lproto_get_u64(f + LPROTO_HDR_LEN);
			a->unconfirmed = 1;
			/* FALLTHROUGH */
		case LPROTO_DELIVER:
			CHECK(a->welcomed);
			a->taken++;
			break;
		default:
			CHECK(!"the daemon sent an unexpected frame type");
		}
		evbuffer_drain(a->in, LPROTO_HDR_LEN + (size_t)blen);
	}
	return any;
}
