/*
 * zmq_proxy: a libzmq broker in a process of its own, the reference for a
 * smartsockd whose socket forwards to another (routes, issue 8).
 *
 *   zmq_proxy pull-push FRONTEND BACKEND [SECONDS]
 *   zmq_proxy router-dealer FRONTEND BACKEND [SECONDS]
 *
 * pull-push: a PULL frontend and a PUSH backend, as "forward = out";
 * router-dealer: a ROUTER frontend and a DEALER backend, a request/reply
 * broker, as "forward = out" with "forward_replies = on".  Both ends bind
 * (ENDPOINT may start with '>' to connect instead, '@' to bind).  Once both
 * are set up it prints "zmq-proxy: ready" and runs zmq_proxy() until a
 * signal ends the process; with SECONDS, an alarm ends it then at the latest
 * (SIGALRM), so a proxy never outlives a driver that died.  The socket
 * options are libzmq's defaults, as in zmq_thr and zmq_lat.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "common.h"

static void
die(const char *what)
{
	fprintf(stderr, "zmq_proxy: %s: %s\n", what, zmq_strerror(zmq_errno()));
	exit(1);
}

int
main(int argc, char **argv)
{
	void *ctx, *front, *back;
	int ftype, btype;

	if ((argc != 4 && argc != 5) || (strcmp(argv[1], "pull-push") != 0 &&
	    strcmp(argv[1], "router-dealer") != 0)) {
		fprintf(stderr, "usage: zmq_proxy pull-push|router-dealer "
		    "[@|>]FRONTEND [@|>]BACKEND [SECONDS]\n");
		return 2;
	}
	if (strcmp(argv[1], "pull-push") == 0) {
		ftype = ZMQ_PULL;
		btype = ZMQ_PUSH;
	} else {
		ftype = ZMQ_ROUTER;
		btype = ZMQ_DEALER;
	}
	if (argc == 5)
		alarm((unsigned)bench_arg(argv[4], "SECONDS", 1, 86400));
	if ((ctx = zmq_ctx_new()) == NULL)
		die("zmq_ctx_new");
	if ((front = zmq_socket(ctx, ftype)) == NULL ||
	    (back = zmq_socket(ctx, btype)) == NULL)
		die("zmq_socket");
	if (bench_zmq_attach(front, argv[2], 1) == -1)
		die(argv[2]);
	if (bench_zmq_attach(back, argv[3], 1) == -1)
		die(argv[3]);
	printf("zmq-proxy: ready\n");
	fflush(stdout);
	zmq_proxy(front, back, NULL);   /* returns only when the context ends */
	die("zmq_proxy");
}
