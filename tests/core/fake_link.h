/*
 * fake_link: a link (daemon/link.h) with no socket behind it, for driving
 * a smart socket's routing core in tests and fuzzers.
 *
 * It records what the core asks of it (payloads written, the ids of
 * DATA_REQs, ACKs, pauses, a close asked for) and reports as much output
 * queued as the test says (`unflushed`: set it to the socket's
 * peer_buffer to make it full).  The test owns its memory; the core's
 * `free` op (at core_free()) only marks it, and aborts when it comes from
 * inside any link's event (link.h: no callback frees its caller).
 */
#ifndef SMARTSOCK_FAKE_LINK_H
#define SMARTSOCK_FAKE_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "link.h"

#define FAKE_LINK_IDS 256

struct fake_link {
	struct link link;               /* first: the ops' link is this */
	char sent[4096];                /* payloads written, each + "," */
	size_t nsent;                   /* messages written */
	uint8_t ids[FAKE_LINK_IDS][16]; /* DATA_REQ ids, the last ones */
	size_t nids;                    /* DATA_REQs written in all */
	size_t nacks;                   /* ACKs written */
	uint8_t last_ack[16];
	size_t unflushed;               /* what it says is queued */
	int paused;                     /* the core paused its reading */
	const char *closing_asked;      /* close_soon()'s reason, copied */
	char why[160];
	int attached, freed, reconfigured;
};

/* A new connection of the socket behind home whose peer's identity is
 * `idbyte` 16 times; handshaking until fake_link_up(). */
void fake_link_attach(struct fake_link *, struct home *, uint8_t idbyte);
/* Its handshake done: what link_up() says (-1: a duplicate identity). */
int fake_link_up(struct fake_link *);
/* It ends (what the link calls once, before going). */
void fake_link_down(struct fake_link *);
/* The peer sent a DATA (id NULL) or a DATA_REQ with this payload. */
void fake_link_receive(struct fake_link *, const uint8_t *id,
    const void *data, size_t len);
/* The peer acknowledged the k-th DATA_REQ we wrote (0: the first). */
void fake_link_ack(struct fake_link *, size_t k);
/* Its output drained: room again. */
void fake_link_drain(struct fake_link *);
/* Forget what it recorded so far. */
void fake_link_clear(struct fake_link *);

#endif
