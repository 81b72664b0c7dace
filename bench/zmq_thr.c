/*
 * zmq_thr: libzmq PUSH/PULL throughput, the reference for smartsock-perf's
 * thr-send/thr-recv.
 *
 *   zmq_thr recv ENDPOINT SIZE COUNT   PULL, binds, receives COUNT messages
 *   zmq_thr send ENDPOINT SIZE COUNT   PUSH, connects, sends COUNT messages
 *
 * ENDPOINT may start with '>' (connect) or '@' (bind) to do the other: through
 * zmq_proxy, which binds both of its ends, recv connects.
 *
 * recv prints "zmq-thr-recv: COUNT x SIZE B in S s: N msg/s, M MB/s", timed
 * from the first message to the last (COUNT - 1 messages in that time, as
 * smartsock-perf's thr-recv counts).  send
 * returns once every message is out: zmq_ctx_term waits for the default
 * infinite linger.  Start recv first or not: zmq connects retry.
 */
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "common.h"

static void
die(const char *what)
{
	fprintf(stderr, "zmq_thr: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

static int
do_recv(void *ctx, const char *ep, size_t size, unsigned long long count)
{
	void *s = zmq_socket(ctx, ZMQ_PULL);
	zmq_msg_t msg;
	uint64_t t0 = 0, t1;
	unsigned long long i;

	if (s == NULL || bench_zmq_attach(s, ep, 1) == -1)
		die("bind/connect");
	if (zmq_msg_init(&msg) == -1)
		die("zmq_msg_init");
	for (i = 0; i < count; i++) {
		if (zmq_msg_recv(&msg, s, 0) == -1)
			die("recv");
		if (i == 0)
			t0 = bench_now_ns();
		if (zmq_msg_size(&msg) != size) {
			fprintf(stderr, "zmq_thr: message %llu has %zu bytes, "
			    "expected %zu\n", i, zmq_msg_size(&msg), size);
			exit(1);
		}
	}
	t1 = bench_now_ns();
	zmq_msg_close(&msg);
	bench_print_thr("zmq-thr-recv", count, size, t1 - t0);
	zmq_close(s);
	return 0;
}

static int
do_send(void *ctx, const char *ep, size_t size, unsigned long long count)
{
	void *s = zmq_socket(ctx, ZMQ_PUSH);
	zmq_msg_t msg;
	unsigned long long i;

	if (s == NULL || bench_zmq_attach(s, ep, 0) == -1)
		die("connect/bind");
	for (i = 0; i < count; i++) {
		if (zmq_msg_init_size(&msg, size) == -1)
			die("zmq_msg_init_size");
		if (size > 0)
			memset(zmq_msg_data(&msg), 'x', size < 64 ? size : 64);
		if (zmq_msg_send(&msg, s, 0) == -1)
			die("send");
	}
	zmq_close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	void *ctx;
	size_t size;
	unsigned long long count;
	int rc;

	if (argc != 5 || (strcmp(argv[1], "recv") != 0 &&
	    strcmp(argv[1], "send") != 0)) {
		fprintf(stderr, "usage: zmq_thr recv|send [@|>]ENDPOINT SIZE COUNT\n");
		return 2;
	}
	size = (size_t)bench_arg(argv[3], "SIZE", 0, 1ull << 31);
	count = bench_arg(argv[4], "COUNT", 1, 1ull << 40);
	if ((ctx = zmq_ctx_new()) == NULL)
		die("zmq_ctx_new");
	if (strcmp(argv[1], "recv") == 0)
		rc = do_recv(ctx, argv[2], size, count);
	else
		rc = do_send(ctx, argv[2], size, count);
	zmq_ctx_term(ctx);
	return rc;
}
