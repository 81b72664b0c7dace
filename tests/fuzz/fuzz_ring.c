/*
 * fuzz_ring: the shared-memory ring (common/ring.h) between a producer
 * and a consumer, while the input also scribbles over the memory they
 * share, as a hostile application or daemon may at any moment.
 *
 * Byte 0: the ring's size (bit 0: 8 KiB, else 4 KiB).  Then three bytes
 * a step: what (low 3 bits), and two argument bytes a, b:
 *   0 the producer reserves a record of (a << 8 | b) % 600 bytes
 *     (flags RING_MORE when a & 0x80)
 *   1 it publishes        2 the consumer takes up to b records
 *   3 it gives room back  4 a byte of the memory at offset (a << 8 | b)
 *                           becomes b ^ a (a scribble)
 *   5 head (a & 1) or tail set to b * 8 plus what it was (a scribble)
 *   6 a new consumer takes the ring over (a restarted daemon)
 *   7 the wake-up handshakes (either side, by a & 1)
 * Checked: nothing is read or written outside the memory (ASan); a record
 * the consumer takes lies inside the data, its length within the ring's
 * bound; while nothing was scribbled, every record arrives whole and in
 * order, and neither side ever says RING_BAD; a side that met RING_BAD
 * stops (its owner would detach it).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "fuzz_ring: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #x);					\
		abort();						\
	}								\
} while (0)

/* Records the producer wrote and the consumer has not taken, in order. */
#define MODEL_MAX 4096

struct run {
	uint8_t *mem;
	uint64_t size;
	struct ring p, c;
	int p_ok, c_ok;                 /* not stopped by RING_BAD */
	int scribbled;
	uint32_t lens[MODEL_MAX];
	uint32_t seqs[MODEL_MAX];
	size_t first, count;            /* the model's queue */
	size_t published;               /* of count, how many published */
	uint32_t seq;
};

static void
produce(struct run *r, uint32_t len, uint16_t flags)
{
	enum ring_result res;
	uint8_t *at;
	uint32_t i;

	if (!r->p_ok || r->count == MODEL_MAX)
		return;
	at = ring_reserve(&r->p, len, 7, flags, &res);
	if (at == NULL) {
		CHECK(res == RING_FULL || r->scribbled);
		if (res == RING_BAD)
			r->p_ok = 0;
		return;
	}
	CHECK(at >= r->mem + sizeof(struct ring_shared) &&
	    at + len <= r->mem + RING_BYTES(r->size));
	for (i = 0; i < len; i++)
		at[i] = (uint8_t)(r->seq + i);
	r->lens[(r->first + r->count) % MODEL_MAX] = len;
	r->seqs[(r->first + r->count) % MODEL_MAX] = r->seq++;
	r->count++;
}

static void
consume(struct run *r, unsigned n)
{
	struct ring_rec rec;
	const uint8_t *pl;
	enum ring_result res;
	uint32_t i, len, seq;

	while (r->c_ok && n-- > 0) {
		res = ring_peek(&r->c, &rec, &pl);
		if (res == RING_EMPTY) {
			CHECK(r->scribbled || r->published == 0);
			return;
		}
		if (res == RING_BAD) {
			CHECK(r->scribbled);
			r->c_ok = 0;
			return;
		}
		CHECK(pl >= r->mem + sizeof(struct ring_shared) &&
		    pl + rec.len <= r->mem + RING_BYTES(r->size));
		CHECK(rec.len <= ring_max_payload(&r->c));
		if (!r->scribbled) {
			CHECK(r->published > 0);
			len = r->lens[r->first];
			seq = r->seqs[r->first];
			CHECK(rec.len == len && rec.type == 7);
			for (i = 0; i < len; i++)
				CHECK(pl[i] == (uint8_t)(seq + i));
			r->first = (r->first + 1) % MODEL_MAX;
			r->count--;
			r->published--;
		}
		ring_release(&r->c);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	uint64_t v, off;
	size_t i;
	uint8_t a, b;

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.size = data[0] & 1 ? 8192 : 4096;
	CHECK((r.mem = malloc(RING_BYTES(r.size))) != NULL);
	CHECK(ring_format(r.mem, r.size) == 0);
	CHECK(ring_producer(&r.p, r.mem, r.size) == 0);
	CHECK(ring_consumer(&r.c, r.mem, r.size) == 0);
	r.p_ok = r.c_ok = 1;
	for (i = 1; i + 2 < size; i += 3) {
		a = data[i + 1];
		b = data[i + 2];
		switch (data[i] & 7) {
		case 0:
			produce(&r, ((uint32_t)a << 8 | b) % 600,
			    a & 0x80 ? RING_MORE : 0);
			break;
		case 1:
			if (r.p_ok) {
				ring_publish(&r.p);
				r.published = r.count;
			}
			break;
		case 2:
			consume(&r, b);
			break;
		case 3:
			if (r.c_ok)
				ring_give_back(&r.c);
			break;
		case 4:
			off = ((uint64_t)a << 8 | b) % RING_BYTES(r.size);
			r.mem[off] ^= (uint8_t)(b ^ a ^ 0x5a);
			r.scribbled = 1;
			break;
		case 5: {
			struct ring_shared *sh = (struct ring_shared *)r.mem;
			_Atomic uint64_t *idx = a & 1 ? &sh->head : &sh->tail;

			v = atomic_load(idx) + (uint64_t)b * 8 - 512;
			atomic_store(idx, v);
			r.scribbled = 1;
			break;
		}
		case 6:
			/* Released records not given back come again. */
			if (!r.scribbled)
				break;
			r.c_ok = ring_consumer(&r.c, r.mem, r.size) == 0;
			break;
		case 7:
			if (a & 1) {
				if (r.p_ok && ring_may_sleep_for_room(&r.p, b))
					ring_woken(&r.p, 1);
			} else if (r.c_ok && ring_may_sleep(&r.c) == 0)
				ring_woken(&r.c, 0);
			break;
		}
	}
	free(r.mem);
	return 0;
}
