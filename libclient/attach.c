/*
 * attach: a handle's connection to its daemon, from the first attach to
 * every re-attach (see client.h).
 *
 * A handle whose daemon goes away (CLOSING then the end of the stream, or
 * an abrupt end) detaches.  Messages already read stay to be handed out;
 * everything else tied to the connection (sequence numbers, credit, owed
 * verdicts, the out-buffer) goes with it.  Then it connects and says HELLO
 * again, SS_RETRY_MIN_MS after the loss and with the delay doubling up to
 * SS_RETRY_MAX_MS after each failure, without end.  An attempt never
 * blocks: whichever call finds one due makes it, and a call that waits
 * sleeps until the next one.  smartsock_fd() is an epoll descriptor
 * holding the current socket and a timerfd armed for the next attempt (or
 * the end of a pending HELLO), so an application's poll() wakes for both
 * and the descriptor never changes.
 *
 * Before smartsock_open() has returned, and with re-attaching off, a lost
 * connection is kept and the handle fails as it always did.
 */
#define _GNU_SOURCE             /* struct ucred */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif

/* Why the handle is not attached, for smartsock_events(). */
int
ss_why(const struct smartsock *s)
{
	if (s->dead != 0)
		return s->dead;
	if (s->last_err != 0)
		return s->last_err;
	return ENOTCONN;
}

/*
 * The timer in smartsock_fd()'s set: due when an attempt to re-attach is,
 * or when a HELLO has waited too long; disarmed while attached.  Setting
 * it also clears an expiry nobody read.
 */
void
ss_timer_sync(struct smartsock *s)
{
	struct itimerspec its;
	int64_t at = -1;

	if (s->tfd == -1)
		return;
	memset(&its, 0, sizeof its);
	if (s->fd == -1 && s->reconnect && s->opened && ss_broken(s) == 0)
		at = s->next_try;
	else if (s->fd != -1 && s->opened && !ss_welcomed(s) && s->err == 0)
		at = s->hello_deadline;
	if (at >= 0) {
		if (at == 0)
			at = 1;         /* 0 would disarm it */
		its.it_value.tv_sec = (time_t)(at / 1000);
		its.it_value.tv_nsec = (long)(at % 1000) * 1000000;
	}
	timerfd_settime(s->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The next attempt after a failure or a loss. */
void
ss_schedule(struct smartsock *s)
{
	s->next_try = mono_ms() + s->backoff_ms;
	s->backoff_ms *= 2;
	if (s->backoff_ms > SS_RETRY_MAX_MS)
		s->backoff_ms = SS_RETRY_MAX_MS;
	ss_timer_sync(s);
}

/*
 * Frames left by a lost connection stay to be handed out, but their seqs
 * mean nothing to the next one and they earn it no credit; a frame cut
 * short is lost with the connection.
 */

static void ss_conn_error(struct smartsock *, int);
static int ss_session_frame(struct smartsock *, uint8_t, const uint8_t *);
static void ss_retry(struct smartsock *);

/* What this module hears from the byte stream (client.h). */
static const struct ss_stream_events ss_attach_events = {
	.lost = ss_lost,
	.write_failed = ss_write_failed,
	.bad_frame = ss_conn_error,
	.session_frame = ss_session_frame,
	.retry_due = ss_retry,
};

static void
ss_age_frames(struct smartsock *s)
{
	size_t off = s->roff;
	uint8_t *f;

	while (off < s->scan) {
		f = s->rbuf + off;
		if (f[4] == LPROTO_DELIVER)
			f[4] = SS_OLD_DELIVER;
		else if (f[4] == LPROTO_DELIVER_REQ)
			f[4] = SS_OLD_REQ;
		off += LPROTO_HDR_LEN + (size_t)lproto_get_u32(f) - 1;
	}
	s->rlen = s->scan;
	s->need = 0;
	if (s->roff == s->rlen)
		s->roff = s->scan = s->rlen = 0;
}

/* The one place the connection's state changes (client.h), with what
 * each state begins with. */
static void
ss_conn_enter(struct smartsock *s, enum ss_conn to)
{
	/* What was taken is confirmed with the last bytes we send, while
	 * the connection still takes them (ss_can_tell(): ATTACHED); the
	 * rest of the out-buffer goes first, then the end. */
	if (to == SS_CLOSING)
		ss_confirm_queue(s);
	s->conn = to;
	switch (to) {
	case SS_DETACHED:
		break;
	case SS_GREETING:
		s->attempt_err = 0;
		s->told_lost = 0;
		s->hello_deadline = mono_ms() + SS_OPEN_TIMEOUT_MS;
		break;
	case SS_ATTACHED:
		s->backoff_ms = SS_RETRY_MIN_MS;
		if (!s->opened)
			break;
		/* Re-attached: as a fresh attach, with the window granted if
		 * the application receives. */
		s->events |= SMARTSOCK_EVENT_BACK;
		s->last_err = 0;
		if (s->receiving)
			ss_credit_queue(s, SS_RECV_WINDOW);
		break;
	case SS_CLOSING:
		s->last_err = ESHUTDOWN;
		if (s->opened && !s->told_lost) {
			s->told_lost = 1;
			s->events |= SMARTSOCK_EVENT_LOST;
		}
		break;
	}
	ss_timer_sync(s);
}

/* The state of one connection's stream, as a new connection starts it. */
static void
ss_stream_clear(struct smartsock *s)
{
	s->ooff = s->olen = 0;
	s->wr_shut = 0;
	s->eof = 0;
	s->drop = 0;
}

/* Close the connection and forget what belonged to it. */
static void
ss_detach(struct smartsock *s)
{
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->fd, NULL);
	close(s->fd);
	s->fd = -1;
	ss_conn_enter(s, SS_DETACHED);
	ss_age_frames(s);
	ss_stream_clear(s);
	s->holding = 0;
	s->untold = 0;
	s->taken_seq = 0;
	s->uncredited = 0;
	s->owed = 0;
	s->abandoned = 0;
	s->gen++;
}

/*
 * The connection ended (err: how).  Before smartsock_open() returns, or
 * with re-attaching off, the handle keeps it and fails as it always did;
 * otherwise it detaches and the next attempt is scheduled.
 */
void
ss_lost(struct smartsock *s, int err)
{
	if (s->fd == -1)
		return;
	if (err == 0)
		err = EPIPE;
	if (s->opened && ss_welcomed(s) && !s->told_lost) {
		s->told_lost = 1;
		s->events |= SMARTSOCK_EVENT_LOST;
	}
	if (!s->opened || !s->reconnect) {
		s->eof = 1;
		ss_dead(s, err);
		return;
	}
	if (ss_welcomed(s))
		s->last_err = s->lost_err = err;
	else if (s->attempt_err != 0)
		s->last_err = s->attempt_err;
	else
		s->last_err = err == ETIMEDOUT ? ETIMEDOUT : ECONNREFUSED;
	ss_detach(s);
	ss_schedule(s);
}

/*
 * Writing failed: the daemon is gone.  What it sent before it went is
 * still ours, so read to the end first.
 */
void
ss_write_failed(struct smartsock *s, int err)
{
	size_t before;

	if (!s->opened || !s->reconnect) {
		ss_dead(s, err);
		return;
	}
	s->wr_shut = 1;
	while (s->fd != -1 && s->err == 0) {
		before = s->rlen;
		ss_fill(s);
		if (s->fd != -1 && s->rlen == before)
			break;
	}
	ss_lost(s, err);
}

/*
 * Malformed data or a refusal: while re-attaching, this attempt ends (and
 * another follows); otherwise the handle is unusable.
 */
static void
ss_conn_error(struct smartsock *s, int err)
{
	if (s->opened && s->reconnect && !ss_welcomed(s)) {
		s->attempt_err = err;
		s->drop = 1;
	} else
		ss_fail(s, err);
}

/* Connect errors as smartsock_open() reports them. */
static int
ss_connect_errno(int err)
{
	switch (err) {
	case ENOTDIR:
		return ENOENT;
	case EPERM:
		return EACCES;
	case ENOTSOCK:
	case EPROTOTYPE:
	case EAGAIN:            /* Linux: the listen queue is full */
		return ECONNREFUSED;
	}
	return err;
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

/*
 * With $SMARTSOCK_DAEMON_USER set (a user name or a uid), the process that
 * listens on the socket must run as that user (or as root), as the kernel
 * says (SO_PEERCRED): a socket file put there by anyone else is refused
 * with EPERM before anything is written to it.  0, or -1 with errno.
 */
static int
ss_check_daemon(int fd)
{
	const char *want = getenv("SMARTSOCK_DAEMON_USER");
	struct passwd pw, *found = NULL;
	struct ucred uc;
	socklen_t len = sizeof uc;
	char buf[1024], *end;
	unsigned long n;
	uid_t uid;

	if (want == NULL || *want == '\0')
		return 0;
	errno = 0;
	n = strtoul(want, &end, 10);
	if (*end == '\0' && errno == 0 && want[0] >= '0' && want[0] <= '9')
		uid = (uid_t)n;
	else if (getpwnam_r(want, &pw, buf, sizeof buf, &found) == 0 &&
	    found != NULL)
		uid = found->pw_uid;
	else {
		errno = EPERM;          /* no such user: nobody can match */
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == -1)
		return -1;
	if (uc.uid != uid && uc.uid != 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* A connected socket becomes the handle's connection, HELLO queued.  0, or
 * -1 (the caller still owns fd). */
static int
ss_attach_fd(struct smartsock *s, int fd)
{
	struct epoll_event ev;
	uint8_t hello[LPROTO_HDR_LEN + 2];

	if (ss_check_daemon(fd) == -1)
		return -1;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = fd;
	ss_stream_clear(s);
	lproto_put_header(hello, LPROTO_HELLO, 2);
	lproto_put_u16(hello + LPROTO_HDR_LEN, LPROTO_VERSION);
	if (ss_obuf_append(s, hello, sizeof hello) == -1)
		return -1;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		s->olen = 0;
		return -1;
	}
	s->fd = fd;
	ss_conn_enter(s, SS_GREETING);
	return 0;
}

/* An attempt to re-attach, without blocking: connect and send HELLO; the
 * WELCOME is read as any other frame. */
static void
ss_retry(struct smartsock *s)
{
	int fd, err;

	if ((fd = ss_socket()) == -1) {
		s->last_err = errno;
		ss_schedule(s);
		return;
	}
	if (connect(fd, (const struct sockaddr *)&s->addr, sizeof s->addr) ==
	    -1 && errno != EINPROGRESS && errno != EINTR) {
		s->last_err = ss_connect_errno(errno);
		close(fd);
		ss_schedule(s);
		return;
	}
	if (ss_attach_fd(s, fd) == -1) {
		err = errno;
		close(fd);
		s->last_err = err;
		ss_schedule(s);
		return;
	}
	ss_flush_nb(s);
}

/*
 * The work a call may do without waiting: an attempt to re-attach that is
 * due, the end of a HELLO that took too long, the out-buffer, one read.
 */
void
ss_service(struct smartsock *s)
{
	if (s->err != 0)
		return;
	if (s->fd == -1) {
		if (s->reconnect && s->opened && s->dead == 0 &&
		    mono_ms() >= s->next_try)
			ss_retry(s);
		return;
	}
	if (s->opened && !ss_welcomed(s) && mono_ms() >= s->hello_deadline) {
		ss_lost(s, ETIMEDOUT);
		return;
	}
	if (s->ooff < s->olen)
		ss_flush_nb(s);
	if (s->fd != -1 && (!ss_welcomed(s) || ss_closing(s) ||
	    s->rlen - s->roff < s->racap))
		ss_fill(s);
}

/* A sender that never waits reads now and then (see SS_PEEK_MS). */
void
ss_peek(struct smartsock *s)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (now - s->last_peek < SS_PEEK_MS)
		return;
	s->last_peek = now;
	if (s->fd != -1 && s->rlen - s->roff < s->racap)
		ss_fill(s);
}

/*
 * Wait until a new frame may start: attached, and no CLOSING.  -1 with
 * ENOTCONN at the deadline (with a zero timeout: at once unless attached,
 * after one attempt if one is due), or with the handle's error.
 */
int
ss_attach_wait(struct smartsock *s, int64_t deadline)
{
	int last = 0;

	for (;;) {
		if (ss_broken(s)) {
			errno = ss_broken(s);
			return -1;
		}
		if (ss_sendable(s))
			return 0;
		if (!s->reconnect) {
			/* CLOSING came, and we do not come back. */
			errno = EPIPE;
			return -1;
		}
		if (last) {
			errno = ENOTCONN;
			return -1;
		}
		if (ss_left(deadline) == 0)
			last = 1;
		if (s->fd != -1 && s->ooff < s->olen)
			ss_flush_nb(s);
		if (ss_wait(s, SS_WAIT_IN | (s->fd != -1 && s->ooff < s->olen ?
		    SS_WAIT_OUT : 0), deadline) == -1)
			return -1;
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
		errno = ss_connect_errno(errno);
		return -1;
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
	errno = ss_connect_errno(err);
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

/* The epoll set of smartsock_fd() with the timer in it. */
static int
ss_poll_set(struct smartsock *s)
{
	struct epoll_event ev;

	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd == -1)
		return -1;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.fd = s->tfd;
	return epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tfd, &ev);
}

/* Wait for WELCOME or REFUSE to the HELLO in the out-buffer. */
static int
ss_handshake(struct smartsock *s, int64_t deadline)
{
	ss_flush_nb(s);
	/* After a failed write, a REFUSE may still be there to read. */
	ss_fill(s);
	while (!ss_welcomed(s)) {
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

/*
 * smartsock_open()'s attach: connect (waiting while the listen queue is
 * full) and HELLO, within SS_OPEN_TIMEOUT_MS.  0, or -1 with errno as
 * smartsock_open() documents.
 */
int
ss_attach_first(struct smartsock *s, const char *name)
{
	int64_t deadline = ss_deadline(SS_OPEN_TIMEOUT_MS);
	int fd, saved;

	s->ev = &ss_attach_events;
	if (ss_path(name, &s->addr) == -1 || ss_poll_set(s) == -1 ||
	    (fd = ss_socket()) == -1)
		return -1;
	if (ss_connect(fd, &s->addr, deadline) == -1 ||
	    ss_attach_fd(s, fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return ss_handshake(s, deadline);
}

/* Everything of the handle, whatever state it is in. */
void
ss_free(struct smartsock *s)
{
	if (s->fd != -1)
		close(s->fd);
	if (s->tfd != -1)
		close(s->tfd);
	if (s->epfd != -1)
		close(s->epfd);
	free(s->rbuf);
	free(s->obuf);
	free(s);
}

/*
 * WELCOME, REFUSE and CLOSING, found in the stream by stream.c: what they
 * mean for the connection.  0 when the frame is taken (the scan goes on),
 * -1 when the connection failed on it.
 */
static int
ss_session_frame(struct smartsock *s, uint8_t type, const uint8_t *body)
{
	uint32_t status, max;

	switch (type) {
	case LPROTO_WELCOME:
		if (ss_welcomed(s) || lproto_get_u16(body) != LPROTO_VERSION) {
			ss_conn_error(s, EPROTO);
			return -1;
		}
		max = lproto_get_u32(body + 2);
		if (max == 0 || max > SS_MAX_MESSAGE) {
			ss_conn_error(s, EPROTO);
			return -1;
		}
		s->max_msg = max;
		memcpy(s->identity, body + 6, LPROTO_ID_LEN);
		s->racap = LPROTO_HDR_LEN + LPROTO_MAX_FIXED + (size_t)max +
		    SS_READ_CHUNK;
		if (s->racap < SS_READAHEAD_MAX)
			s->racap = SS_READAHEAD_MAX;
		ss_conn_enter(s, SS_ATTACHED);
		return 0;
	case LPROTO_REFUSE:
		if (ss_welcomed(s)) {
			ss_fail(s, EPROTO);
			return -1;
		}
		status = lproto_get_u32(body + 2);
		if (status == LPROTO_ST_BAD_VERSION)
			ss_conn_error(s, EPROTO);
		else if (status == LPROTO_ST_REFUSED)
			ss_conn_error(s, EACCES);
		else if (status == LPROTO_ST_TOO_MANY)
			ss_conn_error(s, EUSERS);
		else
			ss_conn_error(s, ECONNREFUSED);
		return -1;
	case LPROTO_CLOSING:
		if (!ss_welcomed(s) || ss_closing(s)) {
			ss_conn_error(s, EPROTO);
			return -1;
		}
		ss_conn_enter(s, SS_CLOSING);
		return 0;
	}
	ss_conn_error(s, EPROTO);
	return -1;
}
