/*
 * smartsock: the client library of smartsockd (see smartsock.h).
 *
 * One non-blocking Unix stream socket per handle, no threads, no event
 * library: every wait is a poll() bounded by the handle's timeout.
 *
 * Receiving reads ahead in large chunks into one buffer and validates each
 * frame as it arrives.  Frames that are handled in place (SEND_RESULT) get
 * their type byte overwritten with SS_SKIP so the messages around them stay
 * where they are and are handed out in order without copying.
 *
 * Sending writes header and payload with one sendmsg() straight from the
 * caller's memory.  Bytes the library owes the daemon (CONFIRMs, the tail of
 * a frame cut short by a timeout) wait in an out-buffer that always goes
 * out before anything else, so the stream stays well-formed.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lproto.h"
#include "smartsock.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0          /* SO_NOSIGPIPE is set instead, if any */
#endif

#define SS_OPEN_TIMEOUT_MS 5000 /* connect + HELLO/WELCOME */
#define SS_CLOSE_WAIT_MS 5000   /* longest close() waits to flush */
#define SS_READ_CHUNK (256 * 1024)
#define SS_RBUF_KEEP (1024 * 1024)  /* larger idle buffers are freed */
/*
 * Unread data the library takes in while it waits for something else
 * (room to send).  It reads then only so that a daemon busy writing to us
 * is not stalled; past this the daemon's own buffers hold the rest.
 */
#define SS_READAHEAD_MAX (16 * 1024 * 1024)
#define SS_CONFIRM_BATCH 64     /* taken DELIVER_REQs per CONFIRM at most */
/*
 * Messages the daemon may send ahead of recv calls.  The first recv grants
 * the window (an application that never receives gets nothing); taking
 * messages earns credit back, returned in batches.
 */
#define SS_RECV_WINDOW 1024
#define SS_CREDIT_BATCH (SS_RECV_WINDOW / 4)
/* Largest max_message_size accepted: the config's bound, or what a
 * return value of recv can hold. */
#if SSIZE_MAX > 0x80000000LL + 64
#define SS_MAX_MESSAGE 0x80000000U
#else
#define SS_MAX_MESSAGE ((uint32_t)(SSIZE_MAX - 64))
#endif
#define SS_SKIP 0               /* type byte of a frame already handled */

/* ss_wait() flags */
#define SS_WAIT_OUT 0x1         /* wake when writable */
#define SS_WAIT_IN 0x2          /* read ahead, within racap */
#define SS_WAIT_IN_ANY 0x4      /* read ahead, unbounded */

struct smartsock {
	int fd;
	int timeout_ms;
	int err;                /* EPROTO etc.: every call fails with it */
	int dead;               /* EPIPE/ECONNRESET: buffered messages are
	                           still handed out, then this */
	int eof;                /* nothing more to read */
	int welcomed;
	uint32_t max_msg;
	uint8_t identity[LPROTO_ID_LEN];

	/*
	 * Receive buffer: [roff, scan) holds validated frames, nready of
	 * them messages (the rest SS_SKIP); [scan, rlen) an incomplete
	 * frame, `need` bytes long once its header is known.
	 */
	uint8_t *rbuf;
	size_t rcap, roff, scan, rlen, need;
	size_t nready;
	size_t racap;

	/* Out-buffer: [ooff, olen) must be written before anything else. */
	uint8_t *obuf;
	size_t ocap, ooff, olen;

	/*
	 * At-least-once: the message last returned stays the application's
	 * (held) until it comes back for another or closes; then it is done.
	 * The highest seq done, and how many since the last CONFIRM.
	 */
	uint64_t held_seq;
	int holding;
	uint64_t taken_seq;
	unsigned int untold;

	/* Receiving: window granted yet?  Taken since the last CREDIT. */
	int receiving;
	unsigned int uncredited;

	/* SEND_TO verdicts: owed by the daemon, owed to callers gone by. */
	unsigned int owed;
	unsigned int abandoned;
	int have_result;
	uint32_t result;
};

static int64_t
ss_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1: no deadline. */
static int64_t
ss_deadline(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	return ss_now() + timeout_ms;
}

/* Milliseconds left for poll(): -1 forever, 0 expired. */
static int
ss_left(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - ss_now();
	if (left <= 0)
		return 0;
	if (left > INT_MAX)
		return INT_MAX;
	return (int)left;
}

/* A protocol violation: the handle is unusable from now on. */
static void
ss_fail(struct smartsock *s, int err)
{
	if (s->err == 0)
		s->err = err;
	if (s->fd != -1)
		shutdown(s->fd, SHUT_RDWR);
}

/* The connection is gone; messages already buffered can still be read. */
static void
ss_dead(struct smartsock *s, int err)
{
	if (s->dead == 0)
		s->dead = err;
}

/* The errno a call fails with on a broken handle, or 0. */
static int
ss_broken(const struct smartsock *s)
{
	if (s->err != 0)
		return s->err;
	return s->dead;
}

static int
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

/*
 * Queue one CONFIRM for everything done so far.  Only called between
 * frames: the out-buffer is the head of the stream then.
 */
static void
ss_confirm_queue(struct smartsock *s)
{
	uint8_t f[LPROTO_HDR_LEN + 8];

	if (s->untold == 0 || ss_broken(s))
		return;
	lproto_put_header(f, LPROTO_CONFIRM, 8);
	lproto_put_u64(f + LPROTO_HDR_LEN, s->taken_seq);
	if (ss_obuf_append(s, f, sizeof f) == 0)
		s->untold = 0;
}

/* Queue one CREDIT returning n messages of window (between frames). */
static void
ss_credit_queue(struct smartsock *s, unsigned int n)
{
	uint8_t f[LPROTO_HDR_LEN + 4];

	if (n == 0 || ss_broken(s))
		return;
	lproto_put_header(f, LPROTO_CREDIT, 4);
	lproto_put_u32(f + LPROTO_HDR_LEN, n);
	if (ss_obuf_append(s, f, sizeof f) == 0 && n == s->uncredited)
		s->uncredited = 0;
}

/* Write what the out-buffer holds without waiting. */
static int
ss_flush_nb(struct smartsock *s)
{
	ssize_t n;

	if (s->dead != 0)
		return -1;
	while (s->ooff < s->olen) {
		n = send(s->fd, s->obuf + s->ooff, s->olen - s->ooff,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			ss_dead(s, errno);
			return -1;
		}
		s->ooff += (size_t)n;
	}
	s->ooff = s->olen = 0;
	return 0;
}

/* Handle one complete, header-checked frame at s->scan. */
static void
ss_frame(struct smartsock *s, uint8_t *f, uint32_t blen)
{
	const uint8_t *body = f + LPROTO_HDR_LEN;
	uint32_t status, max;

	switch (f[4]) {
	case LPROTO_DELIVER:
	case LPROTO_DELIVER_REQ:
		if (!s->welcomed) {
			ss_fail(s, EPROTO);
			return;
		}
		s->nready++;
		s->scan += LPROTO_HDR_LEN + blen;
		return;
	case LPROTO_SEND_RESULT:
		if (!s->welcomed || s->owed == 0) {
			ss_fail(s, EPROTO);
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
		if (s->welcomed || lproto_get_u16(body) != LPROTO_VERSION) {
			ss_fail(s, EPROTO);
			return;
		}
		max = lproto_get_u32(body + 2);
		if (max == 0 || max > SS_MAX_MESSAGE) {
			ss_fail(s, EPROTO);
			return;
		}
		s->max_msg = max;
		memcpy(s->identity, body + 6, LPROTO_ID_LEN);
		s->racap = LPROTO_HDR_LEN + LPROTO_MAX_FIXED + (size_t)max +
		    SS_READ_CHUNK;
		if (s->racap < SS_READAHEAD_MAX)
			s->racap = SS_READAHEAD_MAX;
		s->welcomed = 1;
		break;
	case LPROTO_REFUSE:
		if (s->welcomed) {
			ss_fail(s, EPROTO);
			return;
		}
		status = lproto_get_u32(body + 2);
		if (status == LPROTO_ST_BAD_VERSION)
			ss_fail(s, EPROTO);
		else if (status == LPROTO_ST_REFUSED)
			ss_fail(s, EACCES);
		else if (status == LPROTO_ST_TOO_MANY)
			ss_fail(s, EUSERS);
		else
			ss_fail(s, ECONNREFUSED);
		return;
	default:
		/* A client-to-daemon type. */
		ss_fail(s, EPROTO);
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

	while (s->err == 0 && s->scan < s->rlen) {
		c = lproto_frame_check(s->rbuf + s->scan, s->rlen - s->scan,
		    s->max_msg, &type, &blen);
		if (c == LPROTO_NEED_MORE)
			break;
		if (c == LPROTO_FRAME_BAD) {
			ss_fail(s, EPROTO);
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

/* One read() of whatever is there, then scan it.  State records errors. */
static void
ss_fill(struct smartsock *s)
{
	size_t want, keep;
	uint8_t *nb;
	ssize_t n;

	if (s->err != 0 || s->eof)
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
			s->eof = 1;
			ss_dead(s, EPIPE);
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			s->eof = 1;
			ss_dead(s, errno);
		}
		return;
	}
	s->rlen += (size_t)n;
	ss_scan(s);
}

/*
 * Wait up to the deadline for the socket to become writable (SS_WAIT_OUT)
 * or readable; what is readable is read and scanned before returning.
 * Returns 1 after an event, 0 at the deadline, -1 when poll() fails.
 */
static int
ss_wait(struct smartsock *s, int flags, int64_t deadline)
{
	struct pollfd pfd;
	int n;

	pfd.fd = s->fd;
	pfd.events = 0;
	if ((flags & SS_WAIT_OUT) && s->dead == 0)
		pfd.events |= POLLOUT;
	if (!s->eof && ((flags & SS_WAIT_IN_ANY) ||
	    ((flags & SS_WAIT_IN) && s->rlen - s->roff < s->racap)))
		pfd.events |= POLLIN;
	for (;;) {
		pfd.revents = 0;
		n = poll(&pfd, 1, ss_left(deadline));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n;
		break;
	}
	if (pfd.revents & POLLNVAL) {
		s->eof = 1;
		ss_dead(s, EBADF);
		return 1;
	}
	if ((pfd.events & POLLIN) &&
	    (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
		ss_fill(s);
	return 1;
}

/* Write the out-buffer completely, or fail at the deadline (EAGAIN). */
static int
ss_flush(struct smartsock *s, int64_t deadline)
{
	int r;

	for (;;) {
		if (ss_broken(s)) {
			errno = ss_broken(s);
			return -1;
		}
		if (ss_flush_nb(s) == -1) {
			errno = s->dead;
			return -1;
		}
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

/*
 * Send the out-buffer and then one frame (hdr, then data) with as few
 * writes as the socket allows.  0: the frame is handed over, possibly with
 * its tail in the out-buffer; -1 with EAGAIN: none of it was written.
 */
static int
ss_write_frame(struct smartsock *s, const uint8_t *hdr, size_t hlen,
    const uint8_t *data, size_t len, int64_t deadline)
{
	struct iovec iov[3];
	struct msghdr msg;
	size_t done = 0, total = hlen + len, pend, n;
	ssize_t w;
	int niov, r, saved;

	for (;;) {
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
			ss_dead(s, errno);
			errno = s->dead;
			return -1;
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
			if (done == total)
				return 0;
		}
		r = ss_wait(s, SS_WAIT_OUT | SS_WAIT_IN, deadline);
		if (ss_broken(s)) {
			/* Gone or unusable: a tail would not matter. */
			errno = ss_broken(s);
			return -1;
		}
		if (r == 1)
			continue;
		/* Deadline passed (or poll failed). */
		if (done == 0) {
			if (r == 0)
				errno = EAGAIN;
			return -1;
		}
		saved = errno;
		if (ss_stash(s, hdr, hlen, data, len, done) == -1) {
			/* Without the tail the stream cannot go on. */
			ss_fail(s, EPIPE);
			errno = ENOMEM;
			return -1;
		}
		errno = saved;
		return 0;
	}
}

/* Connect without blocking past the deadline; errno as smartsock_open(). */
static int
ss_connect(int fd, const struct sockaddr_un *sun, int64_t deadline)
{
	struct pollfd pfd;
	socklen_t len;
	int err, n;

	for (;;) {
		if (connect(fd, (const struct sockaddr *)sun, sizeof *sun) == 0)
			return 0;
		if (errno == EAGAIN) {
			/* Linux: the listen queue is full; try again. */
			if (ss_left(deadline) == 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			poll(NULL, 0, 10);
			continue;
		}
		if (errno == EINPROGRESS || errno == EINTR)
			break;
		goto fail;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do {
		n = poll(&pfd, 1, ss_left(deadline));
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	len = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err == 0)
		return 0;
	errno = err;
fail:
	switch (errno) {
	case ENOTDIR:
		errno = ENOENT;
		break;
	case EPERM:
		errno = EACCES;
		break;
	case ENOTSOCK:
	case EPROTOTYPE:
		errno = ECONNREFUSED;
		break;
	}
	return -1;
}

/* Where `name` lives: a path, or NAME.sock in the runtime directory. */
static int
ss_path(const char *name, struct sockaddr_un *sun)
{
	const char *dir;
	int n;

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (strchr(name, '/') != NULL)
		n = snprintf(sun->sun_path, sizeof sun->sun_path, "%s", name);
	else {
		if (*name == '\0') {
			errno = ENOENT;
			return -1;
		}
		dir = getenv("SMARTSOCK_RUNTIME_DIR");
		if (dir == NULL || *dir == '\0')
			dir = RUNSTATEDIR "/smartsock";
		n = snprintf(sun->sun_path, sizeof sun->sun_path, "%s/%s.sock",
		    dir, name);
	}
	if (n < 0 || (size_t)n >= sizeof sun->sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
ss_socket(void)
{
	int fd;
#ifdef SO_NOSIGPIPE
	int one = 1;
#endif

#if defined(SOCK_CLOEXEC) && defined(SOCK_NONBLOCK)
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -1;
#else
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1) {
		close(fd);
		return -1;
	}
#endif
#ifdef SO_NOSIGPIPE
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
	return fd;
}

/* HELLO, then wait for WELCOME or REFUSE. */
static int
ss_handshake(struct smartsock *s, int64_t deadline)
{
	uint8_t hello[LPROTO_HDR_LEN + 2];

	lproto_put_header(hello, LPROTO_HELLO, 2);
	lproto_put_u16(hello + LPROTO_HDR_LEN, LPROTO_VERSION);
	if (ss_write_frame(s, hello, sizeof hello, NULL, 0, deadline) == -1 &&
	    s->dead == 0) {
		if (errno == EAGAIN)
			errno = ETIMEDOUT;
		return -1;
	}
	/* After a failed write, a REFUSE may still be there to read. */
	ss_fill(s);
	while (!s->welcomed) {
		if (s->err != 0) {
			errno = s->err;
			return -1;
		}
		if (s->dead != 0) {
			/* Closed on us without a word. */
			errno = ECONNREFUSED;
			return -1;
		}
		if (ss_flush_nb(s) == -1)
			continue;
		switch (ss_wait(s, SS_WAIT_IN_ANY |
		    (s->ooff < s->olen ? SS_WAIT_OUT : 0), deadline)) {
		case -1:
			return -1;
		case 0:
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

smartsock *
smartsock_open(const char *name)
{
	struct sockaddr_un sun;
	struct smartsock *s;
	int64_t deadline;
	int saved;

	if (name == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (ss_path(name, &sun) == -1)
		return NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return NULL;
	s->timeout_ms = -1;
	s->racap = SS_READAHEAD_MAX;
	deadline = ss_deadline(SS_OPEN_TIMEOUT_MS);
	if ((s->fd = ss_socket()) == -1 ||
	    ss_connect(s->fd, &sun, deadline) == -1 ||
	    ss_handshake(s, deadline) == -1) {
		saved = errno;
		if (s->fd != -1)
			close(s->fd);
		free(s->rbuf);
		free(s->obuf);
		free(s);
		errno = saved;
		return NULL;
	}
	return s;
}

static int
ss_send(struct smartsock *s, const uint8_t identity[16], const void *data,
    size_t len, int64_t deadline)
{
	uint8_t hdr[LPROTO_HDR_LEN + LPROTO_ID_LEN];
	size_t hlen;

	if (s == NULL || (data == NULL && len > 0)) {
		errno = EINVAL;
		return -1;
	}
	if (ss_broken(s)) {
		errno = ss_broken(s);
		return -1;
	}
	if (len > s->max_msg) {
		errno = EMSGSIZE;
		return -1;
	}
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
	return ss_write_frame(s, hdr, hlen, data, len, deadline);
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
	int i, sent = 0, handed = 0;    /* handed: surely out, in flushes */
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
	/* What an earlier call left behind goes first, or nothing goes. */
	if (s->ooff < s->olen && ss_flush(s, deadline) == -1)
		return -1;
	while (sent < count) {
		len = msgs[sent].iov_len;
		if (len > SS_SENDV_COPY_MAX) {
			if (ss_send(s, NULL, msgs[sent].iov_base, len,
			    deadline) == -1)
				return sent > 0 ? sent : -1;
			handed = ++sent;
			continue;
		}
		ss_confirm_queue(s);
		while (sent < count && msgs[sent].iov_len <= SS_SENDV_COPY_MAX &&
		    s->olen - s->ooff < SS_SENDV_BATCH) {
			len = msgs[sent].iov_len;
			lproto_put_header(hdr, LPROTO_SEND, len);
			if (ss_obuf_append(s, hdr, sizeof hdr) == -1 ||
			    ss_obuf_append(s, msgs[sent].iov_base, len) == -1) {
				/* Out of memory: the stream must stay whole,
				 * so this batch never goes out. */
				ss_fail(s, EPIPE);
				errno = ENOMEM;
				return handed > 0 ? handed : -1;
			}
			sent++;
		}
		/* Appended messages are handed over even if this times out:
		 * the out-buffer goes out before anything else. */
		if (ss_flush(s, deadline) == -1) {
			if (errno == EAGAIN)
				return sent;
			return handed > 0 ? handed : -1;
		}
		handed = sent;
	}
	return sent;
}

int
smartsock_send_to(smartsock *s, const uint8_t identity[16], const void *data,
    size_t len)
{
	int64_t deadline;
	int last = 0;

	if (s == NULL || identity == NULL) {
		errno = EINVAL;
		return -1;
	}
	deadline = ss_deadline(s->timeout_ms);
	if (ss_send(s, identity, data, len, deadline) == -1)
		return -1;
	/* Verdicts come in order; earlier abandoned ones are dropped. */
	s->owed++;
	s->have_result = 0;
	for (;;) {
		if (s->have_result)
			break;
		if (ss_broken(s)) {
			errno = ss_broken(s);
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
	int req;

	for (;;) {
		f = s->rbuf + s->roff;
		blen = lproto_get_u32(f) - 1;
		if (f[4] != SS_SKIP)
			break;
		s->roff += LPROTO_HDR_LEN + blen;
	}
	body = f + LPROTO_HDR_LEN;
	req = f[4] == LPROTO_DELIVER_REQ;
	if (req) {
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
	if (req) {
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
	if (s->ooff < s->olen)
		ss_flush_nb(s);
	if (s->nready == 0)
		ss_fill(s);
	while (s->nready == 0) {
		if (s->err != 0 || s->eof) {
			errno = ss_broken(s);
			return -1;
		}
		if (ss_left(deadline) == 0) {
			errno = EAGAIN;
			return -1;
		}
		ss_confirm_queue(s);
		ss_credit_queue(s, s->uncredited);
		ss_flush_nb(s);
		if (ss_wait(s, SS_WAIT_IN |
		    (s->ooff < s->olen ? SS_WAIT_OUT : 0), deadline) == -1)
			return -1;
		if (s->ooff < s->olen)
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
smartsock_fd(const smartsock *s)
{
	if (s == NULL) {
		errno = EINVAL;
		return -1;
	}
	return s->fd;
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
	if (!ss_broken(s)) {
		ss_release_held(s);
		ss_confirm_queue(s);
		wait_ms = s->timeout_ms;
		if (wait_ms < 0 || wait_ms > SS_CLOSE_WAIT_MS)
			wait_ms = SS_CLOSE_WAIT_MS;
		ss_flush(s, ss_deadline(wait_ms));
	}
	close(s->fd);
	free(s->rbuf);
	free(s->obuf);
	free(s);
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
	{ EUSERS, "too many applications attached to the smart socket" },
	{ EPROTO, "protocol error with smartsockd" },
	{ ETIMEDOUT, "smartsockd did not answer in time" },
	{ EMSGSIZE, "message larger than the daemon's max_message_size" },
	{ EAGAIN, "timed out, nothing sent or received" },
	{ ENOBUFS, "send buffer full, message dropped" },
	{ EHOSTUNREACH, "no peer with that identity is connected" },
	{ EPIPE, "smartsockd closed the connection" },
	{ ECONNRESET, "connection to smartsockd reset" },
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
