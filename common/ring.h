/*
 * ring: one single-producer, single-consumer ring of records in memory
 * that two processes share (an application's libsmartsock and
 * smartsockd; issue 19).  Built into both; neither trusts the other.
 *
 * The memory: a header (struct ring_shared, one cache line per writer),
 * then `size` bytes of data, size a power of two.  `head` counts the
 * bytes the producer has published, `tail` those the consumer is done
 * with; both only grow (64 bits: they never wrap in practice), and
 * head - tail is what the ring holds.  A record is a header (struct
 * ring_rec: payload length, type, flags) and its payload, padded to
 * RING_ALIGN; it never wraps around the end: where it would not fit
 * before the end, a RING_PAD record fills the rest and it starts at 0.
 *
 * Publication: the producer writes records, then stores head (release);
 * the consumer loads head (acquire), reads up to it, then stores tail
 * (release).  So a record is whole before the consumer sees it, and its
 * room is not reused before the consumer is done with it.
 *
 * Wake-ups without a system call per record: a consumer that finds the
 * ring empty and wants to sleep calls ring_may_sleep(), which sets
 * `consumer_waits`, fences, and looks again; only when the ring is still
 * empty may it sleep (on the eventfd its owner keeps).  A producer calls
 * ring_publish(), which fences after storing head and says whether the
 * consumer waits: only then does its owner write the eventfd.  Whichever
 * order the two fences take, either the producer sees the flag or the
 * consumer sees the record (the lost wake-up needs both to miss, which
 * the fences forbid).  The same holds the other way for a producer that
 * waits for room (`producer_waits`, ring_may_sleep_for_room(),
 * ring_give_back()).
 *
 * Distrust: each side keeps its own index privately and takes the
 * other's from shared memory only after checking it (tail <= head <=
 * tail + size); a consumer copies every record header out before it
 * looks at it and checks its length, type and room; anything out of
 * place is RING_BAD, and the owner detaches that peer.  A hostile
 * producer can corrupt only what it sends; a hostile consumer can only
 * stall its producer.  Payload bytes stay in shared memory: a consumer
 * that must keep them copies them out.
 */
#ifndef SMARTSOCK_RING_H
#define SMARTSOCK_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_MAGIC 0x53535247u          /* "SSRG" */
#define RING_VERSION 1
#define RING_ALIGN 8
#define RING_MIN_SIZE 4096
#define RING_MAX_SIZE (1u << 30)
#define RING_CACHELINE 64

/* Record types at or above this are the owner's; below, the ring's. */
#define RING_PAD 0                      /* fills the end: skipped */
#define RING_TYPE_FIRST 1

/* Record flags: a message split over several records (fragments). */
#define RING_MORE 0x1                   /* more of this message follows */

struct ring_rec {
	uint32_t len;                   /* payload bytes */
	uint16_t type;
	uint16_t flags;
};

struct ring_shared {
	uint32_t magic;                 /* RING_MAGIC, set by the creator */
	uint32_t version;
	uint64_t size;                  /* data bytes, as the creator said */
	uint8_t pad0[RING_CACHELINE - 16];
	_Atomic uint64_t head;          /* the producer's */
	_Atomic uint32_t producer_waits;        /* ... for room */
	uint8_t pad1[RING_CACHELINE - 12];
	_Atomic uint64_t tail;          /* the consumer's */
	_Atomic uint32_t consumer_waits;        /* ... for a record */
	uint8_t pad2[RING_CACHELINE - 12];
};

/* Bytes of memory a ring of `size` data bytes takes. */
#define RING_BYTES(size) (sizeof(struct ring_shared) + (size_t)(size))

/* One side's private view of a ring.  Only its owner touches it. */
struct ring {
	struct ring_shared *sh;
	uint8_t *data;
	uint64_t size;
	uint64_t mask;
	uint64_t pos;                   /* producer: head; consumer: tail */
	uint64_t limit;                 /* producer: tail + size as last
	                                   seen; consumer: head as last seen
	                                   (both checked) */
	uint64_t published;             /* producer: head last stored */
	uint64_t given;                 /* consumer: tail last stored */
	uint64_t peeked;                /* consumer: bytes of the record
	                                   ring_peek() returned */
};

enum ring_result {
	RING_OK,
	RING_EMPTY,                     /* consumer: nothing (yet) */
	RING_FULL,                      /* producer: no room (yet) */
	RING_BAD,                       /* the other side broke the ring */
};

/*
 * Make a ring in mem (RING_BYTES(size) bytes, zeroed or not): the
 * creator's call.  -1 when size is not a power of two in [RING_MIN_SIZE,
 * RING_MAX_SIZE].
 */
int ring_format(void *mem, uint64_t size);
/*
 * Take one side of a ring of `size` data bytes in mem, as its creator
 * made it: 0, or -1 when the header does not say so (the size is the
 * caller's, never the header's).  The indices are read (and checked) from
 * memory, so a side may be taken over by a new owner: a re-attaching
 * application's producer goes on from where it was.
 */
int ring_producer(struct ring *, void *mem, uint64_t size);
int ring_consumer(struct ring *, void *mem, uint64_t size);

/* Largest payload one record may hold in a ring of this size. */
uint32_t ring_max_payload(const struct ring *);

/* --- producer ----------------------------------------------------------- */
/*
 * Room for a record of len payload bytes: a pointer to write them to, or
 * NULL (RING_FULL: not now; *res says; RING_BAD: the consumer's tail is
 * impossible).  Nothing is visible to the consumer before ring_publish().
 * len <= ring_max_payload().
 */
void *ring_reserve(struct ring *, uint32_t len, uint16_t type,
    uint16_t flags, enum ring_result *res);
/* Make every record reserved so far visible: 1 when the consumer waits
 * (its owner must wake it), 0 if not. */
int ring_publish(struct ring *);
/* About to wait for room: 1 when there is room now after all (do not
 * wait), 0 when the consumer will see the flag (wait, then call
 * ring_woken()). */
int ring_may_sleep_for_room(struct ring *, uint32_t len);
/* Bytes published and not yet released by the consumer. */
uint64_t ring_unconsumed(struct ring *);

/* --- consumer ----------------------------------------------------------- */
/*
 * The next record: RING_OK with *rec a private copy of its header and
 * *payload pointing at its bytes in shared memory (until ring_release());
 * RING_EMPTY; RING_BAD.  Pad records are skipped.  Calling it again
 * without a ring_release() returns the same record.
 */
enum ring_result ring_peek(struct ring *, struct ring_rec *rec,
    const uint8_t **payload);
/* Done with the record ring_peek() returned (its payload may be written
 * over once given back). */
void ring_release(struct ring *);
/* Give the room of every record released so far back to the producer:
 * 1 when it waits for room (its owner must wake it), 0 if not.  Once per
 * batch, not per record. */
int ring_give_back(struct ring *);
/* About to wait for a record: 1 when one came after all (do not wait),
 * 0 when the producer will see the flag. */
int ring_may_sleep(struct ring *);

/* Either side, after waking (or deciding not to sleep): the flag off. */
void ring_woken(struct ring *, int producer);

#endif
