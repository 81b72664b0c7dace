/*
 * fake_daemon.c: the daemon side of a session; fake_daemon.h says what it
 * promises.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_daemon.h"
#include "monotime.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/* Wait for fd to be ready for `events` until the deadline (mono_ms()):
 * 1, 0 when it passed, -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int n;

	do {
		left = deadline - mono_ms();
		n = poll(&pfd, 1, left > 0 ? (int)left : 0);
	} while (n == -1 && errno == EINTR);
	return n;
}

/* c HEX: read exactly these bytes. */
static int
daemon_expect(int fd, const struct vline *l, struct report *r)
{
	int64_t dl = mono_ms() + IO_WAIT_MS;
	const char *cut = NULL;         /* why fewer bytes came */
	uint8_t *want, *got;
	size_t wlen, glen = 0;
	char hx[HEXBUF];
	ssize_t n;
	int rc;

	if (hex_decode(l->tok[1], &want, &wlen) == -1) {
		report_add(r, l, "bad HEX");
		return -1;
	}
	if ((got = malloc(wlen + 1)) == NULL) {
		report_add(r, l, "out of memory");
		free(want);
		return -1;
	}
	while (glen < wlen && cut == NULL) {
		if (wait_fd(fd, POLLIN, dl) <= 0) {
			cut = "silence for " STR(IO_WAIT_MS) " ms";
			break;
		}
		n = read(fd, got + glen, wlen - glen);
		if (n > 0)
			glen += (size_t)n;
		else if (n == 0)
			cut = "end of stream";
		else if (errno != EINTR)
			cut = strerror(errno);
	}
	/* A wrong byte says more than a short read. */
	rc = bytes_compare(r, l, "bytes from the client", want, glen, got,
	    glen);
	if (rc == 0 && cut != NULL) {
		report_add(r, l, "%s after %zu of %zu bytes from the client "
		    "(%s)", cut, glen, wlen, hex_show(got, glen, hx, sizeof hx));
		rc = -1;
	}
	free(want);
	free(got);
	return rc;
}

/* c eof: the client's end of stream comes next. */
static int
daemon_expect_eof(int fd, const struct vline *l, struct report *r)
{
	char hx[HEXBUF];
	uint8_t buf[256];
	int64_t dl = mono_ms() + IO_WAIT_MS;
	ssize_t n;

	if (wait_fd(fd, POLLIN, dl) <= 0) {
		report_add(r, l, "no end of stream from the client within %d "
		    "ms", IO_WAIT_MS);
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) == -1 && errno == EINTR)
		continue;
	if (n == 0)
		return 0;
	if (n > 0)
		report_add(r, l, "expected the end of stream, the client sent "
		    "%s", hex_show(buf, (size_t)n, hx, sizeof hx));
	else
		report_add(r, l, "expected the end of stream: read: %s",
		    strerror(errno));
	return -1;
}

/* d HEX: write these bytes. */
static int
daemon_write(int fd, const struct vline *l, struct report *r)
{
	int64_t dl = mono_ms() + IO_WAIT_MS;
	uint8_t *b;
	size_t len, done = 0;
	ssize_t n;
	int rc = 0;

	if (hex_decode(l->tok[1], &b, &len) == -1) {
		report_add(r, l, "bad HEX");
		return -1;
	}
	while (done < len) {
		if (wait_fd(fd, POLLOUT, dl) <= 0) {
			report_add(r, l, "the client took nothing for %d ms "
			    "(%zu of %zu bytes written)", IO_WAIT_MS, done,
			    len);
			rc = -1;
			break;
		}
		n = write(fd, b + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			report_add(r, l, "write after %zu of %zu bytes: %s",
			    done, len, strerror(errno));
			rc = -1;
			break;
		}
		done += (size_t)n;
	}
	free(b);
	return rc;
}

/* Accept a connection of the client: on the first c/d line, and at each
 * `d accept`. */
static int
daemon_accept(int lfd, const struct vline *l, struct report *r)
{
	int64_t dl = mono_ms() + IO_WAIT_MS;
	int fd;

	if (wait_fd(lfd, POLLIN, dl) <= 0) {
		report_add(r, l, "the client did not connect within %d ms",
		    IO_WAIT_MS);
		return -1;
	}
	if ((fd = accept(lfd, NULL, NULL)) == -1)
		report_add(r, l, "accept: %s", strerror(errno));
	return fd;
}

void
daemon_play(const struct vline *lines, size_t n, int lfd, struct report *r)
{
	const struct vline *l, *last = NULL;
	int fd = -1, accepted = 0, rc;
	size_t i;

	for (i = 0; i < n; i++) {
		l = &lines[i];
		if (strcmp(l->tok[0], "c") != 0 && strcmp(l->tok[0], "d") != 0)
			continue;
		last = l;
		if (l->ntok != 2) {
			report_add(r, l, "%s takes one argument", l->tok[0]);
			break;
		}
		if (strcmp(l->tok[0], "d") == 0 &&
		    strcmp(l->tok[1], "accept") == 0) {
			/* The client's next connection (it re-attaches). */
			if (fd != -1)
				close(fd);
			if ((fd = daemon_accept(lfd, l, r)) == -1)
				break;
			accepted = 1;
			continue;
		}
		if (!accepted) {
			accepted = 1;
			if ((fd = daemon_accept(lfd, l, r)) == -1)
				break;
		}
		if (fd == -1) {
			report_add(r, l, "the daemon has closed already");
			break;
		}
		if (strcmp(l->tok[0], "d") == 0 &&
		    strcmp(l->tok[1], "close") == 0) {
			close(fd);
			fd = -1;
			continue;
		}
		if (strcmp(l->tok[0], "c") == 0)
			rc = strcmp(l->tok[1], "eof") == 0 ?
			    daemon_expect_eof(fd, l, r) :
			    daemon_expect(fd, l, r);
		else
			rc = daemon_write(fd, l, r);
		if (rc == -1)
			break;
	}
	if (r->count == 0 && (last == NULL ||
	    (strcmp(last->tok[1], "eof") != 0 &&
	    strcmp(last->tok[1], "close") != 0)))
		report_add(r, last, "the daemon's last line must be `c eof` or "
		    "`d close`");
	if (fd != -1)
		close(fd);
	if (lfd != -1)
		close(lfd);
}
