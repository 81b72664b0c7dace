/* idmap: linear probing with backward-shift deletion (see idmap.h). */
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "idmap.h"

struct idmap_slot {
	uint8_t key[IDMAP_KEY_LEN];
	void *val;                      /* NULL: empty slot */
};

struct idmap {
	struct idmap_slot *slots;
	size_t mask;                    /* capacity - 1, capacity a power of 2 */
	size_t count;
	uint64_t seed;
};

#define IDMAP_MIN_CAP 16

static uint64_t
idmap_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static size_t
idmap_hash(const struct idmap *m, const uint8_t key[IDMAP_KEY_LEN])
{
	uint64_t a, b;

	memcpy(&a, key, 8);
	memcpy(&b, key + 8, 8);
	return (size_t)idmap_mix(a ^ m->seed ^ idmap_mix(b + m->seed));
}

struct idmap *
idmap_new(void)
{
	struct idmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->slots = calloc(IDMAP_MIN_CAP, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	m->mask = IDMAP_MIN_CAP - 1;
	evutil_secure_rng_get_bytes(&m->seed, sizeof(m->seed));
	return m;
}

void
idmap_free(struct idmap *m)
{
	if (m == NULL)
		return;
	free(m->slots);
	free(m);
}

static size_t
idmap_find(const struct idmap *m, const uint8_t key[IDMAP_KEY_LEN])
{
	size_t i = idmap_hash(m, key) & m->mask;

	while (m->slots[i].val != NULL &&
	    memcmp(m->slots[i].key, key, IDMAP_KEY_LEN) != 0)
		i = (i + 1) & m->mask;
	return i;
}

void *
idmap_get(const struct idmap *m, const uint8_t key[IDMAP_KEY_LEN])
{
	return m->slots[idmap_find(m, key)].val;
}

static int
idmap_grow(struct idmap *m)
{
	struct idmap_slot *old = m->slots;
	size_t oldcap = m->mask + 1, i, j;
	struct idmap_slot *slots = calloc(oldcap * 2, sizeof(*slots));

	if (slots == NULL)
		return -1;
	m->slots = slots;
	m->mask = oldcap * 2 - 1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].val == NULL)
			continue;
		j = idmap_find(m, old[i].key);
		m->slots[j] = old[i];
	}
	free(old);
	return 0;
}

int
idmap_put(struct idmap *m, const uint8_t key[IDMAP_KEY_LEN], void *val)
{
	size_t i;

	/* Keep the load factor under 1/2. */
	if ((m->count + 1) * 2 > m->mask + 1 && idmap_grow(m) == -1)
		return -1;
	i = idmap_find(m, key);
	if (m->slots[i].val == NULL) {
		memcpy(m->slots[i].key, key, IDMAP_KEY_LEN);
		m->count++;
	}
	m->slots[i].val = val;
	return 0;
}

void *
idmap_del(struct idmap *m, const uint8_t key[IDMAP_KEY_LEN])
{
	size_t i = idmap_find(m, key), j, home;
	void *val = m->slots[i].val;

	if (val == NULL)
		return NULL;
	m->slots[i].val = NULL;
	m->count--;
	/* Shift back every later entry of the cluster that may move. */
	for (j = (i + 1) & m->mask; m->slots[j].val != NULL;
	    j = (j + 1) & m->mask) {
		home = idmap_hash(m, m->slots[j].key) & m->mask;
		/* Entry j may fill hole i unless its home lies in (i, j]. */
		if (((j - home) & m->mask) >= ((j - i) & m->mask)) {
			m->slots[i] = m->slots[j];
			m->slots[j].val = NULL;
			i = j;
		}
	}
	return val;
}

size_t
idmap_count(const struct idmap *m)
{
	return m->count;
}
