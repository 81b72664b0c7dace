/*
 * frames: the one walker over length-prefixed frames in an input
 * evbuffer, for peer connections (aiomsg, wire.h) and for application
 * attachments (lproto.h); the owner knows its header, the walker knows the
 * buffer.
 *
 * Frames that lie whole in the first chain of the buffer are handed over
 * in place and drained together; one that crosses chains is pulled up into
 * one piece, or, when it is larger than MSG_BORROW_MAX, handed over in the
 * buffer to be moved out.  Before each frame the owner may say stop.
 *
 * Every callback returns -1 after it closed (freed) the owner: the walker
 * then returns -1 at once and touches nothing, the buffer included.
 */
#ifndef SMARTSOCK_FRAMES_H
#define SMARTSOCK_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "msg.h"                /* MSG_BORROW_MAX */

struct frames_ops {
	size_t hdr_len;                 /* bytes that hold any header */
	/*
	 * The frame that starts at hdr, of which `have` bytes are buffered
	 * (only min(have, hdr_len) of them are at hdr): 1 with its whole
	 * length, header included, in *len; 0 while its header is not all
	 * there; -1 when it is malformed (the owner was closed).
	 */
	int (*length)(void *arg, const uint8_t *hdr, size_t have,
	    size_t *len);
	/* The whole frame, contiguous: 0 taken, 1 not now (it stays, and
	 * the walk ends), -1. */
	int (*take)(void *arg, const uint8_t *frame, size_t len);
	/* The same for a frame over MSG_BORROW_MAX, whole at the front of
	 * `in`: it moves the frame out (0), or 1, or -1. */
	int (*take_large)(void *arg, struct evbuffer *in, size_t len);
	/* Stop before the next frame?  `chain` is 1 before each chain of
	 * the buffer, 0 between the frames of one (a cheaper question). */
	int (*stop)(void *arg, int chain);
};

enum frames_result {
	FRAMES_DONE = 0,                /* nothing more to take for now */
	FRAMES_CLOSED = -1,             /* a callback closed the owner */
	FRAMES_NOMEM = -2,              /* a pull-up failed: close it */
};

/* The largest header any owner has (wire: 5 with the type, lproto: 5). */
#define FRAMES_HDR_MAX 16

/*
 * Inline, so that each owner's constant ops are called directly: it runs
 * once per frame on the daemon's busiest path.
 */
static inline enum frames_result
frames_walk(struct evbuffer *in, const struct frames_ops *ops, void *arg)
{
	uint8_t hdr[FRAMES_HDR_MAX];
	struct evbuffer_iovec v;
	const uint8_t *b;
	size_t used, have, len;
	int r, later;

	for (;;) {
		if (ops->stop(arg, 1))
			return FRAMES_DONE;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return FRAMES_DONE;
		b = v.iov_base;
		used = 0;
		later = 0;
		for (;;) {
			r = ops->length(arg, b + used, v.iov_len - used, &len);
			if (r == -1)
				return FRAMES_CLOSED;
			if (r == 0 || v.iov_len - used < len)
				break;
			if ((r = ops->take(arg, b + used, len)) == -1)
				return FRAMES_CLOSED;
			if (r == 1) {
				later = 1;
				break;
			}
			used += len;
			if (ops->stop(arg, 0))
				break;
		}
		if (used > 0) {
			evbuffer_drain(in, used);
			continue;
		}
		if (later)
			return FRAMES_DONE;
		/* The first frame crosses chains, or is not all here. */
		have = evbuffer_get_length(in);
		evbuffer_copyout(in, hdr, have < ops->hdr_len ? have :
		    ops->hdr_len);
		if ((r = ops->length(arg, hdr, have, &len)) == -1)
			return FRAMES_CLOSED;
		if (r == 0 || have < len)
			return FRAMES_DONE;
		if (len > MSG_BORROW_MAX) {
			if ((r = ops->take_large(arg, in, len)) == -1)
				return FRAMES_CLOSED;
			if (r == 1)
				return FRAMES_DONE;
			continue;
		}
		if ((b = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL)
			return FRAMES_NOMEM;
		if ((r = ops->take(arg, b, len)) == -1)
			return FRAMES_CLOSED;
		if (r == 1)
			return FRAMES_DONE;
		evbuffer_drain(in, len);
	}
}

#endif
