/*
 * check_ring: the shared-memory ring (common/ring.h): formats and sides,
 * records in order and whole, nothing seen before it is published, the
 * wrap-around with its pad, a full ring and room given back, the largest
 * record at every offset, fragments' flags, a new owner taking a side
 * over, every forced order of the two wake-up handshakes, two threads
 * that sleep on eventfds and never lose a wake-up, and a hostile other
 * side (indices out of order, records out of bounds).
 */
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_main.h"
#include "ring.h"

#define SIZE 4096

static void *
mem_new(uint64_t size)
{
	void *m = mmap(NULL, RING_BYTES(size), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(m, MAP_FAILED);
	ck_assert_int_eq(ring_format(m, size), 0);
	return m;
}

static void
pair(void *m, uint64_t size, struct ring *p, struct ring *c)
{
	ck_assert_int_eq(ring_producer(p, m, size), 0);
	ck_assert_int_eq(ring_consumer(c, m, size), 0);
}

/* Write one record of len bytes, each (seq + i) & 0xff. */
static enum ring_result
put(struct ring *p, uint32_t len, uint32_t seq, uint16_t flags)
{
	enum ring_result res;
	uint8_t *at = ring_reserve(p, len, 7, flags, &res);
	uint32_t i;

	if (at == NULL)
		return res;
	for (i = 0; i < len; i++)
		at[i] = (uint8_t)(seq + i);
	return RING_OK;
}

/* Read one record and check it is what put(len, seq) wrote. */
static void
get(struct ring *c, uint32_t len, uint32_t seq)
{
	struct ring_rec rec;
	const uint8_t *pl;
	uint32_t i;

	ck_assert_int_eq(ring_peek(c, &rec, &pl), RING_OK);
	ck_assert_uint_eq(rec.len, len);
	ck_assert_uint_eq(rec.type, 7);
	for (i = 0; i < len; i++)
		ck_assert_uint_eq(pl[i], (uint8_t)(seq + i));
	ring_release(c);
}

START_TEST(test_format_and_sides)
{
	void *m = mem_new(SIZE);
	struct ring r;

	ck_assert_int_eq(ring_format(m, 1000), -1);     /* not a power of 2 */
	ck_assert_int_eq(ring_format(m, 1024), -1);     /* too small */
	ck_assert_int_eq(ring_producer(&r, m, SIZE), 0);
	ck_assert_int_eq(ring_producer(&r, m, 2 * SIZE), -1);   /* not its size */
	((struct ring_shared *)m)->magic ^= 1;
	ck_assert_int_eq(ring_consumer(&r, m, SIZE), -1);
	((struct ring_shared *)m)->magic ^= 1;
	atomic_store(&((struct ring_shared *)m)->head, 8);
	atomic_store(&((struct ring_shared *)m)->tail, 16);     /* tail > head */
	ck_assert_int_eq(ring_consumer(&r, m, SIZE), -1);
	atomic_store(&((struct ring_shared *)m)->head, 16 + SIZE + 8);
	ck_assert_int_eq(ring_consumer(&r, m, SIZE), -1);       /* > a ring */
	atomic_store(&((struct ring_shared *)m)->head, 20);
	ck_assert_int_eq(ring_consumer(&r, m, SIZE), -1);       /* unaligned */
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

START_TEST(test_in_order_and_published_only)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	struct ring_rec rec;
	const uint8_t *pl;

	pair(m, SIZE, &p, &c);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_EMPTY);
	ck_assert_int_eq(put(&p, 5, 1, 0), RING_OK);
	ck_assert_int_eq(put(&p, 0, 2, 0), RING_OK);    /* empty payloads */
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_EMPTY);
	ck_assert_int_eq(ring_publish(&p), 0);
	get(&c, 5, 1);
	get(&c, 0, 2);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_EMPTY);
	ck_assert_uint_eq(ring_unconsumed(&p), 8 + 8 + 8);
	ck_assert_int_eq(ring_give_back(&c), 0);
	ck_assert_uint_eq(ring_unconsumed(&p), 0);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

START_TEST(test_wrap_around_many_laps)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	uint32_t seq = 0, got = 0, len;
	int i;

	pair(m, SIZE, &p, &c);
	/* Sizes that never divide the ring: pads at the end, every lap. */
	for (i = 0; i < 20000; i++) {
		len = (uint32_t)(i * 37 % 300);
		if (put(&p, len, seq, 0) == RING_OK) {
			seq++;
			continue;
		}
		ring_publish(&p);
		while (got < seq) {
			get(&c, (uint32_t)(got * 37 % 300), got);
			got++;
		}
		ring_give_back(&c);
		/* The same record again: i is retried. */
		i--;
	}
	ring_publish(&p);
	while (got < seq) {
		get(&c, (uint32_t)(got * 37 % 300), got);
		got++;
	}
	ck_assert_uint_ge(p.pos, 100 * SIZE);      /* many laps went by */
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

START_TEST(test_full_and_room_given_back)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	int n = 0;

	pair(m, SIZE, &p, &c);
	while (put(&p, 56, (uint32_t)n, 0) == RING_OK)
		n++;
	ck_assert_int_eq(n, SIZE / 64);                 /* 8 + 56 each */
	ring_publish(&p);
	get(&c, 56, 0);
	/* Released, not given back: still full for the producer. */
	ck_assert_int_eq(put(&p, 56, 99, 0), RING_FULL);
	ring_give_back(&c);
	ck_assert_int_eq(put(&p, 56, 99, 0), RING_OK);
	ck_assert_int_eq(put(&p, 56, 100, 0), RING_FULL);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

START_TEST(test_largest_record_everywhere)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	uint32_t max, off;
	enum ring_result res;

	pair(m, SIZE, &p, &c);
	max = ring_max_payload(&p);
	ck_assert_ptr_null(ring_reserve(&p, max + 1, 7, 0, &res));
	ck_assert_int_eq(res, RING_BAD);
	ck_assert_ptr_null(ring_reserve(&p, 1, RING_PAD, 0, &res));
	ck_assert_int_eq(res, RING_BAD);
	/* At every aligned start, an empty ring takes the largest record. */
	for (off = 0; off < SIZE; off += 8) {
		ck_assert_int_eq(put(&p, max, off, 0), RING_OK);
		ring_publish(&p);
		get(&c, max, off);
		ring_give_back(&c);
		ck_assert_int_eq(put(&p, 0, 0, 0), RING_OK);      /* move 8 on */
		ring_publish(&p);
		get(&c, 0, 0);
		ring_give_back(&c);
	}
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

START_TEST(test_fragment_flags)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	struct ring_rec rec;
	const uint8_t *pl;

	pair(m, SIZE, &p, &c);
	put(&p, 100, 0, RING_MORE);
	put(&p, 100, 100, RING_MORE);
	put(&p, 10, 200, 0);
	ring_publish(&p);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_OK);
	ck_assert_uint_eq(rec.flags, RING_MORE);
	ring_release(&c);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_OK);
	ck_assert_uint_eq(rec.flags, RING_MORE);
	ring_release(&c);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_OK);
	ck_assert_uint_eq(rec.flags, 0);
	ck_assert_uint_eq(rec.len, 10);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

/* A new consumer (a restarted daemon) goes on from the tail given back:
 * what the old one released without giving back comes again. */
START_TEST(test_takeover)
{
	void *m = mem_new(SIZE);
	struct ring p, c, c2, p2;

	pair(m, SIZE, &p, &c);
	put(&p, 10, 1, 0);
	put(&p, 10, 2, 0);
	put(&p, 10, 3, 0);
	ring_publish(&p);
	get(&c, 10, 1);
	ring_give_back(&c);
	get(&c, 10, 2);                 /* released, never given back */
	ck_assert_int_eq(ring_consumer(&c2, m, SIZE), 0);
	get(&c2, 10, 2);
	get(&c2, 10, 3);
	ring_give_back(&c2);
	/* A producer taken over goes on after what was published. */
	ck_assert_int_eq(ring_producer(&p2, m, SIZE), 0);
	put(&p2, 10, 4, 0);
	ring_publish(&p2);
	get(&c2, 10, 4);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

/* Every order of the consumer's "about to sleep" and the producer's
 * publication: it sleeps only when the producer will wake it. */
START_TEST(test_wakeup_orders)
{
	void *m = mem_new(SIZE);
	struct ring p, c;
	struct ring_rec rec;
	const uint8_t *pl;

	pair(m, SIZE, &p, &c);
	/* Consumer first: it may sleep; the publication says wake it. */
	ck_assert_int_eq(ring_may_sleep(&c), 0);
	put(&p, 1, 0, 0);
	ck_assert_int_eq(ring_publish(&p), 1);
	ring_woken(&c, 0);
	get(&c, 1, 0);
	ring_give_back(&c);
	/* Producer first: the consumer sees it and does not sleep. */
	put(&p, 1, 1, 0);
	ck_assert_int_eq(ring_publish(&p), 0);
	ck_assert_int_eq(ring_may_sleep(&c), 1);
	get(&c, 1, 1);
	ring_give_back(&c);
	/* Reserved, not published: the consumer may sleep, and is woken. */
	put(&p, 1, 2, 0);
	ck_assert_int_eq(ring_may_sleep(&c), 0);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_EMPTY);
	ck_assert_int_eq(ring_publish(&p), 1);
	ring_woken(&c, 0);
	get(&c, 1, 2);
	ring_give_back(&c);
	/* The producer waiting for room, both orders. */
	while (put(&p, 56, 0, 0) == RING_OK)
		;
	ring_publish(&p);
	ck_assert_int_eq(ring_may_sleep_for_room(&p, 56), 0);
	get(&c, 56, 0);
	ck_assert_int_eq(ring_give_back(&c), 1);
	ring_woken(&p, 1);
	ck_assert_int_eq(put(&p, 56, 0, 0), RING_OK);
	ring_publish(&p);
	get(&c, 56, 0);
	ck_assert_int_eq(ring_give_back(&c), 0);
	ck_assert_int_eq(ring_may_sleep_for_room(&p, 56), 1);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

/* Two threads, each sleeping on its eventfd whenever the ring makes it
 * wait, as the daemon and the library will: every record arrives in
 * order, and no wake-up is lost (a lost one would leave both asleep; the
 * poll's deadline only ends the test then). */
#define THREAD_RECORDS 50000
#define THREAD_DEADLINE_MS 60000

struct threads {
	struct ring p, c;
	int wake_c, wake_p;             /* eventfds */
	int lost;                       /* a deadline passed asleep */
};

static int
sleep_on(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&pfd, 1, THREAD_DEADLINE_MS) != 1)
		return -1;
	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return 0;
}

static void
wake(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		abort();
}

static void *
producer_thread(void *arg)
{
	struct threads *t = arg;
	uint32_t seq;

	for (seq = 0; seq < THREAD_RECORDS && !t->lost; ) {
		if (put(&t->p, seq % 64, seq, 0) == RING_OK) {
			seq++;
			/* Publish now and then, as a sender's batch would. */
			if (seq % 7 == 0 && ring_publish(&t->p))
				wake(t->wake_c);
			continue;
		}
		if (ring_publish(&t->p))
			wake(t->wake_c);
		if (ring_may_sleep_for_room(&t->p, 64) == 0) {
			if (sleep_on(t->wake_p) == -1)
				t->lost = 1;
			ring_woken(&t->p, 1);
		}
	}
	if (ring_publish(&t->p))
		wake(t->wake_c);
	return NULL;
}

START_TEST(test_threads_never_lose_a_wakeup)
{
	struct threads t;
	struct ring_rec rec;
	const uint8_t *pl;
	pthread_t th;
	uint32_t got = 0, i;
	void *m = mem_new(SIZE);
	enum ring_result res;

	memset(&t, 0, sizeof(t));
	pair(m, SIZE, &t.p, &t.c);
	t.wake_c = eventfd(0, EFD_CLOEXEC);
	t.wake_p = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(t.wake_c, 0);
	ck_assert_int_ge(t.wake_p, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, producer_thread, &t), 0);
	while (got < THREAD_RECORDS && !t.lost) {
		res = ring_peek(&t.c, &rec, &pl);
		ck_assert_int_ne(res, RING_BAD);
		if (res == RING_OK) {
			ck_assert_uint_eq(rec.len, got % 64);
			for (i = 0; i < rec.len; i++)
				ck_assert_uint_eq(pl[i], (uint8_t)(got + i));
			ring_release(&t.c);
			got++;
			if (got % 5 == 0 && ring_give_back(&t.c))
				wake(t.wake_p);
			continue;
		}
		if (ring_give_back(&t.c))
			wake(t.wake_p);
		if (ring_may_sleep(&t.c) == 0) {
			if (sleep_on(t.wake_c) == -1)
				t.lost = 1;
			ring_woken(&t.c, 0);
		}
	}
	if (ring_give_back(&t.c))
		wake(t.wake_p);
	pthread_join(th, NULL);
	ck_assert_int_eq(t.lost, 0);
	ck_assert_uint_eq(got, THREAD_RECORDS);
	close(t.wake_c);
	close(t.wake_p);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

/* What a hostile other side can write is refused, never followed. */
START_TEST(test_hostile_other_side)
{
	void *m = mem_new(SIZE);
	struct ring_shared *sh = m;
	struct ring p, c;
	struct ring_rec rec, bad;
	const uint8_t *pl;
	enum ring_result res;

	pair(m, SIZE, &p, &c);
	put(&p, 10, 0, 0);
	ring_publish(&p);
	/* A head more than a ring ahead, or back. */
	atomic_store(&sh->head, SIZE + 64);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_BAD);
	ck_assert_int_eq(ring_consumer(&c, m, SIZE), -1);
	atomic_store(&sh->head, 24);
	ck_assert_int_eq(ring_consumer(&c, m, SIZE), 0);
	/* A record longer than what is published. */
	bad.len = 100;
	bad.type = 7;
	bad.flags = 0;
	memcpy((uint8_t *)m + sizeof(*sh), &bad, sizeof(bad));
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_BAD);
	/* A pad that does not reach the end. */
	bad.len = 8;
	bad.type = RING_PAD;
	memcpy((uint8_t *)m + sizeof(*sh), &bad, sizeof(bad));
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_BAD);
	/* A length that would cross the end. */
	ck_assert_int_eq(ring_format(m, SIZE), 0);
	pair(m, SIZE, &p, &c);
	bad.len = 0xfffffff0u;
	bad.type = 7;
	memcpy((uint8_t *)m + sizeof(*sh), &bad, sizeof(bad));
	atomic_store(&sh->head, 64);
	ck_assert_int_eq(ring_peek(&c, &rec, &pl), RING_BAD);
	/* The producer: a tail that goes back, or past what it published. */
	ck_assert_int_eq(ring_format(m, SIZE), 0);
	pair(m, SIZE, &p, &c);
	while (put(&p, 56, 0, 0) == RING_OK)
		;
	ring_publish(&p);
	atomic_store(&sh->tail, SIZE + 64);
	ck_assert_ptr_null(ring_reserve(&p, 1, 7, 0, &res));
	ck_assert_int_eq(res, RING_BAD);
	atomic_store(&sh->tail, 4);
	ck_assert_ptr_null(ring_reserve(&p, 1, 7, 0, &res));
	ck_assert_int_eq(res, RING_BAD);
	munmap(m, RING_BYTES(SIZE));
}
END_TEST

static Suite *
ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_format_and_sides);
	tcase_add_test(tc, test_in_order_and_published_only);
	tcase_add_test(tc, test_wrap_around_many_laps);
	tcase_add_test(tc, test_full_and_room_given_back);
	tcase_add_test(tc, test_largest_record_everywhere);
	tcase_add_test(tc, test_fragment_flags);
	tcase_add_test(tc, test_takeover);
	tcase_add_test(tc, test_wakeup_orders);
	tcase_add_test(tc, test_threads_never_lose_a_wakeup);
	tcase_add_test(tc, test_hostile_other_side);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ring_suite)
