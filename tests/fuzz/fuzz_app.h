/*
 * fuzz_app: what the fuzz targets that drive a real daemon socket share:
 * a pass of the event loop, whole writes that let the daemon read in
 * between, and a stand-in application of the local protocol that checks
 * every frame the daemon sends it.  A failed check writes to fd 2 (the
 * targets silence stdio's stderr) and aborts, so libFuzzer keeps the input.
 */
#ifndef SMARTSOCK_FUZZ_APP_H
#define SMARTSOCK_FUZZ_APP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct event_base;
struct evbuffer;
struct socket_conf;

#define CHECK(c) do {							\
	if (!(c)) {							\
		dprintf(2, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

struct fuzz_app {
	int fd;
	struct evbuffer *in;
	int welcomed;
	int closing;            /* CLOSING came (the daemon stops) */
	uint64_t seq;           /* highest DELIVER_REQ seq, to confirm */
	int unconfirmed;
	uint32_t taken;         /* DELIVER and DELIVER_REQ received */
};

/*
 * A round-robin, overflow = block socket named `name` for a fuzz run, at
 * most once: no timer fires during a run (every close comes from the
 * input), buffers small enough to fill.  Callers change what they test.
 */
void fuzz_socket_conf(struct socket_conf *, const char *name);
/* The loop fuzz_pump() runs (the daemon's). */
void fuzz_app_init(struct event_base *);
void fuzz_pump(void);
/* Write all of buf, running the loop while the daemon has not read
 * enough; 0, or -1 when the daemon closed the connection. */
int fuzz_put(int fd, const void *buf, size_t len);
/* One local-protocol frame, all of it (checked). */
void fuzz_put_frame(int fd, uint8_t type, const void *body, size_t len);
/* Read and drop what is there; 1 if there was anything. */
int fuzz_discard(int fd);
/*
 * Read what the daemon sent the application: well-formed frames of at
 * most max_message bytes, WELCOME once and first, DELIVER_REQ seqs
 * rising, CLOSING at most once after WELCOME; REFUSE and SEND_RESULT only
 * when `may_refuse_or_answer`.
 * 1 if anything came.
 */
int fuzz_app_read(struct fuzz_app *, size_t max_message,
    int may_refuse_or_answer);

#endif
