/* ring: a shared-memory SPSC ring of records (ring.h). */
#include <string.h>

#include "ring.h"

#define REC_HDR ((uint64_t)sizeof(struct ring_rec))

static uint64_t
ring_align(uint64_t n)
{
	return (n + RING_ALIGN - 1) & ~(uint64_t)(RING_ALIGN - 1);
}

static int
ring_size_ok(uint64_t size)
{
	return size >= RING_MIN_SIZE && size <= RING_MAX_SIZE &&
	    (size & (size - 1)) == 0;
}

int
ring_format(void *mem, uint64_t size)
{
	struct ring_shared *sh = mem;

	if (!ring_size_ok(size))
		return -1;
	memset(sh, 0, sizeof(*sh));
	sh->magic = RING_MAGIC;
	sh->version = RING_VERSION;
	sh->size = size;
	atomic_store_explicit(&sh->head, 0, memory_order_relaxed);
	atomic_store_explicit(&sh->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&sh->producer_waits, 0, memory_order_relaxed);
	atomic_store_explicit(&sh->consumer_waits, 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	return 0;
}

/* The header as the caller knows the ring to be, and the two indices in
 * the order a ring can hold them: tail <= head <= tail + size, aligned. */
static int
ring_take(struct ring *r, void *mem, uint64_t size, uint64_t *head,
    uint64_t *tail)
{
	struct ring_shared *sh = mem;

	if (!ring_size_ok(size) || sh->magic != RING_MAGIC ||
	    sh->version != RING_VERSION || sh->size != size)
		return -1;
	*head = atomic_load_explicit(&sh->head, memory_order_acquire);
	*tail = atomic_load_explicit(&sh->tail, memory_order_acquire);
	if (*tail > *head || *head - *tail > size ||
	    (*head | *tail) % RING_ALIGN != 0)
		return -1;
	memset(r, 0, sizeof(*r));
	r->sh = sh;
	r->data = (uint8_t *)mem + sizeof(*sh);
	r->size = size;
	r->mask = size - 1;
	return 0;
}

int
ring_producer(struct ring *r, void *mem, uint64_t size)
{
	uint64_t head, tail;

	if (ring_take(r, mem, size, &head, &tail) == -1)
		return -1;
	r->pos = r->published = head;
	r->limit = tail + size;
	return 0;
}

int
ring_consumer(struct ring *r, void *mem, uint64_t size)
{
	uint64_t head, tail;

	if (ring_take(r, mem, size, &head, &tail) == -1)
		return -1;
	r->pos = r->given = tail;
	r->limit = head;
	return 0;
}

uint32_t
ring_max_payload(const struct ring *r)
{
	/* A record of half the ring always fits once the ring is empty,
	 * whatever padding its start needs. */
	return (uint32_t)(r->size / 2 - REC_HDR);
}

/* --- producer ----------------------------------------------------------- */

/*
 * The consumer's tail, checked: it may only have moved forward from what
 * we saw (limit - size) and never past what we published.
 */
static enum ring_result
ring_see_tail(struct ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->sh->tail,
	    memory_order_acquire);

	if (tail < r->limit - r->size || tail > r->published ||
	    tail % RING_ALIGN != 0)
		return RING_BAD;
	r->limit = tail + r->size;
	return RING_OK;
}

/* Bytes a record of len takes from pos on: its own, and the pad before
 * it if it would cross the end. */
static uint64_t
ring_span(const struct ring *r, uint64_t len, uint64_t *pad)
{
	uint64_t need = ring_align(REC_HDR + len);
	uint64_t to_end = r->size - (r->pos & r->mask);

	*pad = need > to_end ? to_end : 0;
	return *pad + need;
}

void *
ring_reserve(struct ring *r, uint32_t len, uint16_t type, uint16_t flags,
    enum ring_result *res)
{
	struct ring_rec rec;
	uint64_t pad, span;
	uint8_t *at;

	if (len > ring_max_payload(r) || type < RING_TYPE_FIRST) {
		*res = RING_BAD;
		return NULL;
	}
	span = ring_span(r, len, &pad);
	if (r->pos + span > r->limit) {
		if ((*res = ring_see_tail(r)) != RING_OK)
			return NULL;
		if (r->pos + span > r->limit) {
			*res = RING_FULL;
			return NULL;
		}
	}
	if (pad > 0) {
		rec.len = (uint32_t)(pad - REC_HDR);
		rec.type = RING_PAD;
		rec.flags = 0;
		memcpy(r->data + (r->pos & r->mask), &rec, sizeof(rec));
		r->pos += pad;
	}
	at = r->data + (r->pos & r->mask);
	rec.len = len;
	rec.type = type;
	rec.flags = flags;
	memcpy(at, &rec, sizeof(rec));
	r->pos += span - pad;
	*res = RING_OK;
	return at + REC_HDR;
}

int
ring_publish(struct ring *r)
{
	if (r->pos != r->published) {
		atomic_store_explicit(&r->sh->head, r->pos,
		    memory_order_release);
		r->published = r->pos;
	}
	/* Against ring_may_sleep(): either we see its flag, or it sees our
	 * head. */
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&r->sh->consumer_waits,
	    memory_order_relaxed) != 0;
}

int
ring_may_sleep_for_room(struct ring *r, uint32_t len)
{
	uint64_t pad, span = ring_span(r, len, &pad);

	/* A record that can never fit: ring_reserve() says RING_BAD. */
	if (len > ring_max_payload(r))
		return 1;
	atomic_store_explicit(&r->sh->producer_waits, 1,
	    memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (ring_see_tail(r) != RING_OK || r->pos + span <= r->limit) {
		/* Room after all (or a broken ring: the next reserve says). */
		ring_woken(r, 1);
		return 1;
	}
	return 0;
}

uint64_t
ring_unconsumed(struct ring *r)
{
	if (ring_see_tail(r) != RING_OK)
		return r->published;
	return r->published - (r->limit - r->size);
}

/* --- consumer ----------------------------------------------------------- */

/* The producer's head, checked: forward from what we saw, never more than
 * a ring ahead of what we gave back. */
static enum ring_result
ring_see_head(struct ring *r)
{
	uint64_t head = atomic_load_explicit(&r->sh->head,
	    memory_order_acquire);

	if (head < r->limit || head - r->given > r->size ||
	    head % RING_ALIGN != 0)
		return RING_BAD;
	r->limit = head;
	return RING_OK;
}

enum ring_result
ring_peek(struct ring *r, struct ring_rec *rec, const uint8_t **payload)
{
	enum ring_result res;
	uint64_t off, need;

	for (;;) {
		if (r->pos == r->limit) {
			if ((res = ring_see_head(r)) != RING_OK)
				return res;
			if (r->pos == r->limit)
				return RING_EMPTY;
		}
		off = r->pos & r->mask;
		/* Copied out once: the producer may write it again. */
		memcpy(rec, r->data + off, sizeof(*rec));
		need = ring_align(REC_HDR + (uint64_t)rec->len);
		if (need > r->size - off || need > r->limit - r->pos)
			return RING_BAD;
		if (rec->type != RING_PAD)
			break;
		/* A pad fills the end of the data, nothing else. */
		if (off + need != r->size)
			return RING_BAD;
		r->pos += need;
	}
	if (rec->len > ring_max_payload(r))
		return RING_BAD;
	r->peeked = need;
	*payload = r->data + off + REC_HDR;
	return RING_OK;
}

void
ring_release(struct ring *r)
{
	r->pos += r->peeked;
	r->peeked = 0;
}

int
ring_give_back(struct ring *r)
{
	if (r->pos != r->given) {
		atomic_store_explicit(&r->sh->tail, r->pos,
		    memory_order_release);
		r->given = r->pos;
	}
	/* Against ring_may_sleep_for_room(), as ring_publish(). */
	atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&r->sh->producer_waits,
	    memory_order_relaxed) != 0;
}

int
ring_may_sleep(struct ring *r)
{
	atomic_store_explicit(&r->sh->consumer_waits, 1,
	    memory_order_relaxed);
	atomic_thread_fence(memory_order_seq_cst);
	if (ring_see_head(r) != RING_OK || r->pos != r->limit) {
		ring_woken(r, 0);
		return 1;
	}
	return 0;
}

void
ring_woken(struct ring *r, int producer)
{
	atomic_store_explicit(producer ? &r->sh->producer_waits :
	    &r->sh->consumer_waits, 0, memory_order_relaxed);
}
