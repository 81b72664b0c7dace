/*
 * restart-app: an application of libsmartsock that is never restarted
 * while tests/integration/test_app_restart.py restarts its daemons.
 *
 *   restart-app send SOCKET INTERVAL_US
 *	Send "0", "1", ... (one every INTERVAL_US, blocking through daemon
 *	restarts) until SIGUSR1; then print "sent N lost L back B fd same".
 *   restart-app recv SOCKET
 *	An epoll loop on smartsock_fd(): print every message on its own
 *	line (flushed at once) until SIGUSR1; then "# received N lost L
 *	back B fd same".
 *   restart-app gap IN OUT
 *	The calls of the library while the daemon of IN and OUT (one daemon,
 *	OUT connected to IN) is away, step by step with the test, which
 *	stops and starts the daemon when told (see main_gap()).
 *
 * Events are printed on stderr as "lost at N" / "back at N".  Any
 * unexpected result prints "restart-app: ..." and exits 1.
 */
#include <sys/epoll.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monotime.h"
#include "smartsock.h"

#define EVENT_EVERY_MS 20       /* how often the sender asks for events */
#define STEP_MS 20000           /* longest any one step of `gap` waits */

static volatile sig_atomic_t stop;
static unsigned long nlost, nback;

static void
on_usr1(int sig)
{
	(void)sig;
	stop = 1;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	fputs("restart-app: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (errno %d: %s)\n", err, smartsock_strerror(err));
	fflush(stdout);
	exit(1);
}

/* smartsock_events(), its edges counted and printed. */
static int
events(smartsock *s, unsigned long at)
{
	int ev = smartsock_events(s);

	if (ev == -1)
		die("smartsock_events");
	if (ev & SMARTSOCK_EVENT_LOST) {
		nlost++;
		fprintf(stderr, "lost at %lu (%s)\n", at,
		    ev & SMARTSOCK_EVENT_ATTACHED ? "back already" :
		    smartsock_strerror(errno));
	}
	if (ev & SMARTSOCK_EVENT_BACK) {
		nback++;
		fprintf(stderr, "back at %lu\n", at);
	}
	return ev;
}

static smartsock *
open_or_die(const char *path)
{
	smartsock *s;

	if ((s = smartsock_open(path)) == NULL)
		die("open %s", path);
	return s;
}

static int
main_send(const char *path, long interval_us)
{
	smartsock *s = open_or_die(path);
	int fd = smartsock_fd(s);
	int64_t last = mono_ms();
	unsigned long id;
	char buf[32];
	int n;

	for (id = 0; !stop; id++) {
		n = snprintf(buf, sizeof buf, "%lu", id);
		if (smartsock_send(s, buf, (size_t)n) == -1)
			die("send %lu", id);
		if (mono_ms() - last >= EVENT_EVERY_MS) {
			events(s, id + 1);
			last = mono_ms();
		}
		if (interval_us > 0)
			usleep((useconds_t)interval_us);
	}
	events(s, id);
	printf("sent %lu lost %lu back %lu fd %s\n", id, nlost, nback,
	    smartsock_fd(s) == fd ? "same" : "changed");
	smartsock_close(s);
	return 0;
}

/* Every buffered message to stdout; the count. */
static unsigned long
drain(smartsock *s, char *buf, size_t cap)
{
	unsigned long n = 0;
	ssize_t len;

	while ((len = smartsock_recv(s, buf, cap)) >= 0) {
		if ((size_t)len > cap)
			die("message of %zd bytes", len);
		printf("%.*s\n", (int)len, buf);
		n++;
	}
	if (errno != EAGAIN)
		die("recv");
	fflush(stdout);
	return n;
}

/* An epoll set watching fd for input, as an application's loop would. */
static int
epoll_of(int fd)
{
	struct epoll_event ev;
	int ep;

	if ((ep = epoll_create1(0)) == -1)
		die("epoll_create1");
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == -1)
		die("epoll_ctl");
	return ep;
}

static int
main_recv(const char *path)
{
	smartsock *s = open_or_die(path);
	int fd = smartsock_fd(s), ep;
	struct epoll_event ev;
	unsigned long got = 0;
	char buf[256];

	smartsock_set_timeout(s, 0);
	ep = epoll_of(fd);
	while (!stop) {
		/* The drain rule: nothing buffered before each wait. */
		got += drain(s, buf, sizeof buf);
		events(s, got);
		got += drain(s, buf, sizeof buf);
		if (epoll_wait(ep, &ev, 1, 1000) == -1 && errno != EINTR)
			die("epoll_wait");
	}
	printf("# received %lu lost %lu back %lu fd %s\n", got, nlost, nback,
	    smartsock_fd(s) == fd ? "same" : "changed");
	close(ep);
	smartsock_close(s);
	return 0;
}

/* One line to the test, flushed. */
static void
say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/*
 * A message other than m0 (which may come again: it was never confirmed)
 * within the timeout of s.
 */
static void
recv_expect(smartsock *s, const char *want)
{
	char buf[64];
	ssize_t n;

	for (;;) {
		if ((n = smartsock_recv(s, buf, sizeof buf - 1)) == -1)
			die("recv, waiting for %s", want);
		buf[n] = '\0';
		if (strcmp(buf, want) == 0)
			return;
		if (strcmp(buf, "m0") != 0)
			die("recv: %s, not %s", buf, want);
	}
}

/*
 * The steps of `gap`, on one daemon whose socket OUT connects to IN:
 *   1. m0 goes through; "ready": the test stops the daemon (SIGTERM).
 *   2. poll() on both descriptors wakes for LOST on each: "lost".
 *   3. A send with a zero timeout fails at once with ENOTCONN, a recv with
 *      300 ms fails with EAGAIN: "blocking"; the test starts the daemon
 *      again after a while.
 *   4. A send with a 20 s timeout blocks until OUT is back and succeeds:
 *      "send ok after N ms".
 *   5. An epoll loop on IN's descriptor wakes for BACK: "back"; both
 *      descriptors and IN's configured identity are unchanged.
 *   6. m1 arrives on IN: "done".
 */
static int
main_gap(const char *in_path, const char *out_path)
{
	smartsock *in = open_or_die(in_path), *out = open_or_die(out_path);
	int in_fd = smartsock_fd(in), out_fd = smartsock_fd(out), ep;
	int lost_in = 0, lost_out = 0, back = 0;
	uint8_t id0[SMARTSOCK_IDENTITY_LEN], id1[SMARTSOCK_IDENTITY_LEN];
	struct pollfd pfd[2];
	struct epoll_event ev;
	char buf[64];
	int64_t t0, end;

	smartsock_set_timeout(out, 10000);
	smartsock_set_timeout(in, 10000);
	if (smartsock_send(out, "m0", 2) == -1)
		die("send m0");
	recv_expect(in, "m0");
	smartsock_identity(in, id0);
	say("ready");

	pfd[0].fd = in_fd;
	pfd[1].fd = out_fd;
	pfd[0].events = pfd[1].events = POLLIN;
	end = mono_ms() + STEP_MS;
	smartsock_set_timeout(in, 0);
	while (!lost_in || !lost_out) {
		if (mono_ms() > end)
			die("no LOST within %d ms (in %d, out %d)", STEP_MS,
			    lost_in, lost_out);
		if (poll(pfd, 2, 1000) == -1 && errno != EINTR)
			die("poll");
		lost_in |= events(in, 0) & SMARTSOCK_EVENT_LOST;
		while (smartsock_recv(in, buf, sizeof buf) >= 0)
			;
		lost_out |= events(out, 0) & SMARTSOCK_EVENT_LOST;
	}
	say("lost");

	smartsock_set_timeout(out, 0);
	if (smartsock_send(out, "x", 1) != -1 || errno != ENOTCONN)
		die("send with a zero timeout while detached");
	say("send0 ENOTCONN");
	smartsock_set_timeout(in, 300);
	t0 = mono_ms();
	if (smartsock_recv(in, buf, sizeof buf) != -1 || errno != EAGAIN)
		die("recv with a 300 ms timeout while detached");
	if (mono_ms() - t0 < 250)
		die("recv with a 300 ms timeout returned after %d ms",
		    (int)(mono_ms() - t0));
	say("recv300 EAGAIN");
	say("blocking");

	smartsock_set_timeout(out, STEP_MS);
	t0 = mono_ms();
	if (smartsock_send(out, "m1", 2) == -1)
		die("send m1 with a timeout");
	say("send ok after %d ms", (int)(mono_ms() - t0));

	ep = epoll_of(in_fd);
	smartsock_set_timeout(in, 0);
	end = mono_ms() + STEP_MS;
	for (;;) {
		back |= events(in, 1) & SMARTSOCK_EVENT_BACK;
		if (back)
			break;
		if (mono_ms() > end)
			die("no BACK within %d ms", STEP_MS);
		/* Nothing to take yet: the drain rule holds. */
		if (smartsock_recv(in, buf, sizeof buf) >= 0)
			die("a message while detached");
		if (epoll_wait(ep, &ev, 1, 1000) == -1 && errno != EINTR)
			die("epoll_wait");
	}
	close(ep);
	if (!(smartsock_events(in) & SMARTSOCK_EVENT_ATTACHED))
		die("BACK but not attached");
	say("back");
	if (smartsock_fd(in) != in_fd || smartsock_fd(out) != out_fd)
		die("descriptors changed: %d %d, were %d %d", smartsock_fd(in),
		    smartsock_fd(out), in_fd, out_fd);
	say("fd same");
	smartsock_identity(in, id1);
	if (memcmp(id0, id1, sizeof id0) != 0)
		die("the configured identity changed");
	say("identity same");
	smartsock_set_timeout(in, STEP_MS);
	recv_expect(in, "m1");
	say("done");
	smartsock_close(in);
	smartsock_close(out);
	return 0;
}

int
main(int argc, char **argv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (argc == 4 && strcmp(argv[1], "send") == 0)
		return main_send(argv[2], strtol(argv[3], NULL, 10));
	if (argc == 3 && strcmp(argv[1], "recv") == 0)
		return main_recv(argv[2]);
	if (argc == 4 && strcmp(argv[1], "gap") == 0)
		return main_gap(argv[2], argv[3]);
	fprintf(stderr, "usage: restart-app send SOCKET INTERVAL_US | "
	    "recv SOCKET | gap IN OUT\n");
	return 2;
}
