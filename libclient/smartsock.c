/*
 * smartsock: the client library of smartsockd (see smartsock.h): its calls.
 * The stream to the daemon is stream.c's, the connection's life attach.c's
 * (client.h).
 */
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* The application is done with the message it was last given. */
static void
ss_release_held(struct smartsock *s)
{
	if (!s->holding)
		return;
	if (s->untold == 0 || s->held_seq > s->taken_seq)
		s->taken_seq = s->held_seq;
	s->untold++;
	s->holding = 0;
}

smartsock *
smartsock_open(const char *name)
{
	struct smartsock *s;
	int saved;

	if (name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->fd = s->epfd = s->tfd = -1;
	s->timeout_ms = -1;
	s->racap = SS_READAHEAD_MAX;
	s->reconnect = 1;
	s->backoff_ms = SS_RETRY_MIN_MS;
	if (ss_attach_first(s, name) == -1) {
		saved = errno;
		ss_free(s);
		errno = saved;
		return NULL;
	}
	s->opened = 1;
	return s;
}

/*
 * One SEND or SEND_TO, whole on one connection: waits for one (up to the
 * deadline) and starts again on the next if the frame was cut short.
 */
static int
ss_send(struct smartsock *s, const uint8_t identity[16], const void *data,
    size_t len, int64_t deadline)
{
	uint8_t hdr[LPROTO_HDR_LEN + LPROTO_ID_LEN];
	size_t hlen;
	int r;

	if (s == NULL || (data == NULL && len > 0)) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		if (ss_broken(s)) {
			errno = ss_broken(s);
			return -1;
		}
		if (len > s->max_msg) {
			errno = EMSGSIZE;
			return -1;
		}
		if (ss_attach_wait(s, deadline) == -1)
			return -1;
		ss_peek(s);
		if (!ss_sendable(s) || len > s->max_msg)
			continue;
		/* Goes out in the same write as the message. */
		ss_confirm_queue(s);
		if (identity == NULL)
			hlen = lproto_put_header(hdr, LPROTO_SEND, len);
		else {
			hlen = lproto_put_header(hdr, LPROTO_SEND_TO,
			    LPROTO_ID_LEN + len);
			memcpy(hdr + hlen, identity, LPROTO_ID_LEN);
			hlen += LPROTO_ID_LEN;
		}
		r = ss_write_frame(s, hdr, hlen, data, len, deadline);
		if (r != SS_LOST)
			return r;
	}
}

int
smartsock_send(smartsock *s, const void *data, size_t len)
{
	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return ss_send(s, NULL, data, len, ss_deadline(s->timeout_ms));
}

/* Messages up to this size are batched by sendv through the out-buffer;
 * larger ones are written straight from the caller's memory. */
#define SS_SENDV_COPY_MAX (8 * 1024)
#define SS_SENDV_BATCH (64 * 1024)

int
smartsock_sendv(smartsock *s, const struct iovec *msgs, int count)
{
	uint8_t hdr[LPROTO_HDR_LEN];
	int64_t deadline;
	int i, sent = 0, batch;         /* batch: where this batch began */
	unsigned int gen;
	size_t len;

	if (s == NULL || count < 0 || (msgs == NULL && count > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (ss_broken(s)) {
		errno = ss_broken(s);
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (msgs[i].iov_base == NULL && msgs[i].iov_len > 0) {
			errno = EINVAL;
			return -1;
		}
		if (msgs[i].iov_len > s->max_msg) {
			if (i == 0) {
				errno = EMSGSIZE;
				return -1;
			}
			count = i;      /* send those before it */
			break;
		}
	}
	deadline = ss_deadline(s->timeout_ms);
	while (sent < count) {
		if (ss_attach_wait(s, deadline) == -1)
			return sent > 0 ? sent : -1;
		ss_peek(s);
		if (!ss_sendable(s))
			continue;
		gen = s->gen;
		/* What an earlier call left behind goes first, or nothing
		 * goes. */
		if (s->ooff < s->olen && ss_flush(s, deadline) == -1) {
			if (s->gen != gen && !ss_broken(s))
				continue;
			return sent > 0 ? sent : -1;
		}
		len = msgs[sent].iov_len;
		if (len > s->max_msg) {
			/* The daemon attached to now allows less. */
			if (sent > 0)
				return sent;
			errno = EMSGSIZE;
			return -1;
		}
		if (len > SS_SENDV_COPY_MAX) {
			if (ss_send(s, NULL, msgs[sent].iov_base, len,
			    deadline) == -1)
				return sent > 0 ? sent : -1;
			sent++;
			continue;
		}
		ss_confirm_queue(s);
		batch = sent;
		while (sent < count && msgs[sent].iov_len <= SS_SENDV_COPY_MAX &&
		    msgs[sent].iov_len <= s->max_msg &&
		    s->olen - s->ooff < SS_SENDV_BATCH) {
			len = msgs[sent].iov_len;
			lproto_put_header(hdr, LPROTO_SEND, len);
			if (ss_obuf_append(s, hdr, sizeof hdr) == -1 ||
			    ss_obuf_append(s, msgs[sent].iov_base, len) == -1) {
				/* Out of memory: the stream must stay whole,
				 * so this batch never goes out. */
				ss_fail(s, EPIPE);
				errno = ENOMEM;
				return batch > 0 ? batch : -1;
			}
			sent++;
		}
		/* Appended messages are handed over even if this times out:
		 * the out-buffer goes out before anything else. */
		if (ss_flush(s, deadline) == -1) {
			if (errno == EAGAIN)
				return sent;
			/* Lost with the connection: the batch goes again on
			 * the next one. */
			if (s->gen != gen && !ss_broken(s)) {
				sent = batch;
				continue;
			}
			return batch > 0 ? batch : -1;
		}
	}
	return sent;
}

int
smartsock_send_to(smartsock *s, const uint8_t identity[16], const void *data,
    size_t len)
{
	int64_t deadline;
	unsigned int gen;
	int last = 0;

	if (s == NULL || identity == NULL) {
		errno = EINVAL;
		return -1;
	}
	deadline = ss_deadline(s->timeout_ms);
	if (ss_send(s, identity, data, len, deadline) == -1)
		return -1;
	/* Verdicts come in order; earlier abandoned ones are dropped. */
	gen = s->gen;
	s->owed++;
	s->have_result = 0;
	for (;;) {
		if (s->have_result)
			break;
		if (ss_broken(s)) {
			errno = ss_broken(s);
			return -1;
		}
		if (s->gen != gen) {
			/* The daemon went before its verdict: the message may
			 * or may not have been sent. */
			errno = ECONNRESET;
			return -1;
		}
		if (ss_flush_nb(s) == -1)
			continue;
		if (last) {
			/* Its verdict is discarded when it comes. */
			s->abandoned++;
			errno = ETIMEDOUT;
			return -1;
		}
		/* At the deadline, one more look without waiting. */
		if (ss_left(deadline) == 0)
			last = 1;
		if (ss_wait(s, SS_WAIT_IN_ANY |
		    (s->ooff < s->olen ? SS_WAIT_OUT : 0), deadline) == -1) {
			s->abandoned++;
			return -1;
		}
	}
	s->have_result = 0;
	switch (s->result) {
	case LPROTO_OK:
		return 0;
	case LPROTO_ST_UNREACHABLE:
		errno = EHOSTUNREACH;
		break;
	case LPROTO_ST_TOO_BIG:
		errno = EMSGSIZE;
		break;
	case LPROTO_ST_NO_BUFFER:
		errno = ENOBUFS;
		break;
	default:
		ss_fail(s, EPROTO);
		errno = EPROTO;
		break;
	}
	return -1;
}

/* Hand out the first buffered message; s->nready > 0. */
static ssize_t
ss_take(struct smartsock *s, uint8_t identity[16], void *buf, size_t cap)
{
	const uint8_t *f, *body, *id, *payload;
	size_t blen, plen;
	uint64_t seq = 0;
	int type;

	for (;;) {
		f = s->rbuf + s->roff;
		blen = lproto_get_u32(f) - 1;
		if (f[4] != SS_SKIP)
			break;
		s->roff += LPROTO_HDR_LEN + blen;
	}
	body = f + LPROTO_HDR_LEN;
	type = f[4];
	if (type == LPROTO_DELIVER_REQ || type == SS_OLD_REQ) {
		seq = lproto_get_u64(body);
		body += 8;
		blen -= 8;
	}
	id = body;
	payload = body + LPROTO_ID_LEN;
	plen = blen - LPROTO_ID_LEN;
	if (identity != NULL)
		memcpy(identity, id, LPROTO_ID_LEN);
	if (cap > 0)
		memcpy(buf, payload, plen < cap ? plen : cap);
	s->roff = (size_t)(payload - s->rbuf) + plen;
	s->nready--;
	if (s->nready == 0)
		s->roff = s->scan;      /* only handled frames are left */
	if (s->roff == s->rlen) {
		s->roff = s->scan = s->rlen = 0;
		if (s->rcap > SS_RBUF_KEEP) {
			free(s->rbuf);
			s->rbuf = NULL;
			s->rcap = 0;
		}
	}
	/* One of a lost connection: nothing to confirm, no credit earned. */
	if (type == SS_OLD_REQ || type == SS_OLD_DELIVER)
		return (ssize_t)plen;
	if (type == LPROTO_DELIVER_REQ) {
		s->held_seq = seq;
		s->holding = 1;
	}
	s->uncredited++;
	if ((s->untold > 0 && (s->nready == 0 ||
	    s->untold >= SS_CONFIRM_BATCH)) || s->uncredited >= SS_CREDIT_BATCH) {
		ss_confirm_queue(s);
		ss_credit_queue(s, s->uncredited);
		ss_flush_nb(s);
	}
	return (ssize_t)plen;
}

ssize_t
smartsock_recv_identity(smartsock *s, uint8_t identity[16], void *buf,
    size_t cap)
{
	int64_t deadline;

	if (s == NULL || (buf == NULL && cap > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (s->err != 0) {
		errno = s->err;
		return -1;
	}
	deadline = ss_deadline(s->timeout_ms);
	ss_release_held(s);
	if (!s->receiving) {
		s->receiving = 1;
		ss_credit_queue(s, SS_RECV_WINDOW);
	}
	if (s->ooff < s->olen && s->fd != -1)
		ss_flush_nb(s);
	if (s->nready == 0)
		ss_service(s);
	while (s->nready == 0) {
		if (s->err != 0 || s->eof) {
			errno = ss_broken(s);
			return -1;
		}
		/* Nothing buffered: what was taken is confirmed and credited
		 * now, before a wait or an EAGAIN (a poll loop may wait
		 * long). */
		ss_confirm_queue(s);
		ss_credit_queue(s, s->uncredited);
		if (s->fd != -1)
			ss_flush_nb(s);
		if (ss_left(deadline) == 0) {
			errno = EAGAIN;
			return -1;
		}
		if (ss_wait(s, SS_WAIT_IN | (s->fd != -1 && s->ooff < s->olen ?
		    SS_WAIT_OUT : 0), deadline) == -1)
			return -1;
		if (s->fd != -1 && s->ooff < s->olen)
			ss_flush_nb(s);
	}
	if (s->err != 0) {
		errno = s->err;
		return -1;
	}
	return ss_take(s, identity, buf, cap);
}

ssize_t
smartsock_recv(smartsock *s, void *buf, size_t cap)
{
	return smartsock_recv_identity(s, NULL, buf, cap);
}

int
smartsock_set_timeout(smartsock *s, int timeout_ms)
{
	if (s == NULL || timeout_ms < -1) {
		errno = EINVAL;
		return -1;
	}
	s->timeout_ms = timeout_ms;
	return 0;
}

int
smartsock_set_reconnect(smartsock *s, int on)
{
	int err;

	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	on = on != 0;
	if (on == s->reconnect)
		return 0;
	s->reconnect = on;
	if (!on && s->fd == -1 && s->err == 0) {
		/* Detached: fail from now on, as a lost connection did. */
		s->eof = 1;
		ss_dead(s, s->lost_err != 0 ? s->lost_err : EPIPE);
	} else if (on && s->dead != 0 && s->err == 0) {
		/* Its connection ended: read what is left, then start
		 * again. */
		err = s->dead;
		s->dead = 0;
		if (s->fd != -1) {
			s->eof = 0;
			ss_write_failed(s, err);
		} else {
			s->eof = 0;
			ss_schedule(s);
		}
	}
	ss_timer_sync(s);
	return 0;
}

int
smartsock_events(smartsock *s)
{
	int ev;

	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	ss_service(s);
	if (s->err != 0) {
		errno = s->err;
		return -1;
	}
	ev = s->events;
	s->events = 0;
	if (ss_sendable(s))
		ev |= SMARTSOCK_EVENT_ATTACHED;
	else
		errno = ss_why(s);
	return ev;
}

int
smartsock_fd(const smartsock *s)
{
	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return s->epfd;
}

int
smartsock_identity(const smartsock *s, uint8_t identity[16])
{
	if (s == NULL || identity == NULL) {
		errno = EINVAL;
		return -1;
	}
	memcpy(identity, s->identity, LPROTO_ID_LEN);
	return 0;
}

size_t
smartsock_max_message_size(const smartsock *s)
{
	if (s == NULL) {
		errno = EINVAL;
		return 0;
	}
	return s->max_msg;
}

void
smartsock_close(smartsock *s)
{
	int saved = errno, wait_ms;

	if (s == NULL)
		return;
	if (!ss_broken(s) && s->fd != -1 && ss_welcomed(s) && !s->wr_shut) {
		ss_release_held(s);
		ss_confirm_queue(s);
		wait_ms = s->timeout_ms;
		if (wait_ms < 0 || wait_ms > SS_CLOSE_WAIT_MS)
			wait_ms = SS_CLOSE_WAIT_MS;
		ss_flush(s, ss_deadline(wait_ms));
	}
	ss_free(s);
	errno = saved;
}

/* The library's own meaning of the errno values it sets. */
static const struct {
	int err;
	const char *text;
} ss_errors[] = {
	{ 0, "success" },
	{ ENOENT, "no such smart socket" },
	{ ECONNREFUSED, "smartsockd is not accepting on this socket" },
	{ EACCES, "access to the smart socket denied" },
	{ EPERM, "the socket's daemon does not run as SMARTSOCK_DAEMON_USER "
	    "(operation not permitted)" },
	{ EUSERS, "too many applications attached to the smart socket" },
	{ EPROTO, "protocol error with smartsockd" },
	{ ETIMEDOUT, "smartsockd did not answer in time" },
	{ EMSGSIZE, "message larger than the daemon's max_message_size" },
	{ EAGAIN, "timed out, nothing sent or received" },
	{ ENOBUFS, "send buffer full, message dropped" },
	{ EHOSTUNREACH, "no peer with that identity is connected" },
	{ EPIPE, "smartsockd closed the connection" },
	{ ECONNRESET, "connection to smartsockd reset" },
	{ ENOTCONN, "not attached to smartsockd; reconnecting" },
	{ ESHUTDOWN, "smartsockd is stopping" },
};

const char *
smartsock_strerror(int err)
{
	size_t i;

	for (i = 0; i < sizeof ss_errors / sizeof ss_errors[0]; i++)
		if (ss_errors[i].err == err)
			return ss_errors[i].text;
	return strerror(err);
}
