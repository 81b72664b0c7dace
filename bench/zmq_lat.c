/*
 * zmq_lat: libzmq REQ/REP round-trip latency, the reference for
 * smartsock-perf's lat-ping/lat-echo.
 *
 *   zmq_lat rep ENDPOINT SIZE COUNT   REP, binds, echoes WARMUP + COUNT messages
 *   zmq_lat req ENDPOINT SIZE COUNT   REQ, connects, times COUNT round trips
 *
 * ENDPOINT may start with '>' (connect) or '@' (bind) to do the other: through
 * zmq_proxy, which binds both of its ends, rep connects.
 *
 * req first makes WARMUP untimed round trips (so the connection set-up is not
 * a sample; smartsock's daemons are connected before lat-ping starts either),
 * then prints "zmq-lat-req: COUNT x SIZE B round trips: p50 X us, p99 Y us,
 * max Z us".
 */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common.h"

#define WARMUP 100

static void
die(const char *what)
{
	fprintf(stderr, "zmq_lat: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

static void
one_recv(void *s, zmq_msg_t *msg, size_t size)
{
	if (zmq_msg_recv(msg, s, 0) == -1)
		die("recv");
	if (zmq_msg_size(msg) != size) {
		fprintf(stderr, "zmq_lat: got %zu bytes, expected %zu\n",
		    zmq_msg_size(msg), size);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	void *ctx, *s;
	zmq_msg_t msg;
	size_t size;
	unsigned long long count, i;
	uint64_t *ns, t0;
	char *buf;
	int rep;

	if (argc != 5 || (strcmp(argv[1], "rep") != 0 &&
	    strcmp(argv[1], "req") != 0)) {
		fprintf(stderr, "usage: zmq_lat rep|req [@|>]ENDPOINT SIZE COUNT\n");
		return 2;
	}
	rep = strcmp(argv[1], "rep") == 0;
	size = (size_t)bench_arg(argv[3], "SIZE", 0, 1ull << 31);
	count = bench_arg(argv[4], "COUNT", 1, 100000000);
	if ((ctx = zmq_ctx_new()) == NULL)
		die("zmq_ctx_new");
	if ((s = zmq_socket(ctx, rep ? ZMQ_REP : ZMQ_REQ)) == NULL)
		die("zmq_socket");
	if (zmq_msg_init(&msg) == -1)
		die("zmq_msg_init");
	if (rep) {
		if (bench_zmq_attach(s, argv[2], 1) == -1)
			die("bind/connect");
		for (i = 0; i < WARMUP + count; i++) {
			one_recv(s, &msg, size);
			if (zmq_msg_send(&msg, s, 0) == -1)   /* echo it back */
				die("send");
		}
	} else {
		if (bench_zmq_attach(s, argv[2], 0) == -1)
			die("connect/bind");
		if ((ns = calloc(count, sizeof(*ns))) == NULL ||
		    (buf = calloc(1, size ? size : 1)) == NULL) {
			fprintf(stderr, "zmq_lat: out of memory\n");
			return 1;
		}
		for (i = 0; i < WARMUP + count; i++) {
			t0 = bench_now_ns();
			if (zmq_send(s, buf, size, 0) == -1)
				die("send");
			one_recv(s, &msg, size);
			if (i >= WARMUP)
				ns[i - WARMUP] = bench_now_ns() - t0;
		}
		bench_print_lat("zmq-lat-req", ns, count, size);
		free(ns);
		free(buf);
	}
	zmq_msg_close(&msg);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
