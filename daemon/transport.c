/* transport: a peer's carrier, plain TCP or TLS (transport.h). */
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "json.h"
#include "log.h"
#include "peer.h"
#include "stats.h"
#include "tls.h"
#include "transport.h"

/* What a TLS peer hands to OpenSSL at a time: four full records. */
#define TRANSPORT_TLS_PIECE (64 * 1024)

int
peer_tcp_connected(const struct peer *p)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);

	return getpeername(bufferevent_getfd(p->bev), (struct sockaddr *)&sa,
	    &len) == 0 || errno != ENOTCONN;
}

/* --- plain TCP ---------------------------------------------------------- */

static int
tcp_init(struct peer *p)
{
	(void)p;
	return 0;
}

static void
tcp_connected(struct peer *p)
{
	(void)p;
}

static int
tcp_failed(struct peer *p, short *what, int err)
{
	(void)p;
	(void)what;
	(void)err;
	return 0;
}

static void
tcp_reason(struct peer *p, char *why, size_t len)
{
	(void)p;
	if (len > 0)
		why[0] = '\0';
}

static const char *
tcp_late(struct peer *p)
{
	(void)p;
	return NULL;
}

static void
tcp_describe(const struct peer *p, struct json *j)
{
	(void)p;
	json_string(j, "tls", NULL);
	json_string(j, "peer_certificate", NULL);
}

static void
tcp_end(struct peer *p)
{
	(void)p;
}

const struct transport transport_tcp = {
	.init = tcp_init,
	.out = NULL,
	.held = NULL,
	.connected = tcp_connected,
	.failed = tcp_failed,
	.reason = tcp_reason,
	.late = tcp_late,
	.describe = tcp_describe,
	.end = tcp_end,
};

/* --- TLS ---------------------------------------------------------------- */

static void tls_batch_flush(evutil_socket_t, short, void *);

static int
tls_init(struct peer *p)
{
	if ((p->batch = evbuffer_new()) == NULL ||
	    (p->batch_ev = event_new(p->link.home->base, -1, 0,
	    tls_batch_flush, p)) == NULL)
		return -1;
	return 0;
}

/*
 * A TLS bufferevent encrypts and sends every addition to its output at
 * once, one record and one system call per frame; a TLS peer's frames are
 * gathered in its batch instead and handed over in large contiguous
 * pieces once per pass of the event loop, as a plain socket bufferevent
 * would write them.
 */
static struct evbuffer *
tls_out(struct peer *p)
{
	if (!p->batch_pending) {
		event_active(p->batch_ev, EV_WRITE, 0);
		p->batch_pending = 1;
	}
	return p->batch;
}

static void
tls_batch_flush(evutil_socket_t fd, short what, void *arg)
{
	struct peer *p = arg;
	struct evbuffer *out = bufferevent_get_output(p->bev);
	size_t n;

	(void)fd;
	(void)what;
	p->batch_pending = 0;
	while ((n = evbuffer_get_length(p->batch)) > 0) {
		if (n > TRANSPORT_TLS_PIECE)
			n = TRANSPORT_TLS_PIECE;
		if (evbuffer_pullup(p->batch, (ev_ssize_t)n) == NULL) {
			peer_close(p, "out of memory");
			return;
		}
		/* Moving the whole first chain copies nothing more. */
		n = evbuffer_get_contiguous_space(p->batch);
		if (evbuffer_remove_buffer(p->batch, out, n) != (int)n) {
			peer_close(p, "out of memory");
			return;
		}
	}
}

static size_t
tls_held(const struct peer *p)
{
	return evbuffer_get_length(p->batch);
}

static void
tls_connected(struct peer *p)
{
	char session[128], subject[256];

	p->tls_done = 1;
	STATS_INC(&p->link.home->stats, tls_handshakes);
	if (!log_verbose())
		return;
	tls_session(peer_carrier(p), session, sizeof(session));
	tls_peer_subject(peer_carrier(p), subject, sizeof(subject));
	log_debug("socket %s: TLS with %s: %s, peer certificate %s",
	    p->link.home->name, p->link.addr, session, subject[0] != '\0' ?
	    subject : "none");
}

/*
 * libevent reports a socket error on a TLS connection (a refused connect,
 * a reset) as the end of the stream, leaving the error in errno: tell the
 * two apart by whether the socket is still connected.
 */
static int
tls_socket_failed(const struct peer *p, int err)
{
	if (err == 0 || err == EAGAIN || err == EWOULDBLOCK ||
	    err == EINPROGRESS || err == EINTR)
		return 0;
	return !peer_tcp_connected(p);
}

/*
 * Read what the other side sent before closing a connection whose TLS
 * handshake failed here: closing with unread bytes resets it, and the
 * reset can overtake the alert that tells the other side why.
 */
static void
tls_drain_socket(const struct peer *p)
{
	char buf[4096];
	int fd = bufferevent_getfd(p->bev), i;

	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

/*
 * The connection failed before the aiomsg handshake: in the TLS handshake,
 * or just after it when the other side refused our certificate (TLS 1.3
 * tells the client only then).  Counted by cause; for an accepted
 * connection logged here (rate-limited: anyone can connect), for ours by
 * the connector.  -1 when the peer was closed; 0 when TLS is not the
 * cause (its handshake completed and OpenSSL reported nothing).
 */
static int
tls_handshake_failed(struct peer *p, short what, int err)
{
	struct home *h = p->link.home;
	char reason[256], why[300];
	enum tls_failure cause;
	char more[LOG_MORE_LEN];
	int64_t k;

	cause = tls_failure(peer_carrier(p), reason, sizeof(reason));
	/* Nothing from OpenSSL: TCP failed (refused, reset), or TLS is not
	 * the cause of a close after the handshake. */
	if (reason[0] == '\0' && (p->tls_done || (what & BEV_EVENT_ERROR)))
		return 0;
	if (reason[0] == '\0') {
		if ((what & BEV_EVENT_EOF) || err == 0)
			snprintf(reason, sizeof(reason), "closed by the peer%s",
			    p->tls_done ? "" : " (does it speak TLS?)");
		else
			snprintf(reason, sizeof(reason), "%s",
			    evutil_socket_error_to_string(err));
	}
	switch (cause) {
	case TLS_FAIL_NOT_TLS:
		STATS_INC(&h->stats, tls_failed_not_tls);
		break;
	case TLS_FAIL_VERIFY:
		STATS_INC(&h->stats, tls_failed_verify);
		break;
	case TLS_FAIL_NO_CERT:
		STATS_INC(&h->stats, tls_failed_no_cert);
		break;
	case TLS_FAIL_REFUSED:
		STATS_INC(&h->stats, tls_failed_refused);
		break;
	case TLS_FAIL_OTHER:
		STATS_INC(&h->stats, tls_failed_other);
		break;
	}
	snprintf(why, sizeof(why), "TLS handshake: %s", reason);
	if (p->owner != NULL) {
		peer_end(p, why, 0);
		return -1;
	}
	if ((k = log_ratelimit_pass(&h->rl_tls, now_ms())) >= 0)
		log_warnx("socket %s: TLS handshake with %s failed: %s%s",
		    h->name, p->link.addr, reason, log_more(more, k));
	tls_drain_socket(p);
	peer_end(p, why, 1);
	return -1;
}

static int
tls_failed(struct peer *p, short *what, int err)
{
	if ((*what & BEV_EVENT_EOF) && tls_socket_failed(p, err))
		*what = (short)((*what & ~BEV_EVENT_EOF) | BEV_EVENT_ERROR);
	if (p->link.state == LINK_HANDSHAKE)
		return tls_handshake_failed(p, *what, err);
	return 0;
}

static void
tls_reason(struct peer *p, char *why, size_t len)
{
	tls_failure(peer_carrier(p), why, len);
}

static const char *
tls_late(struct peer *p)
{
	if (p->tls_done)
		return NULL;
	STATS_INC(&p->link.home->stats, tls_failed_other);
	return "TLS handshake not complete in time (timed out)";
}

static void
tls_describe(const struct peer *p, struct json *j)
{
	char text[256];

	tls_session(peer_carrier(p), text, sizeof(text));
	json_string(j, "tls", text[0] != '\0' ? text : "handshake");
	tls_peer_subject(peer_carrier(p), text, sizeof(text));
	json_string(j, "peer_certificate", text[0] != '\0' ? text : NULL);
}

static void
tls_end(struct peer *p)
{
	if (p->batch_ev != NULL)
		event_free(p->batch_ev);
	if (p->batch != NULL)
		evbuffer_free(p->batch);
	p->batch_ev = NULL;
	p->batch = NULL;
	if (p->bev != NULL)
		tls_close_notify(peer_carrier(p));
}

const struct transport transport_tls = {
	.init = tls_init,
	.out = tls_out,
	.held = tls_held,
	.connected = tls_connected,
	.failed = tls_failed,
	.reason = tls_reason,
	.late = tls_late,
	.describe = tls_describe,
	.end = tls_end,
};
