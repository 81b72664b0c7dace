/*
 * smartsock-perf: throughput and latency through smartsockd.
 *
 *   thr-send SOCKET SIZE COUNT   send COUNT messages of SIZE bytes in bursts
 *   thr-recv SOCKET SIZE COUNT   receive them; print msg/s and MB/s, timed
 *                                from the first message to the last
 *   lat-echo SOCKET [COUNT]      send every message back to its sender
 *   lat-ping SOCKET SIZE COUNT   round trips through an echo; print
 *                                p50/p99/max in microseconds
 *
 * -S DIR attaches to DIR/SOCKET.sock instead of the library's default.
 */
#include <sys/uio.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smartsock.h"

#define PERF_BURST 256          /* messages per smartsock_sendv() */
#define PERF_WARMUP 100         /* round trips not counted by lat-ping */

static const char *runtime_dir;

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: smartsock-perf [-S RUNTIME_DIR] thr-send SOCKET SIZE COUNT\n"
	    "       smartsock-perf [-S RUNTIME_DIR] thr-recv SOCKET SIZE COUNT\n"
	    "       smartsock-perf [-S RUNTIME_DIR] lat-echo SOCKET [COUNT]\n"
	    "       smartsock-perf [-S RUNTIME_DIR] lat-ping SOCKET SIZE COUNT\n");
	exit(2);
}

static void
die(const char *what, int err)
{
	fprintf(stderr, "smartsock-perf: %s: %s\n", what,
	    smartsock_strerror(err));
	exit(1);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static size_t
number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-' ||
	    v > SIZE_MAX / 2) {
		fprintf(stderr, "smartsock-perf: bad %s: %s\n", what, s);
		exit(2);
	}
	return (size_t)v;
}

static smartsock *
attach(const char *name)
{
	char path[PATH_MAX];
	smartsock *s;

	if (runtime_dir != NULL && strchr(name, '/') == NULL) {
		if (snprintf(path, sizeof(path), "%s/%s.sock", runtime_dir,
		    name) >= (int)sizeof(path))
			die(name, ENAMETOOLONG);
		name = path;
	}
	if ((s = smartsock_open(name)) == NULL)
		die(name, errno);
	return s;
}

static uint8_t *
payload(size_t size)
{
	uint8_t *buf = malloc(size > 0 ? size : 1);

	if (buf == NULL)
		die("malloc", errno);
	memset(buf, 'x', size);
	return buf;
}

static int
thr_send(smartsock *s, size_t size, size_t count)
{
	struct iovec iov[PERF_BURST];
	uint8_t *buf = payload(size);
	size_t sent = 0, i;
	int n, burst;

	for (i = 0; i < PERF_BURST; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = size;
	}
	while (sent < count) {
		burst = count - sent < PERF_BURST ? (int)(count - sent) :
		    PERF_BURST;
		if ((n = smartsock_sendv(s, iov, burst)) == -1)
			die("send", errno);
		sent += (size_t)n;
	}
	free(buf);
	return 0;
}

static int
thr_recv(smartsock *s, size_t size, size_t count)
{
	uint8_t *buf = payload(size);
	uint64_t first = 0, last = 0;
	double secs;
	size_t i;
	ssize_t n;

	for (i = 0; i < count; i++) {
		if ((n = smartsock_recv(s, buf, size)) == -1)
			die("recv", errno);
		if ((size_t)n != size) {
			fprintf(stderr, "smartsock-perf: message %zu has %zd "
			    "bytes, not %zu\n", i, n, size);
			return 1;
		}
		last = now_ns();
		if (i == 0)
			first = last;
	}
	secs = (double)(last - first) / 1e9;
	/* count - 1 intervals lie between the first message and the last. */
	printf("thr-recv: %zu x %zu B in %.6f s: %.0f msg/s, %.2f MB/s\n",
	    count, size, secs, secs > 0 ? (double)(count - 1) / secs : 0.0,
	    secs > 0 ? (double)(count - 1) * (double)size / secs / 1e6 : 0.0);
	free(buf);
	return 0;
}

static int
lat_echo(smartsock *s, size_t count)
{
	size_t cap = smartsock_max_message_size(s), i;
	uint8_t *buf = payload(cap), from[SMARTSOCK_IDENTITY_LEN];
	ssize_t n;

	for (i = 0; count == 0 || i < count; i++) {
		if ((n = smartsock_recv_identity(s, from, buf, cap)) == -1)
			die("recv", errno);
		if (smartsock_send_to(s, from, buf, (size_t)n) == -1)
			die("send_to", errno);
	}
	free(buf);
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int
lat_ping(smartsock *s, size_t size, size_t count)
{
	uint8_t *buf = payload(size);
	uint64_t *rtt = calloc(count > 0 ? count : 1, sizeof(*rtt)), t;
	size_t i;

	if (rtt == NULL)
		die("malloc", errno);
	for (i = 0; i < PERF_WARMUP + count; i++) {
		t = now_ns();
		if (smartsock_send(s, buf, size) == -1)
			die("send", errno);
		if (smartsock_recv(s, buf, size) == -1)
			die("recv", errno);
		if (i >= PERF_WARMUP)
			rtt[i - PERF_WARMUP] = now_ns() - t;
	}
	qsort(rtt, count, sizeof(*rtt), cmp_u64);
	if (count > 0)
		printf("lat-ping: %zu x %zu B round trips: p50 %.1f us, "
		    "p99 %.1f us, max %.1f us\n", count, size,
		    rtt[count / 2] / 1e3, rtt[count * 99 / 100] / 1e3,
		    rtt[count - 1] / 1e3);
	free(rtt);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd;
	smartsock *s;
	int ch, rc;

	while ((ch = getopt(argc, argv, "S:h")) != -1) {
		switch (ch) {
		case 'S':
			runtime_dir = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	cmd = argv[0];
	if (strcmp(cmd, "thr-send") == 0 && argc == 4) {
		s = attach(argv[1]);
		rc = thr_send(s, number(argv[2], "size"),
		    number(argv[3], "count"));
	} else if (strcmp(cmd, "thr-recv") == 0 && argc == 4) {
		s = attach(argv[1]);
		rc = thr_recv(s, number(argv[2], "size"),
		    number(argv[3], "count"));
	} else if (strcmp(cmd, "lat-echo") == 0 && (argc == 2 || argc == 3)) {
		s = attach(argv[1]);
		rc = lat_echo(s, argc == 3 ? number(argv[2], "count") : 0);
	} else if (strcmp(cmd, "lat-ping") == 0 && argc == 4) {
		s = attach(argv[1]);
		rc = lat_ping(s, number(argv[2], "size"),
		    number(argv[3], "count"));
	} else
		usage();
	smartsock_close(s);
	return rc;
}
