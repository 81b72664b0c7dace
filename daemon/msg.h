/*
 * msg: one message payload inside the daemon, reference counted so that a
 * publish to many peers and the at-least-once pending copy share a single
 * allocation (evbuffer_add_reference() holds a reference until the bytes
 * are written).  A message sits in at most one queue at a time through
 * `entry`; the queue holds one reference.
 *
 * A borrowed message (msg_borrow) is a view of bytes that stay in an input
 * buffer, on the caller's stack: the fast path routes it without any
 * allocation.  Whatever must keep it (a queue, at-least-once tracking)
 * calls msg_keep() first, which copies a borrowed message to the heap.
 */
#ifndef SMARTSOCK_MSG_H
#define SMARTSOCK_MSG_H

#include <sys/queue.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define MSG_ID_LEN 16
/* Frames up to this size are routed as borrowed views of the input. */
#define MSG_BORROW_MAX (64 * 1024)

enum msg_flags {
	MSG_TARGETED = 0x01,    /* outgoing: send only to `peer_id` */
	MSG_HAS_ID = 0x02,      /* msg_id is set (at-least-once) */
	MSG_BORROWED = 0x04,    /* data is not ours: see msg_borrow() */
};

struct msg {
	TAILQ_ENTRY(msg) entry;
	unsigned refs;
	unsigned flags;
	uint8_t msg_id[MSG_ID_LEN];
	uint8_t peer_id[MSG_ID_LEN];    /* target, or the sender if incoming */
	uint64_t seq;                   /* delivery number to an application */
	uint64_t deadline_ms;           /* at-least-once resend time */
	uint32_t lost;                  /* at-least-once: connections that
	                                   closed with it unacknowledged */
	uint32_t resends;               /* ... resends since it last went
	                                   out: the backoff's exponent */
	const void *sent_to;            /* peer holding the pending copy */
	uint32_t route_id;              /* outgoing: its reply goes back by
	                                   this route (route.h); 0: none */
	size_t len;
	uint8_t *data;                  /* follows the struct, or borrowed */
};
TAILQ_HEAD(msg_queue, msg);

/* A message of len bytes with one reference, data uninitialised. */
struct msg *msg_new(size_t len);
/* A message holding a copy of data. */
struct msg *msg_new_copy(const void *data, size_t len);
struct msg *msg_ref(struct msg *);
void msg_unref(struct msg *);           /* NULL and borrowed: no-op */

/* Make *m a borrowed view of data (valid only until the caller returns). */
void msg_borrow(struct msg *m, const void *data, size_t len);
/* A message the caller may keep: m itself, or a heap copy of a borrowed
 * one (flags and ids included).  NULL on allocation failure. */
struct msg *msg_keep(struct msg *m);

/*
 * Append a frame: hdr (hlen bytes) and then the payload.  A small payload
 * is copied with its header in one step; a large one is referenced, not
 * copied (the buffer keeps a reference until written).  0, or -1.
 */
int msg_add_framed(struct msg *, struct evbuffer *out, const uint8_t *hdr,
    size_t hlen);

/* Unref every message of a queue and empty it. */
void msg_queue_clear(struct msg_queue *);

/*
 * A queue that counts what it holds, its messages and their footprint
 * (msg_footprint()), for limits in messages and in bytes.  It takes no
 * reference of its own: a push hands it the caller's, a pop or a removal
 * hands it back.
 */
struct msg_fifo {
	struct msg_queue q;
	size_t len;
	uint64_t bytes;
};
/* The memory a message holds, as queue limits and budget.h count it. */
static inline size_t
msg_footprint(const struct msg *m)
{
	return sizeof(*m) + m->len;
}

static inline void
msg_fifo_init(struct msg_fifo *f)
{
	TAILQ_INIT(&f->q);
	f->len = 0;
	f->bytes = 0;
}

/* Insert m after `at` (NULL: at the head). */
static inline void
msg_fifo_insert_after(struct msg_fifo *f, struct msg *at, struct msg *m)
{
	if (at == NULL)
		TAILQ_INSERT_HEAD(&f->q, m, entry);
	else
		TAILQ_INSERT_AFTER(&f->q, at, m, entry);
	f->len++;
	f->bytes += msg_footprint(m);
}

static inline void
msg_fifo_push(struct msg_fifo *f, struct msg *m, int at_head)
{
	msg_fifo_insert_after(f, at_head ? NULL : TAILQ_LAST(&f->q, msg_queue),
	    m);
}

static inline void
msg_fifo_remove(struct msg_fifo *f, struct msg *m)
{
	TAILQ_REMOVE(&f->q, m, entry);
	f->len--;
	f->bytes -= msg_footprint(m);
}

/* NULL when empty. */
static inline struct msg *
msg_fifo_pop(struct msg_fifo *f)
{
	struct msg *m = TAILQ_FIRST(&f->q);

	if (m != NULL)
		msg_fifo_remove(f, m);
	return m;
}

/* Move every message of q, in order, to the head of f; q is left empty. */
static inline void
msg_fifo_prepend(struct msg_fifo *f, struct msg_queue *q)
{
	struct msg *m;

	while ((m = TAILQ_LAST(q, msg_queue)) != NULL) {
		TAILQ_REMOVE(q, m, entry);
		msg_fifo_push(f, m, 1);
	}
}

/* Unref every message and empty it. */
void msg_fifo_clear(struct msg_fifo *);

#endif
