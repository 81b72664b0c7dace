/*
 * stream: the byte stream between a handle and its daemon (see client.h).
 *
 * Receiving reads ahead in large chunks into one buffer and validates each
 * frame as it arrives.  Frames that are handled in place (SEND_RESULT;
 * WELCOME, REFUSE and CLOSING, which attach.c interprets) get their type
 * byte overwritten with SS_SKIP so the messages around them stay where
 * they are and are handed out in order without copying.
 *
 * Sending writes header and payload with one sendmsg() straight from the
 * caller's memory.  Bytes the library owes the daemon (HELLO, CONFIRMs,
 * CREDITs, the tail of a frame cut short by a timeout) wait in an
 * out-buffer that always goes out before anything else, so the stream
 * stays well-formed; nothing is appended to it while a frame is part
 * written (s->writing).
 *
 * No threads, no event library: every wait is a poll() bounded by the
 * caller's deadline.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0          /* SO_NOSIGPIPE is set instead, if any */
#endif

/* -1: no deadline. */
int64_t
ss_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return mono_ms() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 expired. */
int
ss_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	if (left <= 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

/* A protocol violation: the handle is unusable from now on. */
void
ss_fail(struct smartsock *s, int err)
{
	if (s->err == 0)
		s->err = err;
	if (s->fd != -1)
		shutdown(s->fd, SHUT_RDWR);
}

/* The connection is gone; messages already buffered can still be read. */
void
ss_dead(struct smartsock *s, int err)
{
	if (s->dead == 0)
		s->dead = err;
}

int
ss_obuf_append(struct smartsock *s, const void *p, size_t n)
{
	uint8_t *nb;
	size_t want;

	if (s->ooff == s->olen)
		s->ooff = s->olen = 0;
	if (s->ocap - s->olen < n) {
		if (s->ooff > 0) {
			memmove(s->obuf, s->obuf + s->ooff, s->olen - s->ooff);
			s->olen -= s->ooff;
			s->ooff = 0;
		}
		if (s->ocap - s->olen < n) {
			want = s->olen + n;
			if (want < 64)
				want = 64;
			if ((nb = realloc(s->obuf, want)) == NULL)
				return -1;
			s->obuf = nb;
			s->ocap = want;
		}
	}
	memcpy(s->obuf + s->olen, p, n);
	s->olen += n;
	return 0;
}

/* Queue one CONFIRM for everything done so far. */
void
ss_confirm_queue(struct smartsock *s)
{
	uint8_t f[LPROTO_HDR_LEN + 8];

	if (s->untold == 0 || !ss_can_tell(s))
		return;
	lproto_put_header(f, LPROTO_CONFIRM, 8);
	lproto_put_u64(f + LPROTO_HDR_LEN, s->taken_seq);
	if (ss_obuf_append(s, f, sizeof f) == 0)
		s->untold = 0;
}

/* Queue one CREDIT returning n messages of window. */
void
ss_credit_queue(struct smartsock *s, unsigned int n)
{
	uint8_t f[LPROTO_HDR_LEN + 4];

	if (n == 0 || !ss_can_tell(s))
		return;
	lproto_put_header(f, LPROTO_CREDIT, 4);
	lproto_put_u32(f + LPROTO_HDR_LEN, n);
	if (ss_obuf_append(s, f, sizeof f) == 0 && n == s->uncredited)
		s->uncredited = 0;
}

/*
 * Write what the out-buffer holds without waiting; once it is empty on a
 * connection that got CLOSING, shut the write side.  -1 when the
 * connection is gone or failed now.
 */
int
ss_flush_nb(struct smartsock *s)
{
	ssize_t n;

	if (s->err != 0 || s->dead != 0 || s->fd == -1)
		return -1;
	if (s->wr_shut) {
		s->ooff = s->olen = 0;
		return 0;
	}
	while (s->ooff < s->olen) {
		n = send(s->fd, s->obuf + s->ooff, s->olen - s->ooff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			s->ev->write_failed(s, errno);
			return -1;
		}
		s->ooff += (size_t)n;
	}
	s->ooff = s->olen = 0;
	if (ss_closing(s) && !s->writing && s->err == 0) {
		shutdown(s->fd, SHUT_WR);
		s->wr_shut = 1;
	}
	return 0;
}

/* Handle one complete, header-checked frame at s->scan. */
static void
ss_frame(struct smartsock *s, uint8_t *f, uint32_t blen)
{
	const uint8_t *body = f + LPROTO_HDR_LEN;

	switch (f[4]) {
	case LPROTO_DELIVER:
	case LPROTO_DELIVER_REQ:
		if (!ss_welcomed(s)) {
			s->ev->bad_frame(s, EPROTO);
			return;
		}
		s->nready++;
		s->scan += LPROTO_HDR_LEN + blen;
		return;
	case LPROTO_SEND_RESULT:
		if (!ss_welcomed(s) || s->owed == 0) {
			s->ev->bad_frame(s, EPROTO);
			return;
		}
		s->owed--;
		if (s->abandoned > 0)
			s->abandoned--;
		else {
			s->result = lproto_get_u32(body);
			s->have_result = 1;
		}
		break;
	case LPROTO_WELCOME:
	case LPROTO_REFUSE:
	case LPROTO_CLOSING:
		/* The connection's life: attach.c's. */
		if (s->ev->session_frame(s, f[4], body) == -1)
			return;
		break;
	default:
		/* A client-to-daemon type. */
		s->ev->bad_frame(s, EPROTO);
		return;
	}
	f[4] = SS_SKIP;
	s->scan += LPROTO_HDR_LEN + blen;
	if (s->nready == 0)
		s->roff = s->scan;
}

/* Validate and handle every complete frame that has arrived. */
static void
ss_scan(struct smartsock *s)
{
	enum lproto_check c;
	uint32_t blen;
	uint8_t type;

	while (s->err == 0 && !s->drop && s->scan < s->rlen) {
		c = lproto_frame_check(s->rbuf + s->scan, s->rlen - s->scan,
		    s->max_msg, &type, &blen);
		if (c == LPROTO_NEED_MORE)
			break;
		if (c == LPROTO_FRAME_BAD) {
			s->ev->bad_frame(s, EPROTO);
			return;
		}
		if (s->rlen - s->scan < LPROTO_HDR_LEN + (size_t)blen) {
			s->need = LPROTO_HDR_LEN + (size_t)blen;
			return;
		}
		ss_frame(s, s->rbuf + s->scan, blen);
	}
	s->need = 0;
}

/*
 * One read() of whatever is there, then scan it.  State records errors;
 * the connection may be gone afterwards.
 */
void
ss_fill(struct smartsock *s)
{
	size_t want, keep;
	uint8_t *nb;
	ssize_t n;

	if (s->err != 0 || s->eof || s->fd == -1)
		return;
	want = SS_READ_CHUNK;
	if (s->need > s->rlen - s->scan && s->need - (s->rlen - s->scan) > want)
		want = s->need - (s->rlen - s->scan);
	if (s->rcap - s->rlen < want) {
		if (s->roff > 0) {
			keep = s->rlen - s->roff;
			memmove(s->rbuf, s->rbuf + s->roff, keep);
			s->scan -= s->roff;
			s->rlen = keep;
			s->roff = 0;
		}
		if (s->rcap - s->rlen < want) {
			if ((nb = realloc(s->rbuf, s->rlen + want)) == NULL) {
				ss_fail(s, ENOMEM);
				return;
			}
			s->rbuf = nb;
			s->rcap = s->rlen + want;
		}
	}
	for (;;) {
		n = read(s->fd, s->rbuf + s->rlen, s->rcap - s->rlen);
		if (n > 0)
			break;
		if (n == 0) {
			s->ev->lost(s, EPIPE);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			s->ev->lost(s, errno);
		return;
	}
	s->rlen += (size_t)n;
	ss_scan(s);
	if (s->drop) {
		s->drop = 0;
		s->ev->lost(s, s->attempt_err);
	} else if (ss_closing(s) && !s->wr_shut && !s->writing)
		ss_flush_nb(s);
}

/*
 * Wait up to the deadline for the socket to become writable (SS_WAIT_OUT)
 * or readable; what is readable is read and scanned before returning.  A
 * connection that is not attached yet, or got CLOSING, is always read.
 * Detached, sleep until the next attempt is due and make it.
 * Returns 1 after an event, 0 at the deadline, -1 when poll() fails.
 */
int
ss_wait(struct smartsock *s, int flags, int64_t deadline)
{
	struct pollfd pfd;
	int64_t until;
	int n;

	if (s->fd == -1) {
		if (ss_broken(s) || !s->reconnect)
			return 1;       /* nothing to wait for: callers see why */
		until = s->next_try;
		if (deadline >= 0 && deadline < until)
			until = deadline;
		while ((n = ss_left(until)) > 0)
			poll(NULL, 0, n);
		if (mono_ms() < s->next_try)
			return 0;
		s->ev->retry_due(s);
		return 1;
	}
	pfd.fd = s->fd;
	pfd.events = 0;
	if ((flags & SS_WAIT_OUT) && s->dead == 0)
		pfd.events |= POLLOUT;
	if (!s->eof && (!ss_welcomed(s) || ss_closing(s) ||
	    (flags & SS_WAIT_IN_ANY) ||
	    ((flags & SS_WAIT_IN) && s->rlen - s->roff < s->racap)))
		pfd.events |= POLLIN;
	until = deadline;
	if (s->opened && !ss_welcomed(s) &&
	    (until < 0 || s->hello_deadline < until))
		until = s->hello_deadline;
	for (;;) {
		pfd.revents = 0;
		n = poll(&pfd, 1, ss_left(until));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		break;
	}
	if (n == 0) {
		if (s->opened && !ss_welcomed(s) &&
		    mono_ms() >= s->hello_deadline) {
			s->ev->lost(s, ETIMEDOUT);
			return 1;
		}
		return 0;
	}
	if (pfd.revents & POLLNVAL) {
		s->ev->lost(s, EBADF);
		return 1;
	}
	if ((pfd.events & POLLIN) &&
	    (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		ss_fill(s);
	return 1;
}

/* Write the out-buffer completely, or fail at the deadline (EAGAIN), or
 * with ENOTCONN when the connection went meanwhile. */
int
ss_flush(struct smartsock *s, int64_t deadline)
{
	int r;

	for (;;) {
		if (ss_broken(s)) {
			errno = ss_broken(s);
			return -1;
		}
		if (s->fd == -1) {
			errno = ENOTCONN;
			return -1;
		}
		if (ss_flush_nb(s) == -1)
			continue;
		if (s->ooff == s->olen)
			return 0;
		if ((r = ss_wait(s, SS_WAIT_OUT, deadline)) == -1)
			return -1;
		if (r == 0) {
			errno = EAGAIN;
			return -1;
		}
	}
}

/* Keep the unwritten rest of a frame for later calls to send. */
static int
ss_stash(struct smartsock *s, const uint8_t *hdr, size_t hlen,
    const uint8_t *data, size_t len, size_t done)
{
	if (done < hlen) {
		if (ss_obuf_append(s, hdr + done, hlen - done) == -1)
			return -1;
		done = hlen;
	}
	if (len > done - hlen &&
	    ss_obuf_append(s, data + (done - hlen), len - (done - hlen)) == -1)
		return -1;
	return 0;
}

/* A frame is whole on the connection (or stashed): a CLOSING that came
 * meanwhile can now be answered. */
static void
ss_frame_done(struct smartsock *s)
{
	s->writing = 0;
	if (ss_closing(s) && s->fd != -1)
		ss_flush_nb(s);
}

/*
 * Send the out-buffer and then one frame (hdr, then data) with as few
 * writes as the socket allows.  0: the frame is handed over, possibly with
 * its tail in the out-buffer; -1 with EAGAIN: none of it was written;
 * SS_LOST: the connection went (or got CLOSING) before the frame was whole,
 * and the daemon drops a frame cut short, so it may go again whole.
 */
int
ss_write_frame(struct smartsock *s, const uint8_t *hdr, size_t hlen,
    const uint8_t *data, size_t len, int64_t deadline)
{
	struct iovec iov[3];
	struct msghdr msg;
	size_t done = 0, total = hlen + len, pend, n;
	unsigned int gen = s->gen;
	ssize_t w;
	int niov, r, saved;

	for (;;) {
		if (s->gen != gen || s->fd == -1 || (done == 0 && ss_closing(s))) {
			s->writing = 0;
			return SS_LOST;
		}
		niov = 0;
		pend = s->olen - s->ooff;
		if (pend > 0) {
			iov[niov].iov_base = s->obuf + s->ooff;
			iov[niov++].iov_len = pend;
		}
		if (done < hlen) {
			iov[niov].iov_base = (void *)(hdr + done);
			iov[niov++].iov_len = hlen - done;
		}
		if (len > 0) {
			n = done > hlen ? done - hlen : 0;
			iov[niov].iov_base = (void *)(data + n);
			iov[niov++].iov_len = len - n;
		}
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = iov;
		msg.msg_iovlen = niov;
		w = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			s->writing = 0;
			s->ev->write_failed(s, errno);
			if (ss_broken(s)) {
				errno = ss_broken(s);
				return -1;
			}
			return SS_LOST;
		}
		if (w > 0) {
			n = (size_t)w;
			if (pend > 0) {
				if (n >= pend) {
					n -= pend;
					s->ooff = s->olen = 0;
				} else {
					s->ooff += n;
					n = 0;
				}
			}
			done += n;
			if (done > 0)
				s->writing = 1;
			if (done == total) {
				ss_frame_done(s);
				return 0;
			}
		}
		r = ss_wait(s, SS_WAIT_OUT | SS_WAIT_IN, deadline);
		if (ss_broken(s)) {
			/* Gone or unusable: a tail would not matter. */
			s->writing = 0;
			errno = ss_broken(s);
			return -1;
		}
		if (r == 1)
			continue;
		/* Deadline passed (or poll failed). */
		if (done == 0) {
			s->writing = 0;
			if (r == 0)
				errno = EAGAIN;
			return -1;
		}
		saved = errno;
		s->writing = 0;
		if (ss_stash(s, hdr, hlen, data, len, done) == -1) {
			/* Without the tail the stream cannot go on. */
			ss_fail(s, EPIPE);
			errno = ENOMEM;
			return -1;
		}
		ss_frame_done(s);
		errno = saved;
		return 0;
	}
}
