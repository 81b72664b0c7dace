/* frames: walk the frames of an input buffer (see frames.h). */
#include <string.h>

#include <event2/buffer.h>

#include "frames.h"
#include "msg.h"

/* The largest header any owner has (wire: 4, lproto: 5). */
#define FRAMES_HDR_MAX 16

enum frames_result
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
