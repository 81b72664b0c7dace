/*
 * idmap: a hash map from 16-byte ids (aiomsg identities and msg_ids) to
 * pointers.  Keys are copied in; values are borrowed.  Open addressing with
 * a per-map random seed, so chosen ids cannot force collisions.
 */
#ifndef SMARTSOCK_IDMAP_H
#define SMARTSOCK_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#define IDMAP_KEY_LEN 16

struct idmap;

struct idmap *idmap_new(void);          /* NULL on allocation failure */
void idmap_free(struct idmap *);        /* NULL is a no-op; values untouched */
void *idmap_get(const struct idmap *, const uint8_t key[IDMAP_KEY_LEN]);
/* Insert or replace. 0, or -1 on allocation failure (map unchanged). */
int idmap_put(struct idmap *, const uint8_t key[IDMAP_KEY_LEN], void *val);
/* Remove; returns the value that was there, or NULL. */
void *idmap_del(struct idmap *, const uint8_t key[IDMAP_KEY_LEN]);
size_t idmap_count(const struct idmap *);

#endif
